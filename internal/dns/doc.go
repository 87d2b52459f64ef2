// Package dns is poolctl's authoritative nameserver and its zone toolkit.
//
// The package has two halves:
//
//   - Validation and formatting used by the zone service before anything is
//     stored: [CanonicalZoneName], [NormalizeRecord], [CheckZone],
//     [ParseZoneFile], [FormatZone], [NextSerial] and [DiffRecords]. They work
//     on the package's own [Record] and [Zone] types so that no other package
//     needs github.com/miekg/dns (only this package may import it).
//
//   - A [Server] that answers queries over UDP and TCP from an in-memory
//     snapshot which the rest of poolctl pushes in with [Server.SetZone]. The
//     snapshot is immutable and pre-indexed (owner name → RRsets of pre-built
//     RRs, wildcard and delegation information); SetZone builds a new one and
//     swaps it in atomically, so queries never take a lock.
//
// The server is faithful to the DNS specifications that matter for an
// authoritative-only server: RFC 1034/1035 (lookup algorithm, AA, NXDOMAIN vs
// NODATA with the SOA in authority), RFC 2181 (RRset TTLs, TC only when needed
// data is missing), RFC 4592 (wildcards), RFC 6891 (EDNS(0)), RFC 8482
// (minimal ANY), RFC 1995/5936 (IXFR/AXFR), RFC 1996 (NOTIFY) and RFC 8945
// (TSIG, hmac-sha256). It knows nothing of SQL or HTTP.
package dns
