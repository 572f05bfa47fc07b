# bench/hist, bench/report: the histogram micro-benchmark that mk/bench-hist.sh runs.
HISTBENCH := $(B)/tests/histbench
EXTRA_BINS += $(HISTBENCH)

$(HISTBENCH): tests/fixtures/histbench.c $(B)/libreconperf.a
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)
