# lib-postfix.sh - a private, loopback-only Postfix instance for tests
# (issue 11, item 3). Source it from bash (pf_smtp uses /dev/tcp):
#
#   top=$(cd "$(dirname "$0")/../.." && pwd)
#   . "$top/tests/postfix/lib-postfix.sh"
#   trap 'exit 130' INT TERM; trap pf_stop EXIT    # pf_stop is idempotent
#   pf_install || exit 1
#   pf_start mytest || exit 1
#
# Needs root: Postfix's master runs as root (mail_owner is postfix).
# The system instance (/etc/postfix, /var/spool/postfix) is never
# configured, started, stopped or changed. Every wait is bounded.
#
# Functions (all return non-zero and print "pf_...: why" on failure):
#
#   pf_install         install the Debian package when it is missing:
#                      apt-get install -y --no-remove --no-install-recommends,
#                      DEBIAN_FRONTEND=noninteractive, debconf "No
#                      configuration" (no /etc/postfix/main.cf is written,
#                      nothing is started). Refuses when another package that
#                      provides mail-transport-agent is installed. Runs
#                      'apt-get update' once when the package is not found.
#                      Prints the time the install took.
#   pf_start NAME      make and start a private instance under a fresh
#                      temporary directory; bounded wait until its smtpd
#                      answers on 127.0.0.1:$PF_PORT with its own banner.
#                      Configured by the PF_* knobs below (read at this call).
#   pf_stop            stop it (postfix stop, bounded wait, SIGKILL of the
#                      master as a last resort), remove the directory (kept
#                      when PF_KEEP=1). Safe to call twice or without a start.
#   pf_sendmail ARGS...   the instance's sendmail (-C $PF_CFG) with ARGS,
#                      message on stdin: e.g. pf_sendmail -f a@x -- b@pf.test
#   pf_smtp FROM RCPT...  one SMTP transaction to the instance's smtpd over
#                      bash /dev/tcp, message on stdin (LF or CRLF; dots are
#                      stuffed here). Prints one line per step:
#                        CONNECT code text | EHLO code | MAIL code text
#                        RCPT addr code text (one per RCPT)
#                        DATA code text (the reply to the final ".", or to
#                        DATA when that is refused; absent when no RCPT got 2xx)
#                      0 when the conversation ran to QUIT, whatever the codes.
#                      PF_SMTP_PORT/PF_SMTP_ADDR override the target.
#   pf_access ADDR [ACTION...]   set (or, without ACTION, remove) one entry of
#                      the check_recipient_access map, e.g.
#                      pf_access defer450 (remove), pf_access bob 550 5.7.1 no;
#                      then 'postfix reload' and a bounded wait for it. ADDR:
#                      user@domain or user@ (any domain) as given, a word with
#                      a dot is a domain, any other word is "word@".
#   pf_add_user USER   add USER@$PF_DOMAIN (a Maildir) to the running
#                      instance; reloads
#   pf_reload          postfix reload, bounded wait until the master logs it
#   pf_flush           postqueue -f (retry the deferred queue now)
#   pf_queue_count     number of queue files (maildrop, incoming, active,
#                      deferred, hold)
#   pf_wait_queue_empty [SECONDS=30]
#   pf_maildir USER    the path of USER's Maildir ($PF_MAIL/USER, lower case)
#   pf_wait_maildir USER [COUNT=1] [SECONDS=30]
#                      bounded wait until USER's Maildir new/ holds COUNT
#                      files; prints their paths, oldest first
#   pf_log [ERE]       maillog lines (matching ERE)
#   pf_log_count ERE   how many maillog lines match
#   pf_wait_log ERE [COUNT=1] [SECONDS=30]
#                      bounded wait until COUNT maillog lines match; prints
#                      the last one
#   pf_system_state    one line describing the system instance: its
#                      master.pid and whether that process lives, the pids of
#                      running masters with the default configuration, the
#                      number of its queue files; to compare before and after
#
# Knobs (environment, read by pf_start):
#   PF_TMPDIR       parent of the temporary directory ($TMPDIR or /tmp)
#   PF_DOMAIN       the virtual mailbox domain (pf.test)
#   PF_USERS        its users (alice bob carol dave postmaster): mail to
#                   USER@$PF_DOMAIN is delivered by virtual(8) to the Maildir
#                   $PF_MAIL/USER/ (lower case), owned by PF_MAIL_USER; other
#                   users of the domain get "550 5.1.1 User unknown" at RCPT
#                   (pf_add_user adds one to a running instance)
#   PF_MAIL_USER    owner of the Maildirs (nobody; virtual(8) refuses uid 0)
#   PF_REJECT_USERS recipients answered "550 5.1.1" at RCPT (reject550);
#   PF_DEFER_USERS  recipients answered "450 4.2.0" at RCPT (defer450);
#                   words as for pf_access (a plain word is a local part
#                   in any domain, the "user@" key of access(5))
#   PF_TRANSPORT    transport map lines "DOMAIN NEXTHOP", newline separated,
#                   e.g. "niftp.test niftp:" or
#                   "far.test smtp:[127.0.0.1]:2525" (texthash, no postmap)
#   PF_RELAYHOST    relayhost for every other domain, e.g. [127.0.0.1]:2525;
#                   without it other domains bounce (error transport), so
#                   nothing ever leaves the machine
#   PF_PIPE_ARGV    when set, master.cf gets a pipe(8) transport "niftp":
#                     niftp unix - n n - PF_PIPE_MAXPROC pipe
#                       flags=PF_PIPE_FLAGS user=PF_PIPE_USER argv=PF_PIPE_ARGV
#                   e.g. PF_PIPE_ARGV='/usr/local/bin/niftpmail-sendmail -f ${sender} -- ${recipient}'
#                   (single-quote it: ${sender} is pipe(8)'s, not the shell's)
#   PF_PIPE_USER    the ordinary user it runs as (nobody); never root
#   PF_PIPE_FLAGS   pipe(8) flags (q)
#   PF_PIPE_MAXPROC process limit of the transport (-, i.e. default_process_limit)
#   PF_PIPE_RCPT_LIMIT  niftp_destination_recipient_limit (Postfix default 50)
#   PF_MAIN_EXTRA   more main.cf lines "name = value", newline separated
#                   (e.g. smtpd_tls_cert_file, smtpd_tls_security_level)
#   PF_MASTER_EXTRA more master.cf text, appended as is
#   PF_KEEP=1       pf_stop keeps the directory (and says where)
#
# Set by pf_start: PF_DIR (the temporary directory), PF_CFG (config_directory:
# main.cf, master.cf, rcpt_access, transport), PF_QUEUE (queue_directory),
# PF_DATA (data_directory), PF_MAIL (the Maildirs' parent), PF_LOG (maillog),
# PF_ADDR (127.0.0.1), PF_PORT (the smtpd port, a free one), PF_HOST
# (myhostname, NAME-PID.$PF_DOMAIN, also in the 220 banner).

