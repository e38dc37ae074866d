#!/bin/sh
# t_relay_retry.sh - a next hop that is down (DESIGN sections 4, 5).
#
#  1. ucl's next hop cambridge is not running: the copy is deferred
#     (reason, next try), retried with back-off, shown by mailctl queue;
#     when cambridge starts, the letter is delivered, exactly once.
#  2. alternates: ucl's route to pss lists a dead address first; the
#     letter goes through the second alternate at once.
#  3. give_up (4 s, retries every second): rsre's next hop never comes;
#     the recipient fails, one NDN with "Failed-Letter: rsre NAME" reaches
#     the sender, nothing is left queued.
#  4. warn (2 s) before give_up (6 s): one "still trying" notice, then
#     one NDN.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_retry

node_ini ucl <<EOF
[routes]
cambridge = niftp $(sock cambridge)
pss = niftp unix:$T/nobody-listens.sock, niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 2s
EOF
node_ini pss <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
[retry]
first = 1s
max = 2s
EOF
node_ini cambridge <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington
[retry]
first = 1s
max = 2s
EOF
node_ini rsre <<EOF
[routes]
cambridge = niftp unix:$T/never.sock
[local]
maildir = $(mdir rsre)/%u/
users = wiseman
[retry]
first = 1s
max = 1s
warn = 1h
give_up = 4s
EOF
node_ini nott <<EOF
[routes]
cambridge = niftp unix:$T/never.sock
[local]
maildir = $(mdir nott)/%u/
users = brown
[retry]
first = 1s
max = 1s
warn = 2s
give_up = 6s
EOF
for n in ucl pss rsre nott; do
	start_node $n || die "$n did not start"
done

# --- 1. down, then up -------------------------------------------------------------------
mkletter "$T/down.letter" down.1@ucl bennett@ucl linington@cambridge
mkletter "$T/alt.letter" alt.1@ucl bennett@ucl kille@pss
mkletter "$T/giveup.letter" giveup.1@rsre wiseman@rsre linington@cambridge
mkletter "$T/warn.letter" warn.1@nott brown@nott linington@cambridge
drop ucl "$T/down.letter" down.letter || die "drop"
drop ucl "$T/alt.letter" alt.letter || die "drop"
drop rsre "$T/giveup.letter" giveup.letter || die "drop"
drop nott "$T/warn.letter" warn.letter || die "drop"

if wait_journal ucl ' deferred .* to=cambridge' 2 15; then
	l=$(journal ucl | grep ' deferred .* to=cambridge' | head -1)
	ok "down: deferred: $(echo "$l" | cut -d' ' -f2-)"
	[ -n "$(jval "$l" reason)" ] || bad "down: deferred line without reason="
	[ -n "$(jval "$l" next)" ] || bad "down: deferred line without next="
	l2=$(journal ucl | grep ' deferred .* to=cambridge' | sed -n 2p)
	a2=$(jval "$l2" attempts)
	[ "${a2:-0}" -ge 2 ] 2>/dev/null && ok "down: retried (attempts=$a2)" ||
		bad "down: second deferred line has attempts='$a2', want >= 2: $l2"
else
	bad "down: want two 'deferred ... to=cambridge' lines within 15 s, got $(jcount ucl ' deferred ')"
fi
timeout 10 "$MAILCTL" -c "$T/ucl.ini" queue >"$T/queue.out" 2>&1
qrc=$?
ln=$(journal ucl | grep ' received ' | grep -F 'from=out/down.letter' | awk '{ print $3 }')
if [ $qrc -eq 0 ] && grep -F "$ln" "$T/queue.out" | grep -q cambridge; then
	ok "down: mailctl queue shows $ln for cambridge: $(grep -F "$ln" "$T/queue.out" | head -1)"
else
	bad "down: mailctl queue (exit $qrc) does not show $ln for cambridge: $(head -5 "$T/queue.out")"
fi
[ "$(count_msgid_all cambridge down.1@ucl)" -eq 0 ] || bad "down: delivered before cambridge ran?"

start_node cambridge || die "cambridge did not start"
if wait_msgid cambridge linington down.1@ucl 1 15; then
	ok "down: delivered to linington once cambridge was up"
