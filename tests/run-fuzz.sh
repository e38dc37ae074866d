#!/bin/sh
# run-fuzz.sh SECONDS BIN... - run each libFuzzer target for SECONDS from its
# seed corpus (tests/fuzz/corpus/NAME, if any). Fail on any crash.
secs=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for bin in "$@"; do
	name=$(basename "$bin")
	seeds="$top/tests/fuzz/corpus/$name"
	work="$top/build-fuzz/corpus-$name"
	mkdir -p "$work"
	[ -d "$seeds" ] && set -- "$work" "$seeds" || set -- "$work"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$top/build-fuzz/$name-" "$@" >"$top/build-fuzz/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$top/build-fuzz/$name.log")
		echo "fuzz: ok   $name (${runs:-?} inputs in ${secs}s, no crash)"
	else
		echo "fuzz: FAIL $name (log: build-fuzz/$name.log)"; tail -30 "$top/build-fuzz/$name.log"; fail=1
	fi
done
exit $fail
