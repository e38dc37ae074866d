#!/bin/sh
# t_ops.sh - operator actions through the daemon (mailctl hold, release,
# retry, delete, bounce, reroute, forward), journalled with by=USER.
#
# ucl's next hop cambridge never answers (back-off 60 s), so the letter
# stays queued:
#  1. hold: the letter and its envelopes move to hold/, "held NAME by=U",
#     mailctl queue shows it held, no attempt is made while it is held.
#  2. release: back in queue/, due now ("released"), tried again at once.
#  3. retry NAME and retry --hop HOST: an attempt now (not after the 60 s
#     back-off), "retry".
#  4. delete: letter in dead/, "dead NAME reason=deleted by operator by=U".
#  5. bounce: one NDN with the reason reaches the sender, "failed ... by=U"
#     per recipient and "ndn ... by=U", the letter is gone from the spool.
#  6. reroute: a letter queued for the dead cambridge route goes through
#     the operator's address (a second node), "reroute HOST route=... by=U";
#     the override survives a restart; --clear ends it ("reroute-cleared"),
#     and reroute alone then says "no route overrides in force".
#  7. forward: that route's letter goes to bennett@ucl instead (local),
#     "forwarded-by-operator NAME to=... rcpts=OLD by=U", old envelope gone.
#  8. bad requests: mailctl refuses a wrong command line itself (exit 64,
#     the table's usage text); sent straight to the control socket (python3),
#     a missing argument, an unknown verb, binary garbage, a line without a
#     newline and a 1 MB line are each answered with one "err" line and "."
#     and logged escaped; an idle connection does not keep the daemon from
#     stopping; the daemon answers as before.
# Throughout, the letter exists in exactly one state.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_ops

node_ini ucl <<EOF
[routes]
cambridge = niftp unix:$T/never.sock
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 60s
max = 60s
EOF
start_node ucl || die "ucl did not start"

ctl() { timeout 20 "$MAILCTL" -c "$T/ucl.ini" "$@"; }
sp=$(spooldir ucl)
# one_state NAME WHAT - the letter file is in exactly one state
one_state() {
	_n=0
	_where=
	for _s in in queue hold dead corrupt; do
		if [ -f "$sp/$_s/$1" ]; then
			_n=$((_n + 1))
			_where="$_where $_s"
		fi
	done
	[ $_n -eq 1 ] || bad "$2: '$1' in $_n states:$_where"
	echo "$_where" | tr -d ' '
}
# op ACTION NAME [ARG..] - mailctl ACTION NAME ..., again while a try is in flight
op() {
	_i=0
	while :; do
		ctl "$@" >"$T/op.out" 2>&1 && return 0
		grep -q 'busy' "$T/op.out" || return 1
		_i=$((_i + 1))
		[ $_i -lt 50 ] || return 1
		sleep 0.1
	done
}

mkletter "$T/a.letter" ops.1@ucl bennett@ucl linington@cambridge
drop ucl "$T/a.letter" a.letter || die "drop"
wait_journal ucl ' deferred .* to=cambridge' 1 15 || die "no first deferred line"
ln=$(journal ucl | grep ' received ' | grep -F 'from=out/a.letter' | awk '{ print $3 }')
[ -n "$ln" ] || die "no received line"
[ "$(one_state "$ln" start)" = queue ] || bad "start: not in queue/"

# --- 1. hold -----------------------------------------------------------------------
if op hold "$ln"; then
	ok "hold: mailctl hold $ln"
else
	bad "hold: mailctl hold failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " held $ln by=" 1 5; then
	ok "hold: $(journal ucl | grep " held $ln " | cut -d' ' -f2-)"
else
	bad "hold: no 'held $ln by=' line"
fi
[ "$(one_state "$ln" hold)" = hold ] || bad "hold: letter not in hold/"
# one file per letter: the envelope is a record and stays one
[ "$(ls "$sp/hold")" = "$ln" ] && ok "hold: hold/ holds the letter's one file" ||
	bad "hold: hold/ should hold just $ln: $(ls "$sp/hold")"
ls "$sp/queue" | grep -q "^$ln" && bad "hold: left in queue/: $(ls "$sp/queue")"
ctl queue >"$T/q.out" 2>&1
if grep -q "^$ln .* held " "$T/q.out"; then
	ok "hold: mailctl queue: $(grep "^$ln " "$T/q.out")"
else
	bad "hold: mailctl queue does not show $ln held: $(cat "$T/q.out")"
