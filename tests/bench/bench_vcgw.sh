#!/bin/sh
# bench_vcgw.sh - NIFTP through the virtual call gateway against the same
# transfer direct, measured in the same run, on the gateway's splice path
# and on its copying path ([gateway] splice = no). It reports; it does not
# pass or fail.
#
#   direct:  niftp put --binary straight to niftp serve, over tcp: and unix:
#   splice:  the same put to a gateway (tcp: in) that splices, out over
#            tcp: and over unix:                       goal: >= 90% of direct
#   copy:    the same through a second gateway with splice = no
#   floor:   the same through build/tools/blindrelay, which splices octets
#            without looking at them (no framing, nothing counted): what
#            one more process and one more connection cost the kernel,
#            the least any gateway can cost
#   kernel:  the same through blindrelay --kernel (tcp: -> tcp:), where
#            a BPF sockmap redirects the octets inside the kernel and no
#            process reads them: what the second connection alone costs
#            (needs root; left out, and said so, where BPF is refused).
#            Its CPU is spent in the kernel on behalf of the sender, not
#            in the relay, so no CPU figure is given for it
#   call set-up: BENCH_CALLS (default 50) puts of a 1-octet file, direct
#            and through the splicing gateway, one after another; the
#            difference of the mean wall times is the time the gateway
#            adds to a call (set-up, ACCEPT relay, the few records of a
#            tiny transfer, the release)
#   CPU seconds per GiB of each gateway (utime+stime from /proc over its
#   timed puts) and its peak RSS (run under tests/tools/rusage); and,
#   for every path, the whole machine's busy CPU seconds per GiB (from
#   /proc/stat: user, system, irq and softirq of all processes, the
#   put, the server and the kernel's threads included), which counts
#   what the sockmap floor spends outside any process
#   base:    with BENCH_VCGW_BASE=BINARY, a third gateway run from that
#            binary (e.g. one built from an older commit), for a before
#            and after in the same run
#
# Each rate is the best of BENCH_RUNS (default 3) rounds; a round runs
# all six transfers, in an order rotated from round to round, so that
# every path sees the same machine (its rates swing 2-3x over minutes).
# "% of direct" compares with the direct put to the same server (tcp:
# or unix:). Files live under BENCH_DIR (default build/, the repository's
# file system). Size: BENCH_VCGW_MIB (default 256). Bounded: every
# command runs under timeout(1); the trap stops what was started and
# removes the directory.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
NIFTP="$top/bin/niftp"
VCGW="$top/bin/vcgw"
TOOLS="$top/build/tools"
RUNS=${BENCH_RUNS:-3}
MIB=${BENCH_VCGW_MIB:-256}
CALLS=${BENCH_CALLS:-50}
for x in "$NIFTP" "$VCGW" "$TOOLS/rusage" "$TOOLS/blindrelay"; do
	[ -x "$x" ] || { echo "bench_vcgw: $x not built"; exit 1; }
done
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
T=$(mktemp -d "$parent/bench_vcgw.XXXXXX") || exit 1
pids=""
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

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
trap 'exit 1' INT TERM HUP PIPE

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

# busy - the machine's busy time so far (user+nice+system+irq+softirq), in ticks
busy() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

# ticks PID - utime + stime of a process, in clock ticks
ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

BIG=$((MIB * 1048576))
head -c $BIG /dev/urandom >"$T/big.bin" || { echo "bench_vcgw: cannot make big.bin"; exit 1; }
printf x >"$T/tiny"
mkdir -p "$T/srv"

timeout 1800 "$NIFTP" serve -q --listen tcp:127.0.0.1:0 --listen "unix:$T/srv.sock" \
	--dir "$T/srv" --ready-file "$T/sready" 2>"$T/serve.err" &
pids="$pids $!"
wait_ready "$T/sready" || { echo "bench_vcgw: niftp serve did not start"; exit 1; }
STCP=$(sed -n 1p "$T/sready")
SUNIX=$(sed -n 2p "$T/sready")

