#!/bin/sh
# t_mailctl_cli.sh - mailctl as a newcomer meets it: help without a node,
# usage errors that say what is wrong and what to do, the exit codes of
# doc/mailctl.1 (EXIT STATUS), and never the control protocol's framing.
#
#  1. No configuration (NIFTPMAIL_CONF names a file that does not exist,
#     no -c): "mailctl --help", "mailctl help", "mailctl -h" and
#     "mailctl COMMAND --help" (and "mailctl help COMMAND") for every
#     command exit 0 with a "Usage:" text on standard output and nothing
#     on standard error.
#  2. Still without one, every usage error exits 64 before the
#     configuration is looked for: a first line "mailctl: ..." that
#     names what is wrong, and "Try 'mailctl [COMMAND] --help'." last.
#     A command that needs the node then exits 78, naming the file and
#     saying to give -c or set NIFTPMAIL_CONF.
#  3. With a running node, every command without arguments: what each
#     does alone (ping the name, queue "the queue is empty", retry
#     "retried 0 letters", reroute "no route overrides in force", stats,
#     check-config, reload: 0), or a usage error saying what to give
#     (hold, release, delete, bounce, forward, resubmit, trace, view,
#     route: 64).
#  4. Wrong arguments at a running node: each exit code as documented
#     (67 a name not found or an undeliverable address, 65 a malformed
#     address or letter, 1 no such letter for view, trace, forward,
#     resubmit, reroute --clear), the daemon's reason after "mailctl:
#     COMMAND: ", and no "ok", "err" or "." line, no "daemon:" anywhere.
#  5. The daemon stopped: requests exit 69 and ask whether mailrelayd
#     runs.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_mailctl_cli

# every command of mailctl --help
cmds="submit route trace view stats check-config sendmail ping queue retry hold release
delete bounce forward reroute resubmit reload"

# run ARGS... - mailctl ARGS with standard input empty: rc, $T/o, $T/e
run() {
	timeout 30 "$MAILCTL" "$@" </dev/null >"$T/o" 2>"$T/e"
	rc=$?
}
# framed - the output shows control-protocol framing (or "daemon:")
framed() {
	cat "$T/o" "$T/e" | grep -Eq '^(ok|err)( |$)|^\.$|: err |daemon: '
}

# --- 1. help without a configuration ------------------------------------------------------
NIFTPMAIL_CONF=$T/missing.ini
export NIFTPMAIL_CONF
for a in "--help" "help" "-h"; do
	run $a
	[ $rc -eq 0 ] && head -1 "$T/o" | grep -q '^Usage: mailctl' && [ ! -s "$T/e" ] &&
		ok "no configuration: mailctl $a: exit 0, $(head -1 "$T/o")" ||
		bad "no configuration: mailctl $a: exit $rc: $(head -2 "$T/o") $(cat "$T/e")"
done
for c in $cmds; do
	for h in --help -h; do
		[ "$c" = sendmail ] && [ "$h" = -h ] && continue	# sendmail's -h is its hop count
		run "$c" $h
		if [ $rc -eq 0 ] && head -1 "$T/o" | grep -q "^Usage: .*$c" && [ ! -s "$T/e" ]; then
			[ "$h" = --help ] && ok "no configuration: mailctl $c $h: exit 0, $(head -1 "$T/o")"
		else
			bad "no configuration: mailctl $c $h: exit $rc: $(head -2 "$T/o") $(cat "$T/e")"
		fi
	done
done
run help trace
[ $rc -eq 0 ] && grep -q '^Usage: mailctl .*trace' "$T/o" && [ ! -s "$T/e" ] &&
	ok "mailctl help trace: trace's help" || bad "mailctl help trace: exit $rc: $(cat "$T/o" "$T/e")"
# help after other options too
run trace --json --help
[ $rc -eq 0 ] && grep -q '^Usage: mailctl .*trace' "$T/o" && ok "trace --json --help: the help" ||
	bad "trace --json --help: exit $rc: $(cat "$T/o" "$T/e")"

