package replication

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const goodManifest = `{"version":1,"created":"2026-01-01T00:00:00Z","chunker":{"min":262144,"avg":1048576,"max":4194304},
"entries":[{"path":".","type":"dir","mode":493,"uid":0,"gid":0,"mtime_ns":1},
{"path":"a","type":"dir","mode":493,"uid":0,"gid":0,"mtime_ns":1},
{"path":"a/f","type":"file","mode":420,"uid":0,"gid":0,"mtime_ns":1,"size":3,
 "chunks":[{"id":"0000000000000000000000000000000000000000000000000000000000000000","size":3}]},
{"path":"a/h","type":"file","mode":420,"uid":0,"gid":0,"mtime_ns":1,"size":3,"link_to":"a/f"},
{"path":"l","type":"symlink","mode":511,"uid":0,"gid":0,"mtime_ns":1,"target":"a/f"}]}`

func TestDecodeManifest(t *testing.T) {
	if _, err := DecodeManifest(strings.NewReader(goodManifest)); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	bad := map[string][2]string{
		"version":          {`"version":1`, `"version":2`},
		"escape":           {`"path":"a/f"`, `"path":"../f"`},
		"absolute":         {`"path":"a/f"`, `"path":"/etc/f"`},
		"unclean":          {`"path":"a/f"`, `"path":"a/./f"`},
		"size mismatch":    {`"mtime_ns":1,"size":3,`, `"mtime_ns":1,"size":4,`},
		"link to missing":  {`"link_to":"a/f"`, `"link_to":"a/x"`},
		"under symlink":    {`"path":"a/h"`, `"path":"l/h"`},
		"unknown type":     {`"type":"symlink"`, `"type":"fifo"`},
		"mode bits":        {`"mode":420`, `"mode":99999`},
		"unknown field":    {`"gid":0,"mtime_ns":1}`, `"gid":0,"mtime_ns":1,"evil":1}`},
		"bad chunk id":     {`"id":"00000000`, `"id":"zz000000`},
		"bad chunker":      {`"avg":1048576`, `"avg":1000000`},
		"oversized chunk":  {`"size":3}]`, `"size":5000000}]`},
		"dir with content": {`"path":"a","type":"dir",`, `"path":"a","type":"dir","size":1,`},
	}
	for name, r := range bad {
		in := strings.Replace(goodManifest, r[0], r[1], 1)
		if in == goodManifest {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, err := DecodeManifest(strings.NewReader(in)); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

func FuzzManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"chunker":{"min":1,"avg":64,"max":128},"entries":[{"path":".","type":"dir"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A manifest that decodes must re-encode and decode to the same.
		var buf bytes.Buffer
		if err := m.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeManifest(&buf); err != nil {
			t.Fatalf("re-decoding a valid manifest: %v", err)
		}
		for _, e := range m.Entries[1:] {
			if !validPath(e.Path) {
				t.Fatalf("accepted unsafe path %q", e.Path)
			}
		}
	})
}
