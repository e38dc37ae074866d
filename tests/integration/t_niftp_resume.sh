#!/bin/sh
# t_niftp_resume.sh - niftp: crashes, cut calls and resets end in exactly
# one identical stored copy.
#
# Every fault is placed with an explicit hook (util/crash.h), never by
# timing:
#   NIFTPMAIL_CRASH=NAME[:N]  the process _exits(99) at a crash point
#   NIFTPMAIL_HOOK=NAME[:N]   the call cuts itself (call-cut), drops the
#                             call after ER(OK) before STOP
#                             (call-cut-after-er), or sends a transport
#                             RESET (call-reset), once, at the Nth time
#
# Scenarios:
#  1. a call cut by the server in the middle of a 100 MiB transfer: put
#     resumes; one identical copy; well under twice the file's octets sent.
#  2. the same cut by the client.
#  3. serve crashes after its 2nd durable checkpoint, is restarted on the
#     same port; put resumes from the checkpoint.
#  4. serve crashes at its 3rd write (before any checkpoint): the resumed
#     transfer restarts from mark 0; still one copy.
#  5. the client drops the call between ER(OK) and STOP: it resumes with
#     mark 0xFFFF and gets the same name; nothing is stored twice.
#  6. serve crashes after the commit is durable but before ER(OK); and
#  7. after the rename but before the docket says "committed" (recovered
#     from the inode): both resume to the same name, one copy.
#  8. a transport RESET mid-data (either side) restarts from a mark
#     within the call.
#  9. get resumes after a cut, and read-remove removes only at the end.
# 10. the client abandons a call without closing it (half-open): the
#     server still holds it when the resumption arrives, ends the older
#     call (the newer wins) and answers once the file is released.
# 11. SIGTERM with a transfer in progress: after --grace the call is cut,
#     its docket made durable, and serve exits 0.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$top/bin/niftp"
[ -x "$BIN" ] || { echo "t_niftp_resume: $BIN not built"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/t_niftp_resume.XXXXXX") || exit 1
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
die() { echo "FAIL $*"; exit 1; }

# wait_ready FILE - bounded poll until FILE exists and is not empty
wait_ready() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
	return 0
}

# wait_gone PID - bounded poll until PID has exited (60 s)
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 1200 ] || return 1
		sleep 0.05
	done
	return 0
}

# start_serve TAG LISTEN [ENV=VALUE...] -- start a server on $T/D.
# Sets spid and addr.
start_serve() {
	tag=$1
	listen=$2
	shift 2
	rm -f "$T/ready.$tag"
	env "$@" "$BIN" serve --listen "$listen" --dir "$T/D" --checkpoint 4M \
		--ready-file "$T/ready.$tag" --log "$T/serve.log" 2>"$T/serve.$tag.err" &
	spid=$!
	pids="$pids $spid"
	wait_ready "$T/ready.$tag" || die "serve $tag not ready: $(cat "$T/serve.$tag.err")"
	addr=$(sed -n 1p "$T/ready.$tag")
}

# stop_serve - SIGTERM the current server and wait for it
stop_serve() {
	kill -TERM "$spid" 2>/dev/null
	wait_gone "$spid" || bad "serve did not stop"
	wait "$spid" 2>/dev/null
}

# one_copy LABEL SRC NAME - D holds exactly one file, NAME, equal to SRC
one_copy() {
	files=$(ls "$T/D")
	count=$(ls "$T/D" | wc -l)
	if [ "$count" -ne 1 ]; then
		bad "$1: $count files stored: $files"
	elif [ "$files" != "$3" ]; then
		bad "$1: stored '$files' but put printed '$3'"
	elif ! cmp -s "$2" "$T/D/$3"; then
		bad "$1: stored copy differs"
	else
		ok "$1: one identical copy ($3)"
	fi
	left=$(ls "$T/D/.niftp/partial")
	[ -z "$left" ] || bad "$1: partial files left: $left"
}

# wire_ok LABEL SIZE LIMIT_PERCENT - octets on the wire from put -v
wire_ok() {
	wire=$(sed -n 's/.*done: \([0-9]*\) octets on the wire.*/\1/p' "$T/put.err" | tail -1)
	if [ -z "$wire" ]; then
		bad "$1: no octet count in put -v output"
	elif [ "$wire" -gt $(($2 / 100 * $3)) ]; then
		bad "$1: $wire octets on the wire for $2 (limit $3%)"
	else
		ok "$1: $wire octets on the wire for a file of $2"
	fi
}

