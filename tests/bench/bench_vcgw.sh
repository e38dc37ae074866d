#!/bin/sh
# bench_vcgw.sh - NIFTP through the virtual call gateway against the same
# transfer direct, measured in the same run. It reports; it does not pass
# or fail.
#
#   (a) niftp put --binary direct to niftp serve (tcp: loopback)
#   (b) the same put through vcgw (tcp: in, tcp: out)      goal: >= 85% of (a)
#   (c) call set-up: BENCH_CALLS (default 50) puts of a 1-octet file, direct
#       and through the gateway, one after another; the difference of the
#       mean wall times is the time the gateway adds to a call (set-up,
#       ACCEPT relay, the few records of a tiny transfer, the release)
#   peak RSS of the gateway (run under tests/tools/rusage)
#
# Each rate is the best of BENCH_RUNS (default 3), direct and gateway runs
# alternating so that both see the same machine. Files live under
# BENCH_DIR (default build/, the repository's file system). Size:
# BENCH_VCGW_MIB (default 256). Bounded: every command runs under
# timeout(1); the trap stops what was started and removes the directory.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
NIFTP="$top/bin/niftp"
VCGW="$top/bin/vcgw"
TOOLS="$top/build/tools"
RUNS=${BENCH_RUNS:-3}
MIB=${BENCH_VCGW_MIB:-256}
CALLS=${BENCH_CALLS:-50}
for x in "$NIFTP" "$VCGW" "$TOOLS/rusage"; do
	[ -x "$x" ] || { echo "bench_vcgw: $x not built"; exit 1; }
done
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
T=$(mktemp -d "$parent/bench_vcgw.XXXXXX") || exit 1
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# wait_ready FILE - bounded poll until FILE exists and is not empty
wait_ready() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 400 ] || return 1
		sleep 0.05
	done
	return 0
}

# now_ms - wall clock in milliseconds
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

best() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 > a + 0)) print b; else print a }'
}

BIG=$((MIB * 1048576))
head -c $BIG /dev/urandom >"$T/big.bin" || { echo "bench_vcgw: cannot make big.bin"; exit 1; }
printf x >"$T/tiny"
mkdir -p "$T/srv"

timeout 900 "$NIFTP" serve -q --listen tcp:127.0.0.1:0 --dir "$T/srv" \
	--ready-file "$T/sready" 2>"$T/serve.err" &
pids="$pids $!"
wait_ready "$T/sready" || { echo "bench_vcgw: niftp serve did not start"; exit 1; }
SADDR=$(sed -n 1p "$T/sready")
cat >"$T/gw.ini" <<EOF
[gateway]
name = benchgw
[listen]
yb = tcp:127.0.0.1:0
[map]
FTP = $SADDR
EOF
timeout 900 "$TOOLS/rusage" -o "$T/gw.ru" "$VCGW" -f -c "$T/gw.ini" \
	--ready-file "$T/gready" 2>"$T/gw.log" &
rupid=$!
pids="$pids $rupid"
wait_ready "$T/gready" || { echo "bench_vcgw: vcgw did not start: $(tail -3 "$T/gw.log")"; exit 1; }
GADDR=$(sed -n 1p "$T/gready")

# put_rate ADDR - one timed put of big.bin; sets rate (MiB/s) or ""
put_rate() {
	rate=""
	t0=$(now_ms)
	timeout 300 "$NIFTP" put -q --binary "$T/big.bin" "$1" >"$T/put.out" 2>"$T/put.err" \
		|| { echo "  put to $1 failed: $(head -2 "$T/put.err")" >&2; return; }
	t1=$(now_ms)
	name=$(cat "$T/put.out")
	cmp -s "$T/big.bin" "$T/srv/$name" || echo "  put to $1: stored copy differs" >&2
	rm -f "$T/srv/$name"
	rate=$(awk -v b=$BIG -v ms=$((t1 - t0)) 'BEGIN { if (ms > 0) printf "%.1f", b / 1048576 / (ms / 1000) }')
}

direct=""
via=""
r=0
while [ $r -lt "$RUNS" ]; do
	put_rate "$SADDR"
	direct=$(best "$direct" "$rate")
	put_rate "$GADDR"
	via=$(best "$via" "$rate")
	r=$((r + 1))
done

# setup_ms ADDR - mean wall ms of CALLS puts of a 1-octet file; sets mean
setup_ms() {
	n=0
	t0=$(now_ms)
	while [ $n -lt "$CALLS" ]; do
		timeout 30 "$NIFTP" put -q --retries 0 "$T/tiny" "$1" >/dev/null 2>>"$T/tiny.err"
		n=$((n + 1))
	done
	t1=$(now_ms)
	mean=$(awk -v ms=$((t1 - t0)) -v n="$CALLS" 'BEGIN { printf "%.2f", ms / n }')
}
setup_ms "$SADDR"
d_mean=$mean
setup_ms "$GADDR"
g_mean=$mean
setup_ms "$SADDR"
d_mean=$(awk -v a="$d_mean" -v b="$mean" 'BEGIN { printf "%.2f", (a < b) ? a : b }')
setup_ms "$GADDR"
g_mean=$(awk -v a="$g_mean" -v b="$mean" 'BEGIN { printf "%.2f", (a < b) ? a : b }')

kill -TERM "$rupid" 2>/dev/null
i=0
while kill -0 "$rupid" 2>/dev/null && [ $i -lt 600 ]; do
	i=$((i + 1))
	sleep 0.05
done
wait "$rupid" 2>/dev/null
gw_rss=$(sed -n 's/.* maxrss=\([0-9]*\).*/\1/p' "$T/gw.ru")

pct=$(awk -v a="$via" -v b="$direct" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.0f", 100 * a / b }')
printf '  %-46s %6s MiB  %9s MiB/s\n' "(a) niftp put --binary direct, tcp:" "$MIB" "${direct:--}"
printf '  %-46s %6s MiB  %9s MiB/s   %s%% of (a) (goal 85%%)\n' "(b) the same through vcgw (tcp: -> tcp:)" \
	"$MIB" "${via:--}" "$pct"
printf '  %-46s %6s      %9s ms\n' "(c) put of 1 octet, direct (mean of $CALLS)" "" "$d_mean"
printf '  %-46s %6s      %9s ms   gateway adds %s ms per call\n' "    the same through vcgw" "" "$g_mean" \
	"$(awk -v a="$g_mean" -v b="$d_mean" 'BEGIN { printf "%.2f", a - b }')"
printf '  peak RSS of vcgw: %s\n' "$(awk -v k="$gw_rss" 'BEGIN { if (k == "") print "-"; else printf "%.1f MiB", k / 1024 }')"
exit 0
