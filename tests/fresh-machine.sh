#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian 12: a minimal bookworm root (only apt,
# ca-certificates and git, by mmdebstrap from this machine's own mirror), the checkout cloned into
# it, then, in a private mount and pid namespace with /proc, /dev and /sys mounted, `chroot` runs
#   bash tests/demo.sh     and then     bash tests/check.sh
# exactly as a new user would, as root. Each must exit 0 on its first run.
#
#   bash tests/fresh-machine.sh              full and cold: nothing cached, so the first run also
#                                            builds kube-apiserver (about 10 min more on 2 cores)
#   FRESH=quick bash tests/fresh-machine.sh  what CI runs: the same fresh root and every apt install,
#                                            but the control plane's cache (Go, the kubernetes
#                                            tree and its build output) comes from the host through
#                                            an overlay with the finished binaries hidden, so
#                                            tests/cp/build.sh still takes its whole first-run path
#                                            (make, copy, exit status) in about a minute; and the
#                                            test command runs with E2E=0 FUZZ_SECONDS=2 (the host
#                                            run of check.sh covers those)
# Env: FRESH_SOURCE=DIR clone from another git checkout (default: this one; a clone holds what
# is committed, so commit first). FRESH_KEEP=1 keeps the root for a look.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/vendor/apt-mirror.sh"
MODE=${FRESH:-full}
SRC=${FRESH_SOURCE:-$ROOT}
say() { printf '[fresh-machine] %s\n' "$*" >&2; }
result() { echo "fresh-machine: $1 passed, $2 failed"; }
die() { say "$*"; result "$PASSED" $((FAILED + 1)); exit 1; }
PASSED=0; FAILED=0

[ "$(id -u)" = 0 ] || { say "must run as root (mmdebstrap, unshare, chroot)"; result 0 1; exit 1; }
for t in mmdebstrap unshare chroot git; do
  command -v "$t" >/dev/null || { say "missing $t (Debian packages mmdebstrap, util-linux, coreutils, git)"; result 0 1; exit 1; }
done
MIRROR=$(pz_debian_mirror bookworm) || { say "no Debian bookworm 'main' entry in the apt configuration"; result 0 1; exit 1; }
HOST_CACHE="${PIZZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pizza-controller}"

WORK=$(mktemp -d /var/tmp/pizza-fresh.XXXXXX)
R=$WORK/root
cd "$WORK"   # a folder that outlives whatever the caller's working directory does
cleanup() {
  if [ "${FRESH_KEEP:-0}" = 1 ]; then say "kept in $WORK"; return; fi
  # Mounts lived in the private namespace and are gone with it; the overlay's upper layer and the
  # root are plain folders here.
  rm -rf "$WORK"
}
trap cleanup EXIT

t0=$(date +%s)
say "mmdebstrap: minimal bookworm (apt, ca-certificates, git) from $MIRROR"
mmdebstrap --quiet --variant=apt --include=ca-certificates,git bookworm "$R" "$MIRROR" \
  || die "mmdebstrap failed"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
say "root ready in $(( $(date +%s) - t0 )) s; cloning $SRC"
git clone --quiet "$SRC" "$R/root/pizza-controller" || die "git clone $SRC failed"

if [ "$MODE" = quick ]; then
  [ -d "$HOST_CACHE/src/tree/_output" ] && [ -d "$HOST_CACHE/go1.15" ] \
    || die "FRESH=quick needs a host cache with a built control plane ($HOST_CACHE): run tests/cp/build.sh once"
  mkdir -p "$WORK/upper" "$WORK/ovl-work" "$R/root/.cache/pizza-controller"
  OVERLAY="mount -t overlay overlay -o lowerdir=$HOST_CACHE,upperdir=$WORK/upper,workdir=$WORK/ovl-work $R/root/.cache/pizza-controller"
  # Hide the finished binaries and the lock: to build.sh this is a cache that has never finished.
  HIDE="rm -rf $R/root/.cache/pizza-controller/k8s-* $R/root/.cache/pizza-controller/.build.lock"
  TESTCMD="E2E=0 FUZZ_SECONDS=2 bash tests/check.sh"
else
  OVERLAY=true; HIDE=true
  TESTCMD="bash tests/check.sh"
fi

# Everything below runs in new mount and pid namespaces: the mounts vanish with them, and no
# process started inside can outlive the run.
run_in_root() { # LOG COMMAND
  unshare --mount --pid --fork --propagation private -- bash -c "
    set -e
    mount -t proc proc '$R/proc'
    mount --rbind /dev '$R/dev'
    mount -t sysfs sysfs '$R/sys'
    mount -t tmpfs tmpfs '$R/tmp'
    $OVERLAY
    $HIDE
    exec chroot '$R' /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PIZZA_FRESH_INSIDE=1 \
      TERM=dumb LANG=C.UTF-8 /bin/bash -c 'cd /root/pizza-controller && $2'
  " >"$1" 2>&1
}

step() { # NAME COMMAND
  local s rc
  s=$(date +%s)
  say "running in the fresh root: $2"
  run_in_root "$WORK/$1.log" "$2"; rc=$?
  tail -15 "$WORK/$1.log" | sed 's/^/    /'
  if [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1)); say "ok    $1 (exit 0, $(( $(date +%s) - s )) s)"
  else
    FAILED=$((FAILED + 1)); say "FAIL  $1 (exit $rc, $(( $(date +%s) - s )) s); full log: $WORK/$1.log"
    FRESH_KEEP=1
  fi
}
step demo "bash tests/demo.sh"
# The demo's first run must have been a whole one: control plane built (or found), order baked.
grep -q 'order-123 .*Ready' "$WORK/demo.log" && PASSED=$((PASSED + 1)) \
  || { FAILED=$((FAILED + 1)); say "FAIL  the demo's output shows no Ready order"; FRESH_KEEP=1; }
step check "$TESTCMD"
say "total $(( $(date +%s) - t0 )) s ($MODE)"
result "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