fi
ctl retry "$ln" >/dev/null 2>&1
ctl retry --all >/dev/null 2>&1
sleep 3
after=$(journal ucl | sed -n "/ held $ln /,\$p" | grep -c " deferred $ln ")
[ "$after" -eq 0 ] && ok "hold: no attempt while held (3 s, retries asked)" ||
	bad "hold: $after deferred lines after the hold"
ctl hold "$ln" >"$T/op.out" 2>&1 && bad "hold: holding twice succeeded"

# --- 2. release ----------------------------------------------------------------------
n0=$(jcount ucl " deferred $ln ")
if op release "$ln"; then
	ok "release: mailctl release $ln"
else
	bad "release: failed: $(cat "$T/op.out")"
fi
wait_journal ucl " released $ln by=" 1 5 || bad "release: no 'released $ln by=' line"
[ "$(one_state "$ln" release)" = queue ] || bad "release: letter not back in queue/"
if wait_journal ucl " deferred $ln " $((n0 + 1)) 5; then
	ok "release: tried again at once"
else
	bad "release: no new attempt within 5 s"
fi

# --- 3. retry ------------------------------------------------------------------------
n0=$(jcount ucl " deferred $ln ")
ctl retry "$ln" >"$T/op.out" 2>&1 || bad "retry: mailctl retry failed: $(cat "$T/op.out")"
wait_journal ucl " retry $ln by=" 1 5 || bad "retry: no 'retry $ln by=' line"
if wait_journal ucl " deferred $ln " $((n0 + 1)) 5; then
	ok "retry: an attempt now (back-off is 60 s)"
else
	bad "retry: no attempt within 5 s"
fi
[ "$(one_state "$ln" retry)" = queue ] || bad "retry: letter not in queue/"
# one next hop: every letter queued for cambridge is tried now
n0=$(jcount ucl " deferred $ln ")
ctl retry --hop cambridge >"$T/op.out" 2>&1 || bad "retry --hop: mailctl failed: $(cat "$T/op.out")"
wait_journal ucl " retry $ln by=" 2 5 || bad "retry --hop: no second 'retry $ln by=' line"
if wait_journal ucl " deferred $ln " $((n0 + 1)) 5; then
	ok "retry --hop cambridge: an attempt now"
else
	bad "retry --hop cambridge: no attempt within 5 s"
fi
ctl retry --hop >"$T/op.out" 2>&1
[ $? -eq 64 ] && ok "retry --hop without a host: usage error" || bad "retry --hop without a host: $(cat "$T/op.out")"

# --- 4. delete -----------------------------------------------------------------------
if op delete "$ln"; then
	ok "delete: mailctl delete $ln"
else
	bad "delete: failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " dead $ln .*by=" 1 5; then
	l=$(journal ucl | grep " dead $ln " | head -1)
	[ "$(jval "$l" reason)" = "deleted by operator" ] ||
		bad "delete: reason='$(jval "$l" reason)': $l"
	[ -n "$(jval "$l" by)" ] && ok "delete: $(echo "$l" | cut -d' ' -f2-)" ||
		bad "delete: no by= in $l"
else
	bad "delete: no 'dead $ln ... by=' line"
fi
[ "$(one_state "$ln" delete)" = dead ] || bad "delete: letter not in dead/"
ls "$sp/queue" | grep -q "^$ln" && bad "delete: left in queue/: $(ls "$sp/queue")"
n0=$(jcount ucl " deferred $ln ")
ctl retry --all >/dev/null 2>&1
sleep 2
[ "$(jcount ucl " deferred $ln ")" -eq "$n0" ] || bad "delete: tried after the delete"

# --- 5. bounce -----------------------------------------------------------------------
mkletter "$T/b.letter" ops.2@ucl bennett@ucl linington@cambridge wells@cambridge
drop ucl "$T/b.letter" b.letter || die "drop b"
wait_journal ucl ' received .*from=out/b.letter' 1 15 || die "b: no received line"
bn=$(journal ucl | grep ' received ' | grep -F 'from=out/b.letter' | awk '{ print $3 }')
wait_journal ucl " deferred $bn .*to=cambridge" 1 15 || die "b: no deferred line"
if op bounce --reason "wrong address, ask the sender" "$bn"; then
	ok "bounce: mailctl bounce $bn"
else
	bad "bounce: failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " ndn $bn .*by=" 1 5; then
	ok "bounce: $(journal ucl | grep " ndn $bn " | cut -d' ' -f2-)"
else
	bad "bounce: no 'ndn $bn ... by=' line"
