package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/accounts"
	"github.com/poolctl/poolctl/internal/replication"
)

// Account protection on the agent: account.list, replication.snapshot (on
// the source member) and replication.restore (on the standby). Chunks and
// manifests travel through the server's agent object API; the chunk key
// comes from the server for each run.
//
// Layout under Config.DataDir:
//
//	replication/ID/db/          database dumps of protection ID being
//	                            snapshotted (source; emptied before each dump)
//	replicas/ID/files.manifest  the manifest last restored into the account's
//	                            home (standby; replaced only after a
//	                            successful restore)
//	replicas/ID/databases.manifest  likewise for the database dumps
//	replicas/ID/db/             the restored database dumps (standby)
//
// Object keys under the protection's prefix (SnapshotArgs.Prefix):
//
//	chunks/HEX                    one encoded chunk (replication.Codec)
//	manifests/run-RUN-files       the manifest of the home directory
//	manifests/run-RUN-databases   the manifest of the database dumps
//
// A manifest object is its 32-byte chunk ID followed by the manifest's JSON
// encoded like a chunk (compressed, encrypted, authenticated with the ID), so
// a reader needs nothing but the key to check it.

// objectClient is the part of the API client that replication uses.
// AppendJobLog is how a restore asks, right before its swap, whether the
// server still runs its job: an empty batch renews the job's lease and is
// answered 410 once the job does not run on the server any more.
type objectClient interface {
	AppendJobLog(ctx context.Context, id int64, lines []string) error
	PutObject(ctx context.Context, key string, data []byte) error
	PutObjects(ctx context.Context, objs []api.Object) error
	GetObject(ctx context.Context, key string) ([]byte, error)
	ListObjects(ctx context.Context, prefix string, fn func(api.ObjectInfo) error) error
	ChunkKey(ctx context.Context, protection int64) ([32]byte, error)
}

const (
	// maxObjectRequests bounds the object requests one run has in flight,
	// below the client's pool of idle connections so that keep-alive holds.
	maxObjectRequests = 32
	// objectAttempts is how often a chunk transfer is tried when the
	// network or the server fails (not when the server refuses).
	objectAttempts = 3
	// progressEvery is how often a long step logs where it is.
	progressEvery = 5 * time.Second
	// maxManifest is the largest manifest (JSON) a run can store: an
	// object's limit.
	maxManifest = client.MaxObjectSize - 1<<20
)

// replicator runs the account protection jobs of one agent.
type replicator struct {
	srv      objectClient
	accounts accounts.Provider
	dataDir  string
	progress time.Duration // tests shorten it
	retryMin time.Duration

	mu       sync.Mutex
	busy     map[int64]string          // protection → the job kind running for it
	dropping map[int64]*sync.WaitGroup // protection → removals of swapped-out copies

	// manifests keeps the manifests this agent wrote or restored last, by
	// object key or local path, so that the next run does not download and
	// decode them again (a large account's manifest takes a good part of an
	// incremental run). Manifests are never modified once made.
	cmu       sync.Mutex
	manifests map[string]*replication.Manifest
}

// dropLater removes a copy a restore swapped out, in the background; the
// next restore of the protection waits for it (waitDropped).
func (r *replicator) dropLater(id int64, path string) {
	r.mu.Lock()
	if r.dropping == nil {
		r.dropping = map[int64]*sync.WaitGroup{}
	}
	wg := r.dropping[id]
	if wg == nil {
		wg = new(sync.WaitGroup)
		r.dropping[id] = wg
	}
	wg.Go(func() { _ = os.RemoveAll(path) })
	r.mu.Unlock()
}

func (r *replicator) waitDropped(id int64) {
	r.mu.Lock()
	wg := r.dropping[id]
	r.mu.Unlock()
	if wg != nil {
		wg.Wait()
	}
}

// maxCachedManifests bounds replicator.manifests.
const maxCachedManifests = 16

func (r *replicator) cached(key string) *replication.Manifest {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	return r.manifests[key]
}

func (r *replicator) remember(key string, m *replication.Manifest) {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if r.manifests == nil {
		r.manifests = map[string]*replication.Manifest{}
	}
	if _, ok := r.manifests[key]; !ok && len(r.manifests) >= maxCachedManifests {
		for k := range r.manifests {
			delete(r.manifests, k)
			break
		}
	}
	r.manifests[key] = m
}

func newReplicator(srv objectClient, p accounts.Provider, dataDir string) *replicator {
	return &replicator{srv: srv, accounts: p, dataDir: dataDir, progress: progressEvery,
		retryMin: 500 * time.Millisecond, busy: map[int64]string{}}
}

// registerReplication adds the account protection job kinds when the agent
// has an account provider.
func (a *Agent) registerReplication() {
	if a.cfg.Accounts == nil {
		return
	}
	a.repl = newReplicator(a.srv, a.cfg.Accounts, a.cfg.DataDir)
	a.Register(api.KindAccountList, a.repl.accountList)
	a.Register(api.KindReplicationSnapshot, a.repl.snapshot)
	a.Register(api.KindReplicationRestore, a.repl.restore)
}

