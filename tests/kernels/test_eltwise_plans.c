/* test_eltwise_plans.c - the vectorised elementwise plans (src/ops/{unary,binary,softmax,norm,
 * reduce}_plan.c) against the reference kernels at every ISA level this CPU runs: each unary
 * activation op, Add/Sub/Mul/Div in every planned broadcast form on either side (and forms
 * that must keep the reference), fused residual + activation, Softmax/LogSoftmax,
 * LayerNormalization, GlobalAveragePool and ReduceMean; shapes changing after planning; and
 * 1 vs 2 threads bit-identical. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng = 0xda3e39cb94b95bdbull;

static uint32_t rnd(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}

static int64_t rnd_range(int64_t lo, int64_t hi) {
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rndf(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

static const float specials[] = {0.0f,  -0.0f, 1.0f,  -1.0f,  3.0f,     -3.0f,     1e-30f,
                                 90.0f, -90.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN};

/* A float32 tensor; values in [-scale, scale], with a special value now and then when
 * `specials_too`. */
static lcv_tensor *rand_tensor(int ndim, const int64_t *dims, float scale, bool specials_too) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        p[i] = specials_too && rnd() % 16 == 0
                   ? specials[rnd() % (sizeof specials / sizeof specials[0])]
                   : rndf(-scale, scale);
    return t;
}

/* How close a plan's result must be to the reference: bit-identical (ulp 0, abs 0), or
 * within ulp representable floats or abs + rel * |ref|. */
typedef struct tol {
    int64_t ulp;
    double abs, rel;
} tol;
static const tol EXACT = {0, 0.0, 0.0};

static int64_t ulp_dist(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? -(int64_t)(ia & 0x7fffffff) : ia;
    int64_t ob = ib < 0 ? -(int64_t)(ib & 0x7fffffff) : ib;
    return oa > ob ? oa - ob : ob - oa;
}

static bool agrees(float got, float want, tol t) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    if (t.ulp == 0 && t.abs == 0.0 && t.rel == 0.0) return memcmp(&got, &want, sizeof got) == 0;
    if (fabsf(want) < FLT_MIN && fabsf(got) < FLT_MIN) return true;
    if (ulp_dist(got, want) <= t.ulp) return true;
    return fabs((double)got - want) <= t.abs + t.rel * fabs((double)want);
}

/* Runs the plan's exec on ins (n_in counts a fused residual) with pool (may be NULL) into a
 * fresh tensor. */
static lcv_tensor *run_plan(optest *t, const lcv_plan *plan, int n_in, lcv_tensor **ins,
                            lcv_threadpool *pool) {
    int n_op = lcv_node_op_inputs(t->node);
    lcv_tensor *got = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &got);
    lcv_scratch scratch = {NULL, 0};
    lcv_opctx c = {t->node, n_op, (const lcv_tensor *const *)ins, 1, &got, &t->err,
                   plan->data, pool, &scratch};
    CHECK(lcv_op_table[t->node->op].infer(&c) == LCV_OK);
    CHECK(lcv_tensor_reshape_alloc(got, got->dtype, got->ndim, got->dims, &t->err) == LCV_OK);
    lcv_status st = plan->exec(&c);
    CHECK_MSG(st == LCV_OK, "exec: %s", t->err.msg);
    free(scratch.data);
    (void)n_in;
    return got;
}

/* Plans node t from plan_ins (inputs not marked constant are shape-only), then checks the
 * plan on run_ins (NULL: plan_ins) against the reference and 1 against 2 threads. Returns
 * whether a plan was made; fails when that differs from want_plan. */
