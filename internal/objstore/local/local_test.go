package local_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/objstore/objstoretest"
)

func open(t *testing.T, dir string) *local.Store {
	t.Helper()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return open(t, filepath.Join(t.TempDir(), "objects"))
	})
}

// TestLayout checks what lands on disk: one file per object, no temporary
// files left behind, and no empty directories after Delete.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	if err := s.Put(ctx, "chunks/ab/abcdef", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "chunks", "ab", "abcdef"))
	if err != nil || string(b) != "data" {
		t.Fatalf("object file: got %q, %v, want \"data\"", b, err)
	}
	if err := s.Put(ctx, "chunks/ab/short", strings.NewReader("data"), 9); err == nil {
		t.Fatal("Put with a short reader succeeded")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "chunks", "ab"))
	if len(ents) != 1 {
		t.Fatalf("chunks/ab holds %d entries after a failed Put, want 1 (no temporary file left)", len(ents))
	}
	if err := s.Delete(ctx, "chunks/ab/abcdef"); err != nil {
		t.Fatal(err)
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("store directory holds %d entries after deleting the only object, want 0", len(ents))
	}
}

// TestEscape checks that a symbolic link cannot lead a key outside the
// store's directory.
func TestEscape(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	if _, err := s.Stat(t.Context(), "link/secret"); err == nil {
		t.Fatal("Stat through a symlink out of the store succeeded")
	}
	if err := s.Put(t.Context(), "link/planted", strings.NewReader("x"), 1); err == nil {
		t.Fatal("Put through a symlink out of the store succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("Put wrote outside the store")
	}
}

// TestPutBatch: a batch stores every object, in new and existing
// directories, replacing old ones, and leaves no temporary files; a bad key
// fails the batch with ErrInvalidKey.
func TestPutBatch(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "objects")
	st := open(t, dir)
	if err := st.Put(ctx, "p/chunks/old", strings.NewReader("old"), 3); err != nil {
		t.Fatal(err)
	}
	var objs []objstore.Object
	for i := range 50 {
		objs = append(objs, objstore.Object{Key: "p/chunks/" + strings.Repeat("k", i%5+1) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Data: []byte(strings.Repeat("x", i))})
	}
	objs = append(objs, objstore.Object{Key: "p/chunks/old", Data: []byte("new")}, objstore.Object{Key: "q/deep/er/x", Data: nil})
	if err := st.PutBatch(ctx, objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		rc, err := st.Get(ctx, o.Key)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != string(o.Data) {
			t.Errorf("%s: got %q, want %q", o.Key, b, o.Data)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
	if err := st.PutBatch(ctx, []objstore.Object{{Key: "p/ok", Data: []byte("1")}, {Key: "p/../x"}}); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("bad key in a batch: %v", err)
	}
}
