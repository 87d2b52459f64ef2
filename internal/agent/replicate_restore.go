package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/replication"

	"golang.org/x/sys/unix"
)

// Names under DATA/replicas/ID/.
const (
	filesManifestFile = "files.manifest"
	dbManifestFile    = "databases.manifest"
	replicaDBDir      = "db"
)

// notFound turns a 404 answer into replication.ErrNotFound.
func notFound(err error) error {
	if client.StatusOf(err) == 404 {
		return fmt.Errorf("%w in the object store", replication.ErrNotFound)
	}
	return err
}

// localChunk is where a chunk lies in a tree the standby holds already.
type localChunk struct {
	path   string
	offset int64
	size   int64
}

// chunkIndex maps chunk IDs to their place in trees on this server.
type chunkIndex map[replication.ID]localChunk

// add indexes the chunks of m's files under root.
func (ix chunkIndex) add(root string, m *replication.Manifest) {
	if m == nil {
		return
	}
	for _, e := range m.Entries {
		if e.Type != replication.TypeFile || e.LinkTo != "" {
			continue
		}
		var off int64
		for _, c := range e.Chunks {
			if _, ok := ix[c.ID]; !ok {
				ix[c.ID] = localChunk{path: filepath.Join(root, filepath.FromSlash(e.Path)), offset: off, size: c.Size}
			}
			off += c.Size
		}
	}
}

// fetchStore is the restore's ChunkStore. Get takes a chunk from the trees
// the standby holds already (read, checked against its ID, then encoded for
// Restore to decode) and otherwise downloads it.
type fetchStore struct {
	r      *replicator
	prefix string // RestoreArgs.Prefix + "chunks/"
	codec  *replication.Codec
	local  chunkIndex
	sem    chan struct{}

	fetched, fetchedBytes, localHits atomic.Int64
}

var _ replication.ChunkStore = (*fetchStore)(nil)