reset_dir() {
	rm -rf "$T/D"
	mkdir -p "$T/D"
	: >"$T/serve.log"
}

PUT="$BIN put -v --retry-wait 0.2 --retries 8"
head -c 104857600 /dev/urandom >"$T/big" || die "make big"
head -c 33554432 "$T/big" >"$T/f32"
SIZE_BIG=104857600
SIZE_32=33554432

# --- 1, 2: cut calls in the middle of 100 MiB --------------------------------------
for side in serve put; do
	reset_dir
	if [ $side = serve ]; then
		start_serve cut tcp:127.0.0.1:0 NIFTPMAIL_HOOK=call-cut:800
		env $PUT "$T/big" "$addr" >"$T/put.out" 2>"$T/put.err"
	else
		start_serve cut tcp:127.0.0.1:0
		env NIFTPMAIL_HOOK=call-cut:800 $PUT "$T/big" "$addr" >"$T/put.out" 2>"$T/put.err"
	fi
	rc=$?
	[ $rc -eq 0 ] || bad "cut by $side: put exit $rc: $(tail -3 "$T/put.err")"
	grep -q "resuming" "$T/put.err" && ok "cut by $side: put resumed" \
		|| bad "cut by $side: no resumption: $(cat "$T/put.err")"
	one_copy "cut by $side" "$T/big" "$(cat "$T/put.out")"
	wire_ok "cut by $side" $SIZE_BIG 130
	stop_serve
done

