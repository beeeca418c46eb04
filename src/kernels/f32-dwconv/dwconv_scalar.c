/* dwconv_scalar.c - the buffered depthwise plane kernels (dwconv_impl.h) one value at a time
 * in portable C (vmath_scalar.h): the kernels of LCV_ISA_SCALAR and of CPUs without a vector
 * instantiation, with the same buffering and epilogue as the SIMD ones. */
#include "../f32-vact/vmath_scalar.h"

#define VT lcv_v1
#define VL 1
#define V(op) lcv_v1_##op
#define KTARGET
#define KNAME(name) dw_scalar_##name
#define DW_NACC 4
#define DW_DEINT2(a, b, e, o)                                                                     \
    do {                                                                                          \
        e = a;                                                                                    \
        o = b;                                                                                    \
    } while (0)
#include "dwconv_impl.h"

lcv_dwconv_plane_fn lcv_dwconv_select_scalar(const lcv_dwconv_geom *g) {
    return dw_scalar_select(g);
}
