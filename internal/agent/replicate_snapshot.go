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
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/replication"
)

// uploadStore is the snapshot's ChunkStore: chunks go to the object store
// under prefix. Has is true for the chunks the standby holds already (those
// of the previous manifests: known) and for those stored under prefix
// (listed at the start, left by an interrupted run, plus what this run put),
// so neither is uploaded again.
type uploadStore struct {
	r      *replicator
	prefix string // SnapshotArgs.Prefix + "chunks/"
	known  map[replication.ID]struct{}
	sem    chan struct{}

	mu     sync.Mutex
	stored map[replication.ID]struct{}
	batch  []api.Object // chunks waiting to be sent
	bytes  int          // their size
	err    error        // the first failed upload

	checked, uploaded, upBytes atomic.Int64 // progress
}

// Chunks go up in batches (one request for many small chunks) of at most
// this many chunks or bytes.
const (
	uploadBatchChunks = 512
	uploadBatchBytes  = 4 << 20
)

var (
	_ replication.ChunkStore = (*uploadStore)(nil)
	_ replication.Flusher    = (*uploadStore)(nil)
)

// Has implements replication.ChunkStore.
func (s *uploadStore) Has(_ context.Context, id replication.ID) (bool, error) {
	s.checked.Add(1)
	if _, ok := s.known[id]; ok {
		return true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.stored[id]
	return ok, nil
}

// Put implements replication.ChunkStore. The chunk joins a batch; the Put
// that fills a batch sends it (so uploads push back on the snapshot), and
// Flush sends the rest. A failed upload fails every later Put and Flush.
func (s *uploadStore) Put(ctx context.Context, id replication.ID, data []byte) error {
	o := api.Object{Key: s.prefix + id.String(), Data: bytes.Clone(data)}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return s.err
	}
	s.stored[id] = struct{}{}
	s.batch = append(s.batch, o)
	s.bytes += len(o.Data) + len(o.Key) + 6
	var full []api.Object
	if len(s.batch) >= uploadBatchChunks || s.bytes >= uploadBatchBytes {
		full, s.batch, s.bytes = s.batch, nil, 0
	}
	s.mu.Unlock()
	if full == nil {
		return nil
	}
	return s.send(ctx, full)
}

// Flush implements replication.Flusher: it sends the last partial batch.
func (s *uploadStore) Flush(ctx context.Context) error {
	s.mu.Lock()
	rest, err := s.batch, s.err
	s.batch, s.bytes = nil, 0
	s.mu.Unlock()
	if err != nil || len(rest) == 0 {
		return err
	}
	return s.send(ctx, rest)
}

// send uploads a batch, at most maxObjectRequests at a time.
func (s *uploadStore) send(ctx context.Context, objs []api.Object) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := s.r.retry(ctx, func() error { return s.r.srv.PutObjects(ctx, objs) })
	<-s.sem
	if err != nil {
		err = fmt.Errorf("upload %d chunks: %w", len(objs), err)
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		for _, o := range objs {
			if id, perr := replication.ParseID(strings.TrimPrefix(o.Key, s.prefix)); perr == nil {
				delete(s.stored, id)
			}
		}
		s.mu.Unlock()
		return err
	}
	var n int64
	for _, o := range objs {
		n += int64(len(o.Data))
	}
	s.uploaded.Add(int64(len(objs)))
	s.upBytes.Add(n)
	return nil
}

// Get implements replication.ChunkStore (Snapshot does not read chunks).
func (s *uploadStore) Get(ctx context.Context, id replication.ID) ([]byte, error) {
	b, err := s.r.getObject(ctx, s.prefix+id.String())
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, notFound(err))
	}
	return b, nil
}

