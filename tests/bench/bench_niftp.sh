#!/bin/sh
# bench_niftp.sh - niftp transfer rates against the raw limits of the same
# machine, measured in the same run (DESIGN section 11). It reports; it does
# not pass or fail.
#
#   (a) raw loopback TCP copy to /dev/null           (tcpcopy, no disk)
#   (b) raw loopback TCP copy into a file fsynced at the end
#                                                    (the baseline: the same
#                                                    durability as ER(OK))
#   (c) niftp put --binary to niftp serve on tcp:    256 MiB random data
#   (d) niftp put (text) to niftp serve on tcp:      64 MiB of lines of
#                                                    varying length
#   the fsync rate: 4 KiB file + fsync + rename + fsync dir, one at a time
#   peak RSS of put (c, d) and of serve (serve runs under tests/tools/rusage
#   and is stopped with SIGTERM at the end)
#
# The runs are interleaved, round by round (a, b, c, d, a, b, c, d, ...), so
# that a disk or a neighbour that changes speed during the benchmark affects
# the baseline and niftp alike; each figure is reported as the best and the
# median of BENCH_RUNS (default 5) rounds, and the ratios to (b) for both.
# Before every run the dirty pages of the previous one are written (sync)
# and the source file is read once, so each run starts with the source in
# the page cache and no writeback of an earlier run in progress. Rates are
# octets of the source file per second of wall time: for (b), (c) and (d)
# that includes the receiver's fsync before it acknowledges. The source files and the server
# directory are in one temporary directory under BENCH_DIR (default build/,
# the repository's file system: /tmp may be tmpfs, where fsync costs nothing).
# Sizes: BENCH_BIG_MIB (256), BENCH_TEXT_MIB (64). BENCH_NIFTP names another
# niftp binary to measure (default bin/niftp), e.g. to compare two builds.
#
# Bounded: every command runs under timeout(1); everything started is
# stopped by the trap, and the temporary directory removed.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BENCH_NIFTP:-$top/bin/niftp}
TOOLS="$top/build/tools"
RUNS=${BENCH_RUNS:-5}
BIG_MIB=${BENCH_BIG_MIB:-256}
TEXT_MIB=${BENCH_TEXT_MIB:-64}
for x in "$BIN" "$TOOLS/tcpcopy" "$TOOLS/rusage" "$TOOLS/fsyncrate"; do
	[ -x "$x" ] || { echo "bench_niftp: $x not built"; exit 1; }
done
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
T=$(mktemp -d "$parent/bench.XXXXXX") || exit 1
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

# forget PID - drop a waited-for pid from the cleanup list
forget() {
	np=""
	for p in $pids; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	pids=$np
}

# field FILE KEY - the value of KEY=VALUE in an rusage line (units stripped)
field() {
	sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1" | head -1
}

# rate BYTES SECONDS - MiB/s with one decimal
rate() {
	awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s; else print "-" }'
}

# best A B - the larger of two decimal numbers ("" counts as nothing)
best() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 > a + 0)) print b; else print a }'
}

# ratio A B - A / B with two decimals ("-" when either is missing)
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# median LIST - the median of space-separated numbers ("" when none)
median() {
	echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# settle FILE - the same starting point for every run: no writeback of an
# earlier run in flight, and FILE (the source) in the page cache
settle() {
	sync
	cat "$1" >/dev/null
}

mib() {
	awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f MiB", k / 1024 }'
}

# --- the files -------------------------------------------------------------------
BIG=$((BIG_MIB * 1048576))
TEXTWANT=$((TEXT_MIB * 1048576))
head -c $BIG /dev/urandom >"$T/big.bin" || { echo "bench_niftp: cannot make big.bin"; exit 1; }
# Lines of 0 to 159 octets (some empty), ending with LF, about TEXT_MIB MiB.
awk -v want=$TEXTWANT 'BEGIN { srand(1025)
	base = "The quick brown fox jumps over the lazy dog; NIFTP-80 moves letters between hosts, 0123456789. "
	base = base base base base
	n = 0
	while (n < want) {
		len = int(rand() * 160); if (rand() < 0.05) len = 0
		line = substr(base, 1 + int(rand() * 90), len)
		print line; n += len + 1
	} }' >"$T/text.txt"
