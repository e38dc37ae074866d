#!/bin/sh
# t_relay_drop.sh - the drop directory and mailctl submit (DESIGN sections
# 3, 9; doc/relay.md).
#
#  1. malformed files renamed into SPOOL/out/ (no blank line after the
#     address list, no originator, empty) are moved aside to corrupt/,
#     byte for byte, never deleted, each with a "corrupt" journal line
#     whose reason names the problem and the line.
#  2. a dot-file in out/ is left alone; a good letter renamed in and one
#     written in place (taken once closed) are delivered.
#  3. mailctl submit: a good letter prints a name "ucl...." and is
#     delivered; a malformed one exits 65 with the reason.
#  4. the drop protocol for files written in place (doc/mailrelayd.8,
#     DROPPING LETTERS; issue 10): a writer that pauses with the file
#     open (cut in the header, cut in the body) gets its letter delivered
#     whole, once, never to corrupt/; a file held open after its last
#     write stays in out/ until it is closed; a file renamed in is taken
#     at once, even while its writer still has it open; a writer that
#     closes and reopens the file at once (or within the stability
#     interval, or holds the reopened file) gets the whole letter
#     delivered; at start-up a complete file is taken and one still open
#     for writing waits for its close.
# The pauses of the slow writers are the stimulus; every wait for the
# relay is a bounded poll.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_relay_drop

node_ini ucl <<EOF
[local]
maildir = $(mdir ucl)/%u/
users = bennett, kirstein
EOF
start_node ucl || die "ucl did not start"
SP="$T/ucl/spool"

printf 'kirstein@ucl\nFrom: bennett@ucl\nSubject: no blank line\n\nbody\n' >"$T/noblank"
printf 'kirstein@ucl\n\nSubject: nobody sent this\nDate: Wed, 25 Nov 2026 12:00:00 +0000\n\nbody\n' >"$T/noorig"
: >"$T/empty"
printf 'this is not a letter at all\n' >"$T/prose"

# --- 1. malformed drops -----------------------------------------------------------------
for f in noblank noorig empty prose; do
	drop ucl "$T/$f" "$f" || die "drop $f"
done
# check_aside FILE ERE - FILE was moved to corrupt/ unchanged, with a reason
check_aside() {
	if ! wait_journal ucl " corrupt .*from=out/$1( |$)" 1 15; then
		bad "$1: no 'corrupt ... from=out/$1' line within 15 s"
		return
	fi
	l=$(journal ucl | grep -E " corrupt .*from=out/$1( |$)" | head -1)
	n=$(echo "$l" | awk '{ print $3 }')
	r=$(jval "$l" reason)
	if echo "$r" | grep -qiE -- "$2"; then
		ok "$1: moved aside as $n: $r"
	else
		bad "$1: reason '$r' should match /$2/"
	fi
	if [ -f "$SP/corrupt/$n" ] && cmp -s "$T/$1" "$SP/corrupt/$n"; then
		ok "$1: corrupt/$n is the dropped file, byte for byte"
	else
		bad "$1: corrupt/$n missing or changed: $(ls "$SP/corrupt" 2>/dev/null | tr '\n' ' ')"
	fi
	[ ! -e "$SP/out/$1" ] || bad "$1: still in out/"
}
check_aside noblank 'line 2.*blank line'
check_aside noorig 'line [0-9]+.*originator'
check_aside empty 'line 1.*empty'
check_aside prose 'line [0-9]+:'
[ "$(jcount ucl ' (received|ndn) ')" -eq 0 ] || bad "malformed drops made received or ndn lines"

# --- 2. dot-file, rename, write in place ------------------------------------------------------
mkletter "$T/good.letter" good.1@ucl bennett@ucl kirstein@ucl
printf 'half a letter' >"$SP/out/.hidden"
drop ucl "$T/good.letter" good.letter || die "drop"
mkletter "$T/inplace.letter" inplace.1@ucl bennett@ucl kirstein@ucl
cat "$T/inplace.letter" >"$SP/out/inplace.letter"
wait_msgid ucl kirstein good.1@ucl 1 15 && ok "a letter renamed into out/ was delivered" ||
	bad "the renamed letter was not delivered within 15 s"
