/* gemv.c - the portable part of the batch-1 GEMV: the scalar panel kernel (the twin of the
 * vector ones; any panel width), ISA dispatch, the thread split over panels and the epilogue
 * (bias, residual, then the activation by the ISA's vector kernels). */
#include "gemv.h"

#include "../f32-gemm/gemm.h"
#include "../f32-vact/vact.h"

/* The widest panel any ISA's GEMM packs (AVX-512: 32). */
#define GEMV_MAX_NR 64

static void panels_scalar(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
        const float *b = a->packed_b + p * nr * a->k;
        float acc[GEMV_MAX_NR] = {0};
        for (int64_t k = 0; k < a->k; k++, b += nr) {
            float xv = a->x[k];
            for (int j = 0; j < nr; j++) acc[j] += xv * b[j];
        }
        int64_t j0 = p * nr, cols = a->n - j0 < nr ? a->n - j0 : nr;
        for (int64_t j = 0; j < cols; j++) a->y[j0 + j] = acc[j];
    }
}

typedef struct gemv_task {
    const lcv_gemv_args *a;
    lcv_gemv_panels_fn fn;
    int nr;
} gemv_task;

static void gemv_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const gemv_task *t = ctx;
    const lcv_gemv_args *a = t->a;
    (void)thread;
    t->fn(a, t->nr, begin, end);
    int64_t j0 = begin * t->nr, j1 = end * t->nr < a->n ? end * t->nr : a->n;
    for (int64_t j = j0; j < j1; j++) {
        float v = a->y[j];
        if (a->bias) v += a->bias[j];
        if (a->residual) v += a->residual[j];
        a->y[j] = v;
    }
    if (a->act && a->act->act != LCV_ACT_NONE) lcv_vact_apply(a->isa, a->act, a->y + j0, j1 - j0);
}

void lcv_gemv_run(const lcv_gemv_args *a, lcv_threadpool *pool) {
    int mr, nr;
    lcv_gemm_tile_dims(a->isa, &mr, &nr);
    gemv_task t = {a, panels_scalar, nr};
#if defined(__x86_64__)
    /* the vector kernels assume their ISA's GEMM panel width */
    if (a->isa == LCV_ISA_AVX512 && nr == 32) t.fn = lcv_gemv_panels_avx512;
    else if (a->isa == LCV_ISA_AVX2 && nr == 16) t.fn = lcv_gemv_panels_avx2;
#endif
    int64_t panels = (a->n + nr - 1) / nr;
    /* chunks of at least ~64 KiB of weights so the hand-off stays small against the stream */
    int64_t grain = 16384 / (a->k * nr) + 1;
    lcv_threadpool_parallel_for(pool, panels, grain, gemv_range, &t);
}
