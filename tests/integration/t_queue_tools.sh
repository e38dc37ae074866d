#!/bin/sh
# t_queue_tools.sh - operator tools that scale (issue 12, item 4): mailctl
# queue with its selection, the bulk actions, --json, the Prometheus
# counters, trace --dot.
#
# ucl's next hops cambridge and pss never answer (back-off 60 s), so the
# letters stay queued; bennett@ucl is local.
#  1. queue: one line per letter (name, age, next hops, state, size,
#     sender) and its Subject line (control octets escaped: no control
#     character in the output); the selection picks the right letters:
#     --hop, --from (domain in any case), --to (local part exact),
#     --older-than, --state, several at once; a bad selection is exit 64
#     before the daemon is asked. An empty queue says "mailctl: the queue
#     is empty" (text; --json the document alone), a selection of nothing
#     "mailctl: no letter matches the selection", and that listing piped
#     into hold - holds nothing.
#  2. queue --json parses (python3) and has the documented fields and
#     types; the Subject comes back as it was, escapes and all.
#  3. bulk actions: hold --hop pss ALL ("held 2 letters", journalled per
#     letter); release of two names and a missing one (exit 67, "1 name
#     not found: nosuch.1", the others released); hold - with the text
#     listing of queue piped in; release ALL; retry of names; bounce
#     --reason of a letter waiting for two next hops (its NDN reaches
#     bennett; mailctl trace says failed, returned to the sender, not
#     queued); delete; an unknown name alone (exit 67, "no letter");
#     errors show no protocol framing.
#  4. many names: 300 letters held through standard input (more than one
#     request line), counted, released with ALL.
# 4b. a next hop that is down (rsre) with 600 letters, more than the 512
#     copies the niftp channel fixes ahead per hop (HOP_HELD_MAX): the
#     others wait in the channel ("active"), and hold --hop rsre ALL takes
#     them back: all 600 held, none busy. rsre comes up, release --hop
#     rsre ALL, and all 600 are forwarded to it.
#  5. stats --json and route --json parse and have their fields; route
#     of an unknown local user says it fails (undeliverable: unknown
#     user, exit 67, as the relay rules and delivery), of a known one 0,
#     of a host without a route 67.
#  6. Prometheus: the metrics file has "# TYPE niftpmail_delivered_total
#     counter" and the counters grow after a delivery.
#  7. without the daemon: queue reads the spool with the same selection
#     (a held letter's next hop from its records).
#  8. trace --dot: a digraph of the letter's hops that dot accepts when
#     graphviz is installed (else checked for its shape).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_queue_tools
command -v python3 >/dev/null 2>&1 || { echo "t_queue_tools: python3 needed: skipped"; exit 0; }

node_ini_raw ucl <<EOF
[node]
name = ucl
spool = $(spooldir ucl)
metrics_interval = 1s

[listen]
mail = $(sock ucl)

[routes]
cambridge = niftp unix:$T/never.sock
pss = niftp unix:$T/never2.sock
rsre = niftp unix:$T/rsre.sock

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[retry]
first = 60s
max = 60s
EOF
start_node ucl || die "ucl did not start"
sp=$(spooldir ucl)
ctl() { timeout 30 "$MAILCTL" -c "$T/ucl.ini" "$@"; }
# letters - the letter lines of a text listing on standard input: names
# (not "mailctl: the queue is empty")
letters() { awk '/^[^ ]/ && $1 != "mailctl:" { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//'; }
# qsel WANT LABEL ARGS... - queue ARGS lists exactly the letters WANT
qsel() {
	_want=$1
	_lb=$2
	shift 2
	ctl queue "$@" >"$T/q.out" 2>"$T/q.err"
	_rc=$?
	_got=$(letters <"$T/q.out")
	if [ $_rc -eq 0 ] && [ "$_got" = "$_want" ]; then
		ok "queue $*: $_lb"
	else
		bad "queue $*: $_lb: exit $_rc, got '$_got', want '$_want' $(cat "$T/q.err")"
	fi
}

