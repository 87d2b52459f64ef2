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
//
// Choices where the specifications leave room:
//
//   - Responses are minimal: positive answers carry no NS set in the
//     authority section (as Knot, and NSD or BIND with minimal-responses);
//     the additional section holds the A/AAAA of in-zone NS, MX and SRV
//     targets, and a referral's glue.
//   - ANY gets one RRset (RFC 8482): the CNAME, else the SOA at the apex,
//     else the RRset of the lowest type.
//   - UDP responses are at most 512 octets without EDNS and at most
//     min(client buffer, [Config.MaxUDPSize], default 1232) with it. When
//     the answer does not fit, additional data is dropped first (no TC);
//     otherwise the sections are emptied and TC is set, and the retry over
//     TCP gets everything.
//   - Zones not served are REFUSED; transfers of them get NOTAUTH (RFC
//     5936 section 2.2.1); transfers refused by the ACL or the TSIG
//     requirement get REFUSED; a TSIG that does not verify gets NOTAUTH with
//     the TSIG error BADKEY, BADSIG or BADTIME (RFC 8945 section 5.2).
//   - UDP is served in batches (recvmmsg/sendmmsg) by a loop of this
//     package, without a goroutine per query; TCP uses miekg's server.
package dns
