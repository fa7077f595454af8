#!/usr/bin/env bash
# run-unit.sh - runs each unit test binary given as an argument (from the repository root: the tests
# read tests/data) and sums the "NAME: N passed, N failed" line each prints through check_done().
#
# A binary that dies without that line (ASan/UBSan abort, signal, timeout, missing) counts as one
# failure; so does one that exits non-zero while its line claims no failure (LeakSanitizer reports
# at exit, after the line). The last line printed is exactly "unit: N passed, N failed"; the exit
# status is non-zero when anything failed.
#
#   bash tests/run-unit.sh build/test/test_*        PZ_UNIT_TIMEOUT=600 (seconds per binary)
set -u

here=$(cd "$(dirname "$0")" && pwd)
export PZ_TEST_DATA="${PZ_TEST_DATA:-$here/data}"
# The tests are built with -fno-sanitize-recover: a report ends the binary. Say where it was.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
timeout_s="${PZ_UNIT_TIMEOUT:-600}"

passed=0
failed=0
broken=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
	name=$(basename "$bin")
	echo "== $name"
	if [ ! -x "$bin" ]; then
		echo "$name: not an executable file"
		failed=$((failed + 1))
		broken+=("$name (missing)")
		continue
	fi
	# stdout through tee for the summary line; stderr (check failures, sanitizer reports) as is.
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 10 "$timeout_s" "$bin" | tee "$out"
		rc=${PIPESTATUS[0]}
	else
		"$bin" | tee "$out"
		rc=${PIPESTATUS[0]}
	fi
	line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="timed out after ${timeout_s}s"; else why="exit status $rc"; fi
		echo "$name: CRASHED before its summary ($why), counted as 1 failure"
		failed=$((failed + 1))
		broken+=("$name ($why)")
		continue
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")
	f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exit status $rc after reporting no failure (sanitizer at exit?), counted as 1 failure"
		failed=$((failed + 1))
		broken+=("$name (exit status $rc)")
	elif [ "$f" -ne 0 ]; then
		broken+=("$name ($f failed)")
	fi
done

if [ "$#" -eq 0 ]; then
	echo "run-unit.sh: no test binaries given" >&2
	failed=$((failed + 1))
fi
for b in ${broken[@]+"${broken[@]}"}; do
	echo "FAILED: $b"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