# --- 0. the empty queue --------------------------------------------------------------------
ctl queue >"$T/q.out" 2>"$T/q.err"
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$T/q.out")" = "mailctl: the queue is empty" ] && [ ! -s "$T/q.err" ] &&
	ok "queue, empty: exit 0, '$(cat "$T/q.out")'" ||
	bad "queue, empty: exit $rc: '$(cat "$T/q.out")' $(cat "$T/q.err")"
ctl queue --hop pss >"$T/q.out" 2>&1
[ "$(cat "$T/q.out")" = "mailctl: no letter matches the selection" ] &&
	ok "queue --hop pss, empty: '$(cat "$T/q.out")'" || bad "queue --hop pss, empty: '$(cat "$T/q.out")'"
ctl queue --json >"$T/q.out" 2>&1
python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
assert d['count'] == 0 and d['letters'] == [], d" "$T/q.out" 2>/dev/null &&
	! grep -q 'mailctl' "$T/q.out" && ok "queue --json, empty: the document alone, no letters" ||
	bad "queue --json, empty: $(cat "$T/q.out")"
ctl queue >"$T/q.out" 2>&1
ctl hold - <"$T/q.out" >"$T/a.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$T/a.out")" = "held 0 letters" ] &&
	ok "queue | hold -, empty: nothing taken for a name: $(cat "$T/a.out")" ||
	bad "queue | hold -, empty: exit $rc: $(cat "$T/a.out")"

mkletter "$T/a.letter" qa.1@ucl alice@ucl linington@cambridge
mkletter "$T/b.letter" qb.1@ucl bob@x.org kille@pss
# b's Subject: an escape sequence, a tab, a quote and a backslash
sed "s/^Subject: .*/Subject: hi \\\\ \"there\"$(printf '\033')[31m red	tab/" "$T/b.letter" >"$T/b2" &&
	mv "$T/b2" "$T/b.letter"
mkletter "$T/c.letter" qc.1@ucl bennett@ucl linington@cambridge kille@pss
mkletter "$T/d.letter" qd.1@ucl bennett@ucl bennett@ucl
for f in a b c d; do
	eval "n_$f=\$(submit ucl \"\$T/$f.letter\")" || die "submit $f"
done
# shellcheck disable=SC2154
[ -n "$n_a" ] && [ -n "$n_b" ] && [ -n "$n_c" ] || die "no names from submit"
wait_journal ucl ' deferred ' 4 10 || die "not 4 deferred lines"
wait_journal ucl " delivered $n_d " 1 10 || die "d not delivered"
# the local letter leaves the queue just after its delivered line
i=0
while ctl queue | grep -q "^$n_d "; do
	i=$((i + 1))
	[ $i -le 50 ] || die "d still queued"
	sleep 0.1
done
all=$(printf '%s\n' "$n_a" "$n_b" "$n_c" | sort | tr '\n' ' ' | sed 's/ $//')

# --- 1. queue and its selection ----------------------------------------------------------
ctl queue >"$T/q.out" 2>"$T/q.err" || bad "queue: exit $?: $(cat "$T/q.err")"
[ "$(letters <"$T/q.out")" = "$all" ] && ok "queue: the three letters" ||
	bad "queue: $(cat "$T/q.out")"
sz=$(wc -c <"$sp/queue/$n_b" | tr -d ' ')
if awk -v n="$n_b" -v s="$sz" '$1 == n && $2 ~ /^[0-9]+[smhd]$/ && $3 == "pss" &&
    $4 == "deferred" && $5 == s && $6 == "bob@x.org"' "$T/q.out" | grep -q .; then
	ok "queue: $(grep "^$n_b " "$T/q.out")"
else
	bad "queue: no 'NAME AGE pss deferred $sz bob@x.org' line for $n_b: $(cat "$T/q.out")"