static bool check_plan(optest *t, int n_in, lcv_tensor **plan_ins, lcv_tensor **run_ins,
                       const bool *is_const, lcv_isa isa, lcv_threadpool *pool, tol tl,
                       bool want_plan, const char *what) {
    if (!run_ins) run_ins = plan_ins;
    int n_op = lcv_node_op_inputs(t->node);
    lcv_tensor shapes[6];
    const lcv_tensor *pin[6];
    for (int i = 0; i < n_in; i++) {
        pin[i] = NULL;
        if (!plan_ins[i]) continue; /* an omitted optional input */
        shapes[i] = *plan_ins[i];
        if (!is_const || !is_const[i]) shapes[i].data = NULL;
        pin[i] = &shapes[i];
    }
    lcv_tensor *yshape = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &yshape);
    lcv_opctx ic = {t->node, n_op, (const lcv_tensor *const *)plan_ins, 1, &yshape, &t->err,
                    NULL, NULL, NULL};
    CHECK_MSG(lcv_op_table[t->node->op].infer(&ic) == LCV_OK, "%s: %s", what, t->err.msg);
    const lcv_tensor *pout[3] = {yshape, NULL, NULL};
    lcv_plan_ctx pc = {t->node, n_op, pin, t->node->n_out, pout, isa, &t->err};
    lcv_plan plan;
    memset(&plan, 0, sizeof plan);
    lcv_plan_fn fn = lcv_plan_lookup(t->node->op);
    CHECK(fn != NULL);
    if (fn) CHECK(fn(&pc, &plan) == LCV_OK);
    bool planned = plan.exec != NULL;
    CHECK_MSG(planned == want_plan, "%s: plan %s", what, planned ? "made" : "missing");
    if (planned) {
        lcv_tensor *ref = NULL;
        lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &ref);
        lcv_tensor *outs[3] = {ref, NULL, NULL};
        CHECK_MSG(lcv_op_invoke(t->node, n_in, (const lcv_tensor *const *)run_ins,
                                t->node->n_out, outs, &t->err) == LCV_OK,
                  "%s: %s", what, t->err.msg);
        lcv_tensor *g1 = run_plan(t, &plan, n_in, run_ins, NULL);
        lcv_tensor *g2 = run_plan(t, &plan, n_in, run_ins, pool);
        CHECK(lcv_shape_equal(g1->ndim, g1->dims, ref->ndim, ref->dims));
        int64_t n = lcv_tensor_numel(ref), bad = 0, bad_threads = 0;
        const float *a = g1->data, *b = g2->data, *r = ref->data;
        for (int64_t i = 0; i < n && n == lcv_tensor_numel(g1); i++) {
            if (!agrees(a[i], r[i], tl) && bad++ == 0)
                fprintf(stderr, "%s isa %s: element %lld got %.9g want %.9g\n", what,
                        lcv_isa_name(isa), (long long)i, (double)a[i], (double)r[i]);
            if (memcmp(&a[i], &b[i], sizeof(float)) != 0) bad_threads++;
        }
        CHECK_MSG(bad == 0, "%s isa %s: %lld of %lld differ from the reference", what,
                  lcv_isa_name(isa), (long long)bad, (long long)n);
        CHECK_MSG(bad_threads == 0, "%s isa %s: 1 and 2 threads differ in %lld", what,
                  lcv_isa_name(isa), (long long)bad_threads);
        lcv_tensor_free(ref);
        lcv_tensor_free(g1);
        lcv_tensor_free(g2);
    }
    lcv_plan_clear(&plan);
    lcv_tensor_free(yshape);
    return planned;
}

static void free_all(lcv_tensor **ts, int n) {
    for (int i = 0; i < n; i++) lcv_tensor_free(ts[i]);
}

static const lcv_act_kind acts[] = {LCV_ACT_NONE, LCV_ACT_RELU, LCV_ACT_CLIP, LCV_ACT_LEAKYRELU,
                                    LCV_ACT_SIGMOID, LCV_ACT_HARDSIGMOID, LCV_ACT_HARDSWISH,
                                    LCV_ACT_SILU, LCV_ACT_TANH};

/* A random fused activation (and residual: the node's last input) on t; returns the
 * tolerance the activation needs. */
