package agent

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestImports: the agent speaks to the server only through the public api
// and client packages; besides them it may use internal/probe, a
// standard-library-only prober shared with the server, and the two
// libraries of account protection: internal/replication (the engine) and
// internal/accounts (the account providers); internal/release, which
// verifies the signature of a self-update; and internal/agent/mail, the
// agent's own Dovecot/Postfix library for linked nodes.
func TestImports(t *testing.T) {
	const module = "github.com/poolctl/poolctl/"
	allowed := map[string]bool{module + "api": true, module + "client": true, module + "internal/probe": true,
		module + "internal/replication": true, module + "internal/accounts": true,
		module + "internal/release": true, module + "internal/agent/mail": true}
	testOnly := map[string]bool{module + "internal/replication/replicationtest": true}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, module) && !allowed[path] && !(strings.HasSuffix(name, "_test.go") && testOnly[path]) {
				t.Errorf("%s imports %s; the agent may import only api, client, internal/probe, internal/replication, internal/accounts, internal/release and internal/agent/mail of this module", name, path)
			}
		}
	}
}

func TestIntervalPrecedence(t *testing.T) {
	st := &State{Server: "https://x:1", Token: "t", HeartbeatInterval: 5e9}
	tests := []struct {
		cfg, state, want time.Duration
	}{
		{3 * time.Second, 5 * time.Second, 3 * time.Second},
		{0, 5 * time.Second, 5 * time.Second},
		{0, 0, DefaultHeartbeatInterval},
	}
	for _, tt := range tests {
		st.HeartbeatInterval = api.Duration(tt.state)
		if got := newAgent(Config{HeartbeatInterval: tt.cfg}, st, newFakeClient()).interval; got != tt.want {
			t.Errorf("config %s, enrolment %s: interval %s, want %s", tt.cfg, tt.state, got, tt.want)
		}
	}
}