fi
awk -v n="$n_c" '$1 == n && ($3 == "pss,cambridge" || $3 == "cambridge,pss")' "$T/q.out" |
	grep -q . && ok "queue: c waits for two next hops" || bad "queue: c's hops: $(cat "$T/q.out")"
grep -q '^  Subject: test qa.1@ucl$' "$T/q.out" && ok "queue: a Subject line" ||
	bad "queue: no Subject line for a"
if grep -F '  Subject: hi \\ "there"\x1b[31m red\x09tab' "$T/q.out" >/dev/null &&
    ! tr -d '\n' <"$T/q.out" | LC_ALL=C grep -q '[[:cntrl:]]'; then
	ok "queue: control octets escaped: $(grep -F 'Subject: hi' "$T/q.out")"
else
	bad "queue: Subject not escaped: $(grep 'Subject: hi' "$T/q.out" | od -c | head -3)"
fi
grep -q "^  pss: deferred, 1 try, next in .*: kille@pss$" "$T/q.out" &&
	grep -q "^    last error: .*never2.sock" "$T/q.out" &&
	ok "queue: an envelope line and its last error" || bad "queue: envelope lines: $(cat "$T/q.out")"
qsel "$(printf '%s\n' "$n_b" "$n_c" | sort | tr '\n' ' ' | sed 's/ $//')" "pss's two" --hop pss
qsel "$all" "either hop" --hop cambridge,pss
qsel "" "no such hop" --hop nowhere
grep -qx "mailctl: no letter matches the selection" "$T/q.out" &&
	ok "queue --hop nowhere: '$(cat "$T/q.out")'" || bad "queue --hop nowhere: '$(cat "$T/q.out")'"
qsel "$n_b" "sender's domain in any case" --from @X.ORG
qsel "$n_c" "hop and sender together" --hop cambridge --from bennett@ucl
qsel "$(printf '%s\n' "$n_b" "$n_c" | sort | tr '\n' ' ' | sed 's/ $//')" "a recipient" --to kille@pss
qsel "" "the local part exact" --to Kille@pss
qsel "" "nothing that old" --older-than 1h
qsel "$all" "older than nothing" --older-than 0
qsel "$all" "state deferred" --state deferred
qsel "" "none held" --state held,received
for args in "--state sent" "--hop" "--to bennett" "--older-than soon" "ALL" "$n_a" "--json --json"; do
	# shellcheck disable=SC2086
	ctl queue $args >"$T/q.out" 2>&1
	rc=$?
	[ $rc -eq 64 ] && grep -q '^mailctl: usage: queue ' "$T/q.out" &&
		ok "queue $args: exit 64, $(head -1 "$T/q.out" | cut -c1-110)" ||
		bad "queue $args: exit $rc: $(cat "$T/q.out")"
done

# --- 2. queue --json ------------------------------------------------------------------------
# jcheck LABEL PY - standard input is one JSON document; PY (python, the
# document in d) raises or exits non-zero when it is not what is wanted
jcheck() {
	if python3 -c "import json, sys
d = json.load(sys.stdin)
$2" >"$T/j.err" 2>&1; then
		ok "$1"
	else
		bad "$1: $(tail -3 "$T/j.err")"
	fi
}
ctl queue --json >"$T/q.json" 2>"$T/q.err" || bad "queue --json: exit $?: $(cat "$T/q.err")"
jcheck "queue --json: the documented fields and types" "
assert d['node'] == 'ucl' and isinstance(d['time'], int) and d['count'] == 3 == len(d['letters'])
for l in d['letters']:
    assert set(l) == {'name', 'state', 'arrived', 'age', 'size', 'from', 'subject', 'hops',
        'rcpts', 'envelopes'}, sorted(l)
    assert l['state'] == 'deferred' and isinstance(l['age'], int) and isinstance(l['size'], int)
    assert isinstance(l['arrived'], int) and isinstance(l['hops'], list)
    for e in l['envelopes']:
        assert set(e) == {'hop', 'state', 'attempts', 'next_try', 'error', 'rcpts'}, sorted(e)
        assert e['attempts'] == 1 and isinstance(e['next_try'], int) and 'never' in e['error']
