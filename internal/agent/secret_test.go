package agent

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	sum := sha256.Sum256([]byte("a CA certificate"))
	fp := base64.RawURLEncoding.EncodeToString(sum[:])
	random := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	short := base64.RawURLEncoding.EncodeToString([]byte("0123456789"))
	tests := []struct {
		name    string
		in      string
		wantFP  string
		wantErr string // substring; "" means success
	}{
		{"pinned", "pe1." + fp + "." + random, hex.EncodeToString(sum[:]), ""},
		{"system roots", "pe1.-." + random, "", ""},
		{"surrounding space", "  pe1.-." + random + "\n", "", ""},
		{"empty", "", "", "empty"},
		{"wrong prefix", "pe2." + fp + "." + random, "", `start with "pe1."`},
		{"no prefix", fp + "." + random, "", `start with "pe1."`},
		{"two parts", "pe1." + fp, "", "three dot-separated parts"},
		{"four parts", "pe1." + fp + "." + random + ".x", "", "three dot-separated parts"},
		{"padded fingerprint", "pe1." + base64.URLEncoding.EncodeToString(sum[:]) + "." + random, "", "fingerprint part is not unpadded base64url"},
		{"std base64 fingerprint", "pe1." + strings.ReplaceAll(strings.ReplaceAll(fp, "-", "+"), "_", "/") + "+/." + random, "", "fingerprint part"},
		{"short fingerprint", "pe1." + base64.RawURLEncoding.EncodeToString(sum[:20]) + "." + random, "", "holds 20 bytes, want a 32-byte SHA-256"},
		{"empty fingerprint", "pe1.." + random, "", "holds 0 bytes"},
		{"bad secret", "pe1.-.not*base64", "", "secret part is not unpadded base64url"},
		{"truncated secret", "pe1.-." + random[:len(random)-1], "", "secret part"},
		{"short secret", "pe1.-." + short, "", "holds 10 bytes, want at least 16"},
		{"empty secret", "pe1.-.", "", "holds 0 bytes, want at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecret(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSecret: %v", err)
				}
				if got != tt.wantFP {
					t.Errorf("fingerprint = %q, want %q", got, tt.wantFP)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSecret(%q) = %q, nil; want error containing %q", tt.in, got, tt.wantErr)
			}
			if !errors.Is(err, ErrBadSecret) {
				t.Errorf("error %v does not wrap ErrBadSecret", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func FuzzParseSecret(f *testing.F) {
	sum := sha256.Sum256([]byte("seed"))
	random := base64.RawURLEncoding.EncodeToString(make([]byte, 24))
	f.Add("pe1." + base64.RawURLEncoding.EncodeToString(sum[:]) + "." + random)
	f.Add("pe1.-." + random)
	f.Add("pe1...")
	f.Add("pe1.-.=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseSecret(s)
		if err != nil {
			if fp != "" || !errors.Is(err, ErrBadSecret) {
				t.Fatalf("ParseSecret(%q) = %q, %v", s, fp, err)
			}
			return
		}
		parts := strings.Split(strings.TrimSpace(s), ".")
		if len(parts) != 3 || parts[0] != "pe1" {
			t.Fatalf("ParseSecret accepted %q", s)
		}
		if parts[1] == "-" {
			if fp != "" {
				t.Fatalf("ParseSecret(%q) fingerprint = %q, want empty", s, fp)
			}
			return
		}
		if !hexSHA256.MatchString(fp) {
			t.Fatalf("ParseSecret(%q) fingerprint = %q, not a hex SHA-256", s, fp)
		}
		// The fingerprint round-trips to the text it came from.
		raw, _ := hex.DecodeString(fp)
		if got := base64.RawURLEncoding.EncodeToString(raw); got != parts[1] {
			t.Fatalf("fingerprint %q re-encodes to %q, want %q", fp, got, parts[1])
		}
	})
}
