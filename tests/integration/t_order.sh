#!/bin/sh
# t_order.sh - durability you can check (DESIGN section 9; doc/spool.md
# "Checking the order of durability"). Real nodes run with the sysio
# trace on (NIFTPMAIL_SYSIO_TRACE); build/tools/sysio_order replays each
# trace on a model of a crash and checks every acknowledgement in it.
#
#  1. ucl, next hop pss a capture server. Letter A comes in by niftp put
#     (ER(OK): "er-ok") for bennett@ucl and kille@pss, letter B by mailctl
#     submit (traced too; the pickup answer: "pickup ... ok") for
#     cole@pss. Both go to pss, A is also delivered locally ("env-left"
#     for each envelope). The checker must pass, having checked every
#     kind of mark and the forwarded and delivered lines.
#  2. One sync on the acknowledgement path removed at a time
#     (NIFTPMAIL_SYSIO_SKIP, a test-only switch of the shim), a node
#     each, a letter put into each: the letter file's fsync, the fsync
#     of in/, the journal's fdatasync, and the fsync of queue/ for a
#     letter routed in its receiving transaction. The checker must fail
#     and name the item that was not synced.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_order
ORDER="$top/build/tools/sysio_order"
[ -x "$ORDER" ] || die "$ORDER not built"

# put NODE FILE - niftp put of a letter into NODE; prints the name it gave
put() {
	timeout 20 "$top/bin/niftp" put -q --retries 0 --called FTP.MAIL --calling rsre "$2" \
		"$(sock "$1")" 2>>"$T/put.err"
}

# wait_mark TRACE ERE [N] [SECONDS] - bounded poll for N marks matching ERE
wait_mark() {
	_wi=0
	while [ "$(grep -cE -- " mark $2" "$1" 2>/dev/null)" -lt "${3:-1}" ]; do
		_wi=$((_wi + 1))
		[ $_wi -le $((${4:-15} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# --- 1. the whole acknowledgement path, every sync in place -----------------------------
start_capture pss || die "capture pss did not start"
node_ini ucl <<EOF
[routes]
pss = niftp $(sock pss)
[local]
maildir = $(mdir ucl)/%u/
users = bennett
EOF
TR="$T/ucl.trace"
start_node ucl NIFTPMAIL_SYSIO_TRACE="$TR" || die "ucl did not start"
mkletter "$T/a.letter" order.a@rsre wiseman@rsre bennett@ucl kille@pss
mkletter "$T/b.letter" order.b@ucl bennett@ucl cole@pss
a=$(put ucl "$T/a.letter") || die "niftp put into ucl: $(tail -2 "$T/put.err")"
b=$(NIFTPMAIL_SYSIO_TRACE="$TR" timeout 30 "$MAILCTL" -c "$T/ucl.ini" submit "$T/b.letter" \
	2>>"$T/mailctl.err") || die "mailctl submit: $(tail -2 "$T/mailctl.err")"
case "$a $b" in
ucl.*" "ucl.*) ok "letters in: $a (niftp put), $b (mailctl submit)" ;;
*) die "names '$a' and '$b' should start with 'ucl.'" ;;
esac
wait_journal ucl " forwarded ($a|$b) .*to=pss" 2 15 || die "ucl: two forwarded lines not within 15 s"
wait_mark "$TR" "env-left ($a|$b) " 3 || die "ucl: three env-left marks not within 15 s"
stop_node ucl || bad "ucl did not stop on SIGTERM"
"$ORDER" "$TR" >"$T/order.ucl" 2>&1
rc=$?
sum=$(tail -1 "$T/order.ucl")
if [ $rc -eq 0 ]; then
	ok "every acknowledgement durable: ${sum#sysio_order: }"
else
	bad "the checker failed on the intact path (exit $rc):"
	sed 's/^/     /' "$T/order.ucl" | tail -20
fi
# each kind was checked (a checker that checks nothing passes too)
# er-ok 1, pickup 1, env-left 3; journal lines: 2 received, 2 forwarded, 1 delivered
echo "$sum" | grep -qE 'er-ok [1-9][0-9]*, pickup [1-9][0-9]*, env-left ([3-9]|[1-9][0-9]+) ' &&
	echo "$sum" | grep -qE 'journal lines checked ([5-9]|[1-9][0-9]+);' &&
	ok "er-ok, pickup and env-left marks and their journal lines were checked" ||
	bad "the checker did not check every kind of mark: $sum"
# the trace names directories as the kernel does ($T may be under a link)
real=$(cd "$(spooldir ucl)" && pwd -P)
# (mailctl submit hands its letter over the control socket: the daemon
# writes it, into tmp/ under its name)
# (its file is made afresh, or an emptied inode of the spool's pool,
# tmp/.free.N, is renamed to its name: doc/spool.md "Recycled inodes")
grep -q " write .* $real/journal$" "$TR" && grep -qE " mark pickup $b ok$" "$TR" &&
	grep -qE "^[0-9]+ [0-9]+ (create $real/tmp $b |rename $real/tmp \.free\.[0-9a-f]+ $real/tmp $b )" "$TR" &&
	ok "the trace holds the journal writes, the pickup mark and the submitted letter's file" ||
	bad "the trace lacks journal writes, the pickup mark or the submitted letter's file"

# --- 2. one sync removed at a time -------------------------------------------------------------
# case_of TAG - sets skip (NIFTPMAIL_SYSIO_SKIP) and want (what the
# checker must say, a BRE; NAME stands for the letter's name)
case_of() {
	case $1 in
	fdata)
		skip='fsync:*/spool/tmp/*'
		want="data of 'in/NAME' (file [0-9:]*) not durable: written at trace line" ;;
	fdir)
		skip='fsync:*/spool/in'
		want="entry 'in/NAME' not durable: renamed from 'tmp/NAME' at trace line" ;;
	fjournal)
		skip='fdatasync:*/spool/journal'
		want="journal line 'received NAME' (trace line [0-9]*, '[^']*/spool/journal') not durable" ;;
	fqueue)
		# a letter for a local user is routed in the receiving
		# transaction and committed straight into queue/
		skip='fsync:*/spool/queue'
		want="entry 'queue/NAME' not durable: renamed from 'tmp/NAME' at trace line" ;;
	esac
}
CASES="fdata fdir fjournal fqueue"
for tag in $CASES; do
	case_of "$tag"
	node_ini "$tag" <<EOF
