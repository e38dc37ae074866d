#!/usr/bin/env bash
# t_postfix_smoke.sh - the private Postfix instance of lib-postfix.sh works
# and leaves the system instance alone (issue 11, item 3):
#   - Postfix installed when missing (pf_install);
#   - sendmail -C into the private instance -> virtual(8) -> a Maildir,
#     headers and body checked;
#   - SMTP on 127.0.0.1:PORT: 250 for a user, 550 and 450 from the
#     check_recipient_access map, 550 for an unknown user; a dot-stuffed line
#     arrives intact; the map changed at run time (pf_access, pf_add_user);
#   - the pipe(8) transport "niftp" runs as an ordinary user: exit 75
#     defers, the short retry timers deliver it a few seconds later;
#   - the instance listens on loopback only; after pf_stop its master is
#     gone and its directory removed; the system instance was not started
#     and its queue not touched.
# Needs root. Run by make check-postfix.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/postfix/lib-postfix.sh"

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
die() { echo "FAIL $*"; exit 1; }

W=""
cleanup() {
	pf_stop
	[ -z "$W" ] || rm -rf "$W"
}
trap 'exit 130' INT TERM
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "needs root (Postfix's master runs as root)"
before=$(pf_system_state)
echo "     before: $before"
pf_install || die "Postfix is not available (see above)"

# the pipe transport's command: writes who it runs as, its arguments and the
# message into $W/out; exits 75 (EX_TEMPFAIL) while $W/out/defer exists
W=$(mktemp -d "${TMPDIR:-/tmp}/pfsmoke.XXXXXX") || die "mktemp"
chmod 755 "$W"
mkdir "$W/out" && chown nobody "$W/out"
cat >"$W/pipe.sh" <<'EOF'
#!/bin/sh
out=$1; shift
if [ -e "$out/defer" ]; then echo "test pipe: try again later" >&2; exit 75; fi
f=$out/msg.$$
{ echo "user=$(id -un)"; echo "args=$*"; cat; } >"$f.tmp" && mv "$f.tmp" "$f"
EOF
chmod 755 "$W/pipe.sh"
touch "$W/out/defer"

PF_TRANSPORT="niftp.test niftp:"
PF_PIPE_ARGV="/bin/sh $W/pipe.sh $W/out \${sender} \${recipient}"
PF_PIPE_USER=nobody
t0=$(date +%s.%N)
pf_start smoke || die "pf_start"
echo "     started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: $PF_DIR, smtpd 127.0.0.1:$PF_PORT"

# --- the instance is private and on loopback only ----------------------------------
cfg=$(tr '\0' '\n' <"/proc/$PF_MASTER_PID/environ" 2>/dev/null | sed -n 's/^MAIL_CONFIG=//p')
[ "$cfg" = "$PF_CFG" ] && ok "master $PF_MASTER_PID runs with config_directory $PF_CFG" ||
	bad "master $PF_MASTER_PID has MAIL_CONFIG '$cfg', not $PF_CFG"
listen=$(ss -Htlnp | grep "pid=$PF_MASTER_PID," | awk '{ print $4 }' | tr '\n' ' ')
case "$listen" in
"127.0.0.1:$PF_PORT ") ok "it listens on 127.0.0.1:$PF_PORT only" ;;
*) bad "its listeners: '$listen' (want 127.0.0.1:$PF_PORT only)" ;;
esac

# --- sendmail -C -> virtual(8) -> Maildir -------------------------------------------------
tag="smoke-$$-$RANDOM"
printf 'From: Carol <carol@pf.test>\nTo: alice@pf.test\nSubject: %s\n\nfirst line\n.second line starts with a dot\nlast line\n' "$tag" |
	pf_sendmail -f carol@pf.test -- alice@pf.test || bad "pf_sendmail exited $?"
if f=$(pf_wait_maildir alice 1 20); then
	f=$(echo "$f" | tail -1)
	grep -q "^Subject: $tag\$" "$f" && grep -q '^Return-Path: <carol@pf.test>$' "$f" &&
		grep -q '^Delivered-To: alice@pf.test$' "$f" && grep -q "^Received: by $PF_HOST" "$f" &&
		grep -q '^\.second line starts with a dot$' "$f" && grep -q '^last line$' "$f" &&
		ok "sendmail -C: delivered to alice's Maildir with its headers and body" ||
		{ bad "sendmail -C: alice's message is not as sent:"; sed 's/^/       /' "$f"; }
	[ "$(stat -c %U "$f")" = nobody ] && ok "the Maildir file belongs to nobody (PF_MAIL_USER)" ||
		bad "the Maildir file belongs to $(stat -c %U "$f")"
else
	bad "sendmail -C: nothing in alice's Maildir"
fi

# --- SMTP: per-recipient replies from the access map ------------------------------------
out=$(printf 'Subject: %s-smtp\n\n.one dot\n..two dots\nend\n' "$tag" |
	pf_smtp carol@pf.test bob@pf.test reject550@pf.test defer450@pf.test nosuch@pf.test)
