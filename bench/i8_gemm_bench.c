/* i8_gemm_bench.c - the int8 GEMM (src/kernels/i8-gemm, requantized uint8 output) against the
 * fp32 GEMM (src/kernels/f32-gemm, bias epilogue) on the same conv-shaped products, one
 * thread: A = packed weights, B = an NCHW activation [K, N] packed block by block as the 1x1
 * conv plans do. The two are timed in alternation; the table shows medians (GOP/s counts
 * 2*M*N*K operations for both) and the int8 / fp32 speed ratio, per ISA level.
 * Usage: i8_gemm_bench [runs] (default 21). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/i8-dwconv/i8dwconv.h"
#include "kernels/i8-gemm/i8gemm.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *xalloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1)) return NULL;
    return p;
}

typedef struct shape {
    const char *name;
    int64_t m, n, k;
} shape;

/* B [K, N] uint8 rows into quad panels, as quant_plan.c's 1x1 path does. */
typedef struct plain_b {
    const uint8_t *b;
    int64_t k, n;
} plain_b;

static void pack_plain(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst) {
    const plain_b *s = ctx;
    int64_t kq = lcv_i8gemm_kq(s->k);
    uint8_t tmp[4][LCV_I8GEMM_NR_MAX];
    for (int64_t jp = j0; jp < j1; jp += nr) {
        int64_t cols = j1 - jp < nr ? j1 - jp : nr;
        for (int64_t q = 0; q < kq / 4; q++) {
            const uint8_t *rows[4];
            for (int e = 0; e < 4; e++) {
                int64_t r = 4 * q + e;
                if (r < s->k && cols == nr) {
                    rows[e] = s->b + r * s->n + jp;
                    continue;
                }
                memset(tmp[e], 0, (size_t)nr);
                if (r < s->k) memcpy(tmp[e], s->b + r * s->n + jp, (size_t)cols);
                rows[e] = tmp[e];
            }
            lcv_i8gemm_interleave4(rows, nr, 0, dst + (jp - j0) * kq + q * nr * 4);
        }
    }
}

typedef struct runner {
    /* fp32 */
    lcv_gemm_args fa;
    lcv_gemm_epilogue fe;
    lcv_gemm_ws fws;
    /* int8 */
    lcv_i8gemm_args ia;
    lcv_i8gemm_epi ie;
    plain_b pb;
} runner;

static double time_f32(runner *r) {
    double t0 = now_s();
    lcv_gemm_run_ws(&r->fa, &r->fws, NULL, NULL);
    return now_s() - t0;
}

static double time_i8(runner *r) {
    double t0 = now_s();
    lcv_i8gemm_run(&r->ia, NULL, NULL);
    return now_s() - t0;
}

