package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// SnapshotOptions configure Snapshot.
type SnapshotOptions struct {
	Store ChunkStore
	Codec *Codec
	// Chunker defaults to DefaultChunkParams. When Previous is set its
	// parameters are used instead, so that boundaries stay comparable.
	Chunker ChunkParams
	// Previous is the last manifest of the same tree. Files whose size,
	// mtime, ctime, device and inode are unchanged keep its chunk lists and
	// are not read; their chunks are assumed to still be in the store.
	Previous *Manifest
	// Workers is the number of files processed at once (default 4×GOMAXPROCS,
	// as chunk stores are mostly waiting on I/O).
	Workers int
	Logger  *slog.Logger
}

// SnapshotStats summarise a snapshot. Chunk counts cover the files that
// were read; FilesReused files contribute none.
type SnapshotStats struct {
	Files, Dirs, Symlinks, HardLinks int
	Skipped                          int // sockets, devices and FIFOs
	Vanished                         int // files deleted between the walk and their read
	FilesRead, FilesReused           int
	BytesRead                        int64
	ChunksTotal                      int
	ChunksNew, ChunksReused          int
	BytesNew                         int64 // plaintext bytes of new chunks
	BytesUploaded                    int64 // stored (compressed, encrypted) bytes put
	// BytesIncompressible are the plaintext bytes of new chunks that
	// compression did not shrink (chunks of at most 64 bytes are not tried
	// and not counted).
	BytesIncompressible int64
	// Change compares the tree with Previous; zero without one.
	Change   Change
	Duration time.Duration
}

func (s *SnapshotStats) add(o SnapshotStats) {
	s.FilesRead += o.FilesRead
	s.BytesRead += o.BytesRead
	s.ChunksTotal += o.ChunksTotal
	s.ChunksNew += o.ChunksNew
	s.ChunksReused += o.ChunksReused
	s.BytesNew += o.BytesNew
	s.BytesUploaded += o.BytesUploaded
	s.BytesIncompressible += o.BytesIncompressible
}

type inodeKey struct{ dev, ino uint64 }

