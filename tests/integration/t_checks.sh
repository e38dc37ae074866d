#!/bin/sh
# t_checks.sh - checks that catch mistakes (issue 12, item 3; relay/confcheck.h,
# relay/pickup.h, relay/submit.h, mailctl(1) check-config, mailrelayd.conf(5)).
#
#  1. [limits] max_letter_size = 4096 at the node itself, not only at the
#     next hop: a well-formed letter of 5,000 octets renamed into out/ is
#     refused and moved aside to corrupt/, byte for byte, with a "corrupt"
#     journal line whose reason names the limit and the size, and a logged
#     warning naming out/FILE; never delivered, never left in out/. A
#     letter of exactly 4,096 octets is delivered. With the daemon running
#     as [node] user nobody, root's too-large and malformed drops go to
#     corrupt/ too (its own copies: the claim of another user's file).
#  2. mailctl submit of a too-large letter: exit 65 with "letter too
#     large: more than 4096 octets ([limits] max_letter_size...": from a
#     FILE (refused by mailctl before it is sent, naming the file and the
#     configuration), from standard input (refused by the daemon), and
#     with the daemon stopped (the fall-back drop into out/ refuses it and
#     leaves nothing there).
#  3. niftpmail-sendmail and mailctl sendmail of a too-large message: exit
#     65 (Postfix pipe(8): a permanent failure, bounced, never retried).
#  4. mailctl check-config on broken files, each with its message and exit
#     78: an unknown key (with the key meant: "did you mean 'spool'?"), a
#     key in the wrong section, an unknown section; mailrelayd refuses to
#     start on the unknown key (exit 78) and the running daemon refuses to
#     reload it (keeps its configuration); a spool that cannot be created
#     (a file where its parent should be); a spool writable by others; a
#     bad port; an address of no interface; a port another program holds
#     (an error) and the port the running daemon holds (a note: exit 0); a
#     log_file in a missing directory; [node] user unknown; a user whose
#     mail an alias of the same name takes, an alias leading to a mailbox
#     delivery does not know, a Maildir no address reaches (warnings:
#     exit 0).
# Bounded: every wait is a poll with a limit; about 5 s in all.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_checks
SM="$top/bin/niftpmail-sendmail"
[ -x "$SM" ] || die "$SM not built"

node_ini_raw ucl <<EOF
[node]
name = ucl
spool = $(spooldir ucl)

[listen]
mail = $(sock ucl), tcp:127.0.0.1:0

[local]
maildir = $(mdir ucl)/%u/
users = bennett

[limits]
max_letter_size = 4096
EOF
mkdir -p "$(mdir ucl)"
start_node ucl || die "ucl did not start"
SP=$(spooldir ucl)
PORT=$(sed -n 's/^tcp:127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$SP/ready" | head -1)
[ -n "$PORT" ] || die "no tcp address in $SP/ready: $(cat "$SP/ready")"

# bigletter FILE MSGID OCTETS - a well-formed letter to bennett@ucl of OCTETS
bigletter() {
	mkletter "$1" "$2" bennett@ucl bennett@ucl
	_bl=$(($3 - $(wc -c <"$1")))
	[ "$_bl" -ge 0 ] && [ "$_bl" -le 1000000 ] || die "bigletter: $3 octets: bad size"
	# lines of 64 octets, the last one shorter: exactly _bl octets
	awk -v n="$_bl" 'BEGIN {
		l = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		for (; n >= 64; n -= 64) print l
		if (n > 0) print substr(l, 1, n - 1)
	}' >>"$1"
	[ "$(wc -c <"$1")" -eq "$3" ] || die "bigletter: $(wc -c <"$1") octets, want $3"
}

