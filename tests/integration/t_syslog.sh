#!/bin/sh
# t_syslog.sh - logging (issue 12, item 2; mailrelayd(8) and vcgw(8),
# LOGGING; util/log.h).
#
#  1. syslog: in a private mount namespace (unshare -m) whose /dev is a
#     copy holding a datagram socket "log" that build/tools/dgramsink
#     listens on, mailrelayd started as a daemon (no -f) without log_file
#     logs to syslog: every message with facility mail (<PRI> 16..23),
#     ident "mailrelayd[PID]", and one line per letter event with the
#     letter's name ("NAME: received ...", "NAME: delivered ...").
#     vcgw, daemonized with [gateway] syslog_facility = local3 and
#     syslog_ident = gw-test: <PRI> 152..159, ident "gw-test[PID]".
#     Skipped (said so) when not root or unshare -m fails.
#  2. A log_file that cannot be opened stops the start with exit 78 and a
#     message naming the file and why: a directory (mailrelayd -f), a path
#     in a missing directory (mailrelayd daemonized, vcgw daemonized).
#  3. logrotate: log_file kept by a daemon that runs as [node] user =
#     nobody when root (the file made at the start is the user's): the
#     file renamed, SIGHUP, the next letter's line lands in a new file
#     (made by the user) and the renamed one keeps the earlier lines. A
#     reopen that fails (the directory no longer the user's) keeps the
#     old file and says why in it. vcgw (-f, log_file): the same rotation.
#  4. 400 recipients of 60 octets: the journal's rcpts= value ends in
#     " +N more" after a whole address (N + kept = 400, value at most
#     2,048 octets), in the received and routed lines and in the log line;
#     mailctl trace of the letter still works.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_syslog
SINK="$top/build/tools/dgramsink"
VCGW="$top/bin/vcgw"
[ -x "$SINK" ] || die "$SINK not built"

