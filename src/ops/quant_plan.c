/* quant_plan.c - fast paths for QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger
 * when the weights, scales and zero points are constants: weights packed once for the int8
 * GEMM (src/kernels/i8-gemm) with the zero point and bias terms folded into per-channel
 * constants; B comes from the input through quant_im2col.c (phase planes: every B row a
 * contiguous run, read in place for stride-1 unpadded convs; a row gather otherwise);
 * depthwise 2-D convs run src/kernels/i8-dwconv. Everything else (dynamic weights, per-row
 * activation scales, batched B) keeps quant.c / quant_conv.c. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/i8-dwconv/i8dwconv.h"
#include "../kernels/i8-gemm/i8gemm.h"
#include "plan.h"
#include "quant_im2col.h"
#include "quant_util.h"
#include "window.h"

typedef enum qp_kind { QP_CONV, QP_DW, QP_MATMUL } qp_kind;

typedef struct qplan {
    qp_kind kind;
    lcv_i8gemm_kind gk;
    lcv_isa isa;
    lcv_dtype xdt;        /* activation dtype planned for */
    int wi;               /* input index of the weights */
    uint8_t xflip;        /* 0x80: int8 activations, shifted to uint8 for the kernels */
    uint8_t xpad;         /* the activation zero point as stored (padding value) */
    int64_t m, cin_g, kh, kw, group, k; /* conv: weight shape; matmul: m unused */
    int64_t n;            /* matmul: columns of B */
    void *packed;         /* owned, 64-aligned: group blocks of packed weights (dw: taps) */
    size_t group_bytes;
    int32_t *add, *z;     /* owned: per channel (conv rows / matmul columns); z may be NULL */
    float *mult;          /* owned: per channel multipliers, or NULL (integer ops) */
    int32_t *w6, *add6;   /* owned: depthwise 3x3 in the AVX-512 kernel's form, or NULL */
    lcv_i8gemm_epi epi;   /* the constant part of the epilogue */
} qplan;

static void qplan_free(void *d) {
    qplan *p = d;
    if (!p) return;
    free(p->packed);
    free(p->add);
    free(p->z);
    free(p->mult);
    free(p->w6);
    free(p->add6);
    free(p);
}

/* A constant scale or zero point: absent (optional), 1 value, or `per` values in 1-D. */
static bool qconst(const lcv_tensor *t, int64_t per, bool optional, bool is_float) {
    if (!t) return optional;
    int64_t n = lcv_tensor_count(t);
    return t->data && (is_float ? lcv_dtype_is_float(t->dtype) : lcv_quant_is_q8(t->dtype)) &&
           ((n == 1 && t->ndim <= 1) || (per > 0 && t->ndim == 1 && n == per));
}

static double qf(const lcv_tensor *t, int64_t i) {
    return lcv_load_f64(t->dtype, t->data, lcv_tensor_count(t) == 1 ? 0 : i);
}
static int32_t qi(const lcv_tensor *t, int64_t i) {
    return t ? (int32_t)lcv_load_i64(t->dtype, t->data, lcv_tensor_count(t) == 1 ? 0 : i) : 0;
}

static const lcv_tensor *in_at(const lcv_plan_ctx *pc, int i) {
    return i < pc->n_in ? pc->in[i] : NULL;
}

/* The reference kernel plus the fused Relu; fails cleanly when the weights were dropped. */
static lcv_status q_fallback(lcv_opctx *c) {
    const qplan *p = c->plan;
    const lcv_tensor *w = p ? lcv_op_input(c, p->wi) : NULL;
    if (p && (!w || !w->data))
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "the reference kernel is needed for this input "
                           "but the weights were released at load (the plan keeps only its "
                           "packed copy)");
    lcv_status st;
    switch (c->node->op) {
    case LCV_OP_QLinearConv: st = lcv_exec_qlinear_conv(c); break;
    case LCV_OP_ConvInteger: st = lcv_exec_conv_integer(c); break;
    case LCV_OP_QLinearMatMul: st = lcv_exec_qlinear_matmul(c); break;
    default: st = lcv_exec_matmul_integer(c); break;
    }
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

