# Fuzzing: libFuzzer targets for every parser (tests/fuzz/fuzz_*.c), built with clang and
# ASan+UBSan into build/fuzz/. `make fuzz` runs each for FUZZ_TIME seconds (default 30) from
# its seed corpus (tests/fuzz/seeds/NAME, plus scenarios/ for the scenario reader); new
# inputs it finds go to build/fuzz/corpus-NAME, crashes to build/fuzz/crash-*.
#
# The same targets run without libFuzzer through tests/fuzz/afl_driver.c:
#   make fuzz-afl     builds them with afl-clang-fast (AFL++'s persistent mode, ASan+UBSan)
#                     into build/fuzz-afl/ (installs the afl++ package when missing);
#                     then e.g. afl-fuzz -i tests/fuzz/seeds/folded -o build/fuzz-afl/out-folded
#                     -- build/fuzz-afl/fuzz_folded
#   make fuzz-replay  builds them with plain clang (ASan+UBSan) into build/fuzz-replay/ and
#                     runs every seed and every input of build/fuzz/corpus-NAME through them
#                     (also the way to rerun a crash file: build/fuzz-replay/fuzz_NAME FILE).
FUZZ_TIME  ?= 30
# FUZZ_RUNS=N runs each target for N executions instead of FUZZ_TIME seconds (the long runs
# recorded in docs/testing.md: make fuzz FUZZ_RUNS=10000000).
FUZZ_RUNS  ?=
FUZZ_LIMIT  = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_TIME))
FUZZ_SAN   := fuzzer-no-link,address,undefined
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIBS   = $(PKG_LIBS) -lpthread -lm -ldl
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -Iinclude -I. $(PKG_CFLAGS)
AFL_CC     ?= afl-clang-fast
# The seed directories of target $$n, for use inside a recipe's shell loop.
FUZZ_SEEDS  = seeds=tests/fuzz/seeds/$$n; [ "$$n" = scenario ] && seeds="$$seeds scenarios"

.PHONY: fuzz fuzz-build fuzz-afl fuzz-replay
fuzz-build:
	@$(MAKE) --no-print-directory B=build/fuzz CC=clang SAN=$(FUZZ_SAN) \
		build/fuzz/libreconperf.a
	@set -e; for n in $(FUZZ_NAMES); do \
		echo "  FUZZ     build/fuzz/fuzz_$$n"; \
		clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -Ibuild/fuzz/gen \
			tests/fuzz/fuzz_$$n.c build/fuzz/libreconperf.a $(FUZZ_LIBS) \
			-o build/fuzz/fuzz_$$n; \
	done

fuzz: deps fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus-$$n; \
		$(FUZZ_SEEDS); \
		echo "== fuzz_$$n ($(FUZZ_LIMIT))"; \
		build/fuzz/fuzz_$$n $(FUZZ_LIMIT) -timeout=25 \
			-print_final_stats=1 \
			-artifact_prefix=build/fuzz/ build/fuzz/corpus-$$n $$seeds 2>&1 | \
			grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|crash-|timeout-' \
			|| true; \
		! ls build/fuzz/crash-* build/fuzz/timeout-* >/dev/null 2>&1; \
	done

fuzz-afl:
	@sh mk/deps.sh afl++
	@$(MAKE) --no-print-directory B=build/fuzz-afl CC=$(AFL_CC) SAN=address,undefined \
		build/fuzz-afl/libreconperf.a
	@set -e; for n in $(FUZZ_NAMES); do \
		echo "  AFL      build/fuzz-afl/fuzz_$$n"; \
		$(AFL_CC) $(FUZZ_CFLAGS) -fsanitize=address,undefined -Ibuild/fuzz-afl/gen \
			tests/fuzz/fuzz_$$n.c tests/fuzz/afl_driver.c \
			build/fuzz-afl/libreconperf.a \
			$(FUZZ_LIBS) -o build/fuzz-afl/fuzz_$$n; \
	done

fuzz-replay: deps
	@$(MAKE) --no-print-directory B=build/fuzz-replay CC=clang SAN=address,undefined \
		build/fuzz-replay/libreconperf.a
	@set -e; for n in $(FUZZ_NAMES); do \
		echo "  REPLAY   build/fuzz-replay/fuzz_$$n"; \
		clang $(FUZZ_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
			-Ibuild/fuzz-replay/gen tests/fuzz/fuzz_$$n.c tests/fuzz/afl_driver.c \
			build/fuzz-replay/libreconperf.a $(FUZZ_LIBS) \
			-o build/fuzz-replay/fuzz_$$n; \
		$(FUZZ_SEEDS); \
		[ -d build/fuzz/corpus-$$n ] && seeds="$$seeds build/fuzz/corpus-$$n"; \
		build/fuzz-replay/fuzz_$$n $$seeds; \
	done

# Soak: the fault scenario for SOAK_TIME (default 5m); memory must stay flat, nothing lost.
.PHONY: soak
soak: deps all
	@sh mk/soak.sh $(B)
