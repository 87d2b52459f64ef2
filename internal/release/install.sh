#!/bin/sh
# poolctl agent installer, served by a poolctl server at /install.sh.
#
#   curl -fsS -k --pinnedpubkey sha256//PIN https://HOST:PORT/install.sh |
#     sh -s -- --server https://HOST:PORT --secret pe1.... [--data DIR] [--init auto|systemd|openrc|sysv|none] [--force]
#
# It downloads the agent binary for this machine from the same server, over
# the same pinned TLS connection, checks its SHA-256 against the server's
# SHA256SUMS, installs it as /usr/local/bin/poolctl and runs
# `poolctl agent install` with the arguments given here, which writes the
# service, enrols and starts the agent. Nothing it downloaded runs unless
# its checksum matched.
set -eu

# The server's TLS public key; empty when its certificate is verified by name.
PIN='{{.Pin}}'
BIN=/usr/local/bin/poolctl

say() { echo "poolctl install: $*" >&2; }
die() { say "$*"; exit 1; }

server=""
prev=""
for a in "$@"; do
	case "$prev" in --server) server=$a ;; esac
	case "$a" in --server=*) server=${a#--server=} ;; esac
	prev=$a
done
server=${server%/}
case "$server" in
https://*) ;;
"") die "--server https://HOST:PORT is required" ;;
*) die "--server $server: want an https:// URL (nothing is installed over plain HTTP)" ;;
esac

[ "$(uname -s)" = Linux ] || die "this is $(uname -s); poolctl agents run on Linux"
[ "$(id -u)" = 0 ] || die "run me as root (... | sudo sh -s -- ...)"
command -v curl >/dev/null 2>&1 || die "curl is needed"

os_id=""
os_like=""
if [ -r /etc/os-release ]; then
	os_id=$(. /etc/os-release && echo "${ID:-}")
	os_like=$(. /etc/os-release && echo "${ID_LIKE:-}")
fi
case "$os_id" in
debian | ubuntu | rhel | rocky | almalinux | centos) ;;
*)
	case " $os_like " in
	*" debian "* | *" ubuntu "* | *" rhel "* | *" fedora "*) say "$os_id is not tested; going on as for ${os_like}" ;;
	*) die "unsupported distribution '${os_id:-unknown}' (supported: Debian, Ubuntu, RHEL, Rocky, Alma)" ;;
	esac
	;;
esac

case "$(uname -m)" in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "unsupported architecture $(uname -m) (supported: x86_64, aarch64)" ;;
esac

fetch() { # URL FILE
	if [ -n "$PIN" ]; then
		curl -fsS --proto '=https' -k --pinnedpubkey "$PIN" -o "$2" "$1"
	else
		curl -fsS --proto '=https' -o "$2" "$1"
	fi
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		set -- $(sha256sum "$1")
	elif command -v openssl >/dev/null 2>&1; then
		set -- $(openssl dgst -sha256 -r "$1")
	else
		die "sha256sum or openssl is needed to check the download"
	fi
	echo "$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

fetch "$server/api/v1/agent/releases/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not fetch $server/api/v1/agent/releases/SHA256SUMS"
want=""
offered=""
while read -r sum name; do
	offered="$offered ${name#poolctl-}"
	[ "$name" = "poolctl-linux-$arch" ] && want=$sum
done <"$tmp/SHA256SUMS"
[ -n "$want" ] || die "the server offers no agent for linux-$arch (it offers:${offered:- nothing})"

say "downloading the agent for linux/$arch from $server"
fetch "$server/api/v1/agent/releases/linux/$arch" "$tmp/poolctl" || die "could not download the agent binary"
got=$(sha256 "$tmp/poolctl")
if [ "$got" != "$want" ]; then
	die "the downloaded binary's SHA-256 is $got, the server's catalogue says $want: refused, nothing was installed"
fi

mkdir -p "$(dirname "$BIN")"
cp "$tmp/poolctl" "$BIN.new"
chmod 0755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
say "installed $BIN (sha256 $got)"
rm -rf "$tmp"
trap - EXIT
exec "$BIN" agent install "$@"
