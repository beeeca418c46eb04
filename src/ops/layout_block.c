/* layout_block.c - layout ops that keep the rank and move blocks within it: Pad (constant,
 * reflect, edge; negative pads crop), DepthToSpace, SpaceToDepth, Trilu and ReverseSequence.
 * Like layout.c they move lcv_dtype_size bytes per element and work on any dtype. */
#include <string.h>

#include "layout_util.h"

/* Pads beyond this size are refused so that dim + begin + end cannot overflow int64. */
#define PAD_LIMIT ((int64_t)1 << 60)

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

/* ---- Pad ---- */

typedef struct pad_plan {
    int mode;
    int64_t begin[LCV_MAX_DIMS];
    int64_t dims[LCV_MAX_DIMS];
    unsigned char value[16]; /* one element of the fill value, little-endian bytes */
} pad_plan;

/* Source index for padded index i (already shifted by begin) on an axis of size d; -1 means
 * the fill value. Reflect repeats with period 2(d-1), which equals reflecting again and again. */
static int64_t pad_map(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    if (mode == PAD_CONSTANT || d == 0) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : d - 1;
    if (d == 1) return 0;
    int64_t p = 2 * (d - 1), m = i % p;
    if (m < 0) m += p;
    return m < d ? m : p - m;
}

static lcv_status pad_plan_make(lcv_opctx *c, const lcv_tensor *x, pad_plan *p) {
    const char *mode = lcv_attr_str(c->node, "mode", "constant");
    size_t es = lcv_dtype_size(x->dtype);
    int r = x->ndim;
    memset(p, 0, sizeof *p);
    if (strcmp(mode, "constant") == 0) p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p->mode = PAD_EDGE;
    else return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "mode '%s' is not supported", mode);
    int64_t pads[2 * LCV_MAX_DIMS], np, axes[LCV_MAX_DIMS], na = -1;
    lcv_status st = LCV_OK;
    if (c->node->opset < 11) {
        const int64_t *v;
        np = lcv_attr_ints(c->node, "pads", &v);
        if (np > 2 * LCV_MAX_DIMS) np = 2 * LCV_MAX_DIMS + 1; /* reported as a length mismatch */
        for (int64_t i = 0; i < np && i < 2 * LCV_MAX_DIMS; i++) pads[i] = v[i];
        lcv_store_f64(x->dtype, p->value, 0, lcv_attr_float(c->node, "value", 0.0f));
    } else {
        const lcv_tensor *cv = lcv_op_input(c, 2);
        st = lcv_layout_read_vec(c, 1, "pads", pads, 2 * LCV_MAX_DIMS, &np);
        if (st == LCV_OK && c->node->opset >= 18)
            st = lcv_layout_read_vec(c, 3, "axes", axes, r, &na);
        if (st != LCV_OK) return st;
        if (cv && cv->ndim >= 0) {
            if (cv->dtype != x->dtype || cv->ndim > 1 || lcv_tensor_count(cv) != 1)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "constant_value must be one %s element",
                                   lcv_dtype_name(x->dtype));
            if (cv->data) memcpy(p->value, cv->data, es);
        }
    }
    int naxes = na >= 0 ? (int)na : r, marks[LCV_MAX_DIMS] = {0}, ax[LCV_MAX_DIMS];
    if (np < 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "pads are required");
    if (np != 2 * naxes)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "pads must have %d entries, got %lld", 2 * naxes,
                           (long long)np);
    for (int i = 0; i < naxes; i++) {
        ax[i] = i;
        if (na >= 0 && (st = lcv_op_axis(c, axes[i], r, &ax[i])) != LCV_OK) return st;
        if (marks[ax[i]]++)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %d is listed twice", ax[i]);
    }
    for (int k = 0; k < r; k++) p->dims[k] = x->dims[k];
    for (int i = 0; i < naxes; i++) {
        int k = ax[i];
        int64_t b = pads[i], e = pads[i + naxes], d = x->dims[k];
        if (b > PAD_LIMIT || b < -PAD_LIMIT || e > PAD_LIMIT || e < -PAD_LIMIT)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "pads on axis %d (%lld, %lld) are too large", k,
                               (long long)b, (long long)e);
        if (d + b + e < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "pads (%lld, %lld) crop axis %d of size %lld "
                               "below zero", (long long)b, (long long)e, k, (long long)d);
        if (p->mode != PAD_CONSTANT && d == 0 && (b > 0 || e > 0))
            return lcv_op_fail(c, LCV_ERR_SHAPE, "mode '%s' cannot pad the empty axis %d", mode,
                               k);
        p->begin[k] = b;
        p->dims[k] = d + b + e;
    }
    return LCV_OK;
}

