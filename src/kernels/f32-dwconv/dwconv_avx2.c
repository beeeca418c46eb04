/* dwconv_avx2.c - the buffered depthwise plane kernels (dwconv_impl.h) on 8 AVX2+FMA lanes
 * with 8 accumulators (two 256-bit FMAs per cycle, 4 cycles latency). Stride-2 rows are split
 * into even and odd columns by in-lane shuffles and a cross-lane permute. x86-64 only. */
#if defined(__x86_64__)
#include "../f32-vact/vmath_avx2.h"

#define VT lcv_v8
#define VL 8
#define V(op) lcv_v8_##op
#define KTARGET LCV_V8_TARGET
#define KNAME(name) dw_avx2_##name
#define DW_NACC 8
/* shuffle: a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit permute 0,2,1,3 puts the a pairs first. */
#define DW_DEINT2(a, b, e, o)                                                                     \
    do {                                                                                          \
        e = _mm256_castpd_ps(_mm256_permute4x64_pd(                                               \
            _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));           \
        o = _mm256_castpd_ps(_mm256_permute4x64_pd(                                               \
            _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));           \
    } while (0)
#include "dwconv_impl.h"

lcv_dwconv_plane_fn lcv_dwconv_select_avx2(const lcv_dwconv_geom *g) { return dw_avx2_select(g); }
#else
typedef int lcv_dwconv_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
