package agent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// StateFile is the name of the enrolment file inside the agent's data directory.
const StateFile = "agent.json"

// secretPrefix starts every enrolment secret; the "1" is the format version.
const secretPrefix = "pe1"

// minSecretBytes is the least randomness accepted in an enrolment secret's
// random part; anything shorter is a truncated copy, not a server's secret.
const minSecretBytes = 16

var (
	// ErrNotEnrolled is returned by LoadState when the data directory holds
	// no enrolment.
	ErrNotEnrolled = errors.New("agent is not enrolled")
	// ErrAlreadyEnrolled is returned by Enroll when the data directory holds
	// an enrolment already and EnrollOptions.Force is not set.
	ErrAlreadyEnrolled = errors.New("agent is already enrolled")
	// ErrBadSecret is wrapped by ParseSecret's errors.
	ErrBadSecret = errors.New("invalid enrolment secret")
)

// ParseSecret checks the format of an enrolment secret,
// "pe1.<fingerprint>.<random>", and returns the CA fingerprint it carries as
// lower-case hex. The fingerprint part is the unpadded base64url SHA-256 of
// the server CA certificate's DER encoding, or "-" when the server uses a
// certificate trusted by the system roots; then fingerprintHex is "".
func ParseSecret(s string) (fingerprintHex string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadSecret)
	}
	parts := strings.Split(s, ".")
	if parts[0] != secretPrefix {
		return "", fmt.Errorf("%w: want it to start with %q (copy the whole secret printed by `poolctl member add`)", ErrBadSecret, secretPrefix+".")
	}
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: want three dot-separated parts %s.<fingerprint>.<secret>, got %d", ErrBadSecret, secretPrefix, len(parts))
	}
	fp, random := parts[1], parts[2]
	if fp != "-" {
		sum, err := base64.RawURLEncoding.Strict().DecodeString(fp)
		if err != nil {
			return "", fmt.Errorf("%w: fingerprint part is not unpadded base64url: %w", ErrBadSecret, err)
		}
		if len(sum) != sha256.Size {
			return "", fmt.Errorf("%w: fingerprint part holds %d bytes, want a %d-byte SHA-256", ErrBadSecret, len(sum), sha256.Size)
		}
		fingerprintHex = hex.EncodeToString(sum)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(random)
	if err != nil {
		return "", fmt.Errorf("%w: secret part is not unpadded base64url: %w", ErrBadSecret, err)
	}
	if len(raw) < minSecretBytes {
		return "", fmt.Errorf("%w: secret part holds %d bytes, want at least %d (was it cut short?)", ErrBadSecret, len(raw), minSecretBytes)
	}
	return fingerprintHex, nil
}

// State is the agent's enrolment, kept in DataDir/agent.json (mode 0600).
// It holds the agent's credential: never log or print Token.
type State struct {
	Format        int    `json:"format"` // file format version, 1
	Server        string `json:"server"`
	Pool          string `json:"pool"`
	Member        string `json:"member"`
	Token         string `json:"token"`
	CAFingerprint string `json:"ca_fingerprint,omitempty"` // hex SHA-256; empty: system roots
	// HeartbeatInterval is the interval the server suggested at enrolment.
	HeartbeatInterval api.Duration `json:"heartbeat_interval,omitempty"`
	EnrolledAt        time.Time    `json:"enrolled_at"`
	// ReleaseKey is the "ed25519:..." key agent updates must be signed
	// with, pinned at enrolment (or, for older enrolments, on the first
	// accepted heartbeat: ReleaseKeyPinned says which).
	ReleaseKey       string `json:"release_key,omitempty"`
	ReleaseKeyPinned string `json:"release_key_pinned,omitempty"`

	// Warnings name problems LoadState found that do not stop the agent,
	// such as a state file readable by other users.
	Warnings []string `json:"-"`
}