lcv_status lcv_infer_pad(lcv_opctx *c) {
    const lcv_tensor *x;
    pad_plan p;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st == LCV_OK) st = pad_plan_make(c, x, &p);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, p.dims);
}

/* Fills one output row of n elements: rows whose outer coordinates fall in the padding get
 * the value; others copy the overlap with the source in one memcpy and map the rest. */
static void pad_row(const pad_plan *p, char *d, const char *src, int64_t n, int64_t b,
                    int64_t len, size_t es) {
    int64_t m0 = b < 0 ? 0 : b > n ? n : b;
    int64_t m1 = b + len < 0 ? 0 : b + len > n ? n : b + len;
    if (m1 < m0) m1 = m0;
    for (int64_t o = 0; o < n; o++) {
        if (o == m0 && m1 > m0) {
            memcpy(d + (size_t)o * es, src + (size_t)(o - b) * es, (size_t)(m1 - m0) * es);
            o = m1 - 1;
            continue;
        }
        int64_t si = src ? pad_map(p->mode, o - b, len) : -1;
        memcpy(d + (size_t)o * es, si < 0 ? (const char *)p->value : src + (size_t)si * es, es);
    }
}

lcv_status lcv_exec_pad(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    pad_plan p;
    lcv_status st = pad_plan_make(c, x, &p);
    if (st != LCV_OK) return st;
    size_t es = lcv_dtype_size(x->dtype);
    int r = x->ndim;
    if (lcv_tensor_count(y) == 0) return LCV_OK;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return LCV_OK;
    }
    int64_t strides[LCV_MAX_DIMS], oc[LCV_MAX_DIMS] = {0};
    lcv_shape_strides(r, x->dims, strides);
    int64_t n = p.dims[r - 1];
    char *d = y->data;
    for (;;) {
        int64_t off = 0;
        int inside = lcv_tensor_count(x) > 0;
        for (int k = 0; k < r - 1 && inside; k++) {
            int64_t si = pad_map(p.mode, oc[k] - p.begin[k], x->dims[k]);
            if (si < 0) inside = 0;
            else off += si * strides[k];
        }
        const char *src = inside ? (const char *)x->data + (size_t)off * es : NULL;
        pad_row(&p, d, src, n, p.begin[r - 1], inside ? x->dims[r - 1] : 0, es);
        d += (size_t)n * es;
        int k = r - 2;
        for (; k >= 0; k--) {
            if (++oc[k] < p.dims[k]) break;
            oc[k] = 0;
        }
        if (k < 0) break;
    }
    return LCV_OK;
}

/* ---- DepthToSpace / SpaceToDepth ---- */

/* Validates the 4-D input and blocksize; *crd is set for DepthToSpace's CRD mode. */
static lcv_status block_params(lcv_opctx *c, const lcv_tensor **x, int64_t *bs, int *crd) {
    lcv_status st = lcv_layout_input(c, 0, "input", x);
    if (st != LCV_OK) return st;
    if ((*x)->ndim != 4)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must be 4-D (NCHW), got rank %d", (*x)->ndim);
    const lcv_attr *a = lcv_attr_find(c->node, "blocksize");
    if (!a || a->type != LCV_ATTR_INT)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'blocksize' is required");
    if (a->i < 1 || a->i > ((int64_t)1 << 30))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "blocksize %lld is out of range", (long long)a->i);
    *bs = a->i;
    *crd = 0;
    if (c->node->op == LCV_OP_DepthToSpace && c->node->opset >= 11) {
        const char *mode = lcv_attr_str(c->node, "mode", "DCR");
        if (strcmp(mode, "CRD") == 0) *crd = 1;
        else if (strcmp(mode, "DCR") != 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "mode '%s' is not DCR or CRD", mode);
    }
    return LCV_OK;
}

