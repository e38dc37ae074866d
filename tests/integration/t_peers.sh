#!/bin/sh
# t_peers.sh - who may call and who may relay (issue 10, items 1-4;
# relay/peer.h, doc/peers.md): each attack of the issue replayed over TCP
# against a node with password peers, and its outcome asserted.
#
# Network. cam listens on three TCP ports (127.0.0.1:0, read back from
# SPOOL/ready): P1 accept=local (the default), P2 accept=any, P3
# accept=peers. cam routes "far" to a capture server (a plain niftp serve
# on a Unix socket: what reaches it was relayed). [peer ucl] is a
# password peer from anywhere, [peer pss] a password peer that may call
# only from 127.0.0.9; [limits] auth_fail_delay = 1s, max_calls_per_peer
# = 1. ucl is a real node
# whose route "cam" leads to P1 with the link's credentials ([peer cam]).
#
# Strangers. A loopback caller running as root or as the daemon's user is
# local submission, so unauthenticated callers (niftp put, niftpforge)
# run as nobody (setpriv/runuser); when the test does not run as root,
# the parts that need a stranger (a, c) are skipped, the others run.
#
#  a. open relay, unauthenticated callers on P1: a letter to a remote
#     recipient exits 77 (QR 0x23), journalled "refused ... relaying
#     denied", never received, queued or relayed; to a local recipient:
#     delivered once (auth=none source=anon:127.0.0.1); to an unknown
#     local user: exit 65, refused in the call (no notice to the forged
#     sender); a '%' route through cam: 77. On P2 (accept=any) the remote
#     letter is relayed; on P3 (accept=peers) the stranger is refused 77
#     even for a local recipient and the peer ucl is relayed.
#  b. passwords: the right one relays and the received line says
#     peer=ucl auth=password source=peer:ucl; a wrong password, an unknown
#     username, and pss's right password from 127.0.0.1 each exit 77
#     after at least auth_fail_delay (>= 0.9 s, measured); nothing is
#     received for them; each burst of refusals is journalled.
#  c. dockets (niftpforge as the stranger, claiming ucl's calling address,
#     transfer id and copy identity):
#     1. plant: ucl's first SFT is recorded by a refusing niftpforge
#        server (ucl keeps its transfer id and copy identity); the stranger
#        sends a whole letter under them to cam; ucl, pointed at cam
#        again, resumes: it is not answered "already stored" with the
#        stranger's letter, sends afresh, and its letter reaches linington
#        exactly once, received from donor ucl/NAME with auth=password.
#     2. delete: ucl's letter is committed at cam but ucl drops the call
#        after ER(OK) (hook call-cut-after-er). The stranger's resumption
#        under ucl's id and copy is refused 0x1004 (no record: it learns
#        no name), its fresh SFTs under them (with and without the copy
#        identity) delete nothing; ucl, started again, resumes and is
#        answered "already stored" with its own letter: delivered
#        exactly once.
#     3. a transfer without a copy identity is never resumed: with or
#        without a copy identity the resumption is refused 0x1004.
#  d. limits per peer: under 64 trickling calls and 500 idle connections
#     from 127.0.0.2 (connflood), three letters of the password peer ucl
#     from 127.0.0.1 are accepted and delivered (bounded polls).
#     Then max_calls_per_peer: while one transfer of ucl crawls through a
#     slow proxy from 127.0.0.11, its second from 127.0.0.1 (another
#     address, the same peer) is refused "try later" (exit 75); once the
#     first call ended, the letter goes through.
# At the end: no non-delivery notice anywhere (no backscatter), cam
# stops cleanly.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_peers

FORGE="$top/build/tools/niftpforge"
CF="$top/build/tools/connflood"
[ -x "$FORGE" ] || die "no $FORGE (make all)"
[ -x "$CF" ] || die "no $CF (make all)"
[ -x "$NIFTP" ] || die "no $NIFTP (make all)"
t_start=$(date +%s)

# --- strangers: callers that are neither peers nor local -----------------------------
# the stranger reads its letters from $T/pub
stranger_setup 755
[ -n "$stranger" ] ||
	note "not root (or no setpriv/runuser): a loopback caller is local submission; the parts with a stranger (a, c) are skipped"

