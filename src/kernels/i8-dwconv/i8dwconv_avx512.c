/* i8dwconv_avx512.c - AVX-512 parts of the int8 depthwise conv: the row helpers of the float
 * route (bytes to zero-point-shifted floats, exact-integer floats to requantized bytes), and a
 * native 3x3 kernel (strides 1, 2): each plane becomes 32-bit "row pairs" (input rows r and
 * r + 1 as two 16-bit halves, stride-2 columns split into even/odd phases), so one unit-stride
 * load and one vpdpwssd (or vpmaddwd + add) apply two taps to 16 outputs without shuffles. */
#include "i8dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

T512 void lcv_i8dw_load_avx512(const uint8_t *x, int64_t n, bool is_signed, int32_t zero,
                               float *dst) {
    const __m512i z = _mm512_set1_epi32(zero);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m128i b = _mm_maskz_loadu_epi8(k, x + i);
        __m512i v = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
        _mm512_mask_storeu_ps(dst + i, k, _mm512_cvtepi32_ps(_mm512_sub_epi32(v, z)));
    }
}

T512 void lcv_i8dw_store_avx512(const float *acc, int64_t n, int32_t bias, float mult,
                                const lcv_i8gemm_epi *e, void *dst) {
    const __m512i b = _mm512_set1_epi32(bias), zy = _mm512_set1_epi32(e->zy);
    const __m512 m = _mm512_set1_ps(mult), lo = _mm512_set1_ps((float)(e->lo - e->zy));
    const __m512 hi = _mm512_set1_ps((float)(e->hi - e->zy));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512i v = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_maskz_loadu_ps(k, acc + i)), b);
        if (e->out == LCV_I8_OUT_S32) {
            _mm512_mask_storeu_epi32((int32_t *)dst + i, k, v);
            continue;
        }
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), m);
        f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zy);
        _mm_mask_storeu_epi8((uint8_t *)dst + i, k, _mm512_cvtepi32_epi8(q));
    }
}

/* ---- the native 3x3 kernel ---- */

/* Row-pair buffer: `rows` pair rows of `phases` x pw dwords, then two byte rows of bw. */
static void pairs_layout(const lcv_dwconv_geom *g, int64_t *rows, int64_t *pw, int64_t *bw,
                         int *phases) {
    *phases = g->stride_w == 2 ? 2 : 1;
    *rows = (g->out_h - 1) * g->stride_h + 3; /* pair rows oy * sh and oy * sh + 2 */
    *pw = (g->out_w + 2 + 15) / 16 * 16;
    *bw = *pw * *phases + 64;
}

bool lcv_i8dw_pairs_fits(const lcv_dwconv_geom *g) {
    return g->kh == 3 && g->kw == 3 && g->dil_h == 1 && g->dil_w == 1 &&
           (g->stride_h == 1 || g->stride_h == 2) && (g->stride_w == 1 || g->stride_w == 2);
}

size_t lcv_i8dw_pairs_buf_size(const lcv_dwconv_geom *g) {
    int64_t rows, pw, bw;
    int ph;
    pairs_layout(g, &rows, &pw, &bw, &ph);
    return (size_t)(rows * ph * pw * 4 + 2 * bw + 64);
}

/* Padded byte row r of the plane (input row r - pad_top; pads and rows outside: pad). Inline
 * 64-byte stores: small planes would otherwise spend their time in memset/memcpy calls. */
T512 static void byte_row(const lcv_dwconv_geom *g, const uint8_t *x, int64_t r, uint8_t flip,
                          uint8_t pad, int64_t bw, uint8_t *d) {
    const __m512i pv = _mm512_set1_epi8((char)pad), fv = _mm512_set1_epi8((char)flip);
    for (int64_t c = 0; c < bw; c += 64) { /* bw is a multiple of 16; mask the last store */
        int64_t left = bw - c;
        __mmask64 k = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        _mm512_mask_storeu_epi8(d + c, k, pv);
    }
    int64_t iy = r - g->pad_top, c0 = g->pad_left < bw ? g->pad_left : bw, n = g->in_w;
    if (iy < 0 || iy >= g->in_h) return;
    if (n > bw - c0) n = bw - c0;
    const uint8_t *s = x + iy * g->in_w;
    for (int64_t i = 0; i < n; i += 64) {
        int64_t left = n - i;
        __mmask64 k = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        _mm512_mask_storeu_epi8(d + c0 + i, k,
                                _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, s + i), fv));
    }
}

/* Pair row from byte rows a (row r) and b (row r + 1): phase p dword c = a[c * sw + p] |
 * b[c * sw + p] << 16. */
