#!/usr/bin/env bash
# run.sh - run every tests/postfix/t_*.sh against a private Postfix
# instance (issue 11, item 3; make check-postfix). Installs Postfix first
# when it is missing (pf_install: fails, and says why, when it cannot),
# then runs each script under timeout(1) (PF_TEST_TIMEOUT seconds, 110),
# its output in build/postfix-NAME.log. Needs root. Exit 0 only if every
# script passed.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/postfix/lib-postfix.sh"
mkdir -p "$top/build"

if [ "$(id -u)" != 0 ] && [ "${PF_SKIP_NONROOT:-0}" = 1 ]; then
	# make check as an ordinary user: said, not hidden (make check-postfix fails)
	echo "postfix: SKIPPED: needs root (a private Postfix's master runs as root); run make check-postfix as root"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "postfix: FAIL needs root (a private Postfix's master runs as root; apt-get installs it)"
	exit 1
fi
start=$(date +%s)
if ! out=$(pf_install 2>&1); then
	echo "postfix: FAIL Postfix is not available:"
	printf '%s\n' "$out" | sed 's/^/  /'
	exit 1
fi
[ -z "$out" ] || echo "postfix: $out"

fail=0 n=0
for t in "$top"/tests/postfix/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	log="$top/build/postfix-$name.log"
	s=$(date +%s)
	n=$((n + 1))
	if timeout -k 10 "${PF_TEST_TIMEOUT:-110}" bash "$t" >"$log" 2>&1; then
		echo "postfix: ok   $name ($(($(date +%s) - s))s)"
	else
		echo "postfix: FAIL $name (log: $log)"; tail -40 "$log"; fail=1
	fi
done
[ $n -gt 0 ] || { echo "postfix: FAIL no tests/postfix/t_*.sh"; exit 1; }
echo "postfix: $n scripts in $(($(date +%s) - start))s"
exit $fail
