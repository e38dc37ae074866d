#!/usr/bin/env bash
# shellcheck disable=SC2317	# functions run from traps
# peers_wrap.sh - run the measured relay of ../shared/bench/niftpmail-relay.sh
# under a wrapper (its WRAP_B), for tests/bench/peers.sh.
#
#   peers_wrap.sh strace OUT CMD...   CMD under strace -ff (one file per
#                                     thread, OUT.tr.TID), the syscalls that
#                                     create inodes, sync, link and rename
#   peers_wrap.sh cpu OUT CMD...      CMD alone
#
# Both write OUT.cpu: "PID UTIME STIME" in clock ticks, for CMD's process
# (all threads), when the wrapper is told to stop. On SIGTERM or SIGINT the signal
# goes to CMD itself, not to strace: strace, told to stop, detaches and
# leaves the relay running after the shared script has removed its spool.
# Exits when CMD has exited (strace exits with it).
set -u
[ $# -ge 3 ] || { echo "usage: $0 strace|cpu OUT CMD..." >&2; exit 2; }
mode=$1
out=$2
shift 2
SYSCALLS=openat,open,creat,mkdir,mkdirat,fsync,fdatasync,sync_file_range,syncfs
SYSCALLS=$SYSCALLS,link,linkat,unlink,unlinkat,rename,renameat,renameat2

case $mode in
strace)
	strace -qq -ff -o "$out.tr" -e trace="$SYSCALLS" -e signal=none -- "$@" &
	;;
cpu)
	"$@" &
	;;
*)
	echo "$0: unknown mode '$mode'" >&2
	exit 2
	;;
esac
top=$!

# cmdpid - the pid of CMD: the wrapper's child, or strace's child
cmdpid() {
	if [ "$mode" = cpu ]; then
		echo "$top"
	else
		head -c 64 "/proc/$top/task/$top/children" 2>/dev/null | awk '{ print $1 }'
	fi
}

stop() {
	local p
	p=$(cmdpid)
	[ -n "$p" ] || return
	# fields 14, 15 once the command name, field 2, has been cut off (it may hold spaces)
	sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk -v p="$p" '{ print p, $12, $13 }' >"$out.cpu"
	kill -TERM "$p" 2>/dev/null
}
trap stop TERM INT HUP

# wait returns early when a trapped signal arrives; keep waiting until CMD
# (and strace with it) has gone
rc=0
while kill -0 "$top" 2>/dev/null; do
	wait "$top"
	rc=$?
done
exit $rc
