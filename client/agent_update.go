package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// DownloadAgentBinary copies the agent binary at path (an
// /api/v1/agent/releases/... path of this server, as an agent.update job
// names it) to w, reading at most max bytes. It returns the bytes copied.
func (c *Client) DownloadAgentBinary(ctx context.Context, path string, w io.Writer, max int64) (int64, error) {
	if !strings.HasPrefix(path, v1+"/agent/releases/") || strings.Contains(path, "..") {
		return 0, fmt.Errorf("download agent binary: %q is not an agent release path of this server", path)
	}
	resp, cancel, err := c.send(ctx, http.MethodGet, path, nil, nil, "application/octet-stream", 10*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("download agent binary %s: %w", path, err)
	}
	defer cancel()
	defer closeBody(resp)
	if resp.ContentLength > max {
		return 0, fmt.Errorf("download agent binary %s: the server announced %d bytes, more than %d", path, resp.ContentLength, max)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return n, fmt.Errorf("download agent binary %s: %w", path, err)
	}
	if n > max {
		return n, fmt.Errorf("download agent binary %s: longer than %d bytes", path, max)
	}
	return n, nil
}

// UpdateAgent queues an agent.update job for a member: its agent replaces
// itself with the binary the server offers for its platform.
func (c *Client) UpdateAgent(ctx context.Context, pool, member string, in api.AgentUpdate) (api.Job, error) {
	var out api.Job
	err := c.Do(ctx, http.MethodPost, memberPath(pool, member)+"/update-agent", nil, in, &out)
	return out, err
}

// UpdateAgents starts a rolling update of a pool's agents.
func (c *Client) UpdateAgents(ctx context.Context, pool string, in api.AgentUpdate) (api.Rollout, error) {
	var out api.Rollout
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/agent-rollout", nil, in, &out)
	return out, err
}

// AgentRollout returns a pool's latest rolling agent update.
func (c *Client) AgentRollout(ctx context.Context, pool string) (api.Rollout, error) {
	var out api.Rollout
	err := c.Do(ctx, http.MethodGet, v1+"/pools/"+esc(pool)+"/agent-rollout", nil, nil, &out)
	return out, err
}

// CancelAgentRollout stops a pool's rolling agent update after the member
// being updated (its job is not cancelled).
func (c *Client) CancelAgentRollout(ctx context.Context, pool string) (api.Rollout, error) {
	var out api.Rollout
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/agent-rollout/cancel", nil, nil, &out)
	return out, err
}
