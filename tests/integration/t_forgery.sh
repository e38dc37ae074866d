#!/bin/sh
# t_forgery.sh - records no peer can forge (DESIGN sections 6 and 9: "nothing
# from a peer is ever written unescaped into any record"). A hostile NIFTP
# peer (build/tools/niftpforge) sends text with newlines where the relay
# writes line records, and the relay's own letters must still be delivered
# exactly once and accounted for.
#
# Forgery 1 (server dockets, relay/relayd_recv.c). Network: ucl -> cambridge.
# For each MODE a fresh network:
#   1. cambridge's socket is held by "niftpforge serve --refuse --record":
#      ucl's first SFT for the letter L is recorded (calling address, transfer
#      id, copy identity) and refused "try later"; ucl is stopped. ucl's copy
#      identity is fixed, so after a restart it resumes (mark 0xFFFF), never
#      sends afresh: the next hop may hold it committed.
#   2. the real cambridge starts. A hostile caller claiming ucl's calling
#      address and reusing ucl's transfer id plants a server docket first:
#        commit  a whole letter with the copy identity
#                "niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy "
#        part    the same copy identity, the call cut after some marks
#                (the receive checkpoint writes the docket; the name in it
#                holds nothing but a partial file)
#        nocopy  a whole letter with no copy identity at all
#   3. ucl starts again and resumes. Before the fix cambridge answered
#      "already stored" with the hostile's name: ucl journalled forwarded
#      and L existed nowhere. Now: L reaches linington exactly once,
#      cambridge received it once, and ucl's forwarded line names a letter
#      that cambridge received from ucl's copy (donor=ucl/NAME).
# Then direct protocol checks against cambridge (calling "mallory"):
#   - a letter sent with no copy identity; a resumption of its id with a
#     copy identity is refused 0x1004;
#   - a letter sent with copy C; a resumption without a copy identity is
#     refused 0x1004; one with C is answered with the same name;
#   - a letter whose copy identity carries forged lines; a resumption with
#     another copy identity is refused 0x1004.
#
# Forgery 2 (envelope dockets, the queue side; FORGERY2=0 skips it; it
# failed until the queue escaped the remote name): ucl forwards
# to a hostile next hop (niftpforge serve) that assigns the name
# "fake.0001\nfinished 1"; ucl drops the call after ER(OK) (hook
# call-cut-after-er: the envelope docket now holds the remote name), is
# stopped and started again, and told to retry (mailctl retry --all). The
# letter must still be accounted for: a forwarded line for it (the remote
# name escaped, read back exactly), or the letter still queued; never
# silently gone.
#
# FORGERY1=0 skips forgery 1, FORGERY2=0 skips forgery 2.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_forgery

FORGE="$top/build/tools/niftpforge"
[ -x "$FORGE" ] || die "no $FORGE (make all)"
EVILCOPY=$(printf 'niftpmail-copy evil/x size=1 crc=1\ncommitted 1\ncopy ')

configs() { pair_configs "$@"; }

