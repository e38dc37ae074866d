#!/bin/sh
# t_stats.sh - monitoring (relay/relayd_stats.c, doc/relay.md "Monitoring").
#
#  1. ucl's next hop pss is down: two letters for pss are deferred;
#     mailctl stats (with the daemon, and without it) shows pss with
#     2 queued, an oldest age, a failing age and the last error; a local
#     letter counts in the delivered-per-minute figure.
#  2. the metrics file SPOOL/metrics (metrics_interval 1s) exists, shows
#     niftpmail_queued{hop="pss"} 2, and every line has a Prometheus text
#     shape (# HELP, # TYPE, or NAME{LABELS} VALUE with a TYPE before it).
#  3. hop_fail_warn = 2s: one warning "next hop 'pss' failing" is logged,
#     and only one while pss stays down.
#  4. pss comes up: the letters are forwarded, pss counts 2 forwarded in
#     the last minute, the hop is no longer failing.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_stats

node_ini_raw ucl <<EOF
[node]
name = ucl
spool = $(spooldir ucl)
metrics_interval = 1s

[listen]
mail = $(sock ucl)

[routes]
pss = niftp $(sock pss)

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[retry]
first = 1s
max = 1s

[limits]
hop_fail_warn = 2s
EOF
node_ini pss <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
EOF
start_node ucl || die "ucl did not start"

# --- 1. stats with a hop down ------------------------------------------------------------
mkletter "$T/a.letter" sa.1@ucl bennett@ucl kille@pss
mkletter "$T/b.letter" sb.1@ucl bennett@ucl kille@pss
mkletter "$T/l.letter" sl.1@ucl kille@pss bennett@ucl
for f in a b l; do
	submit ucl "$T/$f.letter" >/dev/null || die "submit $f"
done
wait_journal ucl ' deferred .* to=pss' 2 10 || die "no two deferred lines for pss"
wait_journal ucl ' delivered ' 1 10 || die "local letter not delivered"
# the local envelope leaves the queue just after its delivered line
i=0
while timeout 10 "$MAILCTL" -c "$T/ucl.ini" queue 2>>"$T/mailctl.err" | awk '$3 == "local"' |
    grep -q .; do
	i=$((i + 1))
	[ $i -le 100 ] || die "local envelope still queued"
	sleep 0.1
done

# stats_check LABEL - mailctl stats; checks the pss and local lines
stats_check() {
	timeout 10 "$MAILCTL" -c "$T/ucl.ini" stats >"$T/stats.out" 2>>"$T/mailctl.err" ||
		{ bad "$1: mailctl stats exit $?"; return; }
	l=$(awk '$1 == "pss"' "$T/stats.out")
	set -- "$1" $l
	if [ "${3:-}" = 2 ] && expr "${4:-}" : '[0-9][0-9]*s$' >/dev/null &&
	    expr "${5:-}" : '[0-9][0-9]*s$' >/dev/null; then
		ok "$1: pss queued=2 oldest=$4 failing=$5"
	else
		bad "$1: pss line '$l', want 2 queued with ages: $(cat "$T/stats.out")"
	fi
	case "$l" in
	*unreachable*|*connect*|*refused*|*"No such file"*) ok "$1: last error shown" ;;
	*) bad "$1: no last error in '$l'" ;;
	esac
	d=$(awk '$1 == "local" { print $6 }' "$T/stats.out")
	[ "${d:-0}" -ge 1 ] 2>/dev/null && ok "$1: local delivered/min=$d" ||
		bad "$1: local delivered/min '$d', want >= 1: $(cat "$T/stats.out")"
	t=$(awk '$1 == "total" { print $2 }' "$T/stats.out")
	[ "$t" = 2 ] && ok "$1: total queued 2" || bad "$1: total queued '$t', want 2"
}
stats_check "daemon up"

