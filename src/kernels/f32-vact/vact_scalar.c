/* vact_scalar.c - the vact.h kernels one value at a time in portable C: vact_impl.h
 * instantiated over vmath_scalar.h (the same approximations as the SIMD versions). */
#include "vmath_scalar.h"

#define VT lcv_v1
#define VL 1
#define V(op) lcv_v1_##op
#define KTARGET
#define KNAME(name) vact_scalar_##name
#define VACT_ISA LCV_ISA_SCALAR
#define VACT_TABLE lcv_vact_kernels_scalar
#include "vact_impl.h"
