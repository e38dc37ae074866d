#!/usr/bin/env bash
# shellcheck disable=SC2317	# functions run from traps
# peers.sh - niftpmail's relay side by side with Postfix on the same machine
# in the same session (issue 9; make bench-peers; not part of make check or
# make bench). It reports; it does not pass or fail.
#
# Runs the shared, read-only tools of ../shared/bench (see its README.md):
#   postfix-relay.sh      smtp-source (8 sessions) -> private Postfix (queue on
#                         disk, fsync before 250) -> smtp-sink
#   niftpmail-relay.sh    relayload -> node a (tmpfs) -> node b, the relay
#                         measured (spool on disk) -> niftp serve (tmpfs);
#                         CALLS=8 calls per hop, SINK=serve
# Postfix's queue and b's spool are in the same parent directory on the
# repository's file system: BENCH_TMPDIR, a fresh directory under BENCH_DIR
# (default build/); the source node and the sink are in a fresh directory
# under SHM (default /dev/shm, tmpfs). Both are removed at the end.
#
# Cases (BENCH_CASES, default "1k-1 1k-10 100k-1"; BENCH_LONG=1 adds "long"):
#   1k-1      2000 x 1 KiB, 1 recipient
#   1k-10     2000 x 1 KiB, 10 recipients
#   100k-1    200 x 100 kB, 1 recipient
#   long      2000 x 1 KiB x 1 and, right after it, 20000 x 1 KiB x 1: the
#             rate of each and their ratio (the file system's allocator
#             remembers the first run's deletions)
# Each case runs BENCH_RUNS (3) rounds, interleaved, the first system
# alternating (P N, N P, P N ...); the table gives the medians and the ratio
# niftpmail / Postfix. Then, for the relay alone, per letter, from UNTIMED
# 1 KiB x 1 batches: (run of BENCH_TRACE_BASE+BENCH_TRACE_N letters - run of
# BENCH_TRACE_BASE letters) / BENCH_TRACE_N (100 and 500), which cancels the
# start-up, the 20-letter warm-up and the shutdown: inodes created
# (successful O_CREAT opens and mkdirs), fsync-class calls, link/unlink/
# rename-class calls (strace -ff on the relay, tests/bench/peers_wrap.sh) and
# CPU milliseconds (utime+stime of the relay in runs without strace). And the
# machine's fsync rates (build/tools/fsyncrate: 1 KiB file, fsync, rename,
# fsync dir) with one writer and with four at once, at the start and the end.
#
# Needs root (Postfix's master); installs Postfix with
# ../shared/bench/install-postfix.sh when smtp-source is missing, and runs
# our side alone when that fails. Bounded: every run is under timeout(1)
# (BENCH_TIMEOUT, 300 s, per run plus a margin); on exit or a signal the
# running tool is stopped (its own trap stops its daemons), any process left
# that names one of our two directories is stopped by its pid, and the
# directories are removed.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${BENCH_SHARED:-$(cd "$top/../shared/bench" 2>/dev/null && pwd)}
RUNS=${BENCH_RUNS:-3}
CASES=${BENCH_CASES:-1k-1 1k-10 100k-1}
[ "${BENCH_LONG:-0}" = 1 ] && case " $CASES " in *" long "*) ;; *) CASES="$CASES long" ;; esac
RUN_TIMEOUT=${BENCH_TIMEOUT:-300}
TRACE_BASE=${BENCH_TRACE_BASE:-100}
TRACE_N=${BENCH_TRACE_N:-500}
PATH=$PATH:/usr/sbin
export PATH

if [ -z "$SHARED" ] || [ ! -x "$SHARED/postfix-relay.sh" ] || [ ! -x "$SHARED/niftpmail-relay.sh" ]; then
	echo "bench-peers: ../shared/bench (postfix-relay.sh, niftpmail-relay.sh) not found; set BENCH_SHARED"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "bench-peers: needs root (the private Postfix instance's master runs as root)."
	echo "  run: sudo $SHARED/install-postfix.sh   # once, if Postfix is missing"
	echo "       sudo make bench-peers"
	exit 0
