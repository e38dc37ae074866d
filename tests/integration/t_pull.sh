#!/bin/sh
# t_pull.sh - pull mode (issue 13, INDRA Note 1025 section 4.4; relay/pull.h,
# doc/niftp.md "Pull mode"): the relay ucl keeps the letters of its route
# "cam = pull" until cam calls, reads pull:list and fetches each letter
# with mode read-and-remove; exactly once across crashes of either side.
#
# Network: ucl (routes cam = pull, oxf = pull; [peer cam], [peer oxf];
# local user bennett) and the pullers cam (users lin, kay) and oxf (user
# ann), each with "ucl = niftp unix:ucl.sock" and [peer ucl] holding the
# same username and password as ucl's section for it. Letters are dropped
# at ucl from bennett@ucl. "Listed" is read with niftp get (called
# FTP.MAIL, the peer's credentials) of pull:list: a bounded poll until the
# relay lists what the case expects, before a fetch.
#
#  a. basic: 20 letters (every fourth also to kay@cam, two also to the
#     local bennett@ucl). mailctl fetch says "fetched 20 of 20 listed";
#     each copy is delivered once at cam (lin, kay) and at ucl (bennett);
#     cam's received lines name donor=ucl/NAME and source=pull:ucl; ucl
#     journals 20 "forwarded ... pulled=1" and its queue is empty; cam
#     put 20 pull dockets and dropped all 20 (the relay confirmed); a
#     second fetch says "fetched 0 of 0".
#  b. crash points (three small letters and one of 2 MiB, a fresh network
#     each): the node named exits 99 at the point, is started again, and
#     fetches (bounded) until ucl's queue is empty; then every letter is
#     delivered once, stored once (one received line) and removed once
#     (one forwarded line):
#       relay-after-commit-before-er:1        cam: a fetch after the
#                                             restart only releases what
#                                             was committed ("N held here
#                                             already", N >= 1)
#       relay-pull-removed-before-stopack:1   ucl: what was removed is
#                                             not listed again
#       relay-receive-mid-data:8              cam, its 8th write of data
#                                             (the list's, then letters')
#       relay-forward-mid-data:6              ucl, its 6th read of a copy
#       relay-receive-after-checkpoint:1      cam, with a 6 MiB letter that
#                                             does not compress: the fetch
#                                             resumes from the checkpoint
#       relay-after-commit-before-er:1 again, cam with [retry] docket_keep
#                                             = 1s and restarted 2 s later:
#                                             its pull dockets are not
#                                             pruned (the relay did not
#                                             confirm), so nothing twice
#     and the big letter's body arrives intact.
#  c. soak: 500 letters queued at ucl (every fifth with 48 KB that do not
#     compress); cam fetches on its schedule ([pull] from = ucl, every =
#     1s, max_calls = 2) and is stopped up to 8 times at a random moment
#     50-400 ms after it started (its pass starts at once), then
#     restarted: SIGKILL, except every fourth time SIGTERM (it must stop
#     cleanly, status 0); ucl is killed too every third time, and stopped
#     with SIGTERM the fourth; only while letters remain (a pass takes
#     about 500 letters a second here: 3 to 8 stops land). Then both run,
#     cam fetches until ucl's queue is empty (bounded), and every
#     Message-ID is in exactly one Maildir file at cam, with 500 received
#     and 500 forwarded lines.
#  d. strangers: a caller without credentials (as nobody when the test
#     runs as root, and as root: local submission), or with cam's user
#     name and a wrong password, reading pull:list or a letter is refused
#     (exit 77), nothing is removed; the peer oxf reads a list of only its
#     own letters, its read of one of cam's letters is refused (65), its
#     fetch takes only its own (a letter to both cam and oxf reaches each
#     once); cam then fetches all of its letters.
#  e. hold: a held letter is not listed nor fetched; released, it is
#     listed as the same copy (identity) as before, and the next fetch
#     takes it.
#  f. give-up: at a relay with [retry] warn = 1s, give_up = 3s, a letter
#     for a pull peer that never calls is warned about once, then fails
#     "did not call for it (pull)" and one NDN saying so reaches the
#     sender.
#  g. more than one list: 1100 letters wait, a list holds 1000
#     (PULL_LIST_MAX): one fetch says "fetched 1100 of 1100 listed" (the
#     pass reads the list again once its first 1000 are fetched), each
#     delivered once.
# PULL_CASES="a b ..." runs only those cases (default all); PULL_SOAK,
# PULL_SOAK_KILLS and PULL_LONG change the numbers of c and g.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_pull

[ -x "$NIFTP" ] || die "no $NIFTP (make all)"
CASES=${PULL_CASES:-a b c d e f g}
t_start=$(date +%s)

# --- strangers: callers that are neither peers nor local ------------------------------
# the stranger writes what it gets (nothing, we hope) into $T/pub
stranger_setup 777

