// Package links is linked nodes on the server: server profiles, links
// between a parent member and a child serving one function (mail) for some
// of its accounts, and the distribution runs that move an account's mail
// to a child and back through the members' agents.
//
// The parent is authoritative: operators act on it and the engine routes
// the work to the child's agent as mail.* jobs carrying the link and a
// per-distribution token, which the child's agent records at import and
// requires of every later request about the account. A run is a state
// machine persisted in the store (internal/store/links.go): each step is
// either done here (preconditions, DNS) or one agent job, and a server that
// restarts picks its runs up at the step it had reached, with the job it
// had queued. The engine runs on one server replica at a time
// (Config.Leading).
package links

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/store"
)

// Event kinds.
const (
	KindProfileSet        = "member.profile_set"
	KindLinkAdded         = "link.added"
	KindLinkRemoved       = "link.removed"
	KindRunStarted        = "distribution.started"
	KindRunStep           = "distribution.step"
	KindRunSucceeded      = "distribution.succeeded"
	KindRunFailed         = "distribution.failed"
	KindRunRefused        = "distribution.refused"
	KindForced            = "distribution.forced" // records what existed only on the child
	KindRetainedDeleted   = "distribution.copy_deleted"
	DefaultKeep           = 7 * 24 * time.Hour
	DefaultTick           = time.Second
	defaultSMTPPort       = 25
	jobAttempts           = 3
	maxLogLinesPerAdvance = 5000
)

// Fleet is what the engine needs of internal/fleet (*fleet.Service).
type Fleet interface {
	Member(ctx context.Context, pool, member string) (api.Member, error)
	EnqueueJob(ctx context.Context, pool, member string, in api.JobCreate) (api.Job, error)
	Job(ctx context.Context, id int64) (api.Job, error)
	JobLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.JobLogLine, error)
	CancelJob(ctx context.Context, id int64) (api.Job, error)
	Emit(ctx context.Context, e api.Event) api.Event
}

// Zones is the zone service as the DNS step needs it.
type Zones interface {
	List(ctx context.Context) ([]api.Zone, error)
	Records(ctx context.Context, zone string) ([]api.Record, error)
	RewriteRecords(ctx context.Context, zone string, rw []Rewrite, why string) error
}

// Rewrite replaces one record's value (zones.Rewrite, adapted by the
// composition root).
type Rewrite struct {
	ID       int64
	Old, New string
	TTL      int
}

