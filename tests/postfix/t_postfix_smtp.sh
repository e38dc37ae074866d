#!/usr/bin/env bash
# t_postfix_smtp.sh - the smtp channel against a real Postfix (issue 11,
# item 3; relay/chan_smtp.c). A private Postfix instance (lib-postfix.sh)
# on 127.0.0.1:PORT takes mail for pf.test into Maildirs; a niftpmail node
# "ucl" routes pf.test to it: `pf.test = smtp tcp:127.0.0.1:PORT`.
#
#  1. A letter comes to ucl over NIFTP (niftp put on its Unix socket, a
#     local caller) for alice@pf.test and bob@pf.test: one SMTP
#     transaction, both Maildirs get it, with niftpmail's Received: line
#     (the gateway's trace line on the Internet side), the letter's Via:
#     history kept, the Subject and the body (a line starting with a
#     dot intact); ucl journals forwarded with Postfix's "queued as" text.
#  2. Mixed replies: carol (250), reject550 (550 from Postfix's
#     check_recipient_access) and defer450 (450): one non-delivery notice
#     at ucl for reject550 alone, with Postfix's text; defer450 deferred,
#     then, once the map lets it through, delivered on the node's retry;
#     carol delivered once.
#  3. STARTTLS: Postfix with a certificate made here (openssl req,
#     subjectAltName IP:127.0.0.1); a second node with [smtp] tls =
#     encrypt and that certificate as ca_file: delivered, Postfix logs a
#     TLS connection.
#  4. 1,000 recipients at pf.test: one transaction (Postfix logs one
#     message with nrcpt=1000), every Maildir gets one copy.
#  5. RFC 733 forms made RFC 822 (mailchannel/rfc822.c) on a node with
#     reversed_names and big_endian = test: "at", multiple host
#     indicators, the big-endian domain, in the header and the envelope;
#     a phrase with "at" and the Subject untouched.
# Needs root (Postfix's master).
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/postfix/lib-postfix.sh"
. "$top/tests/integration/lib-relay.sh"
relay_setup t_postfix_smtp

N1000=""
for i in $(seq 1 1000); do N1000="$N1000 u$i"; done
W=$T/w
mkdir -p "$W"
pf_cleanup() { pf_stop; }
trap 'pf_cleanup; relay_cleanup' EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "needs root (Postfix's master runs as root)"
pf_install || die "Postfix is not available (see above)"

# the test certificate (STARTTLS)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$W/key.pem" -out "$W/cert.pem" \
	>"$W/openssl.log" 2>&1 || die "openssl req: $(tail -2 "$W/openssl.log")"
chmod 644 "$W/cert.pem" "$W/key.pem"

PF_USERS="alice bob carol dave erin postmaster$N1000"
PF_MAIN_EXTRA="smtpd_tls_cert_file = $W/cert.pem
smtpd_tls_key_file = $W/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1"
PF_MASTER_EXTRA="tlsmgr    unix  -       -       n       1000?   1       tlsmgr"
pf_start smtp || die "pf_start"
note "Postfix on 127.0.0.1:$PF_PORT ($PF_DIR)"

# node NAME EXTRA - a node routing pf.test to Postfix
node() {
	node_ini "$1" <<EOF
[routes]
pf.test = smtp tcp:127.0.0.1:$PF_PORT

[local]
maildir = $(mdir "$1")/%u/
users = bennett

[retry]
first = 1s
max = 2s
$2
EOF
}

# put NODE FILE - a letter into NODE over NIFTP (its Unix socket)
put() {
	timeout 60 "$NIFTP" put -q --retries 0 --called FTP.MAIL "$2" "$(sock "$1")" \
		>"$W/put.out" 2>"$W/put.err"
}

