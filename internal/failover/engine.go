package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Engine decides failovers. Create it with New, then Run it; the API calls
// MakeActive and Republish.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	started time.Time // no silence counts from before this (restart grace)

	// stepMu serialises Step, MakeActive and Republish; it guards the
	// fields below and poolRun's decision fields.
	stepMu sync.Mutex
	epoch  int64 // lease epoch of the current term; 0 = not leading
	fenced int64 // highest epoch a fenced write refused: never used again
	pools  map[int64]*poolRun

	// mu guards poolRun's confirmation fields, which confirmation
	// goroutines write.
	mu sync.Mutex
	bg sync.WaitGroup // confirmations and hooks in flight

	leading atomic.Bool // mirrors epoch != 0 for Leading
}

// Leading reports whether this engine holds the lease (as of its last
// tick). Safe for concurrent use.
func (e *Engine) Leading() bool { return e.leading.Load() }

// poolRun is what the engine remembers about one pool between ticks.
type poolRun struct {
	// Guarded by Engine.stepMu.
	ep         episode
	lastCut    time.Time // of the last cut, failback or manual move
	published  string    // key of the last successful publish (see publishKey)
	publishErr string    // key whose failure was already reported

	// Guarded by Engine.mu.
	gen      int64    // bumped when an episode ends: late verdicts are dropped
	inflight bool     // a confirmation is running
	verdict  *verdict // the latest confirmation of this episode
}

// episode is one period of silence of the active member. Each kind of event
// is emitted at most once per episode.
type episode struct {
	member int64 // the active member; 0 = none
	// probing: a confirmation was started. The others: the event of that
	// name was emitted.
	probing, confirming, agentLost, failStatic, held, paused bool
}

// New returns an engine. It panics when a required dependency is missing,
// which is a wiring mistake.
func New(cfg Config) *Engine {
	if cfg.Source == nil || cfg.State == nil || cfg.Publisher == nil || cfg.Lease == nil {
		panic("failover.New: Source, State, Publisher and Lease are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Events == nil {
		cfg.Events = discardEvents{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Tick, DefaultTick)
	def(&cfg.Settle, DefaultSettle)
	def(&cfg.MinCutInterval, DefaultMinCutInterval)
	def(&cfg.Reconfirm, DefaultReconfirm)
	def(&cfg.ConfirmTimeout, DefaultConfirmTimeout)
	def(&cfg.HookTimeout, DefaultHookTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "failover"),
		started: cfg.Now(),
		pools:   map[int64]*poolRun{},
	}
}

type discardEvents struct{}

func (discardEvents) Emit(context.Context, api.Event) {}

// Run steps every Config.Tick until ctx ends, then releases the lease (see
// LeaseReleaser) and waits for the confirmations and hooks in flight, each
// bounded by its timeout. A step's errors are logged, not returned: the
// next tick tries again.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	defer e.bg.Wait()
	defer e.release(ctx)
	var last string
	for {
		err := e.Step(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil && err.Error() != last:
			e.log.Warn("failover step", "err", err)
			last = err.Error()
		case err == nil && last != "":
			e.log.Info("failover step recovered")
			last = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// release gives the lease up if this engine holds it and can.
func (e *Engine) release(ctx context.Context) {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	rl, ok := e.cfg.Lease.(LeaseReleaser)
	if !ok || e.epoch == 0 {
		return
	}
	e.epoch = 0
	e.leading.Store(false)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := rl.Release(ctx); err != nil {
		e.log.Warn("release failover lease", "err", err)
	}
}

// Step renews the lease and, while this engine holds it, evaluates every
// pool once. Probes run in the background and their verdicts are acted on
// by a later Step, so Step never waits for a probe. Errors of one pool do
// not stop the others; they are joined. A fenced write makes the engine step
// down: it decides nothing more until it acquires the lease with a new epoch.
func (e *Engine) Step(ctx context.Context) error {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	epoch, pools, err := e.leaderPools(ctx)
	if err != nil || epoch == 0 {
		return err
	}
	now := e.cfg.Now()
	var errs []error
	seen := make(map[int64]bool, len(pools))
	for _, p := range pools {
		seen[p.ID] = true
		p = normalize(p)
		members, err := e.cfg.Source.Members(ctx, p.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("failover: members of pool %s: %w", p.Name, err))
			continue
		}
		err = e.evaluate(ctx, epoch, p, members, now)
		if errors.Is(err, ErrFenced) {
			e.stepDown(ctx, epoch, p, err)
			return err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for id := range e.pools {
		if !seen[id] {
			delete(e.pools, id)
		}
	}
	return errors.Join(errs...)
}

// leaderPools renews the lease and, while this engine holds it, lists the
// pools. epoch 0 means not leading. Callers hold stepMu.
func (e *Engine) leaderPools(ctx context.Context) (int64, []PoolState, error) {
	epoch, err := e.acquire(ctx)
	if err != nil || epoch == 0 {
		return 0, nil, err
	}
	pools, err := e.cfg.Source.Pools(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("failover: list pools: %w", err)
	}
	return epoch, pools, nil
}

// acquire renews the lease. A new term (another epoch, or none) forgets
// what was published and the episodes in progress, so that every record is
// published once by the new leader and no stale verdict is acted on.
// Callers hold stepMu.
func (e *Engine) acquire(ctx context.Context) (int64, error) {
	epoch, err := e.cfg.Lease.Acquire(ctx)
	if err != nil {
		epoch = 0
		err = fmt.Errorf("failover: acquire lease: %w", err)
	}
	if epoch <= e.fenced {
		epoch = 0 // refused once: that term is over for good
	}
	if epoch != e.epoch {
		if epoch != 0 {
			e.log.Info("leading failover", "epoch", epoch)
		} else if err == nil {
			e.log.Info("not leading failover", "previous_epoch", e.epoch)
		}
		e.epoch = epoch
		e.leading.Store(epoch != 0)
		for _, r := range e.pools {
			r.published, r.publishErr = "", ""
			e.endEpisode(r)
		}
	}
	return epoch, err
}

// stepDown ends the term whose fenced write was refused.
func (e *Engine) stepDown(ctx context.Context, epoch int64, p PoolState, err error) {
	e.fenced = max(e.fenced, epoch)
	e.epoch = 0
	e.leading.Store(false)
	for _, r := range e.pools {
		r.published, r.publishErr = "", ""
		e.endEpisode(r)
	}
	e.emit(ctx, KindStepDown, p.Name, "",
		fmt.Sprintf("failover engine stepped down: its write for pool %s was refused (%v); another server replica leads", p.Name, err),
		map[string]any{"epoch": epoch, "error": err.Error()})
}

// run returns the memory of pool id, creating it.
func (e *Engine) run(id int64) *poolRun {
	r := e.pools[id]
	if r == nil {
		r = &poolRun{}
		e.pools[id] = r
	}
	return r
}

// endEpisode forgets the episode in progress and drops its verdicts,
// including one still being computed.
func (e *Engine) endEpisode(r *poolRun) {
	r.ep = episode{}
	e.mu.Lock()
	r.gen++
	r.verdict = nil
	e.mu.Unlock()
}

// normalize applies the defaults and limits to a pool's settings.
func normalize(p PoolState) PoolState {
	switch {
	case p.Delay <= 0:
		p.Delay = DefaultDelay
	case p.Delay < MinDelay:
		p.Delay = MinDelay
	case p.Delay > MaxDelay:
		p.Delay = MaxDelay
	}
	if p.Failback != api.FailbackAuto {
		p.Failback = api.FailbackManual
	}
	return p
}