// accountList answers the accounts on this server.
func (r *replicator) accountList(ctx context.Context, _ api.Job, log func(string)) (any, error) {
	accts, err := r.accounts.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s accounts: %w", r.accounts.Name(), err)
	}
	if accts == nil {
		accts = []api.Account{}
	}
	log(fmt.Sprintf("%d %s account(s)", len(accts), r.accounts.Name()))
	return api.AccountListResult{Accounts: accts}, nil
}

// lock marks protection id busy with kind; runs of one protection never
// overlap on an agent.
func (r *replicator) lock(id int64, kind string) (unlock func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.busy[id]; ok {
		return nil, fmt.Errorf("protection %d: a %s job is already running on this member", id, k)
	}
	r.busy[id] = kind
	return func() {
		r.mu.Lock()
		delete(r.busy, id)
		r.mu.Unlock()
	}, nil
}

// checkRun validates what every replication job names.
func checkRun(protection, run int64, account, prefix string) error {
	switch {
	case protection <= 0:
		return fmt.Errorf("protection %d: want a positive id", protection)
	case run <= 0:
		return fmt.Errorf("run %d: want a positive id", run)
	case account == "" || strings.ContainsAny(account, "/\x00") || account == "." || account == "..":
		return fmt.Errorf("account %q: want an account name", account)
	case prefix != "protections/"+strconv.FormatInt(protection, 10)+"/":
		return fmt.Errorf("prefix %q: want protections/%d/", prefix, protection)
	}
	return nil
}

// checkManifestKey validates a manifest key named by the server.
func checkManifestKey(what, key, prefix string, required bool) error {
	if key == "" && !required {
		return nil
	}
	if rest, ok := strings.CutPrefix(key, prefix+"manifests/"); !ok || rest == "" || strings.Contains(rest, "/") {
		return fmt.Errorf("%s %q: want a key under %smanifests/", what, key, prefix)
	}
	return nil
}

// codecFor fetches the protection's chunk key and builds its codec.
func (r *replicator) codecFor(ctx context.Context, protection int64) (*replication.Codec, error) {
	key, err := r.srv.ChunkKey(ctx, protection)
	if err != nil {
		return nil, err
	}
	return replication.NewCodec(replication.DeriveKeys(key))
}

// encodeManifest returns a manifest's object: its ID, then its JSON
// encoded like a chunk.
func encodeManifest(c *replication.Codec, m *replication.Manifest) ([]byte, error) {
	var plain bytes.Buffer
	if err := m.Encode(&plain); err != nil {
		return nil, err
	}
	if plain.Len() > maxManifest {
		return nil, fmt.Errorf("manifest of %s is larger than the %s an object may hold", mib(int64(plain.Len())), mib(maxManifest))
	}
	id := c.ID(plain.Bytes())
	return c.Encode(append([]byte(nil), id[:]...), id, plain.Bytes())
}

// decodeManifest checks and decodes a manifest object.
func decodeManifest(c *replication.Codec, b []byte) (*replication.Manifest, error) {
	if len(b) < len(replication.ID{}) {
		return nil, fmt.Errorf("%w: %d bytes is too short", replication.ErrBadManifest, len(b))
	}
	id := replication.ID(b[:len(replication.ID{})])
	plain, err := c.Decode(id, b[len(id):])
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return replication.DecodeManifest(bytes.NewReader(plain))
}

// errNoObject is wrapped by fetchManifest's error for a missing object.
var errNoObject = errors.New("no such object")

// fetchManifest downloads and decodes the manifest stored under key.
func (r *replicator) fetchManifest(ctx context.Context, c *replication.Codec, key string) (*replication.Manifest, error) {
	if m := r.cached(key); m != nil {
		return m, nil
	}
	b, err := r.getObject(ctx, key)
	if client.StatusOf(err) == 404 {
		return nil, fmt.Errorf("manifest %s: %w", key, errNoObject)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	m, err := decodeManifest(c, b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	return m, nil
}

// transient reports whether a failed object request is worth repeating:
// network trouble and 5xx answers, not refusals.
func transient(err error) bool {
	s := client.StatusOf(err)
	return s == 0 || s >= 500 || s == 429
}

// retry runs fn up to objectAttempts times while it fails transiently.
func (r *replicator) retry(ctx context.Context, fn func() error) error {
	wait := r.retryMin
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == objectAttempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, wait) {
			return err
		}
		wait *= 2
	}
}

func (r *replicator) getObject(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := r.retry(ctx, func() (err error) {
		b, err = r.srv.GetObject(ctx, key)
		return err
	})
	return b, err
}

func (r *replicator) putObject(ctx context.Context, key string, data []byte) error {
	return r.retry(ctx, func() error { return r.srv.PutObject(ctx, key, data) })
}

// every calls log(line()) every r.progress until stop is called.
func (r *replicator) every(log func(string), line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.progress)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				log(line())
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// writeFileAtomic replaces path with data: a synced temporary file renamed
// over it, then the directory synced.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// mib formats a byte count.
func mib(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// rate formats bytes per second over d in MB/s.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/1e6/d.Seconds())
}

// ms rounds a duration for log lines.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
