// Package internal_test checks the import direction of DESIGN.md: the agent
// talks to the server only through the public client, engines know nothing
// of HTTP, the DNS server knows nothing of SQL, and only internal/dns and
// internal/dnssec import the DNS library.
package internal_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "github.com/poolctl/poolctl/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportDirection(t *testing.T) {
	const mod = "github.com/poolctl/poolctl/"
	rules := []struct {
		pkg       string // prefix of the importing packages
		forbidden []string
		deps      bool // check transitive dependencies, not only direct imports
	}{
		{"agent", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "internal/dns", mod + "internal/failover", mod + "internal/cli"}, true},
		{"api", []string{mod + "internal/", "database/sql", "net/http"}, true},
		{"client", []string{mod + "internal/"}, true},
		{"internal/failover", []string{"net/http", mod + "internal/store", mod + "internal/apiserver"}, false},
		{"internal/fleet", []string{"net/http", mod + "internal/apiserver"}, false},
		{"internal/dns", []string{"database/sql", "net/http", mod + "internal/store"}, false},
		// Signing knows no SQL, HTTP or store (nor the server that uses it).
		{"internal/dnssec", []string{"database/sql", "net/http", mod + "internal/store", mod + "internal/dns", mod + "internal/apiserver", mod + "internal/zones"}, true},
		{"internal/store", []string{"net/http", mod + "internal/fleet", mod + "internal/apiserver"}, false},
		{"internal/objstore", []string{mod + "internal/store", mod + "internal/fleet"}, false},
		// Engines know nothing of HTTP; the protection engine reaches agents through fleet jobs.
		{"internal/protection", []string{"net/http", mod + "internal/apiserver", mod + "internal/web", mod + "internal/agent"}, false},
		// The agent-side libraries never reach into the server.
		{"internal/replication", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "client"}, true},
		{"internal/accounts", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "internal/protection"}, true},
		// The agent's mail library (Dovecot/Postfix on a member) knows nothing of the server.
		{"internal/agent/mail", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "client"}, true},
		{"internal/web", []string{mod + "internal/protection", mod + "internal/apiserver"}, false},
		// The DNS cluster engine reaches members through the public client only.
		{"internal/cluster", []string{mod + "internal/apiserver", mod + "internal/web", mod + "internal/fleet", mod + "internal/cli"}, false},
		// DNS providers publish records elsewhere: they know nothing of the
		// store, the fleet or the server's HTTP side.
		{"internal/dnsprovider", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "internal/web"}, true},
		// The DNS provider registry meets the store and the providers: it
		// knows nothing of the server's HTTP side, the fleet or the engines.
		{"internal/dnsprov", []string{mod + "internal/apiserver", mod + "internal/web", mod + "internal/fleet", mod + "internal/failover", mod + "internal/cli", mod + "internal/zones"}, false},
		// The linked-nodes engine reaches agents through fleet jobs only.
		{"internal/links", []string{"net/http", mod + "internal/apiserver", mod + "internal/web", mod + "internal/agent", mod + "internal/cli", mod + "client"}, false},
		// The monitor engine turns events into incidents and queues messages:
		// no HTTP, no server side.
		{"internal/monitor", []string{"net/http", mod + "internal/apiserver", mod + "internal/web", mod + "internal/cli"}, false},
		// Delivery channels know nothing of the fleet or the server's HTTP side.
		{"internal/notify", []string{mod + "internal/apiserver", mod + "internal/web", mod + "internal/fleet", mod + "internal/cli"}, false},
		// Metrics read their sources through interfaces: no store, fleet or server side.
		{"internal/metrics", []string{mod + "internal/"}, false},
		// The release catalogue and signatures are shared by server, CLI and agent.
		{"internal/release", []string{mod + "internal/store", mod + "internal/fleet", mod + "internal/apiserver", mod + "client", "net/http"}, true},
	}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, r := range rules {
			if rel != r.pkg && !strings.HasPrefix(rel, r.pkg+"/") && !(r.pkg == "agent" && strings.HasPrefix(rel, "internal/agent")) {
				continue
			}
			list := p.Imports
			if r.deps {
				list = p.Deps
			}
			for _, imp := range list {
				for _, f := range r.forbidden {
					if imp == f || strings.HasPrefix(imp, strings.TrimSuffix(f, "/")+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
						t.Errorf("%s imports %s, which DESIGN.md forbids", p.ImportPath, imp)
					}
				}
			}
		}
		if rel == "internal/objstore" {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "github.com/minio/") {
					t.Errorf("%s imports %s; only its s3 backend may", p.ImportPath, imp)
				}
			}
		}
		if rel != "internal/dns" && !strings.HasPrefix(rel, "internal/dns/") && rel != "internal/dnssec" {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "github.com/miekg/dns") {
					t.Errorf("%s imports %s; only internal/dns and internal/dnssec may", p.ImportPath, imp)
				}
			}
		}
	}
}
