package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Enroll exchanges a one-time enrolment secret for the agent's credential.
// The client must have been built with the fingerprint the secret carries.
func (c *Client) Enroll(ctx context.Context, in api.EnrollRequest) (api.EnrollResponse, error) {
	var out api.EnrollResponse
	err := c.Do(ctx, http.MethodPost, v1+"/agent/enroll", nil, in, &out)
	return out, err
}

// Heartbeat reports the agent's state. A 410 answer means the member was
// removed and the agent should stop.
func (c *Client) Heartbeat(ctx context.Context, hb api.Heartbeat) (api.HeartbeatReply, error) {
	var out api.HeartbeatReply
	err := c.Do(ctx, http.MethodPost, v1+"/agent/heartbeat", nil, hb, &out)
	return out, err
}

// NextJob long-polls for the next job for this agent's member. It returns
// nil, nil when none arrived within wait.
func (c *Client) NextJob(ctx context.Context, wait time.Duration) (*api.Job, error) {
	var out api.Job
	q := url.Values{"wait": {wait.String()}}
	err := c.do(ctx, http.MethodGet, v1+"/agent/jobs/next", q, nil, &out, wait)
	if err != nil || out.ID == 0 {
		return nil, err
	}
	return &out, nil
}

// AppendJobLog streams log lines of a running job; it also renews its lease.
func (c *Client) AppendJobLog(ctx context.Context, id int64, lines []string) error {
	return c.Do(ctx, http.MethodPost, v1+"/agent/jobs/"+strconv.FormatInt(id, 10)+"/log", nil, api.JobLogAppend{Lines: lines}, nil)
}

// FinishJob reports a job's result.
func (c *Client) FinishJob(ctx context.Context, id int64, res api.JobResult) error {
	return c.Do(ctx, http.MethodPost, v1+"/agent/jobs/"+strconv.FormatInt(id, 10)+"/result", nil, res, nil)
}
