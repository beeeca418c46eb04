/* gemm_internal.h - the contract between the GEMM driver (gemm.c) and the per-ISA microkernel
 * files: one call computes one register tile of C over one K block, reading a packed A panel
 * and rows of B, and on the last K block applies the epilogue before storing. */
#ifndef LCV_GEMM_INTERNAL_H
#define LCV_GEMM_INTERNAL_H

#include "gemm.h"

/* Register tiles per ISA (rows of A x columns of B). */
#define LCV_GEMM_MR_SCALAR 4
#define LCV_GEMM_NR_SCALAR 16
#define LCV_GEMM_MR_AVX2 6
#define LCV_GEMM_NR_AVX2 16
#define LCV_GEMM_MR_AVX512 12
#define LCV_GEMM_NR_AVX512 32
#define LCV_GEMM_MR_NEON 8
#define LCV_GEMM_NR_NEON 12
#define LCV_GEMM_MR_MAX 12

/* K block: an A panel (MR x KC) stays in L1 while it meets every B panel of a block. */
#define LCV_GEMM_KC 256

typedef struct lcv_gemm_tile {
    int64_t kc;          /* k steps in this block (may be 0) */
    const float *a;      /* packed A panel: element (r, k) at a[k * MR + r], MR of the ISA */
    const float *b;      /* row k of the tile at b + k * b_ks, nr valid floats */
    int64_t b_ks;
    float *c;            /* element (r, j) at c[r * ldc + j] */
    int64_t ldc;
    int mr, nr;          /* valid rows (1..MR) and columns (1..NR) */
    bool load_c;         /* continue the sums already in C (a later K block) */
    bool epi;            /* last K block: apply the following before storing */
    const float *bias;   /* offset to the tile: bias[r] (per row) or bias[j] (per column) */
    bool bias_per_col;
    const float *res;    /* offset to the tile: res[r * ld_res + j] */
    int64_t ld_res;
    lcv_gemm_act act;    /* kind NONE: none */
} lcv_gemm_tile;

typedef void (*lcv_gemm_tile_fn)(const lcv_gemm_tile *t);

void lcv_gemm_tile_scalar(const lcv_gemm_tile *t);
#if defined(__x86_64__)
void lcv_gemm_tile_avx2(const lcv_gemm_tile *t);
void lcv_gemm_tile_avx512(const lcv_gemm_tile *t);
#endif
#if defined(__x86_64__)
/* Packs `lines` lines of src (line l at src + l * ld, its depth steps contiguous) times alpha
 * into ceil(lines / panel) panels: element (l, d) at dst[(l / panel) * panel * depth + d *
 * panel + l % panel], zeros past the last line. Needs AVX2. */
void lcv_gemm_pack_lines_avx2(int64_t lines, int64_t depth, int panel, const float *src,
                              int64_t ld, float alpha, float *dst);
#endif
#if defined(__aarch64__)
void lcv_gemm_tile_neon(const lcv_gemm_tile *t);
#endif

#endif
