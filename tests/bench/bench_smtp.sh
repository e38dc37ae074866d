#!/bin/sh
# bench_smtp.sh - letters/s through the smtp channel and through Postfix's
# pipe(8) into a node, beside Postfix relaying to itself, in the same run
# (issue 11, item 4; make bench-smtp; tests/bench/run.sh runs it too, as
# every bench_*.sh). It reports; it does not pass or fail.
#
# One private Postfix instance (tests/postfix/lib-postfix.sh: loopback,
# its queue and Maildirs under BENCH_DIR) and one niftpmail node "nm"
# (tests/integration/lib-relay.sh; spool and Maildirs under BENCH_DIR too,
# default build/: the repository's file system, the same as Postfix's
# queue) serve the three cases; N letters of 1 KiB each (BENCH_N, 500), one
# recipient:
#
#   (1) smtp     relayload drops N letters into nm's SPOOL/out/ for
#                sR@pf.test; nm's smtp channel ([routes] pf.test = smtp
#                tcp:127.0.0.1:PORT) hands them to Postfix's smtpd, virtual(8)
#                writes them into a Maildir. Time: from the drop to the last
#                Maildir file (its mtime).
#   (2) pipe     N messages to gR@nm injected with Postfix's sendmail
#                (BENCH_INJECT, 4, at once); Postfix's transport map sends nm
#                to its pipe(8) transport "niftp" (flags=Rq user=nobody,
#                niftp_destination_recipient_limit = 1, the master.cf line of
#                doc/niftpmail-sendmail.8) which runs niftpmail-sendmail once
#                per message: it submits to nm, nm delivers into its own
#                Maildir. Time: from the start of the injection to the last
#                Maildir file at nm.
#   (3) postfix  the reference: the same N messages, injected the same way,
#                to pR@pf.test: Postfix delivers them into its own Maildir.
#                Time as for (2).
#
# Before round 1 each case runs once with 20 letters, untimed (connections,
# daemons, caches). Then BENCH_RUNS (3) rounds, the cases interleaved and
# their order rotated each round (1 2 3, 2 3 1, 3 1 2): this machine's disk
# and CPU rates swing 2-3x from minute to minute. Before each run both
# systems are idle (Postfix's queue, nm's out/ and queue/ empty), then sync.
# The table gives msgs/s per case per round and the medians; a run that
# did not deliver N distinct letters within BENCH_CASE_TIMEOUT (120 s)
# shows "-" (and what arrived). Also reported: the injection's own rate
# (the sendmail loop of (2) and (3): when it is close to the case's rate
# the case is bounded by the injection), pipe(8)'s cost per message
# (Postfix's "delays" d for relay=niftp: pipe(8)'s fork and exec of
# niftpmail-sendmail, the submission, nm's durable answer; and, measured
# directly, niftpmail-sendmail's start-up alone (--help) and a whole
# submission, one at a time, as user nobody), the SMTP connections Postfix
# saw per run of (1), and the machine's fsync rate (build/tools/fsyncrate,
# when built) at the start and the end.
#
# Needs root (Postfix's master): without it, says so and exits 0. Installs
# Postfix when missing (pf_install); exits 1 when that fails. Bounded:
# every wait has a limit, the injection runs under timeout(1), and the
# rounds stop (the table says so) once BENCH_BUDGET (600) seconds have
# passed, so the whole stays within run.sh's 900 s. Everything started is
# stopped by the EXIT trap (pf_stop, lib-relay's stop_all) and the
# directories are removed (BENCH_KEEP=1 keeps them).
#
# Knobs: BENCH_N (500), BENCH_RUNS (3), BENCH_CASE_TIMEOUT (120),
# BENCH_BUDGET (600), BENCH_INJECT (4), BENCH_DIR (build/),
# BENCH_MAX_PER_HOP (nm's [smtp] max_per_hop; default the channel's),
# BENCH_KEEP (0).

