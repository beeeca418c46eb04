/* shape.c - ops that only relabel a buffer's shape (Reshape, Flatten, Squeeze, Unsqueeze: one
 * byte copy), ops that describe shapes (Shape, Size) and ops that create tensors from
 * attributes or scalars (Constant, ConstantOfShape, Range, EyeLike). All work on any dtype by
 * copying bytes; the arithmetic ones (Range, EyeLike) go through core's element access. */
#include <math.h>
#include <string.h>

#include "layout_util.h"

/* Range refuses to build more elements than this: its count comes straight from input data. */
#define RANGE_MAX_COUNT ((int64_t)1 << 31)

/* Reads a small 1-D integer input (shape, axes) into vals; LCV_DEFERRED while data is unknown. */
static lcv_status read_vec(lcv_opctx *c, const lcv_tensor *t, const char *what, int64_t *vals,
                           int64_t cap, int64_t *n) {
    if (t->ndim != 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input '%s' must be 1-D, got rank %d", what, t->ndim);
    return lcv_op_read_ints(c, t, what, vals, cap, n);
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, the optional input 1 from 13.
 * *n = -1 when none are given. */
static lcv_status read_axes(lcv_opctx *c, int64_t *axes, int64_t *n) {
    *n = -1;
    if (c->node->opset < 13) {
        const int64_t *v;
        int64_t k = lcv_attr_ints(c->node, "axes", &v);
        if (k > LCV_MAX_DIMS)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'axes' has %lld entries, at most %d",
                               (long long)k, LCV_MAX_DIMS);
        for (int64_t i = 0; i < k; i++) axes[i] = v[i];
        *n = k;
        return LCV_OK;
    }
    const lcv_tensor *t = lcv_op_input(c, 1);
    if (!t) return LCV_OK;
    if (t->ndim < 0) return LCV_DEFERRED;
    return read_vec(c, t, "axes", axes, LCV_MAX_DIMS, n);
}

/* Normalises axes against rank and rejects duplicates; marks[] gets 1 at each axis. */
static lcv_status mark_axes(lcv_opctx *c, const int64_t *axes, int64_t n, int rank, int *marks) {
    for (int i = 0; i < rank; i++) marks[i] = 0;
    for (int64_t i = 0; i < n; i++) {
        int a;
        lcv_status st = lcv_op_axis(c, axes[i], rank, &a);
        if (st != LCV_OK) return st;
        if (marks[a])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is listed twice", (long long)axes[i]);
        marks[a] = 1;
    }
    return LCV_OK;
}

lcv_status lcv_infer_reshape(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st != LCV_OK) return st;
    int64_t shape[LCV_MAX_DIMS], n;
    if (c->node->opset < 5) {
        const int64_t *v;
        n = lcv_attr_ints(c->node, "shape", &v);
        if (n < 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'shape' is missing");
        if (n > LCV_MAX_DIMS)
            return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "target rank %lld exceeds %d",
                               (long long)n, LCV_MAX_DIMS);
        for (int64_t i = 0; i < n; i++) shape[i] = v[i];
    } else {
        const lcv_tensor *s;
        st = lcv_layout_input(c, 1, "shape", &s);
        if (st == LCV_OK) st = read_vec(c, s, "shape", shape, LCV_MAX_DIMS, &n);
        if (st != LCV_OK) return st;
    }
    int allowzero = c->node->opset >= 14 && lcv_attr_int(c->node, "allowzero", 0) != 0;
    int64_t in_numel, out[LCV_MAX_DIMS];
    lcv_shape_numel(x->ndim, x->dims, &in_numel);
    int infer_at = -1, has_zero = 0;
    for (int i = 0; i < (int)n; i++) {
        int64_t v = shape[i];
        if (v == -1) {
            if (infer_at >= 0)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "shape has -1 at both %d and %d", infer_at, i);
            infer_at = i;
            v = 1;
        } else if (v < -1) {
            return lcv_op_fail(c, LCV_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)v);
        } else if (v == 0 && !allowzero) {
            if (i >= x->ndim)
                return lcv_op_fail(c, LCV_ERR_SHAPE,
                                   "shape[%d] = 0 copies input dim %d, but the input has rank %d",
                                   i, i, x->ndim);
            v = x->dims[i];
        } else if (v == 0) {
            has_zero = 1;
        }
        out[i] = v;
    }
    if (allowzero && has_zero && infer_at >= 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "shape mixes 0 and -1 while allowzero=1");
    int64_t known;
    char sa[160], sb[160];
    if (!lcv_shape_numel((int)n, out, &known))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "target shape %s is too large",
                           lcv_shape_str((int)n, shape, sa, sizeof sa));
    if (infer_at >= 0) {
        if (known == 0 || in_numel % known != 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "cannot infer the -1 in shape %s from input %s",
                               lcv_shape_str((int)n, shape, sa, sizeof sa),
                               lcv_shape_str(x->ndim, x->dims, sb, sizeof sb));
        out[infer_at] = in_numel / known;
    } else if (known != in_numel) {
        return lcv_op_fail(c, LCV_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s",
                           lcv_shape_str(x->ndim, x->dims, sb, sizeof sb), (long long)in_numel,
                           lcv_shape_str((int)n, shape, sa, sizeof sa));
    }
    return lcv_layout_set_out(c, 0, x->dtype, (int)n, out);
}

