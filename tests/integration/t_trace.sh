#!/bin/sh
# t_trace.sh - mailctl trace across real nodes (doc/trace.md): ucl -> pss ->
# cambridge, the INDRA example. ucl calls pss over TCP as the authenticated
# peer "ucl" ([peer] sections with a password file at both ends); the other
# links are Unix sockets (callers running as root: local callers). Remote
# documents are fetched by the tracing node's daemon (request trace-fetch),
# which sends the link's credentials to pss.
#
#  1. A chain, forward: trace --follow from ucl's name (also by Message-ID
#     and by the out/ file name) shows ucl, pss and cambridge, each hop's
#     name, and the delivery to linington's Maildir; --json is one JSON
#     document with the same tree.
#  2. The same chain backward from cambridge's name, origin first.
#  3. A fan-out tree: one letter delivered at ucl and pss and forwarded on
#     to cambridge (two branches end in delivery).
#  4. The trace of an NDN: the failed recipient, the notice, and the
#     notice's own way back to bennett@ucl; backward from the notice.
#  5. The trace service refuses writes and other names on called FTP; over
#     TCP it refuses an unauthenticated caller (niftp get exits 77, "not
#     permitted") and answers the same get with the peer's username and
#     password; ucl's daemon logged that it fetched pss's document as peer
#     pss.
#  6. A hop down: cambridge stopped, the letter waits at pss (queued,
#     with the deferral); pss stopped too, it is shown as unreachable;
#     a previous hop that never answers, or has no route, is shown as
#     such within the timeout (the trace never hangs). mailctl view shows
#     the letter waiting at pss. With the daemon stopped, the local
#     record is shown, the other nodes "not asked", exit 75.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_trace

LETTER="$top/samples/letters/indra.letter"
MSGID=indra-1025.1@ucl
[ -f "$LETTER" ] || die "no $LETTER"

# the link ucl <-> pss: one password, in a file only its owner may read
mkdir -p "$T/secrets"
(umask 077 && printf 'tr4ce-link-%s\n' "$$" >"$T/secrets/ucl-pss") || die "password file"
PW=$(cat "$T/secrets/ucl-pss")

node_ini_raw pss <<EOF
[node]
name = pss
spool = $(spooldir pss)
[listen]
mail = $(sock pss), tcp:127.0.0.1:0
[routes]
cambridge = niftp $(sock cambridge)
ucl = niftp $(sock ucl)
[peer ucl]
username = ucl-pss
password_file = $T/secrets/ucl-pss
from = 127.0.0.1
[local]
maildir = $(mdir pss)/%u/
users = root
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

start_node cambridge || die "cambridge did not start"
start_node pss || die "pss did not start"
PSSTCP=$(grep '^tcp:127\.0\.0\.1:[1-9]' "$(spooldir pss)/ready" | head -1)
[ -n "$PSSTCP" ] || die "pss's ready file names no TCP port: $(cat "$(spooldir pss)/ready")"
node_ini ucl <<EOF
[routes]
pss = niftp $PSSTCP
* = niftp $PSSTCP
[peer pss]
username = ucl-pss
password_file = $T/secrets/ucl-pss
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 2s
EOF
start_node ucl || die "ucl did not start"

# tracecmd NODE ARGS... - mailctl trace at NODE into $T/tr.out; status in trc
tracecmd() {
	_tn=$1
	shift
	timeout 60 "$MAILCTL" -c "$T/$_tn.ini" trace "$@" >"$T/tr.out" 2>"$T/tr.err"
	trc=$?
}

# want LABEL ERE... - every ERE is in $T/tr.out
want() {
	_wl=$1
	shift
	for _we in "$@"; do
		if ! grep -qE -- "$_we" "$T/tr.out"; then
			bad "$_wl: want /$_we/ in:"
			sed 's/^/       /' "$T/tr.out" "$T/tr.err"
			return 1
		fi
	done
	ok "$_wl"
}

# name_of NODE ERE - the NAME of the first journal line matching ERE
name_of() { journal "$1" | grep -E -- "$2" | head -1 | awk '{ print $3 }'; }

# --- 1. a chain, forward ----------------------------------------------------------------
drop ucl "$LETTER" indra.letter || die "drop at ucl"
wait_msgid cambridge linington "$MSGID" 1 30 || die "the INDRA letter was not delivered at cambridge"
n1=$(name_of ucl ' received .*from=out/indra.letter')
n2=$(name_of pss " received .*donor=ucl/$n1")
n3=$(name_of cambridge " received .*donor=pss/$n2")
[ -n "$n1" ] && [ -n "$n2" ] && [ -n "$n3" ] || die "names at each hop: '$n1' '$n2' '$n3'"
note "names: $n1 -> $n2 -> $n3"
journal pss | grep -E " received $n2 .*peer=ucl auth=password" >/dev/null &&
	ok "pss received the letter from ucl over TCP as the authenticated peer ucl" ||
	bad "pss's received line is not peer=ucl auth=password: $(journal pss | grep " received $n2 ")"

