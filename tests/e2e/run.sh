#!/usr/bin/env bash
# End-to-end tests against a real etcd and kube-apiserver (tests/cp), with RBAC on and the
# controller running under exactly deploy/rbac.yaml's ClusterRole, as its service account.
#   tests/e2e/run.sh path/to/pizza-controller
# Set E2E_KEEP=1 to leave the control plane and logs in place for a look.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/cp/lib.sh"
. "$ROOT/tests/e2e/lib.sh"
san_detect "$BIN"
. "$ROOT/tests/budgets.env"
WORK=$(mktemp -d /tmp/pizza-e2e.XXXXXX)
CTL_PID=
cleanup() {
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null
  cp_down "$WORK/cp"
  if [ "${E2E_KEEP:-0}" = 1 ] || [ "$T_FAIL" -ne 0 ]; then
    echo "e2e: logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

echo "== control plane"
cp_up "$WORK/cp" || { echo "e2e: control plane failed to start"; echo "e2e: 0 passed, 1 failed"; exit 1; }
. "$WORK/cp/env"
K() { $KUBECTL "$@"; }
API="https://127.0.0.1:$CP_PORT"
acurl() { curl -s --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
# The tests play the kubelet: there is none, so Pods stay Pending unless we write their status.
kubelet() { # NS POD PHASE
  acurl -o /dev/null -w '%{http_code}' -H 'Content-Type: application/merge-patch+json' -X PATCH \
    --data "{\"status\":{\"phase\":\"$3\"}}" "$API/api/v1/namespaces/$1/pods/$2/status" | grep -q 200
}
jp() { K get "$@" 2>/dev/null; }
order_field() { jp pizzaorder "$1" -n "${3:-default}" -o "jsonpath=$2"; }
order_is() { [ "$(order_field "$1" '{.status.phase}' "${3:-default}")" = "$2" ]; }
new_order() { # NAME SIZE "TOPPING, TOPPING"
  printf 'apiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: %s, namespace: default}\nspec: {size: %s, toppings: [%s]}\n' \
    "$1" "$2" "$3" | $KUBECTL apply -f - >/dev/null
}

# deploy/ exactly as the README says (kubectl apply -k deploy/): CRD, namespace, RBAC, Deployment.
apply_deploy() { cp_apply_deploy "$WORK/cp" "$ROOT/deploy" >/dev/null; }
t_check "kubectl apply -k deploy/ (the README's install) applies" apply_deploy

echo "== permissions: the controller's identity is not an admin"
SA=system:serviceaccount:pizza-system:pizza-controller
t_check "service account may create pods" test "$(K auth can-i create pods --as=$SA -A 2>/dev/null)" = yes
t_check "service account may not update order specs" test "$(K auth can-i update pizzaorders.pizzeria.example.com --as=$SA -A 2>/dev/null)" = no
t_check "service account may not read secrets" test "$(K auth can-i get secrets --as=$SA -A 2>/dev/null)" = no

echo "== start-up refusals (fail closed, clear messages)"
run_briefly() { # LOG SECONDS ARGS...  runs the controller for a while, returns its exit code
  local log=$1 secs=$2; shift 2
  timeout -k 5 "$secs" "$BIN" --metrics-bind-address 0 --health-probe-bind-address 0 "$@" >"$log" 2>&1
}
run_briefly "$WORK/wrong-ca.log" 4 --kubeconfig "$CP_DIR/ctl-wrong-ca.kubeconfig"
t_check "a server certificate from another CA is refused" grep -q 'error="TLS failure"' "$WORK/wrong-ca.log"
t_check "and nothing is listed through it" bash -c "! grep -q 'orders listed' '$WORK/wrong-ca.log'"
run_briefly "$WORK/wrong-name.log" 4 --kubeconfig "$CP_DIR/ctl-wrong-name.kubeconfig"
t_check "a tls-server-name the certificate lacks is refused" grep -q 'tls=56' "$WORK/wrong-name.log"
run_briefly "$WORK/dns-name.log" 3 --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig"
t_check "tls-server-name kubernetes.default.svc verifies by DNS name" grep -q 'orders listed' "$WORK/dns-name.log"
run_briefly "$WORK/cert.log" 3 --kubeconfig "$CP_DIR/ctl-cert.kubeconfig"
t_check "a client certificate (EC key) authenticates" grep -q 'orders listed' "$WORK/cert.log"
# Plain HTTP through `kubectl proxy`, as some users run it locally.
PPORT=$(cp_free_port)
$KUBECTL proxy --port="$PPORT" --address=127.0.0.1 >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
wait_for 10 curl -sf "http://127.0.0.1:$PPORT/version"
printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: http://127.0.0.1:%s\n  name: p\ncontexts:\n- context:\n    cluster: p\n    user: none\n  name: p\ncurrent-context: p\nusers:\n- name: none\n  user: {}\n' "$PPORT" > "$WORK/proxy.kubeconfig"
run_briefly "$WORK/proxy-run.log" 3 --kubeconfig "$WORK/proxy.kubeconfig"
t_check "plain HTTP through kubectl proxy lists orders" grep -q 'orders listed' "$WORK/proxy-run.log"
kill "$PROXY_PID" 2>/dev/null
# (exec credential plugins and the full kubeconfig matrix: tests/e2e/kubeconfig.sh)
t_check "no log line ever holds a token" bash -c "! grep -q '$CTL_TOKEN' '$WORK'/*.log"

echo "== the controller, in-cluster style (service-account files, API server by IP)"
MPORT=$(cp_free_port)
start_controller() {
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
    "$BIN" --service-account-dir "$CP_DIR/sa" --metrics-bind-address "127.0.0.1:$MPORT" --health-probe-bind-address 0 \
    --requeue-failed-base 200ms --max-orders 2000 "$@" >>"$WORK/controller.log" 2>&1 &
  CTL_PID=$!
}
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
start_controller
t_check "becomes ready (initial lists done)" wait_for 20 curl -sf "http://127.0.0.1:$MPORT/readyz"
sleep 1
IDLE_RSS=$(awk '/^VmRSS/ { print $2 }' /proc/$CTL_PID/status)
echo "  idle RSS with both watches open: ${IDLE_RSS} KiB (budget ${BUDGET_IDLE_RSS_KB} KiB)"
t_budget "idle RSS within budget" test "$IDLE_RSS" -le "$BUDGET_IDLE_RSS_KB"

echo "== an order bakes"
K apply -f "$ROOT/crd/samples/sample-order.yaml" >/dev/null
t_check "oven Pod created" wait_for 15 K get pod order-123-oven
UID_O=$(order_field order-123 '{.metadata.uid}')
t_check "Pod is controlled by the order" test "$(jp pod order-123-oven -o 'jsonpath={.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}')" = "$UID_O/true"
t_check "Pod labels lead back to the order" test "$(jp pod order-123-oven -o 'jsonpath={.metadata.labels.pizzeria\.example\.com/order}')" = order-123
t_check "Pod runs restricted" test "$(jp pod order-123-oven -o 'jsonpath={.spec.securityContext.runAsNonRoot}/{.spec.containers[0].securityContext.allowPrivilegeEscalation}/{.spec.containers[0].securityContext.capabilities.drop[0]}')" = "true/false/ALL"
t_check "bake time depends on the size (large: 30 s)" test "$(jp pod order-123-oven -o 'jsonpath={.spec.containers[0].env[2].value}')" = 30
t_check "order is Pending with its oven named" wait_for 10 bash -c "[ \"\$($KUBECTL get pizzaorder order-123 -o 'jsonpath={.status.phase}/{.status.ovenPod}/{.status.observedGeneration}')\" = Pending/order-123-oven/1 ]"
kubelet default order-123-oven Running
t_check "Pod Running -> order Baking" wait_for 10 order_is order-123 Baking
kubelet default order-123-oven Succeeded
t_check "Pod Succeeded -> order Ready" wait_for 10 order_is order-123 Ready
t_check "Ready condition is True" test "$(order_field order-123 '{.status.conditions[?(@.type=="Ready")].status}')" = True
t_check "kubectl get shows size and phase" bash -c "$KUBECTL get pizzaorders | grep -Eq 'order-123 +large +Ready'"
RV1=$(order_field order-123 '{.metadata.resourceVersion}'); W1=$(metric pizza_status_updates_total)
sleep 3
t_check "status is not rewritten when nothing changed" test "$(order_field order-123 '{.metadata.resourceVersion}')/$(metric pizza_status_updates_total)" = "$RV1/$W1"

echo "== invalid orders fail with a reason"
K apply -f - >/dev/null <<'YAML'
apiVersion: pizzeria.example.com/v1
kind: PizzaOrder
metadata: {name: greedy, namespace: default}
spec: {size: small, toppings: [cheese, ham, olive, basil, onion]}
---
apiVersion: pizzeria.example.com/v1
kind: PizzaOrder
metadata: {name: twice, namespace: default}
spec: {size: large, toppings: [cheese, ham, cheese]}
YAML
t_check "too many toppings for the size -> Failed" wait_for 10 order_is greedy Failed
t_check "with a message saying why" bash -c "$KUBECTL get pizzaorder greedy -o 'jsonpath={.status.message}' | grep -q 'a small pizza holds at most 3 toppings, this order has 5'"
t_check "duplicate toppings -> Failed, naming them" wait_for 10 bash -c "$KUBECTL get pizzaorder twice -o 'jsonpath={.status.message}' | grep -q 'spec.toppings\[2\] repeats spec.toppings\[0\]'"
t_check "no oven for an invalid order" bash -c "! $KUBECTL get pod greedy-oven >/dev/null 2>&1"
t_check "the API server itself rejects a bad size (CRD schema)" bash -c "! $KUBECTL apply -f - >/dev/null 2>&1 <<'Y'
apiVersion: pizzeria.example.com/v1
kind: PizzaOrder
metadata: {name: huge, namespace: default}
spec: {size: gigantic}
Y"
K patch pizzaorder greedy --type=merge -p '{"spec":{"toppings":["cheese","ham"]}}' >/dev/null
t_check "fixing an invalid order bakes it" wait_for 10 K get pod greedy-oven

echo "== a spec change re-bakes"
OLD_POD_UID=$(jp pod order-123-oven -o 'jsonpath={.metadata.uid}')
K patch pizzaorder order-123 --type=merge -p '{"spec":{"size":"medium"}}' >/dev/null
new_oven() { [ "$($KUBECTL get pod order-123-oven -o 'jsonpath={.metadata.labels.pizzeria\.example\.com/generation}/{.metadata.uid}' 2>/dev/null)" != "" ] &&
  [ "$($KUBECTL get pod order-123-oven -o 'jsonpath={.metadata.labels.pizzeria\.example\.com/generation}' 2>/dev/null)" = 2 ] &&
  [ "$($KUBECTL get pod order-123-oven -o 'jsonpath={.metadata.uid}' 2>/dev/null)" != "$OLD_POD_UID" ]; }
t_check "old oven replaced by one for generation 2" wait_for 15 new_oven
t_check "status follows generation 2" wait_for 10 bash -c "[ \"\$($KUBECTL get pizzaorder order-123 -o 'jsonpath={.status.phase}/{.status.observedGeneration}')\" = Pending/2 ]"
kubelet default order-123-oven Succeeded
t_check "re-baked order is Ready again" wait_for 10 order_is order-123 Ready

echo "== hostile input: an order larger than --max-object-bytes"
BIG=$(head -c 70000 /dev/zero | tr '\0' x)
printf 'apiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata:\n  name: heavy\n  namespace: default\n  annotations:\n    ballast: "%s"\nspec: {size: small}\n' "$BIG" > "$WORK/heavy.yaml"
K create -f "$WORK/heavy.yaml" >/dev/null
new_order after-heavy small "basil"
t_check "an order after it still bakes" wait_for 15 K get pod after-heavy-oven
t_check "the oversized object is reported, not fatal" grep -q 'msg="object skipped" resource=pizzaorders' "$WORK/controller.log"
t_check "controller still running" kill -0 "$CTL_PID"

echo "== deletion frees the slot"
T0=$(metric pizza_orders_tracked)
K delete pizzaorder twice >/dev/null
t_check "deleted order is forgotten" wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$MPORT/metrics | awk '\$1==\"pizza_orders_tracked\"{print \$2}')\" = $((T0 - 1)) ]"
t_check "and logged" grep -q 'msg="order deleted" .*namespace=default name=twice result=forgotten' "$WORK/controller.log"

echo "== a restart duplicates nothing"
pods_snapshot() { $KUBECTL get pods -l app.kubernetes.io/managed-by=pizza-controller -o 'jsonpath={range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
BEFORE=$(pods_snapshot)
kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null
LINES=$(wc -l < "$WORK/controller.log")
start_controller
t_check "ready again after restart" wait_for 20 curl -sf "http://127.0.0.1:$MPORT/readyz"
sleep 3
t_check "same oven Pods, same uids" test "$(pods_snapshot)" = "$BEFORE"
t_check "no Pod created by the new instance" bash -c "! tail -n +$((LINES + 1)) '$WORK/controller.log' | grep -q result=pod-created"
t_check "baked orders stay Ready" order_is order-123 Ready

echo "== the API server restarts under it"
cp_restart_apiserver "$CP_DIR" >/dev/null 2>&1
new_order after-restart medium "mushroom"
t_check "an order created after the restart bakes" wait_for 40 K get pod after-restart-oven
t_check "the watches were restarted, and said so" grep -q 'msg="watch restarted"' "$WORK/controller.log"
t_check "controller survived" kill -0 "$CTL_PID"

echo "== 1,000 orders end to end, memory budget"
# The worker pool is a fixed cost (a TLS link per worker, ~30 KiB resident once connected): warm it
# with a burst of 20 orders first, so the per-order figure is what an order costs, not the pool.
for i in $(seq 1 20); do printf -- '---\napiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: warm-%02d, namespace: default}\nspec: {size: small}\n' "$i"; done > "$WORK/warm.yaml"
K create -f "$WORK/warm.yaml" >/dev/null
warm_done() { [ "$($KUBECTL get pizzaorders -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}' | grep -c -E '^warm-[0-9]+ Pending$')" -eq 20 ]; }
wait_for 60 warm_done
RSS_BEFORE=$(awk '/^VmRSS/ { print $2 }' /proc/$CTL_PID/status)
N=1000
python3 - "$N" > "$WORK/many.yaml" <<'PY' 2>/dev/null || for i in $(seq 1 $N); do printf -- '---\napiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: bulk-%04d, namespace: default}\nspec: {size: large, toppings: [cheese, tomato]}\n' "$i"; done > "$WORK/many.yaml"
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print("---\napiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: bulk-%04d, namespace: default}\nspec: {size: large, toppings: [cheese, tomato]}" % i)
PY
K create -f "$WORK/many.yaml" >/dev/null
all_pending() { [ "$($KUBECTL get pizzaorders -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}' | grep -c -E '^bulk-[0-9]+ Pending$')" -eq $N ]; }
t_check "all 1,000 orders reconciled (oven created, status written)" wait_for 180 all_pending
t_check "1,000 oven Pods" test "$($KUBECTL get pods -l app.kubernetes.io/managed-by=pizza-controller -o name | grep -c bulk-)" = $N
HWM=$(awk '/^VmHWM/ { print $2 }' /proc/$CTL_PID/status)
RSS_AFTER=$(awk '/^VmRSS/ { print $2 }' /proc/$CTL_PID/status)
PER=$(( (RSS_AFTER - RSS_BEFORE) * 1024 / N ))
echo "  peak RSS (VmHWM) with 1,000 orders: ${HWM} KiB (budget ${BUDGET_RSS_1000_KB} KiB); RSS per order: ${PER} bytes (budget ${BUDGET_BYTES_PER_ORDER})"
t_budget "peak RSS within budget" test "$HWM" -lt "$BUDGET_RSS_1000_KB"
t_budget "RSS per tracked order within budget" test "$PER" -le "$BUDGET_BYTES_PER_ORDER"
t_check "no reconcile errors left behind" test "$(metric 'pizza_table_full_total')" = 0

echo "== a restart at 1,000 orders: paginated re-list, still nothing duplicated"
BEFORE=$(pods_snapshot)
kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null
LINES=$(wc -l < "$WORK/controller.log")
start_controller
t_check "ready again (two list pages of 500)" wait_for 30 curl -sf "http://127.0.0.1:$MPORT/readyz"
t_check "all orders tracked again" test "$(metric pizza_orders_tracked)" = "$($KUBECTL get pizzaorders -o name | grep -vc '/heavy$')"
sleep 2
t_check "same oven Pods, same uids" test "$(pods_snapshot)" = "$BEFORE"

echo "== what operators see: metrics, Events, conditions, failure status (issue 8)"
curl -s "http://127.0.0.1:$MPORT/metrics" > "$WORK/metrics.txt"
t_check "the /metrics page is promtool-clean" bash "$ROOT/tests/promtool.sh" "$WORK/metrics.txt"
RT=$(awk '/^controller_runtime_reconcile_total\{/ { s += $2 } END { print s + 0 }' "$WORK/metrics.txt")
HC=$(awk '/^controller_runtime_reconcile_time_seconds_count\{/ { print $2 }' "$WORK/metrics.txt")
WC=$(awk '/^workqueue_work_duration_seconds_count\{/ { print $2 }' "$WORK/metrics.txt")
echo "  reconciles counted $RT, reconcile_time histogram count $HC, work_duration count $WC"
t_check "histogram counts add up to the reconcile counts" test "$RT" -gt 1000 -a "$RT" = "$HC" -a "$RT" = "$WC"
t_check "client-go's request metric counts the list and watch GETs" bash -c "grep -q '^rest_client_requests_total{code=\"200\",method=\"GET\"' '$WORK/metrics.txt'"
events_of() { # ORDER -> "REASON COUNT" lines
  K get events -n default --field-selector "involvedObject.name=$1" -o 'jsonpath={range .items[*]}{.reason} {.count}{"\n"}{end}' 2>/dev/null
}
has_event() { events_of "$1" | grep -q "^$2 "; }
t_check "a baked order has an OvenCreated Event" has_event order-123 OvenCreated
t_check "and a Baked Event" has_event order-123 Baked
t_check "an invalid order has an InvalidSpec Warning Event" has_event twice InvalidSpec
# A condition another writer owns (server-side apply, its own field manager) survives our writes.
new_order cond small "ham"
wait_for 15 order_is cond Pending
acurl -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  --data '{"apiVersion":"pizzeria.example.com/v1","kind":"PizzaOrder","metadata":{"name":"cond","namespace":"default"},"status":{"conditions":[{"type":"Approved","status":"True","reason":"Manager","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' \
  "$API/apis/pizzeria.example.com/v1/namespaces/default/pizzaorders/cond/status?fieldManager=approver" > "$WORK/approve.code"
t_check "another writer adds an Approved condition" test "$(cat "$WORK/approve.code")" = 200
W0=$(metric pizza_status_updates_total)
kubelet default cond-oven Running
t_check "our status write 1 (Baking)" wait_for 10 order_is cond Baking
kubelet default cond-oven Succeeded
t_check "our status write 2 (Ready)" wait_for 10 order_is cond Ready
K patch pizzaorder cond --type=merge -p '{"spec":{"toppings":["ham","basil"]}}' >/dev/null
t_check "our status write 3 (rebaking the new generation)" wait_for 10 bash -c "[ \"\$($KUBECTL get pizzaorder cond -o 'jsonpath={.status.observedGeneration}')\" = 2 ]"
echo "  status writes meanwhile: $(( $(metric pizza_status_updates_total) - W0 ))"
t_check "the foreign Approved condition survived them" test "$(order_field cond '{.status.conditions[?(@.type=="Approved")].reason}')" = Manager
# A reconcile that fails shows it on the object, once per change, and as aggregated Events: a
# second controller, namespaced, under a Role that allows everything it needs except Pod create.
K create namespace noovens >/dev/null
K create serviceaccount limited -n noovens >/dev/null
K apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: no-pod-create, namespace: noovens}
rules:
- {apiGroups: [pizzeria.example.com], resources: [pizzaorders], verbs: [get, list, watch]}
- {apiGroups: [pizzeria.example.com], resources: [pizzaorders/status], verbs: [get, patch, update]}
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [events], verbs: [create, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: limited, namespace: noovens}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-pod-create}
subjects: [{kind: ServiceAccount, name: limited, namespace: noovens}]
YAML
LTOKEN=$(echo '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}' |
  K create --raw /api/v1/namespaces/noovens/serviceaccounts/limited/token -f - | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])')
printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:%s", certificate-authority: "%s"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: "%s"}\n' \
  "$CP_PORT" "$CP_DIR/ca.crt" "$LTOKEN" > "$WORK/limited.kubeconfig"
"$BIN" --kubeconfig "$WORK/limited.kubeconfig" --namespace noovens --metrics-bind-address 0 --health-probe-bind-address 0 \
  --requeue-failed-base 300ms --requeue-failed-max 1s >"$WORK/limited.log" 2>&1 &
LIM_PID=$!
printf 'apiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: refused, namespace: noovens}\nspec: {size: small, toppings: [ham]}\n' > "$WORK/refused.yaml"
# the main controller watches every namespace: stop it while the limited one works alone
kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null
K apply -f "$WORK/refused.yaml" >/dev/null
ready_reason() { $KUBECTL get pizzaorder refused -n noovens -o 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}' 2>/dev/null; }
is_reconcile_error() { [ "$(ready_reason)" = ReconcileError ]; }
t_check "a Pod create RBAC forbids -> Ready=False, reason ReconcileError" wait_for 20 is_reconcile_error
t_check "with the API server's message, bounded" bash -c "$KUBECTL get pizzaorder refused -n noovens -o 'jsonpath={.status.message}' | grep -q 'create-pod failed: HTTP 403'"
sleep 2
RV_ERR=$(K get pizzaorder refused -n noovens -o 'jsonpath={.metadata.resourceVersion}')
sleep 4
t_check "the failure status is written once, not on every retry" test "$(K get pizzaorder refused -n noovens -o 'jsonpath={.metadata.resourceVersion}')" = "$RV_ERR"
CNT=$(K get events -n noovens --field-selector involvedObject.name=refused,reason=ReconcileError -o 'jsonpath={range .items[*]}{.count}{"\n"}{end}' 2>/dev/null)
echo "  retries logged: $(grep -c 'reconcile failed' "$WORK/limited.log"); ReconcileError Event objects: $(echo "$CNT" | grep -c .), counts: $(echo $CNT)"
t_check "repeated failures aggregate into one Event with count > 1" test "$(echo "$CNT" | grep -c .)" = 1 -a "$(echo "$CNT" | head -1)0" -gt 10
kill "$LIM_PID"; wait "$LIM_PID" 2>/dev/null
t_check "the limited controller's log parses too" python3 "$ROOT/tests/logcheck.py" --format logfmt "$WORK/limited.log"
start_controller
wait_for 30 curl -sf "http://127.0.0.1:$MPORT/readyz"
t_check "every log line parses (logfmt)" python3 "$ROOT/tests/logcheck.py" --format logfmt "$WORK/controller.log"

