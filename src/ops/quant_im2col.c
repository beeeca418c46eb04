/* quant_im2col.c - the B operand of the int8 conv GEMM: phase planes, where every B row is a
 * contiguous byte run (packing is then only the quad interleave), and the per-row gather for
 * the convs whose planes would waste too many columns. See quant_im2col.h. */
#include "quant_im2col.h"

#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "../kernels/i8-gemm/i8gemm.h"

/* Largest stride per dim for phase planes (s0 * s1 planes per channel). */
#define QPHASE_MAX_STRIDE 4

static int64_t panels(int64_t cols, int nr) { return (cols + nr - 1) / nr; }

bool lcv_qphase_geom(const lcv_window *w, int64_t cin, int nr, lcv_qphase *g) {
    memset(g, 0, sizeof *g);
    if (w->nsp != 2 || w->stride[0] > QPHASE_MAX_STRIDE || w->stride[1] > QPHASE_MAX_STRIDE)
        return false;
    g->cin = cin;
    g->h = w->in[0];
    g->w = w->in[1];
    g->kh = w->kernel[0];
    g->kw = w->kernel[1];
    g->s0 = w->stride[0];
    g->s1 = w->stride[1];
    g->d0 = w->dilation[0];
    g->d1 = w->dilation[1];
    g->pt = w->pad_begin[0];
    g->pl = w->pad_begin[1];
    g->oh = w->out[0];
    g->ow = w->out[1];
    g->hq = g->oh + (g->kh - 1) * g->d0 / g->s0;
    g->wq = g->ow + (g->kw - 1) * g->d1 / g->s1;
    g->cols = g->oh * g->wq;
    /* the dropped columns cost GEMM work: allow them only where they add few panels (none
     * on a one-panel product, where they would double it) */
    int64_t p_old = panels(g->oh * g->ow, nr), p_new = panels(g->cols, nr);
    if (p_new > p_old + (p_old >= 4 ? (p_old + 7) / 8 : 0)) return false;
    g->in_place = g->s0 == 1 && g->s1 == 1 && g->pt == 0 && g->pl == 0 && g->hq == g->h &&
                  g->wq == g->w;
    if (g->in_place) return true;
    size_t pq = 0, ch = 0;
    return lcv_mul_size((size_t)g->hq, (size_t)g->wq, &pq) &&
           lcv_mul_size(pq, (size_t)(g->s0 * g->s1), &ch) &&
           lcv_mul_size(ch, (size_t)cin, &g->plane_bytes) && g->plane_bytes < ((size_t)1 << 40);
}

/* d[i] = s[2 * i] for i < n: the stride-2 planes (stem and downsampling convs). */
static void every_other(const uint8_t *s, int64_t n, uint8_t *d) {
    int64_t i = 0;
#if defined(__x86_64__) /* SSE2 is part of x86-64: keep the low byte of each 16-bit pair */
    const __m128i lo = _mm_set1_epi16(0xFF);
    for (; i + 17 <= n; i += 16) { /* reads s[2i .. 2i + 31], all <= 2(n - 1) */
        __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(s + 2 * i)), lo);
        __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(s + 2 * i + 16)), lo);
        _mm_storeu_si128((__m128i *)(d + i), _mm_packus_epi16(a, b));
    }
#endif
    for (; i < n; i++) d[i] = s[2 * i];
}

/* memcpy for the short rows of conv planes (7 to 230 bytes), inline: 16-byte moves with an
 * overlapping last one, touching only [0, n). */
static void copy_row(uint8_t *d, const uint8_t *s, int64_t n) {
#if defined(__x86_64__)
    if (n >= 16) {
        int64_t i = 0;
        for (; i + 16 < n; i += 16)
            _mm_storeu_si128((__m128i *)(d + i), _mm_loadu_si128((const __m128i *)(s + i)));
        _mm_storeu_si128((__m128i *)(d + n - 16), _mm_loadu_si128((const __m128i *)(s + n - 16)));
        return;
    }
    for (int64_t i = 0; i < n; i++) d[i] = s[i];
#else
    memcpy(d, s, (size_t)n);
#endif
}

static void fill(uint8_t *d, uint8_t v, int64_t n) { /* pads are a byte or three: no call */
    for (int64_t i = 0; i < n; i++) d[i] = v;
}

