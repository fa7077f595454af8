#!/usr/bin/env bash
# Installs the build dependencies on a Debian 12 machine and builds BearSSL with musl-gcc.
#
#   vendor/build-deps.sh OUTDIR      -> OUTDIR/bearssl/{inc,libbearssl.a}, OUTDIR/jsmn/jsmn.h
#   vendor/build-deps.sh OUTDIR arm64 -> also OUTDIR/musl-arm64/musl-gcc (a cross musl-gcc) and
#                                       OUTDIR/bearssl-arm64/ (the same BearSSL built with it)
#
# arm64: Debian's cross compiler gcc-aarch64-linux-gnu, and musl for arm64 from Debian's
# musl-dev:arm64 (pinned MUSL_DEB_VERSION), fetched with a private apt configuration and unpacked
# into OUTDIR with dpkg -x: no foreign architecture is added to the system's dpkg. Its own
# musl-gcc.specs, with the paths pointed at that folder, makes the wrapper, as musl-tools does.
#
# Why BearSSL is built here: Debian's libbearssl.a is compiled against glibc's _FORTIFY_SOURCE
# symbols (__memcpy_chk ...) and does not link with musl. We take Debian's *source* package instead,
# verify its orig tarball against vendor/versions.env and compile the library with musl-gcc.
# apt runs with a private configuration under the cache folder so the system's apt setup is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
OUT=${1:?usage: build-deps.sh OUTDIR [arm64]}
ARCH=${2:-}
case "$ARCH" in ""|amd64|x86_64) ARCH= ;; arm64|aarch64) ARCH=arm64 ;;
  *) printf '[deps] ARCH=%s is not supported (arm64, or nothing for the host)\n' "$ARCH" >&2; exit 2 ;; esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE="${PIZZA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pizza-controller}"
say() { printf '[deps] %s\n' "$*" >&2; }
. "$here/apt-mirror.sh"
# A failure always names what failed (set -e alone would stop without a word).
STEP=start
trap 'rc=$?; [ "$rc" -ne 0 ] && say "FAILED (exit $rc) while: $STEP"; exit "$rc"' EXIT

