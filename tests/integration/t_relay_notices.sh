#!/bin/sh
# t_relay_notices.sh - where notices go, local delivery rules, RFC 733
# host lists and the journal's fields (DESIGN sections 3, 4, 5, 9).
#
# Network ucl -> pss -> cambridge on Unix sockets; cambridge's only
# route is to pss, so an originator at ucl has no route from cambridge.
#  1. return path: a letter from bennett@ucl to an unknown user at
#     cambridge fails there ("unknown user", permanent); its NDN goes to
#     the return path built from the calling host and the Via: hosts,
#     bennett%ucl@pss, and reaches bennett at ucl.
#  2. list owner: a letter to the list staff@cambridge (owner owner@pss)
#     and to an unknown user: the list member that fails is reported in
#     an NDN to owner@pss only, the unknown direct recipient in an NDN to
#     the sender only; the good member is delivered.
#  3. Acknowledge-To: kille@pss gets one acknowledgement from cambridge
#     naming the recipient delivered and the one that failed; cambridge
#     journals "ack".
#  4. unsafe local parts ("a/b", ".hidden") fail with "invalid mailbox
#     name" and nothing is written outside the Maildir tree; an upper
#     case local part and an alias are delivered to the lower-cased
#     mailbox.
#  5. RFC 733 a@b@c: ada@cambridge@pss dropped at ucl is routed as
#     ada%cambridge@pss and delivered.
#  6. journal fields: received has from, calling, size, rcpts, msgid;
#     forwarded has to, remote, rcpts; delivered rcpt, mailbox; failed
#     rcpt, reason; ndn notice, to; ack notice, to.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_notices

RETRY='[retry]
first = 1s
max = 2s'
node_ini ucl <<EOF
[routes]
* = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
$RETRY
EOF
node_ini pss <<EOF
[routes]
ucl = niftp $(sock ucl)
cambridge = niftp $(sock cambridge)
[local]
maildir = $(mdir pss)/%u/
users = kille, owner
$RETRY
EOF
node_ini cambridge <<EOF
[routes]
pss = niftp $(sock pss)
[local]
maildir = $(mdir cambridge)/%u/
users = linington, ada
[aliases]
dcpu = linington
[lists]
staff = linington@cambridge, nobody@cambridge
staff.owner = owner@pss
$RETRY
EOF
for n in ucl pss cambridge; do
	start_node $n || die "$n did not start"
done

# ndn_text FILE - the NDN's own text (before the quoted header)
ndn_text() { sed -n '/^[ \t]*$/,$p' "$1" | sed '/^-----/,$d'; }

# --- 1. return path ----------------------------------------------------------------------
mkletter "$T/rp.letter" rp.1@ucl 'Chris Bennett <bennett@ucl>' ghost@cambridge
drop ucl "$T/rp.letter" rp.letter || die "drop"
if wait_header ucl bennett Subject 'rp\.1@ucl|test rp\.1' 1 30 ||
	wait_header ucl bennett Failed-Letter cambridge 1 5; then
	ok "return path: an NDN reached bennett at ucl"
else
	bad "return path: no NDN for bennett at ucl within 30 s"
fi
ln=$(journal cambridge | grep ' received ' | grep -F '<rp.1@ucl>' | awk '{ print $3 }')
fl=$(journal cambridge | grep " failed $ln " | head -1)
echo "$fl" | grep -q 'rcpt=ghost@cambridge' && echo "$fl" | grep -qi 'unknown user' &&
	ok "return path: $(echo "$fl" | cut -d' ' -f2-)" || bad "return path: failed line: '$fl'"
nto=$(jval "$(journal cambridge | grep " ndn $ln " | head -1)" to)
[ "$nto" = 'bennett%ucl@pss' ] && ok "return path: ndn to=$nto" ||
	bad "return path: ndn to='$nto', want bennett%ucl@pss"

# --- 2. list owner -----------------------------------------------------------------------
mkletter "$T/list.letter" list.1@ucl 'bennett@ucl' staff@cambridge ghost2@cambridge
drop ucl "$T/list.letter" list.letter || die "drop"
wait_msgid cambridge linington list.1@ucl 1 30 && ok "list: delivered to linington" ||
	bad "list: nothing for linington"
if wait_header pss owner Failed-Letter cambridge 1 30; then
	f=$(find_header pss owner Failed-Letter cambridge | head -1)
	c=$(count_header pss owner Failed-Letter cambridge)
	[ "$c" -eq 1 ] && ok "list: one NDN reached the owner" || bad "list: $c NDNs for the owner"
	ndn_text "$f" | grep -q 'nobody@cambridge' && ! ndn_text "$f" | grep -q 'ghost2' &&
		ok "list: the owner's NDN names nobody@cambridge only" ||
		bad "list: the owner's NDN: $(ndn_text "$f" | grep -i '@cambridge' | head -3)"
else
	bad "list: no NDN for owner@pss within 30 s"
fi
ln=$(journal cambridge | grep ' received ' | grep -F '<list.1@ucl>' | awk '{ print $3 }')
wait_journal cambridge " ndn $ln .*to=bennett" 1 20 || bad "list: no ndn to the sender"
fb=""
for f in $(find_header ucl bennett Failed-Letter "cambridge $ln"); do fb=$f; done
if [ -n "$fb" ]; then
	ndn_text "$fb" | grep -q 'ghost2@cambridge' && ! ndn_text "$fb" | grep -q 'nobody@' &&
		ok "list: the sender's NDN names ghost2@cambridge only" ||
		bad "list: the sender's NDN: $(ndn_text "$fb" | grep -i '@cambridge' | head -3)"
