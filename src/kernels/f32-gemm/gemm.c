/* gemm.c - the GEMM driver: packing of operands into microkernel panels, cache blocking (K
 * blocks of LCV_GEMM_KC, column blocks of about GEMM_NC) and the split of C over the thread
 * pool in equal shares of panels. Every output sums k in increasing order in one chain (later
 * K blocks continue from C), so neither the blocking nor the thread split changes a result. */
#include "gemm_internal.h"

#include <string.h>

/* Column block: a KC x GEMM_NC slice of B (512 KiB) stays in L2 while every row panel of
 * A in the thread's share passes over it (the A panel in L1 meets each B panel once). */
#define GEMM_NC 512

typedef struct gemm_kernel {
    int mr, nr;
    lcv_gemm_tile_fn tile;
} gemm_kernel;

static gemm_kernel gemm_kernel_for(lcv_isa isa) {
    gemm_kernel k = {LCV_GEMM_MR_SCALAR, LCV_GEMM_NR_SCALAR, lcv_gemm_tile_scalar};
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX2) {
        k.mr = LCV_GEMM_MR_AVX2;
        k.nr = LCV_GEMM_NR_AVX2;
        k.tile = lcv_gemm_tile_avx2;
    } else if (isa == LCV_ISA_AVX512 || isa == LCV_ISA_AUTO) {
        k.mr = LCV_GEMM_MR_AVX512;
        k.nr = LCV_GEMM_NR_AVX512;
        k.tile = lcv_gemm_tile_avx512;
    }
#elif defined(__aarch64__)
    if (isa == LCV_ISA_NEON || isa == LCV_ISA_AUTO) {
        k.mr = LCV_GEMM_MR_NEON;
        k.nr = LCV_GEMM_NR_NEON;
        k.tile = lcv_gemm_tile_neon;
    }
#else
    (void)isa;
#endif
    return k;
}

void lcv_gemm_tile_dims(lcv_isa isa, int *mr, int *nr) {
    gemm_kernel k = gemm_kernel_for(isa);
    *mr = k.mr;
    *nr = k.nr;
}

/* Bytes of ceil(rows / panel) panels of panel x depth floats; 0 on bad dims or overflow. */
static size_t panels_size(int64_t rows, int64_t depth, int panel) {
    if (rows < 1 || depth < 1) return 0;
    uint64_t np = ((uint64_t)rows + (uint64_t)panel - 1) / (uint64_t)panel;
    uint64_t floats = np * (uint64_t)panel;
    if ((uint64_t)depth > SIZE_MAX / sizeof(float) / floats) return 0;
    return (size_t)(floats * (uint64_t)depth * sizeof(float));
}

size_t lcv_gemm_pack_a_size(lcv_isa isa, int64_t m, int64_t k) {
    return panels_size(m, k, gemm_kernel_for(isa).mr);
}

size_t lcv_gemm_pack_b_size(lcv_isa isa, int64_t k, int64_t n) {
    return panels_size(n, k, gemm_kernel_for(isa).nr);
}

/* Panel p of `panel` lines holds element (line, d) at dst[p * panel * depth + d * panel + line
 * % panel], zero past the last line. get(src, line, d) = src[line * s_line + d * s_depth]. */
static void pack_panels(lcv_isa isa, int64_t lines, int64_t depth, int panel, const float *src,
                        int64_t s_line, int64_t s_depth, float alpha, float *dst) {
#if defined(__x86_64__)
    /* Lines with contiguous depth: a transpose, done in registers. */
    if (s_depth == 1 && (isa == LCV_ISA_AVX2 || isa == LCV_ISA_AVX512)) {
        lcv_gemm_pack_lines_avx2(lines, depth, panel, src, s_line, alpha, dst);
        return;
    }
#else
    (void)isa;
#endif
    for (int64_t l0 = 0; l0 < lines; l0 += panel) {
        float *p = dst + l0 * depth;
        int64_t nl = lines - l0 < panel ? lines - l0 : panel;
        for (int64_t d = 0; d < depth; d++) {
            const float *s = src + l0 * s_line + d * s_depth;
            float *q = p + d * panel;
            int64_t l = 0;
            for (; l < nl; l++) q[l] = alpha * s[l * s_line];
            for (; l < panel; l++) q[l] = 0.0f;
        }
    }
}

