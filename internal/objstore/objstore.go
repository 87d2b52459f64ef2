// Package objstore defines Store, the narrow interface through which
// poolctl keeps replication chunks, manifests and other blobs, and the
// rules every implementation shares: key syntax (ValidateKey), the
// not-found sentinel (ErrNotExist) and a few helpers built on the
// interface (Exists, Copy).
//
// Implementations live in subpackages named after what they wrap:
// objstore/local (a directory) and objstore/s3 (any S3-compatible server).
// objstore/objstoretest holds the conformance suite every implementation
// runs.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxKeyLen is the longest key, in bytes, that ValidateKey accepts. It
	// is S3's own limit.
	MaxKeyLen = 1024
	// MaxSegmentLen is the longest segment (the text between slashes), in
	// bytes, that ValidateKey accepts: the usual file-name limit.
	MaxSegmentLen = 255
)

var (
	// ErrNotExist is wrapped by the errors of Get and Stat when no object is
	// stored under the key. Match it with errors.Is.
	ErrNotExist = errors.New("object does not exist")

	// ErrInvalidKey is wrapped by the errors of every method given a key
	// that ValidateKey refuses.
	ErrInvalidKey = errors.New("invalid object key")

	// ErrSizeMismatch is wrapped by the error of Put when the reader yields
	// more or fewer bytes than the size it was given.
	ErrSizeMismatch = errors.New("object size does not match the declared size")
)

// Info describes a stored object.
type Info struct {
	Key     string    // the key it is stored under
	Size    int64     // length in bytes
	ModTime time.Time // when it was last written, as the backend reports it
}

// Store keeps objects (byte strings) under keys. Keys follow ValidateKey;
// every method refuses other keys with an error wrapping ErrInvalidKey,
// before touching the backend. Methods are safe for concurrent use and
// honour ctx: a cancelled context makes them return an error wrapping
// ctx.Err() (for Put, as soon as the next read of its reader returns).
//
// A key that is an object must not also be used as a directory of other
// keys (both "a" and "a/b"): file-system backends cannot hold both, so the
// outcome of trying is left to the backend.
type Store interface {
	// Put stores the bytes of r under key, replacing any object already
	// there. size is the exact length of r, or -1 when unknown; if r yields
	// a different number of bytes, Put fails with ErrSizeMismatch.
	//
	// Put is atomic: a concurrent or later Get sees either the whole
	// previous object (or none) or the whole new one, never a part, and a
	// Put that fails or is cancelled leaves the previous state untouched.
	// When Put returns nil the object is durable as far as the backend
	// can promise it.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// Get opens the object stored under key for reading. The caller must
	// close the reader. A missing object is an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat describes the object stored under key. A missing object is an
	// error wrapping ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes the object stored under key. Deleting a missing
	// object is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix (a plain
	// string prefix, not necessarily ending in "/"; "" lists everything),
	// in lexical byte order of the keys. If fn returns an error, List stops
	// and returns that error unchanged. Objects put or deleted while List
	// runs may or may not be reported.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// Object is a key and its bytes, for BatchPutter.
type Object struct {
	Key  string
	Data []byte
}

// BatchPutter is implemented by stores that keep many small objects faster
// together than one by one (the local directory store: one flush of the
// file system instead of two per object).
type BatchPutter interface {
	// PutBatch stores every object as Put would. Each object is atomic; all
	// are durable once PutBatch returns nil. After an error, any of them
	// may or may not be stored.
	PutBatch(ctx context.Context, objs []Object) error
}

// ValidateKey reports whether key may name an object, returning an error
// wrapping ErrInvalidKey if not. A key is a relative, slash-separated path
// of at most MaxKeyLen bytes of printable UTF-8 whose segments are not
// empty, are at most MaxSegmentLen bytes long and do not start with "."
// (which also rules out "." and ".."; local stores keep their temporary
// files under such names). Every Store applies it to every key it is
// given.
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return bad(fmt.Sprintf("unprintable character %U", r))
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return bad("empty path segment (leading, trailing or double slash)")
		case seg[0] == '.':
			return bad("path segment starts with a dot")
		case len(seg) > MaxSegmentLen:
			return bad(fmt.Sprintf("path segment longer than %d bytes", MaxSegmentLen))
		}
	}
	return nil
}

// Exists reports whether an object is stored under key.
func Exists(ctx context.Context, s Store, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// Copy copies the object stored under key in src to the same key in dst.
func Copy(ctx context.Context, dst, src Store, key string) error {
	info, err := src.Stat(ctx, key)
	if err != nil {
		return fmt.Errorf("copy %q: %w", key, err)
	}
	rc, err := src.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("copy %q: %w", key, err)
	}
	defer rc.Close()
	if err := dst.Put(ctx, key, rc, info.Size); err != nil {
		return fmt.Errorf("copy %q: %w", key, err)
	}
	return nil
}

// Body wraps the reader given to Put for a backend: every Read first checks
// ctx, and when size ≥ 0 the reader must yield exactly size bytes, or a Read
// returns an error wrapping ErrSizeMismatch. The mismatch is detected by the
// Read that returns the last declared byte, so a backend that stops reading
// after size bytes still sees it before it commits the object.
func Body(ctx context.Context, r io.Reader, size int64) io.Reader {
	return &body{ctx: ctx, r: r, size: size, left: size}
}

type body struct {
	ctx  context.Context
	r    io.Reader
	size int64 // declared size, or -1
	left int64 // bytes still expected when size ≥ 0
	read int64 // bytes read so far
}

func (b *body) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.size < 0 {
		n, err := b.r.Read(p)
		b.read += int64(n)
		return n, err
	}
	if b.left == 0 {
		return 0, b.probeEnd()
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		return n, fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, b.read, b.size)
	case err != nil && err != io.EOF:
		return n, err
	case b.left == 0:
		// Delivering the last declared byte: make sure nothing follows.
		if err := b.probeEnd(); err != io.EOF {
			return 0, err
		}
		return n, io.EOF
	}
	return n, nil
}

// probeEnd reads past the declared end; it returns io.EOF if the underlying
// reader is exhausted and an error otherwise.
func (b *body) probeEnd() error {
	var one [1]byte
	for {
		n, err := b.r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%w: more than the declared %d bytes", ErrSizeMismatch, b.size)
		}
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
}
