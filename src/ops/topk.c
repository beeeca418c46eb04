/* topk.c - TopK: the k largest (or smallest) entries along an axis with their int64 indices.
 * k comes from the attribute (opset < 10) or from input 1, whose data infer needs. Equal
 * values keep the lower index first; NaN ranks above every number. Each slice is selected with
 * a size-k heap, so the work is O(n log k) and the scratch is k indices. */
#include <stdlib.h>
#include <string.h>

#include "index_util.h"

typedef struct topk_slice {
    const lcv_tensor *x;
    bool is_float;
    bool largest;
    int64_t base, stride;
} topk_slice;

/* Three-way comparison of two elements' values, NaN greater than everything else. */
static int topk_cmp_vals(const topk_slice *s, int64_t a, int64_t b) {
    int64_t ia = s->base + a * s->stride, ib = s->base + b * s->stride;
    if (s->is_float) {
        double va = lcv_load_f64(s->x->dtype, s->x->data, ia);
        double vb = lcv_load_f64(s->x->dtype, s->x->data, ib);
        bool na = va != va, nb = vb != vb;
        if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
        return va < vb ? -1 : va > vb;
    }
    int64_t va = lcv_load_i64(s->x->dtype, s->x->data, ia);
    int64_t vb = lcv_load_i64(s->x->dtype, s->x->data, ib);
    return va < vb ? -1 : va > vb;
}

/* True when element a ranks before element b in the output. */
static bool topk_better(const topk_slice *s, int64_t a, int64_t b) {
    int r = topk_cmp_vals(s, a, b);
    if (r == 0) return a < b;
    return s->largest ? r > 0 : r < 0;
}

/* Restores the heap property (the worst kept element at the root) below position i. */
static void topk_sift(const topk_slice *s, int64_t *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && topk_better(s, h[w], h[l])) w = l;
        if (r < n && topk_better(s, h[w], h[r])) w = r;
        if (w == i) return;
        int64_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static lcv_status topk_params(lcv_opctx *c, int *ax, int64_t *k) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype) && !lcv_dtype_is_int(x->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X must be numeric, got %s",
                           lcv_dtype_name(x->dtype));
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", -1), x->ndim, ax);
    if (st != LCV_OK) return st;
    if (c->node->opset < 10) {
        if (!lcv_attr_find(c->node, "k"))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'k' is required before "
                               "opset 10");
        *k = lcv_attr_int(c->node, "k", 0);
    } else {
        const lcv_tensor *kt = lcv_op_input(c, 1);
        if (!kt) return lcv_op_fail(c, LCV_ERR_SHAPE, "input K is required from opset 10");
        int64_t v, n = 0;
        if ((st = lcv_op_read_ints(c, kt, "K", &v, 1, &n)) != LCV_OK) return st;
        if (n != 1 || kt->ndim > 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "K must hold exactly one value, got %lld",
                               (long long)n);
        *k = v;
    }
    if (*k < 0 || *k > x->dims[*ax])
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "k = %lld is outside [0, %lld] (axis %d)",
                           (long long)*k, (long long)x->dims[*ax], *ax);
    if (c->node->opset >= 11) {
        int64_t lg = lcv_attr_int(c->node, "largest", 1), so = lcv_attr_int(c->node, "sorted", 1);
        if ((lg != 0 && lg != 1) || (so != 0 && so != 1))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "largest (%lld) and sorted (%lld) must "
                               "be 0 or 1", (long long)lg, (long long)so);
    }
    return LCV_OK;
}

lcv_status lcv_infer_topk(lcv_opctx *c) {
    int ax;
    int64_t k;
    lcv_status st = topk_params(c, &ax, &k);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    int64_t dims[LCV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = i == ax ? k : x->dims[i];
    lcv_op_set_out(c, 0, x->dtype, x->ndim, dims);
    lcv_op_set_out(c, 1, LCV_DTYPE_INT64, x->ndim, dims);
    return LCV_OK;
}

lcv_status lcv_exec_topk(lcv_opctx *c) {
    int ax;
    int64_t k;
    lcv_status st = topk_params(c, &ax, &k);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *vals = c->out[0], *inds = c->out[1];
    if (k == 0) return LCV_OK;
    int64_t n = x->dims[ax], outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    /* k <= n, so the scratch is bounded by the input's size. */
    int64_t *heap = malloc((size_t)k * sizeof *heap);
    if (!heap) return lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %lld indices", (long long)k);
    topk_slice s = {x, lcv_dtype_is_float(x->dtype),
                    c->node->opset < 11 || lcv_attr_int(c->node, "largest", 1) != 0, 0, inner};
    size_t es = lcv_dtype_size(x->dtype);
    int64_t *io = inds->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            s.base = o * n * inner + in;
            int64_t m = 0;
            for (int64_t j = 0; j < n; j++) {
                if (m < k) {
                    /* Grow: place j at the end and sift it up towards the root. */
                    int64_t i = m++;
                    heap[i] = j;
                    while (i > 0 && topk_better(&s, heap[(i - 1) / 2], heap[i])) {
                        int64_t p = (i - 1) / 2, t = heap[p];
                        heap[p] = heap[i];
                        heap[i] = t;
                        i = p;
                    }
                } else if (topk_better(&s, j, heap[0])) {
                    heap[0] = j;
                    topk_sift(&s, heap, m, 0);
                }
            }
            /* Pop the worst to the back repeatedly: the array ends up best-first. */
            for (int64_t e = m - 1; e > 0; e--) {
                int64_t t = heap[0];
                heap[0] = heap[e];
                heap[e] = t;
                topk_sift(&s, heap, e, 0);
            }
            for (int64_t r = 0; r < k; r++) {
                int64_t dst = (o * k + r) * inner + in, src = s.base + heap[r] * inner;
                memcpy((char *)vals->data + (size_t)dst * es,
                       (const char *)x->data + (size_t)src * es, es);
                io[dst] = heap[r];
            }
        }
    }
    free(heap);
    return LCV_OK;
}
