package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters of a password hash. They
// are stored in the hash, so they can change without breaking old hashes.
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 costs about 50–100 ms and 64 MiB per hash on one core of a
// small server: slow for guessing, fast enough for a sign-in.
func DefaultArgon2() Argon2Params { return Argon2Params{Time: 1, MemoryKiB: 64 * 1024, Threads: 2} }

const (
	saltLen        = 16
	keyLen         = 32
	minPassword    = 10
	maxPassword    = 1024
	maxArgonMemory = 1 << 20 // KiB: refuse hashes that would cost more than 1 GiB to check
)

// HashPassword returns the argon2id hash of pw in the PHC string format
// $argon2id$v=19$m=65536,t=1,p=2$SALT$HASH.
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, comparing in constant time.
func CheckPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("password hash is not in argon2id PHC format")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("argon2 version %q is not supported", parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("argon2 parameters %q: %w", parts[3], err)
	}
	if p.Time < 1 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgonMemory || p.Time > 16 {
		return false, fmt.Errorf("argon2 parameters %q out of range", parts[3])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("argon2 salt: %w", err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, fmt.Errorf("argon2 hash: %v", err)
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(pw string) error {
	if len(pw) < minPassword {
		return fmt.Errorf("password is too short: use at least %d characters", minPassword)
	}
	if len(pw) > maxPassword {
		return fmt.Errorf("password is longer than %d bytes", maxPassword)
	}
	return nil
}

// passwords bounds concurrent hash checks (each takes 64 MiB) and keeps a
// hash to check against when the user name is unknown, so that a missing
// user costs as much time as a wrong password.
type passwords struct {
	sem   chan struct{}
	once  sync.Once
	dummy string
}

func newPasswords() *passwords { return &passwords{sem: make(chan struct{}, 2)} }

// check verifies pw against hash ("" for an unknown user: always false).
func (p *passwords) check(hash, pw string) (bool, error) {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	if hash == "" {
		p.once.Do(func() { p.dummy, _ = HashPassword(randomToken(), DefaultArgon2()) })
		_, _ = CheckPassword(p.dummy, pw)
		return false, nil
	}
	return CheckPassword(hash, pw)
}

// randomToken returns 256 random bits, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
