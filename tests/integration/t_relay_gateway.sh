#!/bin/sh
# t_relay_gateway.sh - a letter through the virtual call gateway (vcgw)
# with real processes: ucl listens only on TCP, pss only on a Unix socket
# (issue 5, DESIGN sections 7 and 8, doc/vcgw.md).
#
# The same letter (a header, and a body of ~300 KiB so that the transfer
# takes many data records through the gateway) is dropped at ucl for
# kille@pss twice:
#  a. direct: ucl's route to pss is pss's Unix socket;
#  b. through the gateway: ucl's route to pss is
#     "niftp tcp:GW PSS.FTP.MAIL"; the gateway (listening on TCP, port 0)
#     maps the prefix PSS to pss's Unix socket, passing FTP.MAIL on.
# Then:
#  1. both copies reach kille's Maildir at pss exactly once, and the two
#     files are identical apart from the dates of their Via: lines;
#  2. the only Via: line is ucl's: none names the gateway (a gateway joins
#     transports, it is no mail hop; routes name the called address);
#  3. pss's journal shows the caller as ucl in (a) and as ucl.gw in (b)
#     (the calling address extended with the gateway's name), with the
#     same copy identity form donor=ucl/NAME; the gateway logged the mail
#     call (called PSS.FTP.MAIL passed on as FTP.MAIL, calling ucl.gw);
#  4. "mailctl trace --follow" at ucl reaches pss through the gateway
#     (called PSS.FTP, passed on as FTP: pss's trace service) and shows the
#     delivery there; ucl's daemon made that call for mailctl with the
#     link's credentials (ucl and pss are each other's [peer], with one
#     password: pss received the letter as peer ucl both ways).
#
# Every wait is a bounded poll of a file; the trap stops everything started.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_gateway
VCGW="$top/bin/vcgw"
[ -x "$VCGW" ] || die "$VCGW not built"

MSGID=gateway.1@ucl
mkletter "$T/letter.in" "$MSGID" 'Chris Bennett <bennett@ucl>' 'Kille@PSS'
# a body of ~300 KiB: many data records, several gateway reads
awk 'BEGIN { for (i = 1; i <= 4000; i++)
	printf "line %05d of the body, the same through the gateway as over the direct route.\n", i }' \
	>>"$T/letter.in"

# the link's password, in a file only its owner may read
(umask 077 && printf 'gw-link-%s\n' "$$" >"$T/ucl-pss.pw") || die "password file"

# configs UCL_ROUTE_TO_PSS - the two nodes; ucl listens only on TCP (port 0),
# pss only on its Unix socket
configs() {
	node_ini_raw ucl <<EOF
[node]
name = ucl
spool = $(spooldir ucl)

[listen]
mail = tcp:127.0.0.1:0

[routes]
pss = niftp $1

[peer pss]
username = ucl-pss
password_file = $T/ucl-pss.pw

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[retry]
first = 1s
max = 2s
EOF
	node_ini_raw pss <<EOF
[node]
name = pss
spool = $(spooldir pss)

[listen]
; the gateway calls here: its callers are strangers unless they authenticate
mail = $(sock pss) local=no

[peer ucl]
username = ucl-pss
password_file = $T/ucl-pss.pw

[local]
maildir = $(mdir pss)/%u/
users = kille

[retry]
first = 1s
max = 2s
EOF
	for _n in ucl pss; do
		timeout 10 "$MAILCTL" -c "$T/$_n.ini" check-config >"$T/check.$_n" 2>&1 ||
			bad "check-config $_n.ini: $(cat "$T/check.$_n")"
	done
}

