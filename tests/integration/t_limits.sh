#!/bin/sh
# t_limits.sh - incoming call limits under attack (issue 10 item 4;
# relay/relayd_recv.c, [limits] in doc/mailrelayd.conf.5).
#
# One node "lim" listening on tcp:127.0.0.1:PORT. build/tools/connflood
# binds its sockets to other loopback addresses (127.0.0.2 ...) before
# connecting, so the node sees distinct source addresses.
#
#  1. Flood from 127.0.0.2: 64 calls that complete the Yellow Book call
#     set-up (CONNECT) and then trickle one octet every 2 s without ever
#     starting a transfer (a real SFT from a plain-POSIX tool would need
#     the NIFTP codec: the trickle is what the between-transfers timeout
#     is for), then 500 bare TCP connections that send nothing. All are
#     held. The node keeps at most max_pending_per_addr (8) of them
#     pending, dropping the oldest, and accepts at most
#     max_calls_per_addr (8) calls from the address.
#  2. Meanwhile an honest "niftp put" from 127.0.0.1 (no retry) is
#     accepted and its letter delivered (bounded poll, 30 s).
#  3. Flood from eight addresses at once (127.0.0.3 .. 127.0.0.10, 25
#     bare connections each, more than max_pending = 32 in all): the
#     oldest pending connections are dropped, the pending budget holds,
#     and a second honest put goes through.
#  4. The trickling calls end after idle_call_timeout, the silent
#     connections after pending_timeout (bounded polls).
#  5. A transfer slower than min_rate (a connflood proxy from 127.0.0.11
#     passing 200 octets/s) is cut after rate_window; the donor sees a
#     broken call (exit 75), the node logs that it can be resumed.
#  6. Journal: every refusal of 127.0.0.2 counted once (the counts add up
#     to the connections refused, written out at stop), in at most a few
#     lines (once per burst and reason), not one per connection.
#  7. Bad limit values are configuration errors naming the key and line
#     (mailctl check-config and mailrelayd exit 78).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_limits

CF="$top/build/tools/connflood"
[ -x "$CF" ] || die "no $CF (make all)"
[ -x "$NIFTP" ] || die "no $NIFTP (make all)"

node_ini_raw lim <<EOF
[node]
name = lim
spool = $(ndir lim)/spool

[listen]
mail = tcp:127.0.0.1:0

[local]
maildir = $(mdir lim)/%u/
users = bennett

[limits]
max_calls = 64
max_calls_per_addr = 8
max_pending = 32
max_pending_per_addr = 8
pending_timeout = 10s
idle_call_timeout = 8s
min_rate = 1k
rate_window = 3s
EOF
start_node lim || die "lim did not start"
ADDR=$(grep '^tcp:' "$(spooldir lim)/ready" | head -1)
[ -n "$ADDR" ] || die "no tcp address in $(spooldir lim)/ready"
note "lim listens on $ADDR"

# st FILE KEY - a value from a connflood status file ("" when not there yet)
st() { awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }

# wait_st FILE KEY OP VALUE SECONDS - bounded poll until "KEY OP VALUE" holds
# (OP = or -le)
wait_st() {
	_wi=0
	while :; do
		_v=$(st "$1" "$2")
		if [ -n "$_v" ]; then
			case $3 in
			-le) [ "$_v" -le "$4" ] && return 0 ;;
			*) [ "$_v" = "$4" ] && return 0 ;;
			esac
		fi
		_wi=$((_wi + 1))
		[ $_wi -le $(($5 * 10)) ] || return 1
		sleep 0.1
	done
}

# honest_put TAG - an honest letter for bennett@lim over TCP from 127.0.0.1,
# one attempt; prints the seconds it took; put_rc gets its status
honest_put() {
	mkletter "$T/$1.letter" "$1@test" someone@elsewhere bennett@lim
	_t0=$(date +%s)
	timeout 40 "$NIFTP" put -q --retries 0 --timeout 20 --called FTP.MAIL --calling honest \
		"$T/$1.letter" "$ADDR" >"$T/$1.put.out" 2>"$T/$1.put.err"
	put_rc=$?
	put_secs=$(($(date +%s) - _t0))
}

# --- 1. flood from 127.0.0.2 (the calls 4 at a time, then the silent ones) ---------------------------------------------------------------
"$CF" flood --to "$ADDR" --source 127.0.0.2 --connect 64 --batch 4 --bare 500 --wave 25 --trickle 2 --hold 120 \
	--status-file "$T/flood1.st" </dev/null >"$T/flood1.out" 2>"$T/flood1.err" &
