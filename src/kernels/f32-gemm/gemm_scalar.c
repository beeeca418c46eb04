/* gemm_scalar.c - the portable GEMM microkernel (any CPU; the only path on CPUs with no SIMD
 * kernel): a 4 x 16 register tile in plain C that compilers can auto-vectorise for the baseline
 * ISA. Each output sums k in increasing order, continuing from C on later K blocks. */
#include "gemm_internal.h"
#include "../../kernels/f32-vact/vact.h"

#define MR LCV_GEMM_MR_SCALAR
#define NR LCV_GEMM_NR_SCALAR

/* The register-applied activations, written as in core/act.c (OTHER is applied later). */
static float act1(const lcv_gemm_act *f, float x) {
    switch (f->kind) {
    case LCV_GEMM_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case LCV_GEMM_ACT_CLIP: return x < f->alpha ? f->alpha : x > f->beta ? f->beta : x;
    case LCV_GEMM_ACT_LEAKYRELU: return x >= 0.0f ? x : f->alpha * x;
    case LCV_GEMM_ACT_HARDSIGMOID: {
        float v = f->alpha * x + f->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case LCV_GEMM_ACT_HARDSWISH: {
        float v = x / 6.0f + 0.5f;
        return x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
    default: return x;
    }
}

void lcv_gemm_tile_scalar(const lcv_gemm_tile *t) {
    float acc[MR][NR];
    const int mr = t->mr, nr = t->nr;
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = (t->load_c && r < mr && j < nr) ? t->c[r * t->ldc + j] : 0.0f;
    const float *a = t->a, *b = t->b;
    for (int64_t k = 0; k < t->kc; k++) {
        float bv[NR];
        for (int j = 0; j < NR; j++) bv[j] = j < nr ? b[j] : 0.0f;
        for (int r = 0; r < MR; r++) {
            float av = a[r];
            for (int j = 0; j < NR; j++) acc[r][j] += av * bv[j];
        }
        a += MR;
        b += t->b_ks;
    }
    for (int r = 0; r < mr; r++) {
        float *cr = t->c + r * t->ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[r][j];
            if (t->epi) {
                if (t->bias) v += t->bias_per_col ? t->bias[j] : t->bias[r];
                if (t->res) v += t->res[r * t->ld_res + j];
                v = act1(&t->act, v);
            }
            cr[j] = v;
        }
        if (t->epi && t->act.kind == LCV_GEMM_ACT_OTHER)
            lcv_vact_apply(LCV_ISA_SCALAR, t->act.fused, cr, nr);
    }
}