# --- the network ---------------------------------------------------------------------
printf 'cam link secret\n' >"$T/cam.pw"
printf 'oxf link secret\n' >"$T/oxf.pw"
chmod 600 "$T"/*.pw

# ucl_ini [TEXT] - the relay; TEXT is added (e.g. a [retry] give_up)
ucl_ini() {
	node_ini ucl <<EOF
[routes]
cam = pull
oxf = pull

[peer cam]
username = cam-link
password_file = $T/cam.pw

[peer oxf]
username = oxf-link
password_file = $T/oxf.pw

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[limits]
# refusals of d come at once (t_peers tests the delay)
auth_fail_delay = 0s

${1:-}
EOF
}

# puller_ini NAME USERS [TEXT] - a node that collects its letters at ucl
puller_ini() {
	node_ini "$1" <<EOF
[routes]
ucl = niftp $(sock ucl)

[peer ucl]
username = $1-link
password_file = $T/$1.pw

[local]
maildir = $(mdir "$1")/%u/
users = $2

${3:-}
EOF
}

# fresh - stop every node, forget their spools and mail
fresh() {
	for _n in ucl cam oxf; do
		stop_node "$_n" || bad "$_n did not stop"
		rm -rf "${T:?}/$_n" "$T/$_n.out" "$T/$_n.err" "$T/$_n.ini"
	done
	rm -rf "${T:?}/letters"
	mkdir "$T/letters"
}

# fetch NODE - "mailctl fetch ucl" at NODE: fout its output, frc its status,
# fn/fl/fh the numbers fetched, listed, held here already (-1: no such line)
fetch() {
	fout=$(timeout 60 "$MAILCTL" -c "$T/$1.ini" fetch ucl 2>&1)
	frc=$?
	fn=$(printf '%s\n' "$fout" | sed -n 's/.*fetched \([0-9]*\) of .*/\1/p' | head -1)
	fl=$(printf '%s\n' "$fout" | sed -n 's/.*fetched [0-9]* of \([0-9]*\) listed.*/\1/p' | head -1)
	fh=$(printf '%s\n' "$fout" | sed -n 's/.*(\([0-9]*\) held here already).*/\1/p' | head -1)
	fn=${fn:--1}
	fl=${fl:--1}
	fh=${fh:--1}
}

# listed PEER - the letters ucl lists for PEER (its own credentials), in
# $T/list.PEER; prints their number, or -1 when the list was not read
listed() {
	rm -f "$T/list.$1"
	if NIFTP_PASSWORD=$(cat "$T/$1.pw") "$NIFTP" get -q --retries 0 --called FTP.MAIL \
	    --user "$1-link" "$(sock ucl)" pull:list "$T/list.$1" 2>>"$T/niftp.err"; then
		wc -l <"$T/list.$1" | tr -d ' '
	else
		echo -1
	fi
}

