package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func service(init Init) Service {
	return Service{Init: init, Bin: InstalledBinary, DataDir: DefaultDataDir, Args: []string{"--allow-shell", "--accounts=linux"}}
}

const command = "/usr/local/bin/poolctl agent --data /var/lib/poolctl-agent --allow-shell --accounts=linux"

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Service
		path string
		mode os.FileMode
		want []string
		not  []string
	}{
		{"systemd", service(Systemd), SystemdUnit, 0o644, []string{
			"[Unit]\n", "After=network-online.target\n", "Wants=network-online.target\n",
			"[Service]\n", "ExecStart=" + command + "\n", "Restart=always\n",
			"[Install]\nWantedBy=multi-user.target\n",
			"# poolctl-agent-bin: /usr/local/bin/poolctl\n# poolctl-agent-data: /var/lib/poolctl-agent\n",
		}, nil},
		{"openrc", service(OpenRC), InitScript, 0o755, []string{
			"#!/sbin/openrc-run\n", "command=/usr/local/bin/poolctl\n",
			`command_args="agent --data /var/lib/poolctl-agent --allow-shell --accounts=linux"` + "\n",
			"command_background=true\n", "pidfile=/run/poolctl-agent.pid\n", "output_log=/var/log/poolctl-agent.log\n",
			"need net\n", "# poolctl-agent-data: /var/lib/poolctl-agent\n",
		}, nil},
		{"sysv start-stop-daemon", func() Service { s := service(SysV); s.StartStopDaemon = true; return s }(), InitScript, 0o755, []string{
			"#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          poolctl-agent\n",
			"# Default-Start:     2 3 4 5\n", "### END INIT INFO\n", "# chkconfig: 2345 90 10\n",
			"DAEMON=/usr/local/bin/poolctl\n", `ARGS="agent --data /var/lib/poolctl-agent --allow-shell --accounts=linux"` + "\n",
			"start-stop-daemon --start", "start-stop-daemon --stop", "start) do_start ;;", "stop) do_stop ;;",
			"restart | force-reload) do_stop && do_start ;;", "status) do_status ;;",
			"# poolctl-agent-bin: /usr/local/bin/poolctl\n",
		}, []string{"nohup"}},
		{"sysv sh", service(SysV), InitScript, 0o755, []string{
			"### BEGIN INIT INFO\n", `nohup "$DAEMON" $ARGS >>"$LOG" 2>&1 </dev/null &` + "\n", `echo $! >"$PIDFILE"`,
			"status) do_status ;;",
		}, []string{"start-stop-daemon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Render(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if f.Path != tc.path || f.Mode != tc.mode {
				t.Errorf("got %s mode %v, want %s mode %v", f.Path, f.Mode, tc.path, tc.mode)
			}
			text := string(f.Data)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s lacks %q:\n%s", tc.name, w, text)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(text, w) {
					t.Errorf("%s holds %q:\n%s", tc.name, w, text)
				}
			}
			if strings.Contains(text, "<no value>") {
				t.Errorf("%s has an unfilled template field:\n%s", tc.name, text)
			}
			if tc.s.Init != Systemd {
				checkSyntax(t, text)
			}
		})
	}
}

// checkSyntax has sh parse a script without running it.
func checkSyntax(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v: %s\n%s", err, out, script)
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, s := range []Service{
		{Init: SysV, Bin: "poolctl", DataDir: DefaultDataDir},
		{Init: SysV, Bin: InstalledBinary, DataDir: "data"},
		{Init: Systemd, Bin: InstalledBinary, DataDir: "/var/lib/my agent"},
		{Init: Systemd, Bin: InstalledBinary, DataDir: DefaultDataDir, Args: []string{"--accounts=x\nExecStartPre=/bin/evil"}},
		{Init: OpenRC, Bin: InstalledBinary, DataDir: DefaultDataDir, Args: []string{`--x="$(id)"`}},
		{Init: None, Bin: InstalledBinary, DataDir: DefaultDataDir},
	} {
		if f, err := Render(s); err == nil {
			t.Errorf("Render(%+v) = %s, want an error", s, f.Data)
		}
	}
}

func TestCheck(t *testing.T) {
	f := newFakeHost(t)
	for _, init := range []Init{Systemd, OpenRC} {
		if err := f.Check(service(init)); err == nil || !strings.Contains(err.Error(), "--init "+string(init)+": no ") {
			t.Errorf("%s without its tools: %v", init, err)
		}
		if err := f.Install(context.Background(), service(init)); err == nil || f.exists(SystemdUnit) || f.exists(InitScript) {
			t.Errorf("%s installed without its tools: %v", init, err)
		}
	}
	if err := f.Check(service(SysV)); err != nil {
		t.Errorf("sysv: %v", err)
	}
}

