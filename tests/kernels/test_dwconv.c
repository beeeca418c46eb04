/* test_dwconv.c - the depthwise conv kernels (src/kernels/f32-dwconv) at every ISA level the
 * CPU has, on random odd geometries (tile remainders, borders wider than the kernel, strides
 * 1-4, dilations, rectangular kernels, planes of several row blocks, rows too wide for the
 * buffer), with and without bias, residual and each fused activation, against a direct
 * double-precision formula; 1 and 2 threads must agree bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/f32-dwconv/dwconv.h"
#include "ops/op.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd_u32(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rndi(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)(rnd_u32() % (uint32_t)(hi - lo + 1));
}
static float rndf(void) { return (float)rnd_u32() / 2147483648.0f - 1.0f; }

static float *rand_buf(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = rndf();
    return p;
}

static const lcv_fused acts[] = {
    {LCV_ACT_NONE, 0, 0, -1},        {LCV_ACT_RELU, 0, 0, -1},
    {LCV_ACT_CLIP, -0.5f, 0.7f, -1}, {LCV_ACT_LEAKYRELU, 0.1f, 0, -1},
    {LCV_ACT_SIGMOID, 0, 0, -1},     {LCV_ACT_HARDSIGMOID, 0.2f, 0.5f, -1},
    {LCV_ACT_HARDSWISH, 0, 0, -1},   {LCV_ACT_SILU, 0, 0, -1},
    {LCV_ACT_TANH, 0, 0, -1},        {LCV_ACT_GELU, 0, 0, -1}};
#define N_ACTS ((int64_t)(sizeof acts / sizeof acts[0]))

/* y = act(bias + sum x*w + residual) by the definition, in double. */
static void oracle(const lcv_dwconv_geom *g, const float *x, const float *w, const float *b,
                   const float *r, const lcv_fused *f, float *y) {
    for (int64_t p = 0; p < g->batch * g->channels; p++) {
        int64_t ch = p % g->channels;
        for (int64_t oy = 0; oy < g->out_h; oy++)
            for (int64_t ox = 0; ox < g->out_w; ox++) {
                double acc = b ? b[ch] : 0.0;
                for (int64_t ky = 0; ky < g->kh; ky++)
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t iy = oy * g->stride_h + ky * g->dil_h - g->pad_top;
                        int64_t ix = ox * g->stride_w + kx * g->dil_w - g->pad_left;
                        if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) continue;
                        acc += (double)x[(p * g->in_h + iy) * g->in_w + ix] *
                               w[(ch * g->kh + ky) * g->kw + kx];
                    }
                int64_t o = (p * g->out_h + oy) * g->out_w + ox;
                if (r) acc += r[o];
                y[o] = lcv_act_f32(f, (float)acc);
            }
    }
}

/* A random geometry; widths sometimes large enough for the 2-vector interior loops. */
static bool rand_geom(lcv_dwconv_geom *g, int trial) {
    static const int64_t ks[] = {1, 3, 5, 7, 2, 4};
    memset(g, 0, sizeof *g);
    g->batch = rndi(1, 2);
    g->channels = rndi(1, 37);
    g->in_h = rndi(1, 29);
    g->in_w = trial % 4 == 0 ? rndi(30, 100) : rndi(1, 29);
    g->kh = ks[rndi(0, trial % 3 == 0 ? 5 : 3)];
    g->kw = rndi(0, 3) ? g->kh : ks[rndi(0, 5)];
    g->stride_h = rndi(1, 2);
    g->stride_w = rndi(0, 9) ? rndi(1, 2) : rndi(3, 4);
    if (rndi(0, 9) == 0) g->stride_h = 3;
    g->dil_h = rndi(0, 5) ? 1 : 2;
    g->dil_w = rndi(0, 5) ? 1 : 2;
    int64_t eh = (g->kh - 1) * g->dil_h + 1, ew = (g->kw - 1) * g->dil_w + 1;
    g->pad_top = rndi(0, eh);
    g->pad_left = rndi(0, ew);
    int64_t pb = rndi(0, eh), pr = rndi(0, ew);
    int64_t sh = g->in_h + g->pad_top + pb - eh, sw = g->in_w + g->pad_left + pr - ew;
    if (sh < 0 || sw < 0) return false;
    g->out_h = sh / g->stride_h + 1;
    g->out_w = sw / g->stride_w + 1;
    return true;
}

