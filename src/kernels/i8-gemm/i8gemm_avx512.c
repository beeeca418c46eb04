/* i8gemm_avx512.c - the AVX-512 VNNI int8 GEMM tile: 12 x 32 in 24 zmm accumulators, one
 * vpdpbusd (16 lanes x 4 uint8 x int8 products, exact in int32) per row and column vector per
 * quad of k; one specialised copy per (rows, vectors) so remainders waste no work. */
#include "i8gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define MR LCV_I8GEMM_MR_VNNI
#define NRV 16
#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define INL static inline __attribute__((always_inline))

/* Columns [16v, 16v + 16) of tile row r (mask: the valid ones; s already holds rc->add):
 * epilogue and store, matching lcv_i8gemm_epi_one lane by lane. */
T512 INL void store_row16(const lcv_i8gemm_tile *t, const lcv_i8gemm_rowc *rc, int r, int v,
                          __mmask16 mk, __m512i s) {
    const lcv_i8gemm_epi *e = t->epi;
    const int64_t j = t->j0 + 16 * v; /* rc->add is already in s: the sums start from it */
    if (e->col_add) s = _mm512_add_epi32(s, _mm512_maskz_loadu_epi32(mk, e->col_add + j));
    if (e->row_z)
        s = _mm512_sub_epi32(s, _mm512_mullo_epi32(_mm512_set1_epi32(rc->z),
                                                   _mm512_maskz_loadu_epi32(mk, t->bsum + 16 * v)));
    if (e->col_z)
        s = _mm512_sub_epi32(s, _mm512_mullo_epi32(_mm512_set1_epi32(rc->asum),
                                                   _mm512_maskz_loadu_epi32(mk, e->col_z + j)));
    if (e->out == LCV_I8_OUT_S32) {
        _mm512_mask_storeu_epi32((int32_t *)t->c + r * t->ldc + 16 * v, mk, s);
        return;
    }
    __m512 m = e->col_mult ? _mm512_maskz_loadu_ps(mk, e->col_mult + j) : _mm512_set1_ps(rc->mult);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s), m);
    f = _mm512_max_ps(f, _mm512_set1_ps((float)(e->lo - e->zy))); /* NaN -> lo - zy */
    f = _mm512_min_ps(f, _mm512_set1_ps((float)(e->hi - e->zy)));
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(e->zy));
    _mm_mask_storeu_epi8((uint8_t *)t->c + r * t->ldc + 16 * v, mk, _mm512_cvtepi32_epi8(q));
}

INL int32_t quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

T512 INL void tile512(const lcv_i8gemm_tile *t, const int R, const int V) {
    /* The sums start from the row's constant term (wrapping adds commute), which saves the
     * epilogue an add per vector: it weighs on shallow products (1x1 convs of 64 channels). */
    __m512i acc[MR][2];
    lcv_i8gemm_rowc rc[MR];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        rc[r] = lcv_i8gemm_row_consts(t, r);
        acc[r][0] = acc[r][1] = _mm512_set1_epi32(rc[r].add);
    }
    const uint8_t *a = t->a, *b = t->b;
    const int64_t nq = t->kq / 4;
    if (t->a_u8) {
        for (int64_t q = 0; q < nq; q++, a += MR * 4, b += 4 * 32) {
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_setzero_si512();
            if (V > 1) b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 12
            for (int r = 0; r < R; r++) {
                __m512i av = _mm512_set1_epi32(quad(a + 4 * r));
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
                if (V > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
            }
        }
    } else {
        for (int64_t q = 0; q < nq; q++, a += MR * 4, b += 4 * 32) {
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_setzero_si512();
            if (V > 1) b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 12
            for (int r = 0; r < R; r++) {
                __m512i av = _mm512_set1_epi32(quad(a + 4 * r));
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b0, av);
                if (V > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b1, av);
            }
        }
    }
    __mmask16 mk[2];
    for (int v = 0; v < 2; v++) {
        int cols = t->nr - 16 * v;
        mk[v] = cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1u);
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        store_row16(t, &rc[r], r, 0, mk[0], acc[r][0]);
        if (V > 1) store_row16(t, &rc[r], r, 1, mk[1], acc[r][1]);
    }
}

#define ROWS(V)                                                                                  \
    switch (t->mr) {                                                                             \
    case 1: tile512(t, 1, V); break;                                                             \
    case 2: tile512(t, 2, V); break;                                                             \
    case 3: tile512(t, 3, V); break;                                                             \
    case 4: tile512(t, 4, V); break;                                                             \
    case 5: tile512(t, 5, V); break;                                                             \
    case 6: tile512(t, 6, V); break;                                                             \
    case 7: tile512(t, 7, V); break;                                                             \
    case 8: tile512(t, 8, V); break;                                                             \
    case 9: tile512(t, 9, V); break;                                                             \
    case 10: tile512(t, 10, V); break;                                                           \
    case 11: tile512(t, 11, V); break;                                                           \
    default: tile512(t, 12, V); break;                                                           \
    }

T512 void lcv_i8gemm_tile_vnni512(const lcv_i8gemm_tile *t) {
    if (t->nr > 16) {
        ROWS(2)
    } else {
        ROWS(1)
    }
}

#endif
