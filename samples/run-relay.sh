#!/bin/sh
# run-relay.sh - demonstrate the relay on loopback (make run; make run KEEP=1).
#
# Copies the sample network (samples/ucl.ini, pss.ini, cambridge.ini: the
# INDRA Note 1025 example, ucl -> pss -> cambridge; samples/gw.ini: the
# virtual call gateway through which ucl, over TCP, reaches pss, which
# listens only on a Unix socket) into a fresh temporary directory, where
# each node keeps its spool and Maildirs under run/NODE/ (the samples'
# relative paths). The samples' TCP ports 4521, 4523 and 4530 (the
# gateway) are kept when free, otherwise the next free ports are
# substituted in the copies. Checks each copy with "mailctl check-config"
# (the gateway's with "vcgw --check"), starts the gateway (in the copies'
# directory: its relative paths are relative to its working directory) and
# the three daemons, and waits (bounded) until each is ready (its ready
# file).
#
# Then drops every letter of samples/letters/ (listed in
# samples/letters/expect with the node to drop it at and where it should
# end) and waits, bounded by RUN_WAIT seconds (default 60), until each has
# reached its expected end: delivered into the expected Maildirs,
# returned to its sender by a non-delivery notice, or, for a file that is
# not a letter, moved aside to corrupt/. For each letter it prints where
# it ended, the Via: lines of the delivered copy, and its name at each hop
# (from the journals: received, forwarded as, delivered, failed, NDN);
# then the calls the gateway relayed (its log: one line per call) and
# "mailctl trace --follow" of the first letter from ucl, through the
# gateway.
#
# Stops every process it started and removes the directory; exits 0 only
# if every letter reached its expected end and went through the gateway
# where its way passes pss. KEEP=1 leaves the network running and prints
# how to use it and how to stop it.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
KEEP=${KEEP:-0}
WAIT=${RUN_WAIT:-60}
LETTERS="$top/samples/letters"
. "$top/tests/integration/lib-relay.sh"
relay_setup relay-demo
RELAY_NODEDIR="$T/run"
NODES="cambridge essex pss ucl"

# Our own trap: with KEEP=1 the network stays up and the directory stays.
run_cleanup() {
	if [ "$KEEP" = 1 ] && [ -n "$pids" ]; then
		return
	fi
	RELAY_KEEP=0
	relay_cleanup >/dev/null
}
trap run_cleanup EXIT

# --- the network ---------------------------------------------------------------------------------
VCGW="$top/bin/vcgw"
[ -x "$VCGW" ] || { echo "run: $VCGW not built" >&2; exit 1; }
for n in $NODES gw; do
	[ -f "$top/samples/$n.ini" ] || { echo "run: samples/$n.ini missing" >&2; exit 1; }
done

# pick_port VAR P - set VAR to P if nothing listens on TCP port P and no
# earlier pick took it, else to the next such port above P
lastport=0
pick_port() {
	_pp=$2
	if command -v ss >/dev/null 2>&1; then
		while [ -n "$(ss -ltnH "sport = :$_pp" 2>/dev/null)" ] || [ "$_pp" -le "$lastport" ]; do
			_pp=$((_pp + 1))
		done
	fi
	lastport=$_pp
	eval "$1=$_pp"
}
pick_port P1 4521
pick_port P3 4523
pick_port P4 4530
# through placeholders, so that a port moved onto the next sample port is
# not substituted twice
for n in $NODES gw; do
	sed -e 's/127\.0\.0\.1:4521\([^0-9]\|$\)/127.0.0.1:@P1@\1/g' \
		-e 's/127\.0\.0\.1:4523\([^0-9]\|$\)/127.0.0.1:@P3@\1/g' \
		-e 's/127\.0\.0\.1:4530\([^0-9]\|$\)/127.0.0.1:@P4@\1/g' \
		-e "s/@P1@/$P1/g; s/@P3@/$P3/g; s/@P4@/$P4/g" \
		"$top/samples/$n.ini" >"$T/$n.ini"
