/* test_winograd.c - the Winograd F(4x4, 3x3) conv (src/kernels/f32-winograd, planned by
 * src/ops/conv_winograd.c) against the reference Conv exec plus lcv_op_apply_fused at every
 * ISA level the CPU has: random odd sizes, channel counts off the vector widths, every pad
 * combination and SAME_UPPER, batches 1-3, bias, residual and each fused activation, several
 * tile blocks and both threading modes, 1 vs 2 threads bit-identical. Also: the input
 * transform against B^T d B in double packed by lcv_gemm_pack_a (the layout contract with
 * the GEMM), the convs that get no plan, the selection rule and argument errors. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-winograd/winograd_internal.h"
#include "conv_plan_check.h"
#include "op_test_util.h"
#include "ops/conv_winograd.h"
#include "ops/plan.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rndi(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)(rnd_u32() % (uint32_t)(hi - lo + 1));
}
static float rndf(void) { return (float)rnd_u32() / 2147483648.0f - 1.0f; }

static lcv_tensor *rand_tensor(int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = rndf();
    return t;
}

/* B^T of F(4, 3), written out again here so the test does not trust the kernel's copy. */
static const double bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};

/* The input transform of every ISA equals B^T d B (double) packed by lcv_gemm_pack_a. */
static void test_input_layout(lcv_isa isa) {
    for (int trial = 0; trial < 12; trial++) {
        lcv_winograd_geom g = {rndi(1, 3), rndi(1, 21), 5, rndi(1, 13), rndi(1, 13), 0, 0,
                               rndi(0, 2), rndi(0, 2)};
        g.out_h = g.in_h + g.pad_top + rndi(0, 2) - 2;
        g.out_w = g.in_w + g.pad_left + rndi(0, 2) - 2;
        if (g.out_h < 1) g.out_h = 1;
        if (g.out_w < 1) g.out_w = 1;
        lcv_wino_tiles tl = {(g.out_w + 3) / 4, 0};
        tl.per_image = tl.per_row * ((g.out_h + 3) / 4);
        int mr, nr;
        lcv_gemm_tile_dims(isa, &mr, &nr);
        int64_t total = g.batch * tl.per_image, t0 = rndi(0, total - 1), nt = rndi(1, total - t0);
        int64_t xd[4] = {g.batch, g.cin, g.in_h, g.in_w};
        lcv_tensor *x = rand_tensor(4, xd);
        const float *xp = x->data;
        size_t pa = lcv_gemm_pack_a_size(isa, nt, g.cin) / sizeof(float);
        int64_t vs = (int64_t)pa + 16;
        float *v = malloc(sizeof(float) * (size_t)(36 * vs));
        float *plain = malloc(sizeof(float) * (size_t)(36 * nt * g.cin));
        float *want = malloc(sizeof(float) * pa);
        for (int64_t i = 0; i < 36 * vs; i++) v[i] = -7.0f; /* every packed float is written */
        for (int64_t t = 0; t < nt; t++) {
            int64_t n, iy, ix;
            lcv_wino_tile_origin(&g, tl, t0 + t, &n, &iy, &ix);
            for (int64_t ci = 0; ci < g.cin; ci++) {
                double d[6][6], tmp[6][6];
                for (int r = 0; r < 6; r++)
                    for (int c = 0; c < 6; c++) {
                        int64_t y = iy + r, xx = ix + c;
                        d[r][c] = y >= 0 && y < g.in_h && xx >= 0 && xx < g.in_w
                                      ? xp[((n * g.cin + ci) * g.in_h + y) * g.in_w + xx]
                                      : 0.0;
                    }
                for (int i = 0; i < 6; i++)
                    for (int c = 0; c < 6; c++) {
                        tmp[i][c] = 0;
                        for (int r = 0; r < 6; r++) tmp[i][c] += bt[i][r] * d[r][c];
                    }
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        double s = 0;
                        for (int c = 0; c < 6; c++) s += tmp[i][c] * bt[j][c];
                        plain[((6 * i + j) * nt + t) * g.cin + ci] = (float)s;
                    }
            }
        }
        lcv_wino_in in = {&g, tl, xp, t0, nt, mr, v, vs};
        lcv_wino_in_fn fn = lcv_wino_input_scalar;
#if defined(__x86_64__)
        if (isa == LCV_ISA_AVX512) fn = lcv_wino_input_avx512;
        if (isa == LCV_ISA_AVX2) fn = lcv_wino_input_avx2;
#endif
        int64_t split = rndi(0, g.cin); /* two channel ranges, as the threads split them */
        fn(&in, 0, split);
        fn(&in, split, g.cin);
        bool ok = true;
        for (int xi = 0; xi < 36 && ok; xi++) {
            lcv_gemm_pack_a(isa, nt, g.cin, plain + xi * nt * g.cin, g.cin, false, 1.0f, want);
            for (size_t i = 0; i < pa && ok; i++) {
                float got = v[xi * vs + (int64_t)i];
                ok = fabsf(got - want[i]) <= 1e-5f * (1.0f + fabsf(want[i]));
                CHECK_MSG(ok, "isa %s trial %d xi %d float %zu: %g, expected %g",
                          lcv_isa_name(isa), trial, xi, i, got, want[i]);
            }
        }
        lcv_tensor_free(x);
        free(v);
        free(plain);
        free(want);
    }
}

