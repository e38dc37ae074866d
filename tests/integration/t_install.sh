#!/bin/sh
# t_install.sh - make install and uninstall into a DESTDIR, the installed
# programs as a service would run them (issue 12, item 1; README
# "Install", mailrelayd(8) SERVICE, service/install.sh).
#
#  1. make install DESTDIR=$T/root PREFIX=/usr: mailrelayd and vcgw in
#     usr/sbin, niftp, mailctl and niftpmail-sendmail in usr/bin (mode
#     755), every doc/*.[158] in usr/share/man/manN (644), the two units in
#     usr/lib/systemd/system (644, no @VAR@ left), etc/niftpmail/
#     mailrelayd.ini (644, accepted by the installed mailctl check-config),
#     var/spool/niftpmail; no user made (/etc/passwd and /etc/group
#     unchanged, no etc/passwd under DESTDIR, the output says so).
#  2. --version of each installed program: "PROG (niftpmail) VERSION", the
#     VERSION of util/version.h, exit 0.
#  3. A second install keeps a changed etc/niftpmail/mailrelayd.ini byte
#     for byte and puts the new sample beside it as mailrelayd.ini.sample.
#  4. The units: systemd-analyze verify (when the command exists; the
#     ExecStart paths made the DESTDIR's for it) says nothing; and always a
#     static check: Type=notify, ExecStart is the installed program with -f
#     and -c /etc/niftpmail/%i.ini, ExecReload=/bin/kill -HUP $MAINPID,
#     ProtectSystem=strict, ReadWritePaths with the spool, NoNewPrivileges,
#     PrivateTmp, the capabilities the start as root needs, WantedBy.
#  5. Two nodes a -> b run from the DESTDIR (-f, spools in $T). As root,
#     each runs as the unit would run it: its capability bounding set is
#     exactly the unit's CapabilityBoundingSet, no_new_privs is set
#     (setpriv), and [node] user = nobody: it becomes nobody (so the
#     unit's hardening keeps the drop working). Node a has NOTIFY_SOCKET
#     on a socket the test listens on (build/tools/notifysink): READY=1
#     once SPOOL/ready is there; a letter submitted with the installed
#     mailctl, with NIFTPMAIL_CONF and no -c, is delivered at b; mailctl
#     queue with NIFTPMAIL_CONF works; SIGHUP gives RELOADING=1 then
#     READY=1; SIGTERM gives STOPPING=1 and exit 0.
#  6. The installed vcgw with NOTIFY_SOCKET on an abstract name: READY=1,
#     RELOADING=1 and READY=1 on SIGHUP, STOPPING=1 on SIGTERM.
#  7. The default configuration: NIFTPMAIL_CONF naming a missing file is
#     exit 78 naming it and the variable; -c wins over NIFTPMAIL_CONF;
#     without either (only when /etc/niftpmail/mailrelayd.ini does not
#     exist on this machine) mailctl and mailrelayd exit 78 naming the
#     default path and saying to give -c or set NIFTPMAIL_CONF.
#  8. make uninstall DESTDIR=...: programs, man pages and units gone; the
#     configuration (and its .sample) and var/spool/niftpmail kept.
#  9. As root, a real install (DESTDIR empty, PREFIX /usr/local) in a private
#     mount namespace (unshare -m) over a copy of /etc and empty /usr/local,
#     /var/spool, /var/log, /var/mail: the user niftpmail is made (a system
#     uid, group niftpmail, home /var/spool/niftpmail, nologin), a second
#     install keeps it, /var/spool/niftpmail is root's 755, uninstall keeps
#     the user and the configuration; this machine's passwd and group are
#     unchanged.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_install
# nobody (the daemon's user, as root) must reach the spools and sockets
chmod 755 "$T"

R="$T/root"
SINK="$top/build/tools/notifysink"
[ -x "$SINK" ] || die "no $SINK (make all)"
version=$(sed -n 's/^#define NIFTPMAIL_VERSION[ \t]*"\(.*\)"$/\1/p' "$top/util/version.h")
[ -n "$version" ] || die "no NIFTPMAIL_VERSION in util/version.h"

