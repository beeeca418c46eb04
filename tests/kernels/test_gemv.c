/* test_gemv.c - the batch-1 GEMV (src/kernels/f32-gemv) through the Gemm and MatMul plans
 * (one row of A: M = 1, 1-D and [1, 1, K] MatMul operands) at every ISA level, against the
 * reference kernels + lcv_op_apply_fused: random K and N (panel remainders), transA/transB,
 * alpha/beta, C as a row or a scalar, fused residual and activations; 1 vs 2 threads
 * bit-identical. */
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
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
    {LCV_ACT_NONE, 0, 0, -1},      {LCV_ACT_RELU, 0, 0, -1},    {LCV_ACT_CLIP, -0.5f, 0.5f, -1},
    {LCV_ACT_HARDSWISH, 0, 0, -1}, {LCV_ACT_SILU, 0, 0, -1},    {LCV_ACT_HARDSIGMOID, 0.2f, 0.5f, -1}};

/* Runs node t's reference (exec + fused) and its plan for isa with 1 and 2 threads; the plan
 * sees only the constant inputs' data (is_const bit i). */
static void check(optest *t, int n_op_in, const lcv_tensor *const *ins, unsigned is_const,
                  lcv_isa isa, lcv_threadpool *pool, const char *what) {
    const lcv_node *node = t->node;
    int n_in = n_op_in + (node->fused.residual >= 0);
    lcv_tensor *ref = optest_tensor(LCV_DTYPE_FLOAT32, 1, (int64_t[]){1}, NULL);
    lcv_opctx c = {t->node, n_op_in, ins, 1, &ref, &t->err, NULL, NULL, NULL};
    lcv_status st = lcv_op_table[node->op].infer(&c);
    if (st == LCV_OK) st = lcv_tensor_reshape_alloc(ref, ref->dtype, ref->ndim, ref->dims, &t->err);
    if (st == LCV_OK) st = lcv_op_table[node->op].exec(&c);
    if (st == LCV_OK) st = lcv_op_apply_fused(&c);
    CHECK_MSG(st == LCV_OK, "%s reference: %s", what, t->err.msg);
    lcv_tensor shapes[4];
    const lcv_tensor *pins[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < n_in; i++) {
        if (!ins[i]) continue;
        shapes[i] = *ins[i];
        if (!(is_const >> i & 1u)) shapes[i].data = NULL;
        pins[i] = &shapes[i];
    }
    lcv_tensor ys = *ref;
    ys.data = NULL;
    const lcv_tensor *pouts[1] = {&ys};
    lcv_plan_ctx pc = {node, n_op_in, pins, 1, pouts, isa, &t->err};
    lcv_plan p = {0};
    CHECK(lcv_plan_lookup(node->op)(&pc, &p) == LCV_OK);
    CHECK_MSG(p.exec != NULL, "%s: no plan", what);
    if (p.exec) {
        lcv_tensor *y[2];
        for (int r = 0; r < 2; r++) {
            y[r] = optest_tensor(LCV_DTYPE_FLOAT32, ref->ndim, ref->dims, NULL);
            memset(y[r]->data, 0xff, lcv_tensor_nbytes(y[r]));
            lcv_opctx f = {t->node, n_op_in, ins, 1, &y[r], &t->err, p.data, r ? pool : NULL,
                           NULL};
            CHECK_MSG(p.exec(&f) == LCV_OK, "%s exec: %s", what, t->err.msg);
        }
        CHECK_MSG(memcmp(y[0]->data, y[1]->data, lcv_tensor_nbytes(ref)) == 0,
                  "%s isa %s: 1 vs 2 threads differ", what, lcv_isa_name(isa));
        const float *a = y[0]->data, *e = ref->data;
        int64_t bad = -1;
        for (int64_t i = 0; i < lcv_tensor_numel(ref) && bad < 0; i++)
            if (!(fabsf(a[i] - e[i]) <= 1e-4f * (1.0f + fabsf(e[i])))) bad = i;
        CHECK_MSG(bad < 0, "%s isa %s: y[%lld] = %.7g, expected %.7g", what, lcv_isa_name(isa),
                  (long long)bad, bad >= 0 ? (double)a[bad] : 0.0,
                  bad >= 0 ? (double)e[bad] : 0.0);
        lcv_tensor_free(y[0]);
        lcv_tensor_free(y[1]);
    }
    lcv_plan_clear(&p);
    lcv_tensor_free(ref);
}

