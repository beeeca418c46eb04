/* reduce.c - Reduce* (sum, mean, max, min, prod, L1, L2, log-sum, log-sum-exp, sum-square) and
 * ArgMax/ArgMin. Axes come from the attribute or from the optional second input (ReduceSum from
 * opset 13, every Reduce* from opset 18); keepdims, noop_with_empty_axes and the empty-set
 * identities follow ONNX. Reference kernels accumulate in double (int64 for integer dtypes);
 * float32 sum/mean/max/min/sum-square over one contiguous group of axes have a fast path. */
#include <math.h>
#include <string.h>

#include "op.h"

typedef enum rkind {
    R_SUM,
    R_MEAN,
    R_MAX,
    R_MIN,
    R_PROD,
    R_L1,
    R_L2,
    R_LOGSUM,
    R_LOGSUMEXP,
    R_SUMSQ
} rkind;

/* Product of dims that is 0 as soon as one dim is 0, so an empty tensor whose other dims are
 * huge cannot overflow; otherwise the product is bounded by the size of an existing tensor. */
static int64_t dims_product(int n, const int64_t *dims) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (dims[i] == 0) return 0;
    for (int i = 0; i < n; i++) p *= dims[i];
    return p;
}

/* Reads the reduced axes into mask[rank]. An absent or empty axes list reduces everything,
 * unless noop_with_empty_axes is set: then nothing is reduced. */
static lcv_status reduce_axes(lcv_opctx *c, int rank, bool *mask) {
    int64_t axes[LCV_MAX_DIMS];
    int64_t n = 0;
    const lcv_tensor *ax = lcv_op_input(c, 1);
    if (ax) {
        if (ax->ndim > 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axes input must be 1-D, got rank %d", ax->ndim);
        lcv_status st = lcv_op_read_ints(c, ax, "axes input", axes, LCV_MAX_DIMS, &n);
        if (st != LCV_OK) return st;
    } else {
        const lcv_attr *a = lcv_attr_find(c->node, "axes");
        if (a) {
            if (a->type != LCV_ATTR_INTS)
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'axes' must be ints");
            if (a->n > LCV_MAX_DIMS)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'axes' has %lld entries, rank is %d",
                                   (long long)a->n, rank);
            n = a->n;
            for (int64_t i = 0; i < n; i++) axes[i] = a->ints[i];
        }
    }
    bool noop = lcv_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < rank; i++) mask[i] = n == 0 && !noop;
    for (int64_t i = 0; i < n; i++) {
        int a;
        lcv_status st = lcv_op_axis(c, axes[i], rank, &a);
        if (st != LCV_OK) return st;
        if (mask[a])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is listed twice", (long long)axes[i]);
        mask[a] = true;
    }
    return LCV_OK;
}

lcv_status lcv_infer_reduce(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype) && !lcv_dtype_is_int(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input rank %d is not supported", x->ndim);
    bool mask[LCV_MAX_DIMS];
    lcv_status st = reduce_axes(c, x->ndim, mask);
    if (st != LCV_OK) return st;
    bool keep = lcv_attr_int(c->node, "keepdims", 1) != 0;
    int64_t dims[LCV_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!mask[i])
            dims[nd++] = x->dims[i];
        else if (keep)
            dims[nd++] = 1;
    }
    lcv_op_set_out(c, 0, x->dtype, nd, dims);
    return LCV_OK;
}

/* An odometer over a few (dim, stride) pairs that tracks the flat offset it points at. */
typedef struct walker {
    int n;
    int64_t dims[LCV_MAX_DIMS], strides[LCV_MAX_DIMS], idx[LCV_MAX_DIMS];
    int64_t off;
} walker;

static void walk_reset(walker *w) {
    memset(w->idx, 0, sizeof w->idx);
    w->off = 0;
}

static void walk_next(walker *w) {
    for (int k = w->n - 1; k >= 0; k--) {
        w->off += w->strides[k];
        if (++w->idx[k] < w->dims[k]) return;
        w->off -= w->strides[k] * w->dims[k];
        w->idx[k] = 0;
    }
}

/* The input split into kept groups (walked per output element) and reduced groups (walked per
 * reduced element); adjacent dims with the same role are merged and size-1 dims dropped. */
typedef struct rplan {
    walker kept, red;
    int64_t n_out, n_red;
} rplan;

