#!/bin/sh
# bench_startup.sh - one node with a long queue: its memory, and how long
# it takes to start again (issue 9: "100,000 letters queued: memory under
# 64 MiB per node; start-up with 100,000 queued letters under 5 s").
# make bench-startup; doc/bench.md. It reports; it does not pass or fail.
#
# One node, a, whose only route ("*") goes to a NIFTP next hop on a Unix
# socket that does not exist, retried after 1 h: every letter stays
# queued. While a runs, build/tools/relayload (tests/tools/relayload.c)
# drops BENCH_N (100000) letters of 1 KiB, 1 recipient, into SPOOL/out/
# in chunks of BENCH_CHUNK (5000), each chunk once out/ is empty again
# (out/ never holds more than one chunk). Then:
#
#   fill         letters/s from the first drop until "mailctl stats"
#                shows N queued (received, routed, durable)
#   memory       VmRSS and VmHWM of the daemon with N queued
#   stop         SIGTERM until the process has gone
#   spool        entries under SPOOL (find | wc -l), du -sh, the journal
#                (journal*), dockets.snap* and intent sizes
#   start-up     mailrelayd started again; wall time from just before the
#                exec until (a) "mailctl ping" answers on the control
#                socket (polled every 20 ms), (b) SPOOL/ready names the
#                new pid, (c) "mailctl queue" (the daemon's own list)
#                shows all N letters; the daemon's CPU time at (c)
#   memory       VmRSS and VmHWM at (c), and again after the daemon's
#                first statistics scan (SPOOL/metrics rewritten)
#   idle         then BENCH_SETTLE (30) s of measurement with nothing
#                arriving: the daemon's CPU (% of a core; the statistics
#                scan every metrics_interval) and VmRSS/VmHWM at the end,
#                with the main heap and the other large anonymous
#                mappings (the worker threads' malloc arenas) from smaps
#
# "mailctl stats" reads the spool itself (it works without a daemon), so
# the control socket is timed with "ping"; the daemon loads its queue
# before its loop answers, so (a) normally already implies (c).
#
# Environment: BENCH_N (100000), BENCH_CHUNK (5000), BENCH_SETTLE (30),
# BENCH_FILL_WAIT (seconds the fill may take, 900), BENCH_START_WAIT
# (seconds a start or stop may take, 120), BENCH_DIR (parent of the
# temporary directory, default build/: the repository's file system;
# /tmp may be tmpfs), BENCH_PROFILE=perf|strace|heaptrack (the restart
# runs under "perf record --call-graph dwarf", "strace -c -f" or
# heaptrack, and the top of the profile is printed: the restart's whole
# life, start-up, BENCH_SETTLE s idle and stop; its times are then the
# profiler's, not the daemon's), BENCH_COLD=1 (sync and drop the page
# cache before the restart: needs root, affects the whole machine).
#
# tests/bench/run.sh runs every bench_*.sh, so "make bench" runs this
# one too (about 70 s with the defaults here).
#
# Bounded: every wait has a limit; the trap of tests/integration/
# lib-relay.sh stops everything started here and removes the directory
# (RELAY_KEEP=1 keeps it).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS="$top/build/tools"
N=${BENCH_N:-100000}
CHUNK=${BENCH_CHUNK:-5000}
FILL_WAIT=${BENCH_FILL_WAIT:-900}
START_WAIT=${BENCH_START_WAIT:-120}
PROFILE=${BENCH_PROFILE:-}
COLD=${BENCH_COLD:-0}
SETTLE=${BENCH_SETTLE:-30}
TARGET_S=5
TARGET_MIB=64
[ -x "$TOOLS/relayload" ] || { echo "bench_startup: $TOOLS/relayload not built"; exit 1; }
case $PROFILE in
"") ;;
perf | strace | heaptrack)
	command -v "$PROFILE" >/dev/null 2>&1 || { echo "bench_startup: $PROFILE not installed"; exit 1; } ;;
