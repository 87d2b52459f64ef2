package api

import "time"

// Server profiles: what the operator set a member to serve (Member.Profile).
const (
	ProfileStandard = "standard" // websites, the parent of linked nodes
	ProfileMail     = "mail"     // a linked child serving mail (needs Dovecot and Postfix)
	ProfileDNS      = "dns"
	ProfileDatabase = "database"
)

// Profiles lists the valid profiles.
var Profiles = []string{ProfileStandard, ProfileMail, ProfileDNS, ProfileDatabase}

// Link functions: what a child serves for its parent's accounts.
const FunctionMail = "mail"

// ProfileSet is the body of PUT /api/v1/pools/{pool}/members/{member}/profile.
type ProfileSet struct {
	Profile string `json:"profile"`
}

// Link pairs a parent member with a child serving one function for some of
// the parent's accounts.
type Link struct {
	ID       int64  `json:"id"`
	Pool     string `json:"pool"`
	Parent   string `json:"parent"`
	Child    string `json:"child"`
	Function string `json:"function"`
	// Accounts counts the accounts distributed to the child (retained
	// copies after a dedistribution included).
	Accounts  int       `json:"accounts"`
	CreatedAt time.Time `json:"created_at"`
}

// LinkCreate is the body of POST /api/v1/pools/{pool}/links.
type LinkCreate struct {
	Parent   string `json:"parent"`
	Child    string `json:"child"`
	Function string `json:"function"`
}

// DistributedAccount is an account whose function (mail) a child serves.
type DistributedAccount struct {
	Pool     string `json:"pool"`
	Parent   string `json:"parent"`
	Child    string `json:"child"`
	Account  string `json:"account"`
	Function string `json:"function"`
	// State is distributing, distributed, dedistributing or retained (back
	// on the parent; the child keeps its copy until KeepUntil).
	State     string     `json:"state"`
	Domains   []string   `json:"domains,omitempty"`
	Users     []string   `json:"users,omitempty"`
	KeepUntil *time.Time `json:"keep_until,omitempty"`
	LastRun   int64      `json:"last_run,omitempty"`
	Since     time.Time  `json:"since"`
}

// Distribute is the body of POST .../members/{member}/accounts/{account}/distribute.
type Distribute struct {
	Function string `json:"function"` // mail
	Child    string `json:"child"`
}

// Dedistribute is the body of POST .../members/{member}/accounts/{account}/dedistribute.
type Dedistribute struct {
	Function string `json:"function"` // mail
	// Force dedistributes with the child unreachable (offline for good or
	// compromised): what existed only on the child is lost, and Confirm
	// must repeat the account's name.
	Force   bool   `json:"force,omitempty"`
	Confirm string `json:"confirm,omitempty"`
	// Keep is how long the child keeps its copy as a fallback (default 7 days).
	Keep Duration `json:"keep,omitempty"`
}

// Distribution run directions and states.
const (
	DirDistribute   = "distribute"
	DirDedistribute = "dedistribute"

	DistRunning   = "running"
	DistSucceeded = "succeeded"
	DistFailed    = "failed"
)

