package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/replication"
	"github.com/poolctl/poolctl/internal/replication/replicationtest"
)

// fakeRoom makes statRoom report one filesystem with free bytes and inodes.
func fakeRoom(t *testing.T, free, inodes int64) {
	t.Helper()
	old := statRoom
	t.Cleanup(func() { statRoom = old })
	statRoom = func(string) (fsRoom, bool, error) {
		return fsRoom{dev: 1, blockSize: 4096, totalBytes: 100 << 30, freeBytes: free, totalInodes: 1 << 20, freeInodes: inodes}, true, nil
	}
}

// TestRestorePreflight: a restore that does not fit is refused before it
// prepares the account or writes a byte, naming what it needs and what is
// free; an incremental restore needs only what changed, since unchanged
// files are hard-linked from the previous copy.
func TestRestorePreflight(t *testing.T) {
	e := newReplEnv(t)
	files := genAccount(t, e.srcHome(), 150)
	s1, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	fakeRoom(t, 2<<20+(1<<30), 1<<20) // 2 MiB above the 1 GiB reserve
	_, err = e.restore(t.Context(), s1)
	if err == nil || !strings.Contains(err.Error(), "refused before writing anything") || !strings.Contains(err.Error(), "files in "+e.stbHome()) {
		t.Fatalf("restore of a ~6 MiB account with 2 MiB to spare: %v", err)
	}
	if e.stbProv.prepared != 0 {
		t.Fatal("the account was prepared before the refusal")
	}
	if _, err := os.Stat(e.stbHome()); !os.IsNotExist(err) {
		t.Fatalf("the standby's home exists after the refusal: %v", err)
	}

	fakeRoom(t, 100<<30, 100) // room, but no inodes
	if _, err := e.restore(t.Context(), s1); err == nil || !strings.Contains(err.Error(), "inodes") {
		t.Fatalf("restore without free inodes: %v", err)
	}

	fakeRoom(t, 100<<30, 1<<20)
	if _, err := e.restore(t.Context(), s1); err != nil {
		t.Fatal(err)
	}
	e.good(s1)
	if len(e.logged("preflight: files in ")) == 0 {
		t.Fatalf("no preflight line in the log:\n%s", strings.Join(e.logged(""), "\n"))
	}

	// Run 2 changes two small files: it fits in 2 MiB above the reserve.
	change(t, e.srcHome(), files, 2, 0, 1)
	s2, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fakeRoom(t, 2<<20+(1<<30), 1<<20)
	if _, err := e.restore(t.Context(), s2); err != nil {
		t.Fatalf("incremental restore with 2 MiB to spare: %v", err)
	}
	replicationtest.SameNodes(t, "standby after run 2", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
}

// TestPreflightOnRealFilesystem: a tmpfs of 4 MiB and 64 inodes, as the
// kernel reports it, refuses a 5 MiB tree and one of 100 files.
func TestPreflightOnRealFilesystem(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=64", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	room, ok, err := statRoomOS(dir)
	if err != nil || !ok || room.totalBytes != 4<<20 || room.totalInodes != 64 || room.freeBytes > room.totalBytes {
		t.Fatalf("statfs of the tmpfs: %+v %t %v", room, ok, err)
	}
	big := &replication.Manifest{Entries: []replication.Entry{{Path: "big", Type: replication.TypeFile, Size: 5 << 20}}}
	if _, err := preflightRestore("alice", []restoreTarget{{what: "files", path: filepath.Join(dir, "home", "alice"), m: big}}); err == nil || !strings.Contains(err.Error(), "free") {
		t.Fatalf("5 MiB into 4 MiB: %v", err)
	}
	many := &replication.Manifest{}
	for i := range 100 {
		many.Entries = append(many.Entries, replication.Entry{Path: "f" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Type: replication.TypeFile, Size: 10})
	}
	if _, err := preflightRestore("alice", []restoreTarget{{what: "files", path: dir, m: many}}); err == nil || !strings.Contains(err.Error(), "inodes") {
		t.Fatalf("100 files into 64 inodes: %v", err)
	}
	small := &replication.Manifest{Entries: []replication.Entry{{Path: "a", Type: replication.TypeFile, Size: 1 << 20}}}
	line, err := preflightRestore("alice", []restoreTarget{{what: "files", path: dir, m: small}})
	if err != nil || !strings.Contains(line, "inodes free") {
		t.Fatalf("1 MiB into 4 MiB: %q %v", line, err)
	}
}

// TestSnapshotPreflight: a snapshot whose database dumps would not fit in
// the agent's data directory is refused before it reads or uploads anything.
func TestSnapshotPreflight(t *testing.T) {
	e := newReplEnv(t)
	genAccount(t, e.srcHome(), 10)
	fakeRoom(t, 10<<10+(1<<30), 1<<20) // 10 KiB above the reserve; the dump is 42 KiB
	_, err := e.snapshot(t.Context())
	if err == nil || !strings.HasPrefix(err.Error(), api.PreflightRefused) || !strings.Contains(err.Error(), "database dumps of alice need about") {
		t.Fatalf("snapshot with no room for the dumps: %v", err)
	}
	if n := len(e.fc.keys("")); n != 0 {
		t.Fatalf("%d objects uploaded by a refused snapshot", n)
	}
	fakeRoom(t, 100<<30, 1<<20)
	if _, err := e.snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(e.logged("preflight: the database dumps need about")) == 0 {
		t.Fatal("no preflight line in the snapshot's log")
	}
}
