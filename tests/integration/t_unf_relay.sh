#!/bin/sh
# t_unf_relay.sh - a unix-niftp node as an address-only peer of a relay
# (issue 10 item 1; doc/peers.md): unix-niftp cannot authenticate (it
# refuses a username on a mail transfer), so over rawtcp: it is a peer
# known by its address ([peer unf] from = 127.0.0.1).
#
# build/tools/unfpeer replays unix-niftp 5.6's captured sessions
# (shared/reference/unix-niftp-sessions.md): as P it sends the captured
# mail_small letter (for jim and fred at uk.ac.test.q), as Q it answers
# like unix-niftp's mail server.
#
#  1. The relay "gate" listens on rawtcp:, routes uk.ac.test.q to an
#     unfpeer Q over rawtcp:, and has [peer unf] from = 127.0.0.1. The
#     captured P session is accepted (ER(0), STOPACK 0x2000), journaled
#     received peer=unf auth=address, and relayed to the unix-niftp Q
#     (journal forwarded with the name that Q assigned); unfpeer checked
#     our SFT against the captured mail SFT's attributes and qualifiers.
#  2. The same relay without the [peer] section (accept = local, the
#     default): the same session from a stranger (run as nobody: root or
#     the daemon's user over loopback would be local submission) is
#     refused in the call, "relaying denied", journaled refused, and
#     nothing is queued or forwarded.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_unf_relay

UNF="$top/build/tools/unfpeer"
[ -x "$UNF" ] || die "no $UNF (make all)"

# gate_ini PEER - gate's configuration; PEER 1: with [peer unf]
gate_ini() {
	node_ini_raw gate <<EOF
[node]
name = gate
spool = $(ndir gate)/spool

[listen]
mail = rawtcp:127.0.0.1:0

[routes]
uk.ac.test.q = niftp $QADDR

[local]
maildir = $(mdir gate)/%u/
users = root

[retry]
first = 1s
max = 2s
EOF
	if [ "$1" = 1 ]; then
		printf '\n[peer unf]\n; unix-niftp: no password, known by its address\nfrom = 127.0.0.1\n' \
			>>"$T/gate.ini"
	fi
}

# --- 1. with [peer unf] ----------------------------------------------------------------
"$UNF" q --listen rawtcp:127.0.0.1:0 --ready-file "$T/qready" --timeout 30 \
	>"$T/q.out" 2>"$T/q.err" &
qpid=$!
pids="$pids $qpid"
i=0
while [ ! -s "$T/qready" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || die "unfpeer q not ready: $(cat "$T/q.err")"
	sleep 0.1
done
QADDR=$(cat "$T/qready")
gate_ini 1
start_node gate || die "gate did not start"
RAW=$(grep '^rawtcp:' "$(spooldir gate)/ready" | head -1)
[ -n "$RAW" ] || die "no rawtcp address in $(spooldir gate)/ready"
note "gate on $RAW, unix-niftp's Q on $QADDR"

if "$UNF" p "$RAW" mail_small --timeout 20 >"$T/p.out" 2>"$T/p.err"; then
	ok "unix-niftp's P: the captured letter accepted by gate ($(cat "$T/p.out"))"
else
	bad "unix-niftp's P refused by gate: $(tail -2 "$T/p.err")"
fi
if wait_journal gate ' received .*peer=unf auth=address' 1 10; then
	ok "received peer=unf auth=address (an address-only peer over rawtcp:)"
else
	bad "no received line with peer=unf auth=address: $(journal gate | grep ' received ' | tail -1)"
fi
if wait_journal gate ' forwarded .*remote=/var/ftp/spool/mail/fvdagxll' 1 20; then
	ok "relayed to unix-niftp's Q: forwarded under the name it assigned"
else
	bad "not forwarded to unix-niftp's Q: $(journal gate | tail -3)"
fi
wait "$qpid"
qrc=$?
pids=$(echo "$pids" | sed "s/ $qpid//")
[ $qrc = 0 ] && ok "unix-niftp's Q: our SFT passed its checks against the captured mail SFT and the transfer ended cleanly" ||
	bad "unix-niftp's Q exit $qrc: $(tail -3 "$T/q.err")"
stop_node gate

# --- 2. without it: relaying denied ---------------------------------------------------------
# The caller must be a stranger: a loopback caller running as root or as
# the daemon's user is local submission (doc/peers.md). As root the test
# runs it as nobody; otherwise this part is skipped.
stranger=""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$UNF" 2>/dev/null; then
	stranger="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
if [ -z "$stranger" ]; then
	note "part 2 skipped: not root (or no setpriv), so no caller here is a stranger"
	relay_finish
	exit $?
fi
gate_ini 0
start_node gate || die "gate did not start again"
RAW=$(grep '^rawtcp:' "$(spooldir gate)/ready" | head -1)
before=$(jcount gate ' forwarded ')
# shellcheck disable=SC2086
if $stranger "$UNF" p "$RAW" mail_small --timeout 20 >"$T/p2.out" 2>"$T/p2.err"; then
	bad "an unknown rawtcp: caller relayed through gate: $(cat "$T/p2.out")"
else
	ok "an unknown rawtcp: caller's letter for uk.ac.test.q refused in the call"
fi
if wait_journal gate ' refused .*relaying denied' 1 10; then
	ok "journaled: refused ... relaying denied"
else
	bad "no refused line: $(journal gate | tail -2)"
fi
[ "$(jcount gate ' received .*auth=none')" = 0 ] && [ "$(jcount gate ' forwarded ')" = "$before" ] &&
	[ -z "$(ls "$(spooldir gate)/queue" 2>/dev/null)" ] &&
	ok "nothing received, queued or forwarded" ||
	bad "the refused letter went on: $(journal gate | tail -3)"
stop_node gate

relay_finish
