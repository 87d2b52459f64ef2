package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// FuzzHeartbeatDecode posts arbitrary bytes as an enrolled agent's
// heartbeat: the server answers 200, 400 or 413, never a server error, and
// every error has the {"error":{"code","message"}} shape.
func FuzzHeartbeatDecode(f *testing.F) {
	e := newEnv(f, storetest.Open(f, store.SQLite))
	if _, err := e.c.CreatePool(f.Context(), api.PoolCreate{Name: "fz"}); err != nil {
		f.Fatal(err)
	}
	tok := e.enroll(f, e.member(f, "fz", api.MemberCreate{Name: "a"}).EnrollmentSecret)

	full := heartbeat()
	full.Facts = &api.Facts{Hostname: "h", OS: "linux", CPUCount: 2}
	pending := 3
	full.Stack = &api.Stack{MariaDB: &api.Component{Detected: true, Version: "10.11"}, PendingUpdates: &pending,
		Galera: &api.Galera{Enabled: true, ClusterSize: 3}, Firewall: &api.Firewall{Detected: true, Kinds: []string{"nftables"}}}
	for _, s := range []string{
		mustJSON(f, heartbeat()),
		mustJSON(f, full),
		`{"protocol":1}`,
		`{"protocol":1,"interval":30}`,
		`{"protocol":1,"interval":"1m"}`,
		`{"protocol":1,"interval":"1e9h"}`,
		`{"protocol":1,"interval":1e300}`,
		`{"protocol":1,"interval":-1e300}`,
		`{"protocol":99999999999999999999}`,
		`{"protocol":1,"metrics":{"cpu_percent":1e309}}`,
		`{"protocol":1,"metrics":{"cpu_percent":100.00009,"mem_percent":0}}`,
		`{"protocol":1,"metrics":{"mem_total":18446744073709551615,"mem_used":18446744073709551615}}`,
		`{"protocol":1,"metrics":{"disks":[{"mount":"/","total":1,"used":2,"percent":1}]}}`,
		`{"protocol":1,"metrics":{"disks":[{"mount":"","total":1,"used":0,"percent":1}]}}`,
		`{"protocol":1,"facts":null,"stack":null}`,
		`{"protocol":1,"stack":{"galera":{"cluster_size":-1}}}`,
		`{"protocol":1,"agent_version":"\u00ff\ud800"}`,
		`{"protocol":1}{"protocol":1}`,
		`{"protocol":1,"extra":true}`,
		`{}`, `null`, `[]`, `""`, ``, "\xff\xfe", `{"protocol":1,`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.do(t, req{method: "POST", path: "/api/v1/agent/heartbeat", token: tok, body: body, ct: "application/json"})
		switch r.status {
		case 200:
			var rep api.HeartbeatReply
			if err := json.Unmarshal(r.body, &rep); err != nil || rep.Status == "" {
				t.Errorf("heartbeat %q: got 200 %q, want a heartbeat reply", body, r.body)
			}
		case 400:
			wantError(t, "heartbeat", r, 400, "invalid")
		case 413:
			wantError(t, "heartbeat", r, 413, "too_large")
		default:
			t.Errorf("heartbeat %q: got %s, want 200, 400 or 413", body, r)
		}
	})
}

// FuzzEnrollDecode posts arbitrary bytes to the enrolment route: never a
// server error and never 201 (no random input holds a redeemable secret:
// the only unused one belongs to a member fenced to another network).
func FuzzEnrollDecode(f *testing.F) {
	e := newEnv(f, storetest.Open(f, store.SQLite))
	if _, err := e.c.CreatePool(f.Context(), api.PoolCreate{Name: "fz"}); err != nil {
		f.Fatal(err)
	}
	used := e.member(f, "fz", api.MemberCreate{Name: "a"}).EnrollmentSecret
	e.enroll(f, used)
	fenced := e.member(f, "fz", api.MemberCreate{Name: "b", AllowedCIDRs: []string{"198.51.100.0/24"}}).EnrollmentSecret
	parts := strings.Split(fenced, ".")
	for _, s := range []string{
		mustJSON(f, api.EnrollRequest{Secret: used, Hostname: "h", AgentVersion: "1"}),
		mustJSON(f, api.EnrollRequest{Secret: fenced}),
		mustJSON(f, api.EnrollRequest{Secret: fenced[:len(fenced)-1]}),
		mustJSON(f, api.EnrollRequest{Secret: parts[0] + "." + parts[1] + "." + strings.Repeat("A", 43)}),
		mustJSON(f, api.EnrollRequest{Secret: "pe1.-." + strings.Repeat("x", 40)}),
		mustJSON(f, api.EnrollRequest{Secret: "pe1..." + strings.Repeat("x", 40)}),
		mustJSON(f, api.EnrollRequest{Secret: "pe1.a.b.c"}),
		mustJSON(f, api.EnrollRequest{Secret: strings.ToUpper(fenced)}),
		mustJSON(f, api.EnrollRequest{Secret: fenced + "\u0000"}),
		`{"secret":"` + fenced + `","bogus":1}`,
		`{"secret":null}`,
		`{"secret":1}`,
		`{"secret":"` + strings.Repeat("p", 17<<10) + `"}`,
		`{}`, `null`, `[]`, ``, "\xff", `{"secret":"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.do(t, req{method: "POST", path: enrollPath, body: body, ct: "application/json"})
		switch r.status {
		case 400:
			wantError(t, "enroll", r, 400, "invalid")
		case 403:
			wantError(t, "enroll", r, 403, "forbidden")
		case 413:
			wantError(t, "enroll", r, 413, "too_large")
		default:
			t.Errorf("enroll %q: got %s, want 400, 403 or 413", body, r)
		}
	})
}
