#!/bin/sh
# t_relay_fanout.sh - economy (INDRA 1025 section 5, DESIGN section 4): a
# letter to 10 recipients on 3 hosts arrives at each host as exactly one
# copy, and every recipient gets exactly one Maildir file.
#
#  1. star: dropped at ucl, which routes pss, cambridge and nott directly
#     (cambridge under two names, "cambridge" and "cam", whose routes are
#     identical and so one next hop). Each receiving journal has exactly
#     one "received" line for the letter, whose rcpts= lists that host's
#     recipients only; ucl's journal has three "forwarded" lines.
#  2. through a relay: dropped at rsre, whose only route is "*" to pss.
#     rsre sends one copy to pss with all 10 recipients; pss delivers its
#     own 3 and sends one copy each to cambridge and nott.
#  3. a copy whose address list is long (600 recipients at nott: a prefix of
#     over 16 KiB, kept in a file of its own instead of the envelope's
#     docket) arrives as one copy listing all 600, and leaves nothing behind.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_fanout

RETRY='[retry]
first = 1s
max = 2s'
node_ini ucl <<EOF
[routes]
pss = niftp $(sock pss)
cambridge = niftp $(sock cambridge)
cam = niftp $(sock cambridge)
nott = niftp $(sock nott)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
$RETRY
EOF
node_ini rsre <<EOF
[routes]
* = niftp $(sock pss)
[local]
maildir = $(mdir rsre)/%u/
users = wiseman
$RETRY
EOF
node_ini pss <<EOF
[routes]
cambridge = niftp $(sock cambridge)
cam = niftp $(sock cambridge)
nott = niftp $(sock nott)
ucl = niftp $(sock ucl)
rsre = niftp $(sock rsre)
[local]
maildir = $(mdir pss)/%u/
users = kille, cole, higginson
$RETRY
EOF
node_ini cambridge <<EOF
[routes]
* = niftp $(sock pss)
[local]
names = cambridge, cam
maildir = $(mdir cambridge)/%u/
users = linington, lin, ada
$RETRY
EOF
node_ini nott <<EOF
[routes]
* = niftp $(sock pss)
[local]
maildir = $(mdir nott)/%u/
users = brown, smith, jones, white
$RETRY
EOF
for n in pss cambridge nott ucl rsre; do
	start_node $n || die "$n did not start"
done

# host:user pairs of the 10 recipients, and how they are written
RCPTS="kille@pss Cole@PSS higginson@pss linington@cambridge lin@cam Ada@Cambridge
brown@nott smith@nott jones@Nott white@nott"
WHO="pss:kille pss:cole pss:higginson cambridge:linington cambridge:lin cambridge:ada
nott:brown nott:smith nott:jones nott:white"

# shellcheck disable=SC2086
mkletter "$T/star.letter" star.1@ucl 'bennett@ucl' $RCPTS
# shellcheck disable=SC2086
mkletter "$T/relay.letter" relay.1@rsre 'wiseman@rsre' $RCPTS
drop ucl "$T/star.letter" star.letter || die "drop at ucl"
drop rsre "$T/relay.letter" relay.letter || die "drop at rsre"