# mode PATH - the octal mode of PATH
mode() { stat -c %a "$1"; }

# sum_ids - the user and group databases, to see that nothing was added
sum_ids() { cat /etc/passwd /etc/group 2>/dev/null | cksum; }

# wait_line FILE ERE [N] [SECONDS] - bounded poll for N lines matching ERE
wait_line() {
	_wl=0
	while [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -lt "${3:-1}" ]; do
		_wl=$((_wl + 1))
		[ $_wl -le $((${4:-10} * 20)) ] || return 1
		sleep 0.05
	done
	return 0
}

# wait_file FILE - bounded poll until FILE is there and not empty
wait_file() {
	_wf=0
	while [ ! -s "$1" ]; do
		_wf=$((_wf + 1))
		[ $_wf -le 200 ] || return 1
		sleep 0.05
	done
	return 0
}

# --- 1. make install into a DESTDIR ------------------------------------------
ids_before=$(sum_ids)
had_user=0
getent passwd niftpmail >/dev/null 2>&1 && had_user=1
if make -s --no-print-directory -C "$top" install DESTDIR="$R" PREFIX=/usr >"$T/install.out" 2>&1; then
	ok "make install DESTDIR=\$T/root PREFIX=/usr"
else
	die "make install failed: $(tail -5 "$T/install.out")"
fi
for p in usr/sbin/mailrelayd usr/sbin/vcgw usr/bin/niftp usr/bin/mailctl usr/bin/niftpmail-sendmail; do
	[ -f "$R/$p" ] && [ "$(mode "$R/$p")" = 755 ] && ok "installed /$p, mode 755" ||
		bad "/$p: $(ls -l "$R/$p" 2>&1)"