static const lcv_fused acts[] = {
    {LCV_ACT_NONE, 0, 0, -1},       {LCV_ACT_RELU, 0, 0, -1},
    {LCV_ACT_CLIP, -0.5f, 0.7f, -1}, {LCV_ACT_LEAKYRELU, 0.1f, 0, -1},
    {LCV_ACT_SIGMOID, 0, 0, -1},    {LCV_ACT_HARDSIGMOID, 0.2f, 0.5f, -1},
    {LCV_ACT_HARDSWISH, 0, 0, -1},  {LCV_ACT_SILU, 0, 0, -1},
    {LCV_ACT_TANH, 0, 0, -1},       {LCV_ACT_GELU, 0, 0, -1}};

typedef struct wcase {
    int64_t n, cin, cout, h, w, pads[4];
    bool same_upper, bias, residual;
    lcv_fused act;
} wcase;

static void rand_case(wcase *k, int trial) {
    memset(k, 0, sizeof *k);
    k->n = rndi(1, 3);
    k->cin = rndi(1, 40);
    k->cout = rndi(1, 40);
    k->h = rndi(1, 17);
    k->w = rndi(1, 17);
    if (trial % 10 == 0) { /* enough tiles for whole blocks per thread */
        k->n = 1;
        k->h = rndi(30, 45);
        k->w = rndi(30, 45);
    } else if (trial % 20 == 5) { /* wide channels: several blocks one after another */
        k->n = rndi(2, 3);
        k->cin = rndi(120, 180);
        k->cout = rndi(100, 160);
        k->h = rndi(13, 17);
        k->w = rndi(13, 17);
    }
    k->same_upper = trial % 7 == 3;
    for (int i = 0; i < 4; i++) k->pads[i] = rndi(0, 2);
    if (trial % 3 == 0) memset(k->pads, 0, sizeof k->pads);
    if (trial % 3 == 1)
        for (int i = 0; i < 4; i++) k->pads[i] = 1;
    if (k->h + k->pads[0] + k->pads[2] < 3) k->h = 3;
    if (k->w + k->pads[1] + k->pads[3] < 3) k->w = 3;
    k->bias = rndi(0, 1);
    k->residual = rndi(0, 2) == 0;
    k->act = acts[rndi(0, (int64_t)(sizeof acts / sizeof acts[0]) - 1)];
    k->act.residual = k->residual ? 3 : -1;
}

/* Per output: sum |w| |x| over the window + |bias| + |residual|, the scale of its rounding
 * error (the activations tested change values by at most 1.5x their input's change): the
 * reference conv of |x|, |w| and |bias| (node t without its fused epilogue). */
