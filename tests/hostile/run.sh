#!/usr/bin/env bash
# tests/hostile/run.sh [BINARY] - the hostile fake API server suite (tests/hostile/hostile.py)
# against BINARY (default build/pizza-controller; build/asan/pizza-controller works the same, and
# PIZZA_SANITIZER=1 marks a sanitizer build whose RSS checks are skipped).
# Needs python3 (standard library) and openssl; loopback only. HOSTILE_JOBS=N cases at a time
# (default 5), HOSTILE_KEEP=1 keeps the work folder; --case NAME[,NAME] and --list pass through.
# Prints one ok/FAIL line per check and ends with "hostile: N passed, N failed"; exits 1 on a failure.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/build/pizza-controller}
[ $# -gt 0 ] && shift
for tool in python3 openssl; do
  command -v "$tool" >/dev/null || { echo "hostile: $tool is missing"; echo "hostile: 0 passed, 1 failed"; exit 1; }
done
# The runner kills its case processes on TERM/INT, and each case its controller and prober
# (they also die with their parent through PR_SET_PDEATHSIG); this trap forwards the signal.
# A sanitizer build: no leak check at exit (see tests/e2e/lib.sh: LeakSanitizer's tracer can hang
# an exiting process); memory errors and undefined behaviour still abort with a report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; exit 130' INT TERM
python3 "$ROOT/tests/hostile/hostile.py" "$@" "$BIN" &
PID=$!
wait "$PID"
RC=$?
PID=
exit "$RC"
