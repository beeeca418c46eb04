/* conv_transpose.c - ConvTranspose: shape inference (output_padding, output_shape, auto_pad,
 * group, dilations) with validation, and the reference kernel. The kernel scatters each input
 * row into the output, tap by tap, so the inner loop reads contiguous input. */
#include <stdlib.h>

#include "window.h"

typedef struct convt_geom {
    int nsp;
    int64_t batch, cin, cout, group, cin_g, cout_g;
    int64_t in_size, out_size, k_size;
    lcv_window w; /* w.pad_end may be negative: outputs past the natural end get only bias */
} convt_geom;

static bool convt_dtype_ok(lcv_dtype d) {
    return d == LCV_DTYPE_FLOAT32 || d == LCV_DTYPE_FLOAT64 || d == LCV_DTYPE_FLOAT16 ||
           d == LCV_DTYPE_BFLOAT16;
}

/* Reads output_padding and output_shape and resolves pads and output sizes into g->w. */
static lcv_status convt_outputs(lcv_opctx *c, convt_geom *g) {
    lcv_window *w = &g->w;
    int nsp = g->nsp;
    int64_t opad[LCV_MAX_DIMS] = {0};
    const int64_t *v;
    int64_t n = lcv_attr_ints(c->node, "output_padding", &v);
    if (n >= 0) {
        if (n != nsp)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'output_padding' has %lld values, "
                               "expected %d", (long long)n, nsp);
        for (int i = 0; i < nsp; i++) {
            int64_t lim = w->stride[i] > w->dilation[i] ? w->stride[i] : w->dilation[i];
            if (v[i] < 0 || v[i] >= lim)
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "output_padding[%d] = %lld must be "
                                   "in [0, %lld) (below stride or dilation)", i, (long long)v[i],
                                   (long long)lim);
            opad[i] = v[i];
        }
    }
    const int64_t *oshape = NULL;
    n = lcv_attr_ints(c->node, "output_shape", &v);
    if (n >= 0) {
        /* Normally spatial only; some exporters write the full N, C, ... shape. */
        if (n == nsp) oshape = v;
        else if (n == nsp + 2) oshape = v + 2;
        else
            return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'output_shape' has %lld values, "
                               "expected %d", (long long)n, nsp);
    }
    for (int i = 0; i < nsp; i++) {
        if (w->in[i] < 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d of X is %lld", i,
                               (long long)w->in[i]);
        /* Output size before any padding is removed. */
        int64_t full = w->stride[i] * (w->in[i] - 1) + opad[i] + lcv_window_extent(w, i);
        bool same = w->auto_pad == LCV_AUTO_PAD_SAME_UPPER ||
                    w->auto_pad == LCV_AUTO_PAD_SAME_LOWER;
        if (oshape || same) {
            int64_t out = oshape ? oshape[i] : w->in[i] * w->stride[i];
            int64_t lim = w->stride[i] > w->dilation[i] ? w->stride[i] : w->dilation[i];
            if (out < 1 || out > full + lim - 1)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d: output size %lld is "
                                   "outside [1, %lld] for input %lld, stride %lld, kernel %lld",
                                   i, (long long)out, (long long)(full + lim - 1),
                                   (long long)w->in[i], (long long)w->stride[i],
                                   (long long)w->kernel[i]);
            int64_t total = full - out;
            if (total < 0) {
                w->pad_begin[i] = 0;
            } else if (w->auto_pad == LCV_AUTO_PAD_SAME_LOWER) {
                w->pad_begin[i] = total - total / 2;
            } else {
                w->pad_begin[i] = total / 2;
            }
            w->pad_end[i] = total - w->pad_begin[i];
            w->out[i] = out;
        } else {
            if (w->auto_pad == LCV_AUTO_PAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
            w->out[i] = full - w->pad_begin[i] - w->pad_end[i];
            if (w->out[i] < 1)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d: output size %lld < 1 "
                                   "(input %lld, stride %lld, kernel %lld, pads %lld+%lld)", i,
                                   (long long)w->out[i], (long long)w->in[i],
                                   (long long)w->stride[i], (long long)w->kernel[i],
                                   (long long)w->pad_begin[i], (long long)w->pad_end[i]);
        }
    }
    return LCV_OK;
}