PATH=$PATH:/usr/sbin:/sbin
PF_DIR=""
PF_MASTER_PID=""
_pf_reloads=0

_pf_err() { echo "$*" >&2; }

# --- install ------------------------------------------------------------------

_pf_installed() {
	[ "$(dpkg-query -W -f='${Status}' postfix 2>/dev/null)" = "install ok installed" ] &&
		[ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postconf ] && [ -x /usr/sbin/sendmail ]
}

# other installed packages that provide mail-transport-agent
_pf_other_mta() {
	dpkg-query -W -f='${Package}\t${Status}\t${Provides}\n' 2>/dev/null |
		awk -F'\t' '$1 != "postfix" && $2 ~ / installed$|unpacked$|half-configured$|triggers-/ &&
			$3 ~ /(^|, )mail-transport-agent( |,|$)/ { printf "%s%s", (n++ ? " " : ""), $1 }'
}

pf_install() {
	if _pf_installed; then return 0; fi
	local other log t0 rc policy=""
	other=$(_pf_other_mta)
	if [ -n "$other" ]; then
		_pf_err "pf_install: Postfix is not installed and another MTA is ($other); not replacing it: these tests need Postfix"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		_pf_err "pf_install: Postfix is not installed and installing it needs root"
		return 1
	fi
	command -v apt-get >/dev/null 2>&1 || { _pf_err "pf_install: Postfix is not installed and there is no apt-get"; return 1; }
	log=$(mktemp "${TMPDIR:-/tmp}/pf-install.XXXXXX")
	t0=$(date +%s.%N)
	export DEBIAN_FRONTEND=noninteractive
	{ echo "postfix postfix/main_mailer_type select No configuration"
	  echo "postfix postfix/mailname string localhost"; } | debconf-set-selections
	# the package's postinst calls invoke-rc.d postfix start: keep the system
	# instance down with a policy-rc.d for the install, when there is none
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# pf_install (niftpmail tests): no service starts during the install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	_pf_apt() { timeout -k 10 600 apt-get install -y -q --no-remove --no-install-recommends postfix >>"$log" 2>&1; }
	_pf_apt; rc=$?
	if [ $rc != 0 ] && grep -qE 'Unable to locate package|has no installation candidate|Failed to fetch|404' "$log"; then
		echo "--- apt-get update" >>"$log"
		timeout -k 10 300 apt-get update -q >>"$log" 2>&1 && { _pf_apt; rc=$?; }
	fi
	[ -n "$policy" ] && rm -f "$policy"
	if [ $rc != 0 ] || ! _pf_installed; then
		_pf_err "pf_install: apt-get install postfix failed (rc $rc); last lines of its output:"
		grep -v '^\s*$' "$log" | tail -8 | sed 's/^/  /' >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	echo "pf_install: installed postfix $(postconf -d -h mail_version 2>/dev/null) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
}

