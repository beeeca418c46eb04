/* sums_avx2.c - the sums of sums.h with AVX2: the 8 double lanes of the scalar loops as two
 * 4-wide registers, each lane adding the same terms in the same order (multiply, then add: no
 * FMA, which would round differently), so the results equal the scalar ones bit for bit. */
#include "sums_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2")))

T256 static void store8(__m256d lo, __m256d hi, double *a) {
    _mm256_storeu_pd(a, lo);
    _mm256_storeu_pd(a + 4, hi);
}

T256 static double sum_avx2(const float *p, int64_t n) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm_loadu_ps(p + i)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm_loadu_ps(p + i + 4)));
    }
    double a[8], t = 0;
    store8(lo, hi, a);
    for (; i < n; i++) t += p[i];
    return lcv_sums_combine8(a) + t;
}

T256 static double sumsq_avx2(const float *p, int64_t n, double m) {
    const __m256d vm = _mm256_set1_pd(m);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p + i)), vm);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p + i + 4)), vm);
        lo = _mm256_add_pd(lo, _mm256_mul_pd(d0, d0));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(d1, d1));
    }
    double a[8];
    store8(lo, hi, a);
    return lcv_sums_combine8(a) + lcv_sumsq_tail(p + i, n - i, m);
}

/* One 8-wide step of sum_gx: g (8 floats as two halves) added to acc[0..1] (the lanes of sum
 * g) and g (x - m) to acc[2..3]; sum_gx and sum_gx_relu differ only in the g they pass. */
T256 static void gx_step(__m128 glo, __m128 ghi, const float *x, __m256d vm, __m256d *acc) {
    __m256d g0 = _mm256_cvtps_pd(glo), g1 = _mm256_cvtps_pd(ghi);
    __m256d x0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x)), vm);
    __m256d x1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + 4)), vm);
    acc[0] = _mm256_add_pd(acc[0], g0);
    acc[1] = _mm256_add_pd(acc[1], g1);
    acc[2] = _mm256_add_pd(acc[2], _mm256_mul_pd(g0, x0));
    acc[3] = _mm256_add_pd(acc[3], _mm256_mul_pd(g1, x1));
}

T256 static void sum_gx_avx2(const float *g, const float *x, int64_t n, double m, double *sg,
                             double *sgx) {
    const __m256d vm = _mm256_set1_pd(m);
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                      _mm256_setzero_pd()};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        gx_step(_mm_loadu_ps(g + i), _mm_loadu_ps(g + i + 4), x + i, vm, acc);
    }
    double a[8], b[8];
    store8(acc[0], acc[1], a);
    store8(acc[2], acc[3], b);
    lcv_sum_gx_finish(a, b, g + i, x + i, n - i, m, sg, sgx);
}

/* 4 floats of g, zero where x a + b <= 0 (product, then sum, as lcv_relu_passes). */
T256 static __m128 relu_masked(const float *g, const float *x, __m128 va, __m128 vb) {
    __m128 y = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x), va), vb);
    return _mm_and_ps(_mm_loadu_ps(g), _mm_cmpgt_ps(y, _mm_setzero_ps()));
}

T256 static void sum_gx_relu_avx2(const float *g, const float *x, int64_t n, double m, float fa,
                                  float fb, double *sg, double *sgx) {
    const __m256d vm = _mm256_set1_pd(m);
    const __m128 va = _mm_set1_ps(fa), vb = _mm_set1_ps(fb);
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                      _mm256_setzero_pd()};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        gx_step(relu_masked(g + i, x + i, va, vb), relu_masked(g + i + 4, x + i + 4, va, vb),
                x + i, vm, acc);
    }
    double a[8], b[8];
    store8(acc[0], acc[1], a);
    store8(acc[2], acc[3], b);
    lcv_sum_gx_relu_finish(a, b, g + i, x + i, n - i, m, fa, fb, sg, sgx);
}

const lcv_f32_sums lcv_f32_sums_avx2 = {sum_avx2, sumsq_avx2, sum_gx_avx2, sum_gx_relu_avx2};

#endif
