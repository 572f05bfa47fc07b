# reconperf — one build. Objects go to $(B)/ (out of tree); `make V=1` shows commands.
#
# Targets: all (default), deps, test, demo, check, bench, fuzz, soak, install, clean.
# Areas that need extra rules (protobuf-c code, BPF skeletons, preload library, fixtures)
# add them in mk/*.mk, which may append to LIB_SRCS, GEN_HDRS, EXTRA_BINS and TEST_BINS_EXTRA.

VERSION   := 0.1.0
B         ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        := gcc
CLANG     ?= clang
SAN       ?=

GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKGS      := yaml-0.1 libcjson libprotobuf-c zlib libdw libelf libunwind libbpf
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2
CFLAGS    += -std=c11 -D_GNU_SOURCE -g -fno-omit-frame-pointer -Wall -Wextra -Werror \
             -Wno-missing-field-initializers -MMD -MP -Iinclude -I. -I$(B)/gen $(PKG_CFLAGS) \
             -DRP_VERSION='"$(VERSION)"' -DRP_GIT_REV='"$(GIT_REV)"'
ifneq ($(SAN),)
CFLAGS    += -fsanitize=$(SAN) -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=$(SAN)
endif
LDLIBS    += $(PKG_LIBS) -lpthread -lm -ldl

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all deps test test-run demo check bench fuzz soak install clean

all:

LIB_SRCS  := $(wildcard common/*.c bench/*.c profiler/*.c flamegraph/*.c)
TOOL_SRCS := $(wildcard tools/*.c)
TEST_SRCS := $(wildcard tests/test_*.c)
GEN_HDRS  :=
GEN_SRCS  :=
EXTRA_BINS :=
TEST_BINS_EXTRA :=

-include $(sort $(wildcard mk/*.mk))

LIB_OBJS  := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS) $(GEN_SRCS))
TOOL_OBJS := $(patsubst %.c,$(B)/%.o,$(TOOL_SRCS))
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
LIB       := $(B)/libreconperf.a
BIN       := $(B)/reconperf

all: $(BIN) $(EXTRA_BINS)

$(B)/%.o: %.c | $(GEN_HDRS)
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(TOOL_OBJS) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(TOOL_OBJS) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(B)/tests/util.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $< $(B)/tests/util.o -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LDLIBS) -lcriterion

deps:
	@sh mk/deps.sh

# The suite: every Criterion binary, then a one-line total. RECONPERF points the command-line
# tests at the binary under test; TESTS=name limits the run (e.g. TESTS=test_workqueue).
test: deps
	@$(MAKE) --no-print-directory all test-bins
	@$(MAKE) --no-print-directory test-run

test-bins: $(TEST_BINS) $(TEST_BINS_EXTRA)

test-run:
	@B=$(B) sh tests/run.sh $(TESTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh mk/demo.sh $(B)

# Sanitizers: ASan+UBSan over the whole suite; TSan over the threaded modules, driven
# through the TSan-built binary (mk/tsan-check.sh says why not through Criterion).
check: deps
	@$(MAKE) --no-print-directory B=build/asan SAN=address,undefined all test-bins
	@RP_SANITIZER=asan B=build/asan sh tests/run.sh
	@$(MAKE) --no-print-directory B=build/tsan SAN=thread all
	@sh mk/tsan-check.sh build/tsan

# Benchmarks: each mk/bench-*.sh measures one area and rewrites its section of
# docs/performance.md (between <!-- bench:NAME --> markers) with the command and figures.
bench: deps
	@$(MAKE) --no-print-directory all test-bins
	@set -e; for f in $(sort $(wildcard mk/bench-*.sh)); do echo "== $$f"; sh $$f $(B); done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/reconperf $(DESTDIR)$(PREFIX)/lib
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/reconperf
	install -m 0644 include/reconperf/*.h $(DESTDIR)$(PREFIX)/include/reconperf/
	install -m 0644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	$(INSTALL_EXTRA)

clean:
	rm -rf build

.PRECIOUS: $(B)/%.o $(B)/tests/%.o

-include $(shell find $(B) -name '*.d' 2>/dev/null)