wait_msgid ucl kirstein inplace.1@ucl 1 15 && ok "a letter written in place in out/ was delivered" ||
	bad "the letter written in place was not delivered within 15 s"
if [ -f "$SP/out/.hidden" ] && [ "$(cat "$SP/out/.hidden")" = 'half a letter' ]; then
	ok "out/.hidden was left alone"
else
	bad "out/.hidden was taken or changed"
fi
[ "$(count_msgid ucl kirstein inplace.1@ucl)" -eq 1 ] || bad "inplace: $(count_msgid ucl kirstein inplace.1@ucl) copies"

# --- 3. mailctl submit ------------------------------------------------------------------------
mkletter "$T/sub.letter" submit.1@ucl bennett@ucl kirstein@ucl
name=$(submit ucl "$T/sub.letter")
rc=$?
case "$rc $name" in
"0 ucl."*) ok "mailctl submit printed $name" ;;
*) bad "mailctl submit: exit $rc, printed '$name': $(tail -2 "$T/mailctl.err")" ;;
esac
wait_msgid ucl kirstein submit.1@ucl 1 15 && ok "the submitted letter was delivered" ||
	bad "the submitted letter was not delivered within 15 s"
l=$(journal ucl | grep " received $name " | head -1)
[ "$(jval "$l" from)" = submit ] || bad "received line for $name: from='$(jval "$l" from)', want submit: $l"
timeout 30 "$MAILCTL" -c "$T/ucl.ini" submit "$T/noblank" >"$T/sub.out" 2>"$T/sub.err"
rc=$?
if [ $rc -eq 65 ] && grep -qi 'line 2' "$T/sub.err"; then
	ok "mailctl submit of a malformed letter: exit 65: $(head -1 "$T/sub.err")"
else
	bad "mailctl submit of a malformed letter: exit $rc (want 65), said: $(cat "$T/sub.out" "$T/sub.err")"
fi
timeout 30 "$MAILCTL" -c "$T/ucl.ini" submit <"$T/sub.letter" >"$T/sub.out" 2>"$T/sub.err"
rc=$?
[ $rc -eq 0 ] && ok "mailctl submit from standard input: $(cat "$T/sub.out")" ||
	bad "mailctl submit from standard input: exit $rc: $(cat "$T/sub.err")"
wait_msgid ucl kirstein submit.1@ucl 2 15 || bad "the letter submitted from stdin was not delivered"

# --- 4. the drop protocol for files written in place ------------------------------------
# parts NAME MSGID CUT - $T/NAME.a and $T/NAME.b, a letter cut in two:
# CUT "header" cuts it in the middle of a header line (after Message-ID:),
# "body" after the first body line, "letter" after a complete letter whose
# body lacks its last line. The last line is "THE-END MSGID".
parts() {
	{
		printf 'kirstein@ucl\n\nDate: Wed, 25 Nov 2026 12:00:00 +0000\n'
		printf 'From: bennett@ucl\nTo: kirstein@ucl\nMessage-ID: <%s>\n' "$2"
		case $3 in
		header) printf 'Subj' ;;
		*) printf 'Subject: part two of %s\n\nBody line one.\n' "$2" ;;
		esac
	} >"$T/$1.a"
	{
		case $3 in
		header) printf 'ect: part two of %s\n\nBody line one.\n' "$2" ;;
		esac
		printf 'THE-END %s\n' "$2"
	} >"$T/$1.b"
}
# whole_checks - the files check_whole looked at, checked again at the end
whole_checks=""
# check_whole LABEL FILE MSGID - out/FILE was delivered once and whole,
# one received line, never a corrupt line, not left in out/
check_whole() {
	whole_checks="$whole_checks $2:$3"
	if ! wait_msgid ucl kirstein "$3" 1 20; then
		bad "$1: out/$2 was not delivered within 20 s"
		return
	fi
	_f=$(find_msgid ucl kirstein "$3" | head -1)
	if grep -q "^Subject: part two of $3" "$_f" && grep -q "^Body line one\.\$" "$_f" &&
		grep -q "^THE-END $3\$" "$_f"; then
		ok "$1: delivered whole"
	else
		bad "$1: delivered cut: $(tr '\n' '|' <"$_f")"
	fi
	_n=$(count_msgid ucl kirstein "$3")
	[ "$_n" -eq 1 ] || bad "$1: $_n copies of <$3>"
	_n=$(jcount ucl " received .*from=out/$2( |\$)")
	[ "$_n" -eq 1 ] || bad "$1: $_n received lines from=out/$2"
	_n=$(jcount ucl " corrupt .*from=out/$2( |\$)")
	[ "$_n" -eq 0 ] || bad "$1: $_n corrupt lines from=out/$2"
	[ ! -e "$SP/out/$2" ] || bad "$1: out/$2 is still there"
}
# untaken_while_open LABEL FILE MARK - poll (bounded, 30 s) until the
# writer creates MARK, which it does just before it closes FILE: FILE must
# stay in out/ until then. The file is looked at before the mark, so a
# file missing while the mark is still absent was taken before its close.
untaken_while_open() {
	# the writer runs in the background: first its file appears (bounded)
	_i=0
	while [ ! -e "$SP/out/$2" ] && [ ! -e "$3" ]; do
		_i=$((_i + 1))
		[ $_i -le 100 ] || { bad "$1: the writer did not create out/$2 within 10 s"; return 1; }
		sleep 0.1
	done
	_i=0
	while :; do
		if [ ! -e "$SP/out/$2" ]; then
			if [ -e "$3" ]; then
				break
			fi
			bad "$1: out/$2 was taken while its writer still had it open"
			return 1
		fi
		[ ! -e "$3" ] || break
		_i=$((_i + 1))
		[ $_i -le 300 ] || { bad "$1: the writer of out/$2 did not finish within 30 s"; return 1; }
		sleep 0.1
	done
	ok "$1: out/$2 stayed in out/ while its writer had it open"
}

