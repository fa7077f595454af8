#!/usr/bin/env bash
# The image, built and run with real tools and no Docker daemon:
#   1. a Debian 12 build base made here (mmdebstrap from this machine's own mirror | podman import),
#      because the default base lives in a registry this machine may not reach;
#   2. `make image BUILD_BASE=<that>`: Dockerfile.scratch, podman/buildah, an OCI index with
#      linux/amd64 and linux/arm64, FROM scratch holding the binary only, OCI labels;
#   3. the host's image run by runc as a kubelet would: uid 65532, read-only rootfs, no
#      capabilities, no_new_privs, the runtime's default seccomp profile, a TokenRequest token +
#      ca.crt + namespace bind-mounted at /var/run/secrets/kubernetes.io/serviceaccount,
#      KUBERNETES_SERVICE_HOST/PORT set, the host's loopback network; against the real API server
#      with deploy/'s RBAC. It bakes an order, then stops on SIGTERM and releases its Lease.
#   bash tests/container.sh        (IMAGE_PLATFORMS=linux/amd64 builds only the host's platform)
# Why runc on a bundle and not `podman run`: podman's default rlimits exceed the hard limits of some
# machines (this one), and a kubelet hands the runtime a bundle anyway.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/cp/lib.sh
. tests/e2e/lib.sh
. vendor/apt-mirror.sh

missing=()
for t in podman runc umoci skopeo mmdebstrap python3 curl; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "container: missing ${missing[*]} (Debian packages podman runc umoci skopeo mmdebstrap python3 curl; tests/install-test-deps.sh installs them)"
  echo "container: 0 passed, 1 failed"; exit 1
fi
BASE=${BUILD_BASE:-localhost/pizza-build-base:bookworm}
IMAGE=localhost/pizza-controller
TAG=test
PLATFORMS=${IMAGE_PLATFORMS:-linux/amd64,linux/arm64}
WORK=$(mktemp -d /tmp/pizza-container.XXXXXX)
ID=pizza-ctl-$$
cleanup() {
  runc kill "$ID" KILL >/dev/null 2>&1; runc delete -f "$ID" >/dev/null 2>&1
  cp_down "$WORK/cp"
  if [ "$T_FAIL" -ne 0 ]; then echo "container: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail_out() { echo "container: $*"; echo "container: $T_PASS passed, $((T_FAIL + 1)) failed"; exit 1; }

echo "== build base $BASE"
if ! podman image exists "$BASE"; then
  MIRROR=$(pz_debian_mirror bookworm) || fail_out "no Debian bookworm entry in the apt configuration"
  # The apt variant: Essential packages plus apt, like debian:12-slim. Built once, kept in podman.
  mmdebstrap --quiet --variant=apt --format=tar bookworm "$WORK/base.tar" "$MIRROR" \
    || fail_out "mmdebstrap failed"
  podman import --quiet "$WORK/base.tar" "$BASE" >/dev/null || fail_out "podman import failed"
  rm -f "$WORK/base.tar"
fi
t_check "build base exists" podman image exists "$BASE"

echo "== make image ($PLATFORMS)"
start=$(date +%s)
if [ "${CONTAINER_SKIP_BUILD:-0}" = 1 ] && podman manifest inspect "$IMAGE:$TAG" >/dev/null 2>&1; then
  echo "  CONTAINER_SKIP_BUILD=1: using the image built before (for working on this script only)"; rc=0
else
  make image IMAGE="$IMAGE" IMAGE_TAG="$TAG" BUILD_BASE="$BASE" IMAGE_PLATFORMS="$PLATFORMS" >"$WORK/build.log" 2>&1
  rc=$?
fi
echo "  built in $(( $(date +%s) - start )) s"
t_check "make image succeeds" test "$rc" = 0
[ "$rc" = 0 ] || { tail -30 "$WORK/build.log"; fail_out "image build failed (log above)"; }
podman manifest inspect "$IMAGE:$TAG" >"$WORK/index.json" 2>/dev/null
want_arches=$(echo "$PLATFORMS" | tr ',' '\n' | sed 's#.*/##' | sort | tr '\n' ' ')
got_arches=$(python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["architecture"] for m in json.load(open(sys.argv[1]))["manifests"]))+" ")' "$WORK/index.json" 2>/dev/null)
t_check "the index holds one image per platform ($want_arches)" test "$got_arches" = "$want_arches"

