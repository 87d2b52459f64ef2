package fleet

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Version skew policy (docs/agents.md, "Versions"). A version is
// MAJOR.MINOR.PATCH with an optional -PRERELEASE and +BUILD (a leading "v"
// is allowed); its line, N, is MAJOR.MINOR. A server of line N accepts
// agents of lines N and N-1: N-1 is MAJOR.(MINOR-1), or, for a MAJOR.0
// server, any line of the previous major. An older agent is refused with
// 426 agent_too_old, a newer one with 409 agent_too_new, at enrolment and
// on every heartbeat; a refused agent may still poll for, run and report
// its agent.update job, so it can catch up. Versions that do not parse
// (hand-built agents, "test") are not checked and never outdated; neither
// is anything when the server's own version does not parse.

// Version is a parsed poolctl version.
type Version struct {
	Major, Minor, Patch int
	Pre                 string // pre-release, e.g. "dev"; sorts before the release
}

// ParseVersion parses MAJOR.MINOR.PATCH[-PRE][+BUILD].
func ParseVersion(s string) (Version, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	s, _, _ = strings.Cut(s, "+")
	core, pre, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, false
		}
		n[i] = v
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], Pre: pre}, true
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Line is N, MAJOR.MINOR.
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare orders versions; a pre-release sorts before its release and
// pre-releases compare as text.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	case v.Pre < w.Pre:
		return -1
	default:
		return 1
	}
}

// Skew says how an agent version stands against a server version.
type Skew int

// The outcomes of CheckSkew.
const (
	SkewUnchecked Skew = iota // one of the versions does not parse
	SkewCurrent               // same or newer release of the server's line
	SkewOutdated              // accepted, but older than the server
	SkewTooOld                // older than line N-1: refused
	SkewTooNew                // a newer line than the server's: refused
)

// CheckSkew applies the version skew policy to an agent version.
func CheckSkew(server, agent string) Skew {
	sv, ok := ParseVersion(server)
	if !ok {
		return SkewUnchecked
	}
	av, ok := ParseVersion(agent)
	if !ok {
		return SkewUnchecked
	}
	switch {
	case av.Major > sv.Major || (av.Major == sv.Major && av.Minor > sv.Minor):
		return SkewTooNew
	case av.Major == sv.Major && av.Minor == sv.Minor:
		if av.Compare(sv) < 0 {
			return SkewOutdated
		}
		return SkewCurrent
	case sv.Minor > 0 && av.Major == sv.Major && av.Minor == sv.Minor-1:
		return SkewOutdated
	case sv.Minor == 0 && av.Major == sv.Major-1:
		return SkewOutdated
	default:
		return SkewTooOld
	}
}

// Accepted names the lines a server version accepts, for messages.
func Accepted(server string) string {
	sv, ok := ParseVersion(server)
	if !ok {
		return "any version"
	}
	if sv.Minor == 0 {
		if sv.Major == 0 {
			return "0.0.x"
		}
		return fmt.Sprintf("%d.x and %d.0.x", sv.Major-1, sv.Major)
	}
	return fmt.Sprintf("%d.%d.x and %d.%d.x", sv.Major, sv.Minor-1, sv.Major, sv.Minor)
}

// SkewError is the refusal of an agent version (nil when it is accepted).
// where names the agent ("the agent of member web1"), fix how to update it.
func SkewError(server, agent, where, fix string) error {
	return skewError(CheckSkew(server, agent), server, agent, where, fix)
}

// refused reports whether the policy refuses an agent of this skew.
func (k Skew) refused() bool { return k == SkewTooOld || k == SkewTooNew }

func skewError(skew Skew, server, agent, where, fix string) error {
	switch skew {
	case SkewTooOld:
		return apperr.New(apperr.AgentTooOld, "%s runs poolctl %s, too old for this server (%s accepts agents %s, see docs/agents.md \"Versions\"); %s",
			where, agent, server, Accepted(server), fix)
	case SkewTooNew:
		return apperr.New(apperr.AgentTooNew, "%s runs poolctl %s, newer than this server (%s): a server cannot know what a later release sends, so it accepts only agents %s; upgrade the server first (servers before agents), or install the server's agent binary",
			where, agent, server, Accepted(server))
	}
	return nil
}

// versionState is the server's version, its release key and what the
// skew policy noticed per member; nil (no SetRelease) turns the policy off.
type versionState struct {
	server     string
	releaseKey string
	mu         sync.Mutex
	seen       map[int64]string // member -> agent version whose notices were raised
	refused    map[int64]string // member -> refused agent version, until an accepted beat
}

