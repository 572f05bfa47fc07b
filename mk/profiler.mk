# CPU profiler: the preload library for `reconperf record` and the test fixtures.
# (Named to sort after mk/pprof.mk, whose GEN_SRCS it compiles in.)
#
# libreconperf-preload.so holds the profiler modules (profiler/*.c, common/*.c, the pprof
# code) compiled position-independent, plus profiler/preload/*.c (its constructor) and the
# eBPF loaders' common checks (the sampler's bpf-cpu-clock engine uses them).
PRELOAD_SRCS := $(wildcard profiler/*.c common/*.c profiler/preload/*.c) profiler/bpf/bpfcommon.c
PRELOAD_OBJS := $(patsubst %.c,$(B)/pic/%.o,$(PRELOAD_SRCS) $(GEN_SRCS))
PRELOAD_SO   := $(B)/libreconperf-preload.so

# Never sanitized: it is preloaded into programs that do not carry the sanitizer runtimes.
NOSAN = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(1))

$(B)/pic/%.o: %.c | $(GEN_HDRS)
	$(call msg,CC-PIC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(call NOSAN,$(CFLAGS)) -fPIC -c $< -o $@

$(PRELOAD_SO): $(PRELOAD_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(call NOSAN,$(LDFLAGS)) -shared -Wl,-z,nodelete -o $@ $^ $(LDLIBS)

EXTRA_BINS += $(PRELOAD_SO)

# Fixtures with a known answer: cpushare burns 50/30/20% of its CPU time in three functions
# on three threads. Built with frame pointers, without (plain -O2), and linked with
# gperftools' libprofiler (CPUPROFILE=... in the environment starts it).
FIXTURE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror
CPU_FIXTURES := $(B)/tests/fixtures/cpushare-fp $(B)/tests/fixtures/cpushare-nofp \
		$(B)/tests/fixtures/cpushare-gperf $(B)/tests/fixtures/cpushare-static

# statically linked: what record says about a program LD_PRELOAD cannot reach
$(B)/tests/fixtures/cpushare-static: tests/fixtures/cpushare.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -static -o $@ $< -lpthread

$(B)/tests/fixtures/cpushare-fp: tests/fixtures/cpushare.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fno-omit-frame-pointer -o $@ $< -lpthread

$(B)/tests/fixtures/cpushare-nofp: tests/fixtures/cpushare.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fomit-frame-pointer -o $@ $< -lpthread

$(B)/tests/fixtures/cpushare-gperf: tests/fixtures/cpushare.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fno-omit-frame-pointer -o $@ $< -lpthread \
		-Wl,--no-as-needed -lprofiler -Wl,--as-needed

# Benchmark fixtures: cpuwork (a CPU-bound workload), unwindcost (cost per unwind) and
# sigcost (what the sampling clocks and signals cost with an empty handler).
CPU_FIXTURES += $(B)/tests/fixtures/cpuwork-fp $(B)/tests/fixtures/cpuwork-nofp \
		$(B)/tests/fixtures/unwindcost-fp $(B)/tests/fixtures/unwindcost-nofp \
		$(B)/tests/fixtures/sigcost

$(B)/tests/fixtures/sigcost: tests/fixtures/sigcost.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -o $@ $< -lpthread

$(B)/tests/fixtures/cpuwork-fp: tests/fixtures/cpuwork.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fno-omit-frame-pointer -o $@ $< -lpthread

$(B)/tests/fixtures/cpuwork-nofp: tests/fixtures/cpuwork.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fomit-frame-pointer -o $@ $< -lpthread

# threadmix: a computing thread beside two that hand a byte back and forth (each thread's
# share of the CPU time in a profile)
CPU_FIXTURES += $(B)/tests/fixtures/threadmix

$(B)/tests/fixtures/threadmix: tests/fixtures/threadmix.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fomit-frame-pointer -o $@ $< -lpthread

# unwindcost links the unwinders alone (and libunwind, libdw), never sanitized: it measures.
UNWIND_FIX_SRCS = tests/fixtures/unwindcost.c profiler/unwind.c profiler/unwind.h \
	profiler/unwind_snap.c profiler/unwind_snap.h profiler/symfind.c profiler/symfind.h
UNWIND_FIX = $(CC) $(FIXTURE_CFLAGS) -I. $(1) -o $@ tests/fixtures/unwindcost.c \
	profiler/unwind.c profiler/unwind_snap.c profiler/symfind.c -lunwind -ldw -lelf -ldl \
	-lpthread

$(B)/tests/fixtures/unwindcost-fp: $(UNWIND_FIX_SRCS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(call UNWIND_FIX,-fno-omit-frame-pointer)

$(B)/tests/fixtures/unwindcost-nofp: $(UNWIND_FIX_SRCS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(call UNWIND_FIX,-fomit-frame-pointer)

# profab: the profiler switched on and off window by window inside one bench run; linked
# as reconperf is (the whole library: it wraps pthread_create), built as reconperf is.
CPU_FIXTURES += $(B)/tests/fixtures/profab

$(B)/tests/fixtures/profab: tests/fixtures/profab.c $(B)/libreconperf.a
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $< -Wl,--whole-archive $(LIB) \
		-Wl,--no-whole-archive $(LDLIBS)

TEST_BINS_EXTRA += $(CPU_FIXTURES) $(PRELOAD_SO)
