package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/shirou/gopsutil/v4/process"
)

// updatesTimeout bounds a package manager's update check, which may read
// repository metadata.
const updatesTimeout = 2 * time.Minute

// detector finds the server software under root. Everything it reports was
// found: a file that exists, a binary that answered, a process that runs.
type detector struct {
	root    string
	dsn     string
	timeout time.Duration // per external command
	log     *slog.Logger
	procs   func(ctx context.Context) (procSet, error) // nil: listProcs
}

// proc is one running process as the stack detector sees it.
type proc struct{ name, exe string }

// procSet is a snapshot of the running processes.
type procSet []proc

// running reports whether a process runs whose name or executable base name
// is one of names. A name also matches a process that renamed itself with a
// suffix, like "cpsrvd (SSL) - waiting".
func (ps procSet) running(names ...string) bool {
	for _, p := range ps {
		base := filepath.Base(p.exe)
		for _, n := range names {
			if p.name == n || base == n || strings.HasPrefix(p.name, n+" ") {
				return true
			}
		}
	}
	return false
}

// listProcs lists the running processes through gopsutil.
func listProcs(ctx context.Context) (procSet, error) {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := make(procSet, 0, len(ps))
	for _, p := range ps {
		name, err := p.NameWithContext(ctx)
		if err != nil {
			continue // exited meanwhile
		}
		exe, _ := p.ExeWithContext(ctx) // needs privileges for other users' processes
		out = append(out, proc{name: name, exe: exe})
	}
	return out, nil
}

// binDirs are searched for binaries under a fake root, and after PATH under "/".
var binDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"}

// lookPath returns the path of the first of names found, or "".
func (d *detector) lookPath(names ...string) string {
	for _, n := range names {
		if d.root == "/" {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		for _, dir := range binDirs {
			p := filepath.Join(d.root, dir, n)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p
			}
		}
	}
	return ""
}

// file returns the trimmed first line of a file under root, and whether it exists.
func (d *detector) file(rel string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(d.root, rel))
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), true
}

func (d *detector) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(d.root, rel))
	return err == nil
}

// cmdResult is what an external command printed and how it ended.
type cmdResult struct {
	stdout, stderr string
	exit           int
}

// run runs a command with a timeout and the C locale. A non-zero exit is not
// an error (see exit); failing to start, or being killed, is.
func run(ctx context.Context, timeout time.Duration, path string, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cmdResult{stdout: stdout.String(), stderr: stderr.String(), exit: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil && ee.Exited() {
		err = nil
	}
	if err != nil {
		return res, fmt.Errorf("run %s: %w", filepath.Base(path), err)
	}
	return res, nil
}

// versionCmd runs bin with args and extracts a version with parse from its
// combined output; "" when it failed.
func (d *detector) versionCmd(ctx context.Context, parse func(string) string, bin string, args ...string) string {
	res, err := run(ctx, d.timeout, bin, args...)
	if err != nil || res.exit != 0 {
		d.log.Debug("version command failed", "cmd", bin, "err", err, "exit", res.exit)
		return ""
	}
	return parse(res.stdout + "\n" + res.stderr)
}

// wordAfter returns the word that follows marker in s, or "".
func wordAfter(marker string) func(string) string {
	return func(s string) string {
		_, rest, ok := strings.Cut(s, marker)
		if !ok {
			return ""
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return ""
		}
		return strings.TrimRight(f[0], ",")
	}
}

// firstWord returns the first word of s.
func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// stack detects the server software. Detectors run concurrently; each
// writes its own field.
func (d *detector) stack(ctx context.Context) api.Stack {
	procs := d.procs
	if procs == nil {
		procs = listProcs
	}
	ps, err := procs(ctx)
	if err != nil {
		d.log.Debug("list processes", "err", err)
	}
	var st api.Stack
	var wg sync.WaitGroup
	wg.Go(func() { st.CPanel = d.fileComponent(ps, "usr/local/cpanel/version", "cpsrvd") })
	wg.Go(func() {
		st.OpenLiteSpeed = d.fileComponent(ps, "usr/local/lsws/VERSION", "lshttpd", "openlitespeed", "litespeed")
	})
	wg.Go(func() { st.MariaDB, st.Galera = d.mariadb(ctx, ps) })
	wg.Go(func() {
		st.HAProxy = d.binComponent(ctx, ps, []string{"haproxy"}, []string{"haproxy"}, wordAfter("version "), "-v")
	})
	wg.Go(func() {
		st.Exim = d.binComponent(ctx, ps, []string{"exim", "exim4"}, []string{"exim", "exim4"}, wordAfter("version "), "-bV")
	})
	wg.Go(func() { st.Postfix = d.postfix(ctx, ps) })
	wg.Go(func() {
		st.Dovecot = d.binComponent(ctx, ps, []string{"dovecot"}, []string{"dovecot"}, firstWord, "--version")
	})
	wg.Go(func() { st.Firewall = d.firewall(ctx) })
	wg.Wait()
	return st
}

// fileComponent detects software by a version file under root.
func (d *detector) fileComponent(ps procSet, versionFile string, procNames ...string) *api.Component {
	v, ok := d.file(versionFile)
	if !ok {
		return &api.Component{}
	}
	return &api.Component{Detected: true, Version: v, Running: ps.running(procNames...)}
}

// binComponent detects software by its binary, asking it for its version.
func (d *detector) binComponent(ctx context.Context, ps procSet, bins, procNames []string, parse func(string) string, args ...string) *api.Component {
	bin := d.lookPath(bins...)
	if bin == "" {
		return &api.Component{}
	}
	return &api.Component{
		Detected: true,
		Version:  d.versionCmd(ctx, parse, bin, args...),
		Running:  ps.running(procNames...),
	}
}

// postfix is detected by postconf (or the postfix binary); its daemon is
// the process "master" run from a postfix directory.
func (d *detector) postfix(ctx context.Context, ps procSet) *api.Component {
	postconf := d.lookPath("postconf")
	if postconf == "" && d.lookPath("postfix") == "" {
		return &api.Component{}
	}
	c := &api.Component{Detected: true}
	if postconf != "" {
		c.Version = d.versionCmd(ctx, firstWord, postconf, "-h", "mail_version")
	}
	c.Running = postfixRunning(ps)
	return c
}

// postfixRunning reports whether Postfix's "master" daemon runs.
func postfixRunning(ps procSet) bool {
	for _, p := range ps {
		if p.name == "master" && (p.exe == "" || strings.Contains(p.exe, "postfix")) {
			return true
		}
	}
	return false
}

// firewall reports which packet filter front-ends are installed (Kinds) and
// whether any rules are loaded (Active). csf counts as active only when it
// is not disabled and the kernel holds rules.
func (d *detector) firewall(ctx context.Context) *api.Firewall {
	fw := &api.Firewall{}
	if nft := d.lookPath("nft"); nft != "" {
		fw.Kinds = append(fw.Kinds, "nftables")
		if res, err := run(ctx, d.timeout, nft, "list", "ruleset"); err == nil && res.exit == 0 && nftHasRules(res.stdout) {
			fw.Active = true
		}
	}
	if ipt := d.lookPath("iptables"); ipt != "" {
		fw.Kinds = append(fw.Kinds, "iptables")
		if res, err := run(ctx, d.timeout, ipt, "-S"); err == nil && res.exit == 0 && iptablesHasRules(res.stdout) {
			fw.Active = true
		}
	}
	if d.exists("etc/csf/csf.conf") || d.exists("etc/csf/version.txt") {
		fw.Kinds = append(fw.Kinds, "csf")
		if d.exists("etc/csf/csf.disable") {
			d.log.Debug("csf installed but disabled")
		}
	}
	fw.Detected = len(fw.Kinds) > 0
	return fw
}

// nftHasRules reports whether `nft list ruleset` shows at least one rule or
// set element, not just empty tables and chains.
func nftHasRules(out string) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "", l == "}", strings.HasPrefix(l, "table "), strings.HasPrefix(l, "chain "),
			strings.HasPrefix(l, "type ") && strings.Contains(l, "hook "), strings.HasPrefix(l, "#"):
			continue
		}
		return true
	}
	return false
}

