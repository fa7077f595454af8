# Control-plane helpers for the end-to-end tests, the demo and the benchmarks (bash, sourced).
#
#   cp_up DIR        start etcd and kube-apiserver on free loopback ports, with RBAC on, a private CA
#                    made here with openssl (as kubeadm does), static tokens for an admin and for the
#                    controller's service-account identity, and client-certificate auth.
#   cp_down DIR      stop them
#   cp_restart_apiserver DIR   stop and start the API server only (same ports, same data)
#   cp_stop DIR / cp_start DIR  stop everything / start it again on the same data
#   cp_apply_deploy DIR [KUSTOMIZATION]   `kubectl apply -k deploy/` (or the folder given), as the
#                    README tells users, then waits until the CRD is established
#
# After cp_up, DIR holds: ca.crt, admin.kubeconfig, sa/ (token + ca.crt, laid out like the in-cluster
# mount), ctl-cert.kubeconfig (client certificate), and env (CP_PORT, CP_BIN, ADMIN_TOKEN ...).
# Nothing listens beyond 127.0.0.1.

CP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A port nobody listens on, below the kernel's ephemeral range (which starts at 32768 by default):
# a port from that range can be taken by any outgoing connection between the check and the bind.
cp_free_port() {
  local p lo
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 200); do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

cp_log() { printf '[control-plane] %s\n' "$*" >&2; }

_cp_certs() { # DIR
  local d=$1
  (
    cd "$d" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=pizza-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    # Serving certificate: DNS names of the in-cluster service and loopback's IP, as a real API
    # server carries them.
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=DNS:kubernetes.default.svc,DNS:kubernetes.default,DNS:kubernetes,DNS:localhost,IP:127.0.0.1,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n' > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 2 -extfile apiserver.ext 2>/dev/null
    # Client certificate for the controller's identity (EC key, to exercise that path too).
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ctl.key -out ctl.csr \
      -subj "/CN=system:serviceaccount:pizza-system:pizza-controller/O=system:serviceaccounts" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > ctl.ext
    openssl x509 -req -in ctl.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ctl.crt -days 2 \
      -extfile ctl.ext 2>/dev/null
    # A second, unrelated CA: a client that trusts it must refuse the server.
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 2 \
      -subj "/CN=some-other-ca" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || return 1
}

_cp_kubeconfig() { # FILE SERVER CA_FILE USER_BLOCK [TLS_SERVER_NAME]
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "- cluster:"
    echo "    certificate-authority: $3"
    echo "    server: $2"
    [ -n "${5:-}" ] && echo "    tls-server-name: $5"
    echo "  name: test"
    echo "contexts:"
    echo "- context:"
    echo "    cluster: test"
    echo "    user: u"
    echo "  name: test"
    echo "current-context: test"
    echo "preferences: {}"
    echo "users:"
    echo "- name: u"
    echo "  user:"
    printf '%s\n' "$4"
  } > "$1"
}

_cp_start_apiserver() { # DIR
  local d=$1
  . "$d/env"
  "$CP_BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --bind-address=127.0.0.1 \
    --secure-port="$CP_PORT" --tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" \
    --client-ca-file="$d/ca.crt" --token-auth-file="$d/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=10.96.0.0/12 \
    --disable-admission-plugins=ServiceAccount --cert-dir="$d/certs" --advertise-address=127.0.0.1 \
    --enable-admission-plugins=OwnerReferencesPermissionEnforcement \
    --enable-priority-and-fairness=false --profiling=false --logtostderr=true --v=0 \
    >>"$d/apiserver.log" 2>&1 &
  echo $! > "$d/apiserver.pid"
  local i
  for i in $(seq 1 120); do
    if curl -sf --cacert "$d/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
         "https://127.0.0.1:$CP_PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$(cat "$d/apiserver.pid")" 2>/dev/null; then
      cp_log "kube-apiserver exited; last lines of $d/apiserver.log:"; tail -20 "$d/apiserver.log" >&2
      return 1
    fi
    sleep 0.5
  done
  cp_log "kube-apiserver not ready after 60 s"; tail -20 "$d/apiserver.log" >&2
  return 1
}

