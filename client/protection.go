package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/poolctl/poolctl/api"
)

// accountsTimeout bounds an account listing: the server may ask the
// member's agent and wait for its answer (about 20 s) before falling back
// to the accounts last discovered.
const accountsTimeout = 30 * time.Second

func protectionPath(pool, account string) string {
	return v1 + "/pools/" + esc(pool) + "/protections/" + esc(account)
}

func runPath(id int64) string { return v1 + "/runs/" + strconv.FormatInt(id, 10) }

// Accounts lists the hosting accounts on a member. With refresh the server
// asks the member's agent now; when the agent does not answer, the list is
// the one last discovered and Stale is set.
func (c *Client) Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error) {
	var out api.AccountList
	q := url.Values{}
	if refresh {
		q.Set("refresh", "true")
	}
	err := c.do(ctx, http.MethodGet, memberPath(pool, member)+"/accounts", q, nil, &out, accountsTimeout)
	return out, err
}

// CutDNS points an account's records at another member of its pool; with
// in.DryRun it only lists the changes.
func (c *Client) CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error) {
	var out api.DNSCutResult
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/accounts/"+esc(account)+"/cut-dns", nil, in, &out)
	return out, err
}

// ListProtections returns the protections of a pool, or of every pool when
// pool is "".
func (c *Client) ListProtections(ctx context.Context, pool string) ([]api.Protection, error) {
	var out api.List[api.Protection]
	q := url.Values{}
	if pool != "" {
		q.Set("pool", pool)
	}
	err := c.Do(ctx, http.MethodGet, v1+"/protections", q, nil, &out)
	return out.Items, err
}

// CreateProtection protects an account of a pool.
func (c *Client) CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/protections", nil, in, &out)
	return out, err
}

// GetProtection returns an account's protection.
func (c *Client) GetProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodGet, protectionPath(pool, account), nil, nil, &out)
	return out, err
}

// UpdateProtection changes the non-nil fields of a protection.
func (c *Client) UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodPatch, protectionPath(pool, account), nil, in, &out)
	return out, err
}

// PauseProtection stops a protection's scheduled runs (a run in progress
// goes on).
func (c *Client) PauseProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodPost, protectionPath(pool, account)+"/pause", nil, nil, &out)
	return out, err
}

// ResumeProtection resumes a paused protection at its schedule's next time.
func (c *Client) ResumeProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodPost, protectionPath(pool, account)+"/resume", nil, nil, &out)
	return out, err
}

// DeleteProtection stops protecting an account; the standby's copy is
// left in place.
func (c *Client) DeleteProtection(ctx context.Context, pool, account string) error {
	return c.Do(ctx, http.MethodDelete, protectionPath(pool, account), nil, nil, nil)
}

// RunProtection starts a replication run now (409 while one is queued or
// running, and while the account's DNS points away from its source).
func (c *Client) RunProtection(ctx context.Context, pool, account string) (api.Run, error) {
	var out api.Run
	err := c.Do(ctx, http.MethodPost, protectionPath(pool, account)+"/run", nil, nil, &out)
	return out, err
}

// ReverseProtection swaps a protection's source and standby once the
// account's DNS points at the standby (409 otherwise, or while a run is in
// progress): the member that serves the account becomes its source.
func (c *Client) ReverseProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	var out api.Protection
	err := c.Do(ctx, http.MethodPost, protectionPath(pool, account)+"/reverse", nil, nil, &out)
	return out, err
}

// ListRuns returns a protection's runs, newest first; limit 0 lets the
// server choose.
func (c *Client) ListRuns(ctx context.Context, pool, account string, limit int) ([]api.Run, error) {
	var out api.List[api.Run]
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.Do(ctx, http.MethodGet, protectionPath(pool, account)+"/runs", q, nil, &out)
	return out.Items, err
}

// GetRun returns one replication run.
func (c *Client) GetRun(ctx context.Context, id int64) (api.Run, error) {
	var out api.Run
	err := c.Do(ctx, http.MethodGet, runPath(id), nil, nil, &out)
	return out, err
}

// ConfirmRun lets a run that needs confirmation (status
// needs_confirmation: its snapshot went past the protection's guard)
// replace the standby's copy; 409 unless the run needs confirmation.
func (c *Client) ConfirmRun(ctx context.Context, id int64) (api.Run, error) {
	var out api.Run
	err := c.Do(ctx, http.MethodPost, runPath(id)+"/confirm", nil, nil, &out)
	return out, err
}

// RejectRun discards a run that needs confirmation: the standby keeps its
// copy; 409 unless the run needs confirmation.
func (c *Client) RejectRun(ctx context.Context, id int64) (api.Run, error) {
	var out api.Run
	err := c.Do(ctx, http.MethodPost, runPath(id)+"/reject", nil, nil, &out)
	return out, err
}

// RunLog returns a run's log lines with a sequence number above after; with
// wait > 0 the server holds the request until a line arrives or the run
// ends.
func (c *Client) RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	var out api.List[api.RunLogLine]
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	err := c.do(ctx, http.MethodGet, runPath(id)+"/log", q, nil, &out, wait)
	return out.Items, err
}
