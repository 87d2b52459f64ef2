package links_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/links"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// fakeFleet answers mail.* jobs at once through answer, or holds them
// while hold is set.
type fakeFleet struct {
	st       *store.Store
	mu       sync.Mutex
	jobs     map[int64]*api.Job
	nextID   int64
	hold     bool   // hold every job
	holdKind string // hold jobs of this kind
	events   []api.Event
	status   map[string]string
	answer   func(j api.Job) (any, error)
}

func (f *fakeFleet) Member(ctx context.Context, pool, member string) (api.Member, error) {
	p, err := f.st.GetPool(ctx, pool)
	if err != nil {
		return api.Member{}, err
	}
	m, err := f.st.GetMember(ctx, p.ID, member)
	if err != nil {
		return api.Member{}, err
	}
	st := api.StatusHealthy
	if s, ok := f.status[member]; ok {
		st = s
	}
	return api.Member{Pool: pool, Name: m.Name, Address: m.Address, Profile: m.Profile, Status: st, AgentVersion: m.AgentVersion, Stack: m.Stack}, nil
}

func (f *fakeFleet) EnqueueJob(ctx context.Context, pool, member string, in api.JobCreate) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	j := &api.Job{ID: f.nextID, Pool: pool, Member: member, Kind: in.Kind, Args: in.Args, Status: api.JobQueued}
	f.jobs[j.ID] = j
	if !f.hold && in.Kind != f.holdKind {
		f.finish(j)
	}
	return *j, nil
}

func (f *fakeFleet) finish(j *api.Job) {
	res, err := f.answer(*j)
	now := t0
	j.FinishedAt = &now
	if err != nil {
		j.Status, j.Error = api.JobFailed, err.Error()
		return
	}
	j.Status = api.JobSucceeded
	j.Result, _ = json.Marshal(res)
}

func (f *fakeFleet) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.holdKind = false, ""
	for _, j := range f.jobs {
		if j.FinishedAt == nil {
			f.finish(j)
		}
	}
}

func (f *fakeFleet) Job(ctx context.Context, id int64) (api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return api.Job{}, apperr.New(apperr.NotFound, "job %d not found", id)
	}
	return *j, nil
}

func (f *fakeFleet) JobLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.JobLogLine, error) {
	return nil, nil
}

func (f *fakeFleet) CancelJob(ctx context.Context, id int64) (api.Job, error) { return f.Job(ctx, id) }

func (f *fakeFleet) Emit(ctx context.Context, e api.Event) api.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
	return e
}

func (f *fakeFleet) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := int64(1); id <= f.nextID; id++ {
		out = append(out, f.jobs[id].Member+":"+f.jobs[id].Kind)
	}
	return out
}

func (f *fakeFleet) eventKinds() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		out = append(out, e.Kind)
	}
	return strings.Join(out, " ")
}

type fakeZones struct {
	mu      sync.Mutex
	records map[string][]api.Record
}

func (z *fakeZones) List(ctx context.Context) ([]api.Zone, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []api.Zone
	for n := range z.records {
		out = append(out, api.Zone{Name: n})
	}
	return out, nil
}

func (z *fakeZones) Records(ctx context.Context, zone string) ([]api.Record, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]api.Record(nil), z.records[zone]...), nil
}

func (z *fakeZones) RewriteRecords(ctx context.Context, zone string, rw []links.Rewrite, why string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, r := range rw {
		for i := range z.records[zone] {
			if z.records[zone][i].ID == r.ID {
				z.records[zone][i].Value = r.New
			}
		}
	}
	return nil
}

func (z *fakeZones) value(zone, name string) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, r := range z.records[zone] {
		if r.Name == name && r.Type == "A" {
			return r.Value
		}
	}
	return ""
}

type fixture struct {
	st    *store.Store
	fl    *fakeFleet
	zones *fakeZones
	svc   *links.Service
	mail  api.AccountMail
	free  int64
	ports *api.MailPorts // what the agents report at mail.check
}

