/* i8dwconv.c - the int8 depthwise driver: per plane, shift the input by its zero point into
 * float32, run the float depthwise plane kernel (exact, see i8dwconv.h), requantize; plus the
 * scalar row helpers (the path of non-x86 builds). */
#include "i8dwconv.h"

#include <string.h>

size_t lcv_i8dw_weights_size(int64_t channels, int64_t kh, int64_t kw) {
    if (channels < 1 || kh < 1 || kw < 1 || kh * kw > LCV_I8DW_MAX_TAPS ||
        channels > ((int64_t)1 << 32))
        return 0;
    return sizeof(float) * (size_t)(channels * kh * kw);
}

void lcv_i8dw_pack_weights(int64_t channels, int64_t kh, int64_t kw, const uint8_t *w,
                           bool w_signed, const int32_t *zw, float *dst) {
    int64_t taps = kh * kw;
    for (int64_t c = 0; c < channels; c++)
        for (int64_t t = 0; t < taps; t++) {
            uint8_t b = w[c * taps + t];
            int32_t v = w_signed ? (int32_t)(int8_t)b : (int32_t)b;
            dst[c * taps + t] = (float)(v - zw[c]);
        }
}

void lcv_i8dw_pack_pairs(int64_t channels, const uint8_t *w, bool w_signed, const int32_t *zw,
                         int32_t zx_u8, const int32_t *bias, int32_t *w6, int32_t *add) {
    for (int64_t c = 0; c < channels; c++) {
        int32_t v[9], sum = 0;
        for (int t = 0; t < 9; t++) {
            uint8_t b = w[c * 9 + t];
            v[t] = (w_signed ? (int32_t)(int8_t)b : (int32_t)b) - zw[c];
            sum += v[t];
        }
        for (int kx = 0; kx < 3; kx++) { /* low half: row 0 (2), high half: row 1 (none) */
            w6[c * 6 + kx] = (int32_t)((uint32_t)(uint16_t)v[kx] |
                                       (uint32_t)(uint16_t)v[3 + kx] << 16);
            w6[c * 6 + 3 + kx] = (int32_t)(uint32_t)(uint16_t)v[6 + kx];
        }
        add[c] = lcv_i32_sub(bias ? bias[c] : 0, lcv_i32_mul(zx_u8, sum));
    }
}

void lcv_i8dw_load_scalar(const uint8_t *x, int64_t n, bool is_signed, int32_t zero,
                          float *dst) {
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)((is_signed ? (int32_t)(int8_t)x[i] : (int32_t)x[i]) - zero);
}

void lcv_i8dw_store_scalar(const float *acc, int64_t n, int32_t bias, float mult,
                           const lcv_i8gemm_epi *e, void *dst) {
    for (int64_t i = 0; i < n; i++) {
        int32_t v = lcv_i32_add((int32_t)acc[i], bias);
        if (e->out == LCV_I8_OUT_S32) ((int32_t *)dst)[i] = v;
        else ((uint8_t *)dst)[i] = (uint8_t)lcv_i8_requant(v, mult, e->zy, e->lo, e->hi);
    }
}

static size_t plane_floats(const lcv_dwconv_geom *g) {
    size_t n = (size_t)(g->in_h * g->in_w + g->out_h * g->out_w) + 32;
    return (n + 15) & ~(size_t)15;
}

/* Per-thread scratch bytes: the float planes, or the native kernel's row pairs. */
static size_t per_thread(const lcv_dwconv_geom *g) {
    size_t b = sizeof(float) * plane_floats(g);
#if defined(__x86_64__)
    if (lcv_i8dw_pairs_fits(g) && lcv_i8dw_pairs_buf_size(g) > b) b = lcv_i8dw_pairs_buf_size(g);
#endif
    return (b + 63) & ~(size_t)63;
}

size_t lcv_i8dw_scratch_size(const lcv_dwconv_geom *g, int threads) {
    if (threads < 1) threads = 1;
    return per_thread(g) * (size_t)threads;
}