static tol set_fused(optest *t, bool residual) {
    lcv_act_kind k = acts[rnd() % (sizeof acts / sizeof acts[0])];
    t->node->fused.act = k;
    t->node->fused.alpha = k == LCV_ACT_CLIP ? -0.3f : 0.2f;
    t->node->fused.beta = k == LCV_ACT_CLIP ? 0.6f : 0.5f;
    t->node->fused.residual = residual ? t->node->n_in - 1 : -1;
    bool smooth = k == LCV_ACT_SIGMOID || k == LCV_ACT_SILU || k == LCV_ACT_TANH;
    return smooth ? (tol){4, 0.0, 0.0} : EXACT;
}

/* A random shape of rank 1..4 whose size is small, or large enough for two threads. */
static int rand_shape(int64_t *d, bool big) {
    int r = (int)rnd_range(1, 4);
    for (int i = 0; i < r; i++) d[i] = rnd_range(1, 9);
    if (big) {
        r = 4;
        d[0] = 2;
        d[1] = rnd_range(5, 9);
        d[2] = rnd_range(100, 120);
        d[3] = rnd_range(150, 170);
    }
    return r;
}

static void test_unary(lcv_isa isa, lcv_threadpool *pool, int iter) {
    static const char *ops[] = {"Relu",        "Sigmoid",   "Tanh", "Erf", "Exp", "LeakyRelu",
                                "HardSigmoid", "HardSwish", "Clip", "Clip", "Clip"};
    int oi = iter % (int)(sizeof ops / sizeof ops[0]);
    const char *op = ops[oi];
    bool smooth = oi >= 1 && oi <= 4;
    int clip_form = oi - 8; /* 0: attributes (opset 6), 1: inputs (opset 13), 2: min > max */
    int opset = clip_form == 0 ? 6 : 13, n_in = clip_form >= 1 ? 3 : 1;
    bool residual = iter % 5 == 4 && clip_form < 1;
    optest t;
    optest_init(&t, op, opset, n_in + residual, 1);
    tol tl = smooth ? (tol){4, 0.0, 0.0} : EXACT;
    if (residual) { /* the residual sum may cancel: the op's error becomes absolute */
        tol ft = set_fused(&t, true);
        if (ft.ulp > 0 || smooth) tl = (tol){4, 2e-6, 0.0};
    }
    if (oi == 5) optest_attr_float(&t, "alpha", 0.1f);
    if (oi == 6) optest_attr_float(&t, "beta", 0.4f);
    if (clip_form == 0) {
        optest_attr_float(&t, "min", -0.5f);
        optest_attr_float(&t, "max", 2.0f);
    }
    int64_t d[4];
    int r = rand_shape(d, iter % 13 == 0);
    lcv_tensor *ins[4] = {rand_tensor(r, d, oi == 4 ? 30.0f : 5.0f, true), NULL, NULL, NULL};
    bool is_const[4] = {false, true, true, false};
    if (clip_form >= 1) {
        float lo = clip_form == 1 ? -1.0f : 2.0f, hi = clip_form == 1 ? 0.5f : -2.0f;
        ins[1] = optest_tensor(LCV_DTYPE_FLOAT32, 0, NULL, NULL);
        ins[2] = optest_tensor(LCV_DTYPE_FLOAT32, 0, NULL, NULL);
        *(float *)ins[1]->data = lo;
        *(float *)ins[2]->data = hi;
        if (iter % 3 == 0) t.node->in[2] = -1; /* no max */
    }
    if (residual) ins[n_in] = rand_tensor(r, d, 2.0f, false);
    /* an omitted optional input is NULL for the op */
    bool no_max = n_in == 3 && t.node->in[2] < 0;
    lcv_tensor *run[4] = {ins[0], ins[1], no_max ? NULL : ins[2], ins[3]};
    char what[96];
    snprintf(what, sizeof what, "%s (opset %d, iter %d)", op, opset, iter);
    check_plan(&t, n_in + residual, run, NULL, is_const, isa, pool, tl, true, what);
    free_all(ins, 4);
    optest_free(&t);
}

