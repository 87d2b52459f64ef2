// Package fleet is poolctl's core service for pools and members: it
// validates operator input, enrols agents, ingests heartbeats, decides each
// member's health from a per-member TTL, queues jobs for agents and records
// events. The API, the dashboard and the engines all call it; it knows
// nothing of HTTP.
package fleet

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// Defaults for pools and members.
const (
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultHeartbeatTimeout  = 10 * time.Second
	DefaultFailoverDelay     = 30 * time.Second
	DefaultTTL               = 30
	DefaultSecretTTL         = 24 * time.Hour
	DefaultJobLease          = 60 * time.Second
	sampleEvery              = time.Minute
	sampleRetention          = 48 * time.Hour
)

// Config configures a Service.
type Config struct {
	// CAFingerprint is the hex SHA-256 of the server's CA certificate; it is
	// embedded in enrolment secrets. Empty when the operator supplied a
	// publicly trusted certificate.
	CAFingerprint string
	// CAPEM is handed to agents at enrolment so they can trust the CA later.
	CAPEM string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// FlushInterval is how often batched heartbeats reach the store (1 s).
	FlushInterval time.Duration
	// SweepInterval is how often health is re-evaluated (250 ms).
	SweepInterval time.Duration
	// ReloadInterval is how often the store is checked for heartbeats that
	// reached other replicas and changes made elsewhere (1 s).
	ReloadInterval time.Duration
	// CredentialRotation is the age at which agent credentials rotate by
	// themselves (DefaultCredentialRotation when 0, never when negative);
	// CredentialOverlap is how long a replaced one keeps working after its
	// successor's first use (DefaultCredentialOverlap when 0). See rotation.go.
	CredentialRotation time.Duration
	CredentialOverlap  time.Duration
	Logger             *slog.Logger
}

// Service is the fleet service. Create it with New, then Run it.
type Service struct {
	st     *store.Store
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	events *hub
	ver    *versionState // version skew policy (versions.go); nil: off
	// findBinary finds the agent binaries offered (agent_update.go);
	// rolloutWake makes Run step agent rollouts at once.
	findBinary  BinaryFinder
	rolloutWake chan struct{}

	started time.Time

	mu     sync.Mutex
	live   map[int64]*liveMember // by member ID
	agents map[string]int64      // agent token hash -> member ID
	admins map[string]adminEntry // admin token hash -> cached lookup
	// refusedCreds remembers agent credentials that do not work, lookups
	// bounds the store lookups of unknown ones (see agentauth.go).
	refusedCreds map[string]*refusal
	lookups      lookupBucket
	pending      map[int64]*store.HeartbeatUpdate
	samples      []store.Sample
	jobWake      map[int64]chan struct{}
	jobEnded     []func(api.Job) // OnJobEnd callbacks; under mu
	watchers     []func(Change)
	// lastReload is when members were last read in full.
	lastReload time.Time
	gen        uint64 // counts live entries added outside reloads
	credSeq    uint64 // counts changes of live credentials (touchCredLocked)
	// transitions carries health changes from heartbeats to Run, which
	// records them; nil while Run is not running.
	transitions chan []Change
	leader      func() bool
	afterRead   func() // test seam: runs between a reload's read and its merge
	records     RecordChecker
	// Reception (see reception.go); under mu.
	aliveAt        time.Time     // the run loop's last tick
	regainedAt     time.Time     // the end of the last gap in reception
	storeDownSince time.Time     // zero while the store answers
	pausedFor      time.Duration // a pause found and not yet reported
	draining       bool          // shutting down: health is no longer judged
}

// Change tells watchers (the failover engine, the dashboard) that a member's
// health changed.
type Change struct {
	PoolID, MemberID int64
	Pool, Member     string
	From, To         string
	At               time.Time
	quiet            bool // seen here, recorded by another replica
}