# wait_listed PEER N [SECONDS] - bounded poll until ucl lists exactly N for PEER
wait_listed() {
	_wl=0
	while [ "$(listed "$1")" != "$2" ]; do
		_wl=$((_wl + 1))
		[ $_wl -le $((${3:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# queued NODE - the letters in NODE's queue: 0 when "the queue is
# empty", 999999 when mailctl could not say
queued() {
	_qo=$(timeout 30 "$MAILCTL" -c "$T/$1.ini" queue 2>&1)
	case $_qo in
	*"the queue is empty"*) echo 0 ;;
	mailctl:*) echo 999999 ;;
	*) printf '%s\n' "$_qo" | grep -c '^[^ ]' ;;
	esac
}

# fetch_until_empty NODE TRIES - fetch until ucl's queue is empty (a
# fetch may find a letter busy, its cut read not over yet at the relay,
# or not listed yet); fouts gathers the outputs, fheld the letters held
# here already in all; 1 when TRIES fetches did not empty it
fetch_until_empty() {
	_ft=0
	fouts=""
	fheld=0
	while [ "$(queued ucl)" -gt 0 ]; do
		_ft=$((_ft + 1))
		[ $_ft -le "$2" ] || return 1
		fetch "$1"
		fouts="$fouts${fouts:+ | }$fout"
		[ "$fh" -gt 0 ] && fheld=$((fheld + fh))
	done
	return 0
}

# letter NAME ID FROM RCPT... - mkletter into $T/letters/NAME
letter() {
	_ln=$1
	shift
	mkletter "$T/letters/$_ln" "$@"
}

# once NODE USER ID... - each ID in exactly one of USER's files at NODE
once() {
	_on=$1
	_ou=$2
	shift 2
	_ob=0
	for _oi in "$@"; do
		_oc=$(count_msgid "$_on" "$_ou" "$_oi")
		if [ "$_oc" -ne 1 ]; then
			bad "$_oi is in $_oc files of $_ou at $_on, want 1"
			_ob=1
		fi
	done
	return $_ob
}

# --- a. basic --------------------------------------------------------------------------
case_a() {
	fresh
	ucl_ini
	puller_ini cam "lin, kay"
	start_node ucl || die "a: ucl did not start"
	start_node cam || die "a: cam did not start"
	ids=""
	kids=""
	bids=""
	i=1
	while [ $i -le 20 ]; do
		set -- lin@cam
		[ $((i % 4)) -eq 0 ] && { set -- "$@" kay@cam; kids="$kids a.$i@ucl"; }
		case $i in 7 | 14) set -- "$@" bennett@ucl; bids="$bids a.$i@ucl" ;; esac
		letter "a$i" "a.$i@ucl" bennett@ucl "$@"
		drop ucl "$T/letters/a$i" "a$i" || bad "a: drop a$i"
		ids="$ids a.$i@ucl"
		i=$((i + 1))
	done
	wait_listed cam 20 20 || bad "a: ucl lists $(listed cam) letters for cam, want 20"
	[ "$(listed oxf)" = 0 ] || bad "a: ucl lists $(listed oxf) letters for oxf, want 0"
	fetch cam
	if [ "$frc" -eq 0 ] && [ "$fn" = 20 ] && [ "$fl" = 20 ]; then
		ok "a: fetch: $fout"
	else
		bad "a: fetch (status $frc): '$fout', want fetched 20 of 20"
	fi
	# shellcheck disable=SC2086
	for id in $ids; do
		wait_msgid cam lin "$id" 1 20 || bad "a: $id not delivered to lin"
	done
	# shellcheck disable=SC2086
	for id in $kids; do
		wait_msgid cam kay "$id" 1 20 || bad "a: $id not delivered to kay"
	done
	# shellcheck disable=SC2086
	for id in $bids; do
		wait_msgid ucl bennett "$id" 1 20 || bad "a: $id not delivered to bennett@ucl"
	done
	# shellcheck disable=SC2086
	once cam lin $ids && once cam kay $kids && once ucl bennett $bids &&
		ok "a: every copy delivered once (20 to lin, $(echo $kids | wc -w) to kay, $(echo $bids | wc -w) to bennett@ucl)"
	n=$(jcount ucl ' forwarded .* to=cam .*pulled=1')
	[ "$n" -eq 20 ] || bad "a: ucl journals $n forwarded pulled=1, want 20"
	n=$(journal cam | grep ' received ' | grep ' donor=ucl/ucl\.' | grep -c ' source=pull:ucl')
	[ "$n" -eq 20 ] || bad "a: cam journals $n received donor=ucl/NAME source=pull:ucl, want 20"
	n=$(queued ucl)
	[ "$n" -eq 0 ] || bad "a: $n letters still queued at ucl"
	# each pull's docket goes once the relay confirmed its removal
	np=$(jcount cam ' docket .* key="srv pull:ucl [0-9]* [0-9a-f]*" put=')
	wait_journal cam ' docket .* key="srv pull:ucl [0-9]* [0-9a-f]*" del=1' 20 ||
		bad "a: cam dropped $(jcount cam ' docket .* key="srv pull:ucl [^"]*" del=1') pull dockets, want 20"
	[ "$np" -eq 20 ] && ok "a: 20 pull dockets put, and dropped on the relay's confirmation" ||
		bad "a: cam put $np pull dockets, want 20"
	fetch cam
	if [ "$frc" -eq 0 ] && [ "$fn" = 0 ] && [ "$fl" = 0 ]; then
		ok "a: second fetch: $fout"
	else
		bad "a: second fetch (status $frc): '$fout', want fetched 0 of 0"
	fi
	n=$( (journal ucl; journal cam) | grep -cE ' (ndn|failed|dead|corrupt) ')
	[ "$n" -eq 0 ] || bad "a: $n ndn/failed/dead/corrupt lines"
}

# --- b. crash points -------------------------------------------------------------------
# crash_case POINT:N WHO [big|-] [old] - big: the fourth letter is 6 MiB;
# old: cam keeps server dockets for 1 s ([retry] docket_keep), and is
# restarted only when the docket of its crash is older than that
crash_case() {
	cc=$1
	who=$2
	fresh
	ucl_ini
	if [ "${4:-}" = old ]; then
		puller_ini cam "lin" "[retry]
docket_keep = 1s"
	else
		puller_ini cam "lin"
	fi
	if [ "$who" = cam ]; then
		start_node ucl || { bad "$cc: ucl did not start"; return; }
		start_node cam "NIFTPMAIL_CRASH=$cc" || { bad "$cc: cam did not start"; return; }
	else
		start_node ucl "NIFTPMAIL_CRASH=$cc" || { bad "$cc: ucl did not start"; return; }
		start_node cam || { bad "$cc: cam did not start"; return; }
	fi
	ids=""
	for i in 1 2 3 4; do
		letter "b$i" "b.$i@ucl" bennett@ucl lin@cam
		ids="$ids b.$i@ucl"
	done
	if [ "${3:-}" = big ]; then
		# 6 MiB that do not compress: past the first receive checkpoint
		head -c $((4608 * 1024)) /dev/urandom | base64 >>"$T/letters/b4"
	else
		awk 'BEGIN { for (i = 0; i < 30000; i++) printf "%06d the quick brown fox jumps over the lazy dog, 0123456789\n", i }' \
			>>"$T/letters/b4"
	fi
	sed -n '/^Body of b.4@ucl/,$p' "$T/letters/b4" >"$T/letters/b4.body"
	for i in 1 2 3 4; do
		drop ucl "$T/letters/b$i" "b$i" || bad "$cc: drop b$i"
	done
	wait_listed cam 4 20 || bad "$cc: ucl lists $(listed cam) letters for cam, want 4"
	fetch cam
	first="$fout"
	if wait_exit "$who" 30; then
		if [ "$node_rc" -eq 99 ] && grep -q "crash point ${cc%%:*}" "$T/$who.err"; then
			ok "$cc: $who crashed there (exit 99); the fetch said: $first"
		else
			bad "$cc: $who exited with $node_rc, want 99 at the crash point: $(tail -2 "$T/$who.err")"
		fi
	else
		bad "$cc: $who did not reach the crash point within 30 s (fetch: $first)"
		stop_node "$who"
	fi
	if [ "${4:-}" = old ]; then
		# the condition under test is the docket's age: past docket_keep
		sleep 2
	fi
	start_node "$who" || { bad "$cc: $who did not restart"; return; }
	fetch_until_empty cam 5 || bad "$cc: ucl still queues $(queued ucl) after 5 fetches: $fouts"
	note "$cc: after the restart: $fouts"
	if [ "${cc%%:*}" = relay-after-commit-before-er ] && [ "$fheld" -lt 1 ]; then
		bad "$cc: no fetch after the restart said a letter was held here already: $fouts"
	fi
	good=1
	# shellcheck disable=SC2086
	for id in $ids; do
		wait_msgid cam lin "$id" 1 20 || { bad "$cc: $id not delivered"; good=0; }
		r=$(journal cam | grep ' received ' | grep -cF "<$id>")
		[ "$r" -eq 1 ] || { bad "$cc: cam received $id $r times, want 1"; good=0; }
	done
	# shellcheck disable=SC2086
	once cam lin $ids || good=0
	f=$(find_msgid cam lin b.4@ucl | head -1)
	if [ -z "$f" ] || ! sed -n '/^Body of b.4@ucl/,$p' "$f" | cmp -s - "$T/letters/b4.body"; then
		bad "$cc: the big letter's body at cam differs from the one sent"
		good=0
	fi
	if [ "${3:-}" = big ]; then
		if grep -q "resumed from its checkpoint" "$T/cam.err"; then
			note "$cc: $(grep -o "resumed from its checkpoint.*" "$T/cam.err" | head -1)"
		else
			bad "$cc: cam did not resume from its checkpoint"
			good=0
		fi
	fi
	n=$(jcount ucl ' forwarded .* pulled=1')
	[ "$n" -eq 4 ] || { bad "$cc: ucl journals $n forwarded pulled=1, want 4"; good=0; }
	n=$( (journal ucl; journal cam) | grep -cE ' (ndn|failed|dead|corrupt) ')
	[ "$n" -eq 0 ] || { bad "$cc: $n ndn/failed/dead/corrupt lines"; good=0; }
	[ $good = 1 ] && ok "$cc: 4 letters delivered, stored and removed exactly once"
}

case_b() {
	crash_case relay-after-commit-before-er:1 cam
	crash_case relay-pull-removed-before-stopack:1 ucl
	crash_case relay-receive-mid-data:8 cam
	crash_case relay-forward-mid-data:6 ucl
	crash_case relay-receive-after-checkpoint:1 cam big
	# a docket older than docket_keep at the restart is still kept: the
	# relay never confirmed, and would otherwise be fetched from again
	crash_case relay-after-commit-before-er:1 cam - old
}

# --- c. soak ---------------------------------------------------------------------------
SOAK=${PULL_SOAK:-500}
SOAK_KILLS=${PULL_SOAK_KILLS:-8}

# rnd N - a random number 0..N-1
rnd() { echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1)); }