flood1=$!
pids="$pids $flood1"
wait_st "$T/flood1.st" settled = 1 30 ||
	bad "flood 1 did not settle within 30 s: $(tr '\n' ' ' <"$T/flood1.st" 2>/dev/null) $(tail -2 "$T/flood1.err")"
[ "$(st "$T/flood1.st" connect_failed)" = 0 ] ||
	note "flood 1: $(st "$T/flood1.st" connect_failed) TCP connects failed: $(tail -2 "$T/flood1.err")"
acc=$(st "$T/flood1.st" calls_accepted)
[ "$acc" = 8 ] &&
	ok "flood 1: $acc of 64 calls from 127.0.0.2 accepted (max_calls_per_addr 8)" ||
	bad "flood 1: $acc calls from 127.0.0.2 accepted, want 8"
ref=$(st "$T/flood1.st" calls_refused)
[ "$ref" = 56 ] && [ "$(st "$T/flood1.st" reasons)" = "17:56" ] &&
	ok "flood 1: the other $ref refused at CONNECT with reason 17 (busy)" ||
	bad "flood 1: $ref calls refused (reasons $(st "$T/flood1.st" reasons)), want 56 with reason 17"
# the node drops the oldest pending connections of 127.0.0.2 as new ones
# come: the tool sees all but max_pending_per_addr of its silent ones
# closed. (Should the kernel overrun the listen backlog after all, it may
# complete a connection with a SYN cookie and never queue it: the tool
# holds it open, the node never saw it. Such connections are told apart
# in 6: they stay open after every timeout.)
if wait_st "$T/flood1.st" bare_open -le 8 20; then
	ok "flood 1: $(st "$T/flood1.st" bare_open) of 500 silent connections from 127.0.0.2 still open (max_pending_per_addr 8)"
	early1=ok
else
	early1=$(st "$T/flood1.st" bare_open)
	note "flood 1: $early1 of 500 silent connections still open (checked in 6)"
fi
running lim || die "lim died under flood 1"

# --- 2. an honest caller meanwhile -----------------------------------------------------------
honest_put honest1
if [ $put_rc -eq 0 ]; then
	ok "honest put from 127.0.0.1 during flood 1 accepted (${put_secs} s)"
else
	bad "honest put during flood 1: exit $put_rc: $(tail -2 "$T/honest1.put.err")"
fi
wait_msgid lim bennett honest1@test 1 30 && ok "honest letter 1 delivered" ||
	bad "honest letter 1 not delivered within 30 s"
# the flood was still held while the honest caller came
[ "$(st "$T/flood1.st" calls_open)" -ge 1 ] 2>/dev/null &&
	note "flood 1 still holding $(st "$T/flood1.st" calls_open) trickling calls, $(st "$T/flood1.st" bare_open) silent connections"

# --- 3. a flood from eight addresses ---------------------------------------------------------
"$CF" flood --to "$ADDR" --source 127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9,127.0.0.10 \
	--bare 200 --wave 25 --hold 120 --status-file "$T/flood2.st" </dev/null >"$T/flood2.out" 2>"$T/flood2.err" &
flood2=$!
pids="$pids $flood2"
wait_st "$T/flood2.st" settled = 1 30 || bad "flood 2 did not settle within 30 s"
if wait_st "$T/flood2.st" bare_open -le 32 20; then
	ok "flood 2: $(st "$T/flood2.st" bare_open) of 200 silent connections from 8 addresses still open (max_pending 32)"
	early2=ok
else
	early2=$(st "$T/flood2.st" bare_open)
	note "flood 2: $early2 of 200 silent connections still open (checked in 6)"
fi
honest_put honest2
[ $put_rc -eq 0 ] && ok "honest put during flood 2 accepted (${put_secs} s)" ||
	bad "honest put during flood 2: exit $put_rc: $(tail -2 "$T/honest2.put.err")"
wait_msgid lim bennett honest2@test 1 30 && ok "honest letter 2 delivered" ||
	bad "honest letter 2 not delivered within 30 s"

# --- 4. the timeouts end what is held -------------------------------------------------------------
wait_st "$T/flood1.st" calls_open = 0 30 &&
	ok "the trickling calls ended (idle_call_timeout 8s): trickled $(st "$T/flood1.st" trickled) octets" ||
	bad "$(st "$T/flood1.st" calls_open) trickling calls still open 30 s later"
