#!/bin/sh
# t_relay_ndn.sh - non-delivery notices (DESIGN section 5).
#
#  1. good and bad recipients together at cambridge: the letter is
#     accepted whole; the good ones are delivered; exactly one NDN, from
#     postmaster@cambridge with "Failed-Letter: cambridge NAME", listing
#     both bad recipients (and none of the good), reaches bennett@ucl.
#  2. bad recipients at the origin (no route to two hosts) with a good
#     local one: one NDN from postmaster@ucl listing both.
#  3. a routing loop (ucl and pss each route "loopy" to the other, hop
#     limit 5): the recipient fails with "routing loop" after at most the
#     limit of hops, and one NDN reaches the sender.
#  4. a letter that itself carries Failed-Letter: and cannot be delivered
#     gets no NDN: it goes to dead/ with a "dead" journal line.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_ndn

RETRY='[retry]
first = 1s
max = 2s'
node_ini ucl <<EOF
[routes]
pss = niftp $(sock pss)
cambridge = niftp $(sock cambridge)
loopy = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[limits]
hops = 5
$RETRY
EOF
node_ini pss <<EOF
[routes]
ucl = niftp $(sock ucl)
cambridge = niftp $(sock cambridge)
loopy = niftp $(sock ucl)
[local]
maildir = $(mdir pss)/%u/
users = kille
[limits]
hops = 5
$RETRY
EOF
node_ini cambridge <<EOF
[routes]
* = niftp $(sock ucl)
[local]
maildir = $(mdir cambridge)/%u/
users = linington, ada
$RETRY
EOF
for n in ucl pss cambridge; do
	start_node $n || die "$n did not start"
done

