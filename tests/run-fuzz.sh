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
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$top/build-fuzz/$name-" "$@" >"$top/build-fuzz/$name.log" 2>&1; then
		echo "fuzz: ok   $name ($(grep -c . "$top/build-fuzz/$name.log") log lines, ${secs}s)"
	else
		echo "fuzz: FAIL $name (log: build-fuzz/$name.log)"; tail -30 "$top/build-fuzz/$name.log"; fail=1
	fi
done
exit $fail
