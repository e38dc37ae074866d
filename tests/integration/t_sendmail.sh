#!/bin/sh
# t_sendmail.sh - niftpmail-sendmail and mailctl sendmail: a message from an
# MTA made a letter (issue 11 item 2; doc/niftpmail-sendmail.8).
#
#  1. -f alice@example.org -- bennett@ucl: exit 0, delivered with
#     "Return-Path: <alice@example.org>" first (the message's own
#     Return-Path: replaced); without -i a lone "." ends the message, with
#     -i it is kept.
#  2. -t: recipients from To:, Cc: and Bcc: (plus the command line's);
#     Bcc: removed; a group "undisclosed:;" gives none.
#  3. an mbox "From " line first is dropped; CRLF line ends become LF.
#  4. mailctl sendmail is the same code.
#  5. notices go to the Return-Path:, not to From:; a null sender
#     (-f '<>', -f '') is accepted and journaled, and its failure gets no
#     notice (dead/, reason "null return path").
#  6. exit codes: 65 a malformed message (unparseable From:, no header
#     and no sender, a bad address), 67 an unknown local user or an
#     address the routes refuse, 75 usage errors and a daemon that is
#     down (nothing left in out/).
#  7. what Postfix quotes in its bounce: a message larger than [limits]
#     max_letter_size is refused by the daemon (65) with one line on
#     standard error, "niftpmail-sendmail: node ucl refused the letter:
#     letter too large: ...", naming neither mailctl nor the control
#     protocol ("daemon:", "err"); under mailctl sendmail the line says
#     "mailctl: sendmail: ..." and a usage error "Try 'mailctl sendmail
#     --help'".
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_sendmail
SM="$top/bin/niftpmail-sendmail"
[ -x "$SM" ] || die "$SM not built"

node_ini ucl <<EOF
[local]
maildir = $(mdir ucl)/%u/
users = bennett, kirstein, lin, alice, carol
[retry]
first = 1s
max = 2s
[limits]
max_letter_size = 16384
EOF
start_node ucl || die "ucl did not start"
SP="$T/ucl/spool"
# a mailbox whose Maildir is a file: accepted (the node cannot tell at
# submission), then it fails at delivery
: >"$(mdir ucl)/gone"

# sm ARGS... - run niftpmail-sendmail on ucl with standard input; rc=status
# (never at the end of a pipeline: rc would be set in a subshell)
sm() {
	timeout 30 "$SM" -c "$T/ucl.ini" "$@" 2>>"$T/sm.err"
	rc=$?
}
# expect WHAT WANT - rc is WANT
expect() {
	if [ "$rc" -eq "$2" ]; then ok "$1: exit $rc"; else
		bad "$1: exit $rc, want $2: $(tail -1 "$T/sm.err")"; fi
}

# --- 1. -f, Return-Path, dots ----------------------------------------------------------
printf 'Return-Path: <forged@elsewhere>\nFrom: Alice <alice@example.org>\nTo: bennett@ucl\nSubject: one\nMessage-ID: <sm.1@example.org>\n\nline 1\n.\nafter the dot\n' >"$T/m1"
sm -f alice@example.org -- bennett@ucl <"$T/m1"
expect "-f alice@example.org -- bennett@ucl" 0
if wait_msgid ucl bennett sm.1@example.org 1 20; then
	f=$(find_msgid ucl bennett sm.1@example.org | head -1)
	h1=$(header "$f" | head -1)
	[ "$h1" = "Return-Path: <alice@example.org>" ] && ok "Return-Path: first: $h1" ||
		bad "first header line '$h1', want Return-Path: <alice@example.org>"
	[ "$(header "$f" | grep -ci '^Return-Path:')" -eq 1 ] && ok "the message's own Return-Path: replaced" ||
		bad "Return-Path: lines: $(header "$f" | grep -i '^Return-Path:')"
	grep -q '^line 1$' "$f" && ! grep -q 'after the dot' "$f" &&
		ok "without -i a lone '.' ended the message" || bad "dot handling without -i: $(cat "$f")"
else
	bad "sm.1 not delivered to bennett"
fi
sed 's/sm\.1@/sm.2@/' "$T/m1" >"$T/m2"
sm -i -f alice@example.org bennett@ucl <"$T/m2"
expect "-i" 0
if wait_msgid ucl bennett sm.2@example.org 1 20; then
	f=$(find_msgid ucl bennett sm.2@example.org | head -1)
	grep -q '^after the dot$' "$f" && grep -q '^\.$' "$f" && ok "-i: the lone '.' kept" ||
		bad "-i: $(cat "$f")"
else
	bad "sm.2 not delivered"
fi

