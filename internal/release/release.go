// Package release describes the agent binaries a poolctl server offers for
// download: its own executable (for the server's GOOS/GOARCH) and any
// poolctl-<os>-<arch> files in the directory given by
// `poolctl server --agent-binaries DIR`. Sizes and SHA-256 sums are
// computed once, when the catalogue is loaded; the files stay open so that
// a binary replaced on disk by a rename (an upgrade of the server) keeps
// serving the bytes that were hashed.
//
// The package imports no server code: the agent (self-update) and the CLI
// use it too.
package release

import (
	"bufio"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// UnknownVersion is the version of an extra binary whose version could not
// be told (see Load).
const UnknownVersion = "unknown"

// FilePrefix starts the name of every extra binary: poolctl-<os>-<arch>.
const FilePrefix = "poolctl-"

// DownloadPath is the API path a binary is downloaded from.
func DownloadPath(goos, goarch string) string {
	return "/api/v1/agent/releases/" + goos + "/" + goarch
}

// Binary is one offered agent binary: its wire description and where it is.
type Binary struct {
	api.AgentBinary
	// Path is the file the binary was read from.
	Path string
	// Self marks the server's own executable.
	Self bool
}

// Signer signs a binary; it returns the base64 ed25519 signature that goes
// into AgentBinary.Signature. Load calls it once per binary, after the
// SHA-256 is known (b.SHA256) and with b.Path readable.
type Signer func(b Binary) (string, error)

// Options configure Load.
type Options struct {
	// Version is the server's own version (cli.Version).
	Version string
	// Self is the server's executable; empty means os.Executable(). It is
	// offered for runtime.GOOS/runtime.GOARCH unless SelfOS/SelfArch say
	// otherwise (tests).
	Self             string
	SelfOS, SelfArch string
	// Dir holds extra binaries named poolctl-<os>-<arch>; empty for none.
	Dir string
	// VersionVar is the import path of the variable that -ldflags -X sets
	// to the version, e.g. "github.com/poolctl/poolctl/internal/cli.Version";
	// the version of an extra binary is read from its build information
	// when no .version file names it.
	VersionVar string
	// Signer, when set, signs every binary.
	Signer Signer
	// TLSPin is the server's TLS public key pin (see Pin), answered with
	// the catalogue; empty when clients verify the server by name.
	TLSPin string
	// Warn receives notes about skipped files; nil drops them.
	Warn func(msg string)
}

// ErrNotOffered is wrapped by Open's error for an os/arch the server does
// not offer.
var ErrNotOffered = errors.New("no agent binary for this platform")

// ErrChanged is wrapped by Open's error when a binary's file changed since
// the catalogue was loaded (its SHA-256 would be wrong).
var ErrChanged = errors.New("agent binary changed on disk since the server started")

// Catalog is the set of offered binaries. It is safe for concurrent use.
type Catalog struct {
	version string
	pin     string
	bins    []entry // sorted by os, arch
}

type entry struct {
	Binary
	f       *os.File
	modTime time.Time
}

// name matches the platform part of an extra binary's file name.
var platform = regexp.MustCompile(`^([a-z0-9]+)-([a-z0-9]+)$`)

// Load builds the catalogue: the server's own executable, then the extra
// binaries of o.Dir. An extra binary's version is, in order: the first
// line of poolctl-<os>-<arch>.version beside it; the -X o.VersionVar=V of
// the -ldflags recorded in its Go build information (readable for any
// architecture); the server's own version when the build information
// shows the same source revision, unmodified, as the server's; else
// "unknown". (Running `--version` is not possible across architectures.)
// An extra file for the server's own platform is skipped: the server's
// executable is what it runs. Files that are not ELF executables of the
// architecture their name says are refused.
func Load(o Options) (*Catalog, error) {
	c := &Catalog{version: o.Version, pin: o.TLSPin}
	warn := o.Warn
	if warn == nil {
		warn = func(string) {}
	}
	self := o.Self
	if self == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("agent releases: find the server's executable: %w", err)
		}
		self = exe
	}
	selfOS, selfArch := o.SelfOS, o.SelfArch
	if selfOS == "" {
		selfOS = runtime.GOOS
	}
	if selfArch == "" {
		selfArch = runtime.GOARCH
	}
	selfRev := vcsRevision(self)
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	e, err := open(self, selfOS, selfArch)
	if err != nil {
		return nil, err
	}
	e.Version, e.Self = o.Version, true
	c.bins = append(c.bins, e)

	if o.Dir != "" {
		ents, err := os.ReadDir(o.Dir)
		if err != nil {
			return nil, fmt.Errorf("--agent-binaries: %w", err)
		}
		for _, de := range ents {
			rest, found := strings.CutPrefix(de.Name(), FilePrefix)
			m := platform.FindStringSubmatch(rest)
			if !found || m == nil || !de.Type().IsRegular() {
				continue // .version files, notes, directories
			}
			goos, goarch := m[1], m[2]
			path := filepath.Join(o.Dir, de.Name())
			if goos == selfOS && goarch == selfArch {
				warn(fmt.Sprintf("%s skipped: the server offers its own executable for %s/%s", path, goos, goarch))
				continue
			}
			if err := checkELF(path, goos, goarch); err != nil {
				return nil, fmt.Errorf("--agent-binaries: %w", err)
			}
			e, err := open(path, goos, goarch)
			if err != nil {
				return nil, err
			}
			e.Version = extraVersion(path, o.VersionVar, o.Version, selfRev)
			if e.Version == UnknownVersion {
				warn(fmt.Sprintf("%s: version unknown; write it into %s.version", path, path))
			}
			c.bins = append(c.bins, e)
		}
	}
	slices.SortFunc(c.bins, func(a, b entry) int {
		return strings.Compare(a.OS+"/"+a.Arch, b.OS+"/"+b.Arch)
	})
	if o.Signer != nil {
		for i := range c.bins {
			sig, err := o.Signer(c.bins[i].Binary)
			if err != nil {
				return nil, fmt.Errorf("sign agent binary %s: %w", c.bins[i].Path, err)
			}
			c.bins[i].Signature = sig
		}
	}
	ok = true
	return c, nil
}

