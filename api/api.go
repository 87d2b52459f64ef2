// Package api holds the JSON wire types shared by the server, the agent and
// the command-line client. It depends on the standard library only, so the
// agent can speak the protocol without importing any server package.
//
// Protocol history:
//   - 1 (2026-11-27): pools, members, enrolment, heartbeats, jobs, events,
//     tokens, zones and records.
package api

import (
	"encoding/json"
	"time"
)

// ProtocolVersion is sent by agents in every heartbeat. Protocol 2 adds
// Heartbeat.RunningJobs; protocol 3 agents take a rotated credential from
// HeartbeatReply.NewCredential.
const ProtocolVersion = 3

// Member states, in the order a member normally moves through them.
const (
	StatusPending = "pending" // enrolled or added, no heartbeat seen yet
	StatusHealthy = "healthy" // heartbeats arrive on time
	StatusSuspect = "suspect" // missed heartbeats for 2× its interval
	StatusDown    = "down"    // silent for longer than the pool's heartbeat timeout
)

// Failback modes of a pool.
const (
	FailbackManual = "manual"
	FailbackAuto   = "auto"
)

// ErrorBody is the body of every error response: {"error":{"code","message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong in a machine-readable code and a message
// for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Pool is a set of members that share failover DNS and settings.
type Pool struct {
	Name             string    `json:"name"`
	Preset           string    `json:"preset"`
	Description      string    `json:"description,omitempty"`
	FailoverRecord   string    `json:"failover_record,omitempty"`
	DNSProvider      string    `json:"dns_provider,omitempty"` // where the failover record is published; "" = the built-in zones
	FailoverDelay    Duration  `json:"failover_delay"`
	TTL              int       `json:"ttl"`
	Failback         string    `json:"failback"`
	HeartbeatTimeout Duration  `json:"heartbeat_timeout"`
	Hook             string    `json:"hook,omitempty"`
	ActiveMember     string    `json:"active_member,omitempty"`
	MemberCount      int       `json:"member_count"`
	HealthyCount     int       `json:"healthy_count"`
	PendingCount     int       `json:"pending_count"` // members with no heartbeat yet (not enrolled, or enrolled and silent since)
	Banner           *Banner   `json:"banner,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Banner is the notice of a pool's latest failover. Until an operator
// acknowledges it the dashboard shows it in full; acknowledged, it shrinks
// to one line, until the next failover replaces it.
type Banner struct {
	Message        string     `json:"message"`
	From           string     `json:"from,omitempty"`
	To             string     `json:"to,omitempty"`
	At             time.Time  `json:"at"`
	EventID        int64      `json:"event_id,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"` // a dashboard user, or "api"
}

// Open reports whether b is a failover not yet acknowledged.
func (b *Banner) Open() bool { return b != nil && b.AcknowledgedAt == nil }

// PoolCreate is the body of POST /api/v1/pools. Zero values take defaults.
type PoolCreate struct {
	Name             string   `json:"name"`
	Preset           string   `json:"preset,omitempty"`
	Description      string   `json:"description,omitempty"`
	FailoverRecord   string   `json:"failover_record,omitempty"`
	DNSProvider      string   `json:"dns_provider,omitempty"` // a provider of /api/v1/dns/providers; "" = the built-in zones
	FailoverDelay    Duration `json:"failover_delay,omitempty"`
	TTL              int      `json:"ttl,omitempty"`
	Failback         string   `json:"failback,omitempty"`
	HeartbeatTimeout Duration `json:"heartbeat_timeout,omitempty"`
	Hook             string   `json:"hook,omitempty"`
}

// PoolUpdate is the body of PATCH /api/v1/pools/{pool}; nil fields are kept.
type PoolUpdate struct {
	Description      *string   `json:"description,omitempty"`
	FailoverRecord   *string   `json:"failover_record,omitempty"`
	DNSProvider      *string   `json:"dns_provider,omitempty"` // "" goes back to the built-in zones
	FailoverDelay    *Duration `json:"failover_delay,omitempty"`
	TTL              *int      `json:"ttl,omitempty"`
	Failback         *string   `json:"failback,omitempty"`
	HeartbeatTimeout *Duration `json:"heartbeat_timeout,omitempty"`
	Hook             *string   `json:"hook,omitempty"`
}

// PoolDeleteResult says what a pool deletion removed (or, refused, would remove).
type PoolDeleteResult struct {
	Pool           string   `json:"pool"`
	RemovedMembers []string `json:"removed_members"`
}

// Location places a member on the dashboard's map.
type Location struct {
	Lat  *float64 `json:"lat,omitempty"`
	Lon  *float64 `json:"lon,omitempty"`
	Text string   `json:"text,omitempty"`
}

// Member is one enrolled (or about to be enrolled) server of a pool.
type Member struct {
	Pool            string     `json:"pool"`
	Name            string     `json:"name"`
	Address         string     `json:"address"`
	AllowedCIDRs    []string   `json:"allowed_cidrs"`
	ProbeURL        string     `json:"probe_url,omitempty"`
	Location        Location   `json:"location"`
	Role            string     `json:"role"`
	Profile         string     `json:"profile"` // standard, mail, dns or database (api/links.go)
	Priority        int        `json:"priority"`
	ShellEnabled    bool       `json:"shell_enabled"`
	Status          string     `json:"status"`
	Active          bool       `json:"active"`
	Enrolled        bool       `json:"enrolled"`
	LastHeartbeatAt *time.Time `json:"last_heartbeat_at"`
	HealthySince    *time.Time `json:"healthy_since,omitempty"`
	HeartbeatEvery  Duration   `json:"heartbeat_interval"`
	AgentVersion    string     `json:"agent_version,omitempty"`
	Outdated        bool       `json:"outdated"` // the agent is older than its server (docs/agents.md, "Versions")
	Facts           Facts      `json:"facts"`
	Stack           Stack      `json:"stack"`
	Metrics         *Metrics   `json:"metrics,omitempty"`
	// Credential describes the agent's credential (never the credential
	// itself); nil while the member has none.
	Credential *CredentialInfo `json:"credential,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// CredentialInfo is the life of a member's agent credential.
type CredentialInfo struct {
	IssuedAt *time.Time `json:"issued_at,omitempty"`
	// Rotation is "" (none under way), "requested" (at the next heartbeat)
	// or "issued" (handed to the agent, not used yet).
	Rotation string `json:"rotation,omitempty"`
	// NextRotationAt is when it rotates by itself (nil: never).
	NextRotationAt *time.Time `json:"next_rotation_at,omitempty"`
	// PreviousValidUntil is when the credential it replaced stops working.
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// CredentialRotation answers a rotation request: the members whose agents
// take a new credential with their next heartbeat.
type CredentialRotation struct {
	Members []string `json:"members"`
}

// CredentialRevoke is the body of POST .../members/{member}/revoke-credential.
type CredentialRevoke struct {
	// Force revokes the credential of the pool's active member, whose
	// heartbeats then stop: it turns down and the pool fails over.
	Force bool `json:"force,omitempty"`
}

// MemberCreate is the body of POST /api/v1/pools/{pool}/members.
type MemberCreate struct {
	Name         string   `json:"name"`
	Address      string   `json:"address"`
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty"`
	ProbeURL     string   `json:"probe_url,omitempty"`
	Location     Location `json:"location,omitempty"`
	Role         string   `json:"role,omitempty"`
	Priority     int      `json:"priority,omitempty"`
	ShellEnabled bool     `json:"shell_enabled,omitempty"`
	// SecretTTL is how long the enrolment secret stays valid (default 24h).
	SecretTTL Duration `json:"secret_ttl,omitempty"`
}

// MemberUpdate is the body of PATCH /api/v1/pools/{pool}/members/{member}.
type MemberUpdate struct {
	Address      *string   `json:"address,omitempty"`
	AllowedCIDRs *[]string `json:"allowed_cidrs,omitempty"`
	ProbeURL     *string   `json:"probe_url,omitempty"`
	Location     *Location `json:"location,omitempty"`
	Role         *string   `json:"role,omitempty"`
	Priority     *int      `json:"priority,omitempty"`
	ShellEnabled *bool     `json:"shell_enabled,omitempty"`
}

// MemberAdded is the answer to a member creation or a secret regeneration:
// the member and its one-time enrolment secret, shown only this once.
type MemberAdded struct {
	Member           Member    `json:"member"`
	EnrollmentSecret string    `json:"enrollment_secret"`
	SecretExpiresAt  time.Time `json:"secret_expires_at"`
	// InstallCommand is the one-line agent install with this secret,
	// pinned to the server's TLS key; empty when the server offers no
	// agent downloads or speaks plain HTTP.
	InstallCommand string `json:"install_command,omitempty"`
}

// SecretCreate is the optional body of POST .../enrollment-secret.
type SecretCreate struct {
	TTL Duration `json:"ttl,omitempty"`
}

// MakeActive is the body of POST .../make-active.
type MakeActive struct {
	Force bool `json:"force,omitempty"`
}

// Facts describe the machine an agent runs on; sent when they change.
type Facts struct {
	Hostname      string `json:"hostname,omitempty"`
	OS            string `json:"os,omitempty"`
	Platform      string `json:"platform,omitempty"`
	PlatformVer   string `json:"platform_version,omitempty"`
	Kernel        string `json:"kernel,omitempty"`
	Arch          string `json:"arch,omitempty"`
	CPUCount      int    `json:"cpu_count,omitempty"`
	CPUModel      string `json:"cpu_model,omitempty"`
	MemTotalBytes uint64 `json:"mem_total_bytes,omitempty"`
	BootTime      int64  `json:"boot_time,omitempty"`
}

// Stack is what the agent detected on its server. Each component is reported
// as found, never guessed: an absent component has Detected=false.
type Stack struct {
	CPanel          *Component `json:"cpanel,omitempty"`
	OpenLiteSpeed   *Component `json:"openlitespeed,omitempty"`
	MariaDB         *Component `json:"mariadb,omitempty"`
	Galera          *Galera    `json:"galera,omitempty"`
	HAProxy         *Component `json:"haproxy,omitempty"`
	Exim            *Component `json:"exim,omitempty"`
	Postfix         *Component `json:"postfix,omitempty"`
	Dovecot         *Component `json:"dovecot,omitempty"`
	Firewall        *Firewall  `json:"firewall,omitempty"`
	PendingUpdates  *int       `json:"pending_updates,omitempty"`
	SecurityUpdates *int       `json:"security_updates,omitempty"`
}

// Component is one piece of server software the agent looked for.
type Component struct {
	Detected bool   `json:"detected"`
	Version  string `json:"version,omitempty"`
	Running  bool   `json:"running"`
	Flavor   string `json:"flavor,omitempty"` // e.g. "mysql" or "mariadb"
}

// Galera reports a MariaDB Galera node as seen through wsrep status variables.
type Galera struct {
	Enabled     bool   `json:"enabled"`
	Ready       bool   `json:"ready"`
	ClusterSize int    `json:"cluster_size,omitempty"`
	State       string `json:"state,omitempty"`
}

// Firewall reports which packet filter front-ends are present and active.
type Firewall struct {
	Detected bool     `json:"detected"`
	Kinds    []string `json:"kinds,omitempty"` // nftables, iptables, csf
	Active   bool     `json:"active"`
}

// Metrics is one heartbeat's measurement of the server.
type Metrics struct {
	UptimeSeconds uint64      `json:"uptime_seconds"`
	Load1         float64     `json:"load1"`
	Load5         float64     `json:"load5"`
	Load15        float64     `json:"load15"`
	CPUPercent    float64     `json:"cpu_percent"`
	MemTotal      uint64      `json:"mem_total"`
	MemUsed       uint64      `json:"mem_used"`
	MemPercent    float64     `json:"mem_percent"`
	Disks         []DiskUsage `json:"disks,omitempty"`
	NetRxBytes    uint64      `json:"net_rx_bytes"`
	NetTxBytes    uint64      `json:"net_tx_bytes"`
}

// DiskUsage is the usage of one mounted filesystem.
type DiskUsage struct {
	Mount   string  `json:"mount"`
	FSType  string  `json:"fstype,omitempty"`
	Total   uint64  `json:"total"`
	Used    uint64  `json:"used"`
	Percent float64 `json:"percent"`
}

// Heartbeat is what an agent posts every interval.
type Heartbeat struct {
	Protocol     int      `json:"protocol"`
	AgentVersion string   `json:"agent_version"`
	Interval     Duration `json:"interval"`
	Metrics      Metrics  `json:"metrics"`
	// Facts and Stack are sent on the first beat and whenever they change.
	Facts *Facts `json:"facts,omitempty"`
	Stack *Stack `json:"stack,omitempty"`
	// RunningJobs (protocol 2) lists the jobs this agent process is running.
	// The server renews their leases and hands the member's other running
	// jobs, lost when a previous agent process died, out again at once
	// instead of waiting for their leases to expire.
	RunningJobs []int64 `json:"running_jobs"`
}

// HeartbeatReply tells the agent how the server sees it.
type HeartbeatReply struct {
	Status      string    `json:"status"`
	ServerTime  time.Time `json:"server_time"`
	JobsPending int       `json:"jobs_pending"`
	// SendFacts asks the agent to include facts and stack in its next beat.
	SendFacts bool `json:"send_facts,omitempty"`
	// ServerVersion is the server's poolctl version; ReleaseKey the
	// "ed25519:..." public key its agent releases are signed with (empty
	// when it signs none). An agent enrolled before keys were pinned pins
	// this one on its first accepted heartbeat.
	ServerVersion string `json:"server_version,omitempty"`
	ReleaseKey    string `json:"release_key,omitempty"`
	// NewCredential (protocol 3) replaces the agent's credential: the agent
	// saves it, then uses it for every request; the one it replaces keeps
	// working for a short overlap after the new one is first used. Sent
	// again with every beat until the agent uses it.
	NewCredential string `json:"new_credential,omitempty"`
}

// EnrollRequest is posted by `poolctl agent enroll`.
type EnrollRequest struct {
	Secret       string `json:"secret"`
	Hostname     string `json:"hostname,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`
}

// EnrollResponse carries the agent's own credential; it is shown only once.
type EnrollResponse struct {
	Pool              string   `json:"pool"`
	Member            string   `json:"member"`
	Token             string   `json:"token"`
	HeartbeatInterval Duration `json:"heartbeat_interval"`
	CAPEM             string   `json:"ca_pem,omitempty"`
	// ReleaseKey is the public key ("ed25519:...") the agent pins: it
	// accepts only updates signed with it. ServerVersion is the server's.
	ReleaseKey    string `json:"release_key,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Job is a unit of remote work for an agent.
type Job struct {
	ID          int64           `json:"id"`
	Pool        string          `json:"pool"`
	Member      string          `json:"member"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args,omitempty"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"max_attempts"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       string          `json:"error,omitempty"`
	LeaseUntil  *time.Time      `json:"lease_until,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
}

// JobCreate is the body of POST /api/v1/pools/{pool}/members/{member}/jobs.
type JobCreate struct {
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
}

// JobLogLine is one line of a job's log.
type JobLogLine struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	Line string    `json:"line"`
}

// JobLogAppend is posted by an agent while it runs a job.
type JobLogAppend struct {
	Lines []string `json:"lines"`
}

// JobResult is posted by an agent when a job ends.
type JobResult struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Event is an append-only record of something that happened.
type Event struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Kind    string          `json:"kind"`
	Pool    string          `json:"pool,omitempty"`
	Member  string          `json:"member,omitempty"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Token is an admin API token as listed; the secret is never shown again.
type Token struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Scope is admin (the whole API) or cluster (the DNS cluster API only).
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// TokenCreate is the body of POST /api/v1/tokens.
type TokenCreate struct {
	Name string   `json:"name"`
	TTL  Duration `json:"ttl,omitempty"`
	// Scope is admin (default) or cluster.
	Scope string `json:"scope,omitempty"`
}

// TokenCreated carries a new token's secret; shown only once.
type TokenCreated struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// Zone is a DNS zone served by poolctl.
type Zone struct {
	Name        string    `json:"name"`
	Serial      uint32    `json:"serial"`
	RecordCount int       `json:"record_count"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ZoneCreate is the body of POST /api/v1/zones.
type ZoneCreate struct {
	Name string `json:"name"`
	// Nameservers and Email fill the SOA and apex NS records; defaults
	// ns1.ZONE and hostmaster.ZONE.
	Nameservers []string `json:"nameservers,omitempty"`
	Email       string   `json:"email,omitempty"`
}

// Record is one resource record of a zone. Name is relative to the zone
// ("@" for the apex) or an FQDN inside it; Value is the RDATA in zone-file
// presentation format.
type Record struct {
	ID    int64  `json:"id"`
	Zone  string `json:"zone"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	TTL   int    `json:"ttl"`
	Value string `json:"value"`
	// Managed is set on records that poolctl maintains itself (failover).
	Managed string `json:"managed,omitempty"`
}

// RecordCreate is the body of POST /api/v1/zones/{zone}/records.
type RecordCreate struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	TTL   int    `json:"ttl,omitempty"`
	Value string `json:"value"`
}

// ZoneImport is the body of POST /api/v1/zones/{zone}/import.
type ZoneImport struct {
	Text    string `json:"text"`
	Replace bool   `json:"replace,omitempty"`
}

// ZoneImportResult says what an import changed.
type ZoneImportResult struct {
	Zone string `json:"zone"`
	// Created is set when the zone did not exist: it was made from the
	// file, its SOA included (Serial is the SOA's serial then).
	Created bool   `json:"created,omitempty"`
	Serial  uint32 `json:"serial,omitempty"`
	Added   int    `json:"added"` // records, not counting the SOA
	Removed int    `json:"removed"`
}

// List wraps every list response so fields can be added later.
type List[T any] struct {
	Items []T `json:"items"`
	// NextAfter is the cursor for the next page, when there may be one.
	NextAfter int64 `json:"next_after,omitempty"`
	// Next is the cursor of lists ordered by text (objects): pass it as
	// ?after= for the next page; absent on the last page.
	Next string `json:"next,omitempty"`
}

// ClusterZone is a zone as one member of a DNS cluster sends it to another:
// its zone file and its SOA serial (PUT /api/v1/cluster/zones/{zone}).
type ClusterZone struct {
	Serial uint32 `json:"serial"`
	Text   string `json:"text"`
	// History lists the serials this version descends from on the sender,
	// newest first (its recent changes): a member that another server
	// writes to takes this version over that one only when it descends
	// from the version there.
	History []uint32 `json:"history,omitempty"`
	// DNSSEC, when the zone is signed, carries its keys (private parts
	// included) so that every member signs with the same keys.
	DNSSEC *ClusterDNSSEC `json:"dnssec,omitempty"`
	// Deltas, when set instead of Text, are the changes from serial
	// Deltas[0].From to Serial, in order: what a member that has that
	// serial applies (the operation log). A member at another serial
	// answers 409 and is sent the whole zone.
	Deltas []ClusterDelta `json:"deltas,omitempty"`
}

// ClusterDelta is one change of a zone: the records removed and added
// between two serials (the SOA included).
type ClusterDelta struct {
	From    uint32          `json:"from"`
	To      uint32          `json:"to"`
	Removed []ClusterRecord `json:"removed"`
	Added   []ClusterRecord `json:"added"`
}

// ClusterRecord is a record in a ClusterDelta: an absolute owner name, the
// type, TTL and RDATA in presentation form.
type ClusterRecord struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data"`
}

// ClusterApplied says what a cluster write changed.
type ClusterApplied struct {
	Zone    string `json:"zone"`
	Serial  uint32 `json:"serial"`
	Changed bool   `json:"changed"`           // false: it was here already
	Created bool   `json:"created,omitempty"` // the zone did not exist
}

// ClusterZoneSerial is one zone a cluster member serves.
type ClusterZoneSerial struct {
	Zone   string `json:"zone"`
	Serial uint32 `json:"serial"`
}

// ClusterHello is GET /api/v1/cluster/hello: what a member checks before
// it adds this server to its cluster.
type ClusterHello struct {
	Version string `json:"version"`
	// Node is "dns-node" for a nameserver-only node, "server" otherwise.
	Node  string              `json:"node"`
	Zones []ClusterZoneSerial `json:"zones"`
}