# shellcheck disable=SC2317,SC2016	# functions run from traps; bash -c scripts
# tests/bench/run.sh runs every benchmark with sh; lib-postfix.sh needs bash
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_N:-500}
RUNS=${BENCH_RUNS:-3}
CASE_TIMEOUT=${BENCH_CASE_TIMEOUT:-120}
BUDGET=${BENCH_BUDGET:-600}
INJECT=${BENCH_INJECT:-4}
WARM=20
SIZE=1024
LOAD=$top/build/tools/relayload
FSYNCRATE=$top/build/tools/fsyncrate
SM=$top/bin/niftpmail-sendmail
PFSM=/usr/sbin/sendmail
for v in N RUNS CASE_TIMEOUT BUDGET INJECT; do
	case ${!v} in '' | *[!0-9]* | 0) echo "bench_smtp: BENCH_$v must be a positive number"; exit 2 ;; esac
done

if [ "$(id -u)" != 0 ]; then
	echo "bench_smtp: skipped: needs root (the private Postfix instance's master runs as root); run: sudo make bench-smtp"
	exit 0
fi
for x in "$top/bin/mailrelayd" "$SM" "$LOAD"; do
	[ -x "$x" ] || { echo "bench_smtp: $x not built (make all)"; exit 1; }
done

. "$top/tests/postfix/lib-postfix.sh"
. "$top/tests/integration/lib-relay.sh"
parent=${BENCH_DIR:-$top/build}
mkdir -p "$parent" || exit 1
RELAY_READY_WAIT=60
RELAY_STOP_WAIT=60
[ "${BENCH_KEEP:-0}" = 1 ] && RELAY_KEEP=1 PF_KEEP=1
relay_setup bench_smtp "$parent"
SHMD=$(mktemp -d "${SHM:-/dev/shm}/bench_smtp.XXXXXX" 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/bench_smtp.XXXXXX") || exit 1
bench_cleanup() {
	trap '' INT TERM HUP
	pf_stop
	relay_cleanup
	rm -rf "$SHMD"
}
trap bench_cleanup EXIT
# Postfix's daemons (postfix), pipe(8)'s command (nobody) and virtual(8)
# (nobody) traverse $T; nobody reads nm.ini and reaches nm's control socket
chmod 711 "$T"

pf_install || { echo "bench_smtp: Postfix is not available (see above)"; exit 1; }

# --- helpers ---------------------------------------------------------------------------------
median() {
	echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 }
		END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
		      else { m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf (m < 1 ? "%.3f" : "%.1f"), m } }'
}
nz() { echo "${1:--}"; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s; else print "" }'; }

# mkmsgs DIR COUNT RCPT TAG - COUNT RFC 822 messages of about 1 KiB (the
# body lines of relayload's letters) to RCPT, Message-ID <TAG.I@bench>
mkmsgs() {
	mkdir -p "$1" && awk -v d="$1" -v n="$2" -v rcpt="$3" -v tag="$4" -v size="$SIZE" 'BEGIN {
		text = "The quick brown fox jumps over the lazy dog 0123456789 abcdefgh\n"
		for (i = 0; i < n; i++) {
			f = sprintf("%s/%06d", d, i)
			s = "Date: Wed, 25 Nov 2026 12:00:00 +0000\nFrom: bench@pf.test\nTo: " rcpt \
				"\nSubject: bench " tag "\nMessage-ID: <" tag "." i "@bench>\n\n"
			while (length(s) + length(text) <= size) s = s text
			printf "%s", s > f
			close(f)
		}
	}'
}