# --- 3-7: the server crashes and is restarted on the same port --------------------
# crash_case LABEL CRASHPOINT [PUT ENV] - run put against a server that
# crashes at CRASHPOINT, restart the server on the same port, and check.
crash_case() {
	label=$1
	point=$2
	reset_dir
	start_serve crash tcp:127.0.0.1:0 "NIFTPMAIL_CRASH=$point"
	port=${addr##*:}
	crashed=$spid
	$PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err" &
	ppid=$!
	pids="$pids $ppid"
	wait_gone "$crashed" || { bad "$label: serve did not reach $point"; return; }
	wait "$crashed"
	rc=$?
	[ $rc -eq 99 ] && ok "$label: serve crashed at $point" || bad "$label: serve exit $rc"
	start_serve again "tcp:127.0.0.1:$port"
	wait_gone "$ppid" || { bad "$label: put did not finish"; return; }
	wait "$ppid"
	rc=$?
	[ $rc -eq 0 ] || { bad "$label: put exit $rc: $(tail -3 "$T/put.err")"; stop_serve; return; }
	grep -q "resuming" "$T/put.err" && ok "$label: put resumed" \
		|| bad "$label: no resumption"
	one_copy "$label" "$T/f32" "$(cat "$T/put.out")"
	wire_ok "$label" $SIZE_32 200
	stop_serve
}

crash_case "crash after a checkpoint" dirfs-after-checkpoint:2
grep -q "restart mark 0)" "$T/put.err" && bad "resumed from mark 0 after a checkpoint"
crash_case "crash before any checkpoint" dirfs-write:3
crash_case "crash before ER" dirfs-after-commit
grep -q "replace-or-make+resume.*octets=0 .*result=ok" "$T/serve.log" \
	&& ok "crash before ER: nothing sent again" || bad "crash before ER: data sent again"
crash_case "crash between rename and docket" dirfs-after-rename

# --- 5: the call is lost between ES/ER and STOPACK ---------------------------------------
reset_dir
start_serve stop tcp:127.0.0.1:0
env NIFTPMAIL_HOOK=call-cut-after-er $PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err"
rc=$?
[ $rc -eq 0 ] || bad "cut after ER: put exit $rc: $(tail -3 "$T/put.err")"
grep -q "restart mark 65535" "$T/put.err" && ok "cut after ER: resumed with mark 0xFFFF" \
	|| bad "cut after ER: not resumed with 0xFFFF: $(cat "$T/put.err")"
one_copy "cut after ER" "$T/f32" "$(cat "$T/put.out")"
wire_ok "cut after ER" $SIZE_32 110
n=$(grep -c "result=ok" "$T/serve.log")
[ "$n" -eq 1 ] && ok "cut after ER: one transfer completed on the server" \
	|| bad "cut after ER: $n ok transfers logged"
stop_serve

# --- 8: a transport RESET in the middle of the data ---------------------------------------
for side in put serve; do
	reset_dir
	if [ $side = serve ]; then
		start_serve reset tcp:127.0.0.1:0 NIFTPMAIL_HOOK=call-reset:100
		env $PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err"
	else
		start_serve reset tcp:127.0.0.1:0
		env NIFTPMAIL_HOOK=call-reset:100 $PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err"
	fi
	rc=$?
	[ $rc -eq 0 ] || bad "reset by $side: put exit $rc: $(tail -3 "$T/put.err")"
	one_copy "reset by $side" "$T/f32" "$(cat "$T/put.out")"
	wire_ok "reset by $side" $SIZE_32 150
	stop_serve
done

# --- 9: get resumes; read-remove removes at the end only ------------------------------------
reset_dir
cp "$T/f32" "$T/D/src"
start_serve get tcp:127.0.0.1:0
rm -f "$T/got"
env NIFTPMAIL_HOOK=call-cut:100 $BIN get -v --retry-wait 0.2 --mode read-remove \
	"$addr" src "$T/got" >"$T/put.out" 2>"$T/put.err"
rc=$?
[ $rc -eq 0 ] || bad "get after a cut: exit $rc: $(tail -3 "$T/put.err")"
grep -q "resuming" "$T/put.err" && ok "get resumed" || bad "get did not resume"
cmp -s "$T/f32" "$T/got" && ok "get: identical" || bad "get: copy differs"
[ -e "$T/D/src" ] && bad "read-remove left D/src" || ok "read-remove removed D/src at the end"
grep -q "read-remove.*result=suspended" "$T/serve.log" \
	&& ok "the cut read-remove was suspended, not finished" || bad "no suspended read-remove"
ls -a "$T" | grep -q '^\.tmp\.' && bad "get left a temporary file"
stop_serve

# --- 10: a half-open call is superseded by the resumption -----------------------------------
reset_dir
start_serve hang tcp:127.0.0.1:0
env NIFTPMAIL_HOOK=call-hang:50 $PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err"
rc=$?
[ $rc -eq 0 ] || bad "half-open call: put exit $rc: $(tail -3 "$T/put.err")"
grep -q "resumes on a new call" "$T/serve.log" && ok "half-open call: the older call was ended" \
	|| bad "half-open call: no supersede logged"
one_copy "half-open call" "$T/f32" "$(cat "$T/put.out")"
wire_ok "half-open call" $SIZE_32 150
stop_serve

# --- 11: SIGTERM while a transfer is in progress ------------------------------------------
reset_dir
rm -f "$T/ready.term"
"$BIN" serve --listen tcp:127.0.0.1:0 --dir "$T/D" --checkpoint 1M --grace 0.5 \
	--ready-file "$T/ready.term" 2>"$T/serve.term.err" &
spid=$!
pids="$pids $spid"
wait_ready "$T/ready.term" || die "serve term not ready"
addr=$(sed -n 1p "$T/ready.term")
# the put abandons its call and then waits long before retrying, so the
# server holds a half-open call in the data phase
env NIFTPMAIL_HOOK=call-hang:50 "$BIN" put --retries 1 --retry-wait 60 "$T/f32" "$addr" \
	>/dev/null 2>"$T/put.err" &
ppid=$!
pids="$pids $ppid"
i=0
until grep -q "trying again" "$T/put.err"; do
	i=$((i + 1))
	[ $i -le 400 ] || { bad "put did not abandon its call"; break; }
	sleep 0.05
done
grep -q "octets" "$T/serve.term.err" && bad "the abandoned transfer ended before SIGTERM: $(cat "$T/serve.term.err")"
kill -TERM "$spid"
wait_gone "$spid" || bad "SIGTERM with a transfer in progress: serve did not stop"
wait "$spid"
rc=$?
[ $rc -eq 0 ] && ok "SIGTERM with a transfer in progress: exit 0 after the grace time" \
	|| bad "SIGTERM with a transfer in progress: exit $rc"
grep -q "result=suspended" "$T/serve.term.err" && ok "the transfer was suspended" \
	|| bad "the transfer was not suspended: $(cat "$T/serve.term.err")"
if grep -q "^mark [1-9]" "$T"/D/.niftp/dockets/* 2>/dev/null; then
	ok "its docket holds a durable mark"
else
	bad "no docket with a mark"
fi
[ -z "$(ls "$T/D")" ] && ok "nothing visible in D" || bad "D holds $(ls "$T/D")"
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null

if [ $fails -gt 0 ]; then
	echo "t_niftp_resume: $fails failures"
	exit 1
fi
echo "t_niftp_resume: all passed"
exit 0
