// Package cloudflare publishes records to Cloudflare DNS through its API
// v4 (https://developers.cloudflare.com/api/) with a scoped API token sent
// as a Bearer token: zones (listed page by page), their dns_records
// (listed page by page, created, overwritten with PUT, changed with PATCH,
// deleted) and the batch endpoint POST /zones/{id}/dns_records/batch,
// which Cloudflare runs as one database transaction in the order deletes,
// patches, puts, posts, up to 200 records per batch on the Free plan and
// 3,500 on paid plans. Client is also a dnsprovider.Provider
// (provider.go): each call is one batch when it fits.
//
// The client keeps under Cloudflare's global limit of 1,200 requests per
// 5 minutes per user with a token bucket of its own, and honours a 429's
// Retry-After when it is not longer than Config.MaxRetryWait. Errors are
// of an apperr kind with Cloudflare's codes and messages: Unauthorized
// (9109 invalid token, 10000 authentication error), Forbidden (a token
// without the permission), Invalid (record validation: 81053, 81054,
// 81058, 9004, 1004, …), NotFound (7003, 81044, an unknown zone),
// TooManyRequests, Unavailable (5xx, timeouts, malformed answers).
package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// DefaultBaseURL is Cloudflare's API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Cloudflare's documented limits.
const (
	RateLimit       = 1200            // requests per RateWindow per user
	RateWindow      = 5 * time.Minute //
	FreeBatchLimit  = 200             // records per batch, Free plan
	PaidBatchLimit  = 3500            // records per batch, Pro, Business, Enterprise
	MaxRecordsPage  = 5000000         // dns_records per_page maximum
	MaxZonesPage    = 50              // zones per_page maximum
	DefaultPageSize = 5000            // dns_records asked for per page
)

// Config configures a Client.
type Config struct {
	// Token is a scoped API token (Zone:Read and DNS:Edit for the zones
	// poolctl manages). Required; never logged or shown in errors.
	Token string
	// BaseURL is the API's address (DefaultBaseURL).
	BaseURL string
	// BatchLimit caps the records of one batch; 0 takes it from the
	// zone's plan (200 on Free, 3,500 on paid plans).
	BatchLimit int
	// PageSize is how many dns_records one list request asks for
	// (DefaultPageSize, at most MaxRecordsPage).
	PageSize int
	// RateLimit and RateWindow are the request budget (1,200 per 5
	// minutes); Burst is how many may go at once (1).
	RateLimit  int
	RateWindow time.Duration
	Burst      int
	// MaxRetryWait bounds a 429's Retry-After that the client waits out
	// before sending again (RateWindow); a longer one is an error.
	MaxRetryWait time.Duration
	// Proxied names the records (absolute names, "www.example.com.")
	// created proxied through Cloudflare; A, AAAA and CNAME only. A
	// record changed keeps its proxied flag.
	Proxied []string
	// Timeout bounds one request (30 s).
	Timeout time.Duration
	// Clock paces the client (the wall clock).
	Clock Clock
	// HTTPClient sends the requests (one with Timeout).
	HTTPClient *http.Client
}

// Client talks to Cloudflare's API with one token.
type Client struct {
	base     string
	token    string
	batch    int
	page     int
	maxWait  time.Duration
	proxied  map[string]bool
	clock    Clock
	hc       *http.Client
	limit    *bucket
	mu       sync.Mutex
	zoneIDs  map[string]Zone // by canonical name
	requests int
}