# --- 2. usage errors need no configuration ------------------------------------------------
# usage WHAT_ERE TRY ARGS... - mailctl ARGS: exit 64, the first line of
# standard error matches WHAT_ERE, the last is "Try 'TRY --help'."
usage() {
	_ure=$1
	_utry=$2
	shift 2
	run "$@"
	if [ $rc -eq 64 ] && head -1 "$T/e" | grep -Eq -- "$_ure" &&
	    [ "$(tail -1 "$T/e")" = "Try '$_utry --help'." ] && [ ! -s "$T/o" ] && ! framed; then
		ok "mailctl $*: exit 64, $(head -1 "$T/e")"
	else
		bad "mailctl $*: exit $rc, want 64 and /$_ure/, 'Try '$_utry --help'.': $(cat "$T/o" "$T/e")"
	fi
}
usage "^mailctl: no command$" "mailctl"
usage "^mailctl: unknown command 'frobnicate'$" "mailctl" frobnicate
usage "^mailctl: (unrecognized|invalid) option" "mailctl" --frob ping
usage "^mailctl: trace: no KEY" "mailctl trace" trace
usage "^mailctl: trace: one KEY at a time \('b' is one too many\)$" "mailctl trace" trace a b
usage "^mailctl: trace: unrecognized option '--frob'$" "mailctl trace" trace --frob x
usage "^mailctl: trace: --timeout wants seconds" "mailctl trace" trace --timeout soon x
usage "^mailctl: trace: --json or --dot, not both$" "mailctl trace" trace --json --dot x
usage "^mailctl: view: no NAME" "mailctl view" view
usage "^mailctl: view: '\.\./x' is not a letter's name" "mailctl view" view ../x
usage "^mailctl: view: --lines wants a number" "mailctl view" view --lines many x
usage "^mailctl: stats: .*'x'" "mailctl stats" stats x
usage "^mailctl: stats: --prometheus or --json, not both$" "mailctl stats" stats --json --prometheus
usage "^mailctl: route: no ADDRESS" "mailctl route" route
usage "^mailctl: route: one ADDRESS at a time" "mailctl route" route a@b c@d
usage "^mailctl: route: unknown option '--frob'$" "mailctl route" route --frob a@b
usage "^mailctl: route: --from wants" "mailctl route" route a@b --from
usage "^mailctl: submit: one FILE at a time" "mailctl submit" submit f1 f2
usage "^mailctl: check-config: no argument \('x'\)" "mailctl check-config" check-config x
usage "^mailctl: usage: hold .*\(no letter named: .*ALL.*standard input\)$" "mailctl hold" hold
usage "^mailctl: usage: bounce .*\(no letter named" "mailctl bounce" bounce
usage "^mailctl: usage: delete .*\(names, or a selection with ALL, not both\)$" "mailctl delete" \
	delete --hop pss x.1
usage "^mailctl: usage: queue .*\(--state wants received" "mailctl queue" queue --state sent
usage "^mailctl: usage: forward NAME ADDRESS \(an argument is missing\)$" "mailctl forward" forward x.1
usage "^mailctl: usage: resubmit NAME \(an argument is missing\)$" "mailctl resubmit" resubmit
usage "^mailctl: usage: ping \(ping takes no argument\)$" "mailctl ping" ping x
usage "^mailctl: usage: reload \(reload takes no argument\)$" "mailctl reload" reload now
usage "^mailctl: usage: reroute .*\(no ROUTE for HOST" "mailctl reroute" reroute pss
usage "^mailctl: usage: reroute .*\(--clear wants the HOST" "mailctl reroute" reroute --clear
# good arguments: now the configuration is wanted, and its absence said
for a in "ping" "trace x.1" "queue" "check-config"; do
	# shellcheck disable=SC2086
	run $a
	[ $rc -eq 78 ] && grep -q "no configuration: '$T/missing.ini' (from \$NIFTPMAIL_CONF) does not exist (give -c FILE" "$T/e" &&
		ok "mailctl $a without a configuration: exit 78, $(cat "$T/e" | cut -c1-100)" ||
		bad "mailctl $a without a configuration: exit $rc: $(cat "$T/o" "$T/e")"
done
unset NIFTPMAIL_CONF

# --- 3. a running node, every command alone -------------------------------------------------
node_ini ucl <<EOF
[routes]
pss = niftp unix:$T/never.sock

