/* vmath_avx512.h - float32 math on 16 AVX-512 lanes as static inline building blocks for any
 * kernel (call them from functions compiled with LCV_V16_TARGET): loads/stores with remainder
 * masks, exp, sigmoid, SiLU, tanh, erf, and the fused activations with exactly the semantics
 * of core/act.c. The algorithms and constants are those of vmath_coef.h. */
#ifndef LCV_VMATH_AVX512_H
#define LCV_VMATH_AVX512_H

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#include "vmath_coef.h"

#define LCV_V16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define LCV_V16_INL LCV_V16_TARGET static inline __attribute__((always_inline))

typedef __m512 lcv_v16;

LCV_V16_INL lcv_v16 lcv_v16_set1(float a) { return _mm512_set1_ps(a); }
LCV_V16_INL lcv_v16 lcv_v16_load(const float *p) { return _mm512_loadu_ps(p); }
LCV_V16_INL void lcv_v16_store(float *p, lcv_v16 v) { _mm512_storeu_ps(p, v); }
LCV_V16_INL __mmask16 lcv_v16_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }
/* The first n (0 < n < 16) lanes from p, `fill` in the others; nothing past p + n is read. */
LCV_V16_INL lcv_v16 lcv_v16_load_part(const float *p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lcv_v16_mask(n), p);
}
LCV_V16_INL void lcv_v16_store_part(float *p, lcv_v16 v, int64_t n) {
    _mm512_mask_storeu_ps(p, lcv_v16_mask(n), v);
}
LCV_V16_INL lcv_v16 lcv_v16_add(lcv_v16 a, lcv_v16 b) { return _mm512_add_ps(a, b); }
LCV_V16_INL lcv_v16 lcv_v16_sub(lcv_v16 a, lcv_v16 b) { return _mm512_sub_ps(a, b); }
LCV_V16_INL lcv_v16 lcv_v16_mul(lcv_v16 a, lcv_v16 b) { return _mm512_mul_ps(a, b); }
LCV_V16_INL lcv_v16 lcv_v16_div(lcv_v16 a, lcv_v16 b) { return _mm512_div_ps(a, b); }
/* a * b + c, rounded once */
LCV_V16_INL lcv_v16 lcv_v16_fma(lcv_v16 a, lcv_v16 b, lcv_v16 c) {
    return _mm512_fmadd_ps(a, b, c);
}
/* a > b ? a : b and a < b ? a : b lane by lane (the x86 rule: b when either is NaN) */
LCV_V16_INL lcv_v16 lcv_v16_max(lcv_v16 a, lcv_v16 b) { return _mm512_max_ps(a, b); }
LCV_V16_INL lcv_v16 lcv_v16_min(lcv_v16 a, lcv_v16 b) { return _mm512_min_ps(a, b); }
LCV_V16_INL float lcv_v16_hsum(lcv_v16 v) { return _mm512_reduce_add_ps(v); }
LCV_V16_INL float lcv_v16_hmax(lcv_v16 v) { return _mm512_reduce_max_ps(v); }
/* Lanes where a < b (resp. a > b, a >= b) take y, the others x; NaN compares false. */
LCV_V16_INL lcv_v16 lcv_v16_if_lt(lcv_v16 a, lcv_v16 b, lcv_v16 y, lcv_v16 x) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), x, y);
}
LCV_V16_INL lcv_v16 lcv_v16_if_gt(lcv_v16 a, lcv_v16 b, lcv_v16 y, lcv_v16 x) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), x, y);
}
LCV_V16_INL lcv_v16 lcv_v16_if_ge(lcv_v16 a, lcv_v16 b, lcv_v16 y, lcv_v16 x) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), x, y);
}
LCV_V16_INL lcv_v16 lcv_v16_abs(lcv_v16 x) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}
/* |m| with the sign of s (m must have a clear sign bit) */
LCV_V16_INL lcv_v16 lcv_v16_with_sign(lcv_v16 m, lcv_v16 s) {
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(INT32_MIN));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(m), sign));
}

/* e^x within 2 ulp for normal results; +inf above ~88.72, gradual underflow to 0 below;
 * NaN stays NaN (the clamps keep their second operand, x, when it is NaN). */
