/* winograd.c - the F(4x4, 3x3) driver: the weight transform G g G^T and its packing, the
 * split of the output tiles into blocks whose transformed data stays near the core, and the
 * run over the thread pool (whole blocks per thread when there are enough tiles, else each
 * stage of one block split over threads). The blocking and the split only decide which
 * thread computes an output, never how: see lcv_winograd_run. */
#include "winograd_internal.h"

#include <string.h>

#include "../f32-gemm/gemm.h"
#include "../f32-vact/vact.h"

/* The transformed input and GEMM output of one block (36 * tiles * (cin + cout) floats) are
 * kept under about this many floats (2 MiB), so the GEMMs read them from L2 or near L3. */
#define WINO_BLOCK_FLOATS ((int64_t)1 << 19)
/* Blocks run whole on each thread when every thread gets at least this many GEMM row
 * panels of tiles; fewer tiles are better served by splitting each stage. */
#define WINO_MIN_PANELS_PER_THREAD 4

/* Interpolation matrix G of F(4, 3) (see winograd_internal.h), in double so the transformed
 * weights are rounded once. */
static const double wino_g[6][3] = {{1.0 / 4, 0.0, 0.0},
                                    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                    {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                    {0.0, 0.0, 1.0}};

/* Largest size or pad accepted; with tensors of at most 2^62 elements it keeps every offset
 * and tile count far from int64 overflow. */
#define WINO_MAX_DIM ((int64_t)1 << 31)

bool lcv_winograd_geom_ok(const lcv_winograd_geom *g) {
    if (!g || g->batch < 1 || g->cin < 1 || g->cout < 1 || g->in_h < 1 || g->in_w < 1 ||
        g->out_h < 1 || g->out_w < 1 || g->pad_top < 0 || g->pad_left < 0)
        return false;
    const int64_t lim = WINO_MAX_DIM, elems = (int64_t)1 << 62;
    return g->batch <= lim && g->cin <= lim && g->cout <= lim && g->in_h <= lim &&
           g->in_w <= lim && g->out_h <= lim && g->out_w <= lim && g->pad_top <= lim &&
           g->pad_left <= lim && g->in_h * g->in_w <= elems / (g->batch * g->cin) &&
           g->out_h * g->out_w <= elems / (g->batch * g->cout);
}

size_t lcv_winograd_weights_size(lcv_isa isa, int64_t cin, int64_t cout) {
    size_t one = lcv_gemm_pack_b_size(isa, cin, cout), all;
    return one != 0 && lcv_mul_size(one, LCV_WINO_XI, &all) ? all : 0;
}

void lcv_winograd_pack_weights(lcv_isa isa, int64_t cin, int64_t cout, const float *w,
                               float *tmp, float *dst) {
    size_t one = lcv_gemm_pack_b_size(isa, cin, cout) / sizeof(float);
    int64_t plane = cin * cout;
    if (one == 0) return;
    for (int i = 0; i < LCV_WINO_A; i++) {
        /* tmp[j] = row i of G g G^T for every (co, ci), as [cout, cin] matrices */
        for (int64_t co = 0; co < cout; co++) {
            for (int64_t ci = 0; ci < cin; ci++) {
                const float *g = w + (co * cin + ci) * 9;
                double h[3];
                for (int b = 0; b < 3; b++)
                    h[b] = wino_g[i][0] * g[b] + wino_g[i][1] * g[3 + b] + wino_g[i][2] * g[6 + b];
                for (int j = 0; j < LCV_WINO_A; j++)
                    tmp[j * plane + co * cin + ci] =
                        (float)(h[0] * wino_g[j][0] + h[1] * wino_g[j][1] + h[2] * wino_g[j][2]);
            }
        }
        /* B[ci, co] = U[co, ci]: the [cout, cin] matrix read transposed */
        for (int j = 0; j < LCV_WINO_A; j++)
            lcv_gemm_pack_b(isa, cin, cout, tmp + j * plane, cin, true, 1.0f,
                            dst + (size_t)(LCV_WINO_A * i + j) * one);
    }
}

/* How a run splits its tiles; a pure function of (isa, geometry, thread count). */
typedef struct wino_blocking {
    int mr;                    /* GEMM rows per panel = tiles per input-transform panel */
    int64_t total, tb, blocks; /* tiles, tiles per block (the last may have fewer), blocks */
    int slices;                /* scratch slices: one per thread when blocks run in parallel */
    int64_t ldm;               /* row stride of the GEMM outputs (cout rounded up to 16) */
    int64_t v_stride, m_stride;    /* floats per transformed matrix of a block (xi stride) */
    int64_t slice_floats;          /* 36 * (v_stride + m_stride) */
} wino_blocking;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* False when the sizes overflow (only possible outside lcv_winograd_geom_ok's limits). */
static bool wino_blocking_get(lcv_isa isa, const lcv_winograd_geom *g, int threads,
                              wino_blocking *bk) {
    int nr;
    lcv_gemm_tile_dims(isa, &bk->mr, &nr);
    const int64_t mr = bk->mr;
    bk->ldm = round_up(g->cout, 16);
    bk->total = g->batch * ceil_div(g->out_h, LCV_WINO_M) * ceil_div(g->out_w, LCV_WINO_M);
    int64_t per_tile = LCV_WINO_XI * (g->cin + bk->ldm);
    int64_t tmax = WINO_BLOCK_FLOATS / per_tile / mr * mr;
    if (tmax < mr) tmax = mr;
    bk->blocks = ceil_div(bk->total, tmax);
    bk->slices = 1;
    /* Every block streams all 36 transformed weight matrices. When that costs more than
     * writing the whole transformed input and output once and reading them back (one block
     * that overflows L2), take one block; its stages then split over the threads, each
     * thread streaming a share of the weights. */
    double weights = (double)LCV_WINO_XI * (double)g->cin * (double)g->cout;
    if (bk->blocks > 1 &&
        (double)(bk->blocks - 1) * weights > 2.0 * (double)bk->total * (double)per_tile) {
        bk->blocks = 1;
    } else if (threads > 1 && bk->total >= (int64_t)threads * WINO_MIN_PANELS_PER_THREAD * mr) {
        bk->blocks = round_up(bk->blocks, threads);
        bk->slices = threads;
    }
    bk->tb = round_up(ceil_div(bk->total, bk->blocks), mr);
    bk->blocks = ceil_div(bk->total, bk->tb);
    size_t v, m, s;
    const size_t cap = (size_t)1 << 56; /* keeps the sums below int64 overflow */
    if (!lcv_mul_size((size_t)bk->tb, (size_t)g->cin, &v) || v > cap ||
        !lcv_mul_size((size_t)bk->tb, (size_t)bk->ldm, &m) || m > cap)
        return false;
    bk->v_stride = round_up((int64_t)v, 16);
    bk->m_stride = round_up((int64_t)m, 16);
    s = LCV_WINO_XI * (size_t)(bk->v_stride + bk->m_stride); /* < 36 * 2^57 < 2^63 */
    bk->slice_floats = (int64_t)s;
    return true;
}

size_t lcv_winograd_scratch_size(lcv_isa isa, const lcv_winograd_geom *g, int threads) {
    wino_blocking bk;
    size_t bytes;
    if (!lcv_winograd_geom_ok(g) || !wino_blocking_get(isa, g, threads < 1 ? 1 : threads, &bk) ||
        !lcv_mul_size((size_t)bk.slice_floats, (size_t)bk.slices, &bytes) ||
        !lcv_mul_size(bytes, sizeof(float), &bytes))
        return 0;
    return bytes;
}

int64_t lcv_winograd_tiles_per_pass(lcv_isa isa, const lcv_winograd_geom *g, int threads) {
    wino_blocking bk;
    if (!lcv_winograd_geom_ok(g) || !wino_blocking_get(isa, g, threads < 1 ? 1 : threads, &bk))
        return 0;
    return bk.tb < bk.total ? bk.tb : bk.total;
}

typedef struct wino_job {
    const lcv_winograd_args *a;
    wino_blocking bk;
    lcv_wino_tiles tl;
    lcv_wino_in_fn in_fn;
    lcv_wino_out_fn out_fn;
    int64_t out_blocks; /* output channel blocks of the output transform's width */
    int64_t w_stride;   /* floats per packed weight matrix */
    const lcv_fused *epi_act; /* ReLU or Clip, applied in the output transform, or NULL */
    lcv_wino_in in;     /* stage mode: the current block */
    lcv_wino_out out;
} wino_job;

/* The 36 products [nt, cin] x [cin, cout] for xi in [xi0, xi1), from and to a scratch slice. */
static void wino_gemms(const wino_job *j, int64_t nt, float *slice, int64_t xi0, int64_t xi1) {
    const lcv_winograd_args *a = j->a;
    const float *v = slice;
    float *m = slice + LCV_WINO_XI * j->bk.v_stride;
    for (int64_t xi = xi0; xi < xi1; xi++) {
        lcv_gemm_args ga = {a->isa, nt, a->geom.cout, a->geom.cin,
                            {v + xi * j->bk.v_stride, 0, false, true},
                            {a->weights + xi * j->w_stride, 0, false, true},
                            m + xi * j->bk.m_stride, j->bk.ldm, NULL};
        /* cannot fail: every argument was checked by lcv_winograd_run */
        (void)lcv_gemm_run(&ga, NULL, NULL);
    }
}

static void wino_set_block(const wino_job *j, int64_t b, float *slice, lcv_wino_in *in,
                           lcv_wino_out *out) {
    const lcv_winograd_args *a = j->a;
    int64_t t0 = b * j->bk.tb, nt = j->bk.total - t0 < j->bk.tb ? j->bk.total - t0 : j->bk.tb;
    float *v = slice, *m = slice + LCV_WINO_XI * j->bk.v_stride;
    *in = (lcv_wino_in){&a->geom, j->tl, a->x, t0, nt, j->bk.mr, v, j->bk.v_stride};
    *out = (lcv_wino_out){&a->geom, j->tl, m, j->bk.m_stride, j->bk.ldm, t0, nt,
                          a->bias, a->residual, j->epi_act, a->y};
}

/* Parallel-blocks mode: whole blocks on each thread, in the thread's scratch slice. */
static void wino_block_task(void *ctx, int64_t b0, int64_t b1, int thread) {
    const wino_job *j = ctx;
    float *slice = (float *)j->a->scratch + (int64_t)thread * j->bk.slice_floats;
    for (int64_t b = b0; b < b1; b++) {
        lcv_wino_in in;
        lcv_wino_out out;
        wino_set_block(j, b, slice, &in, &out);
        j->in_fn(&in, 0, j->a->geom.cin);
        wino_gemms(j, in.nt, slice, 0, LCV_WINO_XI);
        j->out_fn(&out, 0, j->out_blocks);
    }
}

/* Stage mode: one block at a time, each stage split over the threads. */
static void wino_in_task(void *ctx, int64_t c0, int64_t c1, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    j->in_fn(&j->in, c0, c1);
}

static void wino_gemm_task(void *ctx, int64_t xi0, int64_t xi1, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    wino_gemms(j, j->in.nt, j->in.v, xi0, xi1);
}

static void wino_out_task(void *ctx, int64_t b0, int64_t b1, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    j->out_fn(&j->out, b0, b1);
}

/* The activations the output transforms do not apply, over whole output planes, with the
 * vector math of f32-vact at the run's ISA (as the GEMM and depthwise epilogues do). */
static void wino_act_task(void *ctx, int64_t p0, int64_t p1, int thread) {
    (void)thread;
    const wino_job *j = ctx;
    int64_t plane = j->a->geom.out_h * j->a->geom.out_w;
    for (int64_t p = p0; p < p1; p++)
        lcv_vact_apply(j->a->isa, j->a->act, j->a->y + p * plane, plane);
}

lcv_status lcv_winograd_run(const lcv_winograd_args *a, lcv_threadpool *pool, lcv_err *e) {
    if (!a || !a->x || !a->weights || !a->y || !a->scratch)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "winograd: NULL argument");
    const lcv_winograd_geom *g = &a->geom;
    if (a->isa == LCV_ISA_AUTO || !lcv_winograd_geom_ok(g))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "winograd: unsupported isa or geometry "
                        "(N=%lld Cin=%lld Cout=%lld %lldx%lld -> %lldx%lld)", (long long)g->batch,
                        (long long)g->cin, (long long)g->cout, (long long)g->in_h,
                        (long long)g->in_w, (long long)g->out_h, (long long)g->out_w);
    if ((const float *)a->y == a->x)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "winograd: output aliases the input");
    int threads = lcv_threadpool_size(pool);
    wino_job j;
    memset(&j, 0, sizeof j);
    j.a = a;
    size_t need = lcv_winograd_scratch_size(a->isa, g, threads);
    if (!wino_blocking_get(a->isa, g, threads, &j.bk) || need == 0 || a->scratch_size < need)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "winograd: scratch of %zu bytes, need %zu",
                        a->scratch_size, need);
    j.tl.per_row = ceil_div(g->out_w, LCV_WINO_M);
    j.tl.per_image = j.tl.per_row * ceil_div(g->out_h, LCV_WINO_M);
    j.w_stride = (int64_t)(lcv_gemm_pack_b_size(a->isa, g->cin, g->cout) / sizeof(float));
    j.in_fn = lcv_wino_input_scalar;
    j.out_fn = lcv_wino_output_scalar;
    int width = 1;
