#!/bin/sh
# t_privs.sh - privileges and submission (issue 10, item 5; mailrelayd(8)
# PRIVILEGES, relay/privs.h, relay/submit.h).
#
#  1. A node with "[node] user = nobody" started as root, on a spool that a
#     root daemon left (root's directories, a Maildir, a letter file; a
#     symbolic link and a hard link to root's files outside the spool):
#     once ready, /proc/PID/status shows nobody's uid and gid (real,
#     effective, saved, file system); every entry of the spool is nobody's
#     but the two links, and the files they point to are still root's; the
#     control socket is mode 0666; no "running as root" warning.
#  2. A letter dropped into out/ by root is delivered (the Maildir file is
#     nobody's).
#  3. An ordinary user (neither root nor nobody) runs "mailctl submit"
#     (FILE and standard input): exit 0 with the letter's name; the
#     received line says from=submit user=USER uid=UID; it is delivered.
#     The same user gets exit 77 "permission denied: VERB needs root or the
#     user nobody" for hold, retry, reload, and for queue (the daemon
#     refuses, and the spool cannot be read either); ping works. nobody,
#     the daemon's own user, may list the queue.
#  4. Submitted by that user, a malformed letter and one larger than
#     max_letter_size exit 65 and leave nothing: no received line, nothing
#     in tmp/, in/, queue/ or corrupt/. A mailctl killed while its letter is
#     being read (its writer never ends) leaves nothing either.
#  5. "user = nosuchuserxyz": mailrelayd exits 78 naming it; started by the
#     ordinary user with "user = nobody": exit 77 naming nobody.
#  6. Started as root without a user: it runs, and warns once "running as
#     root: set [node] user".
#  7. The control socket against a hostile user (review items S1, S2, L1):
#     a client that passes a pipe of its own with "submit" and clears
#     O_NONBLOCK on its copy (build/tools/ctlpeer stall) gets the write end
#     of the daemon's own pipe instead, and the daemon still answers ping
#     at once; four such stalled submissions of one user, and its fifth is
#     refused (exit 75), another user's still taken; nine idle connections
#     of one user: the ninth refused at once, ping refused to that user
#     while the daemon's user is answered, the eight closed after 10 s
#     without a request line; 128 connections of root: the next refused;
#     the daemon out of descriptors (restarted with 64): it pauses accepting rather
#     than spin (its CPU time stays low), and serves again once they are
#     free. The refusals are logged a few times, not once each.
#  8. With the daemon stopped, root's "mailctl submit" drops the letter into
#     out/ (exit 69) as a file of the daemon's user; a copy a crashed
#     daemon left (out/.adopt.*) is removed at the start, and the letter
#     is delivered. The [listen] socket bound as root is nobody's, mode
#     0666.
#  9. Start-up refusals: a log_file that is a symbolic link, or a file with
#     two links (exit 78, naming it; the file pointed to untouched); a
#     password_file only root may read (exit 78, naming it and the fix).
# 10. The daemon dies after a submitted letter is durable, before its
#     answer (NIFTPMAIL_CRASH=spool-after-journal-sync): mailctl exits 70,
#     "may have been accepted", and the letter is delivered after a
#     restart.
# Needs root; otherwise "skipped".
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"