echo "== a full table: an error and a metric, the process lives, and nothing is lost"
TRACKED=$(metric pizza_orders_tracked)
kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null
start_controller --max-orders "$TRACKED"
t_check "ready with a table exactly full" wait_for 30 curl -sf "http://127.0.0.1:$MPORT/readyz"
new_order late-order small "basil"
t_check "a refused order is a clear error" wait_for 10 grep -q 'msg="reconcile table full" .*namespace=default name=late-order' "$WORK/controller.log"
t_check "and a metric" wait_for 5 bash -c "[ \"\$(curl -s http://127.0.0.1:$MPORT/metrics | awk '\$1==\"pizza_table_full_total\"{print \$2}')\" -ge 1 ]"
t_check "the controller keeps running" kill -0 "$CTL_PID"
K delete pizzaorder bulk-0001 >/dev/null
t_check "once a slot frees, the refused order is baked" wait_for 20 K get pod late-order-oven
t_check "via a re-list, as logged" grep -q 're-listing orders' "$WORK/controller.log"

echo "== shutdown"
kill -TERM "$CTL_PID"
t_check "SIGTERM stops it cleanly" wait_for 10 bash -c "! kill -0 $CTL_PID 2>/dev/null"
wait "$CTL_PID" 2>/dev/null; CTL_PID=
t_check "with a last log line" grep -q 'msg=stopping' "$WORK/controller.log"