func TestParseInit(t *testing.T) {
	for _, s := range []string{"auto", "systemd", "openrc", "sysv", "none"} {
		if got, err := ParseInit(s); err != nil || string(got) != s {
			t.Errorf("ParseInit(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseInit("upstart"); err == nil || !strings.Contains(err.Error(), "want auto, systemd, openrc, sysv or none") {
		t.Errorf("ParseInit(upstart): %v", err)
	}
}

// fakeHost is a Host over a temporary root whose commands are recorded;
// fail makes the commands starting with a prefix fail.
type fakeHost struct {
	Host
	ran  []string
	out  bytes.Buffer
	fail map[string]bool
}

func newFakeHost(t *testing.T, commands ...string) *fakeHost {
	t.Helper()
	f := &fakeHost{fail: map[string]bool{}}
	root := t.TempDir()
	for _, c := range commands {
		touch(t, root, c, 0o755)
	}
	f.Host = Host{Root: root, Out: &f.out, Sleep: func(time.Duration) {},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			line := strings.Join(append([]string{strings.TrimPrefix(name, root)}, args...), " ")
			f.ran = append(f.ran, line)
			for p := range f.fail {
				if strings.HasPrefix(line, p) {
					return []byte("it went wrong"), errors.New("exit status 1")
				}
			}
			return nil, nil
		}}
	return f
}

func touch(t *testing.T, root, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, p), []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeHost) checkRan(t *testing.T, want ...string) {
	t.Helper()
	if strings.Join(f.ran, "\n") != strings.Join(want, "\n") {
		t.Errorf("ran:\n%s\nwant:\n%s", strings.Join(f.ran, "\n"), strings.Join(want, "\n"))
	}
	f.ran = nil
}

func TestDetect(t *testing.T) {
	f := newFakeHost(t)
	if got, _ := f.Detect(); got != SysV {
		t.Errorf("bare root: got %s, want sysv", got)
	}
	touch(t, f.Root, "/sbin/openrc-run", 0o755)
	if got, _ := f.Detect(); got != OpenRC {
		t.Errorf("with openrc-run: got %s, want openrc", got)
	}
	if err := os.MkdirAll(filepath.Join(f.Root, "/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Detect(); got != Systemd {
		t.Errorf("with /run/systemd/system: got %s, want systemd", got)
	}
	if f.HasStartStopDaemon() {
		t.Error("start-stop-daemon found in a root without it")
	}
	touch(t, f.Root, "/sbin/start-stop-daemon", 0o755)
	if !f.HasStartStopDaemon() {
		t.Error("start-stop-daemon not found")
	}
}

func TestInstallSystemd(t *testing.T) {
	f := newFakeHost(t, "/usr/bin/systemctl")
	ctx := context.Background()
	if err := f.Install(ctx, service(Systemd)); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t, "/usr/bin/systemctl daemon-reload", "/usr/bin/systemctl enable --now poolctl-agent", "/usr/bin/systemctl is-active poolctl-agent")
	b, err := os.ReadFile(filepath.Join(f.Root, SystemdUnit))
	if err != nil || !strings.Contains(string(b), "ExecStart="+command+"\n") {
		t.Fatalf("unit: %v\n%s", err, b)
	}
	want := "wrote /etc/systemd/system/poolctl-agent.service\nran: /usr/bin/systemctl daemon-reload\nran: /usr/bin/systemctl enable --now poolctl-agent\npoolctl-agent is running; logs: journalctl -u poolctl-agent -n 50\n"
	if f.out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", f.out.String(), want)
	}
	// Again (install --force): the running agent is restarted.
	if err := f.Install(ctx, service(Systemd)); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t, "/usr/bin/systemctl daemon-reload", "/usr/bin/systemctl enable poolctl-agent", "/usr/bin/systemctl restart poolctl-agent", "/usr/bin/systemctl is-active poolctl-agent")
	checkNoTemp(t, filepath.Join(f.Root, filepath.Dir(SystemdUnit)))
}

func TestInstallOpenRC(t *testing.T) {
	f := newFakeHost(t, "/sbin/rc-update", "/sbin/rc-service")
	if err := f.Install(context.Background(), service(OpenRC)); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t, "/sbin/rc-update add poolctl-agent default", "/sbin/rc-service poolctl-agent start", "/sbin/rc-service poolctl-agent status")
	fi, err := os.Stat(filepath.Join(f.Root, InitScript))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init script: %v %v", fi, err)
	}
}