void lcv_qphase_build(const lcv_qphase *g, const uint8_t *x, uint8_t pad, int64_t c0,
                      int64_t c1, uint8_t *planes) {
    if (g->in_place) return;
    bool use_y[QPHASE_MAX_STRIDE] = {false}, use_x[QPHASE_MAX_STRIDE] = {false};
    for (int64_t ky = 0; ky < g->kh && ky < g->s0; ky++) use_y[ky * g->d0 % g->s0] = true;
    for (int64_t kx = 0; kx < g->kw && kx < g->s1; kx++) use_x[kx * g->d1 % g->s1] = true;
    const int64_t pq = g->hq * g->wq;
    for (int64_t ci = c0; ci < c1; ci++) {
        const uint8_t *xp = x + ci * g->h * g->w;
        for (int64_t py = 0; py < g->s0; py++) {
            for (int64_t px = 0; px < g->s1; px++) {
                if (!use_y[py] || !use_x[px]) continue; /* no tap reads this plane */
                uint8_t *dp = planes + ((ci * g->s0 + py) * g->s1 + px) * pq;
                /* plane columns [b0, b1) fall inside the input row */
                int64_t b0 = lcv_ceil_div(g->pl - px, g->s1);
                int64_t b1 = lcv_floor_div(g->w - 1 + g->pl - px, g->s1) + 1;
                b0 = b0 < 0 ? 0 : b0 > g->wq ? g->wq : b0;
                b1 = b1 < b0 ? b0 : b1 > g->wq ? g->wq : b1;
                for (int64_t a = 0; a < g->hq; a++) {
                    uint8_t *row = dp + a * g->wq;
                    int64_t iy = a * g->s0 + py - g->pt;
                    if (iy < 0 || iy >= g->h) {
                        memset(row, pad, (size_t)g->wq);
                        continue;
                    }
                    const uint8_t *src = xp + iy * g->w + (b0 * g->s1 + px - g->pl);
                    fill(row, pad, b0);
                    if (g->s1 == 1) {
                        copy_row(row + b0, src, b1 - b0);
                    } else if (g->s1 == 2) {
                        every_other(src, b1 - b0, row + b0);
                    } else {
                        for (int64_t b = b0; b < b1; b++) row[b] = src[(b - b0) * g->s1];
                    }
                    fill(row + b1, pad, g->wq - b1);
                }
            }
        }
    }
}

void lcv_qphase_compact(const lcv_qphase *g, const uint8_t *src, size_t esz, int64_t c0,
                        int64_t c1, uint8_t *dst) {
    const int64_t oh = g->oh, ow = g->ow;
    for (int64_t i = c0; i < c1; i++)
        for (int64_t oy = 0; oy < oh; oy++)
            copy_row(dst + (size_t)(i * oh * ow + oy * ow) * esz,
                     src + (size_t)(i * g->cols + oy * g->wq) * esz, ow * (int64_t)esz);
}

void lcv_qphase_rows(const lcv_qphase *g, int64_t *off, int64_t *avail) {
    const int64_t pq = g->hq * g->wq; /* = h * w in place */
    int64_t r = 0;
    for (int64_t ci = 0; ci < g->cin; ci++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++, r++) {
                int64_t py = ky * g->d0 % g->s0, px = kx * g->d1 % g->s1;
                int64_t plane = g->in_place ? ci : (ci * g->s0 + py) * g->s1 + px;
                int64_t start = ky * g->d0 / g->s0 * g->wq + kx * g->d1 / g->s1;
                off[r] = plane * pq + start;
                avail[r] = pq - start;
            }
}

/* Columns packed per step: four rows of this many bytes stay on the stack, and the per-row
 * index arithmetic is paid once per chunk rather than once per panel. */
#define QCHUNK 1024