done
for n in $NODES; do
	add_node "$n"
done
[ "$P1 $P3 $P4" = "4521 4523 4530" ] ||
	echo "(sample ports 4521, 4523, 4530 not all free: using $P1, $P3, $P4)"
mkdir -p "$T/run"
# the links' passwords ([peer] password_file): readable by the daemons' user only
(umask 077 && mkdir -p "$T/secrets" &&
	for link in ucl-pss cam-pss essex-pss; do
		head -c 24 /dev/urandom | base64 >"$T/secrets/$link" || exit 1
	done) || { echo "run: cannot make the password files in $T/secrets" >&2; exit 1; }

for n in $NODES; do
	if ! timeout 10 "$MAILCTL" -c "$T/$n.ini" check-config >"$T/check.$n" 2>&1; then
		echo "run: samples/$n.ini does not pass check-config:" >&2
		cat "$T/check.$n" >&2
		exit 1
	fi
done
if ! timeout 10 "$VCGW" --check -c "$T/gw.ini" >"$T/check.gw" 2>&1; then
	echo "run: samples/gw.ini does not pass vcgw --check:" >&2
	cat "$T/check.gw" >&2
	exit 1
fi

# the gateway: in $T, where its relative paths (unix:run/pss.sock) point
# into the copies' run/; log lines in $T/gw.err (-v: one when a call is
# set up, and always one when it has ended)
(cd "$T" && exec "$VCGW" -f -v -c gw.ini --ready-file "$T/gw.ready" </dev/null >"$T/gw.out" 2>"$T/gw.err") &
gw_pid=$!
pids="$pids $gw_pid"
i=0
while [ ! -s "$T/gw.ready" ]; do
	if ! kill -0 "$gw_pid" 2>/dev/null || [ $i -gt 200 ]; then
		echo "run: the gateway did not start (log: $T/gw.err)" >&2
		tail -5 "$T/gw.err" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 0.05
done
printf '%-10s pid %-7s listens on %s\n' gw "$gw_pid" "$(tr '\n' ' ' <"$T/gw.ready")"

for n in $NODES; do
	if ! start_node "$n"; then
		echo "run: node $n did not start (log: $T/$n.err)" >&2
		tail -5 "$T/$n.err" >&2
		exit 1
	fi
	printf '%-10s pid %-7s listens on %s\n' "$n" "$(node_pid "$n")" \
		"$(grep -v -e '^control ' -e '^pid ' "$(spooldir "$n")/ready" | tr '\n' ' ')"
done
echo "network in $T"
echo

# --- drop the letters ----------------------------------------------------------------------------------
# expect lines: LETTER DROP END...
grep -v -e '^#' -e '^[[:space:]]*$' "$LETTERS/expect" >"$T/expect"
while read -r file at rest; do
	[ -f "$LETTERS/$file" ] || { echo "run: $LETTERS/$file missing" >&2; exit 1; }
	drop "$at" "$LETTERS/$file" "$file" || { echo "run: could not drop $file at $at" >&2; exit 1; }
done <"$T/expect"

# msgid FILE - the Message-ID of a sample letter, without <>
msgid() {
	header "$LETTERS/$1" | sed -n 's/^[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]:[ \t]*<\([^>]*\)>.*/\1/p' | head -1
}

# ndn_files USER NODE MSGID - NDNs in USER's Maildir at NODE about the letter MSGID
ndn_files() {
	find_header "$2" "$1" Failed-Letter '.' | while read -r f; do
		grep -qF "<$3>" "$f" && echo "$f"
	done
}

