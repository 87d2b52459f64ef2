package replication

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// ChunkParams are the FastCDC size parameters. Boundaries depend only on
// these parameters and the data, so a snapshot and a later restore (or a
// later snapshot) must use the same values; they are recorded in the Manifest.
type ChunkParams struct {
	Min int `json:"min"`
	Avg int `json:"avg"`
	Max int `json:"max"`
}

// DefaultChunkParams are 256 KiB minimum, 1 MiB average and 4 MiB maximum.
var DefaultChunkParams = ChunkParams{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20}

// Validate reports whether the parameters are usable: Avg a power of two of
// at least 64 bytes, Min < Avg < Max, and Max at most 64 MiB.
func (p ChunkParams) Validate() error {
	switch {
	case p.Avg < 64 || p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("chunk params: average %d is not a power of two >= 64", p.Avg)
	case p.Min <= 0 || p.Min >= p.Avg:
		return fmt.Errorf("chunk params: minimum %d not in (0, average %d)", p.Min, p.Avg)
	case p.Max <= p.Avg || p.Max > 64<<20:
		return fmt.Errorf("chunk params: maximum %d not in (average %d, 64 MiB]", p.Max, p.Avg)
	}
	return nil
}

// gearSeed seeds the deterministic gear table. Changing it changes every
// chunk boundary, so it is part of the on-disk format.
const gearSeed = 0x706f6f6c63746c31 // "poolctl1"

// gear is the FastCDC gear table: 256 pseudo-random 64-bit values generated
// by splitmix64 from gearSeed.
var gear = func() (t [256]uint64) {
	s := uint64(gearSeed)
	for i := range t {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t[i] = z ^ (z >> 31)
	}
	return t
}()

// Chunker splits a stream into content-defined chunks with normalized FastCDC
// (normalization level 2): below the average size a cut needs log2(avg)+2
// zero hash bits, above it log2(avg)-2, which concentrates chunk sizes around
// the average. The first Min bytes of a chunk are skipped without hashing.
//
// A Chunker owns a buffer of 2*Max bytes and can be reused with Reset.
type Chunker struct {
	p            ChunkParams
	maskS, maskL uint64
	r            io.Reader
	buf          []byte
	pos, end     int
	eof          bool
}

// NewChunker returns a chunker reading from r.
func NewChunker(r io.Reader, p ChunkParams) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b := bits.TrailingZeros(uint(p.Avg))
	c := &Chunker{
		p: p,
		// Use the high bits: bit k of the rolling hash depends on the
		// last k+1 bytes, so high bits see the widest window.
		maskS: ^uint64(0) << (64 - (b + 2)),
		maskL: ^uint64(0) << (64 - (b - 2)),
		buf:   make([]byte, 2*p.Max),
	}
	c.Reset(r)
	return c, nil
}

// Reset makes the chunker read a new stream, keeping its buffer.
func (c *Chunker) Reset(r io.Reader) {
	c.r, c.pos, c.end, c.eof = r, 0, 0, false
}

// Next returns the next chunk. The slice is only valid until the next call
// to Next or Reset. At the end of the stream it returns nil, io.EOF.
func (c *Chunker) Next() ([]byte, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	n := c.end - c.pos
	if n == 0 {
		return nil, io.EOF
	}
	cut := c.cut(c.buf[c.pos:c.end])
	chunk := c.buf[c.pos : c.pos+cut]
	c.pos += cut
	return chunk, nil
}

// fill makes sure at least Max bytes are buffered unless the stream ends.
func (c *Chunker) fill() error {
	if c.eof || c.end-c.pos >= c.p.Max {
		return nil
	}
	if c.pos >= c.p.Max || c.end == len(c.buf) {
		c.end = copy(c.buf, c.buf[c.pos:c.end])
		c.pos = 0
	}
	for c.end-c.pos < c.p.Max && c.end < len(c.buf) {
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		if errors.Is(err, io.EOF) {
			c.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("chunker: read: %w", err)
		}
	}
	return nil
}

// cut returns the length of the chunk at the start of b.
func (c *Chunker) cut(b []byte) int {
	n := len(b)
	if n <= c.p.Min {
		return n
	}
	if n > c.p.Max {
		n = c.p.Max
	}
	normal := c.p.Avg
	if n < normal {
		normal = n
	}
	var fp uint64
	i := c.p.Min
	for ; i < normal; i++ {
		fp = (fp << 1) + gear[b[i]]
		if fp&c.maskS == 0 {
			return i + 1
		}
	}
	for ; i < n; i++ {
		fp = (fp << 1) + gear[b[i]]
		if fp&c.maskL == 0 {
			return i + 1
		}
	}
	return n
}
