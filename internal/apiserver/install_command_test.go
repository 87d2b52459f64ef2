package apiserver_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/release"
)

// TestInstallCommand: a new enrolment secret comes with the one-line
// install for the URL the client reached the server at (its Host, over
// TLS), pinned to the server's key; forwarded headers change nothing.
func TestInstallCommand(t *testing.T) {
	e, _ := releaseEnv(t)
	if _, err := e.c.CreatePool(t.Context(), api.PoolCreate{Name: "p1"}); err != nil {
		t.Fatal(err)
	}
	// Over plain HTTP nothing downloaded may run: no command.
	if ma := e.member(t, "p1", api.MemberCreate{Name: "plain"}); ma.InstallCommand != "" {
		t.Errorf("plain HTTP: install command %q, want none", ma.InstallCommand)
	}
	post := func(path, body string) api.MemberAdded {
		t.Helper()
		req := httptest.NewRequest("POST", "https://panel.example.com:8443"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "http")
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		var ma api.MemberAdded
		if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &ma) != nil {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		return ma
	}
	for _, ma := range []api.MemberAdded{
		post("/api/v1/pools/p1/members", `{"name":"node1","address":"203.0.113.11"}`),
		post("/api/v1/pools/p1/members/node1/enrollment-secret", `{}`),
	} {
		want := release.InstallCommand("https://panel.example.com:8443", testPin, ma.EnrollmentSecret)
		if ma.InstallCommand != want || !strings.Contains(want, "--pinnedpubkey "+testPin) {
			t.Errorf("install command:\n got %q\nwant %q", ma.InstallCommand, want)
		}
	}
}
