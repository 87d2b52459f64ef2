// Package objstoretest is the conformance suite for objstore.Store: every
// implementation runs Run against a fresh, empty store per subtest. It
// also starts the S3 server (versitygw) that tests of S3-backed code talk
// to; see StartVersityGW.
package objstoretest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/objstore"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called (one per subtest) and arrange its cleanup with t.
func Run(t *testing.T, open func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListMany", testListMany},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatch", testSizeMismatch},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentOverwrite", testConcurrentOverwrite},
		{"CancelSlowReader", testCancelSlowReader},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// data returns n deterministic pseudo-random bytes.
func data(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(n))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// put stores b under key, declaring its size, and fails the test on error.
func put(t *testing.T, s objstore.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(b), err)
	}
}

// get reads the object under key and fails the test on error.
func get(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// check fails the test unless key holds exactly want, by Get and by Stat.
func check(t *testing.T, s objstore.Store, key string, want []byte) {
	t.Helper()
	if got := get(t, s, key); !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): got %d bytes, want %d bytes (contents differ: %v)",
			key, len(got), len(want), len(got) == len(want))
	}
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(want)) {
		t.Fatalf("Stat(%q): got key %q size %d, want key %q size %d", key, info.Key, info.Size, key, len(want))
	}
	if age := time.Since(info.ModTime); age < -time.Hour || age > time.Hour {
		t.Fatalf("Stat(%q): ModTime %v is not close to now", key, info.ModTime)
	}
}

// missing fails the test unless Get and Stat of key report ErrNotExist.
func missing(t *testing.T, s objstore.Store, key string) {
	t.Helper()
	if rc, err := s.Get(t.Context(), key); !errors.Is(err, objstore.ErrNotExist) {
		if err == nil {
			rc.Close()
		}
		t.Fatalf("Get(%q): got error %v, want ErrNotExist", key, err)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Stat(%q): got error %v, want ErrNotExist", key, err)
	}
}

// list returns the keys List reports under prefix, checking their order.
func list(t *testing.T, s objstore.Store, prefix string) []objstore.Info {
	t.Helper()
	var infos []objstore.Info
	err := s.List(t.Context(), prefix, func(i objstore.Info) error {
		infos = append(infos, i)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	for i := 1; i < len(infos); i++ {
		if infos[i-1].Key >= infos[i].Key {
			t.Fatalf("List(%q): %q before %q: not in lexical order", prefix, infos[i-1].Key, infos[i].Key)
		}
	}
	return infos
}

func keys(infos []objstore.Info) []string {
	ks := make([]string, len(infos))
	for i, info := range infos {
		ks[i] = info.Key
	}
	return ks
}

func testRoundTrip(t *testing.T, s objstore.Store) {
	for _, tc := range []struct {
		key     string
		size    int
		unknown bool // pass size -1
	}{
		{"empty", 0, false},
		{"one", 1, false},
		{"small/object.bin", 1000, false},
		{"deep/er/and/deeper/object", 4096, false},
		{"multi/mib", 3<<20 + 7, false},
		{"stream/empty", 0, true},
		{"stream/small", 1234, true},
		{"stream/multipart", 17<<20 + 3, true},
		{"spaces and ünïcode/ok ☃", 10, false},
	} {
		want := data(tc.size, 1)
		size := int64(tc.size)
		if tc.unknown {
			size = -1
		}
		// A reader without a Len or Seek method, as from a pipe.
		r := io.MultiReader(bytes.NewReader(want))
		if err := s.Put(t.Context(), tc.key, r, size); err != nil {
			t.Fatalf("Put(%q, size %d): %v", tc.key, size, err)
		}
		check(t, s, tc.key, want)
	}
}

func testOverwrite(t *testing.T, s objstore.Store) {
	first, second, third := data(5000, 1), data(10, 2), data(0, 3)
	put(t, s, "k", first)
	put(t, s, "k", second)
	check(t, s, "k", second)
	put(t, s, "k", third)
	check(t, s, "k", third)
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("List after overwrites: got %q, want [k]", got)
	}
}

func testMissing(t *testing.T, s objstore.Store) {
	missing(t, s, "nothing")
	missing(t, s, "no/such/dir/key")
	put(t, s, "dir/present", []byte("x"))
	missing(t, s, "dir/absent")
	missing(t, s, "dir") // a prefix of keys is not an object
	missing(t, s, "dir/pres")
	ok, err := objstore.Exists(t.Context(), s, "dir/present")
	if err != nil || !ok {
		t.Fatalf("Exists(dir/present): got %v, %v, want true, nil", ok, err)
	}
	ok, err = objstore.Exists(t.Context(), s, "dir/absent")
	if err != nil || ok {
		t.Fatalf("Exists(dir/absent): got %v, %v, want false, nil", ok, err)
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	put(t, s, "a/b/c", []byte("c"))
	put(t, s, "a/b2", []byte("b2"))
	for range 2 { // idempotent
		if err := s.Delete(t.Context(), "a/b/c"); err != nil {
			t.Fatalf("Delete(a/b/c): %v", err)
		}
	}
	missing(t, s, "a/b/c")
	check(t, s, "a/b2", []byte("b2"))
	for _, key := range []string{"never", "never/was/here", "a/b"} {
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete(%q) of a missing object: %v", key, err)
		}
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"a/b2"}) {
		t.Fatalf("List after Delete: got %q, want [a/b2]", got)
	}
	// The deleted object's directory may be gone: writing there again works.
	put(t, s, "a/b/d", []byte("d"))
	check(t, s, "a/b/d", []byte("d"))
}

