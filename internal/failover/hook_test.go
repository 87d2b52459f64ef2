package failover

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHookCommand: after a cut the pool's hook command gets the JSON
// payload on stdin, and its result is recorded as an event.
func TestHookCommand(t *testing.T) {
	dir := t.TempDir()
	payloadFile := filepath.Join(dir, "payload.json")
	hook := script(t, `cat > '`+payloadFile+`'
echo "moved to the standby: $POOLCTL_TO $POOLCTL_ADDRESS; secret=$HOOK_TEST_SECRET"
exit 3
`)
	t.Setenv("HOOK_TEST_SECRET", "leaked")
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "", func(p *PoolState) { p.Hook = hook })
		e := w.engine()
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		runFor(t, e, 40*time.Second, func() bool { return w.active(p.ID) == "node2" })
		e.bg.Wait()

		raw, err := os.ReadFile(payloadFile)
		if err != nil {
			t.Fatalf("the hook did not write its stdin: %v", err)
		}
		var got hookPayload
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("hook stdin %q: %v", raw, err)
		}
		if got.Event != KindCut || got.Pool != "web" || got.From != "node1" || got.To != "node2" ||
			got.Address != "192.0.2.2" || got.Record != "www.example.test." || got.Reason == "" {
			t.Errorf("hook payload: got %+v, want a cut of web from node1 to node2 (192.0.2.2) with a reason", got)
		}
		ev := w.event(t, "web", KindHook)
		var res hookResult
		if err := json.Unmarshal(ev.Data, &res); err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == nil || *res.ExitCode != 3 || res.Output != "moved to the standby: node2 192.0.2.2; secret=\n" || res.Type != "command" ||
			res.Trigger != KindCut || !strings.Contains(res.Error, "exit status 3") {
			t.Errorf("hook result: got %s, want exit code 3, its output and the error", ev.Data)
		}
	})
}

// TestHookURL: a URL hook goes through the Hooks interface.
func TestHookURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		const url = "https://hooks.example.test/failover"
		p := webPool(w, "", func(p *PoolState) { p.Hook = url })
		e := w.engine()
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		runFor(t, e, 40*time.Second, func() bool { return w.active(p.ID) == "node2" })
		e.bg.Wait()
		if len(w.hookCalls) != 1 || !strings.HasPrefix(w.hookCalls[0], url+` {"event":"failover.cut","pool":"web"`) {
			t.Errorf("URL hook calls: got %q, want one POST of the cut's payload to %s", w.hookCalls, url)
		}
		ev := w.event(t, "web", KindHook)
		if !strings.Contains(ev.Message, "answered 204") {
			t.Errorf("hook event: got %q, want it to report status 204", ev.Message)
		}
	})
}

// TestHookURLEventHidesSecrets: the hook event shows a URL hook without
// its password or token, also when the call failed with an error that
// repeats the URL.
func TestHookURLEventHidesSecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		const hook = "https://ops:SENTINELpw@hooks.example.test/failover?token=SENTINELtok&team=web"
		w.hookErr = &url.Error{Op: "Post", URL: "https://ops@hooks.example.test/failover?token=SENTINELtok&team=web", Err: errors.New("connection refused")}
		p := webPool(w, "", func(p *PoolState) { p.Hook = hook })
		e := w.engine()
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		runFor(t, e, 40*time.Second, func() bool { return w.active(p.ID) == "node2" })
		e.bg.Wait()
		ev := w.event(t, "web", KindHook)
		all := ev.Message + " " + string(ev.Data)
		if strings.Contains(all, "SENTINEL") {
			t.Errorf("hook event shows a secret: %s", all)
		}
		for _, want := range []string{"hooks.example.test/failover", "team=web", "connection refused"} {
			if !strings.Contains(all, want) {
				t.Errorf("hook event lacks %q: %s", want, all)
			}
		}
	})
}

// TestRunCommand covers the limits of a hook command, in real time.
func TestRunCommand(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		timeout   time.Duration
		wantErr   string
		wantTrunc bool
		wantOut   int // output length
	}{
		{name: "timeout kills it", path: script(t, "exec sleep 30\n"), timeout: 300 * time.Millisecond, wantErr: "timed out"},
		{name: "long output is truncated", path: script(t, "head -c 10000 /dev/zero | tr '\\0' x\n"),
			timeout: 10 * time.Second, wantTrunc: true, wantOut: hookOutputLimit},
		{name: "relative path refused", path: "hook.sh", timeout: time.Second, wantErr: "absolute path"},
		{name: "missing command", path: "/nonexistent/hook", timeout: time.Second, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			start := time.Now()
			res := runCommand(ctx, tt.path, []byte(`{}`), nil)
			if d := time.Since(start); d > tt.timeout+3*time.Second {
				t.Errorf("runCommand took %s, want about its %s timeout at most", d, tt.timeout)
			}
			if tt.wantErr == "" && res.Error != "" || !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("error: got %q, want %q", res.Error, tt.wantErr)
			}
			if res.Truncated != tt.wantTrunc || len(res.Output) != tt.wantOut {
				t.Errorf("output: got %d bytes (truncated %v), want %d (truncated %v)",
					len(res.Output), res.Truncated, tt.wantOut, tt.wantTrunc)
			}
		})
	}
}

// cutter records the accounts cuts the engine asks for.
type cutter struct{ calls []string }

func (c *cutter) CutAccounts(_ context.Context, pool, from string) (any, error) {
	c.calls = append(c.calls, pool+"/"+from)
	return map[string][]string{"cut": {"alice"}, "unprotected": {"bob"}}, nil
}

// TestCutMovesAccounts: a cut asks account protection to move the failed
// member's accounts, and the hook and the cut's event carry its answer.
func TestCutMovesAccounts(t *testing.T) {
	dir := t.TempDir()
	payloadFile := filepath.Join(dir, "payload.json")
	hook := script(t, `cat > '`+payloadFile+`'`)
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "", func(p *PoolState) { p.Hook = hook })
		c := &cutter{}
		e := w.engine(func(cfg *Config) { cfg.Accounts = c })
		activate(t, w, e, p)
		if len(c.calls) != 0 {
			t.Fatalf("activation cut accounts: %v", c.calls)
		}
		w.kill(p.ID, "node1")
		runFor(t, e, 40*time.Second, func() bool { return w.active(p.ID) == "node2" })
		e.bg.Wait()
		if strings.Join(c.calls, ",") != "web/node1" {
			t.Errorf("account cuts: %v, want web/node1", c.calls)
		}
		raw, err := os.ReadFile(payloadFile)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Accounts map[string][]string `json:"accounts"`
		}
		if err := json.Unmarshal(raw, &got); err != nil || strings.Join(got.Accounts["cut"], ",") != "alice" || strings.Join(got.Accounts["unprotected"], ",") != "bob" {
			t.Errorf("hook payload accounts: %s (%v)", raw, err)
		}
		ev := w.event(t, "web", KindCut)
		if !strings.Contains(string(ev.Data), `"unprotected":["bob"]`) {
			t.Errorf("cut event data %s lacks the accounts", ev.Data)
		}
	})
}
