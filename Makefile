# leancv - top-level entry points. Everything else is CMake (CMakeLists.txt).
#   make        release build into build/
#   make test   build + every test through CTest (conformance, model zoo, units, CLI)
#   make demo   build + classify the bundled Fashion-MNIST samples + test-set accuracy
#   make asan   unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (not zoo/slow)
#   make tsan   the multi-threaded tests (shared model, pool, kernels, arena, loader) under TSan
#   make fuzz   libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
#   make neon   AArch64 cross build (NEON kernels); kernel and op tests under qemu-user
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
# The tests that run threads (each is a target and a CTest test of the same name).
TSAN_TESTS = threads_shared_model threadpool ops_test_threads kernels_test_gemm_kernels \
	kernels_test_conv_plan runtime_arena data_loader seg_data det_data
SPACE := $(subst ,, )

.PHONY: all deps test demo asan tsan fuzz neon clean

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
	ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE 'zoo|slow'

tsan: deps
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLCV_SANITIZE=thread
	cmake --build build-tsan -j$(JOBS) --target $(TSAN_TESTS)
	ctest --test-dir build-tsan --output-on-failure -R '^($(subst $(SPACE),|,$(TSAN_TESTS)))$$'

fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Correctness only: qemu timings say nothing about ARM speed. No host libraries, PyTorch or
# ONNX data in this build, so only the self-contained kernel and op tests are configured.
neon: deps
	cmake -S . -B build-neon -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-march=armv8-a -DLCV_HOST_TOOLS=OFF \
	    "-DLCV_TEST_DIRS=kernels;ops"
	cmake --build build-neon -j$(JOBS)
	ctest --test-dir build-neon --output-on-failure -j$(JOBS)

deps:
	@scripts/deps.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz build-neon
