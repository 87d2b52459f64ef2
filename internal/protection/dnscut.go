package protection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// CutDNS points an account's records at another member of its pool: every
// record of the protection's types, at one of the account's domains or
// below it, that points at the member now serving it (its address for A
// and AAAA, its host name for MX and SRV targets) is rewritten to the other
// member's, with the protection's TTL. Each zone changes in one edit. A dry
// run lists the changes and changes nothing.
func (s *Service) CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.DNSCutResult{}, err
	}
	return s.cut(ctx, pr, in.To, in.DryRun, "by an operator")
}

func (s *Service) cut(ctx context.Context, pr store.Protection, to string, dryRun bool, why string) (api.DNSCutResult, error) {
	if s.cfg.Zones == nil {
		return api.DNSCutResult{}, apperr.New(apperr.Unavailable, "this server serves no zones, so it cannot cut DNS")
	}
	if to == "" {
		return api.DNSCutResult{}, apperr.New(apperr.Invalid, "name the member to cut to (--to MEMBER)")
	}
	fromID := pr.SourceID
	if pr.CutToID != 0 {
		fromID = pr.CutToID
	}
	from, err := s.st.GetMemberByID(ctx, fromID)
	if err != nil {
		return api.DNSCutResult{}, err
	}
	dst, err := s.st.GetMember(ctx, pr.PoolID, to)
	if err != nil {
		return api.DNSCutResult{}, err
	}
	res := api.DNSCutResult{Pool: pr.Pool, Account: pr.Account, From: from.Name, To: dst.Name, DryRun: dryRun, Changes: []api.DNSChange{}}
	if dst.ID == from.ID {
		return res, apperr.New(apperr.Conflict, "account %s already points at %s", pr.Account, dst.Name)
	}
	domains, err := s.domains(ctx, pr)
	if err != nil {
		return res, err
	}
	plan, err := s.plan(ctx, pr, domains, from, dst)
	if err != nil {
		return res, err
	}
	zones := make([]string, 0, len(plan))
	for z := range plan {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		for _, c := range plan[z] {
			res.Changes = append(res.Changes, c.change)
		}
	}
	if dryRun {
		return res, nil
	}
	// Away from the source, the cut is recorded (and the runs in progress
	// stopped) before any record moves: from the first record on, the
	// destination may serve the live copy, and no run may overwrite it.
	// Back to the source, it is cleared only once every record has moved.
	away := dst.ID != pr.SourceID
	if away {
		now := s.now()
		pr.CutToID, pr.CutTo, pr.CutAt, pr.CutReason = dst.ID, dst.Name, &now, why
		if err := s.st.SetProtectionCut(ctx, &pr, now); err != nil {
			return res, err
		}
		s.stopRuns(ctx, pr)
	}
	for _, z := range zones {
		rw := make([]Rewrite, 0, len(plan[z]))
		for _, c := range plan[z] {
			rw = append(rw, Rewrite{ID: c.id, Old: c.change.Old, New: c.change.New, TTL: c.change.TTL})
		}
		if err := s.cfg.Zones.RewriteRecords(ctx, z, rw, fmt.Sprintf("account %s cut from %s to %s", pr.Account, from.Name, dst.Name)); err != nil {
			if away {
				return res, fmt.Errorf("cut zone %s: %w (replication of %s stays paused until the cut is made again or undone)", z, err, pr.Account)
			}
			return res, fmt.Errorf("cut zone %s: %w", z, err)
		}
	}
	msg := fmt.Sprintf("DNS of account %s cut from %s to %s %s: %d record(s) changed", pr.Account, from.Name, dst.Name, why, len(res.Changes))
	if away {
		msg += fmt.Sprintf("; %s serves the live copy now, so replication from %s is paused", dst.Name, pr.Source)
	} else {
		pr.CutToID = 0
		if err := s.st.SetProtectionCut(ctx, &pr, s.now()); err != nil {
			return res, err
		}
		msg += "; replication " + pr.Source + " → " + pr.Standby + " may run again"
	}
	s.emit(ctx, KindDNSCut, pr.Pool, dst.Name, msg, map[string]any{"account": pr.Account, "from": from.Name, "to": dst.Name, "changes": res.Changes})
	s.poke()
	return res, nil
}

// domains are the account's domains: as of its last good copy, else as last
// discovered on its source.
func (s *Service) domains(ctx context.Context, pr store.Protection) ([]string, error) {
	var a api.Account
	if pr.GoodAccount != "" && json.Unmarshal([]byte(pr.GoodAccount), &a) == nil && len(a.Domains) > 0 {
		return a.Domains, nil
	}
	rows, err := s.st.Accounts(ctx, pr.SourceID)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.Name == pr.Account && json.Unmarshal([]byte(r.Data), &a) == nil && len(a.Domains) > 0 {
			return a.Domains, nil
		}
	}
	return nil, apperr.New(apperr.Invalid, "no domains are known for account %s: list its member's accounts (poolctl account list) or run a replication first", pr.Account)
}

type plannedChange struct {
	id     int64
	change api.DNSChange
}

