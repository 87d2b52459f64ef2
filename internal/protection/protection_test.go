package protection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// clock is a settable clock shared by the service under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a fleet with pool "web" and members src (203.0.113.10,
// src.example.net) and stb (203.0.113.20, stb.example.net), both enrolled
// and healthy, a zone service and a protection service on a local object
// store.
type env struct {
	st       *store.Store
	fl       *fleet.Service
	zs       *zones.Service
	objs     objstore.Store
	svc      *protection.Service
	clk      *clock
	src, stb fleet.Agent
}

type zonesAdapter struct{ z *zones.Service }

func (a zonesAdapter) List(ctx context.Context) ([]api.Zone, error) { return a.z.List(ctx) }
func (a zonesAdapter) Records(ctx context.Context, zone string) ([]api.Record, error) {
	return a.z.Records(ctx, zone)
}
func (a zonesAdapter) RewriteRecords(ctx context.Context, zone string, rw []protection.Rewrite, why string) error {
	out := make([]zones.Rewrite, len(rw))
	for i, r := range rw {
		out[i] = zones.Rewrite(r)
	}
	return a.z.RewriteRecords(ctx, zone, out, why)
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{st: st, clk: &clock{t: time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)}}
	e.fl = fleet.New(st, fleet.Config{CAFingerprint: strings.Repeat("ab", 32)})
	if err := e.fl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.zs = zones.New(zones.Config{Store: st, Events: e.fl})
	objs, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.objs = objs
	e.svc = protection.New(protection.Config{Store: st, Fleet: e.fl, Zones: zonesAdapter{e.zs}, Objects: objs,
		MasterKey: [32]byte{1, 2, 3}, Concurrency: 1, Now: e.clk.Now})
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	e.src = e.enrol(t, "src", "203.0.113.10")
	e.stb = e.enrol(t, "stb", "203.0.113.20")
	return e
}