// Snapshot walks the tree at root, uploads the chunks of its files that the
// store lacks, and returns the tree's manifest. If the store is a Flusher it
// is flushed before the manifest is returned. Sockets, devices and FIFOs are
// skipped (counted in Skipped).
func Snapshot(ctx context.Context, root string, opts SnapshotOptions) (*Manifest, SnapshotStats, error) {
	start := time.Now()
	var st SnapshotStats
	if opts.Store == nil || opts.Codec == nil {
		return nil, st, errors.New("snapshot: store and codec are required")
	}
	params := opts.Chunker
	if opts.Previous != nil {
		params = opts.Previous.Chunker
	} else if params == (ChunkParams{}) {
		params = DefaultChunkParams
	}
	if err := params.Validate(); err != nil {
		return nil, st, fmt.Errorf("snapshot: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prev := make(map[string]*Entry)
	if opts.Previous != nil {
		for i := range opts.Previous.Entries {
			e := &opts.Previous.Entries[i]
			prev[e.Path] = e
		}
	}
	m := &Manifest{Version: ManifestVersion, Created: time.Now().UTC(), Chunker: params}
	links := make(map[inodeKey]string)
	var toRead []int
	// The walk lists paths; their metadata is read by several workers at
	// once (a cold cache makes each lstat wait on the disk), then entries
	// are built in walk order.
	nodes, err := walkMeta(ctx, root, opts.Workers)
	if err != nil {
		return nil, st, fmt.Errorf("snapshot %s: %w", root, err)
	}
	for _, n := range nodes {
		if n.gone {
			st.Vanished++
			continue
		}
		p, sys := n.path, &n.st
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return nil, st, fmt.Errorf("snapshot %s: %w", root, err)
		}
		e := Entry{
			Path: filepath.ToSlash(rel), Mode: sys.Mode & 0o7777, UID: int(sys.Uid), GID: int(sys.Gid),
			MTime: sys.Mtim.Nano(), CTime: sys.Ctim.Nano(), Dev: sys.Dev, Ino: sys.Ino, Target: n.target, Xattrs: n.xattrs,
		}
		switch sys.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.Type = TypeDir
			st.Dirs++
		case unix.S_IFLNK:
			e.Type = TypeSymlink
			st.Symlinks++
		case unix.S_IFREG:
			e.Type = TypeFile
			e.Size = sys.Size
			st.Files++
			key := inodeKey{sys.Dev, sys.Ino}
			if first, ok := links[key]; ok && sys.Nlink > 1 {
				e.LinkTo = first
				st.HardLinks++
				break
			}
			if sys.Nlink > 1 {
				links[key] = e.Path
			}
			if pe := prev[e.Path]; pe != nil && pe.Type == TypeFile && pe.LinkTo == "" && pe.Size == e.Size &&
				pe.MTime == e.MTime && pe.CTime == e.CTime && pe.Dev == e.Dev && pe.Ino == e.Ino {
				e.Chunks = pe.Chunks
				st.FilesReused++
			} else {
				toRead = append(toRead, len(m.Entries))
			}
		default:
			if p == root {
				return nil, st, fmt.Errorf("snapshot %s: %s is not a directory", root, root)
			}
			st.Skipped++
			continue
		}
		if p == root && e.Type != TypeDir {
			return nil, st, fmt.Errorf("snapshot %s: %s is not a directory", root, root)
		}
		m.Entries = append(m.Entries, e)
	}
	up := &uploader{store: opts.Store, codec: opts.Codec, claimed: make(map[ID]struct{}), incompressible: make(map[ID]struct{})}
	rst, err := up.readFiles(ctx, root, m.Entries, toRead, params, opts.Workers)
	if err == nil {
		st.Vanished += dropVanished(m)
		if opts.Previous != nil {
			st.Change = Compare(opts.Previous, m, up.incompressible)
		}
	}
	if fl, ok := opts.Store.(Flusher); ok && err == nil {
		err = fl.Flush(ctx)
	}
	st.add(rst)
	st.Duration = time.Since(start)
	if err != nil {
		return nil, st, fmt.Errorf("snapshot %s: %w", root, err)
	}
	log.Info("snapshot done", "root", root, "files", st.Files, "files_read", st.FilesRead,
		"bytes_read", st.BytesRead, "chunks_new", st.ChunksNew, "chunks_reused", st.ChunksReused,
		"bytes_uploaded", st.BytesUploaded, "duration", st.Duration)
	return m, st, nil
}

// uploader chunks files and stores the chunks nobody has claimed yet.
type uploader struct {
	store   ChunkStore
	codec   *Codec
	mu      sync.Mutex
	claimed map[ID]struct{}
	// incompressible holds the new chunks that compression did not shrink.
	incompressible map[ID]struct{}
}

func (u *uploader) readFiles(ctx context.Context, root string, entries []Entry, idx []int, p ChunkParams, workers int) (SnapshotStats, error) {
	if workers <= 0 {
		workers = 4 * runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total SnapshotStats
	)
	for range min(workers, max(len(idx), 1)) {
		wg.Go(func() {
			ch, _ := NewChunker(nil, p) // p was validated by the caller
			var st SnapshotStats
			var buf []byte
			for i := range jobs {
				e := &entries[i]
				var err error
				if buf, err = u.readFile(ctx, ch, filepath.Join(root, filepath.FromSlash(e.Path)), e, &st, buf); err != nil {
					cancel(err)
				}
			}
			mu.Lock()
			total.add(st)
			mu.Unlock()
		})
	}
	for _, i := range idx {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	return total, context.Cause(ctx)
}

func (u *uploader) readFile(ctx context.Context, ch *Chunker, p string, e *Entry, st *SnapshotStats, buf []byte) ([]byte, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		e.Type = vanished // a live tree changes under us: leave it out
		return buf, nil
	}
	if err != nil {
		return buf, err
	}
	defer f.Close()
	ch.Reset(f)
	st.FilesRead++
	var size int64
	for {
		data, err := ch.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return buf, fmt.Errorf("%s: %w", p, err)
		}
		id := u.codec.ID(data)
		e.Chunks = append(e.Chunks, ChunkRef{ID: id, Size: int64(len(data))})
		size += int64(len(data))
		st.ChunksTotal++
		if buf, err = u.store1(ctx, id, data, st, buf); err != nil {
			return buf, err
		}
	}
	st.BytesRead += size
	e.Size = size // what was read, should the file have changed meanwhile
	return buf, nil
}

