package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// writeTree creates files under root; a content starting with "#!" is
// written executable.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func testDetector(root string, ps procSet) *detector {
	return &detector{
		root:    root,
		timeout: 10 * time.Second,
		log:     slog.New(slog.DiscardHandler),
		procs:   func(context.Context) (procSet, error) { return ps, nil },
	}
}

// fakeRoot is a server with cPanel, OpenLiteSpeed, MariaDB, HAProxy, Exim,
// Postfix, Dovecot, iptables rules and csf, as files and stub binaries.
var fakeRoot = map[string]string{
	"usr/local/cpanel/version": "11.118.0.12\n",
	"usr/local/lsws/VERSION":   "1.7.19\n",
	"etc/csf/csf.conf":         "TESTING = \"0\"\n",
	"etc/csf/version.txt":      "14.20\n",
	"usr/sbin/mariadbd":        "#!/bin/sh\necho '/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)'\n",
	"usr/sbin/haproxy":         "#!/bin/sh\necho 'HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/'\necho 'Status: long-term supported branch'\n",
	"usr/sbin/exim":            "#!/bin/sh\n[ \"$1\" = -bV ] || exit 2\necho 'Exim version 4.96 #2 built 02-Jan-2024 15:08:45'\n",
	"usr/sbin/postconf":        "#!/bin/sh\n[ \"$*\" = '-h mail_version' ] || exit 2\necho 3.7.10\n",
	"usr/sbin/dovecot":         "#!/bin/sh\necho '2.3.19.1 (9b53102964)'\n",
	"usr/sbin/iptables":        "#!/bin/sh\nprintf -- '-P INPUT DROP\\n-P FORWARD DROP\\n-P OUTPUT ACCEPT\\n-N LOCALINPUT\\n-A INPUT -i lo -j ACCEPT\\n'\n",
	"usr/bin/apt-get": "#!/bin/sh\n[ \"$*\" = '-s -q upgrade' ] || exit 2\ncat <<'X'\nReading package lists...\n" +
		"Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian-Security:12/stable-security [amd64])\n" +
		"Inst curl [7.88.1-10+deb12u4] (7.88.1-10+deb12u5 Debian:12.5/stable [amd64])\n" +
		"Inst tzdata [2024a-0+deb12u1] (2024a-0+deb12u2 Debian:12-updates/stable-updates [all])\n" +
		"Conf libc6 (2.36-9+deb12u4 Debian-Security:12/stable-security [amd64])\nX\n",
}

func TestStackFakeRoot(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, fakeRoot)
	ps := procSet{
		{name: "cpsrvd (SSL) - ", exe: ""},
		{name: "lshttpd", exe: "/usr/local/lsws/bin/lshttpd"},
		{name: "mariadbd", exe: "/usr/sbin/mariadbd"},
		{name: "master", exe: "/usr/lib/postfix/sbin/master"},
		{name: "dovecot", exe: "/usr/sbin/dovecot"},
		{name: "master", exe: "/usr/sbin/some-other-master"}, // not Postfix; harmless
	}
	d := testDetector(root, ps)
	got := d.stack(t.Context())
	want := api.Stack{
		CPanel:        &api.Component{Detected: true, Version: "11.118.0.12", Running: true},
		OpenLiteSpeed: &api.Component{Detected: true, Version: "1.7.19", Running: true},
		MariaDB:       &api.Component{Detected: true, Version: "10.11.19-MariaDB-0+deb12u1", Running: true, Flavor: "mariadb"},
		HAProxy:       &api.Component{Detected: true, Version: "2.6.12-1+deb12u1", Running: false},
		Exim:          &api.Component{Detected: true, Version: "4.96", Running: false},
		Postfix:       &api.Component{Detected: true, Version: "3.7.10", Running: true},
		Dovecot:       &api.Component{Detected: true, Version: "2.3.19.1", Running: true},
		Firewall:      &api.Firewall{Detected: true, Kinds: []string{"iptables", "csf"}, Active: true},
	}
	assertJSON(t, "stack", got, want)

	pending, security := d.updates(t.Context())
	if pending == nil || security == nil || *pending != 3 || *security != 1 {
		t.Errorf("updates = %v, %v; want 3 pending, 1 security", deref(pending), deref(security))
	}
}

func TestStackEmptyRoot(t *testing.T) {
	d := testDetector(t.TempDir(), nil)
	got := d.stack(t.Context())
	none := &api.Component{}
	want := api.Stack{
		CPanel: none, OpenLiteSpeed: none, MariaDB: none, HAProxy: none, Exim: none, Postfix: none, Dovecot: none,
		Firewall: &api.Firewall{},
	}
	assertJSON(t, "stack", got, want)
	if p, s := d.updates(t.Context()); p != nil || s != nil {
		t.Errorf("updates = %v, %v; want unknown (nil) without a package manager", deref(p), deref(s))
	}
}

// TestStackBrokenBinary: a binary that fails to report its version is still
// detected, with no version.
func TestStackBrokenBinary(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"usr/sbin/haproxy": "#!/bin/sh\nexit 1\n"})
	c := testDetector(root, procSet{{name: "haproxy"}}).stack(t.Context()).HAProxy
	assertJSON(t, "haproxy", c, &api.Component{Detected: true, Running: true})
}

