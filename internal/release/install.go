package release

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

//go:embed install.sh
var installScript string

var installTmpl = template.Must(template.New("install.sh").Parse(installScript))

// pinText is what Pin returns.
var pinText = regexp.MustCompile(`^sha256//[A-Za-z0-9+/]{43}=$`)

// InstallScript is the POSIX sh installer served at /install.sh, with the
// server's TLS public key pin (see Pin) built in so that every download it
// makes is pinned the way the one-line command fetched the script; an
// empty pin makes it verify the server's certificate by name.
func InstallScript(pin string) ([]byte, error) {
	if pin != "" && !pinText.MatchString(pin) {
		return nil, fmt.Errorf("install script: TLS pin %q is not sha256//BASE64", pin)
	}
	var b strings.Builder
	if err := installTmpl.Execute(&b, struct{ Pin string }{pin}); err != nil {
		return nil, fmt.Errorf("install script: %w", err)
	}
	return []byte(b.String()), nil
}

// InstallCommand is the one-line agent install for a member: fetch
// /install.sh from serverURL (pinned to the server's TLS key when pin is
// set, as for the server's self-signed certificate; else verified by
// name) and run it with the enrolment secret. It is "" for a plain-HTTP
// server: nothing downloaded without TLS may run.
func InstallCommand(serverURL, pin, secret string) string {
	serverURL = strings.TrimRight(serverURL, "/")
	if !strings.HasPrefix(serverURL, "https://") || secret == "" {
		return ""
	}
	curl := "curl -fsS"
	if pin != "" {
		curl += " -k --pinnedpubkey " + pin
	}
	return fmt.Sprintf("%s %s | sh -s -- --server %s --secret %s",
		curl, shellQuote(serverURL+"/install.sh"), shellQuote(serverURL), shellQuote(secret))
}

// shellSafe are the characters a word may hold without quotes.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