TEXT=$(wc -c <"$T/text.txt")
mkdir -p "$T/srv" "$T/recv"
fsdesc=$(df -PT "$T" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }')
echo "files in $T ($fsdesc); $RUNS interleaved rounds, best and median"

# --- (a), (b): raw TCP copies --------------------------------------------------------
# tcpcopy_run OUTOPT - one raw copy of big.bin; sets got to the sender's MiB/s
tcpcopy_run() {
	got=""
	rm -f "$T/tcready" "$T/recv/out"
	# shellcheck disable=SC2086
	timeout 120 "$TOOLS/tcpcopy" recv --listen tcp:127.0.0.1:0 --ready-file "$T/tcready" \
		$1 --timeout 100 >"$T/tcrecv.out" 2>"$T/tcrecv.err" &
	rp=$!
	pids="$pids $rp"
	if ! wait_ready "$T/tcready"; then
		kill "$rp" 2>/dev/null
		wait "$rp" 2>/dev/null
		forget "$rp"
		return
	fi
	timeout 120 "$TOOLS/tcpcopy" send "$T/big.bin" "$(cat "$T/tcready")" --timeout 100 \
		>"$T/tcsend.out" 2>"$T/tcsend.err"
	got=$(sed -n 's/.* \([0-9.]*\) MiB\/s$/\1/p' "$T/tcsend.out")
	wait "$rp" 2>/dev/null
	forget "$rp"
	rm -f "$T/recv/out"
}

# --- the server ------------------------------------------------------------------------
timeout 800 "$TOOLS/rusage" -o "$T/serve.ru" "$BIN" serve -q --listen tcp:127.0.0.1:0 \
	--dir "$T/srv" --ready-file "$T/ready" 2>"$T/serve.err" &
rupid=$!
pids="$pids $rupid"
if ! wait_ready "$T/ready"; then
	echo "bench_niftp: niftp serve did not start: $(tail -3 "$T/serve.err")"
	exit 1
fi
ADDR=$(sed -n 1p "$T/ready")

# put_run FILE OPTS - one timed put; sets wall, rss, same (identical copy: yes/no)
put_run() {
	wall=""
	rss=""
	same=no
	rm -f "$T/put.ru"
	# shellcheck disable=SC2086
	timeout 300 "$TOOLS/rusage" -o "$T/put.ru" "$BIN" put -q $2 "$1" "$ADDR" \
		>"$T/put.out" 2>"$T/put.err"
	st=$?
	name=$(cat "$T/put.out")
	if [ $st -ne 0 ] || [ -z "$name" ]; then
		echo "  put $2 failed (exit $st): $(grep -v '^rusage:' "$T/put.err" | head -2)" >&2
		return
	fi
	wall=$(field "$T/put.ru" wall)
	rss=$(field "$T/put.ru" maxrss)
	cmp -s "$1" "$T/srv/$name" && same=yes
	rm -f "$T/srv/$name"
}

