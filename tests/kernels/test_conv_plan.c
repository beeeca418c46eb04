/* test_conv_plan.c - the Conv fast path (src/ops/conv_plan.c) against the reference exec plus
 * lcv_op_apply_fused, at every ISA level the CPU has: random odd 2-D convs (channels 1..37,
 * sizes 1..29, kernels 1/3/5/7, strides, pads, dilations, groups, depthwise, 1x1), with and
 * without bias, residual and each fused activation; planned for one input size and run on
 * another; 1 and 2 threads bit-identical; and the cases that must not get a plan. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "conv_plan_check.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t rnd_u32(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rndi(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)(rnd_u32() % (uint32_t)(hi - lo + 1));
}

static lcv_tensor *rand_tensor(int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        p[i] = (float)rnd_u32() / 2147483648.0f - 1.0f;
    return t;
}

static const lcv_fused acts[] = {
    {LCV_ACT_NONE, 0, 0, -1},        {LCV_ACT_RELU, 0, 0, -1},
    {LCV_ACT_CLIP, 0.0f, 6.0f, -1},  {LCV_ACT_LEAKYRELU, 0.1f, 0, -1},
    {LCV_ACT_SIGMOID, 0, 0, -1},     {LCV_ACT_HARDSIGMOID, 0.2f, 0.5f, -1},
    {LCV_ACT_HARDSWISH, 0, 0, -1},   {LCV_ACT_SILU, 0, 0, -1},
    {LCV_ACT_TANH, 0, 0, -1}};

typedef struct conv_case {
    int64_t n, cin, cout, group, h, w, kh, kw, s[2], d[2], pads[4];
    bool bias, residual;
    lcv_fused act;
} conv_case;

static void rand_case(conv_case *k, int trial) {
    static const int64_t ks[] = {1, 3, 5, 7};
    memset(k, 0, sizeof *k);
    int shape = rndi(0, 4); /* 0 depthwise, 1 grouped, 2 1x1 direct, 3-4 general */
    k->n = rndi(1, 2);
    k->group = shape == 1 ? rndi(2, 4) : 1;
    int64_t cin_g = rndi(1, 37 / k->group), cout_g = rndi(1, 37 / k->group);
    if (shape == 0) {
        k->group = rndi(1, 37);
        cin_g = cout_g = 1;
    }
    k->cin = cin_g * k->group;
    k->cout = cout_g * k->group;
    k->h = rndi(1, 29);
    k->w = trial % 5 == 0 ? rndi(30, 70) : rndi(1, 29);
    k->kh = ks[rndi(0, 3)];
    k->kw = rndi(0, 3) ? k->kh : ks[rndi(0, 3)];
    for (int i = 0; i < 2; i++) {
        k->s[i] = rndi(1, 2);
        k->d[i] = rndi(0, 4) ? 1 : 2;
    }
    int64_t eh = (k->kh - 1) * k->d[0] + 1, ew = (k->kw - 1) * k->d[1] + 1;
    k->pads[0] = rndi(0, eh - 1);
    k->pads[1] = rndi(0, ew - 1);
    k->pads[2] = rndi(0, eh - 1);
    k->pads[3] = rndi(0, ew - 1);
    if (shape == 2) {
        k->kh = k->kw = 1;
        k->s[0] = k->s[1] = 1;
        memset(k->pads, 0, sizeof k->pads);
    }
    if (k->h + k->pads[0] + k->pads[2] < eh) k->h = eh;
    if (k->w + k->pads[1] + k->pads[3] < ew) k->w = ew;
    k->bias = rndi(0, 1);
    k->residual = rndi(0, 2) == 0;
    k->act = acts[rndi(0, (int64_t)(sizeof acts / sizeof acts[0]) - 1)];
    k->act.residual = k->residual ? 3 : -1;
}

static void set_attrs(optest *t, const conv_case *k) {
    optest_attr_ints(t, "strides", 2, k->s);
    optest_attr_ints(t, "dilations", 2, k->d);
    optest_attr_ints(t, "pads", 4, k->pads);
    optest_attr_int(t, "group", k->group);
    t->node->fused = k->act;
}

static bool close_to(const lcv_tensor *a, const lcv_tensor *b, int64_t *bad) {
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < lcv_tensor_numel(a); i++)
        if (!(fabsf(x[i] - y[i]) <= 1e-4f * (1.0f + fabsf(y[i])))) {
            *bad = i;
            return false;
        }
    return true;
}

