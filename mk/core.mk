# The example plug-in reconciler used by the bench tests and docs/bench.md.
PLUGIN_EXAMPLE := $(B)/fixtures/libplugin_status.so
TEST_BINS_EXTRA += $(PLUGIN_EXAMPLE)

$(PLUGIN_EXAMPLE): tests/fixtures/plugin_status.c include/reconperf/reconciler.h
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -O2 -g -shared -fPIC -Iinclude -o $@ $<