fi
for x in "$top/bin/mailrelayd" "$top/bin/niftp" "$top/build/tools/relayload" \
	"$top/build/tools/fsyncrate" "$top/tests/bench/peers_wrap.sh"; do
	[ -x "$x" ] || { echo "bench-peers: $x missing (make all)"; exit 1; }
done
case $RUNS in '' | *[!0-9]* | 0) echo "bench-peers: BENCH_RUNS must be a positive number"; exit 2 ;; esac
for c in $CASES; do
	case $c in 1k-1 | 1k-10 | 100k-1 | long) ;;
	*) echo "bench-peers: unknown case '$c' (1k-1 1k-10 100k-1 long)"; exit 2 ;;
	esac
done

# --- Postfix ---------------------------------------------------------------------
have_pf=1
pf_why=""
if ! command -v smtp-source >/dev/null 2>&1 || ! command -v postconf >/dev/null 2>&1; then
	echo "bench-peers: installing Postfix ($SHARED/install-postfix.sh)"
	if ! out=$(timeout -k 10 900 "$SHARED/install-postfix.sh" 2>&1); then
		have_pf=0
		pf_why="install-postfix.sh failed: $(printf '%s\n' "$out" | grep -v '^$' | tail -3 | tr '\n' ' ')"
	elif ! command -v smtp-source >/dev/null 2>&1; then
		have_pf=0
		pf_why="install-postfix.sh succeeded but smtp-source is still missing"
	fi
fi
[ $have_pf = 1 ] || echo "bench-peers: Postfix unavailable, running niftpmail alone: $pf_why"

# --- directories, cleanup ------------------------------------------------------------
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
P=$(mktemp -d "$parent/bench-peers.XXXXXX") || exit 1
chmod 755 "$P"		# Postfix's daemons (user postfix) must traverse it
SHMP=$(mktemp -d "${SHM:-/dev/shm}/bench-peers.XXXXXX") || { rmdir "$P"; exit 1; }
cpid=""
fpids=""

# ours - the pids of processes whose command line names one of our directories
# (an orphaned daemon of a tool stopped by force)
ours() {
	local f p cmd
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}
		p=${p%/cmdline}
		cmd=$(tr '\0' ' ' 2>/dev/null <"$f")
		case $cmd in *"$P/"* | *"$SHMP/"*) echo "$p" ;; esac
	done
}

cleanup() {
	local left p
	trap '' INT TERM HUP
	for p in $cpid $fpids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $cpid $fpids; do
		wait "$p" 2>/dev/null
	done
	# a private Postfix whose tool was stopped by force: its master, by pid
	for p in "$P"/pfbench.*/spool/pid/master.pid; do
		[ -s "$p" ] || continue
		p=$(tr -d ' \n' <"$p")
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			echo "bench-peers: stopping a leftover Postfix master ($p)"
			kill -TERM "$p" 2>/dev/null
			sleep 3
			kill -KILL "$p" 2>/dev/null
		fi
	done
	left=$(ours)
	if [ -n "$left" ]; then
		echo "bench-peers: stopping leftover processes: $left"
		# shellcheck disable=SC2086
		kill -TERM $left 2>/dev/null
		sleep 2
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
	fi
	rm -rf "$P" "$SHMP"
}
trap cleanup EXIT
trap 'echo "bench-peers: interrupted"; exit 130' INT TERM HUP