static void bench(const shape *s, lcv_isa isa, int runs) {
    int64_t m = s->m, n = s->n, k = s->k;
    float *fa = xalloc(sizeof(float) * (size_t)(m * k)), *fb = xalloc(sizeof(float) * (size_t)(k * n));
    float *fc = xalloc(sizeof(float) * (size_t)(m * n)), *fbias = xalloc(sizeof(float) * (size_t)m);
    uint8_t *ia = xalloc((size_t)(m * k)), *ib = xalloc((size_t)(k * n)), *ic = xalloc((size_t)(m * n));
    int32_t *iadd = xalloc(sizeof(int32_t) * (size_t)m);
    float *imult = xalloc(sizeof(float) * (size_t)m);
    for (int64_t i = 0; i < m * k; i++) {
        fa[i] = (float)(i % 17) * 0.01f - 0.08f;
        ia[i] = (uint8_t)(i * 7 % 251);
    }
    for (int64_t i = 0; i < k * n; i++) {
        fb[i] = (float)(i % 13) * 0.01f - 0.06f;
        ib[i] = (uint8_t)(i * 5 % 253);
    }
    for (int64_t i = 0; i < m; i++) {
        fbias[i] = 0.1f;
        iadd[i] = -1000;
        imult[i] = 1e-4f;
    }
    runner r;
    memset(&r, 0, sizeof r);
    float *fpack = xalloc(lcv_gemm_pack_a_size(isa, m, k));
    lcv_gemm_pack_a(isa, m, k, fa, k, false, 1.0f, fpack);
    float *fws = xalloc(lcv_gemm_ws_size(isa, 1));
    r.fe = (lcv_gemm_epilogue){fbias, false, NULL, 0, NULL};
    r.fa = (lcv_gemm_args){isa, m, n, k, {fpack, 0, false, true}, {fb, n, false, false}, fc, n,
                           &r.fe};
    r.fws = (lcv_gemm_ws){fws, NULL, NULL};
    lcv_i8gemm_kind kind = lcv_i8gemm_select(isa);
    void *ipack = xalloc(lcv_i8gemm_pack_size(kind, true, m, k));
    lcv_i8gemm_pack(kind, true, false, m, k, ia, k, 1, 0x80, NULL, ipack);
    uint8_t *iws = xalloc(lcv_i8gemm_ws_size(kind, k, 1));
    r.ie.row_add = iadd;
    r.ie.row_mult = imult;
    r.ie.zy = 3;
    r.ie.lo = 0;
    r.ie.hi = 255;
    r.ie.out = LCV_I8_OUT_U8;
    r.pb = (plain_b){ib, k, n};
    r.ia = (lcv_i8gemm_args){kind, m, n, k, false, ipack, NULL, pack_plain, &r.pb, iws, &r.ie, ic,
                             n};
    double *tf = malloc(sizeof(double) * (size_t)runs), *ti = malloc(sizeof(double) * (size_t)runs);
    time_f32(&r);
    time_i8(&r);
    for (int i = 0; i < runs; i++) { /* alternate so both see the same machine noise */
        tf[i] = time_f32(&r);
        ti[i] = time_i8(&r);
    }
    qsort(tf, (size_t)runs, sizeof(double), cmp_double);
    qsort(ti, (size_t)runs, sizeof(double), cmp_double);
    double ops = 2.0 * (double)m * (double)n * (double)k * 1e-9;
    printf("%-7s %-8s %-26s %10.1f %10.1f %7.2fx\n", lcv_isa_name(isa), lcv_i8gemm_name(kind),
           s->name, ops / tf[runs / 2], ops / ti[runs / 2], tf[runs / 2] / ti[runs / 2]);
    free(tf); free(ti); free(fa); free(fb); free(fc); free(fbias); free(ia); free(ib); free(ic);
    free(iadd); free(imult); free(fpack); free(fws); free(ipack); free(iws);
}

