package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// Signing: every agent binary a server offers carries an ed25519 signature
// over api.ReleaseMessage(version, os, arch, sha256). Agents pin the public
// key at enrolment and refuse any update it does not verify. The private key
// lives either in the server's database, sealed with its master key
// (LoadOrCreateKey), or offline with the operator (`poolctl release keygen`
// and `poolctl release sign`), the server then holding only the public key
// and serving only binaries whose BINARY.sig verifies (SigFiles).

// ErrBadSignature is wrapped by Verify's refusals.
var ErrBadSignature = errors.New("release signature does not verify")

// VersionVar is the linker variable that holds poolctl's version.
const VersionVar = "github.com/poolctl/poolctl/internal/cli.Version"

// GenerateKey makes a new release key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// EncodePublicKey is the text form agents pin: "ed25519:" and base64.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return api.ReleaseKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key in its text form ("ed25519:BASE64") or
// as a PEM "PUBLIC KEY" block (what `poolctl release keygen` writes).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(b))
	if rest, ok := strings.CutPrefix(s, api.ReleaseKeyPrefix); ok {
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("release public key %q: want %s and the base64 of %d bytes", s, api.ReleaseKeyPrefix, ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(raw), nil
	}
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New(`release public key: want a PEM "PUBLIC KEY" block or ed25519:BASE64`)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("release public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("release public key is a %T, want ed25519", k)
	}
	return pub, nil
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for ed25519
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// MarshalPrivateKeyPEM encodes priv as a PEM "PRIVATE KEY" block (PKCS #8).
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(priv) // cannot fail for ed25519
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ParsePrivateKeyPEM reads what MarshalPrivateKeyPEM wrote.
func ParsePrivateKeyPEM(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New(`release private key: want a PEM "PRIVATE KEY" block (from poolctl release keygen)`)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("release private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("release private key is a %T, want ed25519", k)
	}
	return priv, nil
}

// Sign returns the base64 signature of a release.
func Sign(priv ed25519.PrivateKey, version, goos, goarch, sha256Hex string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, api.ReleaseMessage(version, goos, goarch, sha256Hex)))
}

// Verify checks a base64 signature of a release against pub; its refusals
// wrap ErrBadSignature.
func Verify(pub ed25519.PublicKey, version, goos, goarch, sha256Hex, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("%w: not the base64 of a %d-byte ed25519 signature", ErrBadSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, api.ReleaseMessage(version, goos, goarch, sha256Hex), raw) {
		return fmt.Errorf("%w: it was not made by key %s for %s %s/%s with SHA-256 %s", ErrBadSignature, EncodePublicKey(pub), version, goos, goarch, sha256Hex)
	}
	return nil
}

// BinaryInfo reads a Go binary's version (the -X ldflag that sets
// VersionVar; "" when none), GOOS and GOARCH from its build information,
// without running it (it may be built for another machine).
func BinaryInfo(path string) (version, goos, goarch string, err error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", "", fmt.Errorf("read build information of %s: %w", path, err)
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		case "-ldflags":
			version = ldflagsVar(s.Value, VersionVar)
		}
	}
	return version, goos, goarch, nil
}

// SigFile is where `poolctl release sign` puts a binary's signature.
func SigFile(binary string) string { return binary + ".sig" }

// ReadSigFile reads BINARY.sig: one line, the base64 signature.
func ReadSigFile(binary string) (string, error) {
	b, err := os.ReadFile(SigFile(binary))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
