#!/bin/sh
# t_journal_crash.sh - the journal stays true across crashes (doc/spool.md,
# "Journal truth across crashes"): a relay killed at a spool crash point
# (NIFTPMAIL_CRASH, util/crash.h) and restarted has, for every letter,
# each of its journal lines exactly once, and mailctl trace follows every
# letter to its delivery.
#
# Network: ucl -> cambridge. Three letters are dropped at ucl. For each
# case, with a fresh network:
#   1. the node of the case starts with NIFTPMAIL_CRASH=POINT:N (the Nth
#      time the point is reached: N picks the batch: claim, routing,
#      forwarding, receiving, delivery) and must exit with status 99;
#   2. it is restarted without the variable; every letter must reach
#      linington's Maildir at cambridge exactly once;
#   3. ucl's journal has, per Message-ID, one "received" line, and for
#      that name one "routed" and one "forwarded" line; cambridge's has
#      one "received" and, for that name, one "delivered" line; neither
#      has a "recovered" line (a second line for an event already
#      journalled) nor a line for a letter that is not there;
#   4. mailctl trace --follow msgid:ID at ucl shows the delivery.
# cambridge receives by NIFTP: each letter is routed in its receiving
# transaction and committed into queue/ without an intent record (a
# bare commit, doc/spool.md); its cases kill it after that rename and
# after the journal write before its sync: the letter without its
# records is removed at the restart, ucl (never acknowledged) sends it
# again, and it is delivered once.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_journal_crash

# POINT:N:NODE
CASES="spool-claim-after-rename:1:ucl
spool-prepared:1:ucl
spool-after-intent:1:ucl
spool-after-ops:2:ucl
spool-after-dirsync:1:ucl
spool-after-dirsync:2:ucl
spool-after-dirsync:3:ucl
spool-after-journal-write:2:ucl
spool-after-journal-sync:3:ucl
spool-after-dirsync:1:cambridge
spool-after-dirsync:2:cambridge
spool-after-ops:1:cambridge
spool-after-journal-write:1:cambridge"

configs() { pair_configs "$@"; }

IDS=""
for i in 1 2 3; do
	mkletter "$T/l$i.letter" "jc.$i@ucl" bennett@ucl linington@cambridge
	IDS="$IDS jc.$i@ucl"
done

# once LABEL NODE EVENT NAME - NAME has exactly one EVENT line at NODE
once() {
	_oc=$(journal "$2" | awk -v e="$3" -v n="$4" '$2 == e && $3 == n' | wc -l | tr -d ' ')
	[ "$_oc" -eq 1 ] && return 0
	bad "$1: $2 has $_oc '$3' lines for $4, want 1"
	return 1
}

# name_by_msgid NODE ID - the name of NODE's received line for ID
name_by_msgid() {
	journal "$1" | awk '$2 == "received"' | grep -F "<$2>" | head -1 | awk '{ print $3 }'
}

# check LABEL - the journals of both nodes and the traces
check() {
	cl=$1
	good=1
	for id in $IDS; do
		if ! wait_msgid cambridge linington "$id" 1 30; then
			bad "$cl: $id not delivered within 30 s of the restart"
			good=0
			continue
		fi
		c=$(count_msgid_all cambridge "$id")
		[ "$c" -eq 1 ] || { bad "$cl: $id in $c Maildir files"; good=0; }
	done
	wait_empty ucl queue 20 || bad "$cl: ucl queue/ not empty"
	wait_empty cambridge in 10 || bad "$cl: cambridge in/ not empty"
	for id in $IDS; do
		for nd in ucl cambridge; do
			r=$(journal $nd | awk '$2 == "received"' | grep -cF "<$id>")
			[ "$r" -eq 1 ] || { bad "$cl: $nd has $r received lines for $id, want 1"; good=0; }
		done
		n=$(name_by_msgid ucl "$id")
		m=$(name_by_msgid cambridge "$id")
		if [ -z "$n" ] || [ -z "$m" ]; then
			good=0
			continue
		fi
		once "$cl" ucl routed "$n" || good=0
		once "$cl" ucl forwarded "$n" || good=0
		once "$cl" cambridge routed "$m" || good=0
		once "$cl" cambridge delivered "$m" || good=0
		if ! timeout 60 "$MAILCTL" -c "$T/ucl.ini" trace --follow "msgid:$id" >"$T/tr.out" 2>&1 \
		    || ! grep -q "delivered" "$T/tr.out"; then
			bad "$cl: mailctl trace --follow msgid:$id at ucl shows no delivery:"
			sed 's/^/       /' "$T/tr.out"
			good=0
		fi
	done
	for nd in ucl cambridge; do
		rc=$(jcount $nd ' recovered ')
		[ "$rc" -eq 0 ] || { bad "$cl: $nd has $rc 'recovered' lines"; good=0; }
	done
	[ $good -eq 1 ] && ok "$cl: every letter delivered once, each journal line once, traced"
}

for c in $CASES; do
	point=${c%%:*}
	n=$(echo "$c" | cut -d: -f2)
	who=${c##*:}
	before=$fails
	for nd in ucl cambridge; do
		rm -rf "${T:?}/$nd" "$T/$nd.out" "$T/$nd.err"
	done
	configs
	if [ "$who" = cambridge ]; then
		start_node cambridge "NIFTPMAIL_CRASH=$point:$n" || { bad "$c: cambridge did not start"; continue; }
		start_node ucl || { bad "$c: ucl did not start"; continue; }
	else
		start_node cambridge || { bad "$c: cambridge did not start"; continue; }
		start_node ucl "NIFTPMAIL_CRASH=$point:$n" || { bad "$c: ucl did not start"; continue; }
	fi
	for i in 1 2 3; do
		drop ucl "$T/l$i.letter" "l$i.letter" || bad "drop l$i.letter"
	done
	if wait_exit "$who" 30; then
		if [ "$node_rc" -eq 99 ] && grep -q "crash point $point" "$T/$who.err"; then
			ok "$point:$n: $who crashed there (exit 99)"
		else
			bad "$point:$n: $who exited with $node_rc, want 99: $(tail -2 "$T/$who.err")"
		fi
	else
		bad "$point:$n: $who did not reach the crash point within 30 s"
		stop_node "$who"
	fi
	start_node "$who" || { bad "$c: $who did not restart"; continue; }
	check "$point:$n at $who"
	note "$who: $(journal "$who" | grep ' recover ' | tail -1 | cut -d' ' -f4-)"
	stop_node ucl || bad "$c: ucl did not stop"
	stop_node cambridge || bad "$c: cambridge did not stop"
	if [ $fails -gt "$before" ]; then
		for nd in ucl cambridge; do
			dump_node $nd
		done
	fi
done
relay_finish
