/* test_pool2d.c - the separable pooling kernel (src/kernels/f32-pool) through the pool plan
 * (src/ops/pool_plan.c) for every ISA level: against the reference MaxPool/AveragePool on
 * random odd geometries (H/W 1..17, kernels 1..5, strides 1..4, asymmetric pads, ceil_mode,
 * count_include_pad), every ISA bit-identical to scalar (NaN inputs included), 1 vs 2 threads
 * bit-identical, and rows too wide for the kernel's buffers (the generic loop). */
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "kernels/f32-pool/pool2d.h"
#include "op_test_util.h"
#include "ops/plan.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static int64_t rndi(int64_t lo, int64_t hi) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

/* Runs the plan of node t for isa on x into a new tensor shaped like ref. */
static lcv_tensor *run_fast(optest *t, const lcv_tensor *x, const lcv_tensor *ref, lcv_isa isa,
                            lcv_threadpool *pool) {
    lcv_plan p = {0};
    const lcv_tensor *ins[1] = {x}, *outs[1] = {ref};
    lcv_plan_ctx pc = {t->node, 1, ins, 1, outs, isa, &t->err};
    CHECK(lcv_plan_lookup(t->node->op)(&pc, &p) == LCV_OK);
    CHECK(p.exec != NULL && p.data != NULL);
    lcv_tensor *y = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, ref->ndim, ref->dims, &y);
    lcv_opctx c = {t->node, 1, ins, 1, &y, &t->err, p.data, pool, NULL};
    if (p.exec) CHECK(p.exec(&c) == LCV_OK);
    lcv_plan_clear(&p);
    return y;
}

typedef struct pcase {
    bool is_max, ceil, cip;
    int64_t dims[4], k[2], s[2], pads[4];
} pcase;

static void random_case(pcase *pc, int trial, int64_t max_hw) {
    pc->is_max = trial % 2 == 0;
    for (int i = 0; i < 2; i++) {
        pc->k[i] = rndi(1, 5);
        pc->s[i] = rndi(1, 4);
        pc->pads[i] = rndi(0, pc->k[i] - 1);
        pc->pads[i + 2] = rndi(0, pc->k[i] - 1);
        int64_t need = pc->k[i] - pc->pads[i] - pc->pads[i + 2]; /* at least one window */
        pc->dims[2 + i] = rndi(need < 1 ? 1 : need, max_hw);
    }
    pc->dims[0] = rndi(1, 2);
    pc->dims[1] = rndi(1, 5);
    pc->ceil = rndi(0, 1);
    pc->cip = rndi(0, 1);
}

static void set_attrs(optest *t, const pcase *pc) {
    optest_init(t, pc->is_max ? "MaxPool" : "AveragePool", 13, 1, 1);
    optest_attr_ints(t, "kernel_shape", 2, pc->k);
    optest_attr_ints(t, "strides", 2, pc->s);
    optest_attr_ints(t, "pads", 4, pc->pads);
    optest_attr_int(t, "ceil_mode", pc->ceil);
    if (!pc->is_max) optest_attr_int(t, "count_include_pad", pc->cip);
}

static const char *case_str(const pcase *pc, char *buf, size_t n) {
    snprintf(buf, n, "%s x[%lld,%lld,%lld,%lld] k%lldx%lld s%lldx%lld pads %lld,%lld,%lld,%lld "
             "ceil %d cip %d", pc->is_max ? "max" : "avg", (long long)pc->dims[0],
             (long long)pc->dims[1], (long long)pc->dims[2], (long long)pc->dims[3],
             (long long)pc->k[0], (long long)pc->k[1], (long long)pc->s[0], (long long)pc->s[1],
             (long long)pc->pads[0], (long long)pc->pads[1], (long long)pc->pads[2],
             (long long)pc->pads[3], pc->ceil, pc->cip);
    return buf;
}

