#!/usr/bin/env bash
# The local demo: a real control plane, the CRD and RBAC applied, the controller running under its
# own service-account identity, and order-123 baked before your eyes.
#   bash tests/demo.sh          (DEMO_KEEP=1 leaves everything running until Ctrl-C)
# There is no kubelet in this local control plane (no node runs Pods), so the demo plays the
# kubelet's part: it marks the oven Pod Running, then Succeeded, through the pods/status API,
# exactly as a kubelet reports a Pod that started and finished.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# Any failure says which step failed and exits non-zero (set -e alone stops without a word).
STEP="start"
trap 'rc=$?; [ "$rc" -ne 0 ] && printf "demo: FAILED (exit %s) while: %s\n" "$rc" "$STEP" >&2; exit "$rc"' EXIT
# The tools the demo itself calls, before anything uses them (a minimal Debian has none).
STEP="installing curl and openssl"
need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
STEP="build dependencies (vendor/build-deps.sh)"
bash vendor/build-deps.sh build
STEP="building the controller"
make -s build/pizza-controller
BIN=$ROOT/build/pizza-controller
. tests/cp/lib.sh
WORK=$(mktemp -d /tmp/pizza-demo.XXXXXX)
CTL_PID=
cleanup() {
  local rc=$?
  [ -n "$CTL_PID" ] && { kill "$CTL_PID" 2>/dev/null || true; }
  cp_down "$WORK/cp"; rm -rf "$WORK"
  [ "$rc" -ne 0 ] && printf 'demo: FAILED (exit %s) while: %s\n' "$rc" "$STEP" >&2
  exit "$rc"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting etcd and kube-apiserver (the first run builds kube-apiserver from Debian's source: minutes)"
STEP="starting the control plane (tests/cp)"
cp_up "$WORK/cp"
. "$WORK/cp/env"
K() { $KUBECTL "$@"; }
say "kubectl apply -k deploy/   (CRD, namespace, RBAC, Deployment: as the README says)"
STEP="kubectl apply -k deploy/"
cp_apply_deploy "$WORK/cp" deploy
STEP="running the controller and baking order-123"

say "starting pizza-controller ($(stat -c %s "$BIN") bytes, static) as system:serviceaccount:pizza-system:pizza-controller"
MPORT=$(cp_free_port)
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
  "$BIN" --service-account-dir "$WORK/cp/sa" --metrics-bind-address "127.0.0.1:$MPORT" --health-probe-bind-address 0 --bake-seconds 2 \
  > "$WORK/controller.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null && break; sleep 0.2; done
head -1 "$WORK/controller.log"

say "kubectl apply -f crd/samples/sample-order.yaml"
K apply -f crd/samples/sample-order.yaml
for _ in $(seq 1 50); do K get pod order-123-oven >/dev/null 2>&1 && break; sleep 0.2; done
sleep 0.5
K get pizzaorders
K get pods -l app.kubernetes.io/managed-by=pizza-controller

kubelet() {
  curl -s -o /dev/null --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/merge-patch+json' -X PATCH --data "{\"status\":{\"phase\":\"$1\"}}" \
    "https://127.0.0.1:$CP_PORT/api/v1/namespaces/default/pods/order-123-oven/status"
}
wait_phase() { for _ in $(seq 1 50); do [ "$(K get pizzaorder order-123 -o 'jsonpath={.status.phase}')" = "$1" ] && return 0; sleep 0.2; done; return 1; }

say "the oven starts (playing the kubelet: Pod Running)"
kubelet Running
wait_phase Baking || { echo "demo: order-123 never reached Baking" >&2; exit 1; }
K get pizzaorders
sleep 2
say "the oven finishes (playing the kubelet: Pod Succeeded)"
kubelet Succeeded
wait_phase Ready || { echo "demo: order-123 never reached Ready" >&2; exit 1; }
K get pizzaorders -o wide
echo
K get pizzaorder order-123 -o jsonpath='{.status.message}{"\n"}'

say "what the controller logged"
cat "$WORK/controller.log"
say "its memory: $(awk '/^VmHWM/ {print $2, $3}' /proc/$CTL_PID/status) peak resident"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo "Everything keeps running. In another shell: . $WORK/cp/env; \$KUBECTL get pizzaorders"
  echo "Ctrl-C to stop."
  wait "$CTL_PID"
fi
