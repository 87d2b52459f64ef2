package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Linked nodes: profiles, links and distribution runs.

// SetProfile sets a member's profile (standard, mail, dns, database).
func (c *Client) SetProfile(ctx context.Context, pool, member, profile string) (api.Member, error) {
	var out api.Member
	err := c.Do(ctx, http.MethodPut, v1+"/pools/"+esc(pool)+"/members/"+esc(member)+"/profile", nil, api.ProfileSet{Profile: profile}, &out)
	return out, err
}

// ListLinks lists the linked nodes of a pool ("" for every pool).
func (c *Client) ListLinks(ctx context.Context, pool string) ([]api.Link, error) {
	var out api.List[api.Link]
	var q url.Values
	if pool != "" {
		q = url.Values{"pool": {pool}}
	}
	err := c.Do(ctx, http.MethodGet, v1+"/links", q, nil, &out)
	return out.Items, err
}

// AddLink links a child to a parent for a function (mail).
func (c *Client) AddLink(ctx context.Context, pool string, in api.LinkCreate) (api.Link, error) {
	var out api.Link
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/links", nil, in, &out)
	return out, err
}

// RemoveLink removes a child's link.
func (c *Client) RemoveLink(ctx context.Context, pool, child string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/pools/"+esc(pool)+"/links/"+esc(child), nil, nil, nil)
}

// LinkAccounts lists the accounts distributed to a child.
func (c *Client) LinkAccounts(ctx context.Context, pool, child string) ([]api.DistributedAccount, error) {
	var out api.List[api.DistributedAccount]
	err := c.Do(ctx, http.MethodGet, v1+"/pools/"+esc(pool)+"/links/"+esc(child)+"/accounts", nil, nil, &out)
	return out.Items, err
}

func accountPath(pool, member, account string) string {
	return v1 + "/pools/" + esc(pool) + "/members/" + esc(member) + "/accounts/" + esc(account)
}

// Distribute starts moving an account's mail from its member to a child.
func (c *Client) Distribute(ctx context.Context, pool, member, account string, in api.Distribute) (api.DistributionRun, error) {
	var out api.DistributionRun
	err := c.Do(ctx, http.MethodPost, accountPath(pool, member, account)+"/distribute", nil, in, &out)
	return out, err
}

// Dedistribute starts moving an account's mail back to its member.
func (c *Client) Dedistribute(ctx context.Context, pool, member, account string, in api.Dedistribute) (api.DistributionRun, error) {
	var out api.DistributionRun
	err := c.Do(ctx, http.MethodPost, accountPath(pool, member, account)+"/dedistribute", nil, in, &out)
	return out, err
}

// DistributionRuns lists runs, newest first (pool and account may be "").
func (c *Client) DistributionRuns(ctx context.Context, pool, account string, limit int) ([]api.DistributionRun, error) {
	var out api.List[api.DistributionRun]
	q := url.Values{}
	if pool != "" {
		q.Set("pool", pool)
	}
	if account != "" {
		q.Set("account", account)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.Do(ctx, http.MethodGet, v1+"/distribution-runs", q, nil, &out)
	return out.Items, err
}

// DistributionRun shows one run.
func (c *Client) DistributionRun(ctx context.Context, id int64) (api.DistributionRun, error) {
	var out api.DistributionRun
	err := c.Do(ctx, http.MethodGet, v1+"/distribution-runs/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// DistributionLog reads a run's log after seq, waiting up to wait for lines.
func (c *Client) DistributionLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	var out api.List[api.RunLogLine]
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	err := c.do(ctx, http.MethodGet, v1+"/distribution-runs/"+strconv.FormatInt(id, 10)+"/log", q, nil, &out, wait)
	return out.Items, err
}
