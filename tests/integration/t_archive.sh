#!/bin/sh
# t_archive.sh - the letter archive (relay/archive.c, doc/relay.md "Archive").
#
#  1. [archive] enabled at ucl and pss: a letter submitted at ucl is kept
#     as ARCHIVE/NAME.gz, which gzip -dc turns back into the letter's
#     bytes; a letter received over NIFTP at pss is archived there too.
#  2. mailctl view --archive NAME shows the archived copy.
#  3. mailctl resubmit NAME: a new letter, journalled "resubmitted NEW
#     orig=NAME by=USER" and "received NEW from=resubmit:NAME ... orig=NAME",
#     delivered again; mailctl trace NEW says "resubmitted from NAME".
#  4. retention: with keep = 1s, a restart removes copies older than that.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_archive

# ucl_ini KEEP - ucl's configuration with [archive] keep = KEEP
ucl_ini() {
	node_ini ucl <<EOF
[routes]
pss = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[archive]
enabled = yes
keep = $1
EOF
}
ucl_ini 1h
node_ini pss <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
[archive]
enabled = yes
dir = $T/pss-archive
EOF
start_node ucl || die "ucl did not start"
start_node pss || die "pss did not start"
arch="$(spooldir ucl)/archive"

# wait_file FILE [SECONDS] - bounded poll until FILE exists
wait_file() {
	_i=0
	while [ ! -f "$1" ]; do
		_i=$((_i + 1))
		[ $_i -le $((${2:-10} * 10)) ] || return 1
		sleep 0.1
	done
}

# --- 1. copies --------------------------------------------------------------------------
mkletter "$T/a.letter" ar.1@ucl bennett@ucl bennett@ucl kille@pss
mkletter "$T/b.letter" ar.2@ucl bennett@ucl kille@pss
n=$(submit ucl "$T/a.letter") || die "submit a"
submit ucl "$T/b.letter" >/dev/null || die "submit b"
if wait_file "$arch/$n.gz"; then
	if gzip -dc "$arch/$n.gz" | cmp -s - "$T/a.letter"; then
		ok "copy: $n.gz decompresses to the letter"
	else
		bad "copy: gzip -dc $n.gz differs from the letter"
	fi
else
	bad "copy: no $arch/$n.gz within 10 s: $(ls "$arch" 2>&1)"
fi
wait_msgid ucl bennett ar.1@ucl 1 10 || bad "copy: ar.1 not delivered"
wait_journal pss ' received .*msgid=<ar.2@ucl>' 1 15 || bad "copy: pss did not receive ar.2"
pn=$(journal pss | grep ' received .*msgid=<ar.2@ucl>' | awk '{ print $3 }' | head -1)
if [ -n "$pn" ] && wait_file "$T/pss-archive/$pn.gz"; then
	gzip -dc "$T/pss-archive/$pn.gz" | grep -q '^Message-ID: <ar.2@ucl>' &&
		ok "copy: received over NIFTP, archived at pss as $pn.gz" ||
		bad "copy: $pn.gz at pss does not hold ar.2"
else
	bad "copy: no archived copy of '$pn' at pss: $(ls "$T/pss-archive" 2>&1)"
fi
[ -z "$(ls -a "$arch" | grep '^\.tmp')" ] || bad "copy: temporary files left in $arch"

# --- 2. view --archive ------------------------------------------------------------------
timeout 10 "$MAILCTL" -c "$T/ucl.ini" view --archive "$n" >"$T/view.out" 2>>"$T/mailctl.err"
vrc=$?
if [ $vrc -eq 0 ] && grep -q "archived copy" "$T/view.out" && grep -q '^Subject: test ar.1@ucl' "$T/view.out" &&
    grep -q '^Body of ar.1@ucl' "$T/view.out"; then
	ok "view --archive: header and body shown"
else
	bad "view --archive: exit $vrc: $(head -12 "$T/view.out")"
fi
timeout 10 "$MAILCTL" -c "$T/ucl.ini" view --archive nosuch.letter >/dev/null 2>&1 &&
	bad "view --archive of a missing name succeeded" || ok "view --archive: a missing copy is an error"

# --- 3. resubmit ------------------------------------------------------------------------
r=$(timeout 10 "$MAILCTL" -c "$T/ucl.ini" resubmit "$n" 2>>"$T/mailctl.err")
rrc=$?
if [ $rrc -eq 0 ] && [ -n "$r" ] && [ "$r" != "$n" ]; then
	ok "resubmit: $n is back as $r"
else
	die "resubmit: exit $rrc, output '$r': $(tail -2 "$T/mailctl.err")"
fi
l=$(journal ucl | grep " resubmitted $r ")
[ "$(jval "$l" orig)" = "$n" ] && [ -n "$(jval "$l" by)" ] &&
	ok "resubmit: journal: $(echo "$l" | cut -d' ' -f2-)" || bad "resubmit: no 'resubmitted $r orig=$n by=...': '$l'"
l=$(journal ucl | grep " received $r ")
[ "$(jval "$l" from)" = "resubmit:$n" ] && [ "$(jval "$l" orig)" = "$n" ] &&
	ok "resubmit: received from=resubmit:$n orig=$n" || bad "resubmit: received line '$l'"
wait_msgid ucl bennett ar.1@ucl 2 10 && ok "resubmit: delivered to bennett again" ||
	bad "resubmit: bennett has $(count_msgid ucl bennett ar.1@ucl) copies, want 2"
wait_msgid pss kille ar.1@ucl 2 15 && ok "resubmit: forwarded to kille at pss again" ||
	bad "resubmit: kille has $(count_msgid pss kille ar.1@ucl) copies, want 2"
timeout 10 "$MAILCTL" -c "$T/ucl.ini" trace "$r" >"$T/trace.out" 2>&1
grep -qF "resubmitted from $n" "$T/trace.out" && ok "resubmit: mailctl trace $r links to $n" ||
	bad "resubmit: trace of $r does not say 'resubmitted from $n': $(head -20 "$T/trace.out")"
wait_file "$arch/$r.gz" || bad "resubmit: the new letter $r was not archived"
timeout 10 "$MAILCTL" -c "$T/ucl.ini" resubmit nosuch.letter >/dev/null 2>&1 &&
	bad "resubmit of a missing copy succeeded" || ok "resubmit: a missing copy is refused"

# --- 4. retention -----------------------------------------------------------------------
stop_node ucl || bad "ucl did not stop"
cnt=$(ls "$arch" | grep -c '\.gz$')
[ "$cnt" -ge 3 ] || bad "retention: $cnt copies before the restart, want >= 3"
ucl_ini 1s
touch -d '@'$(( $(date +%s) - 10 )) "$arch"/*.gz
start_node ucl || die "ucl did not restart"
i=0
while [ -n "$(ls "$arch" | grep '\.gz$')" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || break
	sleep 0.1
done
[ -z "$(ls "$arch" | grep '\.gz$')" ] && ok "retention: $cnt copies older than 1s removed at start-up" ||
	bad "retention: left in $arch: $(ls "$arch")"
grep -q "archive: .* removed" "$T/ucl.err" || bad "retention: no log line about the removal"
relay_finish
