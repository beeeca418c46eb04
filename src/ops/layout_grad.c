/* layout_grad.c - backward of the data-moving ops of layout.c: Transpose (the inverse
 * permutation), Concat (dY cut back into pieces), Split (the pieces' gradients joined, zeros
 * where an output got none), Slice (dY scattered back into a zero dX) and Expand (dY summed
 * over the expanded dims). Slice maps its elements by running its own forward kernel on the
 * element indices of X, so every clamping rule of the forward applies unchanged. */
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"
#include "layout_util.h"

/* ---- Transpose ---- */

lcv_status lcv_grad_transpose(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    int r = x->ndim, perm[LCV_MAX_DIMS], inv[LCV_MAX_DIMS], seen[LCV_MAX_DIMS] = {0};
    const int64_t *v;
    int64_t np = lcv_attr_ints(c->node, "perm", &v);
    if (np >= 0 && np != r)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "perm has %lld entries for rank %d",
                             (long long)np, r);
    for (int k = 0; k < r; k++) {
        int64_t p = np < 0 ? r - 1 - k : v[k];
        if (p < 0 || p >= r || seen[p])
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "perm is not a permutation of %d axes", r);
        seen[p] = 1;
        perm[k] = (int)p;
        inv[p] = k;
    }
    for (int k = 0; k < r; k++)
        if (y->ndim != r || y->dims[k] != x->dims[perm[k]])
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "output shape does not match the permutation");
    if (!dy) {
        memset(dx, 0, sizeof(float) * (size_t)lcv_tensor_count(x));
        return LCV_OK;
    }
    /* dX axis j is dY axis inv[j] */
    lcv_walk_permute(dx, dy, r, y->dims, inv, sizeof(float));
    return LCV_OK;
}

/* ---- Concat and Split: pieces along one axis ---- */

/* Checks that pieces[0..n) (NULL entries allowed) share whole's shape but for `axis`, along
 * which they add up to whole's extent. */
static lcv_status check_pieces(lcv_gradctx *c, const lcv_tensor *whole,
                               const lcv_tensor *const *pieces, int n, int axis) {
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        const lcv_tensor *p = pieces[i];
        bool ok = p && p->ndim == whole->ndim;
        for (int k = 0; ok && k < p->ndim; k++) ok = k == axis || p->dims[k] == whole->dims[k];
        if (!ok)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "piece %d does not match the joined shape "
                                 "off axis %d", i, axis);
        sum += p->dims[axis];
    }
    if (sum != whole->dims[axis])
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "pieces add up to %lld along axis %d, not %lld",
                             (long long)sum, axis, (long long)whole->dims[axis]);
    return LCV_OK;
}

static lcv_status piece_axis(lcv_gradctx *c, int64_t def, int rank, int *axis) {
    int64_t a = lcv_attr_int(c->node, "axis", def);
    if (a < -rank || a >= rank)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)a, rank);
    *axis = (int)(a < 0 ? a + rank : a);
    return LCV_OK;
}

typedef struct pieces_task {
    float *whole;
    float *const *pieces;
    const lcv_tensor *const *shapes;
    int n, axis;
    int64_t inner, slab; /* floats of one index along the axis; of one outer slab of whole */
    bool to_pieces;
} pieces_task;

static void move_slabs(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const pieces_task *t = ctx;
    float *d = t->whole + begin * t->slab;
    for (int64_t o = begin; o < end; o++)
        for (int i = 0; i < t->n; i++) {
            int64_t len = t->shapes[i]->dims[t->axis] * t->inner;
            size_t bytes = sizeof(float) * (size_t)len;
            float *p = t->pieces[i] ? t->pieces[i] + o * len : NULL;
            if (t->to_pieces) {
                if (p && bytes) memcpy(p, d, bytes);
            } else if (bytes) {
                if (p) memcpy(d, p, bytes);
                else memset(d, 0, bytes);
            }
            d += len;
        }
}

/* Moves rows between the joined tensor and its pieces: to_pieces copies whole's slab of each
 * piece out (NULL piece buffers are skipped), else each piece is copied in (NULL: zeros). */
static void move_pieces(lcv_gradctx *c, float *whole, float *const *pieces, const lcv_tensor *w,
                        const lcv_tensor *const *shapes, int n, int axis, bool to_pieces) {
    pieces_task t = {whole, pieces, shapes, n, axis, 1, 0, to_pieces};
    int64_t outer = 1;
    for (int k = 0; k < axis; k++) outer *= w->dims[k];
    for (int k = axis + 1; k < w->ndim; k++) t.inner *= w->dims[k];
    t.slab = w->dims[axis] * t.inner;
    lcv_threadpool_parallel_for(c->pool, outer, lcv_copy_grain(sizeof(float) * (size_t)t.slab),
                                move_slabs, &t);
}

