#!/usr/bin/env bash
# Faults against a real etcd and kube-apiserver (issue 10, item 8), each case printing its figure:
#   1. kill -9 of the API server 3 times during a bulk create of 1,000 orders (restarted each time on
#      the same ports and data): 0 lost reconciles (every order has a status phase and its oven Pod),
#      0 duplicate Pods; figure: the time to converge;
#   2. SIGSTOP of the API server for 60 s under a watching controller: /healthz answers throughout,
#      the work in flight converges; figure: SIGCONT to a new order's oven Pod;
#   3. etcd stopped for 10 s with reconciles in flight, then started again (API server untouched):
#      the controller keeps converging; figure: the time to converge after etcd is back;
#   4. the service-account token file replaced with a new TokenRequest token and the old one revoked
#      (its bound Secret deleted): at most one 401, then the new token is used; figure: the 401s seen;
#   5. the CA bundle file rotated (a new CA in front of the old one): the connection keeps working,
#      across a restart of the API server and of the controller; figure: an order's latency.
# The controller runs in-cluster style (KUBERNETES_SERVICE_HOST/PORT, --service-account-dir) with
# deploy/rbac.yaml's ClusterRole, probes served on its metrics port (--health-probe-bind-address 0).
#   tests/e2e/faults.sh path/to/pizza-controller      (E2E_KEEP=1 keeps logs)
# Needs: curl, openssl, python3 (Debian: curl, openssl, python3).
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/cp/lib.sh"
. "$ROOT/tests/e2e/lib.sh"
san_detect "$BIN"
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "faults: $tool is missing (Debian package: $tool)"; echo "faults: 0 passed, 1 failed"; exit 1; }
done
WORK=$(mktemp -d /tmp/pizza-faults.XXXXXX)
PIDS=()
START_S=$(date +%s)
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$WORK/cp/apiserver.pid" ] && kill -CONT "$(cat "$WORK/cp/apiserver.pid")" 2>/dev/null
  [ -d "$WORK/cp" ] && cp_down "$WORK/cp"
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${E2E_KEEP:-0}" = 1 ] || [ "$T_FAIL" -ne 0 ]; then echo "faults: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== control plane"
cp_up "$WORK/cp" >/dev/null || { echo "faults: control plane failed to start"; echo "faults: 0 passed, 1 failed"; exit 1; }
. "$WORK/cp/env"
K() { $KUBECTL "$@"; }
API="https://127.0.0.1:$CP_PORT"
acurl() { curl -s --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
apply_deploy() { cp_apply_deploy "$CP_DIR" "$ROOT/deploy" >/dev/null; }
t_check "kubectl apply -k deploy/ (CRD, namespace, RBAC) applies" apply_deploy

make_orders() { # PREFIX FIRST LAST NAMESPACE > yaml
  local i
  for i in $(seq "$2" "$3"); do
    printf -- '---\napiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: %s-%04d, namespace: %s}\nspec: {size: small, toppings: [cheese, tomato]}\n' "$1" "$i" "$4"
  done
}
new_order() { # NAMESPACE NAME : one POST, no kubectl start-up cost (the latencies below time it)
  acurl -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST \
    --data "{\"apiVersion\":\"pizzeria.example.com/v1\",\"kind\":\"PizzaOrder\",\"metadata\":{\"name\":\"$2\"},\"spec\":{\"size\":\"small\",\"toppings\":[\"basil\"]}}" \
    "$API/apis/pizzeria.example.com/v1/namespaces/$1/pizzaorders" | grep -q 201
}
create_all() { # FILE : kubectl create, retried until every object exists (AlreadyExists is success)
  local attempt
  for attempt in $(seq 1 120); do
    K create -f "$1" >/dev/null 2>"$1.err" && return 0
    grep -v AlreadyExists "$1.err" | grep -q . || return 0
    sleep 0.5
  done
  return 1
}
has_pod() { acurl -f -o /dev/null "$API/api/v1/namespaces/$1/pods/$2-oven"; }
# census NS -> "orders phased with_pod dup_orders orphans": orders with a status phase, orders with
# at least one oven Pod (by the pizzeria.example.com/order label), orders with more than one, and
# oven Pods whose order does not exist. Prints nothing when the API server does not answer.
census() {
  acurl -f "$API/apis/pizzeria.example.com/v1/namespaces/$1/pizzaorders?limit=5000" > "$WORK/census-o.json" &&
  acurl -f "$API/api/v1/namespaces/$1/pods?labelSelector=pizzeria.example.com%2Forder&limit=5000" > "$WORK/census-p.json" &&
  python3 - "$WORK/census-o.json" "$WORK/census-p.json" <<'PY'
import collections, json, sys
orders = json.load(open(sys.argv[1]))["items"]
pods = json.load(open(sys.argv[2]))["items"]
names = {o["metadata"]["name"] for o in orders}
phased = sum(1 for o in orders if (o.get("status") or {}).get("phase"))
per = collections.Counter(p["metadata"]["labels"]["pizzeria.example.com/order"] for p in pods)
print(len(orders), phased, sum(1 for n in names if per[n] >= 1),
      sum(1 for n, k in per.items() if k > 1), sum(1 for n in per if n not in names))
PY
}
converged() { # NS N : N orders, each with a phase and an oven Pod
  local c
  c=$(census "$1") || return 1
  set -- $c "$2"
  [ "$1" -ge "$6" ] && [ "$2" = "$1" ] && [ "$3" = "$1" ]
}

# The controller's service-account folder, as the kubelet mounts it: token, ca.crt, namespace.
# Controller A runs as pizza-system/pizza-controller (the API server's static token for that
# identity), bound by deploy/rbac.yaml.
mkdir -p "$WORK/sa-a"
cp "$CP_DIR/sa/token" "$CP_DIR/ca.crt" "$WORK/sa-a/"
echo pizza-system > "$WORK/sa-a/namespace"
start_ctl() { # NAME SA_DIR METRICS_PORT ARGS...
  local name=$1 sa=$2 port=$3; shift 3
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
    "$BIN" --service-account-dir "$sa" --metrics-bind-address "127.0.0.1:$port" --health-probe-bind-address 0 \
    --requeue-failed-base 200ms --requeue-failed-max 5s "$@" >>"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}
metrics_of() { curl -s --max-time 2 "http://127.0.0.1:$1/metrics"; }
MA=$(cp_free_port)
start_ctl a "$WORK/sa-a" "$MA"
A=$LAST_PID
t_check "controller A ready (in-cluster, service-account token)" wait_for 30 curl -sf "http://127.0.0.1:$MA/readyz"
restarts_a() { grep -c 'msg="watch restarted"' "$WORK/a.log"; }

echo "== 1. kill -9 of the API server 3 times during a bulk create of 1,000 orders"
K create namespace bulk >/dev/null
for c in $(seq 0 9); do make_orders b $((c * 100 + 1)) $((c * 100 + 100)) bulk > "$WORK/bulk-$c.yaml"; done
# The creator: 10 kubectl creates of 100, each retried until every order of it exists (a create the
# server stored just before it died comes back AlreadyExists). Progress goes to a file.
: > "$WORK/bulk-progress"
(
  for c in $(seq 0 9); do
    create_all "$WORK/bulk-$c.yaml"
    echo "$c" >> "$WORK/bulk-progress"
  done
  echo done >> "$WORK/bulk-progress"
) &
CREATOR=$!
PIDS+=($CREATOR)
T_BULK=$(now_ms)
R0=$(restarts_a); L0=$(wc -l < "$WORK/a.log")
progress() { [ "$(grep -c . "$WORK/bulk-progress")" -ge "$1" ]; }
KILLS=0
for at in 2 5 8; do
  wait_for 120 progress "$at"
  sleep 0.3                               # into the next chunk: creates and reconciles in flight
  pid=$(cat "$CP_DIR/apiserver.pid")
  disown "$pid" 2>/dev/null              # no "Killed" job notice from bash
  kill -9 "$pid" && KILLS=$((KILLS + 1))
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  t_down=$(now_ms)
  # a subshell: the new API server is not our job, and lib.sh's env sourcing stays out of our shell
  ( _cp_start_apiserver "$CP_DIR" >/dev/null 2>&1 ) || echo "  the API server did not come back"
  T_LAST_UP=$(now_ms)
  echo "  kill -9 #$KILLS after chunk $at of 10: API server back in $(( T_LAST_UP - t_down )) ms"
done
wait "$CREATOR"
t_check "3 kill -9 of the API server done" test "$KILLS" = 3
t_check "the creator finished all 10 chunks" progress 11
t_check "all 1,000 orders converge (phase and oven Pod each)" wait_for 300 converged bulk 1000
T_CONV=$(now_ms)
read -r N_O N_PH N_POD N_DUP N_ORPH <<< "$(census bulk)"
echo "  orders $N_O, with a phase $N_PH, with an oven Pod $N_POD, with two or more Pods $N_DUP, orphan Pods $N_ORPH"
t_check "1,000 orders exist" test "${N_O:-0}" = 1000
t_check "0 lost reconciles: every order has a phase" test "${N_PH:-0}" = "${N_O:-x}"
t_check "0 lost reconciles: every order has its oven Pod" test "${N_POD:-0}" = "${N_O:-x}"
t_check "0 duplicate Pods (one oven per order)" test "${N_DUP:-x}" = 0
t_check "0 orphan oven Pods" test "${N_ORPH:-x}" = 0
t_check "controller A survived" kill -0 "$A"
echo "  FIGURE kill-9: converged $(( (T_CONV - T_BULK) / 1000 )).$(( (T_CONV - T_BULK) % 1000 / 100 )) s after the bulk create began," \
  "$(( (T_CONV - T_LAST_UP) / 1000 )).$(( (T_CONV - T_LAST_UP) % 1000 / 100 )) s after the last restart; watch restarts logged: $(( $(restarts_a) - R0 )),"\
  "reconciles cut by the kills (logged failed, then retried): $(tail -n +$((L0 + 1)) "$WORK/a.log" | grep -c 'msg="reconcile failed"')"

echo "== 2. SIGSTOP of the API server for 60 s"
K create namespace stall >/dev/null
make_orders s 1 20 stall > "$WORK/stall.yaml"
K create -f "$WORK/stall.yaml" >/dev/null
t_check "20 orders converge before the stall" wait_for 60 converged stall 20
make_orders s 21 120 stall > "$WORK/stall2.yaml"
create_all "$WORK/stall2.yaml" &  # creates and reconciles in flight when the server stops
MK=$!
PIDS+=($MK)
APID=$(cat "$CP_DIR/apiserver.pid")
R0=$(restarts_a)
sleep 1
L0=$(wc -l < "$WORK/a.log")
kill -STOP "$APID"
ok=0; slow=0
for i in $(seq 1 60); do
  t0=$(now_ms)
  if curl -sf --max-time 1 "http://127.0.0.1:$MA/healthz" >/dev/null; then ok=$((ok + 1)); else slow=$((slow + 1)); fi
  t1=$(now_ms)
  [ $((t1 - t0)) -lt 1000 ] && sleep "0.$(printf '%03d' $((1000 - (t1 - t0))))"
done
kill -CONT "$APID"; T_CONT=$(now_ms)
echo "  /healthz during the 60 s stall: $ok answered, $slow not within 1 s"
t_check "/healthz answered within 1 s every second of the stall" test "$ok" = 60
new_order stall after-cont
t_check "an order created after SIGCONT gets its oven Pod" wait_for 120 has_pod stall after-cont
T_POD=$(now_ms)
t_check "the 100 creates finished (kubectl retried past the stall)" wait "$MK"
t_check "the 100 orders being created at the stall converge" wait_for 120 converged stall 121
echo "  log lines from the stall on, by message: $(tail -n +$((L0 + 1)) "$WORK/a.log" | sed -E 's/.* msg=("[^"]*"|[^ ]*).*/\1/' | sort | uniq -c | sort -rn | head -5 | awk '{ $1 = $1; printf "%s; ", $0 }')"
echo "  FIGURE sigstop: SIGCONT to the new order's oven Pod: $(( T_POD - T_CONT )) ms; watch restarts: $(( $(restarts_a) - R0 ))" \
  "(a stopped server keeps its sockets: the watches resume on them, the idle deadline is the watch timeout + 60 s)"
t_check "SIGCONT to a new order's oven Pod within 30 s" test $((T_POD - T_CONT)) -lt 30000

echo "== 3. etcd restarted (stopped 10 s with reconciles in flight)"
K create namespace etcd >/dev/null
make_orders e 1 100 etcd > "$WORK/etcd.yaml"
K create -f "$WORK/etcd.yaml" >/dev/null
R0=$(restarts_a)
_cp_kill "$CP_DIR/etcd.pid"
T_ESTOP=$(now_ms)
sleep 10
( _cp_start_etcd "$CP_DIR" )   # a subshell: it sources env, which must not change ours
T_ESTART=$(now_ms)
cp_ready() { acurl -f "$API/readyz" >/dev/null; }
t_check "the API server is ready again" wait_for 60 cp_ready
T_READY=$(now_ms)
t_check "all 100 orders converge after etcd is back" wait_for 120 converged etcd 100
T_CONV=$(now_ms)
read -r N_O N_PH N_POD N_DUP N_ORPH <<< "$(census etcd)"
t_check "no duplicate and no orphan Pods" test "${N_DUP:-x}/${N_ORPH:-x}" = 0/0
new_order etcd after-etcd; T0=$(now_ms)
t_check "an order created after the restart bakes" wait_for 60 has_pod etcd after-etcd
T1=$(now_ms)
echo "  FIGURE etcd: API server ready $(( T_READY - T_ESTART )) ms after etcd started; converged $(( T_CONV - T_ESTART )) ms" \
  "after etcd started; a new order's oven Pod in $(( T1 - T0 )) ms; watch restarts: $(( $(restarts_a) - R0 ))"
t_check "controller A survived" kill -0 "$A"

echo "== 5. the CA bundle rotated (a new CA in front of the old one)"
K create namespace rot >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/new-ca.key" -out "$WORK/new-ca.crt" -days 2 \
  -subj "/CN=pizza-test-ca-next" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cat "$WORK/new-ca.crt" "$CP_DIR/ca.crt" > "$WORK/sa-a/ca.crt.new"
mv "$WORK/sa-a/ca.crt.new" "$WORK/sa-a/ca.crt"   # one rename, as the kubelet swaps its ..data link
t_check "the bundle holds two CAs, the new one first" test "$(grep -c 'BEGIN CERTIFICATE' "$WORK/sa-a/ca.crt")" = 2
new_order rot rot-1; T0=$(now_ms)
t_check "on its open connections, an order bakes" wait_for 30 has_pod rot rot-1
echo "  rot-1 (open connections): $(( $(now_ms) - T0 )) ms"
( cp_restart_apiserver "$CP_DIR" >/dev/null 2>&1 )   # every connection handshakes again
new_order rot rot-2; T0=$(now_ms)
t_check "after the API server restarts (new handshakes), an order bakes" wait_for 90 has_pod rot rot-2
echo "  rot-2 (new handshakes): $(( $(now_ms) - T0 )) ms"
kill -TERM "$A"; wait "$A" 2>/dev/null
start_ctl a "$WORK/sa-a" "$MA"
A=$LAST_PID
t_check "controller A restarted on the rotated bundle is ready" wait_for 30 curl -sf "http://127.0.0.1:$MA/readyz"
new_order rot rot-3; T0=$(now_ms)
t_check "and bakes" wait_for 30 has_pod rot rot-3
T1=$(now_ms)
t_check "no TLS failure logged" bash -c "! grep -q 'TLS failure' '$WORK/a.log'"
echo "  FIGURE ca-rotation: restarted on the two-CA bundle, a new order's oven Pod in $(( T1 - T0 )) ms"
kill -TERM "$A"; wait "$A" 2>/dev/null

echo "== 4. the token file replaced with a new token, the old one revoked"
# Controller B runs as pizza-system/rotor, bound to deploy/rbac.yaml's ClusterRole, with
# TokenRequest tokens bound to Secrets: deleting a token's Secret revokes it.
K create serviceaccount rotor -n pizza-system >/dev/null
K create clusterrolebinding rotor --clusterrole=pizza-controller --serviceaccount=pizza-system:rotor >/dev/null
K create namespace tok >/dev/null
mint() { # SECRET : creates the Secret, prints a one-hour token bound to it
  local uid
  K create secret generic "$1" -n pizza-system >/dev/null || return 1
  uid=$(K get secret "$1" -n pizza-system -o 'jsonpath={.metadata.uid}')
  printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600,"boundObjectRef":{"apiVersion":"v1","kind":"Secret","name":"%s","uid":"%s"}}}' "$1" "$uid" |
    K create --raw /api/v1/namespaces/pizza-system/serviceaccounts/rotor/token -f - |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["token"])'
}
code_with() { curl -s -o /dev/null -w '%{http_code}' --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $1" "$API/api/v1/namespaces/tok/pods?limit=1"; }
TOK1=$(mint bind-1); TOK2=$(mint bind-2)
t_check "two bound tokens minted, both accepted" test "$(code_with "$TOK1")/$(code_with "$TOK2")" = 200/200
mkdir -p "$WORK/sa-b"
printf '%s' "$TOK1" > "$WORK/sa-b/token"
cp "$CP_DIR/ca.crt" "$WORK/sa-b/ca.crt"
echo pizza-system > "$WORK/sa-b/namespace"
MB=$(cp_free_port)
start_ctl b "$WORK/sa-b" "$MB" --namespace tok
B=$LAST_PID; T_B=$(now_ms)
t_check "controller B ready on the first token" wait_for 30 curl -sf "http://127.0.0.1:$MB/readyz"
new_order tok tok-1
t_check "an order bakes on the first token" wait_for 30 has_pod tok tok-1
printf '%s' "$TOK2" > "$WORK/sa-b/token.new"
mv "$WORK/sa-b/token.new" "$WORK/sa-b/token"
K delete secret bind-1 -n pizza-system >/dev/null
revoked() { [ "$(code_with "$TOK1")" = 401 ]; }
t_check "the old token is revoked (the API server answers it 401)" wait_for 40 revoked
T_REV=$(now_ms)
echo "  old token revoked $(( (T_REV - T_B) / 1000 )) s after B started (its timed re-read is every 60 s)"
new_order tok tok-2; T0=$(now_ms)
t_check "an order created after the revocation bakes" wait_for 60 has_pod tok tok-2
T1=$(now_ms)
new_order tok tok-3
t_check "and the next one too" wait_for 30 has_pod tok tok-3
sum401() { metrics_of "$MB" | awk '/^rest_client_requests_total\{/ && /code="401"/ { s += $2 } END { print s + 0 }'; }
N401=$(sum401)
echo "  FIGURE token: $N401 request(s) answered 401; the order after the revocation baked in $(( T1 - T0 )) ms"
t_check "at most one 401" test "$N401" -le 1
t_check "the controller is alive" kill -0 "$B"
[ "$(( (T_REV - T_B) / 1000 ))" -ge 60 ] && echo "  note: the revocation came after the 60 s re-read, so the 401 path itself was not exercised"
kill -TERM "$B"; wait "$B" 2>/dev/null

t_check "every log line parses (logfmt)" python3 "$ROOT/tests/logcheck.py" --format logfmt "$WORK/a.log" "$WORK/b.log"
t_check "no log line holds a token" bash -c "! grep -qF -e '$CTL_TOKEN' -e '$TOK1' -e '$TOK2' '$WORK/a.log' '$WORK/b.log'"
echo "  faults took $(( $(date +%s) - START_S )) s"
san_reports "$WORK"
t_summary faults
