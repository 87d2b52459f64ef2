// Package agent is `poolctl agent`: it runs on each enrolled server, reports
// outbound only over HTTPS and runs jobs the server queues for it.
//
// Three loops share one *Agent:
//   - the heartbeat loop posts metrics every interval (the first beat
//     jittered), and facts and stack on the first beat, whenever they change,
//     after an outage and when the server asks;
//   - the detection loop re-reads facts (every 5 min), the software stack
//     (every minute) and pending package updates (every 30 min) in the
//     background, so a slow command never delays a heartbeat;
//   - the job loop long-polls for jobs and runs them through a registry of
//     Handlers, at most four at a time.
//
// Failure policy: network errors and 5xx answers are retried with capped
// exponential back-off and full jitter, logged once per outage. A 401 or 403
// (credential or source address refused) is logged once as an error and
// retried every minute, because an operator can fix it without restarting
// the agent. A 410 (member removed) stops Run with ErrRemoved.
//
// The agent talks to the server only through package client and package api;
// it imports no server package.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/accounts"
)

// ErrRemoved is returned by Run when the server answers 410 Gone: the member
// was removed from its pool and its credential is no longer valid.
var ErrRemoved = errors.New("member was removed from its pool (server answered 410 Gone)")

// DefaultHeartbeatInterval is used when neither Config nor the enrolment
// names an interval.
const DefaultHeartbeatInterval = 2 * time.Second

// Config configures Run.
type Config struct {
	DataDir string
	// HeartbeatInterval overrides the interval the server suggested at
	// enrolment; 0 uses that one, or DefaultHeartbeatInterval. The first
	// beat waits a random 0..interval/2.
	HeartbeatInterval time.Duration
	// AllowShell opts this server in to shell.exec jobs. They are refused
	// unless it is set, whatever the server allows (defence in depth).
	AllowShell bool
	// MariaDBDSN holds credentials for MariaDB/Galera detection, e.g.
	// "root@tcp(127.0.0.1:3306)/". Without it the agent tries the mariadb
	// command-line client, which reads ~/.my.cnf or uses socket auth.
	MariaDBDSN string
	// Accounts discovers this server's hosting accounts and moves their
	// databases; with it the agent runs account.list and the replication
	// jobs of account protection (nil: it offers none of them). Replicas
	// and dumps are kept under DataDir (see replicate.go).
	Accounts accounts.Provider
	// Root is the filesystem root detection looks under (default "/"). With
	// another root, binaries are looked for only in its sbin/bin directories.
	Root    string
	Logger  *slog.Logger
	Version string
	// Now is the clock used for timestamps and outage durations (default time.Now).
	Now func() time.Time
}

// Handler runs one kind of job. It streams progress through log (safe for
// concurrent use) and returns a JSON-encodable result. A non-nil error fails
// the job; a result returned with it is reported too.
type Handler func(ctx context.Context, job api.Job, log func(line string)) (result any, err error)

// apiClient is the part of *client.Client the agent uses; tests fake it.
type apiClient interface {
	Heartbeat(ctx context.Context, hb api.Heartbeat) (api.HeartbeatReply, error)
	NextJob(ctx context.Context, wait time.Duration) (*api.Job, error)
	AppendJobLog(ctx context.Context, id int64, lines []string) error
	FinishJob(ctx context.Context, id int64, res api.JobResult) error
	// SetToken switches to a rotated credential.
	SetToken(token string)
	objectClient
}

var _ apiClient = (*client.Client)(nil)

// probes measure and detect; tests replace them.
type probes struct {
	metrics func(ctx context.Context) api.Metrics
	facts   func(ctx context.Context) (api.Facts, error)
	stack   func(ctx context.Context) api.Stack
	updates func(ctx context.Context) (pending, security *int)
	procs   func(ctx context.Context) (procSet, error)
}

// Agent is one running agent. Build it with New, add job kinds with
// Register, then call Run.
type Agent struct {
	cfg      Config
	stateMu  sync.Mutex // guards state, replaced when the credential rotates
	state    *State
	srv      apiClient
	log      *slog.Logger
	interval time.Duration
	probes   probes
	snap     snapshot

	hmu      sync.RWMutex
	handlers map[string]Handler
	running  jobSet      // jobs this process runs, reported in heartbeats
	repl     *replicator // nil without Config.Accounts
	upd      *updater    // self-update (update.go)
	// keyWarned: a different release key offered was logged; under stateMu.
	keyWarned bool

	detectMu  sync.Mutex                       // serialises facts and stack detection
	updates   struct{ pending, security *int } // last update counts; under detectMu
	updatesMu sync.Mutex                       // serialises update checks

	// Tuning; tests shrink these.
	backoffMin, backoffMax time.Duration
	reach                  *reach        // when the server last answered, shared by the loops
	authRetry              time.Duration // wait after a 401/403
	beatTimeout            time.Duration
	pollWait               time.Duration
	minPoll                time.Duration // an empty poll answered sooner waits this long
	stackEvery             time.Duration
	factsEveryN            int // facts every N stack passes
	updatesEveryN          int // package updates every N stack passes
	maxJobs                int
	logFlushEvery          time.Duration
	logFlushLines          int
	leaseKeepalive         time.Duration
	rand                   func(n int64) int64
}

// New loads the enrolment from cfg.DataDir and returns an agent ready to Run.
func New(cfg Config) (*Agent, error) {
	st, err := LoadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	c, err := client.New(st.Server, client.Options{Token: st.Token, CAFingerprint: st.CAFingerprint})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	c.UserAgent = userAgent(cfg.Version)
	return newAgent(cfg, st, c), nil
}