fresh() {
	stop_node ucl
	stop_node cambridge
	for nd in ucl cambridge; do
		rm -rf "${T:?}/$nd" "$T/$nd.out" "$T/$nd.err"
	done
	rm -f "$T"/*.rec "$T"/fready
}

# forge_serve ADDR ARGS... - a niftpforge server on ADDR, ready; fpid
forge_serve() {
	_fa=$1
	shift
	rm -f "$T/fready"
	"$FORGE" serve --listen "$_fa" --ready-file "$T/fready" --max-time 120 "$@" \
		</dev/null >>"$T/forge.out" 2>>"$T/forge.err" &
	fpid=$!
	pids="$pids $fpid"
	_i=0
	while [ ! -s "$T/fready" ] && [ $_i -lt 200 ]; do
		_i=$((_i + 1))
		sleep 0.05
	done
	[ -s "$T/fready" ] || die "niftpforge serve not ready: $(tail -3 "$T/forge.err")"
}

forge_stop() {
	stop "$fpid"
}

# send ARGS... - niftpforge send to cambridge; its output in $sent, status $src
send() {
	sent=$("$FORGE" send "$(sock cambridge)" --timeout 20 "$@" 2>>"$T/forge.err")
	src=$?
}

# name_of OUTPUT - the "name" line of a niftpforge send
name_of() { printf '%s\n' "$1" | sed -n 's/^name //p'; }

# wait_file_re FILE ERE [SECONDS] - bounded poll for a line of FILE matching ERE
wait_file_re() {
	_wi=0
	while ! grep -qE -- "$2" "$1" 2>/dev/null; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${3:-20} * 10)) ] || return 1
		sleep 0.1
	done
	return 0
}

# wait_part_docket - bounded poll: cambridge holds a checkpoint docket
# (dockets are journal records: one whose value has a "part" line)
wait_part_docket() {
	_wi=0
	while ! journal cambridge | grep -F ' docket - ' | grep -qE '(put="|\\n)part [0-9]'; do
		_wi=$((_wi + 1))
		[ $_wi -le 200 ] || return 1
		sleep 0.1
	done
	return 0
}

# evil_letter FILE MSGID - a letter from the hostile caller to linington
evil_letter() { mkletter "$1" "$2" mallory@evil linington@cambridge; }

# plant_case MODE N - forgery 1 with one planting MODE (see the head)
plant_case() {
	mode=$1
	n=$2
	fresh
	configs
	mid="forge.$n@ucl"
	mkletter "$T/l$n.letter" "$mid" bennett@ucl linington@cambridge
	forge_serve "$(sock cambridge)" --refuse --record "$T/sft.rec"
	start_node ucl || { bad "$mode: ucl did not start"; return; }
	drop ucl "$T/l$n.letter" "l$n.letter" || bad "$mode: drop"
	if ! wait_file_re "$T/sft.rec" '^sft ' 20; then
		bad "$mode: ucl sent no SFT within 20 s"
		forge_stop
		return
	fi
	stop_node ucl || bad "$mode: ucl did not stop"
	forge_stop
	rec=$(sed -n 1p "$T/sft.rec")
	tid=$(printf '%s\n' "$rec" | sed -n 's/.* tid=\([0-9][0-9]*\) .*/\1/p')
	caller=$(printf '%s\n' "$rec" | sed -n 's/^sft caller=\([^ ]*\) .*/\1/p')
	ln=$(journal ucl | grep ' received ' | grep -F "<$mid>" | head -1 | cut -d' ' -f3)
	note "$mode: ucl's letter $ln went out as transfer $tid from caller '$caller'"
	[ -n "$tid" ] && [ -n "$caller" ] && [ -n "$ln" ] || { bad "$mode: record '$rec'"; return; }

	start_node cambridge || { bad "$mode: cambridge did not start"; return; }
	evil_letter "$T/evil$n.letter" "evil.$n@evil"
	case $mode in
	commit)
		send --calling "$caller" --tid "$tid" --copy "$EVILCOPY" --file "$T/evil$n.letter"
		;;
	part)
		awk 'BEGIN { for (i = 0; i < 2000; i++) printf "%06d padding padding padding\n", i }' \
			>>"$T/evil$n.letter"
		send --calling "$caller" --tid "$tid" --copy "$EVILCOPY" --file "$T/evil$n.letter" \
			--mark-interval 1024 --cut-after 20000
		;;
	nocopy)
		send --calling "$caller" --tid "$tid" --file "$T/evil$n.letter"
		;;
	esac
	note "$mode: the hostile caller planted with transfer $tid: $(printf '%s' "$sent" | tr '\n' ' ')"
	if [ "$mode" = part ]; then
		wait_part_docket || bad "$mode: cambridge made no checkpoint docket for the cut transfer"
	fi

	start_node ucl || { bad "$mode: ucl did not restart"; return; }
	if ! wait_msgid cambridge linington "$mid" 1 30; then
		bad "$mode: $mid not delivered at cambridge within 30 s of ucl's restart"
	fi
	wait_journal ucl " forwarded $ln " 1 20 || bad "$mode: ucl has no forwarded line for $ln"
	wait_empty ucl queue 20 || bad "$mode: ucl queue/ not empty: $(ls "$(spooldir ucl)/queue" | tr '\n' ' ')"
	wait_empty cambridge queue 20 || bad "$mode: cambridge queue/ not empty"
	c=$(count_msgid_all cambridge "$mid")
	r=$(journal cambridge | grep ' received ' | grep -cF "<$mid>")
	if [ "$c" -eq 1 ] && [ "$r" -eq 1 ]; then
		ok "$mode: $mid delivered exactly once (1 Maildir file, 1 received line)"
	else
		bad "$mode: $mid in $c Maildir files and $r received lines at cambridge, want 1 and 1"
	fi
	fl=$(journal ucl | grep " forwarded $ln " | tail -1)
	remote=$(jval "$fl" remote)
	rl=$(journal cambridge | grep " received $remote " | head -1)
	donor=$(jval "$rl" donor)
	if [ -n "$remote" ] && [ "$donor" = "ucl/$ln" ]; then
		ok "$mode: ucl's forwarded line names $remote, which cambridge received from ucl/$ln"
	else
		bad "$mode: ucl's forwarded line names '$remote', which cambridge received from '$donor', want ucl/$ln"
	fi
	nd=$( (journal ucl; journal cambridge) | grep -cE ' (ndn|failed|dead|corrupt) ')
	[ "$nd" -eq 0 ] || bad "$mode: $nd ndn/failed/dead/corrupt lines"
	stop_node ucl || bad "$mode: ucl did not stop"
	stop_node cambridge || bad "$mode: cambridge did not stop"
}

