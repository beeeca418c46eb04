/* i8_requant.h - the one definition of int32 -> 8-bit requantization, shared by the reference
 * kernels of QLinearConv / QLinearMatMul (src/ops) and every fast kernel, so they cannot drift.
 * The float32 steps follow ONNX's reference (and ONNX Runtime): scale product in float32,
 * round half to even, saturate. Vector kernels reproduce it lane by lane (see the notes). */
#ifndef LCV_I8_REQUANT_H
#define LCV_I8_REQUANT_H

#include <math.h>
#include <stdint.h>

/* The multiplier of a requantization, in float32 in this order: sx * sw / sy. */
static inline float lcv_i8_mult(float sx, float sw, float sy) { return sx * sw / sy; }

/* y = saturate(round_half_even((float)acc * mult) + zy) to [lo, hi]. The clamp happens on the
 * float before rounding, at lo - zy and hi - zy (integers, so this equals clamping after); a
 * NaN (only from a NaN, zero or infinite scale) gives lo. Vector forms: cvtdq2ps, mulps,
 * maxps(v, lo - zy) (returns its second operand for NaN), minps, cvtps2dq under the default
 * round-to-nearest-even mode, add zy. */
static inline int32_t lcv_i8_requant(int32_t acc, float mult, int32_t zy, int32_t lo,
                                     int32_t hi) {
    float v = (float)acc * mult, flo = (float)(lo - zy), fhi = (float)(hi - zy);
    if (!(v > flo)) v = flo;
    if (v > fhi) v = fhi;
    return (int32_t)nearbyintf(v) + zy;
}

/* int32 addition and multiplication modulo 2^32 (ONNX's int32 sums wrap), without C's
 * signed-overflow undefined behaviour. */
static inline int32_t lcv_i32_wrap(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }
static inline int32_t lcv_i32_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t lcv_i32_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}
static inline int32_t lcv_i32_mul(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

#endif
