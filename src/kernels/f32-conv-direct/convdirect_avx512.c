/* convdirect_avx512.c - the AVX-512 row kernel of the direct small-Cin convolution: a block of
 * 8 output channels by 32 output columns in 16 zmm accumulators; per tap (one flat loop over
 * cin x kh x kw, so the accumulators stay in registers: nested loops made gcc spill them per
 * kernel row, at half the speed) two masked column loads from the stride-phase input copy and
 * 16 FMAs with broadcast weights. */
#include "convdirect.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INL static inline __attribute__((always_inline))
#define CB LCV_CONVDIRECT_CB

T512 INL __mmask16 cols_mask(int64_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1u);
}

/* Channels [cb, cb + nc) by columns [ox0, ox0 + 16 V) (masked to out_w) of row oy; x is the
 * copy at output row oy and column ox0, off the tap offsets (ntaps of them). */
T512 INL void block512(const lcv_convdirect_geom *g, const float *x, const int64_t *off,
                       int64_t ntaps, const float *wb, int64_t cb, int64_t nc,
                       const float *bias, const float *res, float *y, int64_t oy, int64_t ox0,
                       const int V) {
    __mmask16 mk[2] = {cols_mask(g->out_w - ox0), cols_mask(g->out_w - ox0 - 16)};
    __m512 acc[CB][2];
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++)
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) acc[c][v] = _mm512_setzero_ps();
    const float *w = wb;
    for (int64_t t = 0; t < ntaps; t++, w += CB) {
        const float *src = x + off[t];
        __m512 xv[2];
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) xv[v] = _mm512_maskz_loadu_ps(mk[v], src + 16 * v);
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            __m512 wv = _mm512_set1_ps(w[c]);
#pragma GCC unroll 2
            for (int v = 0; v < V; v++) acc[c][v] = _mm512_fmadd_ps(wv, xv[v], acc[c][v]);
        }
    }
    const int64_t plane = g->out_h * g->out_w;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) {
        if (c >= nc) break;
        int64_t i = (cb + c) * plane + oy * g->out_w + ox0;
        __m512 b = _mm512_set1_ps(bias ? bias[cb + c] : 0.0f);
#pragma GCC unroll 2
        for (int v = 0; v < V; v++) {
            __m512 o = _mm512_add_ps(acc[c][v], b);
            if (res) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk[v], res + i + 16 * v));
            _mm512_mask_storeu_ps(y + i + 16 * v, mk[v], o);
        }
    }
}

T512 void lcv_convdirect_row_avx512(const lcv_convdirect_geom *g, const float *xs,
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
        int64_t ox0 = 0;
        for (; ox0 + 16 < g->out_w; ox0 += 32)
            block512(g, x + ox0, off, ntaps, wb, cb, nc, bias, res, y, oy, ox0, 2);
        if (ox0 < g->out_w) block512(g, x + ox0, off, ntaps, wb, cb, nc, bias, res, y, oy, ox0, 1);
    }
}

#endif