# --- 1. two recipients, one transaction ---------------------------------------------------------
node ucl ""
start_node ucl || die "ucl did not start"
{
	printf 'alice@pf.test, bob@pf.test\n\n'
	printf 'Via: cambridge ; Sun, 6 Dec 2026 06:00:00 +0000\n'
	printf 'From: bennett@ucl\nTo: alice@pf.test, bob@pf.test\nSubject: to Postfix\nMessage-ID: <pf1@ucl>\n\n'
	printf 'first line\n.a line with a leading dot\nlast line\n'
} >"$W/l1"
put ucl "$W/l1" || bad "1: niftp put: $(cat "$W/put.err")"
for u in alice bob; do
	if f=$(pf_wait_maildir "$u" 1 30 | head -1) && [ -n "$f" ]; then
		ok "1: $u@pf.test got the letter from Postfix"
		grep -q '^Subject: to Postfix' "$f" && grep -q '^\.a line with a leading dot$' "$f" &&
			grep -q '^last line$' "$f" && ok "1: $u: subject and body intact" ||
			bad "1: $u: content differs: $(head -c 600 "$f")"
		grep -q '^Received: from [a-z]* by ucl (niftpmail)' "$f" && grep -qi '^Via: cambridge' "$f" &&
			ok "1: $u: niftpmail's Received: line added, the Via: history kept" ||
			bad "1: $u: header: $(sed -n '1,/^$/p' "$f" | head -20)"
	else
		bad "1: no Maildir file for $u@pf.test within 30 s: $(pf_log | tail -5)"
	fi
done
if wait_journal ucl ' forwarded .*to=pf.test' 1 20; then
	l=$(journal ucl | grep ' forwarded .*to=pf.test' | tail -1)
	case "$l" in
	*"queued as"* | *remote=[0-9A-F]*) ok "1: forwarded, Postfix's queue id as the remote name: $(jval "$l" remote)" ;;
	*) bad "1: forwarded line without Postfix's queue id: $l" ;;
	esac
else
	bad "1: no forwarded line: $(journal ucl | tail -3)"
fi
[ "$(pf_log_count 'nrcpt=2 ')" -ge 1 ] && ok "1: one Postfix message with both recipients" ||
	bad "1: Postfix did not take one message with nrcpt=2: $(pf_log | grep nrcpt | tail -3)"

# --- 2. mixed replies --------------------------------------------------------------------------
{
	printf 'carol@pf.test, reject550@pf.test, defer450@pf.test\n\n'
	printf 'From: bennett@ucl\nTo: carol@pf.test\nSubject: mixed\nMessage-ID: <pf2@ucl>\n\nmixed\n'
} >"$W/l2"
put ucl "$W/l2" || bad "2: niftp put: $(cat "$W/put.err")"
pf_wait_maildir carol 1 30 >/dev/null && ok "2: carol delivered" || bad "2: carol not delivered"
if wait_header ucl bennett Failed-Letter '.' 1 30; then
	n=$(find_header ucl bennett Failed-Letter '.' | xargs grep -l 'reject550@pf.test' | wc -l)
	f=$(find_header ucl bennett Failed-Letter '.' | head -1)
	[ "$n" = 1 ] && ok "2: one notice for reject550 at ucl" || bad "2: $n notices name reject550"
	grep -q '550' "$f" && ok "2: the notice carries Postfix's 550 text" ||
		bad "2: notice without the 550: $(cat "$f" | head -30)"
	grep -q 'defer450@pf.test' "$f" && bad "2: the notice names defer450 too" || true
else
	bad "2: no notice at ucl for reject550"
fi
wait_journal ucl ' deferred .*450' 1 20 && ok "2: defer450 deferred with the 450 reply" ||
	bad "2: no deferred line with 450: $(journal ucl | tail -3)"
pf_access defer450 >/dev/null 2>&1
pf_add_user defer450 >/dev/null 2>&1
pf_wait_maildir defer450 1 40 >/dev/null && ok "2: defer450 delivered on the node's retry" ||
	bad "2: defer450 not delivered after the map let it through"
[ "$(ls "$(pf_maildir carol)/new" | wc -l)" = 1 ] && ok "2: carol has exactly one copy" ||
	bad "2: carol has $(ls "$(pf_maildir carol)/new" | wc -l) copies"

# --- 3. STARTTLS --------------------------------------------------------------------------------
node cam "[smtp]
tls = encrypt
ca_file = $W/cert.pem"
start_node cam || die "cam did not start"
{
	printf 'dave@pf.test\n\n'
	printf 'From: linington@cam\nTo: dave@pf.test\nSubject: over TLS\nMessage-ID: <pf3@cam>\n\ntls\n'
} >"$W/l3"
put cam "$W/l3" || bad "3: niftp put: $(cat "$W/put.err")"
pf_wait_maildir dave 1 30 >/dev/null && ok "3: delivered with tls = encrypt" ||
	bad "3: not delivered over TLS: $(journal cam | tail -3) $(pf_log | tail -3)"
