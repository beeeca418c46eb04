/* test_q8cvt.c - the q8-cvt kernels (QuantizeLinear/DequantizeLinear float32 <-> int8/uint8)
 * for every ISA up to the machine's best, bit for bit against the reference's definition on
 * odd lengths, exact .5 ties, saturation, NaN, infinities and -0; and the qdq_plan fast exec
 * against the reference exec of quant.c, per tensor and per axis, on 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/q8-cvt/q8cvt.h"
#include "ops/plan.h"

static lcv_err err;
static uint32_t rng = 7;
/* xorshift32: every bit usable (an LCG's low bits cycle, and pick cases in a fixed pattern) */
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* What quant.c's reference stores for one value: float32 division, nearbyintf, + zp in
 * double, saturating store (NaN -> 0). */
static int32_t ref_quant(float x, float s, int32_t z, lcv_dtype dt) {
    uint8_t b[4] = {0};
    lcv_store_f64(dt, b, 0, (double)nearbyintf(x / s) + z);
    return dt == LCV_DTYPE_UINT8 ? b[0] : (int8_t)b[0];
}

/* Inputs that hit every case: ties at +-(k + .5) steps (the scale is a power of two, so they
 * are exact), values far past both ends, NaN, +-Inf, -0, tiny values, then random ones. */
static void fill(float *x, int64_t n, float s) {
    const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-40f, -1e-40f, 1e30f, -1e30f,
                             0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 127.5f, -128.5f, 255.5f,
                             -127.5f, 126.5f, 254.5f, 1e9f, -1e9f};
    int ns = (int)(sizeof special / sizeof special[0]);
    for (int64_t i = 0; i < n; i++) {
        uint32_t r = next();
        if (r % 4 == 0) {
            float sp = special[(r >> 8) % (uint32_t)ns];
            x[i] = isfinite(sp) && fabsf(sp) < 1e3f ? sp * s : sp; /* ties scale exactly */
        } else if (r % 4 == 1) x[i] = ((float)((int32_t)(next() % 700) - 350) + 0.5f) * s;
        else x[i] = ((float)(next() % 2000001) / 1000.0f - 1000.0f) * s * 0.4f;
    }
}

static void test_kernels(lcv_isa isa) {
    const lcv_q8cvt_kernels *k = lcv_q8cvt_kernels_for(isa);
    const int64_t lens[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099};
    float *x = malloc(sizeof(float) * 4100), *yf = malloc(sizeof(float) * 4101);
    uint8_t *yq = malloc(4101);
    int bad = 0, checked = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        for (int variant = 0; variant < 4; variant++) {
            lcv_dtype dt = variant & 1 ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8;
            float s = variant & 2 ? 0.03125f : 0.0173f;
            int32_t z = dt == LCV_DTYPE_UINT8 ? (int32_t)(next() % 256) : (int32_t)(next() % 256) - 128;
            fill(x, n, s);
            yq[n] = 0xA5;
            if (dt == LCV_DTYPE_UINT8) k->quant_u8(x, s, z, yq, n);
            else k->quant_i8(x, s, z, (int8_t *)yq, n);
            for (int64_t i = 0; i < n; i++) {
                int32_t got = dt == LCV_DTYPE_UINT8 ? yq[i] : (int8_t)yq[i];
                int32_t want = ref_quant(x[i], s, z, dt);
                if (got != want && bad++ < 5)
                    fprintf(stderr, "  %s quant %s n %lld [%lld]: x %.9g s %g z %d: %d, want %d\n",
                            lcv_isa_name(isa), lcv_dtype_name(dt), (long long)n, (long long)i,
                            (double)x[i], (double)s, z, got, want);
                checked++;
            }
            if (yq[n] != 0xA5) bad++;
            /* dequantize every byte value, shifted so each length sees all of them */
            for (int64_t i = 0; i < n; i++) yq[i] = (uint8_t)(i * 37 + variant);
            yf[n] = 12345.0f;
            if (dt == LCV_DTYPE_UINT8) k->dequant_u8(yq, s, z, yf, n);
            else k->dequant_i8((const int8_t *)yq, s, z, yf, n);
            for (int64_t i = 0; i < n; i++) {
                int32_t q = dt == LCV_DTYPE_UINT8 ? yq[i] : (int8_t)yq[i];
                float want = (float)(q - z) * s;
                if (memcmp(&want, &yf[i], sizeof want) != 0 && bad++ < 5)
                    fprintf(stderr, "  %s dequant %s [%lld]: %.9g, want %.9g\n", lcv_isa_name(isa),
                            lcv_dtype_name(dt), (long long)i, (double)yf[i], (double)want);
                checked++;
            }
            if (yf[n] != 12345.0f) bad++;
        }
    }
    CHECK_MSG(bad == 0, "isa %s: %d of %d values differ from the reference", lcv_isa_name(isa),
              bad, checked);
    free(x);
    free(yf);
    free(yq);
}

