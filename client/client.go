// Package client is the Go client for poolctl's REST API. The CLI and the
// agent use it; it imports only the standard library and package api.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Error is an error answer from the server.
type Error struct {
	Status  int    // HTTP status code
	Code    string // machine-readable code, e.g. "not_found"
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// StatusOf returns the HTTP status of an API error, or 0 for other errors
// (network failures, for instance).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Client talks to one poolctl server.
type Client struct {
	base  *url.URL
	token atomic.Pointer[string]
	http  *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

// SetToken replaces the bearer token for the requests that follow; requests
// already under way keep theirs. Safe for concurrent use.
func (c *Client) SetToken(t string) { c.token.Store(&t) }

// Options configure a Client.
type Options struct {
	// Token is the bearer token (admin token or agent credential).
	Token string
	// CAPEM, when set, is the only CA trusted for the server's certificate.
	CAPEM []byte
	// CAFingerprint, when set, pins the server's CA (or certificate) by the
	// hex SHA-256 of its DER encoding; the host name is not checked then,
	// because the pin is stronger than a name.
	CAFingerprint string
	// Timeout bounds each request; 0 means 30 s. Long polls set their own.
	Timeout time.Duration
	// HTTPClient replaces the default transport entirely when set.
	HTTPClient *http.Client
}

// New returns a client for the server at rawURL (https://host:port). User
// information in rawURL is dropped: the server authenticates bearer tokens
// only, and a password kept there would show in BaseURL and in errors.
func New(rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		shown := "the server URL"
		if err == nil && u.User == nil {
			shown = fmt.Sprintf("server URL %q", rawURL)
		}
		return nil, fmt.Errorf("%s: want https://host:port", shown)
	}
	u.User = nil
	c := &Client{base: u, UserAgent: "poolctl-client"}
	c.SetToken(opts.Token)
	if opts.HTTPClient != nil {
		c.http = opts.HTTPClient
		return c, nil
	}
	tlsConf, err := TLSConfig(opts.CAPEM, opts.CAFingerprint)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	// Replication moves many objects at once (see objects.go): keep enough
	// idle connections that concurrent transfers do not redo TLS handshakes.
	tr.MaxIdleConnsPerHost = 32
	// HTTP/1.1: an agent's few small requests per second cost less without
	// HTTP/2's framing (measured with bench/heartbeat.sh).
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	c.http = &http.Client{Transport: tr, Timeout: timeout}
	return c, nil
}

// TLSConfig builds the client TLS configuration: trust caPEM if given, pin
// the fingerprint if given, otherwise use the system roots.
func TLSConfig(caPEM []byte, fingerprint string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("CA file holds no PEM certificate")
		}
		conf.RootCAs = pool
	}
	if fingerprint != "" {
		want, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(fingerprint), ":", ""))
		if err != nil || len(want) != sha256.Size {
			return nil, fmt.Errorf("CA fingerprint %q is not a hex SHA-256", fingerprint)
		}
		conf.InsecureSkipVerify = true // replaced by the pin check below
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, want)
		}
	}
	return conf, nil
}

// verifyPinned accepts a chain when one of its certificates has the pinned
// fingerprint and the leaf is signed by (or is) that certificate.
func verifyPinned(chain []*x509.Certificate, want []byte) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		if !bytes.Equal(sum[:], want) {
			continue
		}
		if c.Equal(chain[0]) {
			return nil
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		inter := x509.NewCertPool()
		for _, ic := range chain[1:] {
			inter.AddCert(ic)
		}
		_, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("server certificate not signed by the pinned CA: %w", err)
		}
		return nil
	}
	return errors.New("server certificate does not match the pinned CA fingerprint")
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is non-nil). Error answers become *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.do(ctx, method, path, query, in, out, 0)
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, timeout time.Duration) error {
	var body *rawBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = &rawBody{data: b, contentType: "application/json"}
	}
	resp, cancel, err := c.send(ctx, method, path, query, body, "application/json", timeout)
	if err != nil {
		return err
	}
	defer cancel()
	defer closeBody(resp)
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	return nil
}

// rawBody is a request body and its media type.
type rawBody struct {
	data        []byte
	contentType string
}

// send sends one request and returns the answer when its status is below
// 400; error answers become *Error. A timeout > 0 replaces the client's
// own for this request (long polls, large objects). The caller must call
// cancel once and close the response body (closeBody drains it so the
// connection is kept alive).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in *rawBody, accept string, timeout time.Duration) (resp *http.Response, cancel context.CancelFunc, err error) {
	// path is escaped already (see esc).
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	cancel = func() {}
	if timeout > 0 {
		// A long poll or a large transfer: give the server time to answer.
		ctx, cancel = context.WithTimeout(ctx, timeout+10*time.Second)
	}
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(in.data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", in.contentType)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.UserAgent)
	if t := *c.token.Load(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	hc := c.http
	if timeout > 0 && hc.Timeout > 0 && hc.Timeout < timeout+15*time.Second {
		cp := *hc
		cp.Timeout = timeout + 15*time.Second
		hc = &cp
	}
	resp, err = hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if resp.StatusCode >= 400 {
		defer cancel()
		defer closeBody(resp)
		return nil, nil, decodeError(resp)
	}
	return resp, cancel, nil
}

// decodeError turns an error answer into *Error.
func decodeError(resp *http.Response) error {
	var eb api.ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(raw, &eb) != nil || eb.Error.Message == "" {
		eb.Error.Code = "http_" + fmt.Sprint(resp.StatusCode)
		eb.Error.Message = strings.TrimSpace(string(raw))
		if eb.Error.Message == "" {
			eb.Error.Message = resp.Status
		}
	}
	return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
}

// closeBody drains (a little of) the body before closing it, so that the
// connection goes back to the pool.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
	_ = resp.Body.Close()
}

func esc(s string) string { return url.PathEscape(s) }
