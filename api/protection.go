package api

import "time"

// Account providers.
const (
	ProviderLinux  = "linux"
	ProviderCPanel = "cpanel"
)

// Account is a hosting account discovered on a member by its agent's
// account provider: a home directory (files and Maildir), MariaDB databases
// and users named with the account's prefix, and the domains it owns.
type Account struct {
	Name      string   `json:"name"`
	Provider  string   `json:"provider"` // linux | cpanel
	Home      string   `json:"home"`     // absolute path on the member
	UID       int      `json:"uid"`
	GID       int      `json:"gid"`
	Domains   []string `json:"domains"`
	Databases []string `json:"databases"`
	DBUsers   []string `json:"db_users"`
	Mailboxes int      `json:"mailboxes"`  // Maildir folders found under the home
	DiskBytes int64    `json:"disk_bytes"` // apparent size of the home tree

	// Filled by the server.
	Pool         string     `json:"pool,omitempty"`
	Member       string     `json:"member,omitempty"`
	DiscoveredAt *time.Time `json:"discovered_at,omitempty"`
	// Protection is the id of the protection replicating this account from
	// this member, 0 when none.
	Protection int64 `json:"protection,omitempty"`
	// LastGoodAt is when the last successful restore of it on its standby
	// finished; RPOSeconds is its age. Both absent when never replicated.
	LastGoodAt *time.Time `json:"last_good_at,omitempty"`
	RPOSeconds *int64     `json:"rpo_seconds,omitempty"`
}

