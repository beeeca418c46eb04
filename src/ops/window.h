/* window.h - sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: reading
 * and validating kernel_shape/strides/dilations/pads/auto_pad, and the output-size rules.
 * Private to src/ops (conv.c, conv_transpose.c, pool.c, quant_conv.c). */
#ifndef LCV_OPS_WINDOW_H
#define LCV_OPS_WINDOW_H

#include "op.h"

/* Largest kernel, stride, dilation or pad accepted: keeps every index computation far from
 * int64 overflow whatever the (<= 2^62 element) tensor sizes are. */
#define LCV_WINDOW_MAX_ATTR ((int64_t)1 << 31)

typedef enum lcv_auto_pad {
    LCV_AUTO_PAD_NOTSET,
    LCV_AUTO_PAD_SAME_UPPER,
    LCV_AUTO_PAD_SAME_LOWER,
    LCV_AUTO_PAD_VALID
} lcv_auto_pad;

/* Geometry of one windowed op over nsp spatial dims. Sizes are per spatial dim. */
typedef struct lcv_window {
    int nsp;
    lcv_auto_pad auto_pad;
    int64_t in[LCV_MAX_DIMS];
    int64_t kernel[LCV_MAX_DIMS];
    int64_t stride[LCV_MAX_DIMS];
    int64_t dilation[LCV_MAX_DIMS];
    int64_t pad_begin[LCV_MAX_DIMS]; /* explicit pads; resolved for auto_pad by the *_out calls */
    int64_t pad_end[LCV_MAX_DIMS];
    int64_t out[LCV_MAX_DIMS];
} lcv_window;

/* Reads the window attributes of c's node for spatial input sizes in_sp[nsp] (nsp >= 1).
 * kernel: the kernel taken from the weights (Conv), or NULL when kernel_shape is required
 * (pooling). A present kernel_shape must then agree with it. Every attribute is validated
 * (lengths, ranges); errors name the node, attribute and values. */
lcv_status lcv_window_parse(lcv_opctx *c, int nsp, const int64_t *in_sp, const int64_t *kernel,
                            lcv_window *w);

/* Output sizes of a forward window (Conv, pooling), resolving auto_pad into pads. ceil_mode
 * rounds the window count up, but a last window that would start past the input and its
 * begin padding is dropped. Fails when an output size would be < 1. */
lcv_status lcv_window_forward_out(lcv_opctx *c, lcv_window *w, bool ceil_mode);

/* Effective (dilated) extent of the kernel along spatial dim i. */
static inline int64_t lcv_window_extent(const lcv_window *w, int i) {
    return (w->kernel[i] - 1) * w->dilation[i] + 1;
}

/* floor(a / b) and ceil(a / b) for b > 0 and any sign of a. */
static inline int64_t lcv_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
static inline int64_t lcv_ceil_div(int64_t a, int64_t b) { return -lcv_floor_div(-a, b); }

/* A windowed op's kernel on float32 or float64 buffers (X, W, optional B -> Y); geom is the
 * op's own geometry struct. */
typedef void (*lcv_window_kernel_f32)(const void *geom, const float *x, const float *w,
                                      const float *b, float *y);
typedef void (*lcv_window_kernel_f64)(const void *geom, const double *x, const double *w,
                                      const double *b, double *y);

/* Runs a windowed op's reference kernel on inputs 0..2 (X, W, optional B) into out[0], by
 * dtype: float32 and float64 directly, float16/bfloat16 through widened float32 copies. */
lcv_status lcv_window_run(lcv_opctx *c, const void *geom, lcv_window_kernel_f32 run_f32,
                          lcv_window_kernel_f64 run_f64);

#endif /* LCV_OPS_WINDOW_H */
