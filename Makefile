# pgpulse: the two commands of the quick start are `make demo` and `make test`.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
PACKAGE_BUILD ?= build-deb
FUZZ_SECONDS ?= 60
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
# The project's own builds treat warnings as errors; a user's plain cmake build does not.
WERROR := -DCMAKE_COMPILE_WARNING_AS_ERROR=ON

.PHONY: all bootstrap build test test-sanitize fuzz bench bench-smoke demo package clean format

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) $(GENERATOR) $(WERROR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)

# Unit tests, then integration tests against a throwaway PostgreSQL (scripts/pg-sandbox.sh),
# then the browser client's unit tests and the demo pages in Debian's Chromium.
test: build
	ctest --test-dir $(BUILD) --output-on-failure
	node --test web/client/test/
	tests/browser/run.sh

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it).
test-sanitize: bootstrap
	@[ -f $(SANITIZE_BUILD)/CMakeCache.txt ] || cmake -S . -B $(SANITIZE_BUILD) $(GENERATOR) $(WERROR) \
	  -DCMAKE_BUILD_TYPE=Debug -DPGPULSE_SANITIZE=address,undefined
	cmake --build $(SANITIZE_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SANITIZE_BUILD) --output-on-failure

# libFuzzer (clang, ASan + UBSan) on client messages and row filters, for FUZZ_SECONDS.
# New inputs go to $(FUZZ_BUILD)/corpus (fuzz/corpus is the seed corpus, read only); a crash
# leaves its input in $(FUZZ_BUILD)/crash-* and fails the target.
fuzz:
	@scripts/bootstrap.sh clang libclang-rt-14-dev
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || cmake -S fuzz -B $(FUZZ_BUILD) $(GENERATOR) $(WERROR) \
	  -DCMAKE_CXX_COMPILER=clang++ -DPGPULSE_FUZZ=ON
	cmake --build $(FUZZ_BUILD)
	@mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/protocol_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  -dict=fuzz/protocol.dict -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus fuzz/corpus

# The benchmark suite on a throwaway PostgreSQL (bench/run.sh; bench/README.md): at most 15 min
# on a 2-core machine; writes bench/results/ (latest.json, latest.md, plots) and the README's
# benchmark section. Never part of `make test`, which asserts no timing.
bench: build
	BUILD=$(BUILD) bench/run.sh

# Every workload at a tiny size, under a minute: keeps the harness working (CI runs it). Its
# results go to bench/results/tmp/; it changes nothing that is committed.
bench-smoke: build
	BUILD=$(BUILD) BENCH_SMOKE=1 bench/run.sh

demo: build
	scripts/demo.sh $(BUILD)/pgpulse

# The Debian packages pgpulse and libpgpulse-dev (packaging/package.cmake) in $(PACKAGE_BUILD):
# a Release build for /usr, with Debian's hardening flags (dpkg-buildflags, without -g: the
# packages carry no debug information). scripts/check-package.sh lints, installs and tries them.
DEB_FLAGS = DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CFLAGS_MAINT_STRIP=-g DEB_CXXFLAGS_MAINT_STRIP=-g \
  dpkg-buildflags --get
PACKAGE_FLAGS = CFLAGS="$$($(DEB_FLAGS) CFLAGS) $$($(DEB_FLAGS) CPPFLAGS)" \
  CXXFLAGS="$$($(DEB_FLAGS) CXXFLAGS) $$($(DEB_FLAGS) CPPFLAGS)" LDFLAGS="$$($(DEB_FLAGS) LDFLAGS)"
package: bootstrap
	@scripts/bootstrap.sh dpkg-dev file
	@[ -f $(PACKAGE_BUILD)/CMakeCache.txt ] || $(PACKAGE_FLAGS) cmake -S . -B $(PACKAGE_BUILD) \
	  $(GENERATOR) $(WERROR) -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=/usr -DPGPULSE_WEB_ROOT=/usr/share/pgpulse/web \
	  -DPGPULSE_SYSTEMD_UNIT_DIR=/lib/systemd/system
	cmake --build $(PACKAGE_BUILD)
	cd $(PACKAGE_BUILD) && cpack -G DEB

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(PACKAGE_BUILD)
