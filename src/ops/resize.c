/* resize.c - Resize (opsets 10-19) and Upsample (7, 9): nearest, N-d linear and cubic
 * resampling with every coordinate transformation mode, sizes or scales, opset-18 axes,
 * keep_aspect_ratio_policy and antialias. Each resized axis gets a table of source taps and
 * weights (sized by the output extent); a float32 path handles the common "resize the last two
 * axes" case with plain 2-D loops, a generic path any rank and dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/threadpool.h"
#include "op.h"

typedef enum { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;
typedef enum {
    CT_HALF_PIXEL,
    CT_HALF_PIXEL_SYMMETRIC,
    CT_PYTORCH_HALF_PIXEL,
    CT_ALIGN_CORNERS,
    CT_ASYMMETRIC,
    CT_TF_HALF_PIXEL_FOR_NN,
    CT_TF_CROP_AND_RESIZE
} rs_coord_mode;
/* NM_SIMPLE is the pre-opset-11 rule: floor when upsampling, ceil when downsampling. */
typedef enum { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } rs_nearest;

typedef struct rs_params {
    rs_mode mode;
    rs_coord_mode ct;
    rs_nearest nm;
    double cubic_a, extrapolation;
    bool exclude_outside, antialias;
    int rank;
    int64_t in[LCV_MAX_DIMS], out[LCV_MAX_DIMS];
    double scale[LCV_MAX_DIMS];
    double roi_start[LCV_MAX_DIMS], roi_end[LCV_MAX_DIMS];
} rs_params;

/* Source taps of one axis: for output position o, ntap (index, weight) pairs at o*ntap. An
 * index of -1 in the first tap marks a position outside the crop (extrapolation value). */
typedef struct rs_axis {
    int64_t ntap;
    int64_t *idx;
    double *w;
} rs_axis;

static const struct {
    const char *name;
    int value;
} ct_names[] = {{"half_pixel", CT_HALF_PIXEL},
                {"half_pixel_symmetric", CT_HALF_PIXEL_SYMMETRIC},
                {"pytorch_half_pixel", CT_PYTORCH_HALF_PIXEL},
                {"align_corners", CT_ALIGN_CORNERS},
                {"asymmetric", CT_ASYMMETRIC},
                {"tf_half_pixel_for_nn", CT_TF_HALF_PIXEL_FOR_NN},
                {"tf_crop_and_resize", CT_TF_CROP_AND_RESIZE}},
  nm_names[] = {{"round_prefer_floor", NM_PREFER_FLOOR},
                {"round_prefer_ceil", NM_PREFER_CEIL},
                {"floor", NM_FLOOR},
                {"ceil", NM_CEIL}};

/* Reads the string attributes that select the algorithm. */
static lcv_status rs_parse_attrs(lcv_opctx *c, rs_params *p) {
    const lcv_node *n = c->node;
    bool modern = n->op == LCV_OP_Resize && n->opset >= 11;
    const char *mode = lcv_attr_str(n, "mode", "nearest");
    if (strcmp(mode, "nearest") == 0) p->mode = RS_NEAREST;
    else if (strcmp(mode, "linear") == 0 || (n->op == LCV_OP_Upsample && strcmp(mode, "bilinear") == 0))
        p->mode = RS_LINEAR;
    else if (modern && strcmp(mode, "cubic") == 0) p->mode = RS_CUBIC;
    else
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "mode '%s' is not supported at opset %d",
                           mode, n->opset);
    p->ct = CT_ASYMMETRIC;
    p->nm = NM_SIMPLE;
    p->cubic_a = -0.75;
    if (!modern) return LCV_OK;

    const char *ct = lcv_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    size_t i;
    for (i = 0; i < sizeof ct_names / sizeof ct_names[0]; i++)
        if (strcmp(ct, ct_names[i].name) == 0) break;
    if (i == sizeof ct_names / sizeof ct_names[0])
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "coordinate_transformation_mode '%s' is "
                           "unknown", ct);
    p->ct = (rs_coord_mode)ct_names[i].value;
    const char *nm = lcv_attr_str(n, "nearest_mode", "round_prefer_floor");
    for (i = 0; i < sizeof nm_names / sizeof nm_names[0]; i++)
        if (strcmp(nm, nm_names[i].name) == 0) break;
    if (i == sizeof nm_names / sizeof nm_names[0])
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "nearest_mode '%s' is unknown", nm);
    p->nm = (rs_nearest)nm_names[i].value;
    p->cubic_a = lcv_attr_float(n, "cubic_coeff_a", -0.75f);
    p->extrapolation = lcv_attr_float(n, "extrapolation_value", 0.0f);
    p->exclude_outside = lcv_attr_int(n, "exclude_outside", 0) != 0;
    p->antialias = n->opset >= 18 && lcv_attr_int(n, "antialias", 0) != 0;
    if (!isfinite(p->cubic_a) || (p->ct == CT_TF_CROP_AND_RESIZE && isnan(p->extrapolation)))
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "cubic_coeff_a/extrapolation_value must be "
                           "finite");
    return LCV_OK;
}