func testList(t *testing.T, s objstore.Store) {
	// Orders that a naive directory walk gets wrong: "a-c" < "a/b" < "a0".
	all := []string{"A", "a-c", "a/b", "a/c/d", "a/c/e", "a0", "ab", "b", "b/x", "é"}
	all = slices.DeleteFunc(all, func(k string) bool { return k == "b" }) // "b" and "b/x" cannot both be objects
	for i, k := range slices.Backward(all) {
		put(t, s, k, data(i, 7))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a", []string{"a-c", "a/b", "a/c/d", "a/c/e", "a0", "ab"}},
		{"a/", []string{"a/b", "a/c/d", "a/c/e"}},
		{"a/c", []string{"a/c/d", "a/c/e"}},
		{"a/c/", []string{"a/c/d", "a/c/e"}},
		{"a/c/d", []string{"a/c/d"}},
		{"b/", []string{"b/x"}},
		{"é", []string{"é"}},
		{"zzz", nil},
		{"a/zzz/", nil},
		{"../", nil},
		{"a//", nil},
	} {
		infos := list(t, s, tc.prefix)
		if got := keys(infos); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q): got %q, want %q", tc.prefix, got, tc.want)
		}
		for _, info := range infos {
			if want := int64(slices.Index(all, info.Key)); info.Size != want {
				t.Errorf("List(%q): %q has size %d, want %d", tc.prefix, info.Key, info.Size, want)
			}
		}
	}
	// A callback error stops the listing and comes back unchanged.
	stop := errors.New("stop here")
	calls := 0
	err := s.List(t.Context(), "", func(objstore.Info) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("List with a failing callback: got %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// testListMany crosses S3's 1,000-key page.
func testListMany(t *testing.T, s objstore.Store) {
	const n = 1200
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("many/%05d", i)
	}
	parallel(t, 8, n, func(i int) error {
		return s.Put(t.Context(), want[i], strings.NewReader(want[i]), int64(len(want[i])))
	})
	put(t, s, "manyother", []byte("x"))
	if got := keys(list(t, s, "many/")); !slices.Equal(got, want) {
		t.Fatalf("List(many/): got %d keys, want %d in order", len(got), len(want))
	}
	if got := keys(list(t, s, "many/01")); !slices.Equal(got, want[1000:]) {
		t.Fatalf("List(many/01): got %d keys, want %d", len(got), n-1000)
	}
	if got := list(t, s, ""); len(got) != n+1 {
		t.Fatalf("List(\"\"): got %d keys, want %d", len(got), n+1)
	}
}

// parallel runs fn(0..n-1) on workers goroutines and fails on any error.
func parallel(t *testing.T, workers, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, n)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
