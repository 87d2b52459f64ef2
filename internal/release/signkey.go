package release

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// KeyStore keeps the server's release key (the store implements it): the
// first key stored wins, so replicas that start together agree.
type KeyStore interface {
	EnsureReleaseKey(ctx context.Context, public, sealed string, now time.Time) (storedPublic, storedSealed string, err error)
}

// ErrMasterKeyMismatch is wrapped by LoadOrCreateKey's error when the
// stored release key does not open with the master key given: another
// replica sealed it with a different one.
var ErrMasterKeyMismatch = errors.New("the release key in the database does not open with this server's master key (was the master key file replaced, or does another replica use a different one?)")

// keyAAD binds a sealed release key to its purpose.
var keyAAD = []byte("poolctl release key v1")

// LoadOrCreateKey returns the server's release signing key, generating it
// on first start. Its private half is kept sealed (AES-256-GCM) with the
// server's master key, as the pools' chunk keys are, so the database alone
// cannot sign an agent binary; replicas that share a database must share
// the master key file.
func LoadOrCreateKey(ctx context.Context, ks KeyStore, master [32]byte, now time.Time) (ed25519.PrivateKey, error) {
	block, err := aes.NewCipher(master[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	pub, priv, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, priv.Seed(), keyAAD))
	storedPub, storedSealed, err := ks.EnsureReleaseKey(ctx, EncodePublicKey(pub), sealed, now)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(storedSealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, fmt.Errorf("the release key in the database is malformed")
	}
	seed, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], keyAAD)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, ErrMasterKeyMismatch
	}
	key := ed25519.NewKeyFromSeed(seed)
	if EncodePublicKey(key.Public().(ed25519.PublicKey)) != storedPub {
		return nil, fmt.Errorf("the release key in the database does not match its public key %s", storedPub)
	}
	return key, nil
}

// KeySigner signs every offered binary with priv (the server holds its key).
func KeySigner(priv ed25519.PrivateKey) Signer {
	return func(b Binary) (string, error) {
		return Sign(priv, b.Version, b.OS, b.Arch, b.SHA256), nil
	}
}

// SigFileSigner is the offline-key mode: the server holds only the public
// key, and every offered binary must carry BINARY.sig (written by
// `poolctl release sign`) that verifies with it; a binary without one is
// refused, so the server never offers an update its agents would refuse.
func SigFileSigner(pub ed25519.PublicKey) Signer {
	return func(b Binary) (string, error) {
		sig, err := ReadSigFile(b.Path)
		if err != nil {
			return "", fmt.Errorf("--release-public-key: %s has no readable signature (%w); sign it with `poolctl release sign --key KEY %s`", b.Path, err, b.Path)
		}
		if err := Verify(pub, b.Version, b.OS, b.Arch, b.SHA256, sig); err != nil {
			return "", fmt.Errorf("--release-public-key: %s: %w; sign it again with `poolctl release sign --key KEY %s`", SigFile(b.Path), err, b.Path)
		}
		return sig, nil
	}
}
