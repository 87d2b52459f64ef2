// Package protection is account protection on the server: accounts
// discovered on members, protections (an account replicated from its source
// member to a standby member on a schedule), the engine that schedules and
// drives replication runs as job pairs through the members' agents, and the
// DNS cut that points an account's records at its standby.
//
// A run moves through queued → snapshot (the source agent chunks the
// account and uploads new chunks to the object store) → restore (the
// standby agent restores it, staged and atomic) → succeeded, or failed at
// any step. All state lives in the store, so a server that restarts picks
// up its runs where they were; the engine runs on one server replica at a
// time (Config.Leading). Chunks are transient: they are deleted once the
// standby has restored them, and the standby's own copy serves as the
// index of what it holds for the next, incremental run.
package protection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/store"
)

// Defaults.
const (
	DefaultSchedule    = "1d"
	DefaultTTL         = 300
	DefaultConcurrency = 2
	DefaultTick        = time.Second
	// DiscoveryMaxAge is how old the accounts of a member may be before a
	// listing asks its agent again.
	DiscoveryMaxAge = time.Minute
	// discoveryWait bounds how long a listing waits for the agent.
	discoveryWait = 20 * time.Second
)

// Event kinds.
const (
	KindRunQueued    = "replication.queued"
	KindRunStarted   = "replication.started"
	KindRunSucceeded = "replication.succeeded"
	KindRunFailed    = "replication.failed"
	// KindPreflightRefused follows KindRunFailed when an agent refused the
	// run before writing anything: a filesystem lacks space or inodes.
	KindPreflightRefused = "replication.preflight_refused"
	KindRPOExceeded      = "protection.rpo_exceeded"
	KindDNSCut           = "account.dns_cut"
	KindCreated          = "protection.created"
	KindDeleted          = "protection.deleted"
	KindChanged          = "protection.changed"
	// KindPausedByCut is recorded once per cut that points an account's
	// DNS away from its source: its replication is paused.
	KindPausedByCut = "protection.paused_by_cut"
	KindReversed    = "protection.reversed"
)

var accountRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// recordTypes are the types a protection may cut.
var recordTypes = []string{"A", "AAAA", "MX", "SRV"}

// Zones is the zone service as the DNS cut needs it.
type Zones interface {
	List(ctx context.Context) ([]api.Zone, error)
	Records(ctx context.Context, zone string) ([]api.Record, error)
	RewriteRecords(ctx context.Context, zone string, rw []Rewrite, why string) error
}

// Rewrite replaces one record's value and TTL (zones.Rewrite, adapted by
// the composition root).
type Rewrite struct {
	ID       int64
	Old, New string
	TTL      int
}

