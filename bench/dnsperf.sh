#!/usr/bin/env bash
# dnsperf.sh: load-test poolctl's authoritative DNS server against NSD.
#
# Both servers serve internal/dns/testdata/example.test.zone on 127.0.0.1
# (random ports). Each server is pinned to CPU 0 and dnsperf to CPU 1 with
# taskset (both on CPU 0 when the machine has a single CPU). poolctl runs as
# the compiled internal/dns test binary (TestServeForBench), GOMAXPROCS
# following the pinning; NSD runs with server-count 1.
#
#   1. Throughput: RUNS rounds (default 3), each running dnsperf for DUR
#      seconds (default 10) with CLIENTS clients (default 4) against poolctl
#      then NSD; the medians and the ratio poolctl/NSD are printed. The
#      machine is shared and noisy, so compare the ratio, not absolute qps.
#   2. Latency: one DUR-second run per server at a fixed RATE (default
#      20000 qps, dnsperf -Q). dnsperf 2.10 prints only the average and the
#      standard deviation, so the script also runs it with -v (one line per
#      response, with its latency) and computes p50/p99/p99.9 from those.
#
# Requirements: go, dnsperf, nsd, dig, taskset (Debian: dnsperf nsd
# bind9-dnsutils util-linux). Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10}
CLIENTS=${CLIENTS:-4}
RUNS=${RUNS:-3}
RATE=${RATE:-20000}
QUERIES=${QUERIES:-$ROOT/bench/dnsperf-queries.txt}

for tool in go dnsperf nsd dig taskset setsid; do
	command -v "$tool" >/dev/null 2>&1 || { echo "dnsperf.sh: $tool is required" >&2; exit 2; }