case_c() {
	fresh
	ucl_ini
	puller_ini cam "lin" "[pull]
from = ucl
every = 1s
max_calls = 2"
	# the letters are written into SPOOL/out before ucl starts: no pickup
	# can see one half written
	mkdir -p "$(spooldir ucl)/out"
	head -c 36000 /dev/urandom | base64 >"$T/letters/blob"
	i=1
	while [ $i -le "$SOAK" ]; do
		mkletter "$(spooldir ucl)/out/s$i" "s.$i@ucl" bennett@ucl lin@cam
		# every fifth letter carries 48 KB that do not compress: kills
		# fall inside transfers too
		[ $((i % 5)) -eq 0 ] && cat "$T/letters/blob" >>"$(spooldir ucl)/out/s$i"
		i=$((i + 1))
	done
	c0=$(date +%s)
	start_node ucl || die "c: ucl did not start"
	wait_journal ucl ' routed ' "$SOAK" 60 || bad "c: ucl routed $(jcount ucl ' routed '), want $SOAK"
	n=$SOAK
	[ "$n" -le 1000 ] || n=1000	# PULL_LIST_MAX
	wait_listed cam "$n" 30 || bad "c: ucl lists $(listed cam) letters for cam, want $n"
	note "c: $SOAK letters listed at ucl after $(($(date +%s) - c0)) s"
	c0=$(date +%s)
	start_node cam || die "c: cam did not start"
	k=0
	kills=""
	while [ $k -lt "$SOAK_KILLS" ] && [ "$(jcount cam ' received ')" -lt "$SOAK" ]; do
		k=$((k + 1))
		# chaos: cam's pass starts as it starts; kill it 50-400 ms later
		# (the sleep is the random moment, not a synchronisation)
		ms=$((50 + $(rnd 351)))
		sleep "$(printf '0.%03d' "$ms")"
		if [ $((k % 4)) -eq 2 ]; then
			# a clean stop in the middle of a pass: calls end, no loss
			stop_node cam || bad "c: cam did not stop on SIGTERM (kill $k)"
			[ "$node_rc" -eq 0 ] || bad "c: cam exited with $node_rc on SIGTERM (kill $k)"
			what="cam-TERM@${ms}ms:$(jcount cam ' received ')"
		else
			kill_node cam
			what="cam@${ms}ms:$(jcount cam ' received ')"
		fi
		if [ $((k % 3)) -eq 0 ]; then
			kill_node ucl
			what="$what+ucl"
			start_node ucl || { bad "c: ucl did not restart after kill $k"; break; }
		elif [ $((k % 4)) -eq 0 ]; then
			# the relay stops cleanly while cam's pass may be running
			stop_node ucl || bad "c: ucl did not stop on SIGTERM (kill $k)"
			[ "$node_rc" -eq 0 ] || bad "c: ucl exited with $node_rc on SIGTERM (kill $k)"
			what="$what+ucl-TERM"
			start_node ucl || { bad "c: ucl did not restart after kill $k"; break; }
		fi
		kills="$kills $what"
		start_node cam || { bad "c: cam did not restart after kill $k"; break; }
	done
	note "c: kills (cam@delay:received so far):$kills"
	[ $k -ge 3 ] || note "c: only $k kills before the last letter came"
	running ucl || start_node ucl || die "c: ucl did not start at the end"
	running cam || start_node cam || die "c: cam did not start at the end"
	fetch_until_empty cam 20 || bad "c: ucl still queues $(queued ucl) after 20 fetches: $fouts"
	note "c: last fetches: ${fouts:-none needed}"
	# every Message-ID exactly once at cam; delivery follows the fetch:
	# a bounded wait for the last ones
	_wi=0
	while :; do
		mfiles cam lin | xargs grep -h -i '^message-id:' 2>/dev/null | sort | uniq -c >"$T/soak.ids"
		n=$(wc -l <"$T/soak.ids" | tr -d ' ')
		d=$(awk '$1 != 1' "$T/soak.ids" | wc -l | tr -d ' ')
		if [ "$n" -ge "$SOAK" ] || [ $_wi -ge 100 ]; then
			break
		fi
		sleep 0.1
		_wi=$((_wi + 1))
	done
	if [ "$n" -eq "$SOAK" ] && [ "$d" -eq 0 ]; then
		ok "c: all $SOAK Message-IDs delivered exactly once at cam"
	else
		bad "c: $n distinct Message-IDs at cam (want $SOAK), $d not exactly once: $(awk '$1 != 1' "$T/soak.ids" | head -5 | tr '\n' ' ')"
	fi
	n=$(journal cam | grep ' received ' | grep -c ' source=pull:ucl')
	[ "$n" -eq "$SOAK" ] || bad "c: cam journals $n received from the pull, want $SOAK"
	n=$(jcount ucl ' forwarded .* pulled=1')
	[ "$n" -eq "$SOAK" ] || bad "c: ucl journals $n forwarded pulled=1, want $SOAK"
	n=$(queued ucl)
	if [ "$n" -eq 0 ]; then
		ok "c: nothing left at ucl"
	else
		bad "c: $n letters left at ucl"
	fi
	n=$( (journal ucl; journal cam) | grep -cE ' (ndn|failed|dead|corrupt) ')
	[ "$n" -eq 0 ] || bad "c: $n ndn/failed/dead/corrupt lines"
	note "c: soak of $SOAK letters took $(($(date +%s) - c0)) s after the queue was full"
}

