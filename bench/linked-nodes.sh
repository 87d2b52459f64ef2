#!/usr/bin/env bash
# Linked nodes: distribution of one Maildir to a mail child and back through
# the real server, agents, Dovecot and Postfix, next to `rsync -a` of the
# same Maildir in the same run, while mail arrives every 100 ms.
#   ./bench/linked-nodes.sh            5,000 messages, 100 MiB
#   ./bench/linked-nodes.sh --full     the issue's 50,000 messages, 1 GiB
#   ./bench/linked-nodes.sh N MIB      any size
# Needs root, dovecot-imapd, dovecot-pop3d, postfix and rsync.
set -euo pipefail
cd "$(dirname "$0")/.."
msgs=5000 mib=100
if [ "${1:-}" = "--full" ]; then msgs=50000 mib=1024
elif [ $# -ge 2 ]; then msgs=$1 mib=$2; fi
go test -count=1 -timeout 60m -run 'TestDistributionBenchmark$' ./e2e/ -v -args -links-bench-messages "$msgs" -links-bench-mib "$mib" |
	grep -E '^(maildir|rsync|distribute|dedistribute|messages sent)|FAIL|^ok'
