package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/redact"
)

// hookOutputLimit bounds the output of a hook kept in its event.
const hookOutputLimit = 4096

// hookPayload is the JSON a post-failover hook receives: on stdin for a
// command, as the POST body for a URL.
type hookPayload struct {
	Event   string    `json:"event"` // KindCut, KindFailback or KindManual
	Pool    string    `json:"pool"`
	Record  string    `json:"record,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to"`
	Address string    `json:"address,omitempty"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
	// Accounts is what account protection did for the failed member's
	// accounts (cut, unprotected, failed), on a cut.
	Accounts any `json:"accounts,omitempty"`
}

// hookResult is the Data of a KindHook event.
type hookResult struct {
	Hook       string `json:"hook"`
	Type       string `json:"type"`    // "command" or "url"
	Trigger    string `json:"trigger"` // the event that ran it
	ExitCode   *int   `json:"exit_code,omitempty"`
	Status     int    `json:"status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
	Output     string `json:"output,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
}

// isURLHook reports whether hook is an http(s) URL rather than a command.
func isURLHook(hook string) bool {
	h := strings.ToLower(hook)
	return strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://")
}

// startHook runs p's hook in the background and records its result as a
// KindHook event. It never blocks the caller; the hook gets
// Config.HookTimeout and outlives ctx's cancellation.
func (e *Engine) startHook(ctx context.Context, p PoolState, payload hookPayload) {
	ctx = context.WithoutCancel(ctx)
	e.bg.Go(func() {
		hctx, cancel := context.WithTimeout(ctx, e.cfg.HookTimeout)
		defer cancel()
		start := e.cfg.Now()
		res := e.runHook(hctx, p.Hook, payload)
		res.Trigger = payload.Event
		res.DurationMS = e.cfg.Now().Sub(start).Milliseconds()
		msg := fmt.Sprintf("hook %s for pool %s (%s to %s) ", res.Hook, p.Name, payload.Event, payload.To)
		switch {
		case res.Error != "":
			msg += "failed: " + res.Error
		case res.Type == "url":
			msg += fmt.Sprintf("answered %d", res.Status)
		default:
			msg += "exited 0"
		}
		e.emit(ctx, KindHook, p.Name, payload.To, msg+fmt.Sprintf(" after %dms", res.DurationMS), res)
	})
}

// runHook runs one hook with payload.
func (e *Engine) runHook(ctx context.Context, hook string, p hookPayload) hookResult {
	payload, _ := json.Marshal(p) // strings and a time always marshal
	if isURLHook(hook) {
		// The event shows the URL without its password or secret query
		// values: events are read by every dashboard user.
		res := hookResult{Hook: redact.URL(hook), Type: "url"}
		if e.cfg.Hooks == nil {
			res.Error = "URL hooks are not available on this server"
			return res
		}
		status, body, err := e.cfg.Hooks.CallURL(ctx, hook, payload)
		res.Status = status
		res.Output, res.Truncated = limit(body)
		switch {
		case err != nil:
			res.Error = hookError(err)
		case status < 200 || status > 299:
			res.Error = fmt.Sprintf("status %d", status)
		}
		return res
	}
	return runCommand(ctx, hook, payload, hookEnv(p))
}

// hookError is err's text without the hook URL's secrets: a *url.Error
// repeats the URL, query string and all.
func hookError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %v", ue.Op, redact.URL(ue.URL), ue.Err)
	}
	return err.Error()
}

// hookEnv is a hook command's whole environment: the server's PATH and the
// payload's main fields, but nothing else of the server's (it may hold
// credentials).
func hookEnv(p hookPayload) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{
		"PATH=" + path,
		"POOLCTL_EVENT=" + p.Event,
		"POOLCTL_POOL=" + p.Pool,
		"POOLCTL_RECORD=" + p.Record,
		"POOLCTL_FROM=" + p.From,
		"POOLCTL_TO=" + p.To,
		"POOLCTL_ADDRESS=" + p.Address,
	}
}

// runCommand executes path (no shell, no arguments) in environment env with
// payload on stdin, and keeps the start of its combined output.
func runCommand(ctx context.Context, path string, payload []byte, env []string) hookResult {
	res := hookResult{Hook: path, Type: "command"}
	if !filepath.IsAbs(path) {
		res.Error = "a hook command must be an absolute path"
		return res
	}
	var out capped
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second // do not wait for children holding the output open
	err := cmd.Run()
	if cmd.ProcessState != nil {
		code := cmd.ProcessState.ExitCode()
		res.ExitCode = &code
	}
	res.Output, res.Truncated = limit(out.String())
	if out.dropped {
		res.Truncated = true
	}
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Error = "timed out: " + err.Error()
	default:
		res.Error = err.Error()
	}
	return res
}

// capped keeps the first hookOutputLimit bytes written to it and discards
// the rest without failing the writer.
type capped struct {
	buf     bytes.Buffer
	dropped bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := hookOutputLimit - c.buf.Len()
	if len(p) > room {
		c.dropped = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

// limit cuts s to hookOutputLimit bytes.
func limit(s string) (string, bool) {
	if len(s) <= hookOutputLimit {
		return s, false
	}
	return strings.ToValidUTF8(s[:hookOutputLimit], ""), true
}