# The host's image, as an OCI layout, unpacked into a runtime bundle. skopeo 1.9 cannot copy out
# of a manifest list held in containers-storage, so it takes the per-platform tag `make image`
# gives each entry.
ARCH=$(dpkg --print-architecture)
skopeo copy --quiet "containers-storage:$IMAGE:$TAG-$ARCH" "oci:$WORK/oci:img" >/dev/null 2>&1 \
  || fail_out "skopeo could not copy the $ARCH image out of containers-storage"
cfg=$(skopeo inspect --config "oci:$WORK/oci:img" 2>/dev/null)
label() { echo "$cfg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"].get("Labels",{}).get(sys.argv[1],""))' "$1"; }
t_check "label org.opencontainers.image.version" test "$(label org.opencontainers.image.version)" = "$(sed -n 's/^VERSION *:= *//p' Makefile)"
t_check "label org.opencontainers.image.revision is the commit" test "$(label org.opencontainers.image.revision)" = "$(git rev-parse HEAD 2>/dev/null || echo unknown)"
t_check "label org.opencontainers.image.source" test -n "$(label org.opencontainers.image.source)"
t_check "runs as 65532:65532" test "$(echo "$cfg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"].get("User",""))')" = 65532:65532
umoci unpack --image "$WORK/oci:img" "$WORK/bundle" >/dev/null 2>&1 || fail_out "umoci unpack failed"
t_check "the image holds the binary and nothing else" test "$(cd "$WORK/bundle/rootfs" && find . -mindepth 1 | tr '\n' ' ')" = "./pizza-controller "
t_check "the binary is static" bash -c "file '$WORK/bundle/rootfs/pizza-controller' | grep -q 'statically linked'"

echo "== control plane and deploy/"
cp_up "$WORK/cp" || fail_out "control plane failed to start"
. "$WORK/cp/env"
apply_deploy() { cp_apply_deploy "$WORK/cp" "$ROOT/deploy" >/dev/null; }
t_check "kubectl apply -k deploy/" apply_deploy
# The token a kubelet projects: a bound service-account token from the TokenRequest API.
SA="$WORK/serviceaccount"
mkdir -p "$SA"
printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}' \
  | $KUBECTL create --raw /api/v1/namespaces/pizza-system/serviceaccounts/pizza-controller/token -f - \
  | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["status"]["token"])' >"$SA/token"
cp "$CP_DIR/ca.crt" "$SA/ca.crt"
echo pizza-system >"$SA/namespace"
chmod 0644 "$SA/token" "$SA/ca.crt" "$SA/namespace"
t_check "TokenRequest gave a service-account token" test -s "$SA/token"

