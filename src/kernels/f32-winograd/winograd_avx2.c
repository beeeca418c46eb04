/* winograd_avx2.c - AVX2+FMA Winograd transforms, the 8-lane twin of winograd_avx512.c:
 * input lanes are the tiles of a GEMM panel (one masked load per window row, an 8x8
 * transpose, masked stores into the packed-A layout), output lanes are output channels,
 * transposed 4x4 inside each 128-bit lane into rows of four floats per channel for the
 * epilogue. */
#include "winograd_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))

/* t = B^T d on 8 lanes, grouped as lcv_wino_bt. */
T256 INL void bt256(const __m256 d[6], __m256 t[6]) {
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 five = _mm256_set1_ps(5.0f);
    __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
    __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_sub_ps(d[3], d[1]);
    t[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
    t[1] = _mm256_add_ps(a, b);
    t[2] = _mm256_sub_ps(a, b);
    t[3] = _mm256_fmadd_ps(two, e, c);
    t[4] = _mm256_fnmadd_ps(two, e, c);
    t[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

/* o = A^T m on 8 lanes, grouped as lcv_wino_at. */
T256 INL void at256(const __m256 m[6], __m256 o[4]) {
    __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
    __m256 c = _mm256_add_ps(m[3], m[4]), e = _mm256_sub_ps(m[3], m[4]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
    o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), e, b);
    o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), c, a);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), e, b), m[5]);
}

/* All-ones in lanes [0, n), zero elsewhere (n <= 8). */
T256 INL __m256i first_lanes(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* d[c] lane l = a[l][c] for c < 6: an 8 x 8 transpose of which six columns are kept. */
T256 INL void tr8x6_256(const __m256 a[8], __m256 d[6]) {
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(a[k], a[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(a[k], a[k + 1]);
    }
#pragma GCC unroll 2
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* 128-bit halves of u[c]: column c, c + 4 of rows 0-3; of u[c + 4]: the same, rows 4-7 */
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) d[c] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x20);
#pragma GCC unroll 2
    for (int c = 0; c < 2; c++) d[c + 4] = _mm256_permute2f128_ps(u[c], u[c + 4], 0x31);
}

T256 void lcv_wino_input_avx2(const lcv_wino_in *a, int64_t c0, int64_t c1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t hw = g->in_h * g->in_w, w = g->in_w, mr = a->mr;
    const __m256i store_mask = first_lanes(mr);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t p0 = 0; p0 < a->nt; p0 += mr) {
        int64_t lanes = a->nt - p0 < mr ? a->nt - p0 : mr;
        /* Row r of the window of tile l: the columns in lm loaded from x + ci * hw + off,
         * then, for a window starting left of the plane, moved up by shift[l] lanes. */
        int64_t off[6][8] = {{0}};
        __m256i lm[6][8], keep[8], idx[8];
        int shift[8] = {0};
        bool shifted = false;
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++) {
            keep[l] = idx[l] = _mm256_setzero_si256();
#pragma GCC unroll 6
            for (int r = 0; r < 6; r++) lm[r][l] = _mm256_setzero_si256();
        }
        for (int l = 0; l < lanes; l++) {
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p0 + l, &n, &iy, &ix);
            int64_t lo = ix < 0 ? -ix : 0, hi = w - ix < 6 ? w - ix : 6;
            if (hi <= lo) continue;
            shift[l] = (int)lo;
            shifted |= lo != 0;
            keep[l] = _mm256_andnot_si256(first_lanes(lo), first_lanes(hi));
            idx[l] = _mm256_sub_epi32(iota, _mm256_set1_epi32((int)lo));
            for (int r = 0; r < 6; r++) {
                if (iy + r < 0 || iy + r >= g->in_h) continue;
                off[r][l] = n * g->cin * hw + (iy + r) * w + ix + lo;
                lm[r][l] = first_lanes(hi - lo);
            }
        }
        float *vp = a->v + p0 * g->cin;
        for (int64_t ci = c0; ci < c1; ci++) {
            const float *xc = a->x + ci * hw;
            __m256 h[6][6]; /* h[r][j] = (d B)[r][j] */
#pragma GCC unroll 6
            for (int r = 0; r < 6; r++) {
                __m256 rows[8], d[6];
#pragma GCC unroll 8
                for (int l = 0; l < 8; l++) rows[l] = _mm256_maskload_ps(xc + off[r][l], lm[r][l]);
                for (int l = 0; shifted && l < 8; l++) {
                    if (!shift[l]) continue;
                    rows[l] = _mm256_and_ps(_mm256_permutevar8x32_ps(rows[l], idx[l]),
                                            _mm256_castsi256_ps(keep[l]));
                }
                tr8x6_256(rows, d);
                bt256(d, h[r]);
            }
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++) {
                __m256 col[6], v[6];
#pragma GCC unroll 6
                for (int r = 0; r < 6; r++) col[r] = h[r][j];
                bt256(col, v);
#pragma GCC unroll 6
                for (int i = 0; i < 6; i++)
                    _mm256_maskstore_ps(vp + (6 * i + j) * a->v_stride + ci * mr, store_mask, v[i]);
            }
        }
    }
}

/* Inside each 128-bit lane: s[k] = (o[0][k], o[1][k], o[2][k], o[3][k]). */
T256 INL void tr4x4_256(const __m256 o[4], __m256 s[4]) {
    __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(o[0], o[1]));
    __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(o[0], o[1]));
    __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(o[2], o[3]));
    __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(o[2], o[3]));
    s[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2));
    s[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    s[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3));
    s[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
}

/* The epilogue on one row of up to four outputs (cols valid) of one channel: + residual,
 * activation (ReLU or Clip; the driver applies the others afterwards), store. */