static float *magnitudes(optest *t, const lcv_tensor *const *ins, const lcv_tensor *r) {
    const lcv_tensor *abs_ins[3] = {NULL, NULL, NULL};
    lcv_tensor *copies[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && ins[i]; i++) {
        copies[i] = optest_tensor(LCV_DTYPE_FLOAT32, ins[i]->ndim, ins[i]->dims, NULL);
        const float *src = ins[i]->data;
        float *dst = copies[i]->data;
        for (int64_t e = 0; e < lcv_tensor_numel(ins[i]); e++) dst[e] = fabsf(src[e]);
        abs_ins[i] = copies[i];
    }
    lcv_fused saved = t->node->fused;
    t->node->fused = (lcv_fused){LCV_ACT_NONE, 0, 0, -1};
    lcv_tensor *m = run_reference(t, abs_ins);
    t->node->fused = saved;
    float *mp = m->data, *out = malloc(sizeof(float) * (size_t)lcv_tensor_numel(m));
    for (int64_t e = 0; e < lcv_tensor_numel(m); e++)
        out[e] = mp[e] + (r ? fabsf(((const float *)r->data)[e]) : 0.0f);
    for (int i = 0; i < 3; i++) lcv_tensor_free(copies[i]);
    lcv_tensor_free(m);
    return out;
}

static double worst_seen = 0.0; /* largest |error| / magnitude over all runs */

/* Each random case once through the reference, then planned and run at every ISA level. */
static void test_convs(lcv_isa best, lcv_threadpool *pool, lcv_scratch *scr) {
    int multi_block = 0, per_thread = 0; /* cases run as several blocks: 1 / 2 threads */
    for (int trial = 0; trial < 120; trial++) {
        wcase k;
        rand_case(&k, trial);
        optest t;
        optest_init(&t, "Conv", 11, k.residual ? 4 : 3, 1);
        if (k.same_upper)
            optest_attr_str(&t, "auto_pad", "SAME_UPPER");
        else
            optest_attr_ints(&t, "pads", 4, k.pads);
        if (trial % 2) optest_attr_ints(&t, "strides", 2, (int64_t[]){1, 1});
        t.node->fused = k.act;
        int64_t xd[4] = {k.n, k.cin, k.h, k.w}, wd[4] = {k.cout, k.cin, 3, 3};
        lcv_tensor *x = rand_tensor(4, xd), *w = rand_tensor(4, wd);
        lcv_tensor *b = k.bias ? rand_tensor(1, &k.cout) : NULL, *r = NULL;
        const lcv_tensor *ins[4] = {x, w, b, NULL};
        if (k.residual) { /* output-shaped: infer the shape first */
            lcv_tensor probe = {0};
            lcv_tensor *pp = &probe;
            lcv_opctx c = {t.node, 3, ins, 1, &pp, &t.err, NULL, NULL, NULL};
            CHECK(lcv_infer_conv(&c) == LCV_OK);
            r = rand_tensor(probe.ndim, probe.dims);
            ins[3] = r;
        }
        lcv_tensor *ref = run_reference(&t, ins);
        float *mag = magnitudes(&t, ins, r);
        lcv_winograd_geom g = {k.n, k.cin, k.cout, k.h, k.w, ref->dims[2], ref->dims[3], 0, 0};
        int64_t total = k.n * ((g.out_h + 3) / 4) * ((g.out_w + 3) / 4);
        multi_block += lcv_winograd_tiles_per_pass(best, &g, 1) < total;
        per_thread += lcv_winograd_tiles_per_pass(best, &g, 2) < total;
        /* Plan for another (shape-only) input size: the plan must not depend on it. */
        lcv_tensor xs = *x, ys = *ref;
        xs.data = NULL;
        xs.dims[0] = 1;
        xs.dims[2] = k.h + 1 + (trial % 3);
        xs.dims[3] = k.w + 2;
        ys.data = NULL;
        const lcv_tensor *pins[4] = {&xs, w, b, r}, *pouts[1] = {&ys};
        for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
            lcv_plan_ctx pc = {t.node, 3, pins, 1, pouts, isa, &t.err};
            lcv_plan plan = {0};
            bool taken = false;
            CHECK(lcv_conv_winograd_plan(&pc, false, &taken, &plan) == LCV_OK);
            CHECK_MSG(taken && plan.exec, "no plan for trial %d", trial);
            CHECK(plan.drops_inputs == 1u << 1);
            if (!plan.exec) continue;
            lcv_tensor *y1 = run_plan(&t, &plan, ins, ref, NULL, scr);
            lcv_tensor *y2 = run_plan(&t, &plan, ins, ref, pool, scr);
            CHECK_MSG(memcmp(y1->data, y2->data, lcv_tensor_nbytes(y1)) == 0,
                      "isa %s trial %d: 1 vs 2 threads differ", lcv_isa_name(isa), trial);
            const float *got = y1->data, *want = ref->data;
            int64_t bad = -1;
            for (int64_t i = 0; i < lcv_tensor_numel(ref); i++) {
                double err = fabs((double)got[i] - want[i]), scale = 1e-6 + mag[i];
                if (err / scale > worst_seen) worst_seen = err / scale;
                if (!(err <= 2e-5 * scale) && bad < 0) bad = i;
            }
            CHECK_MSG(bad < 0,
                      "isa %s trial %d: n%lld c%lld->%lld %lldx%lld pads %lld,%lld,%lld,%lld "
                      "same %d bias %d res %d act %d: y[%lld] = %.7g, expected %.7g (mag %.3g)",
                      lcv_isa_name(isa), trial, (long long)k.n, (long long)k.cin,
                      (long long)k.cout, (long long)k.h, (long long)k.w, (long long)k.pads[0],
                      (long long)k.pads[1], (long long)k.pads[2], (long long)k.pads[3],
                      k.same_upper, k.bias, k.residual, (int)k.act.act, (long long)bad,
                      bad >= 0 ? got[bad] : 0.0, bad >= 0 ? want[bad] : 0.0,
                      bad >= 0 ? mag[bad] : 0.0);
            lcv_tensor_free(y1);
            lcv_tensor_free(y2);
            /* Without session scratch: the reference, from the weights still present. */
            lcv_tensor *y3 = run_plan(&t, &plan, ins, ref, NULL, NULL);
            CHECK(memcmp(y3->data, ref->data, lcv_tensor_nbytes(ref)) == 0);
            lcv_tensor_free(y3);
            lcv_plan_clear(&plan);
        }
        free(mag);
        lcv_tensor_free(x);
        lcv_tensor_free(w);
        lcv_tensor_free(b);
        lcv_tensor_free(r);
        lcv_tensor_free(ref);
        optest_free(&t);
    }
    CHECK_MSG(multi_block > 0 && per_thread > 0, "blocked cases: %d (1 thread), %d (2 threads)",
              multi_block, per_thread);
}