/* The axes scales/sizes/roi refer to (opset 18 'axes'; otherwise all), as a list of distinct
 * normalised axes. */
static lcv_status rs_axes(lcv_opctx *c, int rank, int *axes, int *naxes) {
    const int64_t *a = NULL;
    int64_t n = c->node->opset >= 18 ? lcv_attr_ints(c->node, "axes", &a) : -1;
    if (n < 0) {
        for (int i = 0; i < rank; i++) axes[i] = i;
        *naxes = rank;
        return LCV_OK;
    }
    if (n < 1 || n > rank)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "axes has %lld entries for rank %d",
                           (long long)n, rank);
    bool seen[LCV_MAX_DIMS] = {false};
    for (int64_t i = 0; i < n; i++) {
        lcv_status st = lcv_op_axis(c, a[i], rank, &axes[i]);
        if (st != LCV_OK) return st;
        if (seen[axes[i]])
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "axis %lld repeats in axes",
                               (long long)a[i]);
        seen[axes[i]] = true;
    }
    *naxes = (int)n;
    return LCV_OK;
}

/* Checks a float input tensor of exactly want elements and returns LCV_DEFERRED without data. */
static lcv_status rs_read_floats(lcv_opctx *c, const lcv_tensor *t, const char *what,
                                 int64_t want, double *vals) {
    if (!lcv_dtype_is_float(t->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be a float tensor, got %s", what,
                           lcv_dtype_name(t->dtype));
    if (t->ndim != 1 || t->dims[0] != want)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be 1-D with %lld entries, got %lld", what,
                           (long long)want, (long long)lcv_tensor_count(t));
    if (!t->data) return LCV_DEFERRED;
    for (int64_t i = 0; i < want; i++) vals[i] = lcv_load_f64(t->dtype, t->data, i);
    return LCV_OK;
}

/* Output extent for a scale; floor(in * scale) (times the crop length for tf_crop_and_resize). */
static lcv_status rs_scaled_size(lcv_opctx *c, int d, double in, double s, int64_t *out) {
    double v = floor(in * s);
    if (!(v >= 0) || v > 4611686018427387904.0)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "axis %d: output size %g from scale %g is "
                           "out of range", d, v, s);
    *out = (int64_t)v;
    return LCV_OK;
}