# delivered_once MSGID LABEL - every recipient has exactly one file
delivered_once() {
	good=0
	for w in $WHO; do
		h=${w%%:*}
		u=${w#*:}
		if ! wait_msgid "$h" "$u" "$1" 1 30; then
			bad "$2: nothing for $u at $h within 30 s"
			continue
		fi
		c=$(count_msgid "$h" "$u" "$1")
		if [ "$c" -eq 1 ]; then
			good=$((good + 1))
		else
			bad "$2: $u at $h has $c copies, want 1"
		fi
	done
	[ $good -eq 10 ] && ok "$2: each of the 10 recipients has exactly one copy"
}

# copies_at NODE MSGID WANT_RCPTS LABEL - exactly one received line for
# MSGID at NODE, listing WANT_RCPTS recipients
copies_at() {
	c=$(journal "$1" | grep ' received ' | grep -ciF "<$2>")
	if [ "$c" -ne 1 ]; then
		bad "$4: $1 received $c copies, want exactly 1"
		journal "$1" | grep ' received ' | sed 's/^/       /'
		return
	fi
	l=$(journal "$1" | grep ' received ' | grep -iF "<$2>")
	r=$(jval "$l" rcpts)
	nr=$(printf '%s\n' "$r" | tr ',' '\n' | grep -c .)
	if [ "$nr" -eq "$3" ]; then
		ok "$4: $1 received one copy for $3 recipients ($r)"
	else
		bad "$4: $1's copy lists $nr recipients, want $3: rcpts=$r"
	fi
}

delivered_once star.1@ucl "star"
copies_at pss star.1@ucl 3 "star"
copies_at cambridge star.1@ucl 3 "star"
copies_at nott star.1@ucl 4 "star"
nu=$(journal ucl | grep ' received ' | grep -F 'from=out/star.letter' | awk '{ print $3 }' | tail -1)
nf=$(jcount ucl " forwarded $nu ")
[ "$nf" -eq 3 ] && ok "star: ucl forwarded $nu three times (pss, cambridge, nott)" ||
	bad "star: ucl forwarded $nu $nf times, want 3: $(journal ucl | grep " forwarded $nu " | awk '{ print $5 }' | tr '\n' ' ')"

delivered_once relay.1@rsre "relay"
copies_at pss relay.1@rsre 10 "relay"
copies_at cambridge relay.1@rsre 3 "relay"
copies_at nott relay.1@rsre 4 "relay"
nr=$(journal rsre | grep ' received ' | grep -F 'from=out/relay.letter' | awk '{ print $3 }' | tail -1)
nf=$(jcount rsre " forwarded $nr ")
[ "$nf" -eq 1 ] && ok "relay: rsre forwarded $nr once" || bad "relay: rsre forwarded $nr $nf times, want 1"

# a long address list: 600 recipients at nott, 4 of them users there
BIG=""
i=0
while [ $i -lt 596 ]; do
	BIG="$BIG recipient.with.a.rather.long.name.$i@nott"
	i=$((i + 1))
done
# shellcheck disable=SC2086
mkletter "$T/big.letter" big.1@ucl 'bennett@ucl' brown@nott smith@nott jones@nott white@nott $BIG
drop ucl "$T/big.letter" big.letter || die "drop big at ucl"
wait_journal nott "received .*<big.1@ucl>" 1 30 || bad "big: nott received nothing within 30 s"
c=$(journal nott | grep ' received ' | grep -ciF "<big.1@ucl>")
[ "$c" -eq 1 ] && ok "big: nott received one copy" || bad "big: nott received $c copies, want 1"
nbig=$(journal nott | grep ' received ' | grep -iF "<big.1@ucl>" | awk '{ print $3 }')
# (the journal caps a value at 2048 octets: count the copy's recipients by their outcomes)
wait_journal ucl "forwarded .* to=nott .*" 3 30 >/dev/null
nb=$(journal ucl | grep ' received ' | grep -F 'from=out/big.letter' | awk '{ print $3 }' | tail -1)
nf=$(jcount ucl " forwarded $nb ")
[ "$nf" -eq 1 ] && ok "big: ucl forwarded $nb once" || bad "big: ucl forwarded $nb $nf times, want 1"
for u in brown smith jones white; do
	wait_msgid nott "$u" big.1@ucl 1 30 || bad "big: nothing for $u at nott"
done
# the 596 unknown recipients fail at nott: one NDN goes back to ucl (not counted below)
wait_journal nott " ndn " 1 30 >/dev/null || bad "big: no NDN at nott for the unknown users"
nfail=$(journal nott | grep " failed $nbig " | grep -c 'rcpt=recipient.with.a.rather.long.name')
ndel=$(journal nott | grep -c " delivered $nbig ")
[ "$nfail" -eq 596 ] && [ "$ndel" -eq 4 ] &&
	ok "big: all 600 recipients reached nott in one copy (4 delivered, 596 unknown users)" ||
	bad "big: nott decided $ndel deliveries and $nfail failures, want 4 and 596"
wait_journal ucl "delivered .*bennett" 1 30 >/dev/null || bad "big: the NDN did not reach bennett@ucl"
journal nott | grep -vF 'big.1@ucl' > /dev/null

# nothing left queued anywhere, and nothing else delivered (no NDN but big's)
for n in ucl rsre pss cambridge nott; do
	wait_empty "$n" queue 10
	left=$(ls "$T/$n/spool/queue" 2>/dev/null | wc -l)
	[ "$left" -eq 0 ] || bad "$n: $left files left in queue/: $(ls "$T/$n/spool/queue" | head -5 | tr '\n' ' ')"
	nd=$(journal "$n" | grep -E ' (ndn|failed|dead) ' | grep -vcF " $nbig ")
	[ "$nd" -eq 0 ] || bad "$n: $nd ndn/failed/dead lines: $(journal "$n" | grep -E ' (ndn|failed|dead) ' | grep -vF " $nbig " | head -3)"
done
for n in ucl rsre pss cambridge nott; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
done
relay_finish