/* Depthwise 3x3 (pad 1): int8 (lcv_i8dw_run) vs fp32 (lcv_dwconv_run), same alternation. */
static void bench_dw(int64_t ch, int64_t hw, int64_t stride, lcv_isa isa, int runs) {
    int64_t ohw = (hw + 2 - 3) / stride + 1;
    lcv_dwconv_geom g = {1, ch, hw, hw, ohw, ohw, 3, 3, stride, stride, 1, 1, 1, 1};
    size_t in = (size_t)(ch * hw * hw), out = (size_t)(ch * ohw * ohw);
    float *fx = xalloc(in * 4), *fy = xalloc(out * 4), *fw = xalloc((size_t)ch * 9 * 4);
    float *fb = xalloc((size_t)ch * 4), *mult = xalloc((size_t)ch * 4);
    uint8_t *x = xalloc(in), *y = xalloc(out), *w = xalloc((size_t)ch * 9);
    int32_t *zw = xalloc((size_t)ch * 4), *bias = xalloc((size_t)ch * 4);
    for (size_t i = 0; i < in; i++) {
        fx[i] = (float)(i % 11) * 0.1f;
        x[i] = (uint8_t)(i * 3 % 255);
    }
    for (int64_t i = 0; i < ch * 9; i++) {
        fw[i] = (float)(i % 5) * 0.1f - 0.2f;
        w[i] = (uint8_t)(i * 7 % 255);
    }
    for (int64_t i = 0; i < ch; i++) {
        fb[i] = 0.1f;
        zw[i] = 0;
        bias[i] = 100;
        mult[i] = 1e-3f;
    }
    float *pw = xalloc(lcv_i8dw_weights_size(ch, 3, 3));
    lcv_i8dw_pack_weights(ch, 3, 3, w, true, zw, pw);
    lcv_i8gemm_epi e;
    memset(&e, 0, sizeof e);
    e.zy = 5;
    e.hi = 255;
    e.out = LCV_I8_OUT_U8;
    int32_t *w6 = xalloc(sizeof(int32_t) * (size_t)ch * 6), *add6 = xalloc(sizeof(int32_t) * (size_t)ch);
    lcv_i8dw_pack_pairs(ch, w, true, zw, 7, bias, w6, add6);
    bool native = isa == LCV_ISA_AVX512 && ohw >= 32; /* as quant_plan.c chooses */
    lcv_i8dw_params p = {pw, bias, mult, &e, false, 7, native ? w6 : NULL, native ? add6 : NULL,
                         lcv_i8gemm_select(isa) == LCV_I8GEMM_VNNI512};
    void *scr = xalloc(lcv_i8dw_scratch_size(&g, 1));
    lcv_dwconv_plane_fn fn = lcv_dwconv_select(isa, &g);
    double *tf = malloc(sizeof(double) * (size_t)runs), *ti = malloc(sizeof(double) * (size_t)runs);
    for (int i = -1; i < runs; i++) {
        double t0 = now_s();
        lcv_dwconv_run(&g, fn, fx, fw, fb, NULL, NULL, fy, NULL);
        double t1 = now_s();
        lcv_i8dw_run(isa, &g, &p, x, y, scr, NULL);
        double t2 = now_s();
        if (i >= 0) {
            tf[i] = t1 - t0;
            ti[i] = t2 - t1;
        }
    }
    qsort(tf, (size_t)runs, sizeof(double), cmp_double);
    qsort(ti, (size_t)runs, sizeof(double), cmp_double);
    printf("%-7s dw 3x3 s%lld %4lldx%3lldx%-3lld   f32 %8.1f us   i8 %8.1f us   %5.2fx\n",
           lcv_isa_name(isa), (long long)stride, (long long)ch, (long long)hw, (long long)hw,
           tf[runs / 2] * 1e6, ti[runs / 2] * 1e6, tf[runs / 2] / ti[runs / 2]);
    free(tf); free(ti); free(fx); free(fy); free(fw); free(fb); free(mult); free(x); free(y);
    free(w); free(zw); free(bias); free(pw); free(scr); free(w6); free(add6);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 21;
    if (runs < 1) runs = 1;
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    /* M (output channels) x N (positions) x K (input channels * taps) of real layers. */
    static const shape shapes[] = {
        {"512x512x512", 512, 512, 512},
        {"r18 3x3 64x3136x576", 64, 3136, 576},
        {"r18 3x3 512x49x4608", 512, 49, 4608},
        {"r50 1x1 64x3136x256", 64, 3136, 256},
        {"r50 1x1 256x3136x64", 256, 3136, 64},
        {"r50 1x1 256x196x1024", 256, 196, 1024},
        {"mbv2 1x1 144x3136x24", 144, 3136, 24},
        {"mbv2 1x1 24x3136x144", 24, 3136, 144},
        {"mbv2 1x1 960x49x160", 960, 49, 160},
    };
    printf("%-7s %-8s %-26s %10s %10s %8s\n", "isa", "i8 kern", "M x N x K", "f32 GF/s",
           "i8 GOP/s", "i8/f32");
    for (lcv_isa isa = LCV_ISA_AVX2; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        if (isa == LCV_ISA_SCALAR) continue;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            bench(&shapes[si], isa, runs);
    }
    static const int64_t dws[][3] = {{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {192, 28, 1},
                                     {576, 14, 1}, {960, 7, 1}};
    for (lcv_isa isa = LCV_ISA_AVX2; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best))
        for (size_t i = 0; i < sizeof dws / sizeof dws[0]; i++)
            bench_dw(dws[i][0], dws[i][1], dws[i][2], isa, runs);
    return 0;
}
