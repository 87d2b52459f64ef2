package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/agent"
	"github.com/poolctl/poolctl/internal/objstore/objstoretest"
	"github.com/poolctl/poolctl/internal/storetest"
)

// lockedBuffer collects a log written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secretSet names the secrets a test handed out, to look for in output.
type secretSet map[string]string // what -> value

func (s secretSet) check(t *testing.T, where, text string) {
	t.Helper()
	for what, v := range s {
		if v != "" && strings.Contains(text, v) {
			i := strings.Index(text, v)
			from, to := max(0, i-200), min(len(text), i+len(v)+100)
			t.Errorf("%s shows the %s: ...%s...", where, what, text[from:to])
		}
	}
}

// TestServerAndAgentLogNoSecret runs the server with secrets in its flags
// (a PostgreSQL password, S3 keys, a TSIG secret), enrols and runs an
// agent, makes requests with bad and revoked credentials and a spent
// enrolment secret, signs in to the dashboard, and then looks for every
// secret in the server's log (at debug level), the agent's log, the CLI's
// output and every event.
func TestServerAndAgentLogNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and an agent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	random := func() string {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	secrets := secretSet{}

	// PostgreSQL with a password in the URL (the test server trusts
	// loopback connections, so any password is accepted).
	pg, err := url.Parse(storetest.NewPostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	secrets["database password"] = "pgpw" + random()
	pg.User = url.UserPassword(pg.User.Username(), secrets["database password"])

	// S3 keys when versitygw is here (CI), else the objects directory.
	objects := ""
	if objstoretest.VersityGWPath() != "" || storetest.Required() {
		gw := objstoretest.StartVersityGW(t)
		secrets["S3 secret key"] = gw.SecretKey
		objects = "s3://" + gw.AccessKey + ":" + gw.SecretKey + "@" + gw.Endpoint + "/poolctl-redact"
	} else {
		t.Log("versitygw not installed: objects in a directory, S3 keys not checked")
	}
	tsigRaw := make([]byte, 32)
	_, _ = rand.Read(tsigRaw)
	secrets["TSIG secret"] = base64.StdEncoding.EncodeToString(tsigRaw)

	data := t.TempDir()
	serverLog := &lockedBuffer{}
	ready := make(chan *RunningServer, 1)
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	served := make(chan error, 1)
	go func() {
		served <- RunServer(srvCtx, ServerOptions{
			Data: data, Listen: "127.0.0.1:0", Database: pg.String(), LogLevel: "debug",
			DNS:         DNSOptions{Listen: "127.0.0.1:0", TSIG: []string{"xfr-key:" + secrets["TSIG secret"]}, RequireTSIG: true},
			Replication: ReplicationOptions{Objects: objects, Concurrency: 1},
			Ready:       func(rs *RunningServer) { ready <- rs },
		}, serverLog)
	}()
	var rs *RunningServer
	select {
	case rs = <-ready:
	case err := <-served:
		t.Fatalf("server: %v\n%s", err, serverLog.String())
	case <-ctx.Done():
		t.Fatal("server did not start")
	}
	secrets["admin token"] = rs.AdminToken
	caPEM, err := os.ReadFile(rs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(rs.URL, client.Options{Token: rs.AdminToken, CAPEM: caPEM})
	if err != nil {
		t.Fatal(err)
	}

	// CLI commands through the environment, token and all.
	t.Setenv("POOLCTL_URL", rs.URL)
	t.Setenv("POOLCTL_TOKEN", rs.AdminToken)
	t.Setenv("POOLCTL_CA", rs.CAFile)
	cliOut := &bytes.Buffer{}
	poolctl := func(stdin string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Main(ctx, args, strings.NewReader(stdin), &out, &errOut)
		cliOut.WriteString(errOut.String())
		return code, out.String() + errOut.String()
	}
	if code, out := poolctl("", "pool", "create", "web"); code != 0 {
		t.Fatalf("pool create: %s", out)
	}
	secrets["probe password"] = "probepw" + random()
	added, err := admin.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.10", AllowedCIDRs: []string{"127.0.0.1/32"},
		ProbeURL: "http://probe:" + secrets["probe password"] + "@127.0.0.1:1/health"})
	if err != nil {
		t.Fatal(err)
	}
	secrets["enrolment secret"] = added.EnrollmentSecret
	// The CLI prints a one-time secret on purpose; the rest of its output
	// is checked.
	code, out := poolctl("", "member", "add", "web", "node2", "--address", "192.0.2.20", "--output", "json")
	if code != 0 {
		t.Fatalf("member add: %s", out)
	}
	var added2 api.MemberAdded
	if err := json.Unmarshal([]byte(out), &added2); err != nil {
		t.Fatalf("member add --output json: %v\n%s", err, out)
	}
	secrets["second enrolment secret"] = added2.EnrollmentSecret

	// An agent, enrolled and beating.
	agentLog := &lockedBuffer{}
	alog := slog.New(slog.NewTextHandler(agentLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	agentDir := t.TempDir()
	if _, err := agent.Enroll(ctx, agent.EnrollOptions{Server: rs.URL, Secret: added.EnrollmentSecret, DataDir: agentDir, Hostname: "node1.test", Version: "test"}); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	st, err := agent.LoadState(agentDir)
	if err != nil {
		t.Fatal(err)
	}
	secrets["agent credential"] = st.Token
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- agent.Run(agentCtx, agent.Config{DataDir: agentDir, HeartbeatInterval: 500 * time.Millisecond,
			Root: t.TempDir(), Logger: alog, Version: "test"})
	}()
	healthy := func() bool {
		m, err := admin.GetMember(ctx, "web", "node1")
		return err == nil && m.Status == "healthy"
	}
	for deadline := time.Now().Add(30 * time.Second); !healthy(); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-agentDone:
			t.Fatalf("agent stopped: %v\nagent log:\n%s", err, agentLog.String())
		default:
		}
		if time.Now().After(deadline) {
			m, err := admin.GetMember(ctx, "web", "node1")
			t.Fatalf("node1 not healthy: %+v %v\nagent log:\n%s", m, err, agentLog.String())
		}
	}

	// The spent secret again, and a malformed one.
	_, err = agent.Enroll(ctx, agent.EnrollOptions{Server: rs.URL, Secret: added.EnrollmentSecret, DataDir: t.TempDir(), Version: "test"})
	if err == nil {
		t.Fatal("a spent enrolment secret enrolled again")
	}
	cliOut.WriteString(err.Error() + "\n")
	anon, err := client.New(rs.URL, client.Options{CAPEM: caPEM})
	if err != nil {
		t.Fatal(err)
	}
	secrets["malformed enrolment secret"] = "pe1.x." + random()[:10]
	if _, err := anon.Enroll(ctx, api.EnrollRequest{Secret: secrets["malformed enrolment secret"], Hostname: "x"}); err == nil {
		t.Fatal("a malformed secret enrolled")
	} else {
		cliOut.WriteString(err.Error() + "\n")
	}

	// Bad credentials: unknown admin and agent tokens.
	secrets["unknown admin token"] = "pat_" + random()
	secrets["unknown agent credential"] = "pag_" + random()
	for _, tok := range []string{secrets["unknown admin token"], secrets["unknown agent credential"], "not-even-a-token-" + secrets["TSIG secret"]} {
		c, _ := client.New(rs.URL, client.Options{Token: tok, CAPEM: caPEM})
		if _, err := c.ListPools(ctx); err == nil {
			t.Fatal("an unknown token was accepted")
		} else {
			cliOut.WriteString(err.Error() + "\n")
		}
		if _, err := c.Heartbeat(ctx, api.Heartbeat{}); err == nil {
			t.Fatal("an unknown agent credential was accepted")
		} else {
			cliOut.WriteString(err.Error() + "\n")
		}
	}

	// A token created, used, revoked, refused.
	code, out = poolctl("", "token", "create", "ci", "--output", "json")
	if code != 0 {
		t.Fatalf("token create: %s", out)
	}
	var created api.TokenCreated
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("token create --output json: %v\n%s", err, out)
	}
	secrets["created token"] = created.Secret
	if code, out := poolctl("", "pool", "list", "--token", created.Secret); code != 0 {
		t.Fatalf("pool list with the new token: %s", out)
	}
	if code, out := poolctl("", "token", "revoke", strconvI(created.Token.ID)); code != 0 {
		t.Fatalf("token revoke: %s", out)
	}
	if code, _ := poolctl("", "pool", "list", "--token", created.Secret); code == 0 {
		t.Fatal("a revoked token still works")
	}
	if code, _ := poolctl("", "events", "--kind", "token."); code != 0 {
		t.Fatal("events --kind token.")
	}

	// The dashboard: a wrong password, the password in the name field, the
	// right one; a user added with a password on stdin.
	pw, err := os.ReadFile(filepath.Join(data, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	secrets["dashboard password"] = strings.TrimSpace(string(pw))
	secrets["wrong dashboard password"] = "wrongpw-" + random()
	hc := dashboardClient(t, caPEM)
	for _, try := range [][2]string{{"admin", secrets["wrong dashboard password"]}, {secrets["dashboard password"], "admin"}, {"admin", secrets["dashboard password"]}} {
		dashboardSignIn(t, hc, rs.URL, try[0], try[1])
	}
	if res, err := hc.Get(rs.URL + "/pools/web"); err != nil || res.StatusCode != 200 {
		t.Fatalf("overview after signing in: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	secrets["new user's password"] = "alicepw-" + random()
	if code, out := poolctl(secrets["new user's password"]+"\n", "user", "add", "alice", "--database", pg.String()); code != 0 {
		t.Fatalf("user add: %s", out)
	} else {
		cliOut.WriteString(out)
	}
	dashboardSignIn(t, dashboardClient(t, caPEM), rs.URL, "alice", secrets["new user's password"])

	// Every event, as the API gives them and as the CLI prints them.
	evs, err := admin.Events(ctx, client.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 8 {
		t.Errorf("only %d events; expected pool, members, enrolment, refusals, tokens", len(evs))
	}
	raw, _ := json.Marshal(evs)
	secrets.check(t, "GET /api/v1/events", string(raw))
	_, out = poolctl("", "events")
	secrets.check(t, "poolctl events", out)
	for _, want := range []string{"enrollment.refused", "token.created", "token.revoked", "member.enrolled"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("no %s event among %d", want, len(evs))
		}
	}

	// The server goes away while the agent beats; then the agent stops.
	stopServer()
	if err := <-served; err != nil {
		t.Errorf("server: %v", err)
	}
	waitUntil(t, ctx, "the agent to notice the outage", func() bool { return strings.Contains(agentLog.String(), "unreachable") })
	stopAgent()
	if err := <-agentDone; err != nil {
		t.Errorf("agent: %v", err)
	}

	secrets.check(t, "the server log", serverLog.String())
	secrets.check(t, "the agent log", agentLog.String())
	secrets.check(t, "the CLI's messages", cliOut.String())
	for _, want := range []string{"sign-in failed", "poolctl server ready", "level=DEBUG"} {
		if !strings.Contains(serverLog.String(), want) {
			t.Errorf("server log lacks %q; the test did not exercise what it should", want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("server log:\n%s\nagent log:\n%s", serverLog.String(), agentLog.String())
	}
}

func strconvI(n int64) string { b, _ := json.Marshal(n); return string(b) }

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dashboardClient(t *testing.T, caPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func dashboardSignIn(t *testing.T, hc *http.Client, base, name, pw string) int {
	t.Helper()
	res, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in page without token:\n%s", body)
	}
	res, err = hc.PostForm(base+"/login", url.Values{"name": {name}, "password": {pw}, "token": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
