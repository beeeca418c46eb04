/* test_qlinear_plan.c - the integer plans of src/ops/quant_plan.c (QLinearConv, ConvInteger,
 * QLinearMatMul, MatMulInteger) against the reference kernels, bit for bit, at every ISA level
 * this CPU runs with 1 and 2 threads: random 1x1, KxK with pads/strides/dilations, depthwise
 * and grouped convs with odd channel counts, int8/uint8 on each operand, scalar and
 * per-channel weight zero points and scales, bias, a fused Relu; batched products; the plan's
 * exec runs with the dropped weights' data gone; dynamic weights get no plan. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "op_test_util.h"
#include "kernels/i8-gemm/i8gemm.h"
#include "ops/plan.h"
#include "ops/quant_im2col.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int64_t rr(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static lcv_dtype q8(void) { return rnd() % 2 ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8; }

static lcv_tensor *bytes(lcv_dtype dt, int nd, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(dt, nd, dims, NULL);
    uint8_t *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t) * (dt == LCV_DTYPE_INT32 ? 4 : 1); i++)
        p[i] = (uint8_t)rnd();
    return t;
}

static lcv_tensor *scalar_f(float v) {
    double d = v;
    return optest_tensor(LCV_DTYPE_FLOAT32, 0, NULL, &d);
}

/* A zero point of dtype dt: scalar, or per channel (n entries) when per. */
static lcv_tensor *zp(lcv_dtype dt, bool per, int64_t n, bool zero) {
    int64_t d[1] = {n};
    lcv_tensor *t = optest_tensor(dt, per ? 1 : 0, d, NULL);
    for (int64_t i = 0; i < (per ? n : 1); i++) {
        int64_t v = zero ? 0 : (int64_t)(rnd() % 256) - (dt == LCV_DTYPE_INT8 ? 128 : 0);
        lcv_store_i64(dt, t->data, i, v);
    }
    return t;
}

static lcv_tensor *scales(bool per, int64_t n, float base) {
    int64_t d[1] = {n};
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, per ? 1 : 0, d, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < (per ? n : 1); i++) p[i] = base * (0.5f + (float)(rnd() % 1000) / 1000.0f);
    return t;
}

/* Plans node t (constants: is_const), runs exec (dropped inputs' data removed) and the
 * reference (with the fused Relu applied here as a clamp at y's zero point). */
static bool check(optest *t, int n_in, lcv_tensor **ins, const bool *is_const, lcv_isa isa,
                  lcv_threadpool *pool, int yzp_index, const char *what) {
    lcv_tensor shapes[9], runin[9];
    const lcv_tensor *pin[9], *rin[9];
    for (int i = 0; i < n_in; i++) {
        shapes[i] = *ins[i];
        if (!is_const[i]) shapes[i].data = NULL;
        pin[i] = &shapes[i];
    }
    lcv_tensor *yshape = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &yshape);
    lcv_opctx ic = {t->node, n_in, (const lcv_tensor *const *)ins, 1, &yshape, &t->err, NULL,
                    NULL, NULL};
    CHECK_MSG(lcv_op_table[t->node->op].infer(&ic) == LCV_OK, "%s: %s", what, t->err.msg);
    const lcv_tensor *pout[1] = {yshape};
    lcv_plan_ctx pc = {t->node, n_in, pin, 1, pout, isa, &t->err};
    lcv_plan plan = {0};
    CHECK(lcv_plan_lookup(t->node->op)(&pc, &plan) == LCV_OK);
    bool planned = plan.exec != NULL;
    lcv_fused keep = t->node->fused;
    t->node->fused.act = LCV_ACT_NONE;
    lcv_tensor *ref = NULL, *got = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &ref);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &got);
    CHECK_MSG(lcv_op_invoke(t->node, n_in, (const lcv_tensor *const *)ins, 1, &ref, &t->err) ==
              LCV_OK, "%s: reference: %s", what, t->err.msg);
    t->node->fused = keep;
    int64_t n = lcv_tensor_numel(ref);
    if (keep.act == LCV_ACT_RELU) {
        int64_t z = lcv_load_i64(ins[yzp_index]->dtype, ins[yzp_index]->data, 0);
        for (int64_t i = 0; i < n; i++)
            if (lcv_load_i64(ref->dtype, ref->data, i) < z) lcv_store_i64(ref->dtype, ref->data, i, z);
    }
    if (planned) {
        for (int i = 0; i < n_in; i++) {
            runin[i] = *ins[i];
            if (plan.drops_inputs >> i & 1u) runin[i].data = NULL;
            rin[i] = &runin[i];
        }
        lcv_scratch scratch = {NULL, 0};
        lcv_opctx c = {t->node, n_in, rin, 1, &got, &t->err, plan.data, pool, &scratch};
        CHECK(lcv_op_table[t->node->op].infer(&c) == LCV_OK);
        CHECK(lcv_tensor_reshape_alloc(got, got->dtype, got->ndim, got->dims, &t->err) == LCV_OK);
        memset(got->data, 0x5A, lcv_tensor_nbytes(got));
        lcv_status st = plan.exec(&c);
        CHECK_MSG(st == LCV_OK, "%s: %s", what, t->err.msg);
        CHECK(got->dtype == ref->dtype && lcv_shape_equal(got->ndim, got->dims, ref->ndim, ref->dims));
        int64_t bad = 0;
        for (int64_t i = 0; i < n && st == LCV_OK; i++) {
            int64_t g = lcv_load_i64(got->dtype, got->data, i), r = lcv_load_i64(ref->dtype, ref->data, i);
            if (g != r && bad++ == 0)
                fprintf(stderr, "%s isa %s: element %lld got %lld want %lld\n", what,
                        lcv_isa_name(isa), (long long)i, (long long)g, (long long)r);
        }
        CHECK_MSG(bad == 0, "%s isa %s threads %d: %lld mismatches", what, lcv_isa_name(isa),
                  lcv_threadpool_size(pool), (long long)bad);
        free(scratch.data);
    }
    lcv_plan_clear(&plan);
    lcv_tensor_free(ref);
    lcv_tensor_free(got);
    lcv_tensor_free(yshape);
    return planned;
}

