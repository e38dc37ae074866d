#!/usr/bin/env bash
# t_postfix_crash.sh - where SMTP stops exactly-once (issue 11, item 3;
# relay/chan_smtp.c, doc/smtp.md). A private Postfix (lib-postfix.sh)
# takes mail for pf.test; a node routes pf.test to it and is killed at a
# crash point of its smtp channel (NIFTPMAIL_CRASH, util/crash.h), then
# restarted without it. Each letter is 300 KiB, so that libcurl asks the
# channel for the message several times and "the middle of DATA" is a
# point where Postfix holds part of it.
#
#  a. relay-smtp-mid-data (node ucl, letter to alice@pf.test): killed
#     after part of the message was sent, before the final ".". Postfix
#     logs the lost connection after DATA and discards what it got:
#     nothing delivered while the node is down. After the restart the
#     node sends the letter again: exactly one copy in alice's Maildir.
#     Journal: received, routed, (the cut attempt leaves no line) the
#     restart's recover line, one forwarded line with Postfix's queue id.
#  b. relay-smtp-after-final-before-journal (node cam, letter to
#     bob@pf.test): killed after Postfix's 250 to the final ".", before
#     the result reached the queue's journal. Postfix delivers that copy
#     while the node is down; the node's journal has no forwarded line,
#     so after the restart it sends the letter again: exactly two copies
#     in bob's Maildir, with two Postfix queue ids; the journal reads as in
#     a, its one forwarded line naming the second. SMTP cannot do better
#     (RFC 1047; RFC 5321 6.1): the journal records one forwarding, the
#     far side holds two. NIFTP's resumption closes this window
#     (t_relay_crash.sh, relay-after-stopack-before-journal).
# Needs root (Postfix's master).
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/postfix/lib-postfix.sh"
. "$top/tests/integration/lib-relay.sh"
relay_setup t_postfix_crash