// New checks c and returns its client. Errors are of kind apperr.Invalid
// and never hold the token.
func New(c Config) (*Client, error) {
	if strings.TrimSpace(c.Token) == "" {
		return nil, apperr.New(apperr.Invalid, "Cloudflare: the API token is required (a scoped token with Zone:Read and DNS:Edit)")
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return nil, apperr.New(apperr.Invalid, "Cloudflare: the API token holds white space")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, apperr.New(apperr.Invalid, "Cloudflare API URL %q: want https://HOST/client/v4", c.BaseURL)
	}
	if c.BatchLimit < 0 || c.BatchLimit > PaidBatchLimit {
		return nil, apperr.New(apperr.Invalid, "Cloudflare: a batch holds at most %d records (Free plan: %d), not %d", PaidBatchLimit, FreeBatchLimit, c.BatchLimit)
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.PageSize < 1 || c.PageSize > MaxRecordsPage {
		return nil, apperr.New(apperr.Invalid, "Cloudflare: page size %d is outside 1–%d", c.PageSize, MaxRecordsPage)
	}
	if c.RateLimit == 0 {
		c.RateLimit = RateLimit
	}
	if c.RateWindow == 0 {
		c.RateWindow = RateWindow
	}
	if c.Burst == 0 {
		c.Burst = 1
	}
	if c.RateLimit < 2 || c.RateWindow <= 0 || c.Burst < 1 || c.Burst >= c.RateLimit {
		return nil, apperr.New(apperr.Invalid, "Cloudflare: rate limit %d per %s with burst %d: want a limit of at least 2, a positive window and 1 ≤ burst < limit", c.RateLimit, c.RateWindow, c.Burst)
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = c.RateWindow
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	cl := &Client{base: strings.TrimRight(c.BaseURL, "/"), token: c.Token, batch: c.BatchLimit, page: c.PageSize,
		maxWait: c.MaxRetryWait, proxied: map[string]bool{}, clock: c.Clock, hc: c.HTTPClient,
		limit: newBucket(c.Clock, c.RateLimit, c.Burst, c.RateWindow), zoneIDs: map[string]Zone{}}
	for _, n := range c.Proxied {
		cl.proxied[strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))+"."] = true
	}
	return cl, nil
}

// Requests is how many requests the client has sent.
func (c *Client) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// APIError is one entry of Cloudflare's errors array.
type APIError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error is an answer of Cloudflare other than a success.
type Error struct {
	Method string
	Path   string
	Status int
	Errors []APIError
	// RetryAfter is a 429's Retry-After.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var msgs []string
	for _, a := range e.Errors {
		msgs = append(msgs, fmt.Sprintf("%s (code %d)", a.Message, a.Code))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, http.StatusText(e.Status))
	}
	what := strings.Join(msgs, "; ")
	switch e.Kind() {
	case apperr.Unauthorized:
		return fmt.Sprintf("Cloudflare refused the API token: %s (HTTP %d on %s %s)", what, e.Status, e.Method, e.Path)
	case apperr.Forbidden:
		return fmt.Sprintf("Cloudflare: the API token may not do this (it needs Zone:Read and DNS:Edit on the zone): %s (HTTP %d on %s %s)", what, e.Status, e.Method, e.Path)
	case apperr.TooManyRequests:
		return fmt.Sprintf("Cloudflare's rate limit: %s, retry after %s (HTTP 429 on %s %s)", what, e.RetryAfter, e.Method, e.Path)
	}
	return fmt.Sprintf("Cloudflare: %s (HTTP %d on %s %s)", what, e.Status, e.Method, e.Path)
}

func (e *Error) has(codes ...int) bool {
	for _, a := range e.Errors {
		for _, c := range codes {
			if a.Code == c {
				return true
			}
		}
	}
	return false
}

// Kind is the apperr kind of the answer.
func (e *Error) Kind() *apperr.Kind {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return apperr.TooManyRequests
	case e.Status == http.StatusUnauthorized || e.has(9109, 6111, 6003):
		return apperr.Unauthorized
	case e.Status == http.StatusForbidden:
		if e.has(10000) && !e.has(9109) {
			return apperr.Forbidden
		}
		return apperr.Unauthorized
	case e.Status == http.StatusNotFound || e.has(7003, 7000, 81044):
		return apperr.NotFound
	case e.Status >= 500:
		return apperr.Unavailable
	case e.Status >= 400 || e.Status == http.StatusOK:
		return apperr.Invalid
	}
	return apperr.Unavailable
}

// Is makes errors.Is(err, apperr.Invalid) and the like work.
func (e *Error) Is(target error) bool { return target == e.Kind() }

