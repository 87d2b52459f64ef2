package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestAgentInstall runs the one-line install command that `member add`
// prints inside a fresh Debian root (chroot, sharing this machine's
// network, so the server on 127.0.0.1 is reachable; no systemd there, so
// the agent gets a SysV init script), checks that the agent heartbeats,
// then uninstalls and purges it.
func TestAgentInstall(t *testing.T) {
	root := freshDebianRoot(t)
	s := startServer(t, t.TempDir())
	cli(t, s.env(), "pool", "create", "web", "--heartbeat-timeout", "3s")
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", "web", "node1", "--address", "203.0.113.10", "--allow-ip", "127.0.0.1/32")
	if !strings.HasPrefix(added.InstallCommand, "curl -fsS -k --pinnedpubkey sha256//") || !strings.Contains(added.InstallCommand, added.EnrollmentSecret) {
		t.Fatalf("member add: install command %q", added.InstallCommand)
	}
	if table := cli(t, s.env(), "member", "secret", "web", "node1"); !strings.Contains(table, "| sh -s -- --server "+s.url) {
		t.Fatalf("member secret does not print the install command:\n%s", table)
	}
	cliJSON(t, s.env(), &added, "member", "secret", "web", "node1")

	began := time.Now()
	out := chroot(t, root, "sh", "-c", added.InstallCommand)
	t.Logf("install command ran in %s:\n%s", time.Since(began).Round(time.Millisecond), out)
	for _, want := range []string{"installed /usr/local/bin/poolctl", "init system: sysv", "enrolled as member node1 of pool web",
		"wrote /etc/init.d/poolctl-agent", "ran: /usr/sbin/update-rc.d poolctl-agent defaults", "ran: /etc/init.d/poolctl-agent start",
		"poolctl-agent is running; logs: tail -n 50 /var/log/poolctl-agent.log"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q", want)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "var/lib/poolctl-agent/agent.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent.json in the root: %v %v, want mode 0600", fi, err)
	}
	script, err := os.ReadFile(filepath.Join(root, "etc/init.d/poolctl-agent"))
	if err != nil || !strings.Contains(string(script), "start-stop-daemon --start") {
		t.Fatalf("init script: %v\n%s", err, script)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/rc2.d/S01poolctl-agent")); err != nil {
		t.Errorf("not enabled at boot: %v", err)
	}
	if pids := agentProcesses(t, root); len(pids) != 1 {
		t.Fatalf("agent processes in the root: %v, want one", pids)
	}
	waitFor(t, 30*time.Second, "node1 healthy", func() bool { return members(t, s, "web")["node1"].Status == api.StatusHealthy })

	// Refusals: an enrolled machine without --force, an unknown init.
	const bin = "/usr/local/bin/poolctl"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret", added.EnrollmentSecret}, "agent is already enrolled as member \"node1\" of pool \"web\""},
		{[]string{"--secret", added.EnrollmentSecret, "--init", "upstart"}, `--init "upstart": want auto, systemd, openrc, sysv or none`},
	} {
		_, errOut, err := chrootRun(root, append([]string{bin, "agent", "install", "--server", s.url}, tc.args...)...)
		if err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("agent install %v: err %v, stderr %q; want %q", tc.args, err, errOut, tc.want)
		}
	}
	if pids := agentProcesses(t, root); len(pids) != 1 {
		t.Fatalf("after the refusals, agent processes in the root: %v, want the one", pids)
	}

	// Uninstall, keeping the data; then again, purging.
	out = chroot(t, root, bin, "agent", "uninstall")
	for _, want := range []string{"ran: /etc/init.d/poolctl-agent stop", "removed /etc/init.d/poolctl-agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, out)
		}
	}
	if pids := agentProcesses(t, root); len(pids) != 0 {
		t.Fatalf("after uninstall, agent processes in the root: %v", pids)
	}
	waitFor(t, 30*time.Second, "node1 down", func() bool { return members(t, s, "web")["node1"].Status == api.StatusDown })
	out = chroot(t, root, bin, "agent", "uninstall", "--purge")
	for _, want := range []string{"poolctl-agent is not installed", "removed /var/lib/poolctl-agent", "removed /var/log/poolctl-agent.log", "removed /usr/local/bin/poolctl"} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall --purge output lacks %q:\n%s", want, out)
		}
	}
	for _, p := range []string{"etc/init.d/poolctl-agent", "etc/rc2.d/S01poolctl-agent", "var/lib/poolctl-agent", "usr/local/bin/poolctl", "run/poolctl-agent.pid"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still in the root (%v)", p, err)
		}
	}
	// Idempotent, with another copy of poolctl, which it leaves alone.
	copyFile(t, binary, filepath.Join(root, "tmp/poolctl"))
	out = chroot(t, root, "/tmp/poolctl", "agent", "uninstall", "--purge")
	for _, want := range []string{"poolctl-agent is not installed", "no data directory /var/lib/poolctl-agent", "left /tmp/poolctl"} {
		if !strings.Contains(out, want) {
			t.Errorf("second uninstall output lacks %q:\n%s", want, out)
		}
	}
}