*) echo "bench_startup: BENCH_PROFILE must be perf, strace or heaptrack"; exit 64 ;;
esac
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
# shellcheck source=tests/integration/lib-relay.sh
. "$top/tests/integration/lib-relay.sh"
# shellcheck disable=SC2034 # read by lib-relay.sh (start_node, stop_node)
RELAY_READY_WAIT=$START_WAIT
# shellcheck disable=SC2034
RELAY_STOP_WAIT=$START_WAIT
RELAYD_BIN=$RELAYD
relay_setup bench_startup "$parent"
LOAD="$TOOLS/relayload"
INI="$T/a.ini"
SP="$T/a/spool"
HZ=$(getconf CLK_TCK)

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
ctl() { timeout 30 "$MAILCTL" -c "$INI" "$@" 2>>"$T/mailctl.err"; }
# queued - the total of "mailctl stats" (from the spool, daemon or not)
queued() { ctl stats | awk '$1 == "total" { print $2 + 0; found = 1 } END { if (!found) print 0 }'; }
# listed - letters in the daemon's own list ("mailctl queue": a letter's
# line starts with its name, its other lines with spaces)
listed() { ctl queue | grep -c '^[^ ]'; }
# mem PID - "RSS HWM" in kB
mem() { awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print (r == "" ? 0 : r) " " (h == "" ? 0 : h) }' \
	"/proc/$1/status" 2>/dev/null || echo "0 0"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# cpu_ms PID - user+system CPU of PID so far
cpu_ms() { awk -v hz="$HZ" '{ sub(/^.*\) /, ""); printf "%.0f", ($12 + $13) * 1000 / hz }' \
	"/proc/$1/stat" 2>/dev/null || echo "-"; }
size_of() { stat -c %s "$@" 2>/dev/null | awk '{ s += $1 } END { printf "%.1f MiB", s / 1048576 }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 <= t + 0) ? "within" : "OVER" }'; }

node_ini a <<EOF
[routes]
* = niftp unix:$T/nowhere.sock
[retry]
first = 1h
max = 1h
EOF

fsdesc=$(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }')
echo "spool in $T ($fsdesc); $N letters of 1 KiB, 1 recipient, next hop unreachable, retry 1h"
start_node a || { echo "bench_startup: node a did not start: $(tail -3 "$T/a.err")"; exit 1; }
pid1=$(node_pid a)

