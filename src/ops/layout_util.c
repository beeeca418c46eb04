/* layout_util.c - helpers of layout_util.h: input checks for the shape/layout ops, and the
 * strided-copy engine: axis simplification, an odometer over the outer axes, and inner loops
 * specialised for contiguous runs, small element sizes and 2-D tiles (so transposes do not
 * thrash the cache on large planes). */
#include <string.h>

#include "layout_util.h"

/* Fetches input i with a storable dtype and a known shape; unknown ranks or dims (load time)
 * defer the node to run time. */
lcv_status lcv_layout_input(lcv_opctx *c, int i, const char *what, const lcv_tensor **out) {
    const lcv_tensor *t = lcv_op_input(c, i);
    if (!t) return lcv_op_fail(c, LCV_ERR_SHAPE, "required input '%s' is missing", what);
    if (t->ndim < 0) return LCV_DEFERRED;
    if (t->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input '%s' has rank %d, at most %d supported",
                           what, t->ndim, LCV_MAX_DIMS);
    for (int k = 0; k < t->ndim; k++)
        if (t->dims[k] < 0) return LCV_DEFERRED;
    int64_t n;
    if (!lcv_shape_numel(t->ndim, t->dims, &n))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input '%s' has too many elements", what);
    if (lcv_dtype_size(t->dtype) == 0)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input '%s' has unsupported dtype %s", what,
                           lcv_dtype_name(t->dtype));
    *out = t;
    return LCV_OK;
}

/* Sets output i after checking that its element count is representable. */
lcv_status lcv_layout_set_out(lcv_opctx *c, int i, lcv_dtype dtype, int ndim,
                              const int64_t *dims) {
    int64_t n;
    if (!lcv_shape_numel(ndim, dims, &n)) {
        char buf[160];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output shape %s is negative or too large",
                           lcv_shape_str(ndim, dims, buf, sizeof buf));
    }
    if (c->out[i]) lcv_op_set_out(c, i, dtype, ndim, dims);
    return LCV_OK;
}

/* Reads optional 1-D integer input i (axes, pads, repeats, starts...) into vals; *n = -1 when
 * the input is omitted; LCV_DEFERRED while its data is unknown. */
lcv_status lcv_layout_read_vec(lcv_opctx *c, int i, const char *what, int64_t *vals,
                               int64_t cap, int64_t *n) {
    const lcv_tensor *t = lcv_op_input(c, i);
    *n = -1;
    if (!t) return LCV_OK;
    if (t->ndim < 0) return LCV_DEFERRED;
    if (t->ndim != 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input '%s' must be 1-D, got rank %d", what, t->ndim);
    return lcv_op_read_ints(c, t, what, vals, cap, n);
}

/* Side of the square tiles used when the innermost source stride is not contiguous. */
#define WALK_TILE 32

void lcv_walk_simplify(lcv_walk *w) {
    int n = 0;
    for (int k = 0; k < w->nd; k++) {
        if (w->dims[k] == 0) { /* empty output: keep one zero axis so copy does nothing */
            w->nd = 1;
            w->dims[0] = 0;
            w->stride[0] = 0;
            return;
        }
        if (w->dims[k] == 1) continue;
        w->dims[n] = w->dims[k];
        w->stride[n] = w->stride[k];
        n++;
    }
    /* Merge axis k into k+1 when stepping k equals stepping over all of k+1. */
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (m > 0 && w->stride[m - 1] == w->stride[k] * w->dims[k]) {
            w->dims[m - 1] *= w->dims[k];
            w->stride[m - 1] = w->stride[k];
            continue;
        }
        w->dims[m] = w->dims[k];
        w->stride[m] = w->stride[k];
        m++;
    }
    while (m > 0 && w->stride[m - 1] == (int64_t)w->block) {
        w->block *= (size_t)w->dims[m - 1];
        m--;
    }
    w->nd = m;
}

/* One row of n elements of size bs, source stride s bytes. Fixed-size memcpy compiles to a
 * plain load/store for the common element sizes. */
static void copy_row(char *d, const char *p, int64_t n, int64_t s, size_t bs) {
    switch (bs) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i] = p[i * s];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(d + 2 * i, p + i * s, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(d + 4 * i, p + i * s, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) memcpy(d + 8 * i, p + i * s, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * bs, p + i * s, bs);
        break;
    }
}

/* rows x cols plane, destination dense, source strides rs/cs, walked in square tiles. */
static void copy_plane(char *d, const char *p, int64_t rows, int64_t cols, int64_t rs,
                       int64_t cs, size_t bs) {
    for (int64_t r0 = 0; r0 < rows; r0 += WALK_TILE) {
        int64_t r1 = r0 + WALK_TILE < rows ? r0 + WALK_TILE : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += WALK_TILE) {
            int64_t n = c0 + WALK_TILE < cols ? WALK_TILE : cols - c0;
            for (int64_t r = r0; r < r1; r++)
                copy_row(d + (size_t)(r * cols + c0) * bs, p + r * rs + c0 * cs, n, cs, bs);
        }
    }
}

void lcv_walk_copy(const lcv_walk *w, void *dst, const void *src) {
    char *d = dst;
    const char *s = src;
    int nd = w->nd;
    for (int k = 0; k < nd; k++)
        if (w->dims[k] == 0) return;
    if (nd == 0) {
        memcpy(d, s, w->block);
        return;
    }
    /* Inner kernel: a tiled plane when the innermost source axis is strided and the one above
     * it is short-strided (a transpose), else a single row. */
    int inner = 1;
    if (nd >= 2 && w->stride[nd - 1] != (int64_t)w->block) inner = 2;
    int outer = nd - inner;
    int64_t rows = inner == 2 ? w->dims[nd - 2] : 1, cols = w->dims[nd - 1];
    int64_t rs = inner == 2 ? w->stride[nd - 2] : 0, cs = w->stride[nd - 1];
    size_t chunk = (size_t)(rows * cols) * w->block;
    int64_t idx[LCV_MAX_DIMS] = {0};
    int64_t off = 0;
    for (;;) {
        if (inner == 2)
            copy_plane(d, s + off, rows, cols, rs, cs, w->block);
        else if (cs == (int64_t)w->block)
            memcpy(d, s + off, chunk);
        else
            copy_row(d, s + off, cols, cs, w->block);
        d += chunk;
        int k = outer - 1;
        for (; k >= 0; k--) {
            idx[k]++;
            off += w->stride[k];
            if (idx[k] < w->dims[k]) break;
            off -= w->stride[k] * w->dims[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
}

void lcv_walk_permute(void *dst, const void *src, int nd, const int64_t *dims, const int *perm,
                      size_t es) {
    int64_t strides[LCV_MAX_DIMS];
    lcv_shape_strides(nd, dims, strides);
    lcv_walk w;
    w.nd = nd;
    w.block = es;
    for (int k = 0; k < nd; k++) {
        w.dims[k] = dims[perm[k]];
        w.stride[k] = strides[perm[k]] * (int64_t)es;
    }
    lcv_walk_simplify(&w);
    lcv_walk_copy(&w, dst, src);
}
