#!/usr/bin/env bash
# One command, one run: pizza-controller and its client-go peer (bench/peers) in two throttling
# configurations, against the same real kube-apiserver v1.20.2, one after the other, on the same
# orders restored from the same etcd snapshot.
#
#   bash bench/run.sh          sizes 0, 1000, 5000, 10000; each controller once per size
#   BENCH_SIZES="0 1000"       sizes to run
#   BENCH_RUNS=3               runs per size and controller; the tables quote medians
#   BENCH_EVENTS=0             skip the two runs that record Events (ours by default, the peer with
#                              --events)
#   BENCH_REPLAY=0             skip the replay benchmark (bench/replay.sh) at the end
#   BENCH_RESULTS=FILE         where the report goes (default bench/results.md); also printed
#   BENCH_ONLY="N:NAME ..."    at size N, run only the named controllers (e.g. "10000:pizza-no-events
#                              10000:peer-unthrottled": the throttled peer needs 17 minutes there)
#   BENCH_FROM=DIR             no measuring: the report from the figures in DIR, the work directory
#                              of an earlier run (printed at its start), e.g. an interrupted one
#
# The controllers (every one under the controller's RBAC identity, deploy/rbac.yaml, through the
# same kubeconfig, logging nothing per order). Each pair compared does the same work: Events are
# recorded by both or by neither.
#   pizza-no-events     build/pizza-controller with its defaults (--max-concurrent-reconciles
#                       included) but --record-events=false; --max-orders 20000 at every size.
#                       Compared with peer-unthrottled (issue 6's targets) and peer-cr-defaults.
#   pizza-controller    the same with its defaults, Events included (OvenCreated per order here):
#                       compared with peer-events
#   peer-unthrottled    client-go, rest.Config QPS -1 (no client-side rate limiter at all), workqueue
#                       with the per-item failure backoff only (5ms..1000s, no bucket), 1 worker
#   peer-cr-defaults    client-go with controller-runtime's defaults: QPS 20, burst 30 per client,
#                       DefaultControllerRateLimiter (per-item 5ms..1000s max bucket 10/s, 100), 1 worker
#   peer-events         peer-unthrottled plus --events (client-go's EventRecorder on the orders):
#                       shows what recording Events costs in API requests
#
# Per size: a fresh control plane; the CRD and RBAC applied as users do (`kubectl apply -k deploy/`);
# N orders created; etcd snapshotted. Per run and controller: the snapshot restored (same objects,
# no status, no Pods), the control plane started, the controller started, and the clock runs until
# every order has a status phase (N = 0: until its metrics answer, plus 1 s). Measured: time to
# converge, CPU seconds (utime + stime of the controller process) at that moment, peak RSS
# (VmHWM) then, RSS 10 s later (settled), API requests made by then (pizza_api_requests_total;
# the peer's own counter on its transport, which counts every request of every client).
#
# Convergence is seen through one watch on PizzaOrders (curl, admin identity) that counts the
# distinct orders carrying status.phase: one event per status write, no polling of lists. The watch
# starts without a resourceVersion, so it first replays the current state: a watcher started again
# after a dropped connection still counts right.
# The whole script is one block, read before it runs: editing this file during a run (it takes
# long) cannot change the run.
{
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/cp/lib.sh
SIZES=${BENCH_SIZES:-0 1000 5000 10000}
RUNS=${BENCH_RUNS:-1}
EVENTS=${BENCH_EVENTS:-1}
REPLAY=${BENCH_REPLAY:-$([ -n "${BENCH_FROM:-}" ] && echo 0 || echo 1)}
RES=${BENCH_RESULTS:-$ROOT/bench/results.md}
FROM=${BENCH_FROM:-}
if [ -n "$FROM" ]; then
  # Report only: the figures of an earlier (possibly interrupted) run, from its work directory.
  WORK=$(cd "$FROM" && pwd) || exit 1
  [ -s "$WORK/figures" ] || { echo "bench: no figures in $WORK"; exit 1; }
  [ -n "${BENCH_SIZES:-}" ] || SIZES=$(awk '!s[$2]++ { print $2 }' "$WORK/figures" | tr '\n' ' ' | sed 's/ $//')
  [ -n "${BENCH_RUNS:-}" ] || RUNS=$(awk '$3 > r { r = $3 } END { print r }' "$WORK/figures")
  grep -q '^peer-events ' "$WORK/figures" || EVENTS=0
  grep -q '^pizza-no-events ' "$WORK/figures" || { echo "bench: $WORK is from a run without pizza-no-events; run again"; exit 1; }
  OURS=$WORK/pizza-controller PEER=$WORK/pizza-peer
else
  BUILT=$ROOT/build/pizza-controller
  [ -x "$BUILT" ] || { echo "bench: $BUILT missing; run make build/pizza-controller"; exit 1; }
  PEER_BUILT=$(bash bench/peers/build.sh | tail -1) || { echo "bench: peer build failed"; exit 1; }
  [ -x "$PEER_BUILT" ] || { echo "bench: peer build failed"; exit 1; }
  command -v curl >/dev/null || { echo "bench: needs curl"; exit 1; }
  WORK=$(mktemp -d /tmp/pizza-bench.XXXXXX)
  # Private copies: a rebuild of build/ during the run must not change what is measured.
  OURS=$WORK/pizza-controller PEER=$WORK/pizza-peer
  cp "$BUILT" "$OURS" && cp "$PEER_BUILT" "$PEER" || { echo "bench: cannot copy the executables"; exit 1; }
fi
CTL= WPIDS=
cleanup() {
  [ -n "$CTL" ] && kill "$CTL" 2>/dev/null
  for p in $WPIDS; do kill "$p" 2>/dev/null; done
  # never with BENCH_FROM: that directory may belong to a run still going
  [ -z "$FROM" ] && cp_down "$WORK/cp" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
TICK=$(getconf CLK_TCK)

CONTROLLERS="pizza-no-events peer-unthrottled peer-cr-defaults"
[ "$EVENTS" = 1 ] && CONTROLLERS="$CONTROLLERS pizza-controller peer-events"

cpu_s() { awk -v t="$TICK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
now_ns() { date +%s%N; }

# The convergence watcher: curl streams the watch into a FIFO, awk counts the distinct orders whose
# object carries "phase":"..." and writes the time (ns) into $WORK/converged once N are seen. It
# writes $WORK/primed once the replay of the initial state (N objects) is read, so the controller
# starts on a quiet API server.
watcher_start() { # N
  local n=$1 fifo=$WORK/watch.fifo
  rm -f "$fifo" "$WORK/converged" "$WORK/primed"; mkfifo "$fifo"
  curl -sN --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "https://127.0.0.1:$CP_PORT/apis/pizzeria.example.com/v1/pizzaorders?watch=1&timeoutSeconds=7200" > "$fifo" &
  WCURL=$!
  # mawk reads a pipe in big blocks unless interactive; gawk reads what is there.
  local awkx=(awk); awk -W version 2>&1 | grep -q mawk && awkx=(awk -W interactive)
  "${awkx[@]}" -v n="$n" -v conv="$WORK/converged" -v primed="$WORK/primed" '
    !match($0, /"name":"[^"]*"/) { next }
    { nm = substr($0, RSTART + 8, RLENGTH - 9)
      if (!p && ++lines >= n) { p = 1; print "" > primed; close(primed) }
      if (!(nm in seen) && index($0, "\"phase\":\"")) {
        seen[nm] = 1
        if (++c >= n) { system("date +%s%N > " conv ".tmp && mv " conv ".tmp " conv); exit }
      }
    }' < "$fifo" &
  WAWK=$!
  WPIDS="$WCURL $WAWK"
}
watcher_stop() {
  for p in $WPIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  WPIDS=
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

# The CRD, the namespace, the service account and the RBAC, as the README installs them
# (cp_apply_deploy: `kubectl apply -k deploy/`). If the kustomization does not build (deploy/ is
# being reorganised), the same objects from their files.
apply_deploy() {
  if cp_apply_deploy "$WORK/cp" >"$WORK/apply.log" 2>&1; then return 0; fi
  echo "bench: kubectl apply -k deploy/ failed (see $WORK/apply.log); applying the files one by one" >&2
  local f files=()
  for f in crd/pizzaorders.yaml deploy/namespace.yaml deploy/base/namespace.yaml deploy/serviceaccount.yaml \
           deploy/base/serviceaccount.yaml deploy/rbac.yaml; do
    [ -f "$f" ] && files+=(-f "$f")
  done
  $KUBECTL apply "${files[@]}" >/dev/null || return 1
  $KUBECTL wait --for=condition=Established crd/pizzaorders.pizzeria.example.com --timeout=30s >/dev/null
}

requests() { # NAME MPORT -> API requests so far
  local m
  m=$(curl -s "http://127.0.0.1:$2/metrics")
  if [ "${1%%-*}" = pizza ]; then
    printf '%s\n' "$m" | awk '$1 == "pizza_api_requests_total" { v = $2 } END { print (v == "" ? "-" : v) }'
  else
    printf '%s\n' "$m" | awk '$1 == "peer_api_requests_total" { v = $2 } END { print (v == "" ? "-" : v) }'
  fi
}

measure() { # NAME N RUN -> one line of figures: NAME N RUN seconds cpu hwm rss requests
  local name=$1 n=$2 run=$3 mport start wlast end t_conv cpu hwm rss req limit log
  mport=$(cp_free_port)
  log=$WORK/$name-$n-$run.log
  limit=$(( 120 + n * 12 / 100 ))
  if [ "$n" -gt 0 ]; then
    watcher_start "$n"
    for _ in $(seq 1 600); do [ -e "$WORK/primed" ] && break; sleep 0.1; done
    [ -e "$WORK/primed" ] || { echo "bench: the convergence watch did not start" >&2; return 1; }
  fi
  start=$(now_ns) wlast=$(now_ns)
  case $name in
    pizza-controller)
      "$OURS" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" --health-probe-bind-address 0 \
        --health-probe-bind-address 0 --max-orders 20000 --log-level warn > "$log" 2>&1 & ;;
    pizza-no-events)
      "$OURS" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" \
        --health-probe-bind-address 0 --max-orders 20000 --log-level warn --record-events=false > "$log" 2>&1 & ;;
    peer-unthrottled)
      "$PEER" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" \
        --qps -1 --queue-bucket=false > "$log" 2>&1 & ;;
    peer-cr-defaults)
      "$PEER" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" \
        --qps 20 --burst 30 --queue-bucket=true > "$log" 2>&1 & ;;
    peer-events)
      "$PEER" --kubeconfig "$CP_DIR/ctl-token-dns.kubeconfig" --metrics-bind-address "127.0.0.1:$mport" \
        --qps -1 --queue-bucket=false --events > "$log" 2>&1 & ;;
  esac
  CTL=$!
  while :; do
    if [ "$n" -eq 0 ]; then
      curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null && { sleep 1; end=$(now_ns); break; }
    elif [ -s "$WORK/converged" ]; then
      end=$(cat "$WORK/converged"); break
    elif ! kill -0 "$WCURL" 2>/dev/null && [ $(( $(now_ns) - wlast )) -gt 2000000000 ]; then
      echo "bench: the convergence watch ended; starting it again" >&2
      watcher_stop; watcher_start "$n"; wlast=$(now_ns)
    fi
    kill -0 $CTL 2>/dev/null || { echo "bench: $name died; see $log" >&2; tail -5 "$log" >&2; CTL=; watcher_stop; return 1; }
    [ $(( ($(now_ns) - start) / 1000000000 )) -gt "$limit" ] && {
      echo "bench: $name did not converge in $limit s" >&2; kill $CTL; wait $CTL 2>/dev/null; CTL=; watcher_stop; return 1; }
    sleep 0.2
  done
  cpu=$(cpu_s $CTL)
  hwm=$(kb $CTL VmHWM)
  watcher_stop
  t_conv=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  sleep 10
  rss=$(kb $CTL VmRSS)
  req=$(requests "$name" "$mport")
  # Events written by then (one OvenCreated per order when none was dropped): "the same work"
  # is checked, not assumed. pizza-controller drops what does not fit its queue (counted in
  # pizza_events_total{result="queue_full"}), client-go what does not fit its channel.
  evs=$(curl -s --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "https://127.0.0.1:$CP_PORT/api/v1/events?fieldSelector=reason%3DOvenCreated" | grep -o '"reason": *"OvenCreated"' | wc -l)
  [ "${name%%-*}" != pizza ] && curl -s "http://127.0.0.1:$mport/metrics" \
    | grep -E '^peer_api_requests_by_kind|^# client-side' > "$WORK/$name-$n-$run.kinds"
  kill $CTL; wait $CTL 2>/dev/null; CTL=
  echo "$name $n $run $t_conv $cpu $hwm $rss $req $evs"
}