// Config configures a Service.
type Config struct {
	Store *store.Store
	Fleet Fleet
	Zones Zones // nil: distribution refuses (the account's DNS must be managed by poolctl)
	// Objects holds the Maildir archives in transit; their prefix is
	// deleted when a run ends. nil: nothing is deleted.
	Objects objstore.Store
	// Keep is how long a child keeps its copy after a dedistribution
	// (DefaultKeep).
	Keep time.Duration
	// MailPorts gives the IMAP and SMTP ports of a child's mail services
	// when its agent did not report them at the check step of the
	// distribution (default 0, the proxy's default, and 25).
	MailPorts func(child api.Member) (imap, smtp int)
	Leading   func() bool
	Tick      time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service is linked nodes. Build it with New; Start drives the runs.
type Service struct {
	cfg     Config
	st      *store.Store
	fl      Fleet
	log     *slog.Logger
	wake    chan struct{}
	mu      sync.Mutex
	logWake chan struct{} // closed when any run log grows or a run moves
	stepMu  sync.Mutex    // one Step at a time
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leading == nil {
		cfg.Leading = func() bool { return true }
	}
	if cfg.MailPorts == nil {
		cfg.MailPorts = func(api.Member) (int, int) { return 0, defaultSMTPPort }
	}
	return &Service{cfg: cfg, st: cfg.Store, fl: cfg.Fleet, log: cfg.Logger.With("component", "links"),
		wake: make(chan struct{}, 1), logWake: make(chan struct{})}
}

// JobEnded moves runs along when a mail.* job ends (register it with
// fleet.OnJobEnd).
func (s *Service) JobEnded(j api.Job) {
	if strings.HasPrefix(j.Kind, "mail.") {
		s.poke()
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) emit(ctx context.Context, kind, pool, member, msg string, data any) {
	e := api.Event{Kind: kind, Pool: pool, Member: member, Message: msg}
	if data != nil {
		b, _ := json.Marshal(data)
		e.Data = b
	}
	s.fl.Emit(ctx, e)
}

// member returns the store rows of a pool's member.
func (s *Service) member(ctx context.Context, pool, name string) (store.Pool, store.Member, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return p, store.Member{}, err
	}
	m, err := s.st.GetMember(ctx, p.ID, name)
	return p, m, err
}

func profileOf(m store.Member) string {
	if m.Profile == "" {
		return api.ProfileStandard
	}
	return m.Profile
}

// missingServices names what a profile needs that the member's agent has
// not detected ("" when nothing is missing).
func missingServices(profile string, st api.Stack) string {
	var miss []string
	switch profile {
	case api.ProfileMail:
		if st.Dovecot == nil || !st.Dovecot.Detected {
			miss = append(miss, "Dovecot")
		}
		if st.Postfix == nil || !st.Postfix.Detected {
			miss = append(miss, "Postfix")
		}
	case api.ProfileDatabase:
		if st.MariaDB == nil || !st.MariaDB.Detected {
			miss = append(miss, "MariaDB")
		}
	}
	return strings.Join(miss, " and ")
}

// SetProfile sets a member's profile, checked against the services its
// agent detected. A linked member keeps the profile its link needs.
func (s *Service) SetProfile(ctx context.Context, pool, member string, in api.ProfileSet) (api.Member, error) {
	if !slices.Contains(api.Profiles, in.Profile) {
		return api.Member{}, apperr.New(apperr.Invalid, "profile %q: want one of %s", in.Profile, strings.Join(api.Profiles, ", "))
	}
	p, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.Member{}, err
	}
	if miss := missingServices(in.Profile, m.Stack); miss != "" {
		return api.Member{}, apperr.New(apperr.Conflict, "member %s cannot have the %s profile: its agent has not detected %s (see `poolctl member show %s %s`; install and start them, then retry)",
			member, in.Profile, miss, pool, member)
	}
	links, err := s.st.ListLinks(ctx, p.ID)
	if err != nil {
		return api.Member{}, err
	}
	for _, l := range links {
		if l.ParentID == m.ID && in.Profile != api.ProfileStandard {
			return api.Member{}, apperr.New(apperr.Conflict, "member %s is the parent of %s: a parent keeps the standard profile (remove the link first)", member, l.Child)
		}
		if l.ChildID == m.ID && in.Profile != api.ProfileMail {
			return api.Member{}, apperr.New(apperr.Conflict, "member %s is the %s child of %s: it keeps the mail profile (remove the link first)", member, l.Function, l.Parent)
		}
	}
	if profileOf(m) != in.Profile {
		if err := s.st.SetMemberProfile(ctx, m.ID, in.Profile, s.now()); err != nil {
			return api.Member{}, err
		}
		s.emit(ctx, KindProfileSet, pool, member, fmt.Sprintf("member %s profile set to %s (was %s)", member, in.Profile, profileOf(m)),
			map[string]any{"profile": in.Profile, "previous": profileOf(m)})
	}
	return s.fl.Member(ctx, pool, member)
}

func linkAPI(l store.Link) api.Link {
	return api.Link{ID: l.ID, Pool: l.Pool, Parent: l.Parent, Child: l.Child, Function: l.Function, Accounts: l.Accounts, CreatedAt: l.CreatedAt}
}

// majorOf is the major version of an agent, or the whole version when it
// does not parse (hand-built agents): those must then match exactly.
func majorOf(v string) string {
	if pv, ok := fleet.ParseVersion(v); ok {
		return fmt.Sprintf("%d", pv.Major)
	}
	return v
}