# --- fill ------------------------------------------------------------------------------------------
t_fill0=$(now_ms)
deadline=$((t_fill0 + FILL_WAIT * 1000))
dropped=0
k=0
while [ "$dropped" -lt "$N" ]; do
	c=$CHUNK
	[ $((N - dropped)) -lt "$c" ] && c=$((N - dropped))
	timeout 600 "$LOAD" drop "$SP/out" "$c" --to q0@b --from load@a --size 1024 \
		--tag "fill$k" >/dev/null || { echo "bench_startup: relayload drop failed"; exit 1; }
	dropped=$((dropped + c))
	k=$((k + 1))
	# bounded: out/ empty again (the daemon took the chunk)
	while [ -n "$(ls "$SP/out" 2>/dev/null)" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || break 2
		running a || break 2
		sleep 0.1
	done
	if [ $((dropped % 25000)) -lt "$c" ] || [ "$dropped" -eq "$N" ]; then
		echo "  fill: $dropped dropped and taken, $(secs $(($(now_ms) - t_fill0))) s"
	fi
done
q=0
while :; do
	q=$(queued)
	[ "$q" -ge "$N" ] && break
	[ "$(now_ms)" -lt "$deadline" ] || break
	running a || break
	sleep 0.5
done
t_fill1=$(now_ms)
fill_ms=$((t_fill1 - t_fill0))
fill_rate=$(awk -v n="$q" -v ms="$fill_ms" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
if [ "$q" -ge "$N" ]; then
	echo "  fill: $q queued in $(secs $fill_ms) s: $fill_rate letters/s"
else
	echo "  fill: only $q of $N queued after $(secs $fill_ms) s ($fill_rate letters/s); going on with $q"
fi
NQ=$q
# shellcheck disable=SC2046 # two numbers
set -- $(mem "$pid1")
rss1=$1 hwm1=$2
cpu1=$(cpu_ms "$pid1")
echo "  with $NQ queued: VmRSS $(mib "$rss1") MiB, VmHWM $(mib "$hwm1") MiB, CPU so far $cpu1 ms"

# --- stop -------------------------------------------------------------------------------------------
t=$(now_ms)
stop_node a || echo "  bench_startup: a did not stop on SIGTERM (killed)"
stop_ms=$(($(now_ms) - t))
# shellcheck disable=SC2154 # node_rc: set by stop_node (lib-relay.sh)
echo "  stop: SIGTERM to exit $(secs $stop_ms) s (status $node_rc)"

# --- the spool --------------------------------------------------------------------------------------
entries=$(find "$SP" | wc -l | tr -d ' ')
du_sp=$(du -sh "$SP" | cut -f1)
jsize=$(size_of "$SP"/journal*)
dsize=$(size_of "$SP"/dockets.snap*)
isize=$(size_of "$SP/intent")
qfiles=$(ls "$SP/queue" | wc -l | tr -d ' ')
echo "  spool: $entries entries (queue/ $qfiles files), du $du_sp; journal $jsize, dockets.snap $dsize, intent $isize"

# --- start again -----------------------------------------------------------------------------------
if [ "$COLD" = 1 ]; then
	sync
	if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		echo "  page cache dropped before the restart (BENCH_COLD=1)"
	else
		echo "  BENCH_COLD=1: cannot drop the page cache (not root?): a warm start"
	fi
fi
if [ -n "$PROFILE" ]; then
	# the profiler runs the daemon; node_pid is the profiler's pid
	case $PROFILE in
	perf) printf '#!/bin/sh\nexec perf record -q --call-graph dwarf,16384 -F 499 -o "%s" -- "%s" "$@"\n' \
		"$T/perf.data" "$RELAYD_BIN" ;;
	strace) printf '#!/bin/sh\nexec strace -c -f -o "%s" -- "%s" "$@"\n' "$T/strace.txt" "$RELAYD_BIN" ;;
	heaptrack) printf '#!/bin/sh\nexec heaptrack -o "%s" "%s" "$@"\n' "$T/heaptrack" "$RELAYD_BIN" ;;
	esac >"$T/wrap.sh"
	chmod +x "$T/wrap.sh"
	RELAYD="$T/wrap.sh"
fi
t_exec=$(now_ms)
start_node_nowait a
pid2=$(node_pid a)
t_ping="" t_ready="" t_all=""
deadline=$((t_exec + START_WAIT * 1000))
while [ -z "$t_ping" ]; do
	if timeout 10 "$MAILCTL" -c "$INI" ping >/dev/null 2>&1; then
		t_ping=$(now_ms)
		break
	fi
	running a || { echo "bench_startup: a exited while starting: $(tail -3 "$T/a.err")"; exit 1; }
	[ "$(now_ms)" -lt "$deadline" ] || break
	sleep 0.02
done
if [ -n "$PROFILE" ]; then
	# the daemon is the profiler's child
	dpid=$(pgrep -P "$pid2" -x mailrelayd | head -1)
	[ -n "$dpid" ] && pids="$pids $dpid"
else
	dpid=$pid2
fi
while [ -z "$t_ready" ]; do
	if grep -qx "pid $dpid" "$SP/ready" 2>/dev/null; then
		t_ready=$(now_ms)
		break
	fi
	[ "$(now_ms)" -lt "$deadline" ] || break
	sleep 0.02
done
n2=0
while [ -z "$t_all" ] && [ -n "$t_ping" ]; do
	n2=$(listed)
	if [ "$n2" -ge "$NQ" ]; then
		t_all=$(now_ms)
		break
	fi
	[ "$(now_ms)" -lt "$deadline" ] || break
	sleep 0.02
done
# shellcheck disable=SC2046 # two numbers
set -- $(mem "$dpid")
rss2=$1 hwm2=$2
cpu2=$(cpu_ms "$dpid")
t_loaded=$(now_ms)
el() { if [ -n "$1" ]; then secs $(($1 - t_exec)); else echo "-"; fi; }
echo "  start-up: ping answered $(el "$t_ping") s, ready file $(el "$t_ready") s," \
	"queue lists $n2 of $NQ at $(el "$t_all") s; CPU $cpu2 ms; VmRSS $(mib "$rss2") MiB"
