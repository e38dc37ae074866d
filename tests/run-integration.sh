#!/bin/sh
# run-integration.sh - run every tests/integration/*.sh with a time bound.
# Each script starts real processes on loopback in its own temporary
# directory and stops what it started. Exit 0 only if every script passed.
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for t in "$top"/tests/integration/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	log="$top/build/integration-$name.log"
	mkdir -p "$top/build"
	start=$(date +%s)
	if timeout 300 sh "$t" >"$log" 2>&1; then
		echo "integration: ok   $name ($(( $(date +%s) - start ))s)"
	else
		echo "integration: FAIL $name (log: $log)"; tail -40 "$log"; fail=1
	fi
done
exit $fail
