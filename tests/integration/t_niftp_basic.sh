#!/bin/sh
# t_niftp_basic.sh - niftp put/get/serve end to end on loopback.
#
# One niftp serve on tcp: and unix: (and exec: runs a stdio server per
# call). For each transport, put then get back: an empty file, one byte,
# a text file with a 100 KiB line, and a 100 MiB random binary file, over
# tcp, unix and exec; each copy must be byte-identical. Then
# text/--binary/--compress, the modes (make, replace, append,
# read-remove), and the refusals with their exit codes: --as ../x (65),
# connection refused (69), bad usage (64), unknown called address (67),
# wrong password (77), a file over --max-size (65). rawtcp: (unix-niftp's
# mapping) and many calls at once. Finally SIGTERM stops the server with
# status 0.
#
# Everything runs in its own mktemp -d and is stopped by the trap;
# readiness is a bounded poll of --ready-file, never a bare sleep.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib.sh"
BIN=$NIFTP
t_setup t_niftp_basic
need "$BIN"

# expect_rc WANT NAME CMD... - run CMD (stdout to $T/out, stderr to $T/err)
expect_rc() {
	want=$1
	name=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$name (exit $got)"
	else
		bad "$name: got exit $got, want $want"
		sed 's/^/    /' "$T/err" | head -5
	fi
}

# --- test files ---------------------------------------------------------------
F="$T/files"
mkdir -p "$F" "$T/D" "$T/A"
: >"$F/empty"
printf 'x' >"$F/one"
{ head -c 102400 /dev/zero | tr '\0' 'a'; echo; echo "second line"; } >"$F/longline.txt"
head -c 104857600 /dev/urandom >"$F/big.bin" || die "make big.bin"
head -c 8388608 "$F/big.bin" >"$F/mid.bin"
i=0
: >"$F/compressible.txt"
while [ $i -lt 2000 ]; do
	echo "line $i: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	i=$((i + 1))
done >"$F/compressible.txt"

# --- the server -----------------------------------------------------------------
serve main -- --listen tcp:127.0.0.1:0 --listen "unix:$T/s.sock" --dir "$T/D" \
	--log "$T/serve.log"
mpid=$spid
TCP=$addr
UNIX=$(sed -n 2p "$T/ready.main")
EXEC="exec:$BIN serve -q --listen stdio --dir $T/D"
echo "server: $TCP $UNIX"

