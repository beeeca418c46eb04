/* vmath_avx2.h - float32 math on 8 AVX2+FMA lanes as static inline building blocks for any
 * kernel (call them from functions compiled with LCV_V8_TARGET): loads/stores with remainder
 * masks, exp, sigmoid, SiLU, tanh, erf, and the fused activations with exactly the semantics
 * of core/act.c. The same algorithms and constants as vmath_avx512.h (vmath_coef.h). */
#ifndef LCV_VMATH_AVX2_H
#define LCV_VMATH_AVX2_H

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#include "vmath_coef.h"

#define LCV_V8_TARGET __attribute__((target("avx2,fma")))
#define LCV_V8_INL LCV_V8_TARGET static inline __attribute__((always_inline))

typedef __m256 lcv_v8;

LCV_V8_INL lcv_v8 lcv_v8_set1(float a) { return _mm256_set1_ps(a); }
LCV_V8_INL lcv_v8 lcv_v8_load(const float *p) { return _mm256_loadu_ps(p); }
LCV_V8_INL void lcv_v8_store(float *p, lcv_v8 v) { _mm256_storeu_ps(p, v); }
/* All-ones in lanes [0, n). */
LCV_V8_INL __m256i lcv_v8_mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* The first n (0 < n < 8) lanes from p, `fill` in the others; nothing past p + n is read. */
LCV_V8_INL lcv_v8 lcv_v8_load_part(const float *p, int64_t n, float fill) {
    __m256i m = lcv_v8_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
LCV_V8_INL void lcv_v8_store_part(float *p, lcv_v8 v, int64_t n) {
    _mm256_maskstore_ps(p, lcv_v8_mask(n), v);
}
LCV_V8_INL lcv_v8 lcv_v8_add(lcv_v8 a, lcv_v8 b) { return _mm256_add_ps(a, b); }
LCV_V8_INL lcv_v8 lcv_v8_sub(lcv_v8 a, lcv_v8 b) { return _mm256_sub_ps(a, b); }
LCV_V8_INL lcv_v8 lcv_v8_mul(lcv_v8 a, lcv_v8 b) { return _mm256_mul_ps(a, b); }
LCV_V8_INL lcv_v8 lcv_v8_div(lcv_v8 a, lcv_v8 b) { return _mm256_div_ps(a, b); }
LCV_V8_INL lcv_v8 lcv_v8_fma(lcv_v8 a, lcv_v8 b, lcv_v8 c) { return _mm256_fmadd_ps(a, b, c); }
/* a > b ? a : b and a < b ? a : b lane by lane (the x86 rule: b when either is NaN) */
LCV_V8_INL lcv_v8 lcv_v8_max(lcv_v8 a, lcv_v8 b) { return _mm256_max_ps(a, b); }
LCV_V8_INL lcv_v8 lcv_v8_min(lcv_v8 a, lcv_v8 b) { return _mm256_min_ps(a, b); }
LCV_V8_INL float lcv_v8_hsum(lcv_v8 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
LCV_V8_INL float lcv_v8_hmax(lcv_v8 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
/* Lanes where a < b (resp. a > b, a >= b) take y, the others x; NaN compares false. */
LCV_V8_INL lcv_v8 lcv_v8_if_lt(lcv_v8 a, lcv_v8 b, lcv_v8 y, lcv_v8 x) {
    return _mm256_blendv_ps(x, y, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
LCV_V8_INL lcv_v8 lcv_v8_if_gt(lcv_v8 a, lcv_v8 b, lcv_v8 y, lcv_v8 x) {
    return _mm256_blendv_ps(x, y, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}
LCV_V8_INL lcv_v8 lcv_v8_if_ge(lcv_v8 a, lcv_v8 b, lcv_v8 y, lcv_v8 x) {
    return _mm256_blendv_ps(x, y, _mm256_cmp_ps(a, b, _CMP_GE_OQ));
}
LCV_V8_INL lcv_v8 lcv_v8_abs(lcv_v8 x) {
    return _mm256_castsi256_ps(
        _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff)));
}
/* |m| with the sign of s (m must have a clear sign bit) */
LCV_V8_INL lcv_v8 lcv_v8_with_sign(lcv_v8 m, lcv_v8 s) {
    __m256i sign = _mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(INT32_MIN));
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(m), sign));
}

/* 2^n for integer-valued n in [-150, 129], applied to p as two exact power-of-two factors so
 * that neither factor leaves the normal range and the product rounds once. */
LCV_V8_INL lcv_v8 lcv_v8_scale2(lcv_v8 p, lcv_v8 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* e^x within 2 ulp for normal results; +inf above ~88.72, gradual underflow to 0 below;
 * NaN stays NaN (the clamps keep their second operand, x, when it is NaN). */
LCV_V8_INL lcv_v8 lcv_v8_exp(lcv_v8 x) {
    x = _mm256_min_ps(_mm256_set1_ps(LCV_VM_EXP_HI), x);
    x = _mm256_max_ps(_mm256_set1_ps(LCV_VM_EXP_LO), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LCV_VM_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LCV_VM_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LCV_VM_LN2_LO), r);
    __m256 p = _mm256_set1_ps(LCV_VM_EXP_C6);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LCV_VM_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LCV_VM_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LCV_VM_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LCV_VM_EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* a NaN x makes p NaN, so the garbage exponent of a NaN n does not matter */
    return lcv_v8_scale2(p, n);
}

LCV_V8_INL lcv_v8 lcv_v8_sigmoid(lcv_v8 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = lcv_v8_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

LCV_V8_INL lcv_v8 lcv_v8_silu(lcv_v8 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = lcv_v8_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(one, e));
}

LCV_V8_INL lcv_v8 lcv_v8_tanh(lcv_v8 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 ax = lcv_v8_abs(x), x2 = _mm256_mul_ps(x, x);
    __m256 q = _mm256_set1_ps(LCV_VM_TANH_T4);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(LCV_VM_TANH_T3));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(LCV_VM_TANH_T2));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(LCV_VM_TANH_T1));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(LCV_VM_TANH_T0));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, x2), q, x);
    __m256 e = lcv_v8_exp(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    __m256 large = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    large = lcv_v8_with_sign(large, x);
    return lcv_v8_if_lt(ax, _mm256_set1_ps(LCV_VM_TANH_SMALL), small, large);
}

