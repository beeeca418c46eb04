/* vact_avx2.c - the vact.h kernels on 8 AVX2+FMA lanes: vact_impl.h instantiated over
 * vmath_avx2.h. x86-64 only. */
#if defined(__x86_64__)
#include "vmath_avx2.h"

#define VT lcv_v8
#define VL 8
#define V(op) lcv_v8_##op
#define KTARGET LCV_V8_TARGET
#define KNAME(name) vact_avx2_##name
#define VACT_ISA LCV_ISA_AVX2
#define VACT_TABLE lcv_vact_kernels_avx2
#include "vact_impl.h"
#else
typedef int lcv_vact_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