// snapshot runs a replication.snapshot job: the account's home directory
// and, when asked, its database dumps, chunked into the object store, and
// their manifests.
func (r *replicator) snapshot(ctx context.Context, job api.Job, log func(string)) (any, error) {
	start := time.Now()
	var args api.SnapshotArgs
	if err := decodeArgs(job, &args); err != nil {
		return nil, err
	}
	if err := checkRun(args.Protection, args.Run, args.Account, args.Prefix); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	if err := checkManifestKey("previous_files", args.PreviousFiles, args.Prefix, false); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	if err := checkManifestKey("previous_databases", args.PreviousDatabases, args.Prefix, false); err != nil {
		return nil, fmt.Errorf("%s args: %w", job.Kind, err)
	}
	unlock, err := r.lock(args.Protection, job.Kind)
	if err != nil {
		return nil, err
	}
	defer unlock()

	up := &uploadStore{r: r, prefix: args.Prefix + "chunks/", known: map[replication.ID]struct{}{},
		sem: make(chan struct{}, maxObjectRequests), stored: map[replication.ID]struct{}{}}
	var step atomic.Value
	step.Store("starting")
	stop := r.every(log, func() string {
		return fmt.Sprintf("progress (%s): %d chunks checked, %d uploaded (%s) in %s",
			step.Load(), up.checked.Load(), up.uploaded.Load(), mib(up.upBytes.Load()), ms(time.Since(start)))
	})
	defer stop()

	acct, err := r.accounts.Get(ctx, args.Account)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", args.Account, err)
	}
	codec, err := r.codecFor(ctx, args.Protection)
	if err != nil {
		return nil, err
	}
	step.Store("listing stored chunks")
	prevFiles, prevDBs, err := r.prepareUpload(ctx, up, codec, args, log)
	if err != nil {
		return nil, err
	}

	dumpDir := filepath.Join(r.dataDir, "replication", strconv.FormatInt(args.Protection, 10), "db")
	if args.Databases && len(acct.Databases) > 0 && r.dataDir != "" {
		check, err := preflightDumps(ctx, r.accounts, acct, dumpDir)
		if err != nil {
			return nil, err
		}
		log(check)
	}

	res := api.SnapshotResult{Account: acct}
	stats := &res.Stats
	step.Store("files")
	log(fmt.Sprintf("snapshot of the files of %s in %s", acct.Name, acct.Home))
	m, err := r.snapshotTree(ctx, "files", acct.Home, up, codec, prevFiles, stats, log)
	if err != nil {
		return nil, err
	}
	if res.Account.DiskBytes == 0 {
		// Providers may skip the walk in Get: the snapshot has the size.
		_, _, _, res.Account.DiskBytes, _ = m.Stats()
	}
	if res.FilesManifest, err = r.putManifest(ctx, codec, args, "files", m, log); err != nil {
		return nil, err
	}

	switch {
	case !args.Databases:
	case len(acct.Databases) == 0:
		log(fmt.Sprintf("account %s has no databases", acct.Name))
	case r.dataDir == "":
		return nil, errors.New("this agent has no data directory to dump databases into")
	default:
		dir := dumpDir
		if err := emptyDir(dir); err != nil {
			return nil, fmt.Errorf("database dump directory: %w", err)
		}
		defer os.RemoveAll(dir) // dumps hold customer data: keep them no longer than needed
		t := time.Now()
		step.Store("dumping databases")
		log(fmt.Sprintf("dumping %d database(s) of %s: %s", len(acct.Databases), acct.Name, strings.Join(acct.Databases, ", ")))
		dbs, users, err := r.accounts.DumpDatabases(ctx, acct, dir, log)
		if err != nil {
			return nil, fmt.Errorf("dump the databases of %s: %w", acct.Name, err)
		}
		stats.Databases, stats.DBUsers = dbs, users
		log(fmt.Sprintf("dumped %d database(s) and %d user(s) in %s", dbs, users, ms(time.Since(t))))
		step.Store("database dumps")
		m, err := r.snapshotTree(ctx, "databases", dir, up, codec, prevDBs, stats, log)
		if err != nil {
			return nil, err
		}
		if res.DatabasesManifest, err = r.putManifest(ctx, codec, args, "databases", m, log); err != nil {
			return nil, err
		}
	}
	stats.SnapshotMS = time.Since(start).Milliseconds()
	log(fmt.Sprintf("snapshot done in %s: %d files (%d read, %d unchanged), %s read (%s), %d chunks (%d new, %d reused), %s new, %s uploaded",
		ms(time.Since(start)), stats.Files, stats.FilesRead, stats.FilesReused, mib(stats.BytesRead), rate(stats.BytesRead, time.Since(start)),
		stats.ChunksTotal, stats.ChunksNew, stats.ChunksReused, mib(stats.BytesNew), mib(stats.BytesUploaded)))
	return res, nil
}

