/* conv.c - Conv: shape inference with full validation and the reference ("oracle") kernel for
 * N-d spatial convolution with groups, strides, dilations, pads, auto_pad and optional bias.
 * The kernel is direct (no im2col scratch): per output channel it accumulates kernel tap by
 * kernel tap into contiguous output rows so the innermost loop vectorises. */
#include <stdlib.h>

#include "window.h"

/* Everything exec needs, re-derived from the inputs by both infer and exec. */
typedef struct conv_geom {
    int nsp;
    int64_t batch, cin, cout, group, cin_g, cout_g;
    int64_t in_size, out_size, k_size; /* products over the spatial dims */
    lcv_window w;
} conv_geom;

static bool conv_dtype_ok(lcv_dtype d) {
    return d == LCV_DTYPE_FLOAT32 || d == LCV_DTYPE_FLOAT64 || d == LCV_DTYPE_FLOAT16 ||
           d == LCV_DTYPE_BFLOAT16;
}

/* Fills the spatial size products, refusing outputs whose element count overflows. */
static lcv_status geom_sizes(lcv_opctx *c, conv_geom *g) {
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

static lcv_status conv_geom_get(lcv_opctx *c, conv_geom *g) {
    const lcv_tensor *x = lcv_op_input(c, 0), *wt = lcv_op_input(c, 1), *b = lcv_op_input(c, 2);
    if (!x || !wt) return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs X and W are required");
    if (!conv_dtype_ok(x->dtype))
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
    g->cout = wt->dims[0];
    g->cin_g = wt->dims[1];
    g->group = lcv_attr_int(c->node, "group", 1);
    if (g->group < 1 || g->group > LCV_WINDOW_MAX_ATTR)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "group = %lld must be >= 1",
                           (long long)g->group);
    if (g->cin_g < 1 || g->cin % g->group != 0 || g->cin / g->group != g->cin_g)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s has %lld channels, which are not group "
                           "%lld slices of %lld channels as W %s expects", sx,
                           (long long)g->cin, (long long)g->group, (long long)g->cin_g, sw);
    if (g->cout % g->group != 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "W %s: %lld output channels are not divisible by "
                           "group %lld", sw, (long long)g->cout, (long long)g->group);
    g->cout_g = g->cout / g->group;
    if (b && (b->ndim != 1 || b->dims[0] != g->cout)) {
        char sb[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "B %s must be 1-D with %lld elements",
                           lcv_shape_str(b->ndim, b->dims, sb, sizeof sb), (long long)g->cout);
    }
    lcv_status st = lcv_window_parse(c, g->nsp, x->dims + 2, wt->dims + 2, &g->w);
    if (st != LCV_OK) return st;
    if ((st = lcv_window_forward_out(c, &g->w, false)) != LCV_OK) return st;
    return geom_sizes(c, g);
}

lcv_status lcv_infer_conv(lcv_opctx *c) {
    conv_geom g;
    lcv_status st = conv_geom_get(c, &g);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS] = {g.batch, g.cout};
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.w.out[i];
    lcv_op_set_out(c, 0, lcv_op_input(c, 0)->dtype, g.nsp + 2, dims);
    return LCV_OK;
}

/* Valid output range [*lo, *hi) along one spatial dim for kernel tap k: the outputs whose input
 * coordinate o*stride + k*dilation - pad_begin lies inside the input. */
static void tap_range(const lcv_window *w, int d, int64_t k, int64_t *lo, int64_t *hi) {
    int64_t off = k * w->dilation[d] - w->pad_begin[d];
    int64_t l = lcv_ceil_div(-off, w->stride[d]);
    int64_t h = lcv_floor_div(w->in[d] - 1 - off, w->stride[d]) + 1;
    *lo = l < 0 ? 0 : l;
    *hi = h > w->out[d] ? w->out[d] : h;
}

/* True when, for this tap, every output reads the input at the same offset from its own
 * position in a layout of equal row lengths: stride 1, the tap valid for every output, and
 * input and output of the same size in all but the outermost spatial dim. */
static bool conv_tap_is_flat(const lcv_window *w, const int64_t *lo, const int64_t *hi) {
    for (int d = 0; d < w->nsp; d++)
        if (w->stride[d] != 1 || lo[d] != 0 || hi[d] != w->out[d] ||
            (d > 0 && w->in[d] != w->out[d]))
            return false;
    return true;
}

/* The kernel body, written once for float (accumulating in float) and double. For one output
 * channel plane y and one input channel plane x with weights wk[k_size]: for every kernel tap,
 * for every output row whose input row exists, y[row][o] += w * x[row'][o*s + off]. Rows are
 * the outer spatial dims walked with an odometer limited to the tap's valid range. */