skip() {
	echo "skip $*"
	echo "t_privs: skipped"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "not root"
svc=nobody
svc_uid=$(id -u "$svc" 2>/dev/null) || skip "no user $svc"
svc_gid=$(id -g "$svc")
# an ordinary user: neither root nor the daemon's user (accounts every
# system has; none is created)
other=""
for _u in daemon bin mail; do
	_id=$(id -u "$_u" 2>/dev/null) || continue
	[ "$_id" != 0 ] && [ "$_id" != "$svc_uid" ] && { other=$_u; break; }
done
[ -n "$other" ] || skip "no ordinary user (daemon, bin, mail) to submit as"
other_uid=$(id -u "$other")
other_gid=$(id -g "$other")
if command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid="$other_uid" --regid="$other_gid" --clear-groups true 2>/dev/null; then
	as_user() {
		_au=$1
		shift
		setpriv --reuid="$(id -u "$_au")" --regid="$(id -g "$_au")" --clear-groups "$@"
	}
	# in a subshell of its own: the subshell becomes the command (its pid is $!)
	as_user_exec() {
		_au=$1
		shift
		exec setpriv --reuid="$(id -u "$_au")" --regid="$(id -g "$_au")" --clear-groups "$@"
	}
elif command -v runuser >/dev/null 2>&1 && runuser -u "$other" -- true 2>/dev/null; then
	as_user() {
		_au=$1
		shift
		runuser -u "$_au" -- "$@"
	}
	as_user_exec() {
		_au=$1
		shift
		exec runuser -u "$_au" -- "$@"
	}
else
	skip "neither setpriv nor runuser can run a command as $other"
fi
as_user "$other" test -x "$MAILCTL" || skip "$other cannot run $MAILCTL (mode of $top?)"
as_user "$svc" test -x "$RELAYD" || skip "$svc cannot run $RELAYD (mode of $top?)"
CP="$top/build/tools/ctlpeer"
[ -x "$CP" ] || { echo "t_privs: no $CP (make all)"; exit 1; }
as_user "$other" test -x "$CP" || skip "$other cannot run $CP (mode of $top?)"

relay_setup t_privs
chmod 755 "$T"
as_user "$other" test -x "$T" || skip "$other cannot reach $T (mode of ${TMPDIR:-/tmp}?)"

S=$(spooldir ucl)
INI="$T/ucl.ini"
node_ini_raw ucl <<EOF
[node]
name = ucl
spool = $S
user = $svc

[listen]
mail = $(sock ucl)

[local]
users = bennett

[limits]
max_letter_size = 4096
EOF
chmod 755 "$(ndir ucl)"
chmod 644 "$INI"

# --- what a daemon that ran as root left ---------------------------------------------------
mkdir -p "$S/queue" "$S/mail/bennett/new" "$S/mail/bennett/cur" "$S/mail/bennett/tmp"
chmod 750 "$S" "$S/queue"
chmod 700 "$S/mail/bennett" "$S/mail/bennett/new" "$S/mail/bennett/cur" "$S/mail/bennett/tmp"
echo "an old letter" >"$S/mail/bennett/cur/old.1"
chmod 600 "$S/mail/bennett/cur/old.1"
mkdir "$T/outside"
echo "root's" >"$T/outside/precious"
chmod 600 "$T/outside/precious"
ln -s "$T/outside" "$S/mail/link"
ln "$T/outside/precious" "$S/mail/hard"

# maildir_has MSGID - bennett's Maildir files whose header has MSGID
maildir_has() {
	grep -l "^Message-ID: <$1>" "$S/mail/bennett/new/"* "$S/mail/bennett/cur/"* 2>/dev/null
}

# wait_maildir MSGID [SECONDS] - bounded poll for one such file
wait_maildir() {
	_wi=0
	while [ -z "$(maildir_has "$1")" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${2:-15} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# --- 1. start as root, run as nobody -------------------------------------------------------
start_node ucl || die "ucl did not start"
pid=$(node_pid ucl)
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
if [ "$uids" = "$svc_uid $svc_uid $svc_uid $svc_uid" ] &&
    [ "$gids" = "$svc_gid $svc_gid $svc_gid $svc_gid" ]; then
	ok "1 the daemon runs as $svc: Uid $uids, Gid $gids"
else
	bad "1 /proc/$pid/status: Uid '$uids', Gid '$gids', want $svc_uid and $svc_gid"
fi
grep -q "running as user $svc (uid $svc_uid" "$T/ucl.err" &&
	ok "1 logged: $(grep -o "running as user $svc.*" "$T/ucl.err" | head -1 | cut -c1-120)" ||
	bad "1 no 'running as user $svc' in the log"
grep -q "running as root" "$T/ucl.err" && bad "1 warned about running as root"
left=$(find "$S" ! -user "$svc" -print | sort | tr '\n' ' ')
if [ "$left" = "$S/mail/hard $S/mail/link " ]; then
	ok "1 every entry of the spool is $svc's but the two links"
else
	bad "1 not $svc's: '$left' (want only $S/mail/hard and $S/mail/link)"
fi
[ "$(stat -c %U "$T/outside")" = root ] && [ "$(stat -c %U "$T/outside/precious")" = root ] &&
	ok "1 what the links point to is still root's" ||
	bad "1 followed a link: $(ls -ld "$T/outside" "$T/outside/precious")"
for f in journal lock control queue tmp out in mail/bennett/cur/old.1; do
	[ "$(stat -c %U "$S/$f" 2>/dev/null)" = "$svc" ] || bad "1 $S/$f: $(ls -ld "$S/$f" 2>&1)"
done
[ "$(stat -c %a "$S/control")" = 666 ] && ok "1 the control socket is mode 0666, $svc's" ||
	bad "1 control socket: $(ls -l "$S/control")"

# --- 2. a drop by root ------------------------------------------------------------------------
mkletter "$T/a.letter" privs.a@ucl root@ucl bennett@ucl
drop ucl "$T/a.letter" a.letter
if wait_maildir privs.a@ucl; then
	f=$(maildir_has privs.a@ucl | head -1)
	[ "$(stat -c %U "$f")" = "$svc" ] && ok "2 root's drop is delivered, into a file of $svc's" ||
		bad "2 delivered into $(ls -l "$f")"
else
	bad "2 root's drop was not delivered"
fi

# --- 3. an ordinary user submits; operator requests are refused --------------------------------
# run_as USER WANT LABEL ARGS... - mailctl ARGS as USER; rc its status
run_as() {
	_ru=$1
	_rw=$2
	_rl=$3
	shift 3
	as_user "$_ru" timeout 30 "$MAILCTL" -c "$INI" "$@" >"$T/r.out" 2>"$T/r.err"
	rc=$?
	[ "$rc" = "$_rw" ] && return 0
	bad "$_rl: exit $rc, want $_rw: $(head -3 "$T/r.err")"
	return 1
}

mkletter "$T/b.letter" privs.b@ucl "$other@ucl" bennett@ucl
if run_as "$other" 0 "3 submit FILE as $other" submit "$T/b.letter"; then
	nb=$(cat "$T/r.out")
	l=$(journal ucl | grep " received $nb " | head -1)
	if [ "$(jval "$l" from)" = submit ] && [ "$(jval "$l" user)" = "$other" ] &&
	    [ "$(jval "$l" uid)" = "$other_uid" ]; then
		ok "3 $other submitted $nb: $(echo "$l" | grep -o 'from=.*calling=[^ ]*') ... user=$other uid=$other_uid"
	else
		bad "3 the received line of $nb does not name $other (uid $other_uid): '$l'"
	fi
	wait_maildir privs.b@ucl && ok "3 $other's letter is delivered" ||
		bad "3 $other's letter $nb was not delivered"
fi
mkletter "$T/c.letter" privs.c@ucl "$other@ucl" bennett@ucl
as_user "$other" timeout 30 "$MAILCTL" -c "$INI" submit <"$T/c.letter" >"$T/r.out" 2>"$T/r.err"
rc=$?
nc=$(cat "$T/r.out")
if [ $rc = 0 ] && [ "$(jval "$(journal ucl | grep " received $nc " | head -1)" user)" = "$other" ]; then
	ok "3 $other submitted $nc from standard input"
else
	bad "3 submit from standard input as $other: exit $rc: $(cat "$T/r.out" "$T/r.err")"
fi
wait_maildir privs.c@ucl || bad "3 the letter from standard input was not delivered"

# denied LABEL ARGS... - as the ordinary user: exit 77, "permission denied"
denied() {
	_dl=$1
	shift
	run_as "$other" 77 "$_dl" "$@" || return 0
	if grep -q "permission denied: $1 needs root or the user $svc" "$T/r.err"; then
		ok "$_dl: exit 77, $(head -1 "$T/r.err" | cut -c1-110)"
	else
		bad "$_dl: exit 77 without 'permission denied: $1 needs root or the user $svc': $(cat "$T/r.err")"
	fi
	[ -s "$T/r.out" ] && bad "$_dl: output shown anyway: $(head -3 "$T/r.out")"
	return 0
}
denied "3 hold as $other" hold "$nb"
denied "3 retry as $other" retry --all
denied "3 reload as $other" reload
# queue: refused by the daemon, then the spool (not readable by others)
if run_as "$other" 77 "3 queue as $other" queue; then
	grep -q "Permission denied" "$T/r.err" && grep -q "permission denied: queue needs root" "$T/r.err" &&
		ok "3 queue as $other: exit 77 ($(head -1 "$T/r.err" | cut -c1-100))" ||
		bad "3 queue as $other: $(cat "$T/r.err")"
	[ -s "$T/r.out" ] && bad "3 queue as $other: shown anyway: $(head -3 "$T/r.out")"
fi
run_as "$other" 0 "3 ping as $other" ping && [ "$(cat "$T/r.out")" = ucl ] &&
	ok "3 ping as $other: ucl"
run_as "$svc" 0 "3 queue as $svc" queue && ok "3 $svc, the daemon's user, may list the queue"
run_as root 0 "3 queue as root" queue && ok "3 root may list the queue"

# --- 4. bad letters from the ordinary user leave nothing ----------------------------------------
# spool_files - letters anywhere in the spool's states (dot-files aside)
spool_files() {
	find "$S/tmp" "$S/in" "$S/queue" "$S/corrupt" "$S/out" -type f ! -name '.*' 2>/dev/null |
		sort | tr '\n' ' '
}
# nothing_left LABEL - no new received line, no new file
nothing_left() {
	[ "$(jcount ucl ' received ')" = "$recv0" ] || bad "$1: a received line was written"
	[ "$(spool_files)" = "$files0" ] || bad "$1: left in the spool: $(spool_files)"
}
wait_empty ucl in 10 && wait_empty ucl queue 10 || bad "4 the earlier letters are still queued"
recv0=$(jcount ucl ' received ')
files0=$(spool_files)
printf 'bennett@ucl\nFrom: %s@ucl\nSubject: no blank line\n\nbody\n' "$other" >"$T/bad.letter"
if run_as "$other" 65 "4 malformed letter" submit "$T/bad.letter"; then
	grep -q "malformed letter: line 2" "$T/r.err" && ok "4 a malformed letter: exit 65 ($(head -1 "$T/r.err" | cut -c1-100))" ||
		bad "4 malformed letter: $(cat "$T/r.err")"
fi
nothing_left "4 malformed letter"
{
	printf 'bennett@ucl\n\nFrom: %s@ucl\nSubject: too large\nMessage-ID: <privs.big@ucl>\n\n' "$other"
	_i=0
	while [ $_i -lt 100 ]; do
		echo "a line of fifty octets to make the letter large.."
		_i=$((_i + 1))
	done
} >"$T/big.letter"
if run_as "$other" 65 "4 letter over max_letter_size" submit "$T/big.letter"; then
	grep -q "letter too large: more than 4096 octets" "$T/r.err" &&
		ok "4 a letter over max_letter_size: exit 65 ($(head -1 "$T/r.err" | cut -c1-100))" ||
		bad "4 too large: $(cat "$T/r.err")"
fi
nothing_left "4 letter over max_letter_size"
[ -z "$(maildir_has privs.big@ucl)" ] || bad "4 the large letter was delivered"
# a submitter killed half-way: the daemon has started its spool file
mkfifo "$T/slow.fifo"
(as_user_exec "$other" timeout 30 "$MAILCTL" -c "$INI" submit <"$T/slow.fifo" >"$T/k.out" \
	2>"$T/k.err") &
kpid=$!
{ printf 'bennett@ucl\n\nMessage-ID: <privs.cut@ucl>\n\nhalf a letter\n'; exec sleep 30; } \
	>"$T/slow.fifo" &
wpid=$!
pids="$pids $kpid $wpid"
_wi=0
while [ -z "$(find "$S/tmp" -type f ! -name '.*' -size +0 2>/dev/null)" ]; do
	_wi=$((_wi + 1))
	[ $_wi -le 100 ] || break
	sleep 0.1
done
if [ -n "$(find "$S/tmp" -type f ! -name '.*' -size +0 2>/dev/null)" ]; then
	kill -TERM "$kpid" 2>/dev/null
	wait "$kpid" 2>/dev/null
	forget "$kpid"
	_wi=0
	until grep -q "left before its 'end'" "$T/ucl.err" && [ -z "$(find "$S/tmp" -type f ! -name '.*')" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le 100 ] || break
		sleep 0.1
	done
	if grep -q "left before its 'end'" "$T/ucl.err"; then
		ok "4 a submitter killed half-way: $(grep -o "submit by=.*left before.*" "$T/ucl.err" | head -1)"
	else
		bad "4 a submitter killed half-way: not seen by the daemon"
	fi
	nothing_left "4 a submitter killed half-way"
else
	bad "4 the daemon did not start reading the slow letter"
fi
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
forget "$wpid"
running ucl && ok "4 the daemon still runs" || bad "4 the daemon died"

# --- 7. the control socket against a hostile user -----------------------------------------------
# wait_has FILE ERE [SECONDS] - bounded poll until FILE has a line matching ERE
wait_has() {
	_wi=0
	while ! grep -qE -- "$2" "$1" 2>/dev/null; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${3:-15} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}
# stall_start N - the ordinary user's "ctlpeer stall" number N (pid in
# spidN), holding until its standard input, the FIFO $T/stallN.in, ends: the
# caller opens the FIFO's writing end on a descriptor of its own and closes
# it to release the stall
stall_start() {
	rm -f "$T/stall$1.in" "$T/stall$1.out"
	mkfifo "$T/stall$1.in"
	# without the writing ends of the other stalls' FIFOs (descriptors 4-7)
	(as_user_exec "$other" "$CP" stall "$S/control" <"$T/stall$1.in" >"$T/stall$1.out" 2>&1) \
		4>&- 5>&- 6>&- 7>&- &
	eval "spid$1=$!"
	pids="$pids $!"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

pid=$(node_pid ucl)
stall_start 1
# the FIFO's writer: opened here and kept until the release
exec 4>"$T/stall1.in"
if wait_has "$T/stall1.out" '^stalling' 15; then
	if grep -qx 'first pipe' "$T/stall1.out" && grep -qx 'passed fifo write-end' "$T/stall1.out"; then
		ok "7 a client passing its own pipe gets the write end of the daemon's: $(tr '\n' ' ' <"$T/stall1.out")"
	else
		bad "7 the stalling client saw: $(cat "$T/stall1.out")"
	fi
	if as_user "$other" timeout 5 "$MAILCTL" -c "$INI" ping >"$T/r.out" 2>"$T/r.err" &&
	    [ "$(cat "$T/r.out")" = ucl ]; then
		ok "7 ping answered at once while that client stalls"
	else
		bad "7 ping while a client stalls: $(cat "$T/r.out" "$T/r.err")"
	fi
else
	bad "7 the stalling client did not get going: $(cat "$T/stall1.out")"
fi
exec 4>&-
wait "$spid1" 2>/dev/null
forget "$spid1"
wait_has "$T/ucl.err" "submit by=$other: the client left before its 'end'" 10 ||
	bad "7 the stalled submission was not dropped"
nothing_left "7 a stalled submission"

# four stalled submissions of one user: its fifth is refused, not another's
for _n in 1 2 3 4; do
	stall_start "$_n"
	eval "exec $((_n + 3))>\"\$T/stall$_n.in\""
done
_all=1
for _n in 1 2 3 4; do
	wait_has "$T/stall$_n.out" '^stalling' 15 || { _all=0; bad "7 stall $_n: $(cat "$T/stall$_n.out")"; }
done
if [ $_all = 1 ]; then
	mkletter "$T/d.letter" privs.d@ucl "$other@ucl" bennett@ucl
	if run_as "$other" 75 "7 a fifth submission of $other" submit "$T/d.letter"; then
		grep -q "4 letters of uid $other_uid are being submitted" "$T/r.err" &&
			ok "7 a fifth submission of $other: exit 75 ($(head -1 "$T/r.err" | cut -c1-100))" ||
			bad "7 a fifth submission of $other: $(cat "$T/r.err")"
	fi
	run_as root 0 "7 root submits meanwhile" submit "$T/d.letter" &&
		ok "7 root's letter is taken meanwhile ($(cat "$T/r.out"))"
fi
for _n in 1 2 3 4; do
	eval "exec $((_n + 3))>&-"
	eval "wait \$spid$_n 2>/dev/null; forget \$spid$_n"
done
wait_maildir privs.d@ucl || bad "7 root's letter was not delivered"
_wi=0
while [ "$(grep -c "submit by=$other: the client left before its 'end'" "$T/ucl.err")" -lt 5 ]; do
	_wi=$((_wi + 1))
	[ $_wi -le 100 ] || { bad "7 the four stalled submissions were not all dropped"; break; }
	sleep 0.1
done
recv0=$(jcount ucl ' received ')
files0=$(spool_files)

# nine idle connections of one user
(as_user_exec "$other" "$CP" hold "$S/control" 9 40 >"$T/hold.out" 2>&1) &
hpid=$!
pids="$pids $hpid"
if wait_has "$T/hold.out" '^open 9$' 15; then
	wait_has "$T/hold.out" '^close err too many control connections of uid' 5 &&
		ok "7 the ninth connection of $other refused at once: $(grep -m1 '^close err' "$T/hold.out" | cut -c1-90)" ||
		bad "7 the ninth connection of $other was not refused: $(cat "$T/hold.out")"
	run_as "$other" 1 "7 ping by $other over its limit" ping &&
		grep -q "too many control connections of uid $other_uid" "$T/r.err" &&
		ok "7 ping by $other over its limit: $(head -1 "$T/r.err" | cut -c1-100)"
	run_as "$svc" 0 "7 ping by $svc meanwhile" ping && ok "7 $svc, the daemon's user, is answered meanwhile"
else
	bad "7 hold: $(cat "$T/hold.out")"
fi
wait "$hpid" 2>/dev/null
forget "$hpid"
n=$(grep -c '^close err no request line within 10 s' "$T/hold.out")
secs=$(sed -n 's/^secs //p' "$T/hold.out")
if [ "$n" = 8 ] && grep -qx 'held 0' "$T/hold.out"; then
	ok "7 the eight idle connections closed without a request line, after ${secs} s"
else
	bad "7 idle connections: $(tr '\n' ' ' <"$T/hold.out")"
fi
n=$(grep -cE 'control: connection .*(refused|no request line)' "$T/ucl.err")
[ "$n" -ge 1 ] && [ "$n" -le 3 ] && ok "7 ten refusals logged in $n lines" ||
	bad "7 refusals logged in $n lines: $(grep -E 'control: connection' "$T/ucl.err" | head -5)"
run_as "$other" 0 "7 ping by $other afterwards" ping

# 128 connections of root: the next is refused
if [ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -gt 300 ]; then
	("$CP" hold "$S/control" 128 60 >"$T/hold.out" 2>&1) &
	hpid=$!
	pids="$pids $hpid"
	if wait_has "$T/hold.out" '^open 128$' 20; then
		run_as root 1 "7 ping by root over 128 connections" ping &&
			grep -q "too many control connections (128)" "$T/r.err" &&
			ok "7 a 129th connection, root's, is refused: $(head -1 "$T/r.err" | cut -c1-90)"
	else
		bad "7 hold 128: $(cat "$T/hold.out")"
	fi
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	forget "$hpid"
	_wi=0
	until as_user root timeout 5 "$MAILCTL" -c "$INI" ping >/dev/null 2>&1; do
		_wi=$((_wi + 1))
		[ $_wi -le 50 ] || { bad "7 ping refused after the 128 connections closed"; break; }
		sleep 0.1
	done
else
	note "7 a limit of $(ulimit -Sn) descriptors: the cap of 128 connections not tried"
fi

# out of descriptors: the daemon pauses accepting rather than spin. It is
# restarted with a low limit (a process of another user's cannot be given
# one: prlimit needs CAP_SYS_RESOURCE for that).
stop_node ucl || bad "ucl did not stop"
_nofile=$(ulimit -Sn)
if ulimit -Sn 64 2>/dev/null; then
	start_node ucl
	_st=$?
	ulimit -Sn "$_nofile"
	[ $_st = 0 ] || die "ucl did not start with 64 descriptors"
	pid=$(node_pid ucl)
	nfd=$(ls "/proc/$pid/fd" | wc -l)
	n=$((64 - nfd + 10))
	("$CP" hold "$S/control" "$n" 40 >"$T/hold.out" 2>&1) &
	hpid=$!
	pids="$pids $hpid"
	if wait_has "$T/hold.out" "^open $n\$" 30 &&
	    wait_has "$T/ucl.err" "accept: Too many open files: no connection taken for 1000 ms" 10; then
		c0=$(cpu_ticks "$pid")
		# the first connections taken reach their deadline 10 s later
		if wait_has "$T/hold.out" '^close err no request line' 20; then
			c1=$(cpu_ticks "$pid")
			hz=$(getconf CLK_TCK)
			if [ $((c1 - c0)) -lt "$hz" ]; then
				ok "7 out of descriptors ($nfd of 64 in use, $n connections): $((c1 - c0)) ticks of CPU while it waited (CLK_TCK $hz): no spin"
			else
				bad "7 out of descriptors: $((c1 - c0)) ticks of CPU (CLK_TCK $hz): the loop spins"
			fi
		else
			bad "7 out of descriptors: no connection closed: $(cat "$T/hold.out")"
		fi
		n=$(grep -c "accept: Too many open files" "$T/ucl.err")
		[ "$n" -le 3 ] &&
			ok "7 logged $n times: $(grep -o "control socket.*accept: Too many open files.*" "$T/ucl.err" | head -1 | sed 's/.*accept/accept/' | cut -c1-90)" ||
			bad "7 'accept: Too many open files' logged $n times"
	else
		bad "7 out of descriptors: $(cat "$T/hold.out"); $(grep -i 'too many' "$T/ucl.err" | head -3)"
	fi
	kill -TERM "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	forget "$hpid"
	_wi=0
	until as_user root timeout 5 "$MAILCTL" -c "$INI" ping >/dev/null 2>&1; do
		_wi=$((_wi + 1))
		[ $_wi -le 50 ] || { bad "7 ping refused after the descriptors were free again"; break; }
		sleep 0.1
	done
	[ $_wi -le 50 ] && ok "7 the daemon serves again once descriptors are free"
else
	note "7 the limit of descriptors cannot be lowered: the pause on EMFILE not tried"
	start_node ucl || die "ucl did not start again"
fi
running ucl && ok "7 the daemon still runs" || bad "7 the daemon died"
stop_node ucl || bad "ucl did not stop"
[ "$node_rc" = 0 ] || bad "ucl exit $node_rc on SIGTERM"

# --- 8. root's letter dropped while the daemon is down; leftovers of adopt() --------------------------
mkletter "$T/e.letter" privs.e@ucl root@ucl bennett@ucl
run_as root 69 "8 submit by root, the daemon stopped" submit "$T/e.letter"
f=$(sed -n "s/.*the letter waits in 'out\/\(submit[^']*\)'.*/\1/p" "$T/r.err")
if [ -n "$f" ] && [ "$(stat -c %U "$S/out/$f")" = "$svc" ]; then
	ok "8 root's letter waits in out/$f, $svc's ($(stat -c %a "$S/out/$f"))"
else
	bad "8 root's dropped letter: '$f': $(ls -l "$S/out/" 2>&1 | tail -3)"
fi
echo "half a copy" >"$S/out/.adopt.999999.1"
chown "$svc" "$S/out/.adopt.999999.1"
start_node ucl || die "ucl did not start again"
wait_maildir privs.e@ucl && ok "8 root's letter dropped while the daemon was down is delivered" ||
	bad "8 root's letter in out/ was not delivered"
[ -e "$S/out/.adopt.999999.1" ] && bad "8 out/.adopt.999999.1 left" ||
	ok "8 a copy a crashed daemon left is removed: $(grep -o 'removed [0-9]* copies.*' "$T/ucl.err" | head -1)"
[ "$(stat -c '%U %a' "$T/ucl.sock")" = "$svc 666" ] &&
	ok "8 the [listen] socket bound as root is $svc's, mode 0666" ||
	bad "8 [listen] socket: $(ls -l "$T/ucl.sock")"
stop_node ucl || bad "ucl did not stop"

# --- 9. start-up refusals ---------------------------------------------------------------------
# refused INI LABEL ERE - mailrelayd -f -c INI exits 78 with a line matching ERE
refused() {
	timeout 20 "$RELAYD" -f -c "$1" >"$T/refused.out" 2>&1
	_rc=$?
	if [ $_rc = 78 ] && grep -qE -- "$3" "$T/refused.out"; then
		ok "$2: exit 78: $(grep -oE -- "$3.*" "$T/refused.out" | head -1 | cut -c1-110)"
	else
		bad "$2: exit $_rc (want 78): $(grep -v 'warning: running' "$T/refused.out" | head -3)"
	fi
}
echo "root's own" >"$T/precious.log"
ln -s "$T/precious.log" "$T/link.log"
sed "s|^user = .*|&\nlog_file = $T/link.log|" "$INI" >"$T/linklog.ini"
refused "$T/linklog.ini" "9 log_file a symbolic link" "log file '$T/link.log' is a symbolic link"
ln "$T/precious.log" "$T/two.log"
sed "s|^user = .*|&\nlog_file = $T/two.log|" "$INI" >"$T/twolog.ini"
refused "$T/twolog.ini" "9 log_file with two links" "log file '$T/two.log' has 2 links"
[ "$(cat "$T/precious.log")" = "root's own" ] && ok "9 the file they name is untouched" ||
	bad "9 $T/precious.log was written: $(cat "$T/precious.log")"
(umask 077 && echo "root-only secret" >"$T/root.pw")
{ cat "$INI"; printf '\n[peer cam]\nusername = ucl-link\npassword_file = %s\n' "$T/root.pw"; } >"$T/pw.ini"
refused "$T/pw.ini" "9 a password_file only root may read" "read as user $svc: .*chown $svc '$T/root.pw' and chmod 600 it"

# --- 10. no answer after the letter was sent -------------------------------------------------------
start_node ucl NIFTPMAIL_CRASH=spool-after-journal-sync || die "ucl did not start with the crash point"
mkletter "$T/f.letter" privs.f@ucl "$other@ucl" bennett@ucl
if run_as "$other" 70 "10 the daemon dies before its answer" submit "$T/f.letter"; then
	grep -q "may have been accepted" "$T/r.err" &&
		ok "10 no answer after the letter was sent: exit 70 ($(head -1 "$T/r.err" | cut -c1-110))" ||
		bad "10 exit 70 without 'may have been accepted': $(cat "$T/r.err")"
fi
wait_exit ucl 20
[ "$node_rc" = 99 ] || bad "10 the daemon did not stop at its crash point ($node_rc)"
start_node ucl || die "ucl did not start after its crash"
wait_maildir privs.f@ucl && ok "10 ... and it had been: delivered after the restart" ||
	bad "10 the letter of the lost answer was not delivered"
stop_node ucl || bad "ucl did not stop"

# --- 5. no such user; not root ----------------------------------------------------------------
sed "s/^user = .*/user = nosuchuserxyz/" "$INI" >"$T/nouser.ini"
timeout 20 "$RELAYD" -f -c "$T/nouser.ini" >"$T/nouser.out" 2>&1
rc=$?
if [ $rc = 78 ] && grep -q "user 'nosuchuserxyz' does not exist" "$T/nouser.out"; then
	ok "5 no such user: exit 78: $(sed 's/^[^ ]* mailrelayd: //' "$T/nouser.out" | head -1 | cut -c1-110)"
else
	bad "5 no such user: exit $rc (want 78): $(head -3 "$T/nouser.out")"
fi
as_user "$other" timeout 20 "$RELAYD" -f -c "$INI" >"$T/notroot.out" 2>&1
rc=$?
if [ $rc = 77 ] && grep -q "cannot become \[node\] user '$svc'" "$T/notroot.out"; then
	ok "5 started as $other: exit 77: $(sed 's/^[^ ]* mailrelayd: //' "$T/notroot.out" | head -1 | cut -c1-110)"
else
	bad "5 started as $other: exit $rc (want 77): $(head -3 "$T/notroot.out")"
fi

# --- 6. root without a user --------------------------------------------------------------------
node_ini plain <<EOF
[local]
users = bennett
EOF
start_node plain || die "plain did not start"
n=$(grep -c "running as root: set \[node\] user" "$T/plain.err")
[ "$n" = 1 ] && ok "6 as root without a user: one warning: $(grep -o 'running as root.*' "$T/plain.err" | cut -c1-80)" ||
	bad "6 'running as root' said $n times: $(head -5 "$T/plain.err")"
stop_node plain || bad "plain did not stop"
relay_finish
