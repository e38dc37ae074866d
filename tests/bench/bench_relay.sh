#!/bin/sh
# bench_relay.sh - letters per second through a chain of relays, latency
# from drop to Maildir, and the daemons' memory with a long queue, with
# the machine's fsync rate measured in the same run (DESIGN section 11).
# It reports; it does not pass or fail.
#
# The chain: a -> b -> c, three mailrelayd on Unix sockets; letters are
# dropped into a's SPOOL/out/ by build/tools/relayload (tests/tools/
# relayload.c) and delivered into Maildirs at c: two NIFTP hops, every
# step durable (ER only after fsync; Maildir file and journal synced).
#
#   fsync rate       fsyncrate: 1 KiB file, fsync, rename, fsync dir, one
#                    at a time (the limit for one-at-a-time commits)
#   (1) 1 recipient  BENCH_LETTERS (5000) 1 KiB letters dropped at once;
#                    letters/s = letters / (first drop .. last Maildir file)
#   (2) 10 recipients the same with 10 recipients at c each (one copy per
#                    hop, 10 Maildir files per letter); BENCH_LETTERS10 (2000)
#   (3) latency      BENCH_LAT_N (2000) letters paced at BENCH_LAT_RATE/s
#                    (200): median and 99th percentile from drop to the
#                    Maildir file (its mtime); bursts (1) and (2) report
#                    theirs too (mostly queueing)
#   BENCH_CALLS_PER_HOP, when set, goes into [limits] calls_per_hop.
#   (4) memory       BENCH_QUEUE (100000) letters queued at a while b is
#                    down; then at b while c is down; then delivered at c.
#                    Peak RSS (VmHWM) of each daemon after each stage.
#                    Each stage may take BENCH_QUEUE_WAIT s (240); one
#                    that does not finish reports what it reached, so the
#                    whole run stays within tests/bench/run.sh's 900 s.
#
# Target (issue 3): twice Postfix's ~570 letters/s on this machine.
# Spools live under BENCH_DIR (default build/: the repository's file
# system; /tmp may be tmpfs, where fsync costs nothing). Bounded: every
# wait has a limit; everything started is stopped by the trap.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS="$top/build/tools"
N1=${BENCH_LETTERS:-5000}
N10=${BENCH_LETTERS10:-2000}
LATN=${BENCH_LAT_N:-2000}
LATRATE=${BENCH_LAT_RATE:-200}
QUEUE=${BENCH_QUEUE:-100000}
QWAIT=${BENCH_QUEUE_WAIT:-240}	# seconds each stage of (4) may take
CALLS=${BENCH_CALLS_PER_HOP:-}	# [limits] calls_per_hop when set (else the default)
for x in "$TOOLS/relayload" "$TOOLS/fsyncrate"; do
	[ -x "$x" ] || { echo "bench_relay: $x not built"; exit 1; }
done
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
. "$top/tests/integration/lib-relay.sh"
RELAY_READY_WAIT=60
RELAY_STOP_WAIT=60
relay_setup bench_relay "$parent"
LOAD="$TOOLS/relayload"

# configs FIRST MAX - the chain's configurations with these retry times
configs() {
	limits=""
	[ -n "$CALLS" ] && limits="[limits]
calls_per_hop = $CALLS"
	node_ini a <<EOF
[routes]
* = niftp $(sock b)
[local]
maildir = $(mdir a)/%u/
[retry]
first = $1
max = $2
$limits
EOF
	node_ini b <<EOF
[routes]
* = niftp $(sock c)
[local]
maildir = $(mdir b)/%u/
[retry]
first = $1
max = $2
$limits
EOF
	node_ini c <<EOF
[routes]
* = niftp $(sock a)
[local]
maildir = $(mdir c)/%u/
users = one0, lat0, q0, $(users ten 10 | sed 's/@c//g; s/,/, /g')
[retry]
first = $1
max = $2
$limits
EOF
}

# kv LINE KEY - KEY=VALUE from a relayload line
kv() { printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

# hwm NODE - peak and current resident set of NODE's daemon, in MiB
hwm() {
	awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 }
		END { if (h == "") print "-"; else printf "%.1f MiB peak (%.1f MiB now)", h / 1024, r / 1024 }' \
		"/proc/$(node_pid "$1")/status" 2>/dev/null
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }

