# flamegraph/: the script embedded in every SVG is generated into a C string, and the
# deterministic folded-stack generator used by tests and mk/bench-flame.sh.
FLAME_JS_C := $(B)/gen/flamegraph/flame_js.c
GEN_SRCS += $(FLAME_JS_C)

$(FLAME_JS_C): flamegraph/flame.js mk/js2c.sh
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sh mk/js2c.sh fg_flame_js < $< > $@

FOLDEDGEN := $(B)/tests/foldedgen
TEST_BINS_EXTRA += $(FOLDEDGEN)
EXTRA_BINS += $(FOLDEDGEN)

$(FOLDEDGEN): tests/fixtures/foldedgen.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# tests/test_flame.c reads the SVGs with libxml2.
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
$(B)/tests/test_flame.o: CFLAGS += $(XML_CFLAGS)
$(B)/tests/test_flame: LDLIBS += $(XML_LIBS)

REPORT_JS_C := $(B)/gen/flamegraph/report_js.c
GEN_SRCS += $(REPORT_JS_C)

$(REPORT_JS_C): flamegraph/report.js mk/js2c.sh
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sh mk/js2c.sh fg_report_js < $< > $@
