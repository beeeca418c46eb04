/* winograd_avx512.c - AVX-512 Winograd transforms. Input: one zmm lane per tile of a GEMM
 * panel (each window row is one masked load, zero in the padding; a 16x8 transpose turns them
 * into lanes), so the transformed values land in lcv_gemm's packed-A layout with one masked
 * store each. Output: one lane per output channel; a 4x4 transpose inside each 128-bit lane
 * turns the 4x4 results into rows of four floats per channel for the bias/residual/activation
 * epilogue and the stores. */
#include "winograd_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INL static inline __attribute__((always_inline))

/* t = B^T d on 16 lanes, grouped as lcv_wino_bt. */
T512 INL void bt512(const __m512 d[6], __m512 t[6]) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f);
    const __m512 five = _mm512_set1_ps(5.0f);
    __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]), b = _mm512_fnmadd_ps(four, d[1], d[3]);
    __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_sub_ps(d[3], d[1]);
    t[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    t[1] = _mm512_add_ps(a, b);
    t[2] = _mm512_sub_ps(a, b);
    t[3] = _mm512_fmadd_ps(two, e, c);
    t[4] = _mm512_fnmadd_ps(two, e, c);
    t[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/* o = A^T m on 16 lanes, grouped as lcv_wino_at. */
T512 INL void at512(const __m512 m[6], __m512 o[4]) {
    __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
    __m512 c = _mm512_add_ps(m[3], m[4]), e = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), e, b);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), e, b), m[5]);
}

/* The slot a tile's row goes to so that tr16x6_512 returns it in lane l: swaps lanes 4-7
 * with 8-11 (its own inverse). */
static int wino_slot(int l) { return l >= 4 && l < 8 ? l + 4 : l >= 8 && l < 12 ? l - 4 : l; }

/* d[c] lane l = a[wino_slot(l)][c] for c < 6: a 16 x 8 -> 8 x 16 transpose (two 8 x 8
 * transposes side by side in the 256-bit halves) of which six columns are kept. */
T512 INL void tr16x6_512(const __m256 a[16], __m512 d[6]) {
    __m512 z[8], t[8], u[8];
#pragma GCC unroll 16
    for (int k = 0; k < 8; k++)
        z[k] = _mm512_insertf32x8(_mm512_castps256_ps512(a[k]), a[k + 8], 1);
#pragma GCC unroll 16
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm512_unpacklo_ps(z[k], z[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(z[k], z[k + 1]);
    }
#pragma GCC unroll 16
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* 128-bit lanes of u[c]: column c of slots 0-3, c + 4 of 0-3, c of 8-11, c + 4 of 8-11;
     * of u[c + 4]: the same for slots 4-7 and 12-15 */
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) d[c] = _mm512_shuffle_f32x4(u[c], u[c + 4], 0x88);
#pragma GCC unroll 16
    for (int c = 0; c < 2; c++) d[c + 4] = _mm512_shuffle_f32x4(u[c], u[c + 4], 0xDD);
}

