/* winograd_internal.h - the contract between the Winograd driver (winograd.c) and the
 * per-ISA transform files: the input transform B^T d B of a block of tiles into packed GEMM
 * A panels, the output transform A^T m A with the epilogue, and the scalar 1-D transforms
 * every ISA's vector code mirrors. */
#ifndef LCV_WINOGRAD_INTERNAL_H
#define LCV_WINOGRAD_INTERNAL_H

#include "winograd.h"

/* F(4x4, 3x3): 4x4 output tiles from 6x6 input tiles; the 36 elementwise products are
 * indexed xi = 6 * i + j over the transformed tile. */
#define LCV_WINO_M 4
#define LCV_WINO_A 6
#define LCV_WINO_XI 36

/* Tiles are numbered over (image, tile row, tile column); a block is a range of them. */
typedef struct lcv_wino_tiles {
    int64_t per_row, per_image; /* tiles per tile row / per image */
} lcv_wino_tiles;

/* Input transform of tiles [t0, t0 + nt) for channels [c0, c1): transformed value xi of
 * tile t0 + p * mr + r, channel ci, goes to v[xi * v_stride + p * mr * cin + ci * mr + r]
 * (lcv_gemm's packed-A layout: panels of mr tiles, one column per channel). Rows of the last
 * panel past nt are written as zeros. */
typedef struct lcv_wino_in {
    const lcv_winograd_geom *g;
    lcv_wino_tiles tl;
    const float *x;
    int64_t t0, nt;
    int mr;
    float *v;
    int64_t v_stride;
} lcv_wino_in;

/* Output transform of tiles [t0, t0 + nt): the GEMM result for xi, tile t0 + p, output
 * channel co is m[xi * m_stride + p * ldm + co]. Writes y for output channels in the channel
 * blocks [b0, b1) of the ISA's width, adding bias and residual and applying act. */
typedef struct lcv_wino_out {
    const lcv_winograd_geom *g;
    lcv_wino_tiles tl;
    const float *m;
    int64_t m_stride, ldm;
    int64_t t0, nt;
    const float *bias, *residual;
    const lcv_fused *act; /* NULL (none), ReLU or Clip (vector files); the driver applies
                           * other activations to the finished output */
    float *y;
} lcv_wino_out;

typedef void (*lcv_wino_in_fn)(const lcv_wino_in *a, int64_t c0, int64_t c1);
typedef void (*lcv_wino_out_fn)(const lcv_wino_out *a, int64_t b0, int64_t b1);

void lcv_wino_input_scalar(const lcv_wino_in *a, int64_t c0, int64_t c1);
void lcv_wino_output_scalar(const lcv_wino_out *a, int64_t b0, int64_t b1);
#if defined(__x86_64__)
/* Vector inputs take mr <= 16 (AVX-512) / mr <= 8 (AVX2) tiles per panel as lanes; vector
 * outputs take 16 / 8 output channels per block as lanes. */
void lcv_wino_input_avx512(const lcv_wino_in *a, int64_t c0, int64_t c1);
void lcv_wino_output_avx512(const lcv_wino_out *a, int64_t b0, int64_t b1);
void lcv_wino_input_avx2(const lcv_wino_in *a, int64_t c0, int64_t c1);
void lcv_wino_output_avx2(const lcv_wino_out *a, int64_t b0, int64_t b1);
#endif

/* Tile t's image and the top-left corner of its input window (may lie in the padding). */
static inline void lcv_wino_tile_origin(const lcv_winograd_geom *g, lcv_wino_tiles tl,
                                        int64_t t, int64_t *n, int64_t *iy, int64_t *ix) {
    int64_t r = t % tl.per_image;
    *n = t / tl.per_image;
    *iy = (r / tl.per_row) * LCV_WINO_M - g->pad_top;
    *ix = (r % tl.per_row) * LCV_WINO_M - g->pad_left;
}

/* The 1-D transforms of F(4, 3) with interpolation points 0, 1, -1, 2, -2 and infinity
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016):
 *   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;
 *          0 -2 -1  2 1 0;  0  2 -1 -2 1 0;  0 4  0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
 * so that for a 6-element input d and a 3-tap filter g the correlation y[i] = sum_k d[i+k]
 * g[k] (i < 4) is A^T ((G g) .* (B^T d)), and in 2-D Y = A^T ((G g G^T) .* (B^T d B)) A.
 * The groupings below share the common terms; the vector files use the same ones. */
static inline void lcv_wino_bt(const float d[6], float t[6]) {
    float a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
    float c = d[4] - d[2], e = d[3] - d[1];
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = a + b;
    t[2] = a - b;
    t[3] = c + 2.0f * e;
    t[4] = c - 2.0f * e;
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

static inline void lcv_wino_at(const float m[6], float o[4]) {
    float a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], e = m[3] - m[4];
    o[0] = m[0] + a + c;
    o[1] = b + 2.0f * e;
    o[2] = a + 4.0f * c;
    o[3] = b + 8.0f * e + m[5];
}

#endif /* LCV_WINOGRAD_INTERNAL_H */
