package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	procs "github.com/poolctl/poolctl/bench/internal/proc"
	"github.com/poolctl/poolctl/client"
)

// proc is a started poolctl process; its output goes to a log file in the
// work directory.
type proc struct{ *procs.Proc }

func startProc(name, logPath string, env []string, argv ...string) (*proc, error) {
	p, err := procs.Start(name, logPath, env, argv...)
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

func (p *proc) exited() bool { return p.Exited() }

// stop sends SIGTERM (poolctl then writes its profile, if any) and SIGKILL
// after 15 s.
func (p *proc) stop() {
	if p != nil {
		p.Stop(15 * time.Second)
	}
}

// cpu returns the user+system CPU time the process has used so far, from
// /proc/PID/stat; 0 once it has exited.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14 and stime 15 (in clock ticks, 100 a second).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// cluster is a poolctl server with a pool "bench" of two members, src and
// stb, each a real agent process with its own accounts root.
type cluster struct {
	bin, dir string
	server   *proc
	agents   map[string]*proc // src, stb
	roots    map[string]string
	env      []string // POOLCTL_URL, POOLCTL_TOKEN, POOLCTL_CA for the CLI
	c        *client.Client
	objects  string // the server's object store directory
}

const pool = "bench"

// startCluster starts the server (TLS with its own CA, as in production),
// creates the pool, enrols both agents and waits until they are healthy.
// On error, what was started is stopped.
func startCluster(ctx context.Context, o options) (cl *cluster, err error) {
	cl = &cluster{bin: o.binary, dir: o.work, agents: map[string]*proc{}, roots: map[string]string{
		"src": filepath.Join(o.work, "src"), "stb": filepath.Join(o.work, "stb")}}
	defer func() {
		if err != nil {
			cl.stop()
			cl = nil
		}
	}()
	data := filepath.Join(o.work, "server")
	cl.objects = filepath.Join(data, "objects")
	args := []string{o.binary, "server", "--data", data, "--listen", "127.0.0.1:0"}
	if o.objects != "" {
		cl.objects = o.objects
		args = append(args, "--objects", o.objects)
	}
	var env []string
	if o.profile {
		env = append(env, "POOLCTL_CPUPROFILE="+filepath.Join(o.work, "server.cpu.pprof"))
	}
	if cl.server, err = startProc("server", filepath.Join(o.work, "server.log"), env, args...); err != nil {
		return cl, err
	}
	var url string
	if err := waitFor(ctx, 60*time.Second, "the server's URL", func() (bool, error) {
		if cl.server.exited() {
			return false, errors.New("the server exited; see server.log")
		}
		b, _ := os.ReadFile(filepath.Join(data, "server.url"))
		url = strings.TrimSpace(string(b))
		return url != "", nil
	}); err != nil {
		return cl, err
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return cl, err
	}
	caPath := filepath.Join(data, "ca.pem")
	ca, err := os.ReadFile(caPath)
	if err != nil {
		return cl, err
	}
	token := strings.TrimSpace(string(tok))
	cl.env = []string{"POOLCTL_URL=" + url, "POOLCTL_TOKEN=" + token, "POOLCTL_CA=" + caPath}
	if cl.c, err = client.New(url, client.Options{Token: token, CAPEM: ca}); err != nil {
		return cl, err
	}
	if _, err := cl.cli(ctx, "pool", "create", pool); err != nil {
		return cl, err
	}
	for _, m := range []string{"src", "stb"} {
		var added api.MemberAdded
		if err := cl.cliJSON(ctx, &added, "member", "add", pool, m, "--address", "127.0.0.1", "--allow-ip", "127.0.0.1"); err != nil {
			return cl, err
		}
		dir := filepath.Join(o.work, "agent-"+m)
		// The agent is enrolled without the CLI's environment: the secret
		// carries what it needs to trust the server.
		enrol := exec.CommandContext(ctx, o.binary, "agent", "enroll", "--server", url, "--secret", added.EnrollmentSecret, "--data", dir)
		if out, err := enrol.CombinedOutput(); err != nil {
			return cl, fmt.Errorf("agent enroll %s: %w: %s", m, err, out)
		}
		if err := os.MkdirAll(cl.roots[m], 0o755); err != nil {
			return cl, err
		}
		var env []string
		if o.profile {
			env = append(env, "POOLCTL_BENCH_CPUPROFILE="+filepath.Join(o.work, "agent-"+m+".cpu.pprof"))
		}
		// No --mariadb-dsn: this benchmark moves files only.
		if cl.agents[m], err = startProc("agent "+m, filepath.Join(o.work, "agent-"+m+".log"), env,
			o.binary, "agent", "--data", dir, "--accounts", "linux", "--accounts-root", cl.roots[m]); err != nil {
			return cl, err
		}
	}
	err = waitFor(ctx, 60*time.Second, "both members healthy", func() (bool, error) {
		for m, a := range cl.agents {
			if a.exited() {
				return false, fmt.Errorf("agent %s exited; see agent-%s.log", m, m)
			}
		}
		ms, err := cl.c.ListMembers(ctx, pool)
		if err != nil {
			return false, nil
		}
		healthy := 0
		for _, m := range ms {
			if m.Status == api.StatusHealthy {
				healthy++
			}
		}
		return healthy == 2, nil
	})
	return cl, err
}

// stop stops the agents, then the server.
func (cl *cluster) stop() {
	for _, a := range cl.agents {
		a.stop()
	}
	cl.server.stop()
}

// cpu returns the CPU time used so far by the server and each agent.
func (cl *cluster) cpu() map[string]time.Duration {
	out := map[string]time.Duration{"server": cl.server.cpu()}
	for m, a := range cl.agents {
		out["agent "+m] = a.cpu()
	}
	return out
}

// cli runs a short client command (bounded to a minute) and returns its
// stdout.
func (cl *cluster) cli(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.bin, args...)
	cmd.Env = append(os.Environ(), cl.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("poolctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (cl *cluster) cliJSON(ctx context.Context, v any, args ...string) error {
	out, err := cl.cli(ctx, append(args, "--output", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("poolctl %s: bad JSON: %w", strings.Join(args, " "), err)
	}
	return nil
}

// waitFor polls cond every 100 ms until it holds, fails, or max passes.
func waitFor(ctx context.Context, max time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s waiting for %s", max, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
