package protection

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LoadMasterKey reads the server's master key from path (64 hex digits),
// creating it (0600) when it does not exist. The master key seals the
// per-pool chunk keys kept in the database, so that a copy of the database
// alone does not open the replicated data. Servers that share a database
// must share this file.
func LoadMasterKey(path string) ([32]byte, error) {
	var k [32]byte
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := rand.Read(k[:]); err != nil {
			return k, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return k, err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
			return k, fmt.Errorf("write master key: %w", err)
		}
		return k, os.Rename(tmp, path)
	}
	if err != nil {
		return k, fmt.Errorf("read master key: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != 32 {
		return k, fmt.Errorf("master key %s: want 64 hex digits", path)
	}
	copy(k[:], raw)
	return k, nil
}

func poolAAD(poolID int64) []byte {
	return []byte("poolctl pool chunk key " + strconv.FormatInt(poolID, 10))
}

func (s *Service) sealer() (cipher.AEAD, error) {
	b, err := aes.NewCipher(s.cfg.MasterKey[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// poolKey returns the pool's chunk key, creating it on first use.
func (s *Service) poolKey(ctx context.Context, poolID int64) ([32]byte, error) {
	var key [32]byte
	aead, err := s.sealer()
	if err != nil {
		return key, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return key, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return key, err
	}
	sealed := base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, key[:], poolAAD(poolID)))
	stored, err := s.st.EnsurePoolKey(ctx, poolID, sealed, s.now())
	if err != nil {
		return key, err
	}
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil || len(raw) < aead.NonceSize() {
		return key, fmt.Errorf("pool %d chunk key is malformed in the database", poolID)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], poolAAD(poolID))
	if err != nil || len(plain) != 32 {
		return key, fmt.Errorf("pool %d chunk key does not open with this server's master key (was the master key file replaced?)", poolID)
	}
	copy(key[:], plain)
	return key, nil
}
