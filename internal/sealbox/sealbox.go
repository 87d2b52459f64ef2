// Package sealbox seals small secrets at rest with the server's master key
// (cluster tokens, notification channel secrets, DNS provider credentials,
// DNSSEC private keys): AES-256-GCM with a random nonce in front, in
// base64. The additional data binds a sealed value to what it belongs to,
// so that it cannot be moved to another row.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// Open's errors, for the callers' messages.
var (
	ErrMalformed = errors.New("is malformed")
	ErrWrongKey  = errors.New("does not open with this server's master key (another replica with a different --master-key-file?)")
)

// Box seals and opens with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key [32]byte) *Box {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Box{aead}
}

// Seal seals plain, bound to aad.
func (b *Box) Seal(plain []byte, aad string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(aad))), nil
}

// Open opens what Seal sealed with the same aad.
func (b *Box) Open(sealed, aad string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, ErrMalformed
	}
	out, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, ErrWrongKey
	}
	return out, nil
}
