/* act.c - the definition of each fusable activation (see act.h). */
#include <math.h>

#include "act.h"

float lcv_act_f32(const lcv_fused *f, float x) {
    switch (f->act) {
    case LCV_ACT_NONE: return x;
    case LCV_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case LCV_ACT_CLIP: return x < f->alpha ? f->alpha : x > f->beta ? f->beta : x;
    case LCV_ACT_LEAKYRELU: return x >= 0.0f ? x : f->alpha * x;
    case LCV_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case LCV_ACT_HARDSIGMOID: {
        float v = f->alpha * x + f->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case LCV_ACT_HARDSWISH: {
        float v = x / 6.0f + 0.5f;
        return x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
    case LCV_ACT_SILU: return x / (1.0f + expf(-x));
    case LCV_ACT_TANH: return tanhf(x);
    /* 1/sqrt(2) rounded to float; multiplying by it matches Div(x, 1.4142135) within an ulp */
    case LCV_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    }
    return x;
}

void lcv_act_apply_f32(const lcv_fused *f, float *y, int64_t n) {
    if (f->act == LCV_ACT_NONE) return;
    for (int64_t i = 0; i < n; i++) y[i] = lcv_act_f32(f, y[i]);
}

