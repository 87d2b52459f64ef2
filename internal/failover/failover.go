// Package failover is the engine that moves a pool's failover DNS record to a
// healthy standby when the active member dies, without false cuts.
//
// Every tick the engine takes or renews a lease, so that exactly one server
// replica decides, then evaluates every pool:
//
//   - A pool without an active member gets its best healthy member at once
//     (event pool.activated).
//   - An active member that has sent no heartbeat for the pool's delay is
//     cut only once its failure is confirmed: when it has a probe URL, the
//     server and the other members' agents (witnesses) probe it, and a
//     majority of the observers that answered must see it fail. An agent
//     that is silent while its service still answers is "agent lost": one
//     event, no cut, and the probes are repeated until the service fails
//     too. Without a probe URL, heartbeat loss alone decides.
//   - The standby is the healthy member, settled for Config.Settle, with
//     the best (lowest) priority, then the longest healthy streak. With no
//     healthy member the record stays where it is (fail-static).
//   - Failback "auto" returns to the preferred member once it has settled;
//     "manual" waits for MakeActive. Two cuts of one pool are at least
//     Config.MinCutInterval apart.
//
// The engine knows nothing of HTTP, SQL or DNS. It reads pools and members
// through Source and acts through State (every write fenced by the lease
// epoch), Publisher, Events and Hooks; the composition root adapts the
// fleet service, the store and the zones to these interfaces. Every decision
// is an event whose Data holds the reasons as JSON.
package failover

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Defaults and limits.
const (
	DefaultDelay          = 30 * time.Second
	MinDelay              = 5 * time.Second
	MaxDelay              = 600 * time.Second
	DefaultTick           = 500 * time.Millisecond
	DefaultSettle         = 10 * time.Second
	DefaultMinCutInterval = 60 * time.Second
	DefaultReconfirm      = 5 * time.Second
	DefaultConfirmTimeout = 10 * time.Second
	DefaultHookTimeout    = 30 * time.Second
)

// Event kinds the engine emits.
const (
	KindActivated    = "pool.activated"          // a pool without an active member got one
	KindConfirming   = "failover.confirming"     // the delay ran out; waiting for the probes' verdict
	KindAgentLost    = "failover.agent_lost"     // agent silent, service still answering: no cut
	KindCut          = "failover.cut"            // the record moved to a standby
	KindFailStatic   = "failover.fail_static"    // confirmed down, but no healthy member to move to
	KindHeld         = "failover.held"           // a cut waits for a standby to settle or for the minimum interval
	KindFailback     = "failover.failback"       // failback auto returned to the preferred member
	KindManual       = "failover.manual"         // an operator made a member active
	KindHook         = "failover.hook"           // the post-failover hook ran
	KindPublishError = "failover.publish_failed" // publishing the record failed; retried every tick
	KindStepDown     = "failover.step_down"      // a fenced write was refused: another replica leads
	KindPaused       = "failover.paused"         // a cut (or failback) is due, but a maintenance window paused failover
)

// ServerObserver is the Observer name of the server's own probe.
const ServerObserver = "server"

// ErrFenced is what State.SetActive wraps when the epoch it was given is no
// longer the lease's: another replica took over. The engine then steps down.
var ErrFenced = errors.New("failover: lease epoch is stale")

// PoolState is a pool as the engine sees it.
type PoolState struct {
	ID     int64
	Name   string
	Record string // FQDN of the failover record; "" = nothing to publish
	// Provider names the DNS provider Record is published at; "" = the
	// built-in zones. The Publisher routes to it.
	Provider string
	// Delay is how long the active member must be silent before a cut;
	// 0 means DefaultDelay, other values are clamped to [MinDelay, MaxDelay].
	Delay          time.Duration
	TTL            int    // of the published record, in seconds
	Failback       string // api.FailbackAuto or api.FailbackManual ("" = manual)
	Hook           string // absolute command path or http(s) URL; "" = none
	ActiveMemberID int64  // 0 = none
}

// MemberState is a member with its live health, as the engine sees it.
type MemberState struct {
	ID       int64
	Name     string
	Address  netip.Addr
	Priority int    // lower is preferred
	ProbeURL string // tcp://host:port or http(s)://...; "" = heartbeats alone decide
	Status   string // api.Status*
	// LastBeat is the time of the last heartbeat, zero if never. After a
	// server restart it is the later of the true last beat and the server's
	// start, so that downtime of the server is not counted as silence of the
	// member (restart grace).
	LastBeat time.Time
	// HealthySince is when the member last became healthy; nil unless Status
	// is api.StatusHealthy.
	HealthySince *time.Time
}

// Observation is one observer's verdict on a probe target.
type Observation struct {
	Observer string `json:"observer"` // ServerObserver or a witness member's name
	OK       bool   `json:"ok"`       // the service answered
	Detail   string `json:"detail,omitempty"`
}

// Source reads pools and members. The engine calls both methods every tick,
// so they should be served from memory or be cheap.
type Source interface {
	// Pools returns every pool. After State.SetActive returns nil, Pools
	// must report the new ActiveMemberID.
	Pools(ctx context.Context) ([]PoolState, error)
	// Members returns the members of one pool with their live health.
	Members(ctx context.Context, poolID int64) ([]MemberState, error)
}