static void plan_reduce(const lcv_tensor *x, const bool *mask, rplan *p) {
    int64_t gd[LCV_MAX_DIMS];
    bool gr[LCV_MAX_DIMS];
    int ng = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 1) continue;
        if (ng > 0 && gr[ng - 1] == mask[i]) {
            gd[ng - 1] *= x->dims[i];
        } else {
            gd[ng] = x->dims[i];
            gr[ng] = mask[i];
            ng++;
        }
    }
    int64_t stride = 1, gs[LCV_MAX_DIMS];
    for (int g = ng - 1; g >= 0; g--) {
        gs[g] = stride;
        stride *= gd[g];
    }
    p->kept.n = p->red.n = 0;
    for (int g = 0; g < ng; g++) {
        walker *w = gr[g] ? &p->red : &p->kept;
        w->dims[w->n] = gd[g];
        w->strides[w->n] = gs[g];
        w->n++;
    }
    p->n_out = dims_product(p->kept.n, p->kept.dims);
    p->n_red = dims_product(p->red.n, p->red.dims);
    walk_reset(&p->kept);
    walk_reset(&p->red);
}

/* One output element in double: the reduction of the n_red elements at base + red offsets. */
static double reduce_one_f64(rkind k, lcv_dtype dt, const void *x, int64_t base, walker *w,
                             int64_t n_red) {
    double acc = 0.0;
    switch (k) {
    case R_PROD: acc = 1.0; break;
    case R_MAX: acc = -INFINITY; break;
    case R_MIN: acc = INFINITY; break;
    case R_LOGSUMEXP: {
        double m = -INFINITY;
        walk_reset(w);
        for (int64_t r = 0; r < n_red; r++, walk_next(w)) {
            double v = lcv_load_f64(dt, x, base + w->off);
            if (v > m || v != v) m = v;
        }
        if (isinf(m) || m != m) return m;
        acc = 0.0;
        walk_reset(w);
        for (int64_t r = 0; r < n_red; r++, walk_next(w))
            acc += exp(lcv_load_f64(dt, x, base + w->off) - m);
        return m + log(acc);
    }
    default: break;
    }
    walk_reset(w);
    for (int64_t r = 0; r < n_red; r++, walk_next(w)) {
        double v = lcv_load_f64(dt, x, base + w->off);
        switch (k) {
        case R_SUM:
        case R_MEAN:
        case R_LOGSUM: acc += v; break;
        case R_PROD: acc *= v; break;
        case R_MAX: acc = (v > acc || v != v) ? v : acc; break;
        case R_MIN: acc = (v < acc || v != v) ? v : acc; break;
        case R_L1: acc += fabs(v); break;
        case R_L2:
        case R_SUMSQ: acc += v * v; break;
        case R_LOGSUMEXP: break;
        }
    }
    switch (k) {
    case R_MEAN: return acc / (double)n_red;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: return log(acc);
    default: return acc;
    }
}

static int64_t int_dtype_min(lcv_dtype d) {
    switch (d) {
    case LCV_DTYPE_INT8: return INT8_MIN;
    case LCV_DTYPE_INT16: return INT16_MIN;
    case LCV_DTYPE_INT32: return INT32_MIN;
    case LCV_DTYPE_INT64: return INT64_MIN;
    default: return 0; /* unsigned */
    }
}

static int64_t int_dtype_max(lcv_dtype d) {
    switch (d) {
    case LCV_DTYPE_INT8: return INT8_MAX;
    case LCV_DTYPE_UINT8: return UINT8_MAX;
    case LCV_DTYPE_INT16: return INT16_MAX;
    case LCV_DTYPE_UINT16: return UINT16_MAX;
    case LCV_DTYPE_INT32: return INT32_MAX;
    case LCV_DTYPE_UINT32: return UINT32_MAX;
    case LCV_DTYPE_UINT64: return -1; /* all bits set */
    default: return INT64_MAX;
    }
}

/* Ordering key so that uint64 values above INT64_MAX compare correctly as int64. */
static int64_t order_key(lcv_dtype d, int64_t v) {
    return d == LCV_DTYPE_UINT64 ? (int64_t)((uint64_t)v ^ 0x8000000000000000u) : v;
}

