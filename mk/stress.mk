# Profiler stress (tests/test_stress.c): tests/fixtures/stress_prof.c, a program that churns
# threads, forks, execs, dlopens/dlcloses its plugin and toggles signal masks, built plain
# (profiled from outside by `reconperf record`) and linked with the library (the in-process
# C API); libstress_plugin.so sits beside both. `make stress-soak` runs a long configuration.
STRESS_DIR := $(B)/tests/fixtures
STRESS_BINS := $(STRESS_DIR)/stress_prof $(STRESS_DIR)/stress_prof_rp \
	       $(STRESS_DIR)/libstress_plugin.so
TEST_BINS_EXTRA += $(STRESS_BINS)
STRESS_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fno-omit-frame-pointer

$(STRESS_DIR)/libstress_plugin.so: tests/fixtures/stress_plugin.c
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -fPIC -shared -o $@ $<

$(STRESS_DIR)/stress_prof: tests/fixtures/stress_prof.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STRESS_CFLAGS) -o $@ $< -lpthread -ldl

# Linked with the library: never sanitized flags of our own, but the build's CFLAGS (a
# sanitized build links the sanitized library).
$(STRESS_DIR)/stress_prof_rp: tests/fixtures/stress_prof.c $(B)/libreconperf.a
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -DWITH_RECONPERF -rdynamic -o $@ $< \
		-Wl,--whole-archive $(B)/libreconperf.a -Wl,--no-whole-archive $(LDLIBS)

# A long run: STRESS_ROUNDS rounds of STRESS_THREADS threads each (100 x 3000 by default,
# so thread ids wrap around pid_max), under record at 1000 Hz with the heap profiler on.
STRESS_ROUNDS ?= 100
STRESS_THREADS ?= 3000
.PHONY: stress-soak
stress-soak: $(B)/reconperf $(PRELOAD_SO) $(STRESS_BINS)
	sh mk/stress-soak.sh $(B) $(STRESS_ROUNDS) $(STRESS_THREADS)
