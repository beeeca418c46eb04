/* dwconv_avx512.c - the buffered depthwise plane kernels (dwconv_impl.h) on 16 AVX-512 lanes
 * with 4 accumulators (one 512-bit FMA per cycle, 4 cycles latency). Stride-2 rows are split
 * into even and odd columns with two-source permutes. x86-64 only. */
#if defined(__x86_64__)
#include "../f32-vact/vmath_avx512.h"

#define VT lcv_v16
#define VL 16
#define V(op) lcv_v16_##op
#define KTARGET LCV_V16_TARGET
#define KNAME(name) dw_avx512_##name
#define DW_NACC 4
#define DW_DEINT2(a, b, e, o)                                                                     \
    do {                                                                                          \
        e = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,   \
                                                        22, 24, 26, 28, 30), b);                  \
        o = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21,   \
                                                        23, 25, 27, 29, 31), b);                  \
    } while (0)
#include "dwconv_impl.h"

lcv_dwconv_plane_fn lcv_dwconv_select_avx512(const lcv_dwconv_geom *g) {
    return dw_avx512_select(g);
}
#else
typedef int lcv_dwconv_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
