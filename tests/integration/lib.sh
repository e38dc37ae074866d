# lib.sh - shell helpers shared by the integration tests (t_niftp_*.sh,
# t_unf_replay.sh, t_vcgw.sh). Source it; POSIX sh:
#
#   top=$(cd "$(dirname "$0")/../.." && pwd)
#   . "$top/tests/integration/lib.sh"
#   t_setup t_name
#
# t_setup NAME makes a temporary directory $T (under $TMPDIR, default
# /tmp) and installs a trap that stops every process whose pid is in
# $pids (SIGCONT, SIGTERM, then SIGKILL after a bounded wait), and the
# processes named by the pid files in $pidfiles, then removes $T (kept
# when T_KEEP=1, for debugging). Every wait is a bounded poll, never a
# sleep used as synchronisation (DESIGN section 11). Helper variables
# start with "_", so a caller's loop variables (i, p, n...) are safe.
#
#   need PROGRAM...          exit 1 unless every PROGRAM is executable
#   wait_ready FILE [SECONDS]   bounded poll until FILE exists and is not
#                            empty (default 20 s); 1 on timeout
#   wait_gone PID [SECONDS]  bounded poll until PID has exited (default
#                            60 s); 1 on timeout
#   forget PID               drop PID from $pids
#   stop PID                 SIGCONT and SIGTERM a process started here,
#                            bounded wait (bad and SIGKILL when it does not
#                            stop), reap it and forget it
#   serve TAG [VAR=VALUE...] -- ARGS...
#                            start "$NIFTP serve ARGS" in the background
#                            with the environment given, --ready-file
#                            $T/ready.TAG and stderr in $T/serve.TAG.err;
#                            wait until it is ready (die if not); sets
#                            spid, and addr to its first listening address
#                            (line N of $T/ready.TAG is the Nth --listen)
#   one_copy LABEL SRC DIR NAME
#                            DIR holds exactly one file, NAME, identical to
#                            SRC, and DIR/.niftp/partial is empty; ok or
#                            bad; 0 when it does
#
# Results: ok TEXT, bad TEXT (counts a failure in $fails), die TEXT (fails
# now), note TEXT, t_finish [LOG...] (prints "NAME: all passed", or the
# failure count and the tail of each LOG, and exits 0 only when nothing
# failed).

: "${top:?lib.sh: set top before sourcing}"
NIFTP="$top/bin/niftp"
pids=""
pidfiles=""
fails=0
t_name=test

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
die() {
	echo "FAIL $*"
	fails=$((fails + 1))
	exit 1
}
note() { echo "     $*"; }

# need PROGRAM... - every program must be built
need() {
	for _x in "$@"; do
		[ -x "$_x" ] || { echo "$t_name: $_x not built"; exit 1; }
	done
}

# t_setup NAME - make $T, install the trap
t_setup() {
	t_name=$1
	T=$(mktemp -d "${TMPDIR:-/tmp}/$t_name.XXXXXX") || exit 1
	trap t_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# stop_all - SIGCONT+SIGTERM every pid in $pids (and pid files in
# $pidfiles), wait a bounded 10 s in all, then SIGKILL what is left
stop_all() {
	for _f in $pidfiles; do
		[ -f "$_f" ] && kill "$(cat "$_f")" 2>/dev/null
	done
	for _p in $pids; do
		kill -CONT "$_p" 2>/dev/null
		kill -TERM "$_p" 2>/dev/null
	done
	_ci=0
	for _p in $pids; do
		while kill -0 "$_p" 2>/dev/null && [ $_ci -lt 200 ]; do
			_ci=$((_ci + 1))
			sleep 0.05
		done
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	pids=""
}

# t_cleanup - stop everything started here, remove $T
t_cleanup() {
	stop_all
	if [ "${T_KEEP:-0}" = 1 ]; then
		echo "$t_name: kept $T"
	else
		rm -rf "$T"
	fi
}

# t_finish [LOG...] - the verdict and the exit status
t_finish() {
	if [ "$fails" -gt 0 ]; then
		echo "$t_name: $fails failures"
		for _f in "$@"; do
			[ -f "$_f" ] || continue
			echo "--- $(basename "$_f")"
			tail -20 "$_f"
		done
		exit 1
	fi
	echo "$t_name: all passed"
	exit 0
}

# wait_ready FILE [SECONDS] - bounded poll until FILE exists and is not empty
wait_ready() {
	_wi=0
	while [ ! -s "$1" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${2:-20} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# wait_gone PID [SECONDS] - bounded poll until PID has exited
wait_gone() {
	_wi=0
	while kill -0 "$1" 2>/dev/null; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${2:-60} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# forget PID - drop a waited-for pid from the cleanup list
forget() {
	_np=""
	for _p in $pids; do
		[ "$_p" = "$1" ] || _np="$_np $_p"
	done
	pids=$_np
}

# stop PID - SIGTERM a process started here and reap it (bounded)
stop() {
	kill -CONT "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
	if ! wait_gone "$1"; then
		bad "process $1 did not stop"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	forget "$1"
}

# serve TAG [VAR=VALUE...] -- ARGS... - a niftp server, ready; spid, addr
serve() {
	_tag=$1
	shift
	rm -f "$T/ready.$_tag"
	(
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			export "$1"
			shift
		done
		[ $# -gt 0 ] && shift
		exec "$NIFTP" serve "$@" --ready-file "$T/ready.$_tag"
	) 2>"$T/serve.$_tag.err" &
	spid=$!
	pids="$pids $spid"
	wait_ready "$T/ready.$_tag" || die "serve $_tag not ready: $(tail -5 "$T/serve.$_tag.err")"
	addr=$(sed -n 1p "$T/ready.$_tag")
}

# one_copy LABEL SRC DIR NAME - DIR holds exactly one file, NAME, equal to SRC
one_copy() {
	_files=$(ls "$3")
	_count=$(ls "$3" | wc -l)
	if [ "$_count" -ne 1 ]; then
		bad "$1: $_count files stored: $_files"
		return 1
	fi
	if [ "$_files" != "$4" ]; then
		bad "$1: stored '$_files' but put printed '$4'"
		return 1
	fi
	if ! cmp -s "$2" "$3/$4"; then
		bad "$1: stored copy differs"
		return 1
	fi
	_left=$(ls -A "$3/.niftp/partial" 2>/dev/null)
	if [ -n "$_left" ]; then
		bad "$1: partial files left: $_left"
		return 1
	fi
	ok "$1: one identical copy ($4)"
	return 0
}