# start_gw NAME EXTRA [BINARY] - a gateway (tcp: in; FTP to tcp:, UNIX to
# unix:) under rusage; sets gaddr and gpid (the gateway's own pid)
start_gw() {
	cat >"$T/$1.ini" <<EOF
[gateway]
name = $1
$2
[listen]
yb = tcp:127.0.0.1:0
[map]
FTP = $STCP
UNIX = $SUNIX FTP
EOF
	timeout 1800 "$TOOLS/rusage" -o "$T/$1.ru" "${3:-$VCGW}" -f -c "$T/$1.ini" \
		-p "$T/$1.pid" --ready-file "$T/$1.ready" 2>"$T/$1.log" &
	rupid=$!
	pids="$pids $rupid"
	eval "rupid_$1=$rupid"
	wait_ready "$T/$1.ready" || { echo "bench_vcgw: vcgw $1 did not start: $(tail -3 "$T/$1.log")"; exit 1; }
	gaddr=$(sed -n 1p "$T/$1.ready")
	gpid=$(cat "$T/$1.pid")
}
start_gw splice ""
GS=$gaddr
PID_S=$gpid
start_gw copy "splice = no"
GC=$gaddr
PID_C=$gpid
# start_relay NAME TO - a blind relay to TO; sets raddr and rpid
start_relay() {
	timeout 1800 "$TOOLS/blindrelay" --listen tcp:127.0.0.1:0 --to "$2" $3 \
		--ready-file "$T/$1.ready" 2>"$T/$1.log" &
	pids="$pids $!"
	wait_ready "$T/$1.ready" || { echo "bench_vcgw: blindrelay $3 did not start: $(tail -3 "$T/$1.log")"; return 1; }
	raddr=$(sed -n 1p "$T/$1.ready")
	rpid=$(pgrep -P "$!" | head -1)	# the relay, not timeout(1)
}
start_relay rt "$STCP" "" || exit 1
RT=$raddr
PID_RT=$rpid
start_relay ru "$SUNIX" "" || exit 1
RU=$raddr
PID_RU=$rpid
KT=""
start_relay kt "$STCP" --kernel 2>"$T/kt.why" && KT=$raddr
BASE=${BENCH_VCGW_BASE:-}
if [ -n "$BASE" ]; then
	start_gw base "" "$BASE"
	GB=$gaddr
	PID_B=$gpid
fi

# put_rate ADDR [CALLED] - one timed put of big.bin; sets rate (MiB/s) or "",
# and b0, b1: the machine's busy ticks before and after
put_rate() {
	rate=""
	b0=$(busy)
	t0=$(now_ms)
	timeout 300 "$NIFTP" put -q --binary ${2:+--called "$2"} "$T/big.bin" "$1" \
		>"$T/put.out" 2>"$T/put.err" \
		|| { echo "  put to $1 ${2:-} failed: $(head -2 "$T/put.err")" >&2; return; }
	t1=$(now_ms)
	b1=$(busy)
	name=$(cat "$T/put.out")
	cmp -s "$T/big.bin" "$T/srv/$name" || echo "  put to $1 ${2:-}: stored copy differs" >&2
	rm -f "$T/srv/$name"
	rate=$(awk -v b=$BIG -v ms=$((t1 - t0)) 'BEGIN { if (ms > 0) printf "%.1f", b / 1048576 / (ms / 1000) }')
}

# path P - the address, called address and gateway pid (or -) of path P
path() {
	case $1 in
	dt) addr=$STCP called= gp=- ;;
	du) addr=$SUNIX called= gp=- ;;
	st) addr=$GS called=FTP gp=$PID_S ;;
	su) addr=$GS called=UNIX gp=$PID_S ;;
	ct) addr=$GC called=FTP gp=$PID_C ;;
	cu) addr=$GC called=UNIX gp=$PID_C ;;
	ft) addr=$RT called= gp=$PID_RT ;;
	fu) addr=$RU called= gp=$PID_RU ;;
	kt) addr=$KT called= gp=- ;;
	bt) addr=$GB called=FTP gp=$PID_B ;;
	bu) addr=$GB called=UNIX gp=$PID_B ;;
	esac
}
paths="dt du st su ct cu ft fu"
[ -n "$KT" ] && paths="$paths kt"
[ -n "$BASE" ] && paths="$paths bt bu"
for p in dt du st su ct cu ft fu kt bt bu; do
	eval "rate_$p='' all_$p='' cpu_$p=0 n_$p=0 sys_$p=0 ns_$p=0"
done
r=0
while [ $r -lt "$RUNS" ]; do
	# the order rotated by r
	order=$(echo $paths | awk -v r=$r '{ for (i = 0; i < NF; i++) printf "%s ", $(1 + (i + r) % NF) }')
	for p in $order; do
		path $p
		[ "$gp" = - ] || c0=$(ticks "$gp")
		put_rate "$addr" "$called"
		[ -n "$rate" ] && eval "sys_$p=\$((sys_$p + b1 - b0)) ns_$p=\$((ns_$p + 1))"
		if [ "$gp" != - ] && [ -n "$rate" ]; then
			c1=$(ticks "$gp")
			eval "cpu_$p=\$((cpu_$p + c1 - c0)) n_$p=\$((n_$p + 1))"
		fi
		eval "rate_$p=\$(best \"\$rate_$p\" \"\$rate\") all_$p=\"\$all_$p \${rate:--}\""
	done
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
setup_ms "$STCP"
d_mean=$mean
setup_ms "$GS"
g_mean=$mean
setup_ms "$STCP"
d_mean=$(awk -v a="$d_mean" -v b="$mean" 'BEGIN { printf "%.2f", (a < b) ? a : b }')
setup_ms "$GS"
g_mean=$(awk -v a="$g_mean" -v b="$mean" 'BEGIN { printf "%.2f", (a < b) ? a : b }')

