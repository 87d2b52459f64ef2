// Package s3 implements objstore.Store over any S3-compatible server
// (AWS S3, MinIO, Ceph RGW, versitygw, ...) with minio-go, addressing
// buckets path-style so that plain host:port endpoints work without
// wildcard DNS.
//
// Objects live in one bucket, optionally under a key prefix, so several
// stores can share a bucket. A single S3 PUT (or a completed multipart
// upload) is atomic, which gives Put its all-or-nothing guarantee.
// Retries are minio-go's defaults.
package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/poolctl/poolctl/internal/objstore"
)

var _ objstore.Store = (*Store)(nil)

// streamPartSize is the multipart part size used when Put does not know
// the object's size: minio-go buffers one part in memory, and its own
// default for unknown sizes is over 500 MiB.
const streamPartSize = 16 << 20

// Config says where a Store keeps its objects.
type Config struct {
	// Endpoint is the server's host:port, or a URL whose scheme (http or
	// https) then decides UseTLS.
	Endpoint string
	Bucket   string
	// Prefix, if set, is put before every key, e.g. "poolctl/" (a "/" is
	// appended if missing). It counts against S3's 1,024-byte limit on
	// names: longer keys are refused with objstore.ErrInvalidKey.
	Prefix    string
	AccessKey string
	SecretKey string
	Region    string // optional; "" lets minio-go discover it
	UseTLS    bool
	// CAPEM, if set, holds the PEM certificates trusted for the server
	// instead of the system's roots.
	CAPEM []byte
	// CreateBucket makes New create the bucket if it does not exist.
	CreateBucket bool
}

// Store is an objstore.Store over an S3 bucket.
type Store struct {
	client *minio.Client
	bucket string
	prefix string
}

// New connects to the server described by cfg. With cfg.CreateBucket it
// makes the bucket if missing; otherwise it makes no request.
func New(ctx context.Context, cfg Config) (*Store, error) {
	endpoint, secure, err := parseEndpoint(cfg.Endpoint, cfg.UseTLS)
	if err != nil {
		return nil, err
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3 object store: no bucket")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 object store: prefix: %w", err)
		}
		prefix += "/"
	}
	opts := &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, errors.New("s3 object store: CAPEM holds no certificate")
		}
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, fmt.Errorf("s3 object store: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	client, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 object store: %w", err)
	}
	s := &Store{client: client, bucket: cfg.Bucket, prefix: prefix}
	if cfg.CreateBucket {
		if err := s.createBucket(ctx, cfg.Region); err != nil {
			return nil, fmt.Errorf("s3 object store: bucket %q: %w", cfg.Bucket, err)
		}
	}
	return s, nil
}

func parseEndpoint(endpoint string, useTLS bool) (hostport string, secure bool, err error) {
	if !strings.Contains(endpoint, "://") {
		if endpoint == "" {
			return "", false, errors.New("s3 object store: no endpoint")
		}
		return endpoint, useTLS, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3 object store: endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return "", false, fmt.Errorf("s3 object store: endpoint %q: want host:port or http(s)://host:port", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

func (s *Store) createBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil || ok {
		return err
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil // created concurrently
	}
	return err
}

// Bucket returns the bucket the Store uses.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix (ending in "/"), or "".
func (s *Store) Prefix() string { return s.prefix }

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if size < -1 {
		return fmt.Errorf("put %q: negative size %d", key, size)
	}
	body := objstore.Body(ctx, r, size)
	if size == 0 {
		// minio-go does not read an empty body: check it is empty here.
		if _, err := body.Read(make([]byte, 1)); err != io.EOF {
			return fmt.Errorf("put %q: %w", key, err)
		}
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		opts.PartSize = streamPartSize
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, body, size, opts)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, withContext(ctx, err))
	}
	return nil
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	// One plain GET: Client.GetObject would send a HEAD first and then a
	// GET conditional on the ETag, which fails if a Put lands in between.
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, mapErr(ctx, err))
	}
	return body, nil
}

// Stat implements objstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return objstore.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return objstore.Info{}, fmt.Errorf("stat %q: %w", key, mapErr(ctx, err))
	}
	return objstore.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements objstore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(mapErr(ctx, err), objstore.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, withContext(ctx, err))
	}
	return nil
}

// List implements objstore.Store. S3 lists keys in UTF-8 binary order,
// which is the lexical byte order the contract asks for.
func (s *Store) List(ctx context.Context, prefix string, fn func(objstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	// Cancelling lctx when fn stops the listing ends minio-go's goroutine.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objects := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{
		Prefix:    s.prefix + prefix,
		Recursive: true,
	})
	for oi := range objects {
		if oi.Err != nil {
			return fmt.Errorf("list %q: %w", prefix, withContext(ctx, oi.Err))
		}
		key := strings.TrimPrefix(oi.Key, s.prefix)
		if objstore.ValidateKey(key) != nil {
			continue // not written through a Store, e.g. a "directory" marker
		}
		if err := fn(objstore.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

func (s *Store) check(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	if n := len(s.prefix) + len(key); n > objstore.MaxKeyLen {
		return fmt.Errorf("%w %q: %d bytes with the store's prefix, S3 allows %d",
			objstore.ErrInvalidKey, key, n, objstore.MaxKeyLen)
	}
	return ctx.Err()
}

// mapErr turns S3's "no such key" into objstore.ErrNotExist, keeping the
// original error in the chain.
func mapErr(ctx context.Context, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%w (%w)", objstore.ErrNotExist, err)
	}
	return withContext(ctx, err)
}

// withContext makes sure an error caused by a cancelled or expired context
// matches ctx.Err() with errors.Is, whatever minio-go made of it.
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