# fetch_own NODE USER - case d: NODE fetches its 4 letters (d.NODE.1-3 and
# d.both), each delivered to USER, 4 files there
fetch_own() {
	fetch "$1"
	if [ "$frc" -eq 0 ] && [ "$fn" = 4 ] && [ "$fl" = 4 ]; then
		ok "d: $1's fetch: $fout"
	else
		bad "d: $1's fetch (status $frc): '$fout', want fetched 4 of 4"
	fi
	for _id in "d.$1.1@ucl" "d.$1.2@ucl" "d.$1.3@ucl" d.both@ucl; do
		wait_msgid "$1" "$2" "$_id" 1 20 || bad "d: $_id not delivered at $1"
	done
	n=$(mfiles "$1" | wc -l)
	[ "$n" -eq 4 ] || bad "d: $n files at $1, want 4"
}

# --- d. strangers ------------------------------------------------------------------------
# stranger_get LABEL COMMAND... - COMMAND (a read into $T/pub/got that
# may not be done) must fail and store nothing
stranger_get() {
	_sl=$1
	shift
	rm -f "$T/pub/got"
	"$@" >"$T/stranger.out" 2>&1
	_sr=$?
	if [ $_sr -ne 0 ] && [ ! -e "$T/pub/got" ]; then
		ok "d: $_sl refused (exit $_sr): $(tail -1 "$T/stranger.out")"
	else
		bad "d: $_sl: exit $_sr, $(ls "$T/pub" | tr '\n' ' '): $(tail -1 "$T/stranger.out")"
	fi
}