# roundtrip LABEL ADDR FILE [PUT OPTIONS] - put, check D/N, get back, check
roundtrip() {
	label=$1
	addr=$2
	src=$3
	shift 3
	if ! "$BIN" put -q "$@" "$src" "$addr" >"$T/out" 2>"$T/err"; then
		bad "$label: put exit $?: $(head -3 "$T/err")"
		return
	fi
	n=$(cat "$T/out")
	lines=$(wc -l <"$T/out")
	case "$n" in
	"" | */* | .*) bad "$label: put printed '$n'"; return ;;
	esac
	[ "$lines" -eq 1 ] || { bad "$label: put printed $lines lines"; return; }
	if ! cmp -s "$src" "$T/D/$n"; then
		bad "$label: D/$n differs from $(basename "$src")"
		return
	fi
	rm -f "$T/back"
	if ! "$BIN" get -q "$@" "$addr" "$n" "$T/back" >"$T/out" 2>"$T/err"; then
		bad "$label: get exit $?: $(head -3 "$T/err")"
		return
	fi
	[ -s "$T/out" ] && { bad "$label: get printed on stdout"; return; }
	cmp -s "$src" "$T/back" || { bad "$label: fetched copy differs"; return; }
	ok "$label ($n)"
}

for f in empty one longline.txt big.bin; do
	roundtrip "tcp $f" "$TCP" "$F/$f"
	roundtrip "unix $f" "$UNIX" "$F/$f"
	roundtrip "exec $f" "$EXEC" "$F/$f"
done

# --- data types and compression ------------------------------------------------
roundtrip "tcp --binary mid.bin" "$TCP" "$F/mid.bin" --binary
roundtrip "tcp --binary longline.txt" "$TCP" "$F/longline.txt" --binary
roundtrip "tcp --compress compressible.txt" "$TCP" "$F/compressible.txt" --compress
roundtrip "tcp --compress --binary mid.bin" "$TCP" "$F/mid.bin" --compress --binary
roundtrip "unix --compress longline.txt" "$UNIX" "$F/longline.txt" --compress

# --- modes ---------------------------------------------------------------------------
printf 'first\n' >"$F/m1"
printf 'second version\n' >"$F/m2"
printf 'appended\n' >"$F/m3"

expect_rc 0 "make --as m" "$BIN" put -q --mode make --as m "$F/m1" "$TCP"
[ "$(cat "$T/out")" = m ] && cmp -s "$F/m1" "$T/D/m" && ok "make stored D/m" || bad "make: D/m wrong"
expect_rc 65 "make --as m again is refused" "$BIN" put -q --retries 0 --mode make --as m "$F/m2" "$TCP"
grep -q "exists" "$T/err" && ok "refusal names the reason" || bad "no reason: $(cat "$T/err")"
grep -q "0x1001" "$T/err" && ok "refusal names the state" || bad "no state: $(cat "$T/err")"
cmp -s "$F/m1" "$T/D/m" && ok "D/m unchanged" || bad "D/m changed by a refused make"

expect_rc 0 "replace --as m" "$BIN" put -q --mode replace --as m "$F/m2" "$TCP"
cmp -s "$F/m2" "$T/D/m" && ok "replace stored the new content" || bad "replace: D/m wrong"
expect_rc 65 "replace --as nosuch is refused" "$BIN" put -q --retries 0 --mode replace --as nosuch "$F/m2" "$TCP"
[ -e "$T/D/nosuch" ] && bad "replace created D/nosuch"

expect_rc 0 "append --as m" "$BIN" put -q --mode append --as m "$F/m3" "$UNIX"
cat "$F/m2" "$F/m3" >"$T/want"
cmp -s "$T/want" "$T/D/m" && ok "append appended" || bad "append: D/m wrong"
expect_rc 0 "append --as fresh (makes)" "$BIN" put -q --mode append --as fresh "$F/m3" "$TCP"
cmp -s "$F/m3" "$T/D/fresh" && ok "append made D/fresh" || bad "append-make: D/fresh wrong"
expect_rc 0 "replace-or-make --as m" "$BIN" put -q --as m "$F/m1" "$EXEC"
cmp -s "$F/m1" "$T/D/m" && ok "replace-or-make over exec" || bad "replace-or-make: D/m wrong"

expect_rc 0 "get --mode read-remove" "$BIN" get -q --mode read-remove "$TCP" fresh "$T/fetched"
cmp -s "$F/m3" "$T/fetched" && ok "read-remove fetched" || bad "read-remove: wrong content"
[ -e "$T/D/fresh" ] && bad "read-remove left D/fresh" || ok "read-remove removed D/fresh"
expect_rc 65 "get of a missing file" "$BIN" get -q --retries 0 "$TCP" nosuch "$T/x"
[ -e "$T/x" ] && bad "failed get left $T/x"
ls -a "$T" | grep -q '^\.tmp\.' && bad "failed get left a temporary file"

# --- refusals ---------------------------------------------------------------------------
expect_rc 65 "--as ../x refused" "$BIN" put -q --retries 0 --as ../x "$F/m1" "$TCP"
[ -e "$T/x" ] || [ -e "$T/D/../x" ] && bad "--as ../x wrote outside D" || true
expect_rc 65 "--as .hidden refused" "$BIN" put -q --retries 0 --as .hidden "$F/m1" "$UNIX"
[ -e "$T/D/.hidden" ] && bad "--as .hidden stored D/.hidden"
expect_rc 65 "get ../x refused" "$BIN" get -q --retries 0 "$TCP" ../serve.log "$T/x"

expect_rc 69 "connection refused" "$BIN" put -q --retries 1 --retry-wait 0.1 "$F/one" tcp:127.0.0.1:1
grep -q "tcp:127.0.0.1:1" "$T/err" && ok "message names the peer" || bad "message: $(cat "$T/err")"
expect_rc 69 "no such unix socket" "$BIN" put -q --retries 0 "$F/one" "unix:$T/nosuch.sock"
expect_rc 67 "unknown called address" "$BIN" put -q --retries 0 --called NOSUCH "$F/one" "$TCP"
expect_rc 0 "called FTP.MAIL is answered" "$BIN" put -q --called FTP.MAIL "$F/one" "$TCP"

expect_rc 64 "put without ADDR" "$BIN" put "$F/one"
expect_rc 64 "unknown option" "$BIN" put --nosuch "$F/one" "$TCP"
expect_rc 64 "unknown mode" "$BIN" put --mode nosuch "$F/one" "$TCP"
expect_rc 64 "get with a write mode" "$BIN" get --mode make "$TCP" a "$T/x"
expect_rc 64 "bad address" "$BIN" put "$F/one" "nosuch:addr"
expect_rc 64 "no command" "$BIN"
expect_rc 64 "unknown command" "$BIN" frob
expect_rc 64 "serve without --dir" "$BIN" serve --listen tcp:127.0.0.1:0
expect_rc 0 "--help" "$BIN" --help
expect_rc 0 "put --help" "$BIN" put --help
expect_rc 0 "get --help" "$BIN" get --help
expect_rc 0 "serve --help" "$BIN" serve --help
expect_rc 1 "put of a missing local file" "$BIN" put -q "$T/nosuch" "$TCP"

# --- logins -------------------------------------------------------------------------------
mkdir -p "$T/DA"
printf '# users\nalice:secret\nbob:hunter2\n' >"$T/users"
serve login -- --listen tcp:127.0.0.1:0 --dir "$T/DA" --users "$T/users"
AUTH=$addr
expect_rc 77 "wrong password" "$BIN" put -q --retries 0 --user alice --password wrong "$F/one" "$AUTH"
expect_rc 77 "no login" "$BIN" put -q --retries 0 "$F/one" "$AUTH"
expect_rc 77 "unknown user" "$BIN" put -q --retries 0 --user mallory --password secret "$F/one" "$AUTH"
expect_rc 0 "right password" "$BIN" put -q --user alice --password secret "$F/one" "$AUTH"
n=$(cat "$T/out")
NIFTP_PASSWORD=hunter2 expect_rc 0 "password from NIFTP_PASSWORD" "$BIN" get -q --user bob "$AUTH" "$n" "$T/back"
cmp -s "$F/one" "$T/back" && ok "fetched with a login" || bad "login get: wrong content"

# --- rawtcp, --max-size, many calls at once --------------------------------------------------
mkdir -p "$T/DR"
serve raw -- --listen rawtcp:127.0.0.1:0 --dir "$T/DR" --max-size 10M
RAW=$addr
expect_rc 0 "rawtcp put" "$BIN" put -q "$F/mid.bin" "$RAW"
n=$(cat "$T/out")
cmp -s "$F/mid.bin" "$T/DR/$n" && ok "rawtcp stored an identical copy" || bad "rawtcp copy differs"
expect_rc 0 "rawtcp get" "$BIN" get -q "$RAW" "$n" "$T/back"
cmp -s "$F/mid.bin" "$T/back" && ok "rawtcp fetched an identical copy" || bad "rawtcp get differs"
expect_rc 65 "over --max-size refused" "$BIN" put -q --retries 0 "$F/big.bin" "$RAW"
grep -q "0x1002\|0x1001" "$T/err" && ok "max-size refusal names the state" || bad "$(cat "$T/err")"

cpids=""
i=0
while [ $i -lt 8 ]; do
	"$BIN" put -q "$F/mid.bin" "$TCP" >"$T/conc.$i" 2>"$T/conc.$i.err" &
	cpids="$cpids $!"
	i=$((i + 1))
done
cfail=0
for p in $cpids; do
	wait "$p" || cfail=$((cfail + 1))
done
names=$(cat "$T"/conc.[0-7] | sort -u | wc -l)
[ $cfail -eq 0 ] && [ "$names" -eq 8 ] && ok "8 concurrent puts: 8 distinct names" \
	|| bad "concurrent puts: $cfail failed, $names names"
for i in 0 1 2 3 4 5 6 7; do
	cmp -s "$F/mid.bin" "$T/D/$(cat "$T/conc.$i")" || bad "concurrent put $i: copy differs"
done

# --- the log and a clean stop ---------------------------------------------------------------
nok=$(grep -c "result=ok" "$T/serve.log")
[ "$nok" -ge 20 ] && ok "serve logged $nok transfers" || bad "serve log has $nok ok lines"
grep -q "result=refused" "$T/serve.log" && ok "refusals are logged" || bad "no refusal logged"
kill -TERM "$mpid"
wait_gone "$mpid" 10 || bad "serve did not stop on SIGTERM"
wait "$mpid"
rc=$?
forget "$mpid"
[ "$rc" -eq 0 ] && ok "SIGTERM: serve exit 0" || bad "SIGTERM: serve exit $rc"
[ -e "$T/s.sock" ] && bad "unix socket left behind"
ls "$T/D/.niftp/partial" | grep -q . && bad "partial files left: $(ls "$T/D/.niftp/partial")"

t_finish "$T/serve.main.err"
