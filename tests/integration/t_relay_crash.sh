#!/bin/sh
# t_relay_crash.sh - no loss, no duplicate (DESIGN sections 6, 9, 11): a
# relay killed at a named crash point (NIFTPMAIL_CRASH, doc/relay.md) and
# restarted delivers every letter exactly once.
#
# Network: ucl -> cambridge. Six letters are dropped at ucl: five small
# ones and one of 2 MiB (so that the mid-data points fall inside a
# transfer). For each crash point, with a fresh network:
#   1. the node named in the table starts with NIFTPMAIL_CRASH=POINT;
#   2. the letters are dropped at ucl; the node must exit with status 99
#      (the crash point was reached) within 30 s;
#   3. it is restarted without the variable; every letter must reach
#      linington's Maildir at cambridge and both queues must empty;
#   4. each Message-ID is in exactly one Maildir file, and cambridge has
#      at most one "received" line for it (nothing stored twice).
#
#   point                                       node that crashes
#   relay-receive-mid-data:3                    cambridge (receiving)
#   relay-after-commit-before-er:2              cambridge (commit done, no ER)
#   relay-forward-mid-data:3                    ucl (forwarding)
#   relay-after-stopack-before-journal:2        ucl (STOPACK, no journal line)
#   relay-local-after-rename-before-journal:2   cambridge (Maildir rename)
#   relay-after-route-before-commit:2           ucl (routing not committed)
# Then the same without a crash point: ucl is killed with SIGKILL in the
# middle of a burst of 40 letters and restarted.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_crash

CASES="relay-receive-mid-data:3:cambridge
relay-after-commit-before-er:2:cambridge
relay-forward-mid-data:3:ucl
relay-after-stopack-before-journal:2:ucl
relay-local-after-rename-before-journal:2:cambridge
relay-after-route-before-commit:2:ucl"

configs() { pair_configs "$@"; }

IDS=""
for i in 1 2 3 4 5; do
	mkletter "$T/l$i.letter" "crash.$i@ucl" bennett@ucl linington@cambridge
	IDS="$IDS crash.$i@ucl"
done
mkletter "$T/l6.letter" crash.6@ucl bennett@ucl linington@cambridge
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "%06d the quick brown fox jumps over the lazy dog, 0123456789\n", i }' \
	>>"$T/l6.letter"
IDS="$IDS crash.6@ucl"

# all_once LABEL IDS... - every id delivered once, nothing stored twice
all_once() {
	al=$1
	shift
	good=0
	for id in "$@"; do
		if ! wait_msgid cambridge linington "$id" 1 30; then
			bad "$al: $id not delivered within 30 s of the restart"
			continue
		fi
		good=$((good + 1))
	done
	wait_empty ucl queue 20 || bad "$al: ucl queue/ not empty: $(ls "$T/ucl/spool/queue" | head -5 | tr '\n' ' ')"
	wait_empty cambridge queue 20 || bad "$al: cambridge queue/ not empty: $(ls "$T/cambridge/spool/queue" | head -5 | tr '\n' ' ')"
	wait_empty ucl in 5 || bad "$al: ucl in/ not empty"
	wait_empty cambridge in 5 || bad "$al: cambridge in/ not empty"
	dup=0
	for id in "$@"; do
		c=$(count_msgid_all cambridge "$id")
		r=$(journal cambridge | grep ' received ' | grep -cF "<$id>")
		if [ "$c" -ne 1 ]; then
			bad "$al: $id is in $c Maildir files, want 1: $(find_msgid cambridge "" "$id" | tr '\n' ' ')"
			dup=1
		fi
		if [ "$r" -gt 1 ]; then
			bad "$al: cambridge received $id $r times (stored twice)"
			dup=1
		fi
	done
	[ $good -eq $# ] && [ $dup -eq 0 ] && ok "$al: all $# letters delivered exactly once"
	nd=$( (journal ucl; journal cambridge) | grep -cE ' (ndn|failed|dead|corrupt) ')
	[ "$nd" -eq 0 ] || bad "$al: $nd ndn/failed/dead/corrupt lines"
}

# run_case POINT N WHO - one crash case with a fresh network
run_case() {
	point=$1
	n=$2
	who=$3
	for nd in ucl cambridge; do
		rm -rf "${T:?}/$nd" "$T/$nd.out" "$T/$nd.err"
	done
	configs
	other=ucl
	[ "$who" = ucl ] && other=cambridge
	if [ "$who" = cambridge ]; then
		start_node cambridge "NIFTPMAIL_CRASH=$point:$n" || { bad "$point: cambridge did not start"; return; }
		start_node ucl || { bad "$point: ucl did not start"; return; }
	else
		start_node cambridge || { bad "$point: cambridge did not start"; return; }
		start_node ucl "NIFTPMAIL_CRASH=$point:$n" || { bad "$point: ucl did not start"; return; }
	fi
	for i in 1 2 3 4 5 6; do
		drop ucl "$T/l$i.letter" "l$i.letter" || bad "drop l$i.letter"
	done
	if wait_exit "$who" 30; then
		if [ "$node_rc" -eq 99 ] && grep -q "crash point $point" "$T/$who.err"; then
			ok "$point:$n: $who crashed there (exit 99)"
		else
			bad "$point:$n: $who exited with $node_rc, want 99 at the crash point: $(tail -2 "$T/$who.err")"
		fi
	else
		bad "$point:$n: $who did not reach the crash point within 30 s"
		stop_node "$who"
	fi
	running "$other" || bad "$point:$n: $other died too"
	start_node "$who" || { bad "$point: $who did not restart"; return; }
	# shellcheck disable=SC2086
	all_once "$point:$n" $IDS
	if [ "$(jcount "$who" ' recover ')" -ge 1 ]; then
		note "$who: $(journal "$who" | grep ' recover ' | tail -1 | cut -d' ' -f3-)"
	fi
	stop_node ucl || bad "$point: ucl did not stop"
	stop_node cambridge || bad "$point: cambridge did not stop"
}

for c in $CASES; do
	before=$fails
	run_case "${c%%:*}" "$(echo "$c" | cut -d: -f2)" "${c##*:}"
	if [ $fails -gt "$before" ]; then
		for nd in ucl cambridge; do
			dump_node $nd
		done
	fi
done

# --- SIGKILL in the middle of a burst --------------------------------------------------------
for nd in ucl cambridge; do
	rm -rf "${T:?}/$nd" "$T/$nd.out" "$T/$nd.err"
done
configs
start_node cambridge || die "kill: cambridge did not start"
start_node ucl || die "kill: ucl did not start"
KIDS=""
i=1
while [ $i -le 40 ]; do
	mkletter "$T/k$i.letter" "kill.$i@ucl" bennett@ucl linington@cambridge
	KIDS="$KIDS kill.$i@ucl"
	i=$((i + 1))
done
i=1
while [ $i -le 40 ]; do
	drop ucl "$T/k$i.letter" "k$i.letter"
	i=$((i + 1))
done
# kill it as soon as the first copy went out, whatever else is in flight
wait_journal ucl ' forwarded ' 1 20 || bad "kill: nothing forwarded within 20 s"
kill_node ucl
note "kill: ucl killed after $(jcount ucl ' forwarded ') forwarded, $(jcount ucl ' received ') received"
start_node ucl || die "kill: ucl did not restart"
# shellcheck disable=SC2086
all_once "SIGKILL during a burst of 40" $KIDS
stop_node ucl || bad "ucl did not stop"
stop_node cambridge || bad "cambridge did not stop"
relay_finish
