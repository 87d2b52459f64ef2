package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/replication"
	"github.com/poolctl/poolctl/internal/replication/replicationtest"
)

// replEnv is one protection (id 1) of account alice from a source agent
// to a standby agent that share a fake object store. It plays the server:
// it numbers runs, names the previous manifests and, after a good
// restore, drops the transient chunks.
type replEnv struct {
	fc                 *fakeClient
	src, stb           *replicator
	srcProv, stbProv   *fakeProvider
	srcData, stbData   string
	run                int64
	prevFiles, prevDBs string

	mu   sync.Mutex
	logs []string
}

func newReplEnv(t *testing.T) *replEnv {
	t.Helper()
	e := &replEnv{fc: newFakeClient(), srcProv: newFakeProvider(t), stbProv: newFakeProvider(t),
		srcData: t.TempDir(), stbData: t.TempDir()}
	e.src = newReplicator(e.fc, e.srcProv, e.srcData)
	e.stb = newReplicator(e.fc, e.stbProv, e.stbData)
	e.srcProv.accts["alice"] = api.Account{Name: "alice", Provider: api.ProviderLinux, Home: e.srcProv.Home("alice"),
		Databases: []string{"alice_wp"}, DBUsers: []string{"alice_u"}}
	e.srcProv.dumps["alice_wp"] = strings.Repeat("INSERT INTO wp_posts VALUES (1, 'hello');\n", 1000)
	return e
}

func (e *replEnv) log(line string) {
	e.mu.Lock()
	e.logs = append(e.logs, line)
	e.mu.Unlock()
}