/* One geometry: every ISA against the reference; ISAs and thread counts bit-identical. */
static void check_case(const pcase *pc, lcv_isa best, lcv_threadpool *pool, bool with_nan) {
    optest t;
    set_attrs(&t, pc);
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, pc->dims, NULL);
    float *px = x->data;
    int64_t nx = lcv_tensor_numel(x);
    for (int64_t i = 0; i < nx; i++) px[i] = (float)rndi(-1000, 1000) / 64.0f;
    lcv_tensor *ref = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &ref);
    const lcv_tensor *ins[1] = {x};
    CHECK(optest_run(&t, 1, ins, 1, &ref) == LCV_OK);
    if (with_nan) /* after the reference: it keeps a NaN first tap, the fast path skips NaN */
        for (int64_t i = 0; i < nx; i += 7) px[i] = NAN;
    char desc[200];
    case_str(pc, desc, sizeof desc);
    int64_t n = lcv_tensor_numel(ref);
    lcv_tensor *y0 = run_fast(&t, x, ref, LCV_ISA_SCALAR, NULL);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        lcv_tensor *y1 = run_fast(&t, x, ref, isa, NULL), *y2 = run_fast(&t, x, ref, isa, pool);
        int bad = 0;
        for (int64_t i = 0; i < n && !with_nan; i++) {
            float a = ((float *)ref->data)[i], b = ((float *)y1->data)[i];
            bool ok = pc->is_max ? a == b : fabsf(a - b) <= 2e-6f * (1.0f + fabsf(a));
            if (!ok && bad++ == 0)
                fprintf(stderr, "  %s isa %s: element %lld: %.9g vs reference %.9g\n", desc,
                        lcv_isa_name(isa), (long long)i, (double)b, (double)a);
        }
        CHECK_MSG(bad == 0, "%s isa %s: %d of %lld outputs differ", desc, lcv_isa_name(isa),
                  bad, (long long)n);
        size_t bytes = sizeof(float) * (size_t)n;
        CHECK_MSG(memcmp(y1->data, y2->data, bytes) == 0, "%s isa %s: 1 vs 2 threads differ",
                  desc, lcv_isa_name(isa));
        CHECK_MSG(memcmp(y0->data, y1->data, bytes) == 0, "%s isa %s%s: differs from scalar",
                  desc, lcv_isa_name(isa), with_nan ? " (NaN inputs)" : "");
        lcv_tensor_free(y1);
        lcv_tensor_free(y2);
    }
    lcv_tensor_free(y0);
    lcv_tensor_free(ref);
    lcv_tensor_free(x);
    optest_free(&t);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    CHECK(lcv_threadpool_create(2, &pool, NULL) == LCV_OK);
    pcase pc;
    for (int trial = 0; trial < 400; trial++) {
        random_case(&pc, trial, 17);
        check_case(&pc, best, pool, false);
    }
    for (int trial = 0; trial < 40; trial++) {
        random_case(&pc, trial, 40);
        check_case(&pc, best, pool, trial % 4 < 2);
    }
    /* the stems of squeezenet (3x3 s2 ceil) and resnet (3x3 s2 p1) */
    pcase sq = {true, true, false, {1, 3, 111, 111}, {3, 3}, {2, 2}, {0, 0, 0, 0}};
    pcase rn = {true, false, false, {1, 3, 112, 112}, {3, 3}, {2, 2}, {1, 1, 1, 1}};
    check_case(&sq, best, pool, false);
    check_case(&rn, best, pool, false);
    /* rows wider than the kernel's buffers: the plan's generic loop */
    pcase wide = {false, true, true, {1, 2, 3, LCV_POOL2D_MAX_ROW + 37}, {2, 3}, {1, 1},
                  {1, 1, 1, 2}};
    check_case(&wide, best, pool, false);
    wide.is_max = true;
    check_case(&wide, best, pool, false);
    lcv_threadpool_free(pool);
    return lcv_test_finish("kernels_pool2d");
}
