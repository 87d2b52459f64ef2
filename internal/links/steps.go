package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// jobStep is a step done by one agent job: on names the member, args the
// job's arguments and done reads its result (an error fails the run with
// its message).
type jobStep struct {
	on   func(r *run) string
	kind string
	args func(ctx context.Context, s *Service, r *run) (any, error)
	done func(ctx context.Context, s *Service, r *run, res json.RawMessage) error
}

// refusal fails a run with its message.
type refusal struct{ msg string }

func (e refusal) Error() string { return e.msg }

func refuse(format string, a ...any) error { return refusal{fmt.Sprintf(format, a...)} }

func parentOf(r *run) string { return r.Parent }
func childOf(r *run) string  { return r.Child }
func sourceOf(r *run) string { return r.source() }
func targetOf(r *run) string { return r.target() }

func plain(kind string, on func(*run) string) jobStep {
	return jobStep{on: on, kind: kind, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailUsersArgs{MailJob: r.job(on(r)), Users: r.users()}, nil
	}}
}

// jobSteps are the steps done by agents; the others (preconditions, dns)
// are done here.
var jobSteps = map[string]jobStep{
	"export":  {on: sourceOf, kind: api.KindMailExport, args: mailJobArgs(sourceOf), done: exportDone},
	"measure": {on: sourceOf, kind: api.KindMailExport, args: mailJobArgs(sourceOf), done: exportDone},
	"check": {on: targetOf, kind: api.KindMailCheck, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailCheckArgs{MailJob: r.job(r.target()), NeedBytes: need(r.st.Bytes)}, nil
	}, done: checkDone},
	"import": {on: targetOf, kind: api.KindMailImport, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailImportArgs{MailJob: r.job(r.target()), Mail: r.st.Mail}, nil
	}},
	"copy": {on: sourceOf, kind: api.KindMailPack, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailPackArgs{MailJob: r.job(r.source()), Users: r.users(), Prefix: r.prefix("initial")}, nil
	}, done: packDone(false)},
	"copy-in": {on: targetOf, kind: api.KindMailUnpack, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailUnpackArgs{MailJob: r.job(r.target()), Parts: r.st.Initial.Parts}, nil
	}, done: unpackDone},
	"switch": {on: parentOf, kind: api.KindMailProxy, args: switchArgs},
	"final-copy": {on: sourceOf, kind: api.KindMailPack, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailPackArgs{MailJob: r.job(r.source()), Users: r.users(), Prefix: r.prefix("final"), Skip: r.st.Initial.Files}, nil
	}, done: packDone(true)},
	"final-copy-in": {on: targetOf, kind: api.KindMailUnpack, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailUnpackArgs{MailJob: r.job(r.target()), Parts: r.st.Final.Parts}, nil
	}, done: unpackDone},
	"verify": {on: targetOf, kind: api.KindMailVerify, args: func(_ context.Context, _ *Service, r *run) (any, error) {
		return api.MailVerifyArgs{MailJob: r.job(r.target()), Files: []string{r.st.Final.Files}}, nil
	}, done: verifyDone},
	"remove-from-parent": plain(api.KindMailRemove, parentOf),
	"kick":               plain(api.KindMailKick, childOf),
	"remove-from-child":  plain(api.KindMailRemove, childOf),
}

func mailJobArgs(on func(*run) string) func(context.Context, *Service, *run) (any, error) {
	return func(_ context.Context, _ *Service, r *run) (any, error) { return r.job(on(r)), nil }
}

// need is the free space an import of n bytes of Maildirs asks for: 10 %
// more, and 64 MiB at least, for the archive parts in transit.
func need(n int64) int64 { return n + max(n/10, 64<<20) }

