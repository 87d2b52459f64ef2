#!/usr/bin/env bash
# clusterlatency.sh: a record change through the API until every nameserver
# of a DNS cluster answers it: poolctl (a server and two dns-nodes as
# write-only members) next to BIND 9 (a primary taking the change as a
# dynamic UPDATE, NOTIFY with notify-delay 0, two secondaries pulling by
# IXFR), change by change in turns, every nameserver polled over UDP every
# 1 ms. Then a poolctl member is killed with -9, misses CATCHUP changes
# (default 1000), is restarted and timed until it is current.
#
#   ./bench/clusterlatency.sh                 # 200 changes
#   CHANGES=50 ./bench/clusterlatency.sh -v   # extra flags go to the program
#
# Requirements: go, named (Debian: bind9). Loopback only; the run is
# bounded (6 minutes); everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHANGES=${CHANGES:-200}
CATCHUP=${CATCHUP:-1000}

NAMED=$(command -v named || true)
if [ -z "$NAMED" ] && [ -x /usr/sbin/named ]; then NAMED=/usr/sbin/named; fi
[ -n "$NAMED" ] || { echo "clusterlatency.sh: named is required (apt-get install -y --no-install-recommends bind9)" >&2; exit 2; }
command -v go >/dev/null 2>&1 || { echo "clusterlatency.sh: go is required" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolctl-clusterlatency-bin.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
go build -o "$WORK/poolctl" ./cmd/poolctl
go build -o "$WORK/clusterlatency" ./bench/clusterlatency
timeout 420 "$WORK/clusterlatency" --binary "$WORK/poolctl" --named "$NAMED" --changes "$CHANGES" --catchup "$CATCHUP" "$@"
