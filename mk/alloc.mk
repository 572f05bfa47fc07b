# The allocation profiler's fixture: a plain program with allocation sites of known size
# (tests/fixtures/alloc_sites.c), built with frame pointers and without reconperf's code.
ALLOC_FIXTURES := $(B)/tests/fixtures/alloc_sites
TEST_BINS_EXTRA += $(ALLOC_FIXTURES)

$(B)/tests/fixtures/alloc_sites: tests/fixtures/alloc_sites.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fno-omit-frame-pointer \
		-o $@ $<

# The allocation-heavy reconcile loop of mk/bench-allocprof.sh: plain (profiled from outside)
# and linked with the library (the in-process interposer: off, count, prof).
ALLOC_FIXTURES += $(B)/tests/fixtures/alloc_churn $(B)/tests/fixtures/alloc_churn_rp
TEST_BINS_EXTRA += $(B)/tests/fixtures/alloc_churn $(B)/tests/fixtures/alloc_churn_rp

$(B)/tests/fixtures/alloc_churn: tests/fixtures/alloc_churn.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fno-omit-frame-pointer \
		-o $@ $< -lpthread

$(B)/tests/fixtures/alloc_churn_rp: tests/fixtures/alloc_churn.c $(B)/libreconperf.a
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -DWITH_RECONPERF -rdynamic -o $@ $< \
		-Wl,--whole-archive $(B)/libreconperf.a -Wl,--no-whole-archive $(LDLIBS)
