#!/usr/bin/env bash
# Account protection end to end vs restic on the same generated data, in one
# run: `poolctl server` and two real agents on 127.0.0.1, first
# `protection run-now --follow` (snapshot, upload through the HTTPS API,
# staged restore on the standby, cleanup), stored size, and an incremental
# run after changing 1 % of the files; restic backup+restore and its
# incremental backup on the same data.
#
#   ./bench/protection.sh [size-MiB [files [flags...]]]   # defaults: 1024 MiB in 34000 files
#   ./bench/protection.sh 200 6800
#   ./bench/protection.sh 200 6800 --objects /dev/shm/objs --keep-caches   # flags go to the program
#   PROFILE=1 ./bench/protection.sh 200 6800     # CPU profiles of server and agents, kept
#
# Needs about 5x the data size free under BENCH_DIR (default /var/tmp); run
# as root to drop the page caches before each timed step. The work
# directory is removed at the end unless KEEP=1 or PROFILE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v restic >/dev/null; then
	apt-get install -y --no-install-recommends restic
fi
size=${1:-1024}
files=${2:-$((size * 34000 / 1024))}
shift $(($# < 2 ? $# : 2))
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/protbench.XXXXXX")
PID=
cleanup() {
	# The program stops the server and agents it started; its children
	# also get SIGTERM should it die (Pdeathsig).
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	if [ "${KEEP:-}" = 1 ] || [ "${PROFILE:-}" = 1 ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building poolctl (without -race) and the benchmark into $WORK ..." >&2
extra=()
if [ "${PROFILE:-}" = 1 ]; then
	go build -o "$WORK/poolctl" ./bench/protection/profiled
	extra=(--profile)
else
	go build -o "$WORK/poolctl" ./cmd/poolctl
fi
go build -o "$WORK/protection-bench" ./bench/protection
"$WORK/protection-bench" --work "$WORK" --size-mib "$size" --files "$files" "${extra[@]}" "$@" &
PID=$!
status=0
wait "$PID" || status=$?
PID=
exit "$status"
