#!/bin/sh
# t_relay_indra.sh - the example of INDRA Note 1025 section 5.1 through
# three nodes, ucl -> pss -> cambridge, on Unix sockets.
#
#  1. mailctl route shows each node's decision for the INDRA address:
#     at ucl Linington%Cambridge%PSS@UCL is rewritten (rightmost '%')
#     to Linington%Cambridge@PSS and forwarded to pss; at pss it
#     becomes Linington@Cambridge for cambridge; at cambridge it is
#     delivered to the mailbox "linington". A host with no route says so.
#  2. The bytes on the wire, hop by hop: ucl's next hop is first a plain
#     "niftp serve" that records what it gets: the address list is
#     exactly "Linington%Cambridge@PSS", a "Via: ucl ; DATE" line is at
#     the top of the header and the rest of the letter is byte-identical.
#     That copy is then handed to pss (niftp put, called FTP.MAIL), whose
#     next hop is recorded too: "Linington@Cambridge", Via: pss above
#     Via: ucl, the rest unchanged.
#  3. The real chain: dropped at ucl, the letter reaches linington's
#     Maildir at cambridge exactly once, with two Via: lines, "pss"
#     above "ucl" (newest first); the journals show the rewritten
#     address list at each hop and the letter's name at each hop (ucl's
#     forwarded remote= is pss's received name, and so on).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_indra

LETTER="$top/samples/letters/indra.letter"
MSGID=indra-1025.1@ucl
[ -f "$LETTER" ] || die "no $LETTER"

# configs PSS_NEXT CAM_NEXT - write the three nodes' configurations;
# ucl's route to pss and pss's route to cambridge go where given
configs() {
	node_ini ucl <<EOF
[routes]
pss = niftp $1
* = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 2s
EOF
	node_ini pss <<EOF
[routes]
cambridge = niftp $2
ucl = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
[retry]
first = 1s
max = 2s
EOF
	node_ini cambridge <<EOF
[routes]
* = niftp $(sock pss)
[local]
names = cambridge, cam
maildir = $(mdir cambridge)/%u/
users = linington
[retry]
first = 1s
max = 2s
EOF
}

# --- 1. mailctl route ------------------------------------------------------------
configs "$(sock pss)" "$(sock cambridge)"
for n in ucl pss cambridge; do
	if timeout 10 "$MAILCTL" -c "$T/$n.ini" check-config >"$T/check.$n" 2>&1; then
		ok "check-config $n.ini: $(tail -1 "$T/check.$n")"
	else
		bad "check-config $n.ini failed: $(cat "$T/check.$n")"
	fi
done

# route_shows NODE ADDRESS WHAT ERE... - mailctl route output matches every ERE
route_shows() {
	rn=$1
	ra=$2
	rw=$3
	shift 3
	timeout 10 "$MAILCTL" -c "$T/$rn.ini" route "$ra" >"$T/route.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || { bad "mailctl route '$ra' at $rn: exit $rc: $(head -3 "$T/route.out")"; return; }
	for re in "$@"; do
		if ! grep -qiE -- "$re" "$T/route.out"; then
			bad "mailctl route '$ra' at $rn: want /$re/ ($rw), got:"
			sed 's/^/       /' "$T/route.out"
			return
		fi
	done
	ok "mailctl route '$ra' at $rn: $rw"
}
route_shows ucl 'Linington%Cambridge%PSS@UCL' "rewritten to Linington%Cambridge@PSS, forwarded to pss" \
	'Linington%Cambridge@PSS' 'forward.*pss' "$(sock pss | sed 's/[.]/[.]/g')"
grep -qF 'Linington%Cambridge@PSS' "$T/route.out" ||
	bad "mailctl route at ucl: the case of the local part was not kept: $(cat "$T/route.out")"
route_shows pss 'Linington%Cambridge@PSS' "rewritten to Linington@Cambridge, forwarded to cambridge" \
	'Linington@Cambridge' 'forward.*cambridge'
route_shows cambridge 'Linington@Cambridge' "delivered locally to mailbox linington" \
	'local|deliver|mailbox' 'linington'
timeout 10 "$MAILCTL" -c "$T/pss.ini" route 'someone@nowhere' >"$T/route.out" 2>&1
if grep -qi 'no route' "$T/route.out"; then
	ok "mailctl route 'someone@nowhere' at pss (no default route): $(grep -i 'no route' "$T/route.out" | head -1 | sed 's/^ *//')"
else
	bad "mailctl route 'someone@nowhere' at pss: want 'no route', got: $(cat "$T/route.out")"
fi