# --- 1. too large in out/ --------------------------------------------------------------------
bigletter "$T/big.letter" big.1@ucl 5000
bigletter "$T/exact.letter" exact.1@ucl 4096
drop ucl "$T/big.letter" big.letter || die "drop big.letter"
drop ucl "$T/exact.letter" exact.letter || die "drop exact.letter"
if wait_journal ucl " corrupt .*from=out/big.letter( |$)" 1 15; then
	l=$(journal ucl | grep -E " corrupt .*from=out/big.letter( |$)" | head -1)
	n=$(echo "$l" | awk '{ print $3 }')
	r=$(jval "$l" reason)
	echo "$r" | grep -q 'letter too large: more than 4096 octets (\[limits\] max_letter_size; the file has 5000)' &&
		ok "1 out/big.letter moved aside as corrupt/$n: $r" ||
		bad "1 out/big.letter: reason '$r'"
	cmp -s "$T/big.letter" "$SP/corrupt/$n" && ok "1 corrupt/$n is the dropped file, byte for byte" ||
		bad "1 corrupt/$n missing or changed"
	grep -q "drop 'out/big.letter' refused: letter too large" "$T/ucl.err" &&
		ok "1 logged: $(grep -o "drop 'out/big.letter' refused.*" "$T/ucl.err" | head -1)" ||
		bad "1 no warning naming out/big.letter in the log"
else
	bad "1 no 'corrupt ... from=out/big.letter' line within 15 s"
fi
[ ! -e "$SP/out/big.letter" ] || bad "1 big.letter still in out/"
wait_msgid ucl bennett exact.1@ucl 1 15 && ok "1 a letter of exactly 4096 octets is delivered" ||
	bad "1 exact.letter (4096 octets) not delivered"
[ "$(count_msgid ucl bennett big.1@ucl)" -eq 0 ] && [ "$(jcount ucl ' received .*from=out/big.letter')" -eq 0 ] ||
	bad "1 the too-large letter was received or delivered"

# --- 2. mailctl submit ---------------------------------------------------------------------------
bigletter "$T/sub.letter" sub.1@ucl 6000
# sub WHAT WANT ERE ARGS... - mailctl submit ARGS; exit WANT; stderr matches ERE
sub() {
	_sw=$1
	_sr=$2
	_se=$3
	shift 3
	timeout 20 "$MAILCTL" -c "$T/ucl.ini" submit "$@" >"$T/sub.out" 2>"$T/sub.err"
	rc=$?
	if [ $rc -eq "$_sr" ] && grep -qE -- "$_se" "$T/sub.err"; then
		ok "2 $_sw: exit $rc: $(head -1 "$T/sub.err")"
	else
		bad "2 $_sw: exit $rc (want $_sr): $(cat "$T/sub.err")"
	fi
}
sub "submit FILE" 65 "^mailctl: submit '$T/sub.letter': letter too large: more than 4096 octets \(\[limits\] max_letter_size of '$T/ucl.ini'; the file has 6000\)" "$T/sub.letter"
sub "submit < FILE (the daemon refuses it)" 65 "letter too large: more than 4096 octets \(\[limits\] max_letter_size\)" <"$T/sub.letter"
[ "$(jcount ucl ' received .*from=submit')" -eq 0 ] || bad "2 a too-large submission was received"

# --- 3. niftpmail-sendmail -----------------------------------------------------------------------
{
	printf 'From: alice@example.org\nTo: bennett@ucl\nSubject: big\nMessage-ID: <sm.big@example.org>\n\n'
	head -c 6000 /dev/zero | tr '\0' 'z' | fold -w 70
	echo
} >"$T/big.msg"
timeout 20 "$SM" -c "$T/ucl.ini" -f alice@example.org bennett@ucl <"$T/big.msg" 2>"$T/sm.err"
rc=$?
[ $rc -eq 65 ] && grep -q "letter too large" "$T/sm.err" &&
	ok "3 niftpmail-sendmail, a message over max_letter_size: exit 65: $(head -1 "$T/sm.err")" ||
	bad "3 niftpmail-sendmail: exit $rc, want 65: $(cat "$T/sm.err")"
timeout 20 "$MAILCTL" -c "$T/ucl.ini" sendmail -f alice@example.org bennett@ucl <"$T/big.msg" 2>"$T/sm.err"
rc=$?
[ $rc -eq 65 ] && ok "3 mailctl sendmail: exit 65" || bad "3 mailctl sendmail: exit $rc, want 65: $(cat "$T/sm.err")"