// AddLink links child to parent for a function, refusing, with the reason,
// a child that has a parent already, a parent that is not standard, a
// child whose profile is not the function's, a child missing the services
// the function needs, and agents of different major versions.
func (s *Service) AddLink(ctx context.Context, pool string, in api.LinkCreate) (api.Link, error) {
	if in.Function == "" {
		in.Function = api.FunctionMail
	}
	if in.Function != api.FunctionMail {
		return api.Link{}, apperr.New(apperr.Invalid, "function %q: the only function a child serves is mail", in.Function)
	}
	if in.Parent == "" || in.Child == "" {
		return api.Link{}, apperr.New(apperr.Invalid, "a link needs a parent and a child member")
	}
	if in.Parent == in.Child {
		return api.Link{}, apperr.New(apperr.Invalid, "member %s cannot be its own child", in.Parent)
	}
	p, parent, err := s.member(ctx, pool, in.Parent)
	if err != nil {
		return api.Link{}, err
	}
	child, err := s.st.GetMember(ctx, p.ID, in.Child)
	if err != nil {
		return api.Link{}, err
	}
	if pr := profileOf(parent); pr != api.ProfileStandard {
		return api.Link{}, apperr.New(apperr.Conflict, "parent %s has the %s profile: a parent must be standard (`poolctl member set-profile %s %s standard`)", in.Parent, pr, pool, in.Parent)
	}
	if cp := profileOf(child); cp != api.ProfileMail {
		return api.Link{}, apperr.New(apperr.Conflict, "child %s has the %s profile: a mail child must have the mail profile (`poolctl member set-profile %s %s mail`)", in.Child, cp, pool, in.Child)
	}
	if miss := missingServices(api.ProfileMail, child.Stack); miss != "" {
		return api.Link{}, apperr.New(apperr.Conflict, "child %s is missing %s, which a mail child needs: its agent has not detected them", in.Child, miss)
	}
	switch {
	case parent.AgentVersion == "":
		return api.Link{}, apperr.New(apperr.Conflict, "parent %s has not reported its agent version yet (no heartbeat): start its agent first", in.Parent)
	case child.AgentVersion == "":
		return api.Link{}, apperr.New(apperr.Conflict, "child %s has not reported its agent version yet (no heartbeat): start its agent first", in.Child)
	case majorOf(parent.AgentVersion) != majorOf(child.AgentVersion):
		return api.Link{}, apperr.New(apperr.Conflict, "child %s runs agent %s and parent %s agent %s: linked nodes need the same major version (`poolctl member update-agent`)",
			in.Child, child.AgentVersion, in.Parent, parent.AgentVersion)
	}
	links, err := s.st.ListLinks(ctx, 0)
	if err != nil {
		return api.Link{}, err
	}
	for _, l := range links {
		if l.ChildID == parent.ID {
			return api.Link{}, apperr.New(apperr.Conflict, "member %s is itself a child of %s: a child cannot be a parent", in.Parent, l.Parent)
		}
		if l.ParentID == child.ID {
			return api.Link{}, apperr.New(apperr.Conflict, "member %s is the parent of %s: a parent cannot be a child", in.Child, l.Child)
		}
	}
	l := store.Link{PoolID: p.ID, Pool: pool, ParentID: parent.ID, Parent: in.Parent, ChildID: child.ID, Child: in.Child, Function: in.Function}
	if err := s.st.CreateLink(ctx, &l, s.now()); err != nil {
		return api.Link{}, err
	}
	s.emit(ctx, KindLinkAdded, pool, in.Parent, fmt.Sprintf("%s linked as the %s child of %s", in.Child, in.Function, in.Parent),
		map[string]any{"link": l.ID, "parent": in.Parent, "child": in.Child, "function": in.Function})
	return linkAPI(l), nil
}

// Links lists the links of a pool ("" for all).
func (s *Service) Links(ctx context.Context, pool string) ([]api.Link, error) {
	var poolID int64
	if pool != "" {
		p, err := s.st.GetPool(ctx, pool)
		if err != nil {
			return nil, err
		}
		poolID = p.ID
	}
	ls, err := s.st.ListLinks(ctx, poolID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Link, 0, len(ls))
	for _, l := range ls {
		out = append(out, linkAPI(l))
	}
	return out, nil
}