// logged returns the log lines so far containing s.
func (e *replEnv) logged(s string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, l := range e.logs {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// snapshot runs the next run's snapshot on the source.
func (e *replEnv) snapshot(ctx context.Context) (api.SnapshotResult, error) {
	e.run++
	args := api.SnapshotArgs{Protection: 1, Run: e.run, Account: "alice", Prefix: "protections/1/", Databases: true,
		PreviousFiles: e.prevFiles, PreviousDatabases: e.prevDBs}
	out, err := e.src.snapshot(ctx, job(100+e.run, api.KindReplicationSnapshot, args), e.log)
	res, _ := out.(api.SnapshotResult)
	return res, err
}

// restore restores a snapshot on the standby.
func (e *replEnv) restore(ctx context.Context, s api.SnapshotResult) (api.RestoreResult, error) {
	args := api.RestoreArgs{Protection: 1, Run: e.run, Account: s.Account, Prefix: "protections/1/",
		FilesManifest: s.FilesManifest, DatabasesManifest: s.DatabasesManifest}
	out, err := e.stb.restore(ctx, job(200+e.run, api.KindReplicationRestore, args), e.log)
	res, _ := out.(api.RestoreResult)
	return res, err
}

// good records a successful restore as the server does: the manifests
// become the previous ones and the transient chunks are deleted.
func (e *replEnv) good(s api.SnapshotResult) {
	e.prevFiles, e.prevDBs = s.FilesManifest, s.DatabasesManifest
	e.dropChunks()
}

// dropChunks deletes the stored chunks.
func (e *replEnv) dropChunks() {
	e.fc.mu.Lock()
	defer e.fc.mu.Unlock()
	for k := range e.fc.objects {
		if strings.HasPrefix(k, "protections/1/chunks/") {
			delete(e.fc.objects, k)
		}
	}
}

// fullRun snapshots and restores, and fails the test on any error.
func (e *replEnv) fullRun(t *testing.T) (api.SnapshotResult, api.RestoreResult) {
	t.Helper()
	s, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatalf("snapshot run %d: %v", e.run, err)
	}
	r, err := e.restore(t.Context(), s)
	if err != nil {
		t.Fatalf("restore run %d: %v", e.run, err)
	}
	e.good(s)
	return s, r
}

func (e *replEnv) srcHome() string { return e.srcProv.Home("alice") }
func (e *replEnv) stbHome() string { return e.stbProv.Home("alice") }

// chunkKeys lists the chunks stored now.
func (e *replEnv) chunkKeys() []string { return e.fc.keys("protections/1/chunks/") }

// change rewrites small files idx with version v.
func change(t *testing.T, root string, files []string, v int, idx ...int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(v), 9))
	for _, i := range idx {
		if err := os.WriteFile(filepath.Join(root, files[i]), smallFile(rng, i, v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplicationRoundTrip(t *testing.T) {
	e := newReplEnv(t)
	files := genAccount(t, e.srcHome(), 150)

	// Run 1: everything is new.
	s1, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := s1.Stats
	if got := len(e.chunkKeys()); st.ChunksNew == 0 || st.ChunksNew != got || st.ChunksNew+st.ChunksReused != st.ChunksTotal {
		t.Errorf("run 1: got %d new chunks of %d (%d reused), %d stored, want every distinct chunk stored once", st.ChunksNew, st.ChunksTotal, st.ChunksReused, got)
	}
	r1, err := e.restore(t.Context(), s1)
	if err != nil {
		t.Fatal(err)
	}
	e.good(s1)
	replicationtest.SameNodes(t, "standby after run 1", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
	if st.FilesRead != st.Files-2 || st.FilesReused != 0 || st.Databases != 1 || st.DBUsers != 1 || st.BytesUploaded == 0 || st.SnapshotMS < 0 {
		t.Errorf("run 1 snapshot stats: got %+v, want every file but the 2 hard links read, 1 database and 1 user", st)
	}
	if s1.FilesManifest != "protections/1/manifests/run-1-files" || s1.DatabasesManifest != "protections/1/manifests/run-1-databases" || s1.Account.Name != "alice" {
		t.Errorf("run 1 result: got manifests %q %q account %q", s1.FilesManifest, s1.DatabasesManifest, s1.Account.Name)
	}
	if r1.Home != e.stbHome() || r1.Stats.ChunksFetched < st.ChunksNew || r1.Stats.BytesFetched == 0 || r1.Stats.BytesWritten < 6<<20 {
		t.Errorf("run 1 restore: got home %s, stats %+v, want %d chunks fetched at least", r1.Home, r1.Stats, st.ChunksNew)
	}
	if got, want := e.stbProv.loaded["alice_wp.sql"], e.srcProv.dumps["alice_wp"]; got != want {
		t.Errorf("run 1 database dump loaded on the standby: got %d bytes, want %d", len(got), len(want))
	}
	for _, want := range []string{"full snapshot", "files: ", "databases: ", "files manifest stored", "snapshot done", "restore done", "loaded 1 database(s)"} {
		if len(e.logged(want)) == 0 {
			t.Errorf("log: got no line with %q in:\n%s", want, strings.Join(e.logged(""), "\n"))
		}
	}

	// Run 2: three files changed, one added, one removed, one renamed, one
	// chmod-ed. Only the new contents are uploaded; the renamed file's
	// chunk comes from the standby's own copy.
	change(t, e.srcHome(), files, 2, 10, 20, 30)
	must(t, os.WriteFile(filepath.Join(e.srcHome(), "public_html", "new.php"), []byte("<?php // brand new file ?>\n"), 0o644))
	must(t, os.Remove(filepath.Join(e.srcHome(), files[40])))
	must(t, os.Rename(filepath.Join(e.srcHome(), files[50]), filepath.Join(e.srcHome(), "public_html", "moved.php")))
	must(t, os.Chmod(filepath.Join(e.srcHome(), files[60]), 0o600))
	s2, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.chunkKeys()); s2.Stats.ChunksNew != 4 || got != 4 {
		t.Errorf("run 2: got %d new chunks and %d stored, want 4 (3 changed files, 1 new)", s2.Stats.ChunksNew, got)
	}
	if s2.Stats.FilesReused < 140 || s2.Stats.FilesRead > 10 {
		t.Errorf("run 2: got %d files read and %d reused, want only the changed ones read", s2.Stats.FilesRead, s2.Stats.FilesReused)
	}
	r2, err := e.restore(t.Context(), s2)
	if err != nil {
		t.Fatal(err)
	}
	e.good(s2)
	replicationtest.SameNodes(t, "standby after run 2", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
	if r2.Stats.ChunksFetched != 4 || r2.Stats.ChunksLocal < 1 || r2.Stats.FilesLinked < 140 {
		t.Errorf("run 2 restore: got %+v, want 4 chunks fetched, the moved file's chunk local, the rest kept", r2.Stats)
	}
	if got, want := e.stbProv.loaded["alice_wp.sql"], e.srcProv.dumps["alice_wp"]; got != want {
		t.Errorf("run 2 database dump: got %d bytes, want %d", len(got), len(want))
	}

	// Run 3: nothing changed, nothing uploaded or fetched.
	s3, r3 := e.fullRun(t)
	if s3.Stats.ChunksNew != 0 || s3.Stats.FilesRead != 2 || r3.Stats.ChunksFetched != 0 {
		// The 2 files read are the fresh database dumps.
		t.Errorf("run 3 (no change): got snapshot %+v, restore %+v, want no chunk moved", s3.Stats, r3.Stats)
	}
	replicationtest.SameNodes(t, "standby after run 3", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
	// The dumps are not left on the source; the standby keeps its records.
	if _, err := os.Stat(filepath.Join(e.srcData, "replication", "1", "db")); !os.IsNotExist(err) {
		t.Errorf("source dump directory after the snapshot: got %v, want it removed", err)
	}
	for _, f := range []string{filesManifestFile, dbManifestFile} {
		if _, err := os.Stat(filepath.Join(e.stbData, "replicas", "1", f)); err != nil {
			t.Errorf("standby record %s: %v", f, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplicationDamagedChunk: a corrupt or missing chunk fails the
// restore with a message naming it, and the standby keeps its copy; a full
// run (what the server asks for next) repairs it.
func TestReplicationDamagedChunk(t *testing.T) {
	e := newReplEnv(t)
	files := genAccount(t, e.srcHome(), 40)
	e.fullRun(t)
	before := replicationtest.Describe(t, e.stbHome())
	record, err := os.ReadFile(filepath.Join(e.stbData, "replicas", "1", filesManifestFile))
	must(t, err)

	for _, damage := range []string{"corrupt", "missing"} {
		t.Run(damage, func(t *testing.T) {
			change(t, e.srcHome(), files, int(e.run)+10, 1, 2, 3)
			s, err := e.snapshot(t.Context())
			must(t, err)
			keys := e.chunkKeys()
			if len(keys) != 3 {
				t.Fatalf("chunks stored: got %d, want 3", len(keys))
			}
			victim := keys[1]
			id := strings.TrimPrefix(victim, "protections/1/chunks/")
			e.fc.mu.Lock()
			if damage == "corrupt" {
				e.fc.objects[victim][len(e.fc.objects[victim])/2] ^= 0xff
			} else {
				delete(e.fc.objects, victim)
			}
			e.fc.mu.Unlock()

			_, err = e.restore(t.Context(), s)
			if err == nil {
				t.Fatalf("restore with a %s chunk: got no error", damage)
			}
			t.Logf("error: %v", err)
			for _, want := range []string{"chunk " + id, damage, "previous copy was kept"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("restore with a %s chunk: got error %q, want it to mention %q", damage, err, want)
				}
			}
			replicationtest.SameNodes(t, "standby after the failed restore", replicationtest.Describe(t, e.stbHome()), before)
			got, err := os.ReadFile(filepath.Join(e.stbData, "replicas", "1", filesManifestFile))
			if err != nil || !bytes.Equal(got, record) {
				t.Errorf("standby's record of its copy after the failed restore: changed (%v)", err)
			}
			assertNoStaging(t, e.stbHome())
			e.dropChunks() // as the server does after a damaged chunk
		})
	}

	// The server's answer to a damaged chunk: a full snapshot next.
	e.prevFiles, e.prevDBs = "", ""
	e.fullRun(t)
	replicationtest.SameNodes(t, "standby after the full run", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
}

// TestReplicationRestoreInterrupted: a restore cancelled half-way leaves
// the previous copy; the next attempt completes it.
func TestReplicationRestoreInterrupted(t *testing.T) {
	e := newReplEnv(t)
	files := genAccount(t, e.srcHome(), 60)
	e.fullRun(t)
	before := replicationtest.Describe(t, e.stbHome())

	var idx []int
	for i := range 30 {
		idx = append(idx, i)
	}
	change(t, e.srcHome(), files, 7, idx...)
	s, err := e.snapshot(t.Context())
	must(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	gets := 0
	e.fc.mu.Lock()
	e.fc.objHook = func(op, key string) error {
		if op == "get" && strings.Contains(key, "/chunks/") {
			e.fc.mu.Lock()
			gets++
			if gets == 10 {
				cancel()
			}
			e.fc.mu.Unlock()
		}
		return nil
	}
	e.fc.mu.Unlock()
	_, err = e.restore(ctx, s)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "previous copy was kept") {
		t.Fatalf("cancelled restore: got %v, want context.Canceled and the copy kept", err)
	}
	replicationtest.SameNodes(t, "standby after the cancelled restore", replicationtest.Describe(t, e.stbHome()), before)

	e.fc.mu.Lock()
	e.fc.objHook = nil
	e.fc.mu.Unlock()
	r, err := e.restore(t.Context(), s)
	if err != nil {
		t.Fatalf("restore again: %v", err)
	}
	replicationtest.SameNodes(t, "standby after the second attempt", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
	assertNoStaging(t, e.stbHome())
	if r.Stats.ChunksFetched != 30 {
		t.Errorf("second attempt: got %d chunks fetched, want the 30 changed", r.Stats.ChunksFetched)
	}
}

// TestSnapshotResume: a snapshot that failed half-way left chunks behind;
// the next one does not upload them again.
func TestSnapshotResume(t *testing.T) {
	e := newReplEnv(t)
	genAccount(t, e.srcHome(), 80)
	boom := &client.Error{Status: 403, Code: "forbidden", Message: "refused by the test"}
	e.fc.objHook = func(op, key string) error {
		e.fc.mu.Lock()
		defer e.fc.mu.Unlock()
		if op == "put" && e.fc.puts >= 20 {
			return boom
		}
		return nil
	}
	if _, err := e.snapshot(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("snapshot with uploads refused: got %v, want the refusal", err)
	}
	left := len(e.chunkKeys())
	if left < 20 {
		t.Fatalf("chunks left by the failed snapshot: got %d, want at least 20", left)
	}
	e.fc.mu.Lock()
	e.fc.objHook, e.fc.puts = nil, 0
	e.fc.mu.Unlock()
	s, err := e.snapshot(t.Context())
	must(t, err)
	if total := len(e.chunkKeys()); s.Stats.ChunksNew != total-left || e.fc.puts != total-left+2 {
		t.Errorf("resumed snapshot: got %d new chunks and %d puts, want the %d missing ones (+2 manifests)", s.Stats.ChunksNew, e.fc.puts, total-left)
	}
	if len(e.logged(fmt.Sprintf("%d chunks are stored already", left))) != 1 {
		t.Errorf("resumed snapshot: got no log line saying %d chunks are stored already", left)
	}
	_, err = e.restore(t.Context(), s)
	must(t, err)
	replicationtest.SameNodes(t, "standby after the resumed run", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
}

// TestReplicationProgress: long steps log progress while they run. The
// first transfer of each job waits until a progress line was logged.
func TestReplicationProgress(t *testing.T) {
	e := newReplEnv(t)
	e.src.progress, e.stb.progress = time.Millisecond, time.Millisecond
	genAccount(t, e.srcHome(), 5)
	var mu sync.Mutex
	seen := make(chan struct{})
	once := sync.Once{}
	logf := func(line string) {
		e.log(line)
		if strings.Contains(line, "progress (") {
			once.Do(func() { close(seen) })
		}
	}
	wait := func(op, key string) error {
		if op == "list" || !strings.Contains(key, "/chunks/") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-seen:
			return nil
		case <-t.Context().Done():
			return t.Context().Err()
		}
	}
	e.fc.objHook = wait
	args := api.SnapshotArgs{Protection: 1, Run: 1, Account: "alice", Prefix: "protections/1/"}
	out, err := e.src.snapshot(t.Context(), job(1, api.KindReplicationSnapshot, args), logf)
	must(t, err)
	if l := e.logged("progress ("); len(l) == 0 || !strings.Contains(l[0], "chunks checked") {
		t.Errorf("snapshot progress: got %q, want lines with chunks checked", l)
	}
	seen, once = make(chan struct{}), sync.Once{}
	e.mu.Lock()
	e.logs = nil
	e.mu.Unlock()
	s := out.(api.SnapshotResult)
	rargs := api.RestoreArgs{Protection: 1, Run: 1, Account: s.Account, Prefix: "protections/1/", FilesManifest: s.FilesManifest}
	_, err = e.stb.restore(t.Context(), job(2, api.KindReplicationRestore, rargs), logf)
	must(t, err)
	if l := e.logged("progress ("); len(l) == 0 || !strings.Contains(l[0], "chunks fetched") {
		t.Errorf("restore progress: got %q, want lines with chunks fetched", l)
	}
}

func TestReplicationBadArgs(t *testing.T) {
	e := newReplEnv(t)
	genAccount(t, e.srcHome(), 3)
	snap := func(mod func(*api.SnapshotArgs)) error {
		a := api.SnapshotArgs{Protection: 1, Run: 1, Account: "alice", Prefix: "protections/1/"}
		mod(&a)
		_, err := e.src.snapshot(t.Context(), job(1, api.KindReplicationSnapshot, a), e.log)
		return err
	}
	rest := func(mod func(*api.RestoreArgs)) error {
		a := api.RestoreArgs{Protection: 1, Run: 1, Account: api.Account{Name: "alice"}, Prefix: "protections/1/", FilesManifest: "protections/1/manifests/run-1-files"}
		mod(&a)
		_, err := e.stb.restore(t.Context(), job(2, api.KindReplicationRestore, a), e.log)
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"no protection", snap(func(a *api.SnapshotArgs) { a.Protection = 0 }), "protection 0"},
		{"no run", snap(func(a *api.SnapshotArgs) { a.Run = -1 }), "run -1"},
		{"other prefix", snap(func(a *api.SnapshotArgs) { a.Prefix = "protections/2/" }), "want protections/1/"},
		{"account path", snap(func(a *api.SnapshotArgs) { a.Account = "../etc" }), "account"},
		{"unknown account", snap(func(a *api.SnapshotArgs) { a.Account = "bob" }), "no such account"},
		{"previous elsewhere", snap(func(a *api.SnapshotArgs) { a.PreviousFiles = "protections/2/manifests/x" }), "previous_files"},
		{"previous corrupt", func() error {
			e.fc.objects["protections/1/manifests/bad"] = []byte("not a manifest at all, longer than an id....")
			return snap(func(a *api.SnapshotArgs) { a.PreviousFiles = "protections/1/manifests/bad" })
		}(), "corrupt"},
		{"restore without manifest", rest(func(a *api.RestoreArgs) { a.FilesManifest = "" }), "files_manifest"},
		{"restore missing manifest", rest(func(a *api.RestoreArgs) {}), "run-1-files: no such object"},
		{"restore no account", rest(func(a *api.RestoreArgs) { a.Account.Name = "" }), "account"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, c.err, c.want)
		}
	}
	// A missing previous manifest makes a full snapshot, not a failure.
	if err := snap(func(a *api.SnapshotArgs) { a.PreviousFiles = "protections/1/manifests/gone" }); err != nil {
		t.Errorf("snapshot with its previous manifest gone: %v", err)
	}
	if len(e.logged("is gone: this snapshot is a full one")) != 1 {
		t.Errorf("snapshot with its previous manifest gone: got no warning in the log")
	}
	// Runs of one protection do not overlap.
	unlock, err := e.src.lock(1, api.KindReplicationRestore)
	must(t, err)
	if err := snap(func(*api.SnapshotArgs) {}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("overlapping run: got %v, want already running", err)
	}
	unlock()
}

func TestReplicationRegistered(t *testing.T) {
	fc := newFakeClient()
	a, _ := newTestAgent(t, fc, Config{})
	if slices.Contains(a.Kinds(), api.KindAccountList) {
		t.Errorf("kinds without an account provider: got %v, want no account jobs", a.Kinds())
	}
	p := newFakeProvider(t)
	p.accts["bob"] = api.Account{Name: "bob"}
	p.accts["alice"] = api.Account{Name: "alice"}
	a, _ = newTestAgent(t, fc, Config{Accounts: p, DataDir: t.TempDir()})
	for _, k := range []string{api.KindAccountList, api.KindReplicationSnapshot, api.KindReplicationRestore} {
		if !slices.Contains(a.Kinds(), k) {
			t.Errorf("kinds with an account provider: got %v, want %s", a.Kinds(), k)
		}
	}
	out, err := a.handler(api.KindAccountList)(t.Context(), job(1, api.KindAccountList, nil), func(string) {})
	res, _ := out.(api.AccountListResult)
	if err != nil || len(res.Accounts) != 2 || res.Accounts[0].Name != "alice" || res.Accounts[1].Name != "bob" {
		t.Errorf("account.list: got %+v, %v, want alice and bob", res, err)
	}
}

func TestManifestObject(t *testing.T) {
	k := replication.DeriveKeys([32]byte{9})
	c, err := replication.NewCodec(k)
	must(t, err)
	m := &replication.Manifest{Version: replication.ManifestVersion, Chunker: replication.DefaultChunkParams,
		Entries: []replication.Entry{{Path: ".", Type: replication.TypeDir, Mode: 0o755}}}
	b, err := encodeManifest(c, m)
	must(t, err)
	got, err := decodeManifest(c, b)
	if err != nil || len(got.Entries) != 1 {
		t.Fatalf("decode: got %v, %v", got, err)
	}
	other, _ := replication.NewCodec(replication.DeriveKeys([32]byte{8}))
	for name, c := range map[string]struct {
		codec *replication.Codec
		b     []byte
	}{
		"flipped":   {c, append(append([]byte{}, b[:len(b)-3]...), b[len(b)-3]^1, b[len(b)-2], b[len(b)-1])},
		"other id":  {c, append(append([]byte{}, bytes.Repeat([]byte{1}, 32)...), b[32:]...)},
		"short":     {c, b[:10]},
		"wrong key": {other, b},
	} {
		if _, err := decodeManifest(c.codec, c.b); err == nil {
			t.Errorf("decode %s manifest: got no error", name)
		}
	}
}

// TestLocalChunkSource: the restore takes a chunk from a file the standby
// holds when the object store lacks it, and checks it first.
func TestLocalChunkSource(t *testing.T) {
	fc := newFakeClient()
	r := newReplicator(fc, newFakeProvider(t), t.TempDir())
	c, err := replication.NewCodec(replication.DeriveKeys([32]byte{5}))
	must(t, err)
	dir := t.TempDir()
	data := []byte("0123456789abcdefghij")
	must(t, os.WriteFile(filepath.Join(dir, "f"), data, 0o600))
	head, tail := data[:10], data[10:]
	idHead, idTail := c.ID(head), c.ID(tail)
	m := &replication.Manifest{Version: replication.ManifestVersion, Chunker: replication.DefaultChunkParams, Entries: []replication.Entry{
		{Path: ".", Type: replication.TypeDir},
		{Path: "f", Type: replication.TypeFile, Size: 20, Chunks: []replication.ChunkRef{{ID: idHead, Size: 10}, {ID: idTail, Size: 10}}},
	}}
	s := &fetchStore{r: r, prefix: "protections/1/chunks/", codec: c, local: chunkIndex{}, sem: make(chan struct{}, 1)}
	s.local.add(dir, m)
	for id, want := range map[replication.ID][]byte{idHead: head, idTail: tail} {
		enc, err := s.Get(t.Context(), id)
		must(t, err)
		if plain, err := c.Decode(id, enc); err != nil || !bytes.Equal(plain, want) {
			t.Errorf("local chunk %s: got %q, %v, want %q", id, plain, err, want)
		}
	}
	if s.localHits.Load() != 2 || fc.gets != 0 {
		t.Errorf("local chunks: got %d local and %d fetched, want 2 and 0", s.localHits.Load(), fc.gets)
	}
	// A file changed since: its chunk is fetched instead, and when the
	// object store lacks it too, that is ErrNotFound.
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("XXXXXXXXXXabcdefghij"), 0o600))
	if _, err := s.Get(t.Context(), idHead); !errors.Is(err, replication.ErrNotFound) {
		t.Errorf("changed local chunk, not stored: got %v, want ErrNotFound", err)
	}
	enc, _ := c.Encode(nil, idHead, head)
	fc.objects["protections/1/chunks/"+idHead.String()] = enc
	if got, err := s.Get(t.Context(), idHead); err != nil || !bytes.Equal(got, enc) || fc.gets != 2 {
		t.Errorf("changed local chunk, stored: got %d bytes, %v after %d gets, want the stored chunk", len(got), err, fc.gets)
	}
}

// assertNoStaging fails when a restore left staging or old copies next to
// target.
func assertNoStaging(t *testing.T, target string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(target))
	must(t, err)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(target)+".") {
			t.Errorf("left next to %s: %s", target, e.Name())
		}
	}
}

// TestRestoreSharedChunks: many files with the same content share one
// chunk; restoring them at once (several asking for the chunk while one
// batch brings it) writes every copy.
func TestRestoreSharedChunks(t *testing.T) {
	e := newReplEnv(t)
	home := e.srcHome()
	for d := range 8 {
		dir := filepath.Join(home, fmt.Sprintf("site%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			body := []byte(fmt.Sprintf("<?php // the same file in every site, number %d ?>\n", i%5))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.php", i)), body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := e.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.restore(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	replicationtest.SameNodes(t, "standby", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
}