void lcv_gemm_pack_a(lcv_isa isa, int64_t m, int64_t k, const float *a, int64_t lda, bool trans,
                     float alpha, float *dst) {
    if (m < 1 || k < 1) return;
    pack_panels(isa, m, k, gemm_kernel_for(isa).mr, a, trans ? 1 : lda, trans ? lda : 1, alpha, dst);
}

void lcv_gemm_pack_b(lcv_isa isa, int64_t k, int64_t n, const float *b, int64_t ldb, bool trans,
                     float alpha, float *dst) {
    if (n < 1 || k < 1) return;
    pack_panels(isa, n, k, gemm_kernel_for(isa).nr, b, trans ? ldb : 1, trans ? 1 : ldb, alpha, dst);
}


/* Column panels per block (a block of B is at most this many nr-wide panels). */
static int64_t nc_panels(int nr) { return (GEMM_NC + nr - 1) / nr; }

size_t lcv_gemm_ws_size(lcv_isa isa, int threads) {
    int nr = gemm_kernel_for(isa).nr;
    uint64_t per = (uint64_t)LCV_GEMM_KC * (uint64_t)nc_panels(nr) * (uint64_t)nr;
    if (threads < 1) threads = 1;
    if (per > SIZE_MAX / sizeof(float) / (uint64_t)threads) return 0;
    return (size_t)(per * (uint64_t)threads * sizeof(float));
}

/* The built-in B source: a plain row-major B copied into panels. */
static void pack_plain_b(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t j1, int nr,
                         float *dst) {
    const lcv_gemm_operand *b = ctx;
    for (int64_t jp = j0; jp < j1; jp += nr) {
        int64_t cols = j1 - jp < nr ? j1 - jp : nr;
        float *q = dst + ((jp - j0) / nr) * kc * nr;
        const float *s = b->data + k0 * b->ld + jp;
        for (int64_t kk = 0; kk < kc; kk++) {
            memcpy(q + kk * nr, s + kk * b->ld, sizeof(float) * (size_t)cols);
            for (int64_t l = cols; l < nr; l++) q[kk * nr + l] = 0.0f;
        }
    }
}

typedef struct gemm_job {
    const lcv_gemm_args *g;
    gemm_kernel kr;
    lcv_gemm_act act;           /* resolved once from epi->act */
    int64_t pm, pn;             /* row panels of A (mr rows), column panels of B (nr columns) */
    int tm, tn;                 /* thread grid: tm shares of the rows by tn of the columns */
    lcv_gemm_pack_fn pack;      /* B source packing into ws per block; NULL: B read as given */
    const void *pack_ctx;
    float *ws;
} gemm_job;

/* The A panel of rows [i, i + rows) and k [k0, k0 + kc): a slice of the packed A, or the plain
 * A copied into buf in the same layout (the copy is reused by every B panel of the block). */
static const float *a_panel(const gemm_job *j, int64_t i, int rows, int64_t k0, int64_t kc,
                            float *buf) {
    const lcv_gemm_operand *a = &j->g->a;
    const int mr = j->kr.mr;
    if (a->packed) return a->data + i * j->g->k + k0 * mr;
    int64_t s_row = a->trans ? 1 : a->ld, s_k = a->trans ? a->ld : 1;
    const float *src = a->data + i * s_row + k0 * s_k;
#if defined(__x86_64__)
    if (!a->trans && (j->g->isa == LCV_ISA_AVX2 || j->g->isa == LCV_ISA_AVX512)) {
        lcv_gemm_pack_lines_avx2(rows, kc, mr, src, s_row, 1.0f, buf);
        return buf;
    }
#endif
    for (int64_t kk = 0; kk < kc; kk++) {
        float *q = buf + kk * mr;
        int r = 0;
        for (; r < rows; r++) q[r] = src[r * s_row + kk * s_k];
        for (; r < mr; r++) q[r] = 0.0f;
    }
    return buf;
}

