# pizza-controller - see README.md. Every output goes to build/ (git-ignored).
#
#   make            build/pizza-controller: static (musl), stripped
#   make check      everything CI runs: unit tests (ASan+UBSan), fuzz smoke runs, budgets, end-to-end
#   make demo       a local control plane, the CRD, the controller and an order baked before your eyes
#   make deps       install build dependencies (Debian 12) and build BearSSL with musl

VERSION    := 0.1.0
REVISION   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD      := build
SRC        := $(wildcard src/*.c)
HDR        := $(wildcard src/*.h)
BEARSSL    := $(BUILD)/bearssl
MUSL_CC    := musl-gcc
HOST_CC    ?= gcc
CLANG      ?= clang

# -Os and section GC: size is a feature (budget: tests/budgets.env).
# Hardening for a TLS client that parses hostile bytes (issue 10), measured on this build:
#   -fstack-protector-strong: canaries on every function with an array or an address-taken local,
#     +4.1 KiB. On.
#   -z relro -z now: +1.7 KiB. Off by default: a static, non-PIE binary has no dynamic relocations,
#     so all it would protect is a handful of .got/.init_array words. `make HARDEN_LDFLAGS=...`.
#   -static-pie (ASLR for the binary itself): +9 KiB of relative relocations, and Debian's musl-gcc
#     specs cannot link it (they emit a dynamic PIE that needs ld-musl); a hand-made link with
#     rcrt1.o works. Off: it does not fit the 224 KiB budget with the features of issues 6-10.
HARDEN_CFLAGS  ?= -fstack-protector-strong
HARDEN_LDFLAGS ?=
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -DJSMN_PARENT_LINKS  -DPZ_VERSION='"$(VERSION)"' -DPZ_REVISION='"$(REVISION)"' -Wall -Wextra -Wshadow -Wno-unused-parameter \
                 -I$(BEARSSL)/inc -I$(BUILD)/jsmn
CFLAGS_REL    := $(CFLAGS_COMMON) -Os -flto -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
                 -fomit-frame-pointer $(HARDEN_CFLAGS)
# -z norelro is said, not assumed: amd64's toolchain links without RELRO by default but the arm64
# cross toolchain links with it, and there RELRO's end is aligned to the 64 KiB max page size,
# which padded the arm64 file by 38 KiB (issue 7: 263,248 -> 224,528 bytes with the next line).
# $(NOUNWIND_LD) drops .eh_frame at link time: a C program that never unwinds does not need it,
# and stripping it afterwards cannot close the gap it leaves where segments are 64 KiB aligned.
NOUNWIND_LD   := $(BUILD)/no-unwind.ld
LDFLAGS_REL   := -static -Wl,--gc-sections -Wl,-O1 -Wl,--build-id=none -Wl,-z,noseparate-code -Wl,-z,norelro \
                 -Wl,-T,$(NOUNWIND_LD) $(HARDEN_LDFLAGS)

.PHONY: all asan deps check unit restrict-check fuzz-smoke budgets e2e demo clean controlplane bench replay replay-budget

all: $(BUILD)/pizza-controller

pizza-controller: $(BUILD)/pizza-controller

deps: $(BEARSSL)/libbearssl.a

$(BEARSSL)/libbearssl.a $(BUILD)/jsmn/jsmn.h $(BUILD)/bearssl-host/libbearssl.a: vendor/build-deps.sh vendor/versions.env
	bash vendor/build-deps.sh $(BUILD)

$(NOUNWIND_LD):
	@mkdir -p $(dir $@)
	printf 'SECTIONS { /DISCARD/ : { *(.eh_frame) *(.eh_frame_hdr) } } INSERT AFTER .rodata;\n' > $@

$(BUILD)/pizza-controller.debug: $(SRC) $(HDR) $(BEARSSL)/libbearssl.a $(NOUNWIND_LD)
	$(MUSL_CC) $(CFLAGS_REL) $(SRC) -o $@ $(LDFLAGS_REL) $(BEARSSL)/libbearssl.a

$(BUILD)/pizza-controller: $(BUILD)/pizza-controller.debug
	strip --strip-all -R .comment -R .note -R .eh_frame -o $@ $<

# ---- tests ----
# Unit tests: every module linked with glibc's toolchain under ASan and UBSan, against a BearSSL
# built for the host (the musl one cannot link with the sanitizer runtimes).
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
HOST_BSSL  := $(BUILD)/bearssl-host
LIB_SRC    := $(filter-out src/main.c,$(SRC))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/test/%,$(wildcard tests/unit/test_*.c))

# The modules are compiled once (with the sanitizers) and every test program links them: ~25
# compiles instead of one per module per test.
SAN_OBJ    := $(patsubst src/%.c,$(BUILD)/test/obj/%.o,$(LIB_SRC))
$(BUILD)/test/obj/%.o: src/%.c $(HDR) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc $(SAN) -c $< -o $@

$(BUILD)/test/%: tests/unit/%.c tests/unit/check.h tests/unit/harness.h tests/unit/loopback.h $(SAN_OBJ) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc $(SAN) $< $(SAN_OBJ) -o $@ $(HOST_BSSL)/libbearssl.a

# The whole controller under ASan+UBSan (issue 10): the same sources as the product, linked with
# glibc and the host BearSSL; the e2e suites run it as they run the product (tests/e2e/lib.sh
# detects it, skips the memory budgets and fails on any sanitizer report in a controller's log).
asan: $(BUILD)/asan/pizza-controller
$(BUILD)/asan/pizza-controller: src/main.c $(SAN_OBJ) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc $(SAN) src/main.c $(SAN_OBJ) -o $@ $(HOST_BSSL)/libbearssl.a

$(BUILD)/test/test_log $(BUILD)/fuzz/fuzz_log: tests/fuzz/logparse.h

# -Wrestrict catches snprintf(x, ..., "%s", x) (the aliasing bug that emptied watch errors), but
# through a helper call only at -O2: every source is checked at -O2 with it as an error.
restrict-check:
	@for f in $(SRC); do $(HOST_CC) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -O2 -Werror=restrict -c $$f -o /dev/null || exit 1; done

unit: restrict-check $(UNIT_TESTS)
	@bash tests/run-unit.sh $(UNIT_TESTS)

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_OBJ   := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC))
.SECONDARY: $(SAN_OBJ) $(FUZZ_OBJ)
$(BUILD)/fuzz/obj/%.o: src/%.c $(HDR) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc $(FUZZ_FLAGS) -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJ) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -Itests/fuzz $< $(FUZZ_OBJ) -o $@ $(HOST_BSSL)/libbearssl.a

fuzz-smoke: $(FUZZ_TARGETS)
	@bash tests/run-fuzz.sh $(FUZZ_TARGETS)

budgets: $(BUILD)/pizza-controller
	@bash tests/budgets.sh $(BUILD)/pizza-controller

controlplane:
	@bash tests/cp/build.sh >/dev/null

e2e: $(BUILD)/pizza-controller controlplane
	@bash tests/e2e/run.sh $(BUILD)/pizza-controller

check: $(BUILD)/pizza-controller
	@bash tests/check.sh

demo: $(BUILD)/pizza-controller controlplane
	@bash tests/demo.sh $(BUILD)/pizza-controller

# Replay benchmark: the controller's watch path (every module but main.c), built exactly like the
# product (musl, -Os, LTO), against a TLS server replaying a recorded watch stream.
$(BUILD)/bench/replay: bench/replay.c $(LIB_SRC) $(HDR) $(BEARSSL)/libbearssl.a $(NOUNWIND_LD)
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(CFLAGS_REL) -Isrc bench/replay.c $(LIB_SRC) -o $@ $(LDFLAGS_REL) $(BEARSSL)/libbearssl.a

$(BUILD)/bench/replay_server: bench/replay_server.c src/tls.c src/pz.c src/log.c src/fmt.c $(HDR) $(BEARSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(CFLAGS_COMMON) -O2 -Isrc bench/replay_server.c src/tls.c src/pz.c src/log.c src/fmt.c -o $@ -static $(BEARSSL)/libbearssl.a

replay: $(BUILD)/bench/replay $(BUILD)/bench/replay_server
	@bash bench/replay.sh

replay-budget: $(BUILD)/bench/replay $(BUILD)/bench/replay_server
	@bash bench/replay.sh --budget

bench: $(BUILD)/pizza-controller $(BUILD)/bench/replay $(BUILD)/bench/replay_server controlplane
	@bash bench/run.sh

clean:
	rm -rf $(BUILD)

# ---- ARCH=arm64 and the OCI image (issue 7) ----------------------------------------------------
# Kept apart from the rules above on purpose: they stay the host (amd64) build, untouched.
#
#   make ARCH=arm64   build/arm64/pizza-controller: static arm64 (musl), cross-built with Debian's
#                     gcc-aarch64-linux-gnu and musl-dev:arm64 (vendor/build-deps.sh OUT arm64),
#                     same CFLAGS_REL/LDFLAGS_REL, same size budget; tests/arm64.sh runs it
#   make binary       the binary for $(ARCH) (host when empty); the image's build stage uses it
#   make image        OCI image index $(IMAGE):$(IMAGE_TAG) for $(IMAGE_PLATFORMS) with buildah (the
#                     storage podman uses; no Docker daemon). BUILD_BASE is the build stage base: a
#                     machine without a registry makes one locally (tests/container.sh does, with
#                     mmdebstrap and podman import) and passes it.
ARCH            ?=
ARCH_NORM       := $(if $(filter arm64 aarch64,$(ARCH)),arm64,$(if $(filter-out amd64 x86_64,$(ARCH)),$(ARCH),))
ARM64_CC        := $(BUILD)/musl-arm64/musl-gcc
ARM64_BSSL      := $(BUILD)/bearssl-arm64
ARCH_BIN        := $(if $(ARCH_NORM),$(BUILD)/$(ARCH_NORM)/pizza-controller,$(BUILD)/pizza-controller)
IMAGE           ?= localhost/pizza-controller
IMAGE_TAG       ?= $(VERSION)
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
BUILD_BASE      ?= docker.io/library/debian:12-slim
IMAGE_SOURCE    ?= https://github.com/example/pizza-controller
IMAGE_REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_PULL      ?= missing
comma           := ,

ifneq ($(filter-out arm64,$(ARCH_NORM)),)
$(error ARCH=$(ARCH) is not supported: use ARCH=arm64, or leave it empty for the host)
endif
ifeq ($(ARCH_NORM),arm64)
.DEFAULT_GOAL := $(ARCH_BIN)
endif

.PHONY: binary image

binary: $(ARCH_BIN)

$(ARM64_CC) $(ARM64_BSSL)/libbearssl.a: vendor/build-deps.sh vendor/versions.env
	bash vendor/build-deps.sh $(BUILD) arm64

$(BUILD)/arm64/pizza-controller.debug: $(SRC) $(HDR) $(ARM64_BSSL)/libbearssl.a $(ARM64_CC) $(BUILD)/jsmn/jsmn.h $(NOUNWIND_LD)
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(patsubst -I$(BEARSSL)/inc,-I$(ARM64_BSSL)/inc,$(CFLAGS_REL)) $(SRC) -o $@ $(LDFLAGS_REL) $(ARM64_BSSL)/libbearssl.a

$(BUILD)/arm64/pizza-controller: $(BUILD)/arm64/pizza-controller.debug
	aarch64-linux-gnu-strip --strip-all -R .comment -R .note -R .eh_frame -o $@ $<

# One build per platform, each run natively on the build machine and cross-compiling for its
# TARGETARCH (passed explicitly: buildah 1.28, Debian 12's, does not honour
# `FROM --platform=$$BUILDPLATFORM` in a multi-platform build and would look for a foreign base);
# the result's config then gets the target's architecture and joins one OCI index.
# --network host: the build stage fetches Debian sources through the base's own apt mirror.
image:
	@command -v buildah >/dev/null || { echo "make image: buildah not found (apt-get install buildah; podman uses the same storage)"; exit 1; }
	-buildah manifest rm $(IMAGE):$(IMAGE_TAG) >/dev/null 2>&1
	buildah manifest create $(IMAGE):$(IMAGE_TAG) >/dev/null
	set -e; for plat in $(subst $(comma), ,$(IMAGE_PLATFORMS)); do \
	  arch=$${plat#linux/}; \
	  buildah build --layers --pull=$(IMAGE_PULL) --network host -f Dockerfile.scratch -t $(IMAGE):$(IMAGE_TAG)-$$arch \
	    --build-arg TARGETARCH=$$arch --build-arg BUILD_BASE=$(BUILD_BASE) --build-arg VERSION=$(VERSION) \
	    --build-arg REVISION=$(IMAGE_REVISION) --build-arg SOURCE=$(IMAGE_SOURCE) . ; \
	  c=$$(buildah from --pull=never $(IMAGE):$(IMAGE_TAG)-$$arch); \
	  buildah config --os linux --arch $$arch $$c; \
	  buildah commit -q $$c $(IMAGE):$(IMAGE_TAG)-$$arch >/dev/null; buildah rm $$c >/dev/null; \
	  buildah manifest add $(IMAGE):$(IMAGE_TAG) containers-storage:$(IMAGE):$(IMAGE_TAG)-$$arch >/dev/null; \
	done
	@echo "image: $(IMAGE):$(IMAGE_TAG) ($(IMAGE_PLATFORMS)); push with: buildah manifest push --all $(IMAGE):$(IMAGE_TAG) docker://REGISTRY/pizza-controller:$(IMAGE_TAG)"