typedef struct conv_case {
    int64_t batch, c, m, group, h, w, kh, kw, sh, sw, dh, dw, pads[4];
    int kind; /* 0 1x1, 1 KxK, 2 depthwise, 3 grouped (for the message) */
} conv_case;

static void run_conv(lcv_isa isa, lcv_threadpool *pool, int iter, bool integer,
                     const conv_case *cc);

static void test_conv(lcv_isa isa, lcv_threadpool *pool, int iter, bool integer) {
    int kind = iter % 4; /* 1x1, KxK, depthwise, grouped */
    int64_t group = 1, c = rr(1, 24), m = rr(1, 40), kh = rr(1, 4), kw = rr(1, 4);
    if (kind == 0) kh = kw = 1;
    if (kind == 2) {
        group = c = m = rr(2, 40);
        kh = kw = rr(0, 3) ? 3 : rr(1, 5);
    }
    if (kind == 3) {
        group = rr(2, 4);
        c = group * rr(1, 6);
        m = group * rr(1, 7);
    }
    int64_t h = rr(kh, 20), w = rr(kw, 23), batch = rr(1, 2);
    if (kind == 2 && iter % 8 == 2) w = rr(64, 100); /* wide planes: the row-pair kernel */
    if (iter % 12 == 4 || iter % 12 == 5) { /* more than one im2col chunk per B block */
        h = rr(34, 50);
        w = rr(34, 50);
        c = rr(1, 9);
        batch = 1;
    }
    int64_t sh = rr(1, 2), sw = rr(1, 2), dh = 1, dw = 1, pads[4] = {0, 0, 0, 0};
    if (kind != 0 && rnd() % 3 == 0) dh = dw = 2;
    if (kind != 0 && rnd() % 2)
        for (int i = 0; i < 4; i++) pads[i] = rr(0, kh > kw ? kw - 1 : kh - 1);
    if (kind == 0 && rnd() % 3 == 0) sh = sw = 1;
    if (kind == 0 && rnd() % 2) sh = sw = 1;
    if ((h + pads[0] + pads[2] - dh * (kh - 1) - 1) < 0 || (w + pads[1] + pads[3] - dw * (kw - 1) - 1) < 0) {
        dh = dw = 1;
        h += kh;
        w += kw;
    }
    conv_case cc = {batch, c, m, group, h, w, kh, kw, sh, sw, dh, dw,
                    {pads[0], pads[1], pads[2], pads[3]}, kind};
    run_conv(isa, pool, iter, integer, &cc);
}

