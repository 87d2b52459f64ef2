// Package local implements objstore.Store over a directory on the local
// file system: the default object store, kept under the server's data
// directory.
//
// Each object is one file at the path its key names. Put writes a
// temporary file in the object's directory, fsyncs it, renames it over
// the object and fsyncs the directory, so readers see whole objects only
// and a crash leaves either the old or the new one. Temporary files start
// with a dot, which objstore.ValidateKey forbids in keys, so they never
// show up as objects. All access goes through an os.Root: no key and no
// symbolic link can reach outside the directory.
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/poolctl/poolctl/internal/objstore"
)

var (
	_ objstore.Store       = (*Store)(nil)
	_ objstore.BatchPutter = (*Store)(nil)
)

const (
	dirPerm  = 0o700
	filePerm = 0o600
	// tmpPrefix starts the names of files being written by Put.
	tmpPrefix = ".tmp-"
	// createAttempts bounds the retries of creating a temporary file when a
	// concurrent Delete prunes its directory in between.
	createAttempts = 20
)

// Store is an objstore.Store over a directory. Close it when done.
type Store struct {
	dir  string
	root *os.Root
}

// Open returns a Store keeping its objects under dir, which is created
// (with its parents) if missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("local object store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local object store: %w", err)
	}
	return &Store{dir: dir, root: root}, nil
}

// Dir returns the directory the Store was opened on.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory handle. The Store must not be used after.
func (s *Store) Close() error { return s.root.Close() }

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	dir, created, err := s.put(ctx, key, r, size, true)
	if err != nil {
		return err
	}
	// Make the rename durable, and the entries of any directories that
	// createTemp made.
	for d := dir; ; d = path.Dir(d) {
		if err := s.syncDir(d); err != nil {
			return fmt.Errorf("put %q: %w", key, err)
		}
		if !created || d == "." {
			break
		}
	}
	return nil
}

// put writes key through a temporary file renamed into place, with the
// file fsynced first when sync is set. It returns the key's directory and
// whether it had to be created.
func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, sync bool) (dir string, created bool, err error) {
	if err := s.check(ctx, key); err != nil {
		return "", false, fmt.Errorf("put %q: %w", key, err)
	}
	if size < -1 {
		return "", false, fmt.Errorf("put %q: negative size %d", key, size)
	}
	dir = path.Dir(key)
	tmp, f, created, err := s.createTemp(dir)
	if err != nil {
		return "", false, fmt.Errorf("put %q: %w", key, err)
	}
	if err := writeFile(f, objstore.Body(ctx, r, size), sync); err != nil {
		_ = s.root.Remove(tmp)
		return "", false, fmt.Errorf("put %q: %w", key, err)
	}
	if err := s.root.Rename(tmp, native(key)); err != nil {
		_ = s.root.Remove(tmp)
		return "", false, fmt.Errorf("put %q: %w", key, err)
	}
	return dir, created, nil
}

// PutBatch implements objstore.BatchPutter: the objects are written and
// renamed into place without a flush each, then one syncfs(2) makes them
// all durable.
func (s *Store) PutBatch(ctx context.Context, objs []objstore.Object) error {
	for _, o := range objs {
		if _, _, err := s.put(ctx, o.Key, bytes.NewReader(o.Data), int64(len(o.Data)), false); err != nil {
			return err
		}
	}
	d, err := s.root.Open(".")
	if err != nil {
		return fmt.Errorf("put batch: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("put batch: flush the file system: %w", err)
	}
	return nil
}

// writeFile copies r into f, then fsyncs (when sync is set) and closes f.
func writeFile(f *os.File, r io.Reader, sync bool) error {
	_, err := io.Copy(f, r)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// createTemp creates a new temporary file in dir, making dir if needed.
// created reports whether dir did not exist before.
func (s *Store) createTemp(dir string) (name string, f *os.File, created bool, err error) {
	for range createAttempts {
		if dir != "." {
			if _, err := s.root.Stat(native(dir)); err != nil {
				created = true
				if err := s.root.MkdirAll(native(dir), dirPerm); err != nil {
					return "", nil, false, err
				}
			}
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name = path.Join(dir, tmpPrefix+hex.EncodeToString(rnd[:]))
		f, err = s.root.OpenFile(native(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		switch {
		case err == nil:
			return name, f, created, nil
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrExist):
			continue // directory pruned by a concurrent Delete, or a name clash
		default:
			return "", nil, false, err
		}
	}
	return "", nil, false, fmt.Errorf("create a temporary file in %q: %w", dir, err)
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(native(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	f, err := s.root.Open(native(key))
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, notExist(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = objstore.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return f, nil
}

// Stat implements objstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	fi, err := s.root.Stat(native(key))
	if err == nil && !fi.Mode().IsRegular() {
		err = objstore.ErrNotExist
	}
	if err != nil {
		return objstore.Info{}, fmt.Errorf("stat %q: %w", key, notExist(err))
	}
	return objstore.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements objstore.Store. It also removes the directories the
// object leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	fi, err := s.root.Lstat(native(key))
	if err != nil {
		if errors.Is(notExist(err), objstore.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a directory of other keys, not an object
	}
	if err := s.root.Remove(native(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	// Best effort: Remove fails on the first directory that is not empty.
	for d := path.Dir(key); d != "."; d = path.Dir(d) {
		if s.root.Remove(native(d)) != nil {
			break
		}
	}
	return nil
}

// List implements objstore.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	// Start in the deepest directory the prefix names in full. If that is
	// not a valid key, no valid key can start with the prefix.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
		if objstore.ValidateKey(start) != nil {
			return nil
		}
	}
	err := s.walk(ctx, start, prefix, fn)
	if stop, ok := err.(stopError); ok {
		return stop.err
	}
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// stopError carries an error returned by List's callback up through walk,
// to be returned unchanged.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

type entry struct {
	name string
	sort string // name, plus "/" for a directory
	fi   fs.FileInfo
	dir  bool
}

// walk reports the objects under dir whose keys start with prefix, in
// lexical order of the keys. Sorting each directory's entries with "/"
// appended to directory names yields that order: every key below a
// directory starts with its name and a "/".
func (s *Store) walk(ctx context.Context, dir, prefix string, fn func(objstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := s.root.Open(native(dir))
	if err != nil {
		if errors.Is(notExist(err), objstore.ErrNotExist) {
			return nil
		}
		return err
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	ents := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue // temporary files
		}
		switch {
		case de.IsDir():
			ents = append(ents, entry{name: name, sort: name + "/", dir: true})
		case de.Type().IsRegular():
			fi, err := de.Info()
			if err != nil {
				continue // deleted since ReadDir
			}
			ents = append(ents, entry{name: name, sort: name, fi: fi})
		}
	}
	slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })
	for _, e := range ents {
		key := e.name
		if dir != "." {
			key = dir + "/" + e.name
		}
		if e.dir {
			if sub := key + "/"; strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				if err := s.walk(ctx, key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(key, prefix) || objstore.ValidateKey(key) != nil {
			continue // not wanted, or not put by a Store
		}
		if err := fn(objstore.Info{Key: key, Size: e.fi.Size(), ModTime: e.fi.ModTime()}); err != nil {
			return stopError{err}
		}
	}
	return nil
}

func (s *Store) check(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// notExist maps the file-system errors that mean "no such object" to
// objstore.ErrNotExist: a missing file, or a path through a file.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w (%w)", objstore.ErrNotExist, err)
	}
	return err
}

func native(key string) string { return filepath.FromSlash(key) }
