#!/bin/sh
# Installs the Debian packages reconperf needs, when any is missing. Idempotent and quiet
# when everything is there. Runs apt-get as root (or through sudo when available).
set -eu
pkgs="make gcc clang pkg-config git
libunwind-dev libgoogle-perftools-dev google-perftools libcriterion-dev
libbpf-dev bpftool libelf-dev libdw-dev libprotobuf-c-dev protobuf-c-compiler
zlib1g-dev libyaml-dev libcjson-dev systemtap-sdt-dev
golang-go jq libxml2-utils libxml2-dev chromium python3-yaml"
pkgs="$pkgs $*"	# extra packages a target asks for (`make fuzz-afl`: afl++)

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "reconperf: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "reconperf: deps: need root to install:$missing" >&2; exit 2
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
