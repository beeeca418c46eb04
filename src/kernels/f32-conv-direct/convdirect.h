/* convdirect.h - direct dense 2-D convolution of NCHW float32 for layers with few input
 * channels (network stems such as 3->64 7x7/s2 or 3->32 3x3/s2), where an im2col GEMM has a
 * K too short to pay for its buffer. The input is copied once per image into a zero-padded,
 * stride-phase-split layout so every tap of a row of outputs is one contiguous vector load;
 * each kernel call computes one output row for all output channels, in blocks of
 * LCV_CONVDIRECT_CB channels (weights packed per block at plan time) by vectors of columns. */
#ifndef LCV_CONVDIRECT_H
#define LCV_CONVDIRECT_H

#include <stddef.h>
#include <stdint.h>

#include "../../core/act.h"
#include "../../core/threadpool.h"
#include "leancv.h"

/* Output channels per weight block (the same for every ISA). */
#define LCV_CONVDIRECT_CB 8
/* Taps (cin * kh * kw) at most: the row kernels keep one offset per tap on the stack. */
#define LCV_CONVDIRECT_MAX_TAPS 1024

/* One image's conv. Sizes >= 1, pads >= 0 (end pads are implied by out_h/out_w). */
typedef struct lcv_convdirect_geom {
    int64_t cin, cout, in_h, in_w, out_h, out_w;
    int64_t kh, kw, stride_h, stride_w, pad_top, pad_left;
} lcv_convdirect_geom;

/* Floats of the packed weights (cout rounded up to blocks of LCV_CONVDIRECT_CB), and the
 * packing of w [cout, cin, kh, kw]: block b holds element (co, ci, ky, kx) at
 * dst[b * cin*kh*kw*CB + ((ci * kh + ky) * kw + kx) * CB + co % CB], zero past cout. 0 when
 * the size overflows. */
size_t lcv_convdirect_packed_floats(int64_t cout, int64_t cin, int64_t kh, int64_t kw);
void lcv_convdirect_pack(int64_t cout, int64_t cin, int64_t kh, int64_t kw, const float *w,
                         float *dst);

/* Floats of the per-image input copy for g; 0 when the geometry is not supported (a size
 * beyond the limits below) - the caller then uses another path. */
size_t lcv_convdirect_scratch_floats(const lcv_convdirect_geom *g);

/* Computes output row oy of every channel: y[co * out_h * out_w + oy * out_w + ox] =
 * sum(taps) + bias[co] (bias may be NULL) + res[same index] (res may be NULL). xs is the input
 * copy made by the driver, wp the packed weights. */
typedef void (*lcv_convdirect_row_fn)(const lcv_convdirect_geom *g, const float *xs,
                                      const float *wp, const float *bias, const float *res,
                                      float *y, int64_t oy);

/* The row kernel of isa (scalar for levels this build has no kernels for). */
lcv_convdirect_row_fn lcv_convdirect_select(lcv_isa isa);

/* Runs batch images: x [batch, cin, in_h, in_w] -> y [batch, cout, out_h, out_w], with bias,
 * residual (output-shaped) and then the activation of act (act->residual ignored; NULL =
 * none) applied with isa's vector kernels. scratch: lcv_convdirect_scratch_floats(g) floats.
 * Threads split output rows; results do not depend on the thread count. */
void lcv_convdirect_run(lcv_isa isa, const lcv_convdirect_geom *g, int64_t batch,
                        const float *x, const float *wp, const float *bias, const float *res,
                        const lcv_fused *act, float *y, float *scratch, lcv_threadpool *pool);

/* ---- shared by the ISA-specific files ---- */

/* Layout of the input copy: padded row r (input row r - pad_top) of channel ci, phase p
 * (columns p, p + s, ...) starts at xs + ((ci * rows + r) * stride_w + p) * len. */
typedef struct lcv_convdirect_layout {
    int64_t rows, len;
} lcv_convdirect_layout;
void lcv_convdirect_layout_of(const lcv_convdirect_geom *g, lcv_convdirect_layout *l);
/* Offset of tap t = (ci * kh + ky) * kw + kx from the start of output row 0's copy: one flat
 * tap loop keeps the accumulators in registers. off: cin * kh * kw entries. */
void lcv_convdirect_tap_offsets(const lcv_convdirect_geom *g, const lcv_convdirect_layout *l,
                                int64_t *off);

#if defined(__x86_64__)
void lcv_convdirect_row_avx2(const lcv_convdirect_geom *g, const float *xs, const float *wp,
                             const float *bias, const float *res, float *y, int64_t oy);
void lcv_convdirect_row_avx512(const lcv_convdirect_geom *g, const float *xs, const float *wp,
                               const float *bias, const float *res, float *y, int64_t oy);
#endif

#endif /* LCV_CONVDIRECT_H */