# --- state of the system instance ---------------------------------------------------

# pids of running Postfix masters of the system instance (MAIL_CONFIG unset
# or /etc/postfix); private instances (this library's, a benchmark's) are
# not counted
_pf_system_masters() {
	local p cfg out=""
	for p in $(pgrep -x master 2>/dev/null); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/lib/postfix/sbin/master ] || continue
		cfg=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^MAIL_CONFIG=//p')
		case "$cfg" in "" | /etc/postfix | /etc/postfix/) out="$out $p" ;; esac
	done
	echo "${out# }"
}

pf_system_state() {
	local pid="none" live="no" q
	if [ -s /var/spool/postfix/pid/master.pid ]; then
		pid=$(tr -d ' \n' </var/spool/postfix/pid/master.pid)
		kill -0 "$pid" 2>/dev/null && live="yes"
	fi
	q=$(find /var/spool/postfix/maildrop /var/spool/postfix/incoming /var/spool/postfix/active \
		/var/spool/postfix/deferred -type f 2>/dev/null | wc -l)
	echo "system: master.pid=$pid alive=$live masters=[$(_pf_system_masters)] queue-files=$q"
}

# --- start / stop ----------------------------------------------------------------------

_pf_port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

_pf_pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
		_pf_port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}

# the postfix command logs its own errors to syslog unless stderr is a tty;
# there is no syslog here, so a failing command is rerun under script(1)
_pf_postfix() {
	postfix -c "$PF_CFG" "$@" >/dev/null 2>&1 && return 0
	script -qec "postfix -c $PF_CFG $*" /dev/null >&2
	return 1
}

# access(5) key: user@domain and user@ as given, a word with a dot a
# domain, any other word a local part in any domain (user@)
_pf_access_key() {
	case "$1" in *@* | *.*) echo "$1" ;; *) echo "$1@" ;; esac
}

