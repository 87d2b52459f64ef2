package api

import (
	"strings"
	"time"
)

// AgentUpdateKind is the job kind that replaces an agent's binary with the
// one its server offers.
const AgentUpdateKind = "agent.update"

// ReleaseKeyPrefix starts the text form of a release public key:
// "ed25519:" and the standard base64 of the 32-byte key.
const ReleaseKeyPrefix = "ed25519:"

// ReleaseMessage is the canonical message an agent release's ed25519
// signature covers. Both the signer (server or `poolctl release sign`) and
// the agent build it here, so they cannot disagree on a byte.
func ReleaseMessage(version, goos, goarch, sha256Hex string) []byte {
	return []byte("poolctl-agent-release v1\n" + version + "\n" + goos + "/" + goarch + "\n" + strings.ToLower(sha256Hex) + "\n")
}

// AgentUpdateArgs are the arguments of an agent.update job.
type AgentUpdateArgs struct {
	Version   string `json:"version"`   // the version the binary reports
	OS        string `json:"os"`        // GOOS of the binary
	Arch      string `json:"arch"`      // GOARCH of the binary
	SHA256    string `json:"sha256"`    // lower-case hex
	Size      int64  `json:"size"`      // bytes
	Signature string `json:"signature"` // base64 ed25519 over ReleaseMessage
	// Path is the download on the agent's own server, e.g.
	// /api/v1/agent/releases/linux/amd64.
	Path string `json:"path"`
	// RollbackAfter is how long the new binary has to record a heartbeat
	// on its version before the watchdog restores the previous one (1m).
	RollbackAfter Duration `json:"rollback_after,omitempty"`
}

// AgentUpdateResult is the result of an agent.update job, reported by the
// new agent process after its first accepted heartbeat.
type AgentUpdateResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Took is from the job's start to the new version's first heartbeat.
	Took Duration `json:"took"`
}

// AgentUpdate is the optional body of POST .../update-agent and
// POST /api/v1/pools/{pool}/update-agents.
type AgentUpdate struct {
	// RollbackAfter overrides the watchdog's wait (10s–10m; default 1m).
	RollbackAfter Duration `json:"rollback_after,omitempty"`
	// Force queues the update even when the agent runs the offered version.
	Force bool `json:"force,omitempty"`
}

// Rollout states.
const (
	RolloutRunning   = "running"
	RolloutSucceeded = "succeeded"
	RolloutFailed    = "failed"
	RolloutCancelled = "cancelled"
)

// Rollout is a rolling agent update across a pool: one member at a time,
// each waited for until it heartbeats on the new version.
type Rollout struct {
	ID      int64           `json:"id"`
	Pool    string          `json:"pool"`
	Version string          `json:"version"` // the target
	Status  string          `json:"status"`  // running, succeeded, failed, cancelled
	Message string          `json:"message,omitempty"`
	Members []RolloutMember `json:"members"`
	// Done counts members updated (or already on the version).
	Done       int        `json:"done"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Rollout member states.
const (
	RolloutMemberPending  = "pending"
	RolloutMemberUpdating = "updating"
	RolloutMemberDone     = "done"
	RolloutMemberFailed   = "failed"
	RolloutMemberSkipped  = "skipped"
)

// RolloutMember is one member's place in a rollout.
type RolloutMember struct {
	Member string `json:"member"`
	Status string `json:"status"` // pending, updating, done, failed, skipped
	From   string `json:"from,omitempty"`
	Job    int64  `json:"job,omitempty"`
	Note   string `json:"note,omitempty"`
}
