#!/bin/sh
# t_relay_resume.sh - receive checkpoints (doc/relay.md, Receive): a big
# letter whose transfer breaks is resumed from the receiver's last
# checkpoint, not from mark 0, also across a restart of the receiver.
#
# Network: ucl -> cutproxy -> cambridge (Unix sockets). The letter is
# about 20 MiB of base64 text (hard to compress, so the octets through
# the proxy follow the letter's size).
#  1. cut: the proxy cuts the first connection after CUT octets up (RST
#     to both sides). ucl resumes the copy; cambridge grants the mark of
#     the checkpoint it made when the call broke. The letter reaches
#     linington exactly once, cambridge has one received line for it,
#     its log says it resumed from a checkpoint, and the octets sent up
#     through the proxy in all stay under 1.3 times the letter's size
#     (a restart from mark 0 would need about CUT + the whole letter).
#     part/ and tmp/ are empty at the end.
#  2. restart: cambridge is killed at the crash point
#     relay-receive-after-checkpoint:1 (its first checkpoint is durable;
#     more data may have arrived meanwhile), then started again:
#     start-up recovery keeps part/NAME, the resumed transfer is granted
#     the checkpoint's mark, and the same checks hold, except the octet
#     limit: how much went up before the crash depends on the speed of
#     the disk, so the check is that the connection after the restart
#     carried no more than the letter past the checkpoint (+ 1 MiB).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_resume

CUTPROXY="$top/build/tools/cutproxy"
[ -x "$CUTPROXY" ] || die "no $CUTPROXY (make all)"
CUT=$((12 * 1024 * 1024))

# the letter: ~20 MiB of base64 lines
mkletter "$T/big.letter" big.1@ucl 'bennett@ucl' linington@cambridge
head -c $((15 * 1024 * 1024)) /dev/urandom | base64 >>"$T/big.letter"
SIZE=$(wc -c <"$T/big.letter")
LIMIT=$((SIZE * 13 / 10))

# start_proxy [OPTS...] - cutproxy from $T/cut.sock to cambridge
start_proxy() {
	rm -f "$T/pready" "$T/count" "$T/cut.sock"
	"$CUTPROXY" --listen "unix:$T/cut.sock" --to "$(sock cambridge)" --ready-file "$T/pready" \
		--count-file "$T/count" --max-time 120 "$@" 2>>"$T/cut.err" &
	ppid=$!
	pids="$pids $ppid"
	_i=0
	while [ ! -s "$T/pready" ] && [ $_i -lt 200 ]; do
		_i=$((_i + 1))
		sleep 0.05
	done
	[ -s "$T/pready" ] || die "cutproxy not ready: $(cat "$T/cut.err")"
}

# stop_proxy - SIGTERM (it writes its count file) and wait
stop_proxy() {
	kill -TERM "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
}

count() { sed -n "s/^$1 //p" "$T/count" 2>/dev/null; }

configs() {
	node_ini ucl <<EOF
[routes]
cambridge = niftp unix:$T/cut.sock
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 1s
EOF
	node_ini cambridge <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington
[retry]
first = 1s
max = 1s
EOF
}

# check LABEL - delivered once, received once, resumed from a checkpoint,
# octets within the limit, part/ and tmp/ empty
check() {
	if wait_msgid cambridge linington big.1@ucl 1 45; then
		ok "$1: delivered"
	else
		bad "$1: not delivered within 45 s"
		return
	fi
	wait_empty ucl queue 15 || bad "$1: ucl's queue did not empty"
	n=$(count_msgid cambridge linington big.1@ucl)
	[ "$n" -eq 1 ] && ok "$1: one Maildir file" || bad "$1: $n Maildir files"
	r=$(journal cambridge | grep ' received ' | grep -cF '<big.1@ucl>')
	[ "$r" -eq 1 ] && ok "$1: one received line at cambridge" || bad "$1: $r received lines"
	f=$(find_msgid cambridge linington big.1@ucl | head -1)
	if [ -n "$f" ] && sed '1{/^Via: ucl ;/d}' "$f" | cmp -s - "$T/big.letter.msg"; then
		ok "$1: the message is intact (below its Via: line)"
	else
		bad "$1: the delivered message differs from the one sent"
	fi
	if tail -n +$((errmark + 1)) "$T/cambridge.err" | grep -q 'resumed from its checkpoint'; then
		ok "$1: $(tail -n +$((errmark + 1)) "$T/cambridge.err" | grep -o 'resumed from its checkpoint.*' | tail -1)"
	else
		bad "$1: cambridge did not resume from a checkpoint"
	fi
	stop_proxy
	up=$(count up)
	if [ "$1" = cut ]; then
		[ -n "$up" ] && [ "$up" -lt "$LIMIT" ] &&
			ok "$1: $up octets sent up for a letter of $SIZE (limit $LIMIT)" ||
			bad "$1: $up octets sent up for a letter of $SIZE, want < $LIMIT"
	else
		ck=$(tail -n +$((errmark + 1)) "$T/cambridge.err" | sed -n 's/.*resumed from its checkpoint at mark [0-9]* (\([0-9]*\) octets).*/\1/p' | tail -1)
		up1=$(sed -n 's/.*connection 1 .*: up \([0-9]*\) .*/\1/p' "$T/cut.err" | tail -1)
		after=$((up - ${up1:-0}))
		want=$((SIZE - ${ck:-0} + 1048576))
		[ "$after" -lt "$want" ] &&
			ok "$1: $after octets sent up after the restart, checkpoint at ${ck:-?} (limit $want)" ||
			bad "$1: $after octets sent up after the restart, want < $want"
	fi
	for d in part tmp; do
		[ -z "$(ls "$(spooldir cambridge)/$d" 2>/dev/null)" ] || bad "$1: cambridge $d/ not empty: $(ls "$(spooldir cambridge)/$d")"
	done
}

# the message as delivered: the letter after its address list
sed '1,/^$/d' "$T/big.letter" >"$T/big.letter.msg"

# --- 1. cut once mid-transfer -----------------------------------------------------------
errmark=0
configs
start_proxy --cut-after $CUT --once
start_node cambridge || die "cambridge did not start"
start_node ucl || die "ucl did not start"
drop ucl "$T/big.letter" big.letter || die "drop"
check cut
[ "$(count cuts)" = 1 ] || bad "cut: the proxy made $(count cuts) cuts, want 1"
stop_node ucl
stop_node cambridge

# --- 2. the receiver dies mid-transfer and is restarted -------------------------------
rm -rf "$T/ucl" "$T/cambridge"
errmark=$(wc -l <"$T/cambridge.err")
configs
start_proxy
start_node cambridge NIFTPMAIL_CRASH=relay-receive-after-checkpoint:1 || die "cambridge did not start"
start_node ucl || die "ucl did not start"
drop ucl "$T/big.letter" big.letter || die "drop"
if wait_exit cambridge 30 && [ "$node_rc" -eq 99 ]; then
	ok "restart: cambridge crashed mid-receive"
else
	bad "restart: cambridge did not reach the crash point (status ${node_rc:-?})"
fi
np=$(ls "$(spooldir cambridge)/part" 2>/dev/null | wc -l)
note "restart: part/ holds $np file(s) after the crash"
start_node cambridge || die "cambridge did not restart"
[ "$(jcount cambridge ' recover .*undone=0')" -ge 1 ] || note "restart: $(journal cambridge | grep ' recover ' | tail -1)"
check restart
stop_node ucl
stop_node cambridge
relay_finish