b = [l for l in d['letters'] if l['name'] == '$n_b'][0]
assert b['from'] == 'bob@x.org' and b['hops'] == ['pss'] and b['rcpts'] == ['kille@pss'], b
assert b['subject'] == 'hi \\\\ \"there\"\\x1b[31m red\\ttab', repr(b['subject'])
assert b['size'] == $sz
" <"$T/q.json"
ctl queue --json --hop nowhere | jcheck "queue --json, nothing selected: count 0" "
assert d['count'] == 0 and d['letters'] == []"

# --- 3. bulk actions --------------------------------------------------------------------------
# act LABEL WANT_RC WANT_OUT ARGS... - mailctl ARGS: exit WANT_RC, standard
# output WANT_OUT exactly, no protocol framing on standard error
act() {
	_lb=$1
	_wrc=$2
	_wout=$3
	shift 3
	ctl "$@" >"$T/a.out" 2>"$T/a.err"
	_rc=$?
	if [ $_rc -eq "$_wrc" ] && [ "$(cat "$T/a.out")" = "$_wout" ] &&
	    ! grep -Eq '^(ok|err)( |$)|^\.$|: err ' "$T/a.err"; then
		ok "$_lb: exit $_rc, $(cat "$T/a.out")"
	else
		bad "$_lb: exit $_rc (want $_wrc): '$(cat "$T/a.out")' (want '$_wout') $(cat "$T/a.err")"
	fi
}
act "hold --hop pss ALL" 0 "held 2 letters" hold --hop pss ALL
wait_journal ucl " held $n_b by=" 1 5 && wait_journal ucl " held $n_c by=" 1 5 &&
	ok "hold ALL: journalled per letter" || bad "hold ALL: no held lines for b and c"
qsel "$(printf '%s\n' "$n_b" "$n_c" | sort | tr '\n' ' ' | sed 's/ $//')" "held: b and c" --state held
qsel "$n_c" "a held letter's hops" --state held --hop cambridge
act "release b c nosuch.1" 67 "released 2 letters; 1 name not found: nosuch.1" \
	release "$n_b" "$n_c" nosuch.1
grep -q "^mailctl: release: nosuch.1: no letter 'nosuch.1' in hold/$" "$T/a.err" &&
	ok "release: the missing name on standard error: $(cat "$T/a.err")" ||
	bad "release: standard error: $(cat "$T/a.err")"
qsel "" "none held after the release" --state held
ctl queue --hop cambridge >"$T/q.out" 2>&1
act "queue --hop cambridge | hold -" 0 "held 2 letters" hold - <"$T/q.out"
qsel "$(printf '%s\n' "$n_a" "$n_c" | sort | tr '\n' ' ' | sed 's/ $//')" "a and c held" --state held
act "release ALL" 0 "released 2 letters" release ALL
act "hold of an empty standard input" 0 "held 0 letters" hold - </dev/null
n0=$(jcount ucl " deferred $n_a ")
act "retry a b" 0 "retried 2 letters" retry "$n_a" "$n_b"
wait_journal ucl " retry $n_a by=" 1 5 && wait_journal ucl " deferred $n_a " $((n0 + 1)) 5 &&
	ok "retry: journalled, tried again now (back-off 60 s)" || bad "retry: no retry or new try of a"