# inject DIR RCPT SECONDS - every message of DIR to RCPT with Postfix's
# sendmail, INJECT at once, under timeout(1) (which stops its whole process
# group); sets inj_s (the seconds it took) and inj_fail (sendmails that failed)
inject() {
	local a out
	a=$(now)
	out=$(timeout -k 5 "$3" bash -c '
		cfg=$1 rcpt=$2 par=$3 sm=$4
		shift 4
		for ((k = 0; k < par; k++)); do
			(
				j=0
				for f in "$@"; do
					if [ $((j % par)) = $k ]; then
						"$sm" -C "$cfg" -i -f bench@pf.test -- "$rcpt" <"$f" >/dev/null 2>&1 || echo fail
					fi
					j=$((j + 1))
				done
			) &
		done
		wait' inject "$PF_CFG" "$2" "$INJECT" "$PFSM" "$1"/* 2>&1)
	inj_s=$(sub "$a" "$(now)")
	inj_fail=$(printf '%s\n' "$out" | grep -c '^fail')
}

# collect MAILDIR COUNT T0 SECONDS - bounded poll (SECONDS from now) until
# MAILDIR's new/ and cur/ hold COUNT files; sets c_files, c_dups (files
# whose Message-ID was seen already), c_span (T0 to the newest file's
# mtime) and c_rate (msgs/s, "" unless COUNT distinct letters arrived)
collect() {
	local d=$1 n=$2 t0=$3 end=$((SECONDS + $4)) last
	while :; do
		c_files=$(find "$d/new" "$d/cur" -maxdepth 1 -type f 2>/dev/null | wc -l)
		[ "$c_files" -ge "$n" ] && break
		[ $SECONDS -lt $end ] || break
		sleep 0.2
	done
	last=$(find "$d/new" "$d/cur" -maxdepth 1 -type f -printf '%T@\n' 2>/dev/null | sort -n | tail -1)
	c_dups=$(find "$d/new" "$d/cur" -maxdepth 1 -type f -exec grep -h -i -m1 '^Message-ID:' {} + 2>/dev/null |
		sort | uniq -d | wc -l)
	c_span=""
	[ -n "$last" ] && c_span=$(sub "$t0" "$last")
	c_rate=""
	if [ "$c_files" -ge "$n" ] && [ "$c_dups" = 0 ]; then c_rate=$(rate "$n" "$c_span"); fi
}

# settle - both systems idle (bounded), then sync
settle() {
	pf_wait_queue_empty 60 >/dev/null 2>&1 || echo "  (Postfix's queue not empty after 60 s: $(pf_queue_count) files)"
	wait_empty nm out 60 && wait_empty nm queue 60 || echo "  (nm's out/ or queue/ not empty after 60 s)"
	sync
	sleep 1
}

# pipe_delays RCPT - Postfix's delays d (seconds) of RCPT's pipe(8) deliveries
pipe_delays() {
	pf_log "to=<$1>, relay=niftp, .*status=sent" | sed -n 's/.* delays=[^/]*\/[^/]*\/[^/]*\/\([0-9.]*\),.*/\1/p'
}

# run_case CASE TAG COUNT - one run; sets got (msgs/s or ""), why (when ""),
# inj (the injection's msgs/s, cases 2 and 3), conns (case 1), dmed (case 2)
run_case() {
	local c=$1 tag=$2 n=$3 rcpt md t0 c0
	got="" why="" inj="" conns="" dmed=""
	case $c in
	1) rcpt=s$tag@pf.test md=$(pf_maildir "s$tag") ;;
	2) rcpt=g$tag@nm md=$(mdir nm)/g$tag ;;
	3) rcpt=p$tag@pf.test md=$(pf_maildir "p$tag") ;;
	esac
	if [ "$c" != 1 ]; then
		rm -rf "$SHMD/m"
		mkmsgs "$SHMD/m" "$n" "$rcpt" "c$c.$tag" || { why="could not write the messages"; return; }
	fi
	settle
	if [ "$c" = 1 ]; then
		c0=$(pf_log_count 'smtpd\[[0-9]+\]: connect from')
		t0=$(now)
		"$LOAD" drop "$(spooldir nm)/out" "$n" --to "$rcpt" --from load@nm --size "$SIZE" \
			--tag "c1.$tag" >/dev/null || { why="relayload drop failed"; return; }
		collect "$md" "$n" "$t0" "$CASE_TIMEOUT"
		conns=$(($(pf_log_count 'smtpd\[[0-9]+\]: connect from') - c0))
	else
		t0=$(now)
		inject "$SHMD/m" "$rcpt" "$CASE_TIMEOUT"
		inj=$(rate "$n" "$inj_s")
		[ "$inj_fail" = 0 ] || why="$inj_fail sendmails failed; "
		collect "$md" "$n" "$t0" $((CASE_TIMEOUT - ${inj_s%.*}))
		[ "$c" = 2 ] && dmed=$(median "$(pipe_delays "$rcpt" | tr '\n' ' ')")
	fi
	got=$c_rate
	[ -n "$got" ] || why="$why$c_files of $n files, $c_dups duplicates after ${CASE_TIMEOUT}s"
}