// SetRelease tells the service its own version and the public release key
// ("ed25519:...", empty when the server signs no releases), turning the
// version skew policy on. Call it before Start.
func (s *Service) SetRelease(version, releaseKey string) {
	s.ver = &versionState{server: version, releaseKey: releaseKey, seen: map[int64]string{}, refused: map[int64]string{}}
}

// ServerVersion is the version SetRelease gave ("" before).
func (s *Service) ServerVersion() string {
	if s.ver == nil {
		return ""
	}
	return s.ver.server
}

// ReleaseKey is the release public key SetRelease gave.
func (s *Service) ReleaseKey() string {
	if s.ver == nil {
		return ""
	}
	return s.ver.releaseKey
}

// Outdated reports whether an agent version is older than the server's.
func (s *Service) Outdated(agentVersion string) bool {
	return s.ver != nil && agentVersion != "" && CheckSkew(s.ver.server, agentVersion) == SkewOutdated
}

// CheckEnrollVersion refuses the enrolment of an agent outside the skew policy.
func (s *Service) CheckEnrollVersion(agentVersion string) error {
	if s.ver == nil {
		return nil
	}
	return SkewError(s.ver.server, agentVersion, "this agent",
		"install the server's agent binary (GET /api/v1/agent/releases lists them) and enrol with it")
}

// FillEnroll adds the server's version and release key to an enrolment answer.
func (s *Service) FillEnroll(r *api.EnrollResponse) {
	r.ServerVersion, r.ReleaseKey = s.ServerVersion(), s.ReleaseKey()
}

func (s *Service) fillReply(r *api.HeartbeatReply) {
	r.ServerVersion, r.ReleaseKey = s.ServerVersion(), s.ReleaseKey()
}

// VersionRefused returns the agent version the policy refused for a member
// on its last heartbeat ("" when the last one was accepted).
func (s *Service) VersionRefused(memberID int64) string {
	if s.ver == nil {
		return ""
	}
	s.ver.mu.Lock()
	defer s.ver.mu.Unlock()
	return s.ver.refused[memberID]
}

// gateVersion applies the skew policy to a heartbeat: a refused version is
// remembered (job polls then hand out only agent.update jobs) and reported
// once per member per version, as is an outdated one.
func (s *Service) gateVersion(ctx context.Context, a Agent, agentVersion string) error {
	v := s.ver
	if v == nil {
		return nil
	}
	skew := CheckSkew(v.server, agentVersion)
	var refusedErr error
	if skew.refused() { // the message only for the rare refusal: this runs on every beat
		refusedErr = skewError(skew, v.server, agentVersion, "the agent of member "+a.Member,
			fmt.Sprintf("update it with `poolctl member update-agent %s %s` (refused agents still run their update job)", a.Pool, a.Member))
	}
	v.mu.Lock()
	first := v.seen[a.MemberID] != agentVersion
	v.seen[a.MemberID] = agentVersion
	if refusedErr != nil {
		v.refused[a.MemberID] = agentVersion
	} else {
		delete(v.refused, a.MemberID)
	}
	v.mu.Unlock()
	if first && (skew == SkewOutdated || refusedErr != nil) {
		kind, event, msg := "outdated", "agent.outdated",
			fmt.Sprintf("the agent of member %s runs %s, older than the server's %s; update it with `poolctl member update-agent %s %s`", a.Member, agentVersion, v.server, a.Pool, a.Member)
		if refusedErr != nil {
			kind, event, msg = "refused", "agent.version_refused", apperr.Message(refusedErr)
		}
		// Once per member and version, also across restarts and replicas;
		// off the heartbeat's path.
		go s.noteVersion(context.WithoutCancel(ctx), a, kind, event, msg, agentVersion)
	}
	return refusedErr
}

func (s *Service) noteVersion(ctx context.Context, a Agent, kind, event, msg, version string) {
	first, err := s.st.NoteAgentVersion(ctx, a.MemberID, kind, version, s.now())
	if err != nil {
		s.log.Warn("record agent version notice", "member", a.Member, "err", err)
		return
	}
	if first {
		s.Emit(ctx, api.Event{Kind: event, Pool: a.Pool, Member: a.Member, Message: msg,
			Data: mustJSON(map[string]any{"agent_version": version, "server_version": s.ver.server})})
	}
}

// claimJob claims a member's next job; a member whose agent version is
// refused gets only its agent.update jobs, so it can catch up.
func (s *Service) claimJob(ctx context.Context, memberID int64) (*store.Job, error) {
	if s.VersionRefused(memberID) != "" {
		return s.st.ClaimJobKind(ctx, memberID, api.AgentUpdateKind, DefaultJobLease, s.now())
	}
	return s.st.ClaimJob(ctx, memberID, DefaultJobLease, s.now())
}