/* Fills the spatial size products, refusing outputs whose element count overflows. */
static lcv_status geom_sizes(lcv_opctx *c, convt_geom *g) {
    int64_t dims[LCV_MAX_DIMS] = {g->batch, g->cout}, n;
    for (int i = 0; i < g->nsp; i++) dims[2 + i] = g->w.out[i];
    if (!lcv_shape_numel(g->nsp + 2, dims, &n) || !lcv_shape_numel(g->nsp, g->w.out, &n)) {
        char s[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output shape %s is too large",
                           lcv_shape_str(g->nsp + 2, dims, s, sizeof s));
    }
    g->in_size = g->out_size = g->k_size = 1;
    for (int i = 0; i < g->nsp; i++) {
        g->in_size *= g->w.in[i];
        g->out_size *= g->w.out[i];
        g->k_size *= g->w.kernel[i];
    }
    return LCV_OK;
}

static lcv_status convt_geom_get(lcv_opctx *c, convt_geom *g) {
    const lcv_tensor *x = lcv_op_input(c, 0), *wt = lcv_op_input(c, 1), *b = lcv_op_input(c, 2);
    if (!x || !wt) return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs X and W are required");
    if (!convt_dtype_ok(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "X has dtype %s; float16/32/64 or bfloat16 "
                           "expected", lcv_dtype_name(x->dtype));
    if (wt->dtype != x->dtype || (b && b->dtype != x->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X is %s but W is %s%s%s", lcv_dtype_name(x->dtype),
                           lcv_dtype_name(wt->dtype), b ? " and B is " : "",
                           b ? lcv_dtype_name(b->dtype) : "");
    char sx[128], sw[128];
    lcv_shape_str(x->ndim, x->dims, sx, sizeof sx);
    lcv_shape_str(wt->ndim, wt->dims, sw, sizeof sw);
    if (x->ndim < 3 || wt->ndim != x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s must have rank >= 3 and W %s the same rank",
                           sx, sw);
    g->nsp = x->ndim - 2;
    g->batch = x->dims[0];
    g->cin = x->dims[1];
    g->group = lcv_attr_int(c->node, "group", 1);
    if (g->group < 1 || g->group > LCV_WINDOW_MAX_ATTR)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "group = %lld must be >= 1",
                           (long long)g->group);
    if (wt->dims[0] != g->cin || g->cin % g->group != 0 || g->cin < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s has %lld channels; W %s must have as many "
                           "in dim 0 and group %lld must divide them", sx, (long long)g->cin,
                           sw, (long long)g->group);
    g->cin_g = g->cin / g->group;
    g->cout_g = wt->dims[1];
    if (g->cout_g > INT64_MAX / g->group)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "W %s with group %lld is too large", sw,
                           (long long)g->group);
    g->cout = g->cout_g * g->group;
    if (b && (b->ndim != 1 || b->dims[0] != g->cout)) {
        char sb[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "B %s must be 1-D with %lld elements",
                           lcv_shape_str(b->ndim, b->dims, sb, sizeof sb), (long long)g->cout);
    }
    lcv_status st = lcv_window_parse(c, g->nsp, x->dims + 2, wt->dims + 2, &g->w);
    if (st != LCV_OK) return st;
    if ((st = convt_outputs(c, g)) != LCV_OK) return st;
    return geom_sizes(c, g);
}

lcv_status lcv_infer_conv_transpose(lcv_opctx *c) {
    convt_geom g;
    lcv_status st = convt_geom_get(c, &g);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS] = {g.batch, g.cout};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.w.out[i];
    lcv_op_set_out(c, 0, lcv_op_input(c, 0)->dtype, g.nsp + 2, dims);
    return LCV_OK;
}

/* Valid input range [*lo, *hi) along spatial dim d for kernel tap k: the inputs whose output
 * coordinate i*stride + k*dilation - pad_begin lies inside the output. */
static void tap_range(const lcv_window *w, int d, int64_t k, int64_t *lo, int64_t *hi) {
    int64_t off = k * w->dilation[d] - w->pad_begin[d];
    int64_t l = lcv_ceil_div(-off, w->stride[d]);
    int64_t h = lcv_floor_div(w->out[d] - 1 - off, w->stride[d]) + 1;
    *lo = l < 0 ? 0 : l;
    *hi = h > w->in[d] ? w->in[d] : h;
}

/* Scatters one input channel plane x through kernel wk into one output channel plane y, for
 * float (accumulating in float) and double. Rows are the outer spatial dims of the input. */
