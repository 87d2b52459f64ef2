#!/usr/bin/env bash
# cfcut.sh: 1,000 account records cut through the Cloudflare fake with
# Cloudflare's real limits (Free plan: 200 records per batch; 1,200
# requests per 5 minutes kept by the client's token bucket), batched,
# next to the naive plan of one request per record, whose time at the
# limit is computed on an injected clock in the same run (not waited for).
#
#   ./bench/cfcut.sh                  # 1000 records
#   RECORDS=3000 ./bench/cfcut.sh -json
#
# Requirements: go. Loopback only (an httptest server in the process).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECORDS=${RECORDS:-1000}
cd "$ROOT"
exec go run ./bench/cfcut -records "$RECORDS" "$@"
