package accounts

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxWalkEntries bounds the walk of a home directory that sums its size.
const maxWalkEntries = 20_000_000

// errWalkLimit stops a walk that passed maxWalkEntries.
var errWalkLimit = errors.New("too many files")

// homeStats are what a look at a home directory finds.
type homeStats struct {
	uid, gid  int
	mailboxes int
	diskBytes int64
}

// scanHome reads the owner of home, counts its Maildir folders and, with
// disk, sums the sizes of its regular files. A walk error below home is not
// fatal: what was summed until then is kept (and the error returned for
// logging).
func scanHome(ctx context.Context, home string, disk bool) (homeStats, error) {
	var s homeStats
	st, err := os.Stat(home)
	if err != nil {
		return s, err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.uid, s.gid = int(sys.Uid), int(sys.Gid)
	}
	s.mailboxes = countMailboxes(home)
	if disk {
		s.diskBytes, err = diskUsage(ctx, home)
	}
	return s, err
}

// countMailboxes counts Maildir folders: HOME/Maildir and each of its
// .Folder directories, and the same below each HOME/mail/DOMAIN/USER
// (cPanel's layout). A folder is a directory holding cur, new and tmp.
func countMailboxes(home string) int {
	roots := []string{filepath.Join(home, "Maildir")}
	if boxes, err := filepath.Glob(filepath.Join(home, "mail", "*", "*")); err == nil {
		roots = append(roots, boxes...)
	}
	n := 0
	for _, root := range roots {
		if !isMaildir(root) {
			continue
		}
		n++
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), ".") && len(e.Name()) > 1 && isMaildir(filepath.Join(root, e.Name())) {
				n++
			}
		}
	}
	return n
}

func isMaildir(dir string) bool {
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return false
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if st, err := os.Lstat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// diskUsage sums the apparent sizes of the regular files below root. It
// does not follow symbolic links, skips what it may not read, stops after
// maxWalkEntries entries and when ctx ends.
func diskUsage(ctx context.Context, root string) (int64, error) {
	var total int64
	var seen int
	var firstErr error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if d != nil && d.IsDir() && path != root {
				return fs.SkipDir
			}
			return nil
		}
		if seen++; seen > maxWalkEntries {
			return errWalkLimit
		}
		if seen%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return total, err
	}
	return total, firstErr
}
