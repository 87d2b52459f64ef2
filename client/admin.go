package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/poolctl/poolctl/api"
)

const v1 = "/api/v1"

// ListPools returns every pool.
func (c *Client) ListPools(ctx context.Context) ([]api.Pool, error) {
	var out api.List[api.Pool]
	err := c.Do(ctx, http.MethodGet, v1+"/pools", nil, nil, &out)
	return out.Items, err
}

// CreatePool creates a pool.
func (c *Client) CreatePool(ctx context.Context, in api.PoolCreate) (api.Pool, error) {
	var out api.Pool
	err := c.Do(ctx, http.MethodPost, v1+"/pools", nil, in, &out)
	return out, err
}

// GetPool returns one pool.
func (c *Client) GetPool(ctx context.Context, pool string) (api.Pool, error) {
	var out api.Pool
	err := c.Do(ctx, http.MethodGet, v1+"/pools/"+esc(pool), nil, nil, &out)
	return out, err
}

// UpdatePool changes the non-nil fields of a pool.
func (c *Client) UpdatePool(ctx context.Context, pool string, in api.PoolUpdate) (api.Pool, error) {
	var out api.Pool
	err := c.Do(ctx, http.MethodPatch, v1+"/pools/"+esc(pool), nil, in, &out)
	return out, err
}

// DeletePool deletes a pool. A pool with members is refused (409) unless
// force is set; the answer lists the members removed.
func (c *Client) DeletePool(ctx context.Context, pool string, force bool) (api.PoolDeleteResult, error) {
	var out api.PoolDeleteResult
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	err := c.Do(ctx, http.MethodDelete, v1+"/pools/"+esc(pool), q, nil, &out)
	return out, err
}

// AckBanner acknowledges a pool's failover banner.
func (c *Client) AckBanner(ctx context.Context, pool string) (api.Pool, error) {
	var out api.Pool
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/banner/ack", nil, nil, &out)
	return out, err
}

func memberPath(pool, member string) string {
	return v1 + "/pools/" + esc(pool) + "/members/" + esc(member)
}

// ListMembers returns the members of a pool.
func (c *Client) ListMembers(ctx context.Context, pool string) ([]api.Member, error) {
	var out api.List[api.Member]
	err := c.Do(ctx, http.MethodGet, v1+"/pools/"+esc(pool)+"/members", nil, nil, &out)
	return out.Items, err
}

// AddMember adds a member and returns its one-time enrolment secret.
func (c *Client) AddMember(ctx context.Context, pool string, in api.MemberCreate) (api.MemberAdded, error) {
	var out api.MemberAdded
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/members", nil, in, &out)
	return out, err
}

// GetMember returns one member.
func (c *Client) GetMember(ctx context.Context, pool, member string) (api.Member, error) {
	var out api.Member
	err := c.Do(ctx, http.MethodGet, memberPath(pool, member), nil, nil, &out)
	return out, err
}

// UpdateMember changes the non-nil fields of a member.
func (c *Client) UpdateMember(ctx context.Context, pool, member string, in api.MemberUpdate) (api.Member, error) {
	var out api.Member
	err := c.Do(ctx, http.MethodPatch, memberPath(pool, member), nil, in, &out)
	return out, err
}

// RemoveMember removes a member; its agent is told to stop (410). A member
// that is the pool's active member or in a protection needs force.
func (c *Client) RemoveMember(ctx context.Context, pool, member string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	return c.Do(ctx, http.MethodDelete, memberPath(pool, member), q, nil, nil)
}

// NewEnrollmentSecret replaces a member's enrolment secret (the old one stops working).
func (c *Client) NewEnrollmentSecret(ctx context.Context, pool, member string, ttl time.Duration) (api.MemberAdded, error) {
	var out api.MemberAdded
	err := c.Do(ctx, http.MethodPost, memberPath(pool, member)+"/enrollment-secret", nil, api.SecretCreate{TTL: api.Duration(ttl)}, &out)
	return out, err
}

// MakeActive points the pool's failover record at member.
func (c *Client) MakeActive(ctx context.Context, pool, member string, force bool) (api.Pool, error) {
	var out api.Pool
	err := c.Do(ctx, http.MethodPost, memberPath(pool, member)+"/make-active", nil, api.MakeActive{Force: force}, &out)
	return out, err
}

// CreateJob queues a job for a member.
func (c *Client) CreateJob(ctx context.Context, pool, member string, in api.JobCreate) (api.Job, error) {
	var out api.Job
	err := c.Do(ctx, http.MethodPost, memberPath(pool, member)+"/jobs", nil, in, &out)
	return out, err
}

// ListJobs returns a member's jobs, newest first.
func (c *Client) ListJobs(ctx context.Context, pool, member string) ([]api.Job, error) {
	var out api.List[api.Job]
	err := c.Do(ctx, http.MethodGet, memberPath(pool, member)+"/jobs", nil, nil, &out)
	return out.Items, err
}

