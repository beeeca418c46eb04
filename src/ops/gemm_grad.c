/* gemm_grad.c - the backward of Gemm (dA, dB through the packed GEMM; dC reduced over the
 * dims C was broadcast along) and the helpers every GEMM-shaped backward shares (gemm_grad.h):
 * validation against the forward's infer, scratch memory, and accumulating products. */
#include <stdlib.h>
#include <string.h>

#include "../core/threadpool.h"
#include "../kernels/f32-gemm/gemm.h"
#include "../kernels/f32-gemm/gemm_internal.h"
#include "../kernels/f32-sums/sums.h"
#include "gemm_grad.h"
#include "grad_util.h"

lcv_isa lcv_grad_isa(void) { return lcv_isa_choose(LCV_ISA_AUTO); }

static lcv_status check_float(lcv_gradctx *c, const lcv_tensor *t, const char *what, int i) {
    if (t->dtype != LCV_DTYPE_FLOAT32)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "%s %d is %s; training runs in float32 only",
                             what, i, lcv_dtype_name(t->dtype));
    if (!t->data && lcv_tensor_count(t) > 0)
        return lcv_grad_fail(c, LCV_ERR_INVALID_ARG, "%s %d has no data", what, i);
    return LCV_OK;
}

lcv_status lcv_grad_check(lcv_gradctx *c, lcv_tensor *out0) {
    const lcv_node *node = c->node;
    if (node->fused.act != LCV_ACT_NONE || node->fused.residual >= 0)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "a node with a fused activation or "
                             "residual has no backward (train the graph before fusing it)");
    if (c->n_out < 1 || c->n_out > 8)
        return lcv_grad_fail(c, LCV_ERR_INVALID_ARG, "%d outputs", c->n_out);
    lcv_tensor outs[8];
    lcv_tensor *po[8];
    for (int i = 0; i < c->n_out; i++) {
        lcv_tensor_init(&outs[i]);
        po[i] = &outs[i];
    }
    lcv_opctx oc = {node, c->n_in, c->in, c->n_out, po, c->err, NULL, NULL, NULL};
    lcv_status st = lcv_op_table[node->op].infer(&oc);
    if (st == LCV_DEFERRED)
        return lcv_grad_fail(c, LCV_ERR_INTERNAL, "the forward's shapes are not known");
    if (st != LCV_OK) return st;
    for (int i = 0; i < c->n_in; i++) {
        const lcv_tensor *t = c->in[i];
        if (t && (st = check_float(c, t, "input", i)) != LCV_OK) return st;
        lcv_tensor *d = lcv_grad_din(c, i);
        if (!d) continue;
        if (!t)
            return lcv_grad_fail(c, LCV_ERR_INVALID_ARG, "a gradient is wanted for absent "
                                 "input %d", i);
        if ((st = check_float(c, d, "input gradient", i)) != LCV_OK) return st;
        if (!lcv_shape_equal(d->ndim, d->dims, t->ndim, t->dims)) {
            char sd[128], sx[128];
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "gradient of input %d is %s but the input "
                                 "is %s", i, lcv_shape_str(d->ndim, d->dims, sd, sizeof sd),
                                 lcv_shape_str(t->ndim, t->dims, sx, sizeof sx));
        }
    }
    const lcv_tensor *dy = c->dout ? c->dout[0] : NULL;
    if (dy) {
        if ((st = check_float(c, dy, "output gradient", 0)) != LCV_OK) return st;
        if (!lcv_shape_equal(dy->ndim, dy->dims, outs[0].ndim, outs[0].dims)) {
            char sd[128], so[128];
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "gradient of output 0 is %s but the output "
                                 "is %s", lcv_shape_str(dy->ndim, dy->dims, sd, sizeof sd),
                                 lcv_shape_str(outs[0].ndim, outs[0].dims, so, sizeof so));
        }
    }
    if (out0) {
        out0->dtype = outs[0].dtype;
        out0->ndim = outs[0].ndim;
        memcpy(out0->dims, outs[0].dims, sizeof out0->dims);
    }
    return LCV_OK;
}

