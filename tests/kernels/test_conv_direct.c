/* test_conv_direct.c - the direct small-Cin convolution (src/kernels/f32-conv-direct through
 * src/ops/conv_direct.c) at every ISA level against the reference Conv + lcv_op_apply_fused:
 * random odd geometries (Cin 1..4, Cout 1..21, kernels 1..7, strides 1..3, asymmetric pads,
 * H/W 1..17 and some wide rows), with and without bias, residual and each fused activation;
 * 1 vs 2 threads bit-identical; the plan is made for another input size than it runs on; the
 * selection rule (AVX-512 only); and the convs it must refuse (group, dilation, too many input
 * channels). */
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "conv_plan_check.h"
#include "op_test_util.h"
#include "ops/conv_direct.h"

static uint64_t rng = 0x853c49e6748fea9bull;
static int64_t rndi(int64_t lo, int64_t hi) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

static lcv_tensor *rand_tensor(int nd, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, nd, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = (float)rndi(-4096, 4096) / 4096.0f;
    return t;
}

static const lcv_fused acts[] = {
    {LCV_ACT_NONE, 0, 0, -1},       {LCV_ACT_RELU, 0, 0, -1},  {LCV_ACT_CLIP, 0.0f, 6.0f, -1},
    {LCV_ACT_HARDSWISH, 0, 0, -1},  {LCV_ACT_SILU, 0, 0, -1},  {LCV_ACT_SIGMOID, 0, 0, -1}};

typedef struct dcase {
    int64_t n, cin, cout, h, w, kh, kw, s[2], pads[4];
    bool bias, residual;
    lcv_fused act;
} dcase;

static void rand_case(dcase *k, int trial) {
    memset(k, 0, sizeof *k);
    k->n = rndi(1, 2);
    k->cin = rndi(1, LCV_CONV_DIRECT_MAX_CIN);
    k->cout = trial % 4 == 0 ? 8 * rndi(1, 3) : rndi(1, 21);
    k->kh = rndi(1, 7);
    k->kw = rndi(0, 2) ? k->kh : rndi(1, 7);
    k->s[0] = rndi(1, 3);
    k->s[1] = rndi(1, 3);
    k->pads[0] = rndi(0, k->kh - 1);
    k->pads[1] = rndi(0, k->kw - 1);
    k->pads[2] = rndi(0, k->kh - 1);
    k->pads[3] = rndi(0, k->kw - 1);
    k->h = rndi(1, 17);
    k->w = trial % 7 == 0 ? rndi(30, 80) : rndi(1, 17);
    if (k->h + k->pads[0] + k->pads[2] < k->kh) k->h = k->kh;
    if (k->w + k->pads[1] + k->pads[3] < k->kw) k->w = k->kw;
    k->bias = rndi(0, 1);
    k->residual = rndi(0, 2) == 0;
    k->act = acts[rndi(0, (int64_t)(sizeof acts / sizeof acts[0]) - 1)];
    k->act.residual = k->residual ? 3 : -1;
}

