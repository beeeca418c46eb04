/* test_pool_plan.c - the 2-D float32 MaxPool/AveragePool fast path (src/ops/pool_plan.c) and
 * the 8-bit MaxPool one (src/kernels/u8-pool, bit-exact) against the reference kernels on
 * random geometries (kernels 1..5, strides 1..3, asymmetric pads, ceil_mode,
 * count_include_pad), 1 and 2 threads, and the cases that must keep the reference (dilation,
 * Indices output, 3-D pooling). */
#include <string.h>

#include "core/threadpool.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static int64_t rndi(int64_t lo, int64_t hi) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

/* Plans node t for input x; returns the plan (exec NULL when none). */
static lcv_plan make_plan(optest *t, const lcv_tensor *x, int n_out) {
    lcv_plan p = {0};
    lcv_tensor y;
    lcv_tensor_init(&y);
    const lcv_tensor *ins[1] = {x}, *outs[2] = {&y, n_out > 1 ? &y : NULL};
    lcv_plan_ctx pc = {t->node, 1, ins, n_out, outs, LCV_ISA_SCALAR, &t->err};
    CHECK(lcv_plan_lookup(t->node->op)(&pc, &p) == LCV_OK);
    return p;
}

/* trial % 4: 0 float max, 1 float average, 2 uint8 max, 3 int8 max */
static void run_case(int trial, lcv_threadpool *pool) {
    bool is_max = trial % 2 == 0 || trial % 4 == 3;
    lcv_dtype dt = trial % 4 == 2 ? LCV_DTYPE_UINT8 : trial % 4 == 3 ? LCV_DTYPE_INT8
                                                                     : LCV_DTYPE_FLOAT32;
    optest t;
    optest_init(&t, is_max ? "MaxPool" : "AveragePool", 13, 1, 1);
    int64_t kh = rndi(1, 5), kw = rndi(1, 5);
    int64_t h = rndi(kh, 30), w = rndi(kw, 40);
    int64_t k[2] = {kh, kw}, s[2] = {rndi(1, 3), rndi(1, 3)};
    int64_t pads[4] = {rndi(0, kh - 1), rndi(0, kw - 1), rndi(0, kh - 1), rndi(0, kw - 1)};
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, s);
    optest_attr_ints(&t, "pads", 4, pads);
    optest_attr_int(&t, "ceil_mode", rndi(0, 1));
    if (!is_max) optest_attr_int(&t, "count_include_pad", rndi(0, 1));
    int64_t dims[4] = {rndi(1, 2), rndi(1, 5), h, w};
    lcv_tensor *x = optest_tensor(dt, 4, dims, NULL);
    for (int64_t i = 0; i < lcv_tensor_numel(x); i++) {
        if (dt == LCV_DTYPE_FLOAT32) ((float *)x->data)[i] = (float)rndi(-1000, 1000) / 100.0f;
        else ((uint8_t *)x->data)[i] = (uint8_t)rndi(0, 255);
    }
    lcv_plan p = make_plan(&t, x, 1);
    CHECK(p.exec != NULL);
    lcv_tensor *ref = NULL, *fast = NULL;
    lcv_tensor_create(dt, 0, NULL, &ref);
    lcv_tensor_create(dt, 0, NULL, &fast);
    const lcv_tensor *ins[1] = {x};
    CHECK(optest_run(&t, 1, ins, 1, &ref) == LCV_OK);
    lcv_tensor_reshape_alloc(fast, ref->dtype, ref->ndim, ref->dims, NULL);
    lcv_opctx c = {t.node, 1, ins, 1, &fast, &t.err, p.data, pool, NULL};
    if (p.exec) CHECK(p.exec(&c) == LCV_OK);
    int64_t n = lcv_tensor_numel(ref);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (dt != LCV_DTYPE_FLOAT32) {
            bad += ((uint8_t *)ref->data)[i] != ((uint8_t *)fast->data)[i];
            continue;
        }
        float a = ((float *)ref->data)[i], b = ((float *)fast->data)[i];
        if (!(fabsf(a - b) <= 1e-5f * (1.0f + fabsf(a)))) bad++;
    }
    CHECK_MSG(bad == 0, "trial %d (%s %s): %d of %lld outputs differ", trial,
              is_max ? "max" : "avg", lcv_dtype_name(dt), bad, (long long)n);
    lcv_plan_clear(&p);
    lcv_tensor_free(x);
    lcv_tensor_free(ref);
    lcv_tensor_free(fast);
    optest_free(&t);
}

static void no_plan_cases(void) {
    int64_t dims4[4] = {1, 2, 8, 8}, dims5[5] = {1, 2, 4, 4, 4}, k2[2] = {3, 3}, k3[3] = {2, 2, 2};
    int64_t dil[2] = {2, 2};
    lcv_tensor *x4 = optest_tensor(LCV_DTYPE_FLOAT32, 4, dims4, NULL);
    lcv_tensor *x5 = optest_tensor(LCV_DTYPE_FLOAT32, 5, dims5, NULL);
    optest t;
    optest_init(&t, "MaxPool", 13, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k2);
    optest_attr_ints(&t, "dilations", 2, dil);
    CHECK(make_plan(&t, x4, 1).exec == NULL); /* dilated */
    optest_free(&t);
    optest_init(&t, "MaxPool", 13, 1, 2);
    optest_attr_ints(&t, "kernel_shape", 2, k2);
    CHECK(make_plan(&t, x4, 2).exec == NULL); /* Indices wanted */
    optest_free(&t);
    optest_init(&t, "AveragePool", 13, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 3, k3);
    CHECK(make_plan(&t, x5, 1).exec == NULL); /* 3-D */
    optest_free(&t);
    lcv_tensor_free(x4);
    lcv_tensor_free(x5);
}

int main(void) {
    lcv_threadpool *pool = NULL;
    CHECK(lcv_threadpool_create(2, &pool, NULL) == LCV_OK);
    for (int trial = 0; trial < 400; trial++) run_case(trial, trial % 3 ? NULL : pool);
    no_plan_cases();
    lcv_threadpool_free(pool);
    return lcv_test_finish("kernels_pool_plan");
}