// EnrollOptions configure Enroll.
type EnrollOptions struct {
	Server   string // https://host:port of the poolctl server
	Secret   string // one-time enrolment secret, "pe1.<fp>.<secret>"
	DataDir  string // where agent.json is written
	Hostname string // reported to the server; default os.Hostname()
	Version  string // agent version reported to the server
	// Force replaces an existing enrolment in DataDir.
	Force bool
}

// Enroll exchanges a one-time enrolment secret for the agent's credential and
// writes DataDir/agent.json. The connection is pinned to the CA fingerprint
// the secret carries. It refuses to replace an existing enrolment unless
// o.Force is set; it checks that before spending the secret. Errors from the
// server (a reused, expired or wrong secret, a source address outside the
// member's allowed ranges) carry the server's message; client.StatusOf gives
// their HTTP status.
func Enroll(ctx context.Context, o EnrollOptions) (*State, error) {
	fp, err := ParseSecret(o.Secret)
	if err != nil {
		return nil, err
	}
	if o.DataDir == "" {
		return nil, errors.New("enroll: no data directory given")
	}
	path := filepath.Join(o.DataDir, StateFile)
	if !o.Force {
		if old, err := readState(path); err == nil {
			return nil, fmt.Errorf("%w as member %q of pool %q (%s); use --force to replace it", ErrAlreadyEnrolled, old.Member, old.Pool, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s exists but cannot be read (%w); use --force to replace it", ErrAlreadyEnrolled, path, err)
		}
	}
	c, err := client.New(o.Server, client.Options{CAFingerprint: fp})
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	c.UserAgent = userAgent(o.Version)
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("enroll: create data directory: %w", err)
	}
	// Prove the directory is writable before the one-time secret is spent.
	tmp, err := os.CreateTemp(o.DataDir, ".agent.json.*")
	if err != nil {
		return nil, fmt.Errorf("enroll: data directory not writable: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // fails harmlessly once renamed
	}()
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	resp, err := c.Enroll(ctx, api.EnrollRequest{
		Secret:       strings.TrimSpace(o.Secret),
		Hostname:     host,
		AgentVersion: o.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("enroll with %s: %w", c.BaseURL(), err)
	}
	if resp.Token == "" {
		return nil, fmt.Errorf("enroll with %s: server answered without a credential", c.BaseURL())
	}
	st := &State{
		Format:            1,
		Server:            c.BaseURL(),
		Pool:              resp.Pool,
		Member:            resp.Member,
		Token:             resp.Token,
		CAFingerprint:     fp,
		HeartbeatInterval: resp.HeartbeatInterval,
		EnrolledAt:        time.Now().UTC().Truncate(time.Second),
		ReleaseKey:        resp.ReleaseKey,
	}
	if st.ReleaseKey != "" {
		st.ReleaseKeyPinned = "enrolment"
	}
	if err := writeStateTo(tmp, path, st); err != nil {
		return nil, fmt.Errorf("enroll: write %s: %w", path, err)
	}
	return st, nil
}

// LoadState reads the enrolment in dataDir. It returns an error wrapping
// ErrNotEnrolled when there is none. Loose permissions on the file or the
// directory do not stop it; they are listed in State.Warnings.
func LoadState(dataDir string) (*State, error) {
	path := filepath.Join(dataDir, StateFile)
	st, err := readState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; run `poolctl agent enroll --data %s` first", ErrNotEnrolled, path, dataDir)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%s holds the agent credential but has mode %04o; run chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	if fi, err := os.Stat(dataDir); err == nil && fi.Mode().Perm()&0o022 != 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("data directory %s is writable by other users (mode %04o); run chmod 700 %s", dataDir, fi.Mode().Perm(), dataDir))
	}
	return st, nil
}

func readState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read enrolment: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read enrolment %s: %w", path, err)
	}
	if st.Server == "" || st.Token == "" {
		return nil, fmt.Errorf("read enrolment %s: server or token missing; enrol again with --force", path)
	}
	if st.Format > 1 {
		return nil, fmt.Errorf("read enrolment %s: format %d is newer than this agent understands", path, st.Format)
	}
	return &st, nil
}

func userAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "poolctl-agent/" + version
}