// store1 uploads one chunk unless this snapshot or the store already has it.
func (u *uploader) store1(ctx context.Context, id ID, data []byte, st *SnapshotStats, buf []byte) ([]byte, error) {
	u.mu.Lock()
	_, dup := u.claimed[id]
	u.claimed[id] = struct{}{}
	u.mu.Unlock()
	if dup {
		st.ChunksReused++
		return buf, nil
	}
	has, err := u.store.Has(ctx, id)
	if err != nil {
		return buf, &ChunkError{ID: id, Op: "has", Err: err}
	}
	if has {
		st.ChunksReused++
		return buf, nil
	}
	if buf, err = u.codec.Encode(buf[:0], id, data); err != nil {
		return buf, err
	}
	if err := u.store.Put(ctx, id, buf); err != nil {
		return buf, &ChunkError{ID: id, Op: "put", Err: err}
	}
	st.ChunksNew++
	st.BytesNew += int64(len(data))
	if len(data) > 64 && !Compressed(buf) {
		st.BytesIncompressible += int64(len(data))
		u.mu.Lock()
		u.incompressible[id] = struct{}{}
		u.mu.Unlock()
	}
	st.BytesUploaded += int64(len(buf))
	return buf, nil
}

// vanished marks, during a snapshot, a file entry that could not be read
// because it no longer exists.
const vanished = "vanished"

// dropVanished removes vanished files, and hard links to them, from m.
func dropVanished(m *Manifest) int {
	gone := make(map[string]bool)
	kept := m.Entries[:0]
	for _, e := range m.Entries {
		if e.Type == vanished || (e.LinkTo != "" && gone[e.LinkTo]) {
			gone[e.Path] = true
			continue
		}
		kept = append(kept, e)
	}
	m.Entries = kept
	return len(gone)
}

// node is one path of a walk with its metadata.
type node struct {
	path   string
	st     unix.Stat_t
	target string            // symlinks
	xattrs map[string][]byte // all but sockets, devices and FIFOs
	gone   bool              // removed between the walk and its lstat
}

// walkMeta lists the tree under root in lexical order (filepath.WalkDir's)
// and reads every path's metadata with up to workers lstat calls at once.
func walkMeta(ctx context.Context, root string, workers int) ([]node, error) {
	var nodes []node
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		nodes = append(nodes, node{path: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = 4 * runtime.GOMAXPROCS(0)
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for range min(workers, len(nodes)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(nodes) || ctx.Err() != nil {
					return
				}
				n := &nodes[i]
				if err := unix.Lstat(n.path, &n.st); err != nil {
					if errors.Is(err, fs.ErrNotExist) && n.path != root {
						n.gone = true // deleted since the walk listed it
						continue
					}
					fail(fmt.Errorf("lstat %s: %w", n.path, err))
					return
				}
				switch n.st.Mode & unix.S_IFMT {
				case unix.S_IFLNK:
					t, err := os.Readlink(n.path)
					if errors.Is(err, fs.ErrNotExist) {
						n.gone = true
						continue
					}
					if err != nil {
						fail(fmt.Errorf("readlink: %w", err))
						return
					}
					n.target = t
				case unix.S_IFDIR, unix.S_IFREG:
				default:
					continue // not replicated: no xattrs needed
				}
				x, err := listXattrs(n.path)
				if err != nil {
					fail(err)
					return
				}
				n.xattrs = x
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return nodes, ctx.Err()
}