/* Rows [i0, i1) by columns [j0, j1) of C (i0, j0 on panel boundaries), K block by K block:
 * the B block is packed once into bws (when the job packs) and every A panel meets it. */
static void gemm_block(const gemm_job *j, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                       float *bws) {
    const lcv_gemm_args *g = j->g;
    const lcv_gemm_epilogue *epi = g->epi;
    const int mr = j->kr.mr, nr = j->kr.nr;
    float abuf[LCV_GEMM_MR_MAX * LCV_GEMM_KC];
    lcv_gemm_tile t;
    memset(&t, 0, sizeof t);
    t.ldc = g->ldc;
    t.bias_per_col = epi && epi->bias_per_col;
    t.ld_res = epi ? epi->ld_residual : 0;
    t.act = j->act;
    int64_t k0 = 0;
    do {
        int64_t kc = g->k - k0 < LCV_GEMM_KC ? g->k - k0 : LCV_GEMM_KC;
        t.kc = kc;
        t.load_c = k0 > 0;
        t.epi = k0 + kc >= g->k && epi;
        if (j->pack && kc > 0) j->pack(j->pack_ctx, k0, kc, j0, j1, nr, bws);
        for (int64_t i = i0; i < i1; i += mr) {
            int rows = i1 - i < mr ? (int)(i1 - i) : mr;
            t.a = a_panel(j, i, rows, k0, kc, abuf);
            t.mr = rows;
            for (int64_t jj = j0; jj < j1; jj += nr) {
                t.nr = j1 - jj < nr ? (int)(j1 - jj) : nr;
                if (j->pack) {
                    t.b = bws + (jj - j0) * kc;
                    t.b_ks = nr;
                } else if (g->b.packed) {
                    t.b = g->b.data + jj * g->k + k0 * nr;
                    t.b_ks = nr;
                } else {
                    t.b = g->b.data + k0 * g->b.ld + jj;
                    t.b_ks = g->b.ld;
                }
                t.c = g->c + i * g->ldc + jj;
                if (t.epi) {
                    t.bias = epi->bias ? epi->bias + (t.bias_per_col ? jj : i) : NULL;
                    t.res = epi->residual ? epi->residual + i * epi->ld_residual + jj : NULL;
                }
                j->kr.tile(&t);
            }
        }
        k0 += kc;
    } while (k0 < g->k);
}

/* Share s of `total` panels split `parts` ways: panels [*b, *e), sizes differing by <= 1. */
static void share(int64_t total, int parts, int s, int64_t *b, int64_t *e) {
    *b = total * s / parts;
    *e = total * (s + 1) / parts;
}

/* Item t of the thread grid: its rows, then its columns in blocks of at most nc_panels. */
static void gemm_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const gemm_job *j = ctx;
    const int mr = j->kr.mr, nr = j->kr.nr;
    const int64_t ncp = nc_panels(nr);
    float *bws = j->pack ? j->ws + (int64_t)thread * LCV_GEMM_KC * ncp * nr : NULL;
    for (int64_t t = begin; t < end; t++) {
        int64_t pm0, pm1, pn0, pn1;
        share(j->pm, j->tm, (int)(t % j->tm), &pm0, &pm1);
        share(j->pn, j->tn, (int)(t / j->tm), &pn0, &pn1);
        if (pm0 >= pm1 || pn0 >= pn1) continue;
        int64_t i0 = pm0 * mr, i1 = pm1 * mr < j->g->m ? pm1 * mr : j->g->m;
        int64_t nblocks = (pn1 - pn0 + ncp - 1) / ncp;
        for (int64_t bi = 0; bi < nblocks; bi++) {
            int64_t q0, q1;
            share(pn1 - pn0, (int)nblocks, (int)bi, &q0, &q1);
            int64_t j0 = (pn0 + q0) * nr, j1 = (pn0 + q1) * nr;
            if (j1 > j->g->n) j1 = j->g->n;
            gemm_block(j, i0, i1, j0, j1, bws);
        }
    }
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The thread grid: split the rows when B is the smaller operand to re-read (each share reads
 * all of B but only its part of A), else the columns; a dimension with fewer panels than
 * threads gives way to the other, and a tiny product stays on one thread. */
