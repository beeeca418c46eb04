/* grad_util.c - the helpers of grad_util.h: checked float32 views of a backward's tensors,
 * scratch-or-malloc temporaries, the broadcast sum (a gradient summed back to the shape of an
 * input that was broadcast) and the elementwise unary driver. */
#include <stdlib.h>
#include <string.h>

#include "../core/threadpool.h"
#include "../kernels/f32-sums/sums.h"
#include "gemm_grad.h"
#include "grad_util.h"

/* ---- checked views ---- */

static lcv_status need_f32(lcv_gradctx *c, const lcv_tensor *t, const char *what, int i) {
    if (!t) return lcv_grad_fail(c, LCV_ERR_SHAPE, "%s %d is missing", what, i);
    if (t->dtype != LCV_DTYPE_FLOAT32)
        return lcv_grad_fail(c, LCV_ERR_UNSUPPORTED, "%s %d has dtype %s; training is float32 only",
                             what, i, lcv_dtype_name(t->dtype));
    if (!t->data && lcv_tensor_count(t) > 0)
        return lcv_grad_fail(c, LCV_ERR_INTERNAL, "%s %d has no data", what, i);
    return LCV_OK;
}

lcv_status lcv_gradu_in(lcv_gradctx *c, int i, const float **p) {
    const lcv_tensor *t = lcv_grad_input(c, i);
    lcv_status st = need_f32(c, t, "input", i);
    *p = st == LCV_OK ? t->data : NULL;
    return st;
}

lcv_status lcv_gradu_out(lcv_gradctx *c, int k, const float **p) {
    const lcv_tensor *t = k >= 0 && k < c->n_out ? c->out[k] : NULL;
    lcv_status st = need_f32(c, t, "output", k);
    *p = st == LCV_OK ? t->data : NULL;
    return st;
}

/* g must be float32 with as many elements as ref (the tensor it is the gradient of). */
static lcv_status need_grad(lcv_gradctx *c, const lcv_tensor *g, const lcv_tensor *ref,
                            const char *what, int i) {
    if (g->dtype != LCV_DTYPE_FLOAT32)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "gradient of %s %d has dtype %s, expected float32",
                             what, i, lcv_dtype_name(g->dtype));
    if (!ref || lcv_tensor_count(g) != lcv_tensor_count(ref)) {
        char a[128], b[128];
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "gradient of %s %d has shape %s, %s has %s", what,
                             i, lcv_shape_str(g->ndim, g->dims, a, sizeof a), what,
                             ref ? lcv_shape_str(ref->ndim, ref->dims, b, sizeof b) : "none");
    }
    if (!g->data && lcv_tensor_count(g) > 0)
        return lcv_grad_fail(c, LCV_ERR_INTERNAL, "gradient of %s %d has no data", what, i);
    return LCV_OK;
}

lcv_status lcv_gradu_dout(lcv_gradctx *c, int k, const float **p) {
    *p = NULL;
    const lcv_tensor *g = c->dout && k >= 0 && k < c->n_out ? c->dout[k] : NULL;
    if (!g) return LCV_OK;
    lcv_status st = need_grad(c, g, c->out[k], "output", k);
    if (st == LCV_OK) *p = g->data;
    return st;
}

lcv_status lcv_gradu_din(lcv_gradctx *c, int i, float **p) {
    *p = NULL;
    lcv_tensor *g = lcv_grad_din(c, i);
    if (!g) return LCV_OK;
    lcv_status st = need_grad(c, g, lcv_grad_input(c, i), "input", i);
    if (st == LCV_OK) *p = g->data;
    return st;
}

lcv_status lcv_gradu_din_zero(lcv_gradctx *c, int i) {
    float *g;
    lcv_status st = lcv_gradu_din(c, i, &g);
    if (st == LCV_OK && g) memset(g, 0, sizeof(float) * (size_t)lcv_tensor_count(c->din[i]));
    return st;
}

/* ---- temporaries ---- */

lcv_status lcv_gradu_buf_get(lcv_gradctx *c, size_t bytes, lcv_gradu_buf *b) {
    b->data = b->owned = NULL;
    if (bytes == 0) bytes = 1;
    if (c->scratch) {
        b->data = lcv_grad_scratch(c, bytes);
    } else {
        b->owned = malloc(bytes);
        b->data = b->owned;
    }
    if (!b->data)
        return lcv_grad_fail(c, LCV_ERR_NOMEM, "out of memory for %zu bytes of temporaries",
                             bytes);
    return LCV_OK;
}

