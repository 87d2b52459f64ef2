package dns

import (
	"strconv"
	"time"
)

// Serial schemes understood by [NextSerial].
const (
	SerialDate      = "date"      // YYYYMMDDnn, UTC
	SerialUnixtime  = "unixtime"  // seconds since 1970, UTC
	SerialIncrement = "increment" // old + 1
)

// NextSerial returns the serial that follows old under scheme: the scheme's
// value for now if that is greater than old in RFC 1982 serial arithmetic,
// otherwise old+1 (so it never goes back; in the "date" scheme the 100th
// change of a day moves into the next day's numbers, as BIND does). Unknown
// or empty schemes increment.
func NextSerial(old uint32, now time.Time, scheme string) uint32 {
	var cand uint32
	switch scheme {
	case SerialDate:
		d, _ := strconv.ParseUint(now.UTC().Format("20060102"), 10, 32)
		cand = uint32(d) * 100
	case SerialUnixtime:
		cand = uint32(now.Unix())
	default:
		return old + 1
	}
	if SerialGreater(cand, old) {
		return cand
	}
	return old + 1
}

// SerialGreater reports whether serial a is greater than b in RFC 1982
// serial number arithmetic (32-bit SERIAL_BITS).
func SerialGreater(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}

// DiffRecords returns the records of old missing from new (removed) and those
// of new missing from old (added), each in input order. Records are compared
// by name, type, TTL and data, and as multisets, so a TTL change is a removal
// plus an addition, as IXFR expects.
func DiffRecords(old, new []Record) (removed, added []Record) {
	count := make(map[Record]int, len(new))
	for _, r := range new {
		count[r]++
	}
	for _, r := range old {
		if count[r] > 0 {
			count[r]--
			continue
		}
		removed = append(removed, r)
	}
	oldCount := make(map[Record]int, len(old))
	for _, r := range old {
		oldCount[r]++
	}
	for _, r := range new {
		if oldCount[r] > 0 {
			oldCount[r]--
			continue
		}
		added = append(added, r)
	}
	return removed, added
}