# stop_gw NAME - SIGTERM (through rusage), bounded wait; sets rss (KiB)
stop_gw() {
	eval "rp=\$rupid_$1"
	kill -TERM "$rp" 2>/dev/null
	i=0
	while kill -0 "$rp" 2>/dev/null && [ $i -lt 600 ]; do
		i=$((i + 1))
		sleep 0.05
	done
	wait "$rp" 2>/dev/null
	rss=$(sed -n 's/.* maxrss=\([0-9]*\).*/\1/p' "$T/$1.ru")
}
stop_gw splice
rss_s=$rss
stop_gw copy
rss_c=$rss
[ -n "$BASE" ] && stop_gw base

pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.0f%%", 100 * a / b }'
}
# cpu_gib TICKS N - CPU seconds per GiB over N puts
cpu_gib() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" -v mib="$MIB" \
		'BEGIN { if (n == 0) print "-"; else printf "%.3f", t / hz / (n * mib / 1024) }'
}
line() {	# LABEL RATE PCT CPU PATH
	printf '  %-34s %8s  %7s  %9s  %9s\n' "$1" "${2:--}" "${3:-}" "$4" "$(eval "cpu_gib \$sys_$5 \$ns_$5")"
}
echo "  $MIB MiB, best of $RUNS rounds (each round every path once, the order rotated)"
echo "  relay CPU: the gateway's (or blindrelay's) own; all CPU: the whole machine's; s per GiB"
printf '  %-34s %8s  %7s  %9s  %9s\n' "" "MiB/s" "of direct" "relay CPU" "all CPU"
line "direct, tcp:" "$rate_dt" "" "-" dt
line "vcgw splice, tcp: -> tcp:" "$rate_st" "$(pct "$rate_st" "$rate_dt")" "$(cpu_gib $cpu_st $n_st)" st
line "vcgw copy,   tcp: -> tcp:" "$rate_ct" "$(pct "$rate_ct" "$rate_dt")" "$(cpu_gib $cpu_ct $n_ct)" ct
line "floor (blindrelay), tcp: -> tcp:" "$rate_ft" "$(pct "$rate_ft" "$rate_dt")" "$(cpu_gib $cpu_ft $n_ft)" ft
if [ -n "$KT" ]; then
	line "floor in kernel (sockmap), tcp:" "$rate_kt" "$(pct "$rate_kt" "$rate_dt")" "-" kt
else
	echo "  floor in kernel (sockmap): left out: $(tail -1 "$T/kt.why" | cut -c1-120)"
fi
line "direct, unix:" "$rate_du" "" "-" du
line "vcgw splice, tcp: -> unix:" "$rate_su" "$(pct "$rate_su" "$rate_du")" "$(cpu_gib $cpu_su $n_su)" su
line "vcgw copy,   tcp: -> unix:" "$rate_cu" "$(pct "$rate_cu" "$rate_du")" "$(cpu_gib $cpu_cu $n_cu)" cu
line "floor (blindrelay), tcp: -> unix:" "$rate_fu" "$(pct "$rate_fu" "$rate_du")" "$(cpu_gib $cpu_fu $n_fu)" fu
if [ -n "$BASE" ]; then
	line "base vcgw,   tcp: -> tcp:" "$rate_bt" "$(pct "$rate_bt" "$rate_dt")" "$(cpu_gib $cpu_bt $n_bt)" bt
	line "base vcgw,   tcp: -> unix:" "$rate_bu" "$(pct "$rate_bu" "$rate_du")" "$(cpu_gib $cpu_bu $n_bu)" bu
	echo "  base: $BASE"
fi
echo "  every round (MiB/s): direct tcp:$all_dt, unix:$all_du;"
echo "    splice tcp:$all_st, unix:$all_su; copy tcp:$all_ct, unix:$all_cu;"
echo "    floor tcp:$all_ft, unix:$all_fu${KT:+; kernel tcp:$all_kt}${BASE:+; base tcp:$all_bt, unix:$all_bu}"
printf '  put of 1 octet, direct (mean of %s): %s ms; through vcgw: %s ms; the gateway adds %s ms per call\n' \
	"$CALLS" "$d_mean" "$g_mean" "$(awk -v a="$g_mean" -v b="$d_mean" 'BEGIN { printf "%.2f", a - b }')"
printf '  peak RSS of vcgw: splice %s, copy %s\n' \
	"$(awk -v k="$rss_s" 'BEGIN { if (k == "") print "-"; else printf "%.1f MiB", k / 1024 }')" \
	"$(awk -v k="$rss_c" 'BEGIN { if (k == "") print "-"; else printf "%.1f MiB", k / 1024 }')"
exit 0
