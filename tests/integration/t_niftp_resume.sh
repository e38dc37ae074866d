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
. "$top/tests/integration/lib.sh"
BIN=$NIFTP
t_setup t_niftp_resume
need "$BIN"

# start_serve TAG LISTEN [ENV=VALUE...] - start a server on $T/D.
# Sets spid and addr.
start_serve() {
	_st=$1
	_sl=$2
	shift 2
	serve "$_st" "$@" -- --listen "$_sl" --dir "$T/D" --checkpoint 4M --log "$T/serve.log"
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
	one_copy "cut by $side" "$T/big" "$T/D" "$(cat "$T/put.out")"
	wire_ok "cut by $side" $SIZE_BIG 130
	stop "$spid"
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
	[ $rc -eq 0 ] || { bad "$label: put exit $rc: $(tail -3 "$T/put.err")"; stop "$spid"; return; }
	grep -q "resuming" "$T/put.err" && ok "$label: put resumed" \
		|| bad "$label: no resumption"
	one_copy "$label" "$T/f32" "$T/D" "$(cat "$T/put.out")"
	wire_ok "$label" $SIZE_32 200
	stop "$spid"
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
one_copy "cut after ER" "$T/f32" "$T/D" "$(cat "$T/put.out")"
wire_ok "cut after ER" $SIZE_32 110
n=$(grep -c "result=ok" "$T/serve.log")
[ "$n" -eq 1 ] && ok "cut after ER: one transfer completed on the server" \
	|| bad "cut after ER: $n ok transfers logged"
stop "$spid"

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
	one_copy "reset by $side" "$T/f32" "$T/D" "$(cat "$T/put.out")"
	wire_ok "reset by $side" $SIZE_32 150
	stop "$spid"
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
stop "$spid"

# --- 10: a half-open call is superseded by the resumption -----------------------------------
reset_dir
start_serve hang tcp:127.0.0.1:0
env NIFTPMAIL_HOOK=call-hang:50 $PUT "$T/f32" "$addr" >"$T/put.out" 2>"$T/put.err"
rc=$?
[ $rc -eq 0 ] || bad "half-open call: put exit $rc: $(tail -3 "$T/put.err")"
grep -q "resumes on a new call" "$T/serve.log" && ok "half-open call: the older call was ended" \
	|| bad "half-open call: no supersede logged"
one_copy "half-open call" "$T/f32" "$T/D" "$(cat "$T/put.out")"
wire_ok "half-open call" $SIZE_32 150
stop "$spid"

# --- 11: SIGTERM while a transfer is in progress ------------------------------------------
reset_dir
serve term -- --listen tcp:127.0.0.1:0 --dir "$T/D" --checkpoint 1M --grace 0.5
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
# The server must have taken the call and stored data past its first
# checkpoint before the signal: under load the put can give up while its
# octets still wait in the server's socket (or its listen backlog).
i=0
until [ -n "$(find "$T/D/.niftp/partial" -type f -size +1024k 2>/dev/null)" ]; do
	i=$((i + 1))
	[ $i -le 400 ] || { bad "the server never stored 1 MiB of the abandoned transfer"; break; }
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
stop "$ppid"
t_finish