size_ours=$(stat -c %s "$OURS"); size_peer=$(stat -c %s "$PEER")
sum_ours=$(sha256sum "$OURS" | cut -c1-12)
echo "executables: pizza-controller $size_ours bytes, client-go peer $size_peer bytes (both stripped)"
echo "work directory: $WORK"
FIG=$WORK/figures
[ -z "$FROM" ] && : > "$FIG"
[ -z "$FROM" ] && for n in $SIZES; do
  echo "== $n orders: control plane and orders"
  cp_down "$WORK/cp" 2>/dev/null; rm -rf "$WORK/cp"
  cp_up "$WORK/cp" >/dev/null 2>"$WORK/cp-up.log" || { cat "$WORK/cp-up.log"; exit 1; }
  . "$WORK/cp/env"
  apply_deploy || { echo "bench: could not install the CRD and RBAC"; exit 1; }
  t0=$(now_ns)
  make_orders "$n"
  echo "   $n orders created in $(( ($(now_ns) - t0) / 1000000000 )) s"
  cp_stop "$WORK/cp"
  rm -rf "$WORK/etcd-snap"; cp -a "$WORK/cp/etcd" "$WORK/etcd-snap"
  for run in $(seq 1 "$RUNS"); do
    for name in $CONTROLLERS; do
      if [ -n "${BENCH_ONLY:-}" ] && printf '%s\n' $BENCH_ONLY | grep -q "^$n:" &&
         ! printf '%s\n' $BENCH_ONLY | grep -qx "$n:$name"; then
        continue
      fi
      rm -rf "$WORK/cp/etcd"; cp -a "$WORK/etcd-snap" "$WORK/cp/etcd"
      cp_start "$WORK/cp" >/dev/null 2>&1 || { echo "bench: control plane restart failed"; exit 1; }
      echo "   run $run: $name..."
      # not through a pipe: measure must run in this shell, so the EXIT trap can stop what it started
      if measure "$name" "$n" "$run" > "$WORK/line"; then
        cat "$WORK/line"; cat "$WORK/line" >> "$FIG"
      else
        echo "   $name: no figures at $n orders (run $run)"
      fi
      cp_stop "$WORK/cp"
    done
  done
  rm -rf "$WORK/etcd-snap"
