#!/usr/bin/env bash
# One command, one run, both controllers: pizza-controller and its client-go peer (bench/peers),
# against the same real kube-apiserver, one after the other, on the same orders.
#   bash bench/run.sh                  sizes 0, 1000, 10000 (BENCH_SIZES="0 1000" to choose)
# For each size: a fresh control plane; N orders created; etcd snapshotted; then for each
# controller the snapshot is restored (same objects, no status, no Pods), the controller started
# under the controller's own RBAC identity, and we wait until every order has a status (its oven
# Pod created). Measured: time from start to all orders reconciled, CPU seconds used by then, peak
# RSS (VmHWM), settled RSS 10 s later, API requests made, and the executable size.
# Then the replay benchmark (bench/replay.sh). Results: stdout and build/bench/results.md.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/cp/lib.sh
SIZES=${BENCH_SIZES:-0 1000 10000}
OURS=$ROOT/build/pizza-controller
PEER=$(bash bench/peers/build.sh | tail -1) || { echo "bench: peer build failed"; exit 1; }
WORK=$(mktemp -d /tmp/pizza-bench.XXXXXX)
RES=$ROOT/build/bench/results.md
mkdir -p "$ROOT/build/bench"
CTL=
trap '[ -n "$CTL" ] && kill $CTL 2>/dev/null; cp_down "$WORK/cp" 2>/dev/null' EXIT
TICK=$(getconf CLK_TCK)

cpu_s() { awk -v t="$TICK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
reconciled() { # how many orders carry a status phase
  curl -s --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "https://127.0.0.1:$CP_PORT/apis/pizzeria.example.com/v1/pizzaorders?limit=100000" | grep -o '"phase":"' | wc -l
}

make_orders() { # N
  local n=$1 per=$(( ($1 + 3) / 4 )) pids=()
  [ "$n" -eq 0 ] && return 0
  for c in 0 1 2 3; do
    (
      for i in $(seq $((c * per + 1)) $(( (c + 1) * per < n ? (c + 1) * per : n ))); do
        printf -- '---\napiVersion: pizzeria.example.com/v1\nkind: PizzaOrder\nmetadata: {name: bench-%05d, namespace: default}\nspec: {size: %s, toppings: [cheese, tomato]}\n' \
          "$i" "$(case $((i % 3)) in 0) echo small;; 1) echo medium;; *) echo large;; esac)"
      done > "$WORK/orders.$c.yaml"
      [ -s "$WORK/orders.$c.yaml" ] && $KUBECTL create -f "$WORK/orders.$c.yaml" >/dev/null
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" # not a bare wait: etcd and the API server are children of this shell too
}

measure() { # NAME N -> one line of figures
  local name=$1 n=$2 mport start t_conv cpu hwm rss req
  mport=$(cp_free_port)
  start=$(date +%s%N)
  if [ "$name" = pizza-controller ]; then
    KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$CP_PORT \
      "$OURS" --service-account-dir "$CP_DIR/sa" --metrics-bind-address "127.0.0.1:$mport" \
      --max-orders 20000 --log-level warn > "$WORK/$name-$n.log" 2>&1 &
  else
    "$PEER" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" \
      > "$WORK/$name-$n.log" 2>&1 &
  fi
  CTL=$!
  # converged: every order has a status (N = 0: the initial lists are done, i.e. the metrics answer
  # and a second has passed)
  while :; do
    if [ "$n" -eq 0 ]; then
      curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null && sleep 1 && break
    elif [ "$(reconciled)" -ge "$n" ]; then
      break
    fi
    kill -0 $CTL 2>/dev/null || { echo "bench: $name died; see $WORK/$name-$n.log" >&2; return 1; }
    [ $(( ($(date +%s%N) - start) / 1000000000 )) -gt 900 ] && { echo "bench: $name did not converge" >&2; return 1; }
    sleep 0.5
  done
  t_conv=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  cpu=$(cpu_s $CTL)
  hwm=$(kb $CTL VmHWM)
  sleep 10
  rss=$(kb $CTL VmRSS)
  if [ "$name" = pizza-controller ]; then
    req=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '$1 == "pizza_api_requests_total" { print $2 }')
  else
    req=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '$1 == "peer_api_requests_total" { print $2 }')
  fi
  kill $CTL; wait $CTL 2>/dev/null; CTL=
  echo "$name $n $t_conv $cpu $hwm $rss $req"
}

size_ours=$(stat -c %s "$OURS"); size_peer=$(stat -c %s "$PEER")
echo "executables: pizza-controller $size_ours bytes, client-go peer $size_peer bytes (both stripped)"
: > "$WORK/figures"
for n in $SIZES; do
  echo "== $n orders: control plane and orders"
  cp_down "$WORK/cp" 2>/dev/null; rm -rf "$WORK/cp"
  cp_up "$WORK/cp" >/dev/null || exit 1
  . "$WORK/cp/env"
  $KUBECTL apply -f crd/pizzaorders.yaml >/dev/null
  $KUBECTL wait --for=condition=Established crd/pizzaorders.pizzeria.example.com --timeout=30s >/dev/null
  $KUBECTL apply -f deploy/namespace.yaml -f deploy/serviceaccount.yaml -f deploy/rbac.yaml >/dev/null
  make_orders "$n"
  cp_stop "$WORK/cp"
  cp -a "$WORK/cp/etcd" "$WORK/etcd-snap"
  for name in pizza-controller client-go-peer; do
    rm -rf "$WORK/cp/etcd"; cp -a "$WORK/etcd-snap" "$WORK/cp/etcd"
    cp_start "$WORK/cp" >/dev/null 2>&1 || { echo "bench: control plane restart failed"; exit 1; }
    echo "   $name..."
    measure "$name" "$n" | tee -a "$WORK/figures"
    cp_stop "$WORK/cp"
  done
  rm -rf "$WORK/etcd-snap"
done

{
  echo "### pizza-controller vs the client-go peer ($(date -u +%Y-%m-%d), $(nproc) cores, kube-apiserver v1.20.2)"
  echo
  echo "Executable (stripped): pizza-controller **$size_ours** bytes, client-go peer **$size_peer** bytes: **$(awk -v a=$size_peer -v b=$size_ours 'BEGIN{printf "%.0f", a/b}')×** smaller."
  echo
  echo "| orders | controller | to converge (s) | CPU (s) | peak RSS (KiB) | settled RSS (KiB) | API requests |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
  awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $1, $3, $4, $5, $6, $7 }' "$WORK/figures"
  echo
  echo "| orders | peak memory ratio (peer / ours) | CPU ratio | settled memory ratio |"
  echo "| ---: | ---: | ---: | ---: |"
  awk '{ k = $2; if ($1 == "pizza-controller") { c[k] = $4; h[k] = $5; r[k] = $6 } else { pc[k] = $4; ph[k] = $5; pr[k] = $6; ks[++n] = k } }
       END { for (i = 1; i <= n; i++) { k = ks[i]; printf "| %s | %.0f× | %s | %.0f× |\n", k, ph[k] / h[k], (c[k] >= 0.05 ? sprintf("%.1f×", pc[k] / c[k]) : "n/a (below the 10 ms clock tick)"), pr[k] / r[k] } }' "$WORK/figures"
} > "$RES"
cat "$RES"
echo
echo "== replay benchmark"
bash bench/replay.sh | tee -a "$RES.replay"
{ echo; echo '```'; cat "$RES.replay"; echo '```'; } >> "$RES"
rm -f "$RES.replay"
echo "results: $RES"
