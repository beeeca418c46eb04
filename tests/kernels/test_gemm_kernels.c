/* test_gemm_kernels.c - the fp32 GEMM (src/kernels/f32-gemm) against a triple loop in double,
 * for every ISA level this CPU runs: odd shapes around the tile sizes, packed and plain
 * operands, B packed by the driver into a workspace or produced by a packing callback,
 * strided leading dims (with guard values that must stay untouched), every epilogue, exact
 * activation semantics, and bit-identical results for 1 and 2 threads. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/op.h"

#define GUARD 12345.0f

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float rndf(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }
static int64_t rnd_range(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static float *falloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    return p;
}

typedef struct gcase {
    int64_t m, n, k;
    int a_mode; /* 0 packed, 1 plain, 2 plain transposed */
    int b_mode; /* 0 packed, 1 packed from transposed, 2 plain, 3 plain + workspace,
                 * 4 callback reading a transposed B (+ workspace) */
    int bias;   /* 0 none, 1 per row, 2 per column */
    bool residual;
    lcv_fused act;
    float alpha;
} gcase;

static const lcv_act_kind all_acts[] = {LCV_ACT_NONE, LCV_ACT_RELU, LCV_ACT_CLIP,
                                        LCV_ACT_LEAKYRELU, LCV_ACT_SIGMOID, LCV_ACT_HARDSIGMOID,
                                        LCV_ACT_HARDSWISH, LCV_ACT_SILU, LCV_ACT_TANH};

/* A B source for mode 4: b is [N, K] with row stride ld. */
typedef struct trans_src {
    const float *b;
    int64_t ld;
} trans_src;

static void trans_pack(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t j1, int nr,
                       float *dst) {
    const trans_src *t = ctx;
    int64_t panels = (j1 - j0 + nr - 1) / nr;
    for (int64_t q = 0; q < panels; q++)
        for (int64_t kk = 0; kk < kc; kk++)
            for (int l = 0; l < nr; l++) {
                int64_t j = j0 + q * nr + l;
                dst[(q * kc + kk) * nr + l] = j < j1 ? t->b[j * t->ld + k0 + kk] : 0.0f;
            }
}

static bool b_transposed(int b_mode) { return b_mode == 1 || b_mode == 4; }

/* Runs one case at one ISA with `threads` threads; writes C (ldc = n + pad) into *c_out. */
static bool run_case(const gcase *gc, lcv_isa isa, lcv_threadpool *pool, const float *a_src,
                     const float *b_src, const float *bias, const float *res, float **c_out,
                     int64_t *ldc_out) {
    int64_t m = gc->m, n = gc->n, k = gc->k;
    int64_t lda = (gc->a_mode == 2 ? m : k) + 3, ldb = (b_transposed(gc->b_mode) ? k : n) + 2;
    int64_t ldc = n + 5;
    float *ap = NULL, *bp = NULL, *ws = NULL;
    trans_src ts = {b_src, ldb};
    lcv_gemm_ws gws = {NULL, NULL, NULL};
    lcv_gemm_args g;
    memset(&g, 0, sizeof g);
    g.isa = isa;
    g.m = m;
    g.n = n;
    g.k = k;
    if (gc->a_mode == 0 && k > 0) {
        ap = falloc(lcv_gemm_pack_a_size(isa, m, k) / sizeof(float));
        lcv_gemm_pack_a(isa, m, k, a_src, lda, false, 1.0f, ap);
        g.a.data = ap;
        g.a.packed = true;
    } else {
        g.a.data = a_src;
        g.a.ld = lda;
        g.a.trans = gc->a_mode == 2;
    }
    if (gc->b_mode >= 3) {
        ws = falloc(lcv_gemm_ws_size(isa, lcv_threadpool_size(pool)) / sizeof(float));
        gws.buf = ws;
    }
    if (gc->b_mode == 4) {
        gws.pack_b = trans_pack;
        gws.pack_b_ctx = &ts;
    } else if (gc->b_mode < 2 && k > 0) {
        bp = falloc(lcv_gemm_pack_b_size(isa, k, n) / sizeof(float));
        lcv_gemm_pack_b(isa, k, n, b_src, ldb, gc->b_mode == 1, gc->alpha, bp);
        g.b.data = bp;
        g.b.packed = true;
    } else {
        g.b.data = b_src;
        g.b.ld = ldb;
    }
    float *c = falloc((size_t)(m * ldc));
    for (int64_t i = 0; i < m * ldc; i++) c[i] = GUARD;
    lcv_gemm_epilogue epi = {bias, gc->bias == 2, res, n + 1, &gc->act};
    g.c = c;
    g.ldc = ldc;
    g.epi = &epi;
    lcv_err e;
    bool ok = lcv_gemm_run_ws(&g, gc->b_mode >= 3 ? &gws : NULL, pool, &e) == LCV_OK;
    free(ap);
    free(bp);
    free(ws);
    *c_out = c;
    *ldc_out = ldc;
    return ok;
}

static int fails_reported = 0;