func (s *Service) linkOfChild(ctx context.Context, pool, child string) (store.Link, error) {
	_, m, err := s.member(ctx, pool, child)
	if err != nil {
		return store.Link{}, err
	}
	return s.st.LinkOfChild(ctx, m.ID, child)
}

// RemoveLink removes the link of a child; refused while accounts are
// distributed to it.
func (s *Service) RemoveLink(ctx context.Context, pool, child string) error {
	l, err := s.linkOfChild(ctx, pool, child)
	if err != nil {
		return err
	}
	if err := s.st.DeleteLink(ctx, l); err != nil {
		return err
	}
	s.emit(ctx, KindLinkRemoved, pool, l.Parent, fmt.Sprintf("%s is no longer the %s child of %s", child, l.Function, l.Parent),
		map[string]any{"link": l.ID, "parent": l.Parent, "child": child, "function": l.Function})
	return nil
}

// mailInfo is what a distribution keeps of the account's mail side
// (store.Distribution.Mail): the export taken at distribution (users with
// their password hashes, to restore the parent if the child is lost) and
// whether the parent proxies it now.
type mailInfo struct {
	Mail     api.AccountMail `json:"mail"`
	Proxied  bool            `json:"proxied"`
	Messages int             `json:"messages,omitempty"`
	Bytes    int64           `json:"bytes,omitempty"`
	Since    *time.Time      `json:"since,omitempty"` // when the child began serving it
	LastRun  int64           `json:"last_run,omitempty"`
	// Ports are the child's mail ports, which the parent's proxy
	// connects to (nil: Config.MailPorts).
	Ports *api.MailPorts `json:"ports,omitempty"`
}

func readMail(d store.Distribution) mailInfo {
	var mi mailInfo
	_ = json.Unmarshal([]byte(d.Mail), &mi)
	return mi
}

func distAPI(l store.Link, d store.Distribution) api.DistributedAccount {
	mi := readMail(d)
	out := api.DistributedAccount{Pool: l.Pool, Parent: l.Parent, Child: l.Child, Account: d.Account, Function: d.Function,
		State: d.State, Domains: mi.Mail.Domains, KeepUntil: d.KeepUntil, LastRun: mi.LastRun, Since: d.CreatedAt}
	if mi.Since != nil {
		out.Since = *mi.Since
	}
	for _, u := range mi.Mail.Users {
		out.Users = append(out.Users, u.Name)
	}
	return out
}

// DistributedAccounts lists the accounts distributed to a child.
func (s *Service) DistributedAccounts(ctx context.Context, pool, child string) ([]api.DistributedAccount, error) {
	l, err := s.linkOfChild(ctx, pool, child)
	if err != nil {
		return nil, err
	}
	ds, err := s.st.ListDistributions(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.DistributedAccount, 0, len(ds))
	for _, d := range ds {
		out = append(out, distAPI(l, d))
	}
	return out, nil
}

// AuthorizeObject lets the parent and the child of a distribution run read
// and write the objects under links/runs/{run}/ (the Maildir archives in
// transit). It answers NotFound for keys outside links/.
func (s *Service) AuthorizeObject(ctx context.Context, pool, member, key string) error {
	rest, ok := strings.CutPrefix(key, "links/runs/")
	if !ok {
		return apperr.New(apperr.NotFound, "object %s not found", key)
	}
	idText, _, _ := strings.Cut(rest, "/")
	var id int64
	if _, err := fmt.Sscanf(idText, "%d", &id); err != nil || fmt.Sprint(id) != idText {
		return apperr.New(apperr.Forbidden, "object %s: not a distribution run's", key)
	}
	r, err := s.st.GetDistributionRun(ctx, id)
	if errors.Is(err, apperr.NotFound) {
		return apperr.New(apperr.Forbidden, "object %s: no such distribution run", key)
	}
	if err != nil {
		return err
	}
	if r.Pool != pool || (r.Parent != member && r.Child != member) || r.FinishedAt != nil {
		return apperr.New(apperr.Forbidden, "object %s belongs to distribution run %d, which member %s does not take part in (or which ended)", key, id, member)
	}
	return nil
}