// advance does what the run's step needs now; moved reports whether the
// run went on to another step (or ended).
func (s *Service) advance(ctx context.Context, r *run) (bool, error) {
	switch r.Step {
	case "preconditions":
		if err := s.preconditions(ctx, r); err != nil {
			return true, s.failWith(ctx, r, err)
		}
		return true, s.next(ctx, r)
	case "dns":
		if err := s.pointDNS(ctx, r); err != nil {
			return true, s.failWith(ctx, r, err)
		}
		return true, s.next(ctx, r)
	}
	js, ok := jobSteps[r.Step]
	if !ok {
		return true, s.fail(ctx, r, fmt.Sprintf("unknown step %q", r.Step))
	}
	member := js.on(r)
	if r.JobID == 0 {
		args, err := js.args(ctx, s, r)
		if err != nil {
			return true, s.failWith(ctx, r, err)
		}
		raw, _ := json.Marshal(args)
		j, err := s.fl.EnqueueJob(ctx, r.Pool, member, api.JobCreate{Kind: js.kind, Args: raw, MaxAttempts: jobAttempts})
		if err != nil {
			return true, s.fail(ctx, r, fmt.Sprintf("cannot queue %s on %s: %s", js.kind, member, apperr.Message(err)))
		}
		r.JobID, r.LogCursor = j.ID, 0
		if err := s.saveRun(ctx, r); err != nil {
			_, _ = s.fl.CancelJob(ctx, j.ID)
			return false, err
		}
		s.logRun(ctx, r.ID, fmt.Sprintf("%s: %s on %s (job %d)", r.Step, js.kind, member, j.ID))
		return true, nil // look at the job at once: it may have ended already
	}
	lines, err := s.fl.JobLog(ctx, r.JobID, r.LogCursor, 0)
	if err != nil && !errors.Is(err, apperr.NotFound) {
		return false, err
	}
	if len(lines) > 0 {
		ls := make([]api.RunLogLine, len(lines))
		for i, l := range lines {
			ls[i] = api.RunLogLine{Time: l.Time, Line: member + ": " + l.Line}
		}
		s.appendLog(ctx, r.ID, ls)
		r.LogCursor = lines[len(lines)-1].Seq
		if err := s.saveRun(ctx, r); err != nil {
			return false, err
		}
	}
	j, err := s.fl.Job(ctx, r.JobID)
	if errors.Is(err, apperr.NotFound) {
		return true, s.fail(ctx, r, fmt.Sprintf("job %d on %s is gone", r.JobID, member))
	}
	if err != nil {
		return false, err
	}
	if j.FinishedAt == nil || len(lines) >= maxLogLinesPerAdvance {
		return false, nil
	}
	if j.Status != api.JobSucceeded {
		msg := j.Error
		if msg == "" {
			msg = j.Status
		}
		return true, s.fail(ctx, r, fmt.Sprintf("%s on %s: %s", js.kind, member, msg))
	}
	if js.done != nil {
		if err := js.done(ctx, s, r, j.Result); err != nil {
			return true, s.failWith(ctx, r, err)
		}
	}
	return true, s.next(ctx, r)
}

func (s *Service) failWith(ctx context.Context, r *run, err error) error {
	var rf refusal
	if errors.As(err, &rf) {
		return s.fail(ctx, r, rf.msg)
	}
	if apperr.KindOf(err) != nil {
		return s.fail(ctx, r, apperr.Message(err))
	}
	return err // transient (the store): the next pass tries again
}

// preconditions are checked again when the run starts (the API checked
// them when it was asked for).
func (s *Service) preconditions(ctx context.Context, r *run) error {
	l, err := s.st.GetLink(ctx, r.LinkID)
	if err != nil {
		return refuse("the link of child %s is gone", r.Child)
	}
	if l.Parent != r.Parent || l.Child != r.Child {
		return refuse("the link changed: %s is now the child of %s", l.Child, l.Parent)
	}
	if _, err := s.healthy(ctx, r.Pool, r.Parent, "parent"); err != nil {
		return refuse("%s", apperr.Message(err))
	}
	if r.Forced {
		s.logRun(ctx, r.ID, fmt.Sprintf("forced: child %s is not asked for anything; the account's users and settings come from what was exported at its distribution", r.Child))
		return nil
	}
	if _, err := s.healthy(ctx, r.Pool, r.Child, "child"); err != nil {
		return refuse("%s", apperr.Message(err))
	}
	return nil
}

func exportDone(ctx context.Context, s *Service, r *run, raw json.RawMessage) error {
	var res api.MailExportResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return refuse("%s answered an unreadable export: %v", r.source(), err)
	}
	if res.Mail.Account != r.Account {
		return refuse("%s exported account %q, not %q", r.source(), res.Mail.Account, r.Account)
	}
	r.st.Mail, r.st.Bytes, r.st.Messages = res.Mail, res.Bytes, res.Messages
	s.logRun(ctx, r.ID, fmt.Sprintf("%s: %d mail user(s), %d domain(s), %d forwarder(s), %d messages, %s",
		r.source(), len(res.Mail.Users), len(res.Mail.Domains), len(res.Mail.Forwarders), res.Messages, size(res.Bytes)))
	if r.Direction != api.DirDistribute {
		return nil
	}
	var pipes []string
	for _, f := range res.Mail.Forwarders {
		if strings.HasPrefix(strings.TrimSpace(f.To), "|") {
			pipes = append(pipes, f.From+" → "+f.To)
		}
	}
	if len(pipes) > 0 {
		return refuse("account %s has forwarders that pipe to a program (%s): a child cannot run the parent's programs, so distributed accounts may not have them; remove them first",
			r.Account, strings.Join(pipes, "; "))
	}
	if len(res.Mail.Domains) == 0 {
		return refuse("account %s has no mail domains on %s", r.Account, r.Parent)
	}
	return s.checkDNS(ctx, r)
}