// AccountList is the answer of GET /pools/{pool}/members/{member}/accounts.
// Stale is set when the member's agent did not answer and the accounts are
// the ones last discovered.
type AccountList struct {
	Items        []Account  `json:"items"`
	Stale        bool       `json:"stale"`
	DiscoveredAt *time.Time `json:"discovered_at,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// Protection states.
const (
	ProtectionActive = "active"
	ProtectionPaused = "paused"
	// ProtectionServingStandby: the account's DNS points at a member other
	// than its source (its standby, after a failover or a manual cut).
	// That member serves the live copy, so replication from the source is
	// paused: runs are refused until the protection is reversed or the DNS
	// is cut back to the source. Protection.Blocked says why.
	ProtectionServingStandby = "serving_standby"
)

// Replication run states.
const (
	RunQueued    = "queued"
	RunSnapshot  = "snapshot" // the source is snapshotting and uploading
	RunRestore   = "restore"  // the standby is restoring
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	// RunNeedsConfirmation: the snapshot changed more of the account than
	// the protection's guard allows (Run.Guard says how much), so the
	// standby's copy was not touched; the run waits for
	// POST /runs/{id}/confirm (the restore proceeds) or /reject.
	RunNeedsConfirmation = "needs_confirmation"
	// RunRejected: an operator rejected a run that needed confirmation;
	// the standby kept its copy.
	RunRejected = "rejected"
)

// Guard decisions on a run that needs confirmation.
const (
	GuardConfirmed = "confirmed"
	GuardRejected  = "rejected"
)

// Default guard thresholds of a protection, in percent (0 turns one off).
const (
	DefaultGuardChanged        = 30
	DefaultGuardIncompressible = 80
)

// Protection replicates one account from its source member to a standby
// member of the same pool on a schedule.
type Protection struct {
	ID       int64    `json:"id"`
	Pool     string   `json:"pool"`
	Account  string   `json:"account"`
	Source   string   `json:"source"`
	Standby  string   `json:"standby"`
	Schedule string   `json:"schedule"` // cron (UTC) or a shortcut: 1h 2h 3h 4h 6h 8h 12h 1d 1w 1mo
	Records  []string `json:"records"`  // record types cut to the standby: A AAAA MX SRV
	TTL      int      `json:"ttl"`      // TTL of the cut records
	Status   string   `json:"status"`   // active | paused | serving_standby
	// Databases replicates the account's MariaDB databases and users too
	// (default true).
	Databases bool `json:"databases"`
	// GuardChanged: a run that would delete or change more than this
	// percentage of the account's files waits for confirmation before it
	// replaces the standby's copy; GuardIncompressible: likewise when more
	// than this percentage of the files' bytes were replaced by content
	// that does not compress (the sign of encryption). 1..100, 0 = off.
	GuardChanged        int `json:"guard_changed"`
	GuardIncompressible int `json:"guard_incompressible"`

	NextRunAt  *time.Time `json:"next_run_at,omitempty"`
	LastRun    *Run       `json:"last_run,omitempty"`
	LastGoodAt *time.Time `json:"last_good_at,omitempty"`
	RPOSeconds *int64     `json:"rpo_seconds,omitempty"`
	// RPOExceeded is set while the RPO is more than twice the schedule's
	// interval.
	RPOExceeded bool   `json:"rpo_exceeded"`
	CutTo       string `json:"cut_to,omitempty"` // member the account's DNS points at after a cut
	// CutAt and CutReason say when and why the DNS was cut to CutTo
	// ("automatically after node1 failed", "by an operator"); CutAt is
	// absent for cuts older than the server's record of them.
	CutAt     *time.Time `json:"cut_at,omitempty"`
	CutReason string     `json:"cut_reason,omitempty"`
	// Blocked is set while runs are refused (status serving_standby): the
	// reason, with the commands that resolve it.
	Blocked string `json:"blocked,omitempty"`
	// Paused is set while the schedule is paused, whatever the status.
	Paused bool `json:"paused"`
	// ReversedAt is when source and standby were last swapped (poolctl
	// protection reverse); before its first good run the RPO counts from
	// then.
	ReversedAt *time.Time `json:"reversed_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// ProtectionCreate is the body of POST /pools/{pool}/protections.
type ProtectionCreate struct {
	Account   string   `json:"account"`
	Source    string   `json:"source"`
	Standby   string   `json:"standby"`
	Schedule  string   `json:"schedule,omitempty"` // default 1d
	Records   []string `json:"records,omitempty"`  // default A AAAA MX
	TTL       int      `json:"ttl,omitempty"`      // default 300
	Databases *bool    `json:"databases,omitempty"`
	Paused    bool     `json:"paused,omitempty"`
	// Guard thresholds in percent, 0..100 (0 = off); absent: the defaults
	// DefaultGuardChanged and DefaultGuardIncompressible.
	GuardChanged        *int `json:"guard_changed,omitempty"`
	GuardIncompressible *int `json:"guard_incompressible,omitempty"`
}

// ProtectionUpdate is the body of PATCH /protections/{id}; absent fields
// are unchanged.
type ProtectionUpdate struct {
	Schedule *string   `json:"schedule,omitempty"`
	Records  *[]string `json:"records,omitempty"`
	TTL      *int      `json:"ttl,omitempty"`
	// Guard thresholds in percent, 0..100 (0 = off).
	GuardChanged        *int `json:"guard_changed,omitempty"`
	GuardIncompressible *int `json:"guard_incompressible,omitempty"`
}

// Run is one replication run of a protection.
type Run struct {
	ID         int64     `json:"id"`
	Protection int64     `json:"protection"`
	Status     string    `json:"status"`
	Trigger    string    `json:"trigger"` // schedule | manual
	SourceJob  int64     `json:"source_job,omitempty"`
	StandbyJob int64     `json:"standby_job,omitempty"`
	Stats      *RunStats `json:"stats,omitempty"`
	// Guard holds the guard's figures when the snapshot could be compared
	// with the last good copy; its Reasons say why a run needs
	// confirmation.
	Guard      *RunGuard  `json:"guard,omitempty"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// RunGuard is what the guard against replicating a disaster measured in a
// run's snapshot of the account's files, against the last good copy.
type RunGuard struct {
	FilesTotal     int     `json:"files_total"` // regular files of the last good copy
	FilesDeleted   int     `json:"files_deleted"`
	FilesChanged   int     `json:"files_changed"`
	ChangedPercent float64 `json:"changed_percent"` // (deleted + changed) / total
	BytesTotal     int64   `json:"bytes_total"`     // bytes of those files
	// BytesIncompressible: bytes of changed files whose new content did
	// not compress; IncompressiblePercent is their share of BytesTotal.
	BytesIncompressible   int64   `json:"bytes_incompressible"`
	IncompressiblePercent float64 `json:"incompressible_percent"`
	// The thresholds applied (0 = off).
	GuardChanged        int `json:"guard_changed"`
	GuardIncompressible int `json:"guard_incompressible"`
	// Reasons is empty when the run was within the thresholds.
	Reasons []string `json:"reasons,omitempty"`
	// Decision is an operator's answer to a run that needed confirmation:
	// confirmed or rejected.
	Decision string `json:"decision,omitempty"`
}

// RunStats sum up a run; the source fills the snapshot half, the standby
// the restore half.
type RunStats struct {
	Files         int   `json:"files"`
	FilesRead     int   `json:"files_read"`
	FilesReused   int   `json:"files_reused"`
	BytesRead     int64 `json:"bytes_read"`
	ChunksTotal   int   `json:"chunks_total"`
	ChunksNew     int   `json:"chunks_new"`
	ChunksReused  int   `json:"chunks_reused"`
	BytesNew      int64 `json:"bytes_new"`
	BytesUploaded int64 `json:"bytes_uploaded"`
	Databases     int   `json:"databases"`
	DBUsers       int   `json:"db_users"`
	SnapshotMS    int64 `json:"snapshot_ms"`

	ChunksFetched  int   `json:"chunks_fetched"`
	ChunksLocal    int   `json:"chunks_local"` // taken from the standby's own copy
	BytesFetched   int64 `json:"bytes_fetched"`
	BytesWritten   int64 `json:"bytes_written"`
	FilesLinked    int   `json:"files_linked"`
	RestoreMS      int64 `json:"restore_ms"`
	ChunksDeleted  int   `json:"chunks_deleted"`
	TotalMS        int64 `json:"total_ms"`
	ManifestFiles  int   `json:"manifest_files"`
	ManifestBytes  int64 `json:"manifest_bytes"`
	ManifestChunks int   `json:"manifest_chunks"`

	// The account's files against the last good copy's manifest (see
	// replication.Change); all zero on a full snapshot.
	FilesBefore         int   `json:"files_before,omitempty"`
	FilesDeleted        int   `json:"files_deleted,omitempty"`
	FilesChanged        int   `json:"files_changed,omitempty"`
	BytesBefore         int64 `json:"bytes_before,omitempty"`
	BytesIncompressible int64 `json:"bytes_incompressible,omitempty"`
}

// RunLogLine is one line of a run's log: the engine's own steps and the
// lines of the source and standby jobs, in order. It has a job log line's
// shape.
type RunLogLine = JobLogLine

// DNSCut is the body of POST /pools/{pool}/accounts/{account}/cut-dns.
type DNSCut struct {
	To     string `json:"to"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// DNSChange is one record rewritten (or, in a dry run, to be rewritten) by a cut.
type DNSChange struct {
	Zone string `json:"zone"`
	Name string `json:"name"`
	Type string `json:"type"`
	Old  string `json:"old"`
	New  string `json:"new"`
	TTL  int    `json:"ttl"`
}

// DNSCutResult lists a cut's changes.
type DNSCutResult struct {
	Pool    string      `json:"pool"`
	Account string      `json:"account"`
	From    string      `json:"from"`
	To      string      `json:"to"`
	DryRun  bool        `json:"dry_run"`
	Changes []DNSChange `json:"changes"`
}

// Job kinds of account protection, run by agents.
const (
	KindAccountList         = "account.list"
	KindReplicationSnapshot = "replication.snapshot"
	KindReplicationRestore  = "replication.restore"
)

// AccountListResult is the result of an account.list job.
type AccountListResult struct {
	Accounts []Account `json:"accounts"`
}

// SnapshotArgs are the arguments of a replication.snapshot job, run on the
// source member. The agent fetches the pool's chunk key with
// GET /agent/protections/{protection}/key and stores chunks under
// Prefix+"chunks/" and its manifests under Prefix+"manifests/" through the
// agent object API.
type SnapshotArgs struct {
	Protection int64  `json:"protection"`
	Run        int64  `json:"run"`
	Account    string `json:"account"`
	Prefix     string `json:"prefix"` // "protections/{id}/"
	Databases  bool   `json:"databases"`
	// Previous names the manifests of the last successful run (object keys),
	// empty on a first run or after the standby's copy was found damaged.
	// The chunks they list are held by the standby and are not uploaded.
	PreviousFiles     string `json:"previous_files,omitempty"`
	PreviousDatabases string `json:"previous_databases,omitempty"`
}

// SnapshotResult is the result of a replication.snapshot job.
type SnapshotResult struct {
	FilesManifest     string   `json:"files_manifest"`               // object key
	DatabasesManifest string   `json:"databases_manifest,omitempty"` // object key
	Account           Account  `json:"account"`
	Stats             RunStats `json:"stats"`
}

// RestoreArgs are the arguments of a replication.restore job, run on the
// standby member.
type RestoreArgs struct {
	Protection        int64   `json:"protection"`
	Run               int64   `json:"run"`
	Account           Account `json:"account"` // as the source saw it
	Prefix            string  `json:"prefix"`
	FilesManifest     string  `json:"files_manifest"`
	DatabasesManifest string  `json:"databases_manifest,omitempty"`
}

// RestoreResult is the result of a replication.restore job.
type RestoreResult struct {
	Home  string   `json:"home"`
	Stats RunStats `json:"stats"`
}

// ChunkKey is the pool's chunk key, as GET /agent/protections/{id}/key
// answers it to the protection's source and standby.
type ChunkKey struct {
	Key string `json:"key"` // base64 of 32 bytes
}

// ObjectInfo describes a stored object in GET /agent/objects?prefix=.
type ObjectInfo struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// Object batches: POST /agent/objects-batch stores many small objects in
// one request. The body (application/octet-stream) is a sequence of
// frames, each a 2-byte big-endian key length, the key, a 4-byte
// big-endian data length and the data. At most MaxBatchObjects objects and
// MaxBatchBytes bytes of body per request.
const (
	MaxBatchObjects = 4096
	MaxBatchBytes   = 16 << 20
)

// Object is one object of a batch.
type Object struct {
	Key  string
	Data []byte
}

// AppendObjectFrame appends o's frame to b.
func AppendObjectFrame(b []byte, o Object) []byte {
	b = append(b, byte(len(o.Key)>>8), byte(len(o.Key)))
	b = append(b, o.Key...)
	n := len(o.Data)
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, o.Data...)
}

// ReadObjectFrame reads one frame from b and returns the object and the
// rest of b; ok is false when b does not start with a whole frame. The
// object's data aliases b.
func ReadObjectFrame(b []byte) (o Object, rest []byte, ok bool) {
	if len(b) < 2 {
		return o, b, false
	}
	kl := int(b[0])<<8 | int(b[1])
	if len(b) < 2+kl+4 {
		return o, b, false
	}
	o.Key = string(b[2 : 2+kl])
	p := b[2+kl:]
	n := int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3])
	if n < 0 || len(p) < 4+n {
		return o, b, false
	}
	o.Data = p[4 : 4+n]
	return o, p[4+n:], true
}

// PreflightRefused starts the error of a replication job that an agent
// refused before writing anything, because a filesystem lacks the room
// (space or inodes) the job needs; the message gives both figures.
const PreflightRefused = "refused before writing anything"
