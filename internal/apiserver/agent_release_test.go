package apiserver_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

const testPin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// releaseEnv is an API server offering one made-up agent binary.
func releaseEnv(t *testing.T) (*env, []byte) {
	t.Helper()
	data := []byte(strings.Repeat("agent binary bytes\n", 1000))
	self := filepath.Join(t.TempDir(), "poolctl")
	if err := os.WriteFile(self, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := release.Load(release.Options{Version: "1.2.3", Self: self, SelfOS: "linux", SelfArch: "amd64", TLSPin: testPin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	e := newEnvWith(t, storetest.Open(t, store.SQLite), func(d *apiserver.Deps) { d.Releases = cat })
	return e, data
}

func TestAgentReleases(t *testing.T) {
	e, data := releaseEnv(t)
	s := sha256.Sum256(data)
	want := hex.EncodeToString(s[:])

	// The catalogue, without a credential.
	rel, err := e.client(t, "").AgentReleases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rel.ServerVersion != "1.2.3" || rel.TLSPin != testPin || len(rel.Items) != 1 || rel.Items[0].SHA256 != want ||
		rel.Items[0].Size != int64(len(data)) || rel.Items[0].URL != "/api/v1/agent/releases/linux/amd64" {
		t.Fatalf("releases: got %+v, want 1.2.3, the pin and linux/amd64 with sha256 %s", rel, want)
	}

	// The binary, with its checksum in a header.
	r := e.do(t, req{method: "GET", path: "/api/v1/agent/releases/linux/amd64"})
	if r.status != 200 || string(r.body) != string(data) || r.header.Get("X-Poolctl-Sha256") != want ||
		r.header.Get("Content-Type") != "application/octet-stream" || r.header.Get("Content-Length") != itoa(len(data)) ||
		r.header.Get("X-Poolctl-Version") != "1.2.3" {
		t.Fatalf("download: got %d %v (%d bytes), want 200 octet-stream of %d bytes with X-Poolctl-Sha256 %s", r.status, r.header, len(r.body), len(data), want)
	}
	etag := r.header.Get("ETag")
	if r := e.do(t, req{method: "GET", path: "/api/v1/agent/releases/linux/amd64", header: map[string]string{"If-None-Match": etag}}); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match %s: got %d, want 304", etag, r.status)
	}
	if r := e.do(t, req{method: "GET", path: "/api/v1/agent/releases/linux/amd64", header: map[string]string{"Range": "bytes=19-37"}}); r.status != http.StatusPartialContent || string(r.body) != string(data[19:38]) {
		t.Errorf("Range: got %d %q, want 206 with bytes 19-37", r.status, r.body)
	}
	if r := e.do(t, req{method: "HEAD", path: "/api/v1/agent/releases/linux/amd64"}); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != itoa(len(data)) {
		t.Errorf("HEAD: got %d with %d bytes, Content-Length %q, want 200, no body, %d", r.status, len(r.body), r.header.Get("Content-Length"), len(data))
	}
	var sb strings.Builder
	got, err := e.client(t, "").DownloadAgent(t.Context(), "linux", "amd64", &sb)
	if err != nil || got != want || sb.String() != string(data) {
		t.Errorf("client download: got %q %v, want the bytes with sha256 %s", got, err, want)
	}

	// SHA256SUMS and the install script.
	r = e.do(t, req{method: "GET", path: "/api/v1/agent/releases/SHA256SUMS"})
	if r.status != 200 || string(r.body) != want+"  poolctl-linux-amd64\n" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("SHA256SUMS: got %d %q, want the sha256sum line", r.status, r.body)
	}
	r = e.do(t, req{method: "GET", path: "/api/v1/agent/install.sh"})
	if r.status != 200 || !strings.HasPrefix(string(r.body), "#!/bin/sh") || !strings.Contains(string(r.body), "PIN='"+testPin+"'") {
		t.Errorf("install.sh: got %d %.80q, want the script with the pin", r.status, r.body)
	}

	// Errors.
	wantError(t, "unknown platform", e.do(t, req{method: "GET", path: "/api/v1/agent/releases/linux/mips"}), 404, "not_found", "linux/amd64")
	wantError(t, "unknown os", e.do(t, req{method: "GET", path: "/api/v1/agent/releases/windows/amd64"}), 404, "not_found", "offers linux/amd64")
	wantError(t, "POST", e.do(t, req{method: "POST", path: "/api/v1/agent/releases/linux/amd64"}), 405, "method_not_allowed")
	wantError(t, "DELETE catalogue", e.do(t, req{method: "DELETE", path: "/api/v1/agent/releases"}), 405, "method_not_allowed")
}

func TestAgentReleasesUnavailable(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	for _, p := range []string{"/api/v1/agent/releases", "/api/v1/agent/releases/SHA256SUMS", "/api/v1/agent/releases/linux/amd64", "/api/v1/agent/install.sh"} {
		wantError(t, p+" without releases", e.do(t, req{method: "GET", path: p}), 503, "unavailable", "no agent downloads")
	}
}

func TestInstallScriptHandler(t *testing.T) {
	self := filepath.Join(t.TempDir(), "poolctl")
	if err := os.WriteFile(self, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := release.Load(release.Options{Version: "1", Self: self})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	h := apiserver.New(apiserver.Deps{Releases: cat}).InstallScript()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/install.sh", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "PIN=''") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/install.sh: got %d %.60q, want the script without a pin", rec.Code, rec.Body.String())
	}
}
