/* dwconv.h - direct depthwise 2-D convolution for NCHW float32 (one filter per channel):
 * geometry, the per-plane kernel type chosen once per ISA and shape class, and the driver
 * that runs a whole tensor over a thread pool with bias, a residual add and an activation
 * callback (the op layer supplies the fused activation, so kernels depend on core only). */
#ifndef LCV_DWCONV_H
#define LCV_DWCONV_H

#include <stdint.h>

#include "../../core/threadpool.h"

/* Geometry of one depthwise conv. Plane sizes are per channel; pads are the begin pads (end
 * pads are implied by out_h/out_w). All values >= 0, sizes >= 1, strides/dilations >= 1. */
typedef struct lcv_dwconv_geom {
    int64_t batch, channels;
    int64_t in_h, in_w, out_h, out_w;
    int64_t kh, kw;
    int64_t stride_h, stride_w;
    int64_t dil_h, dil_w;
    int64_t pad_top, pad_left;
} lcv_dwconv_geom;

/* Computes one output plane y[out_h*out_w] = bias + conv(x[in_h*in_w], w[kh*kw]); no epilogue. */
typedef void (*lcv_dwconv_plane_fn)(const lcv_dwconv_geom *g, const float *x, const float *w,
                                    float bias, float *y);

/* The fastest plane kernel for isa (never AUTO) and this geometry; never NULL (the scalar
 * generic kernel handles every case). */
lcv_dwconv_plane_fn lcv_dwconv_select(lcv_isa isa, const lcv_dwconv_geom *g);

/* An activation applied in place to n finished outputs; ctx is the caller's. */
typedef void (*lcv_dwconv_act_fn)(const void *ctx, float *y, int64_t n);

/* Runs the whole conv: x [batch, channels, in_h, in_w], w [channels, kh*kw], bias [channels]
 * or NULL, residual (output-shaped) or NULL, y [batch, channels, out_h, out_w]. Each output
 * plane gets the residual added, then act(act_ctx, plane) when act is not NULL. Threads split
 * over planes, so results do not depend on the thread count. pool may be NULL. All pointers
 * borrowed. */
void lcv_dwconv_run(const lcv_dwconv_geom *g, lcv_dwconv_plane_fn fn, const float *x,
                    const float *w, const float *bias, const float *residual,
                    lcv_dwconv_act_fn act, const void *act_ctx, float *y, lcv_threadpool *pool);

/* ---- shared by the ISA-specific files ---- */

/* Output columns [ox0, ox1) of output row oy, with full bounds checks (borders). yrow is the
 * start of that output row. */
void lcv_dwconv_cols_checked(const lcv_dwconv_geom *g, const float *x, const float *w,
                             float bias, int64_t oy, int64_t ox0, int64_t ox1, float *yrow);

/* Valid kernel rows [*lo, *hi) for output row oy (the taps whose input row exists). */
void lcv_dwconv_rows(const lcv_dwconv_geom *g, int64_t oy, int64_t *lo, int64_t *hi);

/* Output columns [*lo, *hi) whose every horizontal tap is inside the input row
 * (*lo >= *hi when there are none). */
void lcv_dwconv_interior_cols(const lcv_dwconv_geom *g, int64_t *lo, int64_t *hi);

#if defined(__x86_64__)
lcv_dwconv_plane_fn lcv_dwconv_select_avx2(const lcv_dwconv_geom *g);
lcv_dwconv_plane_fn lcv_dwconv_select_avx512(const lcv_dwconv_geom *g);
#endif
#if defined(__aarch64__)
lcv_dwconv_plane_fn lcv_dwconv_select_neon(const lcv_dwconv_geom *g);
#endif

#endif /* LCV_DWCONV_H */