/* ---- the plan against the reference exec ---- */

static lcv_tensor *tensor(lcv_dtype dt, int nd, const int64_t *dims) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    return t;
}

/* Runs op (QuantizeLinear or DequantizeLinear, opset 13, the given axis) with the reference
 * and with the plan of isa on `threads` threads; outputs must be identical. */
static void run_plan(const char *op, int axis, lcv_tensor *x, lcv_tensor *s, lcv_tensor *z,
                     lcv_isa isa, int threads) {
    lcv_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)"qdq";
    node.op_type = (char *)op;
    node.domain = (char *)"";
    node.op = lcv_op_lookup(op, "");
    node.opset = 13;
    node.fused.residual = -1;
    lcv_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.name = (char *)"axis";
    attr.type = LCV_ATTR_INT;
    attr.i = axis;
    node.attrs = &attr;
    node.n_attrs = 1;
    const lcv_tensor *in[3] = {x, s, z};
    bool quant = node.op == LCV_OP_QuantizeLinear;
    lcv_dtype ydt = quant ? (z ? z->dtype : LCV_DTYPE_UINT8) : LCV_DTYPE_FLOAT32;
    lcv_tensor *ya = tensor(ydt, x->ndim, x->dims), *yb = tensor(ydt, x->ndim, x->dims);
    lcv_tensor *outs_a[1] = {ya}, *outs_b[1] = {yb};
    lcv_opctx ca = {&node, z ? 3 : 2, in, 1, outs_a, &err, NULL, NULL, NULL};
    CHECK_MSG(lcv_op_table[node.op].exec(&ca) == LCV_OK, "%s reference: %s", op, err.msg);
    lcv_plan_ctx pc = {&node, z ? 3 : 2, in, 1, (const lcv_tensor *const *)outs_b, isa, &err};
    lcv_plan plan = {0};
    CHECK(lcv_plan_lookup(node.op)(&pc, &plan) == LCV_OK && plan.exec);
    lcv_threadpool *pool = NULL;
    CHECK(lcv_threadpool_create(threads, &pool, &err) == LCV_OK);
    lcv_opctx cb = {&node, z ? 3 : 2, in, 1, outs_b, &err, plan.data, pool, NULL};
    if (plan.exec) CHECK_MSG(plan.exec(&cb) == LCV_OK, "%s plan: %s", op, err.msg);
    size_t bytes = lcv_dtype_size(ydt) * (size_t)lcv_tensor_count(ya);
    CHECK_MSG(memcmp(ya->data, yb->data, bytes) == 0, "%s %s axis %d, %d threads: plan differs",
              op, lcv_isa_name(isa), axis, threads);
    lcv_threadpool_free(pool);
    lcv_plan_clear(&plan);
    lcv_tensor_free(ya);
    lcv_tensor_free(yb);
}

static void test_plans(lcv_isa isa) {
    /* big enough for two threads to split it; odd dims so channel runs cross vector tiles */
    int64_t dims[4] = {3, 5, 97, 71}, n = 3 * 5 * 97 * 71;
    lcv_tensor *x = tensor(LCV_DTYPE_FLOAT32, 4, dims), *xq = tensor(LCV_DTYPE_INT8, 4, dims);
    fill(x->data, n, 0.02f);
    for (int64_t i = 0; i < n; i++) ((int8_t *)xq->data)[i] = (int8_t)next();
    for (int axis = -1; axis < 4; axis++) {
        int64_t ns = axis < 0 ? 1 : dims[axis];
        lcv_tensor *s = tensor(LCV_DTYPE_FLOAT32, axis < 0 ? 0 : 1, &ns);
        lcv_tensor *z = tensor(LCV_DTYPE_INT8, axis < 0 ? 0 : 1, &ns);
        for (int64_t c = 0; c < ns; c++) {
            ((float *)s->data)[c] = 0.02f * (1.0f + 0.07f * (float)c);
            ((int8_t *)z->data)[c] = (int8_t)((int32_t)(next() % 41) - 20);
        }
        for (int threads = 1; threads <= 2; threads++) {
            run_plan("QuantizeLinear", axis < 0 ? 1 : axis, x, s, z, isa, threads);
            run_plan("DequantizeLinear", axis < 0 ? 1 : axis, xq, s, z, isa, threads);
        }
        if (axis < 0) run_plan("QuantizeLinear", 1, x, s, NULL, isa, 2); /* uint8, zp 0 */
        lcv_tensor_free(s);
        lcv_tensor_free(z);
    }
    lcv_tensor_free(x);
    lcv_tensor_free(xq);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        printf("isa %s\n", lcv_isa_name(isa));
        test_kernels(isa);
        test_plans(isa);
    }
    return lcv_test_finish("test_q8cvt");
}
