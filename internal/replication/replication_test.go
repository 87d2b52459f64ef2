package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

type fixture struct {
	src, target string
	files       []string
	store       ChunkStore
	codec       *Codec
}

func newFixture(t *testing.T, store ChunkStore) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{src: filepath.Join(dir, "src"), target: filepath.Join(dir, "standby", "home"), store: store, codec: testCodec(t, 1)}
	if err := os.MkdirAll(filepath.Dir(f.target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.src, 0o755); err != nil {
		t.Fatal(err)
	}
	f.files = genTree(t, f.src, 400)
	return f
}

func (f *fixture) snapshot(t *testing.T, prev *Manifest) (*Manifest, SnapshotStats) {
	t.Helper()
	m, st, err := Snapshot(context.Background(), f.src, SnapshotOptions{Store: f.store, Codec: f.codec, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func (f *fixture) restore(m *Manifest, store ChunkStore, noReuse bool) (RestoreStats, error) {
	return Restore(context.Background(), m, f.target, RestoreOptions{Store: store, Codec: f.codec, NoReuse: noReuse})
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) ChunkStore{
		"mem": func(*testing.T) ChunkStore { return NewMemStore() },
		"dir": func(t *testing.T) ChunkStore {
			s, err := NewDirStore(filepath.Join(t.TempDir(), "chunks"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, mk(t))
			m, st := f.snapshot(t, nil)
			t.Logf("snapshot: %+v", st)
			if st.HardLinks != 3 || st.Symlinks != 4 || st.Skipped != 1 || st.ChunksNew == 0 || st.ChunksNew+st.ChunksReused != st.ChunksTotal {
				t.Errorf("snapshot stats %+v: want 3 hard links, 4 symlinks, 1 skipped, new+reused = total", st)
			}
			var buf strings.Builder
			if err := m.Encode(&buf); err != nil {
				t.Fatal(err)
			}
			m2, err := DecodeManifest(strings.NewReader(buf.String()))
			if err != nil {
				t.Fatal(err)
			}
			rst, err := f.restore(m2, f.store, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("restore: %+v", rst)
			compareTrees(t, f.src, f.target)
			// Restoring again over the existing copy reads unchanged files
			// locally and still yields the same tree.
			rst, err = f.restore(m2, f.store, false)
			if err != nil {
				t.Fatal(err)
			}
			if rst.ChunksFetched != 0 {
				t.Errorf("second restore fetched %d chunks, want 0 (all reused)", rst.ChunksFetched)
			}
			compareTrees(t, f.src, f.target)
			assertNoLeftovers(t, f.target)
		})
	}
}

func assertNoLeftovers(t *testing.T, target string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(target))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != filepath.Base(target) {
			t.Errorf("leftover %s next to the target", e.Name())
		}
	}
}

func TestIncremental(t *testing.T) {
	f := newFixture(t, NewMemStore())
	m1, _ := f.snapshot(t, nil)
	if _, err := f.restore(m1, f.store, false); err != nil {
		t.Fatal(err)
	}
	// Change 1% of the small files.
	var changed int64
	n := len(f.files) / 100
	for i := 0; i < n; i++ {
		p := filepath.Join(f.src, f.files[10+i*37])
		data := randBytes(uint64(1000+i), 8000+i)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		changed += int64(len(data))
	}
	m2, st := f.snapshot(t, m1)
	t.Logf("incremental: %+v (changed %d bytes in %d files)", st, changed, n)
	if st.FilesRead != n {
		t.Errorf("incremental read %d files, want %d", st.FilesRead, n)
	}
	if st.ChunksNew > n || st.BytesNew > changed*12/10 {
		t.Errorf("incremental stored %d chunks / %d bytes, want <= %d chunks / %d bytes", st.ChunksNew, st.BytesNew, n, changed*12/10)
	}
	if st.BytesUploaded > changed*12/10+int64(n*64) {
		t.Errorf("incremental uploaded %d bytes for %d changed", st.BytesUploaded, changed)
	}
	rst, err := Restore(context.Background(), m2, f.target, RestoreOptions{Store: f.store, Codec: f.codec, Previous: m1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental restore: %+v", rst)
	if rst.ChunksFetched != n {
		t.Errorf("incremental restore fetched %d chunks, want %d", rst.ChunksFetched, n)
	}
	// All single-name unchanged files are linked from the previous copy.
	if want := len(f.files) + 5 - n - 2; rst.FilesLinked != want { // 5 extra files, 2 with several names
		t.Errorf("incremental restore linked %d files, want %d", rst.FilesLinked, want)
	}
	compareTrees(t, f.src, f.target)
	assertNoLeftovers(t, f.target)

	// KeepPrevious: the previous copy is left for the caller, outside the
	// target, and the next restore removes it.
	if err := os.WriteFile(filepath.Join(f.src, f.files[3]), []byte("third version"), 0o644); err != nil {
		t.Fatal(err)
	}
	m3, _ := f.snapshot(t, m2)
	rst, err = Restore(context.Background(), m3, f.target, RestoreOptions{Store: f.store, Codec: f.codec, Previous: m2, KeepPrevious: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(rst.PreviousCopy); err != nil || !fi.IsDir() || filepath.Dir(rst.PreviousCopy) != filepath.Dir(f.target) {
		t.Fatalf("previous copy %q: %v", rst.PreviousCopy, err)
	}
	compareTrees(t, f.src, f.target)
	if _, err := Restore(context.Background(), m3, f.target, RestoreOptions{Store: f.store, Codec: f.codec, Previous: m3}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rst.PreviousCopy); !os.IsNotExist(err) {
		t.Errorf("the next restore left the kept copy: %v", err)
	}
	assertNoLeftovers(t, f.target)
}

func TestRestoreCorruptChunkKeepsTarget(t *testing.T) {
	store := NewMemStore()
	f := newFixture(t, store)
	m1, _ := f.snapshot(t, nil)
	if _, err := f.restore(m1, store, false); err != nil {
		t.Fatal(err)
	}
	before := describe(t, f.target)
	if err := os.WriteFile(filepath.Join(f.src, "new.txt"), []byte(strings.Repeat("new content ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, _ := f.snapshot(t, m1)
	var bad ID
	for _, e := range m2.Entries {
		if e.Path == "new.txt" {
			bad = e.Chunks[0].ID
		}
	}
	if !store.Corrupt(bad) {
		t.Fatal("chunk of new.txt not in the store")
	}
	_, err := f.restore(m2, store, false)
	if !errors.Is(err, ErrCorruptChunk) || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), "new.txt") {
		t.Fatalf("got %v, want a corrupt-chunk error naming new.txt and chunk %s", err, bad)
	}
	t.Logf("error: %v", err)
	after := describe(t, f.target)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("target changed after a failed restore")
	}
	assertNoLeftovers(t, f.target)

	// A missing chunk fails the same way, naming ErrNotFound.
	if _, err := f.restore(m2, NewMemStore(), true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore from an empty store: got %v, want ErrNotFound", err)
	}
}

// failingStore fails every Get after the first n.
type failingStore struct {
	ChunkStore
	n atomic.Int64
}

var errInjected = errors.New("injected store failure")

func (s *failingStore) Get(ctx context.Context, id ID) ([]byte, error) {
	if s.n.Add(-1) < 0 {
		return nil, errInjected
	}
	return s.ChunkStore.Get(ctx, id)
}

func TestRestoreCrashLeavesPreviousCopy(t *testing.T) {
	store := NewMemStore()
	f := newFixture(t, store)
	m1, _ := f.snapshot(t, nil)
	if _, err := f.restore(m1, store, false); err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(describe(t, f.target))
	for _, p := range f.files[:50] {
		if err := os.WriteFile(filepath.Join(f.src, p), []byte("changed "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m2, _ := f.snapshot(t, m1)

	fs := &failingStore{ChunkStore: store}
	fs.n.Store(20)
	if _, err := f.restore(m2, fs, true); !errors.Is(err, errInjected) {
		t.Fatalf("got %v, want the injected failure", err)
	}
	if fmt.Sprint(describe(t, f.target)) != before {
		t.Fatal("target changed after a failed restore")
	}

	// A killed process leaves a staging directory and possibly the old
	// copy renamed away; the next restore recovers from both.
	parent, base := filepath.Split(f.target)
	junk := filepath.Join(parent, "."+base+stagingInfix+"1")
	if err := os.MkdirAll(filepath.Join(junk, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.target, filepath.Join(parent, "."+base+oldInfix+"2")); err != nil {
		t.Fatal(err)
	}
	if err := Recover(f.target); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(describe(t, f.target)) != before {
		t.Fatal("Recover did not put the previous copy back")
	}
	assertNoLeftovers(t, f.target)
	if err := os.Mkdir(junk, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.restore(m2, store, false); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, f.src, f.target)
	assertNoLeftovers(t, f.target)
}

func TestDropVanished(t *testing.T) {
	m := &Manifest{Entries: []Entry{
		{Path: ".", Type: TypeDir}, {Path: "a", Type: vanished}, {Path: "b", Type: TypeFile},
		{Path: "c", Type: TypeFile, LinkTo: "a"}, {Path: "d", Type: TypeFile, LinkTo: "b"},
	}}
	if n := dropVanished(m); n != 2 {
		t.Errorf("dropped %d entries, want 2", n)
	}
	var got []string
	for _, e := range m.Entries {
		got = append(got, e.Path)
	}
	if fmt.Sprint(got) != "[. b d]" {
		t.Errorf("kept %v, want [. b d]", got)
	}
}

// A restore that is no longer wanted when its staging tree is complete
// (BeforeSwap says so, or its context ended during the last steps) does
// not swap it in.
func TestRestoreNotSwappedWhenCancelled(t *testing.T) {
	store := NewMemStore()
	f := newFixture(t, store)
	m1, _ := f.snapshot(t, nil)
	if _, err := f.restore(m1, store, false); err != nil {
		t.Fatal(err)
	}
	before := describe(t, f.target)
	if err := os.WriteFile(filepath.Join(f.src, "new.txt"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, _ := f.snapshot(t, m1)
	errRefused := errors.New("the job was cancelled")
	for _, cancelIt := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		called := 0
		_, err := Restore(ctx, m2, f.target, RestoreOptions{Store: store, Codec: f.codec, Previous: m1,
			BeforeSwap: func(ctx context.Context) error {
				called++
				if cancelIt {
					cancel(errRefused) // ends ctx, and answers nothing
					return nil
				}
				return errRefused
			}})
		cancel(nil)
		name := map[bool]string{false: "refused", true: "cancelled"}[cancelIt]
		if !errors.Is(err, errRefused) || called != 1 {
			t.Errorf("%s: got %v after %d calls, want the refusal after one", name, err, called)
		}
		if after := describe(t, f.target); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: the target changed", name)
		}
		assertNoLeftovers(t, f.target)
	}
	called := 0
	if _, err := Restore(context.Background(), m2, f.target, RestoreOptions{Store: store, Codec: f.codec,
		BeforeSwap: func(context.Context) error { called++; return nil }}); err != nil || called != 1 {
		t.Fatalf("wanted restore: got %v after %d calls", err, called)
	}
	compareTrees(t, f.src, f.target)
}