static lcv_status q_nomem(const lcv_plan_ctx *pc) {
    return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s': out of memory packing int8 weights",
                    pc->node->name);
}

/* Output type, zero point and clamp (a fused Relu clamps at the zero point). */
static void set_out(const lcv_plan_ctx *pc, const lcv_tensor *yzp, qplan *p) {
    lcv_i8gemm_epi *e = &p->epi;
    if (!yzp) {
        e->out = LCV_I8_OUT_S32;
        return;
    }
    e->out = yzp->dtype == LCV_DTYPE_UINT8 ? LCV_I8_OUT_U8 : LCV_I8_OUT_S8;
    e->lo = e->out == LCV_I8_OUT_U8 ? 0 : -128;
    e->hi = e->lo + 255;
    e->zy = qi(yzp, 0);
    if (pc->node->fused.act == LCV_ACT_RELU && e->zy > e->lo) e->lo = e->zy;
}

/* Only a fused Relu (no residual) is applied on the integer output. */
static bool fused_ok(const lcv_node *n, bool integer) {
    if (n->fused.residual >= 0) return false;
    return n->fused.act == LCV_ACT_NONE || (!integer && n->fused.act == LCV_ACT_RELU);
}

/* ---- convolutions ---- */

/* Window of the actual input (false: not a 2-D conv this plan runs; the reference decides). */
static bool q_window(const lcv_node *node, const lcv_tensor *x, const qplan *p, lcv_window *w) {
    lcv_err err;
    lcv_opctx c = {0};
    c.node = node;
    c.err = &err;
    int64_t kernel[2] = {p->kh, p->kw};
    return x->ndim == 4 && lcv_window_parse(&c, 2, x->dims + 2, kernel, w) == LCV_OK &&
           lcv_window_forward_out(&c, w, false) == LCV_OK && x->dims[2] > 0 && x->dims[3] > 0;
}

typedef struct qphase_job {
    const lcv_qphase *g;
    const uint8_t *x;
    uint8_t *planes, pad;
} qphase_job;

static void qphase_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const qphase_job *j = ctx;
    (void)thread;
    lcv_qphase_build(j->g, j->x, j->pad, begin, end, j->planes);
}

/* Keeps columns ox < ow of each output row of the product (channels [begin, end)). */
typedef struct qcompact_job {
    const lcv_qphase *g;
    const uint8_t *src;
    uint8_t *dst;
    size_t esz;
} qcompact_job;

static void qcompact_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const qcompact_job *j = ctx;
    (void)thread;
    lcv_qphase_compact(j->g, j->src, j->esz, begin, end, j->dst);
}