# --- 4. check-config -----------------------------------------------------------------------------
mkdir -p "$T/conf"
# check FILE WANT WHAT ERE... - check-config FILE exits WANT and says each ERE
check() {
	_cf=$1
	_cw=$2
	_cwhat=$3
	shift 3
	timeout 10 "$MAILCTL" -c "$T/conf/$_cf" check-config >"$T/check.out" 2>&1
	rc=$?
	[ $rc -eq "$_cw" ] || bad "4 check-config $_cf ($_cwhat): exit $rc, want $_cw: $(cat "$T/check.out")"
	for _ce in "$@"; do
		if grep -qE -- "$_ce" "$T/check.out"; then
			[ $rc -ne "$_cw" ] || ok "4 $_cwhat: exit $rc: $(grep -E -- "$_ce" "$T/check.out" | head -1 | sed "s|$T/||g")"
		else
			bad "4 check-config $_cf ($_cwhat): no /$_ce/ in: $(cat "$T/check.out")"
		fi
	done
}
# conf NAME - $T/conf/NAME.ini: [node] name and a spool of its own, then stdin
conf() {
	{
		printf '[node]\nname = ucl\nspool = %s\n' "$T/conf/$1.spool"
		cat
	} >"$T/conf/$1.ini"
}

conf typo <<EOF
spol = /var/spool/x
[local]
users = bennett
[limit]
hops = 5
[node]
max_letter_size = 1M
EOF
check typo.ini 78 "unknown key" \
	"^$T/conf/typo.ini:4: \[node\] 'spol' is not a key of \[node\] \(did you mean 'spool'\?\)$" \
	"^$T/conf/typo.ini:7: \[limit\] is not a section \(did you mean \[limits\]\?\)$" \
	"^$T/conf/typo.ini:10: \[node\] 'max_letter_size' is not a key of \[node\] \('max_letter_size' is a key of \[limits\]\)$"
timeout 10 "$RELAYD" -f -c "$T/conf/typo.ini" </dev/null >"$T/typo.out" 2>&1
rc=$?
[ $rc -eq 78 ] && grep -q "'spol' is not a key" "$T/typo.out" &&
	ok "4 mailrelayd refuses to start on an unknown key: exit 78" ||
	bad "4 mailrelayd on typo.ini: exit $rc, want 78: $(head -3 "$T/typo.out")"
[ ! -e "$T/conf/typo.spool" ] || bad "4 mailrelayd made the spool of typo.ini"
# the running daemon refuses to reload a file with an unknown key
cp "$T/ucl.ini" "$T/ucl.ini.good"
printf 'max_leter_size = 1M\n' >>"$T/ucl.ini"
timeout 10 "$MAILCTL" -c "$T/ucl.ini.good" reload >"$T/reload.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "'max_leter_size' is not a key of \[limits\] (did you mean 'max_letter_size'?)" "$T/reload.out" "$T/ucl.err"; then
	ok "4 reload with an unknown key refused: exit $rc"
else
	bad "4 reload with an unknown key: exit $rc: $(cat "$T/reload.out")"
fi
cp "$T/ucl.ini.good" "$T/ucl.ini"
running ucl && timeout 10 "$MAILCTL" -c "$T/ucl.ini" ping >/dev/null 2>&1 &&
	ok "4 the daemon runs on with its configuration" || bad "4 the daemon stopped after the refused reload"

: >"$T/conf/afile"
printf '[node]\nname = ucl\nspool = %s\n' "$T/conf/afile/spool" >"$T/conf/nospool.ini"
check nospool.ini 78 "spool not creatable" \
	"^$T/conf/nospool.ini:3: \[node\] spool: '$T/conf/afile/spool' cannot be created: '$T/conf/afile' is not a directory$"

mkdir -p "$T/conf/ww.spool"
chmod 777 "$T/conf/ww.spool"
conf ww </dev/null
check ww.ini 78 "world-writable spool" \
	"^$T/conf/ww.ini:3: \[node\] spool: '$T/conf/ww.spool' is writable by others \(mode 0777\).*chmod go-w"

conf badport <<EOF
[listen]
mail = tcp:127.0.0.1:99999
EOF
check badport.ini 78 "bad port" \
	"^$T/conf/badport.ini:5: \[listen\] mail: bad address 'tcp:127.0.0.1:99999': port 99999 out of range \(0 to 65535\)$"

conf noiface <<EOF
[listen]
mail = tcp:192.0.2.1:4000
EOF
check noiface.ini 78 "an address of no interface" \
	"^$T/conf/noiface.ini:5: \[listen\] mail: 'tcp:192.0.2.1:4000': bind: .*is not an address of this host"

