#!/usr/bin/env bash
# Debian packages the test command needs beyond the build's own (vendor/build-deps.sh installs
# those): sanitizer and libFuzzer runtimes, and the tools the shell tests call. Idempotent.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v clang >/dev/null || need+=(clang)
ls /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v file >/dev/null || need+=(file)
command -v unshare >/dev/null || need+=(util-linux)
command -v valgrind >/dev/null || need+=(valgrind)
command -v flock >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "[deps] apt-get install ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
