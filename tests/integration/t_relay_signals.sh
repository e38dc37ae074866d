#!/bin/sh
# t_relay_signals.sh - SIGTERM with calls in flight (DESIGN section 2,
# doc/relay.md Signals): every letter is delivered exactly once after a
# restart.
#
# Network ucl -> cambridge on Unix sockets; letters of ~8 MiB.
#  1. receiver: ucl abandons its call mid-transfer (test hook call-hang:
#     the connection stays open, nothing more is sent), so cambridge has
#     a transfer in flight that does not move. SIGTERM: cambridge keeps
#     running (in-flight transfers may finish); a second SIGTERM ends
#     the call at once and cambridge exits 0, removing SPOOL/ready. The
#     partial letter is kept in part/ (a checkpoint at the last mark).
#     Restarted, cambridge is granted the resumption and the letter is
#     delivered once, with one received line.
#  2. donor: SIGTERM to ucl as soon as cambridge is receiving: ucl
#     finishes or abandons the transfer safely and exits 0; restarted,
#     its letter is delivered exactly once.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_signals

node_ini ucl <<EOF
[routes]
cambridge = niftp $(sock cambridge)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 1s
EOF
node_ini cambridge <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington
[retry]
first = 1s
max = 1s
EOF

# big FILE MSGID - a letter of ~8 MiB to linington@cambridge
big() {
	mkletter "$1" "$2" 'bennett@ucl' linington@cambridge
	head -c $((6 * 1024 * 1024)) /dev/urandom | base64 >>"$1"
}

# once LABEL MSGID - delivered once, received once at cambridge
once() {
	if wait_msgid cambridge linington "$2" 1 40; then
		n=$(count_msgid cambridge linington "$2")
		r=$(journal cambridge | grep ' received ' | grep -cF "<$2>")
		[ "$n" -eq 1 ] && [ "$r" -eq 1 ] && ok "$1: delivered once, received once" ||
			bad "$1: $n Maildir files, $r received lines"
	else
		bad "$1: not delivered within 40 s"
	fi
}

# --- 1. SIGTERM to the receiver with a call in flight --------------------------------------
start_node cambridge || die "cambridge did not start"
start_node ucl NIFTPMAIL_HOOK=call-hang:40 || die "ucl did not start"
big "$T/a.letter" sig.a@ucl
drop ucl "$T/a.letter" a.letter || die "drop"
# wait until cambridge holds a partial letter (the call hung in the data phase)
i=0
while [ $i -lt 300 ] && [ -z "$(ls "$(spooldir cambridge)/tmp" 2>/dev/null)" ]; do
	i=$((i + 1))
	sleep 0.05
done
[ -n "$(ls "$(spooldir cambridge)/tmp" 2>/dev/null)" ] || bad "receiver: no transfer in flight at cambridge"
grep -q 'abandoned by a test hook' "$T/ucl.err" || sleep 0.5
pid=$(node_pid cambridge)
kill -TERM "$pid"
sleep 1
if running cambridge; then
	ok "receiver: still running 1 s after SIGTERM (a transfer is in flight)"
else
	bad "receiver: exited at once on SIGTERM with a transfer in flight"
fi
kill -TERM "$pid" 2>/dev/null
if wait_exit cambridge 15; then
	[ "$node_rc" -eq 0 ] && ok "receiver: second SIGTERM: exit 0" || bad "receiver: exit status $node_rc"
else
	bad "receiver: still running 15 s after the second SIGTERM"
fi
[ ! -f "$(spooldir cambridge)/ready" ] || bad "receiver: SPOOL/ready left behind"
np=$(ls "$(spooldir cambridge)/part" 2>/dev/null | wc -l | tr -d ' ')
[ "$np" -eq 1 ] && ok "receiver: the partial letter is kept in part/" || note "receiver: part/ holds $np files"
start_node cambridge || die "cambridge did not restart"
once receiver sig.a@ucl
if grep -q 'resumed from its checkpoint' "$T/cambridge.err"; then
	ok "receiver: $(grep -o 'resumed from its checkpoint.*' "$T/cambridge.err" | tail -1)"
else
	note "receiver: resumed from mark 0"
fi
stop_node ucl

# --- 2. SIGTERM to the donor with a call in flight -----------------------------------------
start_node ucl || die "ucl did not restart"
big "$T/b.letter" sig.b@ucl
errmark=$(wc -l <"$T/cambridge.err")
drop ucl "$T/b.letter" b.letter || die "drop"
i=0
while [ $i -lt 400 ] && [ -z "$(ls "$(spooldir cambridge)/tmp" 2>/dev/null)" ] &&
	[ "$(count_msgid cambridge linington sig.b@ucl)" -eq 0 ]; do
	i=$((i + 1))
	sleep 0.01
done
stop_node ucl
[ "$node_rc" -eq 0 ] && ok "donor: SIGTERM: exit 0" || bad "donor: exit status $node_rc"
start_node ucl || die "ucl did not restart"
once donor sig.b@ucl
wait_empty ucl queue 15 || bad "donor: ucl's queue did not empty"

for n in ucl cambridge; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
done
relay_finish
