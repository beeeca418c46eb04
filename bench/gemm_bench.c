/* gemm_bench.c - measures the per-core FMA peak (AVX-512 and AVX2 loops of independent
 * accumulators) and the fp32 GEMM's GFLOP/s per ISA and thread count on M=N=K=512 and a few
 * convolution-shaped products, as the median of repeated runs, with the share of the peak.
 * Usage: gemm_bench [runs] (default 30). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "kernels/f32-gemm/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#if defined(__x86_64__)
/* 12 independent accumulators hide the FMA latency on every current core. Returns GFLOP/s. */
__attribute__((target("avx512f,fma"))) static double peak_avx512(long iters) {
    __m512 acc[12], x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    double t0 = now_s();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    double t = now_s() - t0;
    float sink[16];
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
    _mm512_storeu_ps(sink, s);
    if (sink[0] == 12345.0f) printf(" ");
    return (double)iters * 12 * 16 * 2 / t * 1e-9;
}

__attribute__((target("avx2,fma"))) static double peak_avx2(long iters) {
    __m256 acc[12], x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    double t0 = now_s();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    double t = now_s() - t0;
    float sink[8];
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(sink, s);
    if (sink[0] == 12345.0f) printf(" ");
    return (double)iters * 12 * 8 * 2 / t * 1e-9;
}
#endif

/* Best of many short measurements: on a shared machine a short run is likelier to see an
 * undisturbed core, and the peak is by definition the best the core can do. */
static double measure_peak(lcv_isa isa) {
    double best = 0;
#if defined(__x86_64__)
    for (int r = 0; r < 60; r++) {
        double g = isa == LCV_ISA_AVX512 ? peak_avx512(1000000) : peak_avx2(1000000);
        if (g > best) best = g;
    }
#else
    (void)isa;
#endif
    return best;
}

typedef struct shape {
    const char *name;
    int64_t m, n, k;
    bool conv; /* conv-like: A packed weights, B plain activations; else A plain, B packed */
} shape;

static float *falloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float))) return NULL;
    for (size_t i = 0; i < n; i++) ((float *)p)[i] = (float)(i % 17) * 0.01f - 0.08f;
    return p;
}

/* GFLOP/s of the median run; *best_gf gets the fastest run's. */
static double bench_shape(const shape *s, lcv_isa isa, lcv_threadpool *pool, int runs,
                          double *best_gf) {
    float *a = falloc((size_t)(s->m * s->k)), *b = falloc((size_t)(s->k * s->n));
    float *c = falloc((size_t)(s->m * s->n)), *packed = NULL;
    lcv_gemm_args g;
    memset(&g, 0, sizeof g);
    g.isa = isa;
    g.m = s->m;
    g.n = s->n;
    g.k = s->k;
    g.c = c;
    g.ldc = s->n;
    if (s->conv) {
        packed = falloc(lcv_gemm_pack_a_size(isa, s->m, s->k) / sizeof(float));
        lcv_gemm_pack_a(isa, s->m, s->k, a, s->k, false, 1.0f, packed);
        g.a = (lcv_gemm_operand){packed, 0, false, true};
        g.b = (lcv_gemm_operand){b, s->n, false, false};
    } else {
        packed = falloc(lcv_gemm_pack_b_size(isa, s->k, s->n) / sizeof(float));
        lcv_gemm_pack_b(isa, s->k, s->n, b, s->n, false, 1.0f, packed);
        g.a = (lcv_gemm_operand){a, s->k, false, false};
        g.b = (lcv_gemm_operand){packed, 0, false, true};
    }
    double *t = malloc(sizeof(double) * (size_t)runs);
    lcv_gemm_run(&g, pool, NULL); /* warm-up */
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        lcv_gemm_run(&g, pool, NULL);
        t[r] = now_s() - t0;
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    double med = t[runs / 2], flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    *best_gf = flop / t[0] * 1e-9;
    free(t);
    free(a);
    free(b);
    free(c);
    free(packed);
    return flop / med * 1e-9;
}

/* Usage: gemm_bench [RUNS]        the peak and the GEMM table (RUNS timed runs per shape)
 *        gemm_bench --peak-only  only the peak line, for bench/run_bench.py */
int main(int argc, char **argv) {
    bool peak_only = argc > 1 && strcmp(argv[1], "--peak-only") == 0;
    int runs = argc > 1 && !peak_only ? atoi(argv[1]) : 30;
    if (runs < 1) runs = 1;
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    /* Only x86 FMA loops exist: other architectures print 0 and no percentages. */
    double peak[LCV_ISA_NEON + 1] = {0};
    if (best == LCV_ISA_AVX2 || best == LCV_ISA_AVX512)
        peak[LCV_ISA_AVX2] = peak[LCV_ISA_SCALAR] = measure_peak(LCV_ISA_AVX2);
    if (best == LCV_ISA_AVX512) peak[LCV_ISA_AVX512] = measure_peak(LCV_ISA_AVX512);
    printf("FMA peak per core: avx2 %.1f GFLOP/s, avx512 %.1f GFLOP/s\n", peak[LCV_ISA_AVX2],
           peak[LCV_ISA_AVX512]);
    printf("best-isa peak: %.1f GFLOP/s (%s)\n", peak[best], lcv_isa_name(best));
    if (peak_only) return 0;
    static const shape shapes[] = {{"512x512x512", 512, 512, 512, false},
                                   {"conv 64x3136x576", 64, 3136, 576, true},
                                   {"conv 256x196x2304", 256, 196, 2304, true},
                                   {"fc 1000x1x1280", 1000, 1, 1280, true}};
    lcv_threadpool *pool2 = NULL;
    lcv_threadpool_create(2, &pool2, NULL);
    printf("%-8s %-20s %7s %12s %8s %10s %8s\n", "isa", "M x N x K", "threads", "median GF/s",
           "% peak", "best GF/s", "% peak");
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best))
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int th = 1; th <= 2; th++) {
                double bg, gf = bench_shape(&shapes[si], isa, th == 1 ? NULL : pool2,
                                            runs, &bg);
                double pk = peak[isa] * th;
                printf("%-8s %-20s %7d %12.1f %7.1f%% %10.1f %7.1f%%\n",
                       lcv_isa_name(isa), shapes[si].name, th, gf,
                       pk > 0 ? 100.0 * gf / pk : 0.0, bg, pk > 0 ? 100.0 * bg / pk : 0.0);
            }
    lcv_threadpool_free(pool2);
    return 0;
}
