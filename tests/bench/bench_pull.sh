#!/bin/sh
# bench_pull.sh - pull mode (INDRA 4.4, relay/pull.h) beside push, in one
# run, interleaved: how fast a node collects what waits for it at its
# relay, against the same letters pushed to it over the same transport.
# It reports; it does not pass or fail.
#
# Per round (BENCH_ROUNDS, default 3), BENCH_N letters (default 500) of
# BENCH_SIZE octets (1024) for lin@cam, dropped with build/tools/relayload:
#
#   pull  relay ucl keeps them (route "cam = pull"); once all are queued,
#         "mailctl -c cam.ini fetch ucl" (max_calls 4) is timed from its
#         exec until every letter is in cam's Maildir.
#   push  relay ucp sends them to cmp (route "cmp = niftp unix:...",
#         calls_per_hop 4): dropped while cmp is stopped (every first
#         try fails at once), then cmp is started and "mailctl retry" is
#         timed from its exec until every letter is in cmp's Maildir.
#
# Both move the same bytes over Unix sockets with the same spools, four
# calls at once; the figures are letters per second, with the machine's
# fsync rate (build/tools/fsyncrate) measured before and after, since it
# swings 2-3x from minute to minute. RELAY_KEEP=1 keeps the directory.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS="$top/build/tools"
N=${BENCH_N:-500}
SIZE=${BENCH_SIZE:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
for t in relayload fsyncrate; do
	[ -x "$TOOLS/$t" ] || { echo "bench_pull: $TOOLS/$t not built"; exit 1; }
done
# shellcheck source=tests/integration/lib-relay.sh
. "$top/tests/integration/lib-relay.sh"
relay_setup bench_pull "${BENCH_DIR:-$top/build}"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f\n", (ms > 0 ? n * 1000 / ms : 0) }'; }
fsync_rate() {
	rm -rf "$T/fsync" && mkdir -p "$T/fsync"
	timeout 30 "$TOOLS/fsyncrate" "$T/fsync" 2 1024 |
		sed -n 's/.*: \([0-9.]*\) files\/s.*/\1/p' | head -1
	rm -rf "$T/fsync"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

printf 'bench-pull-link\n' >"$T/pw"
chmod 600 "$T/pw"

# nodes ROUND - fresh spools for one round (the four nodes)
nodes() {
	rm -rf "$(ndir ucl)" "$(ndir cam)" "$(ndir ucp)" "$(ndir cmp)"
	node_ini ucl <<EOI
[routes]
cam = pull

[peer cam]
username = cam-link
password_file = $T/pw
EOI
	node_ini cam <<EOI
[routes]
ucl = niftp $(sock ucl)

[peer ucl]
username = cam-link
password_file = $T/pw

[pull]
max_calls = 4

[local]
maildir = $(mdir cam)/%u/
users = lin
EOI
	node_ini ucp <<EOI
[routes]
cmp = niftp $(sock cmp)

[niftp]
calls_per_hop = 4

[retry]
first = 1h
EOI
	node_ini cmp <<EOI
[local]
names = cmp
maildir = $(mdir cmp)/%u/
users = lin
EOI
}

fs_a=$(fsync_rate)
: >"$T/pull.rates"
: >"$T/push.rates"
r=1
while [ $r -le "$ROUNDS" ]; do
	nodes
	# pull: queued at ucl, then collected
	start_node ucl || die "ucl did not start"
	start_node cam || die "cam did not start"
	"$TOOLS/relayload" drop "$(spooldir ucl)/out" "$N" --to lin@cam --size "$SIZE" >/dev/null ||
		die "relayload drop"
	wait_journal ucl ' routed ' "$N" 300 || die "ucl did not route $N letters"
	t0=$(now_ms)
	timeout 600 "$MAILCTL" -c "$T/cam.ini" fetch ucl >"$T/fetch.out" 2>&1
	"$TOOLS/relayload" wait "$N" --timeout 600 "$(mdir cam)/lin" >/dev/null ||
		die "cam did not get $N letters"
	t1=$(now_ms)
	rate "$N" $((t1 - t0)) >>"$T/pull.rates"
	echo "round $r pull: $N letters in $((t1 - t0)) ms ($(tail -1 "$T/pull.rates")/s): $(cat "$T/fetch.out")"
	stop_node cam
	stop_node ucl
	# push: deferred at ucp while cmp is down, then sent
	start_node ucp || die "ucp did not start"
	"$TOOLS/relayload" drop "$(spooldir ucp)/out" "$N" --to lin@cmp --size "$SIZE" >/dev/null ||
		die "relayload drop"
	wait_journal ucp ' deferred ' "$N" 300 || die "ucp did not try $N letters"
	start_node cmp || die "cmp did not start"
	t0=$(now_ms)
	timeout 60 "$MAILCTL" -c "$T/ucp.ini" retry >/dev/null 2>&1
	"$TOOLS/relayload" wait "$N" --timeout 600 "$(mdir cmp)/lin" >/dev/null ||
		die "cmp did not get $N letters"
	t1=$(now_ms)
	rate "$N" $((t1 - t0)) >>"$T/push.rates"
	echo "round $r push: $N letters in $((t1 - t0)) ms ($(tail -1 "$T/push.rates")/s)"
	stop_node cmp
	stop_node ucp
	r=$((r + 1))
done
fs_b=$(fsync_rate)
pull=$(median <"$T/pull.rates")
push=$(median <"$T/push.rates")
echo "pull: median $pull letters/s, push: median $push letters/s over $ROUNDS rounds of $N x $SIZE octets;" \
	"pull/push $(awk -v a="$pull" -v b="$push" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }');" \
	"fsync rate ${fs_a:-?} -> ${fs_b:-?} files/s"
relay_finish
