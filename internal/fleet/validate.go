package fleet

import (
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateName checks a pool or member name: a DNS label (lower-case
// letters, digits and hyphens, 1–63 characters, no leading or trailing
// hyphen), so it can appear in host names and URLs unescaped.
func ValidateName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return apperr.New(apperr.Invalid, "%s name %q is invalid: use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", kind, name)
	}
	return nil
}

// Presets are the pool presets poolctl knows.
var Presets = []string{"generic"}

func validatePreset(p string) error {
	for _, k := range Presets {
		if p == k {
			return nil
		}
	}
	return apperr.New(apperr.Invalid, "preset %q is unknown; known presets: %s", p, strings.Join(Presets, ", "))
}

// ParseAddress checks a member address: a unicast IPv4 or IPv6 address the
// DNS can point at.
func ParseAddress(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return a, apperr.New(apperr.Invalid, "address %q is not an IPv4 or IPv6 address", s)
	}
	if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || !a.IsValid() {
		return a, apperr.New(apperr.Invalid, "address %q cannot be served in DNS (unspecified, multicast or zoned)", s)
	}
	return a.Unmap(), nil
}

// NormalizeCIDRs checks allowed source ranges; a bare address becomes /32 or
// /128. Duplicates are removed.
func NormalizeCIDRs(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(s)
			if err == nil {
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
		}
		if err != nil {
			return nil, apperr.New(apperr.Invalid, "allowed IP %q is not an address or CIDR range (like 198.51.100.7/32)", s)
		}
		p = p.Masked()
		if !seen[p.String()] {
			seen[p.String()] = true
			out = append(out, p.String())
		}
	}
	return out, nil
}

// CIDRsAllow reports whether addr is inside one of cidrs. An empty list
// allows every address.
func CIDRsAllow(cidrs []string, addr netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// ValidateProbeURL checks a probe: tcp://host:port or http(s)://...
func ValidateProbeURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return apperr.New(apperr.Invalid, "probe %q is not a URL", s)
	}
	switch u.Scheme {
	case "tcp":
		if u.Hostname() == "" || u.Port() == "" {
			return apperr.New(apperr.Invalid, "probe %q: want tcp://host:port", s)
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return apperr.New(apperr.Invalid, "probe %q: port out of range", s)
		}
	case "http", "https":
		if u.Host == "" {
			return apperr.New(apperr.Invalid, "probe %q: missing host", s)
		}
	default:
		return apperr.New(apperr.Invalid, "probe %q: scheme must be tcp, http or https", s)
	}
	return nil
}

func validateLocation(lat, lon *float64, text string) error {
	if (lat == nil) != (lon == nil) {
		return apperr.New(apperr.Invalid, "location needs both latitude and longitude")
	}
	if lat != nil && (*lat < -90 || *lat > 90) {
		return apperr.New(apperr.Invalid, "latitude %v out of range -90..90", *lat)
	}
	if lon != nil && (*lon < -180 || *lon > 180) {
		return apperr.New(apperr.Invalid, "longitude %v out of range -180..180", *lon)
	}
	if len(text) > 200 {
		return apperr.New(apperr.Invalid, "location text longer than 200 characters")
	}
	return nil
}

func checkRange(what string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return apperr.New(apperr.Invalid, "%s %s out of range %s–%s", what, d, lo, hi)
	}
	return nil
}

var fqdnRE = regexp.MustCompile(`^([a-z0-9_]([a-z0-9-_]{0,61}[a-z0-9_])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?\.?$`)

// NormalizeFQDN checks a host name and returns it lower-case without the
// trailing dot.
func NormalizeFQDN(what, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 253 || !fqdnRE.MatchString(s) {
		return "", apperr.New(apperr.Invalid, "%s %q is not a fully qualified domain name", what, s)
	}
	return strings.TrimSuffix(s, "."), nil
}

func validateHook(h string) error {
	if h == "" {
		return nil
	}
	if strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://") {
		if _, err := url.ParseRequestURI(h); err != nil {
			return apperr.New(apperr.Invalid, "hook URL %q is invalid", h)
		}
		return nil
	}
	if !strings.HasPrefix(h, "/") {
		return apperr.New(apperr.Invalid, "hook %q must be an http(s) URL or an absolute command path", h)
	}
	return nil
}

// ParseCIDRs parses addresses and CIDR ranges (as NormalizeCIDRs accepts
// them) into prefixes.
func ParseCIDRs(in []string) ([]netip.Prefix, error) {
	norm, err := NormalizeCIDRs(in)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(norm))
	for _, c := range norm {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out, nil
}