static void test_isa(lcv_isa isa, lcv_threadpool *pool) {
    int vec_used = 0;
    for (int trial = 0; trial < 400; trial++) {
        lcv_dwconv_geom g;
        if (!rand_geom(&g, trial)) continue;
        int64_t nx = g.batch * g.channels * g.in_h * g.in_w;
        int64_t ny = g.batch * g.channels * g.out_h * g.out_w;
        float *x = rand_buf(nx), *w = rand_buf(g.channels * g.kh * g.kw);
        float *b = rndi(0, 1) ? rand_buf(g.channels) : NULL;
        float *r = rndi(0, 2) == 0 ? rand_buf(ny) : NULL;
        const lcv_fused *f = &acts[rndi(0, N_ACTS - 1)];
        float *y1 = malloc(sizeof(float) * (size_t)ny), *y2 = malloc(sizeof(float) * (size_t)ny);
        float *ref = malloc(sizeof(float) * (size_t)ny);
        lcv_dwconv_plane_fn fn = lcv_dwconv_select(isa, &g);
        bool special = (g.kw == 3 || g.kw == 5 || g.kw == 7) && g.dil_w == 1 && g.stride_w <= 2;
        if (isa > LCV_ISA_SCALAR && special) {
            CHECK_MSG(fn != lcv_dwconv_select(LCV_ISA_SCALAR, &g), "isa %s kw %lld: no vector "
                      "kernel", lcv_isa_name(isa), (long long)g.kw);
            vec_used++;
        }
        lcv_dwconv_run(&g, fn, x, w, b, r, f, y1, NULL);
        lcv_dwconv_run(&g, fn, x, w, b, r, f, y2, pool);
        oracle(&g, x, w, b, r, f, ref);
        CHECK_MSG(memcmp(y1, y2, sizeof(float) * (size_t)ny) == 0, "isa %s: 1 vs 2 threads differ",
                  lcv_isa_name(isa));
        int64_t bad = -1;
        for (int64_t i = 0; i < ny && bad < 0; i++)
            if (!(fabsf(y1[i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])))) bad = i;
        CHECK_MSG(bad < 0, "isa %s trial %d: C%lld %lldx%lld k%lldx%lld s%lldx%lld d%lldx%lld "
                  "p%lld,%lld -> %lldx%lld act %d: y[%lld] = %.7g, expected %.7g",
                  lcv_isa_name(isa), trial, (long long)g.channels, (long long)g.in_h,
                  (long long)g.in_w, (long long)g.kh, (long long)g.kw, (long long)g.stride_h,
                  (long long)g.stride_w, (long long)g.dil_h, (long long)g.dil_w,
                  (long long)g.pad_top, (long long)g.pad_left, (long long)g.out_h,
                  (long long)g.out_w, (int)f->act, (long long)bad, bad >= 0 ? y1[bad] : 0.0,
                  bad >= 0 ? ref[bad] : 0.0);
        free(x);
        free(w);
        free(b);
        free(r);
        free(y1);
        free(y2);
        free(ref);
    }
    if (isa > LCV_ISA_SCALAR) CHECK_MSG(vec_used > 50, "only %d vector cases", vec_used);
}

/* Every width up to 80 with 'same' padding: somewhere the interior ends exactly at the input's
 * last element, and the strided loads must not read past it (ASan checks exact-size buffers). */
static void test_edges(lcv_isa isa) {
    for (int64_t wdt = 1; wdt <= 80; wdt++)
        for (int64_t s = 1; s <= 2; s++)
            for (int64_t k = 3; k <= 7; k += 2) {
                int64_t sw = wdt + 2 * (k / 2) - k; /* padded width minus the kernel */
                if (sw < 0) continue;
                lcv_dwconv_geom g = {1, 1, 2, wdt, 2, sw / s + 1, k, k, 1, s, 1, 1, k / 2, k / 2};
                int64_t ny = g.out_h * g.out_w;
                float *x = rand_buf(2 * wdt), *w = rand_buf(k * k);
                float *y = malloc(sizeof(float) * (size_t)ny);
                float *ref = malloc(sizeof(float) * (size_t)ny);
                lcv_dwconv_run(&g, lcv_dwconv_select(isa, &g), x, w, NULL, NULL, NULL, y, NULL);
                oracle(&g, x, w, NULL, NULL, &acts[0], ref);
                int ok = 1;
                for (int64_t i = 0; i < ny; i++)
                    if (!(fabsf(y[i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])))) ok = 0;
                CHECK_MSG(ok, "isa %s width %lld stride %lld k %lld", lcv_isa_name(isa),
                          (long long)wdt, (long long)s, (long long)k);
                free(x);
                free(w);
                free(y);
                free(ref);
            }
}

