/* layout.c - ops that rearrange bytes without arithmetic: Transpose, Concat, Split, Slice,
 * Expand and Tile (Pad and the block ops are in layout_block.c). Every op works on any dtype
 * by moving lcv_dtype_size bytes per element; strided moves go through the walk engine of
 * layout_util.h so contiguous runs become memcpy calls. */
#include <stdio.h>
#include <string.h>

#include "../core/threadpool.h"
#include "layout_util.h"

/* ---- Transpose ---- */

static lcv_status transpose_perm(lcv_opctx *c, int rank, int *perm) {
    const int64_t *v;
    int64_t n = lcv_attr_ints(c->node, "perm", &v);
    if (n < 0) {
        for (int k = 0; k < rank; k++) perm[k] = rank - 1 - k;
        return LCV_OK;
    }
    if (n != rank)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "perm has %lld entries but the input has rank %d",
                           (long long)n, rank);
    int seen[LCV_MAX_DIMS] = {0};
    for (int k = 0; k < rank; k++) {
        if (v[k] < 0 || v[k] >= rank || seen[v[k]])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "perm[%d] = %lld does not form a permutation",
                               k, (long long)v[k]);
        seen[v[k]] = 1;
        perm[k] = (int)v[k];
    }
    return LCV_OK;
}

lcv_status lcv_infer_transpose(lcv_opctx *c) {
    const lcv_tensor *x;
    int perm[LCV_MAX_DIMS];
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st == LCV_OK) st = transpose_perm(c, x->ndim, perm);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++) dims[k] = x->dims[perm[k]];
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, dims);
}

lcv_status lcv_exec_transpose(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    int perm[LCV_MAX_DIMS];
    lcv_status st = transpose_perm(c, x->ndim, perm);
    if (st != LCV_OK) return st;
    lcv_walk_permute(c->out[0]->data, x->data, x->ndim, x->dims, perm, lcv_dtype_size(x->dtype));
    return LCV_OK;
}

/* ---- Concat ---- */

lcv_status lcv_infer_concat(lcv_opctx *c) {
    const lcv_tensor *x0;
    lcv_status st = lcv_layout_input(c, 0, "inputs[0]", &x0);
    if (st != LCV_OK) return st;
    const lcv_attr *a = lcv_attr_find(c->node, "axis");
    if ((!a || a->type != LCV_ATTR_INT) && c->node->opset >= 4)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute 'axis' is required");
    int axis;
    st = lcv_op_axis(c, a && a->type == LCV_ATTR_INT ? a->i : 1, x0->ndim, &axis);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)x0->ndim);
    for (int i = 1; i < c->n_in; i++) {
        const lcv_tensor *x;
        char name[32], sa[160], sb[160];
        snprintf(name, sizeof name, "inputs[%d]", i);
        st = lcv_layout_input(c, i, name, &x);
        if (st != LCV_OK) return st;
        if (x->dtype != x0->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d is %s but input 0 is %s", i,
                               lcv_dtype_name(x->dtype), lcv_dtype_name(x0->dtype));
        int same = x->ndim == x0->ndim;
        for (int k = 0; same && k < x->ndim; k++) same = k == axis || x->dims[k] == x0->dims[k];
        if (!same)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d has shape %s, incompatible with %s "
                               "on axis %d", i, lcv_shape_str(x->ndim, x->dims, sa, sizeof sa),
                               lcv_shape_str(x0->ndim, x0->dims, sb, sizeof sb), axis);
        if (x->dims[axis] > ((int64_t)1 << 62) - dims[axis])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "concatenated axis is too large");
        dims[axis] += x->dims[axis];
    }
    return lcv_layout_set_out(c, 0, x0->dtype, x0->ndim, dims);
}

typedef struct concat_task {
    const lcv_opctx *c;
    int axis;
    size_t row, out_row; /* bytes of one index along the axis; of one outer slab of the output */
} concat_task;

static void concat_slabs(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const concat_task *t = ctx;
    char *d = (char *)t->c->out[0]->data + (size_t)begin * t->out_row;
    for (int64_t o = begin; o < end; o++)
        for (int i = 0; i < t->c->n_in; i++) {
            size_t bytes = (size_t)t->c->in[i]->dims[t->axis] * t->row;
            if (bytes) memcpy(d, (const char *)t->c->in[i]->data + (size_t)o * bytes, bytes);
            d += bytes;
        }
}