echo "== leader election: one acts, a standby takes over"
le_start() { # NAME
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
    "$BIN" --service-account-dir "$CP_DIR/sa" --metrics-bind-address 0 --health-probe-bind-address 0 --leader-elect \
    --leader-elect-namespace pizza-system --leader-elect-lease-duration 4s --leader-elect-renew-deadline 3s \
    --leader-elect-retry-period 1s >"$WORK/le-$1.log" 2>&1 &
}
le_start a; LE_A=$!
t_check "the first candidate becomes leader" wait_for 10 grep -q 'msg="became leader"' "$WORK/le-a.log"
le_start b; LE_B=$!
sleep 3
t_check "the second stands by" bash -c "! grep -q 'became leader' '$WORK/le-b.log' && grep -q 'waiting for leadership' '$WORK/le-b.log'"
t_check "only the leader lists and watches" bash -c "! grep -q 'orders listed' '$WORK/le-b.log'"
kill -9 "$LE_A"; wait "$LE_A" 2>/dev/null
t_check "a killed leader's Lease expires and the standby takes over" wait_for 12 grep -q 'msg="became leader"' "$WORK/le-b.log"
new_order after-failover small "basil"
t_check "the new leader bakes" wait_for 15 K get pod after-failover-oven
le_start c; LE_C=$!
sleep 2
kill -TERM "$LE_B"; wait "$LE_B" 2>/dev/null
t_check "a leader stopping with SIGTERM hands over at once (Lease released)" wait_for 3 grep -q 'msg="became leader"' "$WORK/le-c.log"
kill -TERM "$LE_C"; wait "$LE_C" 2>/dev/null
t_check "RBAC for leases is namespaced (no cluster-wide Lease access)" test "$(K auth can-i update leases.coordination.k8s.io --as=$SA -n kube-system 2>/dev/null)" = no
san_reports "$WORK"
t_summary e2e