# after the first statistics scan of the new daemon (SPOOL/metrics rewritten)
scanned=0
while :; do
	m=$(stat -c %Y "$SP/metrics" 2>/dev/null || echo 0)
	if [ $((m * 1000)) -gt "$t_exec" ]; then
		scanned=1
		break
	fi
	[ "$(now_ms)" -lt $((t_loaded + 60000)) ] || break
	running a || break
	sleep 0.1
done
# shellcheck disable=SC2046 # two numbers
set -- $(mem "$dpid")
rss3=$1 hwm3=$2
# idle with the queue: BENCH_SETTLE seconds of measurement (not a wait
# for anything): CPU and resident set while nothing arrives or leaves
cpu_s0=$(cpu_ms "$dpid")
t_s0=$(now_ms)
i=0
while [ $i -lt "$SETTLE" ] && running a; do
	sleep 1
	i=$((i + 1))
done
t_s1=$(now_ms)
cpu_s1=$(cpu_ms "$dpid")
# shellcheck disable=SC2046 # two numbers
set -- $(mem "$dpid")
rss4=$1 hwm4=$2
idle_pct=$(awk -v c0="$cpu_s0" -v c1="$cpu_s1" -v t0="$t_s0" -v t1="$t_s1" \
	'BEGIN { printf "%.1f", (t1 > t0 ? (c1 - c0) * 100 / (t1 - t0) : 0) }')
nthr=$(ls "/proc/$dpid/task" 2>/dev/null | wc -l | tr -d ' ')
# the heap: the main one and the 64 MiB-aligned thread arenas (resident kB)
arenas=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6; anon = (NF < 6) }
	/^Rss:/ { if (name == "[heap]") h += $2; else if (anon && $2 >= 4096) { a += $2; n++ } }
	END { printf "%d %d %d", h, a, n }' "/proc/$dpid/smaps" 2>/dev/null || echo "0 0 0")
# shellcheck disable=SC2086 # three numbers
set -- $arenas
heap_kb=$1 arena_kb=$2 narena=$3
if [ "$SETTLE" -gt 0 ]; then
	echo "  idle ${SETTLE} s with $NQ queued: CPU $idle_pct% of a core; VmRSS $(mib "$rss4") MiB" \
		"(main heap $(mib "$heap_kb") MiB; $narena other anonymous mappings of 4 MiB or more," \
		"the threads' malloc arenas, $(mib "$arena_kb") MiB; $nthr threads)"