// envelope is every answer's shape.
type envelope struct {
	Success    *bool           `json:"success"`
	Errors     []APIError      `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *ResultInfo     `json:"result_info"`
}

// ResultInfo is a list answer's page.
type ResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// maxBody bounds an answer read.
const maxBody = 256 << 20

// maxRetries bounds the 429s waited out for one request.
const maxRetries = 3

// do sends one request, paced by the bucket, waiting out a 429 within
// bounds; out takes the result.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (*ResultInfo, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		info, err := c.once(ctx, method, path, body, out)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
			return info, err
		}
		if attempt >= maxRetries || e.RetryAfter > c.maxWait || e.RetryAfter <= 0 {
			return nil, err
		}
		until := c.clock.Now().Add(e.RetryAfter)
		c.limit.drain(until)
		if err := c.clock.Sleep(ctx, e.RetryAfter); err != nil {
			return nil, err
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (*ResultInfo, error) {
	if err := c.limit.wait(ctx); err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("request to Cloudflare %s %s: %w", method, path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, apperr.Wrap(apperr.Unavailable, err, "Cloudflare: %s %s", method, path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "Cloudflare: reading the answer to %s %s", method, path)
	}
	if len(raw) > maxBody {
		return nil, apperr.New(apperr.TooLarge, "Cloudflare: the answer to %s %s is larger than %d bytes", method, path, maxBody)
	}
	var env envelope
	jerr := json.Unmarshal(raw, &env)
	if resp.StatusCode == http.StatusTooManyRequests {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode, Errors: env.Errors}
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return nil, e
	}
	if jerr != nil || env.Success == nil {
		if resp.StatusCode >= 400 {
			return nil, &Error{Method: method, Path: path, Status: resp.StatusCode}
		}
		return nil, apperr.New(apperr.Unavailable, "Cloudflare answered %s %s with a malformed body (HTTP %d, %s): nothing was taken from it", method, path, resp.StatusCode, malformed(jerr, raw))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || !*env.Success {
		return nil, &Error{Method: method, Path: path, Status: resp.StatusCode, Errors: env.Errors}
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return nil, apperr.New(apperr.Unavailable, "Cloudflare answered %s %s with a malformed result (%v)", method, path, err)
		}
	}
	return env.ResultInfo, nil
}

func malformed(err error, raw []byte) string {
	if err != nil {
		return "not JSON: " + err.Error()
	}
	if len(raw) > 80 {
		raw = raw[:80]
	}
	return fmt.Sprintf("no success field in %q", raw)
}

// Zone is a Cloudflare zone.
type Zone struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	NameServers []string `json:"name_servers"`
	Plan        struct {
		LegacyID string `json:"legacy_id"`
		Name     string `json:"name"`
	} `json:"plan"`
}

// BatchLimit is the records one batch may hold for z: the configured
// limit, else the plan's.
func (c *Client) BatchLimit(z Zone) int {
	if c.batch > 0 {
		return c.batch
	}
	if z.Plan.LegacyID == "" || z.Plan.LegacyID == "free" {
		return FreeBatchLimit
	}
	return PaidBatchLimit
}

// Zones lists the zones the token may see, page by page (name filters by
// name when not empty).
func (c *Client) Zones(ctx context.Context, name string) ([]Zone, error) {
	var out []Zone
	for page := 1; page <= 100000; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(MaxZonesPage)}}
		if name != "" {
			q.Set("name", name)
		}
		var zs []Zone
		info, err := c.do(ctx, http.MethodGet, "/zones?"+q.Encode(), nil, &zs)
		if err != nil {
			return nil, err
		}
		out = append(out, zs...)
		if info == nil || page >= info.TotalPages || len(zs) == 0 {
			return out, nil
		}
	}
	return nil, apperr.New(apperr.Unavailable, "Cloudflare: the zone list did not end")
}

// Zone returns the zone named name (canonical, with its trailing dot),
// remembering its id.
func (c *Client) Zone(ctx context.Context, name string) (Zone, error) {
	c.mu.Lock()
	z, ok := c.zoneIDs[name]
	c.mu.Unlock()
	if ok {
		return z, nil
	}
	zs, err := c.Zones(ctx, strings.TrimSuffix(name, "."))
	if err != nil {
		return Zone{}, err
	}
	for _, z := range zs {
		if strings.EqualFold(strings.TrimSuffix(z.Name, ".")+".", name) {
			c.mu.Lock()
			c.zoneIDs[name] = z
			c.mu.Unlock()
			return z, nil
		}
	}
	return Zone{}, apperr.New(apperr.NotFound, "Cloudflare has no zone %s that the token may see", name)
}

// forget drops a remembered zone id (the zone was not found by it).
func (c *Client) forget(name string) {
	c.mu.Lock()
	delete(c.zoneIDs, name)
	c.mu.Unlock()
}

// DNSRecord is a Cloudflare DNS record.
type DNSRecord struct {
	ID        string      `json:"id,omitempty"`
	Type      string      `json:"type,omitempty"`
	Name      string      `json:"name,omitempty"` // absolute, without the trailing dot
	Content   string      `json:"content,omitempty"`
	TTL       int         `json:"ttl,omitempty"` // seconds; 1 is automatic
	Proxied   *bool       `json:"proxied,omitempty"`
	Proxiable bool        `json:"proxiable,omitempty"`
	Priority  *uint16     `json:"priority,omitempty"` // MX
	Data      *RecordData `json:"data,omitempty"`     // SRV, CAA
	Comment   string      `json:"comment,omitempty"`
}

// RecordData is the structured data of SRV and CAA records.
type RecordData struct {
	Priority *uint16 `json:"priority,omitempty"`
	Weight   *uint16 `json:"weight,omitempty"`
	Port     *uint16 `json:"port,omitempty"`
	Target   string  `json:"target,omitempty"`
	Flags    *uint8  `json:"flags,omitempty"`
	Tag      string  `json:"tag,omitempty"`
	Value    string  `json:"value,omitempty"`
}

// Records lists the zone's DNS records page by page.
func (c *Client) Records(ctx context.Context, zoneID string) ([]DNSRecord, error) {
	var out []DNSRecord
	for page := 1; page <= 100000; page++ {
		var rs []DNSRecord
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(c.page)}}
		info, err := c.do(ctx, http.MethodGet, "/zones/"+url.PathEscape(zoneID)+"/dns_records?"+q.Encode(), nil, &rs)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if info == nil || page >= info.TotalPages || len(rs) == 0 {
			return out, nil
		}
	}
	return nil, apperr.New(apperr.Unavailable, "Cloudflare: the record list did not end")
}

// CreateRecord creates r (POST).
func (c *Client) CreateRecord(ctx context.Context, zoneID string, r DNSRecord) (DNSRecord, error) {
	var out DNSRecord
	_, err := c.do(ctx, http.MethodPost, "/zones/"+url.PathEscape(zoneID)+"/dns_records", r, &out)
	return out, err
}

// UpdateRecord overwrites record r.ID with r (PUT).
func (c *Client) UpdateRecord(ctx context.Context, zoneID string, r DNSRecord) (DNSRecord, error) {
	var out DNSRecord
	_, err := c.do(ctx, http.MethodPut, "/zones/"+url.PathEscape(zoneID)+"/dns_records/"+url.PathEscape(r.ID), r, &out)
	return out, err
}

// PatchRecord changes the fields set in r of record r.ID (PATCH).
func (c *Client) PatchRecord(ctx context.Context, zoneID string, r DNSRecord) (DNSRecord, error) {
	var out DNSRecord
	_, err := c.do(ctx, http.MethodPatch, "/zones/"+url.PathEscape(zoneID)+"/dns_records/"+url.PathEscape(r.ID), r, &out)
	return out, err
}

// DeleteRecord deletes record id.
func (c *Client) DeleteRecord(ctx context.Context, zoneID, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/zones/"+url.PathEscape(zoneID)+"/dns_records/"+url.PathEscape(id), nil, nil)
	return err
}

// Batch is the body of POST /zones/{id}/dns_records/batch: Cloudflare
// runs it as one transaction, deletes, then patches, puts and posts.
type Batch struct {
	Deletes []DNSRecord `json:"deletes,omitempty"` // ID only
	Patches []DNSRecord `json:"patches,omitempty"`
	Puts    []DNSRecord `json:"puts,omitempty"`
	Posts   []DNSRecord `json:"posts,omitempty"`
}

// Len is the records the batch holds.
func (b Batch) Len() int { return len(b.Deletes) + len(b.Patches) + len(b.Puts) + len(b.Posts) }

// BatchResult is what a batch did.
type BatchResult struct {
	Deletes []DNSRecord `json:"deletes"`
	Patches []DNSRecord `json:"patches"`
	Puts    []DNSRecord `json:"puts"`
	Posts   []DNSRecord `json:"posts"`
}

// Batch sends b for the zone.
func (c *Client) Batch(ctx context.Context, zoneID string, b Batch) (BatchResult, error) {
	var out BatchResult
	_, err := c.do(ctx, http.MethodPost, "/zones/"+url.PathEscape(zoneID)+"/dns_records/batch", b, &out)
	return out, err
}
