#!/bin/sh
# t_ops.sh - operator actions through the daemon (mailctl hold, release,
# retry, delete), journalled with by=USER.
#
# ucl's next hop cambridge never answers (back-off 60 s), so the letter
# stays queued:
#  1. hold: the letter and its envelopes move to hold/, "held NAME by=U",
#     mailctl queue shows it held, no attempt is made while it is held.
#  2. release: back in queue/, due now ("released"), tried again at once.
#  3. retry NAME: an attempt now (not after the 60 s back-off), "retry".
#  4. delete: letter in dead/, "dead NAME reason=deleted by operator by=U".
# Throughout, the letter exists in exactly one state.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_ops

node_ini ucl <<EOF
[routes]
cambridge = niftp unix:$T/never.sock
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 60s
max = 60s
EOF
start_node ucl || die "ucl did not start"

ctl() { timeout 20 "$MAILCTL" -c "$T/ucl.ini" "$@"; }
sp=$(spooldir ucl)
# one_state NAME WHAT - the letter file is in exactly one state
one_state() {
	_n=0
	_where=
	for _s in in queue hold dead corrupt; do
		if [ -f "$sp/$_s/$1" ]; then
			_n=$((_n + 1))
			_where="$_where $_s"
		fi
	done
	[ $_n -eq 1 ] || bad "$2: '$1' in $_n states:$_where"
	echo "$_where" | tr -d ' '
}
# op ACTION NAME - mailctl ACTION NAME, again while a try is in flight
op() {
	_i=0
	while :; do
		ctl "$1" "$2" >"$T/op.out" 2>&1 && return 0
		grep -q 'busy' "$T/op.out" || return 1
		_i=$((_i + 1))
		[ $_i -lt 50 ] || return 1
		sleep 0.1
	done
}

mkletter "$T/a.letter" ops.1@ucl bennett@ucl linington@cambridge
drop ucl "$T/a.letter" a.letter || die "drop"
wait_journal ucl ' deferred .* to=cambridge' 1 15 || die "no first deferred line"
ln=$(journal ucl | grep ' received ' | grep -F 'from=out/a.letter' | awk '{ print $3 }')
[ -n "$ln" ] || die "no received line"
[ "$(one_state "$ln" start)" = queue ] || bad "start: not in queue/"

# --- 1. hold -----------------------------------------------------------------------
if op hold "$ln"; then
	ok "hold: mailctl hold $ln"
else
	bad "hold: mailctl hold failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " held $ln by=" 1 5; then
	ok "hold: $(journal ucl | grep " held $ln " | cut -d' ' -f2-)"
else
	bad "hold: no 'held $ln by=' line"
fi
[ "$(one_state "$ln" hold)" = hold ] || bad "hold: letter not in hold/"
ls "$sp/hold" | grep -q "^${ln}_f_cambridge\$" || bad "hold: envelope not in hold/: $(ls "$sp/hold")"
ls "$sp/queue" | grep -q "^$ln" && bad "hold: left in queue/: $(ls "$sp/queue")"
ctl queue >"$T/q.out" 2>&1
if grep -q "^$ln .* held " "$T/q.out"; then
	ok "hold: mailctl queue: $(grep "^$ln " "$T/q.out")"
else
	bad "hold: mailctl queue does not show $ln held: $(cat "$T/q.out")"
fi
ctl retry "$ln" >/dev/null 2>&1
ctl retry --all >/dev/null 2>&1
sleep 3
after=$(journal ucl | sed -n "/ held $ln /,\$p" | grep -c " deferred $ln ")
[ "$after" -eq 0 ] && ok "hold: no attempt while held (3 s, retries asked)" ||
	bad "hold: $after deferred lines after the hold"
ctl hold "$ln" >"$T/op.out" 2>&1 && bad "hold: holding twice succeeded"

# --- 2. release ----------------------------------------------------------------------
n0=$(jcount ucl " deferred $ln ")
if op release "$ln"; then
	ok "release: mailctl release $ln"
else
	bad "release: failed: $(cat "$T/op.out")"
fi
wait_journal ucl " released $ln by=" 1 5 || bad "release: no 'released $ln by=' line"
[ "$(one_state "$ln" release)" = queue ] || bad "release: letter not back in queue/"
if wait_journal ucl " deferred $ln " $((n0 + 1)) 5; then
	ok "release: tried again at once"
else
	bad "release: no new attempt within 5 s"
fi

# --- 3. retry ------------------------------------------------------------------------
n0=$(jcount ucl " deferred $ln ")
ctl retry "$ln" >"$T/op.out" 2>&1 || bad "retry: mailctl retry failed: $(cat "$T/op.out")"
wait_journal ucl " retry $ln by=" 1 5 || bad "retry: no 'retry $ln by=' line"
if wait_journal ucl " deferred $ln " $((n0 + 1)) 5; then
	ok "retry: an attempt now (back-off is 60 s)"
else
	bad "retry: no attempt within 5 s"
fi
[ "$(one_state "$ln" retry)" = queue ] || bad "retry: letter not in queue/"

# --- 4. delete -----------------------------------------------------------------------
if op delete "$ln"; then
	ok "delete: mailctl delete $ln"
else
	bad "delete: failed: $(cat "$T/op.out")"
fi
if wait_journal ucl " dead $ln .*by=" 1 5; then
	l=$(journal ucl | grep " dead $ln " | head -1)
	[ "$(jval "$l" reason)" = "deleted by operator" ] ||
		bad "delete: reason='$(jval "$l" reason)': $l"
	[ -n "$(jval "$l" by)" ] && ok "delete: $(echo "$l" | cut -d' ' -f2-)" ||
		bad "delete: no by= in $l"
else
	bad "delete: no 'dead $ln ... by=' line"
fi
[ "$(one_state "$ln" delete)" = dead ] || bad "delete: letter not in dead/"
ls "$sp/queue" | grep -q "^$ln" && bad "delete: left in queue/: $(ls "$sp/queue")"
n0=$(jcount ucl " deferred $ln ")
ctl retry --all >/dev/null 2>&1
sleep 2
[ "$(jcount ucl " deferred $ln ")" -eq "$n0" ] || bad "delete: tried after the delete"

# hold/delete of something that is not there: a clear error
ctl hold nosuch.1 >"$T/op.out" 2>&1 && bad "hold of a missing letter succeeded"
grep -q 'no letter' "$T/op.out" && ok "missing: $(cat "$T/op.out")" || bad "missing: $(cat "$T/op.out")"

stop_node ucl || bad "ucl did not stop on SIGTERM"
relay_finish