# --- 2. -t ----------------------------------------------------------------------------------
printf 'From: alice@example.org\nTo: Bennett <bennett@ucl>, "Kirstein, P" <kirstein@ucl>\nCc: lin@ucl\nBcc: carol@ucl,\n  undisclosed:;\nSubject: t\nMessage-ID: <sm.t@example.org>\n\nbody\n' >"$T/mt"
sm -t -f alice@example.org <"$T/mt"
expect "-t" 0
for u in bennett kirstein lin carol; do
	wait_msgid ucl $u sm.t@example.org 1 20 && ok "-t: delivered to $u" || bad "-t: not delivered to $u"
done
f=$(find_msgid ucl carol sm.t@example.org | head -1)
[ -n "$f" ] && ! header "$f" | grep -qi '^Bcc:' && ok "-t: Bcc: removed" || bad "-t: Bcc: kept: $f"
printf 'From: alice@example.org\nSubject: no recipients\n\nbody\n' >"$T/in"
sm -t <"$T/in"
expect "-t with no recipients at all (bad data)" 65

# --- 3. mbox From line, CRLF --------------------------------------------------------------
printf 'From alice@example.org Wed Nov 25 12:00:00 2026\nFrom: alice@example.org\nSubject: mbox\nMessage-ID: <sm.mbox@example.org>\n\nbody\n' >"$T/mbox"
sm -f alice@example.org -- bennett@ucl <"$T/mbox"
expect "mbox From line" 0
if wait_msgid ucl bennett sm.mbox@example.org 1 20; then
	f=$(find_msgid ucl bennett sm.mbox@example.org | head -1)
	grep -q '^From alice' "$f" && bad "mbox From line kept" || ok "mbox From line dropped"
else
	bad "sm.mbox not delivered"
fi
printf 'From: alice@example.org\r\nSubject: crlf\r\nMessage-ID: <sm.crlf@example.org>\r\n\r\nline one\r\nline two\r\n' >"$T/crlf"
sm -f alice@example.org -- bennett@ucl <"$T/crlf"
expect "CRLF message" 0
if wait_msgid ucl bennett sm.crlf@example.org 1 20; then
	f=$(find_msgid ucl bennett sm.crlf@example.org | head -1)
	if tr -d '\n' <"$f" | grep -q "$(printf '\r')"; then bad "CRLF: a CR left: $(od -c "$f" | head)";
	else ok "CRLF made LF"; fi
	grep -q '^line two$' "$f" && ok "CRLF: body kept" || bad "CRLF: body $(cat "$f")"
else
	bad "sm.crlf not delivered"
fi

# --- 4. mailctl sendmail ----------------------------------------------------------------------
printf 'From: alice@example.org\nSubject: via mailctl\nMessage-ID: <sm.ctl@example.org>\n\nbody\n' |
	timeout 30 "$MAILCTL" -c "$T/ucl.ini" sendmail -oi -odq -f alice@example.org -- kirstein@ucl 2>>"$T/sm.err"
rc=$?
expect "mailctl sendmail" 0
wait_msgid ucl kirstein sm.ctl@example.org 1 20 && ok "mailctl sendmail: delivered" ||
	bad "mailctl sendmail: not delivered"

# --- 5. notices: Return-Path first; the null sender --------------------------------------
printf 'From: Someone <someone@example.org>\nSubject: to a gone user\nMessage-ID: <sm.gone@example.org>\n\nbody\n' >"$T/gone"
sm -f alice@ucl -- gone@ucl <"$T/gone"
expect "to a mailbox that fails at delivery" 0
if wait_header ucl alice Failed-Letter . 1 30; then
	ok "the notice went to the Return-Path: (alice@ucl), not to From: someone@example.org"
else
	bad "no notice reached alice@ucl: $(journal ucl | grep -E ' (ndn|dead|failed) ')"
fi
printf 'From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <sm.null@example.org>\n\nbounce\n' >"$T/null"
sm -f '<>' -- gone@ucl <"$T/null"
expect "-f '<>'" 0
sed 's/sm\.null@/sm.null2@/' "$T/null" >"$T/in"
sm -f '' gone@ucl <"$T/in"
expect "-f ''" 0
sed 's/sm\.null@/sm.null3@/' "$T/null" >"$T/in"
sm -f '<>' bennett@ucl <"$T/in"
expect "-f '<>' to a good user" 0
if wait_msgid ucl bennett sm.null3@example.org 1 20; then
	f=$(find_msgid ucl bennett sm.null3@example.org | head -1)
	[ "$(header "$f" | head -1)" = "Return-Path: <>" ] && ok "null sender: Return-Path: <>" ||
		bad "null sender: first line $(header "$f" | head -1)"
else
	bad "sm.null3 not delivered"
fi
if wait_journal ucl ' dead .*null return path' 2 30; then
	ok "null sender: failures go to dead/ with 'null return path'"
else
	bad "null sender: no dead lines: $(journal ucl | grep -E ' (ndn|dead) ')"
fi
[ "$(jcount ucl ' received ')" -ge 10 ] && ok "the letters were journaled" ||
	bad "received lines: $(jcount ucl ' received ')"