/* Binary forms: 0 same shape, 1 one value, 2 per channel [N,C,1,1], 3 per channel [1,C,1,1]
 * or [C,1,1], 4 trailing row [D] or [1,1,D], 5 trailing [H,W]; then forms the plan must
 * leave to the reference: 6 [N,1,H,W] with [1,C,1,1], 7 [N,C,H,W] with [N,1,H,W]. */
static void test_binary(lcv_isa isa, lcv_threadpool *pool, int iter) {
    static const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    const char *op = ops[iter % 4];
    int form = (iter / 4) % 8;
    bool swap = (iter / 32) % 2, big = iter % 23 == 5, residual = iter % 3 == 2 && form < 6;
    optest t;
    optest_init(&t, op, 14, 2 + residual, 1);
    tol tl = EXACT;
    if (iter % 3 != 0) tl = set_fused(&t, residual);
    int64_t n = rnd_range(1, 3), c = rnd_range(1, 40), h = rnd_range(1, 9), w = rnd_range(1, 21);
    if (big) {
        c = rnd_range(30, 40);
        h = rnd_range(40, 60);
        w = rnd_range(40, 60);
    }
    int64_t full[4] = {n, c, h, w}, small[4] = {n, c, h, w};
    int rs = 4;
    switch (form) {
    case 0: break;
    case 1:
        rs = (int)rnd_range(0, 2);
        small[0] = small[1] = 1;
        break;
    case 2: small[2] = small[3] = 1; break;
    case 3:
        if (rnd() % 2) {
            small[0] = 1;
            small[2] = small[3] = 1;
        } else {
            rs = 3;
            small[0] = c;
            small[1] = small[2] = 1;
        }
        break;
    case 4:
        if (rnd() % 2) {
            rs = 1;
            small[0] = w;
        } else {
            rs = 3;
            small[0] = small[1] = 1;
            small[2] = w;
        }
        break;
    case 5:
        rs = 2;
        small[0] = h;
        small[1] = w;
        break;
    case 6:
        full[1] = 1;
        small[0] = small[2] = small[3] = 1;
        break;
    default: small[1] = 1; break;
    }
    lcv_tensor *a = rand_tensor(4, full, 4.0f, true), *b = rand_tensor(rs, small, 4.0f, true);
    lcv_tensor *ins[3] = {swap ? b : a, swap ? a : b, NULL};
    if (residual) ins[2] = rand_tensor(4, (int64_t[]){n, c, h, w}, 2.0f, false);
    /* forms 6 and 7 degenerate into planned ones when a dim is 1 */
    bool want = true;
    if (form == 6) want = c == 1 || n * h * w == 1;
    if (form == 7) want = c == 1 || n == 1 || h * w == 1;
    bool is_const[3] = {false, rnd() % 2 == 0, false};
    char what[128];
    snprintf(what, sizeof what, "%s form %d%s [%lld,%lld,%lld,%lld] small rank %d", op, form,
             swap ? " swapped" : "", (long long)n, (long long)c, (long long)h, (long long)w, rs);
    check_plan(&t, 2 + residual, ins, NULL, is_const, isa, pool, tl, want, what);
    free_all(ins, 3);
    optest_free(&t);
}

/* A plan made for one batch runs another, and a runtime shape the plan does not cover falls
 * back to the reference. */