# fsync_rate - files/s, one writer (1 KiB, fsync, rename, fsync dir), 2 s
fsync_rate() {
	[ -x "$FSYNCRATE" ] || return 0
	rm -rf "$T/fsync"
	mkdir -p "$T/fsync"
	sync
	timeout 30 "$FSYNCRATE" "$T/fsync" 2 1024 | sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p' |
		awk '{ printf "%.0f", $1 }'
	rm -rf "$T/fsync"
}

# --- set-up ------------------------------------------------------------------------------------
fsdesc() { df -PT "$1" 2>/dev/null | awk 'NR == 2 { print $2 " " $1 }'; }
fs_a=$(fsync_rate)

users="postmaster"
for ((r = 0; r <= RUNS; r++)); do users="$users s$r p$r"; done
PF_TMPDIR=$T
PF_USERS=$users
PF_TRANSPORT="nm niftp:"
PF_PIPE_USER=nobody
PF_PIPE_FLAGS=Rq
PF_PIPE_RCPT_LIMIT=1
PF_PIPE_ARGV="$SM -i -c $T/nm.ini -f \${sender} -- \${recipient}"
pf_start bench || { echo "bench_smtp: pf_start failed (see above)"; exit 1; }

gusers=""
for ((r = 0; r <= RUNS; r++)); do gusers="$gusers${gusers:+, }g$r"; done
smtpx=""
[ -n "${BENCH_MAX_PER_HOP:-}" ] && smtpx="[smtp]
max_per_hop = $BENCH_MAX_PER_HOP"
node_ini nm <<EOF
[routes]
pf.test = smtp tcp:127.0.0.1:$PF_PORT

[local]
maildir = $(mdir nm)/%u/
users = $gusers, gs

[retry]
first = 1s
max = 2s
$smtpx
EOF
chmod 644 "$T/nm.ini"
start_node nm || { echo "bench_smtp: node nm did not start: $(tail -3 "$T/nm.err")"; exit 1; }
chmod 711 "$(ndir nm)"

pfc() { postconf -c "$PF_CFG" -h "$1" 2>/dev/null; }
echo "bench_smtp: $N x 1 KiB letters, 1 recipient, $RUNS interleaved rounds (order rotated), medians"
echo "  under $T ($(fsdesc "$T")): nm's spool and Maildirs, Postfix's queue and Maildirs"
echo "  Postfix $(pfc mail_version) on 127.0.0.1:$PF_PORT; pipe(8) transport niftp: flags=Rq user=nobody," \
	"recipient limit 1, concurrency limit $(pfc default_destination_concurrency_limit)" \
	"(initial $(pfc initial_destination_concurrency)), process limit $(pfc default_process_limit)"
echo "  nm: [smtp] max_per_hop ${BENCH_MAX_PER_HOP:-default}; injection for (2) and (3): Postfix's sendmail, $INJECT at once"

# --- warm-up, rounds ---------------------------------------------------------------------------
for c in 1 2 3; do
	run_case "$c" 0 "$WARM"
	[ -n "$got" ] || echo "  warm-up of case $c: $why"
done

declare -A R INJ CONN DMED
skipped=0
for ((r = 1; r <= RUNS; r++)); do
	case $(((r - 1) % 3)) in
	0) order="1 2 3" ;;
	1) order="2 3 1" ;;
	2) order="3 1 2" ;;
	esac
	line=""
	for c in $order; do
		if [ $SECONDS -ge "$BUDGET" ]; then
			line="$line  ($c) skipped"
			skipped=1
			continue
		fi
		run_case "$c" "$r" "$N"
		R[$c]="${R[$c]:-} $got"
		[ -n "$inj" ] && INJ[$c]="${INJ[$c]:-} $inj"
		[ -n "$conns" ] && CONN[$c]="${CONN[$c]:-} $conns"
		[ -n "$dmed" ] && DMED[$c]="${DMED[$c]:-} $dmed"
		line="$line  ($c) $(nz "$got")"
		[ -n "$why" ] && echo "  round $r case $c: $why"
	done
	echo "  round $r (msgs/s):$line"
