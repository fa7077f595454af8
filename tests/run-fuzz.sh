#!/usr/bin/env bash
# run-fuzz.sh - bounded libFuzzer runs of the fuzz targets given as arguments (build/fuzz/fuzz_X).
#
# Each target runs for FUZZ_SECONDS (default 20) on a copy of tests/fuzz/corpus/fuzz_X/, in a
# temporary directory: the repository is never written, so this works from a clean clone and new
# corpus entries are thrown away. A target passes when libFuzzer exits 0: no crash, sanitizer report,
# leak, timeout or memory blow-up. On a failure the reproducer is kept and its path printed.
# The last line is always "fuzz: N passed, N failed"; the exit status is non-zero on any failure.
#
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_KEEP      directory to keep failing inputs in (default: a temporary one, printed)
set -u

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pz-fuzz.XXXXXX")
keep=${FUZZ_KEEP:-}
passed=0
failed=0

cleanup() { rm -rf "$work"; }
trap cleanup EXIT

if [ $# -eq 0 ]; then
	echo "usage: $0 build/fuzz/fuzz_X ..." >&2
	echo "fuzz: 0 passed, 0 failed"
	exit 2
fi

for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$work/$name/corpus"
	artifacts="$work/$name/artifacts"
	log="$work/$name/log"
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$root/tests/fuzz/corpus/$name" ]; then
		cp -R "$root/tests/fuzz/corpus/$name/." "$corpus/"
	fi
	if [ ! -x "$bin" ]; then
		echo "$name: FAIL (no such binary: $bin)"
		failed=$((failed + 1))
		continue
	fi
	# -max_total_time bounds the run; -timeout catches a hang in one input, -rss_limit_mb a leak
	# that grows. Output goes to a log: it is shown only when the target fails.
	"$bin" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "$name: ok, ${execs:-0} executions (${rate:-0}/s) in ${FUZZ_SECONDS}s"
		passed=$((passed + 1))
	else
		echo "$name: FAIL (exit $rc) after ${execs:-?} executions"
		# The report, then the stack frames inside our code (libFuzzer's and libc's are noise).
		{ grep -E '^(==[0-9]+== ?ERROR|SUMMARY|.*invariant broken|.*runtime error)' "$log" | head -n 4
		  grep -E '^[[:space:]]+#[0-9]+ .* in .*(/src/|/tests/fuzz/)' "$log" | head -n 8; } | sed 's/^[[:space:]]*/    /'
		dest=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/pz-fuzz-crash.XXXXXX")}
		mkdir -p "$dest"
		for a in "$artifacts"/*; do
			[ -e "$a" ] || continue
			cp "$a" "$dest/$name-$(basename "$a")"
			echo "    reproducer: $dest/$name-$(basename "$a")  (run: $bin $dest/$name-$(basename "$a"))"
		done
		cp "$log" "$dest/$name.log"
		echo "    full log: $dest/$name.log"
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
