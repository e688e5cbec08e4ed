# pgpulse: the two commands of the quick start are `make demo` and `make test`.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all bootstrap build test test-sanitize demo clean format

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)

# Unit tests, then integration tests against a throwaway PostgreSQL (scripts/pg-sandbox.sh).
test: build
	ctest --test-dir $(BUILD) --output-on-failure

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it).
test-sanitize: bootstrap
	@[ -f $(SANITIZE_BUILD)/CMakeCache.txt ] || cmake -S . -B $(SANITIZE_BUILD) $(GENERATOR) \
	  -DCMAKE_BUILD_TYPE=Debug -DPGPULSE_SANITIZE=address,undefined
	cmake --build $(SANITIZE_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SANITIZE_BUILD) --output-on-failure

demo: build
	scripts/demo.sh $(BUILD)/pgpulse

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
