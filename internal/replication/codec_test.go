package replication

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testCodec(t testing.TB, seed byte) *Codec {
	t.Helper()
	c, err := NewCodec(DeriveKeys([32]byte{seed}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTrip(t *testing.T) {
	c := testCodec(t, 1)
	for _, plain := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("<?php echo 'hi'; ?>\n"), 5000), randBytes(9, 300000)} {
		id := c.ID(plain)
		enc, err := c.Encode(nil, id, plain)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(id, enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("round trip of %d bytes changed the data", len(plain))
		}
		if len(plain) > 1000 && len(enc) > len(plain)+headerLen+nonceLen+16 {
			t.Errorf("%d bytes encoded to %d", len(plain), len(enc))
		}
	}
}

func TestCodecKeyedIDs(t *testing.T) {
	a, b := testCodec(t, 1), testCodec(t, 2)
	if a.ID([]byte("same")) == b.ID([]byte("same")) {
		t.Error("different pool keys gave the same chunk id")
	}
}

func TestCodecRejects(t *testing.T) {
	c := testCodec(t, 1)
	plain := bytes.Repeat([]byte("hello world "), 1000)
	id := c.ID(plain)
	enc, err := c.Encode(nil, id, plain)
	if err != nil {
		t.Fatal(err)
	}
	other := c.ID([]byte("other"))
	flip := func(i int) []byte { b := append([]byte(nil), enc...); b[i] ^= 1; return b }
	cases := map[string]struct {
		codec *Codec
		id    ID
		data  []byte
	}{
		"flipped body":   {c, id, flip(len(enc) - 20)},
		"flipped flags":  {c, id, flip(4)},
		"bad magic":      {c, id, flip(0)},
		"substituted":    {c, other, enc},
		"wrong key":      {testCodec(t, 2), id, enc},
		"truncated":      {c, id, enc[:10]},
		"unknown format": {c, id, flip(3)},
	}
	for name, tc := range cases {
		_, err := tc.codec.Decode(tc.id, tc.data)
		var ce *ChunkError
		if !errors.Is(err, ErrCorruptChunk) || !errors.As(err, &ce) || ce.ID != tc.id {
			t.Errorf("%s: got %v, want a ChunkError wrapping ErrCorruptChunk", name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.id.String()) {
			t.Errorf("%s: error %q does not name the chunk", name, err)
		}
	}
}

func TestParseID(t *testing.T) {
	id := testCodec(t, 1).ID([]byte("x"))
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %v, %v", id, got, err)
	}
	for _, s := range []string{"", "zz", strings.Repeat("g", 64)} {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q): got no error", s)
		}
	}
}

func BenchmarkCodec(b *testing.B) {
	c := testCodec(b, 1)
	text := bytes.Repeat([]byte("<?php echo $post->title; ?> <div class=\"entry\">hello</div>\n"), (1<<20)/60)
	for name, plain := range map[string][]byte{"random": randBytes(5, 1<<20), "text": text} {
		b.Run(name+"/id", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				c.ID(plain)
			}
		})
		b.Run(name+"/encode", func(b *testing.B) {
			id := c.ID(plain)
			var buf []byte
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				buf, _ = c.Encode(buf[:0], id, plain)
			}
		})
	}
}