// DistributionRun is a resumable run moving an account's mail to a child or
// back. Step names where it is (one of Steps); its log is at
// GET /api/v1/distribution-runs/{id}/log.
type DistributionRun struct {
	ID         int64      `json:"id"`
	Pool       string     `json:"pool"`
	Parent     string     `json:"parent"`
	Child      string     `json:"child"`
	Account    string     `json:"account"`
	Direction  string     `json:"direction"`
	Step       string     `json:"step"`
	StepIndex  int        `json:"step_index"` // 1-based
	Steps      []string   `json:"steps"`
	Status     string     `json:"status"`
	Job        int64      `json:"job,omitempty"` // the agent job in flight
	Forced     bool       `json:"forced,omitempty"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Job kinds of linked nodes, run by agents (internal/agent/mailjobs.go).
const (
	KindMailExport = "mail.export" // parent (or child, dedistributing): the account's mail side and sizes
	KindMailCheck  = "mail.check"  // services and free space for an import
	KindMailImport = "mail.import" // create the account's mail side (idempotent)
	KindMailPack   = "mail.pack"   // upload the account's Maildirs through the object API
	KindMailUnpack = "mail.unpack" // download, verify and merge them
	KindMailProxy  = "mail.proxy"  // parent: apply the proxy (IMAP/POP3) and transport (SMTP) for its children
	KindMailVerify = "mail.verify" // every message listed is present
	KindMailKick   = "mail.kick"   // end the account's open IMAP/POP3 sessions
	KindMailRemove = "mail.remove" // delete the account's mail side
)

// MailJob names the distribution a mail.* job belongs to. A child's agent
// records the link and token at import and refuses every later request
// about the account that does not carry them.
type MailJob struct {
	Link    int64  `json:"link"`
	Run     int64  `json:"run"`
	Token   string `json:"token"`
	Account string `json:"account"`
	// Role is the member's side: "parent" or "child".
	Role string `json:"role"`
}

// MailUser is one mail user of an account.
type MailUser struct {
	Name         string `json:"name"` // full address
	PasswordHash string `json:"password_hash,omitempty"`
	QuotaBytes   int64  `json:"quota_bytes,omitempty"`
}

// MailForwarder forwards From to To; a To starting with "|" pipes to a program.
type MailForwarder struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// AccountMail is an account's mail side as agents export and import it.
type AccountMail struct {
	Account    string            `json:"account"`
	Domains    []string          `json:"domains"`
	Users      []MailUser        `json:"users"`
	Forwarders []MailForwarder   `json:"forwarders,omitempty"`
	Filters    map[string]string `json:"filters,omitempty"` // user → sieve script
}

// MailExportResult is the result of mail.export.
type MailExportResult struct {
	Mail AccountMail `json:"mail"`
	// Bytes and Messages measure the account's Maildirs.
	Bytes    int64 `json:"bytes"`
	Messages int   `json:"messages"`
}

// MailCheckArgs are the args of mail.check: can this member take NeedBytes?
type MailCheckArgs struct {
	MailJob
	NeedBytes int64 `json:"need_bytes"`
}

// MailCheckResult is the result of mail.check.
type MailCheckResult struct {
	Dovecot   bool   `json:"dovecot"`
	Postfix   bool   `json:"postfix"`
	FreeBytes int64  `json:"free_bytes"`
	Path      string `json:"path"` // where free space was measured
	// Ports are where this member's Dovecot and Postfix listen, which a
	// parent's proxy connects to (nil: an agent that does not say; the
	// server's defaults apply).
	Ports *MailPorts `json:"ports,omitempty"`
}

// MailPorts are the ports of a mail member's services (0: the protocol's
// default, 143, 110 and 25).
type MailPorts struct {
	IMAP int `json:"imap,omitempty"`
	POP3 int `json:"pop3,omitempty"`
	SMTP int `json:"smtp,omitempty"`
}

// MailImportArgs are the args of mail.import.
type MailImportArgs struct {
	MailJob
	Mail AccountMail `json:"mail"`
}

// MailPackArgs are the args of mail.pack: upload the Maildirs of Users
// under Prefix, skipping the files listed in the object Skip (a previous
// pass's file list; "" for none).
type MailPackArgs struct {
	MailJob
	Users  []string `json:"users"`
	Prefix string   `json:"prefix"` // "links/runs/{run}/{pass}/"
	Skip   string   `json:"skip,omitempty"`
}

// MailPart is one uploaded part of a Maildir archive.
type MailPart struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// MailPackResult is the result of mail.pack.
type MailPackResult struct {
	Parts []MailPart `json:"parts"`
	// Files is the object key of this pass's file list (one relative path
	// a line, "user/path"), including the files of Skip.
	Files    string `json:"files"`
	Messages int    `json:"messages"` // files packed in this pass
	Bytes    int64  `json:"bytes"`
}

// MailUnpackArgs are the args of mail.unpack.
type MailUnpackArgs struct {
	MailJob
	Parts []MailPart `json:"parts"`
}

// MailUnpackResult is the result of mail.unpack.
type MailUnpackResult struct {
	Written  int   `json:"written"` // files written
	Existing int   `json:"existing"`
	Bytes    int64 `json:"bytes"`
}

// MailProxyArgs are the args of mail.proxy: the whole proxy configuration
// of a parent (every distributed account), generated from the store.
type MailProxyArgs struct {
	MailJob
	Users  []MailProxyUser `json:"users"`
	Routes []MailRoute     `json:"routes"`
	// Kick ends the open sessions of these users after the reload.
	Kick []string `json:"kick,omitempty"`
}

// MailProxyUser proxies a user's IMAP/POP3 logins to Host.
type MailProxyUser struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`      // IMAP; 0: 143
	POP3Port int    `json:"pop3_port,omitempty"` // 0: 110
}

// MailRoute is a Postfix transport: mail for Domain goes to NextHop.
type MailRoute struct {
	Domain  string `json:"domain"`
	NextHop string `json:"next_hop"`
}

// MailVerifyArgs are the args of mail.verify: every file listed in the
// Files objects must be present in the account's Maildirs.
type MailVerifyArgs struct {
	MailJob
	Files []string `json:"files"`
}

// MailVerifyResult is the result of mail.verify.
type MailVerifyResult struct {
	Checked int      `json:"checked"`
	Missing []string `json:"missing,omitempty"` // at most 100
}

// MailUsersArgs are the args of mail.kick and mail.remove.
type MailUsersArgs struct {
	MailJob
	Users []string `json:"users,omitempty"`
}
