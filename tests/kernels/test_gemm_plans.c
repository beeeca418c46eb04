/* test_gemm_plans.c - the Gemm and MatMul plans (src/ops/gemm_plan.c, matmul_plan.c) against
 * the reference kernels, at every ISA level this CPU runs: random shapes, transA/transB,
 * alpha/beta, every C broadcast shape, batched and 1-D MatMul operands, constant and dynamic
 * weights, fused residual and activations, 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int64_t rnd_range(int64_t lo, int64_t hi) {
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static lcv_tensor *rand_tensor(int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
    return t;
}

static const lcv_act_kind acts[] = {LCV_ACT_NONE, LCV_ACT_RELU, LCV_ACT_CLIP, LCV_ACT_LEAKYRELU,
                                    LCV_ACT_SIGMOID, LCV_ACT_HARDSIGMOID, LCV_ACT_HARDSWISH,
                                    LCV_ACT_SILU, LCV_ACT_TANH};

/* Plans node t with the inputs marked constant in is_const (the others shape-only), then runs
 * the plan's exec and the reference on ins; checks they agree. Returns whether a plan was
 * made. n_in counts a fused residual (the last input). */
static bool check_plan(optest *t, lcv_plan_fn plan_fn, int n_in, lcv_tensor **ins,
                       const bool *is_const, lcv_isa isa, lcv_threadpool *pool, double tol,
                       const char *what) {
    int n_op = lcv_node_op_inputs(t->node);
    lcv_tensor shapes[8];
    const lcv_tensor *pin[8];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = *ins[i];
        if (!is_const[i]) shapes[i].data = NULL;
        pin[i] = &shapes[i];
    }
    /* The inferred output shape, as the runtime hands it to the planner. */
    lcv_tensor *yshape = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &yshape);
    lcv_opctx ic = {t->node, n_op, (const lcv_tensor *const *)ins, 1, &yshape, &t->err, NULL,
                    NULL, NULL};
    CHECK(lcv_op_table[t->node->op].infer(&ic) == LCV_OK);
    const lcv_tensor *pout[1] = {yshape};
    lcv_plan_ctx pc = {t->node, n_op, pin, 1, pout, isa, &t->err};
    lcv_plan plan = {0};
    CHECK(plan_fn(&pc, &plan) == LCV_OK);
    bool planned = plan.exec != NULL;
    lcv_tensor *ref = NULL, *got = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &ref);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &got);
    CHECK(lcv_op_invoke(t->node, n_in, (const lcv_tensor *const *)ins, 1, &ref, &t->err) == LCV_OK);
    if (planned) {
        lcv_scratch scratch = {NULL, 0};
        lcv_opctx c = {t->node, n_op, (const lcv_tensor *const *)ins, 1, &got, &t->err,
                       plan.data, pool, &scratch};
        CHECK(lcv_op_table[t->node->op].infer(&c) == LCV_OK);
        CHECK(lcv_tensor_reshape_alloc(got, got->dtype, got->ndim, got->dims, &t->err) == LCV_OK);
        lcv_status st = plan.exec(&c);
        CHECK_MSG(st == LCV_OK, "%s: %s", what, t->err.msg);
        CHECK(lcv_shape_equal(got->ndim, got->dims, ref->ndim, ref->dims));
        int64_t n = lcv_tensor_numel(ref), bad = 0;
        const float *g = got->data, *r = ref->data;
        for (int64_t i = 0; i < n && st == LCV_OK; i++)
            if (!(fabs((double)g[i] - r[i]) <= tol * (1.0 + fabs(r[i])))) {
                if (bad++ == 0)
                    fprintf(stderr, "%s isa %s: element %lld got %.9g want %.9g\n", what,
                            lcv_isa_name(isa), (long long)i, g[i], r[i]);
            }
        CHECK_MSG(bad == 0, "%s: %lld mismatches", what, (long long)bad);
        free(scratch.data);
    }
    lcv_plan_clear(&plan);
    lcv_tensor_free(ref);
    lcv_tensor_free(got);
    lcv_tensor_free(yshape);
    return planned;
}

static void set_fused(optest *t, bool residual) {
    lcv_act_kind k = acts[rnd() % (sizeof acts / sizeof acts[0])];
    t->node->fused.act = k;
    t->node->fused.alpha = k == LCV_ACT_CLIP ? -0.3f : 0.2f;
    t->node->fused.beta = k == LCV_ACT_CLIP ? 0.6f : 0.5f;
    t->node->fused.residual = residual ? t->node->n_in - 1 : -1;
}