lcv_status lcv_exec_concat(lcv_opctx *c) {
    lcv_tensor *y = c->out[0];
    int axis;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 1), y->ndim, &axis);
    if (st != LCV_OK) return st;
    int64_t outer, inner;
    lcv_shape_numel(axis, y->dims, &outer);
    lcv_shape_numel(y->ndim - axis - 1, y->dims + axis + 1, &inner);
    concat_task t = {c, axis, (size_t)inner * lcv_dtype_size(y->dtype), 0};
    t.out_row = (size_t)y->dims[axis] * t.row;
    lcv_threadpool_parallel_for(c->pool, outer, lcv_copy_grain(t.out_row), concat_slabs, &t);
    return LCV_OK;
}

/* ---- Split ---- */

/* Where Split's piece sizes come from: an explicit list (attribute or input), or equal chunks
 * of size chunk with the remainder in the last piece. */
typedef struct split_plan {
    const int64_t *list;   /* attribute values, or NULL */
    const lcv_tensor *tin; /* 'split' input with data, or NULL */
    int64_t chunk;
    int n;
} split_plan;

static int64_t split_piece(const split_plan *p, int64_t dim, int i) {
    if (p->list) return p->list[i];
    if (p->tin) return lcv_load_i64(p->tin->dtype, p->tin->data, i);
    return i < p->n - 1 ? p->chunk : dim - p->chunk * (p->n - 1);
}

static lcv_status split_plan_make(lcv_opctx *c, int64_t dim, split_plan *p) {
    memset(p, 0, sizeof *p);
    p->n = c->n_out;
    int64_t count = -1;
    const lcv_tensor *t = lcv_op_input(c, 1);
    if (c->node->opset < 13) {
        count = lcv_attr_ints(c->node, "split", &p->list);
        if (count < 0) p->list = NULL;
    } else if (t) {
        if (t->ndim < 0) return LCV_DEFERRED;
        if (t->ndim != 1 || !lcv_dtype_is_int(t->dtype))
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input 'split' must be a 1-D integer tensor");
        if (!t->data) return LCV_DEFERRED;
        p->tin = t;
        count = t->dims[0];
    }
    if (count >= 0) {
        if (count != c->n_out)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "split has %lld entries for %d outputs",
                               (long long)count, c->n_out);
        int64_t sum = 0;
        for (int i = 0; i < p->n; i++) {
            int64_t v = split_piece(p, dim, i);
            if (v < 0 || v > dim - sum)
                return lcv_op_fail(c, LCV_ERR_SHAPE,
                                   "split[%d] = %lld is negative or exceeds the axis size %lld", i,
                                   (long long)v, (long long)dim);
            sum += v;
        }
        if (sum != dim)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "split sums to %lld but the axis has size %lld",
                               (long long)sum, (long long)dim);
        return LCV_OK;
    }
    const lcv_attr *no = c->node->opset >= 18 ? lcv_attr_find(c->node, "num_outputs") : NULL;
    if (p->n < 1) return lcv_op_fail(c, LCV_ERR_SHAPE, "Split needs at least one output");
    if (no) {
        if (no->type != LCV_ATTR_INT || no->i != p->n)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "num_outputs = %lld but the node has %d outputs",
                               (long long)no->i, p->n);
        p->chunk = dim / p->n + (dim % p->n != 0);
        if (p->n > 1 && p->chunk > dim / (p->n - 1))
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis of size %lld cannot be split into %d "
                               "chunks of %lld", (long long)dim, p->n, (long long)p->chunk);
        return LCV_OK;
    }
    if (dim % p->n != 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "axis of size %lld does not split evenly into %d "
                           "outputs", (long long)dim, p->n);
    p->chunk = dim / p->n;
    return LCV_OK;
}

lcv_status lcv_infer_split(lcv_opctx *c) {
    const lcv_tensor *x;
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st != LCV_OK) return st;
    int axis;
    st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &axis);
    split_plan p;
    if (st == LCV_OK) st = split_plan_make(c, x->dims[axis], &p);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < c->n_out; i++) {
        dims[axis] = split_piece(&p, x->dims[axis], i);
        lcv_layout_set_out(c, i, x->dtype, x->ndim, dims);
    }
    return LCV_OK;
}

lcv_status lcv_exec_split(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    int axis;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &axis);
    split_plan p;
    if (st == LCV_OK) st = split_plan_make(c, x->dims[axis], &p);
    if (st != LCV_OK) return st;
    int64_t outer, inner;
    lcv_shape_numel(axis, x->dims, &outer);
    lcv_shape_numel(x->ndim - axis - 1, x->dims + axis + 1, &inner);
    size_t row = (size_t)inner * lcv_dtype_size(x->dtype);
    size_t src_row = (size_t)x->dims[axis] * row, off = 0;
    for (int i = 0; i < c->n_out; i++) {
        size_t bytes = (size_t)split_piece(&p, x->dims[axis], i) * row;
        if (c->out[i] && bytes)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)c->out[i]->data + (size_t)o * bytes,
                       (const char *)x->data + (size_t)o * src_row + off, bytes);
        off += bytes;
    }
    return LCV_OK;
}

