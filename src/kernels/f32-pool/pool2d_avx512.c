/* pool2d_avx512.c - the AVX-512 row operations of the separable pooling kernel (pool2d.c):
 * 16 floats per step, masked loads/stores for the remainder, and the stride-2 split by two
 * cross-lane permutes. Semantics are those of the scalar operations, bit for bit. */
#include "pool2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

T512 static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

/* max(s, d) returns d when either is NaN or both are zeros: exactly s > d ? s : d. */
T512 static void max512(float *d, const float *s, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_max_ps(_mm512_loadu_ps(s + i), _mm512_loadu_ps(d + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(m, s + i), b = _mm512_maskz_loadu_ps(m, d + i);
        _mm512_mask_storeu_ps(d + i, m, _mm512_max_ps(a, b));
    }
}

T512 static void add512(float *d, const float *s, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(d + i), _mm512_loadu_ps(s + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(m, d + i), b = _mm512_maskz_loadu_ps(m, s + i);
        _mm512_mask_storeu_ps(d + i, m, _mm512_add_ps(a, b));
    }
}

T512 static void deint2_512(const float *v, float *e, float *o, int64_t pairs) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                         31);
    int64_t j = 0;
    for (; j + 16 <= pairs; j += 16) {
        __m512 a = _mm512_loadu_ps(v + 2 * j), b = _mm512_loadu_ps(v + 2 * j + 16);
        _mm512_storeu_ps(e + j, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(o + j, _mm512_permutex2var_ps(a, io, b));
    }
    for (; j < pairs; j++) {
        e[j] = v[2 * j];
        o[j] = v[2 * j + 1];
    }
}

T512 static void div512(float *y, const float *cnt, float rows, int64_t n) {
    const __m512 r = _mm512_set1_ps(rows), zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        __m512 den = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, cnt + i));
        __mmask16 pos = _mm512_mask_cmp_ps_mask(m, den, zero, _CMP_GT_OQ);
        __m512 q = _mm512_maskz_div_ps(pos, _mm512_maskz_loadu_ps(m, y + i), den);
        _mm512_mask_storeu_ps(y + i, m, q);
    }
}

const lcv_pool2d_rowops lcv_pool2d_rowops_avx512 = {max512, add512, deint2_512, div512};

#endif