static lcv_status qconv_exec(lcv_opctx *c) {
    const qplan *p = c->plan;
    const lcv_tensor *x = lcv_op_input(c, 0);
    lcv_tensor *y = c->out[0];
    lcv_window w;
    if (!p || !x || !x->data || x->dtype != p->xdt || x->ndim != 4 ||
        x->dims[1] != p->cin_g * p->group || !q_window(c->node, x, p, &w))
        return q_fallback(c);
    int64_t batch = x->dims[0], oh = w.out[0], ow = w.out[1], hw = oh * ow;
    int64_t ydims[4] = {batch, p->m, oh, ow};
    lcv_dtype ydt = p->epi.out == LCV_I8_OUT_S32 ? LCV_DTYPE_INT32
                    : p->epi.out == LCV_I8_OUT_U8 ? LCV_DTYPE_UINT8 : LCV_DTYPE_INT8;
    if (y->dtype != ydt || !lcv_shape_equal(y->ndim, y->dims, 4, ydims)) return q_fallback(c);
    if (batch == 0 || hw == 0) return LCV_OK;
    if (p->kind == QP_DW) {
        lcv_dwconv_geom g = {batch, p->m, x->dims[2], x->dims[3], oh, ow, p->kh, p->kw,
                             w.stride[0], w.stride[1], w.dilation[0], w.dilation[1],
                             w.pad_begin[0], w.pad_begin[1]};
        void *scr = lcv_op_scratch(c, lcv_i8dw_scratch_size(&g, lcv_threadpool_size(c->pool)));
        if (!scr) return lcv_op_fail(c, LCV_ERR_NOMEM, "no scratch memory for the int8 depthwise "
                                     "conv");
        bool sgn = p->xdt == LCV_DTYPE_INT8;
        /* The row-pair kernel wins on wide planes; on narrow ones (28 columns and less in
         * bench/i8_gemm_bench) its per-plane set-up costs more than the float route. */
        bool pairs = p->w6 && ow >= 32;
        lcv_i8dw_params dp = {p->packed, p->add, p->mult, &p->epi, sgn,
                              sgn ? (int32_t)(int8_t)p->xpad : (int32_t)p->xpad,
                              pairs ? p->w6 : NULL, pairs ? p->add6 : NULL,
                              p->gk == LCV_I8GEMM_VNNI512};
        lcv_i8dw_run(p->isa, &g, &dp, x->data, y->data, scr, c->pool);
        return LCV_OK;
    }
    int64_t cout_g = p->m / p->group, in_plane = x->dims[2] * x->dims[3], kq = lcv_i8gemm_kq(p->k);
    size_t esz = p->epi.out == LCV_I8_OUT_S32 ? 4 : 1;
    int mr_unused, nr;
    lcv_i8gemm_tile_dims(p->gk, &mr_unused, &nr);
    lcv_qphase ph;
    bool phase = lcv_qphase_geom(&w, p->cin_g, nr, &ph);
    bool direct = !phase || ph.wq == ow; /* the GEMM's columns are the output's */
    /* scratch: GEMM workspace, then for phase planes the row table, the planes and (when
     * columns are dropped) the product before compaction */
    size_t wsb = lcv_i8gemm_ws_size(p->gk, p->k, lcv_threadpool_size(c->pool));
    size_t rows_b = phase ? sizeof(int64_t) * 2 * (size_t)p->k : 0, tmp_b = 0, total = 0;
    bool ok = wsb != 0 && (direct || lcv_mul_size((size_t)(cout_g * ph.cols), esz, &tmp_b));
    size_t o_rows = (wsb + 63) & ~(size_t)63, o_planes = o_rows + ((rows_b + 63) & ~(size_t)63);
    size_t o_tmp = o_planes + (((phase ? ph.plane_bytes : 0) + 63) & ~(size_t)63);
    ok = ok && lcv_add_size(o_tmp, tmp_b, &total);
    uint8_t *ws = ok ? lcv_op_scratch(c, total) : NULL;
    if (!ws) return lcv_op_fail(c, LCV_ERR_NOMEM, "no scratch memory for the int8 GEMM");
    int64_t *roff = (int64_t *)(void *)(ws + o_rows), *ravail = roff + p->k;
    uint8_t *planes = ws + o_planes, *tmp = ws + o_tmp;
    if (phase) lcv_qphase_rows(&ph, roff, ravail);
    for (int64_t n = 0; n < batch; n++) {
        for (int64_t gi = 0; gi < p->group; gi++) {
            const uint8_t *xg = (const uint8_t *)x->data + (n * x->dims[1] + gi * p->cin_g) *
                                in_plane;
            lcv_qphase_src psrc = {ph.in_place ? xg : planes, roff, ravail, p->k, kq, p->xflip};
            lcv_qim2col gsrc = {&w, xg, x->dims[2], x->dims[3], ow, p->kh, p->kw, p->k, kq,
                                p->xflip, p->xpad};
            if (phase && !ph.in_place) {
                qphase_job pj = {&ph, xg, planes, p->xpad};
                lcv_threadpool_parallel_for(c->pool, p->cin_g, 16, qphase_task, &pj);
            }
            lcv_i8gemm_epi epi = p->epi;
            int64_t r0 = gi * cout_g;
            epi.row_add = p->add + r0;
            epi.row_z = p->z ? p->z + r0 : NULL;
            epi.row_mult = p->mult ? p->mult + r0 : NULL;
            uint8_t *yg = (uint8_t *)y->data + (size_t)((n * p->m + r0) * hw) * esz;
            int64_t cols = phase ? ph.cols : hw;
            lcv_i8gemm_args a = {p->gk, cout_g, cols, p->k, false,
                                 (const uint8_t *)p->packed + (size_t)gi * p->group_bytes, NULL,
                                 phase ? lcv_qphase_pack : lcv_qim2col_pack,
                                 phase ? (const void *)&psrc : (const void *)&gsrc, ws, &epi,
                                 direct ? yg : tmp, cols};
            lcv_err err;
            if (lcv_i8gemm_run(&a, c->pool, &err) != LCV_OK)
                return lcv_op_fail(c, LCV_ERR_INTERNAL, "%s", err.msg);
            if (direct) continue;
            qcompact_job cj = {&ph, tmp, yg, esz};
            lcv_threadpool_parallel_for(c->pool, cout_g, 8, qcompact_task, &cj);
        }
    }
    return LCV_OK;
}