STEP="installing build tools"
pkgs=()
# make and a host C compiler with its libc headers: the BearSSL builds below need them, and a
# minimal Debian has none of them.
command -v make >/dev/null || pkgs+=(make)
command -v "${HOST_CC:-gcc}" >/dev/null || pkgs+=(gcc)
[ -f /usr/include/stdio.h ] || pkgs+=(libc6-dev)
command -v musl-gcc >/dev/null || pkgs+=(musl-tools)
[ -f /usr/include/jsmn.h ] || pkgs+=(libjsmn-dev)
command -v xz >/dev/null || pkgs+=(xz-utils)
command -v file >/dev/null || pkgs+=(file)
command -v openssl >/dev/null || pkgs+=(openssl)
command -v gpgv >/dev/null || pkgs+=(gpgv)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || pkgs+=(debian-archive-keyring)
if [ "$ARCH" = arm64 ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null || pkgs+=(gcc-aarch64-linux-gnu)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { say "missing ${pkgs[*]}, and no apt-get to install them"; exit 1; }
  say "apt-get install ${pkgs[*]}"
  apt-get update -qq || { say "apt-get update failed: is the package mirror reachable?"; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2 \
    || { say "apt-get install ${pkgs[*]} failed"; exit 1; }
fi
STEP="checking jsmn.h"

echo "$JSMN_H_SHA256  /usr/include/jsmn.h" | sha256sum -c --quiet - \
  || { say "/usr/include/jsmn.h does not match the pinned libjsmn-dev $JSMN_DEB_VERSION"; exit 1; }
mkdir -p "$OUT/jsmn"; cp /usr/include/jsmn.h "$OUT/jsmn/jsmn.h"

if [ -z "$ARCH" ] && [ -f "$OUT/bearssl/libbearssl.a" ] && [ -f "$OUT/bearssl-host/libbearssl.a" ] &&
   [ "$(cat "$OUT/bearssl/.version" 2>/dev/null)" = "$BEARSSL_DEB_VERSION" ]; then
  exit 0
fi
if [ "$ARCH" = arm64 ] && [ -f "$OUT/bearssl-arm64/libbearssl.a" ] && [ -x "$OUT/musl-arm64/musl-gcc" ] &&
   [ "$(cat "$OUT/bearssl-arm64/.version" 2>/dev/null)" = "$BEARSSL_DEB_VERSION" ] &&
   [ "$(cat "$OUT/musl-arm64/.version" 2>/dev/null)" = "$MUSL_DEB_VERSION" ]; then
  exit 0
fi

dl="$CACHE/bearssl-$BEARSSL_DEB_VERSION"
mkdir -p "$dl"
if ! echo "$BEARSSL_ORIG_SHA256  $dl/$BEARSSL_ORIG" | sha256sum -c --quiet - 2>/dev/null; then
  APT="$CACHE/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.d"
  STEP="reading the Debian mirror from the apt configuration"
  mirror=$(pz_debian_mirror bookworm) \
    || { say "no Debian bookworm 'main' entry in /etc/apt/sources.list{,.d/*} (set PIZZA_DEBIAN_MIRROR=URI)"; exit 1; }
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm main\n' "$mirror" > "$APT/sources-bearssl.list"
  opts=(-o "Dir::Etc::SourceList=$APT/sources-bearssl.list" -o "Dir::Etc::SourceParts=$APT/sources.d"
        -o "Dir::State::Lists=$APT/lists-bearssl" -o "Dir::Cache=$APT/cache")
  mkdir -p "$APT/lists-bearssl/partial"
  STEP="fetching Debian source package bearssl=$BEARSSL_DEB_VERSION from $mirror"
  say "fetching Debian source package bearssl=$BEARSSL_DEB_VERSION"
  apt-get "${opts[@]}" update -qq >&2
  (cd "$dl" && apt-get "${opts[@]}" source --download-only "bearssl=$BEARSSL_DEB_VERSION" >&2)
  echo "$BEARSSL_ORIG_SHA256  $dl/$BEARSSL_ORIG" | sha256sum -c --quiet - \
    || { say "checksum mismatch for $BEARSSL_ORIG (expected $BEARSSL_ORIG_SHA256, vendor/versions.env)"; exit 1; }
fi

# Two builds from the same verified source: with musl-gcc for the shipped binary, and with the
# host compiler for the unit tests and fuzzers (sanitizer runtimes need glibc).
build_one() { # name cc
  local src="$OUT/bearssl-src-$1"
  rm -rf "$src"; mkdir -p "$src"
  tar -xJf "$dl/$BEARSSL_ORIG" -C "$src" --strip-components=1
  STEP="building BearSSL $BEARSSL_DEB_VERSION with $2"
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
# musl for arm64 from Debian (see the top). apt checks the .deb against the signed Packages index;
# the version is pinned so a mirror cannot hand over another one.
musl_arm64() {
  local root="$OUT/musl-arm64" deb="$CACHE/musl-dev_${MUSL_DEB_VERSION}_arm64.deb"
  if [ ! -f "$deb" ]; then
    STEP="reading the Debian mirror from the apt configuration"
    local mirror APT="$CACHE/apt"
    mirror=$(pz_debian_mirror bookworm) \
      || { say "no Debian bookworm 'main' entry in /etc/apt/sources.list{,.d/*} (set PIZZA_DEBIAN_MIRROR=URI)"; exit 1; }
    mkdir -p "$APT/lists-arm64/partial" "$APT/cache/archives/partial" "$APT/sources.d" "$CACHE/dl-arm64"
    printf 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm main\n' "$mirror" > "$APT/sources-arm64.list"
    local opts=(-o "Dir::Etc::SourceList=$APT/sources-arm64.list" -o "Dir::Etc::SourceParts=$APT/sources.d"
                -o "Dir::State::Lists=$APT/lists-arm64" -o "Dir::Cache=$APT/cache"
                -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64")
    STEP="fetching musl-dev:arm64=$MUSL_DEB_VERSION from $mirror"
    say "fetching musl-dev:arm64=$MUSL_DEB_VERSION"
    apt-get "${opts[@]}" update -qq >&2
    (cd "$CACHE/dl-arm64" && apt-get "${opts[@]}" download "musl-dev:arm64=$MUSL_DEB_VERSION" >&2)
    mv "$CACHE/dl-arm64/musl-dev_${MUSL_DEB_VERSION}_arm64.deb" "$deb"
  fi
  STEP="unpacking musl-dev:arm64 into $root"
  rm -rf "$root"; mkdir -p "$root"
  dpkg -x "$deb" "$root/sysroot"
  sed -e "s#/usr/include/aarch64-linux-musl#$root/sysroot/usr/include/aarch64-linux-musl#g" \
      -e "s#/usr/lib/aarch64-linux-musl#$root/sysroot/usr/lib/aarch64-linux-musl#g" \
      "$root/sysroot/usr/lib/aarch64-linux-musl/musl-gcc.specs" > "$root/musl-gcc.specs"
  printf '#!/bin/sh\n# Cross musl-gcc for arm64, written by vendor/build-deps.sh (as musl-tools writes musl-gcc).\nexec "${REALGCC:-aarch64-linux-gnu-gcc}" "$@" -specs "%s"\n' \
    "$root/musl-gcc.specs" > "$root/musl-gcc"
  chmod +x "$root/musl-gcc"
  echo "$MUSL_DEB_VERSION" > "$root/.version"
}

if [ "$ARCH" = arm64 ]; then
  musl_arm64
  build_one bearssl-arm64 "$OUT/musl-arm64/musl-gcc"
  say "BearSSL ready in $OUT/bearssl-arm64 (musl, arm64)"
  exit 0
fi
build_one bearssl musl-gcc
build_one bearssl-host "${HOST_CC:-gcc}"
say "BearSSL ready in $OUT/bearssl (musl) and $OUT/bearssl-host (host)"
