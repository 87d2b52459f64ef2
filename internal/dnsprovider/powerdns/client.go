// Package powerdns drives a PowerDNS Authoritative server through its HTTP
// API (https://doc.powerdns.com/authoritative/http-api/): the server's
// identity, its zones (list, create, read, delete, settings) and their
// RRsets, changed with PATCH (changetype REPLACE or DELETE). Client is also
// a dnsprovider.Provider (provider.go).
//
// Names sent to PowerDNS are canonical: absolute, lower case, with their
// trailing dot. Errors are of an apperr kind with a message naming the
// server and what it said: its {"error": "..."} bodies are 422 Invalid,
// 404 NotFound, 409 Conflict, 401/403 Unauthorized (a wrong API key), 5xx,
// timeouts and unreachable servers Unavailable.
package powerdns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

// Options configures a Client.
type Options struct {
	// APIKey is the server's api-key (sent as X-API-Key). Required.
	APIKey string
	// ServerID is the server's id in the API paths ("localhost").
	ServerID string
	// Timeout bounds one request (10 s).
	Timeout time.Duration
	// CAPEM, when set, is the CA that signs the certificate of an https
	// URL (PowerDNS behind a TLS proxy).
	CAPEM []byte
}

// Client talks to one PowerDNS server.
type Client struct {
	base    string // scheme://host[:port], no trailing slash
	key     string
	server  string
	timeout time.Duration
	hc      *http.Client
}

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxBody bounds an answer read from the server (a whole zone).
const maxBody = 128 << 20

// New returns a client of the PowerDNS webserver at baseURL
// (http://127.0.0.1:8081; a trailing /api/v1 is taken too).
func New(baseURL string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" {
		return nil, apperr.New(apperr.Invalid, "PowerDNS URL %q: want its webserver, http://HOST:PORT", baseURL)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" && p != "/api/v1" {
		return nil, apperr.New(apperr.Invalid, "PowerDNS URL %q: want its webserver without a path, http://HOST:PORT", baseURL)
	}
	if strings.TrimSpace(o.APIKey) == "" {
		return nil, apperr.New(apperr.Invalid, "PowerDNS at %s: the API key is required (the api-key of its pdns.conf)", u.Host)
	}
	if o.ServerID == "" {
		o.ServerID = "localhost"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(o.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.CAPEM) {
			return nil, apperr.New(apperr.Invalid, "PowerDNS at %s: the CA is not a PEM certificate", u.Host)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{base: u.Scheme + "://" + u.Host, key: o.APIKey, server: o.ServerID, timeout: o.Timeout,
		hc: &http.Client{Transport: tr, Timeout: o.Timeout}}, nil
}

// URL is the server's webserver address.
func (c *Client) URL() string { return c.base }

// Error is an answer of the server other than a success.
type Error struct {
	URL     string // the server
	Method  string
	Path    string
	Status  int
	Message string // the server's {"error": ...}, or its body's start
}

func (e *Error) Error() string {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("PowerDNS at %s refused the API key (HTTP %d on %s %s)", e.URL, e.Status, e.Method, e.Path)
	}
	return fmt.Sprintf("PowerDNS at %s: %s (HTTP %d on %s %s)", e.URL, e.Message, e.Status, e.Method, e.Path)
}

// Kind is the apperr kind of the answer.
func (e *Error) Kind() *apperr.Kind {
	switch {
	case e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity:
		return apperr.Invalid
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return apperr.Unauthorized
	case e.Status == http.StatusNotFound:
		return apperr.NotFound
	case e.Status == http.StatusConflict:
		return apperr.Conflict
	}
	return apperr.Unavailable
}

// Is makes errors.Is(err, apperr.NotFound) and the like work.
func (e *Error) Is(target error) bool { return target == e.Kind() }

// do sends one request; out, when not nil, takes the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return apperr.Wrap(apperr.Unavailable, ctx.Err(), "PowerDNS at %s did not answer %s %s in time", c.base, method, path)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("PowerDNS at %s: %s %s: %w", c.base, method, path, ctx.Err())
		}
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return apperr.New(apperr.Unavailable, "PowerDNS at %s did not answer %s %s within %s", c.base, method, path, c.timeout)
		}
		return apperr.Wrap(apperr.Unavailable, unwrapURL(err), "cannot reach PowerDNS at %s", c.base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "PowerDNS at %s: reading the answer to %s %s", c.base, method, path)
	}
	if len(raw) > maxBody {
		return apperr.New(apperr.TooLarge, "PowerDNS at %s: the answer to %s %s is larger than %d bytes", c.base, method, path, maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{URL: c.base, Method: method, Path: path, Status: resp.StatusCode, Message: errorMessage(resp.StatusCode, raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return apperr.New(apperr.Unavailable, "PowerDNS at %s answered %s %s with malformed JSON (%v): is this the PowerDNS webserver?", c.base, method, path, err)
	}
	return nil
}

// unwrapURL drops url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorMessage is what the server said: its {"error": "..."} body, or the
// start of its text.
func errorMessage(status int, raw []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = http.StatusText(status)
	}
	return s
}

// Server is what a PowerDNS server says of itself.
type Server struct {
	ID         string `json:"id"`
	DaemonType string `json:"daemon_type"` // authoritative
	Version    string `json:"version"`
}

// Zone is a zone of the server. Zones lists them without RRsets.
type Zone struct {
	ID     string `json:"id"`
	Name   string `json:"name"` // absolute, with its trailing dot
	Kind   string `json:"kind"` // Native, Master, Slave, ...
	Serial uint32 `json:"serial"`
	// SOAEditAPI is how the server changes the SOA serial on API edits
	// ("" for never: the serial stays as written).
	SOAEditAPI string  `json:"soa_edit_api"`
	DNSSEC     bool    `json:"dnssec"`
	RRsets     []RRset `json:"rrsets,omitempty"`
}

// ZoneCreate creates a zone.
type ZoneCreate struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // Native unless given
	// Nameservers are the apex NS records to create; leave it empty when
	// RRsets hold them.
	Nameservers []string `json:"nameservers"`
	SOAEditAPI  string   `json:"soa_edit_api"`
	// RRsets are the zone's records; without an SOA the server makes one.
	RRsets []RRset `json:"rrsets,omitempty"`
}

