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
	// Debug logs every operation with the member (GET .../log), not only
	// changes, failures and conflicts.
	Debug bool `json:"debug,omitempty"`
	// ReverseTrust makes the member (another poolctl server) know this
	// server too, in the standalone role (it fetches this server's zones
	// and never writes here), so that the operator does not log in there.
	ReverseTrust *ClusterReverseTrust `json:"reverse_trust,omitempty"`
}

// ClusterReverseTrust names this server to the member it is added to.
type ClusterReverseTrust struct {
	Host string `json:"host"` // this server's name there, e.g. ns1.example.net
	URL  string `json:"url"`  // this server's API as the member reaches it
}

// ClusterPeer is the body of POST /api/v1/cluster/peers: a member asks this
// server to know it (reverse trust) with a cluster token it made for it.
type ClusterPeer struct {
	Host  string `json:"host"`
	URL   string `json:"url"`
	Token string `json:"token"`
	CA    string `json:"ca,omitempty"`
	Role  string `json:"role"`
}

// ClusterMemberUpdate changes a member in place; absent fields stay. A new
// URL, token or CA is checked against the member before it is saved.
type ClusterMemberUpdate struct {
	Role  *string `json:"role,omitempty"`
	Debug *bool   `json:"debug,omitempty"`
	URL   *string `json:"url,omitempty"`
	Token *string `json:"token,omitempty"`
	CA    *string `json:"ca,omitempty"`
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
	Zones      int        `json:"zones"` // zones it and this server agree on
	// Lag is how many zones changed here it has not taken yet (members
	// this server writes to).
	Lag int `json:"lag"`
	// Conflicts is how many of its zones are in conflict with this server
	// (GET /api/v1/dns/cluster/conflicts).
	Conflicts int       `json:"conflicts"`
	Debug     bool      `json:"debug"`
	CreatedAt time.Time `json:"created_at"`
}

// Conflict kinds: what two sides of the cluster did to one zone.
const (
	ConflictBothChanged  = "both-changed"  // changed here and there since they last agreed
	ConflictChangedThere = "changed-there" // a write-only member's copy was changed by someone else
	ConflictDeletedThere = "deleted-there" // changed here, deleted there
	ConflictDeletedHere  = "deleted-here"  // deleted here, changed there
	ConflictFirstContact = "first-contact" // both have it with other serials and no common history
	ConflictRefused      = "refused"       // the member refused the write (another server writes it, or its copy is newer)
)

// ClusterConflict is a zone two sides changed. Both versions are kept and
// neither is overwritten until an operator chooses a side
// (POST .../conflicts/{id}/resolve).
type ClusterConflict struct {
	ID           int64      `json:"id"`
	Member       string     `json:"member"`
	Zone         string     `json:"zone"`
	Kind         string     `json:"kind"`
	Message      string     `json:"message"`
	LocalSerial  uint32     `json:"local_serial"`  // 0: not here
	RemoteSerial uint32     `json:"remote_serial"` // 0: not there
	DetectedAt   time.Time  `json:"detected_at"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	Resolution   string     `json:"resolution,omitempty"` // kept local, kept remote, converged
	// The two versions as zone files ("" where the zone does not exist);
	// only in GET .../conflicts/{id}.
	LocalText  string `json:"local_text,omitempty"`
	RemoteText string `json:"remote_text,omitempty"`
}

// ClusterConflictResolve chooses a side: "local" (this server's version
// goes to the member) or "remote" (the member's version is taken here; for
// a zone another server writes there, this server stops writing it there).
type ClusterConflictResolve struct {
	Keep string `json:"keep"`
}

// ClusterLogEntry is one operation with a member
// (GET /api/v1/dns/cluster/members/{host}/log).
type ClusterLogEntry struct {
	At      time.Time `json:"at"`
	Op      string    `json:"op"` // hello, push, delete, fetch, delete-here, conflict
	Zone    string    `json:"zone,omitempty"`
	Serial  uint32    `json:"serial,omitempty"`
	OK      bool      `json:"ok"`
	TookMS  int64     `json:"took_ms"`
	Message string    `json:"message,omitempty"`
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
	Zones   int      `json:"zones"`   // zones sent to them or fetched from them in all
}