func mailStack() api.Stack {
	return api.Stack{Dovecot: &api.Component{Detected: true, Running: true}, Postfix: &api.Component{Detected: true, Running: true}}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	p := store.Pool{Name: "web", Preset: "generic", FailoverDelay: 30 * time.Second, TTL: 30, Failback: "manual", HeartbeatTimeout: 10 * time.Second}
	if err := st.CreatePool(ctx, &p, t0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name, addr string
		stack      api.Stack
	}{{"node1", "192.0.2.1", api.Stack{}}, {"node2", "192.0.2.2", api.Stack{}}, {"mail1", "192.0.2.10", mailStack()}, {"mail2", "192.0.2.11", api.Stack{}}} {
		sm := store.Member{PoolID: p.ID, Name: m.name, Address: m.addr, Priority: 100, HeartbeatInterval: 2 * time.Second}
		if err := st.CreateMember(ctx, &sm, nil, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().ExecContext(ctx, `UPDATE members SET agent_version = '1.4.0', stack = $1 WHERE id = $2`, mustJSON(m.stack), sm.ID); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{st: st, free: 10 << 30,
		mail: api.AccountMail{Account: "alice", Domains: []string{"example.com"},
			Users: []api.MailUser{{Name: "info@example.com", PasswordHash: "{PLAIN}x"}}}}
	f.fl = &fakeFleet{st: st, jobs: map[int64]*api.Job{}, status: map[string]string{}, answer: f.answer}
	f.zones = &fakeZones{records: map[string][]api.Record{"example.com": {
		{ID: 1, Zone: "example.com", Name: "mail", Type: "A", TTL: 300, Value: "192.0.2.1"},
		{ID: 2, Zone: "example.com", Name: "webmail.example.com.", Type: "A", TTL: 300, Value: "192.0.2.1"},
		{ID: 3, Zone: "example.com", Name: "www", Type: "A", TTL: 300, Value: "192.0.2.1"},
	}}}
	f.svc = f.newService()
	return f
}

func (f *fixture) newService() *links.Service {
	return links.New(links.Config{Store: f.st, Fleet: f.fl, Zones: f.zones, Now: func() time.Time { return t0 }})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// answer is the agents: every mail.* job succeeds with plausible results.
func (f *fixture) answer(j api.Job) (any, error) {
	var mj api.MailJob
	_ = json.Unmarshal(j.Args, &mj)
	prefix := ""
	var pa api.MailPackArgs
	if j.Kind == api.KindMailPack {
		_ = json.Unmarshal(j.Args, &pa)
		prefix = pa.Prefix
	}
	switch j.Kind {
	case api.KindMailExport:
		return api.MailExportResult{Mail: f.mail, Bytes: 5 << 20, Messages: 40}, nil
	case api.KindMailCheck:
		return api.MailCheckResult{Dovecot: true, Postfix: true, FreeBytes: f.free, Path: "/var/mail", Ports: f.ports}, nil
	case api.KindMailPack:
		return api.MailPackResult{Parts: []api.MailPart{{Key: prefix + "part-0", Size: 10}}, Files: prefix + "files", Messages: 40}, nil
	case api.KindMailUnpack:
		return api.MailUnpackResult{Written: 40}, nil
	case api.KindMailVerify:
		return api.MailVerifyResult{Checked: 40}, nil
	}
	return map[string]any{}, nil
}

func (f *fixture) setup(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.SetProfile(ctx, "web", "mail1", api.ProfileSet{Profile: api.ProfileMail}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "mail1", Function: api.FunctionMail}); err != nil {
		t.Fatal(err)
	}
}

func wantRefused(t *testing.T, err error, kind *apperr.Kind, text string) {
	t.Helper()
	if !errors.Is(err, kind) || !strings.Contains(err.Error(), text) {
		t.Fatalf("got %v, want a %s naming %q", err, kind, text)
	}
}

func TestProfilesAndLinkRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.svc.SetProfile(ctx, "web", "mail2", api.ProfileSet{Profile: api.ProfileMail})
	wantRefused(t, err, apperr.Conflict, "Dovecot and Postfix")
	_, err = f.svc.SetProfile(ctx, "web", "mail1", api.ProfileSet{Profile: "smtp"})
	wantRefused(t, err, apperr.Invalid, "standard, mail, dns, database")
	m, err := f.svc.SetProfile(ctx, "web", "mail1", api.ProfileSet{Profile: api.ProfileMail})
	if err != nil || m.Profile != api.ProfileMail {
		t.Fatalf("set mail profile: got %+v, %v", m, err)
	}
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "node2", Function: api.FunctionMail})
	wantRefused(t, err, apperr.Conflict, "must have the mail profile")
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "mail1", Child: "mail1", Function: api.FunctionMail})
	wantRefused(t, err, apperr.Invalid, "its own child")
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "mail1", Function: "web"})
	wantRefused(t, err, apperr.Invalid, "only function")

	if _, err := f.st.DB().ExecContext(ctx, `UPDATE members SET agent_version = '2.0.0' WHERE name = 'mail1'`); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "mail1", Function: api.FunctionMail})
	wantRefused(t, err, apperr.Conflict, "same major version")
	if _, err := f.st.DB().ExecContext(ctx, `UPDATE members SET agent_version = '1.5.2' WHERE name = 'mail1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "mail1", Function: api.FunctionMail}); err != nil {
		t.Fatalf("link with the same major version: %v", err)
	}
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node2", Child: "mail1", Function: api.FunctionMail})
	wantRefused(t, err, apperr.Conflict, "exactly one parent")
	_, err = f.svc.SetProfile(ctx, "web", "node1", api.ProfileSet{Profile: api.ProfileDNS})
	wantRefused(t, err, apperr.Conflict, "keeps the standard profile")

	// A child that loses Dovecot after setting its profile is refused too.
	if _, err := f.st.DB().ExecContext(ctx, `UPDATE members SET profile = 'mail' WHERE name = 'mail2'`); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node2", Child: "mail2", Function: api.FunctionMail})
	wantRefused(t, err, apperr.Conflict, "missing Dovecot and Postfix")

	ls, err := f.svc.Links(ctx, "web")
	if err != nil || len(ls) != 1 || ls[0].Child != "mail1" {
		t.Fatalf("links: got %+v, %v", ls, err)
	}
	if err := f.svc.RemoveLink(ctx, "web", "mail1"); err != nil {
		t.Fatal(err)
	}
	if k := f.fl.eventKinds(); !strings.Contains(k, links.KindLinkAdded) || !strings.Contains(k, links.KindLinkRemoved) {
		t.Errorf("events %q: want link added and removed", k)
	}
}

func runOf(t *testing.T, f *fixture, id int64) api.DistributionRun {
	t.Helper()
	r, err := f.svc.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDistributeAndBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setup(t)
	r, err := f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Step(ctx)
	got := runOf(t, f, r.ID)
	if got.Status != api.DistSucceeded {
		t.Fatalf("distribute: got %s at %s (%s), want succeeded", got.Status, got.Step, got.Error)
	}
	want := "node1:mail.export mail1:mail.check mail1:mail.import node1:mail.pack mail1:mail.unpack node1:mail.proxy node1:mail.pack mail1:mail.unpack mail1:mail.verify node1:mail.remove"
	if k := strings.Join(f.fl.kinds(), " "); k != want {
		t.Errorf("jobs:\n got %s\nwant %s", k, want)
	}
	if v := f.zones.value("example.com", "mail"); v != "192.0.2.10" {
		t.Errorf("mail.example.com: got %s, want the child's 192.0.2.10", v)
	}
	if v := f.zones.value("example.com", "www"); v != "192.0.2.1" {
		t.Errorf("www.example.com moved to %s; only mail records move", v)
	}
	proxy := f.fl.jobs[6]
	var pa api.MailProxyArgs
	_ = json.Unmarshal(proxy.Args, &pa)
	if len(pa.Users) != 1 || pa.Users[0].Host != "192.0.2.10" || len(pa.Routes) != 1 || pa.Routes[0].NextHop != "smtp:[192.0.2.10]:25" || len(pa.Kick) != 1 {
		t.Errorf("proxy args: got %+v", pa)
	}
	var mj api.MailJob
	_ = json.Unmarshal(f.fl.jobs[3].Args, &mj)
	if mj.Token == "" || mj.Link == 0 || mj.Role != "child" {
		t.Errorf("import on the child carries %+v, want link, token and role child", mj)
	}
	as, err := f.svc.DistributedAccounts(ctx, "web", "mail1")
	if err != nil || len(as) != 1 || as[0].State != store.DistDistributed || as[0].Users[0] != "info@example.com" {
		t.Fatalf("distributed accounts: got %+v, %v", as, err)
	}
	err = f.svc.RemoveLink(ctx, "web", "mail1")
	wantRefused(t, err, apperr.Conflict, "alice")
	_, err = f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	wantRefused(t, err, apperr.Conflict, "at most one child")

	// Dedistribution: the parent lacks the space, refused with both numbers.
	f.free = 1 << 20
	r, err = f.svc.Dedistribute(ctx, "web", "node1", "alice", api.Dedistribute{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Step(ctx)
	got = runOf(t, f, r.ID)
	if got.Status != api.DistFailed || !strings.Contains(got.Error, "5.0 MiB") || !strings.Contains(got.Error, "1.0 MiB free") {
		t.Fatalf("dedistribute without space: got %s %q, want failed with both numbers", got.Status, got.Error)
	}
	as, _ = f.svc.DistributedAccounts(ctx, "web", "mail1")
	if as[0].State != store.DistDistributed {
		t.Fatalf("after a refused dedistribution: state %s, want distributed", as[0].State)
	}
	f.free = 10 << 30
	r, err = f.svc.Dedistribute(ctx, "web", "node1", "alice", api.Dedistribute{Keep: api.Duration(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Step(ctx)
	if got = runOf(t, f, r.ID); got.Status != api.DistSucceeded {
		t.Fatalf("dedistribute: got %s at %s (%s)", got.Status, got.Step, got.Error)
	}
	if v := f.zones.value("example.com", "mail"); v != "192.0.2.1" {
		t.Errorf("mail.example.com after dedistribution: got %s, want the parent's", v)
	}
	as, _ = f.svc.DistributedAccounts(ctx, "web", "mail1")
	if len(as) != 1 || as[0].State != store.DistRetained || as[0].KeepUntil == nil || !as[0].KeepUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after dedistribution: got %+v, want retained for an hour", as)
	}
	// An hour later the child's copy is deleted (by a mail.remove on it).
	later := links.New(links.Config{Store: f.st, Fleet: f.fl, Zones: f.zones, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	later.Step(ctx)
	later.Step(ctx)
	if as, _ = f.svc.DistributedAccounts(ctx, "web", "mail1"); len(as) != 0 {
		t.Fatalf("after keep: got %+v, want the copy deleted", as)
	}
	if ks := f.fl.kinds(); ks[len(ks)-1] != "mail1:mail.remove" {
		t.Errorf("last job %s, want mail1:mail.remove", ks[len(ks)-1])
	}
	if err := f.svc.RemoveLink(ctx, "web", "mail1"); err != nil {
		t.Fatalf("remove the emptied link: %v", err)
	}
}

// The parent's proxy reaches the child on the ports its agent reported at
// the check step, and the dedistribution's check (on the parent) leaves
// them alone.
func TestChildMailPorts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setup(t)
	f.ports = &api.MailPorts{IMAP: 10143, POP3: 10110, SMTP: 10025}
	r, err := f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Step(ctx)
	if got := runOf(t, f, r.ID); got.Status != api.DistSucceeded {
		t.Fatalf("distribute: got %s at %s (%s)", got.Status, got.Step, got.Error)
	}
	var pa api.MailProxyArgs
	_ = json.Unmarshal(f.fl.jobs[6].Args, &pa)
	if len(pa.Users) != 1 || pa.Users[0].Port != 10143 || pa.Users[0].POP3Port != 10110 || len(pa.Routes) != 1 || pa.Routes[0].NextHop != "smtp:[192.0.2.10]:10025" {
		t.Errorf("proxy args: got %+v, want the child's reported ports", pa)
	}
}

// A server that restarts in the middle of a run picks it up at its step,
// with the job it had queued, and finishes it.
func TestRunResumesAfterRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setup(t)
	r, err := f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	if err != nil {
		t.Fatal(err)
	}
	f.fl.holdKind = api.KindMailPack
	f.svc.Step(ctx) // preconditions, export, check, import; copy queued and held
	mid := runOf(t, f, r.ID)
	if mid.Step != "copy" || mid.Job == 0 || mid.Status != api.DistRunning {
		t.Fatalf("mid-run: got %+v, want running at copy with a job", mid)
	}
	restarted := f.newService() // the old one is gone with its memory
	f.fl.release()
	restarted.Step(ctx)
	got, _ := restarted.Run(ctx, r.ID)
	if got.Status != api.DistSucceeded {
		t.Fatalf("after restart: got %s at %s (%s)", got.Status, got.Step, got.Error)
	}
	packs := 0
	for _, k := range f.fl.kinds() {
		if k == "node1:mail.pack" {
			packs++
		}
	}
	if packs != 2 {
		t.Errorf("got %d packs, want 2 (the held one reused, then the final one)", packs)
	}
}

func TestDistributionRefusals(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(f *fixture)
		want   string
	}{
		{"pipe forwarder", func(f *fixture) {
			f.mail.Forwarders = []api.MailForwarder{{From: "bot@example.com", To: "|/usr/local/bin/ticket"}}
		}, "pipe to a program"},
		{"ipv6", func(f *fixture) {
			f.zones.records["example.com"] = append(f.zones.records["example.com"], api.Record{ID: 9, Name: "mail", Type: "AAAA", Value: "2001:db8::1"})
		}, "IPv6"},
		{"dns not managed", func(f *fixture) { f.mail.Domains = []string{"example.org"} }, "not managed by poolctl"},
		{"child space", func(f *fixture) { f.free = 1 << 20 }, "lacks the space"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.setup(t)
			c.change(f)
			r, err := f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
			if err != nil {
				t.Fatal(err)
			}
			f.svc.Step(ctx)
			got := runOf(t, f, r.ID)
			if got.Status != api.DistFailed || !strings.Contains(got.Error, c.want) {
				t.Fatalf("got %s %q, want failed naming %q", got.Status, got.Error, c.want)
			}
			for _, k := range f.fl.kinds() {
				if strings.HasSuffix(k, api.KindMailImport) {
					t.Errorf("a refused distribution imported on the child")
				}
			}
			if as, _ := f.svc.DistributedAccounts(ctx, "web", "mail1"); len(as) != 0 {
				t.Errorf("a refused distribution left %+v", as)
			}
			if !strings.Contains(f.fl.eventKinds(), links.KindRunRefused) {
				t.Errorf("events %q: want %s", f.fl.eventKinds(), links.KindRunRefused)
			}
		})
	}
}

// With the child unreachable, dedistribution refuses; --force needs the
// account typed back and records what was lost.
func TestForcedDedistribution(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setup(t)
	r, _ := f.svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	f.svc.Step(ctx)
	if got := runOf(t, f, r.ID); got.Status != api.DistSucceeded {
		t.Fatalf("distribute: %+v", got)
	}
	f.fl.status["mail1"] = api.StatusDown
	_, err := f.svc.Dedistribute(ctx, "web", "node1", "alice", api.Dedistribute{})
	wantRefused(t, err, apperr.Conflict, "--force --confirm alice")
	_, err = f.svc.Dedistribute(ctx, "web", "node1", "alice", api.Dedistribute{Force: true, Confirm: "bob"})
	wantRefused(t, err, apperr.Invalid, "--confirm alice")
	r, err = f.svc.Dedistribute(ctx, "web", "node1", "alice", api.Dedistribute{Force: true, Confirm: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(f.fl.kinds())
	f.svc.Step(ctx)
	if got := runOf(t, f, r.ID); got.Status != api.DistSucceeded {
		t.Fatalf("forced: got %s at %s (%s)", got.Status, got.Step, got.Error)
	}
	for _, k := range f.fl.kinds()[before:] {
		if strings.HasPrefix(k, "mail1:") {
			t.Errorf("forced dedistribution asked the unreachable child: %s", k)
		}
	}
	var forced *api.Event
	for i := range f.fl.events {
		if f.fl.events[i].Kind == links.KindForced {
			forced = &f.fl.events[i]
		}
	}
	if forced == nil || !strings.Contains(forced.Message, "info@example.com") || !strings.Contains(forced.Message, "lost") {
		t.Fatalf("forced event: got %+v, want it to name the users whose mail is lost", forced)
	}
	if v := f.zones.value("example.com", "mail"); v != "192.0.2.1" {
		t.Errorf("mail.example.com: got %s, want the parent's", v)
	}
}
