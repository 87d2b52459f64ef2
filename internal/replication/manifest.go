package replication

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// ManifestVersion is the current manifest format version.
const ManifestVersion = 1

// Entry types.
const (
	TypeDir     = "dir"
	TypeFile    = "file"
	TypeSymlink = "symlink"
)

// Manifest describes one snapshot of a directory tree. Entries are in walk
// order: a directory comes before its contents, and the root is the entry
// with Path ".".
type Manifest struct {
	Version int         `json:"version"`
	Created time.Time   `json:"created"`
	Chunker ChunkParams `json:"chunker"`
	Entries []Entry     `json:"entries"`
}

// ChunkRef is one chunk of a file, in order.
type ChunkRef struct {
	ID   ID    `json:"id"`
	Size int64 `json:"size"`
}

// Entry is one file, directory or symbolic link.
type Entry struct {
	Path   string            `json:"path"` // slash-separated, relative to the root
	Type   string            `json:"type"`
	Mode   uint32            `json:"mode"` // permission, setuid, setgid and sticky bits (07777)
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	MTime  int64             `json:"mtime_ns"`
	Size   int64             `json:"size,omitempty"`
	Target string            `json:"target,omitempty"`  // symlink target
	LinkTo string            `json:"link_to,omitempty"` // hard link to an earlier file entry
	Chunks []ChunkRef        `json:"chunks,omitempty"`
	Xattrs map[string][]byte `json:"xattrs,omitempty"`
	// Source identity, used to skip unchanged files in the next snapshot.
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	CTime int64  `json:"ctime_ns,omitempty"`
}

// ErrBadManifest is wrapped by every manifest validation error.
var ErrBadManifest = errors.New("bad manifest")

// maxManifestLen bounds what DecodeManifest reads.
const maxManifestLen = 1 << 30

// Encode writes the manifest as JSON.
func (m *Manifest) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return nil
}

// DecodeManifest reads and validates a manifest. Validation rejects paths
// that could escape the restore root, duplicate paths, entries whose parent
// directory is missing or comes later, hard links to anything but an earlier
// file, and chunk lists that do not add up to the file size.
func DecodeManifest(r io.Reader) (*Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxManifestLen+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > maxManifestLen {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadManifest, maxManifestLen)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's invariants (see DecodeManifest).
func (m *Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadManifest}, a...)...)
	}
	if m.Version != ManifestVersion {
		return bad("version %d, want %d", m.Version, ManifestVersion)
	}
	if err := m.Chunker.Validate(); err != nil {
		return bad("%w", err)
	}
	if len(m.Entries) == 0 || m.Entries[0].Path != "." || m.Entries[0].Type != TypeDir {
		return bad("first entry must be the root directory \".\"")
	}
	seen := make(map[string]string, len(m.Entries))
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Mode&^0o7777 != 0 {
			return bad("%q: mode %o has bits outside 07777", e.Path, e.Mode)
		}
		if i > 0 {
			if e.Path == "." || !validPath(e.Path) {
				return bad("unsafe or unclean path %q", e.Path)
			}
			if _, dup := seen[e.Path]; dup {
				return bad("duplicate path %q", e.Path)
			}
			if seen[path.Dir(e.Path)] != TypeDir {
				return bad("%q: parent directory is not an earlier entry", e.Path)
			}
		}
		switch e.Type {
		case TypeDir:
			if e.Size != 0 || len(e.Chunks) != 0 || e.Target != "" || e.LinkTo != "" {
				return bad("%q: directory with file or link fields", e.Path)
			}
		case TypeSymlink:
			if e.Target == "" || len(e.Chunks) != 0 || e.LinkTo != "" || strings.IndexByte(e.Target, 0) >= 0 {
				return bad("%q: symlink needs a target and nothing else", e.Path)
			}
		case TypeFile:
			if e.Target != "" {
				return bad("%q: file with a symlink target", e.Path)
			}
			if e.LinkTo != "" {
				if seen[e.LinkTo] != TypeFile || len(e.Chunks) != 0 {
					return bad("%q: hard link to %q, which is not an earlier file", e.Path, e.LinkTo)
				}
				break
			}
			var sum int64
			for _, c := range e.Chunks {
				if c.Size <= 0 || c.Size > int64(m.Chunker.Max) {
					return bad("%q: chunk %s has size %d", e.Path, c.ID, c.Size)
				}
				sum += c.Size
			}
			if sum != e.Size {
				return bad("%q: chunks add up to %d bytes, size is %d", e.Path, sum, e.Size)
			}
		default:
			return bad("%q: unknown type %q", e.Path, e.Type)
		}
		seen[e.Path] = e.Type
		if e.LinkTo != "" {
			seen[e.Path] = "link"
		}
	}
	return nil
}

func validPath(p string) bool {
	if p == "" || p == ".." || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") ||
		strings.IndexByte(p, 0) >= 0 {
		return false
	}
	return true
}

// Stats sums a manifest: entries by type, file bytes, and distinct chunks.
func (m *Manifest) Stats() (files, dirs, symlinks int, bytes int64, chunks int) {
	ids := make(map[ID]struct{})
	for _, e := range m.Entries {
		switch {
		case e.Type == TypeDir:
			dirs++
		case e.Type == TypeSymlink:
			symlinks++
		case e.LinkTo == "":
			files++
			bytes += e.Size
			for _, c := range e.Chunks {
				ids[c.ID] = struct{}{}
			}
		default:
			files++
		}
	}
	return files, dirs, symlinks, bytes, len(ids)
}
