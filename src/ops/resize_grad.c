/* resize_grad.c - backward of Resize (opsets 10-19) and Upsample (7, 9) in nearest and linear
 * (bilinear, N-d) modes with the coordinate transformations torchvision exports produce
 * (half_pixel, pytorch_half_pixel, align_corners, asymmetric, half_pixel_symmetric,
 * tf_half_pixel_for_nn), scales or sizes ("stretch"), opset-18 axes and exclude_outside.
 * The forward's per-axis tap tables (resize.c) are rebuilt here and applied transposed: each
 * output gradient is spread over the input elements it was interpolated from. Cubic mode,
 * antialias, tf_crop_and_resize and the keep_aspect_ratio policies other than stretch have no
 * backward and fail with a message. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"

enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
       CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN };
/* NM_SIMPLE: the pre-opset-11 rule, floor when upsampling and ceil when downsampling */
enum { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct rg_params {
    bool linear, exclude_outside;
    int ct, nm, rank;
    int64_t in[LCV_MAX_DIMS], out[LCV_MAX_DIMS];
    double scale[LCV_MAX_DIMS];
} rg_params;

static int name_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* The values of a float tensor of exactly n elements (scales). */
static lcv_status read_floats(lcv_gradctx *c, const lcv_tensor *t, int n, double *v) {
    if (!lcv_dtype_is_float(t->dtype) || lcv_tensor_count(t) != n || !t->data)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "scales must hold %d float values", n);
    for (int i = 0; i < n; i++) v[i] = lcv_load_f64(t->dtype, t->data, i);
    return LCV_OK;
}

static lcv_status rg_parse(lcv_gradctx *c, rg_params *p) {
    static const char *const cts[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                      "align_corners", "asymmetric", "tf_half_pixel_for_nn"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const lcv_node *n = c->node;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    bool modern = n->op == LCV_OP_Resize && n->opset >= 11;
    memset(p, 0, sizeof *p);
    const char *mode = lcv_attr_str(n, "mode", "nearest");
    if (strcmp(mode, "linear") == 0 || (n->op == LCV_OP_Upsample && strcmp(mode, "bilinear") == 0))
        p->linear = true;
    else if (strcmp(mode, "nearest") != 0)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "mode '%s' has no backward", mode);
    p->ct = CT_ASYMMETRIC;
    p->nm = NM_SIMPLE;
    if (modern) {
        const char *ct = lcv_attr_str(n, "coordinate_transformation_mode", "half_pixel");
        const char *nm = lcv_attr_str(n, "nearest_mode", "round_prefer_floor");
        const char *pol = lcv_attr_str(n, "keep_aspect_ratio_policy", "stretch");
        p->ct = name_index(ct, cts, (int)(sizeof cts / sizeof cts[0]));
        p->nm = name_index(nm, nms, (int)(sizeof nms / sizeof nms[0]));
        if (p->ct < 0)
            return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s' "
                                 "has no backward", ct);
        if (p->nm < 0) return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "nearest_mode '%s'", nm);
        if (n->opset >= 18 && lcv_attr_int(n, "antialias", 0) != 0)
            return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "antialias has no backward");
        if (n->opset >= 18 && strcmp(pol, "stretch") != 0)
            return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "keep_aspect_ratio_policy '%s' has no "
                                 "backward", pol);
        p->exclude_outside = lcv_attr_int(n, "exclude_outside", 0) != 0;
    }
    int r = p->rank = x->ndim;
    if (r < 1 || y->ndim != r) return lcv_grad_fail(c, LCV_ERR_SHAPE, "X and Y ranks differ");
    for (int d = 0; d < r; d++) {
        p->in[d] = x->dims[d];
        p->out[d] = y->dims[d];
        p->scale[d] = 1.0;
        if (p->in[d] == 0 && p->out[d] > 0)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %d of X is empty", d);
    }
    /* which axes the scales / sizes describe */
    int axes[LCV_MAX_DIMS], na = r;
    const int64_t *av = NULL;
    int64_t nav = modern && n->opset >= 18 ? lcv_attr_ints(n, "axes", &av) : -1;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (nav >= 0) {
        if (nav < 1 || nav > r)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "axes has %lld entries", (long long)nav);
        na = (int)nav;
        for (int i = 0; i < na; i++) {
            if (av[i] < -r || av[i] >= r)
                return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range",
                                     (long long)av[i]);
            axes[i] = (int)(av[i] < 0 ? av[i] + r : av[i]);
        }
    }
    double v[LCV_MAX_DIMS];
    lcv_status st;
    if (n->op == LCV_OP_Upsample && n->opset < 9) {
        const float *f;
        if (lcv_attr_floats(n, "scales", &f) != r)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "attribute 'scales' must have %d values", r);
        for (int d = 0; d < r; d++) p->scale[d] = f[d];
        return LCV_OK;
    }
    const lcv_tensor *scales = lcv_grad_input(c, modern ? 2 : 1);
    const lcv_tensor *sizes = modern ? lcv_grad_input(c, 3) : NULL;
    if (scales && lcv_tensor_count(scales) == 0) scales = NULL;
    if (sizes && lcv_tensor_count(sizes) == 0) sizes = NULL;
    if (scales) {
        if ((st = read_floats(c, scales, na, v)) != LCV_OK) return st;
        for (int i = 0; i < na; i++) p->scale[axes[i]] = v[i];
    } else if (sizes) { /* stretch: the scale is the ratio of the extents */
        for (int i = 0; i < na; i++) {
            int d = axes[i];
            p->scale[d] = p->in[d] ? (double)p->out[d] / (double)p->in[d] : 1.0;
        }
    } else {
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "neither scales nor sizes is given");
    }
    for (int d = 0; d < r; d++)
        if (!(p->scale[d] > 0) || !isfinite(p->scale[d]))
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "scale %g of axis %d is invalid", p->scale[d],
                                 d);
    return LCV_OK;
}