# every silent connection the node saw ends by pending_timeout (10 s) at
# the latest; what the tool still holds 25 s on the node never saw
wait_st "$T/flood1.st" bare_open = 0 25
wait_st "$T/flood2.st" bare_open = 0 5
stuck1=$(st "$T/flood1.st" bare_open)
stuck2=$(st "$T/flood2.st" bare_open)
if [ "$stuck1" = 0 ] && [ "$stuck2" = 0 ]; then
	ok "the silent connections ended (pending_timeout 10s)"
else
	# the kernel's, not the node's (SYN cookies past the listen
	# backlog): how many depends on the machine's load, so it is
	# reported, not judged; the node's own connections are checked below
	note "silent connections the node never saw (listen backlog overrun): flood 1 $stuck1, flood 2 $stuck2"
fi
[ "$early1" = ok ] || [ $((early1 - stuck1)) -le 8 ] ||
	bad "flood 1: $early1 silent connections were open, $stuck1 of them never seen by the node: the node held $((early1 - stuck1)), want <= 8"
[ "$early2" = ok ] || [ $((early2 - stuck2)) -le 32 ] ||
	bad "flood 2: $early2 silent connections were open, $stuck2 of them never seen by the node: the node held $((early2 - stuck2)), want <= 32"
wait_journal lim 'refused - from=127\.0\.0\.2 reason="idle_call_timeout 8s"' 1 10 ||
	bad "no journal line for the idle_call_timeout of 127.0.0.2"
wait_journal lim 'refused - from=127\.0\.0\.([2-9]|10) reason="pending_timeout 10s"' 1 10 ||
	bad "no journal line for pending_timeout"
wait_journal lim 'refused - from=127\.0\.0\.2 reason="max_pending_per_addr 8"' 1 10 ||
	bad "no journal line for max_pending_per_addr of 127.0.0.2"
wait_journal lim 'refused - from=127\.0\.0\.2 reason="max_calls_per_addr 8"' 1 10 ||
	bad "no journal line for max_calls_per_addr of 127.0.0.2"
wait_journal lim 'refused - from=127\.0\.0\.[3-9]0? reason="max_pending 32"' 1 10 ||
	bad "no journal line for max_pending (flood 2)"
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; forget "$1"; }
stop_pid "$flood1"
stop_pid "$flood2"

# --- 5. min_rate ------------------------------------------------------------------------------------
rm -f "$T/proxy.ready"
"$CF" proxy --listen tcp:127.0.0.1:0 --to "$ADDR" --source 127.0.0.11 --rate 200 \
	--ready-file "$T/proxy.ready" --max-time 120 </dev/null >"$T/proxy.out" 2>"$T/proxy.err" &
proxy=$!
pids="$pids $proxy"
i=0
while [ ! -s "$T/proxy.ready" ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
[ -s "$T/proxy.ready" ] || die "connflood proxy not ready: $(tail -2 "$T/proxy.err")"
PADDR=$(head -1 "$T/proxy.ready")
mkletter "$T/slow.letter" slow@test someone@elsewhere bennett@lim
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "line %d of a letter that crawls through a slow proxy\n", i }' \
	>>"$T/slow.letter"
errlen=$(wc -c <"$T/lim.err")
t0=$(date +%s)
timeout 60 "$NIFTP" put -q --retries 0 --timeout 40 --called FTP.MAIL --calling slow \
	"$T/slow.letter" "$PADDR" >"$T/slow.put.out" 2>"$T/slow.put.err"
rc=$?
secs=$(($(date +%s) - t0))
[ $rc -eq 75 ] && ok "a transfer at 200 octets/s was cut after ${secs} s (exit 75, temporary): $(head -1 "$T/slow.put.err")" ||
	bad "slow transfer: exit $rc after ${secs} s, want 75: $(tail -2 "$T/slow.put.err")"
wait_journal lim 'refused - from=127\.0\.0\.11 reason="min_rate 1024"' 1 10 &&
	ok "journal: $(journal lim | grep 'from=127\.0\.0\.11' | head -1 | cut -d' ' -f2-)" ||
	bad "no journal line for min_rate of 127.0.0.11"
tail -c +$((errlen + 1)) "$T/lim.err" | grep -q 'below min_rate 1024: cut (it can be resumed)' &&
	ok "the node logged the cut as resumable" || bad "no log line for the min_rate cut"
[ "$(count_msgid lim bennett slow@test)" -eq 0 ] || bad "the slow letter was delivered?"
stop_pid "$proxy"

