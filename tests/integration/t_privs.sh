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
stop_node ucl || bad "ucl did not stop"
[ "$node_rc" = 0 ] || bad "ucl exit $node_rc on SIGTERM"

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
