package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// sealer seals channel secrets at rest with the master key (AES-256-GCM,
// a random nonce in front, the channel's name as additional data so that
// a sealed secret cannot be moved to another channel).
type sealer struct{ aead cipher.AEAD }

func newSealer(key [32]byte) (sealer, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead}, nil
}

func secretAAD(channel string) []byte { return []byte("poolctl notify channel secret v1 " + channel) }

func (s sealer) seal(channel, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(secret), secretAAD(channel))), nil
}

func (s sealer) open(channel, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("the stored secret of channel %s is malformed", channel)
	}
	out, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], secretAAD(channel))
	if err != nil {
		return "", fmt.Errorf("the stored secret of channel %s does not open with this server's master key (another replica with a different --master-key-file?)", channel)
	}
	return string(out), nil
}
