# meshd — the two commands: `make run` and `make test`.
# Both install what is missing (Debian packages, and for tests the stock
# MeshCentral peer from npm), build, and go.

JOBS ?= $(shell nproc)

.PHONY: all build build-ci deps peer browser run test test-unit test-asan test-fuzz bench clean

all: build

deps:
	@bash scripts/setup-deps.sh
	@bash scripts/setup-web.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build build -j$(JOBS)

# CI builds the same tree with -Werror.
build-ci: deps
	@cmake --preset ci >/dev/null
	@cmake --build build -j$(JOBS)

peer:
	@bash scripts/setup-peer.sh

# Debian's chromium and the pinned playwright-core for tests/browser/.
browser: deps
	@bash scripts/setup-browser.sh

run: build
	@bash scripts/run.sh

# Unit, end-to-end, interop and browser tests on the normal build; the
# unit tests again under ASan+UBSan; every fuzz target briefly.
test: build-ci peer browser
	@bash scripts/check-style.sh
	@cd build && ctest --output-on-failure -j2 --timeout 600
	@$(MAKE) --no-print-directory test-asan test-fuzz

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ctest --output-on-failure -L 'unit|e2e' -j2

test-fuzz: deps
	@bash scripts/fuzz-smoke.sh

bench: build peer
	@bash bench/run.sh

clean:
	rm -rf build build-asan build-fuzz