case_d() {
	fresh
	ucl_ini
	puller_ini cam "lin"
	puller_ini oxf "ann"
	start_node ucl || die "d: ucl did not start"
	start_node cam || die "d: cam did not start"
	start_node oxf || die "d: oxf did not start"
	for i in 1 2 3; do
		letter "dc$i" "d.cam.$i@ucl" bennett@ucl lin@cam
		letter "do$i" "d.oxf.$i@ucl" bennett@ucl ann@oxf
	done
	letter dboth d.both@ucl bennett@ucl lin@cam ann@oxf
	for f in dc1 dc2 dc3 do1 do2 do3 dboth; do
		drop ucl "$T/letters/$f" "$f" || bad "d: drop $f"
	done
	wait_listed cam 4 20 || bad "d: ucl lists $(listed cam) letters for cam, want 4"
	wait_listed oxf 4 20 || bad "d: ucl lists $(listed oxf) letters for oxf, want 4"
	both=$(journal ucl | grep ' received ' | grep -F '<d.both@ucl>' | awk '{ print $3 }')
	[ -n "$both" ] || bad "d: no name for d.both@ucl at ucl"
	# cam's names are not in oxf's list except the letter to both
	x=$(awk '{ print $1 }' "$T/list.cam" "$T/list.oxf" | sort | uniq -d)
	[ "$x" = "$both" ] || bad "d: names in both lists: '$x', want only '$both'"
	cown=$(awk -v b="$both" '$1 != b { print $1; exit }' "$T/list.cam")
	# strangers: no credentials
	if [ -n "$stranger" ]; then
		stranger_get "nobody's read of pull:list" as_stranger "$NIFTP" get -q --retries 0 \
			--called FTP.MAIL "$(sock ucl)" pull:list "$T/pub/got"
		stranger_get "nobody's read-and-remove of $cown" as_stranger "$NIFTP" get -q --retries 0 \
			--called FTP.MAIL --mode read-remove "$(sock ucl)" "$cown" "$T/pub/got"
		stranger_get "nobody's read-and-remove of $cown as user cam-link (no password)" \
			as_stranger "$NIFTP" get -q --retries 0 --called FTP.MAIL --user cam-link \
			--mode read-remove "$(sock ucl)" "$cown" "$T/pub/got"
	else
		note "d: not root (or no setpriv/runuser): no stranger over the socket"
	fi
	stranger_get "a local caller's read of pull:list" "$NIFTP" get -q --retries 0 \
		--called FTP.MAIL "$(sock ucl)" pull:list "$T/pub/got"
	stranger_get "a local caller's read-and-remove of $cown" "$NIFTP" get -q --retries 0 \
		--called FTP.MAIL --mode read-remove "$(sock ucl)" "$cown" "$T/pub/got"
	stranger_get "cam-link with the wrong password" env NIFTP_PASSWORD=wrong "$NIFTP" get -q \
		--retries 0 --called FTP.MAIL --user cam-link --mode read-remove "$(sock ucl)" \
		"$cown" "$T/pub/got"
	# the peer oxf may not take cam's letter
	stranger_get "oxf's read-and-remove of cam's $cown" env NIFTP_PASSWORD="$(cat "$T/oxf.pw")" \
		"$NIFTP" get -q --retries 0 --called FTP.MAIL --user oxf-link --mode read-remove \
		"$(sock ucl)" "$cown" "$T/pub/got"
	n=$(jcount ucl ' forwarded ')
	[ "$n" -eq 0 ] || bad "d: $n forwarded lines at ucl after the strangers, want 0"
	n=$(listed cam)
	if [ "$n" = 4 ]; then
		ok "d: cam's 4 letters still listed, nothing forwarded"
	else
		bad "d: ucl lists $n for cam after the strangers, want 4"
	fi
	fetch_own oxf ann
	[ "$(listed cam)" = 4 ] || bad "d: ucl lists $(listed cam) for cam after oxf's fetch, want 4"
	fetch_own cam lin
	once cam lin d.cam.1@ucl d.cam.2@ucl d.cam.3@ucl d.both@ucl &&
		once oxf ann d.oxf.1@ucl d.oxf.2@ucl d.oxf.3@ucl d.both@ucl &&
		ok "d: each peer got its own letters, once"
	n=$(queued ucl)
	[ "$n" -eq 0 ] || bad "d: $n letters still queued at ucl"
	note "d: ucl logged $(grep -c 'refused' "$T/ucl.err") refusals"
}