echo "$out" | sed 's/^/     smtp: /'
code() { echo "$out" | awk -v w="$1" '$1 == "RCPT" && $2 == w { print $3 }'; }
[ "$(code bob@pf.test)" = 250 ] && ok "RCPT bob: 250" || bad "RCPT bob: '$(code bob@pf.test)'"
[ "$(code reject550@pf.test)" = 550 ] && ok "RCPT reject550: 550" || bad "RCPT reject550: '$(code reject550@pf.test)'"
[ "$(code defer450@pf.test)" = 450 ] && ok "RCPT defer450: 450" || bad "RCPT defer450: '$(code defer450@pf.test)'"
[ "$(code nosuch@pf.test)" = 550 ] && ok "RCPT nosuch (not a user): 550" || bad "RCPT nosuch: '$(code nosuch@pf.test)'"
echo "$out" | grep -q '^DATA 250 ' && ok "DATA: 250" || bad "DATA not accepted"
if f=$(pf_wait_maildir bob 1 20); then
	f=$(echo "$f" | tail -1)
	grep -q "^Subject: $tag-smtp\$" "$f" && grep -q '^\.one dot$' "$f" && grep -q '^\.\.two dots$' "$f" && grep -q '^end$' "$f" &&
		ok "SMTP: delivered to bob, dot-stuffing undone" ||
		{ bad "SMTP: bob's message is not as sent:"; sed 's/^/       /' "$f"; }
else
	bad "SMTP: nothing in bob's Maildir"
fi
n550=$(pf_log_count 'reject: RCPT .* 550 5\.1\.1 <reject550@pf\.test>')
n450=$(pf_log_count 'reject: RCPT .* 450 4\.2\.0 <defer450@pf\.test>')
[ "$n550" = 1 ] && [ "$n450" = 1 ] && ok "maillog: one 550 and one 450 reject line" ||
	bad "maillog: $n550 550-lines and $n450 450-lines"

# --- the map changed at run time: defer450 accepted ------------------------------------
pf_access defer450 && pf_add_user defer450 || bad "pf_access/pf_add_user"
out=$(printf 'Subject: %s-later\n\nnow\n' "$tag" | pf_smtp carol@pf.test defer450@pf.test)
echo "$out" | grep -q '^RCPT defer450@pf.test 250 ' && pf_wait_maildir defer450 1 20 >/dev/null &&
	ok "after pf_access/pf_add_user defer450 is accepted and delivered" ||
	{ bad "defer450 still refused after the change:"; echo "$out" | sed 's/^/       /'; }

# --- pipe(8) transport niftp as an ordinary user: 75 defers, then delivered ------------------
printf 'Subject: %s-pipe\n\nto the pipe\n' "$tag" | pf_sendmail -f alice@pf.test -- x@niftp.test y@niftp.test
if pf_wait_log 'relay=niftp, .*status=deferred' 1 20 >/dev/null; then
	ok "pipe exit 75: deferred ($(pf_log 'relay=niftp, .*status=deferred' | head -1 | sed 's/.*status=deferred //'))"
else
	bad "pipe exit 75: no deferral logged"
fi
rm -f "$W/out/defer"
t1=$(date +%s)
if pf_wait_log 'relay=niftp, .*status=sent' 2 20 >/dev/null; then
	ok "pipe: delivered $(($(date +%s) - t1))s after it stopped deferring, without a flush (short retry timers)"
	f=$(ls "$W"/out/msg.* 2>/dev/null | head -1)
	if [ -n "$f" ] && grep -qx 'user=nobody' "$f" && grep -qx 'args=alice@pf.test x@niftp.test y@niftp.test' "$f" &&
		grep -q "^Subject: $tag-pipe\$" "$f" && grep -qx 'to the pipe' "$f"; then
		ok "pipe: ran as nobody with -f sender and both recipients, message on stdin"
	else
		bad "pipe: its output is not as expected:"; sed 's/^/       /' "$f" 2>/dev/null
	fi
else
	bad "pipe: not delivered after the deferral"
	pf_log niftp | tail -5 | sed 's/^/       /'
fi
pf_wait_queue_empty 20 && ok "the private queue is empty" || bad "the private queue is not empty"

# --- stop, and the system instance -------------------------------------------------------
dir=$PF_DIR mp=$PF_MASTER_PID
pf_stop
! kill -0 "$mp" 2>/dev/null && [ ! -e "$dir" ] && ok "pf_stop: master $mp gone, $dir removed" ||
	bad "pf_stop: master $mp still there or $dir left"
after=$(pf_system_state)
echo "     after:  $after"
[ "$after" = "$before" ] && ok "the system instance is as before (not started, its queue untouched)" ||
	bad "the system instance changed: before '$before', after '$after'"
case "$after" in
*"alive=no masters=[]"*) ok "no system Postfix is running" ;;
*) bad "a system Postfix is running: $after" ;;
esac

if [ $fails = 0 ]; then echo "t_postfix_smoke: all passed"; exit 0; fi
echo "t_postfix_smoke: $fails failed"
exit 1
