package objstore_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/local"
)

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"chunks/ab/abcdef0123", true},
		{"with space/ünïcode ☃", true},
		{"dots.../in.the/middle.", true},
		{strings.Repeat("s", 255), true},
		{strings.Repeat(strings.Repeat("s", 204)+"/", 4) + strings.Repeat("s", 204), true}, // 1,024 bytes
		{"", false},
		{"/abs", false},
		{"trailing/", false},
		{"double//slash", false},
		{".", false},
		{"..", false},
		{"a/../b", false},
		{"./a", false},
		{".hidden", false},
		{"a/.tmp-123", false},
		{"nul\x00", false},
		{"new\nline", false},
		{"del\x7f", false},
		{"bad\xffutf8", false},
		{"zero\u200bwidth", false},
		{strings.Repeat("s", 256), false},
		{strings.Repeat(strings.Repeat("s", 204)+"/", 4) + strings.Repeat("s", 205), false}, // 1,025 bytes
	} {
		err := objstore.ValidateKey(tc.key)
		if got := err == nil; got != tc.ok {
			t.Errorf("ValidateKey(%q): got error %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q): error %v does not wrap ErrInvalidKey", tc.key, err)
		}
	}
}

func TestBody(t *testing.T) {
	read := func(r io.Reader) (string, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	ctx := context.Background()
	for _, tc := range []struct {
		in   string
		size int64
		err  error
	}{
		{"hello", 5, nil},
		{"hello", -1, nil},
		{"", 0, nil},
		{"", -1, nil},
		{"hello", 4, objstore.ErrSizeMismatch},
		{"hello", 6, objstore.ErrSizeMismatch},
		{"x", 0, objstore.ErrSizeMismatch},
	} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.DataErrReader,
		} {
			got, err := read(objstore.Body(ctx, wrap(strings.NewReader(tc.in)), tc.size))
			if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.in) {
				t.Errorf("Body(%q, %d): got %q, %v, want %q, %v", tc.in, tc.size, got, err, tc.in, tc.err)
			}
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := read(objstore.Body(cctx, strings.NewReader("x"), 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Body with a cancelled context: got %v, want context.Canceled", err)
	}
}

func TestCopy(t *testing.T) {
	open := func() *local.Store {
		s, err := local.Open(filepath.Join(t.TempDir(), "objects"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	src, dst := open(), open()
	ctx := t.Context()
	if err := src.Put(ctx, "a/b", strings.NewReader("payload"), 7); err != nil {
		t.Fatal(err)
	}
	if err := objstore.Copy(ctx, dst, src, "a/b"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	rc, err := dst.Get(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "payload" {
		t.Fatalf("copied object: got %q, want \"payload\"", b)
	}
	if err := objstore.Copy(ctx, dst, src, "missing"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Copy of a missing object: got %v, want ErrNotExist", err)
	}
}
