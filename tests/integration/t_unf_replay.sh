#!/bin/sh
# t_unf_replay.sh - interworking with unix-niftp 5.6 over rawtcp:, by
# replaying its captured sessions (shared/reference/unix-niftp-sessions.md,
# Appendix A) with build/tools/unfpeer against the real bin/niftp.
#
#  0. self-check: the captured data phases embedded in unfpeer decode to
#     the files in tests/integration/data/.
#  1. unfpeer as unix-niftp's P against "niftp serve --listen rawtcp:":
#     - mail_small: the exact captured bytes; RPOS with EQ/ANY operators
#       only, ER(0), STOPACK 0x2000; the stored file equals the decoded
#       captured letter.
#     - ftp_plain: the captured SFT names "/var/ftp/home/niftp/recv-plain.txt";
#       our server refuses names with '/', so a clean RNEG (0x1xxx), then
#       STOP/STOPACK repeating that state, and nothing stored.
#     - ftp_plain_rel: the same SFT with the relative name recv-plain.txt
#       (re-encoded), user niftp/secret: accepted, stored identical.
#  2. unfpeer as unix-niftp's Q for "niftp put --called ftp.mail":
#     - the captured letter: put prints the captured RPOS's file name
#       "/var/ftp/spool/mail/fvdagxll" and exits 0.
#     - a 41,378-octet letter (the size of the mail_big capture): marks
#       every 2048 octets towards unix-niftp (DESIGN section 6), MR when
#       half the window is due, and an MR between ES and ER, as
#       unix-niftp's Q sends them.
#     - q-fail67: QR(0x21) after ES, the second ES(0x21), ER(0x21),
#       STOP 0x3010, STOPACK "User name unknown": put exits 65 naming
#       the reason.
#
# Each step is bounded (unfpeer --timeout, timeout(1) around put); every
# process started is stopped by the trap; readiness is a bounded poll of
# the ready files.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib.sh"
BIN=$NIFTP
UNF="$top/build/tools/unfpeer"
DATA="$top/tests/integration/data"
t_setup t_unf_replay
need "$BIN" "$UNF"

# stored - the names of the files stored in D (no dot files)
stored() {
	ls "$T/D" | sort
}

# --- 0. the embedded capture against the data files ------------------------------
"$UNF" decode mail_small >"$T/dec" && cmp -s "$T/dec" "$DATA/unf_mail_small.txt" &&
	ok "capture mail_small decodes to data/unf_mail_small.txt" ||
	bad "capture mail_small does not decode to data/unf_mail_small.txt"
"$UNF" decode ftp_plain >"$T/dec" && cmp -s "$T/dec" "$DATA/unf_ftp_plain.txt" &&
	ok "capture ftp_plain decodes to data/unf_ftp_plain.txt" ||
	bad "capture ftp_plain does not decode to data/unf_ftp_plain.txt"

# --- 1. unfpeer plays unix-niftp's P against niftp serve ------------------------------
mkdir -p "$T/D"
serve main -- --listen rawtcp:127.0.0.1:0 --dir "$T/D"
RAW=$addr
echo "server: $RAW"

# p SESSION - run unfpeer p; its stdout in $T/p.out, stderr in $T/p.err
p() {
	"$UNF" p "$RAW" "$1" --timeout 20 >"$T/p.out" 2>"$T/p.err"
}