func TestStackParsers(t *testing.T) {
	nft := []struct {
		out  string
		want bool
	}{
		{"", false},
		{"table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n", false},
		{"table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t}\n}\n", true},
	}
	for _, tt := range nft {
		if got := nftHasRules(tt.out); got != tt.want {
			t.Errorf("nftHasRules(%q) = %t, want %t", tt.out, got, tt.want)
		}
	}
	if iptablesHasRules("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n") {
		t.Error("iptablesHasRules: default policies count as rules")
	}
	if !iptablesHasRules("-P INPUT ACCEPT\n-A INPUT -j DROP\n") {
		t.Error("iptablesHasRules: a rule not seen")
	}
	if p, s, ok := parseAptCheck("12;3"); !ok || p != 12 || s != 3 {
		t.Errorf("parseAptCheck = %d, %d, %t; want 12, 3, true", p, s, ok)
	}
	if _, _, ok := parseAptCheck("oops"); ok {
		t.Error("parseAptCheck accepted garbage")
	}
	dnf := "\nkernel.x86_64        5.14.0-427.el9     baseos\nopenssl.x86_64  1:3.0.7-27.el9  baseos\n" +
		"Obsoleting Packages\ngrub2-tools.x86_64  1:2.06-80.el9  baseos\n"
	if got := parseCheckUpdate(dnf); got != 2 {
		t.Errorf("parseCheckUpdate = %d, want 2", got)
	}
	for in, want := range map[string]string{
		"HA-Proxy version 1.8.19 2019/02/11": "1.8.19",
		"Exim version 4.97.1 #2 built":       "4.97.1",
		"nothing here":                       "",
	} {
		if got := wordAfter("version ")(in); got != want {
			t.Errorf("wordAfter(version)(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGaleraFrom(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want api.Galera
	}{
		{"plain MariaDB", map[string]string{"wsrep_on": "OFF", "wsrep_provider": "none", "wsrep_ready": "OFF", "wsrep_cluster_size": "0"}, api.Galera{}},
		{"no wsrep at all", map[string]string{"version": "8.0.36"}, api.Galera{}},
		{"on without provider", map[string]string{"wsrep_on": "ON", "wsrep_provider": "none"}, api.Galera{}},
		{"synced node", map[string]string{"wsrep_on": "ON", "wsrep_provider": "/usr/lib/galera/libgalera_smm.so", "wsrep_ready": "ON",
			"wsrep_cluster_size": "3", "wsrep_local_state_comment": "Synced"}, api.Galera{Enabled: true, Ready: true, ClusterSize: 3, State: "Synced"}},
		{"node not ready", map[string]string{"wsrep_on": "ON", "wsrep_provider": "/usr/lib/galera/libgalera_smm.so", "wsrep_ready": "OFF",
			"wsrep_cluster_size": "1", "wsrep_local_state_comment": "Initialized"}, api.Galera{Enabled: true, ClusterSize: 1, State: "Initialized"}},
	}
	for _, tt := range tests {
		if got := galeraFrom(tt.vars); *got != tt.want {
			t.Errorf("%s: galeraFrom = %+v, want %+v", tt.name, *got, tt.want)
		}
	}
}

// TestMariaDBReal asks the MariaDB server of the CI machine (127.0.0.1:3306,
// root without password), which runs without Galera.
func TestMariaDBReal(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:3306", time.Second)
	if err != nil {
		t.Skip("no MariaDB on 127.0.0.1:3306:", err)
	}
	conn.Close()
	const dsn = "root@tcp(127.0.0.1:3306)/"
	vars, err := queryDSN(t.Context(), dsn, 10*time.Second)
	if err != nil {
		t.Fatalf("queryDSN: %v", err)
	}
	d := testDetector("/", procSet{{name: "mariadbd"}})
	d.dsn = dsn
	c, g := d.mariadb(t.Context(), procSet{{name: "mariadbd"}})
	if !c.Detected || !c.Running || c.Version != vars["version"] || c.Version == "" {
		t.Errorf("MariaDB = %+v, want detected and running with version %q", c, vars["version"])
	}
	if strings.Contains(c.Version, "MariaDB") != (c.Flavor == "mariadb") {
		t.Errorf("version %q with flavor %q", c.Version, c.Flavor)
	}
	if vars["wsrep_on"] != "OFF" {
		t.Skipf("wsrep_on = %q; this test wants a server without Galera", vars["wsrep_on"])
	}
	if g == nil || g.Enabled || g.Ready {
		t.Errorf("Galera = %+v, want present and not enabled", g)
	}

	// A wrong password is no detection failure: the version comes from the binary.
	d.dsn = "root:wrong@tcp(127.0.0.1:3306)/"
	if _, err := queryDSN(t.Context(), d.dsn, 10*time.Second); err == nil {
		t.Skip("the server accepts any root password")
	}
	c, g = d.mariadb(t.Context(), procSet{{name: "mariadbd"}})
	if !c.Detected || g != nil {
		t.Errorf("with a refused DSN: MariaDB = %+v, Galera = %+v; want detected from the binary, Galera unknown (nil)", c, g)
	}
}

// TestStackRealRoot runs every detector against this machine; it checks only
// what must hold anywhere.
func TestStackRealRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real detectors")
	}
	d := &detector{root: "/", timeout: 10 * time.Second, log: slog.New(slog.DiscardHandler)}
	st := d.stack(t.Context())
	if st.CPanel == nil || st.MariaDB == nil || st.Firewall == nil {
		t.Fatalf("stack = %+v, want every component looked at", st)
	}
	if _, err := os.Stat("/usr/sbin/mariadbd"); err == nil && !st.MariaDB.Detected {
		t.Error("/usr/sbin/mariadbd exists but MariaDB was not detected")
	}
	if st.CPanel.Detected {
		t.Error("cPanel detected on a machine without /usr/local/cpanel/version")
	}
}

func assertJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
