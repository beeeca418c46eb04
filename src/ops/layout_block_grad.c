/* layout_block_grad.c - backward of Pad (layout_block.c) in its constant, reflect and edge
 * modes, negative pads (crops) included: every output element adds its gradient to the input
 * element it was copied from (several, for reflect and edge, may land on one), and the
 * elements filled with the constant add theirs to constant_value's gradient. */
#include <string.h>

#include "grad_util.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

/* Source index of padded position i (already shifted by the begin pad) on an axis of size d,
 * or -1 for the constant: the forward's rule (reflect has period 2(d-1)). */
static int64_t pad_source(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    if (mode == PAD_CONSTANT || d == 0) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : d - 1;
    if (d == 1) return 0;
    int64_t p = 2 * (d - 1), m = i % p;
    if (m < 0) m += p;
    return m < d ? m : p - m;
}

/* Up to cap integers of optional 1-D input i into v; *n = -1 when it is absent. */
static lcv_status read_ints(lcv_gradctx *c, int i, const char *what, int64_t *v, int64_t cap,
                            int64_t *n) {
    const lcv_tensor *t = lcv_grad_input(c, i);
    *n = -1;
    if (!t) return LCV_OK;
    if (!lcv_dtype_is_int(t->dtype) || t->ndim != 1 || t->dims[0] > cap || !t->data)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "%s must be a 1-D integer tensor of at most %lld "
                             "values", what, (long long)cap);
    for (int64_t k = 0; k < t->dims[0]; k++) v[k] = lcv_load_i64(t->dtype, t->data, k);
    *n = t->dims[0];
    return LCV_OK;
}

/* The mode and the begin pad of each axis, as the forward reads them; checks that the output
 * has the padded shape. */
static lcv_status pad_params(lcv_gradctx *c, int *mode, int64_t *begin) {
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    int r = x->ndim;
    const char *m = lcv_attr_str(c->node, "mode", "constant");
    if (strcmp(m, "constant") == 0) *mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0) *mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0) *mode = PAD_EDGE;
    else return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "mode '%s' is not supported", m);
    int64_t pads[2 * LCV_MAX_DIMS], np, axes[LCV_MAX_DIMS], na = -1;
    lcv_status st;
    if (c->node->opset < 11) {
        const int64_t *v;
        np = lcv_attr_ints(c->node, "pads", &v);
        if (np > 2 * LCV_MAX_DIMS)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "pads has %lld entries", (long long)np);
        for (int64_t i = 0; i < np; i++) pads[i] = v[i];
    } else if ((st = read_ints(c, 1, "pads", pads, 2 * LCV_MAX_DIMS, &np)) != LCV_OK) {
        return st;
    }
    if (c->node->opset >= 18 && (st = read_ints(c, 3, "axes", axes, r, &na)) != LCV_OK)
        return st;
    int naxes = na >= 0 ? (int)na : r, seen[LCV_MAX_DIMS] = {0};
    if (np != 2 * naxes)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "pads must have %d entries, got %lld", 2 * naxes,
                             (long long)np);
    int64_t end[LCV_MAX_DIMS] = {0};
    for (int k = 0; k < r; k++) begin[k] = 0;
    for (int i = 0; i < naxes; i++) {
        int64_t a = na >= 0 ? axes[i] : i;
        if (a < -r || a >= r || seen[a < 0 ? a + r : a]++)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range or repeated",
                                 (long long)a);
        int k = (int)(a < 0 ? a + r : a);
        begin[k] = pads[i];
        end[k] = pads[i + naxes];
    }
    bool ok = y->ndim == r;
    for (int k = 0; ok && k < r; k++) {
        int64_t b = begin[k], e = end[k];
        /* the forward bounds pads by 2^60, so the sum below cannot overflow */
        ok = b > -((int64_t)1 << 60) && b < ((int64_t)1 << 60) && e > -((int64_t)1 << 60) &&
             e < ((int64_t)1 << 60) && y->dims[k] == x->dims[k] + b + e;
    }
    if (!ok) return lcv_grad_fail(c, LCV_ERR_SHAPE, "output shape does not match the pads");
    return LCV_OK;
}

lcv_status lcv_grad_pad(lcv_gradctx *c) {
    const float *dy;
    float *dx, *dval = NULL;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st == LCV_OK && c->node->opset >= 11) st = lcv_gradu_din(c, 2, &dval);
    if (st != LCV_OK || (!dx && !dval)) return st;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    int mode = PAD_CONSTANT, r = x->ndim;
    int64_t begin[LCV_MAX_DIMS];
    if ((st = pad_params(c, &mode, begin)) != LCV_OK) return st;
    int64_t nx = lcv_tensor_count(x), ny = lcv_tensor_count(y);
    if (dx) memset(dx, 0, sizeof(float) * (size_t)nx);
    if (dval) dval[0] = 0.0f;
    if (!dy || ny == 0) return LCV_OK;
    if (r == 0) {
        if (dx) dx[0] = dy[0];
        return LCV_OK;
    }
    /* Source index per output position, per axis: sum of the output dims int64s. */
    size_t total = 0;
    for (int k = 0; k < r; k++) total += (size_t)y->dims[k];
    lcv_gradu_buf buf;
    if ((st = lcv_gradu_buf_get(c, sizeof(int64_t) * total, &buf)) != LCV_OK) return st;
    int64_t *map[LCV_MAX_DIMS], xstr[LCV_MAX_DIMS], *m = buf.data;
    lcv_shape_strides(r, x->dims, xstr);
    for (int k = 0; k < r; k++) {
        map[k] = m;
        for (int64_t o = 0; o < y->dims[k]; o++)
            m[o] = pad_source(mode, o - begin[k], x->dims[k]);
        m += y->dims[k];
    }
    double fill = 0; /* gradient of the constant, summed in output order */
    int64_t coord[LCV_MAX_DIMS] = {0}, n = y->dims[r - 1];
    const int64_t *last = map[r - 1];
    for (const float *g = dy; g < dy + ny; g += n) {
        int64_t base = 0;
        bool inside = true;
        for (int k = 0; k < r - 1; k++) {
            int64_t s = map[k][coord[k]];
            inside &= s >= 0;
            base += s * xstr[k];
        }
        for (int64_t o = 0; o < n; o++) {
            if (inside && last[o] >= 0) {
                if (dx) dx[base + last[o]] += g[o];
            } else {
                fill += g[o];
            }
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++coord[k] < y->dims[k]) break;
            coord[k] = 0;
        }
    }
    if (dval) dval[0] = (float)fill;
    lcv_gradu_buf_free(&buf);
    return LCV_OK;
}
