package fleet_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

var agentSource = netip.MustParseAddr("192.0.2.7")

// rotationEnv is a service with one enrolled member web/node1 whose agent
// holds token.
type rotationEnv struct {
	st    *store.Store
	s     *fleet.Service
	token string
}

func newRotationEnv(t *testing.T, cfg fleet.Config) *rotationEnv {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	cfg.CAFingerprint = strings.Repeat("ab", 32)
	s := fleet.New(st, cfg)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "203.0.113.10"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, agentSource)
	if err != nil {
		t.Fatal(err)
	}
	return &rotationEnv{st: st, s: s, token: enr.Token}
}

// beat3 sends a protocol 3 heartbeat with token and returns the reply.
func (e *rotationEnv) beat3(t *testing.T, token string) api.HeartbeatReply {
	t.Helper()
	ctx := context.Background()
	a, err := e.s.AuthAgentFrom(ctx, token, agentSource)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	r, err := e.s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 3, Interval: api.Duration(2 * time.Second), AgentVersion: "test"})
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	return r
}

func (e *rotationEnv) events(t *testing.T) []api.Event {
	t.Helper()
	evs, err := e.st.ListEvents(context.Background(), store.EventFilter{Kind: "agent.credential*", Member: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func wantErrKind(t *testing.T, err error, kind *apperr.Kind, text string) {
	t.Helper()
	if !errors.Is(err, kind) || !strings.Contains(apperr.Message(err), text) {
		t.Fatalf("got %v, want a %v error saying %q", err, kind, text)
	}
}

// TestCredentialRotatesByAge: a credential older than the rotation age is
// replaced through heartbeat replies; the old one keeps working for the
// overlap after the new one's first use, then is refused with an event that
// names its source.
func TestCredentialRotatesByAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newRotationEnv(t, fleet.Config{CredentialRotation: time.Hour, CredentialOverlap: time.Minute})
		if r := e.beat3(t, e.token); r.NewCredential != "" {
			t.Fatal("a fresh credential was rotated")
		}
		// Protocol 2 agents cannot take a new credential: none is offered.
		time.Sleep(time.Hour)
		a, _ := e.s.AuthAgent(ctx, e.token)
		if r, _ := e.s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 2}); r.NewCredential != "" {
			t.Fatal("a protocol 2 agent was offered a credential")
		}
		next := e.beat3(t, e.token).NewCredential
		if !strings.HasPrefix(next, "pag_") {
			t.Fatalf("no new credential after the rotation age: %q", next)
		}
		// A lost reply costs nothing: the same one is offered again.
		if again := e.beat3(t, e.token).NewCredential; again != next {
			t.Fatalf("second offer %q differs from the first", again)
		}
		m, _ := e.s.Member(ctx, "web", "node1")
		if m.Credential == nil || m.Credential.Rotation != "issued" {
			t.Fatalf("member credential during rotation: %+v", m.Credential)
		}
		if r := e.beat3(t, next); r.NewCredential != "" {
			t.Fatal("the new credential was offered another one")
		}
		if ev := e.events(t); len(ev) != 1 || ev[0].Kind != fleet.KindCredentialRotated {
			t.Fatalf("events after the first use: %+v", ev)
		}
		// Within the overlap the old credential still works...
		time.Sleep(59 * time.Second)
		if _, err := e.s.AuthAgentFrom(ctx, e.token, agentSource); err != nil {
			t.Fatalf("old credential within the overlap: %v", err)
		}
		// ...after it, it is refused, and each use is reported.
		time.Sleep(2 * time.Second)
		thief := netip.MustParseAddr("198.51.100.9")
		_, err := e.s.AuthAgentFrom(ctx, e.token, thief)
		wantErrKind(t, err, apperr.Unauthorized, "replaced by a rotation")
		ev := e.events(t)
		last := ev[len(ev)-1]
		if last.Kind != fleet.KindCredentialRefused || !strings.Contains(last.Message, "198.51.100.9") {
			t.Fatalf("use of the rotated-out credential: %+v", last)
		}
		if _, err := e.s.AuthAgentFrom(ctx, next, agentSource); err != nil {
			t.Fatalf("new credential: %v", err)
		}
		m, _ = e.s.Member(ctx, "web", "node1")
		if m.Credential == nil || m.Credential.Rotation != "" || m.Credential.NextRotationAt == nil ||
			!m.Credential.NextRotationAt.Equal(m.Credential.IssuedAt.Add(time.Hour)) {
			t.Fatalf("member credential after rotation: %+v", m.Credential)
		}
		// The sweep that retires credentials after their overlap writes it down.
		if n, err := e.st.RetireExpiredCredentials(ctx, time.Now()); err != nil || n != 1 {
			t.Fatalf("retire expired: %d, %v", n, err)
		}
	})
}