# The bundle as a kubelet's runtime would set it up (see the top). The seccomp profile is the
# container runtime's default (containers-common's seccomp.json, which podman and CRI-O use as
# RuntimeDefault), turned from its Docker form into the OCI form for no capabilities on this arch.
MPORT=$(cp_free_port)
python3 - "$WORK/bundle/config.json" "$SA" "$CP_PORT" "$MPORT" <<'PY' || fail_out "could not write the bundle's config.json"
import json, os, platform, sys
path, sa, api_port, mport = sys.argv[1:5]
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
p.pop("rlimits", None)                    # this machine's hard limits are below the defaults
p["user"] = {"uid": 65532, "gid": 65532}
p["noNewPrivileges"] = True
p["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
p["args"] = ["/pizza-controller", "--leader-elect", "--metrics-bind-address=127.0.0.1:" + mport, "--health-probe-bind-address=0",
             "--leader-elect-lease-duration=15s", "--bake-seconds=1"]
p["env"] = [e for e in p.get("env", []) if not e.startswith("KUBERNETES_")] + [
    "KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + api_port]
c["root"] = {"path": "rootfs", "readonly": True}
lin = c["linux"]
lin["namespaces"] = [n for n in lin["namespaces"] if n["type"] != "network"]   # host loopback
c["mounts"].append({"destination": "/var/run/secrets/kubernetes.io/serviceaccount", "type": "bind",
                    "source": sa, "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]})
prof = json.load(open("/usr/share/containers/seccomp.json"))
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
archmap = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}
def applies(cond):
    return (not cond.get("caps") and (not cond.get("arches") or arch in cond["arches"]))
rules = []
for r in prof["syscalls"]:
    inc, exc = r.get("includes", {}), r.get("excludes", {})
    if not applies(inc):
        continue
    if exc.get("arches") and arch in exc["arches"]:
        continue
    rule = {"names": r["names"], "action": r["action"]}
    if r.get("args"):
        rule["args"] = r["args"]
    if "errnoRet" in r:
        rule["errnoRet"] = r["errnoRet"]
    rules.append(rule)
archs = [a for m in prof.get("archMap", []) if m["architecture"] == archmap[arch]
         for a in [m["architecture"]] + m.get("subArchitectures", [])]
lin["seccomp"] = {"defaultAction": prof["defaultAction"], "architectures": archs, "syscalls": rules}
if "defaultErrnoRet" in prof:
    lin["seccomp"]["defaultErrnoRet"] = prof["defaultErrnoRet"]
json.dump(c, open(path, "w"), indent=1)
PY

echo "== the image under runc, as a kubelet runs it"
runc run --detach --bundle "$WORK/bundle" "$ID" >"$WORK/controller.log" 2>&1 </dev/null
t_check "runc starts the container" wait_for 5 bash -c "runc state '$ID' | grep -q '\"status\": \"running\"'"
PID=$(runc state "$ID" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null || echo 0)
status_field() { awk -v f="$1" '$1 == f":" { print $2 }' "/proc/$PID/status" 2>/dev/null; }
t_check "runs as uid 65532" test "$(status_field Uid)" = 65532
t_check "holds no capabilities" test "$(status_field CapEff)/$(status_field CapBnd)" = 0000000000000000/0000000000000000
t_check "no_new_privs is set" test "$(status_field NoNewPrivs)" = 1
t_check "seccomp filter is on" test "$(status_field Seccomp)" = 2
t_check "root filesystem is read-only" bash -c "awk '\$2 == \"/\" { print \$4 }' /proc/$PID/mounts | grep -q '^ro'"
t_check "becomes ready (in-cluster config from the mount)" wait_for 20 curl -sf "http://127.0.0.1:$MPORT/readyz"
t_check "takes the Lease in pizza-system" wait_for 20 bash -c "$KUBECTL -n pizza-system get lease pizza-controller.pizzeria.example.com -o 'jsonpath={.spec.holderIdentity}' | grep -q ."

$KUBECTL apply -f crd/samples/sample-order.yaml >/dev/null
t_check "creates the oven Pod (blockOwnerDeletion under OwnerReferencesPermissionEnforcement)" wait_for 20 $KUBECTL get pod order-123-oven
phase() { [ "$($KUBECTL get pizzaorder order-123 -o 'jsonpath={.status.phase}' 2>/dev/null)" = "$1" ]; }
kubelet() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$CP_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/merge-patch+json' -X PATCH --data "{\"status\":{\"phase\":\"$1\"}}" \
    "$API_URL/api/v1/namespaces/default/pods/order-123-oven/status" | grep -q 200
}
API_URL="https://127.0.0.1:$CP_PORT"
kubelet Running
t_check "Pod Running -> order Baking" wait_for 20 phase Baking
kubelet Succeeded
t_check "Pod Succeeded -> order Ready (baked from the container)" wait_for 20 phase Ready

runc kill "$ID" TERM >/dev/null 2>&1
t_check "exits on SIGTERM" wait_for 10 bash -c "runc state '$ID' 2>/dev/null | grep -q '\"status\": \"stopped\"'"
t_check "released its Lease (holder cleared)" test -z "$($KUBECTL -n pizza-system get lease pizza-controller.pizzeria.example.com -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null)"
t_check "no token in its log" bash -c "! grep -qF '$(cat "$SA/token")' '$WORK/controller.log'"
t_summary container
