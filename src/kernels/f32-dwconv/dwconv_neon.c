/* dwconv_neon.c - the buffered depthwise plane kernels (dwconv_impl.h) on 4 AArch64 NEON
 * lanes with 8 accumulators. There is no NEON vmath yet, so the activation is applied by
 * core/act.c on the finished, L1-resident rows (DW_PORTABLE_EPILOGUE). AArch64 only. */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stdint.h>

#include "../../core/act.h"

typedef float32x4_t dw_v4;
#define DW_V4_INL static inline __attribute__((always_inline))

DW_V4_INL dw_v4 dw_v4_set1(float a) { return vdupq_n_f32(a); }
DW_V4_INL dw_v4 dw_v4_load(const float *p) { return vld1q_f32(p); }
DW_V4_INL void dw_v4_store(float *p, dw_v4 v) { vst1q_f32(p, v); }
/* The first n (0 < n < 4) lanes from p, `fill` in the others; nothing past p + n is read. */
DW_V4_INL dw_v4 dw_v4_load_part(const float *p, int64_t n, float fill) {
    float t[4] = {fill, fill, fill, fill};
    for (int64_t i = 0; i < n && i < 4; i++) t[i] = p[i];
    return vld1q_f32(t);
}
DW_V4_INL void dw_v4_store_part(float *p, dw_v4 v, int64_t n) {
    float t[4];
    vst1q_f32(t, v);
    for (int64_t i = 0; i < n && i < 4; i++) p[i] = t[i];
}
DW_V4_INL dw_v4 dw_v4_fma(dw_v4 a, dw_v4 b, dw_v4 c) { return vfmaq_f32(c, a, b); }
DW_V4_INL dw_v4 dw_v4_add(dw_v4 a, dw_v4 b) { return vaddq_f32(a, b); }

#define VT dw_v4
#define VL 4
#define V(op) dw_v4_##op
#define KTARGET
#define KNAME(name) dw_neon_##name
#define DW_NACC 8
#define DW_PORTABLE_EPILOGUE
#define DW_DEINT2(a, b, e, o)                                                                     \
    do {                                                                                          \
        e = vuzp1q_f32(a, b);                                                                     \
        o = vuzp2q_f32(a, b);                                                                     \
    } while (0)
#include "dwconv_impl.h"

lcv_dwconv_plane_fn lcv_dwconv_select_neon(const lcv_dwconv_geom *g) { return dw_neon_select(g); }
#else
typedef int lcv_dwconv_neon_unused; /* ISO C forbids an empty translation unit */
#endif