static void thread_grid(gemm_job *j, int threads) {
    const lcv_gemm_args *g = j->g;
    j->tm = j->tn = 1;
    double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    if (threads <= 1 || flops < 2e5) return;
    bool rows_first = g->n <= g->m;
    if (rows_first ? j->pm >= threads : j->pn < threads && j->pm >= threads) {
        j->tm = threads;
    } else if (j->pn >= threads) {
        j->tn = threads;
    } else {
        j->tm = (int)j->pm;
        j->tn = (int)(threads / j->tm < j->pn ? threads / j->tm : j->pn);
    }
}

lcv_status lcv_gemm_run(const lcv_gemm_args *g, lcv_threadpool *pool, lcv_err *e) {
    return lcv_gemm_run_ws(g, NULL, pool, e);
}

lcv_status lcv_gemm_run_ws(const lcv_gemm_args *g, const lcv_gemm_ws *ws, lcv_threadpool *pool,
                           lcv_err *e) {
    lcv_gemm_pack_fn pack_b = ws ? ws->pack_b : NULL;
    if (!g || !g->c || !g->a.data || (!g->b.data && !pack_b))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: NULL argument");
    if (g->m < 1 || g->n < 1 || g->k < 0)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: bad dims M=%lld N=%lld K=%lld",
                        (long long)g->m, (long long)g->n, (long long)g->k);
    if (pack_b && !ws->buf)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: a B packing callback needs a workspace");
    bool plain_b = !pack_b && !g->b.packed;
    if (plain_b && g->b.trans)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: a transposed B must be packed");
    if (g->ldc < g->n || (plain_b && g->b.ld < g->n) ||
        (!g->a.packed && g->a.ld < (g->a.trans ? g->m : g->k)) ||
        (g->epi && g->epi->residual && g->epi->ld_residual < g->n))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: a leading dimension is too small");
    gemm_job j;
    j.g = g;
    j.kr = gemm_kernel_for(g->isa);
    j.act = lcv_gemm_act_resolve(g->epi ? g->epi->act : NULL);
    j.pm = ceil_div(g->m, j.kr.mr);
    j.pn = ceil_div(g->n, j.kr.nr);
    thread_grid(&j, lcv_threadpool_size(pool));
    j.pack = pack_b;
    j.pack_ctx = ws ? ws->pack_b_ctx : NULL;
    j.ws = ws ? ws->buf : NULL;
    /* A plain B is worth packing when each share has several A panels to reuse it. */
    if (plain_b && j.ws && j.pm / j.tm >= 2 && g->k > 0) {
        j.pack = pack_plain_b;
        j.pack_ctx = &g->b;
    }
    lcv_threadpool_parallel_for(pool, (int64_t)j.tm * j.tn, 1, gemm_task, &j);
    return LCV_OK;
}

lcv_gemm_act lcv_gemm_act_resolve(const lcv_fused *f) {
    lcv_gemm_act a = {LCV_GEMM_ACT_NONE, 0.0f, 0.0f, f};
    if (!f) return a;
    a.alpha = f->alpha;
    a.beta = f->beta;
    switch (f->act) {
    case LCV_ACT_NONE: a.kind = LCV_GEMM_ACT_NONE; break;
    case LCV_ACT_RELU: a.kind = LCV_GEMM_ACT_RELU; break;
    case LCV_ACT_CLIP: a.kind = LCV_GEMM_ACT_CLIP; break;
    case LCV_ACT_LEAKYRELU: a.kind = LCV_GEMM_ACT_LEAKYRELU; break;
    case LCV_ACT_HARDSIGMOID: a.kind = LCV_GEMM_ACT_HARDSIGMOID; break;
    case LCV_ACT_HARDSWISH: a.kind = LCV_GEMM_ACT_HARDSWISH; break;
    default: a.kind = LCV_GEMM_ACT_OTHER; break;
    }
    return a;
}