// Config configures a Service.
type Config struct {
	Store   *store.Store
	Fleet   *fleet.Service
	Zones   Zones // nil: DNS cuts fail with a clear error
	Objects objstore.Store
	// MasterKey seals the pools' chunk keys in the database (LoadMasterKey).
	MasterKey [32]byte
	// Concurrency bounds the runs in progress at once, fleet-wide.
	Concurrency int
	// Hours is when scheduled runs may start; manual runs start any time.
	Hours Hours
	// Leading reports whether this replica runs the engine (default: always).
	Leading func() bool
	Tick    time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service is account protection. Build it with New; Run drives the engine.
type Service struct {
	cfg  Config
	st   *store.Store
	fl   *fleet.Service
	objs objstore.Store
	log  *slog.Logger

	wake        chan struct{}
	mu          sync.Mutex
	logWake     chan struct{}  // closed when any run log grows
	auth        sync.Map       // protection id → authEntry
	cleaning    sync.Map       // protection id → true while its chunks are removed
	bg          sync.WaitGroup // clean-ups in progress
	discovering sync.Map       // member id → *sync.Mutex, one discovery at a time
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
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
	s := &Service{cfg: cfg, st: cfg.Store, fl: cfg.Fleet, objs: cfg.Objects, log: cfg.Logger.With("component", "protection"),
		wake: make(chan struct{}, 1), logWake: make(chan struct{})}
	// A run moves on as soon as one of its jobs ends, not at the next tick.
	cfg.Fleet.OnJobEnd(func(j api.Job) {
		if strings.HasPrefix(j.Kind, "replication.") {
			s.poke()
		}
	})
	return s
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Objects is the server's object store.
func (s *Service) Objects() objstore.Store { return s.objs }

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) emit(ctx context.Context, kind, pool, member, msg string, data any) {
	e := api.Event{Kind: kind, Pool: pool, Member: member, Message: msg}
	if data != nil {
		b, _ := json.Marshal(data)
		e.Data = b
	}
	s.fl.Emit(ctx, e)
}

func validAccount(name string) error {
	if !accountRE.MatchString(name) {
		return apperr.New(apperr.Invalid, "account name %q is invalid: want a lower-case letter, then up to 31 of a-z 0-9 _ -", name)
	}
	return nil
}

func normRecords(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"A", "AAAA", "MX"}, nil
	}
	var out []string
	for _, t := range in {
		t = strings.ToUpper(strings.TrimSpace(t))
		if !slices.Contains(recordTypes, t) {
			return nil, apperr.New(apperr.Invalid, "record type %q cannot be cut: choose among %s", t, strings.Join(recordTypes, " "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func validTTL(ttl int) error {
	if ttl < 1 || ttl > 86400 {
		return apperr.New(apperr.Invalid, "ttl %d out of range 1–86400 seconds", ttl)
	}
	return nil
}

// CreateProtection protects an account of a pool.
func (s *Service) CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error) {
	if err := validAccount(in.Account); err != nil {
		return api.Protection{}, err
	}
	if in.Schedule == "" {
		in.Schedule = DefaultSchedule
	}
	sched, err := ParseSchedule(in.Schedule)
	if err != nil {
		return api.Protection{}, err
	}
	recs, err := normRecords(in.Records)
	if err != nil {
		return api.Protection{}, err
	}
	if in.TTL == 0 {
		in.TTL = DefaultTTL
	}
	if err := validTTL(in.TTL); err != nil {
		return api.Protection{}, err
	}
	guardChanged, guardIncompressible := api.DefaultGuardChanged, api.DefaultGuardIncompressible
	if in.GuardChanged != nil {
		guardChanged = *in.GuardChanged
	}
	if in.GuardIncompressible != nil {
		guardIncompressible = *in.GuardIncompressible
	}
	if err := validGuard("guard_changed", guardChanged); err != nil {
		return api.Protection{}, err
	}
	if err := validGuard("guard_incompressible", guardIncompressible); err != nil {
		return api.Protection{}, err
	}
	if in.Source == "" || in.Standby == "" {
		return api.Protection{}, apperr.New(apperr.Invalid, "source and standby members are required")
	}
	if in.Source == in.Standby {
		return api.Protection{}, apperr.New(apperr.Invalid, "source and standby must be different members")
	}
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.Protection{}, err
	}
	src, err := s.st.GetMember(ctx, p.ID, in.Source)
	if err != nil {
		return api.Protection{}, err
	}
	stb, err := s.st.GetMember(ctx, p.ID, in.Standby)
	if err != nil {
		return api.Protection{}, err
	}
	if _, err := s.poolKey(ctx, p.ID); err != nil {
		return api.Protection{}, err
	}
	next := sched.Next(s.now())
	row := store.Protection{PoolID: p.ID, Account: in.Account, SourceID: src.ID, StandbyID: stb.ID, Schedule: sched.Text,
		Records: recs, TTL: in.TTL, Databases: in.Databases == nil || *in.Databases, Paused: in.Paused, NextRunAt: &next,
		GuardChanged: guardChanged, GuardIncompressible: guardIncompressible}
	if err := s.st.CreateProtection(ctx, &row, s.now()); err != nil {
		return api.Protection{}, err
	}
	s.emit(ctx, KindCreated, pool, in.Source, fmt.Sprintf("account %s protected: %s → %s, schedule %s", in.Account, in.Source, in.Standby, sched.Text),
		map[string]any{"account": in.Account, "protection": row.ID})
	return s.GetProtection(ctx, pool, in.Account)
}

// protection looks a protection up by pool and account names.
func (s *Service) protection(ctx context.Context, pool, account string) (store.Protection, error) {
	if err := validAccount(account); err != nil {
		return store.Protection{}, err
	}
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return store.Protection{}, err
	}
	pr, err := s.st.GetProtection(ctx, p.ID, account)
	if errors.Is(err, apperr.NotFound) {
		return pr, apperr.New(apperr.NotFound, "account %s of pool %s is not protected", account, pool)
	}
	return pr, err
}

// GetProtection shows one protection.
func (s *Service) GetProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	return s.toAPI(ctx, pr)
}