done

# ---- the report ----
med() { # stdin: numbers -> median ("-" if none)
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
                                      else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fig() { # NAME N COLUMN(4 time, 5 cpu, 6 hwm, 7 rss, 8 requests, 9 OvenCreated Events) -> median over runs
  awk -v c="$1" -v n="$2" -v k="$3" '$1 == c && $2 == n && $k != "-" && $k != "" { print $k }' "$FIG" | med
}
ratio() { # A B [DIGITS] -> A / B, or n/a
  awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "n/a"; else printf "%.*f", d, a / b }'
}
mark() { # VALUE OP LIMIT -> VALUE with a tick or a cross
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v == "n/a") { print v; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); printf "%s%s", v, (ok ? " ✓" : " ✗ (target " op " " l ")") }'
}
label() {
  case $1 in
    pizza-controller) echo "pizza-controller, Events";;
    pizza-no-events) echo "pizza-controller, no Events";;
    peer-unthrottled) echo "client-go, unthrottled";;
    peer-cr-defaults) echo "client-go, controller-runtime defaults";;
    peer-events) echo "client-go, unthrottled, --events";;
  esac
}
# the pizza-controller CPU is near the 10 ms tick at small sizes: no ratio below 50 ms
cpu_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 < 0.05) print "n/a"; else printf "%.1f", a / b }'; }