act "retry --hop pss" 0 "retried 2 letters" retry --hop pss
act "hold b nosuch.3 (partial)" 67 "held 1 letter; 1 name not found: nosuch.3" hold "$n_b" nosuch.3
act "hold b again" 1 "held 0 letters; 1 not changed: $n_b" hold "$n_b"
grep -q "is held already" "$T/a.err" && ok "hold again: $(cat "$T/a.err")" || bad "hold again: $(cat "$T/a.err")"
act "release b" 0 "released 1 letter" release "$n_b"
act "bounce --reason c" 0 "bounced 1 letter" bounce --reason "spam, sorry" "$n_c"
if wait_header ucl bennett Failed-Letter "ucl[ \t]+$n_c" 1 10; then
	f=$(find_header ucl bennett Failed-Letter "ucl[ \t]+$n_c" | head -1)
	grep -q 'spam, sorry' "$f" && ok "bounce: the NDN with the reason reached bennett" ||
		bad "bounce: the NDN lacks the reason: $f"
else
	bad "bounce: no NDN for $n_c at bennett"
fi
# c waited for pss and cambridge: the bounce journals to=- (relay/ops.c)
ctl trace "$n_c" >"$T/t.out" 2>&1
if grep -q "^  status: failed: returned to the sender by [^ ]*: spam, sorry$" "$T/t.out" &&
    ! grep -q 'status: queued' "$T/t.out"; then
	ok "bounce: trace of c (two next hops): $(grep '^  status:' "$T/t.out" | head -1 | sed 's/^ *//')"
else
	bad "bounce: trace of c: $(cat "$T/t.out")"
fi
ctl trace --json "$n_c" | jcheck "bounce: trace --json of c: failed, not queued" "
t = d['tree']
assert t['status'] == 'failed' and 'returned to the sender' in t['detail'], t
assert d['summary']['queued'] == 0, d['summary']"
act "delete a" 0 "deleted 1 letter" delete "$n_a"
[ -f "$sp/dead/$n_a" ] && ok "delete: a in dead/" || bad "delete: a not in dead/"
act "delete nosuch.2" 67 "deleted 0 letters; 1 name not found: nosuch.2" delete nosuch.2
grep -q "no letter 'nosuch.2'" "$T/a.err" && ok "delete nosuch.2: $(cat "$T/a.err")" ||
	bad "delete nosuch.2: $(cat "$T/a.err")"
act "bounce --hop pss (no ALL)" 64 "" bounce --hop pss
act "hold - and a name" 64 "" hold - "$n_b"
qsel "$n_b" "b alone is left"

# --- 4. many names ------------------------------------------------------------------------------
mkdir -p "$sp/out"
n0=$(jcount ucl ' deferred .*to=pss')
i=0
while [ $i -lt 300 ]; do
	sed "s/qb.1@ucl/many.$i@ucl/" "$T/b.letter" >"$sp/out/.m$i" && mv "$sp/out/.m$i" "$sp/out/m$i"
	i=$((i + 1))
done
wait_journal ucl ' deferred .*to=pss' $((n0 + 300)) 20 || bad "not all 300 deferred"
ctl queue --from bob@x.org >"$T/q.out" 2>&1
[ "$(grep -c '^[^ ]' "$T/q.out")" -eq 301 ] && ok "301 letters from bob@x.org listed" ||
	bad "listed $(grep -c '^[^ ]' "$T/q.out") letters from bob@x.org, want 301"
# 301 names of 21 octets: more than one request line of 4096
act "hold - (301 names)" 0 "held 301 letters" hold - <"$T/q.out"
[ "$(jcount ucl ' held .* by=')" -ge 305 ] && ok "301 held lines journalled" ||
	bad "$(jcount ucl ' held .* by=') held lines"
act "release --older-than 0 ALL" 0 "released 301 letters" release --older-than 0 ALL

# --- 4b. a next hop that is down, more letters than the channel fixes ahead --------------------
# nlet ARGS... - the letters "queue ARGS" lists
nlet() { ctl queue "$@" | grep -c '^ucl\.'; }
mkletter "$T/r.letter" qr.1@ucl wendy@x.org peter@rsre
n0=$(jcount ucl ' deferred .*to=rsre')
i=0
while [ $i -lt 600 ]; do
	sed "s/qr.1@ucl/down.$i@ucl/" "$T/r.letter" >"$sp/out/.r$i" && mv "$sp/out/.r$i" "$sp/out/r$i"
	i=$((i + 1))
