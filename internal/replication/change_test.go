package replication

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// writeText writes n compressible files of about 8 KiB under root.
func writeText(t *testing.T, root string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("f%02d.php", i)
		body := bytes.Repeat(fmt.Appendf(nil, "<?php echo 'file %d'; ?>\n", i), 8<<10/24)
		if err := os.WriteFile(filepath.Join(root, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

func TestSnapshotChange(t *testing.T) {
	root := t.TempDir()
	store, codec := NewMemStore(), testCodec(t, 3)
	snap := func(prev *Manifest) (*Manifest, SnapshotStats) {
		t.Helper()
		m, st, err := Snapshot(context.Background(), root, SnapshotOptions{Store: store, Codec: codec, Previous: prev})
		if err != nil {
			t.Fatal(err)
		}
		return m, st
	}
	names := writeText(t, root, 10)
	if err := os.Link(filepath.Join(root, names[0]), filepath.Join(root, "hard")); err != nil {
		t.Fatal(err)
	}
	m1, st := snap(nil)
	if st.Change != (Change{}) {
		t.Errorf("first snapshot: change %+v, want none", st.Change)
	}
	if st.BytesIncompressible != 0 {
		t.Errorf("text stored %d incompressible bytes, want 0", st.BytesIncompressible)
	}

	// Unchanged, then only touched: nothing changed.
	m2, st := snap(m1)
	if want := (Change{FilesBefore: 11, BytesBefore: st.Change.BytesBefore}); st.Change != want || want.BytesBefore < 11*8000 {
		t.Errorf("unchanged: got %+v, want %+v", st.Change, want)
	}
	if err := os.Chmod(filepath.Join(root, names[5]), 0o600); err != nil {
		t.Fatal(err)
	}
	m3, st := snap(m2)
	if st.Change.FilesChanged != 0 || st.Change.FilesDeleted != 0 {
		t.Errorf("touched: got %+v, want nothing changed", st.Change)
	}

	// Delete 3 files, rewrite 2 with text and 2 with random bytes, add one.
	for _, n := range names[1:4] {
		if err := os.Remove(filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range names[4:6] {
		if err := os.WriteFile(filepath.Join(root, n), bytes.Repeat([]byte("new text "), 1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var random int64
	for i, n := range names[6:8] {
		b := randBytes(uint64(50+i), 9000)
		random += int64(len(b))
		if err := os.WriteFile(filepath.Join(root, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "added.bin"), randBytes(99, 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, st = snap(m3)
	c := st.Change
	if c.FilesBefore != 11 || c.FilesDeleted != 3 || c.FilesChanged != 4 {
		t.Errorf("got %d before, %d deleted, %d changed; want 11, 3, 4", c.FilesBefore, c.FilesDeleted, c.FilesChanged)
	}
	// The added file is new content but replaces nothing.
	if c.BytesIncompressible != random {
		t.Errorf("got %d incompressible bytes in changed files, want %d", c.BytesIncompressible, random)
	}
	if st.BytesIncompressible != random+20000 {
		t.Errorf("got %d incompressible new bytes, want %d", st.BytesIncompressible, random+20000)
	}
}

func TestCompareNil(t *testing.T) {
	if c := Compare(nil, &Manifest{}, nil); c != (Change{}) {
		t.Errorf("got %+v, want zero", c)
	}
}