# --- e. hold ------------------------------------------------------------------------------
case_e() {
	fresh
	ucl_ini
	puller_ini cam "lin"
	start_node ucl || die "e: ucl did not start"
	start_node cam || die "e: cam did not start"
	for i in 1 2 3; do
		letter "e$i" "e.$i@ucl" bennett@ucl lin@cam
		drop ucl "$T/letters/e$i" "e$i" || bad "e: drop e$i"
	done
	wait_listed cam 3 20 || bad "e: ucl lists $(listed cam) letters for cam, want 3"
	held=$(journal ucl | grep ' received ' | grep -F '<e.2@ucl>' | awk '{ print $3 }')
	out=$(timeout 30 "$MAILCTL" -c "$T/ucl.ini" hold "$held" 2>&1) ||
		bad "e: hold $held: $out"
	grep -q "$held" "$T/list.cam" || bad "e: $held was not listed before the hold"
	grep "^$held " "$T/list.cam" >"$T/held.before"
	wait_listed cam 2 10 || bad "e: ucl lists $(listed cam) letters for cam after the hold, want 2"
	grep -q "$held" "$T/list.cam" && bad "e: the held $held is listed"
	fetch cam
	if [ "$frc" -eq 0 ] && [ "$fn" = 2 ] && [ "$fl" = 2 ]; then
		ok "e: fetch with $held held: $fout"
	else
		bad "e: fetch with $held held (status $frc): '$fout', want fetched 2 of 2"
	fi
	wait_msgid cam lin e.1@ucl 1 20 || bad "e: e.1@ucl not delivered"
	wait_msgid cam lin e.3@ucl 1 20 || bad "e: e.3@ucl not delivered"
	[ "$(count_msgid cam lin e.2@ucl)" -eq 0 ] || bad "e: the held e.2@ucl was delivered"
	[ "$(queued ucl)" -eq 1 ] || bad "e: $(queued ucl) letters at ucl, want 1 (held)"
	out=$(timeout 30 "$MAILCTL" -c "$T/ucl.ini" release "$held" 2>&1) ||
		bad "e: release $held: $out"
	wait_listed cam 1 10 || bad "e: ucl lists $(listed cam) letters after the release, want 1"
	# the same copy (identity) as before the hold: a peer holding it
	# already would otherwise take it twice
	cmp -s "$T/held.before" "$T/list.cam" ||
		bad "e: $held listed as another copy after the release: '$(cat "$T/held.before")' then '$(cat "$T/list.cam")'"
	fetch cam
	if [ "$frc" -eq 0 ] && [ "$fn" = 1 ] && [ "$fl" = 1 ]; then
		ok "e: fetch after the release: $fout"
	else
		bad "e: fetch after the release (status $frc): '$fout', want fetched 1 of 1"
	fi
	wait_msgid cam lin e.2@ucl 1 20 || bad "e: e.2@ucl not delivered after the release"
	once cam lin e.1@ucl e.2@ucl e.3@ucl && ok "e: 3 letters delivered once"
	[ "$(queued ucl)" -eq 0 ] || bad "e: $(queued ucl) letters still at ucl"
}

