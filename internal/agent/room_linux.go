package agent

import (
	"fmt"
	"syscall"
)

func statRoomOS(path string) (fsRoom, bool, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return fsRoom{}, false, fmt.Errorf("statfs %s: %w", path, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fsRoom{}, false, fmt.Errorf("stat %s: %w", path, err)
	}
	bs := int64(fs.Bsize)
	return fsRoom{dev: st.Dev, blockSize: bs,
		totalBytes: int64(fs.Blocks) * bs, freeBytes: int64(fs.Bavail) * bs,
		totalInodes: int64(fs.Files), freeInodes: int64(fs.Ffree)}, true, nil
}