# ndn_check LABEL NODE WHERE ERE_GOOD... -- ERE_BAD... : exactly one NDN in
# bennett's Maildir at ucl whose Failed-Letter: names NODE (WHERE is the
# failed letter's name there, "" for any); its text names every ERE_BAD
# and no ERE_GOOD
ndn_check() {
	nl=$1
	nn=$2
	nw=$3
	shift 3
	if ! wait_header ucl bennett Failed-Letter "$nn" 1 30; then
		bad "$nl: no NDN with 'Failed-Letter: $nn' for bennett@ucl within 30 s"
		return 1
	fi
	f=$(find_header ucl bennett Failed-Letter "$nn" | head -1)
	c=$(count_header ucl bennett Failed-Letter "$nn")
	[ "$c" -eq 1 ] && ok "$nl: one NDN reached bennett@ucl" || bad "$nl: $c NDNs from $nn, want 1"
	fl=$(header "$f" | grep -i '^failed-letter:' | head -1)
	if [ -n "$nw" ]; then
		printf '%s\n' "$fl" | grep -qiE "^failed-letter:[ \t]*${nn}[ \t]+${nw}[ \t]*$" &&
			ok "$nl: $fl" || bad "$nl: want 'Failed-Letter: $nn $nw', got '$fl'"
	fi
	header "$f" | grep -qiE "^from:.*postmaster@$nn" && ok "$nl: from postmaster@$nn" ||
		bad "$nl: NDN not from postmaster@$nn: $(header "$f" | grep -i '^from:')"
	good=1
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		# a good recipient may appear in the quoted header (To:), so look
		# only at the NDN's own lines before the quoted part
		if sed -n '/^[ \t]*$/,$p' "$f" | sed '/[Mm]essage-[Ii][Dd]:/,$d' |
			grep -v -iE '^[> \t]*(to|cc):' | grep -qiE -- "$1"; then
			bad "$nl: the NDN names the good recipient /$1/ as failed"
			good=0
		fi
		shift
	done
	[ $# -gt 0 ] && shift
	for re in "$@"; do
		if ! sed -n '/^[ \t]*$/,$p' "$f" | grep -qiE -- "$re"; then
			bad "$nl: the NDN does not mention /$re/"
			good=0
		fi
	done
	[ $good = 1 ] && ok "$nl: the NDN lists the failed recipients and only them"
	return 0
}

# --- 1. good and bad at cambridge ---------------------------------------------------
mkletter "$T/mixed.letter" mixed.1@ucl 'Chris Bennett <bennett@ucl>' \
	linington@cambridge nobody@cambridge ada@cambridge ghost@cambridge
drop ucl "$T/mixed.letter" mixed.letter || die "drop"
for u in linington ada; do
	wait_msgid cambridge $u mixed.1@ucl 1 30 && ok "mixed: delivered to $u at cambridge" ||
		bad "mixed: nothing for $u at cambridge within 30 s"
done
wait_journal cambridge ' ndn ' 1 30 || bad "mixed: no ndn line at cambridge"
ln=$(journal cambridge | grep ' received ' | grep -F '<mixed.1@ucl>' | awk '{ print $3 }')
for u in nobody ghost; do
	[ "$(jcount cambridge " failed $ln .*rcpt=$u@cambridge")" -ge 1 ] ||
		bad "mixed: no 'failed $ln rcpt=$u@cambridge' line"
done
[ "$(jcount cambridge " ndn $ln ")" -eq 1 ] || bad "mixed: $(jcount cambridge " ndn $ln ") ndn lines for $ln, want 1"
nto=$(jval "$(journal cambridge | grep " ndn $ln " | head -1)" to)
note "cambridge: ndn $ln to=$nto"
ndn_check mixed cambridge "$ln" 'linington' 'ada@' -- 'nobody@cambridge' 'ghost@cambridge'
[ "$(count_msgid ucl bennett mixed.1@ucl)" -eq 0 ] || bad "mixed: the letter itself reached bennett"

# --- 2. no route at the origin -------------------------------------------------------
mkletter "$T/noroute.letter" noroute.1@ucl 'bennett@ucl' \
	x@nowhere bennett@ucl y@elsewhere.example
drop ucl "$T/noroute.letter" noroute.letter || die "drop"
wait_msgid ucl bennett noroute.1@ucl 1 30 && ok "noroute: the good local copy was delivered" ||
	bad "noroute: nothing for bennett at ucl"
ln=$(journal ucl | grep ' received ' | grep -F 'from=out/noroute.letter' | awk '{ print $3 }')
wait_journal ucl " ndn $ln " 1 30 || bad "noroute: no 'ndn $ln' line at ucl"
journal ucl | grep " failed $ln " | grep -q 'no route' || bad "noroute: no 'failed ... no route' line"
ndn_check noroute ucl "$ln" -- 'x@nowhere' 'y@elsewhere[.]example'

# --- 3. a routing loop ----------------------------------------------------------------
mkletter "$T/loop.letter" loop.1@ucl 'bennett@ucl' someone@loopy
drop ucl "$T/loop.letter" loop.letter || die "drop"
where=""
i=0
while [ -z "$where" ] && [ $i -le 300 ]; do
	for n in ucl pss; do
		[ "$(jcount $n ' failed .*routing loop')" -gt 0 ] && where=$n
	done
	i=$((i + 1))
	[ -n "$where" ] || sleep 0.1
done
if [ -n "$where" ]; then
	ll=$(journal $where | grep ' failed .*routing loop' | head -1)
	ok "loop: at $where: $(echo "$ll" | cut -d' ' -f2-)"
	nr=$( (journal ucl; journal pss) | grep ' received ' | grep -cF '<loop.1@ucl>')
	[ "$nr" -le 6 ] && ok "loop: $nr received copies in all (hop limit 5)" ||
		bad "loop: $nr received copies, want at most 6 with hops = 5"
	fn=$(echo "$ll" | awk '{ print $3 }')
	f=""
	ndn_check loop "$where" "$fn" -- 'someone@loopy|someone%' 'loop'
	if [ -n "$f" ]; then
		nv=$(sed -n '/^[ \t]*$/,$p' "$f" | grep -ci '^[> \t]*via:')
		note "loop: the NDN quotes $nv Via: lines of the failed letter"
	fi
else
	bad "loop: no 'failed ... routing loop' line at ucl or pss within 30 s"
fi

# --- 4. no NDN about an NDN -------------------------------------------------------------
{
	printf 'nobody@cambridge\n\n'
	printf 'Date: Wed, 25 Nov 2026 12:00:00 +0000\nFrom: postmaster@pss\n'
	printf 'Subject: Undeliverable mail\nFailed-Letter: pss pss.2611251200.000001\n'
	printf 'Message-ID: <ndn-of-ndn.1@pss>\n\nThis is a notice.\n'
} >"$T/ndn.letter"
drop ucl "$T/ndn.letter" ndn.letter || die "drop"
if wait_journal cambridge ' dead ' 1 30; then
	ld=$(journal cambridge | grep ' dead ' | tail -1)
	nd=$(echo "$ld" | awk '{ print $3 }')
	ok "ndn-of-ndn: $(echo "$ld" | cut -d' ' -f2-)"
	[ -n "$(jval "$ld" reason)" ] || bad "ndn-of-ndn: dead line without reason=: $ld"
	[ -f "$T/cambridge/spool/dead/$nd" ] && ok "ndn-of-ndn: dead/$nd is there" ||
		bad "ndn-of-ndn: no dead/$nd: $(ls "$T/cambridge/spool/dead" 2>/dev/null)"
	[ "$(jcount cambridge " ndn $nd ")" -eq 0 ] || bad "ndn-of-ndn: an NDN was sent about $nd"
else
	bad "ndn-of-ndn: no 'dead' line at cambridge within 30 s"
fi

for n in ucl pss cambridge; do
	stop_node "$n" || bad "$n did not stop on SIGTERM"
done
relay_finish