# reached FILE DROP ITEM - 0 when ITEM of the letter's expected end holds
reached() {
	id=$(msgid "$1")
	case "$3" in
	aside@*)
		[ "$(jcount "${3#aside@}" " corrupt .*from=out/$1( |$)")" -ge 1 ] ;;
	ndn:*)
		u=${3#ndn:}
		[ -n "$(ndn_files "${u%@*}" "${u#*@}" "$id")" ] ;;
	*)
		[ "$(count_msgid "${3#*@}" "${3%@*}" "$id")" -ge 1 ] ;;
	esac
}

# done_all - 0 when every letter reached every item of its end
done_all() {
	while read -r file at rest; do
		for item in $rest; do
			reached "$file" "$at" "$item" || return 1
		done
	done <"$T/expect"
	return 0
}

i=0
while ! done_all; do
	i=$((i + 1))
	[ $i -le $((WAIT * 5)) ] || break
	sleep 0.2
done
waited=$((i / 5))

# --- report -------------------------------------------------------------------------------------------------
# all_journals - every node's journal, each line prefixed with the node's name
all_journals() {
	for n in $NODES; do
		journal "$n" | sed "s/^/$n /"
	done
}

# trace ROOT - the letter's name at each hop, from the journals
trace() {
	all_journals | awk -v root="$1" -v T="$T/" '
	function val(s, k,    p, v, i, c) {
		p = index(s, " " k "=")
		if (p == 0) return ""
		s = substr(s, p + length(k) + 2)
		if (substr(s, 1, 1) != "\"") { sub(/ .*/, "", s); return s }
		v = ""
		for (i = 2; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\") { v = v substr(s, i, 2); i++; continue }
			if (c == "\"") break
			v = v c
		}
		return v
	}
	function rel(p) { return index(p, T) == 1 ? substr(p, length(T) + 1) : p }
	function walk(nm, pre,    i, l, f, ev, r, nd, lastdef, a) {
		if (seen[nm]++) return
		nd = 0
		for (i = 1; i <= cnt[nm]; i++) {
			l = line[nm, i]
			split(l, f, " ")
			ev = f[3]
			if (ev == "received") {
				a = val(l, "auth")
				printf "%s%-9s %s  received from %s%s\n", pre, f[1] ":", nm, val(l, "from"), \
					a == "password" || a == "address" ? " (peer " val(l, "peer") ", by " a ")" : ""
			}
			else if (ev == "corrupt")
				printf "%s%-9s %s  moved aside to corrupt/: %s\n", pre, f[1] ":", nm, val(l, "reason")
			else if (ev == "forwarded") {
				r = val(l, "remote")
				printf "%s%-9s   forwarded to %s as %s for %s\n", pre, "", val(l, "to"), r, val(l, "rcpts")
				walk(r, pre "  ")
			} else if (ev == "delivered")
				printf "%s%-9s   delivered %s: %s\n", pre, "", val(l, "rcpt"), rel(val(l, "mailbox"))
			else if (ev == "failed")
				printf "%s%-9s   FAILED %s: %s\n", pre, "", val(l, "rcpt"), val(l, "reason")
			else if (ev == "deferred") { nd++; lastdef = l }
			else if (ev == "ndn" || ev == "warned") {
				r = val(l, "notice")
				printf "%s%-9s   %s %s sent to %s\n", pre, "", ev == "ndn" ? "non-delivery notice" : "still-trying notice", r, val(l, "to")
				walk(r, pre "  ")
			} else if (ev == "dead")
				printf "%s%-9s   DEAD: %s\n", pre, "", val(l, "reason")
		}
		if (nd > 0)
			printf "%s%-9s   (deferred %d times; last: to %s, %s)\n", pre, "", nd, val(lastdef, "to"), val(lastdef, "reason")
	}
	{ nm = $4; cnt[nm]++; line[nm, cnt[nm]] = $0 }
	END { walk(root, "    ") }'
}

ok_all=0
bad_all=0
while read -r file at rest; do
	id=$(msgid "$file")
	root=$(journal "$at" | grep -E " (received|corrupt) .*from=out/$file( |$)" | awk '{ print $3 }' | head -1)
	good=1
	ends=""
	for item in $rest; do
		if reached "$file" "$at" "$item"; then
			ends="$ends $item"
		else
			ends="$ends $item(MISSING)"
			good=0
		fi
	done
	case " $rest" in
	*" ndn:"*) ;;
	*)
		# no NDN expected: no recipient may have failed
		if [ -n "$root" ] && trace "$root" | grep -q 'FAILED\|DEAD'; then
			good=0
			ends="$ends (unexpected failure)"
		fi
		;;
	esac
	if [ $good = 1 ]; then
		verdict="ok"
		ok_all=$((ok_all + 1))
	else
		verdict="NOT AS EXPECTED"
		bad_all=$((bad_all + 1))
	fi
	echo "$file  ${id:+<$id>}  dropped at $at: $verdict"
	echo "  ended:$ends"
	if [ -n "$root" ]; then
		echo "  names at each hop:"
		trace "$root"
	else
		echo "  (no journal line at $at for out/$file)"
	fi
	# the Via: lines of each delivered copy (first file per expected mailbox)
	for item in $rest; do
		case "$item" in
		aside@* | ndn:*) continue ;;
		esac
		f=$(find_msgid "${item#*@}" "${item%@*}" "$id" | head -1)
		[ -n "$f" ] || continue
		echo "  in ${f#"$T"/}:"
		v=$(header "$f" | grep -i '^via:')
		if [ -n "$v" ]; then
			printf '%s\n' "$v" | sed 's/^/    /'
		else
			echo "    (no Via: lines: delivered where it was dropped)"
		fi
	done
	for item in $rest; do
		case "$item" in
		ndn:*)
			u=${item#ndn:}
			f=$(ndn_files "${u%@*}" "${u#*@}" "$id" | head -1)
			[ -n "$f" ] || continue
			echo "  non-delivery notice in ${f#"$T"/}:"
			header "$f" | grep -iE '^(from|to|subject|failed-letter|via):' | sed 's/^/    /'
			;;
		esac
	done
	echo
done <"$T/expect"

# --- the gateway ----------------------------------------------------------------------------------
# Every letter ucl sent to pss went through the gateway: pss saw each
# one's caller as ucl.gw, and the gateway logged its calls, mail calls
# with called PSS.FTP.MAIL passed on as FTP.MAIL. A call's line comes when
# it has ended (ucl keeps an idle call a moment): bounded wait until every
# call set up has ended.
gw_set=0
gw_ended=0
i=0
while :; do
	gw_set=$(grep -c ': called .* from .*: calling ' "$T/gw.err")
	gw_ended=$(grep -c ' result=' "$T/gw.err")
	[ "$gw_ended" -lt "$gw_set" ] || break
	i=$((i + 1))
	[ $i -le 150 ] || break
	sleep 0.1
done
gw_mail=$(grep ' result=ok ' "$T/gw.err" | grep -c ' called=PSS\.FTP\.MAIL .* called_out=FTP\.MAIL calling_out=ucl\.gw ')
to_pss=$(jcount ucl ' forwarded .* to=pss( |$)')
from_gw=$(journal pss | grep ' received ' | grep -cE ' calling=ucl\.gw( |$)')
from_ucl=$(journal pss | grep ' received ' | grep -cE ' calling="?ucl')
echo "gateway gw: $gw_ended calls relayed, $gw_mail of them mail calls (log $T/gw.err, one line per call):"
grep ' result=' "$T/gw.err" |
	sed -n 's/.*\(call [0-9]*\) from=[^ ]* \(calling=[^ ]* called=[^ ]*\) to=\([^ ]*\) \(called_out=[^ ]* calling_out=[^ ]*\) \(in=[^ ]* out=[^ ]*\) .*\(result=[^ ]*\).*/  \1: \2 -> \3 \4 \5 \6/p'
echo "  ucl forwarded $to_pss letters to pss; pss received $from_gw from the calling address ucl.gw"
gw_good=1
if [ "$gw_mail" -lt 1 ] || [ "$to_pss" -lt 1 ] || [ "$from_gw" -ne "$to_pss" ] || [ "$from_ucl" -ne "$from_gw" ] ||
	[ "$gw_ended" -lt "$gw_set" ]; then
	echo "run: the letters from ucl to pss did not all go through the gateway (or a call did not end)"
	gw_good=0
fi
echo

# --- trace through the gateway --------------------------------------------------------------------
# the first letter dropped at ucl, followed from ucl: pss is asked through the gateway
first=$(sed -n '1{s/[[:space:]].*//;p;}' "$T/expect")
echo "mailctl -c ucl.ini trace --follow $first  (pss is asked through the gateway, called PSS.FTP):"
timeout 60 "$MAILCTL" -c "$T/ucl.ini" trace --follow --timeout 10 "$first" 2>&1 | sed "s#$T/##; s/^/  /"
echo

# --- pull mode ----------------------------------------------------------------------------------------
# pull.letter waited at pss until essex collected it ([pull] every 2s): traced from ucl's name, the
# branch goes ucl -> (gateway) pss -> essex (asked at its pull route's address) and ends in its Maildir
pull_good=1
if grep -q '^pull\.letter[[:space:]]' "$T/expect"; then
	echo "mailctl -c ucl.ini trace --follow pull.letter  (pss kept it until essex called for it):"
	timeout 60 "$MAILCTL" -c "$T/ucl.ini" trace --follow --timeout 10 pull.letter >"$T/trace.pull" 2>&1
	sed "s#$T/##; s/^/  /" "$T/trace.pull"
	if [ "$(jcount pss ' forwarded .* to=essex .*pulled=1')" -lt 1 ] ||
		! grep -q 'run/essex/mail/kirstein/' "$T/trace.pull"; then
		echo "run: pull.letter was not collected by essex, or its trace does not end in essex's Maildir"
		pull_good=0
	fi
	echo
fi

if [ $bad_all -eq 0 ] && [ $gw_good = 1 ] && [ $pull_good = 1 ]; then
	echo "run: all $ok_all letters reached their expected end (${waited}s), through the gateway to pss"
else
	[ $bad_all -eq 0 ] ||
		echo "run: $bad_all of $((ok_all + bad_all)) letters did not reach their expected end within ${WAIT}s"
	for n in $NODES; do
		echo "--- $n: stderr (last 10 lines)"
		tail -10 "$T/$n.err"
	done
	echo "--- gw: log (last 10 lines)"
	tail -10 "$T/gw.err"
fi

if [ "$KEEP" = 1 ]; then
	echo
	echo "The network is still running (KEEP=1):"
	printf '  %-10s pid %-7s config %s\n' gw "$gw_pid" "$T/gw.ini"
	for n in $NODES; do
		printf '  %-10s pid %-7s config %s\n' "$n" "$(node_pid "$n")" "$T/$n.ini"
	done
	echo "  spools, journals and Maildirs under $T/run/NODE/; the gateway's log in $T/gw.err"
	echo "Try:"
	echo "  $MAILCTL -c $T/ucl.ini route 'Linington%Cambridge%PSS@UCL'"
	echo "  $MAILCTL -c $T/ucl.ini submit $LETTERS/indra.letter"
	echo "  $MAILCTL -c $T/ucl.ini queue"
	echo "  $MAILCTL -c $T/ucl.ini trace --follow $first"
	echo "  tail -f $T/run/cambridge/spool/journal $T/gw.err"
	echo "Stop it with:"
	echo "  kill $gw_pid$(for n in $NODES; do printf ' %s' "$(node_pid "$n")"; done); rm -rf $T"
fi
[ $bad_all -eq 0 ] && [ $gw_good = 1 ] && [ $pull_good = 1 ]