done
[ "$DUR" -ge 1 ] && [ "$DUR" -le 60 ] || { echo "DUR must be 1..60" >&2; exit 2; }
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 10 ] || { echo "RUNS must be 1..10" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolctl-dnsperf.XXXXXX")
GROUPS_STARTED=()

cleanup() {
	local pg
	rm -f "$WORK/addr"
	for pg in "${GROUPS_STARTED[@]}"; do
		kill -TERM -- "-$pg" 2>/dev/null || true
	done
	sleep 0.5
	for pg in "${GROUPS_STARTED[@]}"; do
		kill -KILL -- "-$pg" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(nproc)" -ge 2 ]; then
	SERVER_CPU=0 CLIENT_CPU=1
else
	SERVER_CPU=0 CLIENT_CPU=0
	echo "warning: one CPU only; server and dnsperf share it" >&2
fi

cp "$ROOT/internal/dns/testdata/example.test.zone" "$WORK/example.test.zone"
cp "$QUERIES" "$WORK/queries.txt"

echo "building the poolctl DNS load target..." >&2
(cd "$ROOT" && go test -c -o "$WORK/dns.test" ./internal/dns)

# wait_soa PORT: wait up to 10 s until something answers the zone's SOA.
wait_soa() {
	local i
	for i in $(seq 1 50); do
		if [ -n "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" example.test SOA 2>/dev/null)" ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# --- poolctl ---------------------------------------------------------------
POOLCTL_DNSBENCH_ADDR_FILE="$WORK/addr" POOLCTL_DNSBENCH_ZONE="$WORK/example.test.zone" \
	setsid taskset -c "$SERVER_CPU" "$WORK/dns.test" -test.run '^TestServeForBench$' -test.count=1 -test.v \
	>"$WORK/poolctl.log" 2>&1 &
GROUPS_STARTED+=($!)
for i in $(seq 1 150); do
	[ -s "$WORK/addr" ] && break
	sleep 0.2
done
[ -s "$WORK/addr" ] || { echo "poolctl did not start:" >&2; cat "$WORK/poolctl.log" >&2; exit 1; }
POOLCTL_PORT=$(sed 's/.*://' "$WORK/addr")
wait_soa "$POOLCTL_PORT" || { echo "poolctl does not answer" >&2; exit 1; }

# --- NSD ---------------------------------------------------------------------
NSD_PORT=
for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	mkdir -p "$WORK/nsd"
	cat >"$WORK/nsd/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$port
  zonesdir: $WORK
  database: ""
  pidfile: $WORK/nsd/nsd.pid
  xfrdfile: $WORK/nsd/xfrd.state
  zonelistfile: $WORK/nsd/zone.list
  xfrdir: $WORK/nsd
  username: ""
  logfile: $WORK/nsd/nsd.log
  server-count: 1
  rrl-ratelimit: 0
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
CONF
	setsid taskset -c "$SERVER_CPU" nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd/stderr" 2>&1 &
	pid=$!
	GROUPS_STARTED+=($pid)
	if wait_soa "$port"; then
		NSD_PORT=$port
		break
	fi
	kill -TERM -- "-$pid" 2>/dev/null || true
done
[ -n "$NSD_PORT" ] || { echo "NSD did not start:" >&2; cat "$WORK/nsd/nsd.log" "$WORK/nsd/stderr" >&2; exit 1; }

# perf PORT OUT [dnsperf flags...]: one bounded dnsperf run on the client CPU.
perf() {
	local port=$1 out=$2
	shift 2
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" -l "$DUR" -c "$CLIENTS" "$@" >"$out" 2>&1
}
field() { awk -v k="$1" 'index($0, k) { sub(/.*: */, ""); print $1; exit }' "$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "throughput: $RUNS rounds of ${DUR}s, $CLIENTS clients, servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU" >&2
: >"$WORK/qps.poolctl"
: >"$WORK/qps.nsd"
for r in $(seq 1 "$RUNS"); do
	for who in poolctl nsd; do
		port=$POOLCTL_PORT
		[ "$who" = nsd ] && port=$NSD_PORT
		perf "$port" "$WORK/run.$who.$r"
		q=$(field "Queries per second:" "$WORK/run.$who.$r")
		lost=$(field "Queries lost:" "$WORK/run.$who.$r")
		echo "  round $r $who: $q qps, lost $lost" >&2
		echo "$q" >>"$WORK/qps.$who"
	done
done
P_QPS=$(median <"$WORK/qps.poolctl")
N_QPS=$(median <"$WORK/qps.nsd")

echo "latency: ${DUR}s at $RATE qps each" >&2
for who in poolctl nsd; do
	port=$POOLCTL_PORT
	[ "$who" = nsd ] && port=$NSD_PORT
	perf "$port" "$WORK/lat.$who" -Q "$RATE" -v
	awk '$1 == ">" { print $NF * 1000 }' "$WORK/lat.$who" | sort -g >"$WORK/lat.$who.sorted"
done
# pct FILE P: the P-th percentile (nearest rank) of a sorted file.
pct() { awk -v p="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.3f\n", v[i] }' "$1"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.3f\n", s * 1000 }'; }

echo
echo "poolctl vs NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}'), zone example.test ($(grep -c ' IN ' "$WORK/example.test.zone") records), $(wc -l <"$WORK/queries.txt") query names"
printf '%-8s %12s\n' server "qps (median of $RUNS)"
printf '%-8s %12s\n' poolctl "$P_QPS"
printf '%-8s %12s\n' nsd "$N_QPS"
awk -v p="$P_QPS" -v n="$N_QPS" 'BEGIN { printf "ratio poolctl/nsd: %.2f\n", p / n }'
echo
echo "latency at -Q $RATE (ms)  avg     stddev  p50     p99     p99.9   lost"
for who in poolctl nsd; do
	f=$WORK/lat.$who
	printf '%-24s %-7s %-7s %-7s %-7s %-7s %s\n' "$who" \
		"$(ms "$(field "Average Latency (s):" "$f")")" "$(ms "$(field "Latency StdDev (s):" "$f")")" \
		"$(pct "$f.sorted" 50)" "$(pct "$f.sorted" 99)" "$(pct "$f.sorted" 99.9)" "$(field "Queries lost:" "$f")"
done
