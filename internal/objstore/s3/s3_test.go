package s3_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/objstoretest"
	"github.com/poolctl/poolctl/internal/objstore/s3"
)

func newStore(t *testing.T, srv *objstoretest.S3Server, bucket, prefix string) *s3.Store {
	t.Helper()
	s, err := s3.New(t.Context(), s3.Config{
		Endpoint:     "http://" + srv.Endpoint,
		Bucket:       bucket,
		Prefix:       prefix,
		AccessKey:    srv.AccessKey,
		SecretKey:    srv.SecretKey,
		CreateBucket: true,
	})
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return s
}

// TestConformance runs the suite against versitygw, each subtest in a new
// bucket. (Without a prefix: the suite stores keys of the longest length
// allowed, which a prefix would push past S3's limit. TestPrefixes covers
// prefixes.)
func TestConformance(t *testing.T) {
	srv := objstoretest.StartVersityGW(t)
	var n atomic.Int32
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return newStore(t, srv, fmt.Sprintf("conformance-%d", n.Add(1)), "")
	})
}

// TestPrefixes checks that stores sharing a bucket under different
// prefixes do not see each other's objects.
func TestPrefixes(t *testing.T) {
	srv := objstoretest.StartVersityGW(t)
	a := newStore(t, srv, "shared", "a")
	b := newStore(t, srv, "shared", "b/")
	root := newStore(t, srv, "shared", "")
	ctx := t.Context()
	for _, s := range []*s3.Store{a, b} {
		if err := s.Put(ctx, "k", strings.NewReader(s.Prefix()), int64(len(s.Prefix()))); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := objstore.Exists(ctx, root, "k"); err != nil || ok {
		t.Fatalf("Exists(k) without a prefix: got %v, %v, want false, nil", ok, err)
	}
	var got []string
	err := root.List(ctx, "", func(i objstore.Info) error { got = append(got, i.Key); return nil })
	if err != nil || strings.Join(got, " ") != "a/k b/k" {
		t.Fatalf("List without a prefix: got %q, %v, want [a/k b/k]", got, err)
	}
	long := strings.Repeat("x", objstore.MaxSegmentLen) + "/" + strings.Repeat("y", objstore.MaxKeyLen-objstore.MaxSegmentLen-2)
	if err := a.Put(ctx, long, strings.NewReader("x"), 1); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("Put of a key too long with the prefix: got %v, want ErrInvalidKey", err)
	}
	if err := a.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if ok, err := objstore.Exists(ctx, b, "k"); err != nil || !ok {
		t.Fatalf("b's k after deleting a's: got %v, %v, want true, nil", ok, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []s3.Config{
		{Bucket: "b"},
		{Endpoint: "127.0.0.1:1"},
		{Endpoint: "ftp://127.0.0.1:1", Bucket: "b"},
		{Endpoint: "http://127.0.0.1:1/path", Bucket: "b"},
		{Endpoint: "127.0.0.1:1", Bucket: "b", Prefix: "a/../b"},
		{Endpoint: "127.0.0.1:1", Bucket: "b", CAPEM: []byte("not PEM")},
	} {
		if _, err := s3.New(t.Context(), cfg); err == nil {
			t.Errorf("New(%+v): got no error", cfg)
		}
	}
}