// checkDNS refuses an account whose DNS poolctl does not manage (the
// certificates of mail. and webmail. are validated through it, and the
// records are pointed at the child) or that has IPv6 for mail.
func (s *Service) checkDNS(ctx context.Context, r *run) error {
	for _, d := range r.st.Mail.Domains {
		zone, recs, err := s.zoneOf(ctx, d)
		if err != nil {
			return err
		}
		if zone == "" {
			return refuse("the DNS of domain %s (account %s) is not managed by poolctl: create or import its zone first (`poolctl zone import %s FILE`)", d, r.Account, d)
		}
		for _, rec := range recs {
			if rec.Type != "AAAA" {
				continue
			}
			if h := hostOf(rec, zone); h == "mail."+d || h == "webmail."+d {
				return refuse("account %s has IPv6 enabled for mail (%s AAAA %s): the parent's proxy and the child are reached over IPv4 only; remove the AAAA record first",
					r.Account, h, rec.Value)
			}
		}
	}
	return nil
}

// zoneOf finds the zone poolctl serves that holds domain (the longest
// suffix), with its records; "" when none.
func (s *Service) zoneOf(ctx context.Context, domain string) (string, []api.Record, error) {
	if s.cfg.Zones == nil {
		return "", nil, nil
	}
	zs, err := s.cfg.Zones.List(ctx)
	if err != nil {
		return "", nil, err
	}
	best := ""
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	for _, z := range zs {
		n := strings.TrimSuffix(strings.ToLower(z.Name), ".")
		if (domain == n || strings.HasSuffix(domain, "."+n)) && len(n) > len(best) {
			best = n
		}
	}
	if best == "" {
		return "", nil, nil
	}
	recs, err := s.cfg.Zones.Records(ctx, best)
	return best, recs, err
}

// hostOf is a record's owner as a name without the trailing dot.
func hostOf(rec api.Record, zone string) string {
	n := strings.ToLower(rec.Name)
	switch {
	case n == "@" || n == "":
		return zone
	case strings.HasSuffix(n, "."):
		return strings.TrimSuffix(n, ".")
	}
	return n + "." + zone
}

// pointDNS points the A records of mail. and webmail. of every domain of
// the account at the member now serving its mail.
func (s *Service) pointDNS(ctx context.Context, r *run) error {
	to, err := s.fl.Member(ctx, r.Pool, r.target())
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(to.Address)
	if err != nil || !ip.Is4() {
		return refuse("member %s has address %q: mail records need an IPv4 address", to.Name, to.Address)
	}
	changed := 0
	for _, d := range r.st.Mail.Domains {
		zone, recs, err := s.zoneOf(ctx, d)
		if err != nil {
			return err
		}
		if zone == "" {
			return refuse("the DNS of domain %s is no longer managed by poolctl", d)
		}
		var rw []Rewrite
		for _, rec := range recs {
			h := hostOf(rec, zone)
			if rec.Type == "A" && (h == "mail."+d || h == "webmail."+d) && rec.Value != to.Address {
				rw = append(rw, Rewrite{ID: rec.ID, Old: rec.Value, New: to.Address, TTL: rec.TTL})
				s.logRun(ctx, r.ID, fmt.Sprintf("dns: %s A %s → %s", h, rec.Value, to.Address))
			}
		}
		if len(rw) == 0 {
			continue
		}
		why := fmt.Sprintf("%s of account %s's mail to %s (run %d)", r.Direction, r.Account, to.Name, r.ID)
		if err := s.cfg.Zones.RewriteRecords(ctx, zone, rw, why); err != nil {
			return err
		}
		changed += len(rw)
	}
	if changed == 0 {
		s.logRun(ctx, r.ID, "dns: no mail./webmail. A record to change")
	}
	return nil
}

