# Tiny test framework for the shell tests: pass/fail counters and a polling wait.
T_PASS=0
T_FAIL=0
t_pass() { T_PASS=$((T_PASS + 1)); printf '  ok    %s\n' "$*"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); printf '  FAIL  %s\n' "$*"; }
t_check() { # DESC CMD...   passes when CMD succeeds
  local d=$1; shift
  if "$@"; then t_pass "$d"; else t_fail "$d"; fi
}
# wait_for SECONDS CMD... : polls CMD every 0.2 s until it succeeds; returns 1 on timeout.
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ $(( $(date +%s%N) / 1000000 )) -ge "$end" ] && return 1
    sleep 0.2
  done
}
t_summary() { # NAME
  printf '%s: %d passed, %d failed\n' "$1" "$T_PASS" "$T_FAIL"
  [ "$T_FAIL" -eq 0 ]
}