// ListProtections lists the protections of a pool, or of every pool.
func (s *Service) ListProtections(ctx context.Context, pool string) ([]api.Protection, error) {
	var poolID int64
	if pool != "" {
		p, err := s.st.GetPool(ctx, pool)
		if err != nil {
			return nil, err
		}
		poolID = p.ID
	}
	rows, err := s.st.ListProtections(ctx, poolID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Protection, 0, len(rows))
	for _, r := range rows {
		p, err := s.toAPI(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// rpo returns the protection's recovery point age and whether it exceeds
// twice the schedule's interval. A protection never replicated counts from
// its creation, or from its last reversal.
func (s *Service) rpo(pr store.Protection) (age time.Duration, exceeded bool) {
	since := pr.CreatedAt
	if pr.ReversedAt != nil {
		since = *pr.ReversedAt
	}
	if pr.GoodAt != nil {
		since = *pr.GoodAt
	}
	age = s.now().Sub(since)
	sched, err := ParseSchedule(pr.Schedule)
	if err != nil {
		return age, false
	}
	return age, age > 2*sched.Interval(s.now())
}

func (s *Service) toAPI(ctx context.Context, pr store.Protection) (api.Protection, error) {
	out := api.Protection{ID: pr.ID, Pool: pr.Pool, Account: pr.Account, Source: pr.Source, Standby: pr.Standby,
		Schedule: pr.Schedule, Records: pr.Records, TTL: pr.TTL, Status: api.ProtectionActive, Databases: pr.Databases,
		NextRunAt: pr.NextRunAt, LastGoodAt: pr.GoodAt, CutTo: pr.CutTo, CutAt: pr.CutAt, CutReason: pr.CutReason, Paused: pr.Paused,
		ReversedAt: pr.ReversedAt, GuardChanged: pr.GuardChanged, GuardIncompressible: pr.GuardIncompressible,
		CreatedAt: pr.CreatedAt, UpdatedAt: pr.UpdatedAt}
	if pr.Paused {
		out.Status, out.NextRunAt = api.ProtectionPaused, nil
	}
	if servingAway(pr) {
		out.Status, out.NextRunAt, out.Blocked = api.ProtectionServingStandby, nil, blockedText(pr)
	}
	age, exceeded := s.rpo(pr)
	if pr.GoodAt != nil {
		secs := int64(age / time.Second)
		out.RPOSeconds = &secs
	}
	out.RPOExceeded = exceeded && out.Status == api.ProtectionActive
	runs, err := s.st.ListRuns(ctx, pr.ID, 1)
	if err != nil {
		return out, err
	}
	if len(runs) > 0 {
		out.LastRun = &runs[0].Run
	}
	return out, nil
}

// UpdateProtection changes a protection's schedule, records, TTL or guard
// thresholds.
func (s *Service) UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	var changes []string
	if in.Schedule != nil {
		sched, err := ParseSchedule(*in.Schedule)
		if err != nil {
			return api.Protection{}, err
		}
		next := sched.Next(s.now())
		pr.Schedule, pr.NextRunAt, pr.RPOAlerted = sched.Text, &next, false
		changes = append(changes, "schedule "+sched.Text)
	}
	if in.Records != nil {
		recs, err := normRecords(*in.Records)
		if err != nil {
			return api.Protection{}, err
		}
		pr.Records = recs
		changes = append(changes, "records "+strings.Join(recs, ","))
	}
	if in.TTL != nil {
		if err := validTTL(*in.TTL); err != nil {
			return api.Protection{}, err
		}
		pr.TTL = *in.TTL
		changes = append(changes, fmt.Sprintf("ttl %d", pr.TTL))
	}
	if in.GuardChanged != nil {
		if err := validGuard("guard_changed", *in.GuardChanged); err != nil {
			return api.Protection{}, err
		}
		pr.GuardChanged = *in.GuardChanged
		changes = append(changes, "guard on changed files "+limit(pr.GuardChanged))
	}
	if in.GuardIncompressible != nil {
		if err := validGuard("guard_incompressible", *in.GuardIncompressible); err != nil {
			return api.Protection{}, err
		}
		pr.GuardIncompressible = *in.GuardIncompressible
		changes = append(changes, "guard on incompressible content "+limit(pr.GuardIncompressible))
	}
	if len(changes) == 0 {
		return api.Protection{}, apperr.New(apperr.Invalid, "nothing to change: give schedule, records, ttl, guard_changed or guard_incompressible")
	}
	if err := s.st.UpdateProtection(ctx, &pr, s.now()); err != nil {
		return api.Protection{}, err
	}
	s.emit(ctx, KindChanged, pool, pr.Source, fmt.Sprintf("protection of account %s changed: %s", account, strings.Join(changes, ", ")), nil)
	return s.toAPI(ctx, pr)
}

// SetPaused pauses or resumes a protection. A resumed protection runs at its
// schedule's next time; a run in progress is not stopped by a pause.
func (s *Service) SetPaused(ctx context.Context, pool, account string, paused bool) (api.Protection, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	if pr.Paused != paused {
		pr.Paused = paused
		if !paused {
			if sched, err := ParseSchedule(pr.Schedule); err == nil {
				next := sched.Next(s.now())
				pr.NextRunAt = &next
			}
		}
		if err := s.st.UpdateProtection(ctx, &pr, s.now()); err != nil {
			return api.Protection{}, err
		}
		verb := "resumed"
		if paused {
			verb = "paused"
		}
		s.emit(ctx, KindChanged, pool, pr.Source, fmt.Sprintf("protection of account %s %s", account, verb), nil)
	}
	return s.toAPI(ctx, pr)
}

// DeleteProtection stops protecting an account. A run in progress is
// cancelled; the standby's copy stays where it is, and the transient chunks
// are removed from the object store.
func (s *Service) DeleteProtection(ctx context.Context, pool, account string) error {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return err
	}
	runs, err := s.st.ListRuns(ctx, pr.ID, 1)
	if err != nil {
		return err
	}
	for _, r := range runs {
		for _, j := range []int64{r.SourceJob, r.StandbyJob} {
			if j != 0 && r.FinishedAt == nil {
				_, _ = s.fl.CancelJob(ctx, j)
			}
		}
	}
	if err := s.st.DeleteProtection(ctx, pr.ID); err != nil {
		return err
	}
	s.auth.Delete(pr.ID)
	if n, err := s.deletePrefix(ctx, prefixOf(pr.ID)); err != nil {
		s.log.Warn("remove a deleted protection's objects", "protection", pr.ID, "err", err, "removed", n)
	}
	s.emit(ctx, KindDeleted, pool, pr.Source, fmt.Sprintf("account %s is no longer protected (the copy on %s was left in place)", account, pr.Standby), nil)
	return nil
}

// prefixOf is where a protection's objects live.
func prefixOf(id int64) string { return fmt.Sprintf("protections/%d/", id) }

// deleteWorkers is how many objects deletePrefix removes at once.
const deleteWorkers = 8

// deletePrefix removes every object under prefix and returns how many it
// removed.
func (s *Service) deletePrefix(ctx context.Context, prefix string) (int, error) {
	var keys []string
	if err := s.objs.List(ctx, prefix, func(i objstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		return 0, err
	}
	work := make(chan string)
	var (
		wg    sync.WaitGroup
		n     atomic.Int64
		errMu sync.Mutex
		first error
	)
	for range min(deleteWorkers, len(keys)) {
		wg.Go(func() {
			for k := range work {
				if err := s.objs.Delete(ctx, k); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					continue
				}
				n.Add(1)
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return int(n.Load()), first
}