# run_case TAG ROUTE - fresh nodes, drop the letter at ucl, wait for it at
# pss; the delivered file is copied to $T/got.TAG, pss's received line to
# $T/recv.TAG
run_case() {
	rm -rf "$(ndir ucl)" "$(ndir pss)"
	configs "$2"
	start_node pss || die "$1: pss did not start"
	start_node ucl || die "$1: ucl did not start"
	grep -q '^tcp:127\.0\.0\.1:[1-9][0-9]*$' "$(spooldir ucl)/ready" ||
		bad "$1: ucl's ready file names no TCP port: $(cat "$(spooldir ucl)/ready")"
	grep -q '^unix:' "$(spooldir pss)/ready" && ! grep -q '^tcp:' "$(spooldir pss)/ready" ||
		bad "$1: pss should listen on a Unix socket only: $(cat "$(spooldir pss)/ready")"
	drop ucl "$T/letter.in" gateway.letter || die "$1: drop at ucl"
	if wait_msgid pss kille "$MSGID" 1 30; then
		ok "$1: the letter reached kille's Maildir at pss"
	else
		die "$1: the letter did not reach kille's Maildir at pss within 30 s"
	fi
	wait_journal pss ' delivered ' 1 10 || bad "$1: pss journalled no delivered line"
	_c=$(count_msgid_all pss "$MSGID")
	[ "$_c" -eq 1 ] && ok "$1: exactly one copy at pss" || bad "$1: $_c copies at pss, want 1"
	cp "$(find_msgid pss kille "$MSGID" | head -1)" "$T/got.$1"
	journal pss | grep ' received ' | tail -1 >"$T/recv.$1"
	journal ucl | grep ' forwarded ' | tail -1 >"$T/fwd.$1"
	journal ucl | grep ' received ' | grep -F 'from=out/gateway.letter' | tail -1 >"$T/urecv.$1"
}

# --- a. direct, over pss's Unix socket ----------------------------------------------------------
run_case direct "$(sock pss)"
stop_node ucl || bad "direct: ucl did not stop on SIGTERM"
stop_node pss || bad "direct: pss did not stop on SIGTERM"

# --- b. over TCP through the gateway ------------------------------------------------------------
cat >"$T/gw.ini" <<EOF
[gateway]
name = gw
shutdown_grace = 5s
[listen]
janet = tcp:127.0.0.1:0
[map]
PSS = unix:$T/pss.sock
EOF
timeout 10 "$VCGW" --check -c "$T/gw.ini" >"$T/check.gw" 2>&1 || bad "vcgw --check: $(cat "$T/check.gw")"
"$VCGW" -f -v -c "$T/gw.ini" --ready-file "$T/gw.ready" </dev/null >"$T/gw.out" 2>"$T/gw.err" &
pid_gw=$!
pids="$pids $pid_gw"
i=0
while [ ! -s "$T/gw.ready" ]; do
	kill -0 "$pid_gw" 2>/dev/null || die "the gateway exited: $(tail -3 "$T/gw.err")"
	i=$((i + 1))
	[ $i -le 200 ] || die "the gateway not ready within 10 s: $(tail -3 "$T/gw.err")"
	sleep 0.05
done
gwaddr=$(sed -n 1p "$T/gw.ready")
case "$gwaddr" in
tcp:127.0.0.1:[1-9]*) ok "gateway listening on $gwaddr" ;;
*) die "gateway ready file: '$gwaddr'" ;;
esac
run_case gateway "$gwaddr PSS.FTP.MAIL"

# --- 1. the same letter, apart from the Via: dates -----------------------------------------------
# novia FILE - the file with the date of each header Via: line replaced
novia() {
	awk '!body && /^[ \t\r]*$/ && seen { body = 1 }
		!body && /^[!-9;-~]+[ \t]*:/ { seen = 1 }
		!body && tolower($0) ~ /^via:/ { sub(/;.*/, "; DATE") }
		{ print }' "$1"
}
novia "$T/got.direct" >"$T/norm.direct"
novia "$T/got.gateway" >"$T/norm.gateway"
if cmp -s "$T/norm.direct" "$T/norm.gateway"; then
	ok "the delivered files are identical apart from the Via: dates ($(wc -c <"$T/got.gateway") octets)"
else
	bad "the delivered files differ beyond the Via: dates:"
	diff "$T/norm.direct" "$T/norm.gateway" | head -20 | sed 's/^/       /'
fi
cmp -s "$T/got.direct" "$T/got.gateway" ||
	note "raw difference (dates): $(diff "$T/got.direct" "$T/got.gateway" | grep '^[<>]' | tr '\n' '|')"
# the body arrived byte for byte
sed -n '/^line 00001 /,$p' "$T/letter.in" >"$T/body.orig"
sed -n '/^line 00001 /,$p' "$T/got.gateway" >"$T/body.got"
cmp -s "$T/body.orig" "$T/body.got" && ok "the body arrived byte for byte through the gateway" ||
	bad "the body differs from the original through the gateway"

