package dns

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	mdns "github.com/miekg/dns"
)

// tsigKeys holds decoded TSIG secrets by lower-case key name. It implements
// miekg's TsigProvider for hmac-sha256 only (RFC 8945 section 6 makes it
// the mandatory algorithm; the others are not offered).
type tsigKeys map[string][]byte

var _ mdns.TsigProvider = tsigKeys(nil)

// errTsigAlg is returned for a TSIG with another algorithm than hmac-sha256.
var errTsigAlg = errors.New("TSIG algorithm is not hmac-sha256")

// newTsigKeys decodes the configured secrets.
func newTsigKeys(cfg map[string]string) (tsigKeys, error) {
	keys := make(tsigKeys, len(cfg))
	for name, secret := range cfg {
		raw, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			return nil, fmt.Errorf("TSIG key %q: secret is not base64: %w", name, err)
		}
		if len(raw) == 0 {
			return nil, fmt.Errorf("TSIG key %q: empty secret", name)
		}
		keys[strings.ToLower(mdns.Fqdn(name))] = raw
	}
	return keys, nil
}

func (k tsigKeys) mac(msg []byte, t *mdns.TSIG) ([]byte, error) {
	if mdns.CanonicalName(t.Algorithm) != mdns.HmacSHA256 {
		return nil, errTsigAlg
	}
	secret, ok := k[strings.ToLower(t.Hdr.Name)]
	if !ok {
		return nil, mdns.ErrSecret
	}
	h := hmac.New(sha256.New, secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Generate implements mdns.TsigProvider.
func (k tsigKeys) Generate(msg []byte, t *mdns.TSIG) ([]byte, error) { return k.mac(msg, t) }

// Verify implements mdns.TsigProvider.
func (k tsigKeys) Verify(msg []byte, t *mdns.TSIG) error {
	sum, err := k.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(sum, got) {
		return mdns.ErrSig
	}
	return nil
}

// tsigErrorCode maps a verification failure to the TSIG error of RFC 8945
// section 5.2.
func tsigErrorCode(err error) uint16 {
	switch {
	case errors.Is(err, mdns.ErrTime):
		return mdns.RcodeBadTime
	case errors.Is(err, mdns.ErrSig):
		return mdns.RcodeBadSig
	default: // unknown key or algorithm
		return mdns.RcodeBadKey
	}
}

// writeTsigError answers a request whose TSIG did not verify with NOTAUTH and
// an unsigned TSIG carrying the error (RFC 8945 section 5.2).
func writeTsigError(w mdns.ResponseWriter, req *mdns.Msg, status error) error {
	t := req.IsTsig()
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeNotAuth)
	m.Extra = append(m.Extra, &mdns.TSIG{
		Hdr:        mdns.RR_Header{Name: t.Hdr.Name, Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY},
		Algorithm:  t.Algorithm,
		TimeSigned: t.TimeSigned,
		Fudge:      t.Fudge,
		OrigId:     req.Id,
		Error:      tsigErrorCode(status),
	})
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