lcv_status lcv_grad_concat(lcv_gradctx *c) {
    const float *dy;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st != LCV_OK) return st;
    const lcv_tensor *y = c->out[0];
    float *d[64];
    if (c->n_in > 64)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "%d inputs; at most 64 supported", c->n_in);
    bool any = false;
    for (int i = 0; i < c->n_in && st == LCV_OK; i++) {
        st = lcv_gradu_din(c, i, &d[i]);
        any |= d[i] != NULL;
    }
    if (st != LCV_OK || !any) return st;
    int axis = 0;
    if ((st = piece_axis(c, 1, y->ndim, &axis)) != LCV_OK ||
        (st = check_pieces(c, y, c->in, c->n_in, axis)) != LCV_OK)
        return st;
    if (!dy) {
        for (int i = 0; i < c->n_in; i++)
            if (d[i]) memset(d[i], 0, sizeof(float) * (size_t)lcv_tensor_count(c->in[i]));
        return LCV_OK;
    }
    move_pieces(c, (float *)dy, d, y, c->in, c->n_in, axis, true);
    return LCV_OK;
}

lcv_status lcv_grad_split(lcv_gradctx *c) {
    float *dx;
    lcv_status st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0];
    if (c->n_out > 64)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "%d outputs; at most 64 supported",
                             c->n_out);
    float *g[64];
    for (int i = 0; i < c->n_out && st == LCV_OK; i++) {
        const float *p;
        st = lcv_gradu_dout(c, i, &p);
        g[i] = (float *)p; /* only read: move_pieces copies from pieces when joining */
    }
    int axis = 0;
    if (st == LCV_OK) st = piece_axis(c, 0, x->ndim, &axis);
    if (st == LCV_OK) st = check_pieces(c, x, (const lcv_tensor *const *)c->out, c->n_out, axis);
    if (st != LCV_OK) return st;
    move_pieces(c, dx, g, x, (const lcv_tensor *const *)c->out, c->n_out, axis, false);
    return LCV_OK;
}

/* ---- Slice ---- */

lcv_status lcv_grad_slice(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    int64_t nx = lcv_tensor_count(x), ny = lcv_tensor_count(y);
    memset(dx, 0, sizeof(float) * (size_t)nx);
    if (!dy || ny == 0) return LCV_OK;
    if (c->n_in > 5) return lcv_grad_fail(c, LCV_ERR_SHAPE, "%d inputs, at most 5", c->n_in);
    /* Element indices of X, sliced by the forward kernel itself. */
    bool narrow = nx <= INT32_MAX;
    size_t es = narrow ? sizeof(int32_t) : sizeof(int64_t);
    lcv_gradu_buf buf;
    if ((st = lcv_gradu_buf_get(c, es * (size_t)(nx + ny), &buf)) != LCV_OK) return st;
    lcv_tensor iota, idx;
    lcv_tensor_init(&iota);
    lcv_tensor_init(&idx);
    iota.owns_data = idx.owns_data = false; /* both borrow buf */
    iota.dtype = idx.dtype = narrow ? LCV_DTYPE_INT32 : LCV_DTYPE_INT64;
    iota.ndim = x->ndim;
    memcpy(iota.dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    iota.data = buf.data;
    iota.capacity = es * (size_t)nx;
    idx.data = (char *)buf.data + es * (size_t)nx;
    idx.capacity = es * (size_t)ny;
    for (int64_t i = 0; i < nx; i++) {
        if (narrow) ((int32_t *)iota.data)[i] = (int32_t)i;
        else ((int64_t *)iota.data)[i] = i;
    }
    const lcv_tensor *ins[5] = {&iota, NULL, NULL, NULL, NULL};
    for (int i = 1; i < c->n_in; i++) ins[i] = c->in[i];
    lcv_tensor *outs[1] = {&idx};
    lcv_opctx oc = {c->node, c->n_in, ins, 1, outs, c->err, NULL, NULL, NULL};
    st = lcv_infer_slice(&oc);
    if (st == LCV_OK && !lcv_shape_equal(idx.ndim, idx.dims, y->ndim, y->dims))
        st = lcv_grad_fail(c, LCV_ERR_SHAPE, "output shape does not match the slice");
    if (st == LCV_OK) st = lcv_exec_slice(&oc);
    if (st == LCV_OK) {
        for (int64_t j = 0; j < ny; j++) {
            int64_t k = narrow ? ((const int32_t *)idx.data)[j] : ((const int64_t *)idx.data)[j];
            if (k < 0 || k >= nx) {
                st = lcv_grad_fail(c, LCV_ERR_INTERNAL, "slice index %lld out of range",
                                   (long long)k);
                break;
            }
            dx[k] += dy[j];
        }
    } else if (st == LCV_DEFERRED) {
        st = lcv_grad_fail(c, LCV_ERR_INTERNAL, "slice parameters have no data");
    }
    lcv_gradu_buf_free(&buf);
    return st;
}

/* ---- Expand ---- */

lcv_status lcv_grad_expand(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    if (!dy) {
        memset(dx, 0, sizeof(float) * (size_t)lcv_tensor_count(x));
        return LCV_OK;
    }
    return lcv_gradu_sum_to(c, dy, y->ndim, y->dims, dx, x->ndim, x->dims);
}