/* Shared by QLinearConv and ConvInteger: input positions of x, w, their zero points, the
 * scales (-1: none) and bias. */
typedef struct qconv_io {
    int x, xs, xzp, w, ws, wzp, ys, yzp, b;
} qconv_io;

static lcv_status qconv_plan(const lcv_plan_ctx *pc, const qconv_io *io, lcv_plan *out) {
    const lcv_tensor *x = in_at(pc, io->x), *wt = in_at(pc, io->w);
    const lcv_tensor *xzp = in_at(pc, io->xzp), *wzp = in_at(pc, io->wzp);
    const lcv_tensor *xs = io->xs >= 0 ? in_at(pc, io->xs) : NULL;
    const lcv_tensor *ws = io->ws >= 0 ? in_at(pc, io->ws) : NULL;
    const lcv_tensor *ys = io->ys >= 0 ? in_at(pc, io->ys) : NULL;
    const lcv_tensor *yzp = io->yzp >= 0 ? in_at(pc, io->yzp) : NULL;
    const lcv_tensor *b = io->b >= 0 ? in_at(pc, io->b) : NULL;
    bool integer = io->ys < 0;
    if (!x || !wt || !wt->data || x->ndim != 4 || wt->ndim != 4 ||
        !lcv_quant_is_q8(x->dtype) || !lcv_quant_is_q8(wt->dtype) ||
        !fused_ok(pc->node, integer))
        return LCV_OK;
    int64_t m = wt->dims[0], cin_g = wt->dims[1], kh = wt->dims[2], kw = wt->dims[3];
    int64_t group = lcv_attr_int(pc->node, "group", 1);
    if (m < 1 || cin_g < 1 || kh < 1 || kw < 1 || group < 1 || m % group != 0 ||
        (x->dims[1] >= 0 && x->dims[1] != cin_g * group))
        return LCV_OK;
    if (!qconst(xzp, 0, true, false) || !qconst(wzp, m, true, false) ||
        (xzp && xzp->dtype != x->dtype) || (wzp && wzp->dtype != wt->dtype))
        return LCV_OK;
    if (!integer && (!qconst(xs, 0, false, true) || !qconst(ws, m, false, true) ||
                     !qconst(ys, 0, false, true) || !qconst(yzp, 0, false, false)))
        return LCV_OK;
    if (b && (!b->data || b->dtype != LCV_DTYPE_INT32 || b->ndim != 1 || b->dims[0] != m))
        return LCV_OK;
    qplan *p = calloc(1, sizeof *p);
    if (!p) return q_nomem(pc);
    p->isa = pc->isa;
    p->gk = lcv_i8gemm_select(pc->isa);
    p->xdt = x->dtype;
    p->wi = io->w;
    p->m = m;
    p->cin_g = cin_g;
    p->kh = kh;
    p->kw = kw;
    p->group = group;
    p->k = cin_g * kh * kw;
    p->xflip = x->dtype == LCV_DTYPE_INT8 ? 0x80 : 0;
    p->xpad = (uint8_t)qi(xzp, 0);
    set_out(pc, yzp, p);
    /* shifted zero points: x to uint8 (+128 if int8), w to int8 (-128 if uint8) */
    int32_t zx = qi(xzp, 0) + (p->xflip ? 128 : 0);
    uint8_t wflip = wt->dtype == LCV_DTYPE_UINT8 ? 0x80 : 0;
    bool dw = cin_g == 1 && group == m && group > 1 && kh * kw <= LCV_I8DW_MAX_TAPS;
    p->kind = dw ? QP_DW : QP_CONV;
    int64_t cout_g = m / group;
    size_t gb = dw ? lcv_i8dw_weights_size(m, kh, kw) : lcv_i8gemm_pack_size(p->gk, true, cout_g, p->k);
    size_t total = 0;
    void *mem = NULL;
    if (gb == 0 || !lcv_mul_size(gb, dw ? 1 : (size_t)group, &total) || total > ((size_t)1 << 40)) {
        free(p);
        return LCV_OK;
    }
    p->add = malloc(sizeof(int32_t) * (size_t)m);
    p->z = malloc(sizeof(int32_t) * (size_t)m);
    if (!integer) p->mult = malloc(sizeof(float) * (size_t)m);
    if (posix_memalign(&mem, 64, total) != 0) mem = NULL;
    p->packed = mem;
    if (!p->packed || !p->add || !p->z || (!integer && !p->mult)) {
        qplan_free(p);
        return q_nomem(pc);
    }
    p->group_bytes = gb;
    int32_t *wsum = p->add; /* weight sums first, then folded into add in place */
    for (int64_t i = 0; i < m; i++) p->z[i] = qi(wzp, i);
    if (dw) {
        /* (w - zw) as floats: the kernel needs no weight zero point term */
        lcv_i8dw_pack_weights(m, kh, kw, wt->data, wt->dtype == LCV_DTYPE_INT8, p->z,
                              p->packed);
        if (pc->isa == LCV_ISA_AVX512 && kh == 3 && kw == 3) { /* the native kernel's form */
            p->w6 = malloc(sizeof(int32_t) * (size_t)m * 6);
            p->add6 = malloc(sizeof(int32_t) * (size_t)m);
            if (!p->w6 || !p->add6) {
                qplan_free(p);
                return q_nomem(pc);
            }
            lcv_i8dw_pack_pairs(m, wt->data, wt->dtype == LCV_DTYPE_INT8, p->z, zx,
                                b ? b->data : NULL, p->w6, p->add6);
        }
    } else {
        for (int64_t gi = 0; gi < group; gi++)
            lcv_i8gemm_pack(p->gk, true, false, cout_g, p->k,
                            (const uint8_t *)wt->data + gi * cout_g * p->k, p->k, 1, wflip,
                            wsum + gi * cout_g, (uint8_t *)p->packed + (size_t)gi * gb);
    }
    bool any_z = false;
    for (int64_t i = 0; i < m; i++) {
        int32_t zw = p->z[i] - (wflip ? 128 : 0);
        /* sum (x - zx)(w - zw) = sum x w - zx sum w - zw sum x + K zx zw; the depthwise
         * kernel sums (x - zx)(w - zw) itself and only adds the bias */
        int32_t add = dw ? 0 : lcv_i32_sub(lcv_i32_mul((int32_t)p->k, lcv_i32_mul(zx, zw)),
                                           lcv_i32_mul(zx, wsum[i]));
        if (b) add = lcv_i32_add(add, ((const int32_t *)b->data)[i]);
        p->add[i] = add;
        p->z[i] = zw;
        any_z |= zw != 0 && !dw;
        if (p->mult) p->mult[i] = lcv_i8_mult((float)qf(xs, 0), (float)qf(ws, i), (float)qf(ys, 0));
    }
    if (!any_z) {
        free(p->z);
        p->z = NULL;
    }
    out->exec = qconv_exec;
    out->data = p;
    out->free_data = qplan_free;
    out->drops_inputs = 1u << io->w | (b ? 1u << io->b : 0u);
    return LCV_OK;
}