done
# 512 copies fixed and deferred (the call fails); the other 88 wait in the
# channel for one of those transfer ids
wait_journal ucl ' deferred .*to=rsre' $((n0 + 512)) 20 || bad "rsre: not 512 deferred"
i=0
while [ "$(nlet --hop rsre --state active)" -lt 88 ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
na=$(nlet --hop rsre --state active)
nd=$(nlet --hop rsre --state deferred)
[ "$na" -eq 88 ] && [ "$nd" -eq 512 ] && ok "rsre down: 512 deferred, 88 waiting in the channel" ||
	bad "rsre down: $nd deferred, $na active, want 512 and 88"
act "hold --hop rsre ALL (600, 88 in the channel)" 0 "held 600 letters" hold --hop rsre ALL
nh=$(nlet --hop rsre --state held)
nq=$(nlet --hop rsre --state queued,deferred,active)
[ "$nh" -eq 600 ] && [ "$nq" -eq 0 ] && ok "rsre: 600 held, none left in the queue" ||
	bad "rsre: $nh held, $nq in the queue after the hold"
start_capture rsre || bad "rsre: capture did not start"
act "release --hop rsre ALL" 0 "released 600 letters" release --hop rsre ALL
wait_journal ucl ' forwarded .*to=rsre' 600 20 && ok "rsre up: 600 forwarded after the release" ||
	bad "rsre up: $(jcount ucl ' forwarded .*to=rsre') forwarded, want 600"
i=0
while [ "$(nlet --hop rsre)" -gt 0 ] && [ $i -lt 50 ]; do
	i=$((i + 1))
	sleep 0.1
done
[ "$(nlet --hop rsre)" -eq 0 ] && [ "$(jcount ucl ' forwarded .*to=rsre')" -eq 600 ] &&
	ok "rsre: none left queued, each letter forwarded once" ||
	bad "rsre: $(nlet --hop rsre) still queued, $(jcount ucl ' forwarded .*to=rsre') forwarded"

# --- 5. stats --json, route --json ------------------------------------------------------------
ctl stats --json >"$T/s.json" 2>"$T/s.err" || bad "stats --json: exit $?: $(cat "$T/s.err")"
jcheck "stats --json: the documented fields" "
assert d['node'] == 'ucl' and isinstance(d['time'], int)
h = {x['hop']: x for x in d['hops']}
assert h['pss']['queued'] == 301 and h['pss']['deferred'] >= 1, h
for x in d['hops']:
    assert set(x) == {'hop', 'queued', 'deferred', 'oldest', 'failing', 'error',
        'forwarded_per_minute', 'delivered_per_minute'}, sorted(x)
assert set(d['total']) == {'queued', 'oldest', 'unrouted', 'held', 'received_per_minute',
    'forwarded_per_minute', 'delivered_per_minute'}, sorted(d['total'])
assert d['total']['queued'] == 301 and d['counters'] is None
assert 'never2' in h['pss']['error'] and not h['pss']['error'].startswith('\"')
" <"$T/s.json"
ctl route --json linington@cambridge >"$T/r.json" 2>"$T/r.err" || bad "route --json: exit $?"
jcheck "route --json: a forward target" "
assert d['address'] == 'linington@cambridge' and d['from'] is None and d['relay'] is None
t = d['targets'][0]
assert set(t) == {'kind', 'address', 'mailbox', 'hop', 'route', 'override', 'reason', 'owner',
    'list'}, sorted(t)
assert t['kind'] == 'forward' and t['hop'] == 'cambridge' and t['route'][0]['channel'] == 'niftp'
assert isinstance(d['steps'], list) and d['steps']
" <"$T/r.json"
ctl route --json --from anonymous bennett@ucl >"$T/r.json" 2>"$T/r.err"
jcheck "route --json --from anonymous: local, and the relay decision" "
t = d['targets'][0]
assert t['kind'] == 'local' and t['mailbox'] == 'bennett' and t['route'] is None
assert d['from'] == 'anonymous' and d['relay'][0]['taken'] is True
" <"$T/r.json"
ctl route --json nobody@nowhere.example >"$T/r.json" 2>"$T/r.err"
rc=$?
jcheck "route --json: a failing target with its reason" "
t = d['targets'][0]
assert t['kind'] == 'fail' and 'no route' in t['reason']
" <"$T/r.json"
[ $rc -eq 67 ] && ok "route of a host without a route: exit 67" || bad "route nobody@nowhere.example: exit $rc"
# an unknown local user: what delivery (and the relay rules) would do
ctl route nosuch@ucl >"$T/r.out" 2>"$T/r.err"
rc=$?
if [ $rc -eq 67 ] && grep -q "^=> fail nosuch@ucl: undeliverable: unknown user 'nosuch'" "$T/r.out" &&
    ! grep -q '^=> deliver' "$T/r.out"; then
	ok "route nosuch@ucl: exit 67, $(grep '^=>' "$T/r.out")"
else
	bad "route nosuch@ucl: exit $rc: $(cat "$T/r.out" "$T/r.err")"
fi
ctl route --json nosuch@ucl >"$T/r.json" 2>"$T/r.err"
rc=$?
jcheck "route --json nosuch@ucl: a failing target, unknown user" "
t = d['targets'][0]
assert t['kind'] == 'fail' and 'unknown user' in t['reason'] and t['mailbox'] == 'nosuch', t
" <"$T/r.json"
[ $rc -eq 67 ] || bad "route --json nosuch@ucl: exit $rc"
ctl route --from anonymous nosuch@ucl >"$T/r.out" 2>&1
rc=$?
[ $rc -eq 67 ] && grep -q 'refused in the call: recipient nosuch@ucl: unknown user' "$T/r.out" &&
	ok "route --from anonymous nosuch@ucl: exit 67, refused in the call" ||
	bad "route --from anonymous nosuch@ucl: exit $rc: $(cat "$T/r.out")"
ctl route bennett@ucl >"$T/r.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^=> deliver bennett@ucl to mailbox 'bennett'$" "$T/r.out" &&
	ok "route bennett@ucl: exit 0, delivered" || bad "route bennett@ucl: exit $rc: $(cat "$T/r.out")"

# --- 6. Prometheus counters ---------------------------------------------------------------------
# metric NAME - its value in the metrics file (empty when absent)
metric() { awk -v m="$1" '$1 == m { print $2 }' "$sp/metrics" 2>/dev/null; }
# the daemon's scan every second: until it has seen the 300 letters
i=0
while [ "$(metric niftpmail_received_total)" -lt 305 ] 2>/dev/null ||
    [ -z "$(metric niftpmail_received_total)" ]; do
	i=$((i + 1))
	[ $i -le 50 ] || break
	sleep 0.1
done
for c in received forwarded delivered failed deferred; do
	grep -q "^# TYPE niftpmail_${c}_total counter$" "$sp/metrics" ||
		bad "metrics: no '# TYPE niftpmail_${c}_total counter'"
done
r0=$(metric niftpmail_received_total)
d0=$(metric niftpmail_delivered_total)
f0=$(metric niftpmail_failed_total)
[ -n "$d0" ] && [ "$r0" -ge 305 ] && [ "$f0" -ge 2 ] &&
	ok "metrics: counters with # TYPE counter (received $r0, delivered $d0, failed $f0)" ||
	bad "metrics: $(grep _total "$sp/metrics")"
mkletter "$T/e.letter" qe.1@ucl bennett@ucl bennett@ucl
submit ucl "$T/e.letter" >/dev/null || bad "submit e"
i=0
while [ "$(metric niftpmail_delivered_total)" -le "$d0" ] 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 50 ] || break
	sleep 0.1