_pf_write_config() {
	local name=$1 pc u
	mkdir -p "$PF_CFG" "$PF_QUEUE" "$PF_DATA" "$PF_MAIL" || return 1
	chown postfix "$PF_DATA" && chown "$PF_MAIL_USER" "$PF_MAIL" || return 1
	: >"$PF_CFG/main.cf"
	# access map (texthash: read by the daemons, no postmap, reload to change)
	: >"$PF_CFG/rcpt_access"
	for u in ${PF_REJECT_USERS-reject550}; do
		echo "$(_pf_access_key "$u") 550 5.1.1 rejected by the test's access map" >>"$PF_CFG/rcpt_access"
	done
	for u in ${PF_DEFER_USERS-defer450}; do
		echo "$(_pf_access_key "$u") 450 4.2.0 deferred by the test's access map" >>"$PF_CFG/rcpt_access"
	done
	printf '%s\n' "${PF_TRANSPORT:-}" | grep -v '^\s*$' >"$PF_CFG/transport"
	# each user of PF_DOMAIN -> its Maildir (the trailing /) under PF_MAIL
	# (a regexp map with $1 would take any user, but virtual(8) refuses
	# substitution in virtual_mailbox_maps)
	: >"$PF_CFG/vmailbox"
	for u in ${PF_USERS-alice bob carol dave postmaster}; do
		u=$(printf '%s' "$u" | tr 'A-Z' 'a-z')
		echo "$u@$PF_DOMAIN $u/" >>"$PF_CFG/vmailbox"
	done
	local uid gid
	uid=$(id -u "$PF_MAIL_USER") && gid=$(id -g "$PF_MAIL_USER") || return 1
	local deftr="error:5.1.2 no route from this private test instance"
	[ -n "${PF_RELAYHOST:-}" ] && deftr=smtp
	pc=(postconf -c "$PF_CFG" -e)
	"${pc[@]}" \
		"compatibility_level = 3.6" \
		"config_directory = $PF_CFG" \
		"queue_directory = $PF_QUEUE" \
		"data_directory = $PF_DATA" \
		"mail_owner = postfix" \
		"maillog_file = $PF_LOG" \
		"maillog_file_prefixes = $PF_DIR" \
		"myhostname = $PF_HOST" \
		"mydomain = $PF_DOMAIN" \
		"myorigin = \$myhostname" \
		"smtpd_banner = \$myhostname ESMTP private test instance" \
		"inet_interfaces = loopback-only" \
		"inet_protocols = ipv4" \
		"mynetworks = 127.0.0.0/8" \
		"mydestination =" \
		"local_recipient_maps =" \
		"alias_maps =" "alias_database =" \
		"relay_domains =" \
		"relayhost = ${PF_RELAYHOST:-}" \
		"default_transport = $deftr" \
		"transport_maps = texthash:$PF_CFG/transport" \
		"virtual_mailbox_domains = $PF_DOMAIN" \
		"virtual_mailbox_base = $PF_MAIL" \
		"virtual_mailbox_maps = texthash:$PF_CFG/vmailbox" \
		"virtual_uid_maps = static:$uid" \
		"virtual_gid_maps = static:$gid" \
		"smtpd_recipient_restrictions = check_recipient_access texthash:$PF_CFG/rcpt_access" \
		"smtpd_error_sleep_time = 0" \
		"smtpd_peername_lookup = no" \
		"smtp_dns_support_level = disabled" \
		"smtp_tls_security_level = none" \
		"smtpd_tls_security_level = none" \
		"minimal_backoff_time = 2s" \
		"maximal_backoff_time = 4s" \
		"queue_run_delay = 2s" \
		"smtp_connect_timeout = 5s" \
		"delay_warning_time = 0" \
		"biff = no" || return 1
	if [ -n "${PF_PIPE_RCPT_LIMIT:-}" ]; then
		"${pc[@]}" "niftp_destination_recipient_limit = $PF_PIPE_RCPT_LIMIT" || return 1
	fi
	if [ -n "${PF_MAIN_EXTRA:-}" ]; then
		local line
		while IFS= read -r line; do
			[ -n "${line//[[:space:]]/}" ] || continue
			"${pc[@]}" "$line" || return 1
		done <<EOF
$PF_MAIN_EXTRA
EOF
	fi
	# master.cf written here, not copied: no chroot (it would need copies of
	# /etc files in the queue directory), smtpd on 127.0.0.1:PORT only, and
	# none of the stock pipe services that name absent users
	cat >"$PF_CFG/master.cf" <<EOF
# private test instance $name (tests/postfix/lib-postfix.sh)
# service  type  private unpriv chroot wakeup maxproc command
$PF_ADDR:$PF_PORT inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
lmtp       unix  - - n -    - lmtp
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
	if [ -n "${PF_PIPE_ARGV:-}" ]; then
		[ "$(id -u "$PF_PIPE_USER" 2>/dev/null)" != 0 ] || { _pf_err "pf_start: PF_PIPE_USER must not be root"; return 1; }
		id "$PF_PIPE_USER" >/dev/null 2>&1 || { _pf_err "pf_start: no user $PF_PIPE_USER"; return 1; }
		printf 'niftp      unix  - n n -    %s pipe\n  flags=%s user=%s argv=%s\n' \
			"${PF_PIPE_MAXPROC:--}" "${PF_PIPE_FLAGS-q}" "$PF_PIPE_USER" "$PF_PIPE_ARGV" >>"$PF_CFG/master.cf"
	fi
	[ -z "${PF_MASTER_EXTRA:-}" ] || printf '%s\n' "$PF_MASTER_EXTRA" >>"$PF_CFG/master.cf"
}

