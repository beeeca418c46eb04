/* dwconv.h - direct depthwise 2-D convolution for NCHW float32 (one filter per channel):
 * geometry, the buffered layout the vector kernels work in, the per-plane kernel type chosen
 * once per ISA and geometry, and the driver that runs a whole tensor over a thread pool. Each
 * plane kernel applies bias, residual and the fused activation itself (core/act.h), on rows
 * still in L1, so no extra pass over memory follows the conv. */
#ifndef LCV_DWCONV_H
#define LCV_DWCONV_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/act.h"
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

/* The buffered kernels copy a block of input rows into a zero-padded buffer split into
 * stride phases (phase (a, b) holds padded rows a, a + stride_h, ... and columns b,
 * b + stride_w, ...), so every tap of every output becomes a unit-stride load with no bounds
 * test. Layout [stride_h][stride_w][pr][pw] floats, then LCV_DWCONV_SLACK zeroed floats that
 * vector loads of the last, partial vectors may touch. The buffer lives on the stack of the
 * task running the planes (LCV_DWCONV_BUF_FLOATS floats). */
#define LCV_DWCONV_MAX_K 16
#define LCV_DWCONV_BUF_FLOATS 16384
#define LCV_DWCONV_SLACK 32

/* Per-conv constants for the plane kernels, computed once per run (lcv_dwconv_job_init). */
typedef struct lcv_dwconv_job {
    lcv_dwconv_geom g;
    const lcv_fused *act; /* applied after the residual; NULL = none (residual ignored here) */
    bool buffered;        /* the layout below fits the buffer (kernels up to MAX_K) */
    int64_t pw, pr;       /* phase row width, phase rows per block */
    int64_t rb;           /* output rows per block */
    int64_t rowoff[LCV_DWCONV_MAX_K]; /* kernel row ky: offset of its phase row 0 */
    int64_t coloff[LCV_DWCONV_MAX_K]; /* kernel column kx: offset within a phase row block */
} lcv_dwconv_job;

/* Fills j for g and act (borrowed, may be NULL). */
void lcv_dwconv_job_init(lcv_dwconv_job *j, const lcv_dwconv_geom *g, const lcv_fused *act);
/* The floats of the buffer j's kernels use (0 when not buffered). */
int64_t lcv_dwconv_buf_floats(const lcv_dwconv_job *j);

/* Computes one output plane y[out_h*out_w] = act(bias + conv(x[in_h*in_w], w[kh*kw]) + res)
 * (res: this plane of the residual, or NULL). buf: LCV_DWCONV_BUF_FLOATS floats, 64-byte
 * aligned, the caller's scratch, zeroed (lcv_dwconv_buf_floats(j) of them) before the first
 * plane of j and since then used only by j's planes: the kernels write only the input's
 * columns, so the pad columns stay zero from plane to plane. */
typedef void (*lcv_dwconv_plane_fn)(const lcv_dwconv_job *j, const float *x, const float *w,
                                    float bias, const float *res, float *y, float *buf);

/* The fastest plane kernel for isa (never AUTO) and this geometry; never NULL (the scalar
 * unbuffered kernel handles every case). */
lcv_dwconv_plane_fn lcv_dwconv_select(lcv_isa isa, const lcv_dwconv_geom *g);

/* Runs the whole conv: x [batch, channels, in_h, in_w], w [channels, kh*kw], bias [channels]
 * or NULL, residual (output-shaped) or NULL, act NULL or the fused activation, y [batch,
 * channels, out_h, out_w]. fn must come from lcv_dwconv_select for this geometry. Threads
 * split over planes, so results do not depend on the thread count. pool may be NULL. All
 * pointers borrowed. */
void lcv_dwconv_run(const lcv_dwconv_geom *g, lcv_dwconv_plane_fn fn, const float *x,
                    const float *w, const float *bias, const float *residual,
                    const lcv_fused *act, float *y, lcv_threadpool *pool);

/* ---- per-ISA kernel selection (dwconv_<isa>.c): NULL when the geometry is not theirs ---- */
lcv_dwconv_plane_fn lcv_dwconv_select_scalar(const lcv_dwconv_geom *g);
#if defined(__x86_64__)
lcv_dwconv_plane_fn lcv_dwconv_select_avx2(const lcv_dwconv_geom *g);
lcv_dwconv_plane_fn lcv_dwconv_select_avx512(const lcv_dwconv_geom *g);
#endif
#if defined(__aarch64__)
lcv_dwconv_plane_fn lcv_dwconv_select_neon(const lcv_dwconv_geom *g);
#endif

#endif /* LCV_DWCONV_H */
