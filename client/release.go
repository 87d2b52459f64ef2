package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Agent releases: the agent binaries a server offers. These routes take no
// credential.

// downloadTimeout bounds an agent binary download.
const downloadTimeout = 10 * time.Minute

// AgentReleases lists the agent binaries the server offers, with its
// version and TLS pin.
func (c *Client) AgentReleases(ctx context.Context) (api.AgentReleases, error) {
	var out api.AgentReleases
	err := c.Do(ctx, http.MethodGet, v1+"/agent/releases", nil, nil, &out)
	return out, err
}

// DownloadAgent writes the server's agent binary for goos/goarch to w and
// returns the hex SHA-256 of the bytes written. It fails when they do not
// match the X-Poolctl-Sha256 header the server sent; callers that trust
// the catalogue (or a signature) more than one header compare the sum
// with it themselves.
func (c *Client) DownloadAgent(ctx context.Context, goos, goarch string, w io.Writer) (string, error) {
	resp, cancel, err := c.send(ctx, http.MethodGet, v1+"/agent/releases/"+esc(goos)+"/"+esc(goarch), nil, nil, "application/octet-stream", downloadTimeout)
	if err != nil {
		return "", fmt.Errorf("download agent %s/%s: %w", goos, goarch, err)
	}
	defer cancel()
	defer closeBody(resp)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return "", fmt.Errorf("download agent %s/%s: %w", goos, goarch, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", fmt.Errorf("download agent %s/%s: got %d bytes, the server announced %d", goos, goarch, n, resp.ContentLength)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want := resp.Header.Get("X-Poolctl-Sha256"); want != "" && want != sum {
		return "", fmt.Errorf("download agent %s/%s: got SHA-256 %s, the server announced %s", goos, goarch, sum, want)
	}
	return sum, nil
}