static void test_isa(lcv_isa isa, lcv_threadpool *pool, lcv_scratch *scr) {
    for (int trial = 0; trial < 300; trial++) {
        dcase k;
        rand_case(&k, trial);
        optest t;
        optest_init(&t, "Conv", 11, k.residual ? 4 : 3, 1);
        optest_attr_ints(&t, "strides", 2, k.s);
        optest_attr_ints(&t, "pads", 4, k.pads);
        t.node->fused = k.act;
        int64_t xd[4] = {k.n, k.cin, k.h, k.w}, wd[4] = {k.cout, k.cin, k.kh, k.kw};
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
        lcv_tensor xs = *x, ys = *ref; /* plan for another (shape-only) input size */
        xs.data = NULL;
        xs.dims[0] = 1;
        xs.dims[2] = k.h + (trial % 2);
        xs.dims[3] = k.w + 3;
        ys.data = NULL;
        const lcv_tensor *pins[4] = {&xs, w, b, r}, *pouts[1] = {&ys};
        lcv_plan_ctx pc = {t.node, 3, pins, 1, pouts, isa, &t.err};
        lcv_plan plan = {0};
        bool taken = false;
        CHECK(lcv_conv_direct_plan(&pc, false, &taken, &plan) == LCV_OK);
        CHECK_MSG(taken && plan.exec != NULL, "no plan for trial %d", trial);
        if (plan.exec) {
            lcv_tensor *y1 = run_plan(&t, &plan, ins, ref, NULL, scr);
            lcv_tensor *y2 = run_plan(&t, &plan, ins, ref, pool, scr);
            CHECK_MSG(memcmp(y1->data, y2->data, lcv_tensor_nbytes(y1)) == 0,
                      "isa %s trial %d: 1 vs 2 threads differ", lcv_isa_name(isa), trial);
            const float *a = y1->data, *e = ref->data;
            int64_t bad = -1, n = lcv_tensor_numel(ref);
            for (int64_t i = 0; i < n && bad < 0; i++)
                if (!(fabsf(a[i] - e[i]) <= 1e-4f * (1.0f + fabsf(e[i])))) bad = i;
            CHECK_MSG(bad < 0,
                      "isa %s trial %d: n%lld c%lld->%lld %lldx%lld k%lldx%lld s%lld,%lld "
                      "p%lld,%lld,%lld,%lld bias %d res %d act %d: y[%lld] = %.7g, expected "
                      "%.7g", lcv_isa_name(isa), trial, (long long)k.n, (long long)k.cin,
                      (long long)k.cout, (long long)k.h, (long long)k.w, (long long)k.kh,
                      (long long)k.kw, (long long)k.s[0], (long long)k.s[1],
                      (long long)k.pads[0], (long long)k.pads[1], (long long)k.pads[2],
                      (long long)k.pads[3], k.bias, k.residual, (int)k.act.act, (long long)bad,
                      bad >= 0 ? (double)a[bad] : 0.0, bad >= 0 ? (double)e[bad] : 0.0);
            lcv_tensor_free(y1);
            lcv_tensor_free(y2);
        }
        lcv_plan_clear(&plan);
        /* the selection rule of lcv_plan_conv: the direct path only where it is faster */
        CHECK(lcv_conv_direct_plan(&pc, true, &taken, &plan) == LCV_OK);
        CHECK_MSG(taken == (isa == LCV_ISA_AVX512), "isa %s: taken %d", lcv_isa_name(isa),
                  taken);
        lcv_plan_clear(&plan);
        lcv_tensor_free(x);
        lcv_tensor_free(w);
        lcv_tensor_free(b);
        lcv_tensor_free(r);
        lcv_tensor_free(ref);
        optest_free(&t);
    }
}

/* Convs the direct kernel must leave to the other paths: not taken, no error. */
static void test_refused(void) {
    int64_t x5[4] = {1, 5, 9, 9}, w5[4] = {8, 5, 3, 3}, x4[4] = {1, 4, 9, 9};
    int64_t w4g[4] = {8, 2, 3, 3}, w4[4] = {8, 4, 3, 3}, dil[2] = {2, 2};
    struct {
        const int64_t *xd, *wd;
        int64_t group;
        bool dilated;
    } cases[] = {{x5, w5, 1, false}, {x4, w4g, 2, false}, {x4, w4, 1, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        optest t;
        optest_init(&t, "Conv", 11, 2, 1);
        optest_attr_int(&t, "group", cases[i].group);
        if (cases[i].dilated) optest_attr_ints(&t, "dilations", 2, dil);
        lcv_tensor *x = rand_tensor(4, cases[i].xd), *w = rand_tensor(4, cases[i].wd);
        const lcv_tensor *pins[2] = {x, w}, *pouts[1] = {x};
        lcv_plan_ctx pc = {t.node, 2, pins, 1, pouts, LCV_ISA_SCALAR, &t.err};
        lcv_plan plan = {0};
        bool taken = true;
        CHECK(lcv_conv_direct_plan(&pc, false, &taken, &plan) == LCV_OK);
        CHECK_MSG(!taken && plan.exec == NULL, "case %zu was taken", i);
        lcv_tensor_free(x);
        lcv_tensor_free(w);
        optest_free(&t);
    }
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    lcv_err err;
    lcv_scratch scr = {NULL, 0};
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best))
        test_isa(isa, pool, &scr);
    test_refused();
    lcv_threadpool_free(pool);
    free(scr.data);
    return lcv_test_finish("kernels_conv_direct");
}
