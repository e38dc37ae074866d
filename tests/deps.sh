#!/bin/sh
# deps.sh - install the Debian packages niftpmail needs, when missing.
# As root it runs apt-get; otherwise it says what to install and fails.
pkgs="zlib1g-dev libcurl4-openssl-dev libiniparser-dev libcunit1-dev clang libclang-rt-14-dev make gcc"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing; } || {
	echo "deps: apt-get install$missing failed" >&2; exit 1; }
