# The two commands of the README, and a few more for developers.
#   make demo   installs dependencies, builds the `cnnkit` tool, trains LeNet-5 on Fashion-MNIST
#   make test   installs dependencies, builds, runs the whole ctest suite
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# ccache (installed by scripts/install-deps) keys objects by paths relative to the checkout,
# so a second clone of the same sources (CI's, say) reuses what the first one compiled.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: deps build demo test test-asan sanitize fuzz bench bench-train compare golden clean install

deps:
	./scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the default run config (configs/lenet5-fashion-mnist.yaml), ending with
# "test accuracy: ..% (loss ..) in .." and "report: RUN_DIR/report.html". Builds only the
# tool, not the whole suite.
demo: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target cnnkit_cli
	$(BUILD)/bin/cnnkit train configs/lenet5-fashion-mnist.yaml

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE slow

# Address + undefined-behaviour sanitizers over the whole suite.
test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCNNKIT_SANITIZE=address,undefined \
	  -DCNNKIT_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE slow

# What CI runs after the suite (.ci/run): the unit, golden and fuzz-corpus tests under clang's
# address + undefined-behaviour sanitizers (build-san/), the DataLoader and data-parallel tests
# under its thread sanitizer (build-tsan/). SANITIZE=asan or tsan runs one of them.
SANITIZE ?=
sanitize: deps
	JOBS=$(JOBS) ./scripts/sanitize $(SANITIZE)

# Coverage-guided fuzzing of every reader and parser (tests/fuzz: libFuzzer under clang, with
# address + undefined-behaviour sanitizers, in build-san): FUZZ_SECONDS per target, a table of
# executions per target at the end. scripts/fuzz says more.
FUZZ_SECONDS ?= 600
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) ./scripts/fuzz

bench: build
	$(BUILD)/bench/bench_conv --benchmark_counters_tabular=true

# W1/W3 training throughput, cnnkit vs PyTorch side by side (needs python3-torch), 1 and 2
# threads; ROUNDS pairs each.
ROUNDS ?= 3
bench-train: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target cnnkit_cli
	bench/run_train_compare.sh $(BUILD) $(ROUNDS)

# Every BENCH.md workload against PyTorch in one table (docs/performance.md). Installs the
# PyTorch oracle first (install-deps with CNNKIT_WITH_TORCH=1). COMPARE_FLAGS="--isa avx2",
# "--quick", ...
compare: export CNNKIT_WITH_TORCH := 1
compare: deps $(BUILD)/build.ninja
	bench/compare --build $(BUILD) $(COMPARE_FLAGS)

# Regenerates the PyTorch goldens (needs python3-torch: CNNKIT_WITH_TORCH=1 make deps).
golden:
	for f in tools/golden/gen_*.py; do /usr/bin/python3 $$f || exit 1; done

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-san