// Has implements replication.ChunkStore.
func (s *fetchStore) Has(ctx context.Context, id replication.ID) (bool, error) {
	if _, ok := s.local[id]; ok {
		return true, nil
	}
	_, err := s.Get(ctx, id)
	if errors.Is(err, replication.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Put implements replication.ChunkStore: a restore never stores chunks.
func (s *fetchStore) Put(context.Context, replication.ID, []byte) error {
	return errors.New("the restore's chunk store is read-only")
}

// Get implements replication.ChunkStore.
func (s *fetchStore) Get(ctx context.Context, id replication.ID) ([]byte, error) {
	if lc, ok := s.local[id]; ok {
		if plain := readLocal(lc); plain != nil && s.codec.ID(plain) == id {
			s.localHits.Add(1)
			return s.codec.Encode(nil, id, plain)
		}
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b, err := s.r.getObject(ctx, s.prefix+id.String())
	<-s.sem
	if err != nil {
		return nil, notFound(err)
	}
	s.fetched.Add(1)
	s.fetchedBytes.Add(int64(len(b)))
	return b, nil
}

// readLocal reads a chunk from a local file, or returns nil.
func readLocal(lc localChunk) []byte {
	f, err := os.OpenFile(lc.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, lc.size)
	if n, _ := f.ReadAt(b, lc.offset); int64(n) != lc.size {
		return nil
	}
	return b
}

// confirmRunning asks the server, right before a restore swaps a staged
// copy in, whether its job still runs. The answer must be yes: a job the
// server cancelled, or a server that cannot be asked, keeps the standby's
// copy as it was. What remains is the time from the server's answer to the
// end of the swap (a round trip and two renames): a cancel that reaches
// the server within it comes too late, and the engine reports the run's
// restore as having ended after the cut.
func (r *replicator) confirmRunning(ctx context.Context, id int64, what string, log func(string)) error {
	err := r.retry(ctx, func() error { return r.srv.AppendJobLog(ctx, id, []string{}) })
	switch {
	case client.StatusOf(err) == 410:
		return fmt.Errorf("%w; the %s were not swapped in: %v", errJobCancelled, what, err)
	case err != nil:
		return fmt.Errorf("could not confirm with the server that this job still runs, so the %s were not swapped in: %w", what, err)
	}
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("the %s were not swapped in: %w", what, err)
	}
	log(fmt.Sprintf("the server confirmed the job still runs: swapping the %s in", what))
	return nil
}

// restore runs a replication.restore job: the files into the account's
// home, then the database dumps into DATA/replicas/ID/db and from there
// into MariaDB. Each is staged and swapped in whole; on any failure the
// standby's previous copy stays as it was. A restore whose job the server
// cancelled stops (its context ends: see runJob), and none swaps anything
// in without asking the server first (confirmRunning): the cancel that a
// DNS cut to this member sends must not be outrun.
func (r *replicator) restore(ctx context.Context, job api.Job, log func(string)) (any, error) {
	start := time.Now()
	var args api.RestoreArgs
	if err := decodeArgs(job, &args); err != nil {
		return nil, err
	}
	if err := checkRun(args.Protection, args.Run, args.Account.Name, args.Prefix); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	if err := checkManifestKey("files_manifest", args.FilesManifest, args.Prefix, true); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	if err := checkManifestKey("databases_manifest", args.DatabasesManifest, args.Prefix, false); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	if r.dataDir == "" {
		return nil, errors.New("this agent has no data directory to keep replicas in")
	}
	unlock, err := r.lock(args.Protection, job.Kind)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r.waitDropped(args.Protection)

	fs := &fetchStore{r: r, prefix: args.Prefix + "chunks/", local: chunkIndex{}, sem: make(chan struct{}, maxObjectRequests)}
	var step atomic.Value
	step.Store("fetching manifests")
	stop := r.every(log, func() string {
		return fmt.Sprintf("progress (%s): %d chunks fetched (%s), %d taken from the standby's copy, in %s",
			step.Load(), fs.fetched.Load(), mib(fs.fetchedBytes.Load()), fs.localHits.Load(), ms(time.Since(start)))
	})
	defer stop()

	codec, err := r.codecFor(ctx, args.Protection)
	if err != nil {
		return nil, err
	}
	fs.codec = codec
	files, err := r.fetchManifest(ctx, codec, args.FilesManifest)
	if err != nil {
		return nil, err
	}
	var dbs *replication.Manifest
	if args.DatabasesManifest != "" {
		if dbs, err = r.fetchManifest(ctx, codec, args.DatabasesManifest); err != nil {
			return nil, err
		}
	}
	replica := filepath.Join(r.dataDir, "replicas", strconv.FormatInt(args.Protection, 10))
	if err := os.MkdirAll(replica, 0o700); err != nil {
		return nil, fmt.Errorf("replica directory: %w", err)
	}
	prevFiles := r.loadLocalManifest(filepath.Join(replica, filesManifestFile), log)
	prevDBs := r.loadLocalManifest(filepath.Join(replica, dbManifestFile), log)
	acct := args.Account
	home := r.accounts.Home(acct.Name)
	dbDir := filepath.Join(replica, replicaDBDir)

	check, err := preflightRestore(acct.Name, []restoreTarget{
		{what: "files", path: home, m: files, prev: prevFiles},
		{what: "database dumps", path: dbDir, m: dbs, prev: prevDBs}})
	if err != nil {
		return nil, err
	}
	log(check)
	if err := r.accounts.Prepare(ctx, acct); err != nil {
		return nil, fmt.Errorf("prepare account %s: %w", acct.Name, err)
	}
	fs.local.add(home, prevFiles)
	fs.local.add(dbDir, prevDBs)

	res := api.RestoreResult{Home: home}
	stats := &res.Stats
	step.Store("files")
	log(fmt.Sprintf("restoring the files of %s into %s", acct.Name, home))
	if err := r.restoreTree(ctx, job.ID, args.Protection, "files", files, home, fs, codec, prevFiles, stats, log); err != nil {
		return nil, err
	}
	if err := r.saveLocalManifest(filepath.Join(replica, filesManifestFile), files); err != nil {
		return nil, fmt.Errorf("the files of %s were restored, but recording their manifest failed: %w", acct.Name, err)
	}
	if dbs != nil {
		// The home is the new copy now: index it instead of the old one.
		fs.local = chunkIndex{}
		fs.local.add(home, files)
		fs.local.add(dbDir, prevDBs)
		step.Store("database dumps")
		log("restoring the database dumps into " + dbDir)
		if err := r.restoreTree(ctx, job.ID, args.Protection, "database dumps", dbs, dbDir, fs, codec, prevDBs, stats, log); err != nil {
			return nil, err
		}
		// The databases are swapped in one after the other, each with its
		// own RENAME TABLE; a cancel that arrives meanwhile stops the
		// ones not yet swapped (their client commands run under ctx).
		if err := r.confirmRunning(ctx, job.ID, "databases", log); err != nil {
			return nil, fmt.Errorf("%w (the files were restored already)", err)
		}
		t := time.Now()
		step.Store("loading databases")
		n, users, err := r.accounts.RestoreDatabases(ctx, acct, dbDir, log)
		if err != nil {
			return nil, fmt.Errorf("load the databases of %s: %w (databases not yet swapped in keep their previous copy)", acct.Name, err)
		}
		log(fmt.Sprintf("loaded %d database(s) and %d user(s) in %s", n, users, ms(time.Since(t))))
		if err := r.saveLocalManifest(filepath.Join(replica, dbManifestFile), dbs); err != nil {
			return nil, fmt.Errorf("the databases of %s were restored, but recording their manifest failed: %w", acct.Name, err)
		}
	}
	stats.ChunksFetched = int(fs.fetched.Load())
	stats.BytesFetched = fs.fetchedBytes.Load()
	stats.ChunksLocal += int(fs.localHits.Load())
	stats.RestoreMS = time.Since(start).Milliseconds()
	log(fmt.Sprintf("restore done in %s: %s written, %d chunks fetched (%s, %s), %d taken from the standby's copy, %d unchanged files kept",
		ms(time.Since(start)), mib(stats.BytesWritten), stats.ChunksFetched, mib(stats.BytesFetched), rate(stats.BytesFetched, time.Since(start)),
		stats.ChunksLocal, stats.FilesLinked))
	return res, nil
}

// restoreTree restores one tree and adds its figures to stats. Its error
// says which chunk failed, and that the previous copy was kept.
func (r *replicator) restoreTree(ctx context.Context, jobID, protection int64, what string, m *replication.Manifest, target string, fs *fetchStore,
	codec *replication.Codec, prev *replication.Manifest, stats *api.RunStats, log func(string)) error {
	st, err := replication.Restore(ctx, m, target, replication.RestoreOptions{Store: fs, Codec: codec, Previous: prev,
		Workers: maxObjectRequests, KeepPrevious: true,
		BeforeSwap: func(ctx context.Context) error { return r.confirmRunning(ctx, jobID, what, log) }})
	if st.PreviousCopy != "" {
		// The new copy is in place; the old one goes in the background.
		r.dropLater(protection, st.PreviousCopy)
	}
	if err != nil {
		var ce *replication.ChunkError
		switch {
		case errors.As(err, &ce) && errors.Is(err, replication.ErrCorruptChunk):
			return fmt.Errorf("restore of the %s failed: chunk %s is corrupt; the standby's previous copy was kept: %w", what, ce.ID, err)
		case errors.As(err, &ce) && errors.Is(err, replication.ErrNotFound):
			return fmt.Errorf("restore of the %s failed: chunk %s is missing; the standby's previous copy was kept: %w", what, ce.ID, err)
		}
		return fmt.Errorf("restore of the %s failed; the standby's previous copy was kept: %w", what, err)
	}
	stats.BytesWritten += st.BytesWritten
	stats.FilesLinked += st.FilesLinked
	stats.ChunksLocal += st.ChunksReused
	log(fmt.Sprintf("%s: %d files, %d dirs, %d symlinks, %d hard links; %s written, %d unchanged files kept, %d chunks reused in place; in %s",
		what, st.Files, st.Dirs, st.Symlinks, st.HardLinks, mib(st.BytesWritten), st.FilesLinked, st.ChunksReused, ms(st.Duration)))
	return nil
}

// loadLocalManifest reads a manifest the standby kept; a missing or
// unreadable one is no previous copy (logged).
func (r *replicator) loadLocalManifest(path string, log func(string)) *replication.Manifest {
	if m := r.cached("local:" + path); m != nil {
		return m
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		defer f.Close()
		var m *replication.Manifest
		if m, err = replication.DecodeManifest(f); err == nil {
			return m
		}
	}
	log(fmt.Sprintf("warning: ignoring the standby's record of its copy: %v", err))
	return nil
}

// saveLocalManifest records what was restored.
func (r *replicator) saveLocalManifest(path string, m *replication.Manifest) error {
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		return err
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return err
	}
	r.remember("local:"+path, m)
	return nil
}
