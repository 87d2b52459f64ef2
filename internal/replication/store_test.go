package replication

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestChunkStores runs the ChunkStore contract against each implementation.
func TestChunkStores(t *testing.T) {
	dir, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]ChunkStore{"mem": NewMemStore(), "dir": dir} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			id := testCodec(t, 1).ID([]byte("a"))
			if has, err := s.Has(ctx, id); err != nil || has {
				t.Fatalf("Has on an empty store = %v, %v; want false, nil", has, err)
			}
			if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of a missing chunk: got %v, want ErrNotFound", err)
			}
			data := []byte("stored bytes")
			for range 2 { // Put is idempotent
				if err := s.Put(ctx, id, data); err != nil {
					t.Fatal(err)
				}
			}
			data[0] = 'X' // the store must not keep the caller's slice
			if has, err := s.Has(ctx, id); err != nil || !has {
				t.Fatalf("Has after Put = %v, %v; want true, nil", has, err)
			}
			got, err := s.Get(ctx, id)
			if err != nil || !bytes.Equal(got, []byte("stored bytes")) {
				t.Fatalf("Get = %q, %v; want %q", got, err, "stored bytes")
			}
			if f, ok := s.(Flusher); ok {
				if err := f.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