static void gemm_case(int trial, lcv_isa isa, lcv_threadpool *pool) {
    int64_t k = trial % 5 == 0 ? rndi(200, 700) : rndi(1, 90), n = rndi(1, 150);
    bool ta = rndi(0, 1), tb = rndi(0, 1), res = rndi(0, 2) == 0;
    int cshape = (int)rndi(0, 2); /* none, [N], scalar */
    optest t;
    optest_init(&t, "Gemm", 13, res ? 4 : 3, 1);
    optest_attr_int(&t, "transA", ta);
    optest_attr_int(&t, "transB", tb);
    optest_attr_float(&t, "alpha", trial % 3 ? 1.0f : 0.75f);
    optest_attr_float(&t, "beta", trial % 4 ? 1.0f : -0.5f);
    t.node->fused = acts[rndi(0, (int64_t)(sizeof acts / sizeof acts[0]) - 1)];
    t.node->fused.residual = res ? 3 : -1;
    int64_t ad[2] = {ta ? k : 1, ta ? 1 : k}, bd[2] = {tb ? n : k, tb ? k : n};
    int64_t one = 1, rd[2] = {1, n};
    lcv_tensor *a = rand_tensor(2, ad), *b = rand_tensor(2, bd);
    lcv_tensor *cc = cshape == 1 ? rand_tensor(1, &n) : cshape == 2 ? rand_tensor(1, &one) : NULL;
    lcv_tensor *r = res ? rand_tensor(2, rd) : NULL;
    const lcv_tensor *ins[4] = {a, b, cc, r};
    char what[160];
    snprintf(what, sizeof what, "Gemm trial %d k%lld n%lld ta%d tb%d c%d res%d act%d", trial,
             (long long)k, (long long)n, ta, tb, cshape, res, (int)t.node->fused.act);
    check(&t, 3, ins, 6u, isa, pool, what);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(cc);
    lcv_tensor_free(r);
    optest_free(&t);
}

static void matmul_case(int trial, lcv_isa isa, lcv_threadpool *pool) {
    int64_t k = trial % 5 == 0 ? rndi(200, 700) : rndi(1, 90), n = rndi(1, 150);
    bool res = rndi(0, 2) == 0;
    int ashape = (int)rndi(0, 2); /* [K], [1, K], [1, 1, K] */
    optest t;
    optest_init(&t, "MatMul", 13, res ? 3 : 2, 1);
    t.node->fused = acts[rndi(0, (int64_t)(sizeof acts / sizeof acts[0]) - 1)];
    t.node->fused.residual = res ? 2 : -1;
    int64_t ad[3] = {1, 1, k}, bd[2] = {k, n}, rd[3] = {1, 1, n};
    int and_ = ashape == 0 ? 1 : ashape + 1;
    lcv_tensor *a = rand_tensor(and_, ad + 3 - and_), *b = rand_tensor(2, bd);
    int rnd_ = ashape == 0 ? 1 : ashape + 1;
    lcv_tensor *r = res ? rand_tensor(rnd_, rd + 3 - rnd_) : NULL;
    const lcv_tensor *ins[3] = {a, b, r};
    char what[160];
    snprintf(what, sizeof what, "MatMul trial %d k%lld n%lld a%dD res%d act%d", trial,
             (long long)k, (long long)n, and_, res, (int)t.node->fused.act);
    check(&t, 2, ins, 2u, isa, pool, what);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(r);
    optest_free(&t);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    CHECK(lcv_threadpool_create(2, &pool, NULL) == LCV_OK);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best))
        for (int trial = 0; trial < 150; trial++) {
            gemm_case(trial, isa, pool);
            matmul_case(trial, isa, pool);
        }
    lcv_threadpool_free(pool);
    return lcv_test_finish("kernels_gemv");
}
