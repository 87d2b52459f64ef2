package api

// AgentBinary is one agent binary a poolctl server offers for download at
// GET /api/v1/agent/releases/{os}/{arch} (URL).
type AgentBinary struct {
	OS      string `json:"os"`      // GOOS, e.g. "linux"
	Arch    string `json:"arch"`    // GOARCH, e.g. "amd64", "arm64"
	Version string `json:"version"` // poolctl version of the binary; "unknown" when it could not be told
	Size    int64  `json:"size"`    // bytes
	SHA256  string `json:"sha256"`  // lower-case hex SHA-256 of the binary
	// Signature is the base64 ed25519 signature of the binary, when the
	// server signs its releases; empty otherwise.
	Signature string `json:"signature,omitempty"`
	URL       string `json:"url"` // path of the download on this server
}

// AgentReleases is the answer of GET /api/v1/agent/releases.
type AgentReleases struct {
	ServerVersion string `json:"server_version"`
	// TLSPin is the server's TLS public key as curl's --pinnedpubkey wants
	// it, "sha256//<base64 SHA-256 of the SubjectPublicKeyInfo>", when the
	// server uses its own self-signed certificate; empty otherwise.
	TLSPin string        `json:"tls_pin,omitempty"`
	Items  []AgentBinary `json:"items"`
}
