#!/usr/bin/env bash
# Heartbeat ingestion through the real HTTPS API: 2,000 simulated members
# with distinct credentials, on SQLite, then on PostgreSQL:
#  - as fast as possible, members without allowed IPs and members with
#    allowed IPs (a list ending with 127.0.0.0/8, so each request's check
#    walks it), ROUNDS alternated rounds (default 3), a fresh pool each,
#    medians and the ratio with/without;
#  - paced at 5,000/s for the p99 latency;
#  - paced at 5,000/s with the rotation of every member's credential
#    requested 3 s into the measured run: refused heartbeats (401/403) and
#    members switched to their new credential.
# Each run first sends for 5 s unmeasured: the 2,000 TLS handshakes and
# first beats (members turning healthy) are start-up, not sustained load.
# Each run deletes its pool at the end, so its members do not turn down
# under the next one. The server is pinned to core 0 and the load
# generator to core 1.
#   ./bench/heartbeat.sh [members] [seconds]
#   ROUNDS=5 ./bench/heartbeat.sh 2000 10
#   PROFILE=1 ./bench/heartbeat.sh 2000 10   # server CPU profiles, kept (KEEP=1: the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-2000}
SECS=${2:-15}
ROUNDS=${ROUNDS:-3}
ALLOW=10.0.0.0/8,192.168.0.0/16,127.0.0.0/8
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${PROFILE:-}" = 1 ] || [ "${KEEP:-}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

go build -o "$WORK/poolctl" ./cmd/poolctl
go build -o "$WORK/hbload" ./bench/hbload

hb() { # hbload args...; prints its output, leaves it in $WORK/out
  local rc=0
  taskset -c 1 "$WORK/hbload" --members "$MEMBERS" --duration "${SECS}s" --concurrency 64 --warmup 5s --delete-pool "$@" >"$WORK/out" 2>&1 || rc=$?
  cat "$WORK/out"
  [ "$rc" = 0 ] || echo "(hbload exited $rc)"
}
thr() { awk '/^throughput:/ {print $2}' "$WORK/out"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

run() { # name, extra server args...
  local name=$1; shift
  local data="$WORK/data-$name"
  if [ "${PROFILE:-}" = 1 ]; then export POOLCTL_CPUPROFILE="$WORK/$name.cpu.pprof"; fi
  taskset -c 0 "$WORK/poolctl" server --data "$data" --listen 127.0.0.1:0 --log-level warn "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  unset POOLCTL_CPUPROFILE
  for _ in $(seq 1 100); do [ -s "$data/server.url" ] && break; sleep 0.1; done
  export POOLCTL_URL=$(cat "$data/server.url") POOLCTL_TOKEN=$(cat "$data/admin.token") POOLCTL_CA="$data/ca.pem"
  local plain=() allow=() ratios=() r v order
  for r in $(seq 1 "$ROUNDS"); do
    order="plain allow"; [ $((r % 2)) = 0 ] && order="allow plain"
    for v in $order; do
      if [ "$v" = plain ]; then
        echo "## $name: max throughput ($MEMBERS members, ${SECS}s, 64 connections), no allowed IPs, round $r"
        hb --pool "max-plain-$r"
        plain+=("$(thr)")
      else
        echo "## $name: max throughput ($MEMBERS members, ${SECS}s, 64 connections), allowed IPs $ALLOW, round $r"
        hb --pool "max-allow-$r" --allow-ip "$ALLOW"
        allow+=("$(thr)")
      fi
    done
    ratios+=("$(awk -v a="${allow[-1]:-0}" -v b="${plain[-1]:-0}" 'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')")
  done
  local mp ma
  mp=$(median "${plain[@]}"); ma=$(median "${allow[@]}")
  echo "## $name: allow-list cost, max throughput: without ${plain[*]} (median $mp), with ${allow[*]} (median $ma) heartbeats/s"
  echo "## $name: ratio with/without: medians $(awk -v a="$ma" -v b="$mp" 'BEGIN {printf "%.3f", a / b}'); per round ${ratios[*]}"
  echo "## $name: paced at 5000/s"
  hb --rate 5000 --pool paced
  echo "## $name: paced at 5000/s, rotation of all $MEMBERS credentials 3s into the measured ${SECS}s"
  hb --rate 5000 --pool rotate --rotate-at 3s
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  # The server's warnings and errors, but those of its shutdown.
  if grep -qv 'context canceled' "$WORK/$name.log"; then
    echo "## $name: server log (last 20 lines, without the shutdown's)"; grep -v 'context canceled' "$WORK/$name.log" | tail -n 20
  fi
}

echo "## load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run sqlite
DB="poolctl_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" postgres
run postgres --database "postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)" postgres
echo "## load average: $(cut -d' ' -f1-3 /proc/loadavg)"