/* Runs one conv geometry with random dtypes, zero points, scales, bias and Relu. */
static void run_conv(lcv_isa isa, lcv_threadpool *pool, int iter, bool integer,
                     const conv_case *cc) {
    int64_t batch = cc->batch, c = cc->c, m = cc->m, group = cc->group, h = cc->h, w = cc->w;
    int64_t kh = cc->kh, kw = cc->kw, sh = cc->sh, sw = cc->sw, dh = cc->dh;
    const int64_t *pads = cc->pads;
    int kind = cc->kind;
    lcv_dtype xt = q8(), wt = q8(), yt = q8();
    bool per = rnd() % 2, wzero = rnd() % 3 != 0, bias = rnd() % 2, relu = !integer && rnd() % 3 == 0;
    int n_in = integer ? 4 : (bias ? 9 : 8);
    optest t;
    optest_init(&t, integer ? "ConvInteger" : "QLinearConv", 10, n_in, 1);
    if (group > 1) optest_attr_int(&t, "group", group);
    optest_attr_ints(&t, "strides", 2, (int64_t[]){sh, sw});
    optest_attr_ints(&t, "dilations", 2, (int64_t[]){dh, cc->dw});
    optest_attr_ints(&t, "pads", 4, pads);
    if (relu) t.node->fused.act = LCV_ACT_RELU;
    int64_t xd[4] = {batch, c, h, w}, wd[4] = {m, c / group, kh, kw}, bd[1] = {m};
    lcv_tensor *ins[9] = {0};
    bool is_const[9] = {false, true, true, true, true, true, true, true, true};
    lcv_tensor *x = bytes(xt, 4, xd), *wts = bytes(wt, 4, wd);
    float sx = 0.02f, swt = 0.01f;
    if (integer) {
        ins[0] = x;
        ins[1] = wts;
        ins[2] = zp(xt, false, 1, false);
        ins[3] = zp(wt, per, m, wzero);
    } else {
        ins[0] = x;
        ins[1] = scalar_f(sx);
        ins[2] = zp(xt, false, 1, false);
        ins[3] = wts;
        ins[4] = scales(per, m, swt);
        ins[5] = zp(wt, per, m, wzero);
        ins[6] = scalar_f(sx * swt * 40.0f * (float)(kh * kw * c / group));
        ins[7] = zp(yt, false, 1, false);
        if (bias) {
            ins[8] = bytes(LCV_DTYPE_INT32, 1, bd);
            for (int64_t i = 0; i < m; i++) ((int32_t *)ins[8]->data)[i] %= 20000;
        }
    }
    char what[200];
    snprintf(what, sizeof what, "%s kind %d N%lld C%lld M%lld %lldx%lld k%lldx%lld s%lld,%lld "
             "d%lld g%lld x%s w%s per%d wz%d b%d relu%d", integer ? "ConvInteger" : "QLinearConv",
             kind, (long long)batch, (long long)c, (long long)m, (long long)h, (long long)w,
             (long long)kh, (long long)kw, (long long)sh, (long long)sw, (long long)dh,
             (long long)group, lcv_dtype_name(xt), lcv_dtype_name(wt), per, wzero, bias, relu);
    bool planned = check(&t, n_in, ins, is_const, isa, pool, 7, what);
    CHECK_MSG(planned, "%s: no plan", what);
    if (iter % 8 == 0) { /* dynamic weights: no plan */
        is_const[integer ? 1 : 3] = false;
        CHECK_MSG(!check(&t, n_in, ins, is_const, isa, pool, 7, what), "%s: planned with "
                  "dynamic weights", what);
    }
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
    optest_free(&t);
}

/* Fixed geometries for each way quant_im2col.c produces B: phase planes in place (with and
 * without dropped columns), built planes at strides 1-3 (the stride-2 byte picker over more
 * than one vector, dilated phases that skip planes, asymmetric pads, a stem-like 7x7), groups,
 * several column chunks, and the row gather for strides above 4 and wasteful small planes.
 * The route each takes with the VNNI kernel's 32-column panels is checked too. */
