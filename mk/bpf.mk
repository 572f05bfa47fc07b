# eBPF programs (profiler/bpf/): vmlinux.h from the running kernel's BTF, each *.bpf.c
# compiled by clang for the BPF target (CO-RE), and a bpftool skeleton per program in
# $(B)/gen/<name>.skel.h (struct rp_<name>). The skeletons are GEN_HDRS, so every object
# waits for them; the user-space loaders (profiler/bpf/*.c but not *.bpf.c) go into the lib.
# Also the fixture programs the eBPF tests and mk/bench-bpf.sh drive.

BPFTOOL   ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_SRCS  := $(wildcard profiler/bpf/*.bpf.c)
BPF_NAMES := $(patsubst profiler/bpf/%.bpf.c,%,$(BPF_SRCS))
BPF_SKELS := $(patsubst %,$(B)/gen/%.skel.h,$(BPF_NAMES))
BPF_CFLAGS := -target bpf -g -O2 -mcpu=v3 -D__TARGET_ARCH_x86 -I$(B)/gen -I. -Wall \
              -idirafter /usr/include/$(shell gcc -dumpmachine) \
              -Wno-unused-parameter -Wno-unused-variable

GEN_HDRS  += $(B)/gen/vmlinux.h $(BPF_SKELS)
LIB_SRCS  += $(filter-out %.bpf.c,$(wildcard profiler/bpf/*.c))

$(B)/gen/vmlinux.h:
	$(call msg,BTF,$@)
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: profiler/bpf/%.bpf.c $(B)/gen/vmlinux.h
	$(call msg,BPF,$<)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@

$(B)/gen/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name rp_$* > $@.tmp && mv $@.tmp $@

# Fixtures with a known answer: built plainly (frame pointers, no inlining of the probed
# functions) so their first instruction is `push %rbp`, which uprobes do not single-step.
BPF_FIXTURES := $(B)/tests/fixtures/bpf_mix
TEST_BINS_EXTRA += $(BPF_FIXTURES)

$(B)/tests/fixtures/bpf_mix: tests/fixtures/bpf_mix.c include/reconperf/usdt.h
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Werror \
		-Iinclude -o $@ $< -lpthread -lm

.PRECIOUS: $(B)/bpf/%.bpf.o