// New returns a service over st.
func New(st *store.Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 250 * time.Millisecond
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		st:           st,
		cfg:          cfg,
		log:          cfg.Logger.With("component", "fleet"),
		now:          cfg.Now,
		live:         map[int64]*liveMember{},
		agents:       map[string]int64{},
		admins:       map[string]adminEntry{},
		refusedCreds: map[string]*refusal{},
		pending:      map[int64]*store.HeartbeatUpdate{},
		jobWake:      map[int64]chan struct{}{},
		rolloutWake:  make(chan struct{}, 1),
	}
	s.events = newHub(st, s.now)
	return s
}

// SetLeader tells the service whether this replica runs the engines; only
// that replica records the declines (suspect, down) every replica notices.
// Without it, this replica records them all.
func (s *Service) SetLeader(leading func() bool) { s.leader = leading }

// Store returns the underlying store (for engines wired next to the service).
func (s *Service) Store() *store.Store { return s.st }

// Watch registers fn to be called (synchronously, keep it short) on every
// health transition.
func (s *Service) Watch(fn func(Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
}

// Start loads members from the store, so that health is known before the
// first request, and records the start time from which the restart grace
// period counts.
func (s *Service) Start(ctx context.Context) error {
	s.started = s.now()
	return s.reload(ctx)
}

// Run drives the periodic work until ctx ends: heartbeat flushes, health
// sweeps, member reloads, job lease expiry and sample pruning. Start must
// have been called.
func (s *Service) Run(ctx context.Context) error {
	flush := time.NewTicker(s.cfg.FlushInterval)
	sweep := time.NewTicker(s.cfg.SweepInterval)
	reload := time.NewTicker(s.cfg.ReloadInterval)
	leases := time.NewTicker(5 * time.Second)
	prune := time.NewTicker(time.Hour)
	retire := time.NewTicker(time.Minute)
	rollouts := time.NewTicker(2 * time.Second)
	transitions := make(chan []Change, 4096)
	s.mu.Lock()
	s.transitions = transitions
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.transitions = nil
		s.mu.Unlock()
		for {
			select {
			case cs := <-transitions:
				s.record(context.WithoutCancel(ctx), cs)
				continue
			default:
			}
			break
		}
		flush.Stop()
		sweep.Stop()
		reload.Stop()
		leases.Stop()
		prune.Stop()
		retire.Stop()
		rollouts.Stop()
	}()
	for {
		select {
		case <-ctx.Done():
			// Write what is pending with a fresh context: a clean shutdown
			// loses no heartbeat.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := s.Flush(fctx)
			cancel()
			return err
		case cs := <-transitions:
			s.record(ctx, cs)
		case <-flush.C:
			if err := s.Flush(ctx); err != nil {
				s.storeFailed(s.now())
				s.log.Warn("flush heartbeats", "err", err)
			}
		case <-sweep.C:
			s.mu.Lock()
			s.watchLocked(s.now())
			s.mu.Unlock()
			if gap := s.takeGap(); gap > 0 {
				s.gapEvent(ctx, gap, "the process was paused or starved")
			}
			s.Sweep(ctx)
		case <-reload.C:
			if err := s.refresh(ctx); err != nil {
				s.storeFailed(s.now())
				s.log.Warn("reload members", "err", err)
			} else if gap := s.storeAnswered(s.now()); gap > 0 {
				s.gapEvent(ctx, gap, "the store was unreachable")
			}
		case <-leases.C:
			if !s.leasesHeld(s.now()) {
				s.expireLeases(ctx)
			}
		case <-rollouts.C:
			s.stepRollouts(ctx)
		case <-s.rolloutWake:
			s.stepRollouts(ctx)
		case <-retire.C:
			if _, err := s.st.RetireExpiredCredentials(ctx, s.now()); err != nil {
				s.log.Warn("retire rotated-out agent credentials", "err", err)
			}
		case <-prune.C:
			if _, err := s.st.PruneSamples(ctx, sampleEvery, s.now().Add(-sampleRetention)); err != nil {
				s.log.Warn("prune samples", "err", err)
			}
		}
	}
}
