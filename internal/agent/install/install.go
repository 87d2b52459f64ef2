// Package install writes, starts, stops and removes the service that runs
// `poolctl agent` on a member: a systemd unit, an OpenRC script or a SysV
// init script (with start-stop-daemon when the machine has it, else plain
// sh with a pid file), for whichever init system the machine runs.
//
// It only manages the service; enrolment is the agent package's. Every
// path it touches is under Host.Root and every command goes through
// Host.Run, so tests render and install into a directory.
package install

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Init is an init system flavour.
type Init string

// The flavours; Auto picks one with Detect, None writes no service.
const (
	Auto    Init = "auto"
	Systemd Init = "systemd"
	OpenRC  Init = "openrc"
	SysV    Init = "sysv"
	None    Init = "none"
)

// Where things go.
const (
	Name           = "poolctl-agent"
	DefaultDataDir = "/var/lib/poolctl-agent"
	// InstalledBinary is where install.sh puts the agent binary; only that
	// copy is removed by a purge.
	InstalledBinary = "/usr/local/bin/poolctl"
	SystemdUnit     = "/etc/systemd/system/" + Name + ".service"
	InitScript      = "/etc/init.d/" + Name
	PIDFile         = "/run/" + Name + ".pid"
	LogFile         = "/var/log/" + Name + ".log"
	stateFile       = "agent.json" // agent.StateFile; this package imports nothing of the agent's
)

// ParseInit checks an --init value.
func ParseInit(s string) (Init, error) {
	switch i := Init(s); i {
	case Auto, Systemd, OpenRC, SysV, None:
		return i, nil
	}
	return "", fmt.Errorf("--init %q: want auto, systemd, openrc, sysv or none", s)
}

// Service is the agent service to write.
type Service struct {
	Init    Init     // systemd, openrc or sysv
	Bin     string   // absolute path of the poolctl executable
	DataDir string   // absolute path of the agent's data directory
	Args    []string // further `poolctl agent` flags, e.g. --allow-shell
	// StartStopDaemon makes the SysV script start and stop the agent with
	// start-stop-daemon; without it the script backgrounds it from sh and
	// keeps its pid in PIDFile.
	StartStopDaemon bool
}

// File is a rendered service file.
type File struct {
	Path string // absolute, on the target machine
	Mode fs.FileMode
	Data []byte
}

//go:embed templates
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*"))

// word is what a word of the service's command line may hold: no quoting
// is then needed in a unit's ExecStart, an OpenRC command_args or sh.
var word = regexp.MustCompile(`^[A-Za-z0-9@+=:,./_-]+$`)

// Command is the agent's command line.
func (s Service) Command() []string {
	return append([]string{s.Bin, "agent", "--data", s.DataDir}, s.Args...)
}

// Render returns the service file for s.
func Render(s Service) (File, error) {
	if !filepath.IsAbs(s.Bin) || !filepath.IsAbs(s.DataDir) {
		return File{}, fmt.Errorf("service: the binary %q and the data directory %q must be absolute paths", s.Bin, s.DataDir)
	}
	for _, w := range s.Command() {
		if !word.MatchString(w) {
			return File{}, fmt.Errorf("service: %q: only letters, digits and @+=:,./_- may appear in the agent's command line", w)
		}
	}
	d := struct {
		Service
		Name, Bin, Args, Command, PIDFile, LogFile string
	}{s, Name, s.Bin, strings.Join(s.Command()[1:], " "), strings.Join(s.Command(), " "), PIDFile, LogFile}
	var f File
	switch s.Init {
	case Systemd:
		f = File{Path: SystemdUnit, Mode: 0o644}
	case OpenRC:
		f = File{Path: InitScript, Mode: 0o755}
	case SysV:
		f = File{Path: InitScript, Mode: 0o755}
	default:
		return File{}, fmt.Errorf("service: no service file for init %q", s.Init)
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, map[Init]string{Systemd: "systemd.service", OpenRC: "openrc", SysV: "sysv"}[s.Init], d); err != nil {
		return File{}, fmt.Errorf("service: render %s: %w", s.Init, err)
	}
	f.Data = b.Bytes()
	return f, nil
}

// Host is the machine the service is installed on.
type Host struct {
	// Root is prefixed to every path ("": the real root).
	Root string
	// Run runs a command (a path under Root) and returns its combined
	// output.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Out gets one line per step.
	Out io.Writer
	// Sleep waits before the check that the started agent stays up.
	Sleep func(time.Duration)
}

