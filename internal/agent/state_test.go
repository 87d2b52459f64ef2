package agent

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/client"
)

func TestEnroll(t *testing.T) {
	f, srv := newFakeAPI(t)
	dir := filepath.Join(t.TempDir(), "agent")
	st, err := Enroll(t.Context(), EnrollOptions{Server: srv.URL, Secret: f.secretFor(srv), DataDir: dir, Hostname: "node1.example", Version: "1.2.3"})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if st.Pool != "web" || st.Member != "node1" || st.Token != f.token || st.HeartbeatInterval.D() != 5*time.Second {
		t.Errorf("state = %+v, want pool web, member node1, the token, interval 5s", st)
	}
	sum := sha256.Sum256(srv.Certificate().Raw)
	if want := hex.EncodeToString(sum[:]); st.CAFingerprint != want {
		t.Errorf("fingerprint = %q, want %q", st.CAFingerprint, want)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, StateFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %04o, want %04o", path, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only %s", len(entries), StateFile)
	}
	loaded, err := LoadState(dir)
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if loaded.Token != st.Token || loaded.Server != srv.URL || loaded.CAFingerprint != st.CAFingerprint || len(loaded.Warnings) != 0 {
		t.Errorf("LoadState = %+v, want what Enroll wrote, no warnings", loaded)
	}

	// A second enrolment is refused before the server is asked.
	_, err = Enroll(t.Context(), EnrollOptions{Server: srv.URL, Secret: f.secretFor(srv), DataDir: dir})
	if !errors.Is(err, ErrAlreadyEnrolled) || !strings.Contains(err.Error(), `member "node1" of pool "web"`) {
		t.Errorf("second Enroll: %v, want ErrAlreadyEnrolled naming the member", err)
	}

	// With Force the server is asked, and refuses the spent secret with its message.
	_, err = Enroll(t.Context(), EnrollOptions{Server: srv.URL, Secret: f.secretFor(srv), DataDir: dir, Force: true})
	if client.StatusOf(err) != 403 || !strings.Contains(err.Error(), "enrolment secret was already used") {
		t.Errorf("forced Enroll with a used secret: %v, want the server's 403 message", err)
	}
	if again, err := LoadState(dir); err != nil || again.Token != st.Token {
		t.Errorf("after a failed forced enrolment LoadState = %+v, %v; want the old enrolment kept", again, err)
	}
}

func TestEnrollErrors(t *testing.T) {
	f, srv := newFakeAPI(t)
	other := sha256.Sum256([]byte("another CA"))
	tests := []struct {
		name    string
		secret  string
		wantErr string
		status  int
	}{
		{"bad format", "pe1.nope", "three dot-separated parts", 0},
		{"wrong secret", strings.TrimSuffix(f.secretFor(srv), f.secret) + base64.RawURLEncoding.EncodeToString([]byte("not the right secret")), "enrolment secret is wrong or expired", 403},
		{"wrong pin", "pe1." + base64.RawURLEncoding.EncodeToString(other[:]) + "." + f.secret, "does not match the pinned CA fingerprint", 0},
		{"system roots", "pe1.-." + f.secret, "certificate", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Enroll(t.Context(), EnrollOptions{Server: srv.URL, Secret: tt.secret, DataDir: dir})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Enroll: %v, want error containing %q", err, tt.wantErr)
			}
			if got := client.StatusOf(err); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if _, err := os.Stat(filepath.Join(dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s written after a failed enrolment", StateFile)
			}
		})
	}
}

func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadState(dir); !errors.Is(err, ErrNotEnrolled) || !strings.Contains(err.Error(), "poolctl agent enroll") {
		t.Errorf("LoadState of an empty directory: %v, want ErrNotEnrolled telling how to enrol", err)
	}
	path := filepath.Join(dir, StateFile)
	if err := os.WriteFile(path, []byte(`{"format":1,"server":"https://x:1","token":"t"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	st, err := LoadState(dir)
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if len(st.Warnings) != 2 || !strings.Contains(st.Warnings[0], "chmod 600") || !strings.Contains(st.Warnings[1], "chmod 700") {
		t.Errorf("warnings = %q, want one for the file mode and one for the directory", st.Warnings)
	}
	os.WriteFile(path, []byte(`{"format":1,"server":"https://x:1"}`), 0o600)
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "token missing") {
		t.Errorf("LoadState without token: %v", err)
	}
	os.WriteFile(path, []byte(`{`), 0o600)
	if _, err := LoadState(dir); err == nil || errors.Is(err, ErrNotEnrolled) {
		t.Errorf("LoadState of a broken file: %v, want a decode error", err)
	}
}
