# lib-relay.sh - shell helpers for the relay tests, samples/run-relay.sh
# and tests/bench/bench_relay.sh. Source it (". lib-relay.sh"); POSIX sh.
#
# A test calls relay_setup NAME first: it finds the programs, makes a
# temporary directory $T and installs a trap that stops every process
# started here (SIGTERM, then SIGKILL after a bounded wait) and removes
# $T (kept when RELAY_KEEP=1, for debugging). Every wait is a bounded
# poll of a file (SPOOL/ready, the journal, a Maildir), never a sleep
# used as synchronisation (DESIGN section 11).
#
# The caller sets top (the repository) before sourcing; relay_setup NAME
# [PARENT] makes $T under PARENT (default $TMPDIR or /tmp).
#
# Nodes. A node NAME lives in $T/NAME (or $RELAY_NODEDIR/NAME; see ndir):
# its configuration $T/NAME.ini, spool $T/NAME/spool, Maildirs
# $T/NAME/mail/USER, and it listens on unix:$T/NAME.sock (loopback, no
# port to choose or collide with). Helper variables use names starting
# with "_", so a caller's loop variables (n, i, f...) are safe.
#
#   node_ini NAME <<EOF      write $T/NAME.ini: [node] and [listen]
#   [routes] ...             sections for NAME, then the text read
#   EOF                      from standard input
#   node_ini_raw NAME        write $T/NAME.ini from standard input as is
#   sock NAME                prints unix:$T/NAME.sock
#   mdir NAME                prints $T/NAME/mail (the maildir root)
#   start_node NAME [VAR=VALUE...]
#                            start "mailrelayd -f -c $T/NAME.ini" with
#                            the environment given (e.g. NIFTPMAIL_CRASH)
#                            and wait for SPOOL/ready (bounded); 1 if it
#                            did not become ready
#   start_node_nowait NAME [VAR=VALUE...]   the same without the wait
#   stop_node NAME           SIGTERM and a bounded wait; node_rc = status
#   wait_exit NAME [SECONDS] bounded wait until NAME's process ended by
#                            itself (a crash point); node_rc = status
#   kill_node NAME           SIGKILL (no crash point: a power cut)
#   node_pid NAME            prints the pid of the running NAME
#   running NAME             0 if NAME's process is alive
#   ndir NAME, spooldir NAME the node's directory and its spool
#   start_capture NAME       a plain "niftp serve" on unix:$T/NAME.sock
#                            storing into $T/NAME/: a next hop that only
#                            records the bytes it gets; captured NAME
#                            lists them, wait_captured NAME [N] [SECONDS]
#
# Letters and journals.
#   mkletter FILE MSGID FROM RCPT...   a letter to RCPT... (one per line)
#   drop NAME FILE [AS]      rename FILE's copy into SPOOL/out/AS
#   submit NAME FILE         mailctl submit; prints the assigned name
#   journal NAME             prints the journal (rotated files first)
#   jcount NAME ERE          number of journal lines matching ERE
#   wait_journal NAME ERE [N] [SECONDS]   bounded poll until at least N
#                            (default 1) lines match ERE; 1 on timeout
#   jval LINE KEY            the value of KEY=VALUE in a journal line
#                            (quoted values unquoted, escapes kept)
#   count_msgid NAME USER MSGID   Maildir files of USER at NAME whose
#                            header carries MSGID in Message-ID:
#   count_msgid_all NAME MSGID    the same over every Maildir at NAME
#   wait_msgid NAME USER MSGID [N] [SECONDS]   bounded poll until at least
#                            N (default 1) such files are there
#   find_msgid NAME USER MSGID    prints the paths of those files
#   wait_empty NAME DIR [SECONDS]   bounded poll until SPOOL/DIR is empty
#   mfiles NAME [USER]       the Maildir files (new/, cur/) of USER or all
#   header FILE              prints the message header of a Maildir file
#   find_header NAME USER FIELD ERE, count_header ..., wait_header ...
#   [N] [SECONDS]            USER's files whose header has FIELD with a
#                            value matching ERE (e.g. Failed-Letter)
#
# Results: ok TEXT, bad TEXT (counts a failure), die TEXT (fails now),
# relay_finish (prints the nodes' journals and stderr on failure and
# exits 0 only when nothing failed).