// open opens and hashes one binary.
func open(path, goos, goarch string) (entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return entry{}, fmt.Errorf("agent binary: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return entry{}, fmt.Errorf("agent binary %s: %w", path, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		f.Close()
		return entry{}, fmt.Errorf("hash agent binary %s: %w", path, err)
	}
	return entry{
		Binary: Binary{AgentBinary: api.AgentBinary{OS: goos, Arch: goarch, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
			URL: DownloadPath(goos, goarch)}, Path: path},
		f: f, modTime: fi.ModTime(),
	}, nil
}

// elfMachine is the ELF machine of the architectures poolctl is built for.
var elfMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390,
}

// checkELF refuses a file that is not an executable for goos/goarch (only
// ELF platforms are checked; others are offered as they are).
func checkELF(path, goos, goarch string) error {
	if goos == "darwin" || goos == "windows" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable for %s/%s: %w", path, goos, goarch, err)
	}
	defer f.Close()
	if want, known := elfMachine[goarch]; known && f.Machine != want {
		return fmt.Errorf("%s is an executable for %s, not %s as its name says", path, f.Machine, goarch)
	}
	return nil
}

// extraVersion tells the version of an extra binary (see Load).
func extraVersion(path, versionVar, selfVersion, selfRev string) string {
	if v := readVersionFile(path + ".version"); v != "" {
		return v
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return UnknownVersion
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "-ldflags":
			if v := ldflagsVar(s.Value, versionVar); v != "" {
				return v
			}
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "false" && rev+"/false" == selfRev {
		return selfVersion
	}
	return UnknownVersion
}

// vcsRevision is "<revision>/<modified>" of a Go binary, or "".
func vcsRevision(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return ""
	}
	return rev + "/" + modified
}

