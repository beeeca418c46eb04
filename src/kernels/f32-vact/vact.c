/* vact.c - picks the vact.h kernel table for an ISA, and the fused-activation entry point
 * that fast epilogues call instead of the scalar lcv_act_apply_f32. */
#include "vact.h"

const lcv_vact_kernels *lcv_vact_kernels_for(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512) return &lcv_vact_kernels_avx512;
    if (isa == LCV_ISA_AVX2) return &lcv_vact_kernels_avx2;
#endif
    (void)isa;
    return &lcv_vact_kernels_scalar;
}

void lcv_vact_apply(lcv_isa isa, const lcv_fused *f, float *y, int64_t n) {
    if (!f || f->act == LCV_ACT_NONE || n <= 0) return;
    lcv_vact_kernels_for(isa)->unary((lcv_vfn)f->act, f->alpha, f->beta, y, y, n);
}