lcv_status lcv_plan_qlinear_conv(const lcv_plan_ctx *pc, lcv_plan *out) {
    qconv_io io = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    return qconv_plan(pc, &io, out);
}

lcv_status lcv_plan_conv_integer(const lcv_plan_ctx *pc, lcv_plan *out) {
    qconv_io io = {0, -1, 2, 1, -1, 3, -1, -1, -1};
    return qconv_plan(pc, &io, out);
}

/* ---- matrix products: A [..., M, K] (activations) x constant B [K, N] ---- */

static lcv_status qmm_exec(lcv_opctx *c) {
    const qplan *p = c->plan;
    const lcv_tensor *a = lcv_op_input(c, 0);
    lcv_tensor *y = c->out[0];
    if (!p || !a || !a->data || a->dtype != p->xdt || a->ndim < 1 ||
        a->dims[a->ndim - 1] != p->k)
        return q_fallback(c);
    int64_t rows = lcv_tensor_count(a) / p->k;
    lcv_dtype ydt = p->epi.out == LCV_I8_OUT_S32 ? LCV_DTYPE_INT32
                    : p->epi.out == LCV_I8_OUT_U8 ? LCV_DTYPE_UINT8 : LCV_DTYPE_INT8;
    if (y->dtype != ydt || y->ndim < 1 || y->dims[y->ndim - 1] != p->n ||
        lcv_tensor_count(y) != rows * p->n)
        return q_fallback(c);
    if (rows == 0) return LCV_OK;
    size_t pa = lcv_i8gemm_pack_size(p->gk, true, rows, p->k), sums = 0, total = 0;
    if (pa == 0 || !lcv_mul_size((size_t)rows, sizeof(int32_t), &sums) ||
        !lcv_add_size((pa + 63) & ~(size_t)63, sums, &total))
        return q_fallback(c);
    uint8_t *scr = lcv_op_scratch(c, total);
    if (!scr) return lcv_op_fail(c, LCV_ERR_NOMEM, "no scratch memory for the packed int8 rows");
    int32_t *asum = (int32_t *)(void *)(scr + ((pa + 63) & ~(size_t)63));
    lcv_i8gemm_pack(p->gk, true, true, rows, p->k, a->data, p->k, 1, p->xflip, asum, scr);
    lcv_i8gemm_epi epi = p->epi;
    epi.col_add = p->add;
    epi.col_z = p->z;
    epi.a_sums = asum;
    epi.col_mult = p->mult;
    lcv_i8gemm_args g = {p->gk, rows, p->n, p->k, true, scr, p->packed, NULL, NULL, NULL, &epi,
                         y->data, p->n};
    lcv_err err;
    if (lcv_i8gemm_run(&g, c->pool, &err) != LCV_OK)
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "%s", err.msg);
    return LCV_OK;
}

