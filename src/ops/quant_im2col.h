/* quant_im2col.h - the B operand of the int8 conv GEMM (quant_plan.c): pack_b callbacks that
 * produce B [K = cin * kh * kw, N] in quad panels, either from phase planes (every B row is a
 * contiguous run of bytes, so packing is a plain interleave) or by gathering rows (im2col). */
#ifndef LCV_OPS_QUANT_IM2COL_H
#define LCV_OPS_QUANT_IM2COL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "window.h"

/* Phase planes of one image and group. For stride (s0, s1), plane (py, px) of channel ci holds
 * input pixel (a * s0 + py - pad_top, b * s1 + px - pad_left) at [a, b] (the zero point
 * where that is outside the input), a < hq, b < wq. Tap (ky, kx) then reads plane
 * ((ky*d0) % s0, (kx*d1) % s1) from [(ky*d0) / s0, (kx*d1) / s1] on, and output (oy, ox) is
 * column oy * wq + ox of B: every B row is contiguous. Columns with ox >= ow are computed and
 * dropped (wq - ow = ((kw-1)*d1) / s1 of them per output row). Stride 1 without padding needs
 * no planes: the input is read in place. */
typedef struct lcv_qphase {
    int64_t cin, h, w, kh, kw, s0, s1, d0, d1, pt, pl;
    int64_t oh, ow, hq, wq;
    int64_t cols;       /* B columns: oh * wq */
    bool in_place;      /* stride 1, no padding: the planes are the input itself */
    size_t plane_bytes; /* bytes of all planes of the group (0 when in_place) */
} lcv_qphase;

/* Geometry for window w (2-D) and cin channels per group. False when the route does not fit:
 * strides above 4, or more than 1/8 extra column panels of width nr over the plain im2col. */
bool lcv_qphase_geom(const lcv_window *w, int64_t cin, int nr, lcv_qphase *g);

/* Builds the planes of channels [c0, c1) of the group's input x (cin planes of h * w bytes)
 * into planes (plane_bytes) with padding byte pad; channel ranges are independent (threads).
 * Nothing to do when in_place. */
void lcv_qphase_build(const lcv_qphase *g, const uint8_t *x, uint8_t pad, int64_t c0,
                      int64_t c1, uint8_t *planes);

/* Keeps columns ox < ow of each output row: channels [c0, c1) of the product src
 * ([channel, cols] of esz-byte elements) into dst ([channel, oh * ow]). */
void lcv_qphase_compact(const lcv_qphase *g, const uint8_t *src, size_t esz, int64_t c0,
                        int64_t c1, uint8_t *dst);

/* The pack_b context: B row r starts at base + off[r] and may be read for avail[r] bytes
 * (beyond that are only dropped columns). off/avail: k entries each, borrowed. */
typedef struct lcv_qphase_src {
    const uint8_t *base;
    const int64_t *off, *avail;
    int64_t k, kq;
    uint8_t flip;       /* applied while interleaving (int8 activations -> uint8) */
} lcv_qphase_src;

/* Fills off/avail (k = cin * kh * kw entries each) for base = planes (or the input when
 * in_place). */
void lcv_qphase_rows(const lcv_qphase *g, int64_t *off, int64_t *avail);

/* lcv_i8gemm_pack_fn over an lcv_qphase_src. */
void lcv_qphase_pack(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst);

/* The gather route for every other conv: B row r = (channel, ky, kx) read through the
 * window for each output position. Values stay as stored; the interleave applies flip. */
typedef struct lcv_qim2col {
    const lcv_window *win;
    const uint8_t *x;   /* the group's first input channel plane */
    int64_t h, w, ow, kh, kw, k, kq;
    uint8_t flip, pad;
} lcv_qim2col;

/* lcv_i8gemm_pack_fn over an lcv_qim2col. */
void lcv_qim2col_pack(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst);

#endif
