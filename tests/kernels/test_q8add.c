/* test_q8add.c - the q8-add kernels (QLinearAdd with an optional fused Relu) for every ISA up
 * to the machine's best, bit for bit against the float chain's definition (quant.c's
 * DequantizeLinear, a float32 Add, QuantizeLinear) on odd lengths, exact .5 ties, saturation,
 * infinities and NaN, in place; and the qadd_plan fast exec against the reference exec of
 * qadd.c (+ the fused Relu) on 1 and 2 threads, including a broadcast it leaves to the
 * reference. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/q8-add/q8add.h"
#include "ops/plan.h"

static lcv_err err;
static uint32_t rng = 11;
/* xorshift32: every bit usable */
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* The op's definition written as the unfused nodes compute it: each DequantizeLinear stores
 * (float)(q - z) * s, Add stores the float32 sum, QuantizeLinear stores nearbyintf of the
 * float32 quotient plus z through the saturating store (NaN -> 0); a fused Relu then lifts
 * results to the zero point. */
static int32_t ref_add(int32_t a, int32_t b, const lcv_q8add_params *p, lcv_dtype dt) {
    volatile float fa = (float)(a - p->za) * p->sa; /* volatile: one rounding per step */
    volatile float fb = (float)(b - p->zb) * p->sb;
    volatile float t = fa + fb;
    uint8_t y[1];
    lcv_store_f64(dt, y, 0, (double)nearbyintf(t / p->sy) + p->zy);
    int32_t q = dt == LCV_DTYPE_UINT8 ? y[0] : (int8_t)y[0];
    return p->relu && q < p->zy ? p->zy : q;
}

/* Parameter sets: typical, exact ties (powers of two), saturation, overflow to +-Inf and NaN
 * (Inf - Inf), a zero output scale, quotients past 2^22 (beyond the kernels' rounding trick),
 * a negative output scale. */
static void params(int which, lcv_dtype dt, lcv_q8add_params *p) {
    int32_t lo = dt == LCV_DTYPE_UINT8 ? 0 : -128;
    p->za = lo + (int32_t)(next() % 256);
    p->zb = lo + (int32_t)(next() % 256);
    p->zy = lo + (int32_t)(next() % 256);
    switch (which) {
    case 0: p->sa = 0.0173f, p->sb = 0.0291f, p->sy = 0.0411f; break;
    case 1: p->sa = 0.25f, p->sb = 0.25f, p->sy = 0.5f; break;
    case 2: p->sa = 1.0f, p->sb = 0.5f, p->sy = 0.001f; break;
    case 3: p->sa = 3e38f, p->sb = 3e38f, p->sy = 1.0f; break;
    case 4: p->sa = 0.01f, p->sb = 0.02f, p->sy = 0.0f; break;
    case 5: p->sa = 1.0f, p->sb = 3.0f, p->sy = 1e-5f; break;
    default: p->sa = 0.0173f, p->sb = 0.0291f, p->sy = -0.0411f; break;
    }
}

