package release

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// selfFile is a stand-in for the server's executable (its bytes are not
// checked).
func selfFile(t *testing.T) (string, []byte) {
	t.Helper()
	data := []byte("#!/bin/sh\necho the server's own binary\n")
	path := filepath.Join(t.TempDir(), "poolctl")
	writeFile(t, path, data)
	return path, data
}

func TestLoadSelf(t *testing.T) {
	self, data := selfFile(t)
	c, err := Load(Options{Version: "1.4.0", Self: self, SelfOS: "linux", SelfArch: "amd64", TLSPin: "sha256//pin"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rel := c.Releases()
	if rel.ServerVersion != "1.4.0" || rel.TLSPin != "sha256//pin" || len(rel.Items) != 1 {
		t.Fatalf("releases: got %+v, want version 1.4.0, the pin and one binary", rel)
	}
	b := rel.Items[0]
	if b.OS != "linux" || b.Arch != "amd64" || b.Version != "1.4.0" || b.Size != int64(len(data)) || b.SHA256 != sum(data) ||
		b.URL != "/api/v1/agent/releases/linux/amd64" || b.Signature != "" {
		t.Errorf("binary: got %+v, want linux/amd64 1.4.0 of %d bytes, sha256 %s", b, len(data), sum(data))
	}
	if got, want := c.SHA256Sums(), sum(data)+"  poolctl-linux-amd64\n"; got != want {
		t.Errorf("SHA256SUMS: got %q, want %q", got, want)
	}
	got, body, _, err := c.Open("linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	read, _ := io.ReadAll(body)
	if string(read) != string(data) || !got.Self || got.Path != self {
		t.Errorf("open: got %q (self %v, path %s), want the file's bytes", read, got.Self, got.Path)
	}
	if _, ok := c.Find("linux", "amd64"); !ok {
		t.Error("find linux/amd64: got nothing, want the binary")
	}

	// An unknown platform names what is offered.
	_, _, _, err = c.Open("linux", "mips")
	if !errors.Is(err, ErrNotOffered) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("open linux/mips: got %v, want ErrNotOffered listing linux/amd64", err)
	}

	// A file changed in place since the start is not served with the old sum.
	later := time.Now().Add(time.Hour)
	writeFile(t, self, append(data, "tampered"...))
	_ = os.Chtimes(self, later, later)
	if _, _, _, err := c.Open("linux", "amd64"); !errors.Is(err, ErrChanged) {
		t.Errorf("open after an in-place change: got %v, want ErrChanged", err)
	}
}

func TestLoadReplacedByRenameServesHashedBytes(t *testing.T) {
	self, data := selfFile(t)
	c, err := Load(Options{Version: "1", Self: self, SelfOS: "linux", SelfArch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := self + ".new"
	writeFile(t, next, []byte("a newer server"))
	if err := os.Rename(next, self); err != nil {
		t.Fatal(err)
	}
	b, body, _, err := c.Open("linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	read, _ := io.ReadAll(body)
	if sum(read) != b.SHA256 || string(read) != string(data) {
		t.Errorf("after an upgrade by rename: got %q, want the bytes that were hashed", read)
	}
}

func TestLoadSigner(t *testing.T) {
	self, data := selfFile(t)
	var signed []Binary
	c, err := Load(Options{Version: "1", Self: self, SelfOS: "linux", SelfArch: "amd64", Signer: func(b Binary) (string, error) {
		signed = append(signed, b)
		return "c2lnbmF0dXJl", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(signed) != 1 || signed[0].SHA256 != sum(data) || signed[0].Path != self {
		t.Fatalf("signer: got called with %+v, want once with the hashed binary", signed)
	}
	if got := c.Releases().Items[0].Signature; got != "c2lnbmF0dXJl" {
		t.Errorf("signature: got %q, want the signer's", got)
	}
	_, err = Load(Options{Version: "1", Self: self, Signer: func(Binary) (string, error) { return "", errors.New("no key") }})
	if err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("failing signer: got %v, want its error", err)
	}
}

// buildHello cross-compiles a tiny Go program for linux/arm64 with its
// version set by -ldflags -X, as a release build of poolctl would be.
func buildHello(t *testing.T, out, version string) {
	t.Helper()
	if testing.Short() {
		t.Skip("cross-compiles a program")
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.22\n"))
	writeFile(t, filepath.Join(src, "main.go"), []byte("package main\n\nvar Version = \"dev\"\n\nfunc main() { println(Version) }\n"))
	cmd := exec.Command("go", "build", "-ldflags", "-X main.Version="+version, "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for arm64: %v\n%s", err, b)
	}
}

func TestLoadDir(t *testing.T) {
	self, _ := selfFile(t)
	dir := t.TempDir()
	buildHello(t, filepath.Join(dir, "poolctl-linux-arm64"), "2.1.0")
	// A version file wins over the build information.
	buildHello(t, filepath.Join(dir, "poolctl-linux-riscv64.tmp"), "0.0.1")
	if err := os.Rename(filepath.Join(dir, "poolctl-linux-riscv64.tmp"), filepath.Join(dir, "poolctl-freebsd-arm64")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "poolctl-freebsd-arm64.version"), []byte("3.0.0\nnotes\n"))
	// Not binaries, or not offered: a note, a version file, a directory,
	// the server's own platform.
	writeFile(t, filepath.Join(dir, "README"), []byte("notes"))
	writeFile(t, filepath.Join(dir, "poolctl-linux-arm64.sha256"), []byte("x"))
	if err := os.Mkdir(filepath.Join(dir, "poolctl-linux-s390x"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "poolctl-linux-amd64"), []byte("not the server's"))
	var warned []string
	c, err := Load(Options{Version: "2.1.0", Self: self, SelfOS: "linux", SelfArch: "amd64", Dir: dir,
		VersionVar: "main.Version", Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := strings.Join(c.Platforms(), " "), "freebsd/arm64 linux/amd64 linux/arm64"; got != want {
		t.Fatalf("platforms: got %q, want %q", got, want)
	}
	versions := map[string]string{}
	for _, b := range c.List() {
		versions[b.OS+"/"+b.Arch] = b.Version
	}
	if versions["linux/arm64"] != "2.1.0" || versions["freebsd/arm64"] != "3.0.0" || versions["linux/amd64"] != "2.1.0" {
		t.Errorf("versions: got %v, want linux/arm64 2.1.0 from -ldflags, freebsd/arm64 3.0.0 from its .version file", versions)
	}
	if b, _ := c.Find("linux", "amd64"); !b.Self {
		t.Errorf("linux/amd64: got %s, want the server's own executable", b.Path)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "poolctl-linux-amd64 skipped") {
		t.Errorf("warnings: got %q, want one about the skipped poolctl-linux-amd64", warned)
	}

	// Without the variable's name nor a version file the version is unknown.
	if err := os.Remove(filepath.Join(dir, "poolctl-freebsd-arm64.version")); err != nil {
		t.Fatal(err)
	}
	warned = nil
	c2, err := Load(Options{Version: "2.1.0", Self: self, SelfOS: "linux", SelfArch: "amd64", Dir: dir, Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if b, _ := c2.Find("freebsd", "arm64"); b.Version != UnknownVersion {
		t.Errorf("freebsd/arm64 without a version: got %q, want %q", b.Version, UnknownVersion)
	}
	if !strings.Contains(strings.Join(warned, "\n"), ".version") {
		t.Errorf("warnings: got %q, want advice to write a .version file", warned)
	}
}

func TestLoadRefusesMisnamedBinaries(t *testing.T) {
	self, _ := selfFile(t)
	exe, err := os.Executable() // this test, an executable for this machine
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"poolctl-linux-arm64", string(b), "not arm64"},
		{"poolctl-linux-arm64", "#!/bin/sh\n", "not an ELF executable"},
	} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, tc.name), []byte(tc.data))
		_, err := Load(Options{Version: "1", Self: self, SelfOS: "linux", SelfArch: "riscv64", Dir: dir})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s holding %.10q: got %v, want an error with %q", tc.name, tc.data, err, tc.want)
		}
	}
	if _, err := Load(Options{Version: "1", Self: self, Dir: filepath.Join(t.TempDir(), "missing")}); err == nil || !strings.Contains(err.Error(), "--agent-binaries") {
		t.Errorf("missing directory: got %v, want an --agent-binaries error", err)
	}
	if _, err := Load(Options{Version: "1", Self: filepath.Join(t.TempDir(), "gone")}); err == nil {
		t.Error("missing executable: got no error, want one")
	}
}

func TestLdflagsVar(t *testing.T) {
	const name = "github.com/poolctl/poolctl/internal/cli.Version"
	for _, tc := range []struct{ flags, want string }{
		{"-X github.com/poolctl/poolctl/internal/cli.Version=1.2.3", "1.2.3"},
		{"-s -w -X=github.com/poolctl/poolctl/internal/cli.Version=1.2.3-rc1", "1.2.3-rc1"},
		{"-X 'github.com/poolctl/poolctl/internal/cli.Version=2.0.0'", "2.0.0"},
		{"-X main.Version=1.0", ""},
		{"-X github.com/poolctl/poolctl/internal/cli.Version=$(rm -rf)", ""},
		{"", ""},
	} {
		if got := ldflagsVar(tc.flags, name); got != tc.want {
			t.Errorf("ldflagsVar(%q): got %q, want %q", tc.flags, got, tc.want)
		}
	}
}

func TestPin(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	s := sha256.Sum256(spki)
	if got, want := Pin(cert), "sha256//"+base64.StdEncoding.EncodeToString(s[:]); got != want {
		t.Errorf("pin: got %q, want %q", got, want)
	}
	if !pinText.MatchString(Pin(cert)) {
		t.Errorf("pin %q does not match %s", Pin(cert), pinText)
	}
}
