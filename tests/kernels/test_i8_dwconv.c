/* test_i8_dwconv.c - the int8 depthwise conv (src/kernels/i8-dwconv) against a plain loop with
 * the shared requantization, bit for bit: the float route at every ISA level this CPU runs and
 * the native AVX-512 3x3 kernel with vpdpwssd and with vpmaddwd (forced), strides 1 and 2, odd
 * plane sizes and pads, int8/uint8 input and weights, weight zero points, int32 and 8-bit
 * outputs, 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/i8-dwconv/i8dwconv.h"

static uint64_t rng_state = 0x853C49E6748FEA9Bull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int64_t rr(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static void *xalloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1)) return NULL;
    return p;
}

static int32_t val(uint8_t b, bool sgn) { return sgn ? (int32_t)(int8_t)b : (int32_t)b; }

static void check_case(lcv_threadpool *pool, lcv_isa best, bool has_vnni) {
    int64_t ch = rr(1, 9), kh = rr(0, 3) ? 3 : rr(1, 4), kw = kh == 3 ? 3 : rr(1, 4);
    int64_t sh = rr(1, 2), sw = rr(1, 2), dil = rr(0, 4) ? 1 : 2;
    int64_t pt = rr(0, kh - 1), pl = rr(0, kw - 1), pb = rr(0, kh - 1), pr = rr(0, kw - 1);
    int64_t h = rr(dil * (kh - 1) + 1, 40), w = rr(dil * (kw - 1) + 1, 90), batch = rr(1, 2);
    int64_t oh = (h + pt + pb - dil * (kh - 1) - 1) / sh + 1;
    int64_t ow = (w + pl + pr - dil * (kw - 1) - 1) / sw + 1;
    lcv_dwconv_geom g = {batch, ch, h, w, oh, ow, kh, kw, sh, sw, dil, dil, pt, pl};
    bool xs = rnd() % 2, ws = rnd() % 2;
    lcv_i8gemm_epi e;
    memset(&e, 0, sizeof e);
    e.out = (lcv_i8_out)(rnd() % 3);
    e.lo = e.out == LCV_I8_OUT_U8 ? 0 : -128;
    e.hi = e.lo + 255;
    e.zy = e.lo + (int32_t)(rnd() % 256);
    if (rnd() % 3 == 0) e.lo = e.zy; /* a fused Relu */
    size_t nx = (size_t)(batch * ch * h * w), ny = (size_t)(batch * ch * oh * ow);
    size_t esz = e.out == LCV_I8_OUT_S32 ? 4 : 1;
    uint8_t *x = xalloc(nx), *wt = xalloc((size_t)(ch * kh * kw)), *want = xalloc(ny * esz);
    int32_t zw[16], bias[16];
    float mult[16];
    for (size_t i = 0; i < nx; i++) x[i] = (uint8_t)rnd();
    for (int64_t i = 0; i < ch * kh * kw; i++) wt[i] = (uint8_t)rnd();
    int32_t zx = val((uint8_t)rnd(), xs);
    for (int64_t c = 0; c < ch; c++) {
        zw[c] = rnd() % 2 ? 0 : val((uint8_t)rnd(), ws);
        bias[c] = (int32_t)(rnd() % 40001) - 20000;
        mult[c] = (float)(rnd() % 1000 + 1) * 2e-5f;
    }
    for (int64_t n = 0; n < batch; n++)
        for (int64_t c = 0; c < ch; c++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t s = bias[c];
                    for (int64_t ky = 0; ky < kh; ky++)
                        for (int64_t kx = 0; kx < kw; kx++) {
                            int64_t iy = oy * sh - pt + ky * dil, ix = ox * sw - pl + kx * dil;
                            int32_t xv = iy >= 0 && iy < h && ix >= 0 && ix < w
                                             ? val(x[((n * ch + c) * h + iy) * w + ix], xs)
                                             : zx;
                            s += (int64_t)(xv - zx) * (val(wt[(c * kh + ky) * kw + kx], ws) - zw[c]);
                        }
                    int32_t v = lcv_i32_wrap(s);
                    size_t at = (size_t)(((n * ch + c) * oh + oy) * ow + ox);
                    if (e.out == LCV_I8_OUT_S32) memcpy(want + at * 4, &v, 4);
                    else want[at] = (uint8_t)lcv_i8_requant(v, mult[c], e.zy, e.lo, e.hi);
                }
    float *wf = xalloc(lcv_i8dw_weights_size(ch, kh, kw));
    lcv_i8dw_pack_weights(ch, kh, kw, wt, ws, zw, wf);
    int32_t w6[16 * 6], add6[16];
    int32_t zx_u8 = xs ? zx + 128 : zx;
    if (kh == 3 && kw == 3) lcv_i8dw_pack_pairs(ch, wt, ws, zw, zx_u8, bias, w6, add6);
    uint8_t *got = xalloc(ny * esz);
    /* variants: float route per ISA, then native with vpdpwssd and with vpmaddwd */
    for (int var = 0; var < 5; var++) {
        lcv_isa isa = var == 0 ? LCV_ISA_SCALAR : var == 1 ? LCV_ISA_AVX2 : LCV_ISA_AVX512;
        bool native = var >= 3;
        if (isa > best || (var == 3 && !has_vnni) || (native && !(kh == 3 && kw == 3))) continue;
        lcv_i8dw_params p = {wf, bias, mult, &e, xs, zx, native ? w6 : NULL,
                             native ? add6 : NULL, var == 3};
        for (int th = 0; th < 2; th++) {
            lcv_threadpool *tp = th ? pool : NULL;
            void *scr = xalloc(lcv_i8dw_scratch_size(&g, lcv_threadpool_size(tp)));
            memset(got, 0x5A, ny * esz);
            lcv_i8dw_run(isa, &g, &p, x, got, scr, tp);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < ny * esz; i++)
                if (got[i] != want[i] && bad++ == 0) first = i;
            CHECK_MSG(bad == 0, "variant %d th %d: ch%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld "
                      "p%lld,%lld x%d w%d out%d: %zu bad bytes, first %zu (%u vs %u)", var, th + 1,
                      (long long)ch, (long long)h, (long long)w, (long long)kh, (long long)kw,
                      (long long)sh, (long long)sw, (long long)dil, (long long)pt, (long long)pl,
                      xs, ws, (int)e.out, bad, first, got[first], want[first]);
            free(scr);
        }
    }
    free(x); free(wt); free(want); free(wf); free(got);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
#if !defined(__x86_64__)
    best = LCV_ISA_SCALAR; /* the x86 variants of this test */
#endif
    lcv_threadpool *pool = NULL;
    lcv_err e;
    CHECK(lcv_threadpool_create(2, &pool, &e) == LCV_OK);
    for (int it = 0; it < 300; it++) check_case(pool, best, info.avx512vnni);
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_i8_dwconv");
}