func checkDone(ctx context.Context, s *Service, r *run, raw json.RawMessage) error {
	var res api.MailCheckResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return refuse("%s answered an unreadable check: %v", r.target(), err)
	}
	var miss []string
	if !res.Dovecot {
		miss = append(miss, "Dovecot")
	}
	if !res.Postfix {
		miss = append(miss, "Postfix")
	}
	if len(miss) > 0 {
		return refuse("%s is missing %s", r.target(), strings.Join(miss, " and "))
	}
	n := need(r.st.Bytes)
	if res.FreeBytes < n {
		what := "the child"
		if r.Direction == api.DirDedistribute {
			what = "the parent"
		}
		return refuse("%s %s lacks the space: the account's mail is %s (%s with the archive in transit), %s has %s free at %s",
			what, r.target(), size(r.st.Bytes), size(n), r.target(), size(res.FreeBytes), res.Path)
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("%s: %s free at %s, %s needed", r.target(), size(res.FreeBytes), res.Path, size(n)))
	if r.Direction == api.DirDistribute && res.Ports != nil {
		r.st.Ports = res.Ports
		s.logRun(ctx, r.ID, fmt.Sprintf("%s: mail ports imap %s, pop3 %s, smtp %s", r.target(),
			portText(res.Ports.IMAP, 143), portText(res.Ports.POP3, 110), portText(res.Ports.SMTP, 25)))
	}
	return nil
}

func portText(p, def int) string {
	if p == 0 {
		p = def
	}
	return fmt.Sprint(p)
}

func packDone(final bool) func(context.Context, *Service, *run, json.RawMessage) error {
	return func(ctx context.Context, s *Service, r *run, raw json.RawMessage) error {
		var res api.MailPackResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return refuse("%s answered an unreadable pack: %v", r.source(), err)
		}
		want := r.prefix("initial")
		if final {
			want = r.prefix("final")
		}
		for _, p := range res.Parts {
			if !strings.HasPrefix(p.Key, want) {
				return refuse("%s named a part outside %s: %s", r.source(), want, p.Key)
			}
		}
		if !strings.HasPrefix(res.Files, want) {
			return refuse("%s named a file list outside %s", r.source(), want)
		}
		if final {
			r.st.Final = res
		} else {
			r.st.Initial = res
		}
		s.logRun(ctx, r.ID, fmt.Sprintf("%s: packed %d message file(s), %s, in %d part(s)", r.source(), res.Messages, size(res.Bytes), len(res.Parts)))
		return nil
	}
}

func unpackDone(ctx context.Context, s *Service, r *run, raw json.RawMessage) error {
	var res api.MailUnpackResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return refuse("%s answered an unreadable unpack: %v", r.target(), err)
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("%s: %d file(s) written (%s), %d present already", r.target(), res.Written, size(res.Bytes), res.Existing))
	return nil
}

func verifyDone(ctx context.Context, s *Service, r *run, raw json.RawMessage) error {
	var res api.MailVerifyResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return refuse("%s answered an unreadable verification: %v", r.target(), err)
	}
	if len(res.Missing) > 0 {
		return refuse("%s lacks %d of the %d message file(s) copied, e.g. %s", r.target(), len(res.Missing), res.Checked, res.Missing[0])
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("%s holds every one of the %d message file(s)", r.target(), res.Checked))
	return nil
}

// switchArgs marks the account proxied (distributing) or not
// (dedistributing) and builds the parent's whole proxy configuration from
// the store: the users and domains of every account it proxies.
func switchArgs(ctx context.Context, s *Service, r *run) (any, error) {
	d, err := s.st.GetDistributionByID(ctx, r.DistributionID)
	if err != nil {
		return nil, err
	}
	mi := readMail(d)
	mi.Proxied = r.Direction == api.DirDistribute
	if mi.Proxied {
		mi.Mail, mi.Ports = r.st.Mail, r.st.Ports
	}
	b, _ := json.Marshal(mi)
	d.Mail = string(b)
	if err := s.st.UpdateDistribution(ctx, &d, s.now()); err != nil {
		return nil, err
	}
	args, err := s.proxyOf(ctx, d.ParentID)
	if err != nil {
		return nil, err
	}
	args.MailJob = r.job(r.Parent)
	if r.Direction == api.DirDistribute {
		args.Kick = r.users() // their sessions on the parent end; they log in again through the proxy
	}
	return args, nil
}

