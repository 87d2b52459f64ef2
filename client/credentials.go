package client

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// RotateCredential asks for a new credential for the agent of a member, or
// of every enrolled member of pool when member is "": each agent takes its
// new one with its next heartbeat.
func (c *Client) RotateCredential(ctx context.Context, pool, member string) (api.CredentialRotation, error) {
	var out api.CredentialRotation
	path := v1 + "/pools/" + esc(pool) + "/rotate-credentials"
	if member != "" {
		path = memberPath(pool, member) + "/rotate-credential"
	}
	err := c.Do(ctx, http.MethodPost, path, nil, nil, &out)
	return out, err
}

// RevokeCredential revokes the agent credential of a member at once.
func (c *Client) RevokeCredential(ctx context.Context, pool, member string, force bool) error {
	return c.Do(ctx, http.MethodPost, memberPath(pool, member)+"/revoke-credential", nil, api.CredentialRevoke{Force: force}, nil)
}
