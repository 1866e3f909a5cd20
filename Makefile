# qkvm — build and test.
#
#   make                 build ./qkvm
#   make demo            install what is missing, build, run the reconcile story on
#                        a private libvirtd (tools/demo), then clean up
#   make check           install missing Debian packages, build, run every suite
#   make check-asan      the same suites, built with ASan + UBSan (halt on error)
#   make check-valgrind  the same suites under valgrind (errors and leaks fail)
#   make fuzz            run the libFuzzer target for FUZZ_TIME seconds (clang)
#   make bench           benchmarks (figures and ratios against a floor)
#   make regen           regenerate the committed JSON Schema, the README's
#                        manifest reference and golden files
#   make checksrc        style checks (banned functions, ...)
#   make clean

CC       ?= cc
BUILD    ?= build
PKGS     := libvirt yaml-0.1 libgit2 sqlite3 libcurl libxml-2.0 jansson libisofs-1 libcrypto libmicrohttpd gpgme
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
# Required flags live in QKVM_CFLAGS, so CFLAGS or OPT given on the command
# line add to them instead of replacing them.
OPT      ?= -O2 -g
QKVM_CPPFLAGS := -D_GNU_SOURCE -DQKVM_VERSION='"$(VERSION)"' -Ireconciler -Ischema -Istate
QKVM_CFLAGS   := -std=c11 -pthread $(WARN) $(OPT)
QKVM_LDFLAGS  := -pthread
ifeq ($(SAN),asan)
QKVM_CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
QKVM_LDFLAGS  += -fsanitize=address,undefined
endif
ALL_CFLAGS  = $(QKVM_CPPFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) $(QKVM_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(QKVM_LDFLAGS) $(LDFLAGS)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SRC      := $(wildcard reconciler/*.c schema/*.c state/*.c)
LIB_SRC  := $(filter-out reconciler/main.c,$(SRC))
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
REPLAY   := $(BUILD)/tests/fuzz_replay
TOOLS    := $(BUILD)/tools/yamlfloor $(BUILD)/tools/runstat $(BUILD)/tools/virtfloor \
            $(BUILD)/tools/placebench

# ./qkvm for the default build; build/asan/qkvm etc. for the others
ifeq ($(BUILD),build)
QKVM     := qkvm
else
QKVM     := $(BUILD)/qkvm
endif

.PHONY: all deps demo check check-asan check-valgrind fuzz bench regen checksrc clean
all: $(QKVM)

$(QKVM): $(OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJ) $(PKG_LIBS)

$(BUILD)/%.o: %.c $(wildcard reconciler/*.h schema/*.h state/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(LIB_OBJ) $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null) $(ALL_LDFLAGS)

$(REPLAY): tests/fuzz/fuzz_load.c tests/fuzz/replay.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ \
	    tests/fuzz/fuzz_load.c tests/fuzz/replay.c $(LIB_OBJ) $(PKG_LIBS) $(ALL_LDFLAGS)

# placebench drives place.c itself: it links the library
$(BUILD)/tools/placebench: tools/bench/placebench.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS) $(ALL_LDFLAGS)

$(BUILD)/tools/%: tools/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PKG_LIBS)

deps:
	@tools/install-deps testbed s3

# The quick start's first command: install, build, then plan/apply/drift/
# heal/prune examples/minimal on a private libvirtd (or the test driver).
demo: deps
	@$(MAKE) --no-print-directory $(QKVM)
	@QKVM=./$(QKVM) tools/demo

# The suites, for whichever build BUILD names; WRAP prefixes every run
# (valgrind). tests/run prints "N passed, N failed" last.
suites: $(QKVM) $(UNIT_BIN) $(REPLAY)
	@QKVM=$(QKVM) BUILD=$(BUILD) WRAP="$(WRAP)" tests/run

check: deps
	@$(MAKE) --no-print-directory checksrc
	@$(MAKE) --no-print-directory suites

check-asan: deps
	@ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	 $(MAKE) --no-print-directory BUILD=build/asan SAN=asan OPT="-O1 -g" suites

# Possibly-lost blocks are not shown: the one qkvm has is the thread-local
# storage of libvirt's event-loop thread, detached on purpose (virt.c), which
# valgrind cannot tell from a leak. Definite and indirect leaks fail.
check-valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/valgrind OPT="-O1 -g" suites \
	    WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-possibly-lost=no"

FUZZ_TIME ?= 60
fuzz: deps
	@mkdir -p $(BUILD)/fuzz $(BUILD)/fuzz/corpus
	clang $(QKVM_CPPFLAGS) $(PKG_CFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o $(BUILD)/fuzz/fuzz_load tests/fuzz/fuzz_load.c $(LIB_SRC) $(PKG_LIBS)
	$(BUILD)/fuzz/fuzz_load -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -timeout=10 -rss_limit_mb=2048 $(BUILD)/fuzz/corpus tests/fuzz/corpus/load

bench: deps $(QKVM) $(TOOLS)
	@QKVM=$(QKVM) BUILD=$(BUILD) tools/bench/run

# Every expected file is rewritten by the suites themselves in this mode.
regen:
	@QKVM_REGENERATE=1 $(MAKE) --no-print-directory suites

checksrc:
	@tools/checksrc

clean:
	rm -rf build qkvm