done

# --- pipe(8)'s command, measured directly, as nobody ----------------------------------------------
K=50
settle
asnobody() { setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups "$@"; }
a=$(now)
for ((i = 0; i < K; i++)); do asnobody "$SM" --help >/dev/null 2>&1; done
start_ms=$(awk -v s="$(sub "$a" "$(now)")" -v k=$K 'BEGIN { printf "%.2f", s * 1000 / k }')
rm -rf "$SHMD/m"
mkmsgs "$SHMD/m" $K gs@nm direct
dfails=0
a=$(now)
for f in "$SHMD"/m/*; do
	timeout 30 setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
		"$SM" -i -c "$T/nm.ini" -f bench@pf.test -- gs@nm <"$f" >/dev/null 2>>"$T/direct.err" ||
		dfails=$((dfails + 1))
done
sub_ms=$(awk -v s="$(sub "$a" "$(now)")" -v k=$K 'BEGIN { printf "%.2f", s * 1000 / k }')
fs_b=$(fsync_rate)

# --- report ------------------------------------------------------------------------------------
label() {
	case $1 in
	1) echo "(1) nm out/ -> smtp channel -> Postfix" ;;
	2) echo "(2) sendmail -> Postfix -> pipe(8) -> nm" ;;
	3) echo "(3) sendmail -> Postfix -> Maildir (ref)" ;;
	esac
}
words() { local -a w; read -r -a w <<<"$1"; echo "${w[*]}"; }
echo
printf '%-42s %8s  %-26s %s\n' "case (msgs/s)" median "runs (round order)" "per run"
for c in 1 2 3; do
	extra=""
	case $c in
	1) extra="SMTP connections per run: $(nz "$(words "${CONN[1]:-}")")" ;;
	2) extra="injection $(nz "$(median "${INJ[2]:-}")") msgs/s; pipe(8) delays d median $(nz "$(median "${DMED[2]:-}")") s" ;;
	3) extra="injection $(nz "$(median "${INJ[3]:-}")") msgs/s" ;;
	esac
	printf '%-42s %8s  %-26s %s\n' "$(label $c)" "$(nz "$(median "${R[$c]:-}")")" \
		"$(nz "$(words "${R[$c]:-}")")" "$extra"
done
mp=$(median "${R[3]:-}")
for c in 1 2; do
	m=$(median "${R[$c]:-}")
	[ -n "$m" ] && [ -n "$mp" ] &&
		echo "  ratio $(label $c | cut -c1-3) / (3): $(awk -v a="$m" -v b="$mp" 'BEGIN { printf "%.2f", a / b }')"
done
[ $skipped = 1 ] && echo "  (some runs skipped: BENCH_BUDGET of ${BUDGET}s reached)"
echo "(the time of (1) runs from relayload's drop, of (2) and (3) from the start of the injection, to the newest Maildir file's mtime;"
echo " \"injection\" is the sendmail loop's own rate: a case near it is bounded by the injection, not by the path)"
echo "pipe(8) per message: Postfix's delays d (fork+exec of niftpmail-sendmail, submission, nm's durable answer)" \
	"median $(nz "$(median "${DMED[2]:-}")") s;"
echo "  measured directly, one at a time, as nobody: niftpmail-sendmail --help (start-up alone) $start_ms ms," \
	"a whole submission to nm $sub_ms ms ($K runs, $dfails failed)"
echo "Postfix's smtpd: $(pf_log_count 'smtpd\[[0-9]+\]: connect from') connections from nm in all (warm-up included; nm keeps and reuses them)"
echo "fsync rate, 1 writer (1 KiB, fsync, rename, fsync dir): $(nz "$fs_a") files/s at start, $(nz "$fs_b") at end"
echo "elapsed: ${SECONDS}s (BENCH_N=$N BENCH_RUNS=$RUNS)"
stop_node nm
exit 0
