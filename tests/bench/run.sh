#!/bin/sh
# run.sh - run every tests/bench/bench_*.sh (make bench). Benchmarks print
# figures with the raw limits measured in the same run; they report and do
# not pass or fail, so this exits 0 unless a benchmark could not run.
top=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
for b in "$top"/tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	timeout 900 sh "$b" || { echo "bench: $(basename "$b") could not run (exit $?)"; rc=1; }
done
exit $rc
