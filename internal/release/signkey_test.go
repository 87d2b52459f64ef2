package release

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

// memKeys is a KeyStore in memory: the first key stored wins.
type memKeys struct{ pub, sealed string }

func (m *memKeys) EnsureReleaseKey(ctx context.Context, public, sealed string, now time.Time) (string, string, error) {
	if m.pub == "" {
		m.pub, m.sealed = public, sealed
	}
	return m.pub, m.sealed, nil
}

// TestLoadOrCreateKey: the first start creates the key, later starts (and
// replicas sharing the master key) get the same one, and a replica with
// another master key gets ErrMasterKeyMismatch rather than a new key.
func TestLoadOrCreateKey(t *testing.T) {
	ks := &memKeys{}
	var master, other [32]byte
	master[0], other[0] = 1, 2
	k1, err := LoadOrCreateKey(t.Context(), ks, master, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(t.Context(), ks, master, time.Now())
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second start: %v, same key %t", err, k1.Equal(k2))
	}
	if ks.pub != EncodePublicKey(k1.Public().(ed25519.PublicKey)) {
		t.Fatal("the stored public key is not the key's")
	}
	if _, err := LoadOrCreateKey(t.Context(), ks, other, time.Now()); !errors.Is(err, ErrMasterKeyMismatch) {
		t.Fatalf("another master key: %v, want ErrMasterKeyMismatch", err)
	}
}
