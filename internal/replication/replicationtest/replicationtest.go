// Package replicationtest holds test helpers shared by the tests of
// replication and of its users (agent, e2e, benchmarks): a generator of
// account-like trees and a byte-for-byte tree comparison covering modes,
// owners, mtimes, symlinks, hard links and xattrs.
package replicationtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RandBytes returns n pseudo-random bytes from seed.
func RandBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// xattrs lists p's extended attributes; filesystems without them yield none.
func xattrs(p string) (map[string][]byte, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		if err == nil || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range bytes.Split(buf[:size], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		v := make([]byte, 256)
		n, err := unix.Lgetxattr(p, string(name), v)
		if err != nil {
			return nil, err
		}
		out[string(name)] = v[:n]
	}
	return out, nil
}

// GenTree writes a test tree: many small files (text and random), a 20 MiB
// file (random and compressible parts), symlinks, hard links, empty
// directories, odd modes, owners, xattrs and old mtimes. It returns the
// relative paths of the small regular files.
func GenTree(t testing.TB, root string, small int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	for i := range small {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%17), fmt.Sprintf("s%d", i%5))
		must(os.MkdirAll(dir, 0o755))
		rel := filepath.Join(fmt.Sprintf("d%02d", i%17), fmt.Sprintf("s%d", i%5), fmt.Sprintf("f%04d.txt", i))
		must(os.WriteFile(filepath.Join(root, rel), smallContent(rng, i), 0o644))
		files = append(files, rel)
	}
	big := append(RandBytes(7, 12<<20), bytes.Repeat([]byte("<html><body>compressible account data</body></html>\n"), (8<<20)/52)...)
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o640))
	must(os.MkdirAll(filepath.Join(root, "empty", "nested-empty"), 0o755))
	must(os.Mkdir(filepath.Join(root, "sticky"), 0o755))
	must(os.Chmod(filepath.Join(root, "sticky"), 0o1777))
	must(os.Mkdir(filepath.Join(root, "readonly"), 0o755))
	must(os.WriteFile(filepath.Join(root, "readonly", "inside"), []byte("ro"), 0o400))
	must(os.WriteFile(filepath.Join(root, "setuid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(root, "setuid"), 0o4755))
	must(os.WriteFile(filepath.Join(root, "nomode"), []byte("x"), 0o644))
	must(os.Chmod(filepath.Join(root, "nomode"), 0))
	must(os.WriteFile(filepath.Join(root, "empty-file"), nil, 0o644))
	must(os.Symlink("big.bin", filepath.Join(root, "link-rel")))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "link-abs")))
	must(os.Symlink("does/not/exist", filepath.Join(root, "link-dangling")))
	must(os.Symlink("d00", filepath.Join(root, "link-dir")))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o644)) // skipped by Snapshot
	must(os.Link(filepath.Join(root, files[0]), filepath.Join(root, "hard-a")))
	must(os.Link(filepath.Join(root, files[0]), filepath.Join(root, "empty", "hard-b")))
	must(os.Link(filepath.Join(root, "setuid"), filepath.Join(root, "d01", "setuid-link")))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(root, "d02"), 1234, 5678))
		must(os.Lchown(filepath.Join(root, "link-rel"), 42, 43))
		must(os.Lchown(filepath.Join(root, files[3]), 1001, 1002))
	}
	if err := unix.Lsetxattr(filepath.Join(root, files[1]), "user.poolctl", []byte("v1"), 0); err != nil {
		t.Logf("xattrs not supported here: %v", err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		must(err)
		ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	must(os.Chmod(filepath.Join(root, "readonly"), 0o500))
	return files
}

func smallContent(rng *rand.Rand, i int) []byte {
	n := rng.IntN(16 << 10)
	if i%3 == 0 {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return b
	}
	var buf bytes.Buffer
	for buf.Len() < n {
		fmt.Fprintf(&buf, "<?php echo \"file %d line %d\"; ?>\n", i, buf.Len())
	}
	return buf.Bytes()
}

// NodeInfo is what a restore must reproduce of one path.
type NodeInfo struct {
	Mode     uint32
	UID, GID uint32
	MTime    int64
	Size     int64
	Target   string
	Content  string // SHA-256 of the content
	Xattrs   string
	LinkPeer string // first path with the same inode
}

// Describe maps every path of a tree to what a restore must reproduce.
func Describe(t testing.TB, root string) map[string]NodeInfo {
	t.Helper()
	out := make(map[string]NodeInfo)
	inodes := make(map[uint64]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := NodeInfo{Mode: st.Mode, UID: st.Uid, GID: st.Gid, MTime: st.Mtim.Nano()}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO:
			return nil // not replicated
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			n.Size, n.Content = st.Size, hex.EncodeToString(sum[:])
			if first, ok := inodes[st.Ino]; ok {
				n.LinkPeer = first
			} else {
				inodes[st.Ino] = rel
			}
		case unix.S_IFLNK:
			n.Target, _ = os.Readlink(p)
		}
		x, err := xattrs(p)
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k+"="+string(x[k]))
		}
		sort.Strings(keys)
		n.Xattrs = fmt.Sprint(keys)
		out[rel] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CompareTrees fails t for every difference between two trees.
func CompareTrees(t testing.TB, want, got string) {
	t.Helper()
	SameNodes(t, "restored tree", Describe(t, got), Describe(t, want))
}

// SameNodes fails t, naming up to 20 differences, when two descriptions of
// trees (from Describe) differ.
func SameNodes(t testing.TB, what string, got, want map[string]NodeInfo) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing, want %+v", p, w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s: got %+v, want %+v", p, g, w))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: got %+v, want no such path", p, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%s: %d differences:\n%s", what, len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}