# --- 2. the bytes on the wire, hop by hop ----------------------------------------------
start_capture cap1 || die "capture server cap1"
start_capture cap2 || die "capture server cap2"
configs "unix:$T/cap1.sock" "unix:$T/cap2.sock"
start_node ucl || die "ucl did not start"
start_node pss || die "pss did not start"

drop ucl "$LETTER" indra.letter || die "drop at ucl"
wait_journal ucl ' forwarded .* to=pss' || die "ucl: no 'forwarded ... to=pss' within 20 s"
wait_captured cap1 || die "cap1 stored nothing"
c1="$T/cap1/$(captured cap1 | head -1)"
[ "$(captured cap1 | wc -l)" -eq 1 ] || bad "cap1 holds $(captured cap1 | wc -l) files, want 1"

# check_copy FILE LABEL ADDRLIST VIA... - the copy's address list is exactly
# ADDRLIST, then a blank line, then one "Via: X ;" line for each VIA in
# order, then the original letter from its header on, byte for byte
check_copy() {
	cf=$1
	cl=$2
	want=$3
	shift 3
	got=$(sed -n 1p "$cf")
	if [ "$got" = "$want" ] && [ -z "$(sed -n 2p "$cf" | tr -d ' \t\r')" ]; then
		ok "$cl: address list is '$want' alone"
	else
		bad "$cl: address list: want '$want' then a blank line, got: $(sed -n 1,3p "$cf" | tr '\n' '|')"
	fi
	ln=3
	for v in "$@"; do
		l=$(sed -n "${ln}p" "$cf")
		case "$l" in
		"Via: $v ; "*[0-9][0-9][0-9][0-9]" "*) ok "$cl: line $ln: $l" ;;
		*) bad "$cl: line $ln: want 'Via: $v ; DATE', got '$l'" ;;
		esac
		ln=$((ln + 1))
	done
	# the original from the header on: indra.letter has one address line
	# and one blank line before its header
	tail -n +3 "$LETTER" >"$T/orig.rest"
	tail -n +"$ln" "$cf" >"$T/copy.rest"
	if cmp -s "$T/orig.rest" "$T/copy.rest"; then
		ok "$cl: header and body byte-identical to the original"
	else
		bad "$cl: header and body differ from the original: $(cmp "$T/orig.rest" "$T/copy.rest" 2>&1)"
	fi
}
check_copy "$c1" "ucl -> pss copy" 'Linington%Cambridge@PSS' ucl

timeout 30 "$top/bin/niftp" put -q --called FTP.MAIL --calling ucl "$c1" "$(sock pss)" \
	>"$T/put.out" 2>"$T/put.err" || bad "niftp put of the ucl copy to pss: $(cat "$T/put.err")"
case "$(cat "$T/put.out")" in
pss.*) ok "pss assigned the name $(cat "$T/put.out")" ;;
*) bad "pss's name for the letter should start with 'pss.': got '$(cat "$T/put.out")'" ;;
esac
wait_journal pss ' forwarded .* to=cambridge' || die "pss: no 'forwarded ... to=cambridge' within 20 s"
wait_captured cap2 || die "cap2 stored nothing"
c2="$T/cap2/$(captured cap2 | head -1)"
check_copy "$c2" "pss -> cambridge copy" 'Linington@Cambridge' pss ucl
stop_node ucl || bad "ucl did not stop on SIGTERM"
[ "$node_rc" -eq 0 ] || bad "ucl exit status $node_rc after SIGTERM, want 0"
stop_node pss || bad "pss did not stop on SIGTERM"
[ "$node_rc" -eq 0 ] || bad "pss exit status $node_rc after SIGTERM, want 0"
[ ! -e "$T/ucl/spool/ready" ] || bad "ucl left SPOOL/ready behind after it stopped"

# --- 3. the real chain -------------------------------------------------------------------------
for n in ucl pss cambridge; do
	rm -rf "${T:?}/$n"
done
configs "$(sock pss)" "$(sock cambridge)"
start_node cambridge || die "cambridge did not start"
start_node pss || die "pss did not start"
start_node ucl || die "ucl did not start"
drop ucl "$LETTER" indra.letter || die "drop at ucl"
if wait_msgid cambridge linington "$MSGID" 1 30; then
	ok "the INDRA letter reached linington's Maildir at cambridge"
else
	die "the INDRA letter did not reach linington's Maildir at cambridge within 30 s"