/* Source coordinate of output position xo on axis d (resize.c's transformations). */
static double rg_coord(const rg_params *p, int d, int64_t xo) {
    double x = (double)xo, s = p->scale[d], in = (double)p->in[d], out = (double)p->out[d];
    switch (p->ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adj = out / (s * in), center = in / 2;
        return center * (1 - adj) + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: {
        double len = in * s;
        return len == 1.0 ? 0.0 : x * (in - 1) / (len - 1);
    }
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    default: return x / s;
    }
}

static int64_t rg_nearest(const rg_params *p, int d, double x) {
    double f = floor(x), frac = x - f;
    switch (p->nm) {
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)ceil(x);
    case NM_SIMPLE: return (int64_t)(p->scale[d] < 1.0 ? ceil(x) : f);
    case NM_PREFER_CEIL: return (int64_t)(frac >= 0.5 ? f + 1 : f);
    default: return (int64_t)(frac > 0.5 ? f + 1 : f);
    }
}

/* Two taps (index, weight) per output position of axis d; unused taps have weight 0.
 * Returns the taps actually used on this axis (1 or 2). */
static int rg_axis(const rg_params *p, int d, int64_t *idx, double *w) {
    int64_t in = p->in[d];
    int used = 1;
    for (int64_t o = 0; o < p->out[d]; o++) {
        double x = rg_coord(p, d, o);
        int64_t *ix = idx + 2 * o;
        double *wx = w + 2 * o;
        if (!isfinite(x) || fabs(x) > 4.0e18) x = x > 0 ? 4.0e18 : -4.0e18;
        ix[1] = 0;
        wx[1] = 0;
        if (!p->linear) {
            int64_t k = rg_nearest(p, d, x);
            ix[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
            wx[0] = 1;
            continue;
        }
        double b = floor(x), sum = 0;
        for (int t = 0; t < 2; t++) {
            double pos = b + t, dist = fabs(pos - x);
            wx[t] = dist < 1 ? 1 - dist : 0;
            if (p->exclude_outside && (pos < 0 || pos > (double)(in - 1))) wx[t] = 0;
            ix[t] = pos < 0 ? 0 : pos > (double)(in - 1) ? in - 1 : (int64_t)pos;
            sum += wx[t];
        }
        if (p->exclude_outside && sum != 0) wx[0] /= sum, wx[1] /= sum;
        if (wx[1] != 0) used = 2;
    }
    return used;
}

typedef struct rg_task {
    const rg_params *p;
    const float *dy;
    float *dx;
    int lead; /* leading axes that are identity maps: their planes are independent */
    int ntap[LCV_MAX_DIMS];
    const int64_t *idx[LCV_MAX_DIMS];
    const double *w[LCV_MAX_DIMS];
    int64_t xstr[LCV_MAX_DIMS], plane_in, plane_out;
} rg_task;

/* Widest input row the separable path keeps on the stack. */
#define RG_ROW_MAX 2048

/* Planes of two resized axes (H, W): the transposed interpolation is separable, so each output
 * row is first spread along W into one input-width row, which is then added to the (one or two)
 * input rows it was interpolated from. About four multiply-adds per output element instead of
 * the general loop's per-tap index arithmetic. */
static void rg_planes_2d(const rg_task *t, int64_t begin, int64_t end) {
    const rg_params *p = t->p;
    int dh = p->rank - 2, dw = p->rank - 1, th = t->ntap[dh], tw = t->ntap[dw];
    int64_t oh = p->out[dh], ow = p->out[dw], iw = p->in[dw];
    const int64_t *iy = t->idx[dh], *ix = t->idx[dw];
    const double *wy = t->w[dh], *wx = t->w[dw];
    float row[RG_ROW_MAX];
    for (int64_t pl = begin; pl < end; pl++) {
        const float *g = t->dy + pl * t->plane_out;
        float *dx = t->dx + pl * t->plane_in;
        for (int64_t oy = 0; oy < oh; oy++, g += ow) {
            memset(row, 0, sizeof(float) * (size_t)iw);
            for (int64_t ox = 0; ox < ow; ox++)
                for (int k = 0; k < tw; k++) row[ix[2 * ox + k]] += g[ox] * (float)wx[2 * ox + k];
            for (int k = 0; k < th; k++) {
                float w = (float)wy[2 * oy + k];
                float *restrict d = dx + iy[2 * oy + k] * iw;
                if (w != 0.0f)
                    for (int64_t j = 0; j < iw; j++) d[j] += w * row[j];
            }
        }
    }
}

static void rg_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const rg_task *t = ctx;
    const rg_params *p = t->p;
    int r = p->rank, L = t->lead;
    if (r - L == 2 && p->in[r - 1] <= RG_ROW_MAX) {
        rg_planes_2d(t, begin, end);
        return;
    }
    int combos = 1;
    for (int d = L; d < r; d++) combos *= t->ntap[d];
    for (int64_t pl = begin; pl < end; pl++) {
        const float *g = t->dy + pl * t->plane_out;
        float *dx = t->dx + pl * t->plane_in;
        int64_t o[LCV_MAX_DIMS] = {0};
        for (int64_t e = 0; e < t->plane_out; e++) {
            for (int cmb = 0; cmb < combos; cmb++) {
                double w = g[e];
                int64_t off = 0;
                int rest = cmb;
                for (int d = L; d < r && w != 0; d++) {
                    int tap = rest % t->ntap[d];
                    rest /= t->ntap[d];
                    w *= t->w[d][2 * o[d] + tap];
                    off += t->idx[d][2 * o[d] + tap] * t->xstr[d];
                }
                if (w != 0) dx[off] += (float)w;
            }
            for (int d = r - 1; d >= L; d--) {
                if (++o[d] < p->out[d]) break;
                o[d] = 0;
            }
        }
    }
}

