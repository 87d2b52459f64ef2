package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/release"
)

// updateFixture is an agent of version 1.0.0 whose "executable" is a file
// in a temporary directory, with the release key pub pinned.
type updateFixture struct {
	a        *Agent
	fc       *fakeClient
	exe, dir string
	execs    []string
	watchers int
}

func newUpdateFixture(t *testing.T) (*updateFixture, func(version string, bin []byte) api.Job) {
	t.Helper()
	pub, priv, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f := &updateFixture{fc: newFakeClient(), dir: t.TempDir()}
	f.exe = filepath.Join(t.TempDir(), "poolctl")
	if err := os.WriteFile(f.exe, []byte("old binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{Server: "https://x:1", Token: "t", Pool: "web", Member: "node1", ReleaseKey: release.EncodePublicKey(pub)}
	f.a = newAgent(Config{DataDir: f.dir, Version: "1.0.0"}, st, f.fc)
	f.a.upd = &updater{
		exe: func() (string, error) { return f.exe, nil },
		exec: func(path string, argv, env []string) error {
			f.execs = append(f.execs, path)
			return errors.New("exec not allowed in tests")
		},
		startWatch: func(prev, dataDir string) (int, error) { f.watchers++; return 4242, nil },
	}
	job := func(version string, bin []byte) api.Job {
		sum := sha256.Sum256(bin)
		hexSum := hex.EncodeToString(sum[:])
		args := api.AgentUpdateArgs{Version: version, OS: runtime.GOOS, Arch: runtime.GOARCH, SHA256: hexSum, Size: int64(len(bin)),
			Signature: release.Sign(priv, version, runtime.GOOS, runtime.GOARCH, hexSum), Path: "/api/v1/agent/releases/" + runtime.GOOS + "/" + runtime.GOARCH}
		raw, _ := json.Marshal(args)
		return api.Job{ID: 7, Kind: api.AgentUpdateKind, Args: raw}
	}
	return f, job
}

func (f *updateFixture) exeIs(t *testing.T, want string) {
	t.Helper()
	if b, _ := os.ReadFile(f.exe); string(b) != want {
		t.Fatalf("executable holds %q, want %q", b, want)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(f.exe), ".poolctl-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left beside the executable: %v", left)
	}
}

// TestUpdateRefusals: a job whose signature does not verify with the pinned
// key, whose download does not match the signed SHA-256, or for another
// platform changes nothing on disk.
func TestUpdateRefusals(t *testing.T) {
	f, job := newUpdateFixture(t)
	noop := func(string) {}

	j := job("1.1.0", []byte("new binary"))
	var args api.AgentUpdateArgs
	_ = json.Unmarshal(j.Args, &args)
	args.Version = "1.2.0" // signed for 1.1.0
	j.Args, _ = json.Marshal(args)
	f.fc.binary = []byte("new binary")
	if _, err := f.a.runUpdate(context.Background(), j, noop); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a signature for another version: %v", err)
	}
	f.exeIs(t, "old binary")

	f.fc.binary = []byte("tampered binary")
	if _, err := f.a.runUpdate(context.Background(), job("1.1.0", []byte("new binary")), noop); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("a tampered download: %v", err)
	}
	f.exeIs(t, "old binary")

	_ = json.Unmarshal(job("1.1.0", []byte("x")).Args, &args)
	args.Arch = "sparc"
	j.Args, _ = json.Marshal(args)
	if _, err := f.a.runUpdate(context.Background(), j, noop); err == nil || !strings.Contains(err.Error(), "sparc") {
		t.Fatalf("another platform: %v", err)
	}

	f.a.state.ReleaseKey = ""
	if _, err := f.a.runUpdate(context.Background(), job("1.1.0", []byte("new binary")), noop); err == nil || !strings.Contains(err.Error(), "no release key") {
		t.Fatalf("no pinned key: %v", err)
	}
	if f.watchers != 0 {
		t.Fatal("a watchdog was started for a refused update")
	}
}