lcv_status lcv_infer_flatten(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st != LCV_OK) return st;
    int64_t axis = lcv_attr_int(c->node, "axis", 1);
    if (axis < -x->ndim || axis > x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                           (long long)axis, x->ndim);
    if (axis < 0) axis += x->ndim;
    int64_t out[2];
    lcv_shape_numel((int)axis, x->dims, &out[0]);
    lcv_shape_numel(x->ndim - (int)axis, x->dims + axis, &out[1]);
    return lcv_layout_set_out(c, 0, x->dtype, 2, out);
}

lcv_status lcv_infer_squeeze(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st != LCV_OK) return st;
    int64_t axes[LCV_MAX_DIMS], n;
    int marks[LCV_MAX_DIMS];
    st = read_axes(c, axes, &n);
    if (st != LCV_OK) return st;
    if (n >= 0) {
        st = mark_axes(c, axes, n, x->ndim, marks);
        if (st != LCV_OK) return st;
        for (int i = 0; i < x->ndim; i++)
            if (marks[i] && x->dims[i] != 1)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "cannot squeeze axis %d of size %lld", i,
                                   (long long)x->dims[i]);
    } else {
        for (int i = 0; i < x->ndim; i++) marks[i] = x->dims[i] == 1;
    }
    int64_t out[LCV_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!marks[i]) out[r++] = x->dims[i];
    return lcv_layout_set_out(c, 0, x->dtype, r, out);
}

lcv_status lcv_infer_unsqueeze(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st != LCV_OK) return st;
    int64_t axes[LCV_MAX_DIMS], n;
    st = read_axes(c, axes, &n);
    if (st != LCV_OK) return st;
    if (n < 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "axes are required");
    if (x->ndim + n > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "output rank %lld exceeds %d",
                           (long long)(x->ndim + n), LCV_MAX_DIMS);
    int rank = x->ndim + (int)n, marks[LCV_MAX_DIMS];
    st = mark_axes(c, axes, n, rank, marks);
    if (st != LCV_OK) return st;
    int64_t out[LCV_MAX_DIMS];
    for (int i = 0, j = 0; i < rank; i++) out[i] = marks[i] ? 1 : x->dims[j++];
    return lcv_layout_set_out(c, 0, x->dtype, rank, out);
}

lcv_status lcv_exec_copy(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t n = lcv_tensor_count(x);
    if (n != lcv_tensor_count(y) || x->dtype != y->dtype)
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "output does not match the input's size");
    size_t bytes = (size_t)n * lcv_dtype_size(x->dtype);
    if (bytes && y->data != x->data) memmove(y->data, x->data, bytes);
    return LCV_OK;
}

/* Shape's [start, end) window (opset 15), clamped to [0, rank] like Python slicing. */
static void shape_window(const lcv_opctx *c, int rank, int64_t *start, int64_t *end) {
    int64_t s = 0, e = rank;
    if (c->node->opset >= 15) {
        s = lcv_attr_int(c->node, "start", 0);
        e = lcv_attr_int(c->node, "end", rank);
    }
    if (s < 0) s = s < -rank ? 0 : s + rank;
    if (e < 0) e = e < -rank ? 0 : e + rank;
    if (s > rank) s = rank;
    if (e > rank) e = rank;
    *start = s;
    *end = e > s ? e : s;
}

lcv_status lcv_infer_shape(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st != LCV_OK) return st;
    int64_t s, e;
    shape_window(c, x->ndim, &s, &e);
    int64_t n = e - s;
    return lcv_layout_set_out(c, 0, LCV_DTYPE_INT64, 1, &n);
}

