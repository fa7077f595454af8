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
command -v python3 >/dev/null || need+=(python3)
command -v git >/dev/null || need+=(git)
# promtool checks the /metrics page (tests/promtool.sh, test_metrics); tinyproxy is the real proxy
# of tests/e2e/kubeconfig.sh.
command -v promtool >/dev/null || need+=(prometheus)
command -v tinyproxy >/dev/null || need+=(tinyproxy)
# tests/arm64.sh: runs the arm64 binary under qemu-user (the cross compiler comes with
# vendor/build-deps.sh OUT arm64).
command -v qemu-aarch64-static >/dev/null || command -v qemu-aarch64 >/dev/null || need+=(qemu-user-static)
if [ "${PIZZA_FRESH_INSIDE:-0}" != 1 ]; then
  # tests/container.sh (buildah builds, runc runs, umoci/skopeo unpack, mmdebstrap makes the
  # build base) and tests/fresh-machine.sh (mmdebstrap). Not inside the fresh root, which skips them.
  for t in buildah podman runc umoci skopeo mmdebstrap; do command -v "$t" >/dev/null || need+=("$t"); done
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "[deps] apt-get install ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