/* One output element of an integer input, exact in int64 (sums and products wrap). */
static int64_t reduce_one_i64(rkind k, lcv_dtype dt, const void *x, int64_t base, walker *w,
                              int64_t n_red) {
    uint64_t acc = k == R_PROD ? 1u : 0u;
    int64_t best = k == R_MAX ? int_dtype_min(dt) : int_dtype_max(dt);
    walk_reset(w);
    for (int64_t r = 0; r < n_red; r++, walk_next(w)) {
        int64_t v = lcv_load_i64(dt, x, base + w->off);
        switch (k) {
        case R_PROD: acc *= (uint64_t)v; break;
        case R_MAX:
            if (order_key(dt, v) > order_key(dt, best)) best = v;
            break;
        case R_MIN:
            if (order_key(dt, v) < order_key(dt, best)) best = v;
            break;
        case R_L1: acc += (uint64_t)(v < 0 ? -(uint64_t)v : (uint64_t)v); break;
        case R_SUMSQ: acc += (uint64_t)v * (uint64_t)v; break;
        default: acc += (uint64_t)v; break;
        }
    }
    if (k == R_MAX || k == R_MIN) return best;
    if (k == R_MEAN) return n_red ? (int64_t)acc / n_red : 0;
    return (int64_t)acc;
}

/* float32 fast path for a single reduced group laid out as (outer, n_red, inner). */
static bool reduce_fast_f32(rkind k, const rplan *p, const float *x, float *y) {
    if (p->red.n != 1 || p->kept.n > 2 || p->n_red == 0) return false;
    if (k != R_SUM && k != R_MEAN && k != R_MAX && k != R_MIN && k != R_SUMSQ) return false;
    int64_t n = p->n_red, inner = p->red.strides[0];
    int64_t outer = p->n_out / inner;
    /* The kept groups must be exactly "before" and "after" the reduced one. */
    if (p->kept.n == 2 && p->kept.strides[1] != 1) return false;
    if (p->kept.n == 1 && !(p->kept.strides[0] == 1 || p->kept.strides[0] == n)) return false;
    double scale = k == R_MEAN ? 1.0 / (double)n : 1.0;
    enum { BLK = 256 };
    double acc[BLK];
    for (int64_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        for (int64_t j0 = 0; j0 < inner; j0 += BLK) {
            int64_t nb = inner - j0 < BLK ? inner - j0 : BLK;
            for (int64_t j = 0; j < nb; j++) acc[j] = k == R_MAX || k == R_MIN ? xo[j0 + j] : 0.0;
            for (int64_t r = 0; r < n; r++) {
                const float *row = xo + r * inner + j0;
                switch (k) {
                case R_MAX:
                    for (int64_t j = 0; j < nb; j++)
                        if (row[j] > acc[j] || row[j] != row[j]) acc[j] = row[j];
                    break;
                case R_MIN:
                    for (int64_t j = 0; j < nb; j++)
                        if (row[j] < acc[j] || row[j] != row[j]) acc[j] = row[j];
                    break;
                case R_SUMSQ:
                    for (int64_t j = 0; j < nb; j++) acc[j] += (double)row[j] * row[j];
                    break;
                default:
                    for (int64_t j = 0; j < nb; j++) acc[j] += row[j];
                    break;
                }
            }
            for (int64_t j = 0; j < nb; j++) y[o * inner + j0 + j] = (float)(acc[j] * scale);
        }
    }
    return true;
}

static lcv_status reduce_exec(lcv_opctx *c, rkind k) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    bool mask[LCV_MAX_DIMS];
    lcv_status st = reduce_axes(c, x->ndim, mask);
    if (st != LCV_OK) return st;
    rplan p;
    plan_reduce(x, mask, &p);
    if (p.n_out != lcv_tensor_count(y))
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "output has %lld elements, expected %lld",
                           (long long)lcv_tensor_count(y), (long long)p.n_out);
    if (p.n_out == 0) return LCV_OK;
    if (x->dtype == LCV_DTYPE_FLOAT32 && reduce_fast_f32(k, &p, x->data, y->data)) return LCV_OK;
    bool int_path = lcv_dtype_is_int(x->dtype) && k != R_L2 && k != R_LOGSUM && k != R_LOGSUMEXP;
    for (int64_t o = 0; o < p.n_out; o++, walk_next(&p.kept)) {
        if (int_path)
            lcv_store_i64(y->dtype, y->data, o,
                          reduce_one_i64(k, x->dtype, x->data, p.kept.off, &p.red, p.n_red));
        else
            lcv_store_f64(y->dtype, y->data, o,
                          reduce_one_f64(k, x->dtype, x->data, p.kept.off, &p.red, p.n_red));
    }
    return LCV_OK;
}