fi
nf=$(journal ucl | grep " failed $bn " | grep -c 'by=')
[ "$nf" -eq 2 ] && ok "bounce: 2 failed lines with by=" || bad "bounce: $nf failed lines with by="
l=$(journal ucl | grep " failed $bn " | head -1)
[ "$(jval "$l" reason)" = "wrong address, ask the sender" ] || bad "bounce: reason in $l"
if wait_header ucl bennett Failed-Letter "ucl[ \t]+$bn" 1 15; then
	f=$(find_header ucl bennett Failed-Letter "ucl[ \t]+$bn" | head -1)
	grep -q 'wrong address, ask the sender' "$f" && ok "bounce: NDN with the reason at bennett@ucl" ||
		bad "bounce: NDN without the reason: $f"
	[ "$(count_header ucl bennett Failed-Letter "ucl[ \t]+$bn")" -eq 1 ] || bad "bounce: more than one NDN"
else
	bad "bounce: no NDN for $bn at bennett@ucl"
fi
for s in in queue hold dead corrupt; do
	ls "$sp/$s" 2>/dev/null | grep -q "^$bn" && bad "bounce: left in $s/: $(ls "$sp/$s")"
done
ctl queue | grep -q "^$bn " && bad "bounce: still in mailctl queue"
ctl bounce "$bn" >"$T/op.out" 2>&1 && bad "bounce: bouncing twice succeeded"

# --- 6. reroute ---------------------------------------------------------------------
node_ini cambridge <<EOF2
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington
EOF2
start_node cambridge || die "cambridge did not start"
mkletter "$T/c.letter" ops.3@ucl bennett@ucl linington@cambridge
drop ucl "$T/c.letter" c.letter || die "drop c"
wait_journal ucl ' received .*from=out/c.letter' 1 15 || die "c: no received line"
cn=$(journal ucl | grep ' received ' | grep -F 'from=out/c.letter' | awk '{ print $3 }')
wait_journal ucl " deferred $cn .*to=cambridge" 1 15 || die "c: no deferred line"
if ctl reroute cambridge "niftp $(sock cambridge) FTP.MAIL" >"$T/op.out" 2>&1; then
	ok "reroute: mailctl reroute cambridge niftp $(sock cambridge) FTP.MAIL"
else
	bad "reroute: failed: $(cat "$T/op.out")"
fi
wait_journal ucl " reroute cambridge route=.*by=" 1 5 &&
	ok "reroute: $(journal ucl | grep ' reroute cambridge ' | cut -d' ' -f2-)" ||
	bad "reroute: no 'reroute cambridge route=... by=' line"
if wait_msgid cambridge linington ops.3@ucl 1 20; then
	ok "reroute: queued letter delivered through the rerouted address"
else
	bad "reroute: $cn not delivered at cambridge within 20 s"
fi
wait_journal ucl " forwarded $cn .*addr=$(sock cambridge)" 1 5 ||
	bad "reroute: no 'forwarded $cn ... addr=$(sock cambridge)' line"
for s in in queue hold dead corrupt; do
	ls "$sp/$s" 2>/dev/null | grep -q "^$cn" && bad "reroute: left in $s/ at ucl"
done
ctl route linington@cambridge >"$T/r.out" 2>&1
grep -q "^override: next hop cambridge .*$(sock cambridge)" "$T/r.out" &&
	ok "reroute: mailctl route shows the override" || bad "reroute: route: $(cat "$T/r.out")"
ctl reroute cambridge "smtp somewhere" >"$T/op.out" 2>&1 && bad "reroute: bad route accepted"
ctl reroute nosuchhop "niftp $(sock cambridge)" >"$T/op.out" 2>&1 && bad "reroute: unknown hop accepted"
# survives a restart
stop_node ucl || bad "ucl did not stop on SIGTERM"
start_node ucl || die "ucl did not start again"
ctl reroute >"$T/r.out" 2>&1
grep -q "^cambridge niftp $(sock cambridge) FTP.MAIL\$" "$T/r.out" &&
	ok "reroute: kept across a restart: $(cat "$T/r.out")" || bad "reroute: after restart: $(cat "$T/r.out")"
mkletter "$T/d.letter" ops.4@ucl bennett@ucl linington@cambridge
drop ucl "$T/d.letter" d.letter || die "drop d"
wait_msgid cambridge linington ops.4@ucl 1 20 && ok "reroute: new letter after the restart delivered" ||
	bad "reroute: ops.4 not delivered at cambridge after the restart"
# --clear
if ctl reroute --clear cambridge >"$T/op.out" 2>&1; then
	ok "reroute: --clear"
else
	bad "reroute: --clear failed: $(cat "$T/op.out")"