/* Convs Winograd does not take: no plan and no error, even when forced. */
static void test_no_plan(void) {
    int64_t xd[4] = {1, 4, 9, 9}, wd[4] = {6, 4, 3, 3}, wd5[4] = {6, 4, 5, 5};
    int64_t wdg[4] = {6, 2, 3, 3};
    lcv_tensor *x = rand_tensor(4, xd), *w = rand_tensor(4, wd), *w5 = rand_tensor(4, wd5);
    lcv_tensor *wg = rand_tensor(4, wdg), *w64 = optest_tensor(LCV_DTYPE_FLOAT64, 4, wd, NULL);
    lcv_tensor wdyn = *w;
    wdyn.data = NULL; /* weights known only at run time */
    for (int i = 0; i < 6; i++) {
        optest t;
        optest_init(&t, "Conv", 11, 3, 1);
        const lcv_tensor *ins[3] = {x, w, NULL};
        if (i == 0) optest_attr_ints(&t, "strides", 2, (int64_t[]){2, 1});
        if (i == 1) optest_attr_ints(&t, "dilations", 2, (int64_t[]){1, 2});
        if (i == 2) {
            optest_attr_int(&t, "group", 2);
            ins[1] = wg;
        }
        if (i == 3) ins[1] = w5;
        if (i == 4) ins[1] = w64;
        if (i == 5) ins[1] = &wdyn;
        const lcv_tensor *pouts[1] = {x};
        lcv_plan_ctx pc = {t.node, 3, ins, 1, pouts, LCV_ISA_SCALAR, &t.err};
        lcv_plan plan = {0};
        bool taken = true;
        CHECK(lcv_conv_winograd_plan(&pc, false, &taken, &plan) == LCV_OK);
        CHECK_MSG(!taken && plan.exec == NULL, "case %d got a plan", i);
        lcv_plan_clear(&plan);
        optest_free(&t);
    }
    lcv_tensor_free(x);
    lcv_tensor_free(w);
    lcv_tensor_free(w5);
    lcv_tensor_free(wg);
    lcv_tensor_free(w64);
}

