#!/usr/bin/env bash
# The arm64 build, for real: `make ARCH=arm64` cross-builds the static binary (Debian's
# gcc-aarch64-linux-gnu + musl-dev:arm64), it must fit the same size budget as the host binary,
# and run under qemu-user against the real API server (tests/cp) as its service account: an order
# is baked end to end (the test plays the kubelet through pods/status, as tests/e2e does).
#   bash tests/arm64.sh            (needs qemu-user-static or qemu-user: tests/install-test-deps.sh)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/cp/lib.sh
. tests/e2e/lib.sh
. tests/budgets.env
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$QEMU" ]; then
  echo "arm64: qemu-aarch64 not found (Debian package qemu-user-static; tests/install-test-deps.sh installs it)"
  echo "arm64: 0 passed, 1 failed"; exit 1
fi
WORK=$(mktemp -d /tmp/pizza-arm64.XXXXXX)
CTL_PID=
cleanup() {
  [ -n "$CTL_PID" ] && { kill "$CTL_PID" 2>/dev/null || true; }
  cp_down "$WORK/cp"
  if [ "$T_FAIL" -ne 0 ]; then echo "arm64: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== make ARCH=arm64"
t_check "cross-build succeeds" make -s ARCH=arm64
BIN=$ROOT/build/arm64/pizza-controller
t_check "it is a static arm64 ELF" bash -c "file '$BIN' | grep -q 'ARM aarch64.*statically linked'"
SIZE=$(stat -c %s "$BIN" 2>/dev/null || echo 0)
TEXT=$(aarch64-linux-gnu-size "$ROOT/build/arm64/pizza-controller.debug" 2>/dev/null | awk 'NR == 2 { print $1 + $2 }')
echo "  arm64 binary: $SIZE bytes, code and data $TEXT bytes (budget $BUDGET_BINARY_BYTES, the same as amd64's)"
t_check "within the binary size budget" test "$SIZE" -gt 0 -a "$SIZE" -le "$BUDGET_BINARY_BYTES"
# Segments stay 64 KiB aligned, so the binary also loads on 64 KiB-page arm64 kernels.
t_check "its segments are 64 KiB aligned (runs on 64 KiB-page kernels)" bash -c \
  "aarch64-linux-gnu-readelf -lW '$BIN' | awk '\$1 == \"LOAD\" { n++; if (\$NF != \"0x10000\") bad = 1 } END { exit !(n >= 2 && !bad) }'"
t_check "runs under $(basename "$QEMU")" bash -c "'$QEMU' '$BIN' --version | grep -q '^pizza-controller '"

echo "== against the real API server, under qemu"
cp_up "$WORK/cp" || { echo "arm64: control plane failed to start"; echo "arm64: $T_PASS passed, $((T_FAIL + 1)) failed"; exit 1; }
. "$WORK/cp/env"
apply_deploy() { cp_apply_deploy "$WORK/cp" "$ROOT/deploy" >/dev/null; }
t_check "kubectl apply -k deploy/" apply_deploy
MPORT=$(cp_free_port)
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
  "$QEMU" "$BIN" --service-account-dir "$CP_DIR/sa" --metrics-bind-address "127.0.0.1:$MPORT" --health-probe-bind-address 0 \
  --bake-seconds 1 >"$WORK/controller.log" 2>&1 &
CTL_PID=$!
t_check "becomes ready (TLS to the API server, initial lists)" wait_for 30 curl -sf "http://127.0.0.1:$MPORT/readyz"
$KUBECTL apply -f crd/samples/sample-order.yaml >/dev/null
t_check "creates the oven Pod" wait_for 20 $KUBECTL get pod order-123-oven
phase() { [ "$($KUBECTL get pizzaorder order-123 -o 'jsonpath={.status.phase}' 2>/dev/null)" = "$1" ]; }
kubelet() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/merge-patch+json' -X PATCH --data "{\"status\":{\"phase\":\"$1\"}}" \
    "https://127.0.0.1:$CP_PORT/api/v1/namespaces/default/pods/order-123-oven/status" | grep -q 200
}
t_check "order Pending" wait_for 20 phase Pending
kubelet Running
t_check "Pod Running -> order Baking" wait_for 20 phase Baking
kubelet Succeeded
t_check "Pod Succeeded -> order Ready (baked on arm64)" wait_for 20 phase Ready
kill -TERM "$CTL_PID" 2>/dev/null
t_check "stops on SIGTERM" wait_for 10 bash -c "! kill -0 $CTL_PID 2>/dev/null"
CTL_PID=
t_summary arm64