lcv_status lcv_exec_shape(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    int64_t s, e;
    shape_window(c, x->ndim, &s, &e);
    int64_t *y = c->out[0]->data;
    for (int64_t i = s; i < e; i++) y[i - s] = x->dims[i];
    return LCV_OK;
}

lcv_status lcv_infer_size(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, LCV_DTYPE_INT64, 0, NULL);
}

lcv_status lcv_exec_size(lcv_opctx *c) {
    *(int64_t *)c->out[0]->data = lcv_tensor_count(c->in[0]);
    return LCV_OK;
}

/* The one value attribute of a Constant node, checked for type and support. */
static lcv_status constant_attr(lcv_opctx *c, const lcv_attr **out) {
    static const char *const names[] = {"value", "value_float", "value_floats", "value_int",
                                        "value_ints", "value_string", "value_strings",
                                        "sparse_value"};
    static const lcv_attr_type types[] = {LCV_ATTR_TENSOR, LCV_ATTR_FLOAT, LCV_ATTR_FLOATS,
                                          LCV_ATTR_INT, LCV_ATTR_INTS, LCV_ATTR_STRING,
                                          LCV_ATTR_STRINGS, LCV_ATTR_SPARSE_TENSOR};
    const lcv_attr *found = NULL;
    int count = 0, kind = -1;
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        const lcv_attr *a = lcv_attr_find(c->node, names[k]);
        if (!a) continue;
        count++;
        found = a;
        kind = k;
    }
    if (count != 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "exactly one value attribute must be set, found %d",
                           count);
    if (kind >= 5 && kind <= 6)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "string constants ('%s') are not supported",
                           names[kind]);
    if (kind == 7)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED,
                           "sparse constants ('sparse_value') are not supported");
    if (found->type != types[kind])
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute '%s' has attribute type %d, expected %d",
                           names[kind], (int)found->type, (int)types[kind]);
    if (kind == 0) {
        const lcv_tensor *t = found->t;
        if (!t) return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'value' holds no tensor");
        if (lcv_dtype_size(t->dtype) == 0)
            return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "constant of dtype %s is not supported",
                               lcv_dtype_name(t->dtype));
        int64_t n;
        if (t->ndim < 0 || t->ndim > LCV_MAX_DIMS || !lcv_shape_numel(t->ndim, t->dims, &n) ||
            (n > 0 && !t->data))
            return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'value' holds a malformed tensor");
    }
    if ((kind == 2 && (found->n < 0 || (found->n > 0 && !found->floats))) ||
        (kind == 4 && (found->n < 0 || (found->n > 0 && !found->ints))))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute '%s' is malformed", names[kind]);
    *out = found;
    return LCV_OK;
}

lcv_status lcv_infer_constant(lcv_opctx *c) {
    const lcv_attr *a;
    lcv_status st = constant_attr(c, &a);
    if (st != LCV_OK) return st;
    switch (a->type) {
    case LCV_ATTR_TENSOR: return lcv_layout_set_out(c, 0, a->t->dtype, a->t->ndim, a->t->dims);
    case LCV_ATTR_FLOAT: return lcv_layout_set_out(c, 0, LCV_DTYPE_FLOAT32, 0, NULL);
    case LCV_ATTR_FLOATS: return lcv_layout_set_out(c, 0, LCV_DTYPE_FLOAT32, 1, &a->n);
    case LCV_ATTR_INT: return lcv_layout_set_out(c, 0, LCV_DTYPE_INT64, 0, NULL);
    default: return lcv_layout_set_out(c, 0, LCV_DTYPE_INT64, 1, &a->n);
    }
}

lcv_status lcv_exec_constant(lcv_opctx *c) {
    const lcv_attr *a;
    lcv_status st = constant_attr(c, &a);
    if (st != LCV_OK) return st;
    void *y = c->out[0]->data;
    switch (a->type) {
    case LCV_ATTR_TENSOR: {
        size_t bytes = (size_t)lcv_tensor_count(a->t) * lcv_dtype_size(a->t->dtype);
        if (bytes) memcpy(y, a->t->data, bytes);
        break;
    }
    case LCV_ATTR_FLOAT: memcpy(y, &a->f, sizeof a->f); break;
    case LCV_ATTR_FLOATS:
        if (a->n) memcpy(y, a->floats, (size_t)a->n * sizeof(float));
        break;
    case LCV_ATTR_INT: memcpy(y, &a->i, sizeof a->i); break;
    default:
        if (a->n) memcpy(y, a->ints, (size_t)a->n * sizeof(int64_t));
        break;
    }
    return LCV_OK;
}

