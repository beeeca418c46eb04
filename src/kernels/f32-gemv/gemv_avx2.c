/* gemv_avx2.c - the AVX2 GEMV panel kernel: GEMM-packed panels of 16 columns (2 ymm), four
 * panels per pass so eight independent FMA chains hide the latency while four weight streams
 * run; one broadcast of x[k] per k. */
#include "gemv.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))

/* Stores the 16 sums of panel p, clipped to n columns. */
T256 static void store_panel(const lcv_gemv_args *a, int64_t p, __m256 lo, __m256 hi) {
    int64_t j0 = p * 16, cols = a->n - j0 < 16 ? a->n - j0 : 16;
    if (cols == 16) {
        _mm256_storeu_ps(a->y + j0, lo);
        _mm256_storeu_ps(a->y + j0 + 8, hi);
        return;
    }
    float tmp[16];
    _mm256_storeu_ps(tmp, lo);
    _mm256_storeu_ps(tmp + 8, hi);
    memcpy(a->y + j0, tmp, sizeof(float) * (size_t)cols);
}

T256 void lcv_gemv_panels_avx2(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1) {
    const int64_t k = a->k;
    (void)nr; /* 16 on this ISA */
    int64_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const float *b = a->packed_b + p * 16 * k;
        __m256 c[8];
        for (int v = 0; v < 8; v++) c[v] = _mm256_setzero_ps();
        for (int64_t i = 0; i < k; i++, b += 16) {
            __m256 xv = _mm256_broadcast_ss(a->x + i);
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                c[2 * q] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b + q * 16 * k), c[2 * q]);
                c[2 * q + 1] =
                    _mm256_fmadd_ps(xv, _mm256_loadu_ps(b + q * 16 * k + 8), c[2 * q + 1]);
            }
        }
        for (int q = 0; q < 4; q++) store_panel(a, p + q, c[2 * q], c[2 * q + 1]);
    }
    for (; p < p1; p++) {
        const float *b = a->packed_b + p * 16 * k;
        __m256 c0 = _mm256_setzero_ps(), c1 = c0;
        for (int64_t i = 0; i < k; i++, b += 16) {
            __m256 xv = _mm256_broadcast_ss(a->x + i);
            c0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b), c0);
            c1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b + 8), c1);
        }
        store_panel(a, p, c0, c1);
    }
}

#endif
