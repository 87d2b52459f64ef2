package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

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

// ClusterPut says how a zone is written on a member.
type ClusterPut struct {
	// Role is the member's role from the sender's view: a write-only
	// sender owns the zones it writes there (a second writer is refused);
	// sync members all write.
	Role string
	// Takeover makes this sender the zone's writer there (an operator's
	// choice, resolving a conflict).
	Takeover bool
	// Seen is the zone serial the sender last saw there (deletes: a zone
	// another sender wrote last is deleted when it is still that one).
	Seen uint32
}

func (p ClusterPut) query() url.Values {
	q := url.Values{}
	if p.Role != "" {
		q.Set("role", p.Role)
	}
	if p.Takeover {
		q.Set("takeover", "true")
	}
	if p.Seen != 0 {
		q.Set("serial", strconv.FormatUint(uint64(p.Seen), 10))
	}
	return q
}

// ClusterPeer asks a member to know this server (reverse trust).
func (c *Client) ClusterPeer(ctx context.Context, in api.ClusterPeer) (api.ClusterMember, error) {
	var out api.ClusterMember
	err := c.Do(ctx, http.MethodPost, v1+"/cluster/peers", nil, in, &out)
	return out, err
}

// ClusterGetZone reads a zone from a member (its zone file and serial).
func (c *Client) ClusterGetZone(ctx context.Context, zone string) (api.ClusterZone, error) {
	var out api.ClusterZone
	err := c.Do(ctx, http.MethodGet, v1+"/cluster/zones/"+esc(zone), nil, nil, &out)
	return out, err
}

// ClusterPutZone writes a zone on a member.
func (c *Client) ClusterPutZone(ctx context.Context, zone string, z api.ClusterZone, p ClusterPut) (api.ClusterApplied, error) {
	var out api.ClusterApplied
	err := c.Do(ctx, http.MethodPut, v1+"/cluster/zones/"+esc(zone), p.query(), z, &out)
	return out, err
}

// ClusterDeleteZone deletes a zone on a member.
func (c *Client) ClusterDeleteZone(ctx context.Context, zone string, p ClusterPut) error {
	return c.Do(ctx, http.MethodDelete, v1+"/cluster/zones/"+esc(zone), p.query(), nil, nil)
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

// ClusterLog returns a member's latest operations, newest first.
func (c *Client) ClusterLog(ctx context.Context, host string, limit int) ([]api.ClusterLogEntry, error) {
	var out api.List[api.ClusterLogEntry]
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.Do(ctx, http.MethodGet, v1+"/dns/cluster/members/"+esc(host)+"/log", q, nil, &out)
	return out.Items, err
}

// ClusterConflicts lists the zones in conflict (all: resolved ones too).
func (c *Client) ClusterConflicts(ctx context.Context, all bool) ([]api.ClusterConflict, error) {
	var out api.List[api.ClusterConflict]
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	err := c.Do(ctx, http.MethodGet, v1+"/dns/cluster/conflicts", q, nil, &out)
	return out.Items, err
}

// ClusterConflict returns one conflict with both versions of the zone.
func (c *Client) ClusterConflict(ctx context.Context, id int64) (api.ClusterConflict, error) {
	var out api.ClusterConflict
	err := c.Do(ctx, http.MethodGet, v1+"/dns/cluster/conflicts/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// ResolveClusterConflict resolves a conflict by choosing a side.
func (c *Client) ResolveClusterConflict(ctx context.Context, id int64, keep string) (api.ClusterConflict, error) {
	var out api.ClusterConflict
	err := c.Do(ctx, http.MethodPost, v1+"/dns/cluster/conflicts/"+strconv.FormatInt(id, 10)+"/resolve", nil, api.ClusterConflictResolve{Keep: keep}, &out)
	return out, err
}