// Prober probes a member's service from the server. It must be safe for
// concurrent use: pools are confirmed in parallel.
type Prober interface {
	// Probe returns nil when target answers: a TCP connection is accepted,
	// or an HTTP(S) request gets a 2xx or 3xx status. It bounds its own time
	// (a few seconds) and honours ctx.
	Probe(ctx context.Context, target string) error
}

// Witnesses asks other members' agents to probe a service. It must be safe
// for concurrent use: pools are confirmed in parallel.
type Witnesses interface {
	// Probe asks the agents of the pool's healthy members, except those in
	// exclude, to probe target, and returns the observations of those that
	// answered before ctx ended or its own timeout passed. Witnesses that
	// did not answer are left out: they are not counted as failures.
	Probe(ctx context.Context, poolID int64, exclude []int64, target string) []Observation
}

// Publisher points failover records at addresses. The engine calls it from
// one goroutine at a time.
type Publisher interface {
	// Publish makes pool.Record resolve to addr alone: an A record for an
	// IPv4 address or AAAA for IPv6 (removing address records of the other
	// family at that name), with pool.TTL. It is idempotent: the engine
	// calls it after every move, once per pool whenever it gains the lease,
	// when the active member's address, the record or the TTL changes, and
	// again every tick after a failure. It is never called with an empty
	// Record.
	Publish(ctx context.Context, pool PoolState, addr netip.Addr) error
}

// State stores the engine's decisions. The engine calls it from one
// goroutine at a time.
type State interface {
	// SetActive records memberID as the active member of poolID and, when
	// banner is non-nil, the pool's failover banner (nil keeps the current
	// one). The write is fenced: when epoch is no longer the lease's epoch
	// it must change nothing and return an error wrapping ErrFenced.
	SetActive(ctx context.Context, poolID, memberID int64, banner *api.Banner, epoch int64) error
}

// Events records what the engine decided. It must be safe for concurrent
// use: hook results are emitted from their own goroutines.
type Events interface {
	// Emit appends e. It reports no error: the decision it describes has
	// been acted on already, so a failure to store it is the
	// implementation's to log. It must not block for long.
	Emit(ctx context.Context, e api.Event)
}

// Lease elects the one engine that decides among server replicas.
type Lease interface {
	// Acquire takes or renews the lease and returns its epoch while this
	// engine holds it, or 0 while another holder's lease is valid. It is
	// called every tick, so its TTL must span several ticks; the epoch
	// grows with every change of holder and is never reused.
	Acquire(ctx context.Context) (int64, error)
}

// LeaseReleaser may be implemented by a Lease. When Run stops while leading,
// it calls Release so that another replica can take over at once rather
// than after the lease's TTL.
type LeaseReleaser interface {
	Release(ctx context.Context) error
}

// AccountCutter moves the DNS of the accounts a failed member served to
// their standbys. Its answer (a JSON-encodable summary: which accounts were
// cut, which were not protected) goes into the failover event and the
// post-failover hook's payload.
type AccountCutter interface {
	CutAccounts(ctx context.Context, pool, from string) (any, error)
}

// Pauser says whether operators paused failover: a maintenance window
// with failover paused (internal/monitor.Windows implements it).
type Pauser interface {
	// Paused reports whether moving pool's record away from member, its
	// active member, is paused at now, and why. The engine treats an
	// error as not paused: failover stays on when in doubt.
	Paused(ctx context.Context, pool, member string, now time.Time) (bool, string, error)
}

// Hooks calls URL hooks: the engine itself speaks no HTTP. It must be safe
// for concurrent use.
type Hooks interface {
	// CallURL POSTs payload (JSON) to url and returns the response status
	// and a prefix of its body; err reports a failure to get a response.
	// ctx carries the hook timeout.
	CallURL(ctx context.Context, url string, payload []byte) (status int, body string, err error)
}

// Config configures an Engine. Source, State, Publisher and Lease are
// required; the rest are optional.
type Config struct {
	Source    Source
	Prober    Prober    // nil: no server-side probe
	Witnesses Witnesses // nil: no witnesses
	Publisher Publisher
	State     State
	Events    Events // nil: decisions are only logged
	Lease     Lease
	Hooks     Hooks // nil: URL hooks fail with an event
	// Accounts, when set, cuts the DNS of the protected accounts served by
	// a member that failed over (account protection).
	Accounts AccountCutter
	// Pause, when set, can hold cuts and failbacks (maintenance windows).
	Pause Pauser

	Now  func() time.Time // time.Now when nil
	Tick time.Duration    // how often Run steps (DefaultTick)
	// Settle is how long a member must have been healthy before it can
	// become active by a cut or a failback (DefaultSettle).
	Settle time.Duration
	// MinCutInterval separates two cuts (or failbacks) of one pool
	// (DefaultMinCutInterval).
	MinCutInterval time.Duration
	// Reconfirm is how often probes are repeated while the active member's
	// agent is silent; a verdict older than that is not acted on
	// (DefaultReconfirm).
	Reconfirm time.Duration
	// ConfirmTimeout bounds one confirmation: server probe and witnesses
	// (DefaultConfirmTimeout).
	ConfirmTimeout time.Duration
	HookTimeout    time.Duration // DefaultHookTimeout
	Logger         *slog.Logger
}