// proxyOf is the proxy configuration of a parent.
func (s *Service) proxyOf(ctx context.Context, parentID int64) (api.MailProxyArgs, error) {
	var out api.MailProxyArgs
	ds, err := s.st.ListDistributionsOfParent(ctx, parentID)
	if err != nil {
		return out, err
	}
	for _, d := range ds {
		mi := readMail(d)
		if !mi.Proxied {
			continue
		}
		l, err := s.st.GetLink(ctx, d.LinkID)
		if err != nil {
			return out, err
		}
		child, err := s.fl.Member(ctx, l.Pool, l.Child)
		if err != nil {
			return out, err
		}
		imap, smtp := s.cfg.MailPorts(child)
		pop3 := 0
		if p := mi.Ports; p != nil {
			imap, pop3 = p.IMAP, p.POP3
			if p.SMTP != 0 {
				smtp = p.SMTP
			} else {
				smtp = defaultSMTPPort
			}
		}
		for _, u := range mi.Mail.Users {
			out.Users = append(out.Users, api.MailProxyUser{Name: u.Name, Host: child.Address, Port: imap, POP3Port: pop3})
		}
		for _, dom := range mi.Mail.Domains {
			out.Routes = append(out.Routes, api.MailRoute{Domain: dom, NextHop: fmt.Sprintf("smtp:[%s]:%d", child.Address, smtp)})
		}
	}
	return out, nil
}

// succeed ends a run that went through all its steps.
func (s *Service) succeed(ctx context.Context, r *run) error {
	now := s.now()
	r.Status, r.FinishedAt = api.DistSucceeded, &now
	s.logRun(ctx, r.ID, fmt.Sprintf("run succeeded in %s", now.Sub(r.CreatedAt).Round(time.Millisecond)))
	if err := s.saveRun(ctx, r); err != nil {
		return err
	}
	s.cleanObjects(ctx, r)
	d, err := s.st.GetDistributionByID(ctx, r.DistributionID)
	if err != nil {
		return err
	}
	mi := readMail(d)
	mi.LastRun = r.ID
	var msg string
	data := map[string]any{"run": r.ID, "account": r.Account, "child": r.Child, "direction": r.Direction}
	kind := KindRunSucceeded
	switch {
	case r.Direction == dirCleanup:
		if err := s.st.DeleteDistribution(ctx, d.ID); err != nil {
			return err
		}
		s.emit(ctx, KindRetainedDeleted, r.Pool, r.Child, fmt.Sprintf("the copy of account %s's mail kept on %s since its dedistribution was deleted", r.Account, r.Child), data)
		return nil
	case r.Direction == api.DirDistribute:
		d.State, mi.Since, mi.Messages, mi.Bytes = store.DistDistributed, &now, r.st.Messages, r.st.Bytes
		msg = fmt.Sprintf("account %s's mail is served by %s (%d messages, %s copied and verified; removed from %s)", r.Account, r.Child, r.st.Messages, size(r.st.Bytes), r.Parent)
	case r.Forced:
		kind = KindForced
		lost := r.users()
		since := "its distribution"
		if mi.Since != nil {
			since = mi.Since.Format(time.RFC3339)
		}
		msg = fmt.Sprintf("account %s's mail is back on %s by force, child %s unreachable: every message of %s that existed only on %s is lost — all their mail since %s (%d messages, %s were moved there then, and removed from %s)",
			r.Account, r.Parent, r.Child, strings.Join(lost, ", "), r.Child, since, mi.Messages, size(mi.Bytes), r.Parent)
		data["lost_users"], data["child_since"], data["messages_at_distribution"], data["bytes_at_distribution"] = lost, mi.Since, mi.Messages, mi.Bytes
		if err := s.st.DeleteDistribution(ctx, d.ID); err != nil {
			return err
		}
		s.emit(ctx, kind, r.Pool, r.Parent, msg, data)
		return nil
	default:
		keep := s.cfg.Keep
		if r.st.Keep > 0 {
			keep = time.Duration(r.st.Keep)
		}
		until := now.Add(keep)
		d.State, d.KeepUntil = store.DistRetained, &until
		msg = fmt.Sprintf("account %s's mail is back on %s (%d messages, %s copied and verified); %s keeps its copy until %s",
			r.Account, r.Parent, r.st.Messages, size(r.st.Bytes), r.Child, until.Format(time.RFC3339))
		data["keep_until"] = until
	}
	b, _ := json.Marshal(mi)
	d.Mail = string(b)
	if err := s.st.UpdateDistribution(ctx, &d, now); err != nil {
		return err
	}
	s.emit(ctx, kind, r.Pool, r.Parent, msg, data)
	return nil
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