static void check_case(const gcase *gc, lcv_isa isa, lcv_threadpool *pool2) {
    int64_t m = gc->m, n = gc->n, k = gc->k;
    int64_t lda = (gc->a_mode == 2 ? m : k) + 3, ldb = (b_transposed(gc->b_mode) ? k : n) + 2;
    int64_t arows = gc->a_mode == 2 ? k : m, brows = b_transposed(gc->b_mode) ? n : k;
    float *a = falloc((size_t)(arows * lda)), *b = falloc((size_t)(brows * ldb));
    float *bias = falloc((size_t)(m > n ? m : n)), *res = falloc((size_t)(m * (n + 1)));
    for (int64_t i = 0; i < arows * lda; i++) a[i] = rndf();
    for (int64_t i = 0; i < brows * ldb; i++) b[i] = rndf();
    for (int64_t i = 0; i < (m > n ? m : n); i++) bias[i] = rndf();
    for (int64_t i = 0; i < m * (n + 1); i++) res[i] = rndf();
    /* A plain B has no alpha: the caller folds alpha only when packing. */
    gcase g = *gc;
    if (g.b_mode >= 2) g.alpha = 1.0f;
    float *c1, *c2;
    int64_t ldc;
    bool ok = run_case(&g, isa, NULL, a, b, g.bias ? bias : NULL, g.residual ? res : NULL, &c1,
                       &ldc);
    CHECK(ok);
    int bad = 0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            float got = c1[i * ldc + j];
            if (j >= n) {
                if (got != GUARD) bad++;
                continue;
            }
            double s = 0, sa = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                double av = g.a_mode == 2 ? a[kk * lda + i] : a[i * lda + kk];
                double bv = b_transposed(g.b_mode) ? b[j * ldb + kk] : b[kk * ldb + j];
                s += av * bv;
                sa += fabs(av * bv);
            }
            s *= g.alpha;
            sa *= fabs(g.alpha);
            if (g.bias) s += g.bias == 1 ? bias[i] : bias[j];
            if (g.residual) s += res[i * (n + 1) + j];
            double want = lcv_act_f32(&g.act, (float)s);
            double tol = 2e-6 * (sa + 4.0) + 1e-6;
            if (!(fabs(got - want) <= tol)) {
                if (bad++ == 0 && fails_reported++ < 10)
                    fprintf(stderr, "isa %s M=%lld N=%lld K=%lld a%d b%d bias%d res%d act%d: "
                            "C[%lld,%lld] = %.9g, want %.9g\n", lcv_isa_name(isa), (long long)m,
                            (long long)n, (long long)k, g.a_mode, g.b_mode, g.bias, g.residual,
                            (int)g.act.act, (long long)i, (long long)j, got, want);
            }
        }
    }
    CHECK_MSG(bad == 0, "%d bad outputs", bad);
    if (pool2) {
        ok = run_case(&g, isa, pool2, a, b, g.bias ? bias : NULL, g.residual ? res : NULL, &c2,
                      &ldc);
        CHECK(ok);
        CHECK_MSG(memcmp(c1, c2, sizeof(float) * (size_t)(m * ldc)) == 0,
                  "2 threads differ: isa %s M=%lld N=%lld K=%lld", lcv_isa_name(isa),
                  (long long)m, (long long)n, (long long)k);
        free(c2);
    }
    free(c1);
    free(a);
    free(b);
    free(bias);
    free(res);
}

static gcase random_case(int64_t lo, int64_t hi) {
    gcase g;
    memset(&g, 0, sizeof g);
    g.m = rnd_range(lo, hi);
    g.n = rnd_range(lo, hi);
    g.k = rnd_range(lo, hi);
    g.a_mode = (int)(rnd() % 3);
    g.b_mode = (int)(rnd() % 5);
    g.bias = (int)(rnd() % 3);
    g.residual = rnd() % 2;
    g.act.act = all_acts[rnd() % (sizeof all_acts / sizeof all_acts[0])];
    g.act.alpha = g.act.act == LCV_ACT_CLIP ? -0.5f : 0.2f;
    g.act.beta = g.act.act == LCV_ACT_CLIP ? 0.75f : 0.5f;
    g.act.residual = -1;
    g.alpha = rnd() % 2 ? 1.0f : 0.5f;
    return g;
}