tracecmd ucl "$n1"
[ $trc -eq 0 ] || bad "trace (local) exit $trc"
want "local trace at ucl: received, forwarded as pss's name" "^ucl $n1" \
	"received from out/indra.letter" "forwarded to pss .* as $n2"
grep -q -- "-> pss" "$T/tr.out" && bad "local trace went on to pss without --follow"

tracecmd ucl --follow "$n1"
[ $trc -eq 0 ] || bad "trace --follow exit $trc"
want "trace --follow: ucl -> pss -> cambridge, delivered to linington" "^ucl $n1" \
	"^    -> pss $n2" "^        -> cambridge $n3" \
	"delivered Linington@Cambridge to .*/mail/linington/new/$n3" \
	"^3 hops: 1 delivered, 0 failed, 0 queued, 0 unreachable; elapsed"
cp "$T/tr.out" "$T/follow.name"
tracecmd ucl --follow "msgid:$MSGID"
want "trace --follow by Message-ID finds the same letter" "^ucl $n1" "-> cambridge $n3"
tracecmd ucl --follow "<$MSGID>"
want "trace --follow by <Message-ID> without msgid:" "^ucl $n1" "-> cambridge $n3"
tracecmd ucl -f indra.letter
want "trace --follow by the out/ file name" "^ucl $n1" "-> cambridge $n3"
tracecmd pss "$n1"
want "trace at pss by ucl's name (the donor's name) finds pss's letter" "^pss $n2"

tracecmd ucl --follow --json "$n1"
[ $trc -eq 0 ] || bad "trace --json exit $trc"
if command -v python3 >/dev/null 2>&1; then
	if python3 - "$T/tr.out" "$n1" "$n2" "$n3" >"$T/py.out" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["trace_version"] == 1 and d["direction"] == "forward", d
t = d["tree"]
names = []
while t:
    names.append((t["node"], t["name"], t["reachable"]))
    t = t["next"][0] if t["next"] else None
want = [("ucl", sys.argv[2], True), ("pss", sys.argv[3], True), ("cambridge", sys.argv[4], True)]
assert names == want, names
assert d["summary"]["delivered"] == 1 and d["summary"]["unreachable"] == 0, d["summary"]
EOF
	then ok "--json: one document, tree ucl -> pss -> cambridge, summary"
	else bad "--json: $(cat "$T/py.out")"
	fi
else
	want "--json (no python3: grep only)" '"trace_version":1' "\"name\":\"$n3\""
fi

# --dot: the same hops as a Graphviz digraph (mailctl(1); nodes "NODE\nNAME\nSTATUS")
tracecmd ucl --follow --dot "$n1"
[ $trc -eq 0 ] || bad "trace --dot exit $trc"
want "trace --follow --dot: a digraph ucl -> pss -> cambridge" '^digraph "trace" [{]$' \
	"^  n0 \\[label=\"ucl\\\\n$n1\\\\n" "^  n1 \\[label=\"pss\\\\n$n2\\\\n" \
	"^  n2 \\[label=\"cambridge\\\\n$n3\\\\ndelivered\"" \
	'^  n0 -> n1 \[label="forwarded"\];$' '^  n1 -> n2 \[label="forwarded"\];$' '^}$'
if command -v dot >/dev/null 2>&1; then
	dot -Tsvg "$T/tr.out" >/dev/null 2>"$T/dot.err" && ok "trace --dot: dot -Tsvg takes it" ||
		bad "trace --dot: dot -Tsvg: $(cat "$T/dot.err")"
fi

# --- 2. backward --------------------------------------------------------------------
tracecmd cambridge --back "$n3"
[ $trc -eq 0 ] || bad "trace --back exit $trc"
want "trace --back from cambridge's name: origin first, chain ucl -> pss -> cambridge" \
	"^ucl $n1" "received from out/indra.letter" "^    -> pss $n2" "^        -> cambridge $n3" \
	"delivered Linington@Cambridge" "^3 hops: 1 delivered"
first=$(sed -n 2p "$T/tr.out")
case "$first" in
"ucl $n1"*) ok "backward trace starts at the origin" ;;
*) bad "backward trace: second line '$first', want the origin ucl" ;;
esac
tracecmd cambridge --back --dot "$n3"
want "trace --back --dot: origin first, ucl -> pss -> cambridge" \
	"^  n0 \\[label=\"ucl\\\\n$n1\\\\n" "^  n2 \\[label=\"cambridge\\\\n$n3\\\\n" \
	'^  n0 -> n1 \[label="forwarded"\];$' '^  n1 -> n2 \[label="forwarded"\];$'

