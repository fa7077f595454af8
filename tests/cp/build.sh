#!/usr/bin/env bash
# Obtain a real control plane (etcd, kube-apiserver, kubectl) for the end-to-end tests and the demo.
#
# Order of preference:
#   1. $KUBEBUILDER_ASSETS holding etcd, kube-apiserver and kubectl (envtest users): used as is.
#   2. A cache built earlier by this script ($PIZZA_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/pizza-controller).
#   3. Build it: Debian 12's kubernetes source package (upstream v1.20.2 with vendor/) compiled with
#      Go 1.15 from Debian 11 (Go 1.19 builds an apiserver that crashes serving CRDs), etcd from
#      Debian's etcd-server. Nothing in the system's apt setup is changed: apt runs with a private
#      configuration under the cache folder. About 5-8 minutes on 2 cores, once.
#
# Prints, as its last line, the folder holding etcd, kube-apiserver and kubectl.
set -euo pipefail

K8S_DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
GO_VERSION="1.15"
CACHE="${PIZZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pizza-controller}"
OUT="$CACHE/k8s-$K8S_DEB_VERSION"

say() { printf '[control-plane] %s\n' "$*" >&2; }
. "$(cd "$(dirname "$0")/../.." && pwd)/vendor/apt-mirror.sh"

# Every way out says how it went: a failure names its step, success prints the folder (stdout).
# The heartbeat is stopped here, once; `|| true` because it may already be gone, and under set -e a
# failing command in an EXIT trap would turn a successful run into exit 1 (the first-run bug).
beat=
STEP="start"
on_exit() {
  local rc=$?
  [ -n "$beat" ] && { kill "$beat" 2>/dev/null || true; }
  [ "$rc" -ne 0 ] && say "FAILED (exit $rc) while: $STEP"
  exit "$rc"
}
trap on_exit EXIT

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for b in etcd kube-apiserver kubectl; do
    [ -x "$KUBEBUILDER_ASSETS/$b" ] || { say "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks $b"; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

if [ -x "$OUT/bin/kube-apiserver" ] && [ -x "$OUT/bin/kubectl" ] && [ -x "$OUT/bin/etcd" ]; then
  echo "$OUT/bin"; exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9
if [ -x "$OUT/bin/kube-apiserver" ] && [ -x "$OUT/bin/kubectl" ] && [ -x "$OUT/bin/etcd" ]; then
  echo "$OUT/bin"; exit 0
fi

STEP="installing build tools"
command -v apt-get >/dev/null || { say "apt-get not found: this script needs Debian's apt"; exit 1; }
need_pkgs=()
command -v etcd >/dev/null || need_pkgs+=(etcd-server)
command -v rsync >/dev/null || need_pkgs+=(rsync)
command -v dpkg-source >/dev/null || need_pkgs+=(dpkg-dev)
command -v make >/dev/null || need_pkgs+=(make)
command -v xz >/dev/null || need_pkgs+=(xz-utils)       # dpkg-source unpacks .tar.xz with it
command -v gpgv >/dev/null || need_pkgs+=(gpgv)        # apt verifies the private lists with it
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need_pkgs+=(debian-archive-keyring)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  apt-get update -qq || { say "apt-get update failed: is the package mirror reachable?"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >&2 \
    || { say "apt-get install ${need_pkgs[*]} failed"; exit 1; }
fi

# Private apt configuration: deb-src for bookworm, deb for bullseye (Go 1.15), both from the
# Debian archive this machine's apt already uses (a Debian mirror carries every release).
STEP="reading the Debian mirror from the apt configuration"
MIRROR=$(pz_debian_mirror bookworm) \
  || { say "no Debian bookworm 'main' entry in /etc/apt/sources.list{,.d/*} (set PIZZA_DEBIAN_MIRROR=URI)"; exit 1; }
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.d"
cat > "$APT/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bullseye main
SRC
APTOPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/sources.d"
         -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "APT::Architecture=$(dpkg --print-architecture)")
STEP="apt-get update with the private configuration in $APT ($MIRROR)"
say "apt update (private configuration in $APT, mirror $MIRROR)"
apt-get "${APTOPTS[@]}" update -qq >&2

SRCDIR="$CACHE/src"
mkdir -p "$SRCDIR"
if [ ! -d "$SRCDIR/tree" ]; then
  STEP="fetching and unpacking the kubernetes=$K8S_DEB_VERSION source package"
  say "fetching Debian source package kubernetes=$K8S_DEB_VERSION (about 34 MB)"
  rm -rf "$SRCDIR/dl"; mkdir -p "$SRCDIR/dl"
  (cd "$SRCDIR/dl" && apt-get "${APTOPTS[@]}" source --download-only "kubernetes=$K8S_DEB_VERSION" >&2)
  # dpkg-source checks every file against the checksums in the .dsc (signed via the Sources index).
  (cd "$SRCDIR/dl" && dpkg-source --no-check -x ./*.dsc tree >&2)
  mv "$SRCDIR/dl/tree" "$SRCDIR/tree"
fi

GOROOT_PARENT="$CACHE/go$GO_VERSION"
if [ ! -x "$GOROOT_PARENT/usr/lib/go-$GO_VERSION/bin/go" ]; then
  STEP="fetching Debian 11's golang-$GO_VERSION packages"
  say "fetching Debian 11's golang-$GO_VERSION-go and -src"
  mkdir -p "$CACHE/godl"
  (cd "$CACHE/godl" && apt-get "${APTOPTS[@]}" download "golang-$GO_VERSION-go" "golang-$GO_VERSION-src" >&2)
  rm -rf "$GOROOT_PARENT"; mkdir -p "$GOROOT_PARENT"
  for d in "$CACHE"/godl/*.deb; do dpkg -x "$d" "$GOROOT_PARENT"; done
fi
export GOROOT="$GOROOT_PARENT/usr/lib/go-$GO_VERSION"
export PATH="$GOROOT/bin:$PATH"

TREE="$SRCDIR/tree"
export GOPATH="$TREE/.go"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$TREE" "$GOPATH/src/k8s.io/kubernetes"
export CGO_ENABLED=0 GO111MODULE=off GOFLAGS=-mod=vendor
unset GOFLAGS
say "building kube-apiserver and kubectl with $(go version) (5-8 minutes on 2 cores, once; cached in $CACHE)"
# A heartbeat, so a long quiet compile still shows it is alive.
( start=$(date +%s); while sleep 30; do say "still building... $(( $(date +%s) - start )) s"; done ) &
beat=$!
STEP="building kube-apiserver and kubectl (make WHAT=... in $TREE)"
(
  cd "$GOPATH/src/k8s.io/kubernetes"
  make WHAT="cmd/kube-apiserver cmd/kubectl" KUBE_VERBOSE=1 >&2
)
kill "$beat" 2>/dev/null || true
beat=
STEP="installing the binaries into $OUT/bin"
mkdir -p "$OUT/bin.tmp"
cp "$TREE/_output/bin/kube-apiserver" "$TREE/_output/bin/kubectl" "$OUT/bin.tmp/"
ln -sf "$(command -v etcd)" "$OUT/bin.tmp/etcd"
rm -rf "$OUT/bin"; mv "$OUT/bin.tmp" "$OUT/bin"
say "done: $OUT/bin"
echo "$OUT/bin"