// TestCredentialRotationSurvivesRestart: a credential handed out just before
// the server restarted works with the restarted one, which never saw it in
// memory.
func TestCredentialRotationSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newRotationEnv(t, fleet.Config{})
		if _, err := e.s.RotateCredentials(ctx, "web", "node1"); err != nil {
			t.Fatal(err)
		}
		next := e.beat3(t, e.token).NewCredential
		if next == "" {
			t.Fatal("no credential offered after a rotation request")
		}
		s2 := fleet.New(e.st, fleet.Config{})
		if err := s2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.AuthAgentFrom(ctx, next, agentSource); err != nil {
			t.Fatalf("new credential on the restarted server: %v", err)
		}
		m, _ := s2.Member(ctx, "web", "node1")
		if m.Credential.Rotation != "" || m.Credential.PreviousValidUntil == nil {
			t.Fatalf("after the first use: %+v", m.Credential)
		}
	})
}

// TestCredentialRevoke: a revoked credential is refused at once with 401 and
// each use is an event with its source; the active member needs force.
func TestCredentialRevoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newRotationEnv(t, fleet.Config{})
		if err := e.s.RevokeCredential(ctx, "web", "nope", false); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("revoke unknown member: %v", err)
		}
		if err := e.s.RevokeCredential(ctx, "web", "node1", false); err != nil {
			t.Fatal(err)
		}
		_, err := e.s.AuthAgentFrom(ctx, e.token, agentSource)
		wantErrKind(t, err, apperr.Unauthorized, "revoked")
		_, err = e.s.AuthAgentFrom(ctx, e.token, agentSource)
		wantErrKind(t, err, apperr.Unauthorized, "revoked")
		kinds := ""
		for _, ev := range e.events(t) {
			kinds += ev.Kind + " "
		}
		if kinds != "agent.credential_revoked agent.credential_refused " {
			t.Fatalf("events: %s", kinds)
		}
		time.Sleep(11 * time.Second)
		if _, err = e.s.AuthAgentFrom(ctx, e.token, agentSource); !errors.Is(err, apperr.Unauthorized) {
			t.Fatal(err)
		}
		ev := e.events(t)
		if last := ev[len(ev)-1]; !strings.Contains(last.Message, "(2 use(s)") || !strings.Contains(last.Message, "192.0.2.7") {
			t.Fatalf("second report should count both uses and name the source: %s", last.Message)
		}
		if err := e.s.RevokeCredential(ctx, "web", "node1", false); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := e.s.RotateCredentials(ctx, "web", "node1"); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("rotate a revoked credential: %v", err)
		}
		m, _ := e.s.Member(ctx, "web", "node1")
		if m.Credential != nil {
			t.Fatalf("revoked member shows a credential: %+v", m.Credential)
		}
	})
}

// TestBadCredentialsNeverReachStore: malformed credentials are refused
// without the store (here closed), and an unknown well-formed one is looked
// up once, then answered from memory.
func TestBadCredentialsNeverReachStore(t *testing.T) {
	ctx := context.Background()
	e := newRotationEnv(t, fleet.Config{})
	unknown := "pag_" + strings.Repeat("A", 43)
	if _, err := e.s.AuthAgentFrom(ctx, unknown, agentSource); !errors.Is(err, apperr.Unauthorized) {
		t.Fatalf("unknown credential: %v", err)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "x", "pag_", "pat_" + strings.Repeat("A", 43), "pag_" + strings.Repeat("A", 42) + "=",
		"pag_" + strings.Repeat("A", 44), "pag_" + strings.Repeat("\x00", 43), unknown, e.token + " "} {
		if _, err := e.s.AuthAgentFrom(ctx, tok, agentSource); !errors.Is(err, apperr.Unauthorized) {
			t.Errorf("credential %q with the store closed: %v, want 401 from memory", tok, err)
		}
	}
	if _, err := e.s.AuthAgentFrom(ctx, e.token, agentSource); err != nil {
		t.Errorf("valid credential with the store closed: %v", err)
	}
}