fi
wait_journal ucl " reroute-cleared cambridge by=" 1 5 || bad "reroute: no 'reroute-cleared cambridge by=' line"
# none left: said so (not an empty listing)
[ "$(ctl reroute)" = "mailctl: no route overrides in force ('mailctl reroute HOST ROUTE' sets one)" ] ||
	bad "reroute: still listed after --clear: $(ctl reroute)"
ctl route linington@cambridge | grep -q '^override' && bad "reroute: route still shows an override"
ctl reroute --clear cambridge >"$T/op.out" 2>&1 && bad "reroute: clearing twice succeeded"
mkletter "$T/e.letter" ops.5@ucl bennett@ucl linington@cambridge
drop ucl "$T/e.letter" e.letter || die "drop e"
wait_journal ucl ' received .*from=out/e.letter' 1 15 || die "e: no received line"
en=$(journal ucl | grep ' received ' | grep -F 'from=out/e.letter' | awk '{ print $3 }')
wait_journal ucl " deferred $en .*to=cambridge" 1 15 && ok "reroute: after --clear the table's route again" ||
	bad "reroute: no deferred line for $en after --clear"

# --- 7. forward ---------------------------------------------------------------------
# $en waits for cambridge (the table's dead route again): to bennett@ucl instead
ctl forward "$en" nobody@nowhere.example >"$T/op.out" 2>&1 && bad "forward: unroutable address accepted"
ctl queue 2>&1 | grep -q "^$en .* cambridge " || bad "forward: a refused forward changed the queue"
if op forward "$en" bennett@ucl; then
	ok "forward: mailctl forward $en bennett@ucl"
else
	bad "forward: failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " forwarded-by-operator $en .*by=" 1 5; then
	l=$(journal ucl | grep " forwarded-by-operator $en " | head -1)
	[ "$(jval "$l" to)" = bennett@ucl ] && [ "$(jval "$l" rcpts)" = linington@cambridge ] &&
		ok "forward: $(echo "$l" | cut -d' ' -f2-)" || bad "forward: $l"
else
	bad "forward: no 'forwarded-by-operator $en ... by=' line"
fi
wait_msgid ucl bennett ops.5@ucl 1 15 && ok "forward: delivered to bennett@ucl" ||
	bad "forward: ops.5 not delivered to bennett@ucl"
ctl queue 2>&1 | grep -q "^$en .* cambridge " && bad "forward: old envelope still queued"
wait_journal ucl " delivered $en " 1 5 || bad "forward: no 'delivered $en' line"
sleep 1
for s in in queue hold dead corrupt; do
	ls "$sp/$s" 2>/dev/null | grep -q "^$en" && bad "forward: left in $s/: $(ls "$sp/$s")"
done
[ "$(count_msgid cambridge linington ops.5@ucl)" -eq 0 ] || bad "forward: also reached linington"

# hold/delete of something that is not there: a clear error, exit 67
ctl hold nosuch.1 >"$T/op.out" 2>&1
rc=$?
[ $rc -eq 67 ] && grep -q 'no letter' "$T/op.out" && ok "missing: exit 67, $(head -1 "$T/op.out")" ||
	bad "missing: exit $rc: $(cat "$T/op.out")"

# --- 8. bad requests ---------------------------------------------------------------
# mailctl checks the command line with the protocol table before connecting
for args in "hold" "hold a ALL" "forward $en" "reroute cambridge" "queue x" "retry --all x"; do
	# shellcheck disable=SC2086
	ctl $args >"$T/op.out" 2>&1
	rc=$?
	if [ $rc -eq 64 ] && grep -q '^mailctl: usage: ' "$T/op.out"; then
		ok "mailctl $args: exit 64, $(head -1 "$T/op.out")"
	else
		bad "mailctl $args: exit $rc: $(cat "$T/op.out")"
	fi
done
ctl frobnicate >"$T/op.out" 2>&1
[ $? -eq 64 ] && grep -q "unknown command 'frobnicate'" "$T/op.out" &&
	ok "mailctl frobnicate: $(head -1 "$T/op.out")" || bad "mailctl frobnicate: $(cat "$T/op.out")"
ctl hold --help >"$T/op.out" 2>&1
grep -q '^Usage: mailctl .*NODE.ini.* hold \[SELECTION\] NAME\.\.\.|ALL$' "$T/op.out" &&
	ok "mailctl hold --help: the table's usage" || bad "mailctl hold --help: $(cat "$T/op.out")"
ctl --help | grep -q '^  bounce \[SELECTION\] NAME\.\.\.|ALL \[--reason TEXT\]$' &&
	ok "mailctl --help lists the table" || bad "mailctl --help does not list bounce: $(ctl --help)"