if p mail_small; then
	n=$(sed -n 's/^name //p' "$T/p.out")
	case "$n" in
	"" | */* | .*) bad "mail_small: assigned name '$n'" ;;
	*)
		if cmp -s "$DATA/unf_mail_small.txt" "$T/D/$n"; then
			ok "P mail_small: RPOS, ER(0), STOPACK 0x2000; D/$n is the captured letter"
		else
			bad "P mail_small: D/$n differs from data/unf_mail_small.txt"
		fi
		;;
	esac
else
	bad "P mail_small: $(cat "$T/p.err")"
fi

before=$(stored)
if p ftp_plain; then
	ok "P ftp_plain: $(cat "$T/p.out") and STOP/STOPACK"
	[ "$(stored)" = "$before" ] && ok "P ftp_plain: nothing stored" ||
		bad "P ftp_plain: the refused transfer stored something"
else
	bad "P ftp_plain: $(cat "$T/p.err")"
fi

if p ftp_plain_rel; then
	n=$(sed -n 's/^name //p' "$T/p.out")
	[ "$n" = recv-plain.txt ] && cmp -s "$DATA/unf_ftp_plain.txt" "$T/D/$n" &&
		ok "P ftp_plain_rel: D/recv-plain.txt is the captured file" ||
		bad "P ftp_plain_rel: name '$n' or content differs"
else
	bad "P ftp_plain_rel: $(cat "$T/p.err")"
fi

[ -n "$(ls -A "$T/D/.niftp/partial" 2>/dev/null)" ] &&
	bad "partial files left: $(ls "$T/D/.niftp/partial")"

# --- 2. unfpeer plays unix-niftp's Q for niftp put ---------------------------------------
# A letter of the mail_big capture's size, 41,378 octets, ending in LF.
{
	printf 'jim@uk.ac.test.q,\nfred@uk.ac.test.q\n\n'
	printf 'From: Alice <alice@uk.ac.test.p>\nTo: jim@uk.ac.test.q\n'
	printf 'Subject: a longer letter\n\n'
	awk 'BEGIN { for (i = 1; i <= 900; i++)
		printf "Line %d of a longer letter: %s\n", i, substr("the quick brown fox jumps over the lazy dog", 1, 1 + i % 43) }'
} | head -c 41377 >"$T/big.txt"
echo >>"$T/big.txt"
[ "$(wc -c <"$T/big.txt")" -eq 41378 ] || die "could not make the 41,378-octet letter"

# q MODE FILE - unfpeer MODE as Q, niftp put FILE to it; sets qrc and putrc
q() {
	rm -f "$T/qready"
	"$UNF" "$1" --listen rawtcp:127.0.0.1:0 --ready-file "$T/qready" --expect-file "$2" \
		--timeout 20 >"$T/q.out" 2>"$T/q.err" &
	qpid=$!
	pids="$pids $qpid"
	if ! wait_ready "$T/qready"; then
		qrc=1
		putrc=1
		stop "$qpid"
		echo "    unfpeer $1 not ready: $(cat "$T/q.err")"
		return
	fi
	timeout 30 "$BIN" put -q --retries 1 --retry-wait 1 --called ftp.mail "$2" \
		"$(cat "$T/qready")" >"$T/put.out" 2>"$T/put.err"
	putrc=$?
	wait "$qpid"
	qrc=$?
	forget "$qpid"
}

q q "$DATA/unf_mail_small.txt"
if [ $qrc -eq 0 ] && [ $putrc -eq 0 ] && [ "$(cat "$T/put.out")" = /var/ftp/spool/mail/fvdagxll ]; then
	ok "Q mail_small: put accepted the captured RPOS and printed its name ($(cat "$T/q.out"))"
else
	bad "Q mail_small: unfpeer exit $qrc, put exit $putrc, put printed '$(cat "$T/put.out")'"
	sed 's/^/    /' "$T/q.err" "$T/put.err" | head -8
fi

q q "$T/big.txt"
if [ $qrc -eq 0 ] && [ $putrc -eq 0 ] && [ "$(cat "$T/put.out")" = /var/ftp/spool/mail/fvdagxll ]; then
	ok "Q 41,378-octet letter: $(cat "$T/q.out")"
	# 20 marks every 2048 octets; MR(0x11) at the 17th, MR(0x14) between ES and ER.
	grep -q "20 marks every 2048 octets, 2 MR" "$T/q.out" &&
		ok "Q 41,378-octet letter: marks every 2048 octets, MR(0x11) and MR(0x14) before ER" ||
		bad "Q 41,378-octet letter: want 20 marks every 2048 octets and 2 MR: $(cat "$T/q.out")"
else
	bad "Q 41,378-octet letter: unfpeer exit $qrc, put exit $putrc, put printed '$(cat "$T/put.out")'"
	sed 's/^/    /' "$T/q.err" "$T/put.err" | head -8
fi

q q-fail67 "$DATA/unf_mail_small.txt"
if [ $qrc -eq 0 ] && [ $putrc -eq 65 ] && grep -q "User name unknown" "$T/put.err"; then
	ok "Q mail_fail67: QR(0x21), ES(0x21), ER(0x21), STOP 0x3010; put exit 65: $(cat "$T/put.err")"
else
	bad "Q mail_fail67: unfpeer exit $qrc, put exit $putrc (want 65 naming \"User name unknown\")"
	sed 's/^/    /' "$T/q.err" "$T/put.err" | head -8
fi
[ -s "$T/put.out" ] && bad "Q mail_fail67: put printed a name on a failure: $(cat "$T/put.out")"

t_finish "$T/serve.main.err"