typedef struct i8dw_task {
    lcv_dwconv_job j;
    lcv_dwconv_plane_fn fn;
    lcv_i8dw_load_fn load;
    lcv_i8dw_store_fn store;
    const lcv_i8dw_params *p;
    const uint8_t *x;
    uint8_t *y;
    uint8_t *scratch;
    bool native; /* the 3x3 row-pair kernel */
} i8dw_task;

static void i8dw_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const i8dw_task *t = ctx;
    const lcv_dwconv_geom *g = &t->j.g;
    const lcv_i8dw_params *p = t->p;
    int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    size_t esz = p->epi->out == LCV_I8_OUT_S32 ? 4 : 1;
    uint8_t *mine = t->scratch + (size_t)thread * per_thread(g);
#if defined(__x86_64__)
    if (t->native) {
        uint8_t flip = p->x_signed ? 0x80 : 0, pad = (uint8_t)((uint8_t)p->zx ^ flip);
        for (int64_t pl = begin; pl < end; pl++) {
            int64_t ch = pl % g->channels;
            float mult = p->mult ? p->mult[ch] : p->epi->mult;
            void *y = t->y + (size_t)(pl * out_plane) * esz;
            if (p->vnni)
                lcv_i8dw_plane_pairs_vnni(g, t->x + pl * in_plane, p->w6 + ch * 6, p->add6[ch],
                                          mult, p->epi, flip, pad, mine, y);
            else
                lcv_i8dw_plane_pairs_avx512(g, t->x + pl * in_plane, p->w6 + ch * 6,
                                            p->add6[ch], mult, p->epi, flip, pad, mine, y);
        }
        return;
    }
#endif
    float *xf = (float *)(void *)mine, *yf = xf + in_plane;
    _Alignas(64) float buf[LCV_DWCONV_BUF_FLOATS];
    memset(buf, 0, sizeof(float) * (size_t)lcv_dwconv_buf_floats(&t->j)); /* the pads, once */
    int64_t taps = g->kh * g->kw;
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t ch = pl % g->channels;
        t->load(t->x + pl * in_plane, in_plane, p->x_signed, p->zx, xf);
        t->fn(&t->j, xf, p->w + ch * taps, 0.0f, NULL, yf, buf);
        t->store(yf, out_plane, p->bias ? p->bias[ch] : 0, p->mult ? p->mult[ch] : p->epi->mult,
                 p->epi, t->y + (size_t)(pl * out_plane) * esz);
    }
}

void lcv_i8dw_run(lcv_isa isa, const lcv_dwconv_geom *g, const lcv_i8dw_params *p,
                  const uint8_t *x, void *y, void *scratch, lcv_threadpool *pool) {
    i8dw_task t;
    lcv_dwconv_job_init(&t.j, g, NULL);
    t.fn = lcv_dwconv_select(isa, g);
    t.load = lcv_i8dw_load_scalar;
    t.store = lcv_i8dw_store_scalar;
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512) {
        t.load = lcv_i8dw_load_avx512;
        t.store = lcv_i8dw_store_avx512;
    } else if (isa == LCV_ISA_AVX2) {
        t.load = lcv_i8dw_load_avx2;
        t.store = lcv_i8dw_store_avx2;
    }
#endif
    t.native = false;
#if defined(__x86_64__)
    t.native = isa == LCV_ISA_AVX512 && p->w6 && p->add6 && lcv_i8dw_pairs_fits(g);
#endif
    t.p = p;
    t.x = x;
    t.y = y;
    t.scratch = scratch;
    int64_t planes = g->batch * g->channels;
    int64_t work = g->out_h * g->out_w * g->kh * g->kw;
    int64_t grain = work > 0 ? 32768 / work : planes;
    lcv_threadpool_parallel_for(pool, planes, grain < 1 ? 1 : grain, i8dw_planes, &t);
}