func (e *env) enrol(t *testing.T, name, addr string) fleet.Agent {
	t.Helper()
	ctx := context.Background()
	res, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: name, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.fl.AuthAgent(ctx, enr.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.Heartbeat(ctx, a, api.Heartbeat{Protocol: 1, Interval: api.Duration(2 * time.Second), AgentVersion: "test",
		Facts: &api.Facts{Hostname: name + ".example.net"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.fl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// nextJob takes the agent's queued job, failing the test when there is none.
func (e *env) nextJob(t *testing.T, a fleet.Agent, kind string) api.Job {
	t.Helper()
	j, err := e.fl.NextJob(context.Background(), a, 0)
	if err != nil || j == nil {
		t.Fatalf("%s: no job (err %v)", a.Member, err)
	}
	if j.Kind != kind {
		t.Fatalf("%s: got job %s, want %s", a.Member, j.Kind, kind)
	}
	return *j
}

func (e *env) finish(t *testing.T, a fleet.Agent, j api.Job, result any, errMsg string, log ...string) {
	t.Helper()
	ctx := context.Background()
	if len(log) > 0 {
		if err := e.fl.AppendJobLog(ctx, a, j.ID, api.JobLogAppend{Lines: log}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(result)
	if err := e.fl.FinishJob(ctx, a, j.ID, api.JobResult{OK: errMsg == "", Result: raw, Error: errMsg}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) put(t *testing.T, key string) {
	t.Helper()
	if err := e.objs.Put(context.Background(), key, bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
}

func (e *env) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	if err := e.objs.List(context.Background(), prefix, func(i objstore.Info) error { out = append(out, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		in       string
		interval time.Duration
		bad      bool
	}{
		{"1h", time.Hour, false}, {"12h", 12 * time.Hour, false}, {"1d", 24 * time.Hour, false},
		{"1w", 7 * 24 * time.Hour, false}, {"1mo", 0, false}, {"30 2 * * *", 24 * time.Hour, false}, {"@daily", 24 * time.Hour, false},
		{"*/5 * * * *", 0, true}, {"@every 1h", 0, true}, {"2d", 0, true}, {"61 * * * *", 0, true}, {"", 0, true},
	} {
		s, err := protection.ParseSchedule(c.in)
		if (err != nil) != c.bad {
			t.Errorf("ParseSchedule(%q): err %v, want bad=%v", c.in, err, c.bad)
			continue
		}
		if err == nil && c.interval != 0 {
			if got := s.Interval(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)); got != c.interval {
				t.Errorf("%q: interval %s, want %s", c.in, got, c.interval)
			}
		}
	}
	h, err := protection.ParseHours("22-4")
	if err != nil {
		t.Fatal(err)
	}
	for hr, want := range map[int]bool{21: false, 22: true, 23: true, 0: true, 3: true, 4: false, 12: false} {
		if got := h.Allows(time.Date(2026, 1, 1, hr, 30, 0, 0, time.UTC)); got != want {
			t.Errorf("22-4 at %02d:30: got %v, want %v", hr, got, want)
		}
	}
	for _, bad := range []string{"5-5", "x", "25-3", "-1-4"} {
		if _, err := protection.ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}

func TestProtectionValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		for _, c := range []struct {
			name string
			in   api.ProtectionCreate
			kind *apperr.Kind
		}{
			{"bad name", api.ProtectionCreate{Account: "Alice!", Source: "src", Standby: "stb"}, apperr.Invalid},
			{"same members", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "src"}, apperr.Invalid},
			{"no standby", api.ProtectionCreate{Account: "alice", Source: "src"}, apperr.Invalid},
			{"unknown member", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "nope"}, apperr.NotFound},
			{"bad record", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", Records: []string{"TXT"}}, apperr.Invalid},
			{"bad ttl", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", TTL: 100000}, apperr.Invalid},
			{"bad schedule", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", Schedule: "often"}, apperr.Invalid},
		} {
			if _, err := e.svc.CreateProtection(ctx, "web", c.in); !errors.Is(err, c.kind) {
				t.Errorf("%s: got %v, want %s", c.name, err, c.kind.Code())
			}
		}
		if _, err := e.svc.CreateProtection(ctx, "nopool", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb"}); !errors.Is(err, apperr.NotFound) {
			t.Errorf("unknown pool: %v", err)
		}
		p, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", Records: []string{"a", "mx", "A"}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Schedule != "1d" || p.TTL != 300 || !p.Databases || p.Status != api.ProtectionActive || strings.Join(p.Records, ",") != "A,MX" {
			t.Errorf("defaults: %+v", p)
		}
		if want := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC); p.NextRunAt == nil || !p.NextRunAt.Equal(want) {
			t.Errorf("next run %v, want %v", p.NextRunAt, want)
		}
		if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb"}); !errors.Is(err, apperr.Conflict) {
			t.Errorf("second protection of alice: %v", err)
		}
		if _, err := e.svc.UpdateProtection(ctx, "web", "alice", api.ProtectionUpdate{}); !errors.Is(err, apperr.Invalid) {
			t.Errorf("empty update: %v", err)
		}
		sched := "6h"
		p, err = e.svc.UpdateProtection(ctx, "web", "alice", api.ProtectionUpdate{Schedule: &sched})
		if err != nil || p.Schedule != "6h" || !p.NextRunAt.Equal(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("update schedule: %+v %v", p, err)
		}
		if p, err = e.svc.SetPaused(ctx, "web", "alice", true); err != nil || p.Status != api.ProtectionPaused || p.NextRunAt != nil {
			t.Errorf("pause: %+v %v", p, err)
		}
		if p, err = e.svc.SetPaused(ctx, "web", "alice", false); err != nil || p.Status != api.ProtectionActive {
			t.Errorf("resume: %+v %v", p, err)
		}
		if err := e.svc.DeleteProtection(ctx, "web", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetProtection(ctx, "web", "alice"); !errors.Is(err, apperr.NotFound) {
			t.Errorf("after delete: %v", err)
		}
	})
}

// TestRunLifecycle drives a run through both jobs as the agents would, then
// a second, incremental run, then one that fails on a missing chunk.
func TestRunLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		p, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb"})
		if err != nil {
			t.Fatal(err)
		}
		pre := "protections/" + itoa(p.ID) + "/"
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil || run.Status != api.RunQueued || run.Trigger != protection.TriggerManual {
			t.Fatalf("run now: %+v %v", run, err)
		}
		if _, err := e.svc.RunNow(ctx, "web", "alice"); !errors.Is(err, apperr.Conflict) {
			t.Errorf("overlapping run: %v", err)
		}
		e.svc.Step(ctx)
		j := e.nextJob(t, e.src, api.KindReplicationSnapshot)
		var sa api.SnapshotArgs
		if err := json.Unmarshal(j.Args, &sa); err != nil {
			t.Fatal(err)
		}
		if sa.Prefix != pre || sa.PreviousFiles != "" || !sa.Databases || sa.Account != "alice" {
			t.Errorf("snapshot args %+v", sa)
		}
		e.put(t, pre+"chunks/aa")
		e.put(t, pre+"chunks/bb")
		e.put(t, pre+"manifests/run-"+itoa(run.ID)+"-files")
		e.finish(t, e.src, j, api.SnapshotResult{FilesManifest: pre + "manifests/run-" + itoa(run.ID) + "-files",
			Account: api.Account{Name: "alice", Domains: []string{"alice.test"}}, Stats: api.RunStats{Files: 3, ChunksNew: 2, BytesUploaded: 10}}, "", "read 3 files")
		e.svc.Step(ctx)
		if r, _ := e.svc.Run(ctx, run.ID); r.Status != api.RunRestore || r.StandbyJob == 0 {
			t.Fatalf("after snapshot: %+v", r)
		}
		j = e.nextJob(t, e.stb, api.KindReplicationRestore)
		var ra api.RestoreArgs
		if err := json.Unmarshal(j.Args, &ra); err != nil {
			t.Fatal(err)
		}
		if ra.FilesManifest != sa.Prefix+"manifests/run-"+itoa(run.ID)+"-files" || ra.Account.Domains[0] != "alice.test" {
			t.Errorf("restore args %+v", ra)
		}
		e.finish(t, e.stb, j, api.RestoreResult{Stats: api.RunStats{ChunksFetched: 2, BytesWritten: 30}}, "", "restored 3 files")
		e.clk.Add(time.Minute)
		e.svc.Step(ctx)
		e.svc.Quiesce()
		r, err := e.svc.Run(ctx, run.ID)
		if err != nil || r.Status != api.RunSucceeded || r.Stats == nil || r.Stats.ChunksDeleted != 2 || r.Stats.ChunksFetched != 2 || r.Stats.ChunksNew != 2 {
			t.Fatalf("after restore: %+v %v", r, err)
		}
		if got := e.keys(t, pre); len(got) != 1 || !strings.Contains(got[0], "manifests/") {
			t.Errorf("objects left: %v (want only the manifest)", got)
		}
		lines, err := e.svc.RunLog(ctx, run.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var text []string
		for _, l := range lines {
			text = append(text, l.Line)
		}
		all := strings.Join(text, "\n")
		for _, want := range []string{"queued by an operator", "step 1/3", "source: read 3 files", "step 2/3", "standby: restored 3 files", "step 3/3", "run succeeded"} {
			if !strings.Contains(all, want) {
				t.Errorf("run log lacks %q:\n%s", want, all)
			}
		}
		pr, err := e.svc.GetProtection(ctx, "web", "alice")
		if err != nil || pr.LastGoodAt == nil || pr.RPOSeconds == nil || pr.LastRun == nil || pr.LastRun.ID != run.ID {
			t.Fatalf("protection after a good run: %+v %v", pr, err)
		}

		// Second run: incremental from the first's manifest; the standby
		// reports a missing chunk.
		run2, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		j = e.nextJob(t, e.src, api.KindReplicationSnapshot)
		sa = api.SnapshotArgs{}
		_ = json.Unmarshal(j.Args, &sa)
		if sa.PreviousFiles != ra.FilesManifest {
			t.Errorf("incremental run's previous manifest %q, want %q", sa.PreviousFiles, ra.FilesManifest)
		}
		e.put(t, pre+"chunks/cc")
		e.finish(t, e.src, j, api.SnapshotResult{FilesManifest: pre + "manifests/run-" + itoa(run2.ID) + "-files", Account: api.Account{Name: "alice"}}, "")
		e.svc.Step(ctx)
		j = e.nextJob(t, e.stb, api.KindReplicationRestore)
		e.finish(t, e.stb, j, nil, "chunk 0123: get: chunk not found; the standby's copy was kept")
		e.svc.Step(ctx)
		r, _ = e.svc.Run(ctx, run2.ID)
		if r.Status != api.RunFailed || !strings.Contains(r.Error, "restore on stb failed: chunk 0123") {
			t.Fatalf("failed run: %+v", r)
		}
		if got := e.keys(t, pre+"chunks/"); len(got) != 0 {
			t.Errorf("chunks kept after a chunk failure: %v", got)
		}
		// The next run is a full one.
		if _, err := e.svc.RunNow(ctx, "web", "alice"); err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		j = e.nextJob(t, e.src, api.KindReplicationSnapshot)
		sa = api.SnapshotArgs{}
		_ = json.Unmarshal(j.Args, &sa)
		if sa.PreviousFiles != "" {
			t.Errorf("run after a chunk failure is incremental (previous %q)", sa.PreviousFiles)
		}
		// A failed snapshot fails the run.
		e.finish(t, e.src, j, nil, "mariadb-dump: access denied")
		e.svc.Step(ctx)
		prot, _ := e.svc.GetProtection(ctx, "web", "alice")
		if prot.LastRun.Status != api.RunFailed || !strings.Contains(prot.LastRun.Error, "snapshot on src failed: mariadb-dump") {
			t.Errorf("failed snapshot: %+v", prot.LastRun)
		}
		if prot.LastGoodAt == nil || !prot.LastGoodAt.Equal(*pr.LastGoodAt) {
			t.Errorf("a failed run moved the last good copy: %v", prot.LastGoodAt)
		}
		// A restore the standby refused for want of room is also a
		// preflight event on the standby, with the agent's figures.
		if _, err := e.svc.RunNow(ctx, "web", "alice"); err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		j = e.nextJob(t, e.src, api.KindReplicationSnapshot)
		e.finish(t, e.src, j, api.SnapshotResult{FilesManifest: pre + "manifests/run-x-files", Account: api.Account{Name: "alice"}}, "")
		e.svc.Step(ctx)
		j = e.nextJob(t, e.stb, api.KindReplicationRestore)
		e.finish(t, e.stb, j, nil, api.PreflightRefused+": restoring alice needs 12.0 MiB (3 files; 0 unchanged files are kept) for the files in /home/alice, and the filesystem has 2.0 MiB free")
		e.svc.Step(ctx)
		evs, err := e.st.ListEvents(ctx, store.EventFilter{Kind: protection.KindPreflightRefused})
		if err != nil || len(evs) != 1 || evs[0].Member != "stb" || !strings.Contains(evs[0].Message, "needs 12.0 MiB") || !strings.Contains(evs[0].Message, "2.0 MiB free") {
			t.Fatalf("preflight events: %+v %v", evs, err)
		}
	})
}

// TestScheduleConcurrencyRPO: scheduled runs are queued when due, start
// within the concurrency limit, and an overdue copy raises one event.
func TestScheduleConcurrencyRPO(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	e := newEnv(t, st)
	ctx := context.Background()
	for _, a := range []string{"alice", "bob"} {
		if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: a, Source: "src", Standby: "stb", Schedule: "1h"}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Step(ctx)
	if j, _ := e.fl.NextJob(ctx, e.src, 0); j != nil {
		t.Fatalf("a run started before it was due: %+v", j)
	}
	e.clk.Add(30 * time.Minute) // 11:00: both due
	e.svc.Step(ctx)
	j := e.nextJob(t, e.src, api.KindReplicationSnapshot)
	if j2, _ := e.fl.NextJob(ctx, e.src, 0); j2 != nil {
		t.Fatalf("concurrency 1, but a second job was queued: %+v", j2)
	}
	prs, _ := e.svc.ListProtections(ctx, "web")
	queued := 0
	for _, p := range prs {
		if p.LastRun != nil && p.LastRun.Status == api.RunQueued {
			queued++
		}
		if p.NextRunAt == nil || !p.NextRunAt.Equal(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("%s next run %v", p.Account, p.NextRunAt)
		}
	}
	if queued != 1 {
		t.Errorf("%d runs waiting, want 1", queued)
	}
	e.finish(t, e.src, j, nil, "boom")
	e.svc.Step(ctx) // fails the first, starts the second
	e.nextJob(t, e.src, api.KindReplicationSnapshot)

	// RPO: never replicated for more than two hours → one event each.
	e.clk.Add(2*time.Hour + time.Minute)
	e.svc.Step(ctx)
	e.svc.Step(ctx)
	evs, err := e.fl.Events(ctx, store.EventFilter{Kind: protection.KindRPOExceeded}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Errorf("got %d RPO events, want 2: %+v", len(evs), evs)
	}
	p, _ := e.svc.GetProtection(ctx, "web", "alice")
	if !p.RPOExceeded {
		t.Errorf("RPOExceeded not set: %+v", p)
	}
}

func TestObjectAccess(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	e := newEnv(t, st)
	ctx := context.Background()
	p, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb"})
	if err != nil {
		t.Fatal(err)
	}
	other := e.enrol(t, "other", "203.0.113.30")
	pre := "protections/" + itoa(p.ID) + "/"
	for _, c := range []struct {
		a     fleet.Agent
		key   string
		write bool
		ok    bool
	}{
		{e.src, pre + "chunks/ab", true, true}, {e.src, pre, false, true}, {e.stb, pre + "chunks/ab", false, true},
		{e.stb, pre + "chunks/ab", true, false}, {other, pre + "chunks/ab", false, false},
		{e.src, "protections/999/x", false, false}, {e.src, "protections/01/x", false, false}, {e.src, "other/x", false, false},
	} {
		err := e.svc.AuthorizeObject(ctx, c.a, c.key, c.write)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, apperr.Forbidden)) {
			t.Errorf("%s %s write=%v: %v, want ok=%v", c.a.Member, c.key, c.write, err, c.ok)
		}
	}
	k1, err := e.svc.ChunkKey(ctx, e.src, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := e.svc.ChunkKey(ctx, e.stb, p.ID)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Errorf("keys differ or are malformed: %x %x %v", k1, k2, err)
	}
	if _, err := e.svc.ChunkKey(ctx, other, p.ID); !errors.Is(err, apperr.Forbidden) {
		t.Errorf("other member got the key: %v", err)
	}
	// The key is sealed with the master key: another master key cannot open it.
	bad := protection.New(protection.Config{Store: st, Fleet: e.fl, Objects: e.objs, MasterKey: [32]byte{9}})
	if _, err := bad.ChunkKey(ctx, e.src, p.ID); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Errorf("wrong master key: %v", err)
	}
}

// TestDNSCut: a dry run lists the changes, a cut applies them in one zone
// edit, and an automatic cut after failover covers protected accounts and
// lists the others.
func TestDNSCut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		if _, err := e.zs.Create(ctx, api.ZoneCreate{Name: "alice.test"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []api.RecordCreate{
			{Name: "@", Type: "A", Value: "203.0.113.10", TTL: 3600},
			{Name: "www", Type: "A", Value: "203.0.113.10", TTL: 3600},
			{Name: "other", Type: "A", Value: "198.51.100.1", TTL: 3600},
			{Name: "@", Type: "MX", Value: "10 src.example.net.", TTL: 3600},
			{Name: "@", Type: "TXT", Value: "\"v=spf1 ip4:203.0.113.10 -all\"", TTL: 3600},
		} {
			if _, err := e.zs.AddRecord(ctx, "alice.test", r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", TTL: 60}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb"}); !errors.Is(err, apperr.Invalid) {
			t.Errorf("cut without known domains: %v", err)
		}
		accts, _ := json.Marshal(api.Account{Name: "alice", Domains: []string{"alice.test"}})
		if err := st.ReplaceAccounts(ctx, e.src.MemberID, []store.AccountRow{{Name: "alice", Data: string(accts)},
			{Name: "carol", Data: `{"name":"carol"}`}}, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		dry, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb", DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(dry.Changes) != 3 || !dry.DryRun {
			t.Fatalf("dry run changes: %+v", dry.Changes)
		}
		recs, _ := e.zs.Records(ctx, "alice.test")
		for _, r := range recs {
			if r.Value == "203.0.113.20" {
				t.Fatalf("dry run changed %+v", r)
			}
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); !errors.Is(err, apperr.Conflict) {
			t.Errorf("cut to the serving member: %v", err)
		}
		// Automatic: alice was never replicated, so it is listed as unprotected.
		got, err := e.svc.CutAccounts(ctx, "web", "src")
		if err != nil || len(got.Cut) != 0 || strings.Join(got.Unprotected, ",") != "alice,carol" {
			t.Fatalf("cut before any good copy: %+v %v", got, err)
		}
		markGood(t, e, "alice")
		got, err = e.svc.CutAccounts(ctx, "web", "src")
		if err != nil || strings.Join(got.Cut, ",") != "alice" || strings.Join(got.Unprotected, ",") != "carol" {
			t.Fatalf("automatic cut: %+v %v", got, err)
		}
		recs, _ = e.zs.Records(ctx, "alice.test")
		want := map[string]string{"@ A": "203.0.113.20", "www A": "203.0.113.20", "@ MX": "10 stb.example.net.", "other A": "198.51.100.1"}
		for _, r := range recs {
			if w, ok := want[r.Name+" "+r.Type]; ok {
				if r.Value != w {
					t.Errorf("%s %s = %s, want %s", r.Name, r.Type, r.Value, w)
				}
				if w != "198.51.100.1" && r.TTL != 60 {
					t.Errorf("%s %s ttl %d, want 60", r.Name, r.Type, r.TTL)
				}
			}
		}
		p, _ := e.svc.GetProtection(ctx, "web", "alice")
		if p.CutTo != "stb" {
			t.Errorf("cut_to %q", p.CutTo)
		}
		// Cut back to the source.
		back, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"})
		if err != nil || len(back.Changes) != 3 || back.From != "stb" {
			t.Fatalf("cut back: %+v %v", back, err)
		}
	})
}

// markGood runs one successful run of account by hand.
func markGood(t *testing.T, e *env, account string) {
	t.Helper()
	ctx := context.Background()
	run, err := e.svc.RunNow(ctx, "web", account)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Step(ctx)
	j := e.nextJob(t, e.src, api.KindReplicationSnapshot)
	pre := "protections/" + itoa(run.Protection) + "/"
	e.finish(t, e.src, j, api.SnapshotResult{FilesManifest: pre + "manifests/f", Account: api.Account{Name: account, Domains: []string{account + ".test"}}}, "")
	e.svc.Step(ctx)
	j = e.nextJob(t, e.stb, api.KindReplicationRestore)
	e.finish(t, e.stb, j, api.RestoreResult{}, "")
	e.svc.Step(ctx)
	e.svc.Quiesce()
	if r, _ := e.svc.Run(ctx, run.ID); r.Status != api.RunSucceeded {
		t.Fatalf("run %+v", r)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