func TestInstallSysV(t *testing.T) {
	for _, tc := range []struct {
		name, helper string
		want         []string
	}{
		{"update-rc.d", "/usr/sbin/update-rc.d", []string{"/usr/sbin/update-rc.d poolctl-agent defaults", "/etc/init.d/poolctl-agent start", "/etc/init.d/poolctl-agent status"}},
		{"chkconfig", "/sbin/chkconfig", []string{"/sbin/chkconfig --add poolctl-agent", "/etc/init.d/poolctl-agent start", "/etc/init.d/poolctl-agent status"}},
		{"neither", "", []string{"/etc/init.d/poolctl-agent start", "/etc/init.d/poolctl-agent status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f *fakeHost
			if tc.helper != "" {
				f = newFakeHost(t, tc.helper)
			} else {
				f = newFakeHost(t)
			}
			if err := f.Install(context.Background(), service(SysV)); err != nil {
				t.Fatal(err)
			}
			f.checkRan(t, tc.want...)
			if tc.helper == "" && !strings.Contains(f.out.String(), "not enabled at boot") {
				t.Errorf("output does not say the service is not enabled at boot:\n%s", f.out.String())
			}
		})
	}
}

func TestInstallStartFails(t *testing.T) {
	f := newFakeHost(t)
	f.fail["/etc/init.d/poolctl-agent start"] = true
	err := f.Install(context.Background(), service(SysV))
	if err == nil || !strings.Contains(err.Error(), "it went wrong") || !strings.Contains(err.Error(), "look at the logs with: tail -n 50 /var/log/poolctl-agent.log") {
		t.Fatalf("got %v, want the failure and how to read the logs", err)
	}
	// The script was written whole.
	b, err := os.ReadFile(filepath.Join(f.Root, InitScript))
	if err != nil || !bytes.HasSuffix(b, []byte("esac\n")) {
		t.Fatalf("init script after a failed start: %v\n%s", err, b)
	}

	// It starts, then dies.
	f = newFakeHost(t, "/usr/bin/systemctl")
	f.fail["/usr/bin/systemctl is-active"] = true
	err = f.Install(context.Background(), service(Systemd))
	if err == nil || !strings.Contains(err.Error(), "did not stay up") || !strings.Contains(err.Error(), "journalctl -u poolctl-agent") {
		t.Fatalf("got %v, want the agent did not stay up", err)
	}
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", filepath.Join(dir, e.Name()))
		}
	}
}

func TestUninstall(t *testing.T) {
	ctx := context.Background()
	f := newFakeHost(t, "/usr/sbin/update-rc.d")
	if err := f.Install(ctx, service(SysV)); err != nil {
		t.Fatal(err)
	}
	f.ran = nil
	touch(t, f.Root, InstalledBinary, 0o755)
	touch(t, f.Root, "/usr/local/bin/poolctl.prev", 0o755)
	touch(t, f.Root, DefaultDataDir+"/agent.json", 0o600)
	touch(t, f.Root, LogFile, 0o644)
	if got := f.Find(); len(got) != 1 || got[0] != (Installed{Init: SysV, Path: InitScript, Bin: InstalledBinary, DataDir: DefaultDataDir}) {
		t.Fatalf("Find: %+v", got)
	}

	f.out.Reset()
	if err := f.Uninstall(ctx, UninstallOptions{Purge: true, Exe: "/somewhere/else/poolctl"}); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t, "/etc/init.d/poolctl-agent stop", "/usr/sbin/update-rc.d -f poolctl-agent remove")
	want := `ran: /etc/init.d/poolctl-agent stop
ran: /usr/sbin/update-rc.d -f poolctl-agent remove
removed /etc/init.d/poolctl-agent
removed /var/lib/poolctl-agent (the agent's credential and state)
removed /var/log/poolctl-agent.log
removed /usr/local/bin/poolctl
removed /usr/local/bin/poolctl.prev
`
	if f.out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", f.out.String(), want)
	}
	for _, p := range []string{InitScript, InstalledBinary, DefaultDataDir, LogFile} {
		if f.exists(p) {
			t.Errorf("%s is still there", p)
		}
	}

	// Twice is fine.
	f.out.Reset()
	if err := f.Uninstall(ctx, UninstallOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t)
	if !strings.Contains(f.out.String(), "poolctl-agent is not installed") {
		t.Errorf("second uninstall says:\n%s", f.out.String())
	}
}

