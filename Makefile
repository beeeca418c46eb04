# leancv - top-level entry points. Everything else is CMake (CMakeLists.txt).
#   make        release build into build/
#   make test   build + every test through CTest (conformance, model zoo, units, CLI)
#   make demo   build + classify the bundled Fashion-MNIST samples + test-set accuracy
#   make asan   unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan   the multi-threaded tests (shared model, pool, threaded kernels) under TSan
#   make fuzz   libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: all deps test demo asan tsan fuzz clean

all: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: all
	scripts/demo.sh $(BUILD)

asan: deps
	CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLCV_SANITIZE=address,undefined
	cmake --build build-asan -j$(JOBS)
	ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE zoo

tsan: deps
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLCV_SANITIZE=thread
	cmake --build build-tsan -j$(JOBS) --target threads_shared_model threadpool ops_test_threads \
	    kernels_test_gemm_kernels kernels_test_conv_plan
	ctest --test-dir build-tsan --output-on-failure \
	    -R '^(threads_shared_model|threadpool|ops_test_threads|kernels_test_gemm_kernels|kernels_test_conv_plan)$$'

fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

deps:
	@scripts/deps.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
