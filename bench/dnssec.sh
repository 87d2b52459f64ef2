#!/usr/bin/env bash
# dnssec.sh: queries/s of poolctl's nameserver on a DNSSEC-signed zone with
# DO=1, next to NSD serving the same zone pre-signed with ldns-signzone
# (NSEC3, SHA-1, no opt-out, 0 iterations, empty salt; ECDSA P-256 keys from
# ldns-keygen), and the same pair unsigned with DO=0 for the unsigned ratio.
#
# Four servers serve internal/dns/testdata/example.test.zone on 127.0.0.1:
# poolctl signed (TestServeForBench with POOLCTL_DNSBENCH_SIGN=1), poolctl
# unsigned, NSD signed, NSD unsigned. Servers are pinned to CPU 0, dnsperf
# to CPU 1 (taskset). RUNS rounds (default 3) of DUR seconds (default 10)
# with CLIENTS clients (default 4) go round the four in turn; the medians
# and the ratios poolctl/NSD are printed. dnsperf -D sets the DO bit.
#
# Requirements: go, dnsperf, nsd, dig, taskset, ldns-keygen, ldns-signzone
# (Debian: dnsperf nsd bind9-dnsutils util-linux ldnsutils). Everything
# started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10}
CLIENTS=${CLIENTS:-4}
RUNS=${RUNS:-3}
QUERIES=${QUERIES:-$ROOT/bench/dnsperf-queries.txt}

for tool in go dnsperf nsd dig taskset setsid ldns-keygen ldns-signzone; do
	command -v "$tool" >/dev/null 2>&1 || { echo "dnssec.sh: $tool is required" >&2; exit 2; }
done
[ "$DUR" -ge 1 ] && [ "$DUR" -le 60 ] || { echo "DUR must be 1..60" >&2; exit 2; }
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 10 ] || { echo "RUNS must be 1..10" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolctl-dnssec.XXXXXX")
GROUPS_STARTED=()
cleanup() {
	local pg
	rm -f "$WORK"/addr.*
	for pg in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
	sleep 0.5
	for pg in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=0 CLIENT_CPU=1; else SERVER_CPU=0 CLIENT_CPU=0; fi

cp "$ROOT/internal/dns/testdata/example.test.zone" "$WORK/example.test.zone"
cp "$QUERIES" "$WORK/queries.txt"
(cd "$WORK" &&
	KSK=$(ldns-keygen -a ECDSAP256SHA256 -k example.test) &&
	ZSK=$(ldns-keygen -a ECDSAP256SHA256 example.test) &&
	ldns-signzone -n -t 0 -o example.test -f example.test.signed example.test.zone "$ZSK" "$KSK")

echo "building the poolctl DNS load target..." >&2
(cd "$ROOT" && go test -c -o "$WORK/dns.test" ./internal/dns)

wait_soa() {
	local i
	for i in $(seq 1 50); do
		[ -n "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" example.test SOA 2>/dev/null)" ] && return 0
		sleep 0.2
	done
	return 1
}

# poolctl NAME SIGN: start a poolctl load target; sets PORT.
poolctl() {
	POOLCTL_DNSBENCH_ADDR_FILE="$WORK/addr.$1" POOLCTL_DNSBENCH_ZONE="$WORK/example.test.zone" POOLCTL_DNSBENCH_SIGN=$2 \
		setsid taskset -c "$SERVER_CPU" "$WORK/dns.test" -test.run '^TestServeForBench$' -test.count=1 -test.v \
		>"$WORK/$1.log" 2>&1 &
	GROUPS_STARTED+=($!)
	for i in $(seq 1 150); do [ -s "$WORK/addr.$1" ] && break; sleep 0.2; done
	[ -s "$WORK/addr.$1" ] || { echo "poolctl $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1; }
	PORT=$(sed 's/.*://' "$WORK/addr.$1")
	wait_soa "$PORT" || { echo "poolctl $1 does not answer" >&2; exit 1; }
}

# nsd NAME ZONEFILE: start NSD on a free port; sets PORT.
nsd_start() {
	local attempt port pid
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		mkdir -p "$WORK/$1"
		cat >"$WORK/$1/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  zonesdir: $WORK
  database: ""
  pidfile: $WORK/$1/nsd.pid
  xfrdfile: $WORK/$1/xfrd.state
  zonelistfile: $WORK/$1/zone.list
  xfrdir: $WORK/$1
  username: ""
  logfile: $WORK/$1/nsd.log
  server-count: 1
  rrl-ratelimit: 0
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: $2
CONF
		setsid taskset -c "$SERVER_CPU" nsd -d -c "$WORK/$1/nsd.conf" >"$WORK/$1/stderr" 2>&1 &
		pid=$!
		GROUPS_STARTED+=($pid)
		if wait_soa "$port"; then PORT=$port; return 0; fi
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	echo "NSD $1 did not start" >&2
	cat "$WORK/$1/nsd.log" "$WORK/$1/stderr" >&2
	exit 1
}

poolctl p-signed 1; P_SIGNED=$PORT
poolctl p-plain 0; P_PLAIN=$PORT
nsd_start n-signed example.test.signed; N_SIGNED=$PORT
nsd_start n-plain example.test.zone; N_PLAIN=$PORT

# Both signed servers answer with signatures.
for port in "$P_SIGNED" "$N_SIGNED"; do
	dig +dnssec +norec @127.0.0.1 -p "$port" www.example.test A | grep -q RRSIG || { echo "port $port: no RRSIG in a DO=1 answer" >&2; exit 1; }
done

perf() {
	local port=$1 out=$2
	shift 2
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" -l "$DUR" -c "$CLIENTS" "$@" >"$out" 2>&1
}
field() { awk -v k="$1" 'index($0, k) { sub(/.*: */, ""); print $1; exit }' "$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "throughput: $RUNS rounds of ${DUR}s, $CLIENTS clients, servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU" >&2
for r in $(seq 1 "$RUNS"); do
	for who in p-signed n-signed p-plain n-plain; do
		case $who in
		p-signed) port=$P_SIGNED flags=-D ;;
		n-signed) port=$N_SIGNED flags=-D ;;
		p-plain) port=$P_PLAIN flags= ;;
		n-plain) port=$N_PLAIN flags= ;;
		esac
		# shellcheck disable=SC2086
		perf "$port" "$WORK/run.$who.$r" $flags
		q=$(field "Queries per second:" "$WORK/run.$who.$r")
		echo "  round $r $who: $q qps, lost $(field "Queries lost:" "$WORK/run.$who.$r")" >&2
		echo "$q" >>"$WORK/qps.$who"
	done
done
PS=$(median <"$WORK/qps.p-signed")
NS=$(median <"$WORK/qps.n-signed")
PP=$(median <"$WORK/qps.p-plain")
NP=$(median <"$WORK/qps.n-plain")
echo
echo "poolctl vs NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}'), zone example.test, $(wc -l <"$WORK/queries.txt") query names, median of $RUNS x ${DUR}s"
printf '%-22s %12s %12s %8s\n' "" poolctl nsd ratio
awk -v p="$PS" -v n="$NS" 'BEGIN { printf "%-22s %12s %12s %8.2f\n", "signed, DO=1 (qps)", p, n, p / n }'
awk -v p="$PP" -v n="$NP" 'BEGIN { printf "%-22s %12s %12s %8.2f\n", "unsigned, DO=0 (qps)", p, n, p / n }'