#if defined(__x86_64__)
    if (a->isa == LCV_ISA_AVX512) {
        if (j.bk.mr <= 16) j.in_fn = lcv_wino_input_avx512;
        j.out_fn = lcv_wino_output_avx512;
        width = 16;
    } else if (a->isa == LCV_ISA_AVX2) {
        if (j.bk.mr <= 8) j.in_fn = lcv_wino_input_avx2;
        j.out_fn = lcv_wino_output_avx2;
        width = 8;
    }
#endif
    j.out_blocks = ceil_div(g->cout, width);
    lcv_act_kind kind = a->act ? a->act->act : LCV_ACT_NONE;
    j.epi_act = kind == LCV_ACT_RELU || kind == LCV_ACT_CLIP ? a->act : NULL;
    if (j.bk.slices > 1) {
        lcv_threadpool_parallel_for(pool, j.bk.blocks, 1, wino_block_task, &j);
    } else {
        for (int64_t b = 0; b < j.bk.blocks; b++) {
            wino_set_block(&j, b, a->scratch, &j.in, &j.out);
            lcv_threadpool_parallel_for(pool, g->cin, 8, wino_in_task, &j);
            lcv_threadpool_parallel_for(pool, LCV_WINO_XI, 1, wino_gemm_task, &j);
            lcv_threadpool_parallel_for(pool, j.out_blocks, 1, wino_out_task, &j);
        }
    }
    if (kind != LCV_ACT_NONE && !j.epi_act)
        lcv_threadpool_parallel_for(pool, g->batch * g->cout, 1, wino_act_task, &j);
    return LCV_OK;
}
