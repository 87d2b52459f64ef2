package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
)

// sse reads a server-sent event stream.
type sse struct {
	t      *testing.T
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

func (c *client) stream(t *testing.T, path string) *sse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.hc
	hc.Timeout = 0
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &sse{t: t, sc: sc, cancel: cancel}
}

// next returns the next event.
func (s *sse) next() (name, data string) {
	s.t.Helper()
	var lines []string
	for s.sc.Scan() {
		l := s.sc.Text()
		switch {
		case l == "" && name != "":
			return name, strings.Join(lines, "\n")
		case strings.HasPrefix(l, "event: "):
			name = l[len("event: "):]
		case strings.HasPrefix(l, "data: "):
			lines = append(lines, l[len("data: "):])
		}
	}
	s.t.Fatalf("stream ended: %v", s.sc.Err())
	return "", ""
}

// await reads events until one named name has data containing want.
func (s *sse) await(name, want string) string {
	s.t.Helper()
	for {
		n, d := s.next()
		if n == name && strings.Contains(d, want) {
			return d
		}
	}
}

// enrolled adds member name to pool and enrols an agent for it.
func (e *env) enrolled(t *testing.T, pool, name string) fleet.Agent {
	t.Helper()
	ctx := context.Background()
	added, err := e.fl.AddMember(ctx, pool, api.MemberCreate{Name: name, Address: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: added.EnrollmentSecret}, mustAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.fl.AuthAgent(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func beat(t *testing.T, fl *fleet.Service, a fleet.Agent) {
	t.Helper()
	_, err := fl.Heartbeat(context.Background(), a, api.Heartbeat{Protocol: 1, Interval: api.Duration(time.Second),
		Metrics: api.Metrics{CPUPercent: 42, MemPercent: 17, Disks: []api.DiskUsage{{Mount: "/", Total: 100, Used: 73, Percent: 73}}},
		Stack:   &api.Stack{MariaDB: &api.Component{Detected: true, Version: "10.11.6", Running: true}}})
	if err != nil {
		t.Fatal(err)
	}
}

// The overview's stream sends every part at once, then what changes: a
// heartbeat turns the member's tile healthy, and a new member makes the
// page fetch its tiles anew.
func TestDashboardLivePool(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	if _, err := e.fl.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	a := e.enrolled(t, "web", "node1")
	page := c.get("/pools/web")
	live := regexpFind(t, page.Body, `sse-connect="([^"]+)"`)
	s := c.stream(t, strings.ReplaceAll(live, "&amp;", "&"))
	s.await("m-node1", `data-status="pending"`)
	beat(t, e.fl, a)
	s.await("kpis", "1 / 1")
	d := s.await("m-node1", `data-status="healthy"`)
	for _, want := range []string{"42%", "73%", "Last heartbeat"} {
		if !strings.Contains(d, want) {
			t.Errorf("healthy tile lacks %q:\n%s", want, d)
		}
	}
	s.await("m-node1", "MariaDB") // the stack reaches the store with the next flush
	if _, err := e.fl.AddMember(context.Background(), "web", api.MemberCreate{Name: "node2", Address: "192.0.2.11"}); err != nil {
		t.Fatal(err)
	}
	s.await("members", "")
	s.await("m-node2", `data-status="pending"`)
}

// A member page's stream carries its state, metrics and components.
func TestDashboardLiveMember(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	if _, err := e.fl.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	a := e.enrolled(t, "web", "node1")
	s := c.stream(t, "/pools/web/members/node1/live")
	s.await("m-state", "waiting for agent")
	beat(t, e.fl, a)
	s.await("m-state", `data-status="healthy"`)
	s.await("m-metrics", "42%")
	s.await("m-services", "10.11.6")
}

// A job's stream sends its log lines as they come, its status, then done.
func TestDashboardJobStream(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	a := e.enrolled(t, "web", "node1")
	r := c.post("/pools/web/members/node1/jobs", url.Values{"kind": {"facts.refresh"}})
	wantStatus(t, "run job", r, http.StatusSeeOther)
	s := c.stream(t, r.Header.Get("Location")+"/stream?after=0")
	s.await("status", `data-status="queued"`)
	j, err := e.fl.NextJob(ctx, a, time.Second)
	if err != nil || j == nil {
		t.Fatalf("next job: %v %v", j, err)
	}
	if err := e.fl.AppendJobLog(ctx, a, j.ID, api.JobLogAppend{Lines: []string{"detecting <facts>"}}); err != nil {
		t.Fatal(err)
	}
	if d := s.await("line", "detecting"); !strings.Contains(d, "detecting &lt;facts&gt;") {
		t.Errorf("log line not escaped: %s", d)
	}
	if err := e.fl.FinishJob(ctx, a, j.ID, api.JobResult{OK: true, Result: []byte(`{"ok":true}`)}); err != nil {
		t.Fatal(err)
	}
	s.await("status", `data-status="succeeded"`)
	s.await("done", "succeeded")
	// The finished job's page shows its log above its result.
	page := c.get(r.Header.Get("Location")).Body
	logAt, resAt := strings.Index(page, `id="log-title"`), strings.Index(page, `id="result-title"`)
	if logAt < 0 || resAt < 0 || logAt > resAt {
		t.Errorf("job page: log at %d, result at %d, want the log first", logAt, resAt)
	}
}

func regexpFind(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, s)
	}
	return m[1]
}

// Signing out everywhere also ends the live streams already open.
func TestDashboardLiveSignOut(t *testing.T) {
	e := newEnv(t)
	a, b := e.client(t), e.client(t)
	a.login("admin", testPassword)
	b.login("admin", testPassword)
	if _, err := e.fl.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	s := a.stream(t, "/pools/web/live")
	s.await("kpis", "Members healthy")
	wantStatus(t, "sign out everywhere", b.post("/logout-everywhere", nil), http.StatusSeeOther)
	ended := make(chan struct{})
	go func() {
		for s.sc.Scan() {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream went on after signing out everywhere")
	}
}

// Every live stream starts with "hello", on every connection, saying when
// the server started and what time it is, so that a page can tell a
// reconnect; a reconnected page stream sends every live part anew.
func TestDashboardLiveHello(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	if _, err := e.fl.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	e.enrolled(t, "web", "node1")
	r := c.post("/pools/web/members/node1/jobs", url.Values{"kind": {"facts.refresh"}})
	wantStatus(t, "run job", r, http.StatusSeeOther)
	page := c.get("/pools/web")
	for _, want := range []string{`<div id="live-status" class="live-status" role="status"></div>`, `src="/static/live.js?v=`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("overview page lacks %s", want)
		}
	}
	var started string
	for _, path := range []string{"/pools/web/live", "/pools/web/live", "/pools/web/members/node1/live", r.Header.Get("Location") + "/stream?after=0"} {
		s := c.stream(t, path)
		name, data := s.next()
		if name != "hello" {
			t.Fatalf("%s: first event %q (%s), want hello", path, name, data)
		}
		var h struct {
			ServerStarted string `json:"server_started"`
			Now           string `json:"now"`
		}
		if err := json.Unmarshal([]byte(data), &h); err != nil {
			t.Fatalf("%s: hello %s: %v", path, data, err)
		}
		st, err1 := time.Parse(time.RFC3339, h.ServerStarted)
		now, err2 := time.Parse(time.RFC3339, h.Now)
		if err1 != nil || err2 != nil || now.Before(st) || time.Since(now) > time.Minute {
			t.Errorf("%s: hello %s: want RFC 3339 times, server_started <= now = about now", path, data)
		}
		if started != "" && h.ServerStarted != started {
			t.Errorf("%s: server_started %s, another stream said %s", path, h.ServerStarted, started)
		}
		started = h.ServerStarted
		if strings.HasSuffix(path, "/pools/web/live") {
			s.await("kpis", "Members healthy") // on the second connection too
		}
		s.cancel()
	}
}