/* Everything both infer and exec need: algorithm, in/out extents, scales and roi. */
static lcv_status rs_parse(lcv_opctx *c, rs_params *p) {
    const lcv_tensor *x = c->in[0];
    memset(p, 0, sizeof *p);
    lcv_status st = rs_parse_attrs(c, p);
    if (st != LCV_OK) return st;
    if (!lcv_dtype_is_float(x->dtype) && !lcv_dtype_is_int(x->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X must be numeric, got %s",
                           lcv_dtype_name(x->dtype));
    int r = p->rank = x->ndim;
    if (r < 1) return lcv_op_fail(c, LCV_ERR_SHAPE, "X must have rank >= 1");
    for (int d = 0; d < r; d++) {
        p->in[d] = p->out[d] = x->dims[d];
        p->scale[d] = 1.0;
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
    }
    int axes[LCV_MAX_DIMS], na = r;
    const lcv_node *n = c->node;
    const lcv_tensor *scales = NULL, *sizes = NULL, *roi = NULL;
    double vals[LCV_MAX_DIMS * 2];
    if (n->op == LCV_OP_Upsample && n->opset < 9) {
        const float *f;
        int64_t cnt = lcv_attr_floats(n, "scales", &f);
        if (cnt != r)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'scales' must have %d values, "
                               "got %lld", r, (long long)cnt);
        for (int d = 0; d < r; d++) vals[d] = f[d];
        for (int d = 0; d < r; d++) axes[d] = d;
        goto have_scales;
    }
    if (n->op == LCV_OP_Upsample || n->opset < 11) {
        scales = lcv_op_input(c, 1);
        if (!scales) return lcv_op_fail(c, LCV_ERR_SHAPE, "input 'scales' is required");
        for (int d = 0; d < r; d++) axes[d] = d;
    } else {
        if ((st = rs_axes(c, r, axes, &na)) != LCV_OK) return st;
        roi = lcv_op_input(c, 1);
        scales = lcv_op_input(c, 2);
        sizes = lcv_op_input(c, 3);
        if (scales && lcv_tensor_count(scales) == 0) scales = NULL;
        if (sizes && lcv_tensor_count(sizes) == 0) sizes = NULL;
        if (!!scales == !!sizes)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "exactly one of 'scales' and 'sizes' "
                               "must be given (non-empty)");
        if (p->ct == CT_TF_CROP_AND_RESIZE) {
            if (!roi || lcv_tensor_count(roi) == 0)
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "tf_crop_and_resize needs 'roi'");
            if ((st = rs_read_floats(c, roi, "roi", 2 * (int64_t)na, vals)) != LCV_OK) return st;
            for (int i = 0; i < na; i++) {
                p->roi_start[axes[i]] = vals[i];
                p->roi_end[axes[i]] = vals[na + i];
                if (!isfinite(vals[i]) || !isfinite(vals[na + i]))
                    return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "roi values must be finite");
            }
        }
    }
    if (sizes) {
        int64_t sz[LCV_MAX_DIMS], cnt = 0;
        if (sizes->ndim != 1 || sizes->dims[0] != na)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "sizes must be 1-D with %d entries, got %lld",
                               na, (long long)lcv_tensor_count(sizes));
        if ((st = lcv_op_read_ints(c, sizes, "sizes", sz, na, &cnt)) != LCV_OK) return st;
        const char *pol = n->opset >= 18 ? lcv_attr_str(n, "keep_aspect_ratio_policy", "stretch")
                                         : "stretch";
        bool not_larger = strcmp(pol, "not_larger") == 0;
        if (!not_larger && strcmp(pol, "not_smaller") != 0 && strcmp(pol, "stretch") != 0)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "keep_aspect_ratio_policy '%s' is unknown",
                               pol);
        for (int i = 0; i < na; i++) {
            if (sz[i] < 0 || sz[i] > ((int64_t)1 << 40))
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "sizes[%d] = %lld is out of range", i,
                                   (long long)sz[i]);
            if (p->in[axes[i]] == 0 && sz[i] > 0)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %d is empty but sizes asks for %lld",
                                   axes[i], (long long)sz[i]);
        }
        if (strcmp(pol, "stretch") == 0) {
            for (int i = 0; i < na; i++) {
                int d = axes[i];
                p->out[d] = sz[i];
                p->scale[d] = p->in[d] ? (double)sz[i] / (double)p->in[d] : 1.0;
            }
        } else {
            double s = not_larger ? INFINITY : 0.0;
            for (int i = 0; i < na; i++) {
                if (p->in[axes[i]] == 0) continue;
                double si = (double)sz[i] / (double)p->in[axes[i]];
                s = not_larger ? (si < s ? si : s) : (si > s ? si : s);
            }
            if (!isfinite(s) || s <= 0) s = 1.0;
            for (int i = 0; i < na; i++) {
                int d = axes[i];
                p->scale[d] = s;
                p->out[d] = (int64_t)floor(s * (double)p->in[d] + 0.5);
            }
        }
        return LCV_OK;
    }
    if ((st = rs_read_floats(c, scales, "scales", na, vals)) != LCV_OK) return st;
have_scales:
    for (int i = 0; i < na; i++) {
        int d = axes[i];
        if (!(vals[i] > 0) || !isfinite(vals[i]))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "scales[%d] = %g must be positive and "
                               "finite", i, vals[i]);
        p->scale[d] = vals[i];
        double len = (double)p->in[d];
        if (p->ct == CT_TF_CROP_AND_RESIZE) len *= p->roi_end[d] - p->roi_start[d];
        if ((st = rs_scaled_size(c, d, len, vals[i], &p->out[d])) != LCV_OK) return st;
    }
    return LCV_OK;
}