static void test_conv_routes(lcv_isa isa, lcv_threadpool *pool) {
    /* batch c m group h w kh kw sh sw dh dw pads{t,l,b,r} kind, then: phase, in place,
     * dropped columns (for nr 32) */
    static const struct {
        conv_case cc;
        bool phase, in_place, dropped;
    } cases[] = {
        {{1, 5, 13, 1, 30, 30, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1}, true, false, true},
        {{2, 3, 20, 1, 45, 41, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1}, true, false, true},
        {{1, 7, 9, 1, 40, 40, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, 0}, true, false, false},
        {{1, 4, 14, 1, 20, 20, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 1}, true, true, true},
        {{1, 4, 14, 1, 5, 5, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1}, false, false, false},
        {{1, 3, 17, 1, 31, 31, 3, 3, 3, 3, 1, 1, {1, 1, 1, 1}, 1}, true, false, false},
        {{1, 3, 5, 1, 33, 33, 3, 3, 2, 2, 2, 2, {2, 2, 2, 2}, 1}, true, false, true},
        {{1, 2, 6, 1, 10, 10, 5, 5, 5, 5, 1, 1, {0, 0, 0, 0}, 1}, false, false, false},
        {{1, 3, 16, 1, 64, 64, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, 1}, true, false, true},
        {{1, 9, 12, 1, 48, 50, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 0}, true, true, false},
        {{1, 3, 11, 1, 16, 24, 3, 3, 1, 1, 1, 1, {0, 1, 2, 0}, 1}, true, false, true},
        {{2, 6, 8, 2, 30, 30, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 3}, true, false, true},
    };
    int mr, nr;
    lcv_i8gemm_tile_dims(lcv_i8gemm_select(isa), &mr, &nr);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *cc = &cases[i].cc;
        lcv_window w;
        memset(&w, 0, sizeof w);
        w.nsp = 2;
        int64_t in[2] = {cc->h, cc->w}, k[2] = {cc->kh, cc->kw}, s[2] = {cc->sh, cc->sw};
        int64_t d[2] = {cc->dh, cc->dw};
        for (int a = 0; a < 2; a++) {
            w.in[a] = in[a];
            w.kernel[a] = k[a];
            w.stride[a] = s[a];
            w.dilation[a] = d[a];
            w.pad_begin[a] = cc->pads[a];
            w.pad_end[a] = cc->pads[a + 2];
            w.out[a] = (in[a] + cc->pads[a] + cc->pads[a + 2] - d[a] * (k[a] - 1) - 1) / s[a] + 1;
        }
        lcv_qphase g;
        bool phase = lcv_qphase_geom(&w, cc->c / cc->group, nr, &g);
        if (nr == 32)
            CHECK_MSG(phase == cases[i].phase && (!phase || (g.in_place == cases[i].in_place &&
                                                             (g.wq != g.ow) == cases[i].dropped)),
                      "route case %zu: phase %d in place %d dropped %d", i, phase,
                      phase && g.in_place, phase && g.wq != g.ow);
        for (int it = 0; it < 2; it++) run_conv(isa, pool, it + 1, it == 1, cc);
    }
}

static void test_matmul(lcv_isa isa, lcv_threadpool *pool, int iter, bool integer) {
    int64_t m = rr(1, 40), k = rr(1, 90), n = rr(1, 70), bt = rr(1, 3);
    if (iter % 7 == 0) {
        m = rr(60, 130);
        k = rr(100, 700);
        n = rr(60, 200);
    }
    int nd = (int)rr(1, 3);
    int64_t ad[3];
    if (nd == 1) ad[0] = k;
    if (nd == 2) { ad[0] = m; ad[1] = k; }
    if (nd == 3) { ad[0] = bt; ad[1] = m; ad[2] = k; }
    int64_t bd[2] = {k, n};
    lcv_dtype at = q8(), btp = q8(), yt = q8();
    bool per = rnd() % 2, bzero = rnd() % 3 != 0, relu = !integer && rnd() % 3 == 0;
    int n_in = integer ? 4 : 8;
    optest t;
    optest_init(&t, integer ? "MatMulInteger" : "QLinearMatMul", 10, n_in, 1);
    if (relu) t.node->fused.act = LCV_ACT_RELU;
    lcv_tensor *ins[8] = {0};
    bool is_const[8] = {false, true, true, true, true, true, true, true};
    lcv_tensor *a = bytes(at, nd, ad), *b = bytes(btp, 2, bd);
    if (integer) {
        ins[0] = a;
        ins[1] = b;
        ins[2] = zp(at, false, 1, false);
        ins[3] = zp(btp, per, n, bzero);
    } else {
        ins[0] = a;
        ins[1] = scalar_f(0.03f);
        ins[2] = zp(at, false, 1, false);
        ins[3] = b;
        ins[4] = scales(per, n, 0.01f);
        ins[5] = zp(btp, per, n, bzero);
        ins[6] = scalar_f(0.03f * 0.01f * 30.0f * (float)k);
        ins[7] = zp(yt, false, 1, false);
    }
    char what[160];
    snprintf(what, sizeof what, "%s nd%d M%lld K%lld N%lld a%s b%s per%d bz%d relu%d",
             integer ? "MatMulInteger" : "QLinearMatMul", nd, (long long)m, (long long)k,
             (long long)n, lcv_dtype_name(at), lcv_dtype_name(btp), per, bzero, relu);
    CHECK_MSG(check(&t, n_in, ins, is_const, isa, pool, 7, what), "%s: no plan", what);
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
        for (int th = 0; th < 2; th++) {
            lcv_threadpool *p = th ? pool : NULL;
            test_conv_routes(isa, p);
            for (int it = 0; it < 48; it++) test_conv(isa, p, it, false);
            for (int it = 0; it < 16; it++) test_conv(isa, p, it, true);
            for (int it = 0; it < 24; it++) test_matmul(isa, p, it, false);
            for (int it = 0; it < 12; it++) test_matmul(isa, p, it, true);
        }
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_qlinear_plan");
}
