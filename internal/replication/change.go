package replication

// Change compares a snapshot of a tree with the previous manifest of the
// same tree. It is what a guard against replicating a disaster (mass
// deletion, encryption by ransomware) weighs before the copy elsewhere is
// replaced: how many of the files that were there are gone or hold other
// content now, and how many of those files' bytes were replaced by data
// that does not compress.
type Change struct {
	FilesBefore  int   // regular files of the previous manifest
	FilesDeleted int   // of those, no longer a regular file at their path
	FilesChanged int   // of those, a regular file with other content now
	BytesBefore  int64 // bytes of the previous manifest's regular files
	// BytesIncompressible are the bytes of the changed files' new content
	// whose chunks did not compress when stored by this snapshot (chunks
	// the store had already are not counted).
	BytesIncompressible int64
}

// Compare returns the change from prev to cur; incompressible holds the
// chunks of cur that were stored uncompressed. Files are matched by path
// and compared by content (their chunk lists, through hard links), so a
// file only touched is unchanged and a renamed file counts as deleted.
func Compare(prev, cur *Manifest, incompressible map[ID]struct{}) Change {
	var c Change
	if prev == nil || cur == nil {
		return c
	}
	now := files(cur)
	before := files(prev)
	for p, old := range before {
		c.FilesBefore++
		c.BytesBefore += sizeOf(old)
		e, ok := now[p]
		if !ok {
			c.FilesDeleted++
			continue
		}
		if sameChunks(old, e) {
			continue
		}
		c.FilesChanged++
		for _, ch := range e {
			if _, ok := incompressible[ch.ID]; ok {
				c.BytesIncompressible += ch.Size
			}
		}
	}
	return c
}

// files maps the regular files of m to their chunk lists, with hard links
// resolved to the file they link to.
func files(m *Manifest) map[string][]ChunkRef {
	out := make(map[string][]ChunkRef, len(m.Entries))
	for _, e := range m.Entries {
		if e.Type != TypeFile {
			continue
		}
		if e.LinkTo != "" {
			out[e.Path] = out[e.LinkTo]
			continue
		}
		out[e.Path] = e.Chunks
	}
	return out
}

func sizeOf(cs []ChunkRef) int64 {
	var n int64
	for _, c := range cs {
		n += c.Size
	}
	return n
}

func sameChunks(a, b []ChunkRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