# read one (possibly multi-line) SMTP reply from fd $1 into _pf_code/_pf_text
_pf_reply() {
	local line
	_pf_code="" _pf_text=""
	while IFS= read -r -t "${PF_SMTP_TIMEOUT:-30}" -u "$1" line; do
		line=${line%$'\r'}
		_pf_text=${line:4}
		if [ "${line:3:1}" != "-" ]; then _pf_code=${line:0:3}; return 0; fi
	done
	_pf_code=""; _pf_text="(no reply)"
	return 1
}

_pf_banner_ok() {
	local fd ok=1
	exec {fd}<>"/dev/tcp/$PF_ADDR/$PF_PORT" 2>/dev/null || return 1
	if _pf_reply "$fd" && [ "$_pf_code" = 220 ] && [ "${_pf_text%% *}" = "$PF_HOST" ]; then ok=0; fi
	printf 'QUIT\r\n' 1>&"$fd" 2>/dev/null
	exec {fd}>&-
	return $ok
}

pf_start() {
	local name=${1:?pf_start NAME} i
	[ -z "$PF_DIR" ] || { _pf_err "pf_start: an instance is running already ($PF_DIR)"; return 1; }
	[ "$(id -u)" = 0 ] || { _pf_err "pf_start: needs root (Postfix's master)"; return 1; }
	_pf_installed || { _pf_err "pf_start: Postfix is not installed (pf_install)"; return 1; }
	PF_DOMAIN=${PF_DOMAIN:-pf.test}
	PF_MAIL_USER=${PF_MAIL_USER:-nobody}
	PF_PIPE_USER=${PF_PIPE_USER:-nobody}
	PF_ADDR=127.0.0.1
	PF_DIR=$(mktemp -d "${PF_TMPDIR:-${TMPDIR:-/tmp}}/pf.$name.XXXXXX") || { PF_DIR=""; return 1; }
	chmod 755 "$PF_DIR"	# postfix-owned daemons and the Maildir owner traverse it
	PF_CFG=$PF_DIR/etc PF_QUEUE=$PF_DIR/spool PF_DATA=$PF_DIR/data
	PF_MAIL=$PF_DIR/mail PF_LOG=$PF_DIR/maillog
	PF_HOST="$name-$$.$PF_DOMAIN"
	PF_PORT=$(_pf_pick_port) || { _pf_err "pf_start: no free port"; return 1; }
	_pf_write_config "$name" || { _pf_err "pf_start: writing the configuration failed"; return 1; }
	if ! postfix -c "$PF_CFG" start >/dev/null 2>&1; then
		_pf_err "pf_start: postfix -c $PF_CFG start failed:"
		script -qec "postfix -c $PF_CFG check" /dev/null >&2
		[ -f "$PF_LOG" ] && tail -5 "$PF_LOG" >&2
		return 1
	fi
	for i in $(seq 1 100); do
		[ -s "$PF_QUEUE/pid/master.pid" ] && break
		sleep 0.1
	done
	PF_MASTER_PID=$(tr -d ' \n' <"$PF_QUEUE/pid/master.pid" 2>/dev/null)
	for i in $(seq 1 100); do
		if ! _pf_port_free "$PF_PORT" && _pf_banner_ok; then
			return 0
		fi
		[ -n "$PF_MASTER_PID" ] && ! kill -0 "$PF_MASTER_PID" 2>/dev/null && break
		sleep 0.1
	done
	_pf_err "pf_start: the instance does not answer on $PF_ADDR:$PF_PORT; its maillog:"
	[ -f "$PF_LOG" ] && tail -10 "$PF_LOG" >&2
	return 1
}