# --- 3. fan-out -------------------------------------------------------------------------
mkletter "$T/fan" fan-1@ucl bennett@ucl bennett@ucl root@pss 'linington%cambridge@pss'
drop ucl "$T/fan" fan.letter || die "drop fan"
wait_msgid cambridge linington fan-1@ucl 1 30 || die "fan-out letter not at cambridge"
wait_msgid pss root fan-1@ucl 1 30 || die "fan-out letter not at pss"
wait_msgid ucl bennett fan-1@ucl 1 30 || die "fan-out letter not at ucl"
tracecmd ucl --follow msgid:fan-1@ucl
want "fan-out tree: delivered at ucl, at pss, and forwarded on to cambridge" \
	"delivered bennett@ucl" "^    -> pss pss\." "delivered root@pss" \
	"^        -> cambridge cambridge\." "delivered linington@cambridge" "3 delivered"

# --- 4. an NDN ----------------------------------------------------------------------------
mkletter "$T/bad" bad-1@ucl bennett@ucl nobody@cambridge
drop ucl "$T/bad" bad.letter || die "drop bad"
wait_header ucl bennett Failed-Letter 'cambridge' 1 30 || die "no NDN came back to bennett@ucl"
tracecmd ucl --follow msgid:bad-1@ucl
want "trace of a failure: FAILED at cambridge, the NDN, its way back to bennett@ucl" \
	"FAILED nobody@cambridge" "non-delivery notice cambridge\.[^ ]* sent to bennett@ucl" \
	"=> notice cambridge cambridge\." "-> ucl ucl\." "delivered bennett@ucl" "1 failed"
ndn=$(name_of cambridge ' received .*from=notice:')
tracecmd cambridge "$ndn"
want "trace of the NDN by its name" "received from notice:" "forwarded to"
tracecmd cambridge --back "$ndn"
want "trace --back from the NDN: the failed letter, and back to ucl" "^ucl ucl\." \
	"FAILED nobody@cambridge" "$ndn"

# --- 5. the trace service itself ------------------------------------------------------------
timeout 30 "$top/bin/niftp" get -q --called FTP "$(sock pss)" "trace:$n2" "$T/got" >/dev/null 2>"$T/get.err"
if [ $? -eq 0 ] && head -1 "$T/got" | grep -q " trace $n2 node=pss"; then
	ok "niftp get trace:NAME on called FTP: $(head -1 "$T/got" | cut -c1-70)"
else
	bad "niftp get trace:$n2: $(cat "$T/get.err")"
fi
timeout 30 "$top/bin/niftp" put -q --retries 0 --called FTP "$LETTER" "$(sock pss)" >/dev/null 2>"$T/put.err"
rc=$?
[ $rc -eq 65 ] && ok "a write on called FTP is refused (exit 65): $(head -1 "$T/put.err" | cut -c1-90)" ||
	bad "a write on called FTP: exit $rc, want 65: $(cat "$T/put.err")"
timeout 30 "$top/bin/niftp" get -q --retries 0 --called FTP "$(sock pss)" "journal" "$T/got2" >/dev/null 2>"$T/get.err"
rc=$?
[ $rc -ne 0 ] && [ ! -s "$T/got2" ] && ok "another name on called FTP is refused (exit $rc)" ||
	bad "get 'journal' on called FTP: exit $rc"
# over TCP: only for the authenticated peer. The caller runs as nobody: a
# loopback caller running as root (or as the daemon's user) is a local caller
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid="$(id -u nobody 2>/dev/null || echo 65534)" \
	--regid="$(id -g nobody 2>/dev/null || echo 65534)" --clear-groups true 2>/dev/null; then
	stranger() {
		setpriv --reuid="$(id -u nobody 2>/dev/null || echo 65534)" \
		    --regid="$(id -g nobody 2>/dev/null || echo 65534)" --clear-groups "$@"
	}
	mkdir -p "$T/stranger"
	chmod 755 "$T"
	chmod 777 "$T/stranger"
	stranger timeout 30 "$top/bin/niftp" get -q --retries 0 --called FTP "$PSSTCP" "trace:$n2" \
		"$T/stranger/got" >/dev/null 2>"$T/get.err"
	rc=$?
	if [ $rc -eq 77 ] && grep -q "not permitted" "$T/get.err" && [ ! -s "$T/stranger/got" ]; then
		ok "an unauthenticated TCP caller is refused (exit 77): $(head -1 "$T/get.err" | cut -c1-120)"
	else
		bad "unauthenticated get trace:$n2 over TCP: exit $rc, want 77 'not permitted': $(cat "$T/get.err")"
	fi
	stranger timeout 30 "$top/bin/niftp" get -q --retries 0 --called FTP --user ucl-pss --password "$PW" \
		"$PSSTCP" "trace:$n2" "$T/stranger/got" >/dev/null 2>"$T/get.err"
	rc=$?
	if [ $rc -eq 0 ] && head -1 "$T/stranger/got" | grep -q " trace $n2 node=pss"; then
		ok "the same get with the peer's username and password is answered"
	else
		bad "get trace:$n2 over TCP as ucl-pss: exit $rc: $(cat "$T/get.err")"
	fi
