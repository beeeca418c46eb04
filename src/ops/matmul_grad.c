/* matmul_grad.c - the backward of MatMul with numpy semantics: dA = dY * B^T and dB = A^T * dY
 * per batch entry through the packed GEMM, 1-D operands read as a row / column, and the
 * gradient of an operand broadcast along batch dims summed over them (in batch order, so the
 * result does not depend on threads). */
#include <stdlib.h>
#include <string.h>

#include "gemm_grad.h"

/* True when batch entry `coord` is the first (in row-major order) that reads the operand's
 * entry: every dim the operand is broadcast along (absent, or of size 1) is at 0. */
static bool first_visit(int nbat, const int64_t *coord, int nx, const int64_t *xbat) {
    for (int i = 0; i < nbat; i++) {
        int xi = i - (nbat - nx);
        if (coord[i] != 0 && (xi < 0 || xbat[xi] == 1)) return false;
    }
    return true;
}

lcv_status lcv_grad_matmul(lcv_gradctx *c) {
    lcv_status st = lcv_grad_check(c, NULL);
    if (st != LCV_OK) return st;
    const lcv_tensor *ta = c->in[0], *tb = c->in[1];
    lcv_tensor *da = lcv_grad_din(c, 0), *db = lcv_grad_din(c, 1);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    if (!da && !db) return LCV_OK;
    /* Shapes as the forward reads them (its infer has accepted them). */
    int64_t m = ta->ndim == 1 ? 1 : ta->dims[ta->ndim - 2], k = ta->dims[ta->ndim - 1];
    int64_t n = tb->ndim == 1 ? 1 : tb->dims[tb->ndim - 1];
    int na = ta->ndim > 2 ? ta->ndim - 2 : 0, nb = tb->ndim > 2 ? tb->ndim - 2 : 0;
    int nbat = na > nb ? na : nb;
    int64_t bat[LCV_MAX_DIMS], nbatch;
    for (int i = 0; i < nbat; i++) {
        int ai = i - (nbat - na), bi = i - (nbat - nb);
        int64_t av = ai >= 0 ? ta->dims[ai] : 1, bv = bi >= 0 ? tb->dims[bi] : 1;
        bat[i] = av == 1 ? bv : av;
    }
    if (!lcv_shape_numel(nbat, bat, &nbatch))
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "the broadcast batch shape is too large");
    /* Nothing reaches Y, or there are no products (then every gradient is zero or empty). */
    if (!dyt || nbatch == 0 || m == 0 || n == 0 || k == 0) {
        if (da) memset(da->data, 0, sizeof(float) * (size_t)lcv_tensor_count(da));
        if (db) memset(db->data, 0, sizeof(float) * (size_t)lcv_tensor_count(db));
        return LCV_OK;
    }
    const float *a = ta->data, *b = tb->data, *dy = dyt->data;
    lcv_isa isa = lcv_grad_isa();
    void *owned;
    float *pack = lcv_grad_floats(c, da ? lcv_grad_mm_pack_floats(isa, n, k) : 0, &owned);
    if (!pack) return LCV_ERR_NOMEM;
    lcv_grad_mat bt = {b, n, true};
    if (nb == 0) {
        /* B is shared by every batch entry and A is not broadcast: the batch folds into M, so
         * each gradient is one product (dB sums over the batch inside the GEMM's k). */
        int64_t mm = nbatch * m;
        lcv_grad_mat dym = {dy, n, false};
        if (da) st = lcv_grad_mm(c, isa, mm, k, n, dym, bt, 1.0f, da->data, k, false, pack);
        if (st == LCV_OK && db)
            st = lcv_grad_mm(c, isa, k, n, mm, (lcv_grad_mat){a, k, true}, dym, 1.0f, db->data,
                             n, false, pack);
        free(owned);
        return st;
    }
    int64_t bstr[LCV_MAX_DIMS], coord[LCV_MAX_DIMS] = {0};
    lcv_shape_strides(nbat, bat, bstr);
    const int64_t *abat = ta->dims, *bbat = tb->dims;
    int64_t mk = m * k, kn = k * n, mn = m * n;
    for (int64_t bi = 0; bi < nbatch && st == LCV_OK; bi++) {
        int64_t ao = lcv_broadcast_index(bi, nbat, bat, bstr, na, abat) * mk;
        int64_t bo = lcv_broadcast_index(bi, nbat, bat, bstr, nb, bbat) * kn;
        lcv_grad_mat dym = {dy + bi * mn, n, false};
        if (da) {
            bt.data = b + bo;
            st = lcv_grad_mm(c, isa, m, k, n, dym, bt, 1.0f, (float *)da->data + ao, k,
                             !first_visit(nbat, coord, na, abat), pack);
        }
        if (st == LCV_OK && db)
            st = lcv_grad_mm(c, isa, k, n, m, (lcv_grad_mat){a + ao, k, true}, dym, 1.0f,
                             (float *)db->data + bo, n, !first_visit(nbat, coord, nb, bbat),
                             pack);
        for (int d = nbat - 1; d >= 0 && ++coord[d] == bat[d]; d--) coord[d] = 0;
    }
    free(owned);
    return st;
}
