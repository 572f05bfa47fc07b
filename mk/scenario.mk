# Embeds scenarios/default.yaml into the library as a byte array, so `reconperf bench` with
# no argument runs it (scenario_load_embedded). od + sed: no xxd needed.
GEN_SRCS += $(B)/gen/scenario_default.c

$(B)/gen/scenario_default.c: scenarios/default.yaml mk/scenario.mk
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q){ echo '/* generated from scenarios/default.yaml by mk/scenario.mk */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const char scenario_default_yaml[];'; \
	  echo 'extern const size_t scenario_default_yaml_len;'; \
	  echo 'const char scenario_default_yaml[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00 };'; \
	  echo 'const size_t scenario_default_yaml_len = sizeof(scenario_default_yaml) - 1;'; \
	} > $@.tmp && mv $@.tmp $@