[local]
maildir = $(mdir ucl)/%u/
users = bennett
EOF
start_node ucl || die "ucl did not start"
NIFTPMAIL_CONF=$T/ucl.ini
export NIFTPMAIL_CONF
# alone WANT_RC STDOUT_ERE COMMAND... - exit WANT_RC, standard output
# matching STDOUT_ERE ("-": empty; for 64, standard error saying what to
# give)
alone() {
	_arc=$1
	_are=$2
	shift 2
	run "$@"
	if [ "$_arc" -eq 64 ]; then
		_f="$T/e"
	else
		_f="$T/o"
	fi
	if [ $rc -eq "$_arc" ] && ! framed && { grep -Eq -- "$_are" "$_f" ||
	    { [ "$_are" = - ] && [ ! -s "$_f" ]; }; }; then
		ok "mailctl $*: exit $rc, $(head -1 "$_f" | cut -c1-100)"
	else
		bad "mailctl $*: exit $rc (want $_arc, /$_are/): $(cat "$T/o" "$T/e")"
	fi
}
alone 0 "^ucl$" ping
alone 0 "^mailctl: the queue is empty$" queue
alone 0 "^retried 0 letters$" retry
alone 0 "^mailctl: no route overrides in force" reroute
alone 0 "^total " stats
alone 0 ": ok" check-config
alone 0 - reload
for c in hold release delete bounce; do
	alone 64 "no letter named" "$c"
done
alone 64 "an argument is missing" forward
alone 64 "an argument is missing" resubmit
alone 64 "no KEY" trace
alone 64 "no NAME" view
alone 64 "no ADDRESS" route

# --- 4. wrong arguments at a running node ------------------------------------------------------
# wrong WANT_RC STDERR_ERE COMMAND... - exit WANT_RC, standard error
# matching STDERR_ERE, no framing
wrong() {
	_wrc=$1
	_wre=$2
	shift 2
	run "$@"
	if [ $rc -eq "$_wrc" ] && grep -Eq -- "$_wre" "$T/e" && ! framed; then
		ok "mailctl $*: exit $rc, $(grep -E -- "$_wre" "$T/e" | head -1 | cut -c1-110)"
	else
		bad "mailctl $*: exit $rc (want $_wrc, /$_wre/): $(cat "$T/o" "$T/e")"
	fi
}
wrong 67 "^mailctl: hold: nosuch\.1: no letter 'nosuch\.1' in queue/$" hold nosuch.1
wrong 67 "^mailctl: release: nosuch\.1: no letter 'nosuch\.1' in hold/$" release nosuch.1
wrong 67 "^mailctl: delete: nosuch\.1: no letter" delete nosuch.1
wrong 67 "^mailctl: bounce: nosuch\.1: no letter" bounce nosuch.1
wrong 67 "^mailctl: retry: nosuch\.1: no letter" retry nosuch.1
wrong 1 "^mailctl: forward: no letter 'nosuch\.1' in queue/$" forward nosuch.1 kille@pss
wrong 1 "^mailctl: resubmit: no archived letter 'nosuch\.1'" resubmit nosuch.1
wrong 1 "^mailctl: reroute: no route override for 'pss'$" reroute --clear pss
wrong 1 "^mailctl: reroute: bad route 'bogus'" reroute pss bogus
wrong 1 "^mailctl: trace: no record of 'nosuch\.1' at ucl$" trace nosuch.1
wrong 1 "^mailctl: view: no letter 'nosuch\.1' at ucl" view nosuch.1
wrong 1 "^mailctl: submit: open '$T/nofile': No such file" submit "$T/nofile"
wrong 65 "^mailctl: route: address 'bad@@x'" route 'bad@@x'
run route nosuch@ucl
[ $rc -eq 67 ] && grep -q "^=> fail nosuch@ucl: undeliverable: unknown user 'nosuch'" "$T/o" &&
	ok "mailctl route nosuch@ucl: exit 67, undeliverable" || bad "mailctl route nosuch@ucl: exit $rc: $(cat "$T/o" "$T/e")"
printf 'not an address list\n\nbody\n' >"$T/bad.letter"
wrong 65 "^mailctl: submit: node ucl refused '$T/bad.letter': malformed letter: " submit "$T/bad.letter"
timeout 30 "$MAILCTL" submit <"$T/bad.letter" >"$T/o" 2>"$T/e"
rc=$?
[ $rc -eq 65 ] && grep -q "^mailctl: submit: node ucl refused the letter: malformed letter: " "$T/e" &&
	! framed && ok "mailctl submit <bad: exit 65, $(cat "$T/e")" || bad "mailctl submit <bad: exit $rc: $(cat "$T/o" "$T/e")"

# --- 5. the daemon stopped ----------------------------------------------------------------------
stop_node ucl || bad "ucl did not stop"
wrong 69 "^mailctl: ping: connect to the daemon at '.*': .*\(is mailrelayd running for this node\?\)$" ping
wrong 69 "^mailctl: hold: connect to the daemon at .*is mailrelayd running" hold nosuch.1
alone 0 "^mailctl: the queue is empty$" queue

relay_finish