/* The Conv plan picks Winograd for a ResNet layer and not for a 3-channel stem-like one. */
static void test_selection(lcv_isa isa) {
    static const int64_t shapes[2][3] = {{64, 64, 56}, {3, 16, 9}}; /* cin, cout, size */
    for (int i = 0; i < 2; i++) {
        optest t;
        optest_init(&t, "Conv", 11, 3, 1);
        optest_attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
        int64_t xd[4] = {1, shapes[i][0], shapes[i][2], shapes[i][2]};
        int64_t wd[4] = {shapes[i][1], shapes[i][0], 3, 3};
        int64_t yd[4] = {1, shapes[i][1], shapes[i][2], shapes[i][2]};
        lcv_tensor *w = rand_tensor(4, wd);
        lcv_tensor xs = {0}, ys = {0};
        xs.dtype = ys.dtype = LCV_DTYPE_FLOAT32;
        xs.ndim = ys.ndim = 4;
        memcpy(xs.dims, xd, sizeof xd);
        memcpy(ys.dims, yd, sizeof yd);
        const lcv_tensor *ins[3] = {&xs, w, NULL}, *pouts[1] = {&ys};
        lcv_plan_ctx pc = {t.node, 3, ins, 1, pouts, isa, &t.err};
        lcv_plan chosen = {0}, wino = {0};
        bool taken = false;
        CHECK(lcv_plan_conv(&pc, &chosen) == LCV_OK);
        CHECK(lcv_conv_winograd_plan(&pc, false, &taken, &wino) == LCV_OK);
        CHECK(taken && chosen.exec);
        CHECK_MSG((chosen.exec == wino.exec) == (i == 0), "isa %s shape %d: Winograd %s",
                  lcv_isa_name(isa), i, i == 0 ? "not chosen" : "chosen");
        lcv_plan_clear(&chosen);
        lcv_plan_clear(&wino);
        lcv_tensor_free(w);
        optest_free(&t);
    }
}

static void test_run_errors(void) {
    lcv_winograd_geom g = {1, 2, 2, 4, 4, 4, 4, 1, 1};
    float x[32] = {0}, y[32], wts[4096] = {0}, scratch[1];
    lcv_winograd_args a = {LCV_ISA_SCALAR, g, x, wts, NULL, NULL, NULL, y, scratch,
                           sizeof scratch};
    lcv_err e;
    CHECK(lcv_winograd_run(&a, NULL, &e) == LCV_ERR_INVALID_ARG); /* too little scratch */
    CHECK(strstr(e.msg, "scratch") != NULL);
    a.x = NULL;
    CHECK(lcv_winograd_run(&a, NULL, &e) == LCV_ERR_INVALID_ARG);
    a.x = x;
    a.geom.pad_top = -1;
    CHECK(lcv_winograd_run(&a, NULL, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_winograd_scratch_size(LCV_ISA_SCALAR, &a.geom, 1) == 0);
    a.geom = g;
    a.geom.batch = (int64_t)1 << 40; /* beyond the sizes accepted */
    CHECK(!lcv_winograd_geom_ok(&a.geom));
    CHECK(lcv_winograd_weights_size(LCV_ISA_SCALAR, 0, 4) == 0);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    lcv_err err;
    lcv_scratch scr = {NULL, 0};
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        test_input_layout(isa);
        test_selection(isa);
    }
    test_convs(best, pool, &scr);
    test_no_plan();
    test_run_errors();
    printf("largest error / (sum |w||x| + |b| + |residual|): %.3g\n", worst_seen);
    lcv_threadpool_free(pool);
    free(scr.data);
    return lcv_test_finish("kernels_winograd");
}