/* ---- Slice ---- */

/* Per input axis: first index, step and element count of the slice. */
static lcv_status slice_params(lcv_opctx *c, const lcv_tensor *x, int64_t *start, int64_t *step,
                               int64_t *count) {
    int64_t st_[LCV_MAX_DIMS], en[LCV_MAX_DIMS], ax[LCV_MAX_DIMS], sp[LCV_MAX_DIMS];
    int64_t ns, ne, na = -1, nsp = -1;
    lcv_status st = LCV_OK;
    if (c->node->opset < 10) {
        const int64_t *v;
        static const char *const names[3] = {"starts", "ends", "axes"};
        int64_t *dst[3] = {st_, en, ax}, *cnt[3] = {&ns, &ne, &na};
        for (int k = 0; k < 3; k++) {
            *cnt[k] = lcv_attr_ints(c->node, names[k], &v);
            if (*cnt[k] > LCV_MAX_DIMS)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute '%s' has %lld entries, at most %d",
                                   names[k], (long long)*cnt[k], LCV_MAX_DIMS);
            for (int64_t i = 0; i < *cnt[k]; i++) dst[k][i] = v[i];
        }
    } else {
        st = lcv_layout_read_vec(c, 1, "starts", st_, LCV_MAX_DIMS, &ns);
        if (st == LCV_OK) st = lcv_layout_read_vec(c, 2, "ends", en, LCV_MAX_DIMS, &ne);
        if (st == LCV_OK) st = lcv_layout_read_vec(c, 3, "axes", ax, LCV_MAX_DIMS, &na);
        if (st == LCV_OK) st = lcv_layout_read_vec(c, 4, "steps", sp, LCV_MAX_DIMS, &nsp);
        if (st != LCV_OK) return st;
    }
    if (ns < 0 || ne < 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "starts and ends are required");
    if (ne != ns || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "starts, ends, axes and steps differ in length "
                           "(%lld, %lld, %lld, %lld)", (long long)ns, (long long)ne,
                           (long long)na, (long long)nsp);
    for (int k = 0; k < x->ndim; k++) {
        start[k] = 0;
        step[k] = 1;
        count[k] = x->dims[k];
    }
    int seen[LCV_MAX_DIMS] = {0};
    for (int i = 0; i < (int)ns; i++) {
        int a = i;
        st = lcv_op_axis(c, na >= 0 ? ax[i] : i, x->ndim, &a);
        if (st != LCV_OK) return st;
        if (seen[a]) return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %d is sliced twice", a);
        seen[a] = 1;
        int64_t d = x->dims[a], s = st_[i], e = en[i], p = nsp >= 0 ? sp[i] : 1, n = 0;
        if (p == 0) return lcv_op_fail(c, LCV_ERR_SHAPE, "steps[%d] is 0", i);
        if (s < 0) s += d; /* cannot overflow: s < 0 <= d */
        if (e < 0) e += d;
        if (p > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            if (e > s) n = (e - s - 1) / p + 1;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            if (s > e && d > 0)
                n = (int64_t)((uint64_t)(s - e - 1) / ((uint64_t)0 - (uint64_t)p)) + 1;
        }
        start[a] = n > 0 ? s : 0;
        step[a] = n > 1 ? p : 1; /* a single element needs no step; keeps strides small */
        count[a] = n;
    }
    return LCV_OK;
}

lcv_status lcv_infer_slice(lcv_opctx *c) {
    const lcv_tensor *x;
    int64_t start[LCV_MAX_DIMS], step[LCV_MAX_DIMS], count[LCV_MAX_DIMS];
    lcv_status st = lcv_layout_input(c, 0, "data", &x);
    if (st == LCV_OK) st = slice_params(c, x, start, step, count);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, count);
}

lcv_status lcv_exec_slice(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    int64_t start[LCV_MAX_DIMS], step[LCV_MAX_DIMS], count[LCV_MAX_DIMS], strides[LCV_MAX_DIMS];
    lcv_status st = slice_params(c, x, start, step, count);
    if (st != LCV_OK) return st;
    if (lcv_tensor_count(c->out[0]) == 0) return LCV_OK;
    size_t es = lcv_dtype_size(x->dtype);
    lcv_shape_strides(x->ndim, x->dims, strides);
    lcv_walk w = {.nd = x->ndim, .block = es};
    int64_t base = 0;
    for (int k = 0; k < x->ndim; k++) {
        w.dims[k] = count[k];
        w.stride[k] = strides[k] * step[k] * (int64_t)es;
        base += start[k] * strides[k] * (int64_t)es;
    }
    lcv_walk_simplify(&w);
    lcv_walk_copy(&w, c->out[0]->data, (const char *)x->data + base);
    return LCV_OK;
}

