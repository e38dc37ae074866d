#!/bin/sh
# t_mailctl_perm.sh - mailctl as a user who may not read the spool (issue 10,
# item 5): queue, stats, view and trace say "cannot read 'PATH': Permission
# denied" and exit 77 (EX_NOPERM), never an empty queue or "no record".
#
# ucl's next hop pss never answers, so a submitted letter stays queued.
#  1. daemon stopped, spool root's with mode 0700: as nobody, queue, stats,
#     view NAME and trace NAME each exit 77 naming the spool and "Permission
#     denied" (no queue line on standard output); as root they still work
#     (the queue shows the letter).
#  2. daemon stopped, spool readable by all but queue/ 0700: queue, stats
#     and view name SPOOL/queue (exit 77); trace, which needs the journal
#     only, works.
#  3. daemon running, its control socket made 0600 (the daemon makes it
#     0666 and authorizes each request by uid; t_privs tests that): as
#     nobody, ping exits 77 naming the socket; queue falls back to the spool
#     (readable by all), shows the letter and says why on standard error;
#     with the spool 0700 again queue exits 77.
# Needs root (to become nobody: setpriv or runuser); otherwise "skip".
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"

skip() {
	echo "skip $*"
	echo "t_mailctl_perm: skipped"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "not root: cannot run mailctl as another user"
nobody_uid=$(id -u nobody 2>/dev/null || echo 65534)
nobody_gid=$(id -g nobody 2>/dev/null || echo 65534)
if command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups true 2>/dev/null; then
	as_nobody() { setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups "$@"; }
elif command -v runuser >/dev/null 2>&1 && runuser -u nobody -- true 2>/dev/null; then
	as_nobody() { runuser -u nobody -- "$@"; }
else
	skip "neither setpriv nor runuser can run a command as nobody"
fi
as_nobody test -x "$MAILCTL" || skip "nobody cannot run $MAILCTL (mode of $top?)"

relay_setup t_mailctl_perm
chmod 755 "$T"
as_nobody test -x "$T" || skip "nobody cannot reach $T (mode of ${TMPDIR:-/tmp}?)"

node_ini ucl <<EOF
[routes]
pss = niftp unix:$T/never.sock
[retry]
first = 60s
max = 60s
EOF
chmod 755 "$(ndir ucl)"
chmod 644 "$T/ucl.ini"
S=$(spooldir ucl)
INI="$T/ucl.ini"

start_node ucl || die "ucl did not start"
mkletter "$T/a.letter" perm.1@ucl bennett@ucl kille@pss
name=$(submit ucl "$T/a.letter") || die "submit failed: $(tail -3 "$T/mailctl.err")"
[ -n "$name" ] || die "submit printed no name"
wait_journal ucl " deferred $name .*to=pss" 1 15 || die "the letter was not deferred"
stop_node ucl || bad "ucl did not stop"
chown root:root "$S"

# run_nobody LABEL WANT ARGS... - mailctl ARGS as nobody; out/err in
# $T/n.out, $T/n.err; rc the status; bad unless it is WANT
run_nobody() {
	_l=$1
	_w=$2
	shift 2
	as_nobody timeout 20 "$MAILCTL" -c "$INI" "$@" >"$T/n.out" 2>"$T/n.err"
	rc=$?
	[ "$rc" = "$_w" ] && return 0
	bad "$_l: exit $rc, want $_w: $(head -3 "$T/n.err")"
	return 1
}

# denied LABEL PATH ARGS... - as nobody mailctl ARGS exits 77 and says
# "cannot read 'PATH': Permission denied", nothing on standard output
denied() {
	_dl=$1
	_dp=$2
	shift 2
	run_nobody "$_dl" 77 "$@" || return
	if grep -qF "cannot read '$_dp': Permission denied" "$T/n.err"; then
		ok "$_dl: exit 77, $(head -1 "$T/n.err" | cut -c1-150)"
	else
		bad "$_dl: no \"cannot read '$_dp': Permission denied\" in: $(cat "$T/n.err")"
	fi
	[ -s "$T/n.out" ] && bad "$_dl: output shown anyway: $(head -3 "$T/n.out")"
	return 0
}

# --- 1. the spool 0700 ------------------------------------------------------------------
chmod 700 "$S"
denied "1 queue" "$S" queue
denied "1 stats" "$S" stats
denied "1 stats --prometheus" "$S" stats --prometheus
denied "1 view" "$S" view "$name"
denied "1 trace" "$S" trace "$name"
denied "1 trace --json" "$S" trace --json "$name"
# usage and --help come before the spool
run_nobody "1 stats --help" 0 stats --help && ok "1 stats --help: exit 0"
run_nobody "1 trace (no key)" 64 trace && ok "1 trace without a key: exit 64"

timeout 20 "$MAILCTL" -c "$INI" queue >"$T/r.out" 2>"$T/r.err"
rc=$?
if [ $rc = 0 ] && awk -v n="$name" '$1 == n && $3 == "pss"' "$T/r.out" | grep -q .; then
	ok "1 root: queue shows $name for pss"
else
	bad "1 root: queue exit $rc: $(cat "$T/r.out" "$T/r.err")"
fi
timeout 20 "$MAILCTL" -c "$INI" stats >"$T/r.out" 2>"$T/r.err" &&
    [ "$(awk '$1 == "pss" { print $2 }' "$T/r.out")" = 1 ] &&
	ok "1 root: stats counts 1 queued for pss" || bad "1 root: stats: $(cat "$T/r.out" "$T/r.err")"
timeout 20 "$MAILCTL" -c "$INI" view "$name" >"$T/r.out" 2>"$T/r.err" &&
    grep -q "^letter $name at ucl, in queue/" "$T/r.out" &&
	ok "1 root: view shows the letter in queue/" || bad "1 root: view: $(cat "$T/r.out" "$T/r.err")"
timeout 20 "$MAILCTL" -c "$INI" trace "$name" >"$T/r.out" 2>"$T/r.err" &&
    grep -q "status: queued" "$T/r.out" &&
	ok "1 root: trace shows it queued" || bad "1 root: trace: $(cat "$T/r.out" "$T/r.err")"

# --- 2. readable spool, queue/ 0700 -----------------------------------------------------
chmod -R o+rX "$S"
chmod 700 "$S/queue"
denied "2 queue" "$S/queue" queue
denied "2 stats" "$S/queue" stats
denied "2 view" "$S/queue" view "$name"
if run_nobody "2 trace" 0 trace "$name" && grep -q "status: queued" "$T/n.out"; then
	ok "2 trace: the journal is enough (exit 0, queued)"
else
	bad "2 trace: $(cat "$T/n.out" "$T/n.err")"
fi
chmod 755 "$S/queue"
if run_nobody "2 queue readable" 0 queue &&
    awk -v n="$name" '$1 == n && $3 == "pss"' "$T/n.out" | grep -q .; then
	ok "2 queue/ readable: nobody sees $name"
else
	bad "2 queue/ readable: $(cat "$T/n.out" "$T/n.err")"
fi

# --- 3. the daemon running: its socket 0600 ---------------------------------------------
start_node ucl || die "ucl did not restart"
chmod -R o+rX "$S"
chmod 600 "$S/control"
if [ -S "$S/control" ]; then
	if run_nobody "3 ping" 77 ping; then
		grep -qF "connect to the daemon at '$S/control': Permission denied" "$T/n.err" &&
			ok "3 ping: exit 77, $(head -1 "$T/n.err" | cut -c1-150)" ||
			bad "3 ping: $(cat "$T/n.err")"
	fi
	if run_nobody "3 queue" 0 queue &&
	    awk -v n="$name" '$1 == n && $3 == "pss"' "$T/n.out" | grep -q . &&
	    grep -q "Permission denied.*read from the spool" "$T/n.err"; then
		ok "3 queue: from the spool, $(head -1 "$T/n.err" | cut -c1-120)"
	else
		bad "3 queue: $(cat "$T/n.out" "$T/n.err")"
	fi
	chmod 700 "$S"
	denied "3 queue, spool 0700" "$S" queue
	run_nobody "3 retry, spool 0700" 77 retry "$name" && ok "3 retry: exit 77"
	chmod 755 "$S"
else
	bad "3: no control socket $S/control"
fi
stop_node ucl || bad "ucl did not stop"
relay_finish