// RRset is the records of one name and type, as read, or as changed by
// PatchZone (ChangeType REPLACE or DELETE).
type RRset struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	TTL        uint32 `json:"ttl,omitempty"`
	ChangeType string `json:"changetype,omitempty"`
	Records    []RR   `json:"records"`
}

// RR is one record of an RRset: its data in presentation form.
type RR struct {
	Content  string `json:"content"`
	Disabled bool   `json:"disabled"`
}

// Change types of PatchZone.
const (
	Replace = "REPLACE"
	Delete  = "DELETE"
)

func (c *Client) serverPath() string { return "/api/v1/servers/" + url.PathEscape(c.server) }

func (c *Client) zonePath(zone string) string {
	return c.serverPath() + "/zones/" + url.PathEscape(zone)
}

// Server returns the server's identity and version.
func (c *Client) Server(ctx context.Context) (Server, error) {
	var s Server
	err := c.do(ctx, http.MethodGet, c.serverPath(), nil, &s)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return s, apperr.New(apperr.Invalid, "%s does not answer the PowerDNS API at %s (is api=yes set, and is %q its server id?)", c.base, c.serverPath(), c.server)
	}
	if err == nil && s.DaemonType != "" && s.DaemonType != "authoritative" {
		return s, apperr.New(apperr.Invalid, "PowerDNS at %s is a %s server, not an authoritative one", c.base, s.DaemonType)
	}
	return s, err
}

// Zones lists the server's zones (without their records).
func (c *Client) Zones(ctx context.Context) ([]Zone, error) {
	var zs []Zone
	err := c.do(ctx, http.MethodGet, c.serverPath()+"/zones", nil, &zs)
	return zs, err
}

// canonical returns zone absolute, lower case, with its trailing dot.
func canonical(zone string) (string, error) { return dnsprovider.ZoneName(zone) }

// notFound names the zone in a 404.
func (c *Client) notFound(err error, zone string) error {
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return apperr.Wrap(apperr.NotFound, err, "PowerDNS at %s has no zone %s", c.base, zone)
	}
	return err
}

// Zone reads a zone with its RRsets.
func (c *Client) Zone(ctx context.Context, zone string) (Zone, error) {
	name, err := canonical(zone)
	if err != nil {
		return Zone{}, err
	}
	var z Zone
	err = c.do(ctx, http.MethodGet, c.zonePath(name), nil, &z)
	return z, c.notFound(err, name)
}

// CreateZone creates a zone; one that exists already is a Conflict.
func (c *Client) CreateZone(ctx context.Context, in ZoneCreate) (Zone, error) {
	name, err := canonical(in.Name)
	if err != nil {
		return Zone{}, err
	}
	in.Name = name
	if in.Kind == "" {
		in.Kind = "Native"
	}
	if in.Nameservers == nil {
		in.Nameservers = []string{}
	}
	var z Zone
	err = c.do(ctx, http.MethodPost, c.serverPath()+"/zones", in, &z)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusConflict {
		return z, apperr.Wrap(apperr.Conflict, err, "PowerDNS at %s has zone %s already", c.base, name)
	}
	return z, err
}

// DeleteZone deletes a zone; one that is not there is NotFound.
func (c *Client) DeleteZone(ctx context.Context, zone string) error {
	name, err := canonical(zone)
	if err != nil {
		return err
	}
	return c.notFound(c.do(ctx, http.MethodDelete, c.zonePath(name), nil, nil), name)
}

// SetSOAEditAPI changes how the server edits the zone's SOA serial on API
// changes ("" for never).
func (c *Client) SetSOAEditAPI(ctx context.Context, zone, value string) error {
	name, err := canonical(zone)
	if err != nil {
		return err
	}
	err = c.do(ctx, http.MethodPut, c.zonePath(name), map[string]string{"soa_edit_api": value}, nil)
	return c.notFound(err, name)
}

// PatchZone changes RRsets of a zone in one transaction: all or none.
func (c *Client) PatchZone(ctx context.Context, zone string, rrsets []RRset) error {
	name, err := canonical(zone)
	if err != nil {
		return err
	}
	for i := range rrsets {
		if rrsets[i].Records == nil {
			rrsets[i].Records = []RR{}
		}
	}
	err = c.do(ctx, http.MethodPatch, c.zonePath(name), map[string]any{"rrsets": rrsets}, nil)
	return c.notFound(err, name)
}
