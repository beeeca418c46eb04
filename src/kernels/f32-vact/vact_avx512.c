/* vact_avx512.c - the vact.h kernels on 16 AVX-512 lanes: vact_impl.h instantiated over
 * vmath_avx512.h. x86-64 only. */
#if defined(__x86_64__)
#include "vmath_avx512.h"

#define VT lcv_v16
#define VL 16
#define V(op) lcv_v16_##op
#define KTARGET LCV_V16_TARGET
#define KNAME(name) vact_avx512_##name
#define VACT_ISA LCV_ISA_AVX512
#define VACT_TABLE lcv_vact_kernels_avx512
#include "vact_impl.h"
#else
typedef int lcv_vact_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
