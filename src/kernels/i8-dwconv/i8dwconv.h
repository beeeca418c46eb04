/* i8dwconv.h - depthwise 2-D convolution of NCHW int8/uint8 tensors (QLinearConv with
 * group == channels), exact: each plane is shifted by its zero point into float32 and run
 * through the float depthwise kernels of src/kernels/f32-dwconv with the zero-point-shifted
 * weights. Every product and partial sum is an integer below 2^24 in magnitude (at most
 * LCV_I8DW_MAX_TAPS taps of 255 * 255), so float32 holds it exactly in any order; the int32
 * bias and the shared requantization (i8_requant.h) follow per row, vectorised per ISA. */
#ifndef LCV_I8DWCONV_H
#define LCV_I8DWCONV_H

#include "../f32-dwconv/dwconv.h"
#include "../i8-gemm/i8gemm.h"

#define LCV_I8DW_MAX_TAPS 256

/* Floats of the shifted weights of `channels` kh x kw filters (0 on overflow or too many
 * taps). */
size_t lcv_i8dw_weights_size(int64_t channels, int64_t kh, int64_t kw);
/* dst[c * kh * kw + t] = w[c * kh * kw + t] - zw[c] (w read as int8 when w_signed). */
void lcv_i8dw_pack_weights(int64_t channels, int64_t kh, int64_t kw, const uint8_t *w,
                           bool w_signed, const int32_t *zw, float *dst);

/* Per-run parameters; all borrowed. */
typedef struct lcv_i8dw_params {
    const float *w;            /* lcv_i8dw_pack_weights */
    const int32_t *bias;       /* per channel, or NULL */
    const float *mult;         /* per channel multiplier, or NULL: epi->mult */
    const lcv_i8gemm_epi *epi; /* zy, lo, hi, out (row/col arrays unused) */
    bool x_signed;
    int32_t zx;                /* the input zero point as stored */
    /* Optional native 3x3 form for isa AVX512 (lcv_i8dw_pack_pairs; NULL: none), used where
     * lcv_i8dw_pairs_fits; vnni: the CPU has AVX-512 VNNI (vpdpwssd). */
    const int32_t *w6, *add6;
    bool vnni;
} lcv_i8dw_params;

/* The native form of 3x3 filters: per channel six 32-bit words of two 16-bit taps (w - zw)
 * and add[c] = bias[c] - zx_u8 * sum(w - zw), zx_u8 the input zero point read as uint8 (+128
 * for int8 input). bias may be NULL. */
void lcv_i8dw_pack_pairs(int64_t channels, const uint8_t *w, bool w_signed, const int32_t *zw,
                         int32_t zx_u8, const int32_t *bias, int32_t *w6, int32_t *add);

/* Scratch bytes lcv_i8dw_run needs (64-aligned): two float planes per thread. */
size_t lcv_i8dw_scratch_size(const lcv_dwconv_geom *g, int threads);

/* Runs the whole conv: x [batch, channels, in_h, in_w] bytes, y [batch, channels, out_h,
 * out_w] of epi->out's type. Threads split over planes (results do not depend on them). */
void lcv_i8dw_run(lcv_isa isa, const lcv_dwconv_geom *g, const lcv_i8dw_params *p,
                  const uint8_t *x, void *y, void *scratch, lcv_threadpool *pool);

/* ---- the native 3x3 kernel (i8dwconv_avx512.c) ---- */
#if defined(__x86_64__)
bool lcv_i8dw_pairs_fits(const lcv_dwconv_geom *g);
size_t lcv_i8dw_pairs_buf_size(const lcv_dwconv_geom *g);
/* One plane: x as stored (^ flip reads it as uint8), pad = the zero point as uint8, buf:
 * lcv_i8dw_pairs_buf_size bytes of scratch, y: the output plane. */
void lcv_i8dw_plane_pairs_vnni(const lcv_dwconv_geom *g, const uint8_t *x, const int32_t *w6,
                               int32_t add, float mult, const lcv_i8gemm_epi *e, uint8_t flip,
                               uint8_t pad, uint8_t *buf, void *y);
void lcv_i8dw_plane_pairs_avx512(const lcv_dwconv_geom *g, const uint8_t *x, const int32_t *w6,
                                 int32_t add, float mult, const lcv_i8gemm_epi *e, uint8_t flip,
                                 uint8_t pad, uint8_t *buf, void *y);
#endif

/* ---- per-ISA row helpers (i8dwconv_<isa>.c) ---- */
/* dst[i] = (float)(x[i] as int8/uint8 - zero) */
typedef void (*lcv_i8dw_load_fn)(const uint8_t *x, int64_t n, bool is_signed, int32_t zero,
                                 float *dst);
/* dst[i] = requant((int32)acc[i] + bias) per the epi (acc holds exact integers) */
typedef void (*lcv_i8dw_store_fn)(const float *acc, int64_t n, int32_t bias, float mult,
                                  const lcv_i8gemm_epi *e, void *dst);
void lcv_i8dw_load_scalar(const uint8_t *x, int64_t n, bool is_signed, int32_t zero, float *dst);
void lcv_i8dw_store_scalar(const float *acc, int64_t n, int32_t bias, float mult,
                           const lcv_i8gemm_epi *e, void *dst);
#if defined(__x86_64__)
void lcv_i8dw_load_avx2(const uint8_t *x, int64_t n, bool is_signed, int32_t zero, float *dst);
void lcv_i8dw_store_avx2(const float *acc, int64_t n, int32_t bias, float mult,
                         const lcv_i8gemm_epi *e, void *dst);
void lcv_i8dw_load_avx512(const uint8_t *x, int64_t n, bool is_signed, int32_t zero,
                          float *dst);
void lcv_i8dw_store_avx512(const float *acc, int64_t n, int32_t bias, float mult,
                           const lcv_i8gemm_epi *e, void *dst);
#endif

#endif