else
	bad "down: not delivered within 15 s of cambridge starting"
fi
wait_journal ucl " forwarded $ln " 1 10 || bad "down: no 'forwarded $ln' at ucl"
wait_empty ucl queue 10 || bad "down: ucl queue/ not empty: $(ls "$T/ucl/spool/queue")"
c=$(count_msgid_all cambridge down.1@ucl)
[ "$c" -eq 1 ] || bad "down: $c copies at cambridge, want 1"
[ "$(jcount cambridge ' received ')" -eq 1 ] || bad "down: cambridge received $(jcount cambridge ' received ') copies, want 1"
[ "$(jcount ucl ' (failed|ndn) ')" -eq 0 ] || bad "down: failed/ndn lines at ucl: $(journal ucl | grep -E ' (failed|ndn) ')"

# --- 2. alternates --------------------------------------------------------------------------
if wait_msgid pss kille alt.1@ucl 1 15; then
	la=$(journal ucl | grep ' received ' | grep -F 'from=out/alt.letter' | awk '{ print $3 }')
	lf=$(journal ucl | grep " forwarded $la " | head -1)
	case "$(jval "$lf" addr)" in
	*pss.sock) ok "alt: sent through the second alternate ($(jval "$lf" addr))" ;;
	*) bad "alt: forwarded addr='$(jval "$lf" addr)', want $(sock pss): $lf" ;;
	esac
else
	bad "alt: not delivered to kille at pss within 15 s"
fi

# --- 3. give_up ------------------------------------------------------------------------------
lg=$(journal rsre | grep ' received ' | grep -F 'from=out/giveup.letter' | awk '{ print $3 }')
if wait_header rsre wiseman Failed-Letter "rsre" 1 20; then
	f=$(find_header rsre wiseman Failed-Letter rsre | head -1)
	fl=$(header "$f" | grep -i '^failed-letter:')
	case "$fl" in
	*"rsre $lg"*) ok "giveup: NDN to the sender: $fl" ;;
	*) bad "giveup: want 'Failed-Letter: rsre $lg', got '$fl'" ;;
	esac
	c=$(count_header rsre wiseman Failed-Letter rsre)
	[ "$c" -eq 1 ] || bad "giveup: $c NDNs, want 1"
	lfl=$(journal rsre | grep " failed $lg " | head -1)
	[ -n "$lfl" ] && ok "giveup: $(echo "$lfl" | cut -d' ' -f2-)" || bad "giveup: no 'failed $lg' line"
	first=$(journal rsre | grep " received $lg " | cut -c12-19)
	last=$(echo "$lfl" | cut -c12-19)
	note "giveup: received at $first, failed at $last (give_up = 4s)"
	wait_empty rsre queue 10 || bad "giveup: rsre queue/ not empty: $(ls "$T/rsre/spool/queue")"
else
	bad "giveup: no NDN for wiseman within 20 s (give_up = 4s); journal: $(journal rsre | awk '{ print $2 }' | sort | uniq -c | tr '\n' ' ')"
fi

# --- 4. warn, then give_up -----------------------------------------------------------------
lw=$(journal nott | grep ' received ' | grep -F 'from=out/warn.letter' | awk '{ print $3 }')
if wait_journal nott " ndn $lw " 1 20; then
	nw=$(jcount nott " warned $lw ")
	[ "$nw" -eq 1 ] && ok "warn: one 'warned $lw' line before the NDN" ||
		bad "warn: $nw warned lines for $lw, want 1"
	i=0
	while [ "$(mfiles nott brown | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	nfiles=$(mfiles nott brown | wc -l)
	[ "$nfiles" -eq 2 ] && ok "warn: brown got two notices (still trying, then failed)" ||
		bad "warn: brown has $nfiles files, want 2 (a warning and an NDN)"
	for f in $(mfiles nott brown); do
		note "warn: $(header "$f" | grep -iE '^(subject|failed-letter):' | tr '\n' ' ')"
	done
else
	bad "warn: no 'ndn $lw' at nott within 20 s (give_up = 6s)"
fi

for n in ucl pss cambridge rsre nott; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
done
relay_finish