// GetJob returns one job.
func (c *Client) GetJob(ctx context.Context, id int64) (api.Job, error) {
	var out api.Job
	err := c.Do(ctx, http.MethodGet, v1+"/jobs/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// CancelJob cancels a queued or running job.
func (c *Client) CancelJob(ctx context.Context, id int64) (api.Job, error) {
	var out api.Job
	err := c.Do(ctx, http.MethodPost, v1+"/jobs/"+strconv.FormatInt(id, 10)+"/cancel", nil, nil, &out)
	return out, err
}

// JobLog returns log lines with a sequence number above after; with wait > 0
// the server holds the request until a line arrives or the job ends.
func (c *Client) JobLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.JobLogLine, error) {
	var out api.List[api.JobLogLine]
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	err := c.do(ctx, http.MethodGet, v1+"/jobs/"+strconv.FormatInt(id, 10)+"/log", q, nil, &out, wait)
	return out.Items, err
}

// EventQuery filters events. Zero fields do not filter.
type EventQuery struct {
	Pool, Member, Kind string
	Since              time.Time
	After              int64 // only events with a larger ID
	Limit              int
	Wait               time.Duration // long-poll for new events
}

// Events returns events matching q, oldest first.
func (c *Client) Events(ctx context.Context, q EventQuery) ([]api.Event, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("pool", q.Pool)
	set("member", q.Member)
	set("kind", q.Kind)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Wait > 0 {
		v.Set("wait", q.Wait.String())
	}
	var out api.List[api.Event]
	err := c.do(ctx, http.MethodGet, v1+"/events", v, nil, &out, q.Wait)
	return out.Items, err
}

// ListTokens returns the admin API tokens (never their secrets).
func (c *Client) ListTokens(ctx context.Context) ([]api.Token, error) {
	var out api.List[api.Token]
	err := c.Do(ctx, http.MethodGet, v1+"/tokens", nil, nil, &out)
	return out.Items, err
}

// CreateToken creates an admin API token; the secret is shown only once.
func (c *Client) CreateToken(ctx context.Context, in api.TokenCreate) (api.TokenCreated, error) {
	var out api.TokenCreated
	err := c.Do(ctx, http.MethodPost, v1+"/tokens", nil, in, &out)
	return out, err
}

// RevokeToken revokes a token by ID.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.Do(ctx, http.MethodDelete, v1+"/tokens/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// ListZones returns the zones the server serves.
func (c *Client) ListZones(ctx context.Context) ([]api.Zone, error) {
	var out api.List[api.Zone]
	err := c.Do(ctx, http.MethodGet, v1+"/zones", nil, nil, &out)
	return out.Items, err
}

// CreateZone creates a zone with its SOA and NS records.
func (c *Client) CreateZone(ctx context.Context, in api.ZoneCreate) (api.Zone, error) {
	var out api.Zone
	err := c.Do(ctx, http.MethodPost, v1+"/zones", nil, in, &out)
	return out, err
}

// GetZone returns one zone.
func (c *Client) GetZone(ctx context.Context, zone string) (api.Zone, error) {
	var out api.Zone
	err := c.Do(ctx, http.MethodGet, v1+"/zones/"+esc(zone), nil, nil, &out)
	return out, err
}

// DeleteZone deletes a zone and its records.
func (c *Client) DeleteZone(ctx context.Context, zone string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/zones/"+esc(zone), nil, nil, nil)
}

// ListRecords returns a zone's records.
func (c *Client) ListRecords(ctx context.Context, zone string) ([]api.Record, error) {
	var out api.List[api.Record]
	err := c.Do(ctx, http.MethodGet, v1+"/zones/"+esc(zone)+"/records", nil, nil, &out)
	return out.Items, err
}

// AddRecord adds a record to a zone.
func (c *Client) AddRecord(ctx context.Context, zone string, in api.RecordCreate) (api.Record, error) {
	var out api.Record
	err := c.Do(ctx, http.MethodPost, v1+"/zones/"+esc(zone)+"/records", nil, in, &out)
	return out, err
}

// DeleteRecord deletes a record by ID.
func (c *Client) DeleteRecord(ctx context.Context, zone string, id int64) error {
	return c.Do(ctx, http.MethodDelete, v1+"/zones/"+esc(zone)+"/records/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// ImportZone loads RFC 1035 zone-file text into a zone.
func (c *Client) ImportZone(ctx context.Context, zone string, in api.ZoneImport) (api.ZoneImportResult, error) {
	var out api.ZoneImportResult
	err := c.Do(ctx, http.MethodPost, v1+"/zones/"+esc(zone)+"/import", nil, in, &out)
	return out, err
}

// ExportZone returns the zone as RFC 1035 zone-file text.
func (c *Client) ExportZone(ctx context.Context, zone string) (string, error) {
	var out struct {
		Text string `json:"text"`
	}
	err := c.Do(ctx, http.MethodGet, v1+"/zones/"+esc(zone)+"/export", nil, nil, &out)
	return out.Text, err
}