# --- f. give-up --------------------------------------------------------------------------
case_f() {
	fresh
	ucl_ini "[retry]
first = 1s
max = 1s
warn = 1s
give_up = 3s"
	start_node ucl || die "f: ucl did not start"
	letter f1 f.1@ucl bennett@ucl lin@cam
	drop ucl "$T/letters/f1" f1 || bad "f: drop f1"
	if wait_journal ucl ' failed .*did not call for it \(pull\)' 1 15; then
		l=$(journal ucl | grep ' failed ' | grep 'did not call for it (pull)' | head -1)
		ok "f: ${l#* }"
	else
		bad "f: no failed line 'did not call for it (pull)' within 15 s: $(journal ucl | grep -E ' (failed|ndn) ' | head -2)"
	fi
	wait_journal ucl ' ndn ' 1 10 || bad "f: no ndn line at ucl"
	n=$(jcount ucl ' warned ')
	[ "$n" -eq 1 ] || bad "f: $n warned lines at ucl, want 1 (warn = 1s)"
	n=$(jcount ucl ' ndn ')
	[ "$n" -eq 1 ] || bad "f: $n ndn lines at ucl, want 1"
	wait_header ucl bennett Subject 'Undelivered letter' 1 10
	nd=$(find_header ucl bennett Subject 'Undelivered letter')
	if [ "$(count_header ucl bennett Subject 'Undelivered letter')" -eq 1 ] &&
	    grep -q 'did not call for it (pull)' "$nd"; then
		ok "f: one delay warning and one NDN (did not call for it) reached bennett@ucl"
	else
		bad "f: not one NDN saying 'did not call for it (pull)' for bennett@ucl"
	fi
	[ "$(queued ucl)" -eq 0 ] || bad "f: $(queued ucl) letters still at ucl"
}

# --- g. more than one list ---------------------------------------------------------------
LONG=${PULL_LONG:-1100}

case_g() {
	fresh
	ucl_ini
	puller_ini cam "lin"
	# written before ucl starts, as in c
	mkdir -p "$(spooldir ucl)/out"
	i=1
	while [ $i -le "$LONG" ]; do
		mkletter "$(spooldir ucl)/out/g$i" "g.$i@ucl" bennett@ucl lin@cam
		i=$((i + 1))
	done
	start_node ucl || die "g: ucl did not start"
	start_node cam || die "g: cam did not start"
	wait_journal ucl ' routed ' "$LONG" 60 || bad "g: ucl routed $(jcount ucl ' routed '), want $LONG"
	# a list holds at most PULL_LIST_MAX (1000) letters
	_wi=0
	while [ "$(listed cam)" -lt 1000 ] && [ $_wi -lt 300 ]; do
		sleep 0.1
		_wi=$((_wi + 1))
	done
	n=$(listed cam)
	[ "$n" -eq 1000 ] || bad "g: ucl lists $n of $LONG letters, want 1000 (PULL_LIST_MAX)"
	# every copy fixed (its envelope saved queued again, "next 0"): all
	# of them are in the lists the pass reads
	_wi=0
	while [ "$(jcount ucl ' docket .*_f_cam" put=.*next 0')" -lt "$LONG" ] && [ $_wi -lt 100 ]; do
		sleep 0.1
		_wi=$((_wi + 1))
	done
	fetch cam
	if [ "$frc" -eq 0 ] && [ "$fl" -gt 1000 ] && [ "$fn" = "$fl" ]; then
		ok "g: one pass over two lists: $fout"
	else
		bad "g: fetch (status $frc): '$fout', want fetched $LONG of $LONG"
	fi
	[ "$fl" = "$LONG" ] || note "g: the pass listed $fl of $LONG (copies not all fixed?)"
	fetch_until_empty cam 3 || bad "g: ucl still queues $(queued ucl) after 3 more fetches: $fouts"
	wait_journal cam ' delivered ' "$LONG" 30 || bad "g: cam delivered $(jcount cam ' delivered '), want $LONG"
	mfiles cam lin | xargs grep -h -i '^message-id:' 2>/dev/null | sort | uniq -c >"$T/long.ids"
	n=$(wc -l <"$T/long.ids" | tr -d ' ')
	d=$(awk '$1 != 1' "$T/long.ids" | wc -l | tr -d ' ')
	if [ "$n" -eq "$LONG" ] && [ "$d" -eq 0 ]; then
		ok "g: all $LONG Message-IDs delivered exactly once at cam"
	else
		bad "g: $n distinct Message-IDs at cam (want $LONG), $d not exactly once"
	fi
	n=$(queued ucl)
	[ "$n" -eq 0 ] || bad "g: $n letters left at ucl"
}

for c in $CASES; do
	before=$fails
	case_t0=$(date +%s)
	"case_$c"
	note "case $c: $(($(date +%s) - case_t0)) s"
	if [ "$fails" -gt "$before" ]; then
		for nd in ucl cam oxf; do
			[ -d "$(ndir "$nd")" ] && dump_node "$nd"
		done
	fi
done
for nd in ucl cam oxf; do
	stop_node "$nd" || bad "$nd did not stop"
done
note "t_pull: $(($(date +%s) - t_start)) s in all"
relay_finish
