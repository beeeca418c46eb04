/* q8cvt.h - float32 <-> uint8/int8 conversions of QuantizeLinear and DequantizeLinear on one
 * run of values sharing a scale and zero point (the plan walks per-axis channels), bit for bit
 * as the reference in src/ops/quant.c: quantize divides in float32, rounds half to even,
 * saturates, and gives 0 for NaN (the reference's store of a NaN); dequantize computes
 * (float)(q - z) * s in float32. One table per ISA (scalar, AVX2, AVX-512). */
#ifndef LCV_Q8CVT_H
#define LCV_Q8CVT_H

#include <math.h>
#include <stdint.h>

#include "leancv.h"

typedef struct lcv_q8cvt_kernels {
    /* y[i] = sat(nearbyint(x[i] / s) + z); z within the output type's range */
    void (*quant_u8)(const float *x, float s, int32_t z, uint8_t *y, int64_t n);
    void (*quant_i8)(const float *x, float s, int32_t z, int8_t *y, int64_t n);
    /* y[i] = (float)(x[i] - z) * s */
    void (*dequant_u8)(const uint8_t *x, float s, int32_t z, float *y, int64_t n);
    void (*dequant_i8)(const int8_t *x, float s, int32_t z, float *y, int64_t n);
} lcv_q8cvt_kernels;

/* The table for isa (scalar where the ISA has no kernels of its own). Static, not owned. */
const lcv_q8cvt_kernels *lcv_q8cvt_kernels_for(lcv_isa isa);

extern const lcv_q8cvt_kernels lcv_q8cvt_kernels_scalar;
#if defined(__x86_64__)
extern const lcv_q8cvt_kernels lcv_q8cvt_kernels_avx2;
extern const lcv_q8cvt_kernels lcv_q8cvt_kernels_avx512;
#endif

/* One value, the definition every ISA's tail uses: the reference adds z in double and
 * saturates, which is the same as clamping the rounded quotient to [lo - z, hi - z]. */
static inline int32_t lcv_q8cvt_quant1(float x, float s, int32_t z, int32_t lo, int32_t hi) {
    float v = x / s;
    if (v != v) return 0;
    float r = nearbyintf(v);
    float rl = (float)(lo - z), rh = (float)(hi - z);
    r = r < rl ? rl : r > rh ? rh : r;
    return (int32_t)r + z;
}

#endif
