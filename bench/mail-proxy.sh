#!/usr/bin/env bash
# mail-proxy.sh: IMAP through a parent's Dovecot proxy next to the same
# session straight to the child (issue 12).
#
# Starts a child Dovecot+Postfix holding alice@example.test with 20 messages
# and a parent whose proxy passdb internal/agent/mail's ApplyProxy wrote, all
# on 127.0.0.1 (random ports), then times SESSIONS sessions of each kind
# (connect, LOGIN, SELECT INBOX, FETCH 1 BODY.PEEK[]), alternated one of
# each, and prints both medians and the difference. Twice: the parent's
# login processes in Dovecot's default high-security mode (a process per
# connection) and in high-performance mode (service_count = 0,
# process_min_avail = 2). The child keeps the default. Aim: proxied median
# <= direct + 1 ms.
#
#   ./bench/mail-proxy.sh [SESSIONS]     (default 400; runs as root)
#
# Requirements: go, dovecot-imapd, dovecot-pop3d, postfix. Every daemon
# started is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-400}
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
POOLCTL_REQUIRE_PEERS=1 go test -count=1 -run '^$' -bench BenchmarkIMAPProxy \
	-benchtime "${sessions}x" ./internal/agent/mail/ | grep -oE 'parent=[a-z-]+: IMAP.*'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