ncpu=$(nproc)
conc=$("$OURS" --help 2>&1 | sed -n 's/.*--max-concurrent-reconciles N.*(default \([0-9]*\)).*/\1/p')
{
  echo "### pizza-controller vs client-go ($(date -u +%Y-%m-%d), $ncpu cores, kube-apiserver v1.20.2, $RUNS run(s) per size: medians)"
  echo
  echo "Produced by \`bash bench/run.sh\` (BENCH_SIZES=\"$SIZES\" BENCH_RUNS=$RUNS). Every controller started from the same etcd snapshot, under the same RBAC identity."
  echo
  echo "- **pizza-controller, no Events**: its defaults (--max-concurrent-reconciles ${conc:-?}) but --record-events=false, --max-orders 20000. Compared with the two peers below, which record no Events either."
  [ "$EVENTS" = 1 ] && echo "- **pizza-controller, Events**: its defaults (Events recorded: OvenCreated here), --max-orders 20000. Compared with the peer with --events."
  echo "- **client-go, unthrottled**: rest.Config QPS -1 (client-go creates no client-side rate limiter), workqueue with the per-item failure backoff only (5 ms..1000 s, no bucket), 1 worker."
  echo "- **client-go, controller-runtime defaults**: QPS 20, burst 30 (one token bucket per client, as controller-runtime), DefaultControllerRateLimiter (max of per-item 5 ms..1000 s and a 10/s, burst 100 bucket), 1 worker (MaxConcurrentReconciles 1)."
  [ "$EVENTS" = 1 ] && echo "- **client-go, unthrottled, --events**: the unthrottled peer that also records Events on the orders with client-go's EventRecorder (OvenCreated here: the bench has no kubelet, Pods never run)."
  echo
  echo "Executables (stripped): pizza-controller **$size_ours** bytes (sha256 $sum_ours...), client-go peer **$size_peer** bytes: **$(ratio "$size_peer" "$size_ours" 0)×** smaller."
  echo
  echo "| orders | controller | to converge (s) | CPU (s) | peak RSS (KiB) | settled RSS (KiB) | API requests | requests / order |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for n in $SIZES; do
    for c in $CONTROLLERS; do
      t=$(fig "$c" "$n" 4); [ "$t" = - ] && continue
      r=$(fig "$c" "$n" 8)
      rpo=$([ "$n" -gt 0 ] && ratio "$r" "$n" 2 || echo "-")
      echo "| $n | $(label "$c") | $t | $(fig "$c" "$n" 5) | $(fig "$c" "$n" 6) | $(fig "$c" "$n" 7) | $r | $rpo |"
    done
  done
  pairs="pizza-no-events:peer-unthrottled pizza-no-events:peer-cr-defaults"
  [ "$EVENTS" = 1 ] && pairs="$pairs pizza-controller:peer-events"
  for pair in $pairs; do
    ours=${pair%%:*} peer=${pair#*:}
    echo
    case $peer in
      peer-unthrottled) echo "Against the **unthrottled** peer, no Events on either side (the targets of issue 6: time ≤ 0.8×, CPU ≥ 10× less, peak memory ≥ 20× less):";;
      peer-cr-defaults) echo "Against the peer with **controller-runtime's defaults**, no Events on either side:";;
      peer-events) echo "With **Events on both sides**: pizza-controller's defaults against the unthrottled peer with --events:";;
    esac
    echo
    echo "| orders | time ours / peer | CPU peer / ours | peak memory peer / ours | settled memory peer / ours |"
    echo "| ---: | ---: | ---: | ---: | ---: |"
    for n in $SIZES; do
      [ "$(fig "$peer" "$n" 4)" = - ] && continue
      [ "$(fig "$ours" "$n" 4)" = - ] && continue
      tr=$(ratio "$(fig "$ours" "$n" 4)" "$(fig "$peer" "$n" 4)" 2)
      cr=$(cpu_ratio "$(fig "$peer" "$n" 5)" "$(fig "$ours" "$n" 5)")
      hr=$(ratio "$(fig "$peer" "$n" 6)" "$(fig "$ours" "$n" 6)" 0)
      sr=$(ratio "$(fig "$peer" "$n" 7)" "$(fig "$ours" "$n" 7)" 0)
      if [ "$peer" = peer-unthrottled ] && [ "$n" -gt 0 ]; then
        echo "| $n | $(mark "$tr" "<=" 0.8) | $(mark "$cr" ">=" 10) | $(mark "$hr" ">=" 20) | $sr |"
      elif [ "$n" -gt 0 ]; then
        echo "| $n | $tr | $cr | $hr | $sr |"
      else
        echo "| $n | (start-up only) | $cr | $hr | $sr |"
      fi
    done
  done
  if [ "$EVENTS" = 1 ]; then
    echo
    echo "Events: API requests without and with Events, each controller, and the OvenCreated Events"
    echo "on the API server once settled (one per order when none was dropped)."
    echo
    echo "| orders | controller | requests without | with Events | extra per order | Events written |"
    echo "| ---: | --- | ---: | ---: | ---: | ---: |"
    for n in $SIZES; do
      [ "$n" -gt 0 ] || continue
      for pair in pizza-no-events:pizza-controller peer-unthrottled:peer-events; do
        a=$(fig "${pair%%:*}" "$n" 8); b=$(fig "${pair#*:}" "$n" 8)
        [ "$a" = - ] || [ "$b" = - ] && continue
        who=$([ "${pair%%:*}" = pizza-no-events ] && echo pizza-controller || echo client-go)
        echo "| $n | $who | $a | $b | $(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }') | $(fig "${pair#*:}" "$n" 9) |"
      done
    done
  fi
  echo
  echo "Requests of the peers by kind (last run of the largest size):"
  echo
  echo '```'
  last=$(for n in $SIZES; do echo "$n"; done | sort -n | tail -1)
  for c in $CONTROLLERS; do
    f=$WORK/$c-$last-$RUNS.kinds
    [ -f "$f" ] && { echo "$c ($last orders):"; sed 's/^/  /' "$f"; }
  done
  echo '```'
} > "$RES"
echo
cat "$RES"
if [ "$REPLAY" = 1 ]; then
  echo
  echo "== replay benchmark"
  if make -s build/bench/replay build/bench/replay_server >"$WORK/replay-build.log" 2>&1; then
    bash bench/replay.sh | tee "$WORK/replay"
    { echo; echo '```'; cat "$WORK/replay"; echo '```'; } >> "$RES"
  else
    echo "bench: the replay benchmark did not build (see $WORK/replay-build.log): skipped"
  fi
fi
echo "results: $RES (raw figures: $FIG)"
exit 0
}
