#!/bin/sh
# t_niftp_cut.sh - a put whose connection is cut mid-transfer by a proxy
# (build/tools/cutproxy: an exact byte count, RST to both sides) finishes
# by automatic resumption with exactly one stored copy, and sends little
# more than the file.
#
#  1. tcp: a 100 MiB --binary put through cutproxy --once --cut-after
#     40 MiB (client to server). put must exit 0 having resumed by itself;
#     the server directory holds exactly one file, identical to the
#     source, and no partial file. The octets forwarded up over both
#     connections (the proxy's count file) must be under 1.5 times the
#     file size; and, so that a restart from zero (which would send 1.4
#     times) cannot pass, under the file size plus half the octets
#     forwarded before the cut: the resumed call started near the cut.
#  2. tcp: the same 100 MiB put cut in the other direction (server to
#     client, where only RPOS, MR and ER travel) after 200 octets: again
#     one identical copy.
#  3. unix: an 8 MiB text put through cutproxy on Unix sockets, cut after
#     4 MiB: one identical copy.
#
# Every step is bounded; every process started is stopped by the trap;
# readiness is a bounded poll of the ready files.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$top/bin/niftp"
CUT="$top/build/tools/cutproxy"
[ -x "$BIN" ] || { echo "t_niftp_cut: $BIN not built"; exit 1; }
[ -x "$CUT" ] || { echo "t_niftp_cut: $CUT not built"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/t_niftp_cut.XXXXXX") || exit 1
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
die() { echo "FAIL $*"; exit 1; }

# wait_ready FILE - bounded poll until FILE exists and is not empty
wait_ready() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
	return 0
}

# forget PID - drop a waited-for pid from the cleanup list
forget() {
	np=""
	for p in $pids; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	pids=$np
}

# stop PID - SIGTERM a process we started and wait for it (bounded)
stop() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 200 ] || { kill -KILL "$1" 2>/dev/null; break; }
		sleep 0.05
	done
	wait "$1" 2>/dev/null
	forget "$1"
}

# count KEY - a value from the proxy's count file
count() {
	sed -n "s/^$1 //p" "$T/count"
}

# --- files and the server ------------------------------------------------------
SIZE=104857600
CUTAT=41943040
head -c $SIZE /dev/urandom >"$T/big.bin" || die "make big.bin"
awk 'BEGIN { for (i = 0; i < 200000; i++)
	printf "%d %s\n", i, substr("text line of varying length for the unix case .............", 1, i % 61) }' |
	head -c 8388607 >"$T/text.txt"
echo >>"$T/text.txt"

mkdir -p "$T/D"
"$BIN" serve --listen tcp:127.0.0.1:0 --listen "unix:$T/s.sock" --dir "$T/D" \
	--ready-file "$T/ready" --log "$T/serve.log" 2>"$T/serve.err" &
spid=$!
pids="$pids $spid"
wait_ready "$T/ready" || die "serve did not become ready: $(cat "$T/serve.err")"
TCP=$(sed -n 1p "$T/ready")
UNIX=$(sed -n 2p "$T/ready")
echo "server: $TCP $UNIX"

# through LABEL TO LISTEN FILE PUTOPTS CUTOPTS... - put FILE through a fresh
# cutproxy; sets putrc, name and leaves the proxy's counts in $T/count
through() {
	label=$1
	to=$2
	listen=$3
	src=$4
	putopts=$5
	shift 5
	rm -f "$T/pready" "$T/count" "$T"/D/* 2>/dev/null
	"$CUT" --listen "$listen" --to "$to" --ready-file "$T/pready" --count-file "$T/count" \
		--max-time 250 "$@" 2>"$T/cut.err" &
	cpid=$!
	pids="$pids $cpid"
	wait_ready "$T/pready" || die "$label: cutproxy not ready: $(cat "$T/cut.err")"
	# shellcheck disable=SC2086
	timeout 200 "$BIN" put -q $putopts --retries 3 --retry-wait 1 "$src" "$(cat "$T/pready")" \
		>"$T/put.out" 2>"$T/put.err"
	putrc=$?
	stop "$cpid"
	name=$(cat "$T/put.out")
}

# one_copy LABEL SRC - exactly one stored file, named $name, identical to SRC
one_copy() {
	files=$(ls "$T/D" | wc -l)
	if [ "$putrc" -ne 0 ]; then
		bad "$1: put exit $putrc: $(head -3 "$T/put.err")"
		return 1
	fi
	if [ "$files" -ne 1 ] || [ ! -f "$T/D/$name" ]; then
		bad "$1: want exactly one stored file named '$name', got: $(ls "$T/D" | head -5)"
		return 1
	fi
	if ! cmp -s "$2" "$T/D/$name"; then
		bad "$1: D/$name differs from the source"
		return 1
	fi
	if [ -n "$(ls -A "$T/D/.niftp/partial" 2>/dev/null)" ]; then
		bad "$1: partial files left: $(ls "$T/D/.niftp/partial")"
		return 1
	fi
	ok "$1: one identical copy D/$name"
	return 0
}

# --- 1. 100 MiB, cut once after 40 MiB up ---------------------------------------------
through "tcp cut up" "$TCP" tcp:127.0.0.1:0 "$T/big.bin" --binary --once --cut-after $CUTAT
if one_copy "tcp 100 MiB cut after 40 MiB up" "$T/big.bin"; then
	up=$(count up)
	cuts=$(count cuts)
	conns=$(count connections)
	echo "     proxy: up $up octets over $conns connections, $cuts cut"
	[ "$cuts" = 1 ] && [ "$conns" -ge 2 ] && ok "the call was cut once and resumed on a new call" ||
		bad "want 1 cut and at least 2 connections, got $cuts cuts, $conns connections"
	if [ "$up" -lt $((SIZE * 3 / 2)) ]; then
		ok "octets up $up < 1.5 x $SIZE"
	else
		bad "octets up $up, want < 1.5 x $SIZE"
	fi
	if [ "$up" -lt $((SIZE + CUTAT / 2)) ]; then
		ok "octets up $up < size + cut/2 = $((SIZE + CUTAT / 2)): resumed, not restarted"
	else
		bad "octets up $up, want < $((SIZE + CUTAT / 2)): the transfer restarted instead of resuming"
	fi
fi

# --- 2. 100 MiB, cut once after 200 octets down -----------------------------------------
through "tcp cut down" "$TCP" tcp:127.0.0.1:0 "$T/big.bin" --binary --once --cut-after 200 \
	--direction down
if one_copy "tcp 100 MiB cut after 200 octets down" "$T/big.bin"; then
	[ "$(count cuts)" = 1 ] && ok "cut down once: $(count up) octets up, $(count down) down" ||
		bad "cut down: want 1 cut, got $(count cuts)"
fi

# --- 3. unix sockets, 8 MiB text, cut after 4 MiB ---------------------------------------------
through "unix cut up" "$UNIX" "unix:$T/p.sock" "$T/text.txt" "" --once --cut-after 4194304
if one_copy "unix 8 MiB text cut after 4 MiB" "$T/text.txt"; then
	[ "$(count cuts)" = 1 ] && ok "unix: cut once, $(count up) octets up over $(count connections) calls" ||
		bad "unix: want 1 cut, got $(count cuts)"
fi

stop "$spid"
if [ $fails -gt 0 ]; then
	echo "t_niftp_cut: $fails failures"
	echo "--- put.err"; tail -5 "$T/put.err"
	echo "--- cut.err"; tail -5 "$T/cut.err"
	echo "--- serve.err"; tail -20 "$T/serve.err"
	exit 1
fi
echo "t_niftp_cut: all passed"
exit 0
