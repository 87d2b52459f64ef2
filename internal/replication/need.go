package replication

import "path/filepath"

// RestoreNeed is what restoring a manifest takes from the filesystem
// holding its target. Restore builds the new tree in a staging directory
// beside the previous copy and swaps the two at the end, so until then both
// exist: the need is the new tree less what it shares with the previous
// copy (unchanged files, hard-linked rather than rewritten).
type RestoreNeed struct {
	// Bytes is the apparent size of the files to write.
	Bytes int64
	// Overhead is what blocks add to Bytes: every written file rounded up
	// to whole blocks, and one block per directory and symbolic link.
	Overhead int64
	// Inodes counts the files written, the directories and the symbolic
	// links. Kept files and hard links inside the tree take no new inode.
	Inodes int64
	// Files is the number of files written.
	Files int
	// KeptFiles unchanged files (KeptBytes) are hard-linked from the
	// previous copy: they take neither blocks nor inodes.
	KeptFiles int
	KeptBytes int64
}

// Add adds what m needs to n (two trees on one filesystem).
func (n *RestoreNeed) Add(m RestoreNeed) {
	n.Bytes += m.Bytes
	n.Overhead += m.Overhead
	n.Inodes += m.Inodes
	n.Files += m.Files
	n.KeptFiles += m.KeptFiles
	n.KeptBytes += m.KeptBytes
}

// Total is Bytes plus Overhead.
func (n RestoreNeed) Total() int64 { return n.Bytes + n.Overhead }

// NeedToRestore returns what restoring m at target takes, given prev, the
// manifest last restored there (nil: none, every file is written), and the
// filesystem's block size (at least 512 is assumed). It checks the files of
// target as Restore does before linking them, so the figure holds for the
// restore that follows while the target is left alone meanwhile.
func NeedToRestore(m *Manifest, target string, prev *Manifest, blockSize int64) RestoreNeed {
	blockSize = max(blockSize, 512)
	blocks := func(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }
	var byPath map[string]*Entry
	if prev != nil {
		byPath = make(map[string]*Entry, len(prev.Entries))
		for i := range prev.Entries {
			byPath[prev.Entries[i].Path] = &prev.Entries[i]
		}
		if abs, err := filepath.Abs(target); err == nil {
			target = abs
		}
	} else {
		target = ""
	}
	var n RestoreNeed
	for i := range m.Entries {
		e := &m.Entries[i]
		switch {
		case e.Type == TypeDir, e.Type == TypeSymlink:
			n.Inodes++
			n.Overhead += blockSize
		case e.Type != TypeFile, e.LinkTo != "":
		default:
			if _, ok := linkable(byPath[e.Path], e, target); ok {
				n.KeptFiles++
				n.KeptBytes += e.Size
				continue
			}
			n.Files++
			n.Inodes++
			n.Bytes += e.Size
			n.Overhead += blocks(e.Size) - e.Size
		}
	}
	return n
}