pf_log_count 'TLS connection established from' | grep -qv '^0$' &&
	ok "3: Postfix logged a TLS connection" || bad "3: no TLS connection in Postfix's log"

# --- 4. 1,000 recipients, one transaction -------------------------------------------------------
{
	for i in $(seq 1 1000); do printf 'u%d@pf.test\n' "$i"; done
	printf '\nFrom: bennett@ucl\nTo: many@pf.test\nSubject: a thousand\nMessage-ID: <pf4@ucl>\n\nmany\n'
} >"$W/l4"
put ucl "$W/l4" || bad "4: niftp put: $(cat "$W/put.err")"
if pf_wait_log 'nrcpt=1000 ' 1 60 >/dev/null; then
	ok "4: Postfix took one message with nrcpt=1000"
else
	bad "4: no message with nrcpt=1000: $(pf_log | grep nrcpt | tail -3)"
fi
i=0
while [ "$(ls "$PF_MAIL"/u*/new 2>/dev/null | grep -vc ':$\|^$')" -lt 1000 ] && [ $i -lt 300 ]; do
	i=$((i + 1))
	sleep 0.2
done
got=$(find "$PF_MAIL" -path '*/u*/new/*' -type f | wc -l)
[ "$got" = 1000 ] && ok "4: 1000 Maildirs got one copy each" || bad "4: $got copies, want 1000"

# --- 5. RFC 733 forms made RFC 822 --------------------------------------------------------------
# A JANET-style node: reversed_names on, "test" listed as a big-endian top
# (as "uk" is by default), so test.pf (big-endian) is pf.test.
node_ini jnt <<EOF
[routes]
pf.test = smtp tcp:127.0.0.1:$PF_PORT

[local]
maildir = $(mdir jnt)/%u/
users = bennett
reversed_names = yes

[smtp]
big_endian = test

[retry]
first = 1s
max = 2s
EOF
start_node jnt || die "jnt did not start"
{
	printf 'erin@test.pf\n\n'
	printf 'From: Bennett at test.jnt\nTo: erin at test.pf\n'
	printf 'Cc: lin@cambridge@pss,\n\tMeet at noon <erin@test.pf>, (no) "x y"@a@b\n'
	printf 'Subject: Meet at noon\nMessage-ID: <pf5@ucl>\n\nat the usual place\n'
} >"$W/l5"
put jnt "$W/l5" || bad "5: niftp put: $(cat "$W/put.err")"
if f=$(pf_wait_maildir erin 1 30 | head -1) && [ -n "$f" ]; then
	sed -n '1,/^$/p' "$f" >"$W/h5"
	grep -q '^Return-Path: <Bennett@jnt.test>' "$W/h5" &&
		ok "5: envelope sender in Internet order: Bennett@jnt.test" ||
		bad "5: Return-Path: $(grep '^Return-Path' "$W/h5")"
	grep -q '^From: Bennett@jnt.test$' "$W/h5" &&
		ok "5: From: Bennett at test.jnt made Bennett@jnt.test" ||
		bad "5: From: $(grep '^From:' "$W/h5")"
	grep -q '^To: erin@pf.test$' "$W/h5" && ok "5: To: erin at test.pf made erin@pf.test" ||
		bad "5: To: $(grep '^To:' "$W/h5")"
	grep -q '^Cc: lin%cambridge@pss,$' "$W/h5" &&
		grep -q '^	Meet at noon <erin@pf.test>, (no) "x y%a"@b$' "$W/h5" &&
		ok "5: Cc: % route, phrase kept, quoted local part, folding kept" ||
		bad "5: Cc: $(sed -n '/^Cc:/,/^Subject/p' "$W/h5")"
	grep -q '^Subject: Meet at noon$' "$W/h5" && grep -q '^at the usual place' "$f" &&
		ok "5: Subject and body untouched" || bad "5: Subject or body changed"
else
	bad "5: no Maildir file for erin@pf.test within 30 s: $(journal jnt | tail -3)"
fi
pf_log | grep -q 'to=<erin@pf.test>' && ok "5: RCPT TO:<erin@pf.test>" ||
	bad "5: Postfix did not log to=<erin@pf.test>"

stop_node jnt
stop_node ucl
stop_node cam
relay_finish
