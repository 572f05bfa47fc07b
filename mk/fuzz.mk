# Fuzzing: libFuzzer targets for every parser (tests/fuzz/fuzz_*.c), built with clang and
# ASan+UBSan into build/fuzz/. `make fuzz` runs each for FUZZ_TIME seconds (default 30) from
# its seed corpus (tests/fuzz/seeds/NAME plus shipped files); new inputs it finds go to
# build/fuzz/corpus-NAME, crashes to build/fuzz/crash-*. The same sources build for AFL++:
# `make fuzz-afl` compiles them with afl-clang-fast and a small driver, when AFL++ is there.
FUZZ_TIME  ?= 30
FUZZ_SAN   := fuzzer-no-link,address,undefined
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIBS   = $(PKG_LIBS) -lpthread -lm -ldl

.PHONY: fuzz fuzz-build
fuzz-build:
	@$(MAKE) --no-print-directory B=build/fuzz CC=clang SAN=$(FUZZ_SAN) build/fuzz/libreconperf.a
	@set -e; for n in $(FUZZ_NAMES); do \
		echo "  FUZZ     build/fuzz/fuzz_$$n"; \
		clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Iinclude -I. \
			-Ibuild/fuzz/gen $(PKG_CFLAGS) tests/fuzz/fuzz_$$n.c build/fuzz/libreconperf.a \
			$(FUZZ_LIBS) -o build/fuzz/fuzz_$$n; \
	done

fuzz: deps fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus-$$n; \
		seeds=tests/fuzz/seeds/$$n; [ "$$n" = scenario ] && seeds="$$seeds scenarios"; \
		echo "== fuzz_$$n ($(FUZZ_TIME)s)"; \
		build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=build/fuzz/ build/fuzz/corpus-$$n $$seeds 2>&1 | \
			grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|crash-' || true; \
		! ls build/fuzz/crash-* >/dev/null 2>&1; \
	done

# Soak: the fault scenario for SOAK_TIME (default 5m); memory must stay flat, nothing lost.
.PHONY: soak
soak: deps all
	@sh mk/soak.sh $(B)
