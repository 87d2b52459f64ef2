package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestCredentialRotation: a credential offered in heartbeat replies is saved
// to agent.json (mode 0600) before the agent uses it, once, however often
// the server repeats it.
func TestCredentialRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		fc := newFakeClient()
		fc.reply = func(n int) api.HeartbeatReply {
			if n >= 1 {
				return api.HeartbeatReply{Status: api.StatusHealthy, NewCredential: "pag_new"}
			}
			return api.HeartbeatReply{Status: api.StatusHealthy}
		}
		a, logs := newTestAgent(t, fc, Config{DataDir: dir})
		stop := start(t, a)
		time.Sleep(10 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		fc.mu.Lock()
		tokens := slices.Clone(fc.tokens)
		fc.mu.Unlock()
		if !slices.Equal(tokens, []string{"pag_new"}) {
			t.Fatalf("client tokens set: %q, want the new credential once", tokens)
		}
		path := filepath.Join(dir, StateFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if err := json.Unmarshal(b, &st); err != nil || st.Token != "pag_new" || st.Pool != "web" || st.Member != "node1" {
			t.Fatalf("agent.json after rotation: %s (%v)", b, err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("agent.json mode %v, want 0600", fi.Mode().Perm())
		}
		if !strings.Contains(logs.String(), "agent credential rotated") || strings.Contains(logs.String(), "pag_new") {
			t.Errorf("log should say the credential rotated, without it:\n%s", logs)
		}
	})
}

// TestCredentialRotationUnsaved: an agent that cannot save the new
// credential keeps using the current one and says why.
func TestCredentialRotationUnsaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing")
		fc := newFakeClient()
		fc.reply = func(int) api.HeartbeatReply {
			return api.HeartbeatReply{Status: api.StatusHealthy, NewCredential: "pag_new"}
		}
		a, logs := newTestAgent(t, fc, Config{DataDir: dir})
		stop := start(t, a)
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if len(fc.tokens) != 0 || a.state.Token != "t" {
			t.Fatalf("agent switched to an unsaved credential: %q", fc.tokens)
		}
		if !strings.Contains(logs.String(), "cannot save the rotated agent credential") {
			t.Errorf("log should say the credential could not be saved:\n%s", logs)
		}
	})
}
