/* winograd.h - dense 3x3 stride-1 float32 convolution (NCHW, group 1, dilation 1) by the
 * Winograd minimal filtering algorithm F(4x4, 3x3): every 4x4 output tile costs 36
 * multiplications per (input, output) channel pair instead of 144. The weights are
 * transformed and packed once (lcv_winograd_pack_weights); a run transforms blocks of input
 * tiles, multiplies them with the packed GEMM of src/kernels/f32-gemm and transforms back,
 * applying bias, residual and activation on the way out. */
#ifndef LCV_WINOGRAD_H
#define LCV_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/act.h"
#include "../../core/threadpool.h"

/* Geometry of one conv. out_h/out_w follow from the sizes and pads (out = in + pads - 2);
 * the end pads are implied by them. */
typedef struct lcv_winograd_geom {
    int64_t batch, cin, cout;
    int64_t in_h, in_w, out_h, out_w;
    int64_t pad_top, pad_left;
} lcv_winograd_geom;

/* Whether the kernel can run this geometry: every size >= 1 (and below 2^31), pads >= 0. */
bool lcv_winograd_geom_ok(const lcv_winograd_geom *g);

/* Bytes of the packed transformed weights for isa; 0 on bad dims or overflow. Allocate 64-byte
 * aligned (posix_memalign). */
size_t lcv_winograd_weights_size(lcv_isa isa, int64_t cin, int64_t cout);

/* Transforms w [cout, cin, 3, 3] into the 36 matrices G g G^T and packs each as the B operand
 * of lcv_gemm for isa. tmp: 6 * cin * cout floats of caller scratch. */
void lcv_winograd_pack_weights(lcv_isa isa, int64_t cin, int64_t cout, const float *w,
                               float *tmp, float *dst);

/* Scratch bytes a run of g needs with `threads` threads (the pool's size); 0 on overflow. */
size_t lcv_winograd_scratch_size(lcv_isa isa, const lcv_winograd_geom *g, int threads);

/* Tiles (4x4 output blocks) each pass over the transformed weights serves in a run of g:
 * the run streams all 36 weight matrices once per block of tiles. 0 on a bad geometry. */
int64_t lcv_winograd_tiles_per_pass(lcv_isa isa, const lcv_winograd_geom *g, int threads);

typedef struct lcv_winograd_args {
    lcv_isa isa;               /* concrete; the isa the weights were packed for */
    lcv_winograd_geom geom;
    const float *x;            /* [batch, cin, in_h, in_w] */
    const float *weights;      /* from lcv_winograd_pack_weights */
    const float *bias;         /* [cout] or NULL */
    const float *residual;     /* output-shaped or NULL; added after the bias */
    const lcv_fused *act;      /* activation (act/alpha/beta; lcv_act_f32 semantics) or NULL */
    float *y;                  /* [batch, cout, out_h, out_w]; must not alias x */
    void *scratch;             /* lcv_winograd_scratch_size bytes, 64-byte aligned */
    size_t scratch_size;
} lcv_winograd_args;

/* y = act(conv(x) + bias + residual). Threads from pool (NULL: the calling thread); every
 * output is computed by the same operations in the same order whatever the thread count.
 * Fails with LCV_ERR_INVALID_ARG on a bad geometry, NULL pointers or too little scratch;
 * does not allocate. All pointers borrowed. */
lcv_status lcv_winograd_run(const lcv_winograd_args *a, lcv_threadpool *pool, lcv_err *e);

#endif /* LCV_WINOGRAD_H */
