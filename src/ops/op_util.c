/* op_util.c - helpers shared by op implementations: attribute access, error formatting,
 * axis normalisation, broadcasting and reading small integer tensors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "op.h"

const lcv_attr *lcv_attr_find(const lcv_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t lcv_attr_int(const lcv_node *n, const char *name, int64_t def) {
    const lcv_attr *a = lcv_attr_find(n, name);
    return (a && a->type == LCV_ATTR_INT) ? a->i : def;
}

float lcv_attr_float(const lcv_node *n, const char *name, float def) {
    const lcv_attr *a = lcv_attr_find(n, name);
    if (a && a->type == LCV_ATTR_FLOAT) return a->f;
    if (a && a->type == LCV_ATTR_INT) return (float)a->i;
    return def;
}

const char *lcv_attr_str(const lcv_node *n, const char *name, const char *def) {
    const lcv_attr *a = lcv_attr_find(n, name);
    return (a && a->type == LCV_ATTR_STRING) ? a->s : def;
}

int64_t lcv_attr_ints(const lcv_node *n, const char *name, const int64_t **vals) {
    const lcv_attr *a = lcv_attr_find(n, name);
    if (!a || a->type != LCV_ATTR_INTS) return -1;
    *vals = a->ints;
    return a->n;
}

int64_t lcv_attr_floats(const lcv_node *n, const char *name, const float **vals) {
    const lcv_attr *a = lcv_attr_find(n, name);
    if (!a || a->type != LCV_ATTR_FLOATS) return -1;
    *vals = a->floats;
    return a->n;
}

lcv_status lcv_node_vfail(lcv_err *e, const lcv_node *node, const char *what, lcv_status st,
                          const char *fmt, va_list ap) {
    if (e) {
        char msg[LCV_ERRMSG_CAP];
        vsnprintf(msg, sizeof msg, fmt, ap);
        lcv_fail(e, st, "node '%s' (%s)%s: %s", node->name, node->op_type, what, msg);
    }
    return st;
}

lcv_status lcv_op_fail(lcv_opctx *c, lcv_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lcv_node_vfail(c->err, c->node, "", st, fmt, ap);
    va_end(ap);
    return st;
}

const lcv_tensor *lcv_op_input(const lcv_opctx *c, int i) {
    return (i >= 0 && i < c->n_in) ? c->in[i] : NULL;
}

void lcv_op_set_out(lcv_opctx *c, int i, lcv_dtype dtype, int ndim, const int64_t *dims) {
    lcv_tensor *t = c->out[i];
    t->dtype = dtype;
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++) t->dims[k] = dims[k];
}

lcv_status lcv_op_axis(lcv_opctx *c, int64_t axis, int rank, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank || rank == 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                           (long long)axis, rank);
    *out = (int)a;
    return LCV_OK;
}

lcv_status lcv_op_broadcast(lcv_opctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                            int *nout, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da == db || db == 1) {
            out[i] = da;
        } else if (da == 1) {
            out[i] = db;
        } else {
            char sa[128], sb[128];
            return lcv_op_fail(c, LCV_ERR_SHAPE, "shapes %s and %s cannot be broadcast",
                               lcv_shape_str(na, a, sa, sizeof sa),
                               lcv_shape_str(nb, b, sb, sizeof sb));
        }
    }
    *nout = n;
    return LCV_OK;
}

int64_t lcv_broadcast_index(int64_t flat, int nout, const int64_t *out_dims,
                            const int64_t *out_strides, int nin, const int64_t *in_dims) {
    int64_t idx = 0, in_stride = 1;
    /* Walk dimensions from the innermost; broadcast (size-1) input dims contribute nothing. */
    for (int i = nout - 1; i >= 0; i--) {
        int j = i - (nout - nin);
        int64_t coord = (flat / out_strides[i]) % out_dims[i];
        if (j < 0) break;
        if (in_dims[j] != 1) idx += coord * in_stride;
        in_stride *= in_dims[j];
    }
    return idx;
}

lcv_status lcv_op_read_ints(lcv_opctx *c, const lcv_tensor *t, const char *what, int64_t *vals,
                            int64_t cap, int64_t *count) {
    if (!lcv_dtype_is_int(t->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be an integer tensor, got %s", what,
                           lcv_dtype_name(t->dtype));
    int64_t n = lcv_tensor_count(t);
    if (n > cap)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has %lld elements, at most %lld allowed", what,
                           (long long)n, (long long)cap);
    if (!t->data) return LCV_DEFERRED;
    for (int64_t i = 0; i < n; i++) vals[i] = lcv_load_i64(t->dtype, t->data, i);
    *count = n;
    return LCV_OK;
}
