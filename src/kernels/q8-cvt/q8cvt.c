/* q8cvt.c - the scalar q8cvt.h kernels (the reference twin of the vector ones and the only
 * ones off x86) and the per-ISA table choice. */
#include "q8cvt.h"

static void quant_u8(const float *x, float s, int32_t z, uint8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)lcv_q8cvt_quant1(x[i], s, z, 0, 255);
}

static void quant_i8(const float *x, float s, int32_t z, int8_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (int8_t)lcv_q8cvt_quant1(x[i], s, z, -128, 127);
}

static void dequant_u8(const uint8_t *x, float s, int32_t z, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)((int32_t)x[i] - z) * s;
}

static void dequant_i8(const int8_t *x, float s, int32_t z, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)((int32_t)x[i] - z) * s;
}

const lcv_q8cvt_kernels lcv_q8cvt_kernels_scalar = {quant_u8, quant_i8, dequant_u8, dequant_i8};

const lcv_q8cvt_kernels *lcv_q8cvt_kernels_for(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512) return &lcv_q8cvt_kernels_avx512;
    if (isa == LCV_ISA_AVX2) return &lcv_q8cvt_kernels_avx2;
#endif
    (void)isa;
    return &lcv_q8cvt_kernels_scalar;
}