# --- 2. Via: lines: ucl's alone, none for the gateway -------------------------------------------
for c in direct gateway; do
	vias=$(header "$T/got.$c" | grep -i '^via:' | sed 's/^[Vv][Ii][Aa]: *\([^ ;]*\).*/\1/' | tr '\n' ' ')
	if [ "$vias" = "ucl " ]; then
		ok "$c: one Via: line, ucl's: $(header "$T/got.$c" | grep -i '^via:')"
	else
		bad "$c: Via: hosts want 'ucl', got '$vias'"
	fi
done
if grep -qiE '^via:.*gw' "$T/got.gateway" || header "$T/got.gateway" | grep -qi 'ucl\.gw'; then
	bad "the gateway appears in the delivered header: $(header "$T/got.gateway" | grep -i 'gw')"
else
	ok "no Via: line (and no header) names the gateway"
fi

# --- 3. journals: the calling address extended by the gateway --------------------------------------
rd=$(cat "$T/recv.direct")
rg=$(cat "$T/recv.gateway")
[ "$(jval "$rd" calling)" = ucl ] && ok "direct: pss received from calling ucl" ||
	bad "direct: pss received calling='$(jval "$rd" calling)', want ucl: $rd"
[ "$(jval "$rg" calling)" = ucl.gw ] && ok "gateway: pss received from calling ucl.gw (extended by the gateway)" ||
	bad "gateway: pss received calling='$(jval "$rg" calling)', want ucl.gw: $rg"
[ "$(jval "$rg" from)" = ucl.gw ] || bad "gateway: pss received from='$(jval "$rg" from)', want ucl.gw: $rg"
for c in direct gateway; do
	r=$(cat "$T/recv.$c")
	un=$(awk '{ print $3 }' "$T/urecv.$c")
	[ -n "$un" ] && [ "$(jval "$r" donor)" = "ucl/$un" ] ||
		bad "$c: pss received donor='$(jval "$r" donor)', want ucl/$un"
	[ "$(jval "$r" rcpts)" = 'Kille@PSS' ] || bad "$c: pss received rcpts='$(jval "$r" rcpts)', want Kille@PSS"
	[ "$(jval "$r" peer)" = ucl ] && [ "$(jval "$r" auth)" = password ] ||
		bad "$c: pss received peer='$(jval "$r" peer)' auth='$(jval "$r" auth)', want ucl, password"
	f=$(cat "$T/fwd.$c")
	[ "$(jval "$f" to)" = pss ] || bad "$c: ucl forwarded to='$(jval "$f" to)', want pss: $f"
done
fa=$(jval "$(cat "$T/fwd.gateway")" addr)
[ -z "$fa" ] || [ "$fa" = "$gwaddr" ] || bad "gateway: ucl's forwarded addr='$fa', want $gwaddr"
[ "$(jval "$rd" size)" = "$(jval "$rg" size)" ] && [ "$(jval "$rd" crc32)" = "$(jval "$rg" crc32)" ] &&
	ok "pss received the same size and CRC-32 both ways ($(jval "$rg" size) octets)" ||
	note "received size/crc32 direct $(jval "$rd" size)/$(jval "$rd" crc32), gateway $(jval "$rg" size)/$(jval "$rg" crc32) (Via: dates)"

# the gateway's log line for the mail call (written when the call has ended:
# ucl closes an idle call after a moment)
i=0
while ! grep ' result=ok ' "$T/gw.err" | grep -q ' called=PSS.FTP.MAIL '; do
	i=$((i + 1))
	[ $i -le 200 ] || break
	sleep 0.1
done
gl=$(grep ' result=ok ' "$T/gw.err" | grep ' called=PSS.FTP.MAIL ' | head -1)
case "$gl" in
*" calling=ucl "*" to=unix:$T/pss.sock called_out=FTP.MAIL calling_out=ucl.gw "*)
	ok "gateway logged the mail call: ${gl#*vcgw: }" ;;
*) bad "gateway: no 'result=ok' line for called PSS.FTP.MAIL -> FTP.MAIL, ucl.gw: $(tail -3 "$T/gw.err")" ;;
esac

