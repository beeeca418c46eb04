/* q8add.c - the scalar q8add.h kernels (the reference twin of the vector ones and the only
 * ones off x86) and the per-ISA table choice. */
#include "q8add.h"

/* The parameters are copied first: a byte store may alias *p, which would make the compiler
 * reload every field for every value. */
static void add_u8(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n,
                   const lcv_q8add_params *p) {
    const lcv_q8add_params q = *p;
    for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)lcv_q8add1(a[i], b[i], &q, 0, 255);
}

static void add_i8(const int8_t *a, const int8_t *b, int8_t *y, int64_t n,
                   const lcv_q8add_params *p) {
    const lcv_q8add_params q = *p;
    for (int64_t i = 0; i < n; i++) y[i] = (int8_t)lcv_q8add1(a[i], b[i], &q, -128, 127);
}

const lcv_q8add_kernels lcv_q8add_kernels_scalar = {add_u8, add_i8};

const lcv_q8add_kernels *lcv_q8add_kernels_for(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512) return &lcv_q8add_kernels_avx512;
    if (isa == LCV_ISA_AVX2) return &lcv_q8add_kernels_avx2;
#endif
    (void)isa;
    return &lcv_q8add_kernels_scalar;
}