# --- helpers --------------------------------------------------------------------------
# median LIST - of space-separated numbers ("" when none)
median() {
	echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B - A / B with two decimals ("-" when either is missing)
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# nz X - X, or "-" when empty
nz() { echo "${1:--}"; }

# words LIST - LIST with single spaces, none leading (failed runs leave gaps)
words() {
	local -a w
	read -r -a w <<<"$1"
	echo "${w[*]}"
}

# run_one P|N N SIZE RCPTS LOG [WRAP] - one run of a shared tool; sets got
# (msgs/s, "" on failure) and cpu_b (the relay's CPU seconds, niftpmail only)
run_one() {
	local sys=$1 n=$2 size=$3 rcpts=$4 log=$5 wrap=${6:-} script name rc
	got=""
	cpu_b=""
	if [ "$sys" = P ]; then
		script=$SHARED/postfix-relay.sh
		name=postfix
	else
		script=$SHARED/niftpmail-relay.sh
		name=niftpmail
	fi
	sync
	(
		export BENCH_TMPDIR="$P" SHM="$SHMP" NIFTPMAIL="$top" TIMEOUT="$RUN_TIMEOUT" \
			SESSIONS=8 CALLS=8 SINK=serve
		if [ -n "$wrap" ]; then export WRAP_B="$wrap"; else unset WRAP_B; fi
		exec timeout -k 60 $((RUN_TIMEOUT + 120)) "$script" "$n" "$size" "$rcpts"
	) >"$log" 2>&1 &
	cpid=$!
	wait "$cpid"
	rc=$?
	cpid=""
	got=$(sed -n "s/^$name: [0-9]* msgs, \([0-9.]*\) msgs\/s.*/\1/p" "$log" | tail -1)
	# niftpmail's cpu: line lists niftp serve, b, a (SINK=serve): b is the first mailrelayd
	[ "$sys" = N ] && cpu_b=$(sed -n 's/^cpu:.* (mailrelayd)=\([0-9.]*\)s.* (mailrelayd)=.*/\1/p' "$log" | tail -1)
	if [ -z "$got" ]; then
		echo "  $name $n x $size x $rcpts: failed (exit $rc): $(grep -v '^$' "$log" | tail -2 | tr '\n' ' ')"
	fi
	return 0
}

# fsync_rates LABEL - one writer, then four at once; sets fs1 and fs4 (files/s)
fsync_rates() {
	local i d sum
	d=$P/fsync
	mkdir -p "$d/1" "$d/w1" "$d/w2" "$d/w3" "$d/w4"
	sync
	fs1=$(timeout 30 "$top/build/tools/fsyncrate" "$d/1" 2 1024 | sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p')
	sync
	fpids=""
	for i in 1 2 3 4; do
		timeout 30 "$top/build/tools/fsyncrate" "$d/w$i" 2 1024 >"$d/w$i.out" 2>&1 &
		fpids="$fpids $!"
	done
	for i in $fpids; do
		wait "$i"
	done
	fpids=""
	sum=$(cat "$d"/w?.out | sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p' | awk '{ s += $1; n++ } END { if (n == 4) printf "%.0f", s }')
	fs4=$sum
	fs1=$(awk -v x="$fs1" 'BEGIN { if (x != "") printf "%.0f", x }')
	rm -rf "$d"
}

# args CASE - N SIZE RCPTS of a case (long: its first, short run)
args() {
	case $1 in
	1k-1) echo "2000 1024 1" ;;
	1k-10) echo "2000 1024 10" ;;
	100k-1) echo "200 100000 1" ;;
	long) echo "2000 1024 1" ;;
	esac
}
label() {
	case $1 in
	1k-1) echo "2000 x 1 KiB x 1 rcpt" ;;
	1k-10) echo "2000 x 1 KiB x 10 rcpt" ;;
	100k-1) echo "200 x 100 kB x 1 rcpt" ;;
	long) echo "2000 x 1 KiB x 1 rcpt (long: first)" ;;
	long2) echo "20000 x 1 KiB x 1 rcpt (right after)" ;;
	esac
}

# --- run ------------------------------------------------------------------------------
fsdesc() { df -PT "$1" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }'; }
echo "bench-peers: $RUNS interleaved rounds per case; cases: $CASES"
echo "  relay spool and Postfix queue under $P ($(fsdesc "$P"))"
echo "  source node and sink under $SHMP ($(fsdesc "$SHMP"))"
[ $have_pf = 1 ] && echo "  $(postconf -d mail_version 2>/dev/null | sed 's/ = / /')"