T512 void lcv_wino_input_avx512(const lcv_wino_in *a, int64_t c0, int64_t c1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t hw = g->in_h * g->in_w, w = g->in_w, mr = a->mr;
    const __mmask16 store_mask = (__mmask16)((1u << mr) - 1u);
    for (int64_t p0 = 0; p0 < a->nt; p0 += mr) {
        int64_t lanes = a->nt - p0 < mr ? a->nt - p0 : mr;
        /* Row r of the window of the tile in slot s: the columns in lm loaded from
         * x + ci * hw + off, then, for a window starting left of the plane, moved up by
         * shift[s] lanes (a masked load is far cheaper than an expanding one). */
        int64_t off[6][16] = {{0}};
        __mmask8 lm[6][16] = {{0}}, keep[16] = {0};
        int shift[16] = {0};
        for (int l = 0; l < lanes; l++) {
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p0 + l, &n, &iy, &ix);
            int64_t lo = ix < 0 ? -ix : 0, hi = w - ix < 6 ? w - ix : 6;
            if (hi <= lo) continue;
            int s = wino_slot(l);
            shift[s] = (int)lo;
            keep[s] = (__mmask8)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
#pragma GCC unroll 16
            for (int r = 0; r < 6; r++) {
                if (iy + r < 0 || iy + r >= g->in_h) continue;
                off[r][s] = n * g->cin * hw + (iy + r) * w + ix + lo;
                lm[r][s] = (__mmask8)((1u << (hi - lo)) - 1u);
            }
        }
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const int slots = mr > 12 ? 16 : 12; /* wino_slot maps lanes < 12 below 12 */
        bool shifted = false;
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) shifted |= shift[k] != 0;
        float *vp = a->v + p0 * g->cin;
        for (int64_t ci = c0; ci < c1; ci++) {
            const float *xc = a->x + ci * hw;
            __m512 h[6][6]; /* h[r][j] = (d B)[r][j] */
#pragma GCC unroll 16
            for (int r = 0; r < 6; r++) {
                __m256 rows[16];
                __m512 d[6];
#pragma GCC unroll 16
                for (int s = 0; s < slots; s++)
                    rows[s] = _mm256_maskz_loadu_ps(lm[r][s], xc + off[r][s]);
#pragma GCC unroll 16
                for (int s = slots; s < 16; s++) rows[s] = _mm256_setzero_ps();
                for (int s = 0; shifted && s < slots; s++) {
                    if (!shift[s]) continue;
                    __m256i idx = _mm256_sub_epi32(iota, _mm256_set1_epi32(shift[s]));
                    rows[s] = _mm256_maskz_permutexvar_ps(keep[s], idx, rows[s]);
                }
                tr16x6_512(rows, d);
                bt512(d, h[r]);
            }
#pragma GCC unroll 16
            for (int j = 0; j < 6; j++) {
                __m512 col[6], v[6];
#pragma GCC unroll 16
                for (int r = 0; r < 6; r++) col[r] = h[r][j];
                bt512(col, v);
#pragma GCC unroll 16
                for (int i = 0; i < 6; i++)
                    _mm512_mask_storeu_ps(vp + (6 * i + j) * a->v_stride + ci * mr, store_mask,
                                          v[i]);
            }
        }
    }
}

