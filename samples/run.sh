#!/bin/sh
# run.sh - demonstrate niftp on loopback (make run; make run KEEP=1).
#
# Starts "niftp serve" on loopback TCP (port 0: the kernel picks one; the
# bound addresses come back in a ready file) and on a Unix socket, both in
# a fresh temporary directory. Puts each file of samples/files/ over each
# transport (files not ending in .txt go --binary), gets it back by the
# name the server assigned, and says whether the round trip is identical.
# Then stops the server. Exit 0 only if every round trip was identical.
#
# KEEP=1 leaves the server running and prints how to use and stop it.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
BIN="$top/bin/niftp"
FILES="$top/samples/files"
KEEP=${KEEP:-0}
[ -x "$BIN" ] || { echo "run: $BIN is not built (make all)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/niftp-demo.XXXXXX") || exit 1
spid=""

cleanup() {
	if [ -n "$spid" ] && [ "$KEEP" != 1 ]; then
		kill -TERM "$spid" 2>/dev/null
		i=0
		while kill -0 "$spid" 2>/dev/null && [ $i -lt 200 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		kill -KILL "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	[ "$KEEP" = 1 ] && [ -n "$spid" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mkdir -p "$T/srv"
# The server's output goes to files, so that with KEEP=1 it holds no pipe of make's.
"$BIN" serve --listen tcp:127.0.0.1:0 --listen "unix:$T/niftp.sock" --dir "$T/srv" \
	--ready-file "$T/ready" --log "$T/serve.log" </dev/null >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
i=0
while [ ! -s "$T/ready" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$spid" 2>/dev/null; then
		echo "run: the server did not start:" >&2
		cat "$T/serve.err" >&2
		exit 1
	fi
	sleep 0.05
done
TCP=$(sed -n 1p "$T/ready")
UNIX=$(sed -n 2p "$T/ready")
echo "niftp serve (pid $spid) on $TCP and $UNIX, storing in $T/srv"
echo

fails=0
n=0
for addr in "$TCP" "$UNIX"; do
	for f in "$FILES"/*; do
		[ -f "$f" ] || continue
		base=$(basename "$f")
		case "$base" in
		*.txt) opt="" ;;
		*) opt="--binary" ;;
		esac
		n=$((n + 1))
		via=${addr%%:*}
		# shellcheck disable=SC2086
		if ! name=$(timeout 60 "$BIN" put -q $opt "$f" "$addr" 2>"$T/err"); then
			printf '%-5s %-11s put failed: %s\n' "$via" "$base" "$(head -1 "$T/err")"
			fails=$((fails + 1))
			continue
		fi
		rm -f "$T/back"
		# shellcheck disable=SC2086
		if ! timeout 60 "$BIN" get -q $opt "$addr" "$name" "$T/back" 2>"$T/err"; then
			printf '%-5s %-11s -> %-22s get failed: %s\n' "$via" "$base" "$name" \
				"$(head -1 "$T/err")"
			fails=$((fails + 1))
			continue
		fi
		if cmp -s "$f" "$T/back"; then
			result="identical"
		else
			result="DIFFERS"
			fails=$((fails + 1))
		fi
		printf '%-5s %-11s -> %-22s round trip %s\n' "$via" "$base" "$name" "$result"
	done
done
echo
if [ $fails -eq 0 ]; then
	echo "run: all $n round trips identical"
else
	echo "run: $fails of $n round trips failed"
fi

if [ "$KEEP" = 1 ]; then
	echo
	echo "The server is still running (KEEP=1):"
	echo "  pid      $spid"
	echo "  listens  $TCP  and  $UNIX"
	echo "  files    $T/srv   (log: $T/serve.log)"
	echo "Try by hand:"
	echo "  $BIN put $FILES/letter.txt $TCP"
	echo "  $BIN get $TCP NAME /tmp/copy.txt          (NAME as printed by put)"
	echo "  $BIN put --binary $FILES/sample.bin $UNIX"
	echo "Stop it with:"
	echo "  kill $spid; rm -rf $T"
fi
[ $fails -eq 0 ]