// System is this machine.
func System(out io.Writer) Host {
	return Host{Run: runCommand, Out: out, Sleep: time.Sleep}
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	// A started daemon that kept the output pipe would hold us up.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (h Host) path(p string) string { return filepath.Join(h.Root, p) }

func (h Host) exists(p string) bool {
	_, err := os.Lstat(h.path(p))
	return err == nil
}

func (h Host) say(format string, a ...any) { fmt.Fprintf(h.Out, format+"\n", a...) }

// find returns the path of a system command, or "".
func (h Host) find(name string) string {
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := dir + "/" + name
		if fi, err := os.Stat(h.path(p)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// run runs a command found with find and names it in errors.
func (h Host) run(ctx context.Context, name string, args ...string) error {
	line := strings.Join(append([]string{name}, args...), " ")
	out, err := h.Run(ctx, h.path(name), args...)
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%s: %w: %s", line, err, msg)
		}
		return fmt.Errorf("%s: %w", line, err)
	}
	h.say("ran: %s", line)
	return nil
}

// Detect picks the init system: systemd when it is running, else OpenRC
// when installed, else SysV. The reason says why, for the operator.
func (h Host) Detect() (Init, string) {
	switch {
	case h.exists("/run/systemd/system"):
		return Systemd, "/run/systemd/system exists"
	case h.exists("/sbin/openrc-run"):
		return OpenRC, "/sbin/openrc-run exists"
	}
	return SysV, "no /run/systemd/system, no /sbin/openrc-run"
}

// HasStartStopDaemon tells whether a SysV script can use start-stop-daemon.
func (h Host) HasStartStopDaemon() bool { return h.find("start-stop-daemon") != "" }

// LogsCommand is how to read the agent's logs under init.
func LogsCommand(init Init) string {
	if init == Systemd {
		return "journalctl -u " + Name + " -n 50"
	}
	return "tail -n 50 " + LogFile
}

// Check tells whether Install can install s: its file renders and the
// init system's tools are there. Run it before anything is changed.
func (h Host) Check(s Service) error {
	if _, err := Render(s); err != nil {
		return err
	}
	switch s.Init {
	case Systemd:
		if h.find("systemctl") == "" {
			return errors.New("--init systemd: no systemctl on this machine")
		}
	case OpenRC:
		if h.find("rc-update") == "" || h.find("rc-service") == "" {
			return errors.New("--init openrc: no rc-update or rc-service on this machine")
		}
	}
	return nil
}

// Install writes s's service file atomically, enables it at boot and
// starts the agent (restarts it when a service file was there already),
// then checks that it stays up.
func (h Host) Install(ctx context.Context, s Service) error {
	if err := h.Check(s); err != nil {
		return err
	}
	f, err := Render(s)
	if err != nil {
		return err
	}
	ctl := h.find("systemctl")
	existed := h.exists(f.Path)
	if err := writeAtomic(h.path(f.Path), f.Data, f.Mode); err != nil {
		return err
	}
	h.say("wrote %s", f.Path)
	if err := h.enableAndStart(ctx, s.Init, ctl, existed); err != nil {
		return fmt.Errorf("%w\nthe service file is in place; look at the logs with: %s", err, LogsCommand(s.Init))
	}
	h.Sleep(time.Second)
	if err := h.status(ctx, s.Init); err != nil {
		return fmt.Errorf("%s did not stay up (%w); look at the logs with: %s", Name, err, LogsCommand(s.Init))
	}
	h.say("%s is running; logs: %s", Name, LogsCommand(s.Init))
	return nil
}

func (h Host) enableAndStart(ctx context.Context, init Init, ctl string, restart bool) error {
	switch init {
	case Systemd:
		if err := h.run(ctx, ctl, "daemon-reload"); err != nil {
			return err
		}
		if !restart {
			return h.run(ctx, ctl, "enable", "--now", Name)
		}
		if err := h.run(ctx, ctl, "enable", Name); err != nil {
			return err
		}
		return h.run(ctx, ctl, "restart", Name)
	case OpenRC:
		if err := h.run(ctx, h.find("rc-update"), "add", Name, "default"); err != nil {
			return err
		}
		return h.run(ctx, h.find("rc-service"), Name, startVerb(restart))
	}
	switch {
	case h.find("update-rc.d") != "":
		if err := h.run(ctx, h.find("update-rc.d"), Name, "defaults"); err != nil {
			return err
		}
	case h.find("chkconfig") != "":
		if err := h.run(ctx, h.find("chkconfig"), "--add", Name); err != nil {
			return err
		}
	default:
		h.say("not enabled at boot: neither update-rc.d nor chkconfig is installed")
	}
	return h.run(ctx, InitScript, startVerb(restart))
}

func startVerb(restart bool) string {
	if restart {
		return "restart"
	}
	return "start"
}

// status succeeds when the service is running.
func (h Host) status(ctx context.Context, init Init) error {
	var out []byte
	var err error
	switch init {
	case Systemd:
		out, err = h.Run(ctx, h.path(h.find("systemctl")), "is-active", Name)
	case OpenRC:
		out, err = h.Run(ctx, h.path(h.find("rc-service")), Name, "status")
	default:
		out, err = h.Run(ctx, h.path(InitScript), "status")
	}
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return err
	}
	return nil
}

// writeAtomic writes path through a temporary file in its directory, so
// that it is either the old file or the whole new one.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