void lcv_gradu_buf_free(lcv_gradu_buf *b) {
    free(b->owned);
    b->data = b->owned = NULL;
}

/* ---- broadcast sum ---- */

/* Columns summed together per task when the innermost dim is kept: a stack block of
 * accumulators, large enough for long contiguous rows. */
#define SUM_BLOCK 256

/* src viewed as merged dims, each either kept (dst varies along it) or reduced. Kept dims, in
 * order, are exactly dst's layout; src strides are dense over the merged dims. */
typedef struct sum_plan {
    const float *src;
    float *dst;
    int nk, nr;                        /* kept and reduced dims (outer to inner) */
    int64_t kd[LCV_MAX_DIMS], ks[LCV_MAX_DIMS]; /* kept dims and their src strides */
    int64_t rd[LCV_MAX_DIMS], rs[LCV_MAX_DIMS]; /* reduced dims and their src strides */
    bool inner_kept;                   /* the innermost src dim is kept (stride 1) */
    int64_t inner, nblocks;            /* inner_kept: its size and column blocks per row */
    const lcv_f32_sums *sums;
} sum_plan;

/* src offset of kept coordinates given by flat index k over the first nk kept dims. */
static int64_t kept_offset(const sum_plan *p, int nk, int64_t k) {
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; d--) {
        off += (k % p->kd[d]) * p->ks[d];
        k /= p->kd[d];
    }
    return off;
}

/* Adds the terms of every reduced coordinate, in row-major order, into acc[0..w) from the
 * src run at base (w contiguous floats per reduced coordinate when inner_kept, else the
 * innermost reduced dim is the contiguous run and w == 1). */