func TestUninstallSystemd(t *testing.T) {
	ctx := context.Background()
	f := newFakeHost(t, "/usr/bin/systemctl")
	if err := os.MkdirAll(filepath.Join(f.Root, "/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Install(ctx, Service{Init: Systemd, Bin: "/usr/bin/poolctl", DataDir: "/etc/poolctl-agent"}); err != nil {
		t.Fatal(err)
	}
	f.ran = nil
	touch(t, f.Root, "/usr/bin/poolctl", 0o755)
	touch(t, f.Root, "/etc/poolctl-agent/agent.json", 0o600)
	f.out.Reset()
	if err := f.Uninstall(ctx, UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	f.checkRan(t, "/usr/bin/systemctl disable --now poolctl-agent", "/usr/bin/systemctl daemon-reload")
	if f.exists(SystemdUnit) || !f.exists("/etc/poolctl-agent/agent.json") {
		t.Errorf("after uninstall without --purge: unit there %v, agent.json there %v", f.exists(SystemdUnit), f.exists("/etc/poolctl-agent/agent.json"))
	}

	// A stop that fails stops the uninstall, with the file left to retry.
	if err := f.Install(ctx, service(Systemd)); err != nil {
		t.Fatal(err)
	}
	f.fail["/usr/bin/systemctl disable"] = true
	if err := f.Uninstall(ctx, UninstallOptions{Purge: true}); err == nil || !f.exists(SystemdUnit) || !f.exists("/etc/poolctl-agent/agent.json") {
		t.Fatalf("failed stop: err %v, unit there %v", err, f.exists(SystemdUnit))
	}
}

func TestPurgeKeepsForeignDirectories(t *testing.T) {
	f := newFakeHost(t)
	touch(t, f.Root, "/srv/data/important", 0o644)
	touch(t, f.Root, "/usr/bin/poolctl", 0o755)
	if err := f.Uninstall(context.Background(), UninstallOptions{Purge: true, DataDir: "/srv/data", Exe: "/usr/bin/poolctl"}); err != nil {
		t.Fatal(err)
	}
	if !f.exists("/srv/data/important") || !f.exists("/usr/bin/poolctl") {
		t.Fatalf("purge removed what it did not install:\n%s", f.out.String())
	}
	if !strings.Contains(f.out.String(), "left /srv/data: it holds no agent.json") || !strings.Contains(f.out.String(), "left /usr/bin/poolctl") {
		t.Errorf("output:\n%s", f.out.String())
	}
	if err := f.Uninstall(context.Background(), UninstallOptions{Purge: true, DataDir: "/"}); err == nil {
		t.Error("purge of / accepted")
	}
}

// TestSysVScriptRuns starts, checks, restarts and stops a stand-in daemon
// with the rendered SysV scripts, pid file and log moved to a temporary
// directory.
func TestSysVScriptRuns(t *testing.T) {
	for _, ssd := range []bool{false, true} {
		name := "sh"
		if ssd {
			name = "start-stop-daemon"
			if _, err := exec.LookPath("start-stop-daemon"); err != nil {
				t.Log("no start-stop-daemon here: its script is checked by sh -n only")
				continue
			}
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			daemon := filepath.Join(dir, "poolctl")
			if err := os.WriteFile(daemon, []byte("#!/bin/sh\necho \"args: $*\"\nexec sleep 60\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := Service{Init: SysV, Bin: daemon, DataDir: DefaultDataDir, StartStopDaemon: ssd}
			f, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			script := strings.NewReplacer("PIDFILE="+PIDFile, "PIDFILE="+dir+"/pid", "LOG="+LogFile, "LOG="+dir+"/log").Replace(string(f.Data))
			path := filepath.Join(dir, "init")
			if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			run := func(verb string) (string, error) {
				cmd := exec.Command(path, verb)
				cmd.WaitDelay = 5 * time.Second
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			t.Cleanup(func() { _, _ = run("stop") })
			expect := func(verb, want string, ok bool) {
				t.Helper()
				out, err := run(verb)
				if (err == nil) != ok || !strings.Contains(out, want) {
					t.Fatalf("%s: %v %q, want %q (success %v)", verb, err, out, want, ok)
				}
			}
			expect("status", "poolctl-agent is not running", false)
			expect("start", "started poolctl-agent", true)
			expect("status", "poolctl-agent is running", true)
			expect("start", "already running", true)
			pid1, _ := os.ReadFile(filepath.Join(dir, "pid"))
			expect("restart", "started poolctl-agent", true)
			pid2, _ := os.ReadFile(filepath.Join(dir, "pid"))
			if bytes.Equal(pid1, pid2) {
				t.Errorf("restart kept pid %s", pid1)
			}
			expect("stop", "stopped poolctl-agent", true)
			expect("status", "not running", false)
			expect("stop", "not running", true)
			expect("frobnicate", "usage:", false)
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			if !strings.Contains(string(log), "args: agent --data /var/lib/poolctl-agent") {
				t.Errorf("daemon log: %q", log)
			}
		})
	}
}