// versionText is what a version may look like.
var versionText = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_~-]{0,63}$`)

func readVersionFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 4096))
	if !sc.Scan() {
		return ""
	}
	v := strings.TrimSpace(sc.Text())
	if !versionText.MatchString(v) {
		return ""
	}
	return v
}

// ldflagsVar finds "-X name=value" (or -X=name=value) in an -ldflags value.
func ldflagsVar(flags, name string) string {
	if name == "" {
		return ""
	}
	fields := strings.Fields(flags)
	for i, f := range fields {
		var arg string
		switch {
		case (f == "-X" || f == "--X") && i+1 < len(fields):
			arg = fields[i+1]
		case strings.HasPrefix(f, "-X="):
			arg = f[len("-X="):]
		case strings.HasPrefix(f, "--X="):
			arg = f[len("--X="):]
		default:
			continue
		}
		arg = strings.Trim(arg, `'"`)
		if v, ok := strings.CutPrefix(arg, name+"="); ok && versionText.MatchString(v) {
			return v
		}
	}
	return ""
}

// Version is the server's own version.
func (c *Catalog) Version() string { return c.version }

// TLSPin is the server's TLS public key pin, or "".
func (c *Catalog) TLSPin() string { return c.pin }

// List returns the offered binaries, sorted by os and arch.
func (c *Catalog) List() []Binary {
	out := make([]Binary, len(c.bins))
	for i, e := range c.bins {
		out[i] = e.Binary
	}
	return out
}

// Releases is the catalogue as the API answers it.
func (c *Catalog) Releases() api.AgentReleases {
	out := api.AgentReleases{ServerVersion: c.version, TLSPin: c.pin, Items: []api.AgentBinary{}}
	for _, e := range c.bins {
		out.Items = append(out.Items, e.AgentBinary)
	}
	return out
}

// Platforms lists the offered platforms as "os/arch".
func (c *Catalog) Platforms() []string {
	var out []string
	for _, e := range c.bins {
		out = append(out, e.OS+"/"+e.Arch)
	}
	return out
}

// Find returns the binary for goos/goarch.
func (c *Catalog) Find(goos, goarch string) (Binary, bool) {
	for _, e := range c.bins {
		if e.OS == goos && e.Arch == goarch {
			return e.Binary, true
		}
	}
	return Binary{}, false
}

// Open returns the binary for goos/goarch and a reader of its bytes (safe
// to use concurrently with other readers of the same binary). The error
// wraps ErrNotOffered for an unknown platform and ErrChanged when the file
// was modified in place since Load.
func (c *Catalog) Open(goos, goarch string) (Binary, io.ReadSeeker, time.Time, error) {
	for _, e := range c.bins {
		if e.OS != goos || e.Arch != goarch {
			continue
		}
		fi, err := e.f.Stat()
		if err != nil {
			return Binary{}, nil, time.Time{}, fmt.Errorf("agent binary %s: %w", e.Path, err)
		}
		if fi.Size() != e.Size || !fi.ModTime().Equal(e.modTime) {
			return Binary{}, nil, time.Time{}, fmt.Errorf("%w: %s (restart the server to offer the new file)", ErrChanged, e.Path)
		}
		return e.Binary, io.NewSectionReader(e.f, 0, e.Size), e.modTime, nil
	}
	return Binary{}, nil, time.Time{}, fmt.Errorf("%w %s/%s; offered: %s", ErrNotOffered, goos, goarch, strings.Join(c.Platforms(), ", "))
}

// SHA256Sums is the catalogue in the format of sha256sum(1): one line
// "<hex>  poolctl-<os>-<arch>" per binary.
func (c *Catalog) SHA256Sums() string {
	var b strings.Builder
	for _, e := range c.bins {
		fmt.Fprintf(&b, "%s  %s%s-%s\n", e.SHA256, FilePrefix, e.OS, e.Arch)
	}
	return b.String()
}

// Close closes the binaries' files.
func (c *Catalog) Close() error {
	for _, e := range c.bins {
		if e.f != nil {
			e.f.Close()
		}
	}
	return nil
}

// Pin is a certificate's public key in curl's --pinnedpubkey form:
// "sha256//" and the base64 SHA-256 of its SubjectPublicKeyInfo.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256//" + base64.StdEncoding.EncodeToString(sum[:])
}
