/* i8gemm_scalar.c - the portable int8 GEMM tile (also the path of non-x86 builds) and the
 * scalar epilogue every kernel's remainders may use; plain loops over the quad panels. */
#include "i8gemm_internal.h"

void lcv_i8gemm_store_scalar(const lcv_i8gemm_tile *t, const int32_t *acc, int ld) {
    const lcv_i8_out out = t->epi->out;
    for (int r = 0; r < t->mr; r++) {
        lcv_i8gemm_rowc rc = lcv_i8gemm_row_consts(t, r);
        for (int j = 0; j < t->nr; j++) {
            int32_t v = lcv_i8gemm_epi_one(t, &rc, j, acc[r * ld + j]);
            int64_t at = r * t->ldc + j;
            if (out == LCV_I8_OUT_S32) ((int32_t *)t->c)[at] = v;
            else if (out == LCV_I8_OUT_U8) ((uint8_t *)t->c)[at] = (uint8_t)v;
            else ((int8_t *)t->c)[at] = (int8_t)v;
        }
    }
}

void lcv_i8gemm_tile_scalar(const lcv_i8gemm_tile *t) {
    enum { MR = LCV_I8GEMM_MR_SCALAR, NR = LCV_I8GEMM_NR_SCALAR };
    int32_t acc[MR * NR] = {0};
    const uint8_t *a = t->a, *b = t->b;
    const bool au = t->a_u8;
    for (int64_t q = 0; q < t->kq / 4; q++, a += MR * 4, b += NR * 4) {
        for (int r = 0; r < MR; r++) {
            int32_t av[4];
            for (int e = 0; e < 4; e++)
                av[e] = au ? (int32_t)a[r * 4 + e] : (int32_t)(int8_t)a[r * 4 + e];
            for (int j = 0; j < NR; j++) {
                const uint8_t *bq = b + j * 4;
                int32_t s = 0;
                for (int e = 0; e < 4; e++)
                    s += av[e] * (au ? (int32_t)(int8_t)bq[e] : (int32_t)bq[e]);
                /* |s| <= 4 * 255 * 128; the running sum wraps modulo 2^32 */
                acc[r * NR + j] = lcv_i32_add(acc[r * NR + j], s);
            }
        }
    }
    lcv_i8gemm_store_scalar(t, acc, NR);
}