# the port the running daemon holds: its own configuration notes it
sed "s|tcp:127.0.0.1:0|tcp:127.0.0.1:$PORT|" "$T/ucl.ini" >"$T/conf/ucl-port.ini"
check ucl-port.ini 0 "the running daemon's port" \
	"ucl-port.ini:6: note: \[listen\] mail: 'tcp:127.0.0.1:$PORT' is in use, by the running daemon" \
	"ucl-port.ini: ok \(2 notes\)$"
# ... another node's configuration (its daemon down) cannot have it
conf taken <<EOF
[listen]
mail = tcp:127.0.0.1:$PORT
EOF
check taken.ini 78 "a port another program holds" \
	"taken.ini:5: \[listen\] mail: 'tcp:127.0.0.1:$PORT' is in use by another program"

conf nolog <<EOF
log_file = $T/conf/nodir/ucl.log
user = nosuchuserxyz
EOF
check nolog.ini 78 "log_file in a missing directory, unknown user" \
	"nolog.ini:4: \[node\] log_file: directory '$T/conf/nodir' of '$T/conf/nodir/ucl.log' does not exist" \
	"nolog.ini:5: \[node\] user: user 'nosuchuserxyz' does not exist"

mkdir -p "$T/conf/m/Bennett" "$T/conf/m/carol"
conf agree <<EOF
[local]
maildir = $T/conf/m/%u/
users = bennett, root
[aliases]
root = bennett
staff = nosuch, bennett
EOF
check agree.ini 0 "routing against delivery" \
	"agree.ini:6: warning: \[local\] users: 'root' is a user, but mail to root@ucl is not delivered to its mailbox" \
	"agree.ini:9: warning: \[aliases\] staff: leads to mailbox 'nosuch', which delivery does not know" \
	"agree.ini:5: warning: \[local\] maildir: Maildir '$T/conf/m/Bennett/' gets no mail.*lower case" \
	"agree.ini: 0 errors, 3 warnings$"

# --- 2 (continued), 1 (as another user): the daemon stopped -------------------------------------
stop_node ucl
timeout 20 "$MAILCTL" -c "$T/ucl.ini" submit <"$T/sub.letter" >"$T/sub.out" 2>"$T/sub.err"
rc=$?
[ $rc -eq 65 ] && grep -q "letter too large: more than 4096 octets" "$T/sub.err" &&
	ok "2 submit with the daemon stopped (the fall-back drop): exit 65: $(head -1 "$T/sub.err")" ||
	bad "2 submit with the daemon stopped: exit $rc, want 65: $(cat "$T/sub.err")"
[ -z "$(ls -A "$SP/out")" ] && ok "2 nothing left in out/" || bad "2 left in out/: $(ls -A "$SP/out")"

if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	chmod 755 "$T"
	node_ini_raw nob <<EOF
[node]
name = nob
spool = $(spooldir nob)
user = nobody
[local]
maildir = $(mdir nob)/%u/
users = bennett
[limits]
max_letter_size = 4096
EOF
	chmod 755 "$(ndir nob)"
	start_node nob || die "nob did not start"
	NS=$(spooldir nob)
	printf 'bennett@nob\nFrom: x@nob\nSubject: no blank line\n\nbody\n' >"$T/malformed.letter"
	drop nob "$T/big.letter" big.letter || die "drop big.letter at nob"
	drop nob "$T/malformed.letter" malformed.letter || die "drop malformed.letter at nob"
	for f in big malformed; do
		if wait_journal nob " corrupt .*from=out/$f.letter( |$)" 1 15; then
			n=$(journal nob | grep -E " corrupt .*from=out/$f.letter( |$)" | awk '{ print $3 }' | head -1)
			cmp -s "$T/$f.letter" "$NS/corrupt/$n" && [ "$(stat -c %U "$NS/corrupt/$n")" = nobody ] &&
				ok "1 root's $f drop, daemon running as nobody: corrupt/$n, nobody's copy" ||
				bad "1 root's $f drop: corrupt/$n: $(ls -l "$NS/corrupt/" 2>&1)"
		else
			bad "1 root's $f drop to a daemon running as nobody: not moved aside within 15 s ($(ls -A "$NS/out"))"
		fi
	done
else
	note "1 root's drops to a daemon running as nobody: skipped (not root, or no user nobody)"
fi

relay_finish
