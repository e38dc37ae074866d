#!/bin/sh
# run-unit.sh - run every CUnit test binary in BUILD/tests; fail if any fails.
b=${1:-build}
fail=0; n=0
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$((n + 1))
	if ! timeout 300 "$t" >"$t.log" 2>&1; then
		echo "unit: FAIL $t (log: $t.log)"; tail -30 "$t.log"; fail=1
	else
		echo "unit: ok   $t ($(awk '$1 == "asserts" {print $4 "/" $2 " asserts"}' "$t.log"))"
	fi
done
[ "$n" -gt 0 ] || { echo "unit: no test binaries in $b/tests"; exit 1; }
exit $fail
