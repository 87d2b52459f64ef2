package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	Store ChunkStore
	Codec *Codec
	// Workers is the number of files written at once (default 4×GOMAXPROCS).
	Workers int
	// NoChown skips restoring owners; owners are only restored as root.
	NoChown bool
	// NoReuse disables reading matching files from the existing target
	// instead of fetching their chunks.
	NoReuse bool
	// Previous is the manifest last restored into target, if known. A file
	// whose entry is unchanged from Previous (chunks and metadata) and whose
	// copy in target still has that size and mtime and a single name is
	// hard-linked into the staging tree instead of being rewritten.
	Previous *Manifest
	// KeepPrevious leaves the previous copy, once swapped out, at
	// RestoreStats.PreviousCopy for the caller to remove (the next Restore
	// of the target removes it too), so that the restore ends sooner.
	KeepPrevious bool
	// BeforeSwap, when set, is called once the staging tree is complete,
	// right before it is swapped in; an error from it keeps target as it
	// was. The caller checks there that the restore is still wanted.
	BeforeSwap func(ctx context.Context) error
	Logger     *slog.Logger
}

// RestoreStats summarise a restore.
type RestoreStats struct {
	Files, Dirs, Symlinks, HardLinks int
	BytesWritten                     int64
	ChunksFetched                    int
	BytesFetched                     int64 // stored bytes read from the store
	ChunksReused                     int   // chunks taken from the existing target
	FilesLinked                      int   // unchanged files linked from the existing target
	// PreviousCopy is where the previous copy was left with KeepPrevious
	// ("" when there was none or it was removed).
	PreviousCopy string
	Duration     time.Duration
}

func (s *RestoreStats) add(o RestoreStats) {
	s.Files += o.Files
	s.BytesWritten += o.BytesWritten
	s.ChunksFetched += o.ChunksFetched
	s.BytesFetched += o.BytesFetched
	s.ChunksReused += o.ChunksReused
	s.FilesLinked += o.FilesLinked
}

const (
	stagingInfix = ".staging-"
	oldInfix     = ".old-"
)

// Restore recreates the tree described by m at target. It builds the tree in
// a staging directory next to target (".NAME.staging-TS"), verifying every
// chunk against its ID, flushes it to disk, then swaps it in with two
// renames (target → ".NAME.old-TS", staging → target) and removes the old
// copy. If Restore fails or the process dies at any point, target keeps its
// previous content: the next Restore removes leftover staging directories
// and, if a crash fell between the two renames, moves the old copy back.
//
// Files whose content at the existing target matches the manifest's chunk
// list (checked by re-hashing) are read locally instead of fetched. The
// staging tree is flushed with one syncfs(2) before the swap rather than an
// fsync per file. A restore whose ctx has ended by then, or whose
// BeforeSwap fails, does not swap. Restores of one target must not run
// concurrently.
func Restore(ctx context.Context, m *Manifest, target string, opts RestoreOptions) (RestoreStats, error) {
	start := time.Now()
	var st RestoreStats
	if opts.Store == nil || opts.Codec == nil {
		return st, errors.New("restore: store and codec are required")
	}
	if err := m.Validate(); err != nil {
		return st, fmt.Errorf("restore: %w", err)
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return st, fmt.Errorf("restore: %w", err)
	}
	parent, base := filepath.Split(target)
	if err := Recover(target); err != nil {
		return st, err
	}
	staging := filepath.Join(parent, "."+base+stagingInfix+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.Mkdir(staging, 0o700); err != nil {
		return st, fmt.Errorf("restore %s: %w", target, err)
	}
	r := &restorer{m: m, opts: opts, staging: staging, target: target, linked: make(map[string]bool)}
	if opts.NoReuse {
		r.target = ""
	} else if opts.Previous != nil {
		r.prev = make(map[string]*Entry, len(opts.Previous.Entries))
		for i := range opts.Previous.Entries {
			e := &opts.Previous.Entries[i]
			r.prev[e.Path] = e
		}
	}
	err = r.build(ctx, &st)
	if err == nil && opts.BeforeSwap != nil {
		err = opts.BeforeSwap(ctx)
	}
	if err == nil {
		// The last steps of build (links, metadata, syncfs) and BeforeSwap
		// do not all watch ctx: a restore cancelled meanwhile must not
		// swap its copy in.
		err = context.Cause(ctx)
	}
	if err == nil {
		st.PreviousCopy, err = swap(staging, target, opts.KeepPrevious)
	}
	st.Duration = time.Since(start)
	if err != nil {
		_ = os.RemoveAll(staging)
		return st, fmt.Errorf("restore %s: %w", target, err)
	}
	if opts.Logger != nil {
		opts.Logger.Info("restore done", "target", target, "files", st.Files, "bytes", st.BytesWritten,
			"chunks_fetched", st.ChunksFetched, "chunks_reused", st.ChunksReused, "duration", st.Duration)
	}
	return st, nil
}

// Recover cleans up after an interrupted Restore of target: it moves the
// previous copy back if a crash left target missing, and removes leftover
// staging directories and old copies.
func Recover(target string) error {
	parent, base := filepath.Split(filepath.Clean(target))
	ents, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("recover %s: %w", target, err)
	}
	var olds, stagings []string
	for _, e := range ents {
		switch n := e.Name(); {
		case strings.HasPrefix(n, "."+base+oldInfix):
			olds = append(olds, filepath.Join(parent, n))
		case strings.HasPrefix(n, "."+base+stagingInfix):
			stagings = append(stagings, filepath.Join(parent, n))
		}
	}
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) && len(olds) > 0 {
		slices.Sort(olds) // timestamps of equal width sort in time order
		last := olds[len(olds)-1]
		if err := os.Rename(last, target); err != nil {
			return fmt.Errorf("recover %s: put back %s: %w", target, last, err)
		}
		olds = olds[:len(olds)-1]
	}
	for _, p := range append(stagings, olds...) {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("recover %s: remove %s: %w", target, p, err)
		}
	}
	return nil
}

