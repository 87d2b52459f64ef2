package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/poolctl/poolctl/api"
)

// The DNS cluster: the API another member calls (token of scope cluster)
// and the administrator's routes.

// ClusterHello asks a member what it is and which zones it serves.
func (c *Client) ClusterHello(ctx context.Context) (api.ClusterHello, error) {
	var out api.ClusterHello
	err := c.Do(ctx, http.MethodGet, v1+"/cluster/hello", nil, nil, &out)
	return out, err
}

// ClusterPutZone writes a zone on a member.
func (c *Client) ClusterPutZone(ctx context.Context, zone string, z api.ClusterZone) (api.ClusterApplied, error) {
	var out api.ClusterApplied
	err := c.Do(ctx, http.MethodPut, v1+"/cluster/zones/"+esc(zone), nil, z, &out)
	return out, err
}

// ClusterDeleteZone deletes a zone on a member.
func (c *Client) ClusterDeleteZone(ctx context.Context, zone string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/cluster/zones/"+esc(zone), nil, nil, nil)
}

// DNSCluster returns the cluster settings.
func (c *Client) DNSCluster(ctx context.Context) (api.ClusterSettings, error) {
	var out api.ClusterSettings
	err := c.Do(ctx, http.MethodGet, v1+"/dns/cluster", nil, nil, &out)
	return out, err
}

// UpdateDNSCluster changes the cluster settings.
func (c *Client) UpdateDNSCluster(ctx context.Context, in api.ClusterSettingsUpdate) (api.ClusterSettings, error) {
	var out api.ClusterSettings
	err := c.Do(ctx, http.MethodPut, v1+"/dns/cluster", nil, in, &out)
	return out, err
}

// ClusterMembers lists the cluster's members.
func (c *Client) ClusterMembers(ctx context.Context) ([]api.ClusterMember, error) {
	var out api.List[api.ClusterMember]
	err := c.Do(ctx, http.MethodGet, v1+"/dns/cluster/members", nil, nil, &out)
	return out.Items, err
}

// AddClusterMember adds a member after checking that it answers.
func (c *Client) AddClusterMember(ctx context.Context, in api.ClusterMemberCreate) (api.ClusterMember, error) {
	var out api.ClusterMember
	err := c.Do(ctx, http.MethodPost, v1+"/dns/cluster/members", nil, in, &out)
	return out, err
}

// UpdateClusterMember changes a member's role.
func (c *Client) UpdateClusterMember(ctx context.Context, host string, in api.ClusterMemberUpdate) (api.ClusterMember, error) {
	var out api.ClusterMember
	err := c.Do(ctx, http.MethodPatch, v1+"/dns/cluster/members/"+esc(host), nil, in, &out)
	return out, err
}

// RemoveClusterMember removes a member; one holding zones this server does
// not have needs force.
func (c *Client) RemoveClusterMember(ctx context.Context, host string, force bool) (api.ClusterMemberRemoved, error) {
	var out api.ClusterMemberRemoved
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	err := c.Do(ctx, http.MethodDelete, v1+"/dns/cluster/members/"+esc(host), q, nil, &out)
	return out, err
}

// EnableClusterMember puts a disabled member back and resynchronises it.
func (c *Client) EnableClusterMember(ctx context.Context, host string) (api.ClusterMember, error) {
	var out api.ClusterMember
	err := c.Do(ctx, http.MethodPost, v1+"/dns/cluster/members/"+esc(host)+"/enable", nil, nil, &out)
	return out, err
}

// ResyncCluster sends every zone again to one member, or to all ("").
func (c *Client) ResyncCluster(ctx context.Context, host string) (api.ClusterResync, error) {
	var out api.ClusterResync
	q := url.Values{}
	if host != "" {
		q.Set("host", host)
	}
	err := c.Do(ctx, http.MethodPost, v1+"/dns/cluster/resync", q, nil, &out)
	return out, err
}