/* ---- Expand ---- */

lcv_status lcv_infer_expand(lcv_opctx *c) {
    const lcv_tensor *x, *s;
    int64_t shape[LCV_MAX_DIMS], n, dims[LCV_MAX_DIMS];
    int nd;
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st == LCV_OK) st = lcv_layout_input(c, 1, "shape", &s);
    if (st == LCV_OK) st = lcv_layout_read_vec(c, 1, "shape", shape, LCV_MAX_DIMS, &n);
    if (st != LCV_OK) return st;
    for (int i = 0; i < (int)n; i++)
        if (shape[i] < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "shape[%d] = %lld is negative", i,
                               (long long)shape[i]);
    st = lcv_op_broadcast(c, x->ndim, x->dims, (int)n, shape, &nd, dims);
    if (st != LCV_OK) return st;
    return lcv_layout_set_out(c, 0, x->dtype, nd, dims);
}

lcv_status lcv_exec_expand(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    size_t es = lcv_dtype_size(x->dtype);
    int64_t strides[LCV_MAX_DIMS];
    lcv_shape_strides(x->ndim, x->dims, strides);
    lcv_walk w = {.nd = y->ndim, .block = es};
    for (int k = 0; k < y->ndim; k++) {
        int j = k - (y->ndim - x->ndim);
        w.dims[k] = y->dims[k];
        w.stride[k] = (j < 0 || x->dims[j] == 1) ? 0 : strides[j] * (int64_t)es;
    }
    lcv_walk_simplify(&w);
    lcv_walk_copy(&w, y->data, x->data);
    return LCV_OK;
}

/* ---- Tile ---- */

lcv_status lcv_infer_tile(lcv_opctx *c) {
    const lcv_tensor *x, *r;
    int64_t rep[LCV_MAX_DIMS], n, dims[LCV_MAX_DIMS];
    if (c->n_in > 2 && lcv_op_input(c, 2))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "Tile-1 (tiles and axis inputs) is not "
                           "supported; use opset 6 or later");
    lcv_status st = lcv_layout_input(c, 0, "input", &x);
    if (st == LCV_OK) st = lcv_layout_input(c, 1, "repeats", &r);
    if (st == LCV_OK) st = lcv_layout_read_vec(c, 1, "repeats", rep, LCV_MAX_DIMS, &n);
    if (st != LCV_OK) return st;
    if (n != x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "repeats has %lld entries but the input has rank %d",
                           (long long)n, x->ndim);
    for (int k = 0; k < x->ndim; k++) {
        if (rep[k] < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "repeats[%d] = %lld is negative", k,
                               (long long)rep[k]);
        if (x->dims[k] != 0 && rep[k] > INT64_MAX / x->dims[k])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "repeats[%d] = %lld overflows the output", k,
                               (long long)rep[k]);
        dims[k] = x->dims[k] * rep[k];
    }
    return lcv_layout_set_out(c, 0, x->dtype, x->ndim, dims);
}

/* Writes the n-byte block at d reps times in a row, doubling what is already written. */
static void repeat_block(char *d, size_t n, int64_t reps) {
    size_t total = n * (size_t)reps, done = n;
    while (done < total) {
        size_t k = done < total - done ? done : total - done;
        memcpy(d + done, d, k);
        done += k;
    }
}

lcv_status lcv_exec_tile(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    size_t es = lcv_dtype_size(x->dtype);
    int r = x->ndim;
    if (lcv_tensor_count(y) == 0) return LCV_OK;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return LCV_OK;
    }
    int64_t strides[LCV_MAX_DIMS], oc[LCV_MAX_DIMS] = {0}, ic[LCV_MAX_DIMS] = {0}, off = 0;
    lcv_shape_strides(r, x->dims, strides);
    size_t row = (size_t)x->dims[r - 1] * es;
    int64_t reps = y->dims[r - 1] / x->dims[r - 1];
    char *d = y->data;
    for (;;) {
        memcpy(d, (const char *)x->data + off * (int64_t)es, row);
        repeat_block(d, row, reps);
        d += row * (size_t)reps;
        int k = r - 2;
        for (; k >= 0; k--) { /* output coordinate k and its wrapped input coordinate */
            oc[k]++;
            ic[k]++;
            off += strides[k];
            if (ic[k] == x->dims[k]) {
                ic[k] = 0;
                off -= strides[k] * x->dims[k];
            }
            if (oc[k] < y->dims[k]) break;
            oc[k] = 0;
            off -= strides[k] * ic[k];
            ic[k] = 0;
        }
        if (k < 0) break;
    }
    return LCV_OK;
}