/* Planes of several row blocks (the buffer holds ~6k floats), rows and kernels too big for the
 * buffer (the unbuffered kernel), and the model shapes, with residual and activation. */
static void test_big(lcv_isa isa, lcv_threadpool *pool) {
    static const int64_t cases[][7] = {
        /* h, w, k, stride, dil, pad, channels */
        {150, 230, 3, 1, 1, 1, 2}, {151, 229, 3, 2, 1, 1, 2}, {97, 181, 5, 2, 1, 2, 3},
        {90, 140, 7, 1, 1, 3, 2},  {77, 300, 3, 1, 2, 2, 2},  {60, 201, 5, 3, 1, 2, 2},
        {5, 20000, 3, 1, 1, 1, 1}, {40, 40, 17, 1, 1, 8, 2},  {112, 112, 3, 2, 1, 1, 3},
        {7, 7, 5, 1, 1, 2, 33},    {14, 14, 3, 1, 1, 1, 19},  {56, 56, 3, 1, 1, 1, 5},
        {28, 28, 5, 2, 1, 2, 5},   {14, 14, 7, 1, 1, 3, 9}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t *c = cases[i];
        int64_t eff = (c[2] - 1) * c[4] + 1;
        lcv_dwconv_geom g = {1, c[6], c[0], c[1], (c[0] + 2 * c[5] - eff) / c[3] + 1,
                             (c[1] + 2 * c[5] - eff) / c[3] + 1, c[2], c[2], c[3], c[3], c[4],
                             c[4], c[5], c[5]};
        int64_t nx = g.channels * g.in_h * g.in_w, ny = g.channels * g.out_h * g.out_w;
        float *x = rand_buf(nx), *w = rand_buf(g.channels * g.kh * g.kw), *b = rand_buf(g.channels);
        float *r = rand_buf(ny), *y1 = malloc(sizeof(float) * (size_t)ny);
        float *y2 = malloc(sizeof(float) * (size_t)ny), *ref = malloc(sizeof(float) * (size_t)ny);
        const lcv_fused *f = &acts[(int64_t)i % N_ACTS];
        lcv_dwconv_plane_fn fn = lcv_dwconv_select(isa, &g);
        lcv_dwconv_run(&g, fn, x, w, b, i % 2 ? r : NULL, f, y1, NULL);
        lcv_dwconv_run(&g, fn, x, w, b, i % 2 ? r : NULL, f, y2, pool);
        oracle(&g, x, w, b, i % 2 ? r : NULL, f, ref);
        CHECK_MSG(memcmp(y1, y2, sizeof(float) * (size_t)ny) == 0, "isa %s case %zu: 1 vs 2 "
                  "threads differ", lcv_isa_name(isa), i);
        int64_t bad = -1;
        for (int64_t k = 0; k < ny && bad < 0; k++)
            if (!(fabsf(y1[k] - ref[k]) <= 1e-4f * (1.0f + fabsf(ref[k])))) bad = k;
        CHECK_MSG(bad < 0, "isa %s case %zu (%lldx%lld k%lld s%lld): y[%lld] = %.7g, expected "
                  "%.7g", lcv_isa_name(isa), i, (long long)c[0], (long long)c[1],
                  (long long)c[2], (long long)c[3], (long long)bad, bad >= 0 ? y1[bad] : 0.0,
                  bad >= 0 ? ref[bad] : 0.0);
        free(x);
        free(w);
        free(b);
        free(r);
        free(y1);
        free(y2);
        free(ref);
    }
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_threadpool *pool = NULL;
    lcv_err err;
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        test_isa(isa, pool);
        test_edges(isa);
        test_big(isa, pool);
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("kernels_dwconv");
}
