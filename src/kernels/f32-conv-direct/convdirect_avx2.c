/* convdirect_avx2.c - the AVX2 row kernel of the direct small-Cin convolution: half a weight
 * block (4 output channels) by 24 output columns in 12 ymm accumulators; per tap (one flat
 * loop over cin x kh x kw) three column loads from the stride-phase input copy, four
 * broadcasts and 12 FMAs. Column remainders go 8 at a time with masked loads and stores. */
#include "convdirect.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))
#define CB LCV_CONVDIRECT_CB

T256 static inline __m256i cols_mask(int64_t cols) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int n = cols >= 8 ? 8 : cols <= 0 ? 0 : (int)cols;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

/* Channels [cb + c0, cb + c0 + 4) (clipped to nc) by columns [ox0, ox0 + 8 V) of row oy; x is
 * the copy at output row oy and column ox0; wb the block's weights. MASK: some of the 8 V
 * columns lie past out_w (masked loads and stores). */
T256 INL void quad256(const lcv_convdirect_geom *g, const float *x, const int64_t *off,
                      int64_t ntaps, const float *wb, int64_t cb, int c0, int64_t nc,
                      const float *bias, const float *res, float *y, int64_t oy, int64_t ox0,
                      const int V, const bool MASK) {
    __m256i mk[3];
    __m256 acc[4][3];
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) {
        mk[v] = cols_mask(g->out_w - ox0 - 8 * v);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[c][v] = _mm256_setzero_ps();
    }
    const float *w = wb + c0;
    for (int64_t t = 0; t < ntaps; t++, w += CB) {
        const float *src = x + off[t];
        __m256 xv[3];
#pragma GCC unroll 3
        for (int v = 0; v < V; v++)
            xv[v] = MASK ? _mm256_maskload_ps(src + 8 * v, mk[v]) : _mm256_loadu_ps(src + 8 * v);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256 wv = _mm256_broadcast_ss(w + c);
#pragma GCC unroll 3
            for (int v = 0; v < V; v++) acc[c][v] = _mm256_fmadd_ps(wv, xv[v], acc[c][v]);
        }
    }
    const int64_t plane = g->out_h * g->out_w;
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        if (c0 + c >= nc) break;
        int64_t i = (cb + c0 + c) * plane + oy * g->out_w + ox0;
        __m256 b = _mm256_set1_ps(bias ? bias[cb + c0 + c] : 0.0f);
#pragma GCC unroll 3
        for (int v = 0; v < V; v++) {
            __m256 o = _mm256_add_ps(acc[c][v], b);
            float *yo = y + i + 8 * v;
            if (MASK) {
                if (res) o = _mm256_add_ps(o, _mm256_maskload_ps(res + i + 8 * v, mk[v]));
                _mm256_maskstore_ps(yo, mk[v], o);
            } else {
                if (res) o = _mm256_add_ps(o, _mm256_loadu_ps(res + i + 8 * v));
                _mm256_storeu_ps(yo, o);
            }
        }
    }
}

T256 void lcv_convdirect_row_avx2(const lcv_convdirect_geom *g, const float *xs,
                                  const float *wp, const float *bias, const float *res,
                                  float *y, int64_t oy) {
    lcv_convdirect_layout l;
    lcv_convdirect_layout_of(g, &l);
    int64_t off[LCV_CONVDIRECT_MAX_TAPS];
    const int64_t ntaps = g->cin * g->kh * g->kw;
    lcv_convdirect_tap_offsets(g, &l, off);
    const float *x = xs + oy * g->stride_h * g->stride_w * l.len;
    for (int64_t cb = 0; cb < g->cout; cb += CB) {
        const float *wb = wp + cb * ntaps;
        int64_t nc = g->cout - cb < CB ? g->cout - cb : CB;
        for (int c0 = 0; c0 < nc; c0 += 4) {
            int64_t ox0 = 0;
            for (; ox0 + 24 <= g->out_w; ox0 += 24)
                quad256(g, x + ox0, off, ntaps, wb, cb, c0, nc, bias, res, y, oy, ox0, 3, false);
            for (; ox0 < g->out_w; ox0 += 8)
                quad256(g, x + ox0, off, ntaps, wb, cb, c0, nc, bias, res, y, oy, ox0, 1, true);
        }
    }
}

#endif