static void sum_reduced(const sum_plan *p, int64_t base, double *acc, int64_t w) {
    int64_t idx[LCV_MAX_DIMS] = {0}, off = 0;
    int nr = p->nr;
    /* inner reduced: the last reduced dim is the contiguous run, summed in one loop */
    int nodo = p->inner_kept ? nr : nr - 1;
    int64_t run = p->inner_kept ? 0 : p->rd[nr - 1];
    for (;;) {
        const float *s = p->src + base + off;
        if (p->inner_kept) {
            for (int64_t j = 0; j < w; j++) acc[j] += s[j];
        } else {
            acc[0] += p->sums->sum(s, run);
        }
        int d = nodo - 1;
        for (; d >= 0; d--) {
            off += p->rs[d];
            if (++idx[d] < p->rd[d]) break;
            off -= p->rs[d] * p->rd[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

static void sum_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const sum_plan *p = ctx;
    double acc[SUM_BLOCK];
    for (int64_t u = begin; u < end; u++) {
        if (p->inner_kept) {
            int64_t row = u / p->nblocks, j0 = (u % p->nblocks) * SUM_BLOCK;
            int64_t w = p->inner - j0 < SUM_BLOCK ? p->inner - j0 : SUM_BLOCK;
            for (int64_t j = 0; j < w; j++) acc[j] = 0;
            sum_reduced(p, kept_offset(p, p->nk - 1, row) + j0, acc, w);
            for (int64_t j = 0; j < w; j++) p->dst[row * p->inner + j0 + j] = (float)acc[j];
        } else {
            acc[0] = 0;
            sum_reduced(p, kept_offset(p, p->nk, u), acc, 1);
            p->dst[u] = (float)acc[0];
        }
    }
}

lcv_status lcv_gradu_sum_to(lcv_gradctx *c, const float *src, int nd, const int64_t *dims,
                            float *dst, int dst_nd, const int64_t *dst_dims) {
    int64_t n_dst = 1, n_src = 1;
    bool ok = dst_nd <= nd && nd <= LCV_MAX_DIMS;
    for (int i = 0; ok && i < dst_nd; i++) {
        int64_t d = dst_dims[i], s = dims[nd - dst_nd + i];
        ok = d == s || d == 1;
    }
    if (!ok) {
        char a[128], b[128];
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "shape %s does not broadcast to gradient shape %s",
                             lcv_shape_str(dst_nd, dst_dims, a, sizeof a),
                             lcv_shape_str(nd, dims, b, sizeof b));
    }
    for (int i = 0; i < dst_nd; i++) n_dst *= dst_dims[i];
    for (int i = 0; i < nd; i++) n_src *= dims[i];
    if (n_dst == 0) return LCV_OK;
    if (n_src == 0) {
        memset(dst, 0, sizeof(float) * (size_t)n_dst);
        return LCV_OK;
    }
    /* Merge runs of dims with the same role (size-1 dims have none and vanish). */
    int64_t md[LCV_MAX_DIMS];
    bool mk[LCV_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == 1) continue;
        int j = i - (nd - dst_nd);
        bool kept = j >= 0 && dst_dims[j] != 1;
        if (m > 0 && mk[m - 1] == kept) {
            md[m - 1] *= dims[i];
        } else {
            md[m] = dims[i];
            mk[m] = kept;
            m++;
        }
    }
    sum_plan p;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.dst = dst;
    p.sums = lcv_f32_sums_for(lcv_grad_isa());
    int64_t stride = 1;
    for (int i = m - 1; i >= 0; i--) {
        if (mk[i]) {
            p.kd[p.nk] = md[i];
            p.ks[p.nk++] = stride;
        } else {
            p.rd[p.nr] = md[i];
            p.rs[p.nr++] = stride;
        }
        stride *= md[i];
    }
    /* collected inner to outer: reverse into outer-to-inner order */
    for (int i = 0; i < p.nk / 2; i++) {
        int64_t t = p.kd[i];
        p.kd[i] = p.kd[p.nk - 1 - i];
        p.kd[p.nk - 1 - i] = t;
        t = p.ks[i];
        p.ks[i] = p.ks[p.nk - 1 - i];
        p.ks[p.nk - 1 - i] = t;
    }
    for (int i = 0; i < p.nr / 2; i++) {
        int64_t t = p.rd[i];
        p.rd[i] = p.rd[p.nr - 1 - i];
        p.rd[p.nr - 1 - i] = t;
        t = p.rs[i];
        p.rs[i] = p.rs[p.nr - 1 - i];
        p.rs[p.nr - 1 - i] = t;
    }
    if (p.nr == 0) { /* nothing is broadcast: a copy */
        memcpy(dst, src, sizeof(float) * (size_t)n_dst);
        return LCV_OK;
    }
    p.inner_kept = m > 0 && mk[m - 1];
    int64_t units = n_dst, grain;
    if (p.inner_kept) {
        p.inner = p.kd[p.nk - 1];
        p.nblocks = (p.inner + SUM_BLOCK - 1) / SUM_BLOCK;
        units = n_dst / p.inner * p.nblocks;
        grain = LCV_GRADU_GRAIN / (n_src / units) + 1; /* n_src / units: terms per unit */
    } else {
        grain = LCV_GRADU_GRAIN / (n_src / n_dst) + 1;
    }
    lcv_threadpool_parallel_for(c->pool, units, grain, sum_task, &p);
    return LCV_OK;
}

/* ---- unary driver ---- */

typedef struct unary_task {
    lcv_gradu_unary_fn f;
    const float *x, *y, *dy, *p;
    float *dx;
} unary_task;

static void unary_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const unary_task *t = ctx;
    t->f(t->x + begin, t->y + begin, t->dy + begin, t->dx + begin, end - begin, t->p);
}

lcv_status lcv_gradu_unary(lcv_gradctx *c, lcv_gradu_unary_fn f, const float *p) {
    const float *x, *y, *dy;
    float *dx;
    lcv_status st = lcv_gradu_in(c, 0, &x);
    if (st == LCV_OK) st = lcv_gradu_out(c, 0, &y);
    if (st == LCV_OK && lcv_tensor_count(c->out[0]) != lcv_tensor_count(c->in[0]))
        st = lcv_grad_fail(c, LCV_ERR_SHAPE, "output has %lld elements, input %lld",
                           (long long)lcv_tensor_count(c->out[0]),
                           (long long)lcv_tensor_count(c->in[0]));
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    int64_t n = lcv_tensor_count(c->in[0]);
    if (!dy) {
        memset(dx, 0, sizeof(float) * (size_t)n);
        return LCV_OK;
    }
    unary_task t = {f, x, y, dy, p, dx};
    lcv_threadpool_parallel_for(c->pool, n, LCV_GRADU_GRAIN, unary_range, &t);
    return LCV_OK;
}
