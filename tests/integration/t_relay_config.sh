#!/bin/sh
# t_relay_config.sh - configuration checks and reloads (DESIGN section 10).
#
#  1. mailctl check-config on a file with several errors reports each one
#     as FILE:LINE (the right lines) and exits 78; a minimal file (only
#     [node] name) is fine; mailrelayd refuses to start on the broken
#     file (exit 78).
#  2. SIGHUP with a broken file: the daemon keeps running with its old
#     configuration (says so on stderr, keeps delivering by the old
#     routes); mailctl reload on the broken file fails.
#  3. SIGHUP with a good file that adds a user: SPOOL/ready is rewritten
#     and a letter to the new user is delivered.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_config

# --- 1. check-config ----------------------------------------------------------------------
mkdir -p "$T/conf"
cat >"$T/conf/broken.ini" <<EOF
; a configuration with mistakes on known lines (no INI syntax error)
[node]
name = ucl
spool = spool-ucl

[routes]
pss = carrier-pigeon unix:$T/pss.sock
cambridge = niftp
[retry]
first = soon
[limits]
hops = many
[local]
users = bennett
users = root
EOF
cat >"$T/conf/syntax.ini" <<EOF
[node]
name = ucl
spool = spool-ucl
[routes]
this line has no equals sign
[retry]
first = soon
EOF
# lineof FILE TEXT - the number of the last line of FILE containing TEXT
lineof() { grep -nF -- "$2" "$T/conf/$1" | tail -1 | cut -d: -f1; }
# reports FILE TEXT... - check-config names the line of each TEXT as FILE:LINE:
reports() {
	rf=$1
	shift
	timeout 10 "$MAILCTL" -c "$T/conf/$rf" check-config >"$T/check.out" 2>&1
	rc=$?
	[ $rc -eq 78 ] && ok "check-config $rf: exit 78" || bad "check-config $rf: exit $rc, want 78"
	before=$fails
	for what in "$@"; do
		ln=$(lineof "$rf" "$what")
		if grep -qF "$rf:$ln:" "$T/check.out"; then
			ok "check-config: $(grep -F "$rf:$ln:" "$T/check.out" | head -1 | sed "s|$T/||")"
		else
			bad "check-config $rf: no error for line $ln ('$what')"
		fi
	done
	if [ $fails -gt "$before" ]; then
		echo "     check-config said:"
		sed 's/^/       /' "$T/check.out"
	fi
}
reports broken.ini 'carrier-pigeon' 'cambridge = niftp' 'first = soon' 'hops = many' 'users = root'
reports syntax.ini 'no equals sign'
ln=$(lineof syntax.ini 'first = soon')
grep -qF "syntax.ini:$ln:" "$T/check.out" ||
	note "check-config syntax.ini: after the syntax error, line $ln (first = soon) is not reported"
printf '[node]\nname = solo\n' >"$T/conf/minimal.ini"
timeout 10 "$MAILCTL" -c "$T/conf/minimal.ini" check-config >"$T/check.out" 2>&1 &&
	ok "check-config on [node] name alone: $(tail -1 "$T/check.out")" ||
	bad "check-config on a minimal file failed: $(cat "$T/check.out")"
timeout 10 "$RELAYD" -f -c "$T/conf/broken.ini" </dev/null >"$T/broken.out" 2>&1
rc=$?
[ $rc -eq 78 ] && ok "mailrelayd refuses a broken file: exit 78" ||
	bad "mailrelayd on a broken file: exit $rc, want 78: $(head -3 "$T/broken.out")"
[ ! -e "$T/conf/spool-ucl/ready" ] || bad "mailrelayd wrote SPOOL/ready with a broken file"

# --- 2. SIGHUP with a broken file ----------------------------------------------------------
good_ucl() {
	node_ini ucl <<EOF
[routes]
pss = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = $1
[retry]
first = 1s
max = 2s
EOF
}
good_ucl bennett
cp "$T/ucl.ini" "$T/ucl.ini.good"
node_ini pss <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
EOF
start_node pss || die "pss did not start"
start_node ucl || die "ucl did not start"
mkletter "$T/a.letter" before.1@ucl bennett@ucl kille@pss
drop ucl "$T/a.letter" a.letter
wait_msgid pss kille before.1@ucl 1 15 || bad "before reload: letter not delivered"

# break the file: the route to pss now points nowhere and has a bad channel
sed "s|^pss = .*|pss = carrier-pigeon unix:$T/nowhere.sock|" "$T/ucl.ini.good" >"$T/ucl.ini"
ino=$(ls -i "$T/ucl/spool/ready" | awk '{ print $1 }')
errlen=$(wc -c <"$T/ucl.err")
timeout 10 "$MAILCTL" -c "$T/ucl.ini" reload >"$T/reload.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok "mailctl reload with a broken file: exit $rc" ||
	bad "mailctl reload with a broken file: exit 0"
kill -HUP "$(node_pid ucl)"
i=0
while [ "$(tail -c +$((errlen + 1)) "$T/ucl.err" | grep -c 'ucl[.]ini')" -eq 0 ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
msg=$(tail -c +$((errlen + 1)) "$T/ucl.err" | grep 'ucl[.]ini' | head -2 | tr '\n' '|')
[ -n "$msg" ] && ok "SIGHUP with a broken file reported: $msg" || bad "SIGHUP with a broken file: nothing on stderr naming ucl.ini"
running ucl && ok "ucl still running after the broken reload" || die "ucl died on a broken reload"
ino2=$(ls -i "$T/ucl/spool/ready" 2>/dev/null | awk '{ print $1 }')
[ "$ino" = "$ino2" ] || note "SPOOL/ready was rewritten after a refused reload"
mkletter "$T/b.letter" during.1@ucl bennett@ucl kille@pss
drop ucl "$T/b.letter" b.letter
wait_msgid pss kille during.1@ucl 1 15 && ok "after the broken reload, the old route to pss still works" ||
	bad "after the broken reload the letter to kille@pss was not delivered (old config not kept)"

# --- 3. SIGHUP with a good file ------------------------------------------------------------------
good_ucl "bennett, kirstein"
ino=$(ls -i "$T/ucl/spool/ready" | awk '{ print $1 }')
kill -HUP "$(node_pid ucl)"
i=0
while [ "$(ls -i "$T/ucl/spool/ready" 2>/dev/null | awk '{ print $1 }')" = "$ino" ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
[ $i -lt 100 ] && ok "SPOOL/ready rewritten after a good reload" || bad "SPOOL/ready not rewritten within 10 s of SIGHUP"
grep -qx "pid $(node_pid ucl)" "$T/ucl/spool/ready" || bad "SPOOL/ready does not name pid $(node_pid ucl)"
mkletter "$T/c.letter" after.1@ucl bennett@ucl kirstein@ucl
drop ucl "$T/c.letter" c.letter
wait_msgid ucl kirstein after.1@ucl 1 15 && ok "after the good reload, the new user kirstein gets mail" ||
	bad "after the good reload, no delivery to kirstein"
[ "$(jcount ucl ' (failed|ndn) ')" -eq 0 ] || bad "failed/ndn lines: $(journal ucl | grep -E ' (failed|ndn) ' | head -3)"

stop_node ucl || bad "ucl did not stop"
stop_node pss || bad "pss did not stop"
relay_finish