static void test_gemm(lcv_isa isa, lcv_threadpool *pool, int iter) {
    int64_t m = rnd_range(1, 70), n = rnd_range(1, 70), k = rnd_range(1, 70);
    if (iter % 10 == 0) {
        m = rnd_range(100, 200);
        n = rnd_range(100, 300);
        k = rnd_range(200, 600);
    }
    bool ta = rnd() % 2, tb = rnd() % 2, residual = rnd() % 2;
    int c_kind = (int)(rnd() % 8); /* none, [N], [1,N], [M,1], [], [1], [1,1], [M,N] */
    bool b_const = rnd() % 8 != 0;
    int n_in = (c_kind ? 3 : 2) + residual;
    optest t;
    optest_init(&t, "Gemm", 13, n_in, 1);
    if (c_kind == 0 && residual) t.node->in[2] = 2; /* the residual slot */
    optest_attr_int(&t, "transA", ta);
    optest_attr_int(&t, "transB", tb);
    if (rnd() % 2) optest_attr_float(&t, "alpha", 0.75f);
    if (rnd() % 2) optest_attr_float(&t, "beta", -1.5f);
    set_fused(&t, residual);
    int64_t adims[2] = {ta ? k : m, ta ? m : k}, bdims[2] = {tb ? n : k, tb ? k : n};
    lcv_tensor *ins[4] = {rand_tensor(2, adims), rand_tensor(2, bdims), NULL, NULL};
    bool is_const[4] = {false, b_const, true, false};
    int idx = 2;
    if (c_kind) {
        static const int cnd[8] = {0, 1, 2, 2, 0, 1, 2, 2};
        int64_t cd[2] = {1, 1};
        if (c_kind == 1) cd[0] = n;
        if (c_kind == 2) cd[1] = n;
        if (c_kind == 3) cd[0] = m;
        if (c_kind == 7) {
            cd[0] = m;
            cd[1] = n;
        }
        ins[idx++] = rand_tensor(cnd[c_kind], cd);
    }
    if (residual) {
        int64_t yd[2] = {m, n};
        ins[idx++] = rand_tensor(2, yd);
    }
    char what[160];
    snprintf(what, sizeof what, "Gemm M=%lld N=%lld K=%lld ta=%d tb=%d C%d res=%d act=%d",
             (long long)m, (long long)n, (long long)k, ta, tb, c_kind, residual,
             (int)t.node->fused.act);
    bool planned = check_plan(&t, lcv_plan_gemm, n_in, ins, is_const, isa, pool,
                              2e-6 * (double)k + 1e-5, what);
    CHECK_MSG(planned == (b_const && (c_kind != 7 || m == 1 || n == 1)), "%s: planned=%d", what,
              planned);
    for (int i = 0; i < idx; i++) lcv_tensor_free(ins[i]);
    optest_free(&t);
}

static void test_matmul(lcv_isa isa, lcv_threadpool *pool, int iter) {
    int64_t m = rnd_range(1, 40), n = rnd_range(1, 70), k = rnd_range(1, 70);
    int kind = iter % 5; /* 0: A[.., M, K] x const B[K, N]; 1: 1-D A; 2: batched dynamic;
                          * 3: dynamic with a 1-D B; 4: broadcast batch */
    bool residual = rnd() % 2;
    int n_in = 2 + residual;
    optest t;
    optest_init(&t, "MatMul", 13, n_in, 1);
    set_fused(&t, residual);
    int64_t ad[4], bd[4];
    int an = 0, bn = 0;
    bool is_const[3] = {false, false, false};
    switch (kind) {
    case 0:
        ad[an++] = rnd_range(1, 3);
        ad[an++] = m;
        ad[an++] = k;
        bd[bn++] = k;
        bd[bn++] = n;
        is_const[1] = true;
        break;
    case 1:
        ad[an++] = k;
        bd[bn++] = k;
        bd[bn++] = n;
        is_const[1] = true;
        break;
    case 2:
        ad[an++] = 3;
        ad[an++] = m;
        ad[an++] = k;
        bd[bn++] = 3;
        bd[bn++] = k;
        bd[bn++] = n;
        break;
    case 3:
        ad[an++] = m;
        ad[an++] = k;
        bd[bn++] = k;
        break;
    default:
        ad[an++] = 2;
        ad[an++] = 1;
        ad[an++] = m;
        ad[an++] = k;
        bd[bn++] = 3;
        bd[bn++] = k;
        bd[bn++] = n;
        break;
    }
    lcv_tensor *ins[3] = {rand_tensor(an, ad), rand_tensor(bn, bd), NULL};
    if (residual) {
        /* A residual of the output's shape: run the plain product once for the shape. */
        lcv_fused keep = t.node->fused;
        t.node->fused.act = LCV_ACT_NONE;
        t.node->fused.residual = -1;
        lcv_tensor *y = NULL;
        lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &y);
        CHECK(lcv_op_invoke(t.node, 2, (const lcv_tensor *const *)ins, 1, &y, &t.err) == LCV_OK);
        t.node->fused = keep;
        float *p = y->data;
        for (int64_t i = 0; i < lcv_tensor_numel(y); i++)
            p[i] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
        ins[2] = y;
    }
    char what[160];
    snprintf(what, sizeof what, "MatMul kind %d M=%lld N=%lld K=%lld res=%d act=%d", kind,
             (long long)m, (long long)n, (long long)k, residual, (int)t.node->fused.act);
    CHECK(check_plan(&t, lcv_plan_matmul, n_in, ins, is_const, isa, pool, 2e-6 * (double)k + 1e-5,
                     what));
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
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
        for (int i = 0; i < 80; i++) test_gemm(isa, i % 2 ? pool : NULL, i);
        for (int i = 0; i < 60; i++) test_matmul(isa, i % 2 ? pool : NULL, i);
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_gemm_plans");
}