// iptablesHasRules reports whether `iptables -S` lists anything beyond the
// built-in chains' policies ("-P INPUT ACCEPT").
func iptablesHasRules(out string) bool {
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "-P ") {
			return true
		}
	}
	return false
}

// updates counts pending package updates (and security updates when the
// package manager tells them apart); nil when it could not tell.
func (d *detector) updates(ctx context.Context) (pending, security *int) {
	if p := filepath.Join(d.root, "usr/lib/update-notifier/apt-check"); d.exists("usr/lib/update-notifier/apt-check") {
		if res, err := run(ctx, updatesTimeout, p); err == nil && res.exit == 0 {
			if a, b, ok := parseAptCheck(res.stderr + res.stdout); ok {
				return &a, &b
			}
		}
	}
	if apt := d.lookPath("apt-get"); apt != "" {
		res, err := run(ctx, updatesTimeout, apt, "-s", "-q", "upgrade")
		if err == nil && res.exit == 0 {
			a, b := parseAptSimulate(res.stdout)
			return &a, &b
		}
		d.log.Debug("apt-get -s upgrade failed", "err", err, "exit", res.exit)
		return nil, nil
	}
	if dnf := d.lookPath("dnf", "yum"); dnf != "" {
		res, err := run(ctx, updatesTimeout, dnf, "check-update", "-q")
		if err != nil {
			d.log.Debug("check-update failed", "err", err)
			return nil, nil
		}
		switch res.exit {
		case 0:
			n := 0
			return &n, nil
		case 100:
			n := parseCheckUpdate(res.stdout)
			return &n, nil
		}
		d.log.Debug("check-update failed", "exit", res.exit, "stderr", strings.TrimSpace(res.stderr))
	}
	return nil, nil
}

// parseAptCheck reads update-notifier's "PENDING;SECURITY".
func parseAptCheck(s string) (pending, security int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), ";")
	if !found {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(strings.TrimSpace(a))
	q, err2 := strconv.Atoi(strings.TrimSpace(b))
	return p, q, err1 == nil && err2 == nil
}

// parseAptSimulate counts the "Inst " lines of `apt-get -s upgrade`, and
// those coming from a security archive.
func parseAptSimulate(out string) (pending, security int) {
	for l := range strings.Lines(out) {
		if !strings.HasPrefix(l, "Inst ") {
			continue
		}
		pending++
		if strings.Contains(strings.ToLower(l), "security") {
			security++
		}
	}
	return pending, security
}

// parseCheckUpdate counts the package lines of `dnf check-update -q` (exit
// 100), stopping at the "Obsoleting Packages" section.
func parseCheckUpdate(out string) int {
	n := 0
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "Obsoleting") {
			break
		}
		f := strings.Fields(l)
		if len(f) == 3 && !strings.HasPrefix(l, " ") && strings.Contains(f[0], ".") {
			n++
		}
	}
	return n
}
