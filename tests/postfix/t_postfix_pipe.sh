#!/usr/bin/env bash
# t_postfix_pipe.sh - Internet mail into an NIFTP network (issue 11, items 2
# and 3): Postfix's sendmail -> its pipe(8) transport "niftp", running as
# an ordinary user (nobody) -> niftpmail-sendmail -> node "gate" (control
# socket) -> NIFTP -> node "cam" -> cam's Maildir. The master.cf line is
# the one doc/niftpmail-sendmail.8 gives.
#
#  1. A message for linington@cam from alice@pf.test, handed to Postfix
#     with its sendmail: delivered once at cam, Return-Path <alice@pf.test>,
#     gate journals received from=submit with user=nobody, and
#     `mailctl trace --follow` from gate's name reaches the delivery at cam.
#  2. The null sender (an Internet bounce, -f '<>' in Postfix): taken,
#     delivered, and an undeliverable one gets no notice.
#  3. gate stopped: pipe(8) gets 75, Postfix defers; gate started again:
#     Postfix's retry delivers it, once.
# Needs root (Postfix's master).
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/postfix/lib-postfix.sh"
. "$top/tests/integration/lib-relay.sh"
relay_setup t_postfix_pipe
W=$T/w
mkdir -p "$W"
trap 'pf_stop; relay_cleanup' EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (Postfix's master runs as root)"
pf_install || die "Postfix is not available (see above)"
SM="$top/bin/niftpmail-sendmail"
[ -x "$SM" ] || die "no $SM (make all)"
# nobody must reach the nodes' configuration and control sockets
chmod 711 "$T"

node_ini gate <<EOF
[routes]
cam = niftp $(sock cam)

[local]
maildir = $(mdir gate)/%u/
users = root
EOF
node_ini cam <<EOF
[local]
maildir = $(mdir cam)/%u/
users = linington, root
EOF
chmod 644 "$T/gate.ini" "$T/cam.ini"
start_node cam || die "cam did not start"
start_node gate || die "gate did not start"
chmod 711 "$(ndir gate)"

PF_TRANSPORT="cam niftp:"
PF_PIPE_USER=nobody
PF_PIPE_FLAGS=Rq
PF_PIPE_ARGV="$SM -i -c $T/gate.ini -f \${sender} -- \${recipient}"
PF_MAIN_EXTRA="niftp_destination_recipient_limit = 1"
pf_start pipe || die "pf_start"
note "Postfix $PF_DIR; pipe: $PF_PIPE_ARGV"

# --- 1. Postfix -> pipe -> niftpmail-sendmail -> gate -> NIFTP -> cam -----------------------------
printf 'From: alice@pf.test\nTo: linington@cam\nSubject: from the Internet\nMessage-ID: <pipe1@pf.test>\n\nhello NIFTP\n.\nstill here\n' |
	pf_sendmail -i -f alice@pf.test linington@cam || bad "1: Postfix's sendmail refused the message"
if wait_msgid cam linington pipe1@pf.test 1 40; then
	ok "1: delivered at cam through Postfix's pipe and gate"
	f=$(find_msgid cam linington pipe1@pf.test | head -1)
	grep -q '^Return-Path: <alice@pf.test>' "$f" && ok "1: Return-Path: <alice@pf.test>" ||
		bad "1: Return-Path: $(grep -i '^return-path' "$f")"
	grep -q '^still here$' "$f" && ok "1: the body passed a lone '.' (-i)" || bad "1: body cut"
else
	bad "1: not delivered at cam within 40 s: $(pf_log | tail -5)"
fi
[ "$(count_msgid cam linington pipe1@pf.test)" = 1 ] || bad "1: copies at cam: $(count_msgid cam linington pipe1@pf.test)"
l=$(journal gate | grep ' received .*from=submit' | grep 'pipe1@pf.test' | tail -1)
case "$l" in
*user=nobody*) ok "1: gate received from=submit user=nobody (SO_PEERCRED)" ;;
*) bad "1: gate's received line: $l" ;;
esac
name=$(printf '%s\n' "$l" | awk '{ print $3 }')
if [ -n "$name" ] && timeout 60 "$MAILCTL" -c "$T/gate.ini" trace --follow --timeout 10 "$name" \
	>"$W/tr" 2>&1 && grep -q 'delivered linington@cam' "$W/tr"; then
	ok "1: mailctl trace --follow $name reaches the delivery at cam"
else
	bad "1: trace --follow $name: $(cat "$W/tr")"
fi

# --- 2. the null sender ------------------------------------------------------------------------
printf 'From: MAILER-DAEMON@pf.test\nTo: linington@cam\nSubject: a bounce\nMessage-ID: <pipe2@pf.test>\n\nbounced\n' |
	pf_sendmail -f '<>' linington@cam || bad "2: sendmail refused"
wait_msgid cam linington pipe2@pf.test 1 40 && ok "2: a null-sender message delivered" ||
	bad "2: not delivered: $(pf_log | tail -3)"
printf 'From: MAILER-DAEMON@pf.test\nTo: nobody-here@cam\nSubject: a bounce\nMessage-ID: <pipe3@pf.test>\n\nx\n' |
	pf_sendmail -f '<>' nobody-here@cam || bad "2: sendmail refused"
# its end: niftpmail-sendmail refuses it at once (67: Postfix bounces it to
# no one), or a node takes it and, failing it, finds no one to notify
# (a dead line): either way no notice goes out
pf_wait_log 'status=(sent|bounced)' 3 30 >/dev/null || bad "2: Postfix did not finish the third message"
if pf_log | grep -q 'status=bounced'; then
	ok "2: the unknown user refused at submission ($(pf_log | grep 'status=bounced' | tail -1 | sed 's/.*status=//' | cut -c1-60))"
else
	# at whichever node failed it (gate or cam): one bounded poll of both
	_i=0
	while [ "$(jcount gate ' dead ')" = 0 ] && [ "$(jcount cam ' dead ')" = 0 ]; do
		_i=$((_i + 1))
		[ $_i -le 200 ] || break
		sleep 0.1
	done
	[ $_i -le 200 ] && ok "2: the failed null-sender letter set aside as dead" ||
		bad "2: no dead line at gate or cam"
fi
[ "$(jcount gate ' ndn ')" = 0 ] && [ "$(jcount cam ' ndn ')" = 0 ] &&
	ok "2: no notice for a null-sender letter" || bad "2: a notice was sent for a null-sender letter"

# --- 3. the node down: Postfix defers, then delivers -------------------------------------------
stop_node gate
printf 'From: alice@pf.test\nTo: linington@cam\nSubject: later\nMessage-ID: <pipe4@pf.test>\n\nlater\n' |
	pf_sendmail -f alice@pf.test linington@cam || bad "3: sendmail refused"
if pf_wait_log 'status=deferred' 1 30 >/dev/null; then
	ok "3: gate down: Postfix deferred ($(pf_log | grep 'status=deferred' | tail -1 | sed 's/.*status=//' | cut -c1-80))"
else
	bad "3: no deferral while gate is down: $(pf_log | tail -3)"
fi
start_node gate || die "gate did not start again"
chmod 711 "$(ndir gate)"
wait_msgid cam linington pipe4@pf.test 1 60 && ok "3: delivered after gate came back" ||
	bad "3: not delivered after gate came back: $(pf_log | tail -3)"
[ "$(count_msgid cam linington pipe4@pf.test)" = 1 ] && ok "3: exactly one copy" ||
	bad "3: $(count_msgid cam linington pipe4@pf.test) copies"

stop_node gate
stop_node cam
relay_finish
