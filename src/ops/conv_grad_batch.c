/* conv_grad_batch.c - the convolution backward for batches of two or more images: the batch
 * is cut into a fixed number of chunks and each chunk runs on one thread with serial GEMMs
 * over whole images, so small images (where a product per image is too small to split over
 * threads) keep every core busy. The chunk count does not depend on the thread count, and
 * the weight gradient's per-chunk partial sums are added in chunk order: results are the same
 * bits for any pool. The runs of valid positions each kernel tap reads are computed once per
 * call, so building a column matrix or adding one back is a series of row copies. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32-gemm/gemm.h"
#include "../kernels/f32-gemm/gemm_internal.h"
#include "conv_grad_impl.h"

/* Chunks of a batch; at most this many partial weight gradients are kept. */
#define BATCH_CHUNKS 8
/* Largest column matrix (floats) of one image kept per thread. */
#define BATCH_COL_MAX ((int64_t)1 << 20)

bool lcv_convg_batched(const conv_run *r) {
    return !r->direct && r->g->batch >= 2 && r->kdim <= BATCH_COL_MAX / r->g->out_size;
}

/* ---- runs of valid positions per tap ----------------------------------------------------- */

typedef struct tap_run {
    int64_t yo, xo, n; /* n y positions from yo read x at xo, xo + s, ... */
} tap_run;

typedef struct run_table {
    tap_run *runs;  /* the runs of tap t are runs[first[t]] .. runs[first[t + 1] - 1], by yo */
    int64_t *first; /* k_size + 1 entries */
    int64_t s;      /* x step along the run dim */
} run_table;

/* Runs of one tap over the whole output: at most one per row of the outer dims. */
static int64_t max_runs_per_tap(const conv_run *r) {
    const lcv_window *w = &r->g->w;
    return r->g->out_size / w->out[w->nsp - 1];
}

static void run_table_fill(const conv_run *r, run_table *t) {
    const lcv_window *w = &r->g->w;
    int64_t k = 0;
    t->s = w->stride[w->nsp - 1];
    for (int64_t tap = 0; tap < r->g->k_size; tap++) {
        t->first[tap] = k;
        tap_iter it;
        tap_iter_init(&it, r, tap, 0, w->out[0]);
        while (tap_iter_next(&it)) t->runs[k++] = (tap_run){it.yo, it.xo, it.n};
    }
    t->first[r->g->k_size] = k;
}

/* ---- the shared scratch block ------------------------------------------------------------ */

typedef struct batch_job {
    lcv_gradctx *c;
    const conv_run *r;
    lcv_isa isa;
    run_table rt;
    int64_t chunks, group;     /* the group being processed */
    const float *x, *dy, *apack;
    float *out;                /* dw partials ([chunks][m_g * kdim]) or dx */
    float *thread_ws;          /* per thread: GEMM workspace, then (adjoint) a column matrix */
    size_t ws_floats, per_thread;
    lcv_status st[BATCH_CHUNKS];
} batch_job;

/* Carves the run table and `threads` slices of per_thread floats (after a gemm workspace of
 * ws_floats each) plus `extra` floats from one scratch block. */
static float *batch_scratch(batch_job *j, int threads, size_t col_floats, size_t extra,
                            void **owned) {
    const conv_run *r = j->r;
    size_t nruns = (size_t)(max_runs_per_tap(r) * r->g->k_size);
    size_t table, per, all, total;
    size_t ws_bytes = lcv_gemm_ws_size(j->isa, 1);
    bool ok = ws_bytes > 0 &&
              lcv_grad_round16(nruns * (sizeof(tap_run) / sizeof(float)) +
                                   (size_t)(r->g->k_size + 1) * 2, &table) &&
              lcv_grad_round16(ws_bytes / sizeof(float), &j->ws_floats) &&
              lcv_add_size(j->ws_floats, col_floats, &per) && lcv_grad_round16(per, &per) &&
              lcv_mul_size(per, (size_t)threads, &all) && lcv_add_size(all, table, &total) &&
              lcv_add_size(total, extra, &total);
    if (!ok) {
        lcv_grad_fail(j->c, LCV_ERR_NOMEM, "convolution scratch is too large");
        *owned = NULL;
        return NULL;
    }
    float *p = lcv_grad_floats(j->c, total, owned);
    if (!p) return NULL;
    j->rt.runs = (tap_run *)p;
    j->rt.first = (int64_t *)(j->rt.runs + nruns);
    run_table_fill(r, &j->rt);
    j->per_thread = per;
    j->thread_ws = p + table;
    return p + table + all;
}

/* The chunk's images: [b, e). */
static void chunk_images(const batch_job *j, int64_t chunk, int64_t *b, int64_t *e) {
    *b = j->r->g->batch * chunk / j->chunks;
    *e = j->r->g->batch * (chunk + 1) / j->chunks;
}