fsync_rates
fs1_a=$fs1
fs4_a=$fs4

declare -A R CPU
pf_check=""
for c in $CASES; do
	read -r n size rcpts <<<"$(args "$c")"
	for ((r = 1; r <= RUNS; r++)); do
		order="P N"
		[ $((r % 2)) = 0 ] && order="N P"
		[ $have_pf = 1 ] || order="N"
		line=""
		for s in $order; do
			run_one "$s" "$n" "$size" "$rcpts" "$P/$c.$s.$r.log"
			R[$c.$s]="${R[$c.$s]:-} $got"
			line="$line $s $(nz "$got")"
			[ -n "$cpu_b" ] && CPU[$c]="${CPU[$c]:-} $(awk -v c="$cpu_b" -v n="$n" 'BEGIN { printf "%.2f", c * 1000 / (n + 20) }')"
			[ "$s" = P ] && [ -z "$pf_check" ] && pf_check=$(grep -m1 '^postfix fsync check:' "$P/$c.$s.$r.log")
			if [ "$c" = long ]; then
				run_one "$s" 20000 1024 1 "$P/long2.$s.$r.log"
				R[long2.$s]="${R[long2.$s]:-} $got"
				line="$line then $(nz "$got")"
				[ -n "$cpu_b" ] && CPU[long2]="${CPU[long2]:-} $(awk -v c="$cpu_b" 'BEGIN { printf "%.2f", c * 1000 / 20020 }')"
			fi
		done
		echo "  $c round $r (msgs/s):$line"
	done
done

# --- the relay alone, per letter: untimed batches ---------------------------------------
W=$top/tests/bench/peers_wrap.sh
mkdir -p "$P/tr"
big=$((TRACE_BASE + TRACE_N))
run_one N "$TRACE_BASE" 1024 1 "$P/tr.s.log" "$W strace $P/tr/s"
ok_s=$got
run_one N "$big" 1024 1 "$P/tr.b.log" "$W strace $P/tr/b"
ok_b=$got
run_one N "$TRACE_BASE" 1024 1 "$P/cpu.s.log" "$W cpu $P/tr/cs"
ok_cs=$got
run_one N "$big" 1024 1 "$P/cpu.b.log" "$W cpu $P/tr/cb"
ok_cb=$got

