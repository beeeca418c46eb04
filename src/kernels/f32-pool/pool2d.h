/* pool2d.h - separable 2-D max/average pooling of NCHW float32 planes: each output row first
 * reduces its window rows into one padded row (vertical pass), splits that row into stride
 * phases so every horizontal tap is a contiguous vector, then reduces the kw taps. The row
 * operations are per ISA (scalar, AVX2, AVX-512); the plane driver and geometry are shared. */
#ifndef LCV_POOL2D_H
#define LCV_POOL2D_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/threadpool.h"
#include "leancv.h"

/* One pooling over planes = N * C planes of in_h x in_w. Pads are the ONNX begin/end pads;
 * out_h/out_w may reach past in + pad_end (ceil_mode). kernel, stride >= 1, pads >= 0. */
typedef struct lcv_pool2d_geom {
    int64_t planes, in_h, in_w, out_h, out_w;
    int64_t kh, kw, stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    bool is_max;    /* max (NaN taps are skipped; an empty window gives -inf) or average */
    bool count_pad; /* average: divide by the taps inside the padded input, not the real one */
} lcv_pool2d_geom;

/* Row operations of one ISA. n >= 0; pointers do not alias unless said. */
typedef struct lcv_pool2d_rowops {
    void (*max)(float *d, const float *s, int64_t n);  /* d[i] = s[i] > d[i] ? s[i] : d[i] */
    void (*add)(float *d, const float *s, int64_t n);  /* d[i] += s[i] */
    /* e[j] = v[2j], o[j] = v[2j + 1] for j < pairs */
    void (*deint2)(const float *v, float *e, float *o, int64_t pairs);
    /* y[i] = cnt[i] > 0 ? y[i] / (rows * cnt[i]) : 0 */
    void (*div)(float *y, const float *cnt, float rows, int64_t n);
} lcv_pool2d_rowops;

/* The row operations for isa (scalar for every level this build has no kernels for). */
const lcv_pool2d_rowops *lcv_pool2d_rowops_for(lcv_isa isa);

/* Rows the kernel's fixed per-thread buffers hold: lcv_pool2d_run accepts a geometry only when
 * lcv_pool2d_supported says so (wider rows stay with the caller's generic loop). */
#define LCV_POOL2D_MAX_ROW 2048
bool lcv_pool2d_supported(const lcv_pool2d_geom *g);

/* Pools x [planes, in_h, in_w] into y [planes, out_h, out_w], threads split over planes (the
 * result does not depend on the thread count). The geometry must be supported. Results equal
 * a direct window scan except for the sign of zero (max) and the float rounding order of the
 * sums (average: columns of the window first, then rows). */
void lcv_pool2d_run(const lcv_pool2d_geom *g, const lcv_pool2d_rowops *ops, const float *x,
                    float *y, lcv_threadpool *pool);

#if defined(__x86_64__)
extern const lcv_pool2d_rowops lcv_pool2d_rowops_avx2;
extern const lcv_pool2d_rowops lcv_pool2d_rowops_avx512;
#endif

#endif /* LCV_POOL2D_H */