if command -v python3 >/dev/null 2>&1; then
	ctlsock=$(sed -n 's/^control unix://p' "$sp/ready")
	# raw FILE - FILE's octets to ucl's control socket as they are; prints
	# the answer (the daemon may refuse a long line before reading it all)
	raw() {
		python3 - "$ctlsock" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(open(sys.argv[2], 'rb').read())
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
out = b''
while True:
    try:
        b = s.recv(65536)
    except OSError:
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
PYEOF
	}
	# bad_req LABEL FILE ERE - the answer is "err REASON" matching ERE and
	# ".", two lines without control characters
	bad_req() {
		raw "$2" >"$T/raw.out" 2>"$T/raw.err"
		if [ "$(wc -l <"$T/raw.out")" -eq 2 ] && [ "$(sed -n 2p "$T/raw.out")" = . ] &&
		    head -1 "$T/raw.out" | grep -Eq "^err $3\$" &&
		    ! tr -d '\n' <"$T/raw.out" | LC_ALL=C grep -q '[[:cntrl:]]'; then
			ok "bad request: $1: $(head -1 "$T/raw.out")"
		else
			bad "bad request: $1: got $(od -c "$T/raw.out" | head -4) $(cat "$T/raw.err")"
		fi
	}
	# an idle connection (sends nothing) must not hold up the stop below
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
time.sleep(60)' "$ctlsock" &
	idle=$!
	pids="$pids $idle"
	printf 'hold\n' >"$T/req"
	bad_req "missing argument" "$T/req" 'usage: hold \[SELECTION\] NAME\.\.\.\|ALL'
	printf 'forward %s\n' "$en" >"$T/req"
	bad_req "forward without ADDRESS" "$T/req" 'usage: forward NAME ADDRESS'
	printf 'frobnicate now\n' >"$T/req"
	bad_req "unknown verb" "$T/req" "unknown request 'frobnicate'"
	printf 'fr\\ob\377 now\n' >"$T/req"
	bad_req "unknown verb, escaped" "$T/req" "unknown request 'fr\\\\\\\\ob\\\\xff'"
	printf '\000\001\377\033[2J garbage\r\nping\n' >"$T/req"
	bad_req "binary garbage" "$T/req" 'control character 0x00 in the request \(octet 1\)'
	printf 'hold a\rdelete b\n' >"$T/req"
	bad_req "CR inside the line" "$T/req" 'control character 0x0d in the request \(octet 7\)'
	printf 'ping' >"$T/req"
	bad_req "no newline" "$T/req" 'request not ended by a newline'
	head -c 1048576 /dev/zero | tr '\0' a >"$T/req"
	echo >>"$T/req"
	bad_req "a 1 MB line" "$T/req" 'request too long \(more than 4096 octets\)'
	printf '\n' >"$T/req"
	bad_req "empty line" "$T/req" 'empty request'
	printf 'ping\r\n' >"$T/req"
	raw "$T/req" >"$T/raw.out" 2>&1
	[ "$(cat "$T/raw.out")" = "$(printf 'ok ucl\n.')" ] && ok "ping (CR LF) after the bad requests: ok ucl" ||
		bad "ping after the bad requests: $(cat "$T/raw.out")"
	LC_ALL=C grep -a 'control: request .* refused: control character 0x00' "$T/ucl.err" |
	    LC_ALL=C grep -q '\\x00\\x01\\xff\\x1b\[2J garbage' &&
		ok "bad request logged escaped: $(grep -a 'refused: control character 0x00' "$T/ucl.err" | head -1 | cut -c1-120)" ||
		bad "bad request not logged escaped: $(grep -a 'control: ' "$T/ucl.err" | head -5)"
else
	note "no python3: raw control socket requests skipped"
fi
# the daemon is unaffected
running ucl && [ "$(ctl ping)" = ucl ] && ok "mailctl ping after the bad requests: ucl" ||
	bad "mailctl ping after the bad requests: $(ctl ping 2>&1)"
ctl queue >"$T/q.out" 2>&1 && ok "mailctl queue after the bad requests" ||
	bad "mailctl queue after the bad requests: $(cat "$T/q.out")"

stop_node ucl || bad "ucl did not stop on SIGTERM"
if [ -n "${idle:-}" ]; then
	kill "$idle" 2>/dev/null
	wait "$idle" 2>/dev/null
	forget "$idle"
fi
stop_node cambridge || bad "cambridge did not stop on SIGTERM"
relay_finish