: "${top:?lib-relay.sh: set top before sourcing}"
# ok, bad, note, forget and the pids/fails bookkeeping come from lib.sh
. "$top/tests/integration/lib.sh"
RELAYD="$top/bin/mailrelayd"
MAILCTL="$top/bin/mailctl"
RELAY_READY_WAIT=${RELAY_READY_WAIT:-15}	# seconds a node may take to become ready
RELAY_STOP_WAIT=${RELAY_STOP_WAIT:-20}		# seconds a node may take to stop on SIGTERM
nodes=""
relay_test=relay

die() {
	echo "FAIL $*"
	fails=$((fails + 1))
	relay_finish
}

# relay_setup NAME [PARENT] - check the programs, make $T, install the trap
relay_setup() {
	relay_test=$1
	[ -x "$RELAYD" ] || { echo "$relay_test: $RELAYD not built"; exit 1; }
	# the steps that use mailctl fail by themselves when it is missing
	[ -x "$MAILCTL" ] || echo "$relay_test: warning: $MAILCTL not built"
	T=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/$relay_test.XXXXXX") || exit 1
	trap relay_cleanup EXIT
	# PIPE too: a run piped into head(1) must still stop its daemons
	trap 'exit 1' INT TERM HUP PIPE
}

# relay_cleanup - stop everything started here, remove $T
relay_cleanup() {
	stop_all
	if [ "${RELAY_KEEP:-0}" = 1 ]; then
		echo "$relay_test: kept $T"
	else
		rm -rf "$T"
	fi
}

# ndir NAME - the node's directory: $T/NAME, or $RELAY_NODEDIR/NAME when a
# script keeps its nodes elsewhere (samples/run-relay.sh: $T/run)
ndir() { echo "${RELAY_NODEDIR:-$T}/$1"; }
sock() { echo "unix:$T/$1.sock"; }
mdir() { echo "$(ndir "$1")/mail"; }
spooldir() { echo "$(ndir "$1")/spool"; }

# add_node NAME - remember NAME for the diagnostics of relay_finish
add_node() {
	case " $nodes " in
	*" $1 "*) ;;
	*) nodes="$nodes $1" ;;
	esac
}

# node_ini NAME - [node] and [listen] for NAME, then standard input
node_ini() {
	add_node "$1"
	mkdir -p "$(ndir "$1")/mail"
	{
		printf '[node]\nname = %s\nspool = %s\n\n[listen]\nmail = %s\n\n' \
			"$1" "$(ndir "$1")/spool" "$(sock "$1")"
		cat
	} >"$T/$1.ini"
}

# node_ini_raw NAME - $T/NAME.ini from standard input
node_ini_raw() {
	add_node "$1"
	mkdir -p "$(ndir "$1")/mail"
	cat >"$T/$1.ini"
}

node_pid() { eval "echo \${pid_$1:-}"; }

running() {
	_p=$(node_pid "$1")
	[ -n "$_p" ] && kill -0 "$_p" 2>/dev/null
}

# start_node_nowait NAME [VAR=VALUE...] - start NAME in the foreground (-f)
start_node_nowait() {
	_sn=$1
	shift
	add_node "$_sn"
	rm -f "$(ndir "$_sn")/spool/ready"
	_sc=$(($(eval "echo \${starts_$_sn:-0}") + 1))
	eval "starts_$_sn=$_sc"
	# Output to files: a daemon must hold no pipe of ours (make, $(...)).
	env "$@" "$RELAYD" -f -c "$T/$_sn.ini" </dev/null >>"$T/$_sn.out" 2>>"$T/$_sn.err" &
	eval "pid_$_sn=$!"
	pids="$pids $!"
}