pf_stop() {
	[ -n "$PF_DIR" ] || return 0
	local i mp=$PF_MASTER_PID
	[ -n "$mp" ] || mp=$(tr -d ' \n' <"$PF_QUEUE/pid/master.pid" 2>/dev/null)
	if [ -n "$mp" ] && kill -0 "$mp" 2>/dev/null; then
		postfix -c "$PF_CFG" stop >/dev/null 2>&1
		for i in $(seq 1 100); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$mp" 2>/dev/null; then
			_pf_err "pf_stop: master $mp did not stop in 10 s; SIGKILL"
			kill -9 "$mp" 2>/dev/null
		fi
	fi
	if [ "${PF_KEEP:-0}" = 1 ]; then
		_pf_err "pf_stop: kept $PF_DIR"
	else
		rm -rf "$PF_DIR"
	fi
	PF_DIR="" PF_MASTER_PID=""
	return 0
}

# --- use ----------------------------------------------------------------------------

pf_sendmail() {
	[ -n "$PF_DIR" ] || { _pf_err "pf_sendmail: no instance"; return 1; }
	/usr/sbin/sendmail -C "$PF_CFG" "$@"
}

pf_smtp() {
	local from=${1?pf_smtp FROM RCPT...} fd r good=0 line port=${PF_SMTP_PORT:-$PF_PORT}
	shift
	exec {fd}<>"/dev/tcp/${PF_SMTP_ADDR:-$PF_ADDR}/$port" || { _pf_err "pf_smtp: cannot connect to port $port"; return 1; }
	_pf_reply "$fd"; echo "CONNECT $_pf_code $_pf_text"
	[ "$_pf_code" = 220 ] || { exec {fd}>&-; return 1; }
	printf 'EHLO pf-client.test\r\n' >&"$fd"; _pf_reply "$fd"; echo "EHLO $_pf_code"
	printf 'MAIL FROM:<%s>\r\n' "$from" >&"$fd"; _pf_reply "$fd"; echo "MAIL $_pf_code $_pf_text"
	if [ "${_pf_code:0:1}" = 2 ]; then
		for r in "$@"; do
			printf 'RCPT TO:<%s>\r\n' "$r" >&"$fd"; _pf_reply "$fd" || break
			echo "RCPT $r $_pf_code $_pf_text"
			[ "${_pf_code:0:1}" = 2 ] && good=$((good + 1))
		done
	fi
	if [ $good -gt 0 ]; then
		printf 'DATA\r\n' >&"$fd"; _pf_reply "$fd"
		if [ "$_pf_code" = 354 ]; then
			while IFS= read -r line || [ -n "$line" ]; do
				line=${line%$'\r'}
				case "$line" in .*) line=.$line ;; esac
				printf '%s\r\n' "$line"
			done >&"$fd"
			printf '.\r\n' >&"$fd"; _pf_reply "$fd"
		fi
		echo "DATA $_pf_code $_pf_text"
	fi
	printf 'QUIT\r\n' >&"$fd"; _pf_reply "$fd"
	exec {fd}>&-
	[ "$_pf_code" = 221 ]
}

