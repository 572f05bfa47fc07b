# The store/informer benchmark program (tests/perf_store.c), run by mk/bench-store.sh.
PERF_STORE := $(B)/tests/perf_store
TEST_BINS_EXTRA += $(PERF_STORE)

$(PERF_STORE): $(B)/tests/perf_store.o $(B)/libreconperf.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)
