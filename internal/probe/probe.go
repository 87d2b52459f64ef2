// Package probe checks whether a service answers: tcp://host:port must
// accept a connection, http(s)://... must answer with a 2xx or 3xx status.
// The failover engine's server-side prober and the agents' witness checks
// both use it, so it depends on the standard library (and internal/redact)
// only. Errors name the target without its password or secret query values.
package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/redact"
)

// DefaultTimeout bounds one probe when Prober.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// ErrInvalidTarget is wrapped by errors about targets that cannot be probed.
var ErrInvalidTarget = errors.New("invalid probe target")

// Prober probes targets. The zero value is ready to use.
type Prober struct {
	// Timeout bounds one probe, connection and answer (DefaultTimeout).
	Timeout time.Duration
	// VerifyTLS checks the certificate of https targets. It is off by
	// default: a probe asks whether the service answers, not who it is,
	// and members are often probed by address.
	VerifyTLS bool
}

// Check probes target with the zero Prober.
func Check(ctx context.Context, target string) error {
	return Prober{}.Probe(ctx, target)
}

// Probe returns nil when target answers: for tcp://host:port a connection
// is accepted; for http(s)://... a GET gets a 2xx or 3xx status (redirects
// are not followed). Errors name the target and what failed.
func (p Prober) Probe(ctx context.Context, target string) error {
	u, err := parse(target)
	if err != nil {
		return err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if u.Scheme == "tcp" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return fmt.Errorf("probe %s: %w", redact.URL(target), err)
		}
		_ = c.Close()
		return nil
	}
	return p.probeHTTP(ctx, target)
}

func (p Prober) probeHTTP(ctx context.Context, target string) error {
	tr := &http.Transport{
		Proxy:             nil, // probe the member itself, never through a proxy
		DialContext:       (&net.Dialer{}).DialContext,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: !p.VerifyTLS}, // see Prober.VerifyTLS
	}
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w: %w", redact.URL(target), ErrInvalidTarget, unwrapURL(err))
	}
	req.Header.Set("User-Agent", "poolctl-probe/1")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", redact.URL(target), unwrapURL(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("probe %s: status %s", redact.URL(target), resp.Status)
	}
	return nil
}

// Validate reports whether target can be probed: tcp://host:port,
// http://host[:port][/path] or https://....
func Validate(target string) error {
	_, err := parse(target)
	return err
}

func parse(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("probe target %q: %w: %w", redact.URL(target), ErrInvalidTarget, unwrapURL(err))
	}
	bad := func(why string) error {
		return fmt.Errorf("probe target %q: %w: %s", redact.URL(target), ErrInvalidTarget, why)
	}
	if u.Hostname() == "" {
		return nil, bad("no host")
	}
	switch strings.ToLower(u.Scheme) {
	case "tcp":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return nil, bad("a tcp target is tcp://host:port and nothing more")
		}
		n, err := strconv.Atoi(u.Port())
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("a tcp target needs a port from 1 to 65535")
		}
		u.Scheme = "tcp"
	case "http", "https":
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return nil, bad("port out of range")
			}
		}
	default:
		return nil, bad("the scheme must be tcp, http or https")
	}
	return u, nil
}

// unwrapURL drops the *url.Error around err: it repeats the URL, query
// string and all, which the caller names redacted already.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
