package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ErrNotFound is returned (wrapped) by ChunkStore.Get for a missing chunk.
var ErrNotFound = errors.New("chunk not found")

// ChunkStore holds encoded chunks by ID. Implementations must be safe for
// concurrent use. Put is idempotent: storing an ID twice keeps one copy,
// and a Put that returns nil is visible to later Get calls and durable —
// or, for a store that also implements Flusher, durable once Flush returns. Get returns an
// error wrapping ErrNotFound when the chunk is absent; the returned slice is
// owned by the caller. Put must not keep data after it returns. Has reports
// presence without reading the chunk.
type ChunkStore interface {
	Has(ctx context.Context, id ID) (bool, error)
	Put(ctx context.Context, id ID, data []byte) error
	Get(ctx context.Context, id ID) ([]byte, error)
}

// Flusher is implemented by stores that batch durability: after Flush
// returns nil, every earlier successful Put survives a crash. Snapshot calls
// Flush before it returns a manifest.
type Flusher interface {
	Flush(ctx context.Context) error
}

var (
	_ Flusher    = (*DirStore)(nil)
	_ ChunkStore = (*MemStore)(nil)
	_ ChunkStore = (*DirStore)(nil)
)

// MemStore is an in-memory ChunkStore for tests.
type MemStore struct {
	mu sync.Mutex
	m  map[ID][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: make(map[ID][]byte)} }

// Has implements ChunkStore.
func (s *MemStore) Has(_ context.Context, id ID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	return ok, nil
}

// Put implements ChunkStore.
func (s *MemStore) Put(_ context.Context, id ID, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = append([]byte(nil), data...)
	return nil
}

// Get implements ChunkStore.
func (s *MemStore) Get(_ context.Context, id ID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", id, ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

// Len returns the number of stored chunks.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Corrupt flips one byte of a stored chunk (for tests); it reports whether
// the chunk existed.
func (s *MemStore) Corrupt(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if ok {
		b[len(b)/2] ^= 0xff
	}
	return ok
}

// DirStore keeps chunks as files under a directory, fanned out by the first
// two hex digits of the ID: DIR/ab/abcdef…. Writes go to a temporary file
// that is renamed into place; Flush makes them durable with one syncfs(2)
// instead of an fsync per chunk.
type DirStore struct {
	dir string
}

// NewDirStore returns a store rooted at dir, creating it if needed.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chunk store %s: %w", dir, err)
	}
	return &DirStore{dir: dir}, nil
}

// Path returns the file that holds chunk id.
func (s *DirStore) Path(id ID) string {
	h := id.String()
	return filepath.Join(s.dir, h[:2], h)
}

// Has implements ChunkStore.
func (s *DirStore) Has(_ context.Context, id ID) (bool, error) {
	_, err := os.Stat(s.Path(id))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("chunk %s: %w", id, err)
	}
	return true, nil
}

// Put implements ChunkStore.
func (s *DirStore) Put(_ context.Context, id ID, data []byte) error {
	p := s.Path(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("chunk %s: %w", id, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("chunk %s: %w", id, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("chunk %s: put: %w", id, err)
	}
	return nil
}

// Get implements ChunkStore.
func (s *DirStore) Get(_ context.Context, id ID) ([]byte, error) {
	b, err := os.ReadFile(s.Path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("chunk %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id, err)
	}
	return b, nil
}

// Flush implements Flusher: it flushes the filesystem holding the store.
func (s *DirStore) Flush(context.Context) error {
	if err := syncFS(s.dir); err != nil {
		return fmt.Errorf("chunk store %s: %w", s.dir, err)
	}
	return nil
}
