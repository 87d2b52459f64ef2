package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/objstore"
)

func testInvalidKeys(t *testing.T, s objstore.Store) {
	invalid := []string{
		"", "/a", "a/", "a//b", ".", "..", "../a", "a/../b", "a/..", "./a", "a/./b",
		".hidden", "a/.tmp-x", "a\x00b", "a\nb", "tab\there", "\xff\xfe", "a\u200bb",
		strings.Repeat("k", objstore.MaxKeyLen+1),
		strings.Repeat("s", objstore.MaxSegmentLen+1),
	}
	ctx := t.Context()
	for _, key := range invalid {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q): got error %v, want ErrInvalidKey", key, err)
		}
		if rc, err := s.Get(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q): got error %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Stat(%q): got error %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Delete(%q): got error %v, want ErrInvalidKey", key, err)
		}
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List after refused Puts: got %q, want nothing", keys(got))
	}
	// The longest keys and segments are accepted.
	seg := strings.Repeat("s", (objstore.MaxKeyLen-4)/5)
	for _, key := range []string{
		strings.Join([]string{seg, seg, seg, seg, seg}, "/"),
		strings.Repeat("m", objstore.MaxSegmentLen),
		"x/dots.../y", "a-b_c~d+e=f,g;h@i(j)k[l]m{n}o!p$q&r'",
	} {
		put(t, s, key, []byte(key))
		check(t, s, key, []byte(key))
	}
}

func testSizeMismatch(t *testing.T, s objstore.Store) {
	put(t, s, "keep", []byte("previous"))
	for _, tc := range []struct {
		key  string
		body string
		size int64
	}{
		{"short", "12345", 10},
		{"long", "1234567890", 5},
		{"empty-declared", "x", 0},
		{"keep", "12345", 6},
		{"keep", "1234567", 6},
	} {
		err := s.Put(t.Context(), tc.key, strings.NewReader(tc.body), tc.size)
		if !errors.Is(err, objstore.ErrSizeMismatch) {
			t.Errorf("Put(%q, %d bytes, size %d): got error %v, want ErrSizeMismatch",
				tc.key, len(tc.body), tc.size, err)
		}
	}
	missing(t, s, "short")
	missing(t, s, "long")
	missing(t, s, "empty-declared")
	check(t, s, "keep", []byte("previous"))
	if err := s.Put(t.Context(), "negative", strings.NewReader(""), -2); err == nil {
		t.Errorf("Put with size -2: got no error")
	}
}

func testConcurrentPuts(t *testing.T, s objstore.Store) {
	// Writers add keys to directories that deleters empty at the same time.
	const dirs, perDir = 4, 8
	for d := range dirs {
		for j := range perDir {
			put(t, s, fmt.Sprintf("c/d%d/victim%d", d, j), []byte("v"))
		}
	}
	parallel(t, 8, 2*dirs*perDir, func(i int) error {
		d, j := i/2%dirs, i/2/dirs
		if i%2 == 1 {
			return s.Delete(t.Context(), fmt.Sprintf("c/d%d/victim%d", d, j))
		}
		key := fmt.Sprintf("c/d%d/new%d", d, j)
		b := data(64<<10+i, uint64(i))
		return s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)))
	})
	for i := 0; i < 2*dirs*perDir; i += 2 {
		d, j := i/2%dirs, i/2/dirs
		check(t, s, fmt.Sprintf("c/d%d/new%d", d, j), data(64<<10+i, uint64(i)))
		missing(t, s, fmt.Sprintf("c/d%d/victim%d", d, j))
	}
	if got := list(t, s, "c/"); len(got) != dirs*perDir {
		t.Fatalf("List(c/): got %d keys, want %d", len(got), dirs*perDir)
	}
}

// testConcurrentOverwrite checks that readers never see a partial or mixed
// object while writers replace it.
func testConcurrentOverwrite(t *testing.T, s objstore.Store) {
	const writers, rounds = 4, 5
	version := func(w, round int) []byte {
		return bytes.Repeat([]byte{byte('A' + w)}, 100<<10+1000*w+round)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	reads := 0
	wg.Go(func() {
		for !done.Load() {
			rc, err := s.Get(t.Context(), "same")
			if errors.Is(err, objstore.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Errorf("Get(same): %v", err)
				return
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Errorf("Get(same): read: %v", err)
				return
			}
			reads++
			w := int(b[0] - 'A')
			if w < 0 || w >= writers || len(b) < 100<<10+1000*w ||
				len(b) >= 100<<10+1000*w+rounds || bytes.Count(b, b[:1]) != len(b) {
				t.Errorf("Get(same): read %d bytes starting %q: not one whole version", len(b), b[:1])
				return
			}
		}
	})
	parallel(t, writers, writers*rounds, func(i int) error {
		b := version(i%writers, i/writers)
		return s.Put(t.Context(), "same", bytes.NewReader(b), int64(len(b)))
	})
	done.Store(true)
	wg.Wait()
	t.Logf("%d concurrent reads", reads)
}

// slowReader yields a KiB every few milliseconds, forever, like a stalled
// upload from a far-away agent.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	n := min(len(p), 1024)
	clear(p[:n])
	return n, nil
}

func testCancelSlowReader(t *testing.T, s objstore.Store) {
	put(t, s, "slow", []byte("previous"))
	for _, tc := range []struct {
		key  string
		size int64
	}{
		{"slow", -1},          // overwrite, unknown size
		{"slow-new", 1 << 30}, // new key, declared size
	} {
		ctx, cancel := context.WithCancel(t.Context())
		timer := time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := s.Put(ctx, tc.key, slowReader{}, tc.size)
		took := time.Since(start)
		timer.Stop()
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put(%q) cancelled: got error %v, want context.Canceled", tc.key, err)
		}
		if took > 10*time.Second {
			t.Fatalf("Put(%q) returned %v after cancellation, want promptly", tc.key, took)
		}
	}
	check(t, s, "slow", []byte("previous"))
	missing(t, s, "slow-new")
}

func testCancelledContext(t *testing.T, s objstore.Store) {
	put(t, s, "here", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, "new", strings.NewReader("x"), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: got %v, want context.Canceled", err)
	}
	if rc, err := s.Get(ctx, "here"); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := s.Stat(ctx, "here"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: got %v, want context.Canceled", err)
	}
	if err := s.Delete(ctx, "here"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context: got %v, want context.Canceled", err)
	}
	err := s.List(ctx, "", func(objstore.Info) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: got %v, want context.Canceled", err)
	}
	missing(t, s, "new")
	check(t, s, "here", []byte("x"))
}