fi
wait_journal cambridge ' delivered ' || bad "cambridge: no delivered line"
f=$(find_msgid cambridge linington "$MSGID" | head -1)
n=$(count_msgid_all cambridge "$MSGID")
[ "$n" -eq 1 ] && ok "exactly one copy at cambridge" || bad "$n copies at cambridge, want 1"
vias=$(header "$f" | grep -i '^via:' | sed 's/^[Vv][Ii][Aa]: *\([^ ;]*\).*/\1/' | tr '\n' ' ')
if [ "$vias" = "pss ucl " ]; then
	ok "Via: lines newest first: $(header "$f" | grep -i '^via:' | tr '\n' '|')"
else
	bad "Via: hosts top to bottom: want 'pss ucl', got '$vias'"
	header "$f" | sed 's/^/       /'
fi
first=$(header "$f" | head -1)
case "$first" in
[Vv]ia:*) ok "the newest Via: is the first line of the header" ;;
*) note "first header line is '$first' (a delivery header above the Via: lines)" ;;
esac
sed -n '/^Peter,/,$p' "$LETTER" >"$T/body.orig"
sed -n '/^Peter,/,$p' "$f" >"$T/body.got"
cmp -s "$T/body.orig" "$T/body.got" && ok "the body arrived byte for byte" || bad "the body differs"

# the journals: rewritten address lists and the name at each hop
lu=$(journal ucl | grep ' received ' | grep -F 'from=out/indra.letter' | tail -1)
[ -n "$lu" ] || bad "ucl: no 'received ... from=out/indra.letter' line"
nu=$(printf '%s\n' "$lu" | awk '{ print $3 }')
echo "$lu" | grep -qiF "msgid=<$MSGID>" || echo "$lu" | grep -qiF "msgid=\"<$MSGID>\"" ||
	bad "ucl received line has no msgid=<$MSGID>: $lu"
fu=$(journal ucl | grep " forwarded $nu " | tail -1)
[ -n "$fu" ] || bad "ucl: no 'forwarded $nu' line"
[ "$(jval "$fu" to)" = pss ] || bad "ucl forwarded to '$(jval "$fu" to)', want pss: $fu"
[ "$(jval "$fu" rcpts | tr '[:upper:]' '[:lower:]')" = 'linington%cambridge@pss' ] ||
	bad "ucl forwarded rcpts='$(jval "$fu" rcpts)', want Linington%Cambridge@PSS"
np=$(jval "$fu" remote)
lp=$(journal pss | grep " received $np " | tail -1)
if [ -n "$np" ] && [ -n "$lp" ]; then
	ok "ucl's forwarded remote=$np is pss's received name"
else
	bad "pss has no received line for ucl's remote='$np'"
fi
[ "$(jval "$lp" donor)" = "ucl/$nu" ] || bad "pss received donor='$(jval "$lp" donor)', want ucl/$nu"
[ "$(jval "$lp" rcpts | tr '[:upper:]' '[:lower:]')" = 'linington%cambridge@pss' ] ||
	bad "pss received rcpts='$(jval "$lp" rcpts)', want Linington%Cambridge@PSS"
fp=$(journal pss | grep " forwarded $np " | tail -1)
[ "$(jval "$fp" to)" = cambridge ] || bad "pss forwarded to '$(jval "$fp" to)', want cambridge: $fp"
[ "$(jval "$fp" rcpts | tr '[:upper:]' '[:lower:]')" = 'linington@cambridge' ] ||
	bad "pss forwarded rcpts='$(jval "$fp" rcpts)', want Linington@Cambridge"
nc=$(jval "$fp" remote)
lc=$(journal cambridge | grep " received $nc " | tail -1)
[ -n "$nc" ] && [ -n "$lc" ] || bad "cambridge has no received line for pss's remote='$nc'"
[ "$(jval "$lc" donor)" = "pss/$np" ] || bad "cambridge received donor='$(jval "$lc" donor)', want pss/$np"
dc=$(journal cambridge | grep " delivered $nc " | tail -1)
[ "$(jval "$dc" rcpt | tr '[:upper:]' '[:lower:]')" = 'linington@cambridge' ] ||
	bad "cambridge delivered rcpt='$(jval "$dc" rcpt)', want Linington@Cambridge: $dc"
case "$nu $np $nc" in
ucl.*" "pss.*" "cambridge.*) ok "names at each hop: $nu -> $np -> $nc" ;;
*) bad "names should start with their node: '$nu' '$np' '$nc'" ;;
esac
for n in ucl pss cambridge; do
	c=$(jcount "$n" ' received ')
	[ "$c" -eq 1 ] || bad "$n journal has $c received lines, want 1"
done

for n in ucl pss cambridge; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
	[ "$node_rc" -eq 0 ] || bad "$n exit status $node_rc after SIGTERM, want 0"
done
relay_finish
