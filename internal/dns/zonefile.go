package dns

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/apperr"
)

// MaxZoneFileSize bounds what [ParseZoneFile] reads.
const MaxZoneFileSize = 64 << 20

// LineError is a zone-file error at a line (1-based). Its text reads
// "line 12: ..."; it unwraps to an error of kind [apperr.Invalid].
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// ParseZoneFile reads an RFC 1035 master file for the zone origin and returns
// its records normalised as by [NormalizeRecord] (origin-relative names made
// absolute, unsupported types and names outside the zone refused).
//
// $INCLUDE and $GENERATE are refused, and $ORIGIN may only name the zone or a
// name inside it, so a file can never pull in other files or other zones.
// $TTL is honoured (nearly every exported zone file starts with one); records
// without a TTL otherwise get the previous record's TTL or [DefaultTTL].
// Errors are [*LineError]s naming the line.
func ParseZoneFile(origin string, r io.Reader) ([]Record, error) {
	zone, err := CanonicalZoneName(origin)
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(io.LimitReader(r, MaxZoneFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read zone file: %w", err)
	}
	if len(text) > MaxZoneFileSize {
		return nil, apperr.New(apperr.TooLarge, "zone file is larger than %d bytes", MaxZoneFileSize)
	}
	entries, err := scanEntries(zone, text)
	if err != nil {
		return nil, err
	}
	zp := mdns.NewZoneParser(bytes.NewReader(text), zone, "")
	zp.SetIncludeAllowed(false)
	var out []Record
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		line := 0
		if len(out) < len(entries) {
			line = entries[len(out)]
		}
		rec, err := normalizeRR(zone, rr)
		if err != nil {
			return nil, &LineError{Line: line, Err: err}
		}
		out = append(out, rec)
	}
	if err := zp.Err(); err != nil {
		msg, line := splitParseError(err)
		return nil, &LineError{Line: line, Err: apperr.New(apperr.Invalid, "%s", msg)}
	}
	return out, nil
}

// scanEntries splits a master file into logical entries the way RFC 1035
// does (parentheses join lines, quotes and ';' comments respected) and
// returns the starting line of each record entry. It refuses the directives
// that would reach outside the zone.
func scanEntries(zone string, text []byte) ([]int, error) {
	var starts []int
	line, depth := 1, 0
	inQuote, inComment := false, false
	var cur []byte // current logical entry, comments removed
	startLine := 0
	flush := func() error {
		entry := strings.TrimSpace(string(cur))
		defer func() { cur = cur[:0]; startLine = 0 }()
		if entry == "" {
			return nil
		}
		if strings.HasPrefix(entry, "$") && len(cur) > 0 && cur[0] == '$' {
			fields := strings.Fields(entry)
			switch strings.ToUpper(fields[0]) {
			case "$TTL":
				return nil
			case "$ORIGIN":
				if len(fields) < 2 {
					return &LineError{Line: startLine, Err: apperr.New(apperr.Invalid, "$ORIGIN without a name")}
				}
				o := strings.ToLower(fields[1])
				if !strings.HasSuffix(o, ".") || !mdns.IsSubDomain(zone, o) {
					return &LineError{Line: startLine, Err: apperr.New(apperr.Invalid, "$ORIGIN %s is not an absolute name inside zone %s", fields[1], zone)}
				}
				return nil
			default:
				return &LineError{Line: startLine, Err: apperr.New(apperr.Invalid, "directive %s is not allowed", fields[0])}
			}
		}
		starts = append(starts, startLine)
		return nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' {
			inComment = false
			if depth == 0 && !inQuote {
				if err := flush(); err != nil {
					return nil, err
				}
			} else {
				cur = append(cur, ' ')
			}
			line++
			continue
		}
		if inComment {
			continue
		}
		if startLine == 0 && c != ' ' && c != '\t' && c != '\r' && c != ';' {
			startLine = line
		}
		switch {
		case c == '\\' && i+1 < len(text) && text[i+1] != '\n':
			cur = append(cur, c, text[i+1])
			i++
			continue
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == ';':
			inComment = true
			continue
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		}
		cur = append(cur, c)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return starts, nil
}

// FormatZone prints z as an RFC 1035 master file: a comment header, the SOA
// first, then the other records sorted by name (apex first, then in DNS
// canonical order), type and data, one absolute record per line. The output
// round-trips through [ParseZoneFile].
func FormatZone(z Zone) string {
	origin := strings.ToLower(mdns.Fqdn(z.Name))
	recs := slices.Clone(z.Records)
	slices.SortStableFunc(recs, func(a, b Record) int {
		if c := cmp.Compare(b2i(a.Type != "SOA"), b2i(b.Type != "SOA")); c != 0 {
			return c
		}
		if c := compareNames(a.Name, b.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.Data, b.Data)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "; zone %s serial %d\n", origin, z.Serial)
	for _, r := range recs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareNames orders domain names canonically (RFC 4034 section 6.1):
// label by label from the right, case-insensitively, so a parent sorts
// before its children. It does not allocate.
func compareNames(a, b string) int {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	for a != "" && b != "" {
		ia, ib := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
		if c := compareFold(a[ia+1:], b[ib+1:]); c != 0 {
			return c
		}
		a, b = a[:max(ia, 0)], b[:max(ib, 0)]
	}
	return cmp.Compare(len(a), len(b))
}

// compareFold compares two labels as lower-case octet strings.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lowerByte(a[i]), lowerByte(b[i])
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