# wait_ready NAME - bounded poll for SPOOL/ready naming our pid
wait_ready() {
	_wr=$(node_pid "$1")
	_wi=0
	while :; do
		if [ -s "$(ndir "$1")/spool/ready" ] && grep -qx "pid $_wr" "$(ndir "$1")/spool/ready" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$_wr" 2>/dev/null; then
			wait "$_wr" 2>/dev/null
			echo "$relay_test: node $1 exited (status $?) before it was ready:" >&2
			tail -5 "$T/$1.err" >&2
			forget "$_wr"
			return 1
		fi
		_wi=$((_wi + 1))
		if [ $_wi -gt $((RELAY_READY_WAIT * 20)) ]; then
			echo "$relay_test: node $1 not ready after ${RELAY_READY_WAIT}s:" >&2
			tail -5 "$T/$1.err" >&2
			return 1
		fi
		sleep 0.05
	done
}

# start_node NAME [VAR=VALUE...] - start NAME and wait until it is ready
start_node() {
	start_node_nowait "$@"
	wait_ready "$1"
}

# wait_exit NAME [SECONDS] - bounded wait for NAME to end by itself;
# node_rc gets its status (or 255 on timeout, the process left running)
wait_exit() {
	_we=$(node_pid "$1")
	node_rc=255
	[ -n "$_we" ] || return 1
	_wi=0
	while kill -0 "$_we" 2>/dev/null; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${2:-20} * 20)) ] || return 1
		sleep 0.05
	done
	wait "$_we" 2>/dev/null
	node_rc=$?
	forget "$_we"
	eval "pid_$1="
	return 0
}

# stop_node NAME - SIGTERM, bounded wait, SIGKILL if it will not go;
# node_rc gets its status; 1 if it had to be killed
stop_node() {
	_sp=$(node_pid "$1")
	node_rc=255
	[ -n "$_sp" ] || return 0
	kill -TERM "$_sp" 2>/dev/null
	if wait_exit "$1" "$RELAY_STOP_WAIT"; then
		return 0
	fi
	kill -KILL "$_sp" 2>/dev/null
	wait "$_sp" 2>/dev/null
	forget "$_sp"
	eval "pid_$1="
	echo "$relay_test: node $1 did not stop within ${RELAY_STOP_WAIT}s of SIGTERM (killed)" >&2
	return 1
}

# kill_node NAME - SIGKILL (a power cut without a crash point)
kill_node() {
	_kp=$(node_pid "$1")
	[ -n "$_kp" ] || return 0
	kill -KILL "$_kp" 2>/dev/null
	wait "$_kp" 2>/dev/null
	forget "$_kp"
	eval "pid_$1="
}

# mkletter FILE MSGID FROM RCPT... - write a small letter
mkletter() {
	_ml=$1
	_mm=$2
	_mf=$3
	shift 3
	{
		_mfirst=1
		for _mr in "$@"; do
			[ $_mfirst = 1 ] || printf ',\n'
			printf '%s' "$_mr"
			_mfirst=0
		done
		printf '\n\n'
		printf 'Date: Wed, 25 Nov 2026 12:00:00 +0000\n'
		printf 'From: %s\n' "$_mf"
		printf 'To: %s\n' "$1"
		printf 'Subject: test %s\n' "$_mm"
		printf 'Message-ID: <%s>\n' "$_mm"
		printf '\nBody of %s.\n' "$_mm"
	} >"$_ml"
}

# drop NAME FILE [AS] - put a copy of FILE into NAME's drop directory by rename
drop() {
	_da=${3:-$(basename "$2")}
	mkdir -p "$(ndir "$1")/spool/out" || return 1
	cp "$2" "$(ndir "$1")/spool/out/.$_da.part" && mv "$(ndir "$1")/spool/out/.$_da.part" "$(ndir "$1")/spool/out/$_da"
}

# submit NAME FILE - mailctl submit; prints the name; status of mailctl
submit() {
	timeout 30 "$MAILCTL" -c "$T/$1.ini" submit "$2" 2>>"$T/mailctl.err"
}