static void test_binary_reshaped(lcv_isa isa, lcv_threadpool *pool) {
    optest t;
    optest_init(&t, "Mul", 14, 2, 1);
    int64_t x1[4] = {1, 6, 5, 7}, s1[4] = {1, 6, 1, 1}, x3[4] = {3, 6, 5, 7}, s3[4] = {3, 6, 1, 1};
    int64_t bad[4] = {3, 1, 5, 7};
    lcv_tensor *p[2] = {rand_tensor(4, x1, 2.0f, false), rand_tensor(4, s1, 2.0f, false)};
    lcv_tensor *r[2] = {rand_tensor(4, x3, 2.0f, false), rand_tensor(4, s3, 2.0f, false)};
    lcv_tensor *f[2] = {rand_tensor(4, x3, 2.0f, false), rand_tensor(4, bad, 2.0f, false)};
    check_plan(&t, 2, p, r, NULL, isa, pool, EXACT, true, "Mul planned [1,6,5,7], run [3,...]");
    check_plan(&t, 2, p, f, NULL, isa, pool, EXACT, true, "Mul run with [3,1,5,7]: reference");
    optest_free(&t);
    optest_init(&t, "Sigmoid", 13, 1, 1);
    check_plan(&t, 1, p, r, NULL, isa, pool, (tol){4, 0.0, 0.0}, true, "Sigmoid reshaped");
    optest_free(&t);
    free_all(p, 2);
    free_all(r, 2);
    free_all(f, 2);
}

/* Softmax/LogSoftmax: the last axis (opset 13), the flattened block (opset 11), and an inner
 * axis that must keep the reference. */
static void test_softmax(lcv_isa isa, lcv_threadpool *pool, int iter) {
    bool logsm = iter % 2, big = iter % 9 == 4;
    int form = (iter / 2) % 4; /* 0: axis -1, 1: opset 11 axis 1, 2: [.., n, 1] axis 1, 3: inner */
    optest t;
    optest_init(&t, logsm ? "LogSoftmax" : "Softmax", form == 1 ? 11 : 13, 1, 1);
    int64_t d[3] = {rnd_range(1, 4), rnd_range(1, 30), rnd_range(1, 70)};
    if (big) {
        d[0] = 2;
        d[1] = rnd_range(700, 800);
        d[2] = rnd_range(90, 110);
    }
    if (form == 1 || form == 3) optest_attr_int(&t, "axis", 1);
    if (form == 2) {
        optest_attr_int(&t, "axis", 1);
        d[2] = 1;
    }
    lcv_tensor *x = rand_tensor(3, d, 12.0f, false);
    float *px = x->data;
    for (int64_t i = 0; i < lcv_tensor_numel(x); i += 7) px[i] = -INFINITY;
    px[0] = 0.0f;
    tol tl = logsm ? (tol){8, 1e-6, 1e-6} : (tol){8, 1e-7, 0.0};
    bool want = form != 3 || d[2] == 1;
    char what[96];
    snprintf(what, sizeof what, "%s form %d [%lld,%lld,%lld]", logsm ? "LogSoftmax" : "Softmax",
             form, (long long)d[0], (long long)d[1], (long long)d[2]);
    check_plan(&t, 1, &x, NULL, NULL, isa, pool, tl, want, what);
    lcv_tensor_free(x);
    optest_free(&t);
}

/* LayerNormalization over the last axis or the last two, with and without B; broadcast
 * parameters and a Mean output keep the reference. */
static void test_layernorm(lcv_isa isa, lcv_threadpool *pool, int iter) {
    int form = iter % 5; /* 0: axis -1, 1: axis 1 ([T,D] params), 2: no B, 3: Scale [1], 4: Mean */
    optest t;
    optest_init(&t, "LayerNormalization", 17, form == 2 ? 2 : 3, form == 4 ? 2 : 1);
    int64_t d[3] = {rnd_range(1, 3), rnd_range(1, 40), rnd_range(1, 100)};
    if (iter % 7 == 3) {
        d[1] = rnd_range(500, 600);
        d[2] = rnd_range(200, 300);
    }
    if (form == 1) optest_attr_int(&t, "axis", 1);
    if (iter % 2) optest_attr_float(&t, "epsilon", 1e-3f);
    int64_t pd[2] = {d[1], d[2]}, one[1] = {1};
    int pr = form == 1 ? 2 : 1;
    const int64_t *pdims = form == 1 ? pd : form == 3 ? one : pd + 1;
    lcv_tensor *x = rand_tensor(3, d, 3.0f, false);
    float *px = x->data;
    for (int64_t i = 0; i < lcv_tensor_numel(x); i++) px[i] += 1.5f; /* a non-zero mean */
    lcv_tensor *ins[3] = {x, rand_tensor(pr, pdims, 2.0f, false),
                          form == 2 ? NULL : rand_tensor(pr, pdims, 1.0f, false)};
    bool is_const[3] = {false, true, true};
    char what[96];
    snprintf(what, sizeof what, "LayerNormalization form %d [%lld,%lld,%lld]", form,
             (long long)d[0], (long long)d[1], (long long)d[2]);
    check_plan(&t, form == 2 ? 2 : 3, ins, NULL, is_const, isa, pool, (tol){16, 2e-6, 2e-6},
               form < 3, what);
    free_all(ins, 3);
    optest_free(&t);
}