// swap moves staging into place at target, keeping the previous copy until
// the new one is in place. With keep, the previous copy is left where it
// was moved, and its path returned.
func swap(staging, target string, keep bool) (string, error) {
	parent := filepath.Dir(target)
	old := ""
	if _, err := os.Lstat(target); err == nil {
		old = filepath.Join(parent, "."+filepath.Base(target)+oldInfix+strconv.FormatInt(time.Now().UnixNano(), 10))
		if err := os.Rename(target, old); err != nil {
			return "", fmt.Errorf("swap: %w", err)
		}
	}
	if err := os.Rename(staging, target); err != nil {
		if old != "" {
			_ = os.Rename(old, target)
		}
		return "", fmt.Errorf("swap: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return "", fmt.Errorf("swap: %w", err)
	}
	if old == "" || keep {
		return old, nil
	}
	if err := os.RemoveAll(old); err != nil {
		return "", fmt.Errorf("swap: remove previous copy: %w", err)
	}
	return "", nil
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

type restorer struct {
	m       *Manifest
	opts    RestoreOptions
	staging string
	target  string // existing tree to reuse files from; "" for none
	prev    map[string]*Entry
	mu      sync.Mutex
	linked  map[string]bool // files linked from target: metadata already right
}

func (r *restorer) path(rel string) string { return filepath.Join(r.staging, filepath.FromSlash(rel)) }

// build fills the staging directory: directories, file contents, links,
// then metadata (directories last, deepest first), then syncfs.
func (r *restorer) build(ctx context.Context, st *RestoreStats) error {
	var files []*Entry
	for i := range r.m.Entries {
		e := &r.m.Entries[i]
		switch {
		case e.Type == TypeDir:
			st.Dirs++
			if e.Path != "." {
				if err := os.Mkdir(r.path(e.Path), 0o700); err != nil {
					return fmt.Errorf("mkdir: %w", err)
				}
			}
		case e.Type == TypeFile && e.LinkTo == "":
			files = append(files, e)
		}
	}
	if err := r.writeFiles(ctx, files, st); err != nil {
		return err
	}
	chown := !r.opts.NoChown && os.Geteuid() == 0
	for i := range r.m.Entries {
		e := &r.m.Entries[i]
		p := r.path(e.Path)
		switch {
		case e.Type == TypeSymlink:
			st.Symlinks++
			if err := os.Symlink(e.Target, p); err != nil {
				return fmt.Errorf("symlink: %w", err)
			}
		case e.Type == TypeFile && e.LinkTo != "":
			st.HardLinks++
			if err := os.Link(r.path(e.LinkTo), p); err != nil {
				return fmt.Errorf("hard link: %w", err)
			}
			continue // shares the inode's metadata
		case e.Type == TypeDir || r.linked[e.Path]:
			continue
		}
		if err := applyMeta(p, e, chown); err != nil {
			return err
		}
	}
	for i := len(r.m.Entries) - 1; i >= 0; i-- {
		if e := &r.m.Entries[i]; e.Type == TypeDir {
			if err := applyMeta(r.path(e.Path), e, chown); err != nil {
				return err
			}
		}
	}
	return syncFS(r.staging)
}

// syncFS flushes the filesystem holding p: file contents, inodes and
// directory entries of the whole staging tree in one call.
func syncFS(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", p, err)
	}
	return nil
}

func (r *restorer) writeFiles(ctx context.Context, files []*Entry, st *RestoreStats) error {
	workers := r.opts.Workers
	if workers <= 0 {
		workers = 4 * runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan *Entry)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(workers, max(len(files), 1)) {
		wg.Go(func() {
			ch, _ := NewChunker(nil, r.m.Chunker) // validated with the manifest
			var ws RestoreStats
			for e := range jobs {
				if err := r.writeFile(ctx, ch, e, &ws); err != nil {
					cancel(fmt.Errorf("%s: %w", e.Path, err))
				}
			}
			mu.Lock()
			st.add(ws)
			mu.Unlock()
		})
	}
	for _, e := range files {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- e:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return context.Cause(ctx)
}

func (r *restorer) writeFile(ctx context.Context, ch *Chunker, e *Entry, st *RestoreStats) (err error) {
	if r.link(e) {
		r.mu.Lock()
		r.linked[e.Path] = true
		r.mu.Unlock()
		st.Files++
		st.FilesLinked++
		return nil
	}
	f, err := os.OpenFile(r.path(e.Path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st.Files++
	done, err := r.reuse(ch, e, f, st)
	if err != nil {
		return err
	}
	for _, c := range e.Chunks[done:] {
		stored, err := r.opts.Store.Get(ctx, c.ID)
		if err != nil {
			return &ChunkError{ID: c.ID, Op: "get", Err: err}
		}
		plain, err := r.opts.Codec.Decode(c.ID, stored)
		if err != nil {
			return err
		}
		if int64(len(plain)) != c.Size {
			return &ChunkError{ID: c.ID, Op: "decode", Err: fmt.Errorf("%w: %d bytes, manifest says %d", ErrCorruptChunk, len(plain), c.Size)}
		}
		if _, err := f.Write(plain); err != nil {
			return err
		}
		st.ChunksFetched++
		st.BytesFetched += int64(len(stored))
		st.BytesWritten += c.Size
	}
	return nil
}

// reuse copies the leading chunks of e that the existing target file at the
// same path already holds (same size, chunk IDs re-hashed) into f, and
// returns how many chunks it wrote. Only a failed write is an error.
func (r *restorer) reuse(ch *Chunker, e *Entry, f *os.File, st *RestoreStats) (int, error) {
	if r.target == "" || len(e.Chunks) == 0 {
		return 0, nil
	}
	src, err := os.OpenFile(filepath.Join(r.target, filepath.FromSlash(e.Path)), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0, nil
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != e.Size {
		return 0, nil
	}
	ch.Reset(src)
	n := 0
	for _, c := range e.Chunks {
		data, err := ch.Next()
		if err != nil || int64(len(data)) != c.Size || r.opts.Codec.ID(data) != c.ID {
			break
		}
		if _, err := f.Write(data); err != nil {
			return n, err
		}
		n++
		st.ChunksReused++
		st.BytesWritten += c.Size
	}
	return n, nil
}

// link hard-links the target's copy of an unchanged file into the staging
// tree. Its metadata is left alone, so the previous copy is not altered
// before the swap.
func (r *restorer) link(e *Entry) bool {
	old, ok := linkable(r.prev[e.Path], e, r.target)
	return ok && os.Link(old, r.path(e.Path)) == nil
}

// linkable reports whether file e, whose entry in the previous manifest is
// pe, is unchanged and its copy under target (returned) is still as pe
// left it, with a single name: such a file is hard-linked into the staging
// tree instead of being rewritten.
func linkable(pe, e *Entry, target string) (string, bool) {
	if target == "" || pe == nil || pe.Type != TypeFile || pe.LinkTo != "" || pe.Size != e.Size || pe.MTime != e.MTime ||
		pe.Mode != e.Mode || pe.UID != e.UID || pe.GID != e.GID || !slices.Equal(pe.Chunks, e.Chunks) ||
		!maps.EqualFunc(pe.Xattrs, e.Xattrs, bytes.Equal) {
		return "", false
	}
	old := filepath.Join(target, filepath.FromSlash(e.Path))
	var st unix.Stat_t
	if err := unix.Lstat(old, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 ||
		st.Size != e.Size || st.Mtim.Nano() != e.MTime {
		return "", false
	}
	return old, true
}