/* ConstantOfShape's fill value: the one-element 'value' tensor, or float32 zero. */
static lcv_status fill_value(lcv_opctx *c, lcv_dtype *dtype, const void **bytes) {
    static const float zero = 0.0f;
    const lcv_attr *a = lcv_attr_find(c->node, "value");
    if (!a) {
        *dtype = LCV_DTYPE_FLOAT32;
        *bytes = &zero;
        return LCV_OK;
    }
    const lcv_tensor *t = a->t;
    if (a->type != LCV_ATTR_TENSOR || !t || t->ndim < 0 || t->ndim > LCV_MAX_DIMS ||
        lcv_tensor_count(t) != 1 || !t->data)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'value' must be a one-element tensor");
    if (lcv_dtype_size(t->dtype) == 0)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "fill value of dtype %s is not supported",
                           lcv_dtype_name(t->dtype));
    *dtype = t->dtype;
    *bytes = t->data;
    return LCV_OK;
}

lcv_status lcv_infer_constant_of_shape(lcv_opctx *c) {
    const lcv_tensor *s;
    lcv_dtype dtype = LCV_DTYPE_UNDEFINED;
    const void *val = NULL;
    lcv_status st = fill_value(c, &dtype, &val);
    if (st == LCV_OK) st = lcv_layout_input(c, 0, "input", &s);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS], n;
    st = read_vec(c, s, "input", dims, LCV_MAX_DIMS, &n);
    if (st != LCV_OK) return st;
    for (int i = 0; i < (int)n; i++)
        if (dims[i] < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "shape[%d] = %lld is negative", i,
                               (long long)dims[i]);
    return lcv_layout_set_out(c, 0, dtype, (int)n, dims);
}

lcv_status lcv_exec_constant_of_shape(lcv_opctx *c) {
    lcv_dtype dtype = LCV_DTYPE_UNDEFINED;
    const void *val = NULL;
    lcv_status st = fill_value(c, &dtype, &val);
    if (st != LCV_OK) return st;
    size_t es = lcv_dtype_size(dtype);
    int64_t n = lcv_tensor_count(c->out[0]);
    char *y = c->out[0]->data;
    if (n == 0) return LCV_OK;
    memcpy(y, val, es);
    /* Doubling copies keep the fill fast for any element size. */
    size_t done = es, total = (size_t)n * es;
    while (done < total) {
        size_t k = done < total - done ? done : total - done;
        memcpy(y + done, y, k);
        done += k;
    }
    return LCV_OK;
}

/* Range's element count from its three scalar inputs. Integer counts are exact (computed on the
 * unsigned distance, so extreme int64 bounds cannot overflow); float counts use double. */
static lcv_status range_count(lcv_opctx *c, int64_t *count) {
    const lcv_tensor *t[3];
    static const char *const names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        lcv_status st = lcv_layout_input(c, i, names[i], &t[i]);
        if (st != LCV_OK) return st;
        if (lcv_tensor_count(t[i]) != 1 || t[i]->ndim > 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input '%s' must be a scalar", names[i]);
        if (t[i]->dtype != t[0]->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input '%s' is %s but 'start' is %s", names[i],
                               lcv_dtype_name(t[i]->dtype), lcv_dtype_name(t[0]->dtype));
    }
    lcv_dtype d = t[0]->dtype;
    if (!lcv_dtype_is_int(d) && !lcv_dtype_is_float(d))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "dtype %s is not numeric", lcv_dtype_name(d));
    for (int i = 0; i < 3; i++)
        if (!t[i]->data) return LCV_DEFERRED;
    if (lcv_dtype_is_float(d)) {
        double s = lcv_load_f64(d, t[0]->data, 0), l = lcv_load_f64(d, t[1]->data, 0);
        double dl = lcv_load_f64(d, t[2]->data, 0);
        if (!isfinite(s) || !isfinite(l) || !isfinite(dl) || dl == 0.0)
            return lcv_op_fail(c, LCV_ERR_SHAPE,
                               "start, limit and delta must be finite and delta non-zero");
        double q = ceil((l - s) / dl);
        if (q > (double)RANGE_MAX_COUNT)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "range of %.17g elements exceeds the limit %lld",
                               q, (long long)RANGE_MAX_COUNT);
        *count = q > 0 ? (int64_t)q : 0;
        return LCV_OK;
    }
    if (d == LCV_DTYPE_UINT64)
        for (int i = 0; i < 3; i++)
            if (((const uint64_t *)t[i]->data)[0] > (uint64_t)INT64_MAX)
                return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "uint64 '%s' above 2^63-1", names[i]);
    int64_t s = lcv_load_i64(d, t[0]->data, 0), l = lcv_load_i64(d, t[1]->data, 0);
    int64_t dl = lcv_load_i64(d, t[2]->data, 0);
    if (dl == 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "delta must be non-zero");
    uint64_t dist = 0, step = 0;
    if (dl > 0 && l > s) {
        dist = (uint64_t)l - (uint64_t)s;
        step = (uint64_t)dl;
    } else if (dl < 0 && s > l) {
        dist = (uint64_t)s - (uint64_t)l;
        step = (uint64_t)0 - (uint64_t)dl;
    }
    uint64_t q = dist ? (dist - 1) / step + 1 : 0;
    if (q > (uint64_t)RANGE_MAX_COUNT)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "range of %llu elements exceeds the limit %lld",
                           (unsigned long long)q, (long long)RANGE_MAX_COUNT);
    *count = (int64_t)q;
    return LCV_OK;
}