# 4.1 slow writers: a pause of 3 s with the file open, cut in the header
# and cut in the body (the old rule took a drop quiet for 2 s)
parts slowh slow.h@ucl header
parts slowb slow.b@ucl body
(cat "$T/slowh.a"; sleep 3; : >"$T/slowh.closing"; cat "$T/slowh.b") >"$SP/out/slowh" &
w1=$!
(cat "$T/slowb.a"; sleep 3; : >"$T/slowb.closing"; cat "$T/slowb.b") >"$SP/out/slowb" &
w2=$!
untaken_while_open "slow writer (cut in the header)" slowh "$T/slowh.closing"
untaken_while_open "slow writer (cut in the body)" slowb "$T/slowb.closing"
wait $w1 $w2
check_whole "slow writer (cut in the header)" slowh slow.h@ucl
check_whole "slow writer (cut in the body)" slowb slow.b@ucl

# 4.2 a writer that holds the whole letter open for 4 s, then closes
parts held held.1@ucl letter
(
	exec 3>"$SP/out/held"
	cat "$T/held.a" "$T/held.b" >&3
	sleep 4
	: >"$T/held.closing"
	exec 3>&-
) &
w1=$!
untaken_while_open "held open after the last write" held "$T/held.closing"
wait $w1
check_whole "held open after the last write" held held.1@ucl

