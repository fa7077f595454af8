# pizza-controller - see README.md. Every output goes to build/ (git-ignored).
#
#   make            build/pizza-controller: static (musl), stripped
#   make check      everything CI runs: unit tests (ASan+UBSan), fuzz smoke runs, budgets, end-to-end
#   make demo       a local control plane, the CRD, the controller and an order baked before your eyes
#   make deps       install build dependencies (Debian 12) and build BearSSL with musl

VERSION    := 0.1.0
BUILD      := build
SRC        := $(wildcard src/*.c)
HDR        := $(wildcard src/*.h)
BEARSSL    := $(BUILD)/bearssl
MUSL_CC    := musl-gcc
HOST_CC    ?= gcc
CLANG      ?= clang

# -Os and section GC: size is a feature (budget: tests/budgets.env).
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -DJSMN_PARENT_LINKS -DPZ_VERSION='"$(VERSION)"' -Wall -Wextra -Wshadow -Wno-unused-parameter \
                 -I$(BEARSSL)/inc -I$(BUILD)/jsmn
CFLAGS_REL    := $(CFLAGS_COMMON) -Os -flto -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
                 -fno-stack-protector -fomit-frame-pointer
LDFLAGS_REL   := -static -Wl,--gc-sections -Wl,-O1 -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,noseparate-code

.PHONY: all deps check unit fuzz-smoke budgets e2e demo clean controlplane bench replay replay-budget

all: $(BUILD)/pizza-controller

pizza-controller: $(BUILD)/pizza-controller

deps: $(BEARSSL)/libbearssl.a

$(BEARSSL)/libbearssl.a $(BUILD)/jsmn/jsmn.h $(BUILD)/bearssl-host/libbearssl.a: vendor/build-deps.sh vendor/versions.env
	bash vendor/build-deps.sh $(BUILD)

$(BUILD)/pizza-controller.debug: $(SRC) $(HDR) $(BEARSSL)/libbearssl.a
	$(MUSL_CC) $(CFLAGS_REL) $(SRC) -o $@ $(LDFLAGS_REL) $(BEARSSL)/libbearssl.a

$(BUILD)/pizza-controller: $(BUILD)/pizza-controller.debug
	# .eh_frame only serves unwinders; a C program that never unwinds does not need it.
	strip --strip-all -R .comment -R .note -R .eh_frame -o $@ $<

# ---- tests ----
# Unit tests: every module linked with glibc's toolchain under ASan and UBSan, against a BearSSL
# built for the host (the musl one cannot link with the sanitizer runtimes).
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
HOST_BSSL  := $(BUILD)/bearssl-host
LIB_SRC    := $(filter-out src/main.c,$(SRC))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/test/%,$(wildcard tests/unit/test_*.c))

$(BUILD)/test/%: tests/unit/%.c tests/unit/check.h tests/unit/harness.h $(LIB_SRC) $(HDR) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc $(SAN) $< $(LIB_SRC) -o $@ $(HOST_BSSL)/libbearssl.a

unit: $(UNIT_TESTS)
	@bash tests/run-unit.sh $(UNIT_TESTS)

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB_SRC) $(HDR) $(HOST_BSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_COMMON) -I$(HOST_BSSL)/inc -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -Itests/fuzz $< $(LIB_SRC) -o $@ $(HOST_BSSL)/libbearssl.a

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
$(BUILD)/bench/replay: bench/replay.c $(LIB_SRC) $(HDR) $(BEARSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(CFLAGS_REL) -Isrc bench/replay.c $(LIB_SRC) -o $@ $(LDFLAGS_REL) $(BEARSSL)/libbearssl.a

$(BUILD)/bench/replay_server: bench/replay_server.c src/tls.c src/pz.c $(HDR) $(BEARSSL)/libbearssl.a
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(CFLAGS_COMMON) -O2 -Isrc bench/replay_server.c src/tls.c src/pz.c -o $@ -static $(BEARSSL)/libbearssl.a

replay: $(BUILD)/bench/replay $(BUILD)/bench/replay_server
	@bash bench/replay.sh

replay-budget: $(BUILD)/bench/replay $(BUILD)/bench/replay_server
	@bash bench/replay.sh --budget

bench: $(BUILD)/pizza-controller $(BUILD)/bench/replay $(BUILD)/bench/replay_server controlplane
	@bash bench/run.sh

clean:
	rm -rf $(BUILD)