# --- 4. trace --follow through the gateway --------------------------------------------------------
timeout 60 "$MAILCTL" -c "$T/ucl.ini" trace --follow --timeout 10 out:gateway.letter >"$T/tr.out" 2>"$T/tr.err"
trc=$?
pn=$(awk '{ print $3 }' "$T/recv.gateway")
if [ $trc -eq 0 ] && grep -q -- "-> pss $pn .*via $gwaddr PSS.FTP" "$T/tr.out" &&
	grep -q 'delivered Kille@PSS' "$T/tr.out" && grep -q ' 1 delivered, 0 failed, 0 queued, 0 unreachable' "$T/tr.out"; then
	ok "trace --follow at ucl reached pss through the gateway (called PSS.FTP) and shows the delivery"
else
	bad "trace --follow through the gateway (exit $trc):"
	sed 's/^/       /' "$T/tr.out" "$T/tr.err"
fi
# the trace call's line (written when the tracer has hung up)
want=" called=PSS.FTP to=unix:$T/pss.sock called_out=FTP calling_out=ucl.gw "
i=0
while ! grep ' result=ok ' "$T/gw.err" | grep -qF -- "$want"; do
	i=$((i + 1))
	[ $i -le 100 ] || break
	sleep 0.1
done
grep ' result=ok ' "$T/gw.err" | grep -qF -- "$want" &&
	ok "gateway logged the trace call: PSS.FTP passed on as FTP" ||
	bad "gateway: no trace call line (PSS.FTP -> FTP, calling ucl.gw): $(tail -3 "$T/gw.err")"
grep -qE "trace-fetch 'trace:$pn' from $gwaddr as peer pss: [0-9]+ octets" "$T/ucl.err" &&
	ok "ucl's daemon made the trace call for mailctl, with the link's credentials" ||
	bad "ucl's daemon logged no credentialed trace-fetch of $pn: $(grep trace-fetch "$T/ucl.err" | tail -3)"

# --- 5. a stranger through the gateway -----------------------------------------------------------
# The gateway runs as the same user as pss and calls its Unix socket: were
# its callers local submission, anyone reaching the gateway could relay
# through pss. The listener says local=no: a caller without the link's
# password is unauthenticated there (doc/peers.md).
mkletter "$T/stranger.remote" "stranger-remote@t" someone@elsewhere victim@faraway
timeout 30 "$NIFTP" put -q --retries 0 --called PSS.FTP.MAIL --calling mallory \
	"$T/stranger.remote" "$gwaddr" >"$T/sr.out" 2>"$T/sr.err"
src=$?
[ $src -eq 77 ] && grep -q 'relaying denied' "$T/sr.err" &&
	ok "a stranger through the gateway cannot relay through pss (exit 77, relaying denied)" ||
	bad "a stranger through the gateway: niftp put exit $src, want 77: $(cat "$T/sr.err")"
mkletter "$T/stranger.local" "stranger-local@t" someone@elsewhere kille@pss
timeout 30 "$NIFTP" put -q --retries 0 --called PSS.FTP.MAIL --calling mallory \
	"$T/stranger.local" "$gwaddr" >"$T/sl.out" 2>"$T/sl.err" ||
	bad "a stranger's letter for kille@pss through the gateway refused: $(cat "$T/sl.err")"
if wait_journal pss ' received .*calling=mallory.gw .*auth=none' 1 10; then
	ok "a stranger's letter for a local user taken, journaled auth=none"
else
	bad "no received line auth=none for the stranger: $(journal pss | grep ' received ' | tail -1)"
fi

for n in ucl pss; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
	[ "$node_rc" -eq 0 ] || bad "$n exit status $node_rc after SIGTERM, want 0"
done
kill -TERM "$pid_gw" 2>/dev/null
i=0
while kill -0 "$pid_gw" 2>/dev/null && [ $i -lt 200 ]; do
	i=$((i + 1))
	sleep 0.05
done
if kill -0 "$pid_gw" 2>/dev/null; then
	bad "the gateway did not stop within 10 s of SIGTERM"
else
	wait "$pid_gw"
	rc=$?
	forget "$pid_gw"
	[ $rc -eq 0 ] && ok "the gateway stopped with status 0" || bad "the gateway exit status $rc, want 0"
fi
[ "$fails" -eq 0 ] || { echo "--- gateway log"; tail -20 "$T/gw.err"; }
relay_finish
