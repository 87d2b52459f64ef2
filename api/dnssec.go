package api

import "time"

// DNSSEC key roles and rollover steps, as internal/dnssec names them.
const (
	DNSSECKeyKSK = "ksk"
	DNSSECKeyZSK = "zsk"
)

// DNSSECStatus is a zone's DNSSEC state (GET /api/v1/zones/{zone}/dnssec).
type DNSSECStatus struct {
	Zone    string `json:"zone"`
	Enabled bool   `json:"enabled"`
	// Origin is "local" when this server signs the zone and runs its
	// rollovers, "replica" when a DNS cluster member sent its keys.
	Origin    string `json:"origin,omitempty"`
	Algorithm string `json:"algorithm,omitempty"` // "13 (ECDSAP256SHA256)"
	// Denial is the authenticated denial in use: "NSEC3 1 0 0 -" (SHA-1,
	// no opt-out, no extra iteration, no salt).
	Denial   string          `json:"denial,omitempty"`
	Keys     []DNSSECKey     `json:"keys"`
	DS       []string        `json:"ds"`      // the DS records to give the registrar (SHA-256 digests)
	CDS      []string        `json:"cds"`     // published at the apex (RFC 7344)
	CDNSKEY  []string        `json:"cdnskey"` // published at the apex (RFC 7344)
	Rollover *DNSSECRollover `json:"rollover,omitempty"`
}

// DNSSECKey is one key of a signed zone (never its private part).
type DNSSECKey struct {
	Role      string    `json:"role"` // ksk or zsk
	Tag       uint16    `json:"tag"`
	Flags     uint16    `json:"flags"`
	Algorithm uint8     `json:"algorithm"`
	DNSKEY    string    `json:"dnskey"`
	DS        string    `json:"ds,omitempty"` // KSKs: the DS record (SHA-256)
	Published bool      `json:"published"`    // in the DNSKEY RRset
	Signing   bool      `json:"signing"`      // makes signatures
	InDS      bool      `json:"in_ds"`        // KSKs: listed in CDS/CDNSKEY
	CreatedAt time.Time `json:"created_at"`
}

// DNSSECRollover is a key rollover in progress (or the last one, done).
type DNSSECRollover struct {
	Key         string    `json:"key"`  // ksk or zsk
	Step        string    `json:"step"` // published, signing (zsk), ds-swap (ksk), done
	OldTag      uint16    `json:"old_tag"`
	NewTag      uint16    `json:"new_tag"`
	StartedAt   time.Time `json:"started_at"`
	NextAt      time.Time `json:"next_at"` // when the next step is due
	Description string    `json:"description"`
}

// DNSSECRolloverStart is the body of POST /api/v1/zones/{zone}/dnssec/rollover.
type DNSSECRolloverStart struct {
	Key string `json:"key"` // ksk or zsk
	// StepWait, when set, replaces every computed wait of the rollover;
	// only a server started with --dnssec-test-waits accepts it.
	StepWait *Duration `json:"step_wait,omitempty"`
}

// DNSSECDS is the answer of GET /api/v1/zones/{zone}/dnssec/ds: what the
// parent zone (the registrar) needs.
type DNSSECDS struct {
	Zone    string   `json:"zone"`
	DS      []string `json:"ds"`
	CDS     []string `json:"cds"`
	CDNSKEY []string `json:"cdnskey"`
	DNSKEY  []string `json:"dnskey"` // the KSKs, for registrars that take a DNSKEY
}

// ClusterDNSSEC is the DNSSEC part of a zone one DNS cluster member sends
// another (api.ClusterZone.DNSSEC): the zone's keys, private parts
// included, so that every member signs with the same keys. The receiver
// seals them with its own master key.
type ClusterDNSSEC struct {
	Keys []ClusterDNSSECKey `json:"keys"`
}

// ClusterDNSSECKey is one key of a zone sent to a cluster member.
type ClusterDNSSECKey struct {
	Role    string `json:"role"`    // ksk or zsk
	Private string `json:"private"` // base64 of the PKCS#8 DER of the ECDSA P-256 key
	Publish bool   `json:"publish"`
	Sign    bool   `json:"sign"`
	DS      bool   `json:"ds,omitempty"`
}
