#!/usr/bin/env bash
# The kubeconfig matrix against a real etcd + kube-apiserver (tests/cp): every kubeconfig shape
# kubectl reads, each of which must get the controller to `orders listed`, and the bad inputs, each
# of which must stop it at start-up with exit status 1 and a clear line (issue 9).
#   tests/e2e/kubeconfig.sh path/to/pizza-controller
# Needs tinyproxy (Debian package `tinyproxy`) for the proxy cases; without it they are reported
# as failures with a line saying so. Set E2E_KEEP=1 to keep the control plane's folder and logs.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/cp/lib.sh"
. "$ROOT/tests/e2e/lib.sh"
WORK=$(mktemp -d /tmp/pizza-kubeconfig.XXXXXX)
# A copy: a rebuild of the original during the run must not pull it from under the tests.
BIN=$WORK/pizza-controller
cp "$1" "$BIN" || { echo "kubeconfig: no controller binary at $1"; echo "kubeconfig: 0 passed, 1 failed"; exit 1; }
san_detect "$BIN"
PIDS=()
cleanup() {
  local p
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done
  cp_down "$WORK/cp"
  if [ "${E2E_KEEP:-0}" = 1 ] || [ "$T_FAIL" -ne 0 ]; then
    echo "kubeconfig: logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

echo "== control plane"
cp_up "$WORK/cp" || { echo "kubeconfig: control plane failed to start"; echo "kubeconfig: 0 passed, 1 failed"; exit 1; }
. "$WORK/cp/env"
K() { $KUBECTL "$@"; }
K apply -f "$ROOT/crd/pizzaorders.yaml" >/dev/null
wait_for 30 K wait --for=condition=Established crd/pizzaorders.pizzeria.example.com --timeout=1s
# The matrix is about reading credentials, not about RBAC (run.sh tests that): every identity used
# here may list orders and Pods.
K create clusterrolebinding pz-kubeconfig-e2e --clusterrole=cluster-admin \
  --user=system:serviceaccount:pizza-system:pizza-controller >/dev/null
D=$WORK/kc
mkdir -p "$D"
SERVER="https://127.0.0.1:$CP_PORT"
b64() { base64 -w0 < "$1"; }
CA64=$(b64 "$CP_DIR/ca.crt")

# run_ctl NAME SECONDS [ENV=VALUE...] -- ARGS...: the controller with a kubeconfig for a while;
# its log in $WORK/NAME.log, its exit status in RC.
run_ctl() {
  local name=$1 secs=$2; shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env ${envs[@]+"${envs[@]}"} timeout -k 5 "$secs" "$BIN" --metrics-bind-address 0 --health-probe-bind-address 0 "$@" >"$WORK/$name.log" 2>&1
  RC=$?
}
listed() { grep -q 'orders listed' "$WORK/$1.log"; }
# expect_ok NAME KUBECONFIG [ENV=VALUE...]: lists orders with it
expect_ok() {
  local name=$1 kc=$2; shift 2
  run_ctl "$name" 4 "$@" -- --kubeconfig "$kc"
  if listed "$name"; then t_pass "$name: orders listed"; else t_fail "$name: orders listed (see $WORK/$name.log)"; tail -3 "$WORK/$name.log"; fi
}
# expect_refused NAME WHAT KUBECONFIG [ARGS...]: exits 1 at start-up, the error line mentions WHAT
expect_refused() {
  local name=$1 what=$2 kc=$3; shift 3
  run_ctl "$name" 20 -- --kubeconfig "$kc" "$@"
  if [ "$RC" = 1 ] && grep 'configuration failed' "$WORK/$name.log" | grep -qF -- "$what" && ! listed "$name"; then
    t_pass "$name: refused at start-up, exit 1, says \"$what\""
  else
    t_fail "$name: refused at start-up, exit 1, says \"$what\" (exit $RC; see $WORK/$name.log)"
    tail -3 "$WORK/$name.log"
  fi
}

# block KUBECONFIG: the shape of every file here, in block YAML
block() { # FILE CLUSTER_BODY USER_BODY   (bodies indented by 4)
  printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n%s\n  name: test\ncontexts:\n- context:\n    cluster: test\n    user: u\n  name: test\ncurrent-context: test\nusers:\n- name: u\n  user:\n%s\n' "$2" "$3" > "$1"
}
CL_FILE="    certificate-authority: $CP_DIR/ca.crt
    server: $SERVER"

echo "== kubeconfigs kubectl reads: each lists orders"
block "$D/block" "$CL_FILE" "    token: $CTL_TOKEN"
expect_ok block "$D/block"

cat > "$D/flow" <<EOF
apiVersion: v1
clusters: [{name: local, cluster: {server: '$SERVER', certificate-authority-data: $CA64}}]
contexts:
- context: {cluster: local, user: u}
  name: local
current-context: local
users: [{name: u, user: {token: "$CTL_TOKEN"}}]
EOF
expect_ok flow "$D/flow"

K config view --raw -o json --kubeconfig "$CP_DIR/admin.kubeconfig" > "$D/admin.json"
cat > "$D/json" <<EOF
{
  "kind": "Config", "apiVersion": "v1", "preferences": {},
  "clusters": [{"name": "j", "cluster": {"server": "$SERVER", "certificate-authority-data": "$CA64"}}],
  "users": [{"name": "ju", "user": {"token": "$CTL_TOKEN"}}],
  "contexts": [{"name": "jc", "context": {"cluster": "j", "user": "ju"}}],
  "current-context": "jc"
}
EOF
expect_ok json "$D/json"
t_check "kubectl's own JSON output is a JSON kubeconfig" grep -q '"current-context"' "$D/admin.json"
expect_ok kubectl-json "$D/admin.json"

# Two files merged: the context in one, cluster and user in the other (paths relative to it).
mkdir -p "$D/m1" "$D/m2"
cp "$CP_DIR/ca.crt" "$D/m2/ca.crt"
printf '%s\n' "$CTL_TOKEN" > "$D/m2/token"
printf 'apiVersion: v1\ncurrent-context: merged\ncontexts:\n- name: merged\n  context: {cluster: c2, user: u2}\n' > "$D/m1/config"
printf 'apiVersion: v1\ncurrent-context: not-this-one\nclusters:\n- name: c2\n  cluster: {server: "%s", certificate-authority: ca.crt}\nusers:\n- name: u2\n  user: {tokenFile: token}\n' "$SERVER" > "$D/m2/config"
run_ctl merged-args 4 KUBECONFIG="$D/m1/config:$D/m2/config" --
t_check "two files merged through KUBECONFIG list orders" listed merged-args

block "$D/tokenfile" "$CL_FILE" "    tokenFile: $D/m2/token"
expect_ok tokenfile "$D/tokenfile"
block "$D/cert-files" "$CL_FILE" "    client-certificate: $CP_DIR/ctl.crt
    client-key: $CP_DIR/ctl.key"
expect_ok cert-files "$D/cert-files"
block "$D/cert-data" "    certificate-authority-data: $CA64
    server: $SERVER" "    client-certificate-data: $(b64 "$CP_DIR/ctl.crt")
    client-key-data: $(b64 "$CP_DIR/ctl.key")"
expect_ok cert-data "$D/cert-data"
block "$D/sni" "$CL_FILE
    tls-server-name: kubernetes.default.svc" "    token: $CTL_TOKEN"
expect_ok tls-server-name "$D/sni"
# HTTPS_PROXY is ignored for a loopback server, as Go's httpproxy does: a dead proxy changes nothing.
expect_ok env-proxy-loopback "$D/block" HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=

# An exec plugin: v1 ExecCredential, expiring after 3 s, counting its runs, with the token also
# on its stderr (which the controller may log, redacted).
mkdir -p "$D/plugin"
cat > "$D/plugin/get-token" <<EOF
#!/bin/sh
d=\$(dirname "\$0")
n=\$(cat "\$d/count" 2>/dev/null || echo 0); echo \$((n + 1)) > "\$d/count"
echo "get-token: issued $CTL_TOKEN" >&2
exp=\$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$CTL_TOKEN" "\$exp"
EOF
chmod +x "$D/plugin/get-token"
exec_kc() { # FILE COMMAND
  block "$1" "$CL_FILE" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $2
      args: [--cluster, test]
      interactiveMode: Never"
}
exec_kc "$D/exec" ./plugin/get-token
rm -f "$D/plugin/count"
run_ctl exec 9 -- --kubeconfig "$D/exec"
t_check "exec plugin: orders listed" listed exec
echo "  exec plugin ran $(cat "$D/plugin/count" 2>/dev/null || echo 0) time(s) in 9 s (credential valid 3 s)"
t_check "exec plugin: ran at least once" test "$(cat "$D/plugin/count" 2>/dev/null || echo 0)" -ge 1
t_check "exec plugin: its token never appears in a log line" bash -c "! grep -qF '$CTL_TOKEN' '$WORK/exec.log'"

echo "== bad inputs: a clear start-up error and exit status 1"
head -c 300 "$D/block" > "$D/truncated"
printf '\n    server: "https://127.0.0.1' >> "$D/truncated"
expect_refused truncated "never closed" "$D/truncated"
printf 'apiVersion: v1\nclusters:\n- cluster:\n\tserver: %s\n' "$SERVER" > "$D/tabs"
expect_refused tabs "tab" "$D/tabs"
expect_refused unknown-context 'not found (contexts:' "$D/block" --context nope
expect_refused missing-file "No such file" "$D/does-not-exist"
block "$D/insecure" "$CL_FILE
    insecure-skip-tls-verify: true" "    token: $CTL_TOKEN"
expect_refused insecure insecure-skip-tls-verify "$D/insecure"
block "$D/crlf-token" "$CL_FILE" "    token: \"$CTL_TOKEN\\r\\nX-Injected: yes\""
expect_refused crlf-token "token" "$D/crlf-token"
printf '#!/bin/sh\nexec sleep 600\n' > "$D/plugin/hang"
printf '#!/bin/sh\necho "login failed" >&2\nexit 1\n' > "$D/plugin/fail"
printf '#!/bin/sh\nhead -c 10000000 /dev/zero | tr "\\\\0" x\n' > "$D/plugin/flood"
chmod +x "$D/plugin/hang" "$D/plugin/fail" "$D/plugin/flood"
exec_kc "$D/exec-hang" ./plugin/hang
T0=$(date +%s)
expect_refused plugin-hangs "killed" "$D/exec-hang"
echo "  a hanging plugin was given up after $(( $(date +%s) - T0 )) s"
exec_kc "$D/exec-fail" ./plugin/fail
expect_refused plugin-exits-1 "exited with status 1" "$D/exec-fail"
exec_kc "$D/exec-flood" ./plugin/flood
expect_refused plugin-10mb "more than" "$D/exec-flood"
t_check "no log line holds the controller's token" bash -c "! grep -qF '$CTL_TOKEN' '$WORK'/*.log"

echo "== through an HTTP proxy (tinyproxy, CONNECT)"
if ! command -v tinyproxy >/dev/null 2>&1; then
  t_fail "tinyproxy is not installed (Debian package tinyproxy): proxy cases not run"
else
  # tinyproxy drops root for nobody: its log goes where nobody may write
  PLOG=$WORK/proxy-logs
  mkdir -p "$PLOG" && chmod 711 "$WORK" && chmod 777 "$PLOG"
  proxy_up() { # NAME CONNECT_PORT [BasicAuth line]
    local port conf=$WORK/$1.tinyproxy.conf
    port=$(cp_free_port)
    {
      echo "Port $port"; echo "Listen 127.0.0.1"; echo "Timeout 30"; echo "Allow 127.0.0.1"
      echo "ConnectPort $2"; echo "LogFile \"$PLOG/$1.log\""; echo "LogLevel Connect"
      echo "MaxClients 20"
      [ -n "${3:-}" ] && echo "$3"
    } > "$conf"
    [ "$(id -u)" = 0 ] && echo "User nobody" >> "$conf" && echo "Group nogroup" >> "$conf"
    tinyproxy -d -c "$conf" >/dev/null 2>&1 &
    PIDS+=($!)
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || t_fail "tinyproxy $1 did not start"
    PROXY_PORT=$port
  }
  proxy_up open "$CP_PORT"
  block "$D/proxy" "$CL_FILE
    proxy-url: http://127.0.0.1:$PROXY_PORT" "    token: $CTL_TOKEN"
  expect_ok proxy "$D/proxy"
  t_check "the proxy carried the controller's CONNECT" grep -q "CONNECT" "$PLOG/open.log"
  proxy_up auth "$CP_PORT" "BasicAuth pizza s3cret"
  block "$D/proxy-auth" "$CL_FILE
    proxy-url: http://pizza:s3cret@127.0.0.1:$PROXY_PORT" "    token: $CTL_TOKEN"
  expect_ok proxy-auth "$D/proxy-auth"
  proxy_up refusing 1
  block "$D/proxy-refuses" "$CL_FILE
    proxy-url: http://127.0.0.1:$PROXY_PORT" "    token: $CTL_TOKEN"
  run_ctl proxy-refuses 5 -- --kubeconfig "$D/proxy-refuses"
  t_check "a proxy that refuses CONNECT: the controller started, nothing listed" \
    bash -c "grep -q 'level=' '$WORK/proxy-refuses.log' && ! grep -q 'orders listed' '$WORK/proxy-refuses.log'"
  t_check "a proxy that refuses CONNECT: an error line naming the proxy" grep -qi 'level=error.*proxy' "$WORK/proxy-refuses.log"
  block "$D/proxy-socks" "$CL_FILE
    proxy-url: socks5://127.0.0.1:1080" "    token: $CTL_TOKEN"
  expect_refused proxy-socks5 "proxy-url" "$D/proxy-socks"
fi

san_reports "$WORK"
t_summary kubeconfig
