package dnsprov

import (
	"fmt"

	"github.com/poolctl/poolctl/internal/store"
)

func secretAAD(name string) string { return "poolctl dns provider secret v1 " + name }

// seal seals a provider's credential for the store, bound to its name.
func (r *Registry) seal(name, secret string) (string, error) {
	return r.box.Seal([]byte(secret), secretAAD(name))
}

func (r *Registry) open(row store.DNSProvider) (string, error) {
	out, err := r.box.Open(row.SecretSealed, secretAAD(row.Name))
	if err != nil {
		return "", fmt.Errorf("the stored credential of DNS provider %s %w", row.Name, err)
	}
	return string(out), nil
}