lcv_status lcv_infer_resize(lcv_opctx *c) {
    rs_params p;
    lcv_status st = rs_parse(c, &p);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, c->in[0]->dtype, p.rank, p.out);
    return LCV_OK;
}

lcv_status lcv_infer_upsample(lcv_opctx *c) { return lcv_infer_resize(c); }

/* ---- tap tables ---- */

/* Source coordinate of output position x on axis d. */
static double rs_coord(const rs_params *p, int d, int64_t xo) {
    double x = (double)xo, s = p->scale[d], in = (double)p->in[d], out = (double)p->out[d];
    switch (p->ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adj = out / (s * in), center = in / 2;
        return center * (1 - adj) + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: {
        /* The reference divides by the unrounded resized length in * scale. */
        double len = in * s;
        return len == 1.0 ? 0.0 : x * (in - 1) / (len - 1);
    }
    case CT_ASYMMETRIC: return x / s;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case CT_TF_CROP_AND_RESIZE: {
        double a = p->roi_start[d], b = p->roi_end[d];
        return out > 1 ? a * (in - 1) + x * (b - a) * (in - 1) / (out - 1)
                       : 0.5 * (a + b) * (in - 1);
    }
    }
    return x;
}

static int64_t rs_round_nearest(const rs_params *p, int d, double x) {
    double f = floor(x), frac = x - f;
    switch (p->nm) {
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)ceil(x);
    case NM_SIMPLE: return (int64_t)(p->scale[d] < 1.0 ? ceil(x) : f);
    case NM_PREFER_CEIL: return (int64_t)(frac >= 0.5 ? f + 1 : f);
    case NM_PREFER_FLOOR: break;
    }
    return (int64_t)(frac > 0.5 ? f + 1 : f);
}

/* Interpolation kernel value at distance t (in kernel units). */
static double rs_kernel(const rs_params *p, double t) {
    t = fabs(t);
    if (p->mode == RS_LINEAR) return t < 1 ? 1 - t : 0;
    double a = p->cubic_a;
    if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0;
}

/* Taps per output position on axis d. Antialiasing widens the kernel by 1/scale when
 * downsampling; the tap count then grows like in/out, so a table stays O(in + out). */
static int64_t rs_ntap(const rs_params *p, int d) {
    if (p->mode == RS_NEAREST) return 1;
    double radius = p->mode == RS_LINEAR ? 1 : 2;
    double es = p->antialias && p->scale[d] < 1 ? p->scale[d] : 1.0;
    int64_t start = (int64_t)floor(-radius / es) + 1;
    return 2 - 2 * start;
}

static lcv_status rs_build_axis(const rs_params *p, int d, rs_axis *ax) {
    int64_t in = p->in[d], nt = ax->ntap;
    double es = p->antialias && p->scale[d] < 1 ? p->scale[d] : 1.0;
    int64_t start = 1 - nt / 2;
    for (int64_t o = 0; o < p->out[d]; o++) {
        int64_t *idx = ax->idx + o * nt;
        double *w = ax->w + o * nt, x = rs_coord(p, d, o);
        for (int64_t t = 0; t < nt; t++) idx[t] = 0, w[t] = 0;
        if (!isfinite(x) || fabs(x) > 4.0e18) x = x > 0 ? 4.0e18 : -4.0e18;
        if (p->ct == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in - 1))) {
            idx[0] = -1;
            continue;
        }
        if (p->mode == RS_NEAREST) {
            int64_t k = rs_round_nearest(p, d, x);
            idx[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
            w[0] = 1;
            continue;
        }
        double b = floor(x), sum = 0;
        for (int64_t t = 0; t < nt; t++) {
            double pos = b + (double)(start + t);
            w[t] = rs_kernel(p, (pos - x) * es);
            if (p->exclude_outside && (pos < 0 || pos > (double)(in - 1))) w[t] = 0;
            idx[t] = pos < 0 ? 0 : pos > (double)(in - 1) ? in - 1 : (int64_t)pos;
            sum += w[t];
        }
        if ((p->antialias || p->exclude_outside) && sum != 0)
            for (int64_t t = 0; t < nt; t++) w[t] /= sum;
    }
    /* Collapse to one tap when every position reads a single source with weight 1 (axes that
     * are not resized, or exact-ratio positions), so the kernels skip the dead taps. */
    if (nt > 1) {
        for (int64_t o = 0; o < p->out[d]; o++) {
            int64_t nz = 0, which = 0;
            if (ax->idx[o * nt] < 0) continue;
            for (int64_t t = 0; t < nt; t++)
                if (ax->w[o * nt + t] != 0) nz++, which = t;
            if (nz != 1 || ax->w[o * nt + which] != 1.0) return LCV_OK;
        }
        for (int64_t o = 0; o < p->out[d]; o++) {
            int64_t which = 0;
            if (ax->idx[o * nt] >= 0)
                for (int64_t t = 0; t < nt; t++)
                    if (ax->w[o * nt + t] != 0) which = t;
            ax->idx[o] = ax->idx[o * nt] < 0 ? -1 : ax->idx[o * nt + which];
            ax->w[o] = 1;
        }
        ax->ntap = 1;
    }
    return LCV_OK;
}

