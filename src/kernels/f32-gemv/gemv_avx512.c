/* gemv_avx512.c - the AVX-512 GEMV panel kernel: GEMM-packed panels of 32 columns (2 zmm),
 * two panels per pass so four independent FMA chains hide the latency while two weight
 * streams run; one broadcast of x[k] per k. */
#include "gemv.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* Stores the 32 sums of panel p, clipped to n columns. */
T512 static void store_panel(const lcv_gemv_args *a, int64_t p, __m512 lo, __m512 hi) {
    int64_t j0 = p * 32, cols = a->n - j0 < 32 ? a->n - j0 : 32;
    if (cols == 32) {
        _mm512_storeu_ps(a->y + j0, lo);
        _mm512_storeu_ps(a->y + j0 + 16, hi);
        return;
    }
    float tmp[32];
    _mm512_storeu_ps(tmp, lo);
    _mm512_storeu_ps(tmp + 16, hi);
    memcpy(a->y + j0, tmp, sizeof(float) * (size_t)cols);
}

T512 void lcv_gemv_panels_avx512(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1) {
    const int64_t k = a->k;
    (void)nr; /* 32 on this ISA */
    int64_t p = p0;
    for (; p + 2 <= p1; p += 2) {
        const float *b0 = a->packed_b + p * 32 * k, *b1 = b0 + 32 * k;
        __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t i = 0; i < k; i++, b0 += 32, b1 += 32) {
            __m512 xv = _mm512_set1_ps(a->x[i]);
            c0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b0), c0);
            c1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b0 + 16), c1);
            c2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b1), c2);
            c3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b1 + 16), c3);
        }
        store_panel(a, p, c0, c1);
        store_panel(a, p + 1, c2, c3);
    }
    if (p < p1) {
        const float *b0 = a->packed_b + p * 32 * k;
        __m512 c0 = _mm512_setzero_ps(), c1 = c0;
        for (int64_t i = 0; i < k; i++, b0 += 32) {
            __m512 xv = _mm512_set1_ps(a->x[i]);
            c0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b0), c0);
            c1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b0 + 16), c1);
        }
        store_panel(a, p, c0, c1);
    }
}

#endif
