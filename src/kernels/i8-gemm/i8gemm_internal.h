/* i8gemm_internal.h - the contract between the int8 GEMM driver (i8gemm.c) and the per-ISA
 * files: one call computes one register tile of C over the whole packed depth, then applies
 * the epilogue (zero point terms, requantization) to it and stores it. */
#ifndef LCV_I8GEMM_INTERNAL_H
#define LCV_I8GEMM_INTERNAL_H

#include "i8gemm.h"

/* Register tiles per kernel (rows of A x columns of B). */
#define LCV_I8GEMM_MR_SCALAR 4
#define LCV_I8GEMM_NR_SCALAR 8
#define LCV_I8GEMM_MR_AVX2 6
#define LCV_I8GEMM_NR_AVX2 8
#define LCV_I8GEMM_MR_VNNI 12
#define LCV_I8GEMM_NR_VNNI 32
#define LCV_I8GEMM_MR_MAX 12

typedef struct lcv_i8gemm_tile {
    int64_t kq;          /* packed depth (multiple of 4) */
    const void *a;       /* A panel: quad q of row r at (q * MR + r) * 4 bytes (AVX2: int16) */
    const uint8_t *b;    /* B panel: quad q of column j at b + (q * NR + j) * 4 */
    int mr, nr;          /* valid rows (1..MR) and columns (1..NR) */
    bool a_u8;
    const lcv_i8gemm_epi *epi;
    int64_t i0, j0;      /* the tile's first row and column in C */
    const int32_t *bsum; /* bsum[j] for the tile's column j (needed when epi->row_z) */
    void *c;             /* the tile's element (0, 0); rows ldc elements apart */
    int64_t ldc;
} lcv_i8gemm_tile;

typedef void (*lcv_i8gemm_tile_fn)(const lcv_i8gemm_tile *t);

/* Per-row epilogue constants of tile row r (so the row loops only stream columns). */
typedef struct lcv_i8gemm_rowc {
    int32_t add;         /* row_add[i] - col_z terms are per column and stay in the loop */
    int32_t z;           /* row_z[i] (times bsum[j]) */
    int32_t asum;        /* a_sums[i] (times col_z[j]) */
    float mult;          /* row_mult[i] or mult; unused when col_mult */
} lcv_i8gemm_rowc;

static inline lcv_i8gemm_rowc lcv_i8gemm_row_consts(const lcv_i8gemm_tile *t, int r) {
    const lcv_i8gemm_epi *e = t->epi;
    int64_t i = t->i0 + r;
    lcv_i8gemm_rowc rc;
    rc.add = e->row_add ? e->row_add[i] : 0;
    rc.z = e->row_z ? e->row_z[i] : 0;
    rc.asum = e->col_z ? e->a_sums[i] : 0;
    rc.mult = e->row_mult ? e->row_mult[i] : e->mult;
    return rc;
}

/* The epilogue of element (r, j) of a tile in scalar code; vector kernels match it bit for
 * bit. Returns the value to store (int32, or the 8-bit value for 8-bit outputs). */
static inline int32_t lcv_i8gemm_epi_one(const lcv_i8gemm_tile *t, const lcv_i8gemm_rowc *rc,
                                         int j, int32_t acc) {
    const lcv_i8gemm_epi *e = t->epi;
    int64_t jj = t->j0 + j;
    int32_t v = lcv_i32_add(acc, rc->add);
    if (e->col_add) v = lcv_i32_add(v, e->col_add[jj]);
    if (e->row_z) v = lcv_i32_sub(v, lcv_i32_mul(rc->z, t->bsum[j]));
    if (e->col_z) v = lcv_i32_sub(v, lcv_i32_mul(e->col_z[jj], rc->asum));
    if (e->out == LCV_I8_OUT_S32) return v;
    return lcv_i8_requant(v, e->col_mult ? e->col_mult[jj] : rc->mult, e->zy, e->lo, e->hi);
}

/* Stores a tile of int32 sums (acc[r * ld + j]) through the scalar epilogue. */
void lcv_i8gemm_store_scalar(const lcv_i8gemm_tile *t, const int32_t *acc, int ld);

void lcv_i8gemm_tile_scalar(const lcv_i8gemm_tile *t);
#if defined(__x86_64__)
void lcv_i8gemm_tile_avx2(const lcv_i8gemm_tile *t);
void lcv_i8gemm_tile_vnni512(const lcv_i8gemm_tile *t);
#endif

#endif
