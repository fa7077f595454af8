#!/usr/bin/env bash
# Builds the benchmark peer (bench/peers/pizza-peer: the controller written with client-go alone)
# with Go 1.15 in GOPATH mode against the client-go vendored in Debian's kubernetes 1.20.2 source
# tree, the same tree and Go that tests/cp/build.sh uses for the control plane.
#
# Output: build/bench/pizza-peer (stripped, -ldflags '-s -w'). Prints its path as the last line.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE="${PIZZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pizza-controller}"

say() { printf '[peer] %s\n' "$*" >&2; }

# Fetches (once) the kubernetes source tree and Go 1.15 into $CACHE.
bash "$REPO/tests/cp/build.sh" >/dev/null

TREE="$CACHE/src/tree"
GOROOT="$CACHE/go1.15/usr/lib/go-1.15"
[ -d "$TREE/vendor/k8s.io/client-go" ] || { say "no kubernetes tree at $TREE"; exit 1; }
[ -x "$GOROOT/bin/go" ] || { say "no Go 1.15 at $GOROOT"; exit 1; }

export GOROOT PATH="$GOROOT/bin:$PATH" GOPATH="$TREE/.go" GO111MODULE=off CGO_ENABLED=0
unset GOFLAGS
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$TREE" "$GOPATH/src/k8s.io/kubernetes"

# The peer becomes a package of the kubernetes tree, so its imports resolve to the tree's vendor/.
PKG_DIR="$TREE/cmd/pizza-peer-bench"
rm -rf "$PKG_DIR"
mkdir -p "$PKG_DIR"
cp "$HERE"/pizza-peer/*.go "$PKG_DIR/"

OUT="$REPO/build/bench/pizza-peer"
mkdir -p "$(dirname "$OUT")"
say "building with $(go version)"
(cd "$GOPATH/src/k8s.io/kubernetes" && go build -trimpath -ldflags='-s -w' -o "$OUT" k8s.io/kubernetes/cmd/pizza-peer-bench)
say "$(stat -c %s "$OUT") bytes: $OUT"
echo "$OUT"