lcv_status lcv_infer_depth_to_space(lcv_opctx *c) {
    const lcv_tensor *x;
    int64_t bs;
    int crd;
    lcv_status st = block_params(c, &x, &bs, &crd);
    if (st != LCV_OK) return st;
    const int64_t *d = x->dims;
    if (d[1] % (bs * bs) != 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "channels %lld are not a multiple of blocksize^2 = "
                           "%lld", (long long)d[1], (long long)(bs * bs));
    if (d[2] > INT64_MAX / bs || d[3] > INT64_MAX / bs)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output spatial size overflows");
    int64_t out[4] = {d[0], d[1] / (bs * bs), d[2] * bs, d[3] * bs};
    return lcv_layout_set_out(c, 0, x->dtype, 4, out);
}

lcv_status lcv_exec_depth_to_space(lcv_opctx *c) {
    const lcv_tensor *x;
    int64_t bs;
    int crd;
    lcv_status st = block_params(c, &x, &bs, &crd);
    if (st != LCV_OK) return st;
    const int64_t *d = x->dims;
    int64_t cb = d[1] / (bs * bs);
    /* Both modes are a 6-D transpose of a view of the input. */
    int64_t dcr[6] = {d[0], bs, bs, cb, d[2], d[3]}, crdv[6] = {d[0], cb, bs, bs, d[2], d[3]};
    static const int p_dcr[6] = {0, 3, 4, 1, 5, 2}, p_crd[6] = {0, 1, 4, 2, 5, 3};
    lcv_walk_permute(c->out[0]->data, x->data, 6, crd ? crdv : dcr, crd ? p_crd : p_dcr,
                     lcv_dtype_size(x->dtype));
    return LCV_OK;
}

lcv_status lcv_infer_space_to_depth(lcv_opctx *c) {
    const lcv_tensor *x;
    int64_t bs;
    int crd;
    lcv_status st = block_params(c, &x, &bs, &crd);
    if (st != LCV_OK) return st;
    const int64_t *d = x->dims;
    if (d[2] % bs != 0 || d[3] % bs != 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial size %lldx%lld is not a multiple of "
                           "blocksize %lld", (long long)d[2], (long long)d[3], (long long)bs);
    if (d[1] > INT64_MAX / (bs * bs))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output channel count overflows");
    int64_t out[4] = {d[0], d[1] * bs * bs, d[2] / bs, d[3] / bs};
    return lcv_layout_set_out(c, 0, x->dtype, 4, out);
}

lcv_status lcv_exec_space_to_depth(lcv_opctx *c) {
    const lcv_tensor *x;
    int64_t bs;
    int crd;
    lcv_status st = block_params(c, &x, &bs, &crd);
    if (st != LCV_OK) return st;
    const int64_t *d = x->dims;
    int64_t v[6] = {d[0], d[1], d[2] / bs, bs, d[3] / bs, bs};
    static const int perm[6] = {0, 3, 5, 1, 2, 4};
    lcv_walk_permute(c->out[0]->data, x->data, 6, v, perm, lcv_dtype_size(x->dtype));
    return LCV_OK;
}

/* ---- Trilu ---- */

lcv_status lcv_infer_trilu(lcv_opctx *c) {
    const lcv_tensor *x, *k = lcv_op_input(c, 1);
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st != LCV_OK) return st;
    if (x->ndim < 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
    if (k && k->ndim >= 0 && (!lcv_dtype_is_int(k->dtype) || k->ndim > 1 ||
                              lcv_tensor_count(k) != 1))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "k must be one integer");
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, x->dims);
}

