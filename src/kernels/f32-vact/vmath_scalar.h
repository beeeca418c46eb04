/* vmath_scalar.h - the portable one-lane twin of vmath_avx2.h / vmath_avx512.h: the same exp,
 * sigmoid, SiLU, tanh and erf algorithms (vmath_coef.h) in plain C, so the scalar kernels give
 * the same approximations as the SIMD ones (up to FMA rounding) on any CPU, and the fused
 * activations with exactly the semantics of core/act.c. */
#ifndef LCV_VMATH_SCALAR_H
#define LCV_VMATH_SCALAR_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vmath_coef.h"

#define LCV_V1_INL static inline

typedef float lcv_v1;

LCV_V1_INL lcv_v1 lcv_v1_set1(float a) { return a; }
LCV_V1_INL lcv_v1 lcv_v1_load(const float *p) { return *p; }
LCV_V1_INL void lcv_v1_store(float *p, lcv_v1 v) { *p = v; }
/* One lane has no partial vectors; these exist so lane-generic code compiles. */
LCV_V1_INL lcv_v1 lcv_v1_load_part(const float *p, int64_t n, float fill) {
    return n > 0 ? *p : fill;
}
LCV_V1_INL void lcv_v1_store_part(float *p, lcv_v1 v, int64_t n) {
    if (n > 0) *p = v;
}
LCV_V1_INL lcv_v1 lcv_v1_add(lcv_v1 a, lcv_v1 b) { return a + b; }
LCV_V1_INL lcv_v1 lcv_v1_sub(lcv_v1 a, lcv_v1 b) { return a - b; }
LCV_V1_INL lcv_v1 lcv_v1_mul(lcv_v1 a, lcv_v1 b) { return a * b; }
LCV_V1_INL lcv_v1 lcv_v1_div(lcv_v1 a, lcv_v1 b) { return a / b; }
/* Two roundings here (no FMA assumed): the approximations keep their accuracy either way. */
LCV_V1_INL lcv_v1 lcv_v1_fma(lcv_v1 a, lcv_v1 b, lcv_v1 c) { return a * b + c; }
LCV_V1_INL lcv_v1 lcv_v1_max(lcv_v1 a, lcv_v1 b) { return a > b ? a : b; }
LCV_V1_INL lcv_v1 lcv_v1_min(lcv_v1 a, lcv_v1 b) { return a < b ? a : b; }
LCV_V1_INL float lcv_v1_hsum(lcv_v1 v) { return v; }
LCV_V1_INL float lcv_v1_hmax(lcv_v1 v) { return v; }
LCV_V1_INL lcv_v1 lcv_v1_if_lt(lcv_v1 a, lcv_v1 b, lcv_v1 y, lcv_v1 x) { return a < b ? y : x; }
LCV_V1_INL lcv_v1 lcv_v1_if_gt(lcv_v1 a, lcv_v1 b, lcv_v1 y, lcv_v1 x) { return a > b ? y : x; }
LCV_V1_INL lcv_v1 lcv_v1_if_ge(lcv_v1 a, lcv_v1 b, lcv_v1 y, lcv_v1 x) { return a >= b ? y : x; }
LCV_V1_INL lcv_v1 lcv_v1_abs(lcv_v1 x) { return fabsf(x); }
LCV_V1_INL lcv_v1 lcv_v1_with_sign(lcv_v1 m, lcv_v1 s) { return copysignf(m, s); }

/* 2^k for an integer k in [-126, 127], built from its bits */
LCV_V1_INL float lcv_v1_pow2i(int k) {
    uint32_t u = (uint32_t)(k + 127) << 23;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

LCV_V1_INL lcv_v1 lcv_v1_exp(lcv_v1 x) {
    if (x != x) return x;
    x = x < LCV_VM_EXP_LO ? LCV_VM_EXP_LO : x > LCV_VM_EXP_HI ? LCV_VM_EXP_HI : x;
    /* round to nearest through the 1.5 * 2^23 shifter: the sum has no fraction bits left */
    const float shifter = 12582912.0f;
    float n = (x * LCV_VM_LOG2E + shifter) - shifter;
    float r = x - n * LCV_VM_LN2_HI;
    r = r - n * LCV_VM_LN2_LO;
    float p = LCV_VM_EXP_C6;
    p = p * r + LCV_VM_EXP_C5;
    p = p * r + LCV_VM_EXP_C4;
    p = p * r + LCV_VM_EXP_C3;
    p = p * r + LCV_VM_EXP_C2;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int ni = (int)n; /* in [-150, 129]: two factors keep each in the normal range */
    int n1 = ni / 2, n2 = ni - n1;
    return p * lcv_v1_pow2i(n1) * lcv_v1_pow2i(n2);
}

LCV_V1_INL lcv_v1 lcv_v1_sigmoid(lcv_v1 x) { return 1.0f / (1.0f + lcv_v1_exp(-x)); }
LCV_V1_INL lcv_v1 lcv_v1_silu(lcv_v1 x) { return x / (1.0f + lcv_v1_exp(-x)); }

LCV_V1_INL lcv_v1 lcv_v1_tanh(lcv_v1 x) {
    float ax = fabsf(x);
    if (ax < LCV_VM_TANH_SMALL) {
        float x2 = x * x;
        float q = LCV_VM_TANH_T4;
        q = q * x2 + LCV_VM_TANH_T3;
        q = q * x2 + LCV_VM_TANH_T2;
        q = q * x2 + LCV_VM_TANH_T1;
        q = q * x2 + LCV_VM_TANH_T0;
        return x * x2 * q + x;
    }
    float e = lcv_v1_exp(-2.0f * ax);
    return copysignf((1.0f - e) / (1.0f + e), x);
}

LCV_V1_INL lcv_v1 lcv_v1_erf(lcv_v1 x) {
    float ax = fabsf(x);
    if (ax > LCV_VM_ERF_CLAMP) ax = LCV_VM_ERF_CLAMP;
    int i = ax < LCV_VM_ERF_CLAMP ? (int)(ax + ax) : 7; /* NaN: 7, and t stays NaN */
    float t = ax - lcv_vm_erf_centre[i];
    float p = lcv_vm_erf_coef[7][i];
    for (int k = 6; k >= 0; k--) p = p * t + lcv_vm_erf_coef[k][i];
    p = 1.0f < p ? 1.0f : p;
    return copysignf(p, x);
}

/* Fused activations, exactly as lcv_act_f32 computes them. */
LCV_V1_INL lcv_v1 lcv_v1_relu(lcv_v1 x) { return x > 0.0f ? x : 0.0f; }
LCV_V1_INL lcv_v1 lcv_v1_clip(lcv_v1 x, lcv_v1 lo, lcv_v1 hi) {
    return x < lo ? lo : x > hi ? hi : x;
}
LCV_V1_INL lcv_v1 lcv_v1_leakyrelu(lcv_v1 x, lcv_v1 alpha) { return x >= 0.0f ? x : alpha * x; }
LCV_V1_INL lcv_v1 lcv_v1_hardsigmoid(lcv_v1 x, lcv_v1 alpha, lcv_v1 beta) {
    float v = alpha * x + beta;
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}
LCV_V1_INL lcv_v1 lcv_v1_hardswish(lcv_v1 x) {
    float v = x / 6.0f + 0.5f;
    return x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
}

#endif