static void test_kernels(lcv_isa isa) {
    const lcv_q8add_kernels *k = lcv_q8add_kernels_for(isa);
    const int64_t lens[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099};
    uint8_t *a = malloc(4100), *b = malloc(4100), *y = malloc(4101), *want = malloc(4100);
    int bad = 0, checked = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        for (int variant = 0; variant < 7 * 2 * 2 * 2; variant++) {
            lcv_dtype dt = variant & 1 ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8;
            bool in_place = variant & 4;
            lcv_q8add_params p;
            params(variant / 8, dt, &p);
            p.relu = (variant & 2) != 0;
            for (int64_t i = 0; i < n; i++) a[i] = (uint8_t)next(), b[i] = (uint8_t)next();
            for (int64_t i = 0; i < n; i++) {
                int32_t va = dt == LCV_DTYPE_UINT8 ? a[i] : (int8_t)a[i];
                int32_t vb = dt == LCV_DTYPE_UINT8 ? b[i] : (int8_t)b[i];
                want[i] = (uint8_t)ref_add(va, vb, &p, dt);
            }
            uint8_t *out = in_place ? a : y;
            y[n] = 0xA5;
            if (dt == LCV_DTYPE_UINT8) k->add_u8(a, b, out, n, &p);
            else k->add_i8((const int8_t *)a, (const int8_t *)b, (int8_t *)out, n, &p);
            for (int64_t i = 0; i < n; i++, checked++)
                if (out[i] != want[i] && bad++ < 5)
                    fprintf(stderr, "  %s %s n %lld [%lld] set %d relu %d: %d, want %d\n",
                            lcv_isa_name(isa), lcv_dtype_name(dt), (long long)n, (long long)i,
                            variant / 8, p.relu, out[i], want[i]);
            if (y[n] != 0xA5) bad++;
        }
    }
    CHECK_MSG(bad == 0, "isa %s: %d of %d values differ from the definition", lcv_isa_name(isa),
              bad, checked);
    free(a);
    free(b);
    free(y);
    free(want);
}

/* Where no NaN can arise (finite scales, a nonzero output scale), a Relu lifted to the
 * integers is the Relu before quantizing, which is what the unfused graph runs. */
static void test_relu_order(void) {
    int bad = 0;
    for (int t = 0; t < 200000; t++) {
        lcv_dtype dt = t & 1 ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8;
        lcv_q8add_params p;
        params(t % 3 == 2 ? 5 : t % 3, dt, &p);
        p.relu = 1;
        int32_t lo = dt == LCV_DTYPE_UINT8 ? 0 : -128;
        int32_t a = lo + (int32_t)(next() % 256), b = lo + (int32_t)(next() % 256);
        volatile float fa = (float)(a - p.za) * p.sa, fb = (float)(b - p.zb) * p.sb;
        volatile float s = fa + fb;
        float r = s > 0.0f ? s : 0.0f;
        uint8_t y[1];
        lcv_store_f64(dt, y, 0, (double)nearbyintf(r / p.sy) + p.zy);
        int32_t chain = dt == LCV_DTYPE_UINT8 ? y[0] : (int8_t)y[0];
        if (chain != lcv_q8add1(a, b, &p, lo, lo + 255)) bad++;
    }
    CHECK_MSG(bad == 0, "Relu after quantizing differs from before in %d cases", bad);
}

/* ---- the plan against the reference exec ---- */

static lcv_tensor *tensor(lcv_dtype dt, int nd, const int64_t *dims) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    return t;
}

static lcv_tensor *scalar_f(float v) {
    lcv_tensor *t = tensor(LCV_DTYPE_FLOAT32, 0, NULL);
    *(float *)t->data = v;
    return t;
}

static lcv_tensor *scalar_q(lcv_dtype dt, int32_t v) {
    lcv_tensor *t = tensor(dt, 0, NULL);
    *(uint8_t *)t->data = (uint8_t)v;
    return t;
}

/* QLinearAdd on a and b (+ Relu) by the reference and by the plan of isa on `threads`
 * threads: outputs must be identical. */