static batch_job batch_job_init(lcv_gradctx *c, const conv_run *r, const float *dy) {
    batch_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.r = r;
    j.isa = lcv_grad_isa();
    j.chunks = r->g->batch < BATCH_CHUNKS ? r->g->batch : BATCH_CHUNKS;
    j.dy = dy;
    return j;
}

/* Runs fn over every chunk of the current group; the first chunk's failure names `what`. */
static lcv_status run_chunks(batch_job *j, lcv_task_fn fn, const char *what) {
    lcv_threadpool_parallel_for(j->c->pool, j->chunks, 1, fn, j);
    for (int64_t ch = 0; ch < j->chunks; ch++)
        if (j->st[ch] != LCV_OK) return lcv_grad_fail(j->c, j->st[ch], "%s GEMM failed", what);
    return LCV_OK;
}

/* ---- weight gradient --------------------------------------------------------------------- */

/* The image's column matrix col [kdim, out_size]: row (ci, tap) holds x[ci] at the position
 * each output position reads through tap, zero outside x. */
static void im2col_image(const conv_run *r, const run_table *rt, const float *x, float *col) {
    const lcv_convg *g = r->g;
    for (int64_t row = 0; row < r->kdim; row++) {
        int64_t ci = row / g->k_size, tap = row % g->k_size;
        const float *xp = x + ci * g->in_size;
        float *dst = col + row * g->out_size;
        int64_t filled = 0; /* runs come by increasing yo: zero only the gaps */
        for (int64_t k = rt->first[tap]; k < rt->first[tap + 1]; k++) {
            const tap_run *run = &rt->runs[k];
            if (run->yo > filled) memset(dst + filled, 0, sizeof(float) * (size_t)(run->yo - filled));
            float *restrict d = dst + run->yo;
            const float *restrict sx = xp + run->xo;
            if (rt->s == 1) {
                memcpy(d, sx, sizeof(float) * (size_t)run->n);
            } else {
                for (int64_t i = 0; i < run->n; i++) d[i] = sx[i * rt->s];
            }
            filled = run->yo + run->n;
        }
        if (g->out_size > filled)
            memset(dst + filled, 0, sizeof(float) * (size_t)(g->out_size - filled));
    }
}

/* B of dW[g] = dY[g] * col^T for the positions [p0, p0 + depth): col's rows transposed into
 * panels. */
typedef struct wpack_src {
    lcv_isa isa;
    const float *col;
    int64_t ld, p0;
} wpack_src;

static void wgrad_pack(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t j1, int nr,
                       float *dst) {
    const wpack_src *s = ctx;
    (void)nr;
    lcv_gemm_pack_b(s->isa, kc, j1 - j0, s->col + j0 * s->ld + s->p0 + k0, s->ld, true, 1.0f,
                    dst);
}

/* Chunks [begin, end): each sums its images' dY * col(X)^T into its own partial (X itself
 * for a pointwise convolution). */
static void wgrad_chunks(void *ctx, int64_t begin, int64_t end, int thread) {
    batch_job *j = ctx;
    const lcv_convg *g = j->r->g;
    int64_t kdim = j->r->kdim;
    float *ws = j->thread_ws + (size_t)thread * j->per_thread, *col = ws + j->ws_floats;
    for (int64_t ch = begin; ch < end; ch++) {
        float *acc = j->out + ch * g->m_g * kdim;
        int64_t n0, n1;
        chunk_images(j, ch, &n0, &n1);
        j->st[ch] = LCV_OK;
        for (int64_t n = n0; n < n1; n++) {
            const float *xg = j->x + (n * g->c + j->group * g->c_g) * g->in_size;
            const float *dyg = j->dy + (n * g->m + j->group * g->m_g) * g->out_size;
            if (!j->r->pointwise) im2col_image(j->r, &j->rt, xg, col);
            /* One K block per call, so an accumulating epilogue reads C before it changes. */
            for (int64_t p0 = 0; p0 < g->out_size; p0 += LCV_GEMM_KC) {
                int64_t kc = g->out_size - p0 < LCV_GEMM_KC ? g->out_size - p0 : LCV_GEMM_KC;
                wpack_src src = {j->isa, j->r->pointwise ? xg : col, g->out_size, p0};
                bool add = n > n0 || p0 > 0;
                lcv_gemm_epilogue epi = {NULL, false, acc, kdim, NULL};
                lcv_gemm_args a = {j->isa, g->m_g, kdim, kc, {dyg + p0, g->out_size, false, false},
                                   {NULL, 0, false, false}, acc, kdim, add ? &epi : NULL};
                lcv_gemm_ws gws = {ws, wgrad_pack, &src};
                lcv_err err;
                if (lcv_gemm_run_ws(&a, &gws, NULL, &err) != LCV_OK) {
                    j->st[ch] = LCV_ERR_INTERNAL;
                    return;
                }
            }
        }
    }
}