done
[ "$(metric niftpmail_delivered_total)" -gt "$d0" ] && [ "$(metric niftpmail_received_total)" -gt "$r0" ] &&
	ok "metrics: delivered $d0 -> $(metric niftpmail_delivered_total), received $r0 -> $(metric niftpmail_received_total)" ||
	bad "metrics: the counters did not grow: $(grep _total "$sp/metrics")"

# --- 7. without the daemon -------------------------------------------------------------------------
act "hold b" 0 "held 1 letter" hold "$n_b"
stop_node ucl || bad "ucl did not stop"
qsel "$n_b" "without the daemon: a held letter's hop from its records" --state held --hop pss
ctl queue --hop nowhere >"$T/q.out" 2>&1
[ "$(cat "$T/q.out")" = "mailctl: no letter matches the selection" ] &&
	ok "without the daemon, nothing selected: '$(cat "$T/q.out")'" ||
	bad "without the daemon, nothing selected: '$(cat "$T/q.out")'"
ctl queue --from bob@x.org --state deferred >"$T/q.out" 2>&1
[ "$(grep -c '^[^ ]' "$T/q.out")" -eq 300 ] && ok "without the daemon: 300 deferred from bob@x.org" ||
	bad "without the daemon: $(grep -c '^[^ ]' "$T/q.out") listed"