W=$T/w
mkdir -p "$W"
pf_cleanup() { pf_stop; }
trap 'pf_cleanup; relay_cleanup' EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (Postfix's master runs as root)"
pf_install || die "Postfix is not available (see above)"
pf_start crash || die "pf_start"
note "Postfix on 127.0.0.1:$PF_PORT ($PF_DIR)"

# node NAME - a node routing pf.test to Postfix
node() {
	node_ini "$1" <<EOF
[routes]
pf.test = smtp tcp:127.0.0.1:$PF_PORT

[local]
maildir = $(mdir "$1")/%u/
users = bennett linington

[retry]
first = 1s
max = 2s
EOF
}

# bigletter FILE MSGID FROM RCPT - a 300 KiB letter (7-bit, short lines)
bigletter() {
	mkletter "$1" "$2" "$3" "$4"
	awk 'BEGIN { for (i = 0; i < 4000; i++) printf "%05d the quick brown fox jumps over the lazy dog 0123456789 abcdef\n", i }' >>"$1"
}

# copies USER MSGID - Maildir files of USER@pf.test (new/ and cur/) with MSGID
copies() {
	find "$(pf_maildir "$1")/new" "$(pf_maildir "$1")/cur" -type f \
		-exec grep -liF "Message-ID: <$2>" {} + 2>/dev/null | wc -l | tr -d ' '
}

# crashed NODE POINT - NODE exits 99 at POINT within 30 s
crashed() {
	if wait_exit "$1" 30; then
		if [ "$node_rc" -eq 99 ] && grep -q "crash point $2" "$T/$1.err"; then
			ok "$2: $1 crashed there (exit 99)"
			return 0
		fi
		bad "$2: $1 exited with $node_rc, want 99 at the crash point: $(tail -2 "$T/$1.err")"
	else
		bad "$2: $1 did not reach the crash point within 30 s: $(journal "$1" | tail -3)"
		stop_node "$1"
	fi
	return 1
}

# settled NODE - NODE's queue and Postfix's queue empty (bounded)
settled() {
	wait_empty "$1" queue 30 || bad "$1: queue/ not empty: $(ls "$(spooldir "$1")/queue" | head -5 | tr '\n' ' ')"
	pf_wait_queue_empty 30 || bad "Postfix's queue not empty"
}

# story NODE - the journal's events for the letter, the restart's recover
# line included (the first start's recover line left out)
story() {
	journal "$1" | awk '$2 ~ /^(recover|received|routed|forwarded|deferred|failed|ndn)$/ { print $2 }' |
		sed 1d | tr '\n' ' ' | sed 's/ $//'
}

# --- a. killed in the middle of DATA: one copy ----------------------------------------------
A=relay-smtp-mid-data
node ucl
start_node ucl "NIFTPMAIL_CRASH=$A" || die "a: ucl did not start"
bigletter "$W/a.letter" crash.a@ucl bennett@ucl alice@pf.test
drop ucl "$W/a.letter" a.letter || bad "a: drop"
if crashed ucl "$A"; then
	if l=$(pf_wait_log 'lost connection after DATA' 1 15); then
		ok "a: Postfix lost the connection in DATA: ${l##*]: }"
	else
		bad "a: Postfix did not log a connection lost in DATA: $(pf_log | tail -3)"
	fi
	pf_wait_queue_empty 15 || bad "a: Postfix kept a queue file of the cut message"
	n=$(copies alice crash.a@ucl)
	[ "$n" = 0 ] && ok "a: nothing delivered from the cut transaction" ||
		bad "a: $n copies delivered from a cut transaction"
	[ "$(jcount ucl ' (forwarded|deferred|failed) ')" = 0 ] &&
		ok "a: the journal has no outcome for the cut attempt" ||
		bad "a: outcome journaled before the restart: $(journal ucl | tail -2)"
fi
start_node ucl || die "a: ucl did not restart"
pf_wait_maildir alice 1 30 >/dev/null || bad "a: not delivered after the restart"
wait_journal ucl ' forwarded .*to=pf\.test' 1 30 || bad "a: no forwarded line after the restart"
settled ucl
n=$(copies alice crash.a@ucl)
[ "$n" = 1 ] && ok "a: exactly one copy in alice's Maildir" || bad "a: $n copies in alice's Maildir, want 1"
f=$(find "$(pf_maildir alice)/new" "$(pf_maildir alice)/cur" -type f 2>/dev/null | head -1)
if [ -n "$f" ] && grep -q '^03999 the quick brown fox' "$f"; then
	ok "a: the copy is whole (last body line there)"
else
	bad "a: the copy lacks the end of the body"
fi
fw=$(journal ucl | grep ' forwarded .*to=pf\.test')
st=$(story ucl)
[ "$st" = "received routed recover forwarded" ] &&
	ok "a: journal: $st (remote $(jval "$fw" remote)): the cut attempt left no line" ||
	bad "a: journal: '$st', want 'received routed recover forwarded'"
stop_node ucl || bad "a: ucl did not stop"

# --- b. killed after the final dot's 250, before the journal: two copies ----------------------
B=relay-smtp-after-final-before-journal
sent0=$(pf_log_count 'to=<bob@pf\.test>.*status=sent')
node cam
start_node cam "NIFTPMAIL_CRASH=$B" || die "b: cam did not start"
bigletter "$W/b.letter" crash.b@cam linington@cam bob@pf.test
drop cam "$W/b.letter" b.letter || bad "b: drop"
if crashed cam "$B"; then
	if pf_wait_maildir bob 1 30 >/dev/null; then
		ok "b: Postfix delivered the copy it took while the node is down"
	else
		bad "b: Postfix did not deliver the copy it answered 250"
	fi
	[ "$(jcount cam ' forwarded ')" = 0 ] &&
		ok "b: the journal does not know the 250" ||
		bad "b: forwarded journaled before the crash point: $(journal cam | tail -2)"
fi
start_node cam || die "b: cam did not restart"
wait_journal cam ' forwarded .*to=pf\.test' 1 30 || bad "b: no forwarded line after the restart"
pf_wait_maildir bob 2 30 >/dev/null || bad "b: the second copy did not arrive"
settled cam
n=$(copies bob crash.b@cam)
[ "$n" = 2 ] && ok "b: exactly two copies in bob's Maildir (SMTP cannot do better)" ||
	bad "b: $n copies in bob's Maildir, want 2"
s=$(($(pf_log_count 'to=<bob@pf\.test>.*status=sent') - sent0))
# Postfix's queue ids for bob, in the order they were delivered
ids=$(pf_log 'to=<bob@pf\.test>.*status=sent' | sed -n 's/.*: \([0-9A-F]*\): to=.*/\1/p' | awk '!seen[$0]++' | tr '\n' ' ')
[ "$s" = 2 ] && ok "b: Postfix delivered two messages: ${ids% }" ||
	bad "b: Postfix logged $s deliveries to bob, want 2"
fw=$(journal cam | grep ' forwarded .*to=pf\.test')
r=$(jval "$fw" remote)
st=$(story cam)
last=${ids% }
last=${last##* }
if [ "$st" = "received routed recover forwarded" ] && [ -n "$r" ] && [ "$r" = "$last" ]; then
	ok "b: journal: $st (remote $r, the second copy): one forwarding known, two copies at the far side"
else
	bad "b: journal: '$st', want 'received routed recover forwarded'; forwarded: $fw (Postfix ids: $ids)"
fi
stop_node cam || bad "b: cam did not stop"

relay_finish
