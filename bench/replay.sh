#!/usr/bin/env bash
# The replay benchmark: the controller's watch path against a recorded real watch stream served at
# full speed over TLS on loopback (bench/replay_server), with no API server in the way.
#   bash bench/replay.sh            full run: events/s, instructions/event, memory curve of a list
#   bash bench/replay.sh --budget   only the instructions-per-event figure, checked against
#                                   tests/budgets.env (the test command runs this)
# Events: bench/data/watch-orders.jsonl.xz, 896 events recorded from a real kube-apiserver v1.20
# while this controller baked 300 orders (ADDED, then MODIFIED by status writes and Pod phases).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/budgets.env"
. "$ROOT/tests/e2e/lib.sh"
. "$ROOT/tests/cp/lib.sh"
B=$ROOT/build/bench
WORK=$(mktemp -d /tmp/pizza-replay.XXXXXX)
SRV=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; rm -rf "$WORK"' EXIT
xz -dc "$ROOT/bench/data/watch-orders.jsonl.xz" > "$WORK/events.jsonl"
EVENTS_PER_CYCLE=$(wc -l < "$WORK/events.jsonl")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
  -out "$WORK/cert.pem" -days 2 -subj "/CN=replay" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

serve() { # CYCLES LIST_ITEMS
  [ -n "$SRV" ] && kill $SRV 2>/dev/null && wait $SRV 2>/dev/null
  PORT=$(cp_free_port)
  "$B/replay_server" "$PORT" "$WORK/cert.pem" "$WORK/key.pem" "$WORK/events.jsonl" "$1" "$2" >/dev/null 2>&1 &
  SRV=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}
field() { sed -E "s/.*$1=([0-9.]+).*/\1/"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Instructions per event: the difference between 4 cycles and 1 cycle of the stream, so the
# handshake and start-up cancel out. valgrind counts instructions, not time: repeatable on a
# shared machine.
instr_for() { # CYCLES -> sets INSTR (not in $(...): the server must outlive the call)
  serve "$1" 0
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" "$B/replay" "$PORT" "$WORK/cert.pem" watch \
    >"$WORK/out.$1" 2>"$WORK/vg.$1"
  INSTR=$(awk '/^summary:|^totals:/ {print $2; exit}' "$WORK/cg.$1")
  # a replay that stopped early would make the difference below meaningless (even negative)
  local got; got=$(field events < "$WORK/out.$1")
  if [ "$got" != "$(( $1 * EVENTS_PER_CYCLE ))" ]; then
    echo "  replay of $1 cycle(s) read ${got:-no} events, not $(( $1 * EVENTS_PER_CYCLE )): $(tail -1 "$WORK/vg.$1")"
    INSTR=
  fi
}
instr_for 1; I1=$INSTR
instr_for 4; I4=$INSTR
if [ -z "$I1" ] || [ -z "$I4" ] || [ "$I4" -le "$I1" ]; then
  IPE=
  echo "  instructions per replayed event: not measured (a replay failed)"
  if [ "${1:-}" = --budget ]; then t_check "replays read every event" false; t_summary replay; exit; fi
  exit 1
fi
IPE=$(( (I4 - I1) / (3 * EVENTS_PER_CYCLE) ))
echo "  instructions per replayed event: $IPE (callgrind, (I(4 cycles) - I(1 cycle)) / $((3 * EVENTS_PER_CYCLE)) events; budget $BUDGET_INSTR_PER_EVENT)"
if [ "${1:-}" = --budget ]; then
  t_check "instructions per replayed event within budget" test "$IPE" -le "$BUDGET_INSTR_PER_EVENT"
  t_summary replay
  exit
fi

echo "  events per second (one core, 100 cycles = $((100 * EVENTS_PER_CYCLE)) events, median of 5):"
serve 100 0
for i in 1 2 3 4 5; do "$B/replay" "$PORT" "$WORK/cert.pem" watch; done > "$WORK/rates"
sed 's/^/    /' "$WORK/rates"
EPS=$(field events_per_second < "$WORK/rates" | median)
HWM=$(field vmhwm_kb < "$WORK/rates" | median)
echo "  median: $EPS events/s, peak RSS $HWM KiB (target >= 150000 events/s)"

echo "  memory of the initial list as orders grow (one page holding every order; table of 20,000):"
printf '    %8s %12s %10s\n' orders listed_KiB peak_KiB
for n in 0 1000 2000 5000 10000 20000; do
  serve 1 "$n"
  out=$("$B/replay" "$PORT" "$WORK/cert.pem" list 20000)
  hwm=$(echo "$out" | field vmhwm_kb)
  printf '    %8d %12d %10d\n' "$n" $(( n * $(head -1 "$WORK/events.jsonl" | wc -c) / 1024 )) "$hwm"
  eval "HWM_$n=$hwm"
done
SLOPE=$(( (HWM_20000 - HWM_1000) * 1024 / 19000 ))
echo "  growth: $SLOPE bytes per order from 1,000 to 20,000 (listed bytes per order: $(head -1 "$WORK/events.jsonl" | wc -c))"
echo "replay: events_per_second=$EPS instructions_per_event=$IPE list_bytes_per_order=$SLOPE peak_kb=$HWM"