# wait_grep ERE FILE [SECONDS] - bounded poll until FILE has a line matching ERE
wait_grep() {
	_gi=0
	while ! grep -qE -- "$1" "$2" 2>/dev/null; do
		_gi=$((_gi + 1))
		[ $_gi -le $((${3:-15} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# wait_gone_pid PID [SECONDS] - bounded poll until PID (not our child) ended
wait_gone_pid() {
	_gi=0
	while kill -0 "$1" 2>/dev/null; do
		_gi=$((_gi + 1))
		[ $_gi -le $((${2:-15} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# stop_pidfile FILE - SIGTERM the daemon FILE names, bounded wait
stop_pidfile() {
	[ -s "$1" ] || return 0
	_sp=$(cat "$1")
	kill -TERM "$_sp" 2>/dev/null
	wait_gone_pid "$_sp" 20 || { kill -KILL "$_sp" 2>/dev/null; return 1; }
}

# --- 1. syslog, in a mount namespace of our own -------------------------------------------
syslog_case() {
	[ "$(id -u)" = 0 ] || { echo "skip 1: syslog: not root (unshare -m needs it)"; return; }
	# a /dev of our own: the devices a daemon opens, and the socket
	mkdir -p "$T/dev"
	for _d in null zero full random urandom; do
		: >"$T/dev/$_d"
	done
	# in_ns CMD... - run CMD with our /dev in a private mount namespace
	# (the mounts are the namespace's only); a daemon it starts stays in
	# that namespace
	in_ns() {
		unshare -m sh -c '
			for d in null zero full random urandom; do
				mount --bind "/dev/$d" "$1/dev/$d" || exit 70
			done
			mount --rbind "$1/dev" /dev || exit 70
			shift
			exec "$@"' in_ns "$T" "$@"
	}
	if ! in_ns true 2>"$T/ns.err"; then
		echo "skip 1: syslog: unshare -m or a mount in it fails here: $(head -1 "$T/ns.err")"
		return
	fi
	"$SINK" "$T/dev/log" "$T/syslog.out" "$T/sink.ready" 2>"$T/sink.err" &
	pids="$pids $!"
	sinkpid=$!
	wait_grep . "$T/sink.ready" 10 || die "1: dgramsink not ready: $(cat "$T/sink.err")"
	node_ini ucl <<EOF
[local]
maildir = $(mdir ucl)/%u/
users = bennett
EOF
	in_ns "$RELAYD" -c "$T/ucl.ini" >"$T/ns.out" 2>"$T/ns.err"
	rc=$?
	[ $rc = 0 ] || die "1: mailrelayd (daemon, in the namespace) exit $rc: $(tail -3 "$T/ns.err")"
	pidfiles="$pidfiles $(spooldir ucl)/pid"
	dpid=$(cat "$(spooldir ucl)/pid")
	mkletter "$T/s.letter" syslog.1@ucl sender@ucl bennett@ucl
	drop ucl "$T/s.letter" s.letter || die "1: drop"
	wait_journal ucl ' delivered ' 1 15 || bad "1: the letter was not delivered"
	name=$(journal ucl | sed -n 's/.* received \([^ ]*\) from=out\/s.letter .*/\1/p' | head -1)
	[ -n "$name" ] || bad "1: no received line in the journal"
	if wait_grep "mailrelayd\\[$dpid\\]: $name: delivered " "$T/syslog.out" 10; then
		ok "1: syslog has the letter's lines: $(grep -c "]: $name: " "$T/syslog.out") lines for $name"
	else
		bad "1: no '$name: delivered' line in syslog: $(tail -3 "$T/syslog.out")"
	fi
	grep -q "mailrelayd\\[$dpid\\]: $name: received from=out/s.letter .*rcpts=bennett@ucl" \
	    "$T/syslog.out" && ok "1: received line: $(grep -o "$name: received.*" "$T/syslog.out" | cut -c1-90)" ||
		bad "1: no received line for $name in syslog"
	n=$(wc -l <"$T/syslog.out")
	nm=$(grep -cE '^<(1[6-9]|2[0-3])>' "$T/syslog.out")
	ni=$(grep -cE "^<[0-9]+>.{15} mailrelayd\\[$dpid\\]: " "$T/syslog.out")
	[ "$n" -gt 3 ] && [ "$nm" = "$n" ] && ok "1: all $n messages with facility mail (<16>..<23>)" ||
		bad "1: $nm of $n messages with facility mail: $(grep -vE '^<(1[6-9]|2[0-3])>' "$T/syslog.out" | head -2)"
	[ "$ni" = "$n" ] && ok "1: all with ident mailrelayd[$dpid]" ||
		bad "1: $ni of $n with ident mailrelayd[$dpid]: $(head -2 "$T/syslog.out")"
	grep -q '^<20>.*warning: running as root' "$T/syslog.out" &&
		ok "1: a warning has priority warning (<20>)" || bad "1: no <20> warning line"
	[ ! -s "$T/ns.err" ] || grep -q 'running as root' "$T/ns.err" ||
		bad "1: the daemon wrote to its starter's stderr: $(head -2 "$T/ns.err")"
	stop_pidfile "$(spooldir ucl)/pid" || bad "1: mailrelayd did not stop"
	grep -q "mailrelayd\\[$dpid\\]: stopped" "$T/syslog.out" && ok "1: 'stopped' in syslog" ||
		bad "1: no 'stopped' line in syslog"

	# vcgw with another facility and ident
	cat >"$T/gw.ini" <<EOF
[gateway]
name = gw
syslog_facility = local3
syslog_ident = gw-test
[listen]
u = unix:$T/gw.sock
[map]
FAR = unix:$T/nowhere.sock
EOF
	in_ns "$VCGW" -c "$T/gw.ini" -p "$T/gw.pid" >"$T/gwns.out" 2>"$T/gwns.err"
	rc=$?
	pidfiles="$pidfiles $T/gw.pid"
	[ $rc = 0 ] || bad "1: vcgw (daemon, in the namespace) exit $rc: $(tail -3 "$T/gwns.err")"
	gpid=$(cat "$T/gw.pid" 2>/dev/null)
	if wait_grep "gw-test\\[$gpid\\]: gateway 'gw' listening" "$T/syslog.out" 10; then
		g=$(grep -c "gw-test\\[$gpid\\]" "$T/syslog.out")
		gl=$(grep -cE "^<15[2-9]>.{15} gw-test\\[$gpid\\]" "$T/syslog.out")
		[ "$g" = "$gl" ] && ok "1: vcgw: $g messages, facility local3 (<152>..<159>), ident gw-test" ||
			bad "1: vcgw: $gl of $g with facility local3: $(grep "gw-test" "$T/syslog.out" | head -2)"
	else
		bad "1: vcgw: no 'listening' line in syslog: $(tail -2 "$T/syslog.out")"
	fi
	stop_pidfile "$T/gw.pid" || bad "1: vcgw did not stop"
	kill -TERM "$sinkpid" 2>/dev/null
}
syslog_case

# --- 2. a log_file that cannot be opened ----------------------------------------------------
node_ini lf <<EOF
[local]
maildir = $(mdir lf)/%u/
users = bennett
EOF
mkdir -p "$T/logdir"
sed "s|^spool = .*|&\nlog_file = $T/logdir|" "$T/lf.ini" >"$T/lfdir.ini"
timeout 20 "$RELAYD" -f -c "$T/lfdir.ini" >"$T/lf.out" 2>&1
rc=$?
[ $rc = 78 ] && grep -q "log file '$T/logdir' is not a regular file" "$T/lf.out" &&
	ok "2: log_file a directory: exit 78: $(grep -o "log file.*" "$T/lf.out" | head -1 | cut -c1-100)" ||
	bad "2: log_file a directory: exit $rc: $(head -3 "$T/lf.out")"
sed "s|^spool = .*|&\nlog_file = $T/nosuchdir/lf.log|" "$T/lf.ini" >"$T/lfmiss.ini"
timeout 20 "$RELAYD" -c "$T/lfmiss.ini" >"$T/lf.out" 2>&1
rc=$?
[ $rc = 78 ] && grep -q "log file '$T/nosuchdir/lf.log': No such file or directory" "$T/lf.out" &&
	ok "2: daemonized, log_file in a missing directory: exit 78: $(grep -o "log file.*" "$T/lf.out" | head -1 | cut -c1-100)" ||
	bad "2: daemonized, log_file in a missing directory: exit $rc: $(head -3 "$T/lf.out")"
[ ! -f "$(spooldir lf)/pid" ] || bad "2: a daemon is running after the refusal"
cat >"$T/gwlf.ini" <<EOF
[gateway]
name = gwlf
log_file = $T/nosuchdir/gw.log
[listen]
u = unix:$T/gwlf.sock
[map]
FAR = unix:$T/nowhere.sock
EOF
timeout 20 "$VCGW" -c "$T/gwlf.ini" >"$T/gwlf.out" 2>&1
rc=$?
[ $rc = 78 ] && grep -q "log file '$T/nosuchdir/gw.log': No such file or directory" "$T/gwlf.out" &&
	ok "2: vcgw daemonized, log_file in a missing directory: exit 78" ||
	bad "2: vcgw, log_file in a missing directory: exit $rc: $(head -3 "$T/gwlf.out")"

# --- 3. logrotate: rename, SIGHUP -----------------------------------------------------------
user_line=""
owner=$(id -un)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	# the daemon runs as nobody: it must reach its configuration and log
	chmod 755 "$T"
	user_line="user = nobody"
	owner=nobody
fi
mkdir -p "$T/logs"
[ -z "$user_line" ] || chown nobody "$T/logs"
node_ini rot <<EOF
[local]
maildir = $(mdir rot)/%u/
users = bennett
EOF
sed "s|^spool = .*|&\nlog_file = $T/logs/rot.log\n$user_line|" "$T/rot.ini" >"$T/rot2.ini"
mv "$T/rot2.ini" "$T/rot.ini"
if [ -n "$user_line" ]; then
	chmod 755 "$(ndir rot)"
	chmod 644 "$T/rot.ini"
	chown nobody "$(mdir rot)"
fi
start_node rot || die "3: rot did not start: $(tail -3 "$T/rot.err")"
# delivered NAME MSGID - wait for MSGID's delivered line; NAME gets the letter's name
delivered() {
	wait_journal rot " received .*<$1>" 1 15 || return 1
	_dn=$(journal rot | grep " received .*<$1>" | awk '{ print $3 }' | head -1)
	wait_journal rot " delivered $_dn " 1 15 || return 1
	echo "$_dn"
}
mkletter "$T/r1.letter" rot.1@rot sender@rot bennett@rot
drop rot "$T/r1.letter" r1.letter
n1=$(delivered rot.1@rot) || bad "3: letter 1 not delivered"
wait_grep "$n1: delivered " "$T/logs/rot.log" 10 || bad "3: no line for $n1 in rot.log"
[ "$(stat -c %U "$T/logs/rot.log")" = "$owner" ] && ok "3: the log file made at the start is $owner's" ||
	bad "3: rot.log is $(stat -c %U "$T/logs/rot.log")'s, want $owner"
mv "$T/logs/rot.log" "$T/logs/rot.log.1"
kill -HUP "$(node_pid rot)"
wait_grep "reload: log file '$T/logs/rot.log' reopened" "$T/logs/rot.log" 10 ||
	bad "3: no 'reopened' line in the new rot.log: $(tail -2 "$T/logs/rot.log.1")"
mkletter "$T/r2.letter" rot.2@rot sender@rot bennett@rot
drop rot "$T/r2.letter" r2.letter
n2=$(delivered rot.2@rot) || bad "3: letter 2 not delivered"
if wait_grep "$n2: delivered " "$T/logs/rot.log" 10; then
	ok "3: after rename and SIGHUP, $n2's lines are in the new file"
else
	bad "3: $n2 not in the new rot.log"
fi
grep -q "$n1: " "$T/logs/rot.log" && bad "3: the new file has $n1's lines"
grep -q "$n1: delivered" "$T/logs/rot.log.1" && ! grep -q "$n2: " "$T/logs/rot.log.1" &&
	ok "3: the renamed file keeps $n1's lines, and only them" ||
	bad "3: rot.log.1: $(grep -c "$n1: " "$T/logs/rot.log.1") lines of $n1, $(grep -c "$n2: " "$T/logs/rot.log.1") of $n2"
[ "$(stat -c %U "$T/logs/rot.log")" = "$owner" ] && ok "3: the new file was made by $owner" ||
	bad "3: the new rot.log is $(stat -c %U "$T/logs/rot.log")'s, want $owner"
# a reopen that fails keeps the old file: the directory no longer lets
# the user create it (or, not root, a directory where the file was)
mv "$T/logs/rot.log" "$T/logs/rot.log.2"
if [ -n "$user_line" ]; then
	chown root "$T/logs"
	chmod 755 "$T/logs"
	why="log file '$T/logs/rot.log': Permission denied: still logging to the old file"
else
	mkdir "$T/logs/rot.log"
	why="log file '$T/logs/rot.log' is not a regular file: still logging to the old file"
fi
kill -HUP "$(node_pid rot)"
if wait_grep "$why" "$T/logs/rot.log.2" 10; then
	ok "3: a failed reopen is logged in the old file: $(grep -o "$why.*" "$T/logs/rot.log.2" | cut -c1-90)..."
else
	bad "3: no failed-reopen line in rot.log.2: $(tail -2 "$T/logs/rot.log.2")"
fi
mkletter "$T/r3.letter" rot.3@rot sender@rot bennett@rot
drop rot "$T/r3.letter" r3.letter
n3=$(delivered rot.3@rot) || bad "3: letter 3 not delivered"
wait_grep "$n3: delivered " "$T/logs/rot.log.2" 10 && ok "3: and the next letter's lines go there" ||
	bad "3: $n3 not in rot.log.2"
stop_node rot
# vcgw, the same way
cat >"$T/gwrot.ini" <<EOF
[gateway]
name = gwrot
log_file = $T/gwrot.log
[listen]
u = unix:$T/gwrot.sock
[map]
FAR = unix:$T/nowhere.sock
EOF
"$VCGW" -f -c "$T/gwrot.ini" --ready-file "$T/gwrot.ready" 2>"$T/gwrot.err" &
gwpid=$!
pids="$pids $gwpid"
wait_grep "gateway 'gwrot' listening" "$T/gwrot.log" 10 || bad "3: vcgw did not start: $(tail -2 "$T/gwrot.err")"
mv "$T/gwrot.log" "$T/gwrot.log.1"
kill -HUP "$gwpid"
if wait_grep "reload: log file '$T/gwrot.log' reopened" "$T/gwrot.log" 10 &&
    wait_grep "reloaded '" "$T/gwrot.log" 10 && ! grep -q "listening" "$T/gwrot.log" &&
    grep -q "listening" "$T/gwrot.log.1" && ! grep -q "reloaded '" "$T/gwrot.log.1"; then
	ok "3: vcgw: after rename and SIGHUP the new file has what follows, the old what came before"
else
	bad "3: vcgw: new: $(tail -2 "$T/gwrot.log" 2>&1); old: $(tail -2 "$T/gwrot.log.1")"
fi
stop "$gwpid"

# --- 4. a long recipient list: cut at an address, with +N more ------------------------------
node_ini many <<EOF
[routes]
far = niftp unix:$T/nowhere.sock
[retry]
first = 1h
EOF
start_node many || die "4: many did not start: $(tail -3 "$T/many.err")"
i=0
set --
while [ $i -lt 400 ]; do
	set -- "$@" "$(printf 'recipient-number-%04d-with-a-long-local-part-x@far' $i)"
	i=$((i + 1))
done
mkletter "$T/m.letter" many.1@many 'sender@many' "$@"
drop many "$T/m.letter" m.letter
wait_journal many ' routed .*hops=far' 1 15 || bad "4: the letter was not routed"
rl=$(journal many | grep ' received .*from=out/m.letter' | head -1)
mn=$(printf '%s\n' "$rl" | awk '{ print $3 }')
r=$(jval "$rl" rcpts)
more=$(printf '%s\n' "$r" | sed -n 's/.* +\([0-9][0-9]*\) more$/\1/p')
kept=$(printf '%s\n' "$r" | sed 's/ +[0-9]* more$//' | tr ',' '\n' | grep -c .)
last=$(printf '%s\n' "$r" | sed 's/ +[0-9]* more$//' | tr ',' '\n' | tail -1)
if [ -n "$more" ] && [ $((kept + more)) = 400 ] && [ ${#r} -le 2048 ] &&
    printf '%s\n' "$last" | grep -qE '^recipient-number-[0-9]{4}-with-a-long-local-part-x@far$'; then
	ok "4: received rcpts=: $kept whole addresses, then '+$more more' (${#r} octets)"
else
	bad "4: received rcpts= not cut at an address with +N more: kept $kept, more '$more', last '$last', ${#r} octets"
fi
rr=$(jval "$(journal many | grep " routed $mn " | head -1)" rcpts)
[ "$rr" = "$r" ] && ok "4: the routed line's rcpts= is cut the same way" || bad "4: routed rcpts=: ...${rr#"${rr%??????????????????????????????}"}"
grep -q "$mn: received .* +$more more\" msgid=<many.1@many>" "$T/many.err" &&
	ok "4: the log line ends its rcpts= with +$more more" ||
	bad "4: no log line with +$more more: $(grep "$mn: received" "$T/many.err" | cut -c1-80)"
timeout 30 "$MAILCTL" -c "$T/many.ini" trace "$mn" >"$T/tr.out" 2>"$T/tr.err"
rc=$?
[ $rc = 0 ] && grep -q "+$more more" "$T/tr.out" && grep -q "$mn" "$T/tr.out" &&
	ok "4: mailctl trace works: $(grep -m1 -o "received.*" "$T/tr.out" | cut -c1-60)...+$more more" ||
	bad "4: mailctl trace exit $rc: $(head -3 "$T/tr.out") $(head -2 "$T/tr.err")"
stop_node many

relay_finish
