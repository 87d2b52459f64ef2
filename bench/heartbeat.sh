#!/usr/bin/env bash
# Heartbeat ingestion through the real HTTPS API: 2,000 simulated members
# with distinct credentials, first as fast as possible, then paced at
# 5,000/s for the p99 latency; on SQLite, then on PostgreSQL. Each run
# first sends for 5 s unmeasured: the 2,000 TLS handshakes and first beats
# (members turning healthy) are start-up, not sustained load.
# The server is pinned to core 0 and the load generator to core 1.
#   ./bench/heartbeat.sh [members] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-2000}
SECS=${2:-15}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

go build -o "$WORK/poolctl" ./cmd/poolctl
go build -o "$WORK/hbload" ./bench/hbload

run() { # name, extra server args...
  local name=$1; shift
  local data="$WORK/data-$name"
  taskset -c 0 "$WORK/poolctl" server --data "$data" --listen 127.0.0.1:0 --log-level warn "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$data/server.url" ] && break; sleep 0.1; done
  export POOLCTL_URL=$(cat "$data/server.url") POOLCTL_TOKEN=$(cat "$data/admin.token") POOLCTL_CA="$data/ca.pem"
  echo "## $name: max throughput ($MEMBERS members, ${SECS}s, 64 connections)"
  taskset -c 1 "$WORK/hbload" --members "$MEMBERS" --duration "${SECS}s" --concurrency 64 --warmup 5s --pool max
  echo "## $name: paced at 5000/s"
  taskset -c 1 "$WORK/hbload" --members "$MEMBERS" --duration "${SECS}s" --concurrency 64 --rate 5000 --warmup 5s --pool paced
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
}

run sqlite
DB="poolctl_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" postgres
run postgres --database "postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)" postgres
