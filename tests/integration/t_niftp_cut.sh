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
. "$top/tests/integration/lib.sh"
BIN=$NIFTP
CUT="$top/build/tools/cutproxy"
t_setup t_niftp_cut
need "$BIN" "$CUT"

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
serve main -- --listen tcp:127.0.0.1:0 --listen "unix:$T/s.sock" --dir "$T/D" \
	--log "$T/serve.log"
TCP=$addr
UNIX=$(sed -n 2p "$T/ready.main")
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

# put_one LABEL SRC - put exited 0 and D holds one copy of SRC named $name
put_one() {
	if [ "$putrc" -ne 0 ]; then
		bad "$1: put exit $putrc: $(head -3 "$T/put.err")"
		return 1
	fi
	one_copy "$1" "$2" "$T/D" "$name"
}

# --- 1. 100 MiB, cut once after 40 MiB up ---------------------------------------------
through "tcp cut up" "$TCP" tcp:127.0.0.1:0 "$T/big.bin" --binary --once --cut-after $CUTAT
if put_one "tcp 100 MiB cut after 40 MiB up" "$T/big.bin"; then
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
if put_one "tcp 100 MiB cut after 200 octets down" "$T/big.bin"; then
	[ "$(count cuts)" = 1 ] && ok "cut down once: $(count up) octets up, $(count down) down" ||
		bad "cut down: want 1 cut, got $(count cuts)"
fi

# --- 3. unix sockets, 8 MiB text, cut after 4 MiB ---------------------------------------------
through "unix cut up" "$UNIX" "unix:$T/p.sock" "$T/text.txt" "" --once --cut-after 4194304
if put_one "unix 8 MiB text cut after 4 MiB" "$T/text.txt"; then
	[ "$(count cuts)" = 1 ] && ok "unix: cut once, $(count up) octets up over $(count connections) calls" ||
		bad "unix: want 1 cut, got $(count cuts)"
fi

stop "$spid"
t_finish "$T/put.err" "$T/cut.err" "$T/serve.main.err"
