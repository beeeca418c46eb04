/* gemm.c - the GEMM driver: packing of constant operands into microkernel panels, cache
 * blocking (K blocks of LCV_GEMM_KC, C blocks of mc x nc) and the split of C blocks over the
 * thread pool. Every output sums k in increasing order in one chain (later K blocks continue
 * from C), so neither the blocking nor the thread split changes any result. */
#include "gemm_internal.h"

#include <string.h>

/* C block: nc columns of B (a KC x nc slice of B stays in L2) by mc rows of A. */
#define GEMM_NC 512
#define GEMM_MC_PANELS 10

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
static void pack_panels(int64_t lines, int64_t depth, int panel, const float *src,
                        int64_t s_line, int64_t s_depth, float alpha, float *dst) {
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
    pack_panels(m, k, gemm_kernel_for(isa).mr, a, trans ? 1 : lda, trans ? lda : 1, alpha, dst);
}

void lcv_gemm_pack_b(lcv_isa isa, int64_t k, int64_t n, const float *b, int64_t ldb, bool trans,
                     float alpha, float *dst) {
    if (n < 1 || k < 1) return;
    pack_panels(n, k, gemm_kernel_for(isa).nr, b, trans ? ldb : 1, trans ? 1 : ldb, alpha, dst);
}

typedef struct gemm_job {
    const lcv_gemm_args *g;
    gemm_kernel kr;
    int64_t mc, nc;             /* C block, multiples of mr / nr */
    int64_t m_blocks, n_blocks;
    lcv_gemm_act act;           /* resolved once from epi->act */
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
    for (int64_t kk = 0; kk < kc; kk++) {
        float *q = buf + kk * mr;
        int r = 0;
        for (; r < rows; r++) q[r] = src[r * s_row + kk * s_k];
        for (; r < mr; r++) q[r] = 0.0f;
    }
    return buf;
}

static void gemm_block(const gemm_job *j, int64_t mb, int64_t nb) {
    const lcv_gemm_args *g = j->g;
    const lcv_gemm_epilogue *epi = g->epi;
    const int mr = j->kr.mr, nr = j->kr.nr;
    float abuf[LCV_GEMM_MR_MAX * LCV_GEMM_KC];
    int64_t i0 = mb * j->mc, i1 = i0 + j->mc < g->m ? i0 + j->mc : g->m;
    int64_t j0 = nb * j->nc, j1 = j0 + j->nc < g->n ? j0 + j->nc : g->n;
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
        for (int64_t i = i0; i < i1; i += mr) {
            int rows = i1 - i < mr ? (int)(i1 - i) : mr;
            t.a = a_panel(j, i, rows, k0, kc, abuf);
            t.mr = rows;
            for (int64_t jj = j0; jj < j1; jj += nr) {
                t.nr = j1 - jj < nr ? (int)(j1 - jj) : nr;
                if (g->b.packed) {
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

static void gemm_task(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const gemm_job *j = ctx;
    for (int64_t b = begin; b < end; b++) gemm_block(j, b % j->m_blocks, b / j->m_blocks);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

lcv_status lcv_gemm_run(const lcv_gemm_args *g, lcv_threadpool *pool, lcv_err *e) {
    if (!g || !g->c || !g->a.data || !g->b.data)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: NULL argument");
    if (g->m < 1 || g->n < 1 || g->k < 0)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: bad dims M=%lld N=%lld K=%lld",
                        (long long)g->m, (long long)g->n, (long long)g->k);
    if (!g->b.packed && g->b.trans)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: a transposed B must be packed");
    if (g->ldc < g->n || (!g->b.packed && g->b.ld < g->n) ||
        (!g->a.packed && g->a.ld < (g->a.trans ? g->m : g->k)) ||
        (g->epi && g->epi->residual && g->epi->ld_residual < g->n))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "gemm: a leading dimension is too small");
    gemm_job j;
    j.g = g;
    j.kr = gemm_kernel_for(g->isa);
    j.act = lcv_gemm_act_resolve(g->epi ? g->epi->act : NULL);
    j.nc = ceil_div(GEMM_NC, j.kr.nr) * j.kr.nr;
    j.mc = (int64_t)GEMM_MC_PANELS * j.kr.mr;
    /* Enough blocks to keep every thread busy: split N first (each block then re-reads all of
     * A, which is the smaller operand when N is large), then M. */
    int threads = lcv_threadpool_size(pool);
    if (threads > 1) {
        int64_t want = 2 * (int64_t)threads;
        while (ceil_div(g->m, j.mc) * ceil_div(g->n, j.nc) < want && j.nc > j.kr.nr)
            j.nc = ceil_div(j.nc / 2, j.kr.nr) * j.kr.nr;
        while (ceil_div(g->m, j.mc) * ceil_div(g->n, j.nc) < want && j.mc > j.kr.mr)
            j.mc = ceil_div(j.mc / 2, j.kr.mr) * j.kr.mr;
    }
    j.m_blocks = ceil_div(g->m, j.mc);
    j.n_blocks = ceil_div(g->n, j.nc);
    lcv_threadpool_parallel_for(pool, j.m_blocks * j.n_blocks, 1, gemm_task, &j);
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
