#!/bin/sh
# t_spool_lock.sh - one daemon per spool (DESIGN section 9; doc/spool.md
# "Layout": SPOOL/lock). A second mailrelayd on a spool that a running
# one holds must exit 75 at once, naming the holder's pid, and leave the
# first one's pid, ready file and control socket alone; a letter put into
# the first is delivered once. Once the first stopped, a new one starts
# on the same spool. A state directory that is a symbolic link is
# refused (exit 78), and the files in the directory it points to are
# left alone (start-up recovery removes files in tmp/); so are a state
# others (or its group) may write, and a spool of another user; out/,
# a drop that may be shared, may be group- or world-writable.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_spool_lock

node_ini ucl <<EOT
[local]
maildir = $(mdir ucl)/%u/
users = bennett
EOT
start_node ucl || die "ucl did not start"
sp=$(spooldir ucl)
pid1=$(node_pid ucl)
ready1=$(cat "$sp/ready")

# --- a second daemon on the same spool ------------------------------------------------
timeout 20 "$RELAYD" -f -c "$T/ucl.ini" >"$T/second.out" 2>&1
rc=$?
if [ $rc -eq 75 ] && grep -q "in use by process $pid1 " "$T/second.out"; then
	ok "a second daemon exits 75: $(sed 's/^[^ ]* mailrelayd: //' "$T/second.out" | head -1)"
else
	bad "a second daemon: exit $rc (want 75), said: $(head -2 "$T/second.out")"
fi
[ "$(cat "$sp/ready")" = "$ready1" ] && ok "the first one's ready file is untouched" ||
	bad "ready file changed: $(cat "$sp/ready")"
[ "$(cat "$sp/pid" 2>/dev/null)" = "$pid1" ] && ok "SPOOL/pid still names $pid1" ||
	bad "SPOOL/pid: '$(cat "$sp/pid" 2>/dev/null)', want $pid1"
timeout 10 "$MAILCTL" -c "$T/ucl.ini" ping >"$T/ping.out" 2>&1 &&
	ok "the first one's control socket answers" || bad "ping: $(cat "$T/ping.out")"
mkletter "$T/a.letter" lock.1@rsre wiseman@rsre bennett@ucl
timeout 20 "$top/bin/niftp" put -q --retries 0 --called FTP.MAIL --calling rsre "$T/a.letter" \
	"$(sock ucl)" >/dev/null 2>"$T/put.err" || bad "niftp put: $(tail -1 "$T/put.err")"
wait_msgid ucl bennett lock.1@rsre 1 15 && ok "a letter is delivered once by the first" ||
	bad "lock.1 not delivered"
stop_node ucl || bad "ucl did not stop"

# --- after the first stopped: a new one starts --------------------------------------------
start_node ucl || die "ucl did not start again after the first stopped"
ok "a new daemon starts once the first has stopped"
stop_node ucl || bad "ucl did not stop"
[ "$(count_msgid ucl bennett lock.1@rsre)" -eq 1 ] || bad "lock.1 delivered more than once"

# --- a state directory that is a symbolic link ----------------------------------------------
mkdir -p "$T/elsewhere"
echo "not the spool's" >"$T/elsewhere/precious"
rm -rf "$sp/tmp"
ln -s "$T/elsewhere" "$sp/tmp"
timeout 20 "$RELAYD" -f -c "$T/ucl.ini" >"$T/link.out" 2>&1
rc=$?
if [ $rc -eq 78 ] && grep -q "open 'tmp'" "$T/link.out"; then
	ok "a symbolic link for tmp/ is refused: $(sed 's/^[^ ]* mailrelayd: //' "$T/link.out" | head -1)"
else
	bad "symlinked tmp/: exit $rc (want 78), said: $(head -2 "$T/link.out")"
fi
[ -f "$T/elsewhere/precious" ] && ok "the files it points to are left alone" ||
	bad "the file behind the link was removed"
rm -f "$sp/tmp"
mkdir "$sp/tmp"
chmod 0750 "$sp/tmp"

# --- a state others may change, a spool of another user --------------------------------------
# refused_with MODE-DESC WANT - start must exit 78 with a line matching WANT
refused_with() {
	timeout 20 "$RELAYD" -f -c "$T/ucl.ini" >"$T/unsafe.out" 2>&1
	rc=$?
	if [ $rc -eq 78 ] && grep -q -- "$2" "$T/unsafe.out"; then
		ok "$1: refused: $(sed 's/^[^ ]* mailrelayd: //' "$T/unsafe.out" | head -1)"
	else
		bad "$1: exit $rc (want 78), said: $(head -2 "$T/unsafe.out")"
	fi
}
chmod 0777 "$sp/tmp"
refused_with "tmp/ writable by others" "'$sp/tmp' is writable by others (mode 0777)"
chmod 0770 "$sp/queue"
chmod 0750 "$sp/tmp"
refused_with "queue/ writable by its group" "'$sp/queue' is writable by its group (mode 0770)"
chmod 0750 "$sp/queue"
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$sp"
	refused_with "a spool of another user" "'$sp' belongs to uid 65534, not to this process"
	chown 0 "$sp"
else
	note "skip: a spool of another user (needs root to chown)"
fi
# out/ may be a shared drop
chmod 1777 "$sp/out"
start_node ucl && ok "a shared out/ (mode 1777) is accepted" || bad "a shared out/ was refused"
stop_node ucl || bad "ucl did not stop"
relay_finish
