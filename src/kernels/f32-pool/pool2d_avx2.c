/* pool2d_avx2.c - the AVX2 row operations of the separable pooling kernel (pool2d.c): 8
 * floats per step, scalar remainders, and the stride-2 split by in-lane shuffles plus one
 * lane permute. Semantics are those of the scalar operations, bit for bit. */
#include "pool2d.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))

/* max(s, d) returns d when either is NaN or both are zeros: exactly s > d ? s : d. */
T256 static void max256(float *d, const float *s, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_max_ps(_mm256_loadu_ps(s + i), _mm256_loadu_ps(d + i)));
    for (; i < n; i++) d[i] = s[i] > d[i] ? s[i] : d[i];
}

T256 static void add256(float *d, const float *s, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(s + i)));
    for (; i < n; i++) d[i] += s[i];
}

T256 static void deint2_256(const float *v, float *e, float *o, int64_t pairs) {
    int64_t j = 0;
    for (; j + 8 <= pairs; j += 8) {
        __m256 a = _mm256_loadu_ps(v + 2 * j), b = _mm256_loadu_ps(v + 2 * j + 8);
        /* per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; then order the 64-bit pairs 0 2 1 3 */
        __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(e + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev),
                                                                       _MM_SHUFFLE(3, 1, 2, 0))));
        _mm256_storeu_ps(o + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od),
                                                                       _MM_SHUFFLE(3, 1, 2, 0))));
    }
    for (; j < pairs; j++) {
        e[j] = v[2 * j];
        o[j] = v[2 * j + 1];
    }
}

T256 static void div256(float *y, const float *cnt, float rows, int64_t n) {
    const __m256 r = _mm256_set1_ps(rows), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 den = _mm256_mul_ps(r, _mm256_loadu_ps(cnt + i));
        __m256 q = _mm256_div_ps(_mm256_loadu_ps(y + i), den);
        _mm256_storeu_ps(y + i, _mm256_and_ps(q, _mm256_cmp_ps(den, zero, _CMP_GT_OQ)));
    }
    for (; i < n; i++) {
        float den = rows * cnt[i];
        y[i] = den > 0.0f ? y[i] / den : 0.0f;
    }
}

const lcv_pool2d_rowops lcv_pool2d_rowops_avx2 = {max256, add256, deint2_256, div256};

#endif
