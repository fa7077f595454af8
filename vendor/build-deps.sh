#!/usr/bin/env bash
# Installs the build dependencies on a Debian 12 machine and builds BearSSL with musl-gcc.
#
#   vendor/build-deps.sh OUTDIR      -> OUTDIR/bearssl/{inc,libbearssl.a}, OUTDIR/jsmn/jsmn.h
#
# Why BearSSL is built here: Debian's libbearssl.a is compiled against glibc's _FORTIFY_SOURCE
# symbols (__memcpy_chk ...) and does not link with musl. We take Debian's *source* package instead,
# verify its orig tarball against vendor/versions.env and compile the library with musl-gcc.
# apt runs with a private configuration under the cache folder so the system's apt setup is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
OUT=${1:?usage: build-deps.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE="${PIZZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pizza-controller}"
say() { printf '[deps] %s\n' "$*" >&2; }

pkgs=()
command -v musl-gcc >/dev/null || pkgs+=(musl-tools)
[ -f /usr/include/jsmn.h ] || pkgs+=(libjsmn-dev)
command -v xz >/dev/null || pkgs+=(xz-utils)
command -v file >/dev/null || pkgs+=(file)
command -v openssl >/dev/null || pkgs+=(openssl)
if [ ${#pkgs[@]} -gt 0 ]; then
  say "apt-get install ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
fi

echo "$JSMN_H_SHA256  /usr/include/jsmn.h" | sha256sum -c --quiet - \
  || { say "/usr/include/jsmn.h does not match the pinned libjsmn-dev $JSMN_DEB_VERSION"; exit 1; }
mkdir -p "$OUT/jsmn"; cp /usr/include/jsmn.h "$OUT/jsmn/jsmn.h"

if [ -f "$OUT/bearssl/libbearssl.a" ] && [ -f "$OUT/bearssl-host/libbearssl.a" ] &&
   [ "$(cat "$OUT/bearssl/.version" 2>/dev/null)" = "$BEARSSL_DEB_VERSION" ]; then
  exit 0
fi

dl="$CACHE/bearssl-$BEARSSL_DEB_VERSION"
mkdir -p "$dl"
if ! echo "$BEARSSL_ORIG_SHA256  $dl/$BEARSSL_ORIG" | sha256sum -c --quiet - 2>/dev/null; then
  APT="$CACHE/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.d"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n' > "$APT/sources-bearssl.list"
  opts=(-o "Dir::Etc::SourceList=$APT/sources-bearssl.list" -o "Dir::Etc::SourceParts=$APT/sources.d"
        -o "Dir::State::Lists=$APT/lists-bearssl" -o "Dir::Cache=$APT/cache")
  mkdir -p "$APT/lists-bearssl/partial"
  say "fetching Debian source package bearssl=$BEARSSL_DEB_VERSION"
  apt-get "${opts[@]}" update -qq >&2
  (cd "$dl" && apt-get "${opts[@]}" source --download-only "bearssl=$BEARSSL_DEB_VERSION" >&2)
  echo "$BEARSSL_ORIG_SHA256  $dl/$BEARSSL_ORIG" | sha256sum -c --quiet - \
    || { say "checksum mismatch for $BEARSSL_ORIG"; exit 1; }
fi

# Two builds from the same verified source: with musl-gcc for the shipped binary, and with the
# host compiler for the unit tests and fuzzers (sanitizer runtimes need glibc).
build_one() { # name cc
  local src="$OUT/bearssl-src-$1"
  rm -rf "$src"; mkdir -p "$src"
  tar -xJf "$dl/$BEARSSL_ORIG" -C "$src" --strip-components=1
  say "building BearSSL $BEARSSL_DEB_VERSION with $2"
  # -Os and per-function sections: the linker's --gc-sections then keeps only what we call.
  make -s -j"$(nproc)" -C "$src" CONF=Unix CC="$2" LD="$2" \
    CFLAGS="-W -Wall -Os -ffunction-sections -fdata-sections" BUILD=build lib >&2
  rm -rf "$OUT/$1"; mkdir -p "$OUT/$1"
  cp -r "$src/inc" "$OUT/$1/inc"
  cp "$src/build/libbearssl.a" "$OUT/$1/libbearssl.a"
  rm -rf "$src"
  echo "$BEARSSL_DEB_VERSION" > "$OUT/$1/.version"
}
build_one bearssl musl-gcc
build_one bearssl-host "${HOST_CC:-gcc}"
say "BearSSL ready in $OUT/bearssl (musl) and $OUT/bearssl-host (host)"
