package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Size returns the bytes of the regular files below dir.
func Size(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// Tree describes a directory tree: each entry below the root by its slash
// path, as its type, permissions and, for a regular file, its size and
// SHA-256 (for a symlink, its target).
type Tree struct {
	Files, Dirs int
	Bytes       int64
	Entries     map[string]string
}

// Describe reads the tree below root, hashing every regular file.
func Describe(root string) (Tree, error) {
	t := Tree{Entries: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v", fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			sum, err := fileSum(p)
			if err != nil {
				return err
			}
			t.Files++
			t.Bytes += fi.Size()
			desc += fmt.Sprintf(" %d %s", fi.Size(), sum)
		case fi.IsDir():
			t.Dirs++
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		t.Entries[filepath.ToSlash(rel)] = desc
		return nil
	})
	return t, err
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff returns up to limit differences between two trees, as readable lines,
// sorted by path; none when they are the same.
func Diff(want, got Tree, limit int) []string {
	var out []string
	for p, w := range want.Entries {
		if g, ok := got.Entries[p]; !ok {
			out = append(out, p+": missing")
		} else if g != w {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", p, g, w))
		}
	}
	for p := range got.Entries {
		if _, ok := want.Entries[p]; !ok {
			out = append(out, p+": extra")
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("... and %d more", len(out)-limit))
	}
	return out
}