# expect_refused LABEL - the last send was refused with 0x1004
expect_refused() {
	case $sent in
	*"status refused 0x1004"*) ok "$1: refused 0x1004" ;;
	*) bad "$1: got '$(printf '%s' "$sent" | tr '\n' ' ')', want refused 0x1004" ;;
	esac
}

direct_checks() {
	fresh
	configs
	start_node cambridge || { bad "direct: cambridge did not start"; return; }
	copyc="niftpmail-copy mallory/m1 size=10 crc=0000abcd"

	evil_letter "$T/d1.letter" d1@evil
	send --calling mallory --tid 701 --file "$T/d1.letter"
	[ "$src" -eq 0 ] || bad "direct: a letter with no copy identity: $sent"
	send --calling mallory --tid 701 --resume --copy "$copyc"
	expect_refused "direct: resumption of a transfer that had no copy identity"

	evil_letter "$T/d2.letter" d2@evil
	send --calling mallory --tid 702 --copy "$copyc" --file "$T/d2.letter"
	[ "$src" -eq 0 ] || bad "direct: a letter with copy identity: $sent"
	first=$(name_of "$sent")
	send --calling mallory --tid 702 --resume
	expect_refused "direct: resumption without a copy identity"
	send --calling mallory --tid 702 --resume --copy "$copyc"
	if [ "$src" -eq 0 ] && [ "$(name_of "$sent")" = "$first" ] && [ -n "$first" ]; then
		ok "direct: resumption with the same copy identity answered with the same name ($first)"
	else
		bad "direct: resumption with the same copy identity: '$(printf '%s' "$sent" | tr '\n' ' ')', want ok and name $first"
	fi

	evil_letter "$T/d3.letter" d3@evil
	send --calling mallory --tid 703 --copy "$EVILCOPY" --file "$T/d3.letter"
	[ "$src" -eq 0 ] || bad "direct: a letter with forged lines in its copy identity: $sent"
	send --calling mallory --tid 703 --resume --copy "$copyc"
	expect_refused "direct: resumption against a docket whose copy identity carries forged lines"
	c=$(count_msgid_all cambridge d2@evil)
	[ "$c" -eq 1 ] || bad "direct: d2@evil in $c Maildir files, want 1"
	wait_msgid cambridge linington d3@evil 1 20 || bad "direct: d3@evil not delivered"
	stop_node cambridge || bad "direct: cambridge did not stop"
}

# remote_case - forgery 2 (see the head)
remote_case() {
	fresh
	# a long retry: the envelope docket is not rewritten before the restart
	configs 60s
	node_ini ucl <<EOF
[routes]
cambridge = niftp $(sock hostile)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 60s
max = 60s
EOF
	mid="remote.1@ucl"
	mkletter "$T/r1.letter" "$mid" bennett@ucl linington@cambridge
	forge_serve "$(sock hostile)" --name "$(printf 'fake.0001\nfinished 1')" --record "$T/hostile.rec"
	start_node ucl NIFTPMAIL_HOOK=call-cut-after-er || { bad "remote: ucl did not start"; return; }
	drop ucl "$T/r1.letter" r1.letter || bad "remote: drop"
	wait_journal ucl " deferred " 1 20 || bad "remote: the cut after ER(OK) left no deferred line"
	ln=$(journal ucl | grep ' received ' | grep -F "<$mid>" | head -1 | cut -d' ' -f3)
	stop_node ucl || bad "remote: ucl did not stop"
	start_node ucl || { bad "remote: ucl did not restart"; return; }
	# the retry time survives the restart: ask for the retry now
	timeout 10 "$MAILCTL" -c "$T/ucl.ini" retry --all >/dev/null 2>>"$T/mailctl.err"
	wait_journal ucl " forwarded $ln " 1 20
	fl=$(journal ucl | grep " forwarded $ln " | tail -1)
	if [ -n "$fl" ]; then
		remote=$(jval "$fl" remote)
		if [ "$remote" = 'fake.0001\nfinished 1' ]; then
			ok "remote: $ln journalled forwarded, the remote name escaped and read back exactly"
		else
			bad "remote: $ln forwarded with remote '$remote', want 'fake.0001\\nfinished 1'"
		fi
	elif [ -e "$(spooldir ucl)/queue/$ln" ]; then
		ok "remote: $ln still queued"
	else
		bad "remote: $ln vanished: no forwarded line and not in queue/"
	fi
	stop_node ucl || bad "remote: ucl did not stop"
	forge_stop
}

if [ "${FORGERY1:-1}" = 1 ]; then
	i=1
	for m in commit part nocopy; do
		before=$fails
		plant_case $m $i
		if [ $fails -gt "$before" ]; then
			dump_node ucl
			dump_node cambridge
		fi
		i=$((i + 1))
	done
	direct_checks
fi
if [ "${FORGERY2:-1}" = 1 ]; then
	remote_case
else
	note "forgery 2 (a hostile next hop's remote name) skipped (FORGERY2=0)"
fi
relay_finish