// TestUpdateSwapsAndRecords: a good update keeps the old binary as
// poolctl.prev, records update.json, starts the watchdog, renames the new
// binary over the executable and asks runJob to restart.
func TestUpdateSwapsAndRecords(t *testing.T) {
	f, job := newUpdateFixture(t)
	f.fc.binary = []byte("new binary")
	_, err := f.a.runUpdate(context.Background(), job("1.1.0", f.fc.binary), func(string) {})
	rs := restartOf(err)
	if rs == nil {
		t.Fatalf("runUpdate: %v, want a restart", err)
	}
	f.exeIs(t, "new binary")
	if b, _ := os.ReadFile(filepath.Join(filepath.Dir(f.exe), prevBinary)); string(b) != "old binary" {
		t.Fatalf("poolctl.prev holds %q", b)
	}
	var p pendingUpdate
	if err := readJSONFile(filepath.Join(f.dir, updateFile), &p); err != nil || p.From != "1.0.0" || p.To != "1.1.0" || p.Job != 7 {
		t.Fatalf("update.json: %+v %v", p, err)
	}
	if f.watchers != 1 {
		t.Fatalf("%d watchdogs started, want 1", f.watchers)
	}
	// The exec fails: the old binary is put back and the job fails.
	f.a.restartInto(context.Background(), api.Job{ID: 7}, rs, f.a.log)
	f.exeIs(t, "old binary")
	if res := f.fc.results[7]; res.OK || !strings.Contains(res.Error, "kept poolctl 1.0.0") {
		t.Fatalf("result after a failed exec: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(f.dir, updateFile)); !os.IsNotExist(err) {
		t.Fatal("update.json kept after the undo: the watchdog would act")
	}
}

// TestWatchRollsBack: when the new binary records no heartbeat before the
// deadline, the watchdog restores the previous binary, stops the new
// process, reports the job failed and starts the previous binary; when it
// does, the watchdog stands down.
func TestWatchRollsBack(t *testing.T) {
	for _, ok := range []bool{false, true} {
		dir, bin := t.TempDir(), t.TempDir()
		exe, prev := filepath.Join(bin, "poolctl"), filepath.Join(bin, prevBinary)
		_ = os.WriteFile(exe, []byte("new binary"), 0o755)
		_ = os.WriteFile(prev, []byte("old binary"), 0o755)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := pendingUpdate{Job: 9, From: "1.0.0", To: "1.1.0", Exe: exe, Prev: prev, Argv: []string{exe, "agent"}, PID: 99, Started: start, Deadline: start.Add(time.Minute)}
		if err := writeJSONFile(filepath.Join(dir, updateFile), p); err != nil {
			t.Fatal(err)
		}
		now := start
		var stopped, execd []string
		var report api.JobResult
		o := WatchOptions{DataDir: dir,
			Now: func() time.Time { return now },
			Sleep: func(ctx context.Context, d time.Duration) bool {
				now = now.Add(10 * time.Second)
				if ok && now.After(start.Add(30*time.Second)) {
					_ = os.WriteFile(filepath.Join(dir, updateOKFile), []byte("1.1.0\n"), 0o600)
				}
				return true
			},
			Alive:    func(pid int) bool { return true },
			Stop:     func(pid int) { stopped = append(stopped, "stop") },
			Exec:     func(path string, argv, env []string) error { execd = append(execd, path); return nil },
			Report:   func(ctx context.Context, job int64, res api.JobResult) error { report = res; return nil },
			Progress: func(ctx context.Context, job int64, line string) {},
		}
		if err := Watch(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(exe)
		if ok {
			if !bytes.Equal(b, []byte("new binary")) || len(stopped) != 0 || len(execd) != 0 || report.Error != "" {
				t.Fatalf("after a good heartbeat the watchdog acted: exe %q stopped %v exec %v report %+v", b, stopped, execd, report)
			}
			continue
		}
		if string(b) != "old binary" || len(stopped) != 1 || len(execd) != 1 || execd[0] != exe {
			t.Fatalf("rollback: exe %q stopped %v exec %v", b, stopped, execd)
		}
		if report.OK || !strings.Contains(report.Error, "rolled back to poolctl 1.0.0") || !strings.Contains(report.Error, "did not record a heartbeat") {
			t.Fatalf("rollback report: %+v", report)
		}
	}
}
