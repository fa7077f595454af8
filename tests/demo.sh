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
bash vendor/build-deps.sh build
command -v make >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make gcc >&2; }
command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2; }
make -s build/pizza-controller
BIN=$ROOT/build/pizza-controller
. tests/cp/lib.sh
WORK=$(mktemp -d /tmp/pizza-demo.XXXXXX)
CTL_PID=
cleanup() { [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null; cp_down "$WORK/cp"; rm -rf "$WORK"; }
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting etcd and kube-apiserver (the first run builds kube-apiserver from Debian's source: minutes)"
cp_up "$WORK/cp"
. "$WORK/cp/env"
K() { $KUBECTL "$@"; }
say "applying the CRD and the controller's RBAC (deploy/)"
K apply -f crd/pizzaorders.yaml
K wait --for=condition=Established crd/pizzaorders.pizzeria.example.com --timeout=30s >/dev/null
K apply -f deploy/namespace.yaml -f deploy/serviceaccount.yaml -f deploy/rbac.yaml

say "starting pizza-controller ($(stat -c %s "$BIN") bytes, static) as system:serviceaccount:pizza-system:pizza-controller"
MPORT=$(cp_free_port)
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
  "$BIN" --service-account-dir "$WORK/cp/sa" --metrics-bind-address "127.0.0.1:$MPORT" --bake-seconds 2 \
  > "$WORK/controller.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$MPORT/readyz" >/dev/null && break; sleep 0.2; done
head -1 "$WORK/controller.log"

say "kubectl apply -f crd/sample-order.yaml"
K apply -f crd/sample-order.yaml
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
wait_phase Baking
K get pizzaorders
sleep 2
say "the oven finishes (playing the kubelet: Pod Succeeded)"
kubelet Succeeded
wait_phase Ready
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
