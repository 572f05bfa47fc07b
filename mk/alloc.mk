# The allocation profiler's fixture: a plain program with allocation sites of known size
# (tests/fixtures/alloc_sites.c), built with frame pointers and without reconperf's code.
ALLOC_FIXTURES := $(B)/tests/fixtures/alloc_sites
TEST_BINS_EXTRA += $(ALLOC_FIXTURES)

$(B)/tests/fixtures/alloc_sites: tests/fixtures/alloc_sites.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fno-omit-frame-pointer \
		-o $@ $<