# 4.3 a file renamed in is taken at once, even while its writer holds it:
# the writer keeps it open until the received line is there (bounded,
# 15 s) and says whether it saw the line before its close
parts ren ren.1@ucl letter
rm -f "$T/ren.verdict"
(
	exec 3>"$SP/out/.ren.part"
	cat "$T/ren.a" "$T/ren.b" >&3
	mv "$SP/out/.ren.part" "$SP/out/ren"
	_i=0
	while [ "$(jcount ucl ' received .*from=out/ren( |$)')" -eq 0 ] && [ $_i -lt 150 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	if [ "$(jcount ucl ' received .*from=out/ren( |$)')" -gt 0 ]; then
		echo taken >"$T/ren.verdict"
	else
		echo waiting >"$T/ren.verdict"
	fi
	exec 3>&-
) &
w1=$!
wait $w1
if [ "$(cat "$T/ren.verdict" 2>/dev/null)" = taken ]; then
	ok "a file renamed into out/ was taken while its writer still had it open"
else
	bad "a file renamed into out/ was not taken within 15 s while its writer had it open"
fi
check_whole "renamed in" ren ren.1@ucl

# 4.4 close, then reopen and append: at once, after 0.1 s, and reopened at
# once and held open 2 s before the append. Each first part is a whole
# letter by itself, so taking it at the first close would show.
parts reo1 reo.1@ucl letter
parts reo2 reo.2@ucl letter
parts reo3 reo.3@ucl letter
cat "$T/reo1.a" >"$SP/out/reo1"
cat "$T/reo1.b" >>"$SP/out/reo1"
(cat "$T/reo2.a" >"$SP/out/reo2"; sleep 0.1; cat "$T/reo2.b" >>"$SP/out/reo2") &
w1=$!
(
	cat "$T/reo3.a" >"$SP/out/reo3"
	exec 3>>"$SP/out/reo3"
	sleep 2
	: >"$T/reo3.closing"
	cat "$T/reo3.b" >&3
	exec 3>&-
) &
w2=$!
untaken_while_open "closed, reopened and held" reo3 "$T/reo3.closing"
wait $w1 $w2
check_whole "closed and reopened at once" reo1 reo.1@ucl
check_whole "closed and reopened after 0.1 s" reo2 reo.2@ucl
check_whole "closed, reopened and held" reo3 reo.3@ucl

stop_node ucl || bad "ucl did not stop on SIGTERM"

# 4.5 start-up: a complete file written in place while the daemon was
# down is taken; one whose writer still has it open waits for the close
parts boot1 boot.1@ucl letter
cat "$T/boot1.a" "$T/boot1.b" >"$SP/out/boot1"
parts boot2 boot.2@ucl body
rm -f "$T/boot2.started"
(
	exec 3>"$SP/out/boot2"
	cat "$T/boot2.a" >&3
	: >"$T/boot2.started"
	sleep 3
	: >"$T/boot2.closing"
	cat "$T/boot2.b" >&3
	exec 3>&-
) &
w1=$!
_i=0
while [ ! -e "$T/boot2.started" ] && [ $_i -le 100 ]; do
	_i=$((_i + 1))
	sleep 0.1
done
start_node ucl || die "ucl did not restart"
untaken_while_open "start-up, writer still writing" boot2 "$T/boot2.closing"
wait $w1
check_whole "start-up, no writer" boot1 boot.1@ucl
check_whole "start-up, writer still writing" boot2 boot.2@ucl

# exactly once: nothing came later (a second letter made of an appended
# tail, a copy from a second claim)
for _wc in $whole_checks; do
	_wf=${_wc%%:*}
	_wm=${_wc#*:}
	[ "$(count_msgid ucl kirstein "$_wm")" -eq 1 ] || bad "out/$_wf: later, $(count_msgid ucl kirstein "$_wm") copies"
	[ "$(jcount ucl " (received|corrupt) .*from=out/$_wf( |\$)")" -eq 1 ] ||
		bad "out/$_wf: later, $(jcount ucl " (received|corrupt) .*from=out/$_wf( |\$)") received or corrupt lines"
done
[ -z "$(ls "$SP/corrupt" | sed -n '5,$p')" ] || bad "corrupt/ has more than the four malformed drops: $(ls "$SP/corrupt" | tr '\n' ' ')"

stop_node ucl || bad "ucl did not stop on SIGTERM"
# mailctl submit with the daemon stopped cannot reach it (exit 69,
# doc/relay.md); the letter must not be lost
mkletter "$T/late.letter" late.1@ucl bennett@ucl kirstein@ucl
timeout 30 "$MAILCTL" -c "$T/ucl.ini" submit "$T/late.letter" >"$T/sub.out" 2>"$T/sub.err"
rc=$?
[ $rc -eq 69 ] && ok "mailctl submit with the daemon stopped: exit 69" ||
	bad "mailctl submit with the daemon stopped: exit $rc, want 69: $(head -1 "$T/sub.err")"
start_node ucl || die "ucl did not restart"
if wait_msgid ucl kirstein late.1@ucl 1 15; then
	ok "the letter submitted while the daemon was stopped was delivered after its restart"
else
	note "the letter submitted while the daemon was stopped was not delivered after the restart"
fi
stop_node ucl || bad "ucl did not stop on SIGTERM"
relay_finish
