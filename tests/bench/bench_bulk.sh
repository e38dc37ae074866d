#!/bin/sh
# bench_bulk.sh - the bulk queue actions on a long queue (mailctl hold,
# release, delete ALL; relay/ops_bulk.c): how long each takes and what
# it changed. It reports; it does not pass or fail.
#
# One node, a, whose next hop pss is down: its route goes to a TCP port
# of 127.0.0.1 where nothing listens (connection refused at once),
# retried after 1 h. build/tools/relayload drops BENCH_N (20000) letters
# of 1 KiB for q0@pss into SPOOL/out/ in chunks of BENCH_CHUNK (5000).
# Once "mailctl stats" shows them queued and the channel's first tries
# are over (the "deferred" lines of the journal stop growing for 2 s),
# then, each timed from the exec of mailctl to its exit:
#
#   hold --hop pss ALL     every letter of the hop to hold/
#   release ALL            back to queue/, due now (the channel takes
#                          them again; the deferred lines settle again)
#   delete ALL             every letter to dead/
#
# with mailctl's summary line ("held N letters; M not changed") and the
# first lines about letters not changed.
#
# Environment: BENCH_N (20000), BENCH_CHUNK (5000), BENCH_CHANNEL (niftp
# or smtp: the channel of pss's route; smtp needs a mailrelayd with
# libcurl, as always), BENCH_FILL_WAIT (seconds the fill may take, 900),
# BENCH_CTL_WAIT (seconds one action may take, 1800), BENCH_DIR (parent
# of the temporary directory, default build/), RELAY_KEEP=1 keeps it.
# Run it from another tree (e.g. a build of an older commit) to compare:
# it uses the programs of the tree it is in.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS="$top/build/tools"
N=${BENCH_N:-20000}
CHUNK=${BENCH_CHUNK:-5000}
CH=${BENCH_CHANNEL:-niftp}
FILL_WAIT=${BENCH_FILL_WAIT:-900}
CTL_WAIT=${BENCH_CTL_WAIT:-1800}
[ -x "$TOOLS/relayload" ] || { echo "bench_bulk: $TOOLS/relayload not built"; exit 1; }
case $CH in
niftp | smtp) ;;
*) echo "bench_bulk: BENCH_CHANNEL must be niftp or smtp"; exit 64 ;;
esac
command -v python3 >/dev/null 2>&1 || { echo "bench_bulk: python3 needed (a free port)"; exit 1; }
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
# shellcheck source=tests/integration/lib-relay.sh
. "$top/tests/integration/lib-relay.sh"
relay_setup bench_bulk "$parent"
LOAD="$TOOLS/relayload"
INI="$T/a.ini"
SP="$T/a/spool"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
queued() {
	timeout 60 "$MAILCTL" -c "$INI" stats 2>/dev/null |
		awk '$1 == "total" { print $2 + 0; found = 1 } END { if (!found) print 0 }'
}
deferred() { jcount a ' deferred '; }

# settle - bounded wait until the journal's deferred lines stopped growing
# for 2 s (the channel's tries of what it was given are over)
settle() {
	_last=-1
	_same=0
	_end=$(($(now_ms) + FILL_WAIT * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		_d=$(deferred)
		if [ "$_d" = "$_last" ] && [ "$_d" -gt 0 ]; then
			_same=$((_same + 1))
			[ $_same -ge 4 ] && return 0
		else
			_same=0
		fi
		_last=$_d
		sleep 0.5
	done
	return 1
}

# act LABEL ARGS... - time "mailctl ARGS"; prints the label, the time
# and mailctl's summary ("held N letters; M not changed: NAME, ...")
# without its list of names
act() {
	_lb=$1
	shift
	_t0=$(now_ms)
	timeout "$CTL_WAIT" "$MAILCTL" -c "$INI" "$@" >"$T/act.out" 2>"$T/act.err"
	_rc=$?
	_ms=$(($(now_ms) - _t0))
	printf '  %-20s %8s s  exit %-3s %s\n' "$_lb" "$(secs $_ms)" "$_rc" \
		"$(head -1 "$T/act.out" | sed 's/\(not changed\|not found\): [^;]*/\1/g')"
	grep -m 2 '^mailctl: ' "$T/act.err" | cut -c1-150 | sed 's/^/      /'
}

port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
node_ini a <<EOF
[routes]
pss = $CH tcp:127.0.0.1:$port
[retry]
first = 1h
max = 1h
EOF
echo "bench_bulk: $N letters of 1 KiB to pss ($CH tcp:127.0.0.1:$port, nothing listens), in $T"
start_node a || { echo "bench_bulk: node a did not start: $(tail -3 "$T/a.err")"; exit 1; }

t0=$(now_ms)
deadline=$((t0 + FILL_WAIT * 1000))
dropped=0
k=0
while [ "$dropped" -lt "$N" ]; do
	c=$CHUNK
	[ $((N - dropped)) -lt "$c" ] && c=$((N - dropped))
	timeout 600 "$LOAD" drop "$SP/out" "$c" --to q0@pss --from load@a --size 1024 \
		--tag "bulk$k" >/dev/null || { echo "bench_bulk: relayload drop failed"; exit 1; }
	dropped=$((dropped + c))
	k=$((k + 1))
	while [ -n "$(ls "$SP/out" 2>/dev/null)" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || break 2
		running a || break 2
		sleep 0.1
	done
done
while [ "$(queued)" -lt "$N" ]; do
	[ "$(now_ms)" -lt "$deadline" ] || { echo "bench_bulk: not all queued"; exit 1; }
	running a || { echo "bench_bulk: a died: $(tail -3 "$T/a.err")"; exit 1; }
	sleep 0.5
done
settle || echo "bench_bulk: the deferred lines did not settle"
echo "  filled: $N queued in $(secs $(($(now_ms) - t0))) s; $(deferred) deferred lines"

act "hold --hop pss ALL" hold --hop pss ALL
act "release ALL" release ALL
settle || echo "bench_bulk: the deferred lines did not settle"
act "delete ALL" delete ALL
left=$(queued)
echo "  left queued after delete ALL: $left"
stop_node a || echo "  bench_bulk: a did not stop on SIGTERM (killed)"
exit 0