# --- 6. the journal: once per burst ----------------------------------------------------------------
errlen=$(wc -c <"$T/lim.err")
stop_node lim || bad "lim did not stop"
[ "$node_rc" = 0 ] || bad "lim exit status $node_rc"
tail -c +$((errlen + 1)) "$T/lim.err" | grep -q 'stopping: 0 incoming calls' &&
	ok "the node held no connection at the end" ||
	bad "the node still held connections: $(tail -c +$((errlen + 1)) "$T/lim.err" | grep stopping:)"
lines=$(jcount lim ' refused - from=127\.0\.0\.2 ')
sum=$(journal lim | grep ' refused - from=127\.0\.0\.2 ' | sed -n 's/.* count=\([0-9]*\).*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
want=$((564 - $(st "$T/flood1.st" connect_failed) - stuck1))
note "journal lines for 127.0.0.2:"
journal lim | grep ' refused - from=127\.0\.0\.2 ' | sed 's/^/       /'
[ "$lines" -ge 1 ] && [ "$lines" -le 8 ] &&
	ok "$lines journal lines for 127.0.0.2 (once per burst and reason), not one per connection" ||
	bad "$lines journal lines for 127.0.0.2, want 1..8"
[ "$sum" -eq "$want" ] && ok "their counts add up to the $want connections of flood 1 the node saw" ||
	bad "counts for 127.0.0.2 add up to $sum, want $want (every connection refused once)"
n2=$(jcount lim ' refused - from=127\.0\.0\.([3-9]|10) ')
[ "$n2" -le 32 ] && ok "$n2 journal lines for the 8 addresses of flood 2" ||
	bad "$n2 journal lines for flood 2, want at most 4 per address"
grep -q 'refused [0-9]* connections from 127.0.0.2: max_pending_per_addr 8' "$T/lim.err" &&
	ok "logged alike: $(grep 'connections from 127.0.0.2: max_pending_per_addr' "$T/lim.err" | head -1 | sed 's/^.*mailrelayd[^:]*: //')" ||
	bad "no log line counting the refusals of 127.0.0.2"
nlog=$(grep -c 'refused [0-9]* connections\{0,1\} from 127.0.0.2:' "$T/lim.err")
[ "$nlog" -eq "$lines" ] || bad "$nlog log lines for 127.0.0.2, $lines journal lines"

# --- 7. bad limits are configuration errors ---------------------------------------------------------
mkdir -p "$T/conf"
cat >"$T/conf/bad.ini" <<EOF
[node]
name = bad
spool = spool-bad
[limits]
max_pending = 0
max_calls_per_addr = -1
max_pending_per_addr = lots
pending_timeout = 1m
min_rate = fast
rate_window = 0s
idle_call_timeout = soon
EOF
timeout 10 "$MAILCTL" -c "$T/conf/bad.ini" check-config >"$T/check.out" 2>&1
rc=$?
[ $rc -eq 78 ] && ok "check-config with bad limits: exit 78" || bad "check-config with bad limits: exit $rc, want 78"
for key in max_pending max_calls_per_addr max_pending_per_addr pending_timeout min_rate rate_window idle_call_timeout; do
	ln=$(grep -n "^$key = " "$T/conf/bad.ini" | cut -d: -f1)
	if grep -q "bad.ini:$ln: \[limits\] $key: " "$T/check.out"; then
		ok "check-config: $(grep "bad.ini:$ln: \[limits\] $key: " "$T/check.out" | sed "s|$T/conf/||")"
	else
		bad "check-config: no error for [limits] $key on line $ln: $(tr '\n' '|' <"$T/check.out")"
	fi
done
timeout 10 "$RELAYD" -f -c "$T/conf/bad.ini" </dev/null >"$T/bad.out" 2>&1
rc=$?
[ $rc -eq 78 ] && ok "mailrelayd refuses bad limits: exit 78" || bad "mailrelayd with bad limits: exit $rc, want 78"
printf '[node]\nname = good\nspool = spool-good\n[limits]\nmax_calls = 4\nmax_calls_per_addr = 9\n' \
	>"$T/conf/warn.ini"
timeout 10 "$MAILCTL" -c "$T/conf/warn.ini" check-config >"$T/check.out" 2>&1 &&
	grep -q 'warning: \[limits\] max_calls_per_addr: 9 is more than max_calls (4)' "$T/check.out" &&
	ok "max_calls_per_addr above max_calls: a warning only" ||
	bad "max_calls_per_addr above max_calls: $(tr '\n' '|' <"$T/check.out")"

relay_finish
