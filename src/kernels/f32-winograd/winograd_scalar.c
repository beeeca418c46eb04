/* winograd_scalar.c - the portable Winograd transforms, one tile and one channel at a time:
 * the input transform for any GEMM panel height (so it serves every ISA's packing) and the
 * output transform with the epilogue written exactly as the reference applies it. */
#include "winograd_internal.h"

/* V = B^T d B for the 6x6 window of x at (iy, ix), zero outside the plane. */
static void wino_in_tile(const float *xc, int64_t h, int64_t w, int64_t iy, int64_t ix,
                         float v[LCV_WINO_XI]) {
    float col[6][6], t[6][6], row[6], out[6];
    for (int c = 0; c < 6; c++)
        for (int r = 0; r < 6; r++) {
            int64_t y = iy + r, x = ix + c;
            col[c][r] = y >= 0 && y < h && x >= 0 && x < w ? xc[y * w + x] : 0.0f;
        }
    for (int c = 0; c < 6; c++) lcv_wino_bt(col[c], t[c]); /* t[c][i] = (B^T d)[i][c] */
    for (int i = 0; i < 6; i++) {
        for (int c = 0; c < 6; c++) row[c] = t[c][i];
        lcv_wino_bt(row, out);
        for (int j = 0; j < 6; j++) v[6 * i + j] = out[j];
    }
}

void lcv_wino_input_scalar(const lcv_wino_in *a, int64_t c0, int64_t c1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t hw = g->in_h * g->in_w, mr = a->mr;
    for (int64_t p0 = 0; p0 < a->nt; p0 += mr) {
        float *vp = a->v + p0 * g->cin;
        for (int64_t r = 0; r < mr; r++) {
            if (p0 + r >= a->nt) { /* past the last tile: zero rows of the last panel */
                for (int64_t ci = c0; ci < c1; ci++)
                    for (int xi = 0; xi < LCV_WINO_XI; xi++)
                        vp[xi * a->v_stride + ci * mr + r] = 0.0f;
                continue;
            }
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p0 + r, &n, &iy, &ix);
            for (int64_t ci = c0; ci < c1; ci++) {
                float v[LCV_WINO_XI];
                wino_in_tile(a->x + (n * g->cin + ci) * hw, g->in_h, g->in_w, iy, ix, v);
                for (int xi = 0; xi < LCV_WINO_XI; xi++) vp[xi * a->v_stride + ci * mr + r] = v[xi];
            }
        }
    }
}

void lcv_wino_output_scalar(const lcv_wino_out *a, int64_t b0, int64_t b1) {
    const lcv_winograd_geom *g = a->g;
    const int64_t ohw = g->out_h * g->out_w;
    for (int64_t co = b0; co < b1; co++) {
        float bias = a->bias ? a->bias[co] : 0.0f;
        for (int64_t p = 0; p < a->nt; p++) {
            const float *mp = a->m + p * a->ldm + co;
            float col[6][6], t[6][4], row[6], o[4][4];
            for (int j = 0; j < 6; j++)
                for (int i = 0; i < 6; i++) col[j][i] = mp[(6 * i + j) * a->m_stride];
            for (int j = 0; j < 6; j++) lcv_wino_at(col[j], t[j]); /* t[j][i] = (A^T m)[i][j] */
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 6; j++) row[j] = t[j][i];
                lcv_wino_at(row, o[i]);
            }
            int64_t n, iy, ix;
            lcv_wino_tile_origin(g, a->tl, a->t0 + p, &n, &iy, &ix);
            int64_t oy = iy + g->pad_top, ox = ix + g->pad_left;
            int64_t rows = g->out_h - oy < 4 ? g->out_h - oy : 4;
            int64_t cols = g->out_w - ox < 4 ? g->out_w - ox : 4;
            int64_t off = (n * g->cout + co) * ohw + oy * g->out_w + ox;
            for (int64_t i = 0; i < rows; i++) {
                for (int64_t j = 0; j < cols; j++) {
                    int64_t k = off + i * g->out_w + j;
                    float v = o[i][j] + bias;
                    if (a->residual) v += a->residual[k];
                    a->y[k] = a->act ? lcv_act_f32(a->act, v) : v;
                }
            }
        }
    }
}
