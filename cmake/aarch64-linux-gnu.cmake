# aarch64-linux-gnu.cmake - CMake toolchain for cross-compiling leancv to 64-bit ARM Linux with
# Debian's cross gcc (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross). CTest runs the test
# binaries under qemu-user with the cross sysroot as the dynamic loader's prefix, so `make neon`
# checks the NEON kernels on an x86 machine (correctness only: qemu timings mean nothing).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LCV_AARCH64_TRIPLE aarch64-linux-gnu)
set(LCV_AARCH64_SYSROOT /usr/${LCV_AARCH64_TRIPLE})
set(CMAKE_C_COMPILER ${LCV_AARCH64_TRIPLE}-gcc)

# Libraries and headers come from the cross sysroot only; programs (python, bash) from the host.
set(CMAKE_FIND_ROOT_PATH ${LCV_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(LCV_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(LCV_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LCV_QEMU_AARCH64} -L ${LCV_AARCH64_SYSROOT})
endif()
