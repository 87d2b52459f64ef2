package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts"
	"github.com/poolctl/poolctl/internal/replication"
)

// Preflight: a restore is refused before it writes anything when the
// filesystems it writes to cannot hold it, rather than filling the
// standby's disk halfway and failing there (with the hosting on that disk
// failing along). The need is computed from the manifests
// (replication.NeedToRestore: new files in whole blocks, directories and
// links; unchanged files are hard-linked and cost nothing), summed per
// filesystem, and must leave a reserve free.

// fsRoom is what a filesystem has.
type fsRoom struct {
	dev                     uint64 // device: targets on one filesystem add up
	blockSize               int64
	totalBytes, freeBytes   int64 // free for unprivileged users
	totalInodes, freeInodes int64 // 0 total: the filesystem has no inode limit (btrfs)
}

// statRoom reports the filesystem of path (an existing one); ok is false
// where the platform cannot tell, and the check is skipped.
var statRoom = statRoomOS

// reserve is what a restore must leave free: 2 % of the filesystem, at
// most 1 GiB; and 1 % of its inodes, at most 10,000.
func (f fsRoom) reserve() (bytes, inodes int64) {
	return min(f.totalBytes/50, 1<<30), min(f.totalInodes/100, 10000)
}

// restoreTarget is one tree a restore writes.
type restoreTarget struct {
	what, path string
	m, prev    *replication.Manifest
}

// existingAncestor is path or its nearest existing parent.
func existingAncestor(path string) string {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			return p
		}
	}
}

// preflightRestore checks that every filesystem the targets are on can take
// what is written there. It returns a line for the job's log.
func preflightRestore(account string, targets []restoreTarget) (string, error) {
	type fsNeed struct {
		room  fsRoom
		where []string
		need  replication.RestoreNeed
	}
	var order []uint64
	byDev := map[uint64]*fsNeed{}
	for _, t := range targets {
		if t.m == nil {
			continue
		}
		room, ok, err := statRoom(existingAncestor(t.path))
		if err != nil {
			return "", fmt.Errorf("preflight: %w", err)
		}
		if !ok {
			return "preflight: free space not checked on this platform", nil
		}
		n := replication.NeedToRestore(t.m, t.path, t.prev, room.blockSize)
		f := byDev[room.dev]
		if f == nil {
			f = &fsNeed{room: room}
			byDev[room.dev] = f
			order = append(order, room.dev)
		}
		f.where = append(f.where, t.what+" in "+t.path)
		f.need.Add(n)
	}
	var lines []string
	for _, dev := range order {
		f := byDev[dev]
		resBytes, resInodes := f.room.reserve()
		where := strings.Join(f.where, " and ")
		if f.need.Total()+resBytes > f.room.freeBytes {
			return "", fmt.Errorf("%s: restoring %s needs %s (%d files; %d unchanged files are kept) for the %s, and the filesystem has %s free; %s must stay free. Free space there, then retry",
				api.PreflightRefused, account, mib(f.need.Total()), f.need.Files, f.need.KeptFiles, where, mib(f.room.freeBytes), mib(resBytes))
		}
		if f.room.totalInodes > 0 && f.need.Inodes+resInodes > f.room.freeInodes {
			return "", fmt.Errorf("%s: restoring %s needs %d inodes for the %s, and the filesystem has %d free; %d must stay free. Remove files there (or grow its inode table), then retry",
				api.PreflightRefused, account, f.need.Inodes, where, f.room.freeInodes, resInodes)
		}
		inodes := "no inode limit"
		if f.room.totalInodes > 0 {
			inodes = fmt.Sprintf("%d of %d inodes free", f.room.freeInodes, f.room.totalInodes)
		}
		lines = append(lines, fmt.Sprintf("%s: needs %s and %d inodes (%d files written, %d unchanged kept); %s free, %s",
			where, mib(f.need.Total()), f.need.Inodes, f.need.Files, f.need.KeptFiles, mib(f.room.freeBytes), inodes))
	}
	return "preflight: " + strings.Join(lines, "; "), nil
}

// preflightDumps checks, before a snapshot starts, that the filesystem of
// the database dump directory dir can hold the account's dumps: as large
// as its tables and indexes (a provider that cannot tell skips the check).
func preflightDumps(ctx context.Context, p accounts.Provider, acct api.Account, dir string) (string, error) {
	sz, ok := p.(accounts.DatabaseSizer)
	if !ok {
		return "preflight: the size of the databases is not known to this provider; dump space not checked", nil
	}
	need, err := sz.DatabaseBytes(ctx, acct)
	if err != nil {
		return "preflight: the size of the databases could not be read (" + err.Error() + "); dump space not checked", nil
	}
	room, ok, err := statRoom(existingAncestor(dir))
	if err != nil {
		return "", fmt.Errorf("preflight: %w", err)
	}
	if !ok {
		return "preflight: free space not checked on this platform", nil
	}
	res, _ := room.reserve()
	if need+res > room.freeBytes {
		return "", fmt.Errorf("%s: the database dumps of %s need about %s (the size of their tables and indexes) in %s, and the filesystem has %s free; %s must stay free. Free space there (or move the agent's --data), then retry",
			api.PreflightRefused, acct.Name, mib(need), dir, mib(room.freeBytes), mib(res))
	}
	return fmt.Sprintf("preflight: the database dumps need about %s in %s; %s free", mib(need), dir, mib(room.freeBytes)), nil
}