void lcv_qphase_pack(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst) {
    const lcv_qphase_src *t = ctx;
    uint8_t tmp[4][QCHUNK + LCV_I8GEMM_NR_MAX];
    for (int64_t c0 = j0; c0 < j1; c0 += QCHUNK) { /* chunk: a multiple of nr */
        int64_t c1 = c0 + QCHUNK < j1 ? c0 + QCHUNK : j1;
        int64_t cols = c1 - c0, padded = (cols + nr - 1) / nr * nr;
        for (int64_t q = 0; q < t->kq / 4; q++) {
            const uint8_t *rows[4];
            for (int e = 0; e < 4; e++) {
                int64_t r = 4 * q + e, have = 0;
                if (r < t->k && cols == padded && c0 + cols <= t->avail[r]) {
                    rows[e] = t->base + t->off[r] + c0;
                    continue;
                }
                if (r < t->k) { /* a tail panel, or a row whose last dropped columns run out */
                    have = t->avail[r] - c0;
                    have = have < 0 ? 0 : have > cols ? cols : have;
                    memcpy(tmp[e], t->base + t->off[r] + c0, (size_t)have);
                }
                memset(tmp[e] + have, t->flip, (size_t)(padded - have)); /* zero once flipped */
                rows[e] = tmp[e];
            }
            lcv_i8gemm_interleave4_panels(rows, padded, nr, t->kq * nr, t->flip,
                                          dst + (c0 - j0) * t->kq + q * nr * 4);
        }
    }
}

/* Row r of B for columns [j0, j0 + len) into d, by pieces that end at an output row. */
static void qim2col_row(const lcv_qim2col *t, int64_t r, int64_t j0, int64_t len, uint8_t *d) {
    const lcv_window *w = t->win;
    int64_t kx = r % t->kw, ky = (r / t->kw) % t->kh, ci = r / (t->kw * t->kh);
    const uint8_t *xp = t->x + ci * t->h * t->w;
    int64_t sx = w->stride[1], offx = kx * w->dilation[1] - w->pad_begin[1];
    /* output columns [lo, hi) read inside the input row for this kx */
    int64_t lo = offx >= 0 ? 0 : (-offx + sx - 1) / sx;
    int64_t hi = t->w - 1 - offx < 0 ? 0 : (t->w - 1 - offx) / sx + 1;
    if (hi > t->ow) hi = t->ow;
    if (lo > hi) lo = hi;
    int64_t oy = j0 / t->ow, ox0 = j0 % t->ow;
    for (int64_t done = 0; done < len;) {
        int64_t n = t->ow - ox0 < len - done ? t->ow - ox0 : len - done, ox1 = ox0 + n;
        int64_t iy = oy * w->stride[0] + ky * w->dilation[0] - w->pad_begin[0];
        uint8_t *da = d + done - ox0; /* da[ox]: output column ox of this piece */
        if (iy < 0 || iy >= t->h) {
            memset(da + ox0, t->pad, (size_t)n);
        } else {
            const uint8_t *xr = xp + iy * t->w + offx;
            int64_t a = lo < ox0 ? ox0 : lo > ox1 ? ox1 : lo;
            int64_t z = hi > ox1 ? ox1 : hi < a ? a : hi;
            for (int64_t ox = ox0; ox < a; ox++) da[ox] = t->pad; /* a pad or two: no call */
            if (sx == 1) {
                memcpy(da + a, xr + a, (size_t)(z - a));
            } else if (sx == 2) {
                for (int64_t ox = a; ox < z; ox++) da[ox] = xr[2 * ox];
            } else {
                for (int64_t ox = a; ox < z; ox++) da[ox] = xr[ox * sx];
            }
            for (int64_t ox = z; ox < ox1; ox++) da[ox] = t->pad;
        }
        done += n;
        ox0 = 0;
        oy++;
    }
}

void lcv_qim2col_pack(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst) {
    const lcv_qim2col *t = ctx;
    uint8_t tmp[4][QCHUNK + LCV_I8GEMM_NR_MAX];
    for (int64_t c0 = j0; c0 < j1; c0 += QCHUNK) { /* chunk: a multiple of nr */
        int64_t c1 = c0 + QCHUNK < j1 ? c0 + QCHUNK : j1;
        int64_t cols = c1 - c0, padded = (cols + nr - 1) / nr * nr;
        for (int64_t q = 0; q < t->kq / 4; q++) {
            const uint8_t *rows[4];
            for (int e = 0; e < 4; e++) {
                int64_t r = 4 * q + e, have = 0;
                if (r < t->k) {
                    qim2col_row(t, r, c0, cols, tmp[e]);
                    have = cols;
                }
                memset(tmp[e] + have, t->flip, (size_t)(padded - have)); /* zero once flipped */
                rows[e] = tmp[e];
            }
            lcv_i8gemm_interleave4_panels(rows, padded, nr, t->kq * nr, t->flip,
                                          dst + (c0 - j0) * t->kq + q * nr * 4);
        }
    }
}
