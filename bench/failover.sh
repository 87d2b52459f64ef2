#!/usr/bin/env bash
# Failover latency over many induced failures: kill -> first DNS answer with
# the standby, minus the configured delay.   ./bench/failover.sh [pools] [delay]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/poolctl" ./cmd/poolctl
go run ./bench/failover --binary "$WORK/poolctl" --pools "${1:-50}" --delay "${2:-5s}"
