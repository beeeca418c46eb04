/* i8gemm_avx2.c - the AVX2 int8 GEMM tile: 6 x 8 in 12 ymm accumulators. Exact without
 * VNNI: A is stored widened to int16, B's bytes are widened on load, and vpmaddwd adds pairs
 * of 16 x 16-bit products into int32 (at most 2 * 255 * 128, no saturation, unlike
 * vpmaddubsw). Each accumulator holds (column, half-quad) partial sums, folded at the end. */
#include "i8gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define MR LCV_I8GEMM_MR_AVX2
#define T2 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))

/* 8 int32 sums of columns [j, j + 8) of row r of the tile: the epilogue, then the store of
 * the nr - j (up to 8) valid columns. Matches lcv_i8gemm_epi_one lane by lane. */
T2 INL void store_row8(const lcv_i8gemm_tile *t, const lcv_i8gemm_rowc *rc, int r, __m256i v) {
    const lcv_i8gemm_epi *e = t->epi;
    const int n = t->nr;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    v = _mm256_add_epi32(v, _mm256_set1_epi32(rc->add));
    if (e->col_add)
        v = _mm256_add_epi32(v, _mm256_maskload_epi32(e->col_add + t->j0, mask));
    if (e->row_z)
        v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_set1_epi32(rc->z),
                                                   _mm256_maskload_epi32(t->bsum, mask)));
    if (e->col_z)
        v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_set1_epi32(rc->asum),
                                                   _mm256_maskload_epi32(e->col_z + t->j0,
                                                                         mask)));
    if (e->out == LCV_I8_OUT_S32) {
        _mm256_maskstore_epi32((int32_t *)t->c + r * t->ldc, mask, v);
        return;
    }
    __m256 m = e->col_mult ? _mm256_maskload_ps(e->col_mult + t->j0, mask)
                           : _mm256_set1_ps(rc->mult);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), m);
    f = _mm256_max_ps(f, _mm256_set1_ps((float)(e->lo - e->zy))); /* NaN -> lo - zy */
    f = _mm256_min_ps(f, _mm256_set1_ps((float)(e->hi - e->zy)));
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(e->zy));
    /* the low byte of each lane (values are within the output type) into bytes 0..7 */
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1);
    q = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, pick),
                                    _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    uint8_t *dst = (uint8_t *)t->c + r * t->ldc;
    if (n == 8) { /* a full row: one 8-byte store, no memcpy call */
        _mm_storel_epi64((__m128i *)(void *)dst, _mm256_castsi256_si128(q));
        return;
    }
    int64_t bytes = _mm_cvtsi128_si64(_mm256_castsi256_si128(q));
    memcpy(dst, &bytes, (size_t)n);
}

T2 INL void tile2(const lcv_i8gemm_tile *t, const int R) {
    __m256i acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int16_t *a = t->a;
    const uint8_t *b = t->b;
    const int64_t nq = t->kq / 4;
    const bool b_u8 = !t->a_u8;
    for (int64_t q = 0; q < nq; q++, a += MR * 4, b += 32) {
        __m128i b0 = _mm_loadu_si128((const __m128i *)b);
        __m128i b1 = _mm_loadu_si128((const __m128i *)(b + 16));
        __m256i w0 = b_u8 ? _mm256_cvtepu8_epi16(b0) : _mm256_cvtepi8_epi16(b0);
        __m256i w1 = b_u8 ? _mm256_cvtepu8_epi16(b1) : _mm256_cvtepi8_epi16(b1);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            int64_t aq;
            memcpy(&aq, a + r * 4, sizeof aq);
            __m256i av = _mm256_set1_epi64x(aq);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(w0, av));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(w1, av));
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        /* lanes (c0 lo, c0 hi, c1 lo, ...) of columns 0-3 and 4-7 -> columns 0..7 */
        __m256i s = _mm256_hadd_epi32(acc[r][0], acc[r][1]);
        s = _mm256_permute4x64_epi64(s, 0xD8);
        lcv_i8gemm_rowc rc = lcv_i8gemm_row_consts(t, r);
        store_row8(t, &rc, r, s);
    }
}

T2 void lcv_i8gemm_tile_avx2(const lcv_i8gemm_tile *t) {
    switch (t->mr) {
    case 1: tile2(t, 1); break;
    case 2: tile2(t, 2); break;
    case 3: tile2(t, 3); break;
    case 4: tile2(t, 4); break;
    case 5: tile2(t, 5); break;
    default: tile2(t, 6); break;
    }
}

#endif