T512 static void pair_row(const uint8_t *a, const uint8_t *b, int64_t pw, int ph, int32_t *d) {
    const __m512i lo8 = _mm512_set1_epi32(0xFF);
    for (int64_t c = 0; c < pw; c += 16) {
        if (ph == 1) {
            __m512i va = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(a + c)));
            __m512i vb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + c)));
            _mm512_storeu_si512(d + c, _mm512_or_si512(va, _mm512_slli_epi32(vb, 16)));
        } else { /* 32 bytes = 16 (even, odd) pairs */
            __m512i va = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(a + 2 * c)));
            __m512i vb = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(b + 2 * c)));
            __m512i ev = _mm512_or_si512(_mm512_and_si512(va, lo8),
                                         _mm512_slli_epi32(_mm512_and_si512(vb, lo8), 16));
            __m512i od = _mm512_or_si512(_mm512_srli_epi32(va, 8),
                                         _mm512_slli_epi32(_mm512_srli_epi32(vb, 8), 16));
            _mm512_storeu_si512(d + c, ev);
            _mm512_storeu_si512(d + pw + c, od);
        }
    }
}

#define TVNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

TVNNI static inline __m512i dp_vnni(__m512i acc, __m512i a, __m512i b) {
    return _mm512_dpwssd_epi32(acc, a, b);
}
T512 static inline __m512i dp_madd(__m512i acc, __m512i a, __m512i b) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
}

#define PLANE_BODY(DP)                                                                           \
    int64_t rows, pw, bw;                                                                        \
    int ph;                                                                                      \
    pairs_layout(g, &rows, &pw, &bw, &ph);                                                       \
    int32_t *pr = (int32_t *)(void *)buf;                                                        \
    uint8_t *ba = buf + rows * ph * pw * 4, *bb = ba + bw;                                       \
    byte_row(g, x, 0, flip, pad, bw, ba);                                                        \
    for (int64_t r = 0; r < rows; r++) {                                                         \
        byte_row(g, x, r + 1, flip, pad, bw, bb);                                                \
        pair_row(ba, bb, pw, ph, pr + r * ph * pw);                                              \
        uint8_t *tmp = ba;                                                                       \
        ba = bb;                                                                                 \
        bb = tmp;                                                                                \
    }                                                                                            \
    __m512i wv[6];                                                                               \
    for (int i = 0; i < 6; i++) wv[i] = _mm512_set1_epi32(w6[i]);                                \
    const __m512i addv = _mm512_set1_epi32(add), zy = _mm512_set1_epi32(e->zy);                 \
    const __m512 m = _mm512_set1_ps(mult), lo = _mm512_set1_ps((float)(e->lo - e->zy));          \
    const __m512 hi = _mm512_set1_ps((float)(e->hi - e->zy));                                    \
    for (int64_t oy = 0; oy < g->out_h; oy++) {                                                  \
        const int32_t *r0 = pr + oy * g->stride_h * ph * pw, *r2 = r0 + 2 * ph * pw;             \
        for (int64_t ox = 0; ox < g->out_w; ox += 16) {                                          \
            __m512i acc = addv;                                                                  \
            for (int kx = 0; kx < 3; kx++) {                                                     \
                int64_t off = ph == 2 ? (kx & 1) * pw + ox + (kx >> 1) : ox + kx;                \
                acc = DP(acc, _mm512_loadu_si512(r0 + off), wv[kx]);                            \
                acc = DP(acc, _mm512_loadu_si512(r2 + off), wv[3 + kx]);                        \
            }                                                                                    \
            int64_t left = g->out_w - ox, at = oy * g->out_w + ox;                               \
            __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);       \
            if (e->out == LCV_I8_OUT_S32) {                                                      \
                _mm512_mask_storeu_epi32((int32_t *)y + at, k, acc);                             \
                continue;                                                                        \
            }                                                                                    \
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m); /* lcv_i8_requant */           \
            f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);                                         \
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zy);                             \
            _mm_mask_storeu_epi8((uint8_t *)y + at, k, _mm512_cvtepi32_epi8(q));                 \
        }                                                                                        \
    }

TVNNI void lcv_i8dw_plane_pairs_vnni(const lcv_dwconv_geom *g, const uint8_t *x,
                                     const int32_t *w6, int32_t add, float mult,
                                     const lcv_i8gemm_epi *e, uint8_t flip, uint8_t pad,
                                     uint8_t *buf, void *y) {
    PLANE_BODY(dp_vnni)
}

T512 void lcv_i8dw_plane_pairs_avx512(const lcv_dwconv_geom *g, const uint8_t *x,
                                      const int32_t *w6, int32_t add, float mult,
                                      const lcv_i8gemm_epi *e, uint8_t flip, uint8_t pad,
                                      uint8_t *buf, void *y) {
    PLANE_BODY(dp_madd)
}

#endif