lcv_status lcv_exec_trilu(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *kt = lcv_op_input(c, 1);
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1], n = lcv_tensor_count(x);
    if (n == 0) return LCV_OK;
    int64_t k = kt ? lcv_load_i64(kt->dtype, kt->data, 0) : 0;
    int upper = lcv_attr_int(c->node, "upper", 1) != 0;
    /* Beyond these bounds k changes nothing; clamping keeps i + k from overflowing. */
    if (k < -rows - 1) k = -rows - 1;
    if (k > cols + 1) k = cols + 1;
    size_t es = lcv_dtype_size(x->dtype);
    const char *s = x->data;
    char *d = c->out[0]->data;
    for (int64_t row = 0; row < n / cols; row++) {
        int64_t i = row % rows;
        /* Upper keeps j >= i + k; lower keeps j <= i + k, i.e. j < i + k + 1. */
        int64_t z = upper ? i + k : i + k + 1;
        z = z < 0 ? 0 : z > cols ? cols : z;
        size_t zb = (size_t)z * es, rb = (size_t)cols * es;
        if (upper) {
            memset(d, 0, zb);
            memcpy(d + zb, s + zb, rb - zb);
        } else {
            memcpy(d, s, zb);
            memset(d + zb, 0, rb - zb);
        }
        s += rb;
        d += rb;
    }
    return LCV_OK;
}

/* ---- ReverseSequence ---- */

/* Checks the axes and sequence lengths; the lengths are checked only when their data is known. */
static lcv_status revseq_params(lcv_opctx *c, const lcv_tensor **x, const lcv_tensor **lens,
                                int *batch_axis) {
    lcv_status st = lcv_layout_input(c, 0, "input", x);
    if (st == LCV_OK) st = lcv_layout_input(c, 1, "sequence_lens", lens);
    if (st != LCV_OK) return st;
    int64_t ba = lcv_attr_int(c->node, "batch_axis", 1), ta = lcv_attr_int(c->node, "time_axis", 0);
    if ((*x)->ndim < 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2, got %d", (*x)->ndim);
    if (ba < 0 || ba > 1 || ta < 0 || ta > 1 || ba == ta)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "batch_axis %lld and time_axis %lld must be 0 and 1",
                           (long long)ba, (long long)ta);
    const lcv_tensor *l = *lens;
    int64_t batch = (*x)->dims[ba], time = (*x)->dims[ta];
    if (!lcv_dtype_is_int(l->dtype) || l->ndim != 1 || l->dims[0] != batch)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "sequence_lens must be 1-D integers of length %lld",
                           (long long)batch);
    for (int64_t b = 0; l->data && b < batch; b++) {
        int64_t v = lcv_load_i64(l->dtype, l->data, b);
        if (v < 0 || v > time)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                               (long long)b, (long long)v, (long long)time);
    }
    *batch_axis = (int)ba;
    return LCV_OK;
}

lcv_status lcv_infer_reverse_sequence(lcv_opctx *c) {
    const lcv_tensor *x, *lens;
    int ba;
    lcv_status st = revseq_params(c, &x, &lens, &ba);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, x->dims);
}

lcv_status lcv_exec_reverse_sequence(lcv_opctx *c) {
    const lcv_tensor *x, *lens;
    int ba;
    lcv_status st = revseq_params(c, &x, &lens, &ba);
    if (st != LCV_OK) return st;
    int64_t batch = x->dims[ba], time = x->dims[1 - ba], inner;
    lcv_shape_numel(x->ndim - 2, x->dims + 2, &inner);
    size_t rb = (size_t)inner * lcv_dtype_size(x->dtype);
    if (rb == 0) return LCV_OK;
    for (int64_t b = 0; b < batch; b++) {
        int64_t len = lcv_load_i64(lens->dtype, lens->data, b);
        for (int64_t t = 0; t < time; t++) {
            int64_t src_t = t < len ? len - 1 - t : t;
            int64_t dst_row = ba == 1 ? t * batch + b : b * time + t;
            int64_t src_row = ba == 1 ? src_t * batch + b : b * time + src_t;
            memcpy((char *)c->out[0]->data + (size_t)dst_row * rb,
                   (const char *)x->data + (size_t)src_row * rb, rb);
        }
    }
    return LCV_OK;
}
