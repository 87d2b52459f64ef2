#!/usr/bin/env bash
# propagation.sh: change propagation, API call -> an NSD secondary serves it.
#
# Builds ./cmd/poolctl and ./bench/propagation, then runs the latter: it
# starts `poolctl server` (nameserver on 127.0.0.1, NOTIFY to NSD, TSIG
# required for transfers) and NSD as its secondary, makes CHANGES (default
# 100) record additions through the API one after another and times each
# until poolctl's own nameserver and until NSD answer with the new record.
# It prints count, median, p90, p99 and max for both, their ratio, whether
# NSD pulled the changes by IXFR or AXFR, and a timeline of the steps.
#
#   ./bench/propagation.sh                   # 100 changes
#   CHANGES=20 ./bench/propagation.sh -v     # extra flags go to the program
#   ./bench/propagation.sh --nsd-reload-timeout 1 --gap 1.1s   # NSD's default reload throttle
#
# Requirements: go, nsd (Debian: nsd). Loopback only. The whole run is
# bounded (the program stops itself after 3 minutes; this script kills it
# after 4). Everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHANGES=${CHANGES:-100}

NSD=$(command -v nsd || true)
if [ -z "$NSD" ] && [ -x /usr/sbin/nsd ]; then NSD=/usr/sbin/nsd; fi
for tool in go setsid timeout; do
	command -v "$tool" >/dev/null 2>&1 || { echo "propagation.sh: $tool is required" >&2; exit 2; }
done
[ -n "$NSD" ] || { echo "propagation.sh: nsd is required (apt-get install -y --no-install-recommends nsd)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolctl-propagation-sh.XXXXXX")
PGID=

cleanup() {
	# The program, poolctl and NSD (with its children) share one process
	# group, started with setsid below.
	if [ -n "$PGID" ]; then
		kill -TERM -- "-$PGID" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 -- "-$PGID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL -- "-$PGID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building poolctl and the benchmark..." >&2
(cd "$ROOT" && go build -o "$WORK/poolctl" ./cmd/poolctl && go build -o "$WORK/propagation" ./bench/propagation)

setsid timeout -k 5 240 "$WORK/propagation" --binary "$WORK/poolctl" --nsd "$NSD" \
	--changes "$CHANGES" --timeout 3m "$@" &
PGID=$!
status=0
wait "$PGID" || status=$?
exit "$status"