/* Each vectorised activation gives exactly lcv_act_f32 (K = 1, A = 1: C = act(B)). */
static void test_act_exact(lcv_isa isa) {
    static const float xs[] = {0.0f, -0.0f, 1.0f, -1.0f, 3.0f, -3.0f, 2.9999998f, -2.9999998f,
                               0.5f, -0.5f, 0.75f, 1e-30f, -1e-30f, 1e30f, -1e30f, 2.5f, -2.5f,
                               0.1f, -0.1f, 6.0f, 7.25f, -7.25f, 1.2345678f, -0.3333333f,
                               INFINITY, -INFINITY, NAN, 0.2f, 0.3f, 5.0f, -5.0f, 0.7f, 0.25f};
    const int64_t n = (int64_t)(sizeof xs / sizeof xs[0]);
    for (size_t ai = 0; ai < sizeof all_acts / sizeof all_acts[0]; ai++) {
        lcv_fused f = {all_acts[ai], all_acts[ai] == LCV_ACT_CLIP ? -0.5f : 0.2f,
                       all_acts[ai] == LCV_ACT_CLIP ? 0.75f : 0.5f, -1};
        float one = 1.0f, c[64];
        lcv_gemm_epilogue epi = {NULL, false, NULL, 0, &f};
        lcv_gemm_args g = {isa, 1, n, 1, {&one, 1, false, false}, {xs, n, false, false}, c, n,
                           &epi};
        CHECK(lcv_gemm_run(&g, NULL, NULL) == LCV_OK);
        for (int64_t j = 0; j < n; j++) {
            /* The sum starts at +0, so -0 comes out as +0 before the activation. */
            float want = lcv_act_f32(&f, 0.0f + xs[j]);
            bool same = (isnan(want) && isnan(c[j])) || memcmp(&want, &c[j], sizeof want) == 0;
            /* The exp-based kinds run the vector kernels of f32-vact, which are within a few
             * ulp of core/act.c (tests/kernels/test_vact.c); the rest are exact. */
            bool exp_based = f.act == LCV_ACT_SIGMOID || f.act == LCV_ACT_SILU ||
                             f.act == LCV_ACT_TANH;
            if (!same && exp_based && isfinite(want))
                same = fabsf(c[j] - want) <= 4 * FLT_EPSILON * fabsf(want) + 1e-37f;
            CHECK_MSG(same, "isa %s act %d x=%.9g: %.9g vs %.9g", lcv_isa_name(isa),
                      (int)f.act, xs[j], c[j], want);
        }
    }
}

static void test_errors(void) {
    float x = 1.0f, c = 0.0f;
    lcv_err e;
    lcv_gemm_args g = {LCV_ISA_SCALAR, 1, 1, 1, {&x, 1, false, false}, {&x, 1, false, false}, &c,
                       1, NULL};
    CHECK(lcv_gemm_run(&g, NULL, &e) == LCV_OK && c == 1.0f);
    CHECK(lcv_gemm_run(NULL, NULL, &e) == LCV_ERR_INVALID_ARG);
    g.m = 0;
    CHECK(lcv_gemm_run(&g, NULL, &e) == LCV_ERR_INVALID_ARG);
    g.m = 1;
    g.b.trans = true;
    CHECK(lcv_gemm_run(&g, NULL, &e) == LCV_ERR_INVALID_ARG);
    g.b.trans = false;
    g.ldc = 0;
    CHECK(lcv_gemm_run(&g, NULL, &e) == LCV_ERR_INVALID_ARG);
    g.ldc = 1;
    lcv_gemm_ws nobuf = {NULL, trans_pack, NULL}; /* a packing callback without a workspace */
    CHECK(lcv_gemm_run_ws(&g, &nobuf, NULL, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_gemm_ws_size(LCV_ISA_SCALAR, 1) > 0);
    CHECK(lcv_gemm_ws_size(LCV_ISA_SCALAR, 2) == 2 * lcv_gemm_ws_size(LCV_ISA_SCALAR, 1));
    CHECK(lcv_gemm_pack_a_size(LCV_ISA_SCALAR, 0, 5) == 0);
    CHECK(lcv_gemm_pack_b_size(LCV_ISA_SCALAR, 5, -1) == 0);
    CHECK(lcv_gemm_pack_b_size(LCV_ISA_SCALAR, INT64_MAX / 2, INT64_MAX / 2) == 0);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    lcv_err e;
    CHECK(lcv_threadpool_create(2, &pool, &e) == LCV_OK);
    test_errors();
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        printf("isa %s\n", lcv_isa_name(isa));
        test_act_exact(isa);
        /* Every shape 1..13 and the tile edges, then random odd shapes and a few large ones. */
        for (int64_t m = 1; m <= 13; m += 3)
            for (int64_t n = 1; n <= 35; n += 2) {
                gcase g = random_case(1, 40);
                g.m = m;
                g.n = n;
                check_case(&g, isa, pool);
            }
        for (int i = 0; i < 250; i++) {
            gcase g = random_case(1, 67);
            check_case(&g, isa, i % 4 == 0 ? pool : NULL);
        }
        for (int i = 0; i < 6; i++) {
            gcase g = random_case(100, 300);
            if (i == 0) g.k = 600; /* several K blocks */
            check_case(&g, isa, pool);
        }
        /* Conv-like shapes: small N with long K (one thread share per row range), and wide
         * N over several column blocks, with B packed per block by each thread. */
        static const int64_t shapes[][3] = {{77, 49, 700}, {40, 600, 70}, {13, 1100, 20},
                                            {150, 3, 30}, {5, 700, 300}};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            gcase g = random_case(1, 2);
            g.m = shapes[i][0];
            g.n = shapes[i][1];
            g.k = shapes[i][2];
            g.b_mode = 3 + (int)(i % 2);
            check_case(&g, isa, pool);
        }
        gcase z = random_case(1, 20);
        z.k = 0;
        z.a_mode = 1;
        z.b_mode = 2;
        check_case(&z, isa, pool);
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_gemm_kernels");
}