float *lcv_grad_floats(lcv_gradctx *c, size_t n, void **owned) {
    *owned = NULL;
    size_t bytes;
    if (!lcv_mul_size(n ? n : 1, sizeof(float), &bytes)) {
        lcv_grad_fail(c, LCV_ERR_NOMEM, "scratch of %zu floats is too large", n);
        return NULL;
    }
    if (c->scratch) {
        float *p = lcv_grad_scratch(c, bytes);
        if (!p) lcv_grad_fail(c, LCV_ERR_NOMEM, "out of memory for %zu bytes of scratch", bytes);
        return p;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) {
        lcv_grad_fail(c, LCV_ERR_NOMEM, "out of memory for %zu bytes of scratch", bytes);
        return NULL;
    }
    *owned = p;
    return p;
}

bool lcv_grad_round16(size_t n, size_t *out) {
    if (n > SIZE_MAX - 15) return false;
    *out = (n + 15) & ~(size_t)15;
    return true;
}

/* The GEMM's epilogue adds a residual only after the last K block has overwritten C, so a
 * residual that aliases C (our accumulation) is only right when k fits in one block: longer
 * products are issued in chunks of LCV_GEMM_KC, each adding to what the previous left in C. */
size_t lcv_grad_mm_pack_floats(lcv_isa isa, int64_t k, int64_t n) {
    int64_t kc = k < LCV_GEMM_KC ? k : LCV_GEMM_KC;
    if (kc < 1 || n < 1) return 0;
    return lcv_gemm_pack_b_size(isa, kc, n) / sizeof(float);
}

lcv_status lcv_grad_mm(lcv_gradctx *c, lcv_isa isa, int64_t m, int64_t n, int64_t k,
                       lcv_grad_mat a, lcv_grad_mat b, float alpha, float *cc, int64_t ldc,
                       bool acc, float *pack) {
    if (m < 1 || n < 1) return LCV_OK;
    if (k < 1) {
        if (!acc)
            for (int64_t i = 0; i < m; i++) memset(cc + i * ldc, 0, sizeof(float) * (size_t)n);
        return LCV_OK;
    }
    bool packed = b.trans || alpha != 1.0f;
    /* One call does the whole product when nothing accumulates or is packed in chunks. */
    int64_t step = (!acc && !packed) ? k : LCV_GEMM_KC;
    lcv_err err;
    for (int64_t k0 = 0; k0 < k; k0 += step) {
        int64_t kc = k - k0 < step ? k - k0 : step;
        const float *ap = a.data + (a.trans ? k0 * a.ld : k0);
        const float *bp = b.data + (b.trans ? k0 : k0 * b.ld);
        lcv_gemm_operand ob = {bp, b.ld, false, false};
        if (packed) {
            lcv_gemm_pack_b(isa, kc, n, bp, b.ld, b.trans, alpha, pack);
            ob.data = pack;
            ob.ld = 0;
            ob.packed = true;
        }
        bool add = acc || k0 > 0;
        lcv_gemm_epilogue epi = {NULL, false, cc, ldc, NULL};
        lcv_gemm_args g = {isa, m, n, kc, {ap, a.ld, a.trans, false}, ob, cc, ldc,
                           add ? &epi : NULL};
        if (lcv_gemm_run(&g, c->pool, &err) != LCV_OK)
            return lcv_grad_fail(c, LCV_ERR_INTERNAL, "%s", err.msg);
    }
    return LCV_OK;
}

typedef struct channel_sums_task {
    int64_t batch, channels, plane;
    const float *src;
    float *dst;
    const lcv_f32_sums *kern;
} channel_sums_task;

static void channel_sums_range(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const channel_sums_task *t = ctx;
    for (int64_t ch = begin; ch < end; ch++) {
        double s = 0.0;
        for (int64_t n = 0; n < t->batch; n++)
            s += t->kern->sum(t->src + (n * t->channels + ch) * t->plane, t->plane);
        t->dst[ch] = (float)s;
    }
}

void lcv_grad_channel_sums(lcv_gradctx *c, int64_t batch, int64_t channels, int64_t plane,
                           const float *src, float *dst) {
    channel_sums_task t = {batch, channels, plane, src, dst, lcv_f32_sums_for(lcv_grad_isa())};
    int64_t per = batch * plane;
    lcv_threadpool_parallel_for(c->pool, channels, LCV_GRADU_GRAIN / (per + 1) + 1,
                                channel_sums_range, &t);
}

/* ---- Gemm: Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A, B' likewise ---------- */

