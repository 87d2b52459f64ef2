package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Sentinels the environment carries in these tests; none may be printed.
const (
	envToken  = "pat_SENTINELenvTOKEN0123456789abcdefghijklmnop"
	envURLPW  = "SENTINELurlPASSWORD"
	envCA     = "/SENTINEL/ca-path.pem"
	envDSNPW  = "SENTINELmariadbPASSWORD"
	envProfPW = "/SENTINEL/cpu.prof"
)

// setSecretEnv sets every environment variable the CLI reads to a
// sentinel and returns the sentinels that must never be printed.
func setSecretEnv(t *testing.T) []string {
	t.Helper()
	t.Setenv("POOLCTL_TOKEN", envToken)
	t.Setenv("POOLCTL_URL", "https://operator:"+envURLPW+"@127.0.0.1:1")
	t.Setenv("POOLCTL_CA", envCA)
	t.Setenv("POOLCTL_MARIADB_DSN", "root:"+envDSNPW+"@tcp(127.0.0.1:3306)/")
	t.Setenv("POOLCTL_CPUPROFILE", envProfPW)
	return []string{envToken, envURLPW, envCA, envDSNPW, envProfPW}
}

// commandPaths lists every command of the tree, as the words that name it.
func commandPaths(c *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		p := append(append([]string{}, prefix...), sub.Name())
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// TestHelpShowsNoSecret renders --help of every command with the
// environment full of secrets: flag defaults must not show them.
func TestHelpShowsNoSecret(t *testing.T) {
	secrets := setSecretEnv(t)
	root := NewRoot(strings.NewReader(""), new(bytes.Buffer), new(bytes.Buffer))
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	paths := append([][]string{nil}, commandPaths(root, nil)...)
	if len(paths) < 40 {
		t.Fatalf("found %d commands; the walk misses some", len(paths))
	}
	sawEnvNote := false
	for _, p := range paths {
		var out, errOut bytes.Buffer
		args := append(append([]string{}, p...), "--help")
		if code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Errorf("poolctl %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
			continue
		}
		text := out.String() + errOut.String()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("poolctl %s shows %q:\n%s", strings.Join(args, " "), s, text)
			}
		}
		if strings.Contains(text, "--token string") && strings.Contains(text, "(env POOLCTL_TOKEN)") {
			sawEnvNote = true
		}
	}
	if !sawEnvNote {
		t.Error("no help names POOLCTL_TOKEN beside --token")
	}
}

// TestEnvStillConfiguresClient checks that the environment, no longer the
// flags' defaults, still reaches the client, and that a flag overrides it.
func TestEnvStillConfiguresClient(t *testing.T) {
	a := newCannedAPI(t)
	a.on("GET", "/api/v1/pools", 200, map[string]any{"items": []any{}})
	t.Setenv("POOLCTL_URL", a.srv.URL)
	t.Setenv("POOLCTL_TOKEN", "test-token")
	t.Setenv("POOLCTL_CA", "")
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"pool", "list"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("pool list with POOLCTL_URL and POOLCTL_TOKEN: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code := Main(context.Background(), []string{"pool", "list", "--token", "other"}, strings.NewReader(""), &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "unknown credential") {
		t.Fatalf("--token other beside POOLCTL_TOKEN: exit %d, stderr %q; want the flag to win (401)", code, errOut.String())
	}
}

// TestErrorsShowNoSecret runs commands whose flags carry secrets into
// failures: the error messages must not repeat them.
func TestErrorsShowNoSecret(t *testing.T) {
	const (
		tsig   = "SENTINELtsigSECRETbase64AAAA"
		s3     = "SENTINELs3SECRET"
		dbPW   = "SENTINELdbPASSWORD"
		urlPW  = "SENTINELurlPASSWORD"
		mysql  = "SENTINELmariadbPASSWORD"
		secret = "pe1.-.SENTINELenrolmentSECRETAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	)
	secrets := []string{tsig, s3, dbPW, urlPW, mysql, "SENTINELenrolmentSECRET"}
	dir := t.TempDir()
	data := func(name string) string { return dir + "/" + name }
	tests := []struct {
		name string
		args []string
	}{
		{"tsig without a name", []string{"server", "--data", data("tsig"), "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0", "--dns-tsig", tsig}},
		{"s3 URL that does not parse", []string{"server", "--data", data("s3"), "--listen", "127.0.0.1:0", "--objects", "s3://AK:" + s3 + "@bad host:1/bucket"}},
		{"postgres unreachable", []string{"server", "--data", data("pg"), "--listen", "127.0.0.1:0", "--database", "postgres://poolctl:" + dbPW + "@127.0.0.1:1/poolctl?connect_timeout=1"}},
		{"database URL of another scheme", []string{"server", "--data", data("my"), "--database", "mysql://poolctl:" + dbPW + "@127.0.0.1/poolctl"}},
		{"user commands, postgres unreachable", []string{"user", "list", "--database", "postgres://poolctl:" + dbPW + "@127.0.0.1:1/poolctl?connect_timeout=1"}},
		{"server URL without a host", []string{"pool", "list", "--server", "https://ops:" + urlPW + "@", "--token", "t"}},
		{"server URL unreachable", []string{"pool", "list", "--server", "https://ops:" + urlPW + "@127.0.0.1:1", "--token", "t"}},
		{"enrol with a server URL unreachable", []string{"agent", "enroll", "--server", "https://ops:" + urlPW + "@127.0.0.1:1", "--secret", secret, "--data", data("agent1")}},
		{"malformed enrolment secret", []string{"agent", "enroll", "--server", "https://127.0.0.1:1", "--secret", "pe1.-." + "SENTINELenrolmentSECRET!", "--data", data("agent2")}},
		{"mariadb DSN with a bad address", []string{"agent", "--data", data("agent3"), "--mariadb-dsn", "root:" + mysql + "@tcp(nowhere)/"}},
		{"mariadb DSN, not enrolled", []string{"agent", "--data", data("agent4"), "--accounts", "off", "--mariadb-dsn", "root:" + mysql + "@tcp(127.0.0.1:1)/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			code := Main(ctx, tt.args, strings.NewReader(""), &out, &errOut)
			if code == 0 {
				t.Fatalf("poolctl %s succeeded; want an error", strings.Join(tt.args, " "))
			}
			text := out.String() + errOut.String()
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("output shows %q:\n%s", s, text)
				}
			}
			t.Logf("%s", strings.TrimSpace(errOut.String()))
		})
	}
}