static void run_plan(lcv_tensor *a, lcv_tensor *b, bool relu, lcv_isa isa, int threads) {
    lcv_dtype dt = a->dtype;
    int32_t lo = dt == LCV_DTYPE_UINT8 ? 0 : -128;
    lcv_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)"qadd";
    node.op_type = (char *)"QLinearAdd";
    node.domain = (char *)"com.microsoft";
    node.op = lcv_op_lookup("QLinearAdd", "com.microsoft");
    node.opset = 1;
    node.fused.residual = -1;
    node.fused.act = relu ? LCV_ACT_RELU : LCV_ACT_NONE;
    CHECK(node.op == LCV_OP_QLinearAdd);
    lcv_tensor *par[6] = {scalar_f(0.0173f), scalar_q(dt, lo + 131), scalar_f(0.0291f),
                          scalar_q(dt, lo + 90), scalar_f(0.0411f), scalar_q(dt, lo + 140)};
    const lcv_tensor *in[8] = {a, par[0], par[1], b, par[2], par[3], par[4], par[5]};
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[LCV_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int64_t da = d < nd - a->ndim ? 1 : a->dims[d - (nd - a->ndim)];
        int64_t db = d < nd - b->ndim ? 1 : b->dims[d - (nd - b->ndim)];
        dims[d] = da > db ? da : db;
    }
    lcv_tensor *ya = tensor(dt, nd, dims), *yb = tensor(dt, nd, dims);
    lcv_tensor *outs_a[1] = {ya}, *outs_b[1] = {yb};
    lcv_opctx ca = {&node, 8, in, 1, outs_a, &err, NULL, NULL, NULL};
    lcv_status st = lcv_op_table[node.op].exec(&ca);
    if (st == LCV_OK) st = lcv_op_apply_fused(&ca);
    CHECK_MSG(st == LCV_OK, "reference: %s", err.msg);
    lcv_plan_ctx pc = {&node, 8, in, 1, (const lcv_tensor *const *)outs_b, isa, &err};
    lcv_plan plan = {0};
    CHECK(lcv_plan_lookup(node.op)(&pc, &plan) == LCV_OK && plan.exec);
    lcv_threadpool *pool = NULL;
    CHECK(lcv_threadpool_create(threads, &pool, &err) == LCV_OK);
    lcv_opctx cb = {&node, 8, in, 1, outs_b, &err, plan.data, pool, NULL};
    if (plan.exec) CHECK_MSG(plan.exec(&cb) == LCV_OK, "plan: %s", err.msg);
    CHECK_MSG(memcmp(ya->data, yb->data, (size_t)lcv_tensor_count(ya)) == 0,
              "%s %s relu %d, %d threads, b rank %d: plan differs", lcv_isa_name(isa),
              lcv_dtype_name(dt), relu, threads, b->ndim);
    /* the reference really ran something: a Relu leaves nothing below the zero point */
    if (relu)
        for (int64_t i = 0; i < lcv_tensor_count(ya); i++)
            if (lcv_load_i64(dt, ya->data, i) < lo + 140) {
                CHECK_MSG(false, "Relu not applied at [%lld]", (long long)i);
                break;
            }
    lcv_threadpool_free(pool);
    lcv_plan_clear(&plan);
    for (int i = 0; i < 6; i++) lcv_tensor_free(par[i]);
    lcv_tensor_free(ya);
    lcv_tensor_free(yb);
}

static void test_plans(lcv_isa isa) {
    /* big enough for two threads to split it, odd so the split and the tail cut vectors */
    int64_t dims[4] = {3, 5, 97, 71}, bd[4] = {1, 5, 1, 71}, n = 3 * 5 * 97 * 71;
    for (int s = 0; s < 2; s++) {
        lcv_dtype dt = s ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8;
        lcv_tensor *a = tensor(dt, 4, dims), *b = tensor(dt, 4, dims), *bb = tensor(dt, 4, bd);
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)a->data)[i] = (uint8_t)next(), ((uint8_t *)b->data)[i] = (uint8_t)next();
        for (int64_t i = 0; i < 5 * 71; i++) ((uint8_t *)bb->data)[i] = (uint8_t)next();
        for (int relu = 0; relu < 2; relu++) {
            for (int threads = 1; threads <= 2; threads++) run_plan(a, b, relu, isa, threads);
            run_plan(a, bb, relu, isa, 2); /* broadcast: the reference's path */
        }
        lcv_tensor_free(a);
        lcv_tensor_free(b);
        lcv_tensor_free(bb);
    }
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    test_relu_order();
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        printf("isa %s\n", lcv_isa_name(isa));
        test_kernels(isa);
        test_plans(isa);
    }
    return lcv_test_finish("test_q8add");
}