static void zero_tensor(lcv_tensor *t) {
    if (t) memset(t->data, 0, sizeof(float) * (size_t)lcv_tensor_count(t));
}

/* dC: beta * dY summed over the dims along which C ([cm, cn] right-aligned) was broadcast. */
static void gemm_dc(int64_t m, int64_t n, int64_t cm, int64_t cn, float beta, const float *dy,
                    float *dc) {
    if (cm == m && cn == n) {
        for (int64_t i = 0; i < m * n; i++) dc[i] = beta * dy[i];
        return;
    }
    if (cm == m) { /* [M, 1]: row sums */
        for (int64_t i = 0; i < m; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < n; j++) s += dy[i * n + j];
            dc[i] = (float)(beta * s);
        }
        return;
    }
    /* [N] / [1, N] (cn == n): column sums; a scalar (cn == 1): the sum of all, row by row. */
    if (cn == 1) {
        double s = 0.0;
        for (int64_t i = 0; i < m * n; i++) s += dy[i];
        dc[0] = (float)(beta * s);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < m; i++) s += dy[i * n + j];
        dc[j] = (float)(beta * s);
    }
}

lcv_status lcv_grad_gemm(lcv_gradctx *c) {
    lcv_status st = lcv_grad_check(c, NULL);
    if (st != LCV_OK) return st;
    const lcv_tensor *ta_ = c->in[0], *tb_ = c->in[1], *tc_ = lcv_grad_input(c, 2);
    lcv_tensor *da = lcv_grad_din(c, 0), *db = lcv_grad_din(c, 1), *dc = lcv_grad_din(c, 2);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    bool ta = lcv_attr_int(c->node, "transA", 0) != 0, tb = lcv_attr_int(c->node, "transB", 0) != 0;
    int64_t m = ta_->dims[ta ? 1 : 0], k = ta_->dims[ta ? 0 : 1], n = tb_->dims[tb ? 0 : 1];
    float alpha = lcv_attr_float(c->node, "alpha", 1.0f);
    float beta = lcv_attr_float(c->node, "beta", 1.0f);
    if (!dyt) {
        zero_tensor(da);
        zero_tensor(db);
        zero_tensor(dc);
        return LCV_OK;
    }
    const float *dy = dyt->data, *a = ta_->data, *b = tb_->data;
    if (dc) {
        int64_t cm = 1, cn = 1;
        if (tc_->ndim == 2) {
            cm = tc_->dims[0];
            cn = tc_->dims[1];
        } else if (tc_->ndim == 1) {
            cn = tc_->dims[0];
        }
        gemm_dc(m, n, cm, cn, beta, dy, dc->data);
    }
    if (!da && !db) return LCV_OK;
    lcv_isa isa = lcv_grad_isa();
    size_t pa = da ? lcv_grad_mm_pack_floats(isa, n, ta ? m : k) : 0;
    size_t pb = db ? lcv_grad_mm_pack_floats(isa, m, tb ? k : n) : 0;
    void *owned;
    float *pack = lcv_grad_floats(c, pa > pb ? pa : pb, &owned);
    if (!pack) return LCV_ERR_NOMEM;
    lcv_grad_mat mdy = {dy, n, false}, mdyt = {dy, n, true};
    if (da && !ta) /* dA [M, K] = alpha dY B'^T */
        st = lcv_grad_mm(c, isa, m, k, n, mdy, (lcv_grad_mat){b, tb ? k : n, !tb}, alpha,
                         da->data, k, false, pack);
    else if (da) /* dA [K, M] = alpha B' dY^T */
        st = lcv_grad_mm(c, isa, k, m, n, (lcv_grad_mat){b, tb ? k : n, tb}, mdyt, alpha,
                         da->data, m, false, pack);
    if (st == LCV_OK && db && !tb) /* dB [K, N] = alpha A'^T dY */
        st = lcv_grad_mm(c, isa, k, n, m, (lcv_grad_mat){a, ta ? m : k, !ta}, mdy, alpha,
                         db->data, n, false, pack);
    else if (st == LCV_OK && db) /* dB [N, K] = alpha dY^T A' */
        st = lcv_grad_mm(c, isa, n, k, m, mdyt, (lcv_grad_mat){a, ta ? m : k, ta}, alpha,
                         db->data, k, false, pack);
    free(owned);
    return st;
}