/* ---- kernels ---- */

/* float32, every axis before the last two a pure copy: 2-D loops over planes, shared out over
 * the pool in runs of at least RS_GRAIN output values. */
#define RS_GRAIN 16384

typedef struct rs_2d_task {
    const rs_params *p;
    const rs_axis *ay, *ax;
    const float *src;
    float *dst;
} rs_2d_task;

/* Planes [begin, end) of the float32 2-D case. */
static void rs_run_f32_2d(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const rs_2d_task *t = ctx;
    const rs_params *p = t->p;
    const rs_axis *ay = t->ay, *ax = t->ax;
    int r = p->rank;
    int64_t ih = r >= 2 ? p->in[r - 2] : 1, iw = p->in[r - 1];
    int64_t oh = r >= 2 ? p->out[r - 2] : 1, ow = p->out[r - 1];
    int64_t nty = ay->ntap, ntx = ax->ntap;
    float ext = (float)p->extrapolation;
    const float *src = t->src + begin * ih * iw;
    float *dst = t->dst + begin * oh * ow;
    for (int64_t pl = begin; pl < end; pl++, src += ih * iw) {
        for (int64_t oy = 0; oy < oh; oy++, dst += ow) {
            const int64_t *yi = ay->idx + oy * nty;
            const double *yw = ay->w + oy * nty;
            if (yi[0] < 0) {
                for (int64_t ox = 0; ox < ow; ox++) dst[ox] = ext;
                continue;
            }
            if (nty == 1 && ntx == 1) {
                const float *row = src + yi[0] * iw;
                for (int64_t ox = 0; ox < ow; ox++)
                    dst[ox] = ax->idx[ox] < 0 ? ext : row[ax->idx[ox]];
            } else if (nty == 2 && ntx == 2) {
                const float *r0 = src + yi[0] * iw, *r1 = src + yi[1] * iw;
                float wy0 = (float)yw[0], wy1 = (float)yw[1];
                for (int64_t ox = 0; ox < ow; ox++) {
                    const int64_t *xi = ax->idx + 2 * ox;
                    const double *xw = ax->w + 2 * ox;
                    if (xi[0] < 0) {
                        dst[ox] = ext;
                        continue;
                    }
                    float a = r0[xi[0]] * (float)xw[0] + r0[xi[1]] * (float)xw[1];
                    float b = r1[xi[0]] * (float)xw[0] + r1[xi[1]] * (float)xw[1];
                    dst[ox] = a * wy0 + b * wy1;
                }
            } else {
                for (int64_t ox = 0; ox < ow; ox++) {
                    const int64_t *xi = ax->idx + ntx * ox;
                    const double *xw = ax->w + ntx * ox;
                    if (xi[0] < 0) {
                        dst[ox] = ext;
                        continue;
                    }
                    float acc = 0;
                    for (int64_t ty = 0; ty < nty; ty++) {
                        const float *row = src + yi[ty] * iw;
                        float part = 0;
                        for (int64_t tx = 0; tx < ntx; tx++) part += row[xi[tx]] * (float)xw[tx];
                        acc += part * (float)yw[ty];
                    }
                    dst[ox] = acc;
                }
            }
        }
    }
}

