package replication

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// listXattrs returns the extended attributes of p (not following symlinks).
// Filesystems without xattr support yield none.
func listXattrs(p string) (map[string][]byte, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		if err == nil || ignoreXattrErr(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs %s: %w", p, err)
	}
	buf := make([]byte, size*2)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		if ignoreXattrErr(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs %s: %w", p, err)
	}
	out := make(map[string][]byte)
	for _, name := range splitNul(buf[:size]) {
		val, err := getXattr(p, name)
		if err != nil {
			if ignoreXattrErr(err) {
				continue
			}
			return nil, fmt.Errorf("xattr %s of %s: %w", name, p, err)
		}
		out[name] = val
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func getXattr(p, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func ignoreXattrErr(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EACCES)
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}

// applyMeta sets owner (when asOwner), mode (not for symlinks), xattrs and
// mtime on p, in that order so that chmod after chown keeps setuid bits.
func applyMeta(p string, e *Entry, asOwner bool) error {
	if asOwner {
		if err := os.Lchown(p, e.UID, e.GID); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	if e.Type != TypeSymlink {
		if err := unix.Chmod(p, e.Mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	for name, val := range e.Xattrs {
		if err := unix.Lsetxattr(p, name, val, 0); err != nil && !ignoreXattrErr(err) {
			return fmt.Errorf("set xattr %s on %s: %w", name, p, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(e.MTime), unix.NsecToTimespec(e.MTime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime %s: %w", p, err)
	}
	return nil
}
