package apiserver

import (
	"context"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
)

// Protections is account protection (internal/protection) as the API needs
// it. Protections are named by pool and account: an account has at most one
// protection per pool.
type Protections interface {
	// Accounts lists the accounts on a member. With refresh, or when the
	// last discovery is older than a minute, it asks the member's agent
	// (an account.list job) and waits for it briefly; when the agent does
	// not answer it returns the accounts last discovered with Stale set.
	Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error)

	ListProtections(ctx context.Context, pool string) ([]api.Protection, error) // pool "" lists all
	CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error)
	GetProtection(ctx context.Context, pool, account string) (api.Protection, error)
	UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error)
	SetPaused(ctx context.Context, pool, account string, paused bool) (api.Protection, error)
	// DeleteProtection stops replicating; the standby's copy is left in place.
	DeleteProtection(ctx context.Context, pool, account string) error
	// RunNow queues a run at once: Conflict while one is queued or
	// running, and while the account's DNS points away from its source
	// (the member it points at serves the live copy; the message names
	// the cut).
	RunNow(ctx context.Context, pool, account string) (api.Run, error)
	// Reverse swaps source and standby once the account's DNS points at
	// the standby (Conflict otherwise, and while a run has not ended).
	Reverse(ctx context.Context, pool, account string) (api.Protection, error)
	Runs(ctx context.Context, pool, account string, limit int) ([]api.Run, error)
	Run(ctx context.Context, id int64) (api.Run, error)
	// ConfirmRun lets a run that needs confirmation (its snapshot went past
	// the protection's guard) replace the standby's copy; RejectRun
	// discards it, the standby keeps its copy. Both are a Conflict when the
	// run does not need confirmation; ConfirmRun also while the account's
	// DNS points away from its source.
	ConfirmRun(ctx context.Context, id int64) (api.Run, error)
	RejectRun(ctx context.Context, id int64) (api.Run, error)
	// RunLog returns a run's log lines after seq; with wait it waits for new
	// lines while the run has not ended.
	RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error)
	// CutDNS points the account's records at another member of its pool.
	CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error)

	// Agent side. AuthorizeObject allows a member to read (or, when write,
	// to write or delete) an object: keys under "protections/{id}/" are
	// open to that protection's source (read and write) and standby (read).
	AuthorizeObject(ctx context.Context, a fleet.Agent, key string, write bool) error
	// Objects is the server's object store.
	Objects() objstore.Store
	// ChunkKey answers the pool's chunk key to a protection's source or standby.
	ChunkKey(ctx context.Context, a fleet.Agent, protection int64) ([]byte, error)
}