raw_null=""
raw_file=""
bin_rate=""
bin_rss=""
bin_same=yes
txt_rate=""
txt_rss=""
txt_same=yes
l_null=""
l_file=""
l_bin=""
l_txt=""
l_rbin=""
r=0
while [ $r -lt "$RUNS" ]; do
	settle "$T/big.bin"
	tcpcopy_run --null
	raw_null=$(best "$raw_null" "$got")
	l_null="$l_null $got"
	settle "$T/big.bin"
	tcpcopy_run "--out $T/recv/out"
	raw_file=$(best "$raw_file" "$got")
	l_file="$l_file $got"
	b_this=$got
	settle "$T/big.bin"
	put_run "$T/big.bin" --binary
	if [ -n "$wall" ]; then
		got=$(rate $BIG "$wall")
		bin_rate=$(best "$bin_rate" "$got")
		l_bin="$l_bin $got"
		[ -z "$b_this" ] || l_rbin="$l_rbin $(ratio "$got" "$b_this")"
		bin_rss=$(best "$bin_rss" "$rss")
		[ $same = yes ] || bin_same=no
	else
		bin_same=failed
	fi
	settle "$T/text.txt"
	put_run "$T/text.txt" ""
	if [ -n "$wall" ]; then
		got=$(rate "$TEXT" "$wall")
		txt_rate=$(best "$txt_rate" "$got")
		l_txt="$l_txt $got"
		txt_rss=$(best "$txt_rss" "$rss")
		[ $same = yes ] || txt_same=no
	else
		txt_same=failed
	fi
	r=$((r + 1))
done
m_null=$(median "$l_null")
m_file=$(median "$l_file")
m_bin=$(median "$l_bin")
m_txt=$(median "$l_txt")
m_rbin=$(median "$l_rbin")

# --- the fsync rate ------------------------------------------------------------------------
fsync_rate=""
r=0
while [ $r -lt "$RUNS" ]; do
	f=$(timeout 30 "$TOOLS/fsyncrate" "$T/recv" 2 4096 | sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p')
	fsync_rate=$(best "$fsync_rate" "$f")
	r=$((r + 1))
done

# --- stop the server (SIGTERM to rusage, which passes it on) ----------------------------------
kill -TERM "$rupid" 2>/dev/null
i=0
while kill -0 "$rupid" 2>/dev/null && [ $i -lt 600 ]; do
	i=$((i + 1))
	sleep 0.05
done
wait "$rupid" 2>/dev/null
forget "$rupid"
serve_rss=$(field "$T/serve.ru" maxrss)

# --- report ------------------------------------------------------------------------------------
printf '  %-40s %5s %10s %10s  %s\n' "" "MiB" "best MiB/s" "median" "x (b): best, median"
printf '  %-40s %5s %10s %10s\n' "(a) raw TCP copy to /dev/null" "$BIG_MIB" "${raw_null:--}" \
	"${m_null:--}"
printf '  %-40s %5s %10s %10s  (baseline)\n' "(b) raw TCP copy into a file, fsynced" "$BIG_MIB" \
	"${raw_file:--}" "${m_file:--}"
printf '  %-40s %5s %10s %10s  %s, %s  copy %s\n' "(c) niftp put --binary, tcp: loopback" "$BIG_MIB" \
	"${bin_rate:--}" "${m_bin:--}" "$(ratio "$bin_rate" "$raw_file")" "$(ratio "$m_bin" "$m_file")" \
	"$bin_same"
printf '  %-40s %5s %10s %10s  %s, %s  copy %s\n' "(d) niftp put text, tcp: loopback" \
	"$(awk -v t="$TEXT" 'BEGIN { printf "%.0f", t / 1048576 }')" "${txt_rate:--}" "${m_txt:--}" \
	"$(ratio "$txt_rate" "$raw_file")" "$(ratio "$m_txt" "$m_file")" "$txt_same"
printf '  per round, MiB/s: (b)%s\n                    (c)%s\n' "$l_file" "$l_bin"
printf '  (c) / (b) of the same round:%s; median %s\n' "$l_rbin" "${m_rbin:--}"
printf '  %-57s %10s files/s (best)\n' "fsync rate: 4 KiB, fsync, rename, fsync dir" "${fsync_rate:--}"
printf '  peak RSS: put --binary %s, put text %s, serve %s\n' "$(mib "$bin_rss")" "$(mib "$txt_rss")" \
	"$(mib "$serve_rss")"
exit 0