[local]
maildir = $(mdir "$tag")/%u/
users = bennett
EOF
	start_node_nowait "$tag" NIFTPMAIL_SYSIO_TRACE="$T/$tag.trace" NIFTPMAIL_SYSIO_SKIP="$skip"
done
# bennett@ucl fails at these nodes (an NDN: committed into in/, routed after);
# bennett@fqueue is fqueue's own user (routed in the receiving transaction)
for tag in $CASES; do
	to=bennett@ucl
	[ "$tag" = fqueue ] && to=bennett@fqueue
	mkletter "$T/c.$tag.letter" "order.c.$tag@rsre" wiseman@rsre "$to"
done
for tag in $CASES; do
	wait_ready "$tag" || die "$tag did not start"
	n=$(put "$tag" "$T/c.$tag.letter") || die "niftp put into $tag: $(tail -2 "$T/put.err")"
	eval "name_$tag=\$n"
done
for tag in $CASES; do
	n=$(eval "echo \$name_$tag")
	wait_mark "$T/$tag.trace" "er-ok $n\$" || bad "$tag: no er-ok mark for $n"
	stop_node "$tag" || bad "$tag did not stop on SIGTERM"
done
for tag in $CASES; do
	case_of "$tag"
	n=$(eval "echo \$name_$tag")
	want=$(printf '%s' "$want" | sed "s/NAME/$n/g")
	"$ORDER" "$T/$tag.trace" >"$T/order.$tag" 2>&1
	rc=$?
	got=$(grep -m1 -- "$want" "$T/order.$tag")
	if [ $rc -eq 1 ] && [ -n "$got" ]; then
		ok "$skip: the checker fails: ${got#*: mark }"
	else
		bad "$skip: exit $rc (want 1), no line matching \"$want\":"
		sed 's/^/     /' "$T/order.$tag" | tail -10
	fi
	grep -q "^[0-9]* [0-9]* skip " "$T/$tag.trace" || bad "$skip: no sync was skipped"
done
relay_finish