static void test_isa(lcv_isa isa, lcv_threadpool *pool, lcv_scratch *scr) {
    for (int trial = 0; trial < 250; trial++) {
        conv_case k;
        rand_case(&k, trial);
        optest t;
        optest_init(&t, "Conv", 11, k.residual ? 4 : 3, 1);
        set_attrs(&t, &k);
        int64_t xd[4] = {k.n, k.cin, k.h, k.w}, wd[4] = {k.cout, k.cin / k.group, k.kh, k.kw};
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
        /* Plan for a different (shape-only) input size: the plan must not depend on it. */
        lcv_tensor xs = *x, ys = *ref;
        xs.data = NULL;
        xs.dims[0] = 1;
        xs.dims[2] = k.h + (trial % 2);
        xs.dims[3] = k.w + 2;
        ys.data = NULL;
        const lcv_tensor *pins[4] = {&xs, w, b, r}, *pouts[1] = {&ys};
        lcv_plan_ctx pc = {t.node, 3, pins, 1, pouts, isa, &t.err};
        lcv_plan plan = {0};
        CHECK(lcv_plan_conv(&pc, &plan) == LCV_OK);
        CHECK_MSG(plan.exec != NULL, "no plan for trial %d", trial);
        if (plan.exec) {
            lcv_tensor *y1 = run_plan(&t, &plan, ins, ref, NULL, scr);
            lcv_tensor *y2 = run_plan(&t, &plan, ins, ref, pool, scr);
            CHECK_MSG(memcmp(y1->data, y2->data, lcv_tensor_nbytes(y1)) == 0,
                      "isa %s trial %d: 1 vs 2 threads differ", lcv_isa_name(isa), trial);
            int64_t bad = -1;
            CHECK_MSG(close_to(y1, ref, &bad),
                      "isa %s trial %d: n%lld c%lld->%lld g%lld %lldx%lld k%lldx%lld s%lld,%lld "
                      "d%lld,%lld p%lld,%lld,%lld,%lld bias %d res %d act %d: y[%lld] = %.7g, "
                      "expected %.7g", lcv_isa_name(isa), trial, (long long)k.n,
                      (long long)k.cin, (long long)k.cout, (long long)k.group, (long long)k.h,
                      (long long)k.w, (long long)k.kh, (long long)k.kw, (long long)k.s[0],
                      (long long)k.s[1], (long long)k.d[0], (long long)k.d[1],
                      (long long)k.pads[0], (long long)k.pads[1], (long long)k.pads[2],
                      (long long)k.pads[3], k.bias, k.residual, (int)k.act.act, (long long)bad,
                      bad >= 0 ? ((float *)y1->data)[bad] : 0.0,
                      bad >= 0 ? ((float *)ref->data)[bad] : 0.0);
            lcv_tensor_free(y1);
            lcv_tensor_free(y2);
            /* Without session scratch the im2col path falls back to the reference. */
            lcv_tensor *y3 = run_plan(&t, &plan, ins, ref, NULL, NULL);
            CHECK(close_to(y3, ref, &bad));
            lcv_tensor_free(y3);
        }
        lcv_plan_clear(&plan);
        lcv_tensor_free(x);
        lcv_tensor_free(w);
        lcv_tensor_free(b);
        lcv_tensor_free(r);
        lcv_tensor_free(ref);
        optest_free(&t);
    }
}

/* Convs the fast path does not take: no plan, and no error. */
static void test_no_plan(void) {
    optest t;
    optest_init(&t, "Conv", 11, 3, 1);
    int64_t xd3[3] = {1, 2, 9}, wd3[3] = {4, 2, 3}, xd[4] = {1, 2, 5, 5}, wd[4] = {4, 2, 3, 3};
    lcv_tensor *x3 = rand_tensor(3, xd3), *w3 = rand_tensor(3, wd3);
    lcv_tensor *x = rand_tensor(4, xd), *w = rand_tensor(4, wd);
    lcv_tensor *wdyn = rand_tensor(4, wd), *w64 = optest_tensor(LCV_DTYPE_FLOAT64, 4, wd, NULL);
    void *wdyn_data = wdyn->data;
    wdyn->data = NULL; /* weights known only at run time */
    const lcv_tensor *cases[3][3] = {{x3, w3, NULL}, {x, wdyn, NULL}, {x, w64, NULL}};
    for (int i = 0; i < 3; i++) {
        const lcv_tensor *pouts[1] = {x};
        lcv_plan_ctx pc = {t.node, 3, cases[i], 1, pouts, LCV_ISA_SCALAR, &t.err};
        lcv_plan plan = {0};
        CHECK(lcv_plan_conv(&pc, &plan) == LCV_OK);
        CHECK_MSG(plan.exec == NULL, "case %d got a plan", i);
        lcv_plan_clear(&plan);
    }
    wdyn->data = wdyn_data;
    lcv_tensor_free(x3);
    lcv_tensor_free(w3);
    lcv_tensor_free(x);
    lcv_tensor_free(w);
    lcv_tensor_free(wdyn);
    lcv_tensor_free(w64);
    optest_free(&t);
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
    test_no_plan();
    lcv_threadpool_free(pool);
    free(scr.data);
    return lcv_test_finish("kernels_conv_plan");
}