LCV_V8_INL lcv_v8 lcv_v8_erf(lcv_v8 x) {
    __m256 ax = _mm256_min_ps(_mm256_set1_ps(LCV_VM_ERF_CLAMP), lcv_v8_abs(x));
    /* interval index; a NaN converts to INT32_MIN, whose low bits select interval 0 */
    __m256i i = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(ax, ax)), _mm256_set1_epi32(7));
    __m256 t = _mm256_sub_ps(ax, _mm256_permutevar8x32_ps(_mm256_loadu_ps(lcv_vm_erf_centre), i));
    __m256 p = _mm256_permutevar8x32_ps(_mm256_loadu_ps(lcv_vm_erf_coef[7]), i);
    for (int k = 6; k >= 0; k--)
        p = _mm256_fmadd_ps(p, t, _mm256_permutevar8x32_ps(_mm256_loadu_ps(lcv_vm_erf_coef[k]), i));
    p = _mm256_min_ps(_mm256_set1_ps(1.0f), p);
    return lcv_v8_with_sign(p, x);
}

/* Fused activations, exactly as lcv_act_f32 computes them. */
LCV_V8_INL lcv_v8 lcv_v8_relu(lcv_v8 x) { return _mm256_max_ps(x, _mm256_setzero_ps()); }
LCV_V8_INL lcv_v8 lcv_v8_clip(lcv_v8 x, lcv_v8 lo, lcv_v8 hi) {
    return lcv_v8_if_lt(x, lo, lo, lcv_v8_if_gt(x, hi, hi, x));
}
LCV_V8_INL lcv_v8 lcv_v8_leakyrelu(lcv_v8 x, lcv_v8 alpha) {
    return lcv_v8_if_ge(x, _mm256_setzero_ps(), x, _mm256_mul_ps(alpha, x));
}
/* clamp(alpha * x + beta, 0, 1), the product and sum rounded separately as in core/act.c */
LCV_V8_INL lcv_v8 lcv_v8_hardsigmoid(lcv_v8 x, lcv_v8 alpha, lcv_v8 beta) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 v = _mm256_add_ps(_mm256_mul_ps(alpha, x), beta);
    return lcv_v8_if_lt(v, zero, zero, lcv_v8_if_gt(v, one, one, v));
}
LCV_V8_INL lcv_v8 lcv_v8_hardswish(lcv_v8 x) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 v = _mm256_add_ps(_mm256_div_ps(x, _mm256_set1_ps(6.0f)), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(x, lcv_v8_if_lt(v, zero, zero, lcv_v8_if_gt(v, one, one, v)));
}

#endif /* __x86_64__ */
#endif