# journal NAME - the whole journal, oldest first
journal() {
	_sj="$(ndir "$1")/spool"
	# journal.N (oldest) .. journal.1, then journal
	for _jf in $(ls "$_sj" 2>/dev/null | sed -n 's/^journal\.\([0-9][0-9]*\)$/\1/p' | sort -rn); do
		cat "$_sj/journal.$_jf"
	done
	cat "$_sj/journal" 2>/dev/null
	return 0
}

jcount() {
	journal "$1" | grep -cE -- "$2"
}

# wait_journal NAME ERE [N] [SECONDS] - bounded poll for N matching lines
wait_journal() {
	_wn=${3:-1}
	_wi=0
	while [ "$(jcount "$1" "$2")" -lt "$_wn" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${4:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# jval LINE KEY - the value of KEY in a journal line ("" when absent)
jval() {
	printf '%s\n' "$1" | awk -v k="$2" '{
		s = $0
		p = index(s, " " k "=")
		if (p == 0) exit
		s = substr(s, p + length(k) + 2)
		if (substr(s, 1, 1) == "\"") {
			v = ""; i = 2
			while (i <= length(s)) {
				c = substr(s, i, 1)
				if (c == "\\") { v = v substr(s, i, 2); i += 2; continue }
				if (c == "\"") break
				v = v c; i++
			}
			print v
		} else {
			sub(/ .*/, "", s); print s
		}
	}'
}

# header FILE - the message header of a delivered file: from the first
# header field to the blank line after it (anything before the first
# field, such as an address list, is skipped)
header() {
	awk 'started && /^[ \t\r]*$/ { exit }
		!started && /^[!-9;-~]+[ \t]*:/ { started = 1 }
		started { print }' "$1"
}

# mfiles NAME [USER] - the Maildir files of USER (or of every user) at NAME
mfiles() {
	if [ -n "${2:-}" ]; then
		set -- "$(ndir "$1")/mail/$2"
	else
		set -- "$(ndir "$1")/mail"/*
	fi
	for _md in "$@"; do
		for _msub in new cur; do
			[ -d "$_md/$_msub" ] || continue
			find "$_md/$_msub" -type f
		done
	done
}

# find_msgid NAME USER MSGID - paths of USER's files carrying MSGID
# (USER may be "" for every user). Only the header is looked at, so an
# NDN that quotes the letter does not count as the letter.
find_msgid() {
	mfiles "$1" "$2" | while read -r _ff; do
		if header "$_ff" | grep -qiF "message-id: <$3>"; then
			echo "$_ff"
		fi
	done
}

count_msgid() { find_msgid "$1" "$2" "$3" | wc -l | tr -d ' '; }
count_msgid_all() { find_msgid "$1" "" "$2" | wc -l | tr -d ' '; }

# wait_msgid NAME USER MSGID [N] [SECONDS] - bounded poll for N copies
wait_msgid() {
	_wi=0
	while [ "$(count_msgid "$1" "$2" "$3")" -lt "${4:-1}" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${5:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# find_header NAME USER FIELD ERE - USER's files whose header has FIELD
# with a value matching ERE (case-insensitive)
find_header() {
	mfiles "$1" "$2" | while read -r _ff; do
		if header "$_ff" | grep -qiE "^$3[ \t]*:.*$4"; then
			echo "$_ff"
		fi
	done
}

count_header() { find_header "$@" | wc -l | tr -d ' '; }

# wait_header NAME USER FIELD ERE [N] [SECONDS]
wait_header() {
	_wi=0
	while [ "$(count_header "$1" "$2" "$3" "$4")" -lt "${5:-1}" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${6:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# wait_empty NAME DIR [SECONDS] - bounded poll until SPOOL/DIR holds no file
wait_empty() {
	_wi=0
	while [ -n "$(ls "$(ndir "$1")/spool/$2" 2>/dev/null)" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${3:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# start_capture NAME - a plain "niftp serve" on unix:$T/NAME.sock storing
# what it receives in $T/NAME/ (a next hop that only records the bytes);
# bounded wait for its ready file
start_capture() {
	mkdir -p "$T/$1"
	rm -f "$T/$1.ready"
	"$top/bin/niftp" serve --listen "unix:$T/$1.sock" --dir "$T/$1" --ready-file "$T/$1.ready" \
		</dev/null >"$T/$1.out" 2>"$T/$1.err" &
	eval "pid_$1=$!"
	pids="$pids $!"
	_wi=0
	while [ ! -s "$T/$1.ready" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le 200 ] || { echo "$relay_test: capture $1 not ready: $(tail -3 "$T/$1.err")" >&2; return 1; }
		sleep 0.05
	done
	return 0
}

# captured NAME - the files a capture server stored (names, one a line)
captured() { ls "$T/$1" 2>/dev/null; }

# wait_captured NAME [N] [SECONDS] - bounded poll for N stored files
wait_captured() {
	_wi=0
	while [ "$(captured "$1" | wc -l)" -lt "${2:-1}" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${3:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# dump_node NAME - what a failing test shows about a node
dump_node() {
	echo "--- $1: journal (last 40 lines)"
	journal "$1" | tail -40
	echo "--- $1: stderr (last 20 lines)"
	tail -20 "$T/$1.err" 2>/dev/null
	echo "--- $1: spool"
	(cd "$(ndir "$1")/spool" 2>/dev/null && find . -path ./dockets -prune -o -type f -print |
		grep -v '^\./journal' | sort | head -30)
}

# stranger_setup MODE - a caller that is neither a peer nor local: as root,
# as_stranger runs a command as nobody and $stranger is "yes"; otherwise
# $stranger is empty (the caller notes the cases it leaves out). $T/pub is
# made with MODE for what the stranger reads or writes.
stranger_setup() {
	stranger=""
	if [ "$(id -u)" = 0 ]; then
		_st_uid=$(id -u nobody 2>/dev/null || echo 65534)
		_st_gid=$(id -g nobody 2>/dev/null || echo 65534)
		if command -v setpriv >/dev/null 2>&1 &&
		    setpriv --reuid="$_st_uid" --regid="$_st_gid" --clear-groups true 2>/dev/null; then
			as_stranger() { setpriv --reuid="$_st_uid" --regid="$_st_gid" --clear-groups "$@"; }
			stranger=yes
		elif command -v runuser >/dev/null 2>&1 && runuser -u nobody -- true 2>/dev/null; then
			as_stranger() { runuser -u nobody -- "$@"; }
			stranger=yes
		fi
	fi
	chmod 711 "$T"
	mkdir -m "$1" "$T/pub"
	if [ -n "$stranger" ] && ! as_stranger test -x "$NIFTP"; then
		note "nobody cannot run $NIFTP (mode of $top?)"
		stranger=""
	elif [ -n "$stranger" ] && ! as_stranger test -x "$T/pub"; then
		note "nobody cannot reach $T/pub (mode of ${TMPDIR:-/tmp}?)"
		stranger=""
	fi
}

# relay_finish - report; exit 0 only when nothing failed
relay_finish() {
	if [ "$fails" -gt 0 ]; then
		for _nd in $nodes; do
			dump_node "$_nd"
		done
		[ -s "$T/mailctl.err" ] && { echo "--- mailctl stderr"; tail -10 "$T/mailctl.err"; }
		echo "$relay_test: $fails failures"
		exit 1
	fi
	echo "$relay_test: all passed"
	exit 0
}

# pair_configs [RETRY] - the two-node set-up several scripts share: ucl
# routes cambridge, cambridge routes everything back to ucl, one local
# user each; ucl retries after RETRY (default 1s), cambridge after 1s
pair_configs() {
	node_ini ucl <<EOF
[routes]
cambridge = niftp $(sock cambridge)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = ${1:-1s}
max = ${1:-1s}
EOF
	node_ini cambridge <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington
[retry]
first = 1s
max = 1s
EOF
}