typedef struct qmm_io {
    int a, as, azp, b, bs, bzp, ys, yzp;
} qmm_io;

static lcv_status qmm_plan(const lcv_plan_ctx *pc, const qmm_io *io, lcv_plan *out) {
    const lcv_tensor *a = in_at(pc, io->a), *b = in_at(pc, io->b);
    const lcv_tensor *azp = in_at(pc, io->azp), *bzp = in_at(pc, io->bzp);
    const lcv_tensor *as = io->as >= 0 ? in_at(pc, io->as) : NULL;
    const lcv_tensor *bs = io->bs >= 0 ? in_at(pc, io->bs) : NULL;
    const lcv_tensor *ys = io->ys >= 0 ? in_at(pc, io->ys) : NULL;
    const lcv_tensor *yzp = io->yzp >= 0 ? in_at(pc, io->yzp) : NULL;
    bool integer = io->ys < 0;
    if (!a || !b || !b->data || a->ndim < 1 || b->ndim != 2 || !lcv_quant_is_q8(a->dtype) ||
        !lcv_quant_is_q8(b->dtype) || !fused_ok(pc->node, integer))
        return LCV_OK;
    int64_t k = b->dims[0], n = b->dims[1];
    if (k < 1 || n < 1 || a->dims[a->ndim - 1] != k) return LCV_OK;
    if (!qconst(azp, 0, true, false) || !qconst(bzp, n, true, false) ||
        (azp && azp->dtype != a->dtype) || (bzp && bzp->dtype != b->dtype))
        return LCV_OK;
    if (!integer && (!qconst(as, 0, false, true) || !qconst(bs, n, false, true) ||
                     !qconst(ys, 0, false, true) || !qconst(yzp, 0, false, false)))
        return LCV_OK;
    qplan *p = calloc(1, sizeof *p);
    if (!p) return q_nomem(pc);
    p->kind = QP_MATMUL;
    p->isa = pc->isa;
    p->gk = lcv_i8gemm_select(pc->isa);
    p->xdt = a->dtype;
    p->wi = io->b;
    p->k = k;
    p->n = n;
    p->xflip = a->dtype == LCV_DTYPE_INT8 ? 0x80 : 0;
    set_out(pc, yzp, p);
    int32_t za = qi(azp, 0) + (p->xflip ? 128 : 0);
    uint8_t bflip = b->dtype == LCV_DTYPE_UINT8 ? 0x80 : 0;
    size_t pb = lcv_i8gemm_pack_size(p->gk, false, n, k);
    void *mem = NULL;
    if (pb == 0) {
        free(p);
        return LCV_OK;
    }
    if (posix_memalign(&mem, 64, pb) != 0) mem = NULL;
    p->packed = mem;
    p->add = malloc(sizeof(int32_t) * (size_t)n);
    p->z = malloc(sizeof(int32_t) * (size_t)n);
    if (!integer) p->mult = malloc(sizeof(float) * (size_t)n);
    if (!p->packed || !p->add || !p->z || (!integer && !p->mult)) {
        qplan_free(p);
        return q_nomem(pc);
    }
    int32_t *bsum = p->add;
    lcv_i8gemm_pack(p->gk, false, false, n, k, b->data, 1, n, bflip, bsum, p->packed);
    bool any_z = false;
    for (int64_t j = 0; j < n; j++) {
        int32_t zb = qi(bzp, j) - (bflip ? 128 : 0);
        p->add[j] = lcv_i32_sub(lcv_i32_mul((int32_t)k, lcv_i32_mul(za, zb)),
                                lcv_i32_mul(za, bsum[j]));
        p->z[j] = zb;
        any_z |= zb != 0;
        if (p->mult) p->mult[j] = lcv_i8_mult((float)qf(as, 0), (float)qf(bs, j), (float)qf(ys, 0));
    }
    if (!any_z) {
        free(p->z);
        p->z = NULL;
    }
    out->exec = qmm_exec;
    out->data = p;
    out->free_data = qplan_free;
    out->drops_inputs = 1u << io->b;
    return LCV_OK;
}

lcv_status lcv_plan_qlinear_matmul(const lcv_plan_ctx *pc, lcv_plan *out) {
    qmm_io io = {0, 1, 2, 3, 4, 5, 6, 7};
    return qmm_plan(pc, &io, out);
}

lcv_status lcv_plan_matmul_integer(const lcv_plan_ctx *pc, lcv_plan *out) {
    qmm_io io = {0, -1, 2, 1, -1, 3, -1, -1};
    return qmm_plan(pc, &io, out);
}