# counts PREFIX - "key value" lines from the strace files PREFIX.tr.*
counts() {
	cat "$1".tr.* 2>/dev/null | awk '
	{
		name = $0; sub(/\(.*/, "", name)
		k = split($0, part, / = /); if (k < 2) next
		split(part[k], w, " "); ok = (w[1] ~ /^[0-9]+$/)
		if (name ~ /^(open|openat|creat)$/) {
			if (ok && (name == "creat" || $0 ~ /O_CREAT/)) { c["inodes"]++; c["O_CREAT-opens"]++ }
		} else if (name ~ /^mkdir(at)?$/) {
			if (ok) { c["inodes"]++; c["mkdirs"]++ }
		} else if (name ~ /^(fsync|fdatasync|sync_file_range|syncfs)$/) {
			c["sync"]++; c[name]++
		} else if (name ~ /^(link|linkat|unlink|unlinkat|rename|renameat|renameat2)$/) {
			c["lur"]++; c[name]++; if (!ok) c["lur_failed"]++
		}
	}
	END { for (k in c) print k, c[k] }'
}
# per KEY - (big - small) / TRACE_N for a key of counts
per() {
	awk -v k="$1" -v n="$TRACE_N" '
		FILENAME == ARGV[1] && $1 == k { s = $2 }
		FILENAME == ARGV[2] && $1 == k { b = $2 }
		END { printf "%.2f", (b - s) / n }' "$P/tr/s.counts" "$P/tr/b.counts"
}
# parts KEY... - "key x.xx, ..." for the keys with a nonzero per-letter figure
parts() {
	local k v out=""
	for k in "$@"; do
		v=$(per "$k")
		[ "$v" = 0.00 ] || out="$out${out:+, }$k $v"
	done
	echo "$out"
}
counts "$P/tr/s" >"$P/tr/s.counts"
counts "$P/tr/b" >"$P/tr/b.counts"
cpu_ms=""
if [ -n "$ok_cs" ] && [ -n "$ok_cb" ] && [ -s "$P/tr/cs.cpu" ] && [ -s "$P/tr/cb.cpu" ]; then
	# "total (user U, system S)" in ms per letter
	cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" -v n="$TRACE_N" '
		FILENAME == ARGV[1] { su = $2; ss = $3 }
		FILENAME == ARGV[2] { bu = $2; bs = $3 }
		END { f = 1000 / hz / n
		      printf "%.2f (user %.2f, system %.2f)", (bu + bs - su - ss) * f, (bu - su) * f, (bs - ss) * f }' \
		"$P/tr/cs.cpu" "$P/tr/cb.cpu")
fi

fsync_rates
fs1_b=$fs1
fs4_b=$fs4

# --- report --------------------------------------------------------------------------------
echo
printf '%-38s %9s %10s %6s  %-24s %-24s %s\n' "case (medians of $RUNS, msgs/s)" Postfix niftpmail ratio \
	"Postfix runs" "niftpmail runs" "relay CPU ms/letter"
rows=""
for c in $CASES; do
	rows="$rows $c"
	[ "$c" = long ] && rows="$rows long2"
done
for c in $rows; do
	mp=$(median "${R[$c.P]:-}")
	mn=$(median "${R[$c.N]:-}")
	printf '%-38s %9s %10s %6s  %-24s %-24s %s\n' "$(label "$c")" "$(nz "$mp")" "$(nz "$mn")" \
		"$(ratio "$mn" "$mp")" "$(nz "$(words "${R[$c.P]:-}")")" "$(nz "$(words "${R[$c.N]:-}")")" \
		"$(nz "$(median "${CPU[$c]:-}")")"
done
echo "(ratio = niftpmail / Postfix; relay CPU = utime+stime of node b over the run incl. its 20-letter warm-up, / (N+20))"
echo
if [ -n "${R[long.N]:-}" ]; then
	printf 'long runs, 20000-letter rate / 2000-letter rate: Postfix %s, niftpmail %s\n' \
		"$(ratio "$(median "${R[long2.P]:-}")" "$(median "${R[long.P]:-}")")" \
		"$(ratio "$(median "${R[long2.N]:-}")" "$(median "${R[long.N]:-}")")"
fi
printf 'fsync rate, 1 writer (1 KiB, fsync, rename, fsync dir): %s files/s at start, %s at end\n' "$(nz "$fs1_a")" "$(nz "$fs1_b")"
printf 'fsync rate, 4 writers at once (sum): %s files/s at start, %s at end\n' "$(nz "$fs4_a")" "$(nz "$fs4_b")"
if [ -n "$ok_s" ] && [ -n "$ok_b" ]; then
	echo "relay per letter, untimed 1 KiB x 1 rcpt batches, (${big}-letter run - ${TRACE_BASE}-letter run) / $TRACE_N:"
	printf '  inodes created: %s (%s)\n' "$(per inodes)" "$(parts O_CREAT-opens mkdirs)"
	printf '  fsync-class calls: %s (%s)\n' "$(per sync)" "$(parts fsync fdatasync sync_file_range syncfs)"
	printf '  link/unlink/rename-class calls: %s (%s; failed %s)\n' "$(per lur)" \
		"$(parts link linkat unlink unlinkat rename renameat renameat2)" "$(per lur_failed)"
else
	echo "relay per letter: the strace batches failed (see above)"
fi
printf '  CPU: %s ms (utime+stime of the relay, runs without strace)\n' "$(nz "$cpu_ms")"
if [ $have_pf = 1 ]; then
	[ -n "$pf_check" ] && echo "$pf_check"
else
	echo "Postfix: not run: $pf_why"
fi
exit 0
