/* matmul_plan.c - the fast path for float32 MatMul: with a constant 2-D B (linear layers) the
 * weights are packed once and every row of A (all batch dims flattened) runs through one
 * GEMM; with both operands dynamic (attention QK^T, AV) each batch runs a GEMM reading B in
 * place. The node's fused residual and activation go into the GEMM epilogue. Other dtypes
 * keep the reference kernel. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32-gemm/gemm.h"
#include "../kernels/f32-gemv/gemv.h"
#include "plan.h"

typedef struct matmul_plan {
    lcv_isa isa;
    int64_t k, n;     /* of the packed B; 0 when B is not constant */
    float *packed_b;  /* owned, or NULL */
} matmul_plan;

static void matmul_plan_free(void *p) {
    matmul_plan *mp = p;
    if (!mp) return;
    free(mp->packed_b);
    free(mp);
}

static lcv_status matmul_reference(lcv_opctx *c) {
    const lcv_tensor *b = lcv_op_input(c, 1);
    if (b && !b->data) /* freed at load (drops_inputs) */
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "the reference kernel is needed for this input "
                           "but B was released at load (only the packed copy is kept)");
    lcv_status st = lcv_exec_matmul(c);
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

static lcv_status run_gemm(lcv_opctx *c, const matmul_plan *mp, int64_t m, int64_t n, int64_t k,
                           lcv_gemm_operand a, lcv_gemm_operand b, float *y, const float *res,
                           float *ws) {
    lcv_gemm_epilogue epi = {NULL, false, res, n, &c->node->fused};
    lcv_gemm_args g = {mp->isa, m, n, k, a, b, y, n, &epi};
    lcv_gemm_ws gws = {ws, NULL, NULL};
    lcv_status st = lcv_gemm_run_ws(&g, ws ? &gws : NULL, c->pool, c->err);
    if (st != LCV_OK) lcv_err_prefix(c->err, "node '%s' (MatMul)", c->node->name);
    return st;
}

static lcv_status matmul_fast_exec(lcv_opctx *c) {
    const matmul_plan *mp = c->plan;
    const lcv_tensor *a = lcv_op_input(c, 0), *b = lcv_op_input(c, 1);
    lcv_tensor *y = c->out[0];
    if (!mp || !a || !b || a->dtype != LCV_DTYPE_FLOAT32 || b->dtype != LCV_DTYPE_FLOAT32 ||
        a->ndim < 1 || b->ndim < 1 || y->dtype != LCV_DTYPE_FLOAT32)
        return matmul_reference(c);
    int64_t m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2], k = a->dims[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    int64_t n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    int64_t ycount = lcv_tensor_count(y);
    if (kb != k || k == 0) return matmul_reference(c);
    if (ycount == 0) return LCV_OK;
    lcv_status st;
    const float *res = lcv_op_fused_residual_f32(c, &st);
    if (st != LCV_OK) return st;
    float *yd = y->data;
    if (mp->packed_b && b->ndim == 2 && k == mp->k && n == mp->n) {
        /* Constant weights: all of A's leading dims are rows of one GEMM. */
        int64_t rows = ycount / n;
        if (rows == 1) { /* batch 1: stream the packed weights once (GEMV) */
            const lcv_fused *f = &c->node->fused;
            lcv_gemv_args v = {mp->isa, k, n, a->data, mp->packed_b, NULL, res,
                               f->act != LCV_ACT_NONE ? f : NULL, yd};
            lcv_gemv_run(&v, c->pool);
            return LCV_OK;
        }
        lcv_gemm_operand ao = {a->data, k, false, false}, bo = {mp->packed_b, 0, false, true};
        return run_gemm(c, mp, rows, n, k, ao, bo, yd, res, NULL);
    }
    /* Batched: broadcast the batch dims as the reference does, one GEMM per batch. */
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nbat;
    int64_t bat[LCV_MAX_DIMS], bstr[LCV_MAX_DIMS];
    st = lcv_op_broadcast(c, na, a->dims, nb, b->dims, &nbat, bat);
    if (st != LCV_OK) return st;
    int64_t nbatch = 1;
    for (int i = 0; i < nbat; i++) nbatch *= bat[i];
    if (nbatch * m * n != ycount) return matmul_reference(c);
    lcv_shape_strides(nbat, bat, bstr);
    /* Optional: with it the GEMM copies B into contiguous panels when they are reused. */
    size_t ws_bytes = lcv_gemm_ws_size(mp->isa, lcv_threadpool_size(c->pool));
    float *ws = ws_bytes ? lcv_op_scratch(c, ws_bytes) : NULL;
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ao = lcv_broadcast_index(bi, nbat, bat, bstr, na, a->dims) * m * k;
        int64_t bo = lcv_broadcast_index(bi, nbat, bat, bstr, nb, b->dims) * k * n;
        lcv_gemm_operand aop = {(const float *)a->data + ao, k, false, false};
        lcv_gemm_operand bop = {(const float *)b->data + bo, n, false, false};
        float *ybat = yd + bi * m * n;
        st = run_gemm(c, mp, m, n, k, aop, bop, ybat, res ? res + bi * m * n : NULL, ws);
        if (st != LCV_OK) return st;
    }
    return LCV_OK;
}

lcv_status lcv_plan_matmul(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_tensor *a = pc->n_in > 0 ? pc->in[0] : NULL, *b = pc->n_in > 1 ? pc->in[1] : NULL;
    if (!a || !b || a->dtype != LCV_DTYPE_FLOAT32 || b->dtype != LCV_DTYPE_FLOAT32) return LCV_OK;
    matmul_plan *mp = calloc(1, sizeof *mp);
    if (!mp)
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (MatMul): out of memory",
                        pc->node->name);
    mp->isa = pc->isa;
    if (b->data && b->ndim == 2 && b->dims[0] > 0 && b->dims[1] > 0) {
        size_t bytes = lcv_gemm_pack_b_size(pc->isa, b->dims[0], b->dims[1]);
        void *p = NULL;
        if (bytes == 0 || posix_memalign(&p, 64, bytes) != 0) {
            free(mp);
            return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (MatMul): out of memory packing B",
                            pc->node->name);
        }
        mp->packed_b = p;
        mp->k = b->dims[0];
        mp->n = b->dims[1];
        lcv_gemm_pack_b(pc->isa, mp->k, mp->n, b->data, mp->n, false, 1.0f, mp->packed_b);
    }
    out->exec = matmul_fast_exec;
    out->data = mp;
    out->free_data = matmul_plan_free;
    if (mp->packed_b) out->drops_inputs = 1u << 1; /* a constant B runs from its packed copy */
    return LCV_OK;
}