# --- 2. the metrics file -----------------------------------------------------------------
m="$(spooldir ucl)/metrics"
i=0
until grep -qx 'niftpmail_queued{hop="pss"} 2' "$m" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || break
	sleep 0.1
done
if grep -qx 'niftpmail_queued{hop="pss"} 2' "$m" 2>/dev/null; then
	ok "metrics: niftpmail_queued{hop=\"pss\"} 2"
else
	bad "metrics: no 'niftpmail_queued{hop=\"pss\"} 2' in $m: $(head -20 "$m" 2>&1)"
fi
shape=$(awk '
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (gauge|counter)$/ { typed[$3] = 1; next }
	/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? -?[0-9]+(\.[0-9]+)?$/ {
		n = $0; sub(/[{ ].*/, "", n)
		if (!(n in typed)) { print "no TYPE before: " $0; exit }
		samples++; next }
	{ print "bad line: " $0; exit }
	END { if (samples == 0) print "no samples" }' "$m" 2>&1)
[ -z "$shape" ] && ok "metrics: every line has a Prometheus text shape" || bad "metrics: $shape"
for k in niftpmail_oldest_seconds niftpmail_hop_failing_seconds; do
	grep -qE "^$k\\{hop=\"pss\"\\} [0-9]+\$" "$m" && ok "metrics: $k for pss" ||
		bad "metrics: no $k{hop=\"pss\"}"
done
grep -qE '^niftpmail_letters_per_minute\{hop="local",event="delivered"\} [1-9]' "$m" &&
	ok "metrics: local delivered per minute" || bad "metrics: no local delivered rate: $(grep per_minute "$m")"
[ -z "$(ls -a "$(spooldir ucl)" | grep '^\.tmp')" ] || bad "metrics: temporary files left in the spool"

# --- 3. the warning ------------------------------------------------------------------------
warn="next hop 'pss' failing"
i=0
until grep -qF "$warn" "$T/ucl.err"; do
	i=$((i + 1))
	[ $i -le 80 ] || break
	sleep 0.1
done
if grep -qF "$warn" "$T/ucl.err"; then
	ok "warning: $(grep -F "$warn" "$T/ucl.err" | head -1 | cut -c1-160)"
	# two more scans (metrics time moves on by 2 s): still one warning
	t0=$(awk '/^niftpmail_stats_time_seconds/ { print $2 }' "$m")
	i=0
	while [ "$(awk '/^niftpmail_stats_time_seconds/ { print $2 }' "$m")" -lt $((t0 + 2)) ]; do
		i=$((i + 1))
		[ $i -le 60 ] || { bad "warning: metrics not rewritten for 6 s"; break; }
		sleep 0.1
	done
	c=$(grep -cF "$warn" "$T/ucl.err")
	[ "$c" -eq 1 ] && ok "warning: logged once" || bad "warning: logged $c times, want 1"
else
	bad "warning: no '$warn' in the log within 8 s"
fi

# --- without the daemon ------------------------------------------------------------------
stop_node ucl || bad "ucl did not stop"
stats_check "daemon down"

# --- 4. recovery ---------------------------------------------------------------------------
start_node pss || die "pss did not start"
start_node ucl || die "ucl did not restart"
timeout 10 "$MAILCTL" -c "$T/ucl.ini" retry >/dev/null 2>&1
wait_journal ucl ' forwarded .* to=pss' 2 15 || bad "recovery: letters not forwarded to pss"
wait_empty ucl queue 10 || bad "recovery: queue not empty"
timeout 10 "$MAILCTL" -c "$T/ucl.ini" stats >"$T/stats.out" 2>>"$T/mailctl.err"
l=$(awk '$1 == "pss"' "$T/stats.out")
set -- $l
[ "${2:-}" = 0 ] && [ "${4:-}" = - ] && [ "${5:-}" = 2 ] &&
	ok "recovery: pss queued=0 failing=- forwarded/min=2" ||
	bad "recovery: pss line '$l', want 0 queued, not failing, 2 forwarded/min"
relay_finish