lcv_status lcv_exec_reduce_sum(lcv_opctx *c) { return reduce_exec(c, R_SUM); }
lcv_status lcv_exec_reduce_mean(lcv_opctx *c) { return reduce_exec(c, R_MEAN); }
lcv_status lcv_exec_reduce_max(lcv_opctx *c) { return reduce_exec(c, R_MAX); }
lcv_status lcv_exec_reduce_min(lcv_opctx *c) { return reduce_exec(c, R_MIN); }
lcv_status lcv_exec_reduce_prod(lcv_opctx *c) { return reduce_exec(c, R_PROD); }
lcv_status lcv_exec_reduce_l1(lcv_opctx *c) { return reduce_exec(c, R_L1); }
lcv_status lcv_exec_reduce_l2(lcv_opctx *c) { return reduce_exec(c, R_L2); }
lcv_status lcv_exec_reduce_logsum(lcv_opctx *c) { return reduce_exec(c, R_LOGSUM); }
lcv_status lcv_exec_reduce_logsumexp(lcv_opctx *c) { return reduce_exec(c, R_LOGSUMEXP); }
lcv_status lcv_exec_reduce_sumsquare(lcv_opctx *c) { return reduce_exec(c, R_SUMSQ); }

/* ---- ArgMax / ArgMin ---- */

lcv_status lcv_infer_argreduce(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype) && !lcv_dtype_is_int(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input rank %d is not supported", x->ndim);
    int axis;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &axis);
    if (st != LCV_OK) return st;
    if (x->dims[axis] == 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "cannot take %s over axis %d of size 0",
                           c->node->op_type, axis);
    bool keep = lcv_attr_int(c->node, "keepdims", 1) != 0;
    int64_t dims[LCV_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != axis)
            dims[nd++] = x->dims[i];
        else if (keep)
            dims[nd++] = 1;
    }
    lcv_op_set_out(c, 0, LCV_DTYPE_INT64, nd, dims);
    return LCV_OK;
}

/* want_max picks ArgMax; ties go to the first index unless select_last_index is set. The first
 * NaN wins, as in numpy. */
static lcv_status argreduce_exec(lcv_opctx *c, bool want_max) {
    const lcv_tensor *x = c->in[0];
    int64_t *y = c->out[0]->data;
    int axis;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &axis);
    if (st != LCV_OK) return st;
    bool last = lcv_attr_int(c->node, "select_last_index", 0) != 0;
    int64_t n = x->dims[axis];
    int64_t inner = dims_product(x->ndim - axis - 1, x->dims + axis + 1);
    int64_t outer = dims_product(axis, x->dims);
    if (n == 0) return outer * inner == 0 ? LCV_OK
                                          : lcv_op_fail(c, LCV_ERR_SHAPE, "axis %d is empty", axis);
    bool is_int = lcv_dtype_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j, best = 0;
            if (is_int) {
                int64_t bv = order_key(x->dtype, lcv_load_i64(x->dtype, x->data, base));
                for (int64_t r = 1; r < n; r++) {
                    int64_t v = order_key(x->dtype, lcv_load_i64(x->dtype, x->data, base + r * inner));
                    bool better = want_max ? (v > bv || (last && v == bv))
                                           : (v < bv || (last && v == bv));
                    if (better) {
                        bv = v;
                        best = r;
                    }
                }
            } else {
                double bv = lcv_load_f64(x->dtype, x->data, base);
                for (int64_t r = 1; r < n && bv == bv; r++) {
                    double v = lcv_load_f64(x->dtype, x->data, base + r * inner);
                    bool better = v != v || (want_max ? (v > bv || (last && v == bv))
                                                      : (v < bv || (last && v == bv)));
                    if (better) {
                        bv = v;
                        best = r;
                    }
                }
            }
            y[o * inner + j] = best;
        }
    }
    return LCV_OK;
}

lcv_status lcv_exec_argmax(lcv_opctx *c) { return argreduce_exec(c, true); }
lcv_status lcv_exec_argmin(lcv_opctx *c) { return argreduce_exec(c, false); }