fi
if [ -n "$PROFILE" ]; then
	kill -TERM "$dpid" 2>/dev/null
	wait_exit a "$START_WAIT" || { kill -KILL "$dpid" "$pid2" 2>/dev/null; echo "  profiler did not stop"; }
	echo
	case $PROFILE in
	perf)
		echo "  perf report: the restart's whole life; self time, top 25:"
		perf report -i "$T/perf.data" --stdio --no-children -g none --sort sym --percent-limit 0.5 \
			2>/dev/null | grep -E '^ +[0-9.]+%' | head -25
		echo "  perf report: with children, our functions, top 40:"
		perf report -i "$T/perf.data" --stdio --children -g none --sort sym --percent-limit 1 \
			2>/dev/null | grep -E '^ +[0-9.]+%' | grep -F '[.]' | head -40 ;;
	strace)
		echo "  strace -c -f: the restart's whole life:"
		sed -n '1,30p' "$T/strace.txt" ;;
	heaptrack)
		echo "  heaptrack: the heap at its peak by allocating function (outer > inner; top 20):"
		heaptrack_print -f "$T"/heaptrack.*st -F "$T/ht.stacks" --flamegraph-cost-type peak \
			>"$T/ht.txt" 2>&1
		awk '{ cost = $NF; $NF = ""; s = $0; sub(/[; ]+$/, "", s)
			n = split(s, f, ";")
			for (i = n; i > 1; i--) {
				g = f[i]; sub(/ \(.*/, "", g)
				if (g !~ /^(x?malloc|x?calloc|x?realloc|xmemdup|x?strn?dup|__libc_.*|_int_.*)$/)
					break
			}
			g = f[i]; sub(/ \(.*/, "", g); h = i > 1 ? f[i - 1] : ""; sub(/ \(.*/, "", h)
			c[(s ~ /workq_main/ ? "[worker thread] " : "") h " > " g] += cost
		}
		END { for (k in c) printf "    %8.2f MiB  %s\n", c[k] / 1048576, k }' "$T/ht.stacks" |
			sort -rn | head -20
		grep -E '^(peak heap|peak RSS|calls to allocation)' "$T/ht.txt" | sed 's/^/    /' ;;
	esac
else
	stop_node a || echo "  bench_startup: a did not stop on SIGTERM (killed)"
fi

# --- report ------------------------------------------------------------------------------------------
to_ping=$([ -n "$t_ping" ] && echo $((t_ping - t_exec)) || echo "")
to_all=$([ -n "$t_all" ] && echo $((t_all - t_exec)) || echo "")
echo
printf '  %-50s %s\n' "letters queued" "$NQ (of $N), 1 KiB, 1 recipient"
printf '  %-50s %s letters/s (%s s)\n' "fill (drop .. stats shows them queued)" "$fill_rate" "$(secs $fill_ms)"
printf '  %-50s %s MiB RSS, %s MiB peak (HWM)   [%s %s MiB]\n' "memory with the queue, first run" \
	"$(mib "$rss1")" "$(mib "$hwm1")" "$(verdict "$(mib "$hwm1")" $TARGET_MIB)" $TARGET_MIB
printf '  %-50s %s s\n' "stop (SIGTERM .. exit)" "$(secs $stop_ms)"
printf '  %-50s %s entries, du %s; journal %s, dockets.snap %s\n' "spool" "$entries" "$du_sp" "$jsize" "$dsize"
if [ -n "$to_ping" ]; then
	printf '  %-50s %s s   [%s %s s]\n' "start-up: exec .. control socket answers" \
		"$(secs "$to_ping")" "$(verdict "$(secs "$to_ping")" $TARGET_S)" $TARGET_S
else
	printf '  %-50s no answer within %s s   [OVER %s s]\n' "start-up: exec .. control socket answers" "$START_WAIT" $TARGET_S
fi
if [ -n "$to_all" ]; then
	printf '  %-50s %s s   [%s %s s]\n' "start-up: exec .. all $NQ listed by the daemon" \
		"$(secs "$to_all")" "$(verdict "$(secs "$to_all")" $TARGET_S)" $TARGET_S
else
	printf '  %-50s %s listed within %s s   [OVER %s s]\n' "start-up: exec .. all $NQ listed by the daemon" "$n2" "$START_WAIT" $TARGET_S
fi
printf '  %-50s %s ms\n' "start-up CPU (user+system) when all listed" "$cpu2"
printf '  %-50s %s MiB RSS, %s MiB peak (HWM)   [%s %s MiB]\n' "memory after the restart, all loaded" \
	"$(mib "$rss2")" "$(mib "$hwm2")" "$(verdict "$(mib "$hwm2")" $TARGET_MIB)" $TARGET_MIB
if [ "$scanned" = 1 ]; then
	printf '  %-50s %s MiB RSS, %s MiB peak (HWM)\n' "    after its first statistics scan" "$(mib "$rss3")" "$(mib "$hwm3")"
fi
if [ "$SETTLE" -gt 0 ]; then
	printf '  %-50s %s MiB RSS, %s MiB peak (HWM)   [%s %s MiB]\n' "    after $SETTLE s idle" \
		"$(mib "$rss4")" "$(mib "$hwm4")" "$(verdict "$(mib "$hwm4")" $TARGET_MIB)" $TARGET_MIB
	printf '  %-50s %s%% of a core (the statistics scans)\n' "    CPU while idle with the queue" "$idle_pct"
fi
[ -n "$PROFILE" ] && echo "  (the restart ran under $PROFILE: its times are not the daemon's own)"
[ "$COLD" = 1 ] && echo "  (BENCH_COLD=1: the restart began with the page cache dropped)"
exit 0