// plan finds the records to rewrite, by zone.
func (s *Service) plan(ctx context.Context, pr store.Protection, domains []string, from, dst store.Member) (map[string][]plannedChange, error) {
	zs, err := s.cfg.Zones.List(ctx)
	if err != nil {
		return nil, err
	}
	fromAddr, _ := netip.ParseAddr(from.Address)
	dstAddr, _ := netip.ParseAddr(dst.Address)
	fromHost := fqdn(from.Facts.Hostname)
	dstHost := fqdn(dst.Facts.Hostname)
	out := map[string][]plannedChange{}
	seen := map[int64]bool{}
	for _, d := range domains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		zone := ""
		for _, z := range zs {
			if (d == z.Name || strings.HasSuffix(d, "."+z.Name)) && len(z.Name) > len(zone) {
				zone = z.Name
			}
		}
		if zone == "" {
			continue // not served here; an external provider's business
		}
		recs, err := s.cfg.Zones.Records(ctx, zone)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			name := absName(r.Name, zone)
			if seen[r.ID] || r.Managed != "" || !slices.Contains(pr.Records, r.Type) || (name != d && !strings.HasSuffix(name, "."+d)) {
				continue
			}
			nv, ok := rewriteValue(r, fromAddr, dstAddr, fromHost, dstHost)
			if !ok {
				continue
			}
			seen[r.ID] = true
			out[zone] = append(out[zone], plannedChange{id: r.ID, change: api.DNSChange{Zone: zone, Name: name, Type: r.Type, Old: r.Value, New: nv, TTL: pr.TTL}})
		}
	}
	return out, nil
}

// absName turns a record name relative to zone ("@", "www") into the
// absolute name without its final dot.
func absName(name, zone string) string {
	switch name = strings.TrimSuffix(strings.ToLower(name), "."); {
	case name == "@" || name == "":
		return zone
	case name == zone || strings.HasSuffix(name, "."+zone):
		return name
	}
	return name + "." + zone
}

func fqdn(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" || !strings.Contains(h, ".") {
		return "" // a bare host name cannot be matched against targets
	}
	return strings.TrimSuffix(h, ".") + "."
}

// rewriteValue returns r's value pointed at the destination, if r points
// at the source.
func rewriteValue(r api.Record, fromAddr, dstAddr netip.Addr, fromHost, dstHost string) (string, bool) {
	switch r.Type {
	case "A", "AAAA":
		a, err := netip.ParseAddr(r.Value)
		if err != nil || !fromAddr.IsValid() || !dstAddr.IsValid() || a.Unmap() != fromAddr.Unmap() || a.Unmap().Is4() != dstAddr.Unmap().Is4() {
			return "", false
		}
		return dstAddr.Unmap().String(), true
	case "MX", "SRV":
		f := strings.Fields(r.Value)
		if len(f) == 0 || fromHost == "" || dstHost == "" || !strings.EqualFold(f[len(f)-1], fromHost) {
			return "", false
		}
		f[len(f)-1] = dstHost
		return strings.Join(f, " "), true
	}
	return "", false
}

// AccountsCut is what an automatic cut did for a failed member's accounts:
// the post-failover hook and the failover event receive it.
type AccountsCut struct {
	Cut         []string `json:"cut"`         // protected accounts whose DNS now points at their standby
	Unprotected []string `json:"unprotected"` // accounts on the member with no good copy anywhere
	Failed      []string `json:"failed"`      // "account: reason" for cuts that could not be made
}

// CutAccounts cuts every protected account served by a member that failed
// over to its own standby, when its last replication succeeded.
func (s *Service) CutAccounts(ctx context.Context, pool, from string) (AccountsCut, error) {
	out := AccountsCut{Cut: []string{}, Unprotected: []string{}, Failed: []string{}}
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return out, err
	}
	m, err := s.st.GetMember(ctx, p.ID, from)
	if err != nil {
		return out, err
	}
	prs, err := s.st.ListProtections(ctx, p.ID)
	if err != nil {
		return out, err
	}
	covered := map[string]bool{}
	for _, pr := range prs {
		serving := pr.SourceID
		if pr.CutToID != 0 {
			serving = pr.CutToID
		}
		if serving != m.ID {
			continue
		}
		covered[pr.Account] = true
		if pr.GoodAt == nil {
			out.Unprotected = append(out.Unprotected, pr.Account)
			continue
		}
		if pr.StandbyID == m.ID {
			out.Failed = append(out.Failed, pr.Account+": its standby is the failed member itself")
			continue
		}
		if _, err := s.cut(ctx, pr, pr.Standby, false, "automatically after "+from+" failed"); err != nil && !errors.Is(err, apperr.Conflict) {
			out.Failed = append(out.Failed, pr.Account+": "+apperr.Message(err))
			continue
		}
		out.Cut = append(out.Cut, pr.Account)
	}
	rows, err := s.st.Accounts(ctx, m.ID)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		if !covered[r.Name] {
			out.Unprotected = append(out.Unprotected, r.Name)
		}
	}
	sort.Strings(out.Unprotected)
	if len(out.Cut)+len(out.Unprotected)+len(out.Failed) > 0 {
		s.emit(ctx, "failover.accounts", pool, from, fmt.Sprintf("after %s failed: %d account(s) cut to their standby, %d not protected (%s), %d failed",
			from, len(out.Cut), len(out.Unprotected), strings.Join(out.Unprotected, ", "), len(out.Failed)), out)
	}
	return out, nil
}