done
n=0
for m in "$top"/doc/*.1 "$top"/doc/*.5 "$top"/doc/*.8; do
	[ -f "$m" ] || continue
	d="$R/usr/share/man/man${m##*.}/$(basename "$m")"
	if [ -f "$d" ] && [ "$(mode "$d")" = 644 ] && cmp -s "$m" "$d"; then
		n=$((n + 1))
	else
		bad "man page $(basename "$m"): $(ls -l "$d" 2>&1)"
	fi
done
[ "$n" -ge 6 ] && ok "$n man pages in /usr/share/man/manN, mode 644" || bad "only $n man pages"
U="$R/usr/lib/systemd/system"
for u in mailrelayd@.service vcgw@.service; do
	if [ -f "$U/$u" ] && [ "$(mode "$U/$u")" = 644 ] && ! grep -q '@[A-Z]*@' "$U/$u"; then
		ok "unit /usr/lib/systemd/system/$u, mode 644, paths filled in"
	else
		bad "unit $u: $(ls -l "$U/$u" 2>&1) $(grep '@[A-Z]*@' "$U/$u" 2>/dev/null)"
	fi
done
E="$R/etc/niftpmail/mailrelayd.ini"
if [ -f "$E" ] && [ "$(mode "$E")" = 644 ] && cmp -s "$top/service/mailrelayd.ini" "$E"; then
	ok "sample configuration /etc/niftpmail/mailrelayd.ini, mode 644"
else
	bad "sample configuration: $(ls -l "$E" 2>&1)"
fi
# checked with the spool in $T, and as nobody where niftpmail does not exist
# (check-config looks both up)
su=niftpmail
getent passwd niftpmail >/dev/null 2>&1 || su=nobody
sed -e "s/^user *= *niftpmail\$/user = $su/" -e "s|^; spool = .*|spool = $T/sample/spool|" \
	"$E" >"$T/sample.ini"
if "$R/usr/bin/mailctl" -c "$T/sample.ini" check-config </dev/null >"$T/check.out" 2>&1; then
	ok "installed mailctl check-config accepts the sample (user $su): $(tail -1 "$T/check.out")"
else
	bad "check-config of the sample: $(cat "$T/check.out")"
fi
[ -d "$R/var/spool/niftpmail" ] && ok "/var/spool/niftpmail made" || bad "no var/spool/niftpmail"
if [ "$(sum_ids)" = "$ids_before" ] && [ ! -e "$R/etc/passwd" ] &&
    { [ $had_user = 1 ] || ! getent passwd niftpmail >/dev/null 2>&1; } &&
    grep -q 'DESTDIR set: no user made' "$T/install.out"; then
	ok "DESTDIR: no user made (passwd and group unchanged)"
else
	bad "a user may have been made: $(cat "$T/install.out")"
fi

# --- 2. --version ----------------------------------------------------------------
for p in usr/sbin/mailrelayd usr/sbin/vcgw usr/bin/niftp usr/bin/mailctl usr/bin/niftpmail-sendmail; do
	b=$(basename "$p")
	v=$("$R/$p" --version 2>&1)
	rc=$?
	[ $rc = 0 ] && [ "$v" = "$b (niftpmail) $version" ] && ok "$b --version: $v" ||
		bad "$b --version: exit $rc, '$v'"
done

# --- 3. a second install keeps a changed configuration --------------------------
printf '; changed by the operator\n' >>"$E"
cp "$E" "$T/changed.ini"
if make -s --no-print-directory -C "$top" install DESTDIR="$R" PREFIX=/usr >"$T/install2.out" 2>&1 &&
    cmp -s "$T/changed.ini" "$E" && cmp -s "$top/service/mailrelayd.ini" "$E.sample" &&
    grep -q 'exists and was kept' "$T/install2.out"; then
	ok "second install: the changed mailrelayd.ini kept, the new sample beside it (.sample)"
else
	bad "second install: $(cat "$T/install2.out"); $(diff "$T/changed.ini" "$E" 2>&1 | head -3)"
fi

# --- 4. the unit files -----------------------------------------------------------
# key UNIT KEY - the values of KEY= in UNIT, one per line
key() { sed -n "s/^$2=//p" "$1"; }
# has UNIT KEY ERE LABEL - some KEY= line of UNIT matches ERE
has() {
	if key "$1" "$2" | grep -qE -- "$3"; then
		ok "$(basename "$1"): $4"
	else
		bad "$(basename "$1"): $4: $2= is '$(key "$1" "$2" | tr '\n' ' ')'"
	fi
}
for u in mailrelayd vcgw; do
	f="$U/$u@.service"
	for s in Unit Service Install; do
		grep -qx "\[$s\]" "$f" || bad "$u@.service: no [$s] section"
	done
	has "$f" Type '^notify$' "Type=notify"
	exe=$(key "$f" ExecStart | awk '{print $1}')
	if [ "$exe" = "/usr/sbin/$u" ] && [ -x "$R$exe" ]; then
		ok "$u@.service: ExecStart is the installed $exe"
	else
		bad "$u@.service: ExecStart '$exe' is not the installed program"
	fi
	has "$f" ExecStart " -f( |$)" "ExecStart runs in the foreground (-f)"
	has "$f" ExecStart ' -c /etc/niftpmail/%i\.ini( |$)' "the instance names /etc/niftpmail/%i.ini"
	has "$f" ExecReload '^/bin/kill -HUP \$MAINPID$' "ExecReload sends SIGHUP"
	has "$f" ProtectSystem '^strict$' "ProtectSystem=strict"
	has "$f" NoNewPrivileges '^yes$' "NoNewPrivileges=yes"
	has "$f" PrivateTmp '^yes$' "PrivateTmp=yes"
	has "$f" WantedBy 'multi-user\.target' "WantedBy=multi-user.target"
done
M="$U/mailrelayd@.service"
has "$M" ReadWritePaths '(^| )/var/spool/niftpmail( |$)' "ReadWritePaths has the spool"
for c in CAP_SETUID CAP_SETGID CAP_NET_BIND_SERVICE CAP_CHOWN; do
	has "$M" CapabilityBoundingSet "(^| )$c( |$)" "$c kept for the start as root"
done
has "$U/vcgw@.service" DynamicUser '^yes$' "vcgw runs as a user of its own"
if command -v systemd-analyze >/dev/null 2>&1; then
	# with the DESTDIR's programs (verify checks that they can be run)
	for u in mailrelayd vcgw; do
		sed "s|^ExecStart=/usr/sbin/|ExecStart=$R/usr/sbin/|" "$U/$u@.service" >"$T/$u@t.service"
		if (cd "$T" && timeout 30 systemd-analyze verify --man=no "./$u@t.service") \
		    >"$T/verify.$u" 2>&1 && [ ! -s "$T/verify.$u" ]; then
			ok "systemd-analyze verify $u@.service: no complaint"
		else
			bad "systemd-analyze verify $u@.service: $(cat "$T/verify.$u")"
		fi
	done
else
	note "no systemd-analyze: the units were checked statically only"
fi

# --- 5. the installed mailrelayd, hardened as the unit runs it ---------------------
RELAYD="$R/usr/sbin/mailrelayd"
MAILCTL="$R/usr/bin/mailctl"
user_line=""
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
	# the unit's CapabilityBoundingSet as setpriv's -all,+cap...
	caps=$(key "$M" CapabilityBoundingSet | tr ' ' '\n' | sed -n 's/^CAP_//p' |
		tr 'A-Z' 'a-z' | sed 's/^/+/' | tr '\n' ',' | sed 's/,$//')
	cat >"$T/hardened" <<EOF
#!/bin/sh
exec setpriv --no-new-privs --bounding-set=-all,$caps --inh-caps=-all "$R/usr/sbin/mailrelayd" "\$@"
EOF
	chmod 755 "$T/hardened"
	RELAYD="$T/hardened"
	user_line="user = nobody"
	mkdir -p "$(mdir b)" && chown nobody "$(mdir b)"
	note "as root: nodes run with the unit's capabilities ($caps), no_new_privs, user nobody"
else
	note "not root (or no nobody, no setpriv): nodes run as $(id -un), unhardened"
fi
node_ini_raw a <<EOF
[node]
name = a
spool = $(spooldir a)
$user_line
[listen]
mail = $(sock a)
[routes]
b = niftp $(sock b)
[local]
users = root
[retry]
first = 1s
max = 1s
EOF
node_ini_raw b <<EOF
[node]
name = b
spool = $(spooldir b)
$user_line
[listen]
mail = $(sock b)
[local]
maildir = $(mdir b)/%u/
users = alice
[retry]
first = 1s
max = 1s
EOF
NS="$T/notify.sock"
"$SINK" --ready-file "$T/sink.ready" "$NS" "$T/notify.out" 2>"$T/sink.err" &
sink=$!
pids="$pids $sink"
wait_file "$T/sink.ready" || die "notifysink did not bind: $(cat "$T/sink.err")"
start_node b || die "the installed mailrelayd (b) did not start"
start_node a NOTIFY_SOCKET="$NS" || die "the installed mailrelayd (a) did not start"
if wait_line "$T/notify.out" '^READY=1( |$)'; then
	ok "READY=1 once a listens: $(grep '^READY=1' "$T/notify.out" | head -1)"
else
	bad "no READY=1 from a: $(cat "$T/notify.out")"
fi
if [ -n "$user_line" ]; then
	st=$(awk '/^Uid:|^Gid:/ {print $2, $3, $4, $5}' "/proc/$(node_pid a)/status" | tr '\n' ' ')
	nu=$(id -u nobody)
	ng=$(id -g nobody)
	[ "$st" = "$nu $nu $nu $nu $ng $ng $ng $ng " ] && ok "a runs as nobody under the unit's hardening" ||
		bad "a's ids: $st"
	grep -q 'running as user nobody' "$T/a.err" || bad "a: no 'running as user nobody' line"
fi
mkletter "$T/l1" install.1@a root@a alice@b
name=$(NIFTPMAIL_CONF="$T/a.ini" timeout 30 "$MAILCTL" submit "$T/l1" </dev/null 2>>"$T/mailctl.err")
[ -n "$name" ] && ok "installed mailctl submit with NIFTPMAIL_CONF, no -c: $name" ||
	bad "mailctl submit with NIFTPMAIL_CONF: $(tail -3 "$T/mailctl.err")"
if [ "$(NIFTPMAIL_CONF="$T/a.ini" timeout 10 "$MAILCTL" ping </dev/null 2>&1)" = a ]; then
	ok "mailctl ping with NIFTPMAIL_CONF, no -c: a"
else
	bad "mailctl ping with NIFTPMAIL_CONF: $(NIFTPMAIL_CONF="$T/a.ini" timeout 10 "$MAILCTL" ping </dev/null 2>&1)"
fi
if NIFTPMAIL_CONF="$T/a.ini" timeout 10 "$MAILCTL" queue </dev/null >"$T/queue.out" 2>&1; then
	ok "mailctl queue with NIFTPMAIL_CONF, no -c"
else
	bad "mailctl queue with NIFTPMAIL_CONF: exit $?, $(cat "$T/queue.out")"
fi
wait_msgid b alice install.1@a 1 20 && ok "the letter relayed a -> b by the installed daemons" ||
	bad "the letter did not reach alice@b"
: >"$T/notify.mark"
kill -HUP "$(node_pid a)"
if wait_line "$T/notify.out" '^READY=1' 2; then
	seq=$(grep -E '^(READY|RELOADING)=1' "$T/notify.out" | cut -d' ' -f1 | tr '\n' ' ')
	[ "$seq" = "READY=1 RELOADING=1 READY=1 " ] &&
		ok "SIGHUP: RELOADING=1 then READY=1 ($(grep '^RELOADING' "$T/notify.out"))" ||
		bad "SIGHUP: notifications '$seq'"
else
	bad "SIGHUP: no second READY=1: $(cat "$T/notify.out")"
fi
grep -q 'reload: configuration' "$T/a.err" && ok "a reloaded" || bad "a did not log the reload"
stop_node a
[ "$node_rc" = 0 ] && ok "a stopped on SIGTERM, exit 0" || bad "a: exit $node_rc after SIGTERM"
wait_line "$T/notify.out" '^STOPPING=1$' 1 2 && ok "SIGTERM: STOPPING=1" ||
	bad "no STOPPING=1: $(cat "$T/notify.out")"
grep -q '^BAD' "$T/notify.out" && bad "a malformed notification: $(grep '^BAD' "$T/notify.out")"
# the usual start: a spool the user already owns (root reads it first), and a
# letter that waits in it
stop_node b
mkletter "$T/l2" install.2@a root@a alice@b
drop a "$T/l2" l2
start_node a || bad "a did not start again on its own spool"
start_node b || bad "b did not start again on its own spool"
wait_msgid b alice install.2@a 1 20 && ok "restarted on their spools: a letter dropped meanwhile relayed" ||
	bad "after the restart, the dropped letter did not reach alice@b"
stop_node a

# --- 6. the installed vcgw with an abstract NOTIFY_SOCKET ---------------------------
AB="@t_install.$$"
"$SINK" --ready-file "$T/sink2.ready" "$AB" "$T/notify2.out" 2>"$T/sink2.err" &
sink2=$!
pids="$pids $sink2"
wait_file "$T/sink2.ready" || die "notifysink (abstract) did not bind: $(cat "$T/sink2.err")"
cat >"$T/gw.ini" <<EOF
[gateway]
name = gw
[listen]
l = unix:$T/gw.sock
[map]
* = $(sock b)
EOF
NOTIFY_SOCKET="$AB" "$R/usr/sbin/vcgw" -f -c "$T/gw.ini" --ready-file "$T/gw.ready" \
	</dev/null >"$T/gw.out" 2>"$T/gw.err" &
gw=$!
pids="$pids $gw"
if wait_line "$T/notify2.out" '^READY=1$'; then
	ok "vcgw: READY=1 on an abstract NOTIFY_SOCKET"
	[ -s "$T/gw.ready" ] || bad "vcgw: READY=1 before its ready file"
else
	bad "vcgw: no READY=1: $(cat "$T/notify2.out") $(tail -3 "$T/gw.err")"
fi
kill -HUP $gw
wait_line "$T/notify2.out" '^READY=1$' 2 &&
	[ "$(grep -E '^(READY|RELOADING)=1' "$T/notify2.out" | cut -d' ' -f1 | tr '\n' ' ')" = "READY=1 RELOADING=1 READY=1 " ] &&
	ok "vcgw: SIGHUP gives RELOADING=1 then READY=1" || bad "vcgw SIGHUP: $(cat "$T/notify2.out")"
stop $gw
wait_line "$T/notify2.out" '^STOPPING=1$' 1 2 && ok "vcgw: SIGTERM gives STOPPING=1" ||
	bad "vcgw: no STOPPING=1: $(cat "$T/notify2.out")"
stop_node b
stop $sink
stop $sink2

# --- 7. the default configuration and NIFTPMAIL_CONF ------------------------------
NIFTPMAIL_CONF="$T/nothere.ini" "$MAILCTL" queue </dev/null >"$T/nc.out" 2>&1
rc=$?
[ $rc = 78 ] && grep -qF "'$T/nothere.ini' (from \$NIFTPMAIL_CONF) does not exist" "$T/nc.out" &&
	ok "NIFTPMAIL_CONF naming a missing file: exit 78, '$(cat "$T/nc.out")'" ||
	bad "NIFTPMAIL_CONF missing: exit $rc, '$(cat "$T/nc.out")'"
NIFTPMAIL_CONF="$T/nothere.ini" "$MAILCTL" -c "$T/a.ini" check-config </dev/null >"$T/nc.out" 2>&1 &&
	ok "-c wins over NIFTPMAIL_CONF" || bad "-c with NIFTPMAIL_CONF set: $(cat "$T/nc.out")"
if [ -e /etc/niftpmail/mailrelayd.ini ]; then
	note "/etc/niftpmail/mailrelayd.ini exists here: the missing-default error not tested"
else
	for p in "$MAILCTL queue" "$R/usr/sbin/mailrelayd -f"; do
		env -u NIFTPMAIL_CONF $p </dev/null >"$T/nd.out" 2>&1
		rc=$?
		b=$(basename "${p%% *}")
		[ $rc = 78 ] && grep -qF "'/etc/niftpmail/mailrelayd.ini' does not exist (give -c FILE, or set NIFTPMAIL_CONF)" "$T/nd.out" &&
			ok "$b without -c or NIFTPMAIL_CONF: exit 78, '$(cat "$T/nd.out")'" ||
			bad "$b without a configuration: exit $rc, '$(cat "$T/nd.out")'"
	done
fi

# --- 8. make uninstall --------------------------------------------------------------
if make -s --no-print-directory -C "$top" uninstall DESTDIR="$R" PREFIX=/usr >"$T/uninstall.out" 2>&1; then
	left=$(cd "$R" && find usr -type f | sort | tr '\n' ' ')
	[ -z "$left" ] && ok "make uninstall: no program, man page or unit left" ||
		bad "make uninstall left: $left"
	cmp -s "$T/changed.ini" "$E" && [ -f "$E.sample" ] && [ -d "$R/var/spool/niftpmail" ] &&
		ok "make uninstall kept the configuration and the spool directory" ||
		bad "make uninstall removed the configuration or the spool: $(ls -lR "$R/etc" "$R/var" 2>&1 | head)"
else
	bad "make uninstall failed: $(cat "$T/uninstall.out")"
fi

# --- 9. a real install by root, in a private mount namespace ------------------------
# Copies of /etc, and empty /usr/local, /var/spool, /var/log and /var/mail,
# mounted over the real ones for this process only: make install with
# DESTDIR empty makes the user there, never on this machine.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1 &&
    unshare -m true 2>/dev/null; then
	ids_before=$(sum_ids)
	mkdir "$T/etc" && cp -a /etc/. "$T/etc/" && : >"$T/etc/.t_install_marker" ||
		die "cannot copy /etc into $T"
	cat >"$T/real.sh" <<EOF
set -u
mount --make-rprivate / 2>/dev/null
mount --bind "$T/etc" /etc || exit 90
for d in /usr/local /var/spool /var/log /var/mail; do
	[ -d "\$d" ] || continue
	mount -t tmpfs tmpfs "\$d" || exit 91
done
# refuse to go on unless every mount is in place
[ -f /etc/.t_install_marker ] && [ -z "\$(ls -A /usr/local)" ] && [ -z "\$(ls -A /var/spool)" ] || exit 92
make -s --no-print-directory -C "$top" install DESTDIR= >"$T/real1.out" 2>&1 || exit 93
make -s --no-print-directory -C "$top" install DESTDIR= >"$T/real2.out" 2>&1 || exit 94
getent passwd niftpmail >"$T/real.pw"
id -gn niftpmail >"$T/real.grp"
stat -c '%U %a' /var/spool/niftpmail >"$T/real.spool"
/usr/local/sbin/mailrelayd --version >"$T/real.version"
ls /usr/local/lib/systemd/system >"$T/real.units"
make -s --no-print-directory -C "$top" uninstall DESTDIR= >"$T/real3.out" 2>&1 || exit 95
getent passwd niftpmail >"$T/real.pw2"
ls -A /usr/local/sbin /usr/local/bin | grep -v ':\$' | grep . >"$T/real.left"
[ -f /etc/niftpmail/mailrelayd.ini ] || exit 96
exit 0
EOF
	unshare -m sh "$T/real.sh"
	rc=$?
	if [ $rc = 0 ]; then
		pw=$(cat "$T/real.pw")
		uid=$(echo "$pw" | cut -d: -f3)
		home=$(echo "$pw" | cut -d: -f6)
		shell=$(echo "$pw" | cut -d: -f7)
		if [ $had_user = 1 ]; then
			# this machine has the user already: the install only keeps it
			grep -q 'user niftpmail exists: kept' "$T/real1.out" &&
				ok "real install as root: the existing user niftpmail kept" ||
				bad "real install as root with niftpmail there: $(cat "$T/real1.out")"
		elif [ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/spool/niftpmail ] &&
		    [ "$(basename "$shell")" = nologin ] && [ "$(cat "$T/real.grp")" = niftpmail ] &&
		    grep -q 'made the service user niftpmail' "$T/real1.out"; then
			ok "real install as root: user niftpmail made (system uid $uid, group niftpmail, home $home, shell $shell)"
		else
			bad "real install as root: user '$pw', group '$(cat "$T/real.grp")'; $(cat "$T/real1.out")"
		fi
		grep -q 'user niftpmail exists: kept' "$T/real2.out" && ok "real install again: the user kept" ||
			bad "second real install: $(cat "$T/real2.out")"
		[ "$(cat "$T/real.version")" = "mailrelayd (niftpmail) $version" ] &&
			grep -qx 'mailrelayd@.service' "$T/real.units" &&
			ok "real install: /usr/local/sbin/mailrelayd, units in /usr/local/lib/systemd/system" ||
			bad "real install: version '$(cat "$T/real.version")', units '$(cat "$T/real.units")'"
		[ "$(cat "$T/real.spool")" = "root 755" ] && ok "real install: /var/spool/niftpmail root's, 755" ||
			bad "real install: /var/spool/niftpmail is '$(cat "$T/real.spool")'"
		[ -s "$T/real.pw2" ] && [ ! -s "$T/real.left" ] &&
			ok "real uninstall: programs gone; user and configuration kept" ||
			bad "real uninstall: user '$(cat "$T/real.pw2")', left '$(cat "$T/real.left")'"
	else
		bad "real install in a mount namespace: step $rc failed: $(cat "$T"/real?.out 2>/dev/null | tail -5)"
	fi
	[ "$(sum_ids)" = "$ids_before" ] && ok "this machine's passwd and group untouched by the real install" ||
		bad "this machine's /etc/passwd or /etc/group changed"
else
	note "not root, or no unshare or useradd: the real install (user made) not tested"
fi
relay_finish
