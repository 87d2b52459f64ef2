#!/usr/bin/env bash
# Replication engine vs restic on the same generated data, in one run:
# first snapshot+restore, stored size, and an incremental after changing 1 %
# of the files.   ./bench/replication.sh [size-MiB] [files]
# (defaults: 1024 MiB in 34000 files; e.g. ./bench/replication.sh 200 6800)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v restic >/dev/null; then
	apt-get install -y --no-install-recommends restic
fi
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/replbench.XXXXXX"); trap 'rm -rf "$WORK"' EXIT
size=${1:-1024}
files=${2:-$((size * 34000 / 1024))}
go run ./bench/replication --work "$WORK" --size-mib "$size" --files "$files"