lcv_status lcv_grad_resize(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    for (int i = 1; i < c->n_in && st == LCV_OK; i++)
        if (lcv_grad_din(c, i)) st = lcv_gradu_din_zero(c, i); /* roi, scales: no gradient */
    if (st != LCV_OK || !dx) return st;
    rg_params p;
    if ((st = rg_parse(c, &p)) != LCV_OK) return st;
    int64_t nx = lcv_tensor_count(c->in[0]), ny = lcv_tensor_count(c->out[0]);
    memset(dx, 0, sizeof(float) * (size_t)nx);
    if (!dy || ny == 0 || nx == 0) return LCV_OK;
    size_t total = 0;
    for (int d = 0; d < p.rank; d++) total += 2 * (size_t)p.out[d];
    lcv_gradu_buf buf;
    if ((st = lcv_gradu_buf_get(c, total * (sizeof(int64_t) + sizeof(double)), &buf)) != LCV_OK)
        return st;
    rg_task t;
    memset(&t, 0, sizeof t);
    t.p = &p;
    t.dy = dy;
    t.dx = dx;
    double *wmem = buf.data;
    int64_t *imem = (int64_t *)(void *)(wmem + total);
    for (int d = 0; d < p.rank; d++) {
        t.w[d] = wmem;
        t.idx[d] = imem;
        t.ntap[d] = rg_axis(&p, d, imem, wmem);
        wmem += 2 * p.out[d];
        imem += 2 * p.out[d];
    }
    lcv_shape_strides(p.rank, p.in, t.xstr);
    /* leading identity axes (typically N and C) split the work into independent planes */
    int64_t planes = 1;
    for (int d = 0; d < p.rank - 1 && t.ntap[d] == 1 && p.in[d] == p.out[d]; d++) {
        bool ident = true;
        for (int64_t o = 0; ident && o < p.out[d]; o++)
            ident = t.idx[d][2 * o] == o && t.w[d][2 * o] == 1.0;
        if (!ident) break;
        t.lead = d + 1;
        planes *= p.in[d];
    }
    t.plane_in = nx / planes;
    t.plane_out = ny / planes;
    lcv_threadpool_parallel_for(c->pool, planes, 16384 / (t.plane_out * 4) + 1, rg_planes, &t);
    lcv_gradu_buf_free(&buf);
    return LCV_OK;
}
