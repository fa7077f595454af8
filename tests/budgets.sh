#!/usr/bin/env bash
# Size budgets of the shipped binary, and the FROM-scratch check: the binary must run alone in an
# empty root (what Dockerfile.scratch ships), with no cluster and no files around it.
#   tests/budgets.sh build/pizza-controller
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/e2e/lib.sh"
. "$ROOT/tests/budgets.env"
BIN=$1
SIZE=$(stat -c %s "$BIN")
echo "  stripped binary: $SIZE bytes (budget $BUDGET_BINARY_BYTES)"
t_check "stripped binary within budget" test "$SIZE" -le "$BUDGET_BINARY_BYTES"
t_check "file says: statically linked" bash -c "file '$BIN' | grep -q 'statically linked'"
t_check "no dynamic section or interpreter" bash -c "! readelf -l '$BIN' | grep -q -E 'INTERP|DYNAMIC'"

# An empty root holding nothing but the binary, as in the scratch image.
JAIL=$(mktemp -d /tmp/pizza-scratch.XXXXXX)
cp "$BIN" "$JAIL/pizza-controller"
in_jail() { unshare --mount --pid --fork --root="$JAIL" /pizza-controller "$@"; }
if unshare --mount --pid --fork --root="$JAIL" /pizza-controller --version >/dev/null 2>&1; then
  t_check "--version runs in an empty root" bash -c "$(declare -f in_jail); JAIL='$JAIL' in_jail --version | grep -q '^pizza-controller '"
  t_check "--help runs in an empty root" bash -c "$(declare -f in_jail); JAIL='$JAIL' in_jail --help | grep -q -- '--max-orders'"
  out=$(in_jail 2>&1); rc=$?
  t_check "with no configuration it says so and exits 1" test "$rc" = 1 -a -n "$(echo "$out" | grep 'no configuration')"
else
  # unshare needs privileges; chroot is the fallback on machines that refuse it.
  t_check "--version runs in an empty root (chroot)" bash -c "chroot '$JAIL' /pizza-controller --version | grep -q '^pizza-controller '"
  t_check "--help runs in an empty root (chroot)" bash -c "chroot '$JAIL' /pizza-controller --help | grep -q -- '--max-orders'"
fi
rm -rf "$JAIL"
t_summary budgets