/* GlobalAveragePool and ReduceMean over trailing axes; other axes keep the reference. */
static void test_mean(lcv_isa isa, lcv_threadpool *pool, int iter) {
    int form = iter % 8;
    /* 0: GlobalAveragePool 4-D, 1: GlobalAveragePool 5-D, 2: ReduceMean axes [-1],
     * 3: axes [2, 3] keepdims 0, 4: axes [1] of [N, C, 1, 1], 5: all axes, 6: opset 18 axes
     * input, 7: axes [1] of [N, C, H, W] (reference) */
    bool gap = form <= 1;
    optest t;
    optest_init(&t, gap ? "GlobalAveragePool" : "ReduceMean", form == 6 ? 18 : 13,
                form == 6 ? 2 : 1, 1);
    int64_t d[5] = {rnd_range(1, 3), rnd_range(1, 40), rnd_range(1, 20), rnd_range(1, 30), 3};
    if (iter % 11 == 2) {
        d[1] = rnd_range(120, 140);
        d[2] = rnd_range(30, 40);
        d[3] = rnd_range(30, 40);
    }
    int rank = form == 1 ? 5 : 4;
    if (form == 4) d[2] = d[3] = 1;
    int64_t ax[2] = {2, 3};
    if (form == 2) optest_attr_ints(&t, "axes", 1, (int64_t[]){-1});
    if (form == 3) {
        optest_attr_ints(&t, "axes", 2, ax);
        optest_attr_int(&t, "keepdims", 0);
    }
    if (form == 4 || form == 7) optest_attr_ints(&t, "axes", 1, (int64_t[]){1});
    lcv_tensor *ins[2] = {rand_tensor(rank, d, 2.0f, false), NULL};
    if (form == 6) {
        int64_t n1 = 1;
        ins[1] = optest_tensor(LCV_DTYPE_INT64, 1, &n1, NULL);
        *(int64_t *)ins[1]->data = -1;
    }
    bool is_const[2] = {false, true};
    bool want = form != 7 || d[1] == 1 || (d[2] == 1 && d[3] == 1);
    char what[96];
    snprintf(what, sizeof what, "%s form %d [%lld,%lld,%lld,%lld]", t.node->op_type, form,
             (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
    check_plan(&t, form == 6 ? 2 : 1, ins, NULL, is_const, isa, pool, (tol){4, 1e-6, 0.0},
               want, what);
    free_all(ins, 2);
    optest_free(&t);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    lcv_err e;
    CHECK(lcv_threadpool_create(2, &pool, &e) == LCV_OK);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        printf("isa %s\n", lcv_isa_name(isa));
        for (int i = 0; i < 66; i++) test_unary(isa, pool, i);
        for (int i = 0; i < 192; i++) test_binary(isa, pool, i);
        test_binary_reshaped(isa, pool);
        for (int i = 0; i < 24; i++) test_softmax(isa, pool, i);
        for (int i = 0; i < 20; i++) test_layernorm(isa, pool, i);
        for (int i = 0; i < 32; i++) test_mean(isa, pool, i);
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_eltwise_plans");
}
