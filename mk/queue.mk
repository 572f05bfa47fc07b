# perf_queue: the workqueue's benchmark and Criterion-free stress driver (mk/bench-queue.sh;
# it also runs under SAN=thread, which Criterion cannot host).
EXTRA_BINS += $(B)/perf_queue

$(B)/perf_queue: $(B)/tests/perf_queue.o $(B)/libreconperf.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(B)/libreconperf.a $(LDLIBS)
