package release

import (
	"os/exec"
	"strings"
	"testing"
)

const testPin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

func TestInstallCommand(t *testing.T) {
	for _, tc := range []struct{ url, pin, secret, want string }{
		{"https://10.0.0.1:8443", testPin, "pe1.abc.def",
			"curl -fsS -k --pinnedpubkey " + testPin + " https://10.0.0.1:8443/install.sh | sh -s -- --server https://10.0.0.1:8443 --secret pe1.abc.def"},
		{"https://panel.example.com/", "", "pe1.-.def",
			"curl -fsS https://panel.example.com/install.sh | sh -s -- --server https://panel.example.com --secret pe1.-.def"},
		{"https://[::1]:8443", testPin, "pe1.a.b",
			"curl -fsS -k --pinnedpubkey " + testPin + " 'https://[::1]:8443/install.sh' | sh -s -- --server 'https://[::1]:8443' --secret pe1.a.b"},
		{"http://127.0.0.1:8080", "", "pe1.a.b", ""}, // plain HTTP: no verified install
		{"https://h", testPin, "", ""},
	} {
		if got := InstallCommand(tc.url, tc.pin, tc.secret); got != tc.want {
			t.Errorf("InstallCommand(%q, %q, %q):\n got %q\nwant %q", tc.url, tc.pin, tc.secret, got, tc.want)
		}
	}
}

func TestInstallScript(t *testing.T) {
	s, err := InstallScript(testPin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(s), "PIN='"+testPin+"'") || strings.Contains(string(s), "{{") {
		t.Errorf("script: got no PIN='%s' line (or a template left over)", testPin)
	}
	if s, _ := InstallScript(""); !strings.Contains(string(s), "PIN=''") {
		t.Error("script without a pin: got no empty PIN, want curl to verify by name")
	}
	if _, err := InstallScript("sha256//x'; rm -rf /; '"); err == nil {
		t.Error("script with a malformed pin: got no error, want one")
	}
	// The script is valid POSIX sh.
	for _, sh := range []string{"sh", "dash", "bash"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		cmd := exec.Command(path, "-n")
		cmd.Stdin = strings.NewReader(string(s))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
}

func TestInstallScriptRefusesBeforeDownloading(t *testing.T) {
	s, err := InstallScript(testPin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--server https://HOST:PORT is required"},
		{[]string{"--server", "http://10.0.0.1:8080", "--secret", "pe1.a.b"}, "want an https:// URL"},
	} {
		cmd := exec.Command("sh", append([]string{"-s", "--"}, tc.args...)...)
		cmd.Stdin = strings.NewReader(string(s))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("install.sh %q: got %v %q, want a failure saying %q", tc.args, err, out, tc.want)
		}
	}
}