else
	wait_header ucl bennett Failed-Letter "cambridge $ln" 1 20 || bad "list: no NDN for the sender"
fi
[ "$(jcount cambridge " ndn $ln ")" -eq 2 ] || bad "list: $(jcount cambridge " ndn $ln ") ndn lines, want 2"

# --- 3. Acknowledge-To -------------------------------------------------------------------
mkletter "$T/ack.letter" ack.1@ucl 'bennett@ucl' linington@cambridge ghost3@cambridge
sed 's/^Subject:/Acknowledge-To: kille@pss\nSubject:/' "$T/ack.letter" >"$T/ack2.letter"
drop ucl "$T/ack2.letter" ack.letter || die "drop"
wait_msgid cambridge linington ack.1@ucl 1 30 || bad "ack: nothing for linington"
ln=$(journal cambridge | grep ' received ' | grep -F '<ack.1@ucl>' | awk '{ print $3 }')
if wait_journal cambridge " ack $ln " 1 30; then
	ok "ack: $(journal cambridge | grep " ack $ln " | cut -d' ' -f2-)"
	if wait_header pss kille Failed-Letter "cambridge $ln" 1 30; then
		f=$(find_header pss kille Failed-Letter "cambridge $ln" | head -1)
		[ "$(count_header pss kille Failed-Letter "cambridge $ln")" -eq 1 ] || bad "ack: more than one notice for kille"
		ndn_text "$f" | grep -q 'linington@cambridge' && ndn_text "$f" | grep -q 'ghost3@cambridge' &&
			ok "ack: the acknowledgement names the delivered and the failed recipient" ||
			bad "ack: acknowledgement text: $(ndn_text "$f" | head -8)"
	else
		bad "ack: nothing reached kille@pss"
	fi
else
	bad "ack: no ack line at cambridge"
fi

# --- 4. local parts ----------------------------------------------------------------------
{
	printf '"a/b"@cambridge, ".hidden"@cambridge, LININGTON@cambridge, dcpu@cambridge\n\n'
	printf 'Date: Wed, 25 Nov 2026 12:00:00 +0000\nFrom: kille@pss\nTo: various\n'
	printf 'Message-ID: <local.1@pss>\n\nbody\n'
} >"$T/local.letter"
drop pss "$T/local.letter" local.letter || die "drop"
wait_msgid cambridge linington local.1@pss 1 30 && ok "local: upper case and alias delivered to linington" ||
	bad "local: nothing for linington"
ln=$(journal cambridge | grep ' received ' | grep -F '<local.1@pss>' | awk '{ print $3 }')
wait_journal cambridge " ndn $ln " 1 20 || bad "local: no ndn"
for r in 'a/b' '.hidden'; do
	journal cambridge | grep " failed $ln " | grep -F "$r" | grep -q 'invalid mailbox name' &&
		ok "local: '$r' refused: invalid mailbox name" || bad "local: no 'invalid mailbox name' failure for '$r'"
done
[ "$(count_msgid cambridge linington local.1@pss)" -eq 1 ] || bad "local: $(count_msgid cambridge linington local.1@pss) files for linington (alias + upper case = one mailbox), want 1"
stray=$(find "$T/cambridge" -path "$T/cambridge/spool" -prune -o -type f -print | grep -v "^$T/cambridge/mail/[a-z]*/\(new\|cur\|tmp\)/" | head -3)
[ -z "$stray" ] && ok "local: nothing written outside the Maildirs" || bad "local: stray files: $stray"

# --- 5. a@b@c -------------------------------------------------------------------------------
"$MAILCTL" -c "$T/ucl.ini" route 'ada@cambridge@pss' >"$T/route.out" 2>&1
grep -q 'forward to [^:]*: ada%cambridge@pss' "$T/route.out" && ok "a@b@c: ucl routes ada@cambridge@pss as ada%cambridge@pss" ||
	bad "a@b@c: mailctl route: $(cat "$T/route.out")"
mkletter "$T/abc.letter" abc.1@ucl 'bennett@ucl' 'ada@cambridge@pss'
drop ucl "$T/abc.letter" abc.letter || die "drop"
wait_msgid cambridge ada abc.1@ucl 1 30 && ok "a@b@c: delivered to ada at cambridge" || bad "a@b@c: nothing for ada"
l=$(journal ucl | grep ' forwarded ' | tail -1)
[ "$(jval "$l" rcpts)" = 'ada%cambridge@pss' ] && ok "a@b@c: ucl forwarded rcpts=ada%cambridge@pss" ||
	bad "a@b@c: ucl forwarded: $l"

# --- 6. journal fields ---------------------------------------------------------------------
# has EVENT NODE KEYS... - every EVENT line at NODE has each key
has() {
	_ev=$1
	_nd=$2
	shift 2
	_lines=$(journal "$_nd" | grep " $_ev ")
	if [ -z "$_lines" ]; then
		bad "journal: no $_ev line at $_nd"
		return
	fi
	_miss=""
	for _k in "$@"; do
		echo "$_lines" | grep -v " $_k=" | head -1 | grep -q . && _miss="$_miss $_k"
	done
	[ -z "$_miss" ] && ok "journal: every $_ev line at $_nd has $*" ||
		bad "journal: $_ev lines at $_nd without$_miss: $(echo "$_lines" | head -1)"
}
has received cambridge from calling size rcpts msgid
has received ucl from calling size rcpts msgid
has forwarded ucl to remote rcpts
has forwarded pss to remote rcpts
has delivered cambridge rcpt mailbox
has failed cambridge rcpt reason
has ndn cambridge notice to
has ack cambridge notice to

for n in ucl pss cambridge; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
done
relay_finish