lcv_status lcv_convg_batch_weight_grad(lcv_gradctx *c, const conv_run *r, const float *x,
                                       const float *dy, float *dw) {
    const lcv_convg *g = r->g;
    batch_job j = batch_job_init(c, r, dy);
    j.x = x;
    size_t partials;
    if (!lcv_mul_size((size_t)(g->m_g * r->kdim), (size_t)j.chunks, &partials))
        return lcv_grad_fail(c, LCV_ERR_NOMEM, "convolution scratch is too large");
    void *owned;
    size_t col_floats = r->pointwise ? 0 : (size_t)(r->kdim * g->out_size);
    j.out = batch_scratch(&j, lcv_threadpool_size(c->pool), col_floats, partials, &owned);
    if (!j.out) return LCV_ERR_NOMEM;
    lcv_status st = LCV_OK;
    for (j.group = 0; j.group < g->group && st == LCV_OK; j.group++) {
        if ((st = run_chunks(&j, wgrad_chunks, "weight gradient")) != LCV_OK) break;
        /* The partials in chunk order: the same sum for any thread count. */
        int64_t size = g->m_g * r->kdim;
        float *dwg = dw + j.group * size;
        memcpy(dwg, j.out, sizeof(float) * (size_t)size);
        for (int64_t ch = 1; ch < j.chunks; ch++) {
            const float *part = j.out + ch * size;
            for (int64_t i = 0; i < size; i++) dwg[i] += part[i];
        }
    }
    free(owned);
    return st;
}

/* ---- adjoint ----------------------------------------------------------------------------- */

/* Chunks [begin, end): image by image, dcol = W^T * dY then col2im into dx (or the product
 * straight into dx for a pointwise convolution). */
static void adjoint_chunks(void *ctx, int64_t begin, int64_t end, int thread) {
    batch_job *j = ctx;
    const conv_run *r = j->r;
    const lcv_convg *g = r->g;
    float *ws = j->thread_ws + (size_t)thread * j->per_thread, *col = ws + j->ws_floats;
    for (int64_t ch = begin; ch < end; ch++) {
        int64_t n0, n1;
        chunk_images(j, ch, &n0, &n1);
        j->st[ch] = LCV_OK;
        for (int64_t n = n0; n < n1; n++) {
            const float *dyg = j->dy + (n * g->m + j->group * g->m_g) * g->out_size;
            float *dxg = j->out + (n * g->c + j->group * g->c_g) * g->in_size;
            lcv_gemm_args a = {j->isa, r->kdim, g->out_size, g->m_g, {j->apack, 0, false, true},
                               {dyg, g->out_size, false, false}, r->pointwise ? dxg : col,
                               g->out_size, NULL};
            lcv_gemm_ws gws = {ws, NULL, NULL};
            lcv_err err;
            if (lcv_gemm_run_ws(&a, &gws, NULL, &err) != LCV_OK) {
                j->st[ch] = LCV_ERR_INTERNAL;
                return;
            }
            if (r->pointwise) continue;
            memset(dxg, 0, sizeof(float) * (size_t)(g->c_g * g->in_size));
            int64_t s = j->rt.s;
            for (int64_t ci = 0; ci < g->c_g; ci++) {
                float *dxp = dxg + ci * g->in_size;
                for (int64_t tap = 0; tap < g->k_size; tap++) {
                    const float *src = col + (ci * g->k_size + tap) * g->out_size;
                    for (int64_t k = j->rt.first[tap]; k < j->rt.first[tap + 1]; k++) {
                        const tap_run *run = &j->rt.runs[k];
                        float *restrict d = dxp + run->xo;
                        const float *restrict v = src + run->yo;
                        if (s == 1) {
                            for (int64_t i = 0; i < run->n; i++) d[i] += v[i];
                        } else {
                            for (int64_t i = 0; i < run->n; i++) d[i * s] += v[i];
                        }
                    }
                }
            }
        }
    }
}

lcv_status lcv_convg_batch_adjoint(lcv_gradctx *c, const conv_run *r, const float *wt,
                                   const float *dy, float *dx) {
    const lcv_convg *g = r->g;
    batch_job j = batch_job_init(c, r, dy);
    j.out = dx;
    size_t pack_floats = lcv_gemm_pack_a_size(j.isa, r->kdim, g->m_g) / sizeof(float);
    size_t col_floats = r->pointwise ? 0 : (size_t)(r->kdim * g->out_size);
    void *owned;
    float *pack = batch_scratch(&j, lcv_threadpool_size(c->pool), col_floats, pack_floats,
                                &owned);
    if (!pack) return LCV_ERR_NOMEM;
    j.apack = pack;
    lcv_status st = LCV_OK;
    for (j.group = 0; j.group < g->group && st == LCV_OK; j.group++) {
        /* A = W[g]^T: [kdim, m_g] read from the [m_g, kdim] weights. */
        lcv_gemm_pack_a(j.isa, r->kdim, g->m_g, wt + j.group * g->m_g * r->kdim, r->kdim, true,
                        1.0f, pack);
        st = run_chunks(&j, adjoint_chunks, "input gradient");
    }
    free(owned);
    return st;
}