#define LCV_CONVT_PLANE(NAME, T)                                                                  \
    static void NAME(const lcv_window *w, T *y, const T *x, const T *wk) {                      \
        int nsp = w->nsp, last = nsp - 1;                                                         \
        int64_t ostr[LCV_MAX_DIMS], istr[LCV_MAX_DIMS], kidx[LCV_MAX_DIMS] = {0};                 \
        lcv_shape_strides(nsp, w->out, ostr);                                                     \
        lcv_shape_strides(nsp, w->in, istr);                                                      \
        int64_t k_size = 1;                                                                       \
        for (int d = 0; d < nsp; d++) k_size *= w->kernel[d];                                     \
        for (int64_t tap = 0; tap < k_size; tap++) {                                              \
            T wv = wk[tap];                                                                       \
            int64_t lo[LCV_MAX_DIMS] = {0}, hi[LCV_MAX_DIMS] = {0}, i[LCV_MAX_DIMS];              \
            bool empty = false;                                                                   \
            for (int d = 0; d < nsp; d++) {                                                       \
                tap_range(w, d, kidx[d], &lo[d], &hi[d]);                                         \
                if (lo[d] >= hi[d]) empty = true;                                                 \
                i[d] = lo[d];                                                                     \
            }                                                                                     \
            int64_t s = w->stride[last], n_i = hi[last] - lo[last];                               \
            int64_t yoff = lo[last] * s + kidx[last] * w->dilation[last] - w->pad_begin[last];    \
            while (!empty) {                                                                      \
                int64_t xo = lo[last], yo = yoff;                                                 \
                for (int d = 0; d < last; d++) {                                                  \
                    xo += i[d] * istr[d];                                                         \
                    yo += (i[d] * w->stride[d] + kidx[d] * w->dilation[d] - w->pad_begin[d]) *    \
                          ostr[d];                                                                \
                }                                                                                 \
                T *restrict yr = y + yo;                                                          \
                const T *restrict xr = x + xo;                                                    \
                for (int64_t j = 0; j < n_i; j++) yr[j * s] += wv * xr[j];                        \
                int d = last - 1;                                                                 \
                while (d >= 0 && ++i[d] == hi[d]) {                                               \
                    i[d] = lo[d];                                                                 \
                    d--;                                                                          \
                }                                                                                 \
                if (d < 0) break;                                                                 \
            }                                                                                     \
            for (int d = last; d >= 0 && ++kidx[d] == w->kernel[d]; d--) kidx[d] = 0;             \
        }                                                                                         \
    }

LCV_CONVT_PLANE(convt_plane_f32, float)
LCV_CONVT_PLANE(convt_plane_f64, double)

/* W is [C_in, C_out/group, k...]: input channel ic of group grp feeds output channels
 * grp*cout_g .. grp*cout_g + cout_g - 1. */
#define LCV_CONVT_RUN(NAME, PLANE, T)                                                             \
    static void NAME(const void *geom, const T *x, const T *wt, const T *b, T *y) {          \
        const convt_geom *g = geom;                                                                   \
        for (int64_t n = 0; n < g->batch; n++) {                                                  \
            for (int64_t m = 0; m < g->cout; m++) {                                               \
                int64_t grp = m / g->cout_g, mg = m % g->cout_g;                                  \
                T *yp = y + (n * g->cout + m) * g->out_size;                                      \
                T bias = b ? b[m] : (T)0;                                                         \
                for (int64_t i = 0; i < g->out_size; i++) yp[i] = bias;                           \
                for (int64_t icg = 0; icg < g->cin_g; icg++) {                                    \
                    int64_t ic = grp * g->cin_g + icg;                                            \
                    const T *xp = x + (n * g->cin + ic) * g->in_size;                             \
                    PLANE(&g->w, yp, xp, wt + (ic * g->cout_g + mg) * g->k_size);                 \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

LCV_CONVT_RUN(convt_run_f32, convt_plane_f32, float)
LCV_CONVT_RUN(convt_run_f64, convt_plane_f64, double)

lcv_status lcv_exec_conv_transpose(lcv_opctx *c) {
    convt_geom g;
    lcv_status st = convt_geom_get(c, &g);
    if (st != LCV_OK) return st;
    return lcv_window_run(c, &g, convt_run_f32, convt_run_f64);
}