T256 INL void out_row(__m128 v, const float *res, float *y, int64_t cols, const lcv_fused *act) {
    const __m128i cm = _mm_cmpgt_epi32(_mm_set1_epi32((int)cols), _mm_setr_epi32(0, 1, 2, 3));
    if (res) v = _mm_add_ps(v, cols == 4 ? _mm_loadu_ps(res) : _mm_maskload_ps(res, cm));
    lcv_act_kind k = act ? act->act : LCV_ACT_NONE;
    if (k == LCV_ACT_RELU) {
        v = _mm_max_ps(v, _mm_setzero_ps()); /* NaN gives 0, as x > 0 ? x : 0 */
    } else if (k == LCV_ACT_CLIP) {
        __m128 lo = _mm_set1_ps(act->alpha), hi = _mm_set1_ps(act->beta);
        __m128 below = _mm_cmplt_ps(v, lo), above = _mm_cmpgt_ps(v, hi);
        v = _mm_blendv_ps(_mm_blendv_ps(v, hi, above), lo, below);
    }
    if (cols == 4)
        _mm_storeu_ps(y, v);
    else
        _mm_maskstore_ps(y, cm, v);
}

/* ReLU or Clip with lcv_act_f32's semantics (NaN: ReLU gives 0, Clip keeps it); other
 * kinds pass through. */
T256 INL __m256 act256(__m256 v, lcv_act_kind k, __m256 lo, __m256 hi) {
    if (k == LCV_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
    if (k != LCV_ACT_CLIP) return v;
    __m256 below = _mm256_cmp_ps(v, lo, _CMP_LT_OQ), above = _mm256_cmp_ps(v, hi, _CMP_GT_OQ);
    return _mm256_blendv_ps(_mm256_blendv_ps(v, hi, above), lo, below);
}

/* The epilogue of a whole 4x4 tile of 8 channels in 256-bit steps: y and res point at the
 * tile's first output of channel co0; s as in lcv_wino_output_avx2. */
T256 INL void out_tile8(__m256 s[4][4], const float *res, float *y, int64_t ohw, int64_t ow,
                        lcv_act_kind k, __m256 lo, __m256 hi) {
    const int64_t q = 4 * ohw; /* from channel m to 4 + m */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
#pragma GCC unroll 4
        for (int m = 0; m < 4; m++) {
            int64_t o = m * ohw + i * ow;
            __m256 v = s[i][m];
            if (res)
                v = _mm256_add_ps(v, _mm256_insertf128_ps(_mm256_castps128_ps256(
                                                              _mm_loadu_ps(res + o)),
                                                          _mm_loadu_ps(res + o + q), 1));
            v = act256(v, k, lo, hi);
            _mm_storeu_ps(y + o, _mm256_castps256_ps128(v));
            _mm_storeu_ps(y + o + q, _mm256_extractf128_ps(v, 1));
        }
    }
}

T256 void lcv_wino_output_avx2(const lcv_wino_out *a, int64_t b0, int64_t b1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t ohw = g->out_h * g->out_w, ow = g->out_w;
    const lcv_act_kind kind = a->act ? a->act->act : LCV_ACT_NONE;
    const __m256 lo = _mm256_set1_ps(a->act ? a->act->alpha : 0.0f);
    const __m256 hi = _mm256_set1_ps(a->act ? a->act->beta : 0.0f);
    /* tiles outer: each of the 36 matrices is then read front to back */
    for (int64_t p = 0; p < a->nt; p++) {
        for (int64_t cb = b0; cb < b1; cb++) {
            int64_t co0 = cb * 8, nch = g->cout - co0 < 8 ? g->cout - co0 : 8;
            const __m256i cm = first_lanes(nch);
            const __m256 bias =
                a->bias ? _mm256_maskload_ps(a->bias + co0, cm) : _mm256_setzero_ps();
            const float *mp = a->m + p * a->ldm + co0;
            __m256 t[6][4], s[4][4]; /* t[j][i] = (A^T m)[i][j]; s: see tr4x4_256 */
#pragma GCC unroll 16
            for (int j = 0; j < 6; j++) {
                __m256 col[6];
#pragma GCC unroll 16
                for (int i = 0; i < 6; i++)
                    col[i] = _mm256_maskload_ps(mp + (6 * i + j) * a->m_stride, cm);
                at256(col, t[j]);
            }
#pragma GCC unroll 16
            for (int i = 0; i < 4; i++) {
                __m256 row[6], o[4];
#pragma GCC unroll 16
                for (int j = 0; j < 6; j++) row[j] = t[j][i];
                at256(row, o);
#pragma GCC unroll 16
                for (int j = 0; j < 4; j++) o[j] = _mm256_add_ps(o[j], bias);
                tr4x4_256(o, s[i]); /* lane L of s[i][k]: row i of channel co0 + 4L + k */
            }
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p, &n, &iy, &ix);
            int64_t oy = iy + g->pad_top, ox = ix + g->pad_left;
            int64_t rows = g->out_h - oy < 4 ? g->out_h - oy : 4;
            int64_t cols = ow - ox < 4 ? ow - ox : 4;
            int64_t off0 = (n * g->cout + co0) * ohw + oy * ow + ox;
            if (rows == 4 && cols == 4 && nch == 8) {
                out_tile8(s, a->residual ? a->residual + off0 : NULL, a->y + off0, ohw, ow,
                          kind, lo, hi);
                continue;
            }
            for (int64_t ch = 0; ch < nch; ch++) {
                int64_t off = off0 + ch * ohw;
                for (int64_t i = 0; i < rows; i++) {
                    __m256 v = s[i][ch & 3];
                    out_row(ch < 4 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1),
                            a->residual ? a->residual + off + i * ow : NULL,
                            a->y + off + i * ow, cols, a->act);
                }
            }
        }
    }
}

#endif
