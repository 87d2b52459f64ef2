package mail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeFile writes data to path atomically: a temporary file in the same
// directory, synced, given mode and group gid (-1: unchanged), renamed over
// path.
func writeFile(path string, data []byte, mode os.FileMode, gid int) error {
	tmp, err := stageFile(path, data, mode, gid)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mail: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// stageFile writes data to a new temporary file beside path and returns its
// name.
func stageFile(path string, data []byte, mode os.FileMode, gid int) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mail: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".poolctl-*")
	if err != nil {
		return "", fmt.Errorf("mail: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && gid >= 0 {
		err = f.Chown(-1, gid)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("mail: writing %s: %w", path, err)
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("mail: sync %s: %w", dir, err)
	}
	return nil
}

// readLines returns the non-empty, non-comment lines of path; a missing
// file has none.
func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mail: reading %s: %w", path, err)
	}
	return lines, nil
}

// mkdirOwned creates dir and its missing parents below root, each owned by
// uid:gid with mode.
func mkdirOwned(root, dir string, mode os.FileMode, uid, gid int) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("mail: %s is not under %s", dir, root)
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		err := os.Mkdir(p, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mail: %w", err)
		}
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("mail: %w", err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("mail: %w", err)
		}
	}
	return nil
}