else
	note "not root (or no setpriv): no caller that is not local, the TCP refusal is not tried"
fi
grep -qE "trace-fetch 'trace:$n2' from $PSSTCP as peer pss: [0-9]+ octets" "$T/ucl.err" &&
	ok "ucl's daemon fetched pss's document for mailctl, with the link's credentials" ||
	bad "ucl's daemon logged no credentialed trace-fetch of $n2: $(grep trace-fetch "$T/ucl.err" | tail -3)"

# --- 6. a hop down ------------------------------------------------------------------------
stop_node cambridge || bad "cambridge did not stop"
mkletter "$T/late" late-1@ucl bennett@ucl 'linington%cambridge@pss'
drop ucl "$T/late" late.letter || die "drop late"
wait_journal pss ' deferred .*to=cambridge' 1 30 || die "pss did not defer the letter for cambridge"
tracecmd ucl --follow msgid:late-1@ucl
want "cambridge down: the letter waits at pss, deferred, next try" "^    -> pss pss\." \
	"deferred \(to cambridge\)" "status: queued: to cambridge" "1 queued"
lp=$(name_of pss ' received .*msgid=<late-1@ucl>')
timeout 30 "$MAILCTL" -c "$T/pss.ini" view --lines 1 "$lp" >"$T/tr.out" 2>"$T/tr.err"
want "mailctl view of the letter queued at pss: state, address list, header, first line" \
	"^letter $lp at pss, in queue/" "^linington%cambridge@pss" "^Message-ID: <late-1@ucl>" \
	"^Body of late-1@ucl" "^\[\.\.\. more|^Body"
stop_node pss || bad "pss did not stop"
start=$(date +%s)
tracecmd ucl --follow --timeout 5 msgid:late-1@ucl
el=$(($(date +%s) - start))
want "pss down too: shown as unreachable, the trace ends (${el}s)" "^    -> pss pss\." \
	"unreachable: " "1 unreachable"
[ $el -le 15 ] || bad "trace with a hop down took ${el}s"

# a previous hop that never answers (exec: a process that says nothing):
# cambridge started again with that route; its daemon makes the call (an
# exec: address it calls only because its own routes give it)
cp "$T/cambridge.ini" "$T/cam-orig.ini"
sed -e "s|^\* = niftp .*|* = niftp exec:hang|" "$T/cam-orig.ini" >"$T/cambridge.ini"
printf '[exec]\nhang = sleep 8\n' >>"$T/cambridge.ini"
start_node cambridge || die "cambridge (exec: route) did not start"
start=$(date +%s)
tracecmd cambridge --back --timeout 2 "$n3"
el=$(($(date +%s) - start))
want "a previous hop that never answers: unreachable after the timeout (${el}s)" \
	"^pss pss\.[^ ]*  \[via exec:sleep 8 FTP\]" "unreachable: .*(timeout|no answer)" "1 unreachable"
[ $el -le 10 ] || bad "trace with a silent hop took ${el}s"
stop_node cambridge || bad "cambridge (exec: route) did not stop"
cp "$T/cam-orig.ini" "$T/cambridge.ini"

# the daemon not running: the local record, the other nodes not asked, exit 75
tracecmd cambridge --back "$n3"
if [ $trc -eq 75 ] && grep -q -- "-> cambridge $n3" "$T/tr.out" &&
	grep -q "not asked: connect to the daemon" "$T/tr.out" &&
	grep -q "the other nodes were not asked" "$T/tr.err"; then
	ok "no daemon: the local record, 'not asked', exit 75: $(head -1 "$T/tr.err" | cut -c1-100)"
else
	bad "trace --back without the daemon: exit $trc, want 75:"
	sed 's/^/       /' "$T/tr.out" "$T/tr.err"
fi
tracecmd cambridge "$n3"
[ $trc -eq 0 ] && ok "no daemon: a local trace (nothing to ask) still exits 0" ||
	bad "local trace without the daemon: exit $trc: $(cat "$T/tr.err")"

# a previous hop with no route: mailctl uses the routes of the configuration given
sed -e "/^\* = niftp /d" "$T/cam-orig.ini" >"$T/cam-noroute.ini"
timeout 60 "$MAILCTL" -c "$T/cam-noroute.ini" trace --back "$n3" >"$T/tr.out" 2>"$T/tr.err"
want "a previous hop with no route from here: unreachable" "unreachable: no route to 'pss'"

relay_finish