pf_reload() {
	local n
	n=$(pf_log_count 'postfix/master\[[0-9]+\]: reload')
	_pf_postfix reload || return 1
	pf_wait_log 'postfix/master\[[0-9]+\]: reload' $((n + 1)) 10 >/dev/null ||
		{ _pf_err "pf_reload: the master did not log its reload"; return 1; }
}

pf_access() {
	local key tmp
	key=$(_pf_access_key "${1:?pf_access ADDR [ACTION...]}")
	shift
	[ -n "$PF_DIR" ] || { _pf_err "pf_access: no instance"; return 1; }
	tmp=$PF_CFG/rcpt_access.new
	awk -v k="$key" 'tolower($1) != tolower(k)' "$PF_CFG/rcpt_access" >"$tmp"
	[ $# -eq 0 ] || echo "$key $*" >>"$tmp"
	mv "$tmp" "$PF_CFG/rcpt_access" && pf_reload
}

pf_add_user() {
	local u
	[ -n "$PF_DIR" ] || { _pf_err "pf_add_user: no instance"; return 1; }
	u=$(printf '%s' "${1:?pf_add_user USER}" | tr 'A-Z' 'a-z')
	echo "$u@$PF_DOMAIN $u/" >>"$PF_CFG/vmailbox" && pf_reload
}

pf_flush() { postqueue -c "$PF_CFG" -f; }

pf_queue_count() {
	find "$PF_QUEUE/maildrop" "$PF_QUEUE/incoming" "$PF_QUEUE/active" \
		"$PF_QUEUE/deferred" "$PF_QUEUE/hold" -type f 2>/dev/null | wc -l
}

pf_wait_queue_empty() {
	local i
	for i in $(seq 1 $((${1:-30} * 10))); do
		[ "$(pf_queue_count)" = 0 ] && return 0
		sleep 0.1
	done
	_pf_err "pf_wait_queue_empty: $(pf_queue_count) queue files left after ${1:-30} s"
	return 1
}

pf_maildir() { echo "$PF_MAIL/$(printf '%s' "$1" | tr 'A-Z' 'a-z')"; }

pf_wait_maildir() {
	local d i n
	d=$(pf_maildir "$1")/new
	for i in $(seq 1 $((${3:-30} * 10))); do
		n=$(find "$d" -maxdepth 1 -type f 2>/dev/null | wc -l)
		if [ "$n" -ge "${2:-1}" ]; then
			ls -1tr "$d" | sed "s|^|$d/|"
			return 0
		fi
		sleep 0.1
	done
	_pf_err "pf_wait_maildir: $n of ${2:-1} messages in $d after ${3:-30} s"
	return 1
}

pf_log() {
	[ -f "$PF_LOG" ] || return 0
	if [ $# -gt 0 ]; then grep -E -- "$1" "$PF_LOG"; else cat "$PF_LOG"; fi
	return 0
}

pf_log_count() { grep -cE -- "$1" "$PF_LOG" 2>/dev/null || true; }

pf_wait_log() {
	local i
	for i in $(seq 1 $((${3:-30} * 10))); do
		if [ "$(pf_log_count "$1")" -ge "${2:-1}" ]; then
			grep -E -- "$1" "$PF_LOG" | tail -1
			return 0
		fi
		sleep 0.1
	done
	_pf_err "pf_wait_log: $(pf_log_count "$1") of ${2:-1} lines matching /$1/ after ${3:-30} s"
	return 1
}
