/* pool_plan.c - the fast path for 2-D float32 MaxPool and AveragePool without dilation or an
 * Indices output (what CNN stems and heads use): the separable vector kernel of
 * src/kernels/f32-pool for the planned ISA, or, for rows wider than its buffers, a plain
 * clipped-window scan; both threaded over planes. 8-bit MaxPool (a quantized model's stem pool)
 * runs src/kernels/u8-pool. The reference in pool.c handles the rest. */
#include <math.h>
#include <stdlib.h>

#include "../core/threadpool.h"
#include "../kernels/f32-pool/pool2d.h"
#include "../kernels/u8-pool/maxpool8.h"
#include "plan.h"
#include "window.h"

typedef struct pool_plan {
    const lcv_pool2d_rowops *ops; /* the row kernels of the planned ISA (static table) */
} pool_plan;

typedef struct pool2d {
    const float *x;
    float *y;
    const lcv_window *w;
    bool is_max, count_pad;
} pool2d;

/* Taps of window start `start` (kernel k) inside [0, in) and inside the padded input. */
static void clip_window(int64_t start, int64_t k, int64_t in, int64_t pad_end, int64_t *lo,
                        int64_t *hi, int64_t *n_pad) {
    *lo = start < 0 ? 0 : start;
    *hi = start + k < in ? start + k : in;
    if (*hi < *lo) *hi = *lo;
    int64_t pend = start + k < in + pad_end ? start + k : in + pad_end;
    *n_pad = pend > start ? pend - start : 0;
}

static void pool2d_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const pool2d *t = ctx;
    const lcv_window *w = t->w;
    int64_t ih = w->in[0], iw = w->in[1], oh = w->out[0], ow = w->out[1];
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * ih * iw;
        float *y = t->y + pl * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0, y1, ny;
            clip_window(oy * w->stride[0] - w->pad_begin[0], w->kernel[0], ih, w->pad_end[0],
                        &y0, &y1, &ny);
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t x0, x1, nx;
                clip_window(ox * w->stride[1] - w->pad_begin[1], w->kernel[1], iw,
                            w->pad_end[1], &x0, &x1, &nx);
                float acc = t->is_max ? -INFINITY : 0.0f;
                for (int64_t r = y0; r < y1; r++) {
                    const float *row = x + r * iw;
                    if (t->is_max) {
                        for (int64_t q = x0; q < x1; q++) acc = row[q] > acc ? row[q] : acc;
                    } else {
                        for (int64_t q = x0; q < x1; q++) acc += row[q];
                    }
                }
                if (!t->is_max) {
                    int64_t div = t->count_pad ? ny * nx : (y1 - y0) * (x1 - x0);
                    acc = div > 0 ? acc / (float)div : 0.0f;
                }
                y[oy * ow + ox] = acc;
            }
        }
    }
}

static bool is_byte(lcv_dtype t) { return t == LCV_DTYPE_UINT8 || t == LCV_DTYPE_INT8; }

static lcv_status pool2d_exec(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_window w;
    bool is_max = c->node->op == LCV_OP_MaxPool;
    bool byte = is_max && is_byte(x->dtype);
    if ((x->dtype != LCV_DTYPE_FLOAT32 && !byte) || x->ndim != 4) { /* not what was planned for */
        lcv_status st = is_max ? lcv_exec_maxpool(c) : lcv_exec_averagepool(c);
        return st == LCV_OK ? lcv_op_apply_fused(c) : st;
    }
    int64_t ceil_mode = lcv_attr_int(c->node, "ceil_mode", 0);
    lcv_status st = lcv_window_parse(c, 2, x->dims + 2, NULL, &w);
    if (st == LCV_OK) st = lcv_window_forward_out(c, &w, ceil_mode != 0);
    if (st != LCV_OK) return st;
    bool count_pad = lcv_attr_int(c->node, "count_include_pad", 0) == 1;
    int64_t planes = x->dims[0] * x->dims[1];
    const pool_plan *pp = c->plan;
    lcv_pool2d_geom g = {planes, w.in[0], w.in[1], w.out[0], w.out[1], w.kernel[0],
                         w.kernel[1], w.stride[0], w.stride[1], w.pad_begin[0],
                         w.pad_begin[1], w.pad_end[0], w.pad_end[1], is_max, count_pad};
    bool fast = pp && w.dilation[0] == 1 && w.dilation[1] == 1 && lcv_pool2d_supported(&g);
    if (fast && byte) {
        lcv_maxpool8_run(&g, x->dtype == LCV_DTYPE_INT8, x->data, y->data, c->pool);
        return lcv_op_apply_fused(c);
    }
    if (byte) { /* rows wider than the kernel's buffer */
        st = lcv_exec_maxpool(c);
        return st == LCV_OK ? lcv_op_apply_fused(c) : st;
    }
    if (fast) {
        lcv_pool2d_run(&g, pp->ops, x->data, y->data, c->pool);
        return lcv_op_apply_fused(c);
    }
    pool2d t = {x->data, y->data, &w, is_max, count_pad};
    int64_t work = w.out[0] * w.out[1] * w.kernel[0] * w.kernel[1];
    lcv_threadpool_parallel_for(c->pool, planes, work > 32768 ? 1 : 32768 / (work + 1) + 1,
                                pool2d_planes, &t);
    return lcv_op_apply_fused(c);
}

lcv_status lcv_plan_pool(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_tensor *x = pc->in[0];
    const int64_t *dil;
    int64_t nd = lcv_attr_ints(pc->node, "dilations", &dil);
    for (int64_t i = 0; i < nd; i++)
        if (dil[i] != 1) return LCV_OK;
    bool has_indices = pc->n_out > 1 && pc->out[1] != NULL;
    bool dtype_ok = x && (x->dtype == LCV_DTYPE_FLOAT32 ||
                          (pc->node->op == LCV_OP_MaxPool && is_byte(x->dtype)));
    if (!dtype_ok || x->ndim != 4 || has_indices) return LCV_OK;
    pool_plan *pp = malloc(sizeof *pp);
    if (!pp)
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "out of memory planning pool '%s'",
                        pc->node->name);
    pp->ops = lcv_pool2d_rowops_for(pc->isa);
    out->exec = pool2d_exec;
    out->data = pp;
    return LCV_OK;
}