# users PREFIX N - PREFIX0@c,...,PREFIX(N-1)@c; dirs PREFIX N - their Maildirs
users() { i=0; s=""; while [ $i -lt "$2" ]; do s="$s${s:+,}$1$i@c"; i=$((i + 1)); done; echo "$s"; }
mdirs() { i=0; while [ $i -lt "$2" ]; do printf '%s ' "$(mdir c)/$1$i"; i=$((i + 1)); done; }

fsdesc=$(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }')
echo "spools in $T ($fsdesc); chain a -> b -> c on unix: sockets; 1 KiB letters${CALLS:+; calls_per_hop $CALLS}"

# --- the fsync rate ----------------------------------------------------------------------------
mkdir -p "$T/fsync"
fsync_rate=$(timeout 30 "$TOOLS/fsyncrate" "$T/fsync" 2 1024 | sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p')

# --- (1), (2), (3) ---------------------------------------------------------------------------------
configs 1s 2s
for n in c b a; do
	start_node $n || { echo "bench_relay: node $n did not start: $(tail -3 "$T/$n.err")"; exit 1; }
done
OUT="$(spooldir a)/out"

# burst LABEL N USERPREFIX NUSERS [RATE] - drop N letters for NUSERS users
# at c and wait for N * NUSERS Maildir files; sets res (relayload wait line)
burst() {
	res=""
	ropt=""
	[ -n "${5:-}" ] && ropt="--rate $5"
	# shellcheck disable=SC2086
	dl=$(timeout 600 "$LOAD" drop "$OUT" "$2" --to "$(users "$3" "$4")" --from load@a \
		--size 1024 --tag "$1" $ropt)
	files=$(($2 * $4))
	# shellcheck disable=SC2046
	res=$(timeout 900 "$LOAD" wait "$files" --timeout $((60 + $2 / 20)) --interval 50 $(mdirs "$3" "$4") 2>&1 | tail -1)
	echo "  $1: $dl"
	echo "  $1: $res"
}

burst one "$N1" one 1
span1=$(kv "$res" span); med1=$(kv "$res" median_ms); p991=$(kv "$res" p99_ms)
dup1=$(kv "$res" dups); got1=$(kv "$res" letters)
burst ten "$N10" ten 10
span10=$(kv "$res" span); med10=$(kv "$res" median_ms); p9910=$(kv "$res" p99_ms)
dup10=$(kv "$res" dups); got10=$(kv "$res" letters)
burst lat "$LATN" lat 1 "$LATRATE"
medl=$(kv "$res" median_ms); p99l=$(kv "$res" p99_ms); maxl=$(kv "$res" max_ms); dupl=$(kv "$res" dups)
mem_a1=$(hwm a); mem_b1=$(hwm b); mem_c1=$(hwm c)
for n in a b c; do
	stop_node $n || echo "  bench_relay: $n did not stop on SIGTERM"
done
tput_lines=$(for n in a b c; do journal $n; done | grep -cE ' (deferred|failed|ndn|dead) ')

# --- (4) a long queue ---------------------------------------------------------------------------------
for n in a b c; do
	rm -rf "${T:?}/$n"
done
configs 30s 30s
start_node a || { echo "bench_relay: a did not start"; exit 1; }
OUT="$(spooldir a)/out"
t0=$(date +%s)
ql=$(timeout 900 "$LOAD" drop "$OUT" "$QUEUE" --to q0@c --from load@a --size 1024 --tag queue)
echo "  queue: $ql"
# wait_routed NODE N SECONDS - bounded poll until N letters are routed at NODE
wait_routed() {
	i=0
	while [ "$(jcount "$1" ' routed ')" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -le "$3" ] || return 1
		sleep 1
	done
	return 0
}
qsecs=$QWAIT
if wait_routed a "$QUEUE" $qsecs; then
	echo "  queue: $QUEUE letters queued at a in $(($(date +%s) - t0)) s (b down)"
else
	echo "  queue: only $(jcount a ' routed ') of $QUEUE routed at a after $qsecs s"
fi
qa=$(jcount a ' routed ')
mem_a_q=$(hwm a)
start_node b || { echo "bench_relay: b did not start"; exit 1; }
t1=$(date +%s)
timeout 30 "$MAILCTL" -c "$T/a.ini" retry >/dev/null 2>&1 || echo "  (mailctl retry failed: waiting for a's retry)"
if wait_routed b "$QUEUE" $qsecs; then
	echo "  queue: a -> b moved $QUEUE letters in $(($(date +%s) - t1)) s (c down)"
else
	echo "  queue: only $(jcount b ' routed ') of $QUEUE at b after $qsecs s"
fi
mem_a_s=$(hwm a)
qb=$(jcount b ' routed ')
mem_b_q=$(hwm b)
start_node c || { echo "bench_relay: c did not start"; exit 1; }
t2=$(date +%s)
timeout 30 "$MAILCTL" -c "$T/b.ini" retry >/dev/null 2>&1 || echo "  (mailctl retry failed: waiting for b's retry)"
res=$(timeout 900 "$LOAD" wait "$QUEUE" --timeout $qsecs --interval 500 "$(mdir c)/q0" 2>&1 | tail -1)
echo "  queue: b -> c delivered: $res ($(($(date +%s) - t2)) s)"
dupq=$(kv "$res" dups)
mem_b_s=$(hwm b)
qc=$(kv "$res" files)
mem_c_q=$(hwm c)
for n in a b c; do
	stop_node $n || echo "  bench_relay: $n did not stop on SIGTERM"
done

# --- report ---------------------------------------------------------------------------------------------
echo
printf '  %-52s %10s files/s\n' "fsync rate: 1 KiB, fsync, rename, fsync dir" "${fsync_rate:--}"
printf '  %-52s %10s letters/s (%s of %s letters, %s duplicates, span %s s)\n' \
	"(1) a->b->c, 1 recipient, durable" "$(rate "${got1:-0}" "${span1:-0}")" "${got1:--}" "$N1" "${dup1:--}" "${span1:--}"
printf '  %-52s %10s letters/s (%s deliveries/s; %s of %s letters, %s duplicates)\n' \
	"(2) a->b->c, 10 recipients, durable" "$(rate "${got10:-0}" "${span10:-0}")" \
	"$(rate "$((${got10:-0} * 10))" "${span10:-0}")" "${got10:--}" "$N10" "${dup10:--}"
printf '  %-52s %10s\n' "    target: 2 x Postfix (~570 letters/s)" "1140 letters/s"
printf '  %-52s median %s ms, p99 %s ms, max %s ms (%s duplicates)\n' \
	"(3) latency drop->Maildir at $LATRATE letters/s" "${medl:--}" "${p99l:--}" "${maxl:--}" "${dupl:--}"
printf '  %-52s median %s ms, p99 %s ms\n' "    in burst (1), $N1 letters at once" "${med1:--}" "${p991:--}"
printf '  %-52s median %s ms, p99 %s ms\n' "    in burst (2), $N10 letters at once" "${med10:--}" "${p9910:--}"
echo "  (4) memory (VmHWM), $QUEUE letters dropped:"
printf '      %-36s %s\n' "a after (1)-(3)" "$mem_a1"
printf '      %-36s %s\n' "b after (1)-(3)" "$mem_b1"
printf '      %-36s %s\n' "c after (1)-(3)" "$mem_c1"
printf '      %-36s %s\n' "a with $qa queued (b down)" "$mem_a_q"
printf '      %-36s %s\n' "a after sending to b" "$mem_a_s"
printf '      %-36s %s\n' "b with $qb queued (c down)" "$mem_b_q"
printf '      %-36s %s\n' "b after sending to c" "$mem_b_s"
printf '      %-36s %s   (%s duplicates)\n' "c after delivering ${qc:-0}" "$mem_c_q" "${dupq:--}"
[ "$tput_lines" -eq 0 ] || echo "  note: $tput_lines deferred/failed/ndn/dead journal lines during (1)-(3)"
exit 0
