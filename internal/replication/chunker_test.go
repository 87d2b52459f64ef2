package replication

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

func chunkAll(t testing.TB, data []byte, p ChunkParams) [][]byte {
	t.Helper()
	// A reader that returns short reads exercises the buffer refill.
	c, err := NewChunker(io.MultiReader(bytes.NewReader(data[:len(data)/3]), bytes.NewReader(data[len(data)/3:])), p)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), b...))
	}
}

func TestChunkerBoundsAndDistribution(t *testing.T) {
	p := DefaultChunkParams
	data := randBytes(1, 96<<20)
	chunks := chunkAll(t, data, p)
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatal("chunks do not reassemble the input")
	}
	var total int
	for i, c := range chunks {
		if len(c) > p.Max || (len(c) < p.Min && i != len(chunks)-1) {
			t.Fatalf("chunk %d has %d bytes, want [%d, %d]", i, len(c), p.Min, p.Max)
		}
		total += len(c)
	}
	mean := total / len(chunks)
	t.Logf("%d chunks, mean %d KiB", len(chunks), mean>>10)
	if mean < p.Avg/2 || mean > p.Avg*2 {
		t.Errorf("mean chunk size %d, want within 2x of %d", mean, p.Avg)
	}
	// Normalized chunking keeps most chunks in [avg/2, 2*avg].
	near := 0
	for _, c := range chunks {
		if len(c) >= p.Avg/2 && len(c) <= 2*p.Avg {
			near++
		}
	}
	if near*10 < len(chunks)*7 {
		t.Errorf("%d of %d chunks within [avg/2, 2avg], want >= 70%%", near, len(chunks))
	}
}

func TestChunkerDeterministicAndShiftResistant(t *testing.T) {
	p := DefaultChunkParams
	data := randBytes(2, 32<<20)
	a := chunkAll(t, data, p)
	b := chunkAll(t, data, p)
	if len(a) != len(b) {
		t.Fatalf("got %d then %d chunks from the same data", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("chunk %d differs between runs", i)
		}
	}
	// Insert 100 bytes early in the file: all but the first few chunks
	// should be found again.
	edited := append(append(append([]byte(nil), data[:5000]...), randBytes(3, 100)...), data[5000:]...)
	c := chunkAll(t, edited, p)
	seen := make(map[string]bool)
	for _, x := range a {
		seen[string(x)] = true
	}
	reused := 0
	for _, x := range c {
		if seen[string(x)] {
			reused++
		}
	}
	if reused < len(c)-3 {
		t.Errorf("after an insertion %d of %d chunks reused, want >= %d", reused, len(c), len(c)-3)
	}
}

func TestChunkerSmallInputs(t *testing.T) {
	p := ChunkParams{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}
	for _, n := range []int{0, 1, 1 << 10, 1<<10 + 1, 16 << 10, 16<<10 + 1, 100 << 10} {
		data := randBytes(uint64(n), n)
		chunks := chunkAll(t, data, p)
		if !bytes.Equal(bytes.Join(chunks, nil), data) {
			t.Errorf("%d bytes: chunks do not reassemble the input", n)
		}
		if n == 0 && len(chunks) != 0 {
			t.Errorf("empty input gave %d chunks", len(chunks))
		}
	}
}

func TestChunkParamsValidate(t *testing.T) {
	for _, p := range []ChunkParams{{}, {Min: 10, Avg: 100, Max: 1000}, {Min: 2048, Avg: 1024, Max: 4096}, {Min: 1, Avg: 1024, Max: 1024}} {
		if p.Validate() == nil {
			t.Errorf("%+v: got no error", p)
		}
	}
	if err := DefaultChunkParams.Validate(); err != nil {
		t.Error(err)
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randBytes(4, 64<<20)
	c, err := NewChunker(nil, DefaultChunkParams)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
	}
}