cp_up() { # DIR
  local d=$1
  mkdir -p "$d/certs" "$d/sa" "$d/etcd"
  d=$(cd "$d" && pwd)
  CP_BIN=$(bash "$CP_HERE/build.sh") || return 1
  local etcd_port peer_port port
  etcd_port=$(cp_free_port); peer_port=$(cp_free_port); port=$(cp_free_port)
  local admin_token ctl_token
  admin_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  ctl_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  _cp_certs "$d" || { cp_log "openssl failed"; return 1; }
  cat > "$d/tokens.csv" <<CSV
$admin_token,pizza-admin,uid-admin,"system:masters"
$ctl_token,system:serviceaccount:pizza-system:pizza-controller,uid-ctl,"system:serviceaccounts,system:serviceaccounts:pizza-system"
CSV
  cat > "$d/env" <<ENV
CP_BIN=$CP_BIN
CP_DIR=$d
CP_PORT=$port
ETCD_PORT=$etcd_port
ADMIN_TOKEN=$admin_token
CTL_TOKEN=$ctl_token
KUBECTL="$CP_BIN/kubectl --kubeconfig=$d/admin.kubeconfig"
ENV
  echo "ETCD_PEER_PORT=$peer_port" >> "$d/env"
  cp_start "$d" || return 1
  _cp_kubeconfig "$d/admin.kubeconfig" "https://127.0.0.1:$port" "$d/ca.crt" "    token: $admin_token"
  _cp_kubeconfig "$d/ctl-cert.kubeconfig" "https://127.0.0.1:$port" "$d/ca.crt" \
    "    client-certificate: $d/ctl.crt
    client-key: $d/ctl.key"
  _cp_kubeconfig "$d/ctl-token-dns.kubeconfig" "https://127.0.0.1:$port" "$d/ca.crt" \
    "    token: $ctl_token" "kubernetes.default.svc"
  _cp_kubeconfig "$d/ctl-wrong-ca.kubeconfig" "https://127.0.0.1:$port" "$d/other-ca.crt" "    token: $ctl_token"
  _cp_kubeconfig "$d/ctl-wrong-name.kubeconfig" "https://127.0.0.1:$port" "$d/ca.crt" \
    "    token: $ctl_token" "not-the-apiserver.example.com"
  printf '%s' "$ctl_token" > "$d/sa/token"
  cp "$d/ca.crt" "$d/sa/ca.crt"
  echo default > "$d/sa/namespace"
  cp_log "kube-apiserver ready on https://127.0.0.1:$port ($d)"
}

# Applies a kustomization the way the README tells users: `kubectl apply -k deploy/`. One
# difference, only on a server without policy/v1 (the tests' v1.20 API server; every supported
# Kubernetes has it): the PodDisruptionBudget is sent as policy/v1beta1, which has the same fields,
# so the server still validates it. Then waits for the CRD to be established.
cp_apply_deploy() { # DIR [KUSTOMIZATION]
  local d=$1 k=${2:-$CP_HERE/../../deploy} kubectl
  kubectl="$(. "$d/env"; echo "$CP_BIN/kubectl") --kubeconfig=$d/admin.kubeconfig"
  if $kubectl api-versions | grep -qx policy/v1; then
    $kubectl apply -k "$k" || return 1
  else
    cp_log "this API server has no policy/v1: the PodDisruptionBudget goes in as policy/v1beta1"
    $kubectl kustomize "$k" | sed 's#^apiVersion: policy/v1$#apiVersion: policy/v1beta1#' \
      | $kubectl apply -f - || return 1
  fi
  $kubectl wait --for=condition=Established crd/pizzaorders.pizzeria.example.com --timeout=30s >/dev/null
}

_cp_start_etcd() { # DIR
  local d=$1
  . "$d/env"
  "$CP_BIN/etcd" --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --log-level error >>"$d/etcd.log" 2>&1 &
  echo $! > "$d/etcd.pid"
}

# cp_start / cp_stop: the same control plane (certificates, tokens, ports, data) stopped and
# started again, e.g. to restore an etcd snapshot between benchmark runs.
cp_start() { # DIR
  _cp_start_etcd "$1"
  _cp_start_apiserver "$1"
}

cp_stop() { # DIR
  cp_down "$1"
}

cp_restart_apiserver() { # DIR
  local d=$1
  cp_stop_apiserver "$d"
  _cp_start_apiserver "$d"
}

# Stops a process by pid file: TERM, up to 10 s, then KILL. Safe under `set -e` (callers use it
# from EXIT traps, where a failing kill must not skip the rest of the clean-up).
_cp_kill() { # PIDFILE
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

cp_stop_apiserver() { # DIR
  _cp_kill "$1/apiserver.pid"
}

cp_down() { # DIR
  _cp_kill "$1/apiserver.pid"
  _cp_kill "$1/etcd.pid"
  return 0
}