#define LCV_CONV_PLANE(NAME, T)                                                                   \
    static void NAME(const lcv_window *w, T *y, const T *x, const T *wk) {                      \
        int nsp = w->nsp, last = nsp - 1;                                                         \
        int64_t ostr[LCV_MAX_DIMS], istr[LCV_MAX_DIMS], kidx[LCV_MAX_DIMS] = {0};                 \
        lcv_shape_strides(nsp, w->out, ostr);                                                     \
        lcv_shape_strides(nsp, w->in, istr);                                                      \
        int64_t k_size = 1, w_out_size = 1;                                                       \
        for (int d = 0; d < nsp; d++) {                                                           \
            k_size *= w->kernel[d];                                                               \
            w_out_size *= w->out[d];                                                              \
        }                                                                                         \
        for (int64_t tap = 0; tap < k_size; tap++) {                                              \
            T wv = wk[tap];                                                                       \
            int64_t lo[LCV_MAX_DIMS] = {0}, hi[LCV_MAX_DIMS] = {0}, o[LCV_MAX_DIMS];              \
            bool empty = false;                                                                   \
            for (int d = 0; d < nsp; d++) {                                                       \
                tap_range(w, d, kidx[d], &lo[d], &hi[d]);                                         \
                if (lo[d] >= hi[d]) empty = true;                                                 \
                o[d] = lo[d];                                                                     \
            }                                                                                     \
            int64_t s = w->stride[last], n_o = hi[last] - lo[last];                               \
            int64_t xoff = lo[last] * s + kidx[last] * w->dilation[last] - w->pad_begin[last];    \
            if (!empty && conv_tap_is_flat(w, lo, hi)) {                                          \
                /* The tap reads one contiguous block: a single long row (1x1 convs). */          \
                int64_t xo = 0;                                                                   \
                for (int d = 0; d < nsp; d++)                                                     \
                    xo += (kidx[d] * w->dilation[d] - w->pad_begin[d]) * istr[d];                 \
                T *restrict yr = y;                                                               \
                const T *restrict xr = x + xo;                                                    \
                for (int64_t j = 0; j < w_out_size; j++) yr[j] += wv * xr[j];                     \
                empty = true;                                                                     \
            }                                                                                     \
            while (!empty) {                                                                      \
                int64_t yo = lo[last], xo = xoff;                                                 \
                for (int d = 0; d < last; d++) {                                                  \
                    yo += o[d] * ostr[d];                                                         \
                    xo += (o[d] * w->stride[d] + kidx[d] * w->dilation[d] - w->pad_begin[d]) *    \
                          istr[d];                                                                \
                }                                                                                 \
                T *restrict yr = y + yo;                                                          \
                const T *restrict xr = x + xo;                                                    \
                if (s == 1) {                                                                     \
                    for (int64_t j = 0; j < n_o; j++) yr[j] += wv * xr[j];                        \
                } else {                                                                          \
                    for (int64_t j = 0; j < n_o; j++) yr[j] += wv * xr[j * s];                    \
                }                                                                                 \
                int d = last - 1;                                                                 \
                while (d >= 0 && ++o[d] == hi[d]) {                                               \
                    o[d] = lo[d];                                                                 \
                    d--;                                                                          \
                }                                                                                 \
                if (d < 0) break;                                                                 \
            }                                                                                     \
            for (int d = last; d >= 0 && ++kidx[d] == w->kernel[d]; d--) kidx[d] = 0;             \
        }                                                                                         \
    }

LCV_CONV_PLANE(conv_plane_f32, float)
LCV_CONV_PLANE(conv_plane_f64, double)

#define LCV_CONV_RUN(NAME, PLANE, T)                                                              \
    static void NAME(const void *geom, const T *x, const T *wt, const T *b, T *y) {          \
        const conv_geom *g = geom;                                                                   \
        for (int64_t n = 0; n < g->batch; n++) {                                                  \
            for (int64_t m = 0; m < g->cout; m++) {                                               \
                int64_t grp = m / g->cout_g;                                                      \
                T *yp = y + (n * g->cout + m) * g->out_size;                                      \
                T bias = b ? b[m] : (T)0;                                                         \
                for (int64_t i = 0; i < g->out_size; i++) yp[i] = bias;                           \
                for (int64_t ic = 0; ic < g->cin_g; ic++) {                                       \
                    const T *xp = x + (n * g->cin + grp * g->cin_g + ic) * g->in_size;            \
                    PLANE(&g->w, yp, xp, wt + (m * g->cin_g + ic) * g->k_size);                   \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

LCV_CONV_RUN(conv_run_f32, conv_plane_f32, float)
LCV_CONV_RUN(conv_run_f64, conv_plane_f64, double)

lcv_status lcv_exec_conv(lcv_opctx *c) {
    conv_geom g;
    lcv_status st = conv_geom_get(c, &g);
    if (st != LCV_OK) return st;
    return lcv_window_run(c, &g, conv_run_f32, conv_run_f64);
}