# --- the network ---------------------------------------------------------------------
printf 'link secret; ucl # cam\n' >"$T/cam-ucl.pw"
printf 'link secret; ucl # cam\n' >"$T/ucl-cam.pw"
printf 'pss-secret\n' >"$T/cam-pss.pw"
chmod 600 "$T"/*.pw

node_ini_raw cam <<EOF
[node]
name = cam
spool = $(spooldir cam)

[listen]
mail = tcp:127.0.0.1:0, tcp:127.0.0.1:0 accept=any, tcp:127.0.0.1:0 accept=peers

[routes]
far = niftp unix:$T/far.sock
ucl = niftp $(sock ucl)
pss = niftp unix:$T/pss.sock

[peer ucl]
username = ucl-link
password_file = $T/cam-ucl.pw

[peer pss]
username = pss-link
password_file = $T/cam-pss.pw
from = 127.0.0.9

[local]
maildir = $(mdir cam)/%u/
users = linington

[retry]
first = 1s
max = 1s

[limits]
auth_fail_delay = 1s
max_calls_per_peer = 1
EOF

# ucl_ini ADDR - ucl, whose route cam leads to ADDR with the link's credentials
ucl_ini() {
	node_ini ucl <<EOF
[routes]
cam = niftp $1

[peer cam]
username = ucl-link
password_file = $T/ucl-cam.pw

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[retry]
first = 1s
max = 1s
EOF
}

start_capture far || die "the capture server far did not start"
start_node cam || die "cam did not start"
P1=$(grep '^tcp:' "$(spooldir cam)/ready" | sed -n 1p)
P2=$(grep '^tcp:' "$(spooldir cam)/ready" | sed -n 2p)
P3=$(grep '^tcp:' "$(spooldir cam)/ready" | sed -n 3p)
[ -n "$P1" ] && [ -n "$P2" ] && [ -n "$P3" ] || die "cam's ready file names no three tcp addresses"
note "cam listens on $P1 (accept=local), $P2 (accept=any), $P3 (accept=peers)"

# wait_file FILE SECONDS - bounded poll until FILE is not empty
wait_file() {
	_wi=0
	while [ ! -s "$1" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $(($2 * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# letter TAG RCPT... - $T/pub/TAG.letter with Message-ID <TAG>
letter() {
	_lt=$1
	shift
	mkletter "$T/pub/$_lt.letter" "$_lt" mallory@evil "$@"
	chmod 644 "$T/pub/$_lt.letter"
}

# put_rc, put_ms, put_err: the outcome of the last put
# stranger_put TAG ADDR - the stranger's niftp put of TAG's letter
stranger_put() {
	_t0=$(date +%s%N)
	as_stranger timeout 40 "$NIFTP" put -q --retries 0 --timeout 20 --called FTP.MAIL \
		--calling evil "$T/pub/$1.letter" "$2" >"$T/$1.put.out" 2>"$T/$1.put.err"
	put_rc=$?
	put_ms=$((($(date +%s%N) - _t0) / 1000000))
	put_err=$(tail -1 "$T/$1.put.err")
}

# peer_put TAG ADDR USER PASSWORD - a put with credentials
peer_put() {
	_t0=$(date +%s%N)
	timeout 40 "$NIFTP" put -q --retries 0 --timeout 20 --called FTP.MAIL --calling ucl \
		--user "$3" --password "$4" "$T/pub/$1.letter" "$2" >"$T/$1.put.out" 2>"$T/$1.put.err"
	put_rc=$?
	put_ms=$((($(date +%s%N) - _t0) / 1000000))
	put_err=$(tail -1 "$T/$1.put.err")
}

# expect_rc LABEL WANT - the last put's exit status
expect_rc() {
	if [ "$put_rc" -eq "$2" ]; then
		ok "$1: exit $2${put_err:+ ($put_err)}"
	else
		bad "$1: exit $put_rc, want $2: $put_err"
	fi
}

# relayed TAG - the capture server far holds TAG's letter (files named by it)
relayed() { grep -l "^Message-ID: <$1>" "$T/far"/* 2>/dev/null | wc -l | tr -d ' '; }
wait_relayed() {
	_wi=0
	while [ "$(relayed "$1")" -lt 1 ]; do
		_wi=$((_wi + 1))
		[ $_wi -le 200 ] || return 1
		sleep 0.1
	done
	return 0
}
# received TAG - cam's received lines for TAG
received() { journal cam | grep ' received ' | grep -cF "msgid=<$1>"; }
rline() { journal cam | grep ' received ' | grep -F "msgid=<$1>" | tail -1; }

# never_taken TAG - TAG's letter was not received, queued or relayed
never_taken() {
	_n=$(received "$1")
	_q=$(grep -lr "^Message-ID: <$1>" "$(spooldir cam)/queue" 2>/dev/null | wc -l | tr -d ' ')
	if [ "$_n" -eq 0 ] && [ "$_q" -eq 0 ] && [ "$(relayed "$1")" -eq 0 ] &&
	    [ "$(count_msgid_all cam "$1")" -eq 0 ]; then
		ok "$1: never received, queued, relayed or delivered"
	else
		bad "$1: $_n received lines, $_q queued, $(relayed "$1") relayed, $(count_msgid_all cam "$1") delivered; want none"
	fi
}

# --- a. open relay -----------------------------------------------------------------
part_a() {
	letter open1 open1@far
	stranger_put open1 "$P1"
	expect_rc "a: a stranger's letter to a remote recipient (accept=local)" 77
	wait_journal cam ' refused [^ ]* from=anon:127\.0\.0\.1 calling=evil reason="relaying denied: open1@far ' 1 5 &&
		ok "a: journal: $(journal cam | grep -F 'relaying denied: open1@far' | cut -d' ' -f2-3,5- | cut -c1-110)..." ||
		bad "a: no refused line with 'relaying denied: open1@far'"

	letter local1 linington@cam
	stranger_put local1 "$P1"
	expect_rc "a: a stranger's letter to a local recipient" 0
	wait_msgid cam linington local1 1 20 || bad "a: local1 not delivered within 20 s"
	case $(rline local1) in
	*" peer=- auth=none source=anon:127.0.0.1"*) ok "a: received as peer=- auth=none source=anon:127.0.0.1" ;;
	*) bad "a: received line '$(rline local1)', want peer=- auth=none source=anon:127.0.0.1" ;;
	esac

	letter unknown1 nobody@cam
	stranger_put unknown1 "$P1"
	expect_rc "a: a stranger's letter to an unknown local user" 65
	wait_journal cam ' refused .*reason="recipient nobody@cam: unknown user' 1 5 ||
		bad "a: no refused line for nobody@cam"

	letter route1 'route1%far@cam'
	stranger_put route1 "$P1"
	expect_rc "a: a stranger's letter through a '%' route via cam" 77
	wait_journal cam 'reason="relaying denied: route1%far@cam ' 1 5 ||
		bad "a: no refused line for route1%far@cam"

	letter mixed1 linington@cam mixed1@far
	stranger_put mixed1 "$P1"
	expect_rc "a: a stranger's letter to a local and a remote recipient (refused whole)" 77

	letter any1 any1@far
	stranger_put any1 "$P2"
	expect_rc "a: a stranger's letter to a remote recipient on the accept=any listener" 0
	wait_relayed any1 && ok "a: any1 relayed to far (accept=any is an open relay)" ||
		bad "a: any1 not relayed to far within 20 s"

	letter peers1 linington@cam
	stranger_put peers1 "$P3"
	expect_rc "a: a stranger's letter to a local recipient on the accept=peers listener" 77
	letter peers2 peers2@far
	peer_put peers2 "$P3" ucl-link 'link secret; ucl # cam'
	expect_rc "a: the peer ucl's letter to a remote recipient on the accept=peers listener" 0
	wait_relayed peers2 && ok "a: peers2 relayed to far" || bad "a: peers2 not relayed to far within 20 s"

	for m in open1 unknown1 route1 mixed1 peers1; do
		never_taken $m
	done
	c=$(count_msgid cam linington local1)
	[ "$c" -eq 1 ] && ok "a: local1 delivered exactly once" || bad "a: local1 in $c Maildir files, want 1"
}

# --- b. passwords --------------------------------------------------------------------
part_b() {
	letter pw1 pw1@far
	peer_put pw1 "$P1" ucl-link 'link secret; ucl # cam'
	expect_rc "b: the right password (a password with ';' and '#', from a file)" 0
	wait_relayed pw1 && ok "b: pw1 relayed to far" || bad "b: pw1 not relayed to far within 20 s"
	case $(rline pw1) in
	*" peer=ucl auth=password source=peer:ucl"*) ok "b: received as peer=ucl auth=password source=peer:ucl" ;;
	*) bad "b: received line '$(rline pw1)', want peer=ucl auth=password source=peer:ucl" ;;
	esac

	for case in "wrong ucl-link wrong-secret" "unknown mallory link-secret" \
	    "pssfrom pss-link pss-secret"; do
		set -- $case
		letter "$1" linington@cam
		peer_put "$1" "$P1" "$2" "$3"
		expect_rc "b: $2 with ${3} ($1)" 77
		if [ "$put_ms" -ge 900 ]; then
			ok "b: $1: the refused call took $put_ms ms (auth_fail_delay 1s)"
		else
			bad "b: $1: the refused call took $put_ms ms, want >= 900 (auth_fail_delay 1s)"
		fi
		[ "$(received "$1")" -eq 0 ] || bad "b: $1 was received"
	done
	grep -q 'username or password refused: peer pss may not call from 127.0.0.1' "$T/cam.err" &&
		ok "b: logged: peer pss may not call from 127.0.0.1" ||
		bad "b: no log line for pss calling from 127.0.0.1"
	grep -q 'username or password refused: wrong password for peer ucl (from 127.0.0.1)' "$T/cam.err" ||
		bad "b: no log line for the wrong password"
}

# --- c. dockets ------------------------------------------------------------------------
# forge_serve ARGS... - a niftpforge server on tcp:127.0.0.1:0; its address in FA
forge_serve() {
	rm -f "$T/fready"
	"$FORGE" serve --listen tcp:127.0.0.1:0 --ready-file "$T/fready" --max-time 60 "$@" \
		</dev/null >>"$T/forge.out" 2>>"$T/forge.err" &
	fpid=$!
	pids="$pids $fpid"
	_i=0
	while [ ! -s "$T/fready" ] && [ $_i -lt 200 ]; do
		_i=$((_i + 1))
		sleep 0.05
	done
	FA=$(head -1 "$T/fready" 2>/dev/null)
	[ -n "$FA" ] || die "niftpforge serve not ready: $(tail -3 "$T/forge.err")"
}

# send ARGS... - the stranger's niftpforge send to cam's P1; output $sent, status $src
send() {
	sent=$(as_stranger "$FORGE" send "$P1" --timeout 20 "$@" 2>>"$T/forge.err")
	src=$?
	sent1=$(printf '%s' "$sent" | tr '\n' ' ')
}

expect_refused() {
	case $sent in
	*"status refused 0x1004"*) ok "$1: refused 0x1004" ;;
	*) bad "$1: got '$sent1', want refused 0x1004" ;;
	esac
}

# once TAG LABEL - TAG delivered to linington at cam exactly once, one received line
once() {
	_c=$(count_msgid_all cam "$1")
	_r=$(received "$1")
	if [ "$_c" -eq 1 ] && [ "$_r" -eq 1 ]; then
		ok "$2: $1 delivered exactly once (1 Maildir file, 1 received line)"
	else
		bad "$2: $1 in $_c Maildir files and $_r received lines at cam, want 1 and 1"
	fi
}

# forwarded_from_ucl LN LABEL - ucl's forwarded line for LN names a letter
# cam received from ucl's copy, authenticated by password
forwarded_from_ucl() {
	_fl=$(journal ucl | grep " forwarded $1 " | tail -1)
	_remote=$(jval "$_fl" remote)
	_rl=$(journal cam | grep " received $_remote " | head -1)
	if [ -n "$_remote" ] && [ "$(jval "$_rl" donor)" = "ucl/$1" ] &&
	    [ "$(jval "$_rl" auth)" = password ] && [ "$(jval "$_rl" peer)" = ucl ]; then
		ok "$2: ucl's forwarded line names $_remote, received from ucl/$1 (peer=ucl auth=password)"
	else
		bad "$2: ucl's forwarded line names '$_remote': '$_rl'"
	fi
}

part_c() {
	# 1. plant a committed docket under ucl's transfer id and copy identity
	forge_serve --refuse --record "$T/sft.rec"
	ucl_ini "$FA"
	start_node ucl || { bad "c1: ucl did not start"; return; }
	mkletter "$T/plant.letter" plant.1@ucl bennett@ucl linington@cam
	drop ucl "$T/plant.letter" plant.letter || bad "c1: drop"
	_i=0
	while ! grep -q '^sft ' "$T/sft.rec" 2>/dev/null && [ $_i -lt 200 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	stop_node ucl || bad "c1: ucl did not stop"
	stop "$fpid"
	rec=$(sed -n 1p "$T/sft.rec" 2>/dev/null)
	tid=$(printf '%s\n' "$rec" | sed -n 's/.* tid=\([0-9][0-9]*\) .*/\1/p')
	caller=$(printf '%s\n' "$rec" | sed -n 's/^sft caller=\([^ ]*\) .*/\1/p')
	copy=$(printf '%s\n' "$rec" | sed -n 's/.* copy="\([^"\\]*\)" resume=.*/\1/p')
	ln=$(journal ucl | grep ' received ' | grep -F '<plant.1@ucl>' | head -1 | cut -d' ' -f3)
	if [ -z "$tid" ] || [ -z "$copy" ] || [ -z "$ln" ]; then
		bad "c1: no SFT of ucl recorded within 20 s: '$rec'"
		return
	fi
	note "c1: ucl's letter $ln went out as transfer $tid, calling '$caller', copy '$copy'"
	letter evil1 linington@cam
	send --calling "$caller" --tid "$tid" --copy "$copy" --file "$T/pub/evil1.letter"
	[ "$src" -eq 0 ] && ok "c1: the stranger sent a whole letter under ucl's transfer id and copy identity (accepted: local recipient)" ||
		bad "c1: the stranger's letter: $sent1"
	evilname=$(printf '%s\n' "$sent" | sed -n 's/^name //p')
	ucl_ini "$P1"
	start_node ucl || { bad "c1: ucl did not restart"; return; }
	wait_msgid cam linington plant.1@ucl 1 30 || bad "c1: plant.1@ucl not delivered within 30 s of ucl's restart"
	wait_journal ucl " forwarded $ln " 1 20 || bad "c1: ucl has no forwarded line for $ln"
	wait_empty ucl queue 20 || bad "c1: ucl's queue/ not empty"
	once plant.1@ucl c1
	once evil1 "c1 (the stranger's own letter)"
	forwarded_from_ucl "$ln" c1
	if [ -n "$evilname" ] && grep -q "already stored.*$evilname\|$evilname.*already stored" "$T/cam.err"; then
		bad "c1: cam answered a resumption 'already stored' with the stranger's $evilname"
	elif grep -q "'$ln' to cam: cannot resume (refused (RNEG state 0x1004): no record of that transfer): sending afresh" "$T/ucl.err"; then
		ok "c1: ucl resumed, was told 'no record of that transfer' (not the stranger's ${evilname:-letter}), and sent afresh"
	else
		bad "c1: ucl did not resume and send afresh: $(grep -F "'$ln'" "$T/ucl.err" | tail -2)"
	fi

	# 2. a fresh transfer request must not delete the docket of ucl's commit
	stop_node ucl || bad "c2: ucl did not stop"
	start_node ucl NIFTPMAIL_HOOK=call-cut-after-er || { bad "c2: ucl did not start"; return; }
	mkletter "$T/del.letter" del.1@ucl bennett@ucl linington@cam
	drop ucl "$T/del.letter" del.letter || bad "c2: drop"
	wait_journal ucl ' received .*msgid=<del\.1@ucl>' 1 20 || bad "c2: ucl did not take del.1@ucl"
	ln=$(journal ucl | grep ' received ' | grep -F '<del.1@ucl>' | head -1 | cut -d' ' -f3)
	wait_journal ucl " deferred $ln " 1 20 || bad "c2: the cut after ER(OK) left no deferred line for $ln at ucl"
	stop_node ucl || bad "c2: ucl did not stop"
	rl=$(rline del.1@ucl)
	camname=$(printf '%s\n' "$rl" | cut -d' ' -f3)
	tid=$(jval "$rl" tid)
	dk=$(journal cam | grep -F " docket - " | grep -F "key=\"srv peer:ucl $tid " | tail -1)
	copy=$(printf '%s\n' "$dk" | sed -n 's/.*\\ncopy \\"\([^"\\]*\)\\"\\n".*/\1/p')
	if [ -z "$rl" ] || [ -z "$tid" ] || [ -z "$copy" ]; then
		bad "c2: cam has no committed docket of ucl's transfer: '$rl' '$dk'"
		return
	fi
	note "c2: cam committed ucl's $ln as $camname (transfer $tid, copy '$copy'); ucl did not hear it"
	send --calling ucl --tid "$tid" --resume --copy "$copy"
	expect_refused "c2: the stranger's resumption of ucl's committed transfer (it learns no name)"
	case $sent in
	*"$camname"*) bad "c2: the stranger was told cam's name $camname" ;;
	esac
	letter evil2 linington@cam
	send --calling ucl --tid "$tid" --copy "$copy" --file "$T/pub/evil2.letter"
	[ "$src" -eq 0 ] || bad "c2: the stranger's fresh SFT with ucl's id and copy: $sent1"
	letter evil3 linington@cam
	send --calling ucl --tid "$tid" --file "$T/pub/evil3.letter"
	[ "$src" -eq 0 ] || bad "c2: the stranger's fresh SFT with ucl's id, no copy: $sent1"
	errlen=$(wc -c <"$T/cam.err")
	start_node ucl || { bad "c2: ucl did not restart"; return; }
	wait_journal ucl " forwarded $ln " 1 20 || bad "c2: ucl has no forwarded line for $ln"
	wait_empty ucl queue 20 || bad "c2: ucl's queue/ not empty"
	if tail -c +$((errlen + 1)) "$T/cam.err" | grep -q "transfer $tid resumed after commit: '$camname' already stored"; then
		ok "c2: ucl's resumption answered 'already stored' with its own $camname"
	else
		bad "c2: no 'already stored' answer naming $camname to ucl's resumption"
	fi
	wait_msgid cam linington evil3 1 20
	once del.1@ucl c2
	forwarded_from_ucl "$ln" c2
	once evil2 "c2 (the stranger's own letter)"
	once evil3 "c2 (the stranger's own letter without copy identity)"
	stop_node ucl || bad "c2: ucl did not stop"

	# 3. no copy identity, no resumption
	letter nocopy1 linington@cam
	send --calling evil --tid 901 --file "$T/pub/nocopy1.letter"
	[ "$src" -eq 0 ] || bad "c3: a letter without copy identity: $sent1"
	send --calling evil --tid 901 --resume --copy "niftpmail-copy evil/x size=1 crc=00000001"
	expect_refused "c3: resumption with a copy identity of a transfer that had none"
	send --calling evil --tid 901 --resume
	expect_refused "c3: resumption without a copy identity of a transfer that had none"
	wait_msgid cam linington nocopy1 1 20
	once nocopy1 c3
}

