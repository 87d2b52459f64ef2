package replication

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"lukechampine.com/blake3"
)

// ID names a chunk: the keyed BLAKE3-256 hash of its plaintext. Keying the
// hash with a per-pool secret keeps chunk names from revealing content.
type ID [32]byte

// String returns the ID in lower-case hex, as used in store keys.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a 64-digit hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("chunk id %.70q: want 64 hex digits", b)
	}
	if _, err := hex.Decode(id[:], b); err != nil {
		return fmt.Errorf("chunk id %q: %w", b, err)
	}
	return nil
}

// ParseID parses a hex chunk ID.
func ParseID(s string) (ID, error) {
	var id ID
	err := id.UnmarshalText([]byte(s))
	return id, err
}

// ErrCorruptChunk is wrapped by every error about a chunk whose stored bytes
// fail authentication, do not decode, or do not hash to their ID.
var ErrCorruptChunk = errors.New("corrupt chunk")

// ChunkError names the chunk an operation failed on.
type ChunkError struct {
	ID  ID
	Op  string // "get", "put", "has", "decode"
	Err error
}

func (e *ChunkError) Error() string { return fmt.Sprintf("chunk %s: %s: %v", e.ID, e.Op, e.Err) }

// Unwrap returns the underlying error.
func (e *ChunkError) Unwrap() error { return e.Err }

// Encoded chunk layout, version 1:
//
//	magic "PCK" | version 0x01 | flags (bit 0: zstd) | 12-byte nonce | AES-256-GCM(payload)
//
// The associated data is the header (5 bytes) followed by the 32-byte chunk
// ID, so a chunk stored under another ID, or with its flags flipped, fails
// authentication. AES-256-GCM was chosen over XChaCha20-Poly1305 because it
// is in the standard library and hardware-accelerated on the servers we run
// on; random 96-bit nonces are safe for the 2^32 chunks per key this allows.
const (
	headerLen   = 5
	nonceLen    = 12
	codecV1     = 1
	flagZstd    = 1
	maxPlainLen = 64 << 20
)

var magic = [3]byte{'P', 'C', 'K'}

// Keys are the per-pool secrets. Both are derived from one 32-byte pool key
// with DeriveKeys so that one secret has to be kept (encrypted) at rest.
type Keys struct {
	ID  [32]byte // keys the BLAKE3 chunk ID
	Enc [32]byte // AES-256-GCM key
}

// DeriveKeys derives the ID and encryption keys from a pool key.
func DeriveKeys(poolKey [32]byte) Keys {
	var k Keys
	blake3.DeriveKey(k.ID[:], "poolctl replication 2026 chunk id", poolKey[:])
	blake3.DeriveKey(k.Enc[:], "poolctl replication 2026 chunk encryption", poolKey[:])
	return k
}

// Codec hashes, compresses and encrypts chunks. It is safe for concurrent
// use; its zstd encoder and decoder are shared.
type Codec struct {
	idKey [32]byte
	aead  cipher.AEAD
	enc   *zstd.Encoder
	dec   *zstd.Decoder
}

// NewCodec returns a codec for the given keys.
func NewCodec(k Keys) (*Codec, error) {
	block, err := aes.NewCipher(k.Enc[:])
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, fmt.Errorf("codec: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxPlainLen), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("codec: zstd decoder: %w", err)
	}
	return &Codec{idKey: k.ID, aead: aead, enc: enc, dec: dec}, nil
}

// ID returns the chunk ID of plaintext.
func (c *Codec) ID(plain []byte) ID {
	h := blake3.New(32, c.idKey[:])
	_, _ = h.Write(plain)
	var id ID
	h.Sum(id[:0])
	return id
}

// Encode returns the stored form of a chunk with the given ID, appended to
// dst. Compression is skipped when it does not shrink the chunk.
func (c *Codec) Encode(dst []byte, id ID, plain []byte) ([]byte, error) {
	flags := byte(0)
	payload := plain
	if len(plain) > 64 {
		z := c.enc.EncodeAll(plain, make([]byte, 0, len(plain)))
		if len(z) < len(plain) {
			payload, flags = z, flagZstd
		}
	}
	start := len(dst)
	dst = append(dst, magic[0], magic[1], magic[2], codecV1, flags)
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("chunk %s: nonce: %w", id, err)
	}
	dst = append(dst, nonce[:]...)
	ad := aad(dst[start:start+headerLen], id)
	return c.aead.Seal(dst, nonce[:], payload, ad[:]), nil
}

// Compressed reports whether a stored chunk (as Encode returns it) holds
// compressed data: false when compression did not shrink the chunk, the sign
// of random or encrypted content, or when it was too small to try.
func Compressed(stored []byte) bool { return len(stored) >= headerLen && stored[4]&flagZstd != 0 }

func aad(header []byte, id ID) (ad [headerLen + 32]byte) {
	copy(ad[:], header)
	copy(ad[headerLen:], id[:])
	return ad
}

// Decode authenticates, decrypts and decompresses a stored chunk and checks
// that its plaintext hashes to id. Every failure wraps ErrCorruptChunk in a
// *ChunkError naming the chunk.
func (c *Codec) Decode(id ID, stored []byte) ([]byte, error) {
	fail := func(format string, a ...any) error {
		return &ChunkError{ID: id, Op: "decode", Err: fmt.Errorf("%w: "+format, append([]any{ErrCorruptChunk}, a...)...)}
	}
	if len(stored) < headerLen+nonceLen+c.aead.Overhead() {
		return nil, fail("%d bytes is shorter than any chunk", len(stored))
	}
	if [3]byte(stored[:3]) != magic {
		return nil, fail("bad magic %q", stored[:3])
	}
	if stored[3] != codecV1 {
		return nil, fail("unknown format version %d", stored[3])
	}
	flags := stored[4]
	if flags&^flagZstd != 0 {
		return nil, fail("unknown flags %#x", flags)
	}
	ad := aad(stored[:headerLen], id)
	nonce := stored[headerLen : headerLen+nonceLen]
	payload, err := c.aead.Open(nil, nonce, stored[headerLen+nonceLen:], ad[:])
	if err != nil {
		return nil, fail("authentication failed (wrong key, damaged, or stored under another id)")
	}
	plain := payload
	if flags&flagZstd != 0 {
		plain, err = c.dec.DecodeAll(payload, nil)
		if err != nil {
			return nil, fail("zstd: %v", err)
		}
	}
	if got := c.ID(plain); got != id {
		return nil, fail("plaintext hashes to %s", got)
	}
	return plain, nil
}