/* Inside each 128-bit lane: s[k] = (o[0][k], o[1][k], o[2][k], o[3][k]). */
T512 INL void tr4x4_512(const __m512 o[4], __m512 s[4]) {
    __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(o[0], o[1]));
    __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(o[0], o[1]));
    __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(o[2], o[3]));
    __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(o[2], o[3]));
    s[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    s[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    s[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    s[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
}

T512 INL __m128 lane128(__m512 v, int lane) {
    switch (lane) {
    case 0: return _mm512_castps512_ps128(v);
    case 1: return _mm512_extractf32x4_ps(v, 1);
    case 2: return _mm512_extractf32x4_ps(v, 2);
    default: return _mm512_extractf32x4_ps(v, 3);
    }
}

/* The epilogue on one row of up to four outputs (cols valid) of one channel: + residual,
 * activation (ReLU or Clip; the driver applies the others afterwards), store. */
T512 INL void out_row(__m128 v, const float *res, float *y, int64_t cols, const lcv_fused *act) {
    const __mmask8 cm = (__mmask8)((1u << cols) - 1u);
    if (res) v = _mm_add_ps(v, cols == 4 ? _mm_loadu_ps(res) : _mm_maskz_loadu_ps(cm, res));
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
        _mm_mask_storeu_ps(y, cm, v);
}

/* ReLU or Clip with lcv_act_f32's semantics (NaN: ReLU gives 0, Clip keeps it); other
 * kinds pass through. */
T512 INL __m512 act512(__m512 v, lcv_act_kind k, __m512 lo, __m512 hi) {
    if (k == LCV_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (k != LCV_ACT_CLIP) return v;
    __mmask16 below = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
    __mmask16 above = _mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ);
    return _mm512_mask_blend_ps(below, _mm512_mask_blend_ps(above, v, hi), lo);
}

/* The epilogue of a whole 4x4 tile of 16 channels in 512-bit steps: y and res point at the
 * tile's first output of channel co0; s as in lcv_wino_output_avx512. */
T512 INL void out_tile16(__m512 s[4][4], const float *res, float *y, int64_t ohw,
                         int64_t ow, lcv_act_kind k, __m512 lo, __m512 hi) {
    const int64_t q = 4 * ohw; /* from channel 4L + m to 4(L + 1) + m */
#pragma GCC unroll 16
    for (int i = 0; i < 4; i++) {
#pragma GCC unroll 16
        for (int m = 0; m < 4; m++) {
            int64_t o = m * ohw + i * ow;
            __m512 v = s[i][m];
            if (res) {
                __m512 r = _mm512_castps128_ps512(_mm_loadu_ps(res + o));
                r = _mm512_insertf32x4(r, _mm_loadu_ps(res + o + q), 1);
                r = _mm512_insertf32x4(r, _mm_loadu_ps(res + o + 2 * q), 2);
                r = _mm512_insertf32x4(r, _mm_loadu_ps(res + o + 3 * q), 3);
                v = _mm512_add_ps(v, r);
            }
            v = act512(v, k, lo, hi);
            _mm_storeu_ps(y + o, _mm512_castps512_ps128(v));
            _mm_storeu_ps(y + o + q, _mm512_extractf32x4_ps(v, 1));
            _mm_storeu_ps(y + o + 2 * q, _mm512_extractf32x4_ps(v, 2));
            _mm_storeu_ps(y + o + 3 * q, _mm512_extractf32x4_ps(v, 3));
        }
    }
}

T512 void lcv_wino_output_avx512(const lcv_wino_out *a, int64_t b0, int64_t b1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t ohw = g->out_h * g->out_w, ow = g->out_w;
    const lcv_act_kind kind = a->act ? a->act->act : LCV_ACT_NONE;
    const __m512 lo = _mm512_set1_ps(a->act ? a->act->alpha : 0.0f);
    const __m512 hi = _mm512_set1_ps(a->act ? a->act->beta : 0.0f);
    /* tiles outer: each of the 36 matrices is then read front to back */
    for (int64_t p = 0; p < a->nt; p++) {
        for (int64_t cb = b0; cb < b1; cb++) {
            int64_t co0 = cb * 16, nch = g->cout - co0 < 16 ? g->cout - co0 : 16;
            const __mmask16 cm = (__mmask16)((1u << nch) - 1u);
            const __m512 bias =
                a->bias ? _mm512_maskz_loadu_ps(cm, a->bias + co0) : _mm512_setzero_ps();
            const float *mp = a->m + p * a->ldm + co0;
            __m512 t[6][4], s[4][4]; /* t[j][i] = (A^T m)[i][j]; s: see tr4x4_512 */
#pragma GCC unroll 16
            for (int j = 0; j < 6; j++) {
                __m512 col[6];
#pragma GCC unroll 16
                for (int i = 0; i < 6; i++)
                    col[i] = _mm512_maskz_loadu_ps(cm, mp + (6 * i + j) * a->m_stride);
                at512(col, t[j]);
            }
#pragma GCC unroll 16
            for (int i = 0; i < 4; i++) {
                __m512 row[6], o[4];
#pragma GCC unroll 16
                for (int j = 0; j < 6; j++) row[j] = t[j][i];
                at512(row, o);
#pragma GCC unroll 16
                for (int j = 0; j < 4; j++) o[j] = _mm512_add_ps(o[j], bias);
                tr4x4_512(o, s[i]); /* lane L of s[i][k]: row i of channel co0 + 4L + k */
            }
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p, &n, &iy, &ix);
            int64_t oy = iy + g->pad_top, ox = ix + g->pad_left;
            int64_t rows = g->out_h - oy < 4 ? g->out_h - oy : 4;
            int64_t cols = ow - ox < 4 ? ow - ox : 4;
            int64_t off0 = (n * g->cout + co0) * ohw + oy * ow + ox;
            if (rows == 4 && cols == 4 && nch == 16) {
                out_tile16(s, a->residual ? a->residual + off0 : NULL, a->y + off0, ohw, ow,
                           kind, lo, hi);
                continue;
            }
            for (int64_t ch = 0; ch < nch; ch++) {
                int64_t off = off0 + ch * ohw;
                for (int64_t i = 0; i < rows; i++)
                    out_row(lane128(s[i][ch & 3], (int)(ch >> 2)),
                            a->residual ? a->residual + off + i * ow : NULL,
                            a->y + off + i * ow, cols, a->act);
            }
        }
    }
}

#endif
