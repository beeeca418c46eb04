/* qdq_plan.c - the fast path for QuantizeLinear (float32 -> uint8/int8) and DequantizeLinear
 * (uint8/int8 -> float32) with float32 scales, per tensor or per axis: the vector kernels of
 * src/kernels/q8-cvt over runs of values that share a channel, split between threads. Other
 * dtypes (int32, 16-bit, float16 scales) and malformed parameters run the reference in
 * quant.c, which also names what is wrong. */
#include <stdlib.h>

#include "../core/threadpool.h"
#include "../kernels/q8-cvt/q8cvt.h"
#include "plan.h"
#include "vplan.h"

typedef struct qdq_plan {
    const lcv_q8cvt_kernels *k; /* static table, not owned */
} qdq_plan;

/* Element i belongs to channel (i / inner) % chan. */
typedef struct qdq_task {
    const lcv_q8cvt_kernels *k;
    bool quant;
    lcv_dtype qt; /* the integer side's dtype */
    const void *x;
    void *y;
    const float *s;
    const lcv_tensor *z; /* NULL: zero points 0 */
    int64_t inner, chan;
} qdq_task;

static void qdq_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const qdq_task *t = ctx;
    (void)thread;
    for (int64_t i = begin; i < end;) {
        int64_t row = i / t->inner, stop = (row + 1) * t->inner, ch = row % t->chan;
        if (stop > end) stop = end;
        float s = t->s[t->chan == 1 ? 0 : ch];
        int32_t z = t->z ? (int32_t)lcv_load_i64(t->z->dtype, t->z->data, t->chan == 1 ? 0 : ch) : 0;
        int64_t n = stop - i;
        if (t->quant && t->qt == LCV_DTYPE_UINT8)
            t->k->quant_u8((const float *)t->x + i, s, z, (uint8_t *)t->y + i, n);
        else if (t->quant)
            t->k->quant_i8((const float *)t->x + i, s, z, (int8_t *)t->y + i, n);
        else if (t->qt == LCV_DTYPE_UINT8)
            t->k->dequant_u8((const uint8_t *)t->x + i, s, z, (float *)t->y + i, n);
        else
            t->k->dequant_i8((const int8_t *)t->x + i, s, z, (float *)t->y + i, n);
        i = stop;
    }
}

static bool is_q8(lcv_dtype d) { return d == LCV_DTYPE_UINT8 || d == LCV_DTYPE_INT8; }

/* The geometry the reference's qdq_params would find, when the fast kernels cover it. */
static bool qdq_geometry(lcv_opctx *c, lcv_dtype qt, int64_t *inner, int64_t *chan) {
    const lcv_tensor *x = c->in[0], *s = c->in[1], *z = lcv_op_input(c, 2);
    if (!s || s->dtype != LCV_DTYPE_FLOAT32 || (z && z->dtype != qt)) return false;
    int64_t ns = lcv_tensor_count(s);
    if (z && lcv_tensor_count(z) != ns) return false;
    int64_t n = lcv_tensor_count(x);
    /* per tensor: the whole tensor is one run */
    *inner = n > 0 ? n : 1;
    *chan = 1;
    if (ns == 1) return s->ndim <= 1 && (!z || z->ndim <= 1);
    *inner = 1;
    if (c->node->opset < 13 || s->ndim != 1 || (z && z->ndim != 1)) return false;
    int64_t ax = lcv_attr_int(c->node, "axis", 1);
    if (ax < 0) ax += x->ndim;
    if (ax < 0 || ax >= x->ndim || x->dims[ax] != ns) return false;
    for (int d = (int)ax + 1; d < x->ndim; d++) *inner *= x->dims[d];
    *chan = ns;
    return true;
}

static lcv_status qdq_exec(lcv_opctx *c, bool quant) {
    const qdq_plan *p = c->plan;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_dtype qt = quant ? y->dtype : x->dtype;
    int64_t inner, chan;
    bool ok = p && c->node->fused.act == LCV_ACT_NONE && c->node->fused.residual < 0 &&
              is_q8(qt) && (quant ? x : y)->dtype == LCV_DTYPE_FLOAT32 &&
              qdq_geometry(c, qt, &inner, &chan);
    if (!ok) return lcv_vplan_reference(c);
    qdq_task t = {p->k, quant, qt, x->data, y->data, c->in[1]->data, lcv_op_input(c, 2), inner,
                  chan};
    int64_t n = lcv_tensor_count(x);
    if (n > 0) lcv_threadpool_parallel_for(c->pool, n, LCV_VPLAN_MIN_WORK, qdq_range, &t);
    return LCV_OK;
}

static lcv_status quantize_exec(lcv_opctx *c) { return qdq_exec(c, true); }
static lcv_status dequantize_exec(lcv_opctx *c) { return qdq_exec(c, false); }

static lcv_status qdq_make(const lcv_plan_ctx *pc, lcv_exec_fn exec, lcv_plan *out) {
    qdq_plan *p = malloc(sizeof *p);
    if (!p)
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (%s): out of memory for its plan",
                        pc->node->name, pc->node->op_type);
    p->k = lcv_q8cvt_kernels_for(pc->isa);
    out->exec = exec;
    out->data = p;
    out->free_data = NULL;
    return LCV_OK;
}

lcv_status lcv_plan_quantize(const lcv_plan_ctx *pc, lcv_plan *out) {
    if (pc->n_in < 2 || !pc->in[0] || pc->in[0]->dtype != LCV_DTYPE_FLOAT32 || !pc->in[1] ||
        pc->in[1]->dtype != LCV_DTYPE_FLOAT32 || !is_q8(pc->out[0]->dtype))
        return LCV_OK;
    return qdq_make(pc, quantize_exec, out);
}

lcv_status lcv_plan_dequantize(const lcv_plan_ctx *pc, lcv_plan *out) {
    if (pc->n_in < 2 || !pc->in[0] || !is_q8(pc->in[0]->dtype) || !pc->in[1] ||
        pc->in[1]->dtype != LCV_DTYPE_FLOAT32 || pc->out[0]->dtype != LCV_DTYPE_FLOAT32)
        return LCV_OK;
    return qdq_make(pc, dequantize_exec, out);
}