# --- d. limits per peer ----------------------------------------------------------------
st() { awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }

part_d() {
	"$CF" flood --to "$P1" --source 127.0.0.2 --connect 64 --batch 4 --bare 500 --wave 25 \
		--trickle 2 --hold 60 --status-file "$T/flood.st" </dev/null >"$T/flood.out" 2>"$T/flood.err" &
	flood=$!
	pids="$pids $flood"
	_i=0
	while [ "$(st "$T/flood.st" settled)" != 1 ] && [ $_i -lt 300 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	[ "$(st "$T/flood.st" settled)" = 1 ] ||
		bad "d: the flood did not settle within 30 s: $(tr '\n' ' ' <"$T/flood.st" 2>/dev/null)"
	note "d: flood from 127.0.0.2: $(st "$T/flood.st" calls_accepted) calls accepted and trickling, $(st "$T/flood.st" bare_open) of 500 idle connections open"
	for n in 1 2 3; do
		letter "flood$n" linington@cam "flood$n@far"
		peer_put "flood$n" "$P1" ucl-link 'link secret; ucl # cam'
		expect_rc "d: the peer ucl's letter $n under the flood (${put_ms} ms)" 0
	done
	for n in 1 2 3; do
		wait_msgid cam linington "flood$n" 1 20 && wait_relayed "flood$n" ||
			bad "d: flood$n not delivered and relayed within 20 s"
	done
	[ "$(st "$T/flood.st" calls_open)" -ge 1 ] 2>/dev/null &&
		ok "d: the flood still held $(st "$T/flood.st" calls_open) trickling calls and $(st "$T/flood.st" bare_open) idle connections" ||
		bad "d: the flood held no call any more: $(tr '\n' ' ' <"$T/flood.st")"
	kill "$flood" 2>/dev/null
	wait "$flood" 2>/dev/null
	forget "$flood"
}

# d2. max_calls_per_peer 1: the peer's transfer crawls through a slow proxy
# from 127.0.0.11; its second, from 127.0.0.1, is refused "try later"
part_d2() {
	rm -f "$T/proxy.ready"
	"$CF" proxy --listen tcp:127.0.0.1:0 --to "$P1" --source 127.0.0.11 --rate 2000 \
		--ready-file "$T/proxy.ready" --max-time 60 </dev/null >"$T/proxy.out" 2>"$T/proxy.err" &
	proxy=$!
	pids="$pids $proxy"
	wait_file "$T/proxy.ready" 10 || { bad "d2: connflood proxy not ready: $(tail -2 "$T/proxy.err")"; return; }
	letter slow1 linington@cam
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "line %d of a letter that crawls through a slow proxy\n", i }' \
		>>"$T/pub/slow1.letter"
	timeout 60 "$NIFTP" put -v --retries 0 --timeout 40 --called FTP.MAIL --calling ucl \
		--user ucl-link --password 'link secret; ucl # cam' "$T/pub/slow1.letter" "$(head -1 "$T/proxy.ready")" \
		</dev/null >"$T/slow1.put.out" 2>"$T/slow1.put.err" &
	slow=$!
	pids="$pids $slow"
	_i=0
	while ! grep -q 'transfer agreed' "$T/slow1.put.err" 2>/dev/null && [ $_i -lt 100 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	grep -q 'transfer agreed' "$T/slow1.put.err" || bad "d2: the slow transfer did not start within 10 s: $(tail -2 "$T/slow1.put.err")"
	letter second1 linington@cam
	peer_put second1 "$P1" ucl-link 'link secret; ucl # cam'
	expect_rc "d2: the peer's second transfer while one runs (max_calls_per_peer 1)" 75
	case $put_err in
	*"too many transfers from peer ucl at once (max_calls_per_peer 1)"*) ;;
	*) bad "d2: the refusal says '$put_err'" ;;
	esac
	stop "$proxy"
	kill "$slow" 2>/dev/null
	wait "$slow" 2>/dev/null
	forget "$slow"
	# the slot is free again once cam has seen the slow call end (bounded)
	_i=0
	while :; do
		peer_put second1 "$P1" ucl-link 'link secret; ucl # cam'
		[ "$put_rc" -eq 0 ] || [ $_i -ge 50 ] && break
		_i=$((_i + 1))
		sleep 0.1
	done
	expect_rc "d2: the peer's letter once its other call ended" 0
	wait_msgid cam linington second1 1 20 || bad "d2: second1 not delivered"
	[ "$(received slow1)" -eq 0 ] || bad "d2: the interrupted slow letter was received"
}