/* Any rank and dtype: each output element sums the tensor product of its axes' taps. */
static void rs_run_generic(const rs_params *p, const rs_axis *axes, const lcv_tensor *x,
                           lcv_tensor *y) {
    int r = p->rank;
    int64_t istr[LCV_MAX_DIMS], o[LCV_MAX_DIMS] = {0}, tap[LCV_MAX_DIMS];
    lcv_shape_strides(r, p->in, istr);
    int64_t total = lcv_tensor_count(y);
    bool is_float = lcv_dtype_is_float(x->dtype);
    for (int64_t flat = 0; flat < total; flat++) {
        bool outside = false;
        for (int d = 0; d < r; d++) outside |= axes[d].idx[o[d] * axes[d].ntap] < 0;
        double acc = 0;
        if (outside) {
            acc = p->extrapolation;
        } else {
            memset(tap, 0, sizeof tap);
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    int64_t k = o[d] * axes[d].ntap + tap[d];
                    w *= axes[d].w[k];
                    off += axes[d].idx[k] * istr[d];
                }
                if (w != 0) acc += w * lcv_load_f64(x->dtype, x->data, off);
                int d = r - 1;
                while (d >= 0 && ++tap[d] >= axes[d].ntap) tap[d--] = 0;
                if (d < 0) break;
            }
        }
        /* Integer outputs round to nearest (the interpolated value, not a truncation). */
        lcv_store_f64(y->dtype, y->data, flat, is_float ? acc : nearbyint(acc));
        for (int d = r - 1; d >= 0; d--) {
            if (++o[d] < p->out[d]) break;
            o[d] = 0;
        }
    }
}

lcv_status lcv_exec_resize(lcv_opctx *c) {
    rs_params p;
    lcv_status st = rs_parse(c, &p);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int r = p.rank;
    if (lcv_tensor_count(y) == 0) return LCV_OK;
    /* Table sizes: sum over axes of out * ntap (ints and doubles), all checked. */
    rs_axis axes[LCV_MAX_DIMS];
    size_t total = 0, off = 0;
    for (int d = 0; d < r; d++) {
        if (p.in[d] == 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %d of X is empty", d);
        axes[d].ntap = rs_ntap(&p, d);
        size_t n;
        if (axes[d].ntap < 1 || !lcv_mul_size((size_t)p.out[d], (size_t)axes[d].ntap, &n) ||
            !lcv_add_size(total, n, &total))
            return lcv_op_fail(c, LCV_ERR_NOMEM, "resize tables for axis %d are too large", d);
    }
    size_t bytes;
    if (!lcv_mul_size(total, sizeof(int64_t) + sizeof(double), &bytes))
        return lcv_op_fail(c, LCV_ERR_NOMEM, "resize tables are too large");
    char *mem = malloc(bytes ? bytes : 1);
    if (!mem) return lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    for (int d = 0; d < r; d++) {
        size_t n = (size_t)p.out[d] * (size_t)axes[d].ntap;
        axes[d].w = (double *)(void *)(mem + off * sizeof(double));
        axes[d].idx = (int64_t *)(void *)(mem + total * sizeof(double) + off * sizeof(int64_t));
        off += n;
        rs_build_axis(&p, d, &axes[d]);
    }
    bool lead_copy = x->dtype == LCV_DTYPE_FLOAT32;
    for (int d = 0; lead_copy && d < r - 2; d++) {
        lead_copy = axes[d].ntap == 1 && p.in[d] == p.out[d];
        for (int64_t o = 0; lead_copy && o < p.out[d]; o++) lead_copy = axes[d].idx[o] == o;
    }
    if (lead_copy) {
        static const int64_t zero = 0;
        static const double one = 1.0;
        rs_axis unit = {1, (int64_t *)&zero, (double *)&one};
        rs_2d_task t = {&p, r >= 2 ? &axes[r - 2] : &unit, &axes[r - 1], x->data, y->data};
        int64_t planes = 1, plane_out = (r >= 2 ? p.out[r - 2] : 1) * p.out[r - 1];
        for (int d = 0; d < r - 2; d++) planes *= p.in[d];
        lcv_threadpool_parallel_for(c->pool, planes, RS_GRAIN / (plane_out + 1) + 1,
                                    rs_run_f32_2d, &t);
    } else {
        rs_run_generic(&p, axes, x, y);
    }
    free(mem);
    return LCV_OK;
}
