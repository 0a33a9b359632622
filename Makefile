# triage: the commands a user and CI run.  The work is done by CMake and
# CTest; this file only installs what is missing and calls them.

BUILD_DIR ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build test test-asan run bench clean check-format

all: build

deps:
	@scripts/install-deps build

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DTR_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The same suite built with AddressSanitizer and UBSan.
test-asan: deps
	cmake -S . -B $(BUILD_DIR)-asan -DTR_WERROR=ON -DTR_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR)-asan -j $(JOBS)
	cd $(BUILD_DIR)-asan && ASAN_OPTIONS=detect_leaks=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 900

run: build
	scripts/run-demo $(BUILD_DIR)

bench: build
	@scripts/install-deps bench
	bench/run-all $(BUILD_DIR)

check-format:
	scripts/check-format

clean:
	rm -rf $(BUILD_DIR)