if [ -n "$stranger" ]; then
	part_a
else
	note "a: skipped (no stranger)"
fi
part_b
if [ -n "$stranger" ]; then
	part_c
else
	note "c: skipped (no stranger)"
fi
part_d
part_d2

# --- the end ----------------------------------------------------------------------------
stop_node cam || bad "cam did not stop"
[ "$node_rc" = 0 ] || bad "cam exit status $node_rc"
nd=$( (journal cam; journal ucl) | grep -cE ' (ndn|failed|dead|corrupt) ')
[ "$nd" -eq 0 ] && ok "no ndn/failed/dead/corrupt line (no backscatter)" ||
	bad "$nd ndn/failed/dead/corrupt lines: $( (journal cam; journal ucl) | grep -E ' (ndn|failed|dead|corrupt) ' | head -3)"
# refusals are journalled once per burst (written at the latest at stop)
jcount cam 'refused - from=127\.0\.0\.1 reason="authentication failed"' | grep -qv '^0$' &&
	ok "journal: $(journal cam | grep 'reason="authentication failed"' | tail -1 | cut -d' ' -f2-)" ||
	bad "no journal line for the refused credentials"
jcount cam 'refused - from=127\.0\.0\.1 reason="max_calls_per_peer 1"' | grep -qv '^0$' ||
	bad "no journal line for max_calls_per_peer"
if [ -n "$stranger" ]; then
	jcount cam 'refused - from=127\.0\.0\.1 reason="accept=peers"' | grep -qv '^0$' ||
		bad "no journal line for the refusal on the accept=peers listener"
fi
note "t_peers took $(($(date +%s) - t_start)) s"
relay_finish
