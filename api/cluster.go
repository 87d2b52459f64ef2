package api

import "time"

// DNS cluster roles, from this server's view of a member.
const (
	ClusterRoleSync       = "sync"       // push changes there and fetch its zones back
	ClusterRoleWriteOnly  = "write-only" // push this server's zones there, never read
	ClusterRoleStandalone = "standalone" // fetch its zones, never write there
)

// DNS cluster member states.
const (
	ClusterMemberOK       = "ok"
	ClusterMemberFailing  = "failing"  // its last operations failed, under the threshold
	ClusterMemberDisabled = "disabled" // the failure threshold was reached; enable it again by hand
)

// ClusterSettings are the DNS cluster's switch and failure threshold
// (GET and PUT /api/v1/dns/cluster).
type ClusterSettings struct {
	Enabled bool `json:"enabled"`
	// FailureThreshold disables a member after that many consecutive
	// failed operations (default 10); 0 keeps every member online.
	FailureThreshold int `json:"failure_threshold"`
}

// ClusterSettingsUpdate changes the settings; absent fields stay.
type ClusterSettingsUpdate struct {
	Enabled          *bool `json:"enabled,omitempty"`
	FailureThreshold *int  `json:"failure_threshold,omitempty"`
}

// ClusterMemberCreate is the body of POST /api/v1/dns/cluster/members.
type ClusterMemberCreate struct {
	Host  string `json:"host"`  // the member's name (ns2.example.net), unique
	URL   string `json:"url"`   // its API, https://HOST:PORT
	Token string `json:"token"` // a token of scope cluster made on the member
	// CA is the PEM of the member's CA (its DATA/ca.pem) when its
	// certificate is self-signed; empty: verified by the system's roots.
	CA      string `json:"ca,omitempty"`
	Role    string `json:"role"`
	Backend string `json:"backend,omitempty"` // poolctl (default)
}

// ClusterMemberUpdate changes a member in place.
type ClusterMemberUpdate struct {
	Role *string `json:"role,omitempty"`
}

// ClusterMember is a nameserver of the cluster as this server sees it. Its
// token is never shown.
type ClusterMember struct {
	Host       string     `json:"host"`
	URL        string     `json:"url"`
	Role       string     `json:"role"`
	Backend    string     `json:"backend"`
	Version    string     `json:"version,omitempty"` // as it said on its last answer
	Node       string     `json:"node,omitempty"`    // server or dns-node
	Status     string     `json:"status"`            // ok, failing, disabled
	Failures   int        `json:"failures"`          // consecutive failed operations
	LastError  string     `json:"last_error,omitempty"`
	LastOKAt   *time.Time `json:"last_ok_at,omitempty"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	Zones      int        `json:"zones"` // zones it has acknowledged from this server
	CreatedAt  time.Time  `json:"created_at"`
}

// ClusterMemberRemoved says what the removal of a member took away: the
// zones that existed only there.
type ClusterMemberRemoved struct {
	Host      string   `json:"host"`
	LoneZones []string `json:"lone_zones"`
}

// ClusterResync is the answer of POST /api/v1/dns/cluster/resync.
type ClusterResync struct {
	Members []string `json:"members"` // the members resynchronised
	Zones   int      `json:"zones"`   // zones sent to them in all
}
