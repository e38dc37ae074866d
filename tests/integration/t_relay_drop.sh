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
