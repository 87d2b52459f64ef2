// Package accounts discovers hosting accounts on a member and moves their
// databases: it is the agent's side of account protection. A Provider knows
// one kind of server (a plain Linux server, cPanel); the replication of the
// files themselves is package replication's job.
package accounts

import (
	"context"
	"errors"

	"github.com/poolctl/poolctl/api"
)

// ErrNoAccount is wrapped by errors about an account that does not exist.
var ErrNoAccount = errors.New("no such account")

// Provider discovers accounts on this server and dumps and restores their
// databases. Implementations: Linux (a manifest file per home directory,
// MariaDB's own tools) and CPanel (cPanel's commands; not exercised against
// a real cPanel, see CPanelVerified). Detect picks one.
//
// What DumpDatabases writes into its directory is the provider's own
// format; only the same provider's RestoreDatabases reads it.
type Provider interface {
	// Name is api.ProviderLinux or api.ProviderCPanel.
	Name() string
	// List returns every account on this server, sorted by name.
	List(ctx context.Context) ([]api.Account, error)
	// Get returns one account (an error wrapping ErrNoAccount if missing).
	Get(ctx context.Context, name string) (api.Account, error)
	// Home is where the account's home directory is (or would be created)
	// on this server; restores go there.
	Home(name string) string
	// DumpDatabases writes a consistent dump of each of the account's
	// databases, and of its database users and their grants, into dir
	// (which exists and is empty), and returns how many databases and users
	// it dumped.
	DumpDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (dbs, users int, err error)
	// RestoreDatabases loads the dumps that DumpDatabases wrote into dir
	// into this server's MariaDB under the same names, each database
	// atomically (loaded aside, then swapped in), then recreates the users
	// and grants. A failure leaves the previous copy of each database that
	// was not yet swapped untouched. (The cpanel provider cannot promise
	// this: cPanel's restorepkg replaces databases in place.)
	RestoreDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (dbs, users int, err error)
	// Prepare runs before the files of acct are restored on this server
	// (cPanel: nothing; linux: ensure the parent directory exists).
	Prepare(ctx context.Context, acct api.Account) error
}

// DatabaseSizer is implemented by providers that can tell how large an
// account's databases are (tables and indexes, in bytes): the agent checks
// that their dumps fit before a snapshot starts.
type DatabaseSizer interface {
	DatabaseBytes(ctx context.Context, acct api.Account) (int64, error)
}
