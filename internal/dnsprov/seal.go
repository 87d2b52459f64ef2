package dnsprov

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/poolctl/poolctl/internal/store"
)

func secretAAD(name string) []byte { return []byte("poolctl dns provider secret v1 " + name) }

// seal seals a provider's credential for the store (base64 of nonce and
// ciphertext), bound to its name.
func (r *Registry) seal(name, secret string) (string, error) {
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(r.aead.Seal(nonce, nonce, []byte(secret), secretAAD(name))), nil
}

func (r *Registry) open(row store.DNSProvider) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(row.SecretSealed)
	if err != nil || len(raw) < r.aead.NonceSize() {
		return "", fmt.Errorf("the stored credential of DNS provider %s is malformed", row.Name)
	}
	out, err := r.aead.Open(nil, raw[:r.aead.NonceSize()], raw[r.aead.NonceSize():], secretAAD(row.Name))
	if err != nil {
		return "", fmt.Errorf("the stored credential of DNS provider %s does not open with this server's master key (another replica with a different --master-key-file?)", row.Name)
	}
	return string(out), nil
}
