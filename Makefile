# Coffer: `make` builds into build/bin/; `make run` and `make test` also
# install whatever is missing first (scripts/install-deps).
BUILD      ?= build
TEST_BUILD ?= build/test
JOBS       ?= $(shell nproc)

.PHONY: all build deps run test bench lint clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	scripts/install-deps

run: deps build
	scripts/run

# The test build uses clang with ASan+UBSan and libFuzzer; the SDK and system
# suites run the sanitized servers too.  The flood tests run the release
# build (what users run: its memory and latency are what they measure).
# scripts/lint (format, banned functions, line length) runs before the tests.
test: deps build
	scripts/lint
	cmake -S . -B $(TEST_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DCOFFER_SANITIZE=ON -DCOFFER_FUZZ=ON -DCOFFER_RELEASE_BIN=$(abspath $(BUILD))/bin >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	ctest --test-dir $(TEST_BUILD) --output-on-failure -j $(JOBS)

lint:
	scripts/lint

bench: deps build
	bench/run

clean:
	rm -rf $(BUILD)
