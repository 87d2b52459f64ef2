#!/usr/bin/env bash
# clusterscale.sh: the DNS cluster at scale (default 10,000 zones of 100
# records): zones made through the API, a new dns-node's full resync as a
# write-only member, then its start-up time and resident memory next to NSD
# loading the same zones from zone files.
#
#   ./bench/clusterscale.sh                          # 10,000 × 100
#   ZONES=1000 RECORDS=50 ./bench/clusterscale.sh    # smaller
#
# Requirements: go, nsd (Debian: nsd), pgrep. Loopback only; bounded (40
# minutes); everything started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZONES=${ZONES:-10000}
RECORDS=${RECORDS:-100}
NSD=$(command -v nsd || true)
if [ -z "$NSD" ] && [ -x /usr/sbin/nsd ]; then NSD=/usr/sbin/nsd; fi
[ -n "$NSD" ] || { echo "clusterscale.sh: nsd is required (apt-get install -y --no-install-recommends nsd)" >&2; exit 2; }
command -v go >/dev/null 2>&1 || { echo "clusterscale.sh: go is required" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolctl-clusterscale-bin.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
go build -o "$WORK/poolctl" ./cmd/poolctl
go build -o "$WORK/clusterscale" ./bench/clusterscale
timeout 2400 "$WORK/clusterscale" --binary "$WORK/poolctl" --nsd "$NSD" --zones "$ZONES" --records "$RECORDS" "$@"
