# compare: the simulation of compare's power and false-alarm rate that mk/bench-compare.sh
# runs to fill the "compare" section of docs/performance.md.
COMPAREPOWER := $(B)/tests/comparepower
EXTRA_BINS += $(COMPAREPOWER)

$(COMPAREPOWER): tests/fixtures/comparepower.c tests/rng.h $(B)/libreconperf.a
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)