ctl queue --json --state held | jcheck "without the daemon: --json" "
assert d['count'] == 1 and d['letters'][0]['hops'] == ['pss'] and d['letters'][0]['from'] == 'bob@x.org'"
act "hold without the daemon" 69 "" hold "$n_b"

# --- 8. trace --dot -------------------------------------------------------------------------------
ctl trace --dot "$n_c" >"$T/t.dot" 2>"$T/t.err"
rc=$?
if [ $rc -eq 0 ] && head -1 "$T/t.dot" | grep -q '^digraph ' && tail -1 "$T/t.dot" | grep -q '^}$' &&
    grep -q -- '->' "$T/t.dot"; then
	ok "trace --dot: a digraph with edges ($(grep -c -- '->' "$T/t.dot") edges)"
else
	bad "trace --dot: exit $rc: $(cat "$T/t.dot" "$T/t.err")"
fi
grep -q "^  n0 \[label=\"ucl\\\\n$n_c\\\\n" "$T/t.dot" &&
	grep -q '^  n0 -> n1 \[label="notice", style=dashed\];$' "$T/t.dot" &&
	ok "trace --dot: the letter, its status, and the notice's edge" ||
	bad "trace --dot: $(cat "$T/t.dot")"
if command -v dot >/dev/null 2>&1; then
	dot -Tsvg "$T/t.dot" >"$T/t.svg" 2>"$T/t.err" && grep -q '<svg' "$T/t.svg" &&
		ok "trace --dot: dot -Tsvg takes it" || bad "trace --dot: dot -Tsvg: $(cat "$T/t.err")"
	# a label from outside with every kind of octet stays one valid label
	ctl trace --dot "$n_b" >"$T/t2.dot" 2>&1
	dot -Tsvg "$T/t2.dot" >/dev/null 2>"$T/t.err" && ok "trace --dot of b: dot -Tsvg takes it" ||
		bad "trace --dot of b: $(cat "$T/t.err" "$T/t2.dot")"
else
	# the shape: statements end in ';', quotes balance on each line
	awk 'NR > 1 && !/^}$/ && !/;$/ { bad = 1 } { n = gsub(/"/, "\"") - gsub(/\\"/, "") }
	    n % 2 { bad = 1 } END { exit bad }' "$T/t.dot" &&
		ok "trace --dot: statements well formed (no graphviz here)" ||
		bad "trace --dot: malformed: $(cat "$T/t.dot")"
fi

relay_finish
