#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). On a fresh Debian 12 machine it
# installs what it needs, builds, and runs: unit tests under ASan+UBSan, fuzz smoke runs, size and
# scratch-image budgets, and the end-to-end tests against a real kube-apiserver (built once, cached).
#   bash tests/check.sh            (FUZZ_SECONDS=10 by default here; E2E=0 skips the e2e step and
#                                   the install/deploy steps; CONTAINER=0, FRESH_MACHINE=0 skip one)
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export FUZZ_SECONDS=${FUZZ_SECONDS:-10}
LOGDIR=$(mktemp -d /tmp/pizza-check.XXXXXX)
PASS=0; FAIL=0; STEPS_FAILED=()

step() { # NAME CMD...
  local name=$1; shift
  echo "=== $name"
  "$@" 2>&1 | tee "$LOGDIR/$name.log"
  local rc=${PIPESTATUS[0]}
  # each runner ends with "<name>: N passed, N failed"
  local line
  line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$LOGDIR/$name.log" | tail -1)
  if [ -n "$line" ]; then
    PASS=$((PASS + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    FAIL=$((FAIL + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
  fi
  if [ "$rc" -ne 0 ]; then
    STEPS_FAILED+=("$name")
    [ -z "$line" ] && FAIL=$((FAIL + 1))
  fi
}

echo "=== dependencies"
bash tests/install-test-deps.sh || { echo "check: 0 passed, 1 failed"; exit 1; }
bash vendor/build-deps.sh build || { echo "check: 0 passed, 1 failed"; exit 1; }
step build make -j2 build/pizza-controller
step unit make -j2 unit
step fuzz make -j2 fuzz-smoke
step budgets make budgets
step replay make replay-budget
if [ "${E2E:-1}" = 1 ]; then
  step control-plane bash tests/cp/build.sh
  step e2e bash tests/e2e/run.sh build/pizza-controller
  step e2e-loop bash tests/e2e/loop.sh build/pizza-controller
  step e2e-kubeconfig bash tests/e2e/kubeconfig.sh build/pizza-controller
  step e2e-faults bash tests/e2e/faults.sh build/pizza-controller
  # The same suites again with the whole controller built with ASan+UBSan (make asan, issue 10):
  # any sanitizer report in a controller's log fails the suite (tests/e2e/lib.sh); memory budgets
  # are skipped there, and say so. Measured here: about 7 minutes for the four.
  step asan-build make -j2 build/asan/pizza-controller
  step e2e-asan bash tests/e2e/run.sh build/asan/pizza-controller
  step e2e-loop-asan bash tests/e2e/loop.sh build/asan/pizza-controller
  step e2e-kubeconfig-asan bash tests/e2e/kubeconfig.sh build/asan/pizza-controller
  step e2e-faults-asan bash tests/e2e/faults.sh build/asan/pizza-controller
  # A hostile fake API server over real TLS (issue 10): 12 classes of attack, each case checked for
  # no crash or sanitizer report, bounded RSS, probes within 1 s, the request-rate ceiling, nothing
  # injected on the wire, parseable logs, and convergence once the server turns sane. Both builds:
  # the product for its memory, the sanitizer build for its reports. About 100 s each.
  step hostile bash tests/hostile/run.sh build/pizza-controller
  step hostile-asan bash tests/hostile/run.sh build/asan/pizza-controller
  # Install and deploy as users do (issue 7). Measured on this 2-core machine while shared
  # (load 10-70): arm64 13 s (+ its BearSSL once); container: `make image` 629 s for amd64 alone
  # (the build stage installs Debian packages and builds BearSSL, as a user's would), so about
  # twice that for amd64+arm64, plus the mmdebstrap build base once; the runc part about a minute.
  # fresh-machine: mmdebstrap alone took 430 s; FRESH=quick (control-plane cache from the host)
  # is not yet timed. The full, cold run (kube-apiserver built inside) is run by hand:
  # `bash tests/fresh-machine.sh`. Inside the fresh root (PIZZA_FRESH_INSIDE=1) the two that need
  # a container runtime or mmdebstrap themselves are skipped: the host runs them.
  step arm64 bash tests/arm64.sh
  if [ "${PIZZA_FRESH_INSIDE:-0}" != 1 ]; then
    [ "${CONTAINER:-1}" = 1 ] && step container bash tests/container.sh
    [ "${FRESH_MACHINE:-1}" = 1 ] && step fresh-machine env FRESH=quick bash tests/fresh-machine.sh
  fi
fi
echo
if [ ${#STEPS_FAILED[@]} -gt 0 ]; then
  echo "failed steps: ${STEPS_FAILED[*]} (logs in $LOGDIR)"
fi
echo "check: $PASS passed, $FAIL failed"
[ ${#STEPS_FAILED[@]} -eq 0 ] && [ "$FAIL" -eq 0 ]