// Run loads the enrolment from cfg.DataDir and runs the agent until ctx is
// done (it then returns nil) or the server answers 410 Gone (ErrRemoved).
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func newAgent(cfg Config, st *State, srv apiClient) *Agent {
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	interval := cfg.HeartbeatInterval
	if interval <= 0 {
		interval = st.HeartbeatInterval.D()
	}
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	a := &Agent{
		cfg:            cfg,
		state:          st,
		srv:            srv,
		log:            cfg.Logger.With("pool", st.Pool, "member", st.Member),
		interval:       interval,
		handlers:       map[string]Handler{},
		backoffMin:     time.Second,
		backoffMax:     30 * time.Second,
		authRetry:      time.Minute,
		beatTimeout:    max(10*time.Second, interval),
		pollWait:       25 * time.Second,
		minPoll:        time.Second,
		stackEvery:     time.Minute,
		factsEveryN:    5,
		updatesEveryN:  30,
		maxJobs:        4,
		logFlushEvery:  200 * time.Millisecond,
		logFlushLines:  50,
		leaseKeepalive: 15 * time.Second,
		rand:           defaultRand,
	}
	// While the server answered in the last 10 minutes, retry at least
	// every heartbeat interval: a restarting server must find its members
	// back within one interval, not after a back-off of half a minute.
	a.reach = newReach(interval, 10*time.Minute, cfg.Now)
	d := &detector{root: cfg.Root, dsn: cfg.MariaDBDSN, timeout: 10 * time.Second, log: a.log.With("component", "agent.detect")}
	s := newSampler()
	a.probes = probes{metrics: s.sample, facts: detectFacts, stack: d.stack, updates: d.updates, procs: listProcs}
	a.registerBuiltins()
	a.registerUpdate()
	a.registerReplication()
	return a
}

// Register adds or replaces the handler for a job kind; a nil h removes it.
// It is safe to call while the agent runs.
func (a *Agent) Register(kind string, h Handler) {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if h == nil {
		delete(a.handlers, kind)
		return
	}
	a.handlers[kind] = h
}

// Kinds lists the job kinds this agent runs, sorted.
func (a *Agent) Kinds() []string {
	a.hmu.RLock()
	defer a.hmu.RUnlock()
	kinds := make([]string, 0, len(a.handlers))
	for k := range a.handlers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

func (a *Agent) handler(kind string) Handler {
	a.hmu.RLock()
	defer a.hmu.RUnlock()
	return a.handlers[kind]
}

// Run runs the agent until ctx is done (it then returns nil, after running
// jobs have reported) or the server answers 410 Gone (ErrRemoved).
func (a *Agent) Run(ctx context.Context) error {
	for _, w := range a.state.Warnings {
		a.log.Warn("enrolment file is not private", "component", "agent", "problem", w)
	}
	a.log.Info("agent starting", "component", "agent", "server", a.state.Server,
		"interval", a.interval, "shell_jobs", a.cfg.AllowShell, "version", a.cfg.Version)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Facts are quick to read: have them for the first beat.
	a.refreshFacts(ctx)
	// This process may be the new binary of an update (update.go).
	a.resumeUpdate()

	var wg sync.WaitGroup
	wg.Go(func() { a.detectLoop(ctx) })
	wg.Go(func() {
		if err := a.jobLoop(ctx); err != nil {
			cancel(err)
		}
	})
	if err := a.heartbeatLoop(ctx); err != nil {
		cancel(err)
	}
	cancel(nil)
	wg.Wait()
	if errors.Is(context.Cause(ctx), ErrRemoved) {
		a.log.Error("member removed from its pool; agent stopping (enrol again to rejoin)", "component", "agent")
		return ErrRemoved
	}
	a.log.Info("agent stopped", "component", "agent")
	return nil
}

// snapshot holds the last detected facts and stack and tracks whether the
// server has them: gen moves on every change or resend request, sent is the
// gen the server last acknowledged.
type snapshot struct {
	mu                   sync.Mutex
	facts                *api.Facts
	stack                *api.Stack
	factsJSON, stackJSON []byte
	gen, sent            uint64
}

// setFacts stores f and reports whether it differs from what was stored.
func (s *snapshot) setFacts(f api.Facts) bool {
	b, _ := json.Marshal(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.facts != nil && string(b) == string(s.factsJSON) {
		return false
	}
	s.facts, s.factsJSON = &f, b
	s.gen++
	return true
}

// setStack stores st and reports whether it differs from what was stored.
func (s *snapshot) setStack(st api.Stack) bool {
	b, _ := json.Marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stack != nil && string(b) == string(s.stackJSON) {
		return false
	}
	s.stack, s.stackJSON = &st, b
	s.gen++
	return true
}

// requestResend makes the next heartbeat carry facts and stack.
func (s *snapshot) requestResend() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}

// pending returns what the next heartbeat should carry: need is false when
// the server has the current facts and stack.
func (s *snapshot) pending() (f *api.Facts, st *api.Stack, gen uint64, need bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts, s.stack, s.gen, s.gen != s.sent
}

// delivered records that the server acknowledged generation gen.
func (s *snapshot) delivered(gen uint64) {
	s.mu.Lock()
	s.sent = max(s.sent, gen)
	s.mu.Unlock()
}

func (s *snapshot) current() (*api.Facts, *api.Stack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts, s.stack
}