lcv_status lcv_infer_range(lcv_opctx *c) {
    int64_t n;
    lcv_status st = range_count(c, &n);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, c->in[0]->dtype, 1, &n);
}

lcv_status lcv_exec_range(lcv_opctx *c) {
    int64_t n;
    lcv_status st = range_count(c, &n);
    if (st != LCV_OK) return st;
    lcv_dtype d = c->in[0]->dtype;
    void *y = c->out[0]->data;
    if (lcv_dtype_is_float(d)) {
        double s = lcv_load_f64(d, c->in[0]->data, 0), dl = lcv_load_f64(d, c->in[2]->data, 0);
        for (int64_t i = 0; i < n; i++) lcv_store_f64(d, y, i, s + (double)i * dl);
        return LCV_OK;
    }
    /* Accumulate instead of start + i*delta: every partial value lies between start and limit,
     * so nothing overflows even for extreme int64 bounds. */
    int64_t v = lcv_load_i64(d, c->in[0]->data, 0), dl = lcv_load_i64(d, c->in[2]->data, 0);
    for (int64_t i = 0; i < n; i++) {
        lcv_store_i64(d, y, i, v);
        if (i + 1 < n) v += dl;
    }
    return LCV_OK;
}

/* EyeLike's output dtype: the 'dtype' attribute when set, else the input's. */
static lcv_status eyelike_dtype(lcv_opctx *c, const lcv_tensor *x, lcv_dtype *out) {
    const lcv_attr *a = lcv_attr_find(c->node, "dtype");
    if (!a) {
        *out = x->dtype;
        return LCV_OK;
    }
    if (a->type != LCV_ATTR_INT || a->i <= 0 || a->i > 64 ||
        lcv_dtype_size((lcv_dtype)a->i) == 0)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "attribute 'dtype' = %lld is not supported",
                           (long long)a->i);
    *out = (lcv_dtype)a->i;
    return LCV_OK;
}

lcv_status lcv_infer_eyelike(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_dtype d = LCV_DTYPE_UNDEFINED;
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st == LCV_OK) st = eyelike_dtype(c, x, &d);
    if (st != LCV_OK) return st;
    if (x->ndim != 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must be 2-D, got rank %d", x->ndim);
    return lcv_layout_set_out(c, 0, d, 2, x->dims);
}

lcv_status lcv_exec_eyelike(lcv_opctx *c) {
    lcv_tensor *y = c->out[0];
    int64_t rows = y->dims[0], cols = y->dims[1];
    int64_t k = lcv_attr_int(c->node, "k", 0);
    size_t es = lcv_dtype_size(y->dtype);
    if (rows > 0 && cols > 0) memset(y->data, 0, (size_t)(rows * cols) * es);
    if (k >= cols || k <= -rows) return LCV_OK;
    for (int64_t i = k < 0 ? -k : 0; i < rows && i + k < cols; i++)
        lcv_store_i64(y->dtype, y->data, i * cols + i + k, 1);
    return LCV_OK;
}