// prepareUpload fills up with the chunks already stored and those of the
// previous manifests, which the standby holds, and returns the manifests.
func (r *replicator) prepareUpload(ctx context.Context, up *uploadStore, codec *replication.Codec, args api.SnapshotArgs, log func(string)) (prevFiles, prevDBs *replication.Manifest, err error) {
	t := time.Now()
	var odd int
	err = r.srv.ListObjects(ctx, up.prefix, func(o api.ObjectInfo) error {
		id, err := replication.ParseID(strings.TrimPrefix(o.Key, up.prefix))
		if err != nil {
			odd++
			return nil
		}
		up.stored[id] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if n := len(up.stored); n > 0 {
		log(fmt.Sprintf("%d chunks are stored already (left by an interrupted run): not uploading them again (listed in %s)", n, ms(time.Since(t))))
	}
	if odd > 0 {
		log(fmt.Sprintf("warning: %d objects under %s are not named by a chunk id; ignored", odd, up.prefix))
	}
	load := func(what, key string) (*replication.Manifest, error) {
		if key == "" {
			return nil, nil
		}
		m, err := r.fetchManifest(ctx, codec, key)
		if errors.Is(err, errNoObject) {
			// Without it, nothing is known to be on the standby: upload
			// every chunk the object store lacks.
			log(fmt.Sprintf("warning: previous %s manifest %s is gone: this snapshot is a full one", what, key))
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("previous %s: %w", what, err)
		}
		for _, e := range m.Entries {
			for _, c := range e.Chunks {
				up.known[c.ID] = struct{}{}
			}
		}
		return m, nil
	}
	if prevFiles, err = load("files", args.PreviousFiles); err != nil {
		return nil, nil, err
	}
	if prevDBs, err = load("databases", args.PreviousDatabases); err != nil {
		return nil, nil, err
	}
	if prevFiles != nil || prevDBs != nil {
		log(fmt.Sprintf("incremental: the standby holds %d chunks of the previous run", len(up.known)))
	} else {
		log("full snapshot: no previous run to build on")
	}
	return prevFiles, prevDBs, nil
}

// snapshotTree snapshots one tree and adds its figures to stats.
func (r *replicator) snapshotTree(ctx context.Context, what, root string, up *uploadStore, codec *replication.Codec,
	prev *replication.Manifest, stats *api.RunStats, log func(string)) (*replication.Manifest, error) {
	m, st, err := replication.Snapshot(ctx, root, replication.SnapshotOptions{Store: up, Codec: codec, Previous: prev})
	if err != nil {
		return nil, fmt.Errorf("snapshot of the %s: %w", what, err)
	}
	stats.Files += st.Files
	stats.FilesRead += st.FilesRead
	stats.FilesReused += st.FilesReused
	stats.BytesRead += st.BytesRead
	stats.ChunksTotal += st.ChunksTotal
	stats.ChunksNew += st.ChunksNew
	stats.ChunksReused += st.ChunksReused
	stats.BytesNew += st.BytesNew
	stats.BytesUploaded += st.BytesUploaded
	if what == "files" {
		c := st.Change
		stats.FilesBefore, stats.FilesDeleted, stats.FilesChanged = c.FilesBefore, c.FilesDeleted, c.FilesChanged
		stats.BytesBefore, stats.BytesIncompressible = c.BytesBefore, c.BytesIncompressible
		if prev != nil {
			log(fmt.Sprintf("files against the last good copy: %d of %d deleted, %d changed; %s of %s rewritten with content that does not compress",
				c.FilesDeleted, c.FilesBefore, c.FilesChanged, mib(c.BytesIncompressible), mib(c.BytesBefore)))
		}
	}
	files, _, _, bytes, chunks := m.Stats()
	stats.ManifestFiles += files
	stats.ManifestBytes += bytes
	stats.ManifestChunks += chunks
	log(fmt.Sprintf("%s: %d files, %d dirs, %d symlinks, %d hard links (%s); read %d files (%s, %s), %d unchanged not read; "+
		"%d chunks: %d new (%s, %s uploaded), %d reused; in %s",
		what, st.Files, st.Dirs, st.Symlinks, st.HardLinks, mib(bytes), st.FilesRead, mib(st.BytesRead), rate(st.BytesRead, st.Duration),
		st.FilesReused, st.ChunksTotal, st.ChunksNew, mib(st.BytesNew), mib(st.BytesUploaded), st.ChunksReused, ms(st.Duration)))
	if st.Skipped > 0 || st.Vanished > 0 {
		log(fmt.Sprintf("%s: %d special files (sockets, devices, FIFOs) skipped, %d files vanished while read", what, st.Skipped, st.Vanished))
	}
	return m, nil
}

// putManifest stores a manifest and returns its key.
func (r *replicator) putManifest(ctx context.Context, codec *replication.Codec, args api.SnapshotArgs, what string, m *replication.Manifest, log func(string)) (string, error) {
	b, err := encodeManifest(codec, m)
	if err != nil {
		return "", fmt.Errorf("%s manifest: %w", what, err)
	}
	key := args.Prefix + "manifests/run-" + strconv.FormatInt(args.Run, 10) + "-" + what
	if err := r.putObject(ctx, key, b); err != nil {
		return "", fmt.Errorf("%s manifest: %w", what, err)
	}
	log(fmt.Sprintf("%s manifest stored: %s (%s)", what, key, mib(int64(len(b)))))
	r.remember(key, m)
	return key, nil
}

// emptyDir makes dir an empty directory (mode 0700), creating its parents.
func emptyDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}
