/* gemm_plan.c - the fast path for Gemm: float32 with a constant B packed once at load
 * (transB honoured, alpha folded in) and a constant C folded into a per-column or per-row
 * bias (times beta); runs the packed GEMM with the node's fused residual and activation in the
 * epilogue; a single row of A (batch-1 classifier heads) runs the GEMV of src/kernels/f32-gemv
 * on the same packed B. Anything else keeps the reference kernel. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32-gemm/gemm.h"
#include "../kernels/f32-gemv/gemv.h"
#include "plan.h"

typedef struct gemm_plan {
    lcv_isa isa;
    int64_t k, n;
    int64_t m_bias;  /* rows of a per-row bias (C [M, 1]), 0 otherwise */
    bool ta;
    float *packed_b; /* owned */
    float *bias;     /* owned: beta * C as N per-column or m_bias per-row values; or NULL */
} gemm_plan;

static void gemm_plan_free(void *p) {
    gemm_plan *gp = p;
    if (!gp) return;
    free(gp->packed_b);
    free(gp->bias);
    free(gp);
}

/* The reference path, with the fusion the runtime would otherwise apply. */
static lcv_status gemm_reference(lcv_opctx *c) {
    const lcv_tensor *b = lcv_op_input(c, 1), *cc = lcv_op_input(c, 2);
    if ((b && !b->data) || (cc && !cc->data)) /* freed at load (drops_inputs) */
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "the reference kernel is needed for this input "
                           "but B/C were released at load (only the packed copy is kept)");
    lcv_status st = lcv_exec_gemm(c);
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

static lcv_status gemm_fast_exec(lcv_opctx *c) {
    const gemm_plan *gp = c->plan;
    const lcv_tensor *a = lcv_op_input(c, 0);
    lcv_tensor *y = c->out[0];
    if (!gp || !a || a->dtype != LCV_DTYPE_FLOAT32 || a->ndim != 2 ||
        a->dims[gp->ta ? 0 : 1] != gp->k || y->ndim != 2 || y->dims[1] != gp->n)
        return gemm_reference(c);
    int64_t m = a->dims[gp->ta ? 1 : 0];
    if (y->dims[0] != m || (gp->m_bias && gp->m_bias != m)) return gemm_reference(c);
    if (m == 0 || gp->n == 0) return LCV_OK;
    lcv_status st;
    const float *res = lcv_op_fused_residual_f32(c, &st);
    if (st != LCV_OK) return st;
    if (m == 1 && gp->m_bias == 0) { /* batch 1: stream the packed weights once (GEMV) */
        const lcv_fused *f = &c->node->fused;
        lcv_gemv_args v = {gp->isa, gp->k, gp->n, a->data, gp->packed_b, gp->bias, res,
                           f->act != LCV_ACT_NONE ? f : NULL, y->data};
        lcv_gemv_run(&v, c->pool);
        return LCV_OK;
    }
    lcv_gemm_epilogue epi = {gp->bias, gp->m_bias == 0, res, gp->n, &c->node->fused};
    lcv_gemm_args g = {gp->isa, m, gp->n, gp->k, {a->data, gp->ta ? m : gp->k, gp->ta, false},
                       {gp->packed_b, 0, false, true}, y->data, gp->n, &epi};
    st = lcv_gemm_run(&g, c->pool, c->err);
    if (st != LCV_OK) lcv_err_prefix(c->err, "node '%s' (Gemm)", c->node->name);
    return st;
}

lcv_status lcv_plan_gemm(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_node *n = pc->node;
    const lcv_tensor *a = pc->n_in > 0 ? pc->in[0] : NULL, *b = pc->n_in > 1 ? pc->in[1] : NULL;
    const lcv_tensor *cc = pc->n_in > 2 ? pc->in[2] : NULL;
    if (!a || !b || !b->data || b->dtype != LCV_DTYPE_FLOAT32 || b->ndim != 2) return LCV_OK;
    /* A's shape may be known only at run time (the fast exec checks it then). */
    bool a_unknown = a->ndim < 0 || a->dtype == LCV_DTYPE_UNDEFINED;
    if (!a_unknown && (a->dtype != LCV_DTYPE_FLOAT32 || a->ndim != 2)) return LCV_OK;
    if (cc && (!cc->data || cc->dtype != LCV_DTYPE_FLOAT32 || cc->ndim > 2)) return LCV_OK;
    bool ta = lcv_attr_int(n, "transA", 0) != 0, tb = lcv_attr_int(n, "transB", 0) != 0;
    float alpha = lcv_attr_float(n, "alpha", 1.0f), beta = lcv_attr_float(n, "beta", 1.0f);
    int64_t k = b->dims[tb ? 1 : 0], nn = b->dims[tb ? 0 : 1];
    if (k < 1 || nn < 1 || (!a_unknown && a->dims[ta ? 0 : 1] != k)) return LCV_OK;
    /* C broadcasts to [M, N]: as a row of N (or a scalar) it is a per-column bias; as [M, 1] a
     * per-row bias for that M only. A full [M, N] C stays on the reference path. */
    int64_t cr = 1, ccol = 1, m_bias = 0;
    if (cc) {
        if (cc->ndim == 2) {
            cr = cc->dims[0];
            ccol = cc->dims[1];
        } else if (cc->ndim == 1) {
            ccol = cc->dims[0];
        }
        if ((ccol != 1 && ccol != nn) || (cr != 1 && ccol != 1)) return LCV_OK;
        if (cr > 1) m_bias = cr;
    }
    size_t bytes = lcv_gemm_pack_b_size(pc->isa, k, nn);
    if (bytes == 0) return LCV_OK;
    gemm_plan *gp = calloc(1, sizeof *gp);
    if (!gp) return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (Gemm): out of memory", n->name);
    gp->isa = pc->isa;
    gp->k = k;
    gp->n = nn;
    gp->ta = ta;
    gp->m_bias = m_bias;
    void *pb = NULL;
    if (posix_memalign(&pb, 64, bytes) != 0) pb = NULL;
    gp->packed_b = pb;
    int64_t nb = cc ? (m_bias ? m_bias : nn) : 0;
    if (nb > 0) gp->bias = malloc(sizeof(float) * (size_t)nb);
    if (!gp->packed_b || (nb > 0 && !gp->bias)) {
        gemm_plan_free(gp);
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (Gemm): out of memory packing B",
                        n->name);
    }
    lcv_gemm_pack_b(pc->isa, k, nn, b->data, tb ? k : nn, tb, alpha, gp->packed_b);
    const float *cd = cc ? cc->data : NULL;
    bool scalar_c = !m_bias && ccol == 1; /* C of one element, broadcast everywhere */
    for (int64_t i = 0; i < nb; i++) gp->bias[i] = beta * cd[scalar_c ? 0 : i];
    out->exec = gemm_fast_exec;
    out->data = gp;
    out->free_data = gemm_plan_free;
    out->drops_inputs = 1u << 1 | 1u << 2; /* packed B and the bias copy of C */
    return LCV_OK;
}
