/* qadd_plan.c - the fast path for QLinearAdd when A, B and C have one shape (a quantized
 * network's residual junction): the vector kernels of src/kernels/q8-add over the flat
 * tensors, split between threads, with the fused Relu in the kernel. Broadcasts, float16
 * scales and anything malformed run the reference in qadd.c, which also names what is
 * wrong. */
#include <stdlib.h>

#include "../core/threadpool.h"
#include "../kernels/q8-add/q8add.h"
#include "plan.h"
#include "quant_util.h"
#include "vplan.h"

typedef struct qadd_plan {
    const lcv_q8add_kernels *k; /* static table, not owned */
} qadd_plan;

typedef struct qadd_task {
    const lcv_q8add_kernels *k;
    bool is_signed;
    const uint8_t *a, *b; /* bytes of int8 or uint8 values */
    uint8_t *y;
    lcv_q8add_params p;
} qadd_task;

static void qadd_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const qadd_task *t = ctx;
    (void)thread;
    int64_t n = end - begin;
    if (t->is_signed)
        t->k->add_i8((const int8_t *)t->a + begin, (const int8_t *)t->b + begin,
                     (int8_t *)t->y + begin, n, &t->p);
    else
        t->k->add_u8(t->a + begin, t->b + begin, t->y + begin, n, &t->p);
}

/* A float32 scale of one value at input i. */
static bool f32_scalar(const lcv_opctx *c, int i, float *out) {
    const lcv_tensor *t = lcv_op_input(c, i);
    if (!t || t->dtype != LCV_DTYPE_FLOAT32 || t->ndim > 1 || lcv_tensor_count(t) != 1)
        return false;
    *out = *(const float *)t->data;
    return true;
}

/* A zero point of one value of dtype dt at input i, or an absent one (0). */
static bool zp_scalar(const lcv_opctx *c, int i, lcv_dtype dt, int32_t *out) {
    const lcv_tensor *t = lcv_op_input(c, i);
    *out = 0;
    if (!t) return true;
    if (t->dtype != dt || t->ndim > 1 || lcv_tensor_count(t) != 1) return false;
    *out = (int32_t)lcv_load_i64(dt, t->data, 0);
    return true;
}

static lcv_status qadd_exec(lcv_opctx *c) {
    const qadd_plan *pl = c->plan;
    const lcv_tensor *a = c->in[0], *b = c->n_in > 3 ? c->in[3] : NULL;
    lcv_tensor *y = c->out[0];
    const lcv_fused *f = &c->node->fused;
    qadd_task t;
    /* a Relu needs C's zero point: without one the reference names the problem */
    bool ok = pl && a && b && lcv_quant_is_q8(a->dtype) && b->dtype == a->dtype &&
              y->dtype == a->dtype && f->residual < 0 &&
              (f->act == LCV_ACT_NONE || (f->act == LCV_ACT_RELU && lcv_op_input(c, 7))) &&
              lcv_shape_equal(a->ndim, a->dims, y->ndim, y->dims) &&
              lcv_shape_equal(b->ndim, b->dims, y->ndim, y->dims) &&
              f32_scalar(c, 1, &t.p.sa) && f32_scalar(c, 4, &t.p.sb) && f32_scalar(c, 6, &t.p.sy) &&
              zp_scalar(c, 2, a->dtype, &t.p.za) && zp_scalar(c, 5, a->dtype, &t.p.zb) &&
              zp_scalar(c, 7, a->dtype, &t.p.zy);
    if (!ok) return lcv_vplan_reference(c);
    t.k = pl->k;
    t.is_signed = a->dtype == LCV_DTYPE_INT8;
    t.a = a->data;
    t.b = b->data;
    t.y = y->data;
    t.p.relu = f->act == LCV_ACT_RELU;
    int64_t n = lcv_tensor_count(y);
    if (n > 0) lcv_threadpool_parallel_for(c->pool, n, LCV_VPLAN_MIN_WORK, qadd_range, &t);
    return LCV_OK;
}

lcv_status lcv_plan_qlinear_add(const lcv_plan_ctx *pc, lcv_plan *out) {
    if (pc->n_in < 7 || !pc->in[0] || !lcv_quant_is_q8(pc->in[0]->dtype)) return LCV_OK;
    qadd_plan *p = malloc(sizeof *p);
    if (!p)
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (%s): out of memory for its plan",
                        pc->node->name, pc->node->op_type);
    p->k = lcv_q8add_kernels_for(pc->isa);
    out->exec = qadd_exec;
    out->data = p;
    out->free_data = NULL;
    return LCV_OK;
}
