#!/bin/sh
# install.sh - what "make install" and "make uninstall" do (the Makefile
# passes every directory; run it through make, not by hand).
#
#   install.sh install     programs, man pages, systemd units, the sample
#                          configuration, the spool's parent; the service
#                          user only on a real install by root
#   install.sh uninstall   removes the programs, man pages and units that
#                          install put; never the configuration, the spool
#                          or the user
#
# Environment (from the Makefile): DESTDIR (a staging root, may be empty),
# BINDIR, SBINDIR, MANDIR, UNITDIR, CONFDIR, SPOOLDIR, SERVICE_USER, BUILT
# (where the programs were built: bin/ or build-san/bin/).
#
# Where things go (README "Install"): the daemons mailrelayd and vcgw into
# SBINDIR, as Postfix puts its daemons in sbin; niftp, mailctl and
# niftpmail-sendmail, which users and MTAs run, into BINDIR.
#
# A file in CONFDIR is never overwritten: when one is there and differs
# from the new sample, the sample goes beside it as FILE.sample (replacing
# an older .sample) and a line says so. The user is made only when DESTDIR
# is empty and we are root: a staged install (a package) makes no user on
# the machine that builds it; the package's own scripts do that.
set -u
: "${BINDIR:?} ${SBINDIR:?} ${MANDIR:?} ${UNITDIR:?} ${CONFDIR:?} ${SPOOLDIR:?}"
: "${SERVICE_USER:?} ${BUILT:?}"
DESTDIR=${DESTDIR:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
BIN_PROGS="niftp mailctl niftpmail-sendmail"
SBIN_PROGS="mailrelayd vcgw"
UNITS="mailrelayd@.service vcgw@.service"
CONF_SAMPLES="mailrelayd.ini"

say() { echo "$mode: $*"; }
fail() { echo "$mode: $*" >&2; exit 1; }

# man_pages - the man pages of doc/ (NAME.N, N a section)
man_pages() {
	for _m in "$top"/doc/*.1 "$top"/doc/*.5 "$top"/doc/*.8; do
		[ -f "$_m" ] && echo "$_m"
	done
}

# etc_file SRC DEST - install SRC as DEST unless DEST is there
etc_file() {
	if [ ! -e "$2" ] && [ ! -L "$2" ]; then
		install -m 0644 "$1" "$2" || fail "cannot install '$2'"
		say "$2: installed (edit it, then: mailctl check-config)"
	elif cmp -s "$1" "$2"; then
		:
	else
		install -m 0644 "$1" "$2.sample" || fail "cannot install '$2.sample'"
		say "$2: exists and was kept; the new sample is $2.sample"
	fi
}

# make_user - the service user, on a real install by root only
make_user() {
	if [ -n "$DESTDIR" ]; then
		say "DESTDIR set: no user made (a package's scripts make '$SERVICE_USER')"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		say "not root: no user made; as root: useradd --system --user-group" \
			"--home-dir $SPOOLDIR --no-create-home --shell /usr/sbin/nologin $SERVICE_USER"
		return 0
	fi
	if getent passwd "$SERVICE_USER" >/dev/null 2>&1; then
		say "user $SERVICE_USER exists: kept"
		return 0
	fi
	_sh=/usr/sbin/nologin
	[ -x "$_sh" ] || _sh=/sbin/nologin
	[ -x "$_sh" ] || _sh=/bin/false
	useradd --system --user-group --home-dir "$SPOOLDIR" --no-create-home \
		--shell "$_sh" --comment "niftpmail mail relay" "$SERVICE_USER" ||
		fail "useradd '$SERVICE_USER' failed"
	say "made the service user $SERVICE_USER (home $SPOOLDIR, shell $_sh)"
}

do_install() {
	for _p in $BIN_PROGS $SBIN_PROGS; do
		[ -x "$BUILT/$_p" ] || fail "'$BUILT/$_p' is not built: run make first"
	done
	install -d -m 0755 "$DESTDIR$BINDIR" "$DESTDIR$SBINDIR" "$DESTDIR$UNITDIR" \
		"$DESTDIR$CONFDIR" || fail "cannot make the directories under '$DESTDIR'"
	for _p in $BIN_PROGS; do
		install -m 0755 "$BUILT/$_p" "$DESTDIR$BINDIR/$_p" || fail "cannot install $_p"
	done
	for _p in $SBIN_PROGS; do
		install -m 0755 "$BUILT/$_p" "$DESTDIR$SBINDIR/$_p" || fail "cannot install $_p"
	done
	for _m in $(man_pages); do
		_s=${_m##*.}
		install -d -m 0755 "$DESTDIR$MANDIR/man$_s" &&
			install -m 0644 "$_m" "$DESTDIR$MANDIR/man$_s/" || fail "cannot install $_m"
	done
	for _u in $UNITS; do
		sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@BINDIR@|$BINDIR|g" \
			-e "s|@CONFDIR@|$CONFDIR|g" -e "s|@SPOOLDIR@|$SPOOLDIR|g" \
			"$here/$_u.in" >"$DESTDIR$UNITDIR/.$_u.tmp" &&
			chmod 0644 "$DESTDIR$UNITDIR/.$_u.tmp" &&
			mv -f "$DESTDIR$UNITDIR/.$_u.tmp" "$DESTDIR$UNITDIR/$_u" ||
			fail "cannot install $_u"
	done
	for _c in $CONF_SAMPLES; do
		etc_file "$here/$_c" "$DESTDIR$CONFDIR/$_c"
	done
	# the spools' parent: root's; the daemon makes SPOOLDIR/NODE and
	# gives it to [node] user (mailrelayd(8), PRIVILEGES)
	if [ ! -d "$DESTDIR$SPOOLDIR" ]; then
		install -d -m 0755 "$DESTDIR$SPOOLDIR" || fail "cannot make '$DESTDIR$SPOOLDIR'"
	fi
	make_user
	say "programs in $DESTDIR$BINDIR ($BIN_PROGS) and $DESTDIR$SBINDIR ($SBIN_PROGS)"
	say "units in $DESTDIR$UNITDIR; man pages in $DESTDIR$MANDIR"
	if [ -z "$DESTDIR" ]; then
		say "next: edit $CONFDIR/mailrelayd.ini, mailctl check-config, then"
		say "  systemctl daemon-reload && systemctl enable --now mailrelayd@mailrelayd"
	fi
}

do_uninstall() {
	for _p in $BIN_PROGS; do
		rm -f "$DESTDIR$BINDIR/$_p"
	done
	for _p in $SBIN_PROGS; do
		rm -f "$DESTDIR$SBINDIR/$_p"
	done
	for _m in $(man_pages); do
		rm -f "$DESTDIR$MANDIR/man${_m##*.}/$(basename "$_m")"
	done
	for _u in $UNITS; do
		rm -f "$DESTDIR$UNITDIR/$_u"
	done
	say "removed the programs, man pages and units; kept $DESTDIR$CONFDIR" \
		"(configuration), $DESTDIR$SPOOLDIR (spools) and the user $SERVICE_USER"
}

mode=${1:-install}
case "${1:-}" in
install) do_install ;;
uninstall) do_uninstall ;;
*) fail "usage: install.sh install|uninstall" ;;
esac