# only the one notice (to alice): none about the null-sender letters
[ "$(jcount ucl ' ndn ')" -eq 1 ] && ok "no notice about a null-sender letter" ||
	bad "ndn lines: $(journal ucl | grep ' ndn ')"

# --- 6. exit codes --------------------------------------------------------------------------
printf 'From: nobody\nSubject: bad\n\nbody\n' >"$T/in"
sm -f alice@example.org -- bennett@ucl <"$T/in"
expect "malformed From: (no host part)" 65
printf 'just text, no header\n' >"$T/in"
sm bennett@ucl <"$T/in"
expect "no header and no sender" 65
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f alice@example.org -- 'bad address@@' <"$T/in"
expect "a bad recipient address" 65
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f 'not an address' -- bennett@ucl <"$T/in"
expect "a bad sender address" 65
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f alice@example.org -- nosuchuser@ucl <"$T/in"
expect "an unknown local user" 67
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f alice@example.org -- x@nowhere.invalid <"$T/in"
expect "an address without a route" 67
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f alice@example.org -Z bennett@ucl <"$T/in"
expect "an unknown option" 75
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
sm -f alice@example.org <"$T/in"
expect "no recipients" 75
"$SM" --help | grep -q 'Exit status' && ok "--help" || bad "--help"

# --- 7. the words of a refusal -------------------------------------------------------------
{
	printf 'From: alice@example.org\nSubject: big\nMessage-ID: <sm.big@example.org>\n\n'
	i=0
	while [ $i -lt 400 ]; do
		echo "a line of the body of a message larger than the node takes, number $i"
		i=$((i + 1))
	done
} >"$T/big"
timeout 30 "$SM" -c "$T/ucl.ini" -f alice@example.org -- bennett@ucl <"$T/big" >"$T/big.out" 2>"$T/big.err"
rc=$?
expect "a message over max_letter_size" 65
if [ "$(wc -l <"$T/big.err")" -eq 1 ] &&
    grep -q "^niftpmail-sendmail: node ucl refused the letter: letter too large: more than 16384 octets" "$T/big.err" &&
    ! grep -Eq 'mailctl|daemon:|(^| )err |(^| )ok( |$)' "$T/big.err"; then
	ok "too large: $(cat "$T/big.err")"
else
	bad "too large: standard error '$(cat "$T/big.err")'"
fi
[ "$(jcount ucl 'sm.big@example.org')" -eq 0 ] && ok "too large: nothing received" ||
	bad "too large: journalled: $(journal ucl | grep 'sm.big@')"
timeout 30 "$MAILCTL" -c "$T/ucl.ini" sendmail -f alice@example.org -- bennett@ucl <"$T/big" >/dev/null 2>"$T/big.err"
rc=$?
expect "mailctl sendmail: a message over max_letter_size" 65
grep -q "^mailctl: sendmail: node ucl refused the letter: letter too large: " "$T/big.err" &&
	! grep -q 'daemon:' "$T/big.err" && ok "mailctl sendmail, too large: $(cat "$T/big.err")" ||
	bad "mailctl sendmail, too large: '$(cat "$T/big.err")'"
timeout 30 "$MAILCTL" -c "$T/ucl.ini" sendmail -Z bennett@ucl </dev/null >/dev/null 2>"$T/big.err"
rc=$?
expect "mailctl sendmail -Z" 75
[ "$(cat "$T/big.err")" = "mailctl: sendmail: unknown option '-Z'
Try 'mailctl sendmail --help'." ] && ok "mailctl sendmail -Z: names mailctl sendmail" ||
	bad "mailctl sendmail -Z: '$(cat "$T/big.err")'"
printf 'From: alice@example.org\nSubject: x\n\nbody\n' >"$T/in"
timeout 30 "$SM" -c "$T/ucl.ini" -f alice@example.org -- nosuchuser@ucl <"$T/in" 2>"$T/big.err"
rc=$?
expect "an unknown local user, the words" 67
grep -q "^niftpmail-sendmail: recipient 'nosuchuser@ucl': unknown user" "$T/big.err" &&
	ok "unknown user: $(cat "$T/big.err")" || bad "unknown user: '$(cat "$T/big.err")'"
stop_node ucl
printf 'From: alice@example.org\nSubject: down\n\nbody\n' >"$T/in"
sm -f alice@example.org -- bennett@ucl <"$T/in"
expect "daemon down" 75
[ -z "$(ls "$SP/out" 2>/dev/null)" ] && ok "daemon down: nothing dropped into out/" ||
	bad "out/: $(ls "$SP/out")"
printf 'From: alice@example.org\nSubject: x\n\nbody\n' | NIFTPMAIL_CONF="$T/nothere.ini" timeout 30 "$SM" bennett@ucl 2>>"$T/sm.err"
rc=$?
expect "a configuration that cannot be read" 75

[ "$fails" -eq 0 ] || { echo "--- niftpmail-sendmail stderr"; cat "$T/sm.err"; }
relay_finish