// agentProcesses are the `poolctl agent` processes running in root.
func agentProcesses(t *testing.T, root string) []int {
	t.Helper()
	var pids []int
	for _, pid := range rootProcesses(t, root) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.HasPrefix(b, []byte("/usr/local/bin/poolctl\x00agent\x00--data\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// chrootEnv is the environment of commands in the root: nothing of ours.
var chrootEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}

func chrootRun(root string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
	cmd.Env = chrootEnv
	// A started agent must not hold our pipes; if it does, do not wait.
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// chroot runs a command in root and returns its stdout and stderr; it
// fails the test unless it succeeded.
func chroot(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, errOut, err := chrootRun(root, args...)
	if err != nil {
		t.Fatalf("chroot %s: %v\nstdout: %s\nstderr: %s\nagent log: %s", strings.Join(args, " "), err, out, errOut, readLog(root))
	}
	return out + errOut
}

func readLog(root string) string {
	b, _ := os.ReadFile(filepath.Join(root, "var/log/poolctl-agent.log"))
	return string(b)
}

// rootProcesses are the pids of the processes whose root is root.
func rootProcesses(t *testing.T, root string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if r, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && r == root {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freshDebianRoot is a Debian bookworm root for this test alone: an
// overlay (else a copy) of the cached one, with /proc, /dev and /sys
// mounted; every process left in it is killed and everything unmounted
// when the test ends. It skips without root or debootstrap, unless
// POOLCTL_REQUIRE_PEERS=1.
func freshDebianRoot(t *testing.T) string {
	t.Helper()
	skip := t.Skip
	if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
		skip = t.Fatal
	}
	if os.Geteuid() != 0 {
		skip("needs root: it builds a Debian root and runs the installer in it with chroot")
	}
	if _, err := exec.LookPath("chroot"); err != nil {
		skip("no chroot command")
	}
	base := cachedDebianRoot(t, skip)

	dir, err := os.MkdirTemp("", "poolctl-install-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	var mounted []string
	t.Cleanup(func() {
		for _, pid := range rootProcesses(t, root) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
		for i := len(mounted) - 1; i >= 0; i-- {
			if err := syscall.Unmount(mounted[i], 0); err != nil {
				if err := syscall.Unmount(mounted[i], syscall.MNT_DETACH); err != nil {
					t.Errorf("unmount %s: %v", mounted[i], err)
				}
			}
		}
		// Never remove a tree with something still mounted in it.
		if m := mountsUnder(t, dir); len(m) > 0 {
			t.Errorf("still mounted, so %s is left: %v", dir, m)
			return
		}
		_ = os.RemoveAll(dir)
	})
	for _, d := range []string{root, dir + "/upper", dir + "/work"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("overlay", root, "overlay", 0, "lowerdir="+base+",upperdir="+dir+"/upper,workdir="+dir+"/work"); err == nil {
		mounted = append(mounted, root)
	} else {
		t.Logf("no overlay (%v): copying the Debian root", err)
		if out, err := exec.Command("cp", "-a", base+"/.", root).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v: %s", base, err, out)
		}
	}
	for _, m := range []struct {
		src, dst, fstype string
		flags            uintptr
	}{
		{"proc", "proc", "proc", 0},
		{"/dev", "dev", "", syscall.MS_BIND},
		{"/sys", "sys", "", syscall.MS_BIND},
	} {
		dst := filepath.Join(root, m.dst)
		if err := syscall.Mount(m.src, dst, m.fstype, m.flags, ""); err != nil {
			t.Fatalf("mount %s on %s: %v", m.src, dst, err)
		}
		mounted = append(mounted, dst)
	}
	return root
}

// mountsUnder lists the mount points below dir.
func mountsUnder(t *testing.T, dir string) []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			out = append(out, fields[1])
		}
	}
	return out
}

// cachedDebianRoot is $HOME/.cache/poolctl-test/debian-root, built with
// debootstrap when missing: into a temporary directory renamed when
// complete, so an interrupted build is never used.
func cachedDebianRoot(t *testing.T, skip func(...any)) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(home, ".cache", "poolctl-test")
	root := filepath.Join(cache, "debian-root")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/curl")); err == nil {
		return root
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		skip("no debootstrap (Debian package debootstrap; ./scripts/test installs it)")
	}
	mirror, err := aptMirror()
	if err != nil {
		skip(err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if old, _ := filepath.Glob(root + ".tmp-*"); len(old) > 0 {
		t.Logf("left from interrupted builds (remove them once nothing is mounted in them): %v", old)
	}
	tmp, err := os.MkdirTemp(cache, "debian-root.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("building the Debian root with debootstrap from %s (cached in %s)", mirror, root)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include=curl,ca-certificates", "bookworm", tmp, mirror)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap (after %s): %v\n%s", time.Since(start).Round(time.Second), err, out)
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap built the Debian root in %s", time.Since(start).Round(time.Second))
	return root
}

// aptMirror is the Debian mirror this machine's apt uses: the first
// "URIs:" of a deb822 source for a main suite, else the first "deb URL" of
// sources.list.
func aptMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			var uris, suites []string
			for _, line := range strings.Split(stanza, "\n") {
				k, v, _ := strings.Cut(line, ":")
				switch strings.TrimSpace(k) {
				case "URIs":
					uris = strings.Fields(v)
				case "Suites":
					suites = strings.Fields(v)
				}
			}
			if len(uris) > 0 && len(suites) > 0 && !strings.Contains(suites[0], "-") {
				return uris[0], nil
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && f[0] == "deb" {
				f = f[1:]
				if len(f) > 0 && strings.HasPrefix(f[0], "[") {
					for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
						f = f[1:]
					}
					if len(f) > 0 {
						f = f[1:]
					}
				}
				if len(f) > 1 && !strings.Contains(f[1], "-") {
					return f[0], nil
				}
			}
		}
	}
	return "", errors.New("no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