LCV_V16_INL lcv_v16 lcv_v16_exp(lcv_v16 x) {
    x = _mm512_min_ps(_mm512_set1_ps(LCV_VM_EXP_HI), x);
    x = _mm512_max_ps(_mm512_set1_ps(LCV_VM_EXP_LO), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LCV_VM_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LCV_VM_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LCV_VM_LN2_LO), r);
    __m512 p = _mm512_set1_ps(LCV_VM_EXP_C6);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LCV_VM_EXP_C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LCV_VM_EXP_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LCV_VM_EXP_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LCV_VM_EXP_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    /* scalef computes p * 2^n with one rounding, overflowing and underflowing correctly */
    return _mm512_scalef_ps(p, n);
}

LCV_V16_INL lcv_v16 lcv_v16_sigmoid(lcv_v16 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = lcv_v16_exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

LCV_V16_INL lcv_v16 lcv_v16_silu(lcv_v16 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 e = lcv_v16_exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(one, e));
}

LCV_V16_INL lcv_v16 lcv_v16_tanh(lcv_v16 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = lcv_v16_abs(x), x2 = _mm512_mul_ps(x, x);
    __m512 q = _mm512_set1_ps(LCV_VM_TANH_T4);
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(LCV_VM_TANH_T3));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(LCV_VM_TANH_T2));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(LCV_VM_TANH_T1));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(LCV_VM_TANH_T0));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x, x2), q, x);
    __m512 e = lcv_v16_exp(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    __m512 large = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    large = lcv_v16_with_sign(large, x);
    return lcv_v16_if_lt(ax, _mm512_set1_ps(LCV_VM_TANH_SMALL), small, large);
}

/* table[i] per lane for lane indices i in [0, 8) (only their low 4 bits are read) */
LCV_V16_INL lcv_v16 lcv_v16_lookup8(const float *table, __m512i i) {
    return _mm512_permutexvar_ps(i, _mm512_zextps256_ps512(_mm256_loadu_ps(table)));
}

LCV_V16_INL lcv_v16 lcv_v16_erf(lcv_v16 x) {
    __m512 ax = _mm512_min_ps(_mm512_set1_ps(LCV_VM_ERF_CLAMP), lcv_v16_abs(x));
    /* interval index; a NaN converts to INT32_MIN, whose low bits select interval 0 */
    __m512i i = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_add_ps(ax, ax)), _mm512_set1_epi32(7));
    __m512 t = _mm512_sub_ps(ax, lcv_v16_lookup8(lcv_vm_erf_centre, i));
    __m512 p = lcv_v16_lookup8(lcv_vm_erf_coef[7], i);
    for (int k = 6; k >= 0; k--) p = _mm512_fmadd_ps(p, t, lcv_v16_lookup8(lcv_vm_erf_coef[k], i));
    p = _mm512_min_ps(_mm512_set1_ps(1.0f), p);
    return lcv_v16_with_sign(p, x);
}

/* Fused activations, exactly as lcv_act_f32 computes them. */
LCV_V16_INL lcv_v16 lcv_v16_relu(lcv_v16 x) { return _mm512_max_ps(x, _mm512_setzero_ps()); }
LCV_V16_INL lcv_v16 lcv_v16_clip(lcv_v16 x, lcv_v16 lo, lcv_v16 hi) {
    return lcv_v16_if_lt(x, lo, lo, lcv_v16_if_gt(x, hi, hi, x));
}
LCV_V16_INL lcv_v16 lcv_v16_leakyrelu(lcv_v16 x, lcv_v16 alpha) {
    return lcv_v16_if_ge(x, _mm512_setzero_ps(), x, _mm512_mul_ps(alpha, x));
}
/* clamp(alpha * x + beta, 0, 1), the product and sum rounded separately as in core/act.c */
LCV_V16_INL lcv_v16 lcv_v16_hardsigmoid(lcv_v16 x, lcv_v16 alpha, lcv_v16 beta) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    __m512 v = _mm512_add_ps(_mm512_mul_ps(alpha, x), beta);
    return lcv_v16_if_lt(v, zero, zero, lcv_v16_if_gt(v, one, one, v));
}
LCV_V16_INL lcv_v16 lcv_v16_hardswish(lcv_v16 x) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    __m512 v = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.0f)), _mm512_set1_ps(0.5f));
    return _mm512_mul_ps(x, lcv_v16_if_lt(v, zero, zero, lcv_v16_if_gt(v, one, one, v)));
}

#endif /* __x86_64__ */
#endif
