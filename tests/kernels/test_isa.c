/* test_isa.c - the kernel instruction-set choice (src/core/cpu.c): the levels a test loop
 * visits, how a limit from lcv_model_params.max_isa or the LCV_ISA environment variable lowers
 * the choice (including levels of the other architecture), and that every SIMD level this CPU
 * runs has its own GEMM tile and depthwise kernels rather than falling back to scalar. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/f32-gemm/gemm.h"

/* lcv_isa_choose(req) with LCV_ISA set to env (NULL: unset). */
static lcv_isa choose_env(const char *env, lcv_isa req) {
    if (env)
        setenv("LCV_ISA", env, 1);
    else
        unsetenv("LCV_ISA");
    lcv_isa isa = lcv_isa_choose(req);
    unsetenv("LCV_ISA");
    return isa;
}

#define CHECK_ISA(got, want)                                                                     \
    CHECK_MSG((got) == (want), "%s is %s, want %s", #got, lcv_isa_name(got), lcv_isa_name(want))

static void test_best_from_flags(void) {
    lcv_cpu_info info;
    memset(&info, 0, sizeof info);
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_SCALAR);
    info.avx2 = info.fma = true;
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_SCALAR); /* the OS does not save YMM */
    info.os_avx = true;
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_AVX2);
    info.avx512f = info.avx512bw = info.avx512dq = info.avx512vl = true;
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_AVX2);
    info.os_avx512 = true;
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_AVX512);
    memset(&info, 0, sizeof info);
    info.neon = true;
    CHECK_ISA(lcv_cpu_best_isa(&info), LCV_ISA_NEON);
    CHECK(strcmp(lcv_isa_name(LCV_ISA_NEON), "neon") == 0);
}

/* The loop every kernel test uses visits this architecture's levels in order, up to best. */
static void test_levels(lcv_isa best) {
#if defined(__aarch64__)
    static const lcv_isa arch[] = {LCV_ISA_SCALAR, LCV_ISA_NEON};
    CHECK_ISA(best, LCV_ISA_NEON);
#else
    static const lcv_isa arch[] = {LCV_ISA_SCALAR, LCV_ISA_AVX2, LCV_ISA_AVX512};
#endif
    int n = 0;
    lcv_isa last = LCV_ISA_AUTO;
    for (lcv_isa i = LCV_ISA_SCALAR; i != LCV_ISA_AUTO && n < 8; i = lcv_isa_next(i, best)) {
        CHECK_MSG(n < (int)(sizeof arch / sizeof arch[0]) && arch[n] == i, "level %d is %s", n,
                  lcv_isa_name(i));
        last = i;
        n++;
    }
    CHECK_ISA(last, best);
    /* Levels of the other architecture, and AUTO, end the loop. */
#if defined(__aarch64__)
    CHECK_ISA(lcv_isa_next(LCV_ISA_AVX2, best), LCV_ISA_AUTO);
    CHECK_ISA(lcv_isa_next(LCV_ISA_AVX512, best), LCV_ISA_AUTO);
#else
    CHECK_ISA(lcv_isa_next(LCV_ISA_NEON, best), LCV_ISA_AUTO);
#endif
    CHECK_ISA(lcv_isa_next(LCV_ISA_AUTO, best), LCV_ISA_AUTO);
    CHECK_ISA(lcv_isa_next((lcv_isa)77, best), LCV_ISA_AUTO);
}

static void test_choose(lcv_isa best) {
    CHECK_ISA(choose_env(NULL, LCV_ISA_AUTO), best);
    CHECK_ISA(choose_env(NULL, LCV_ISA_SCALAR), LCV_ISA_SCALAR);
    CHECK_ISA(choose_env("scalar", LCV_ISA_AUTO), LCV_ISA_SCALAR);
    CHECK_ISA(choose_env("no-such-isa", LCV_ISA_AUTO), best);
    CHECK_ISA(choose_env(NULL, (lcv_isa)77), best); /* out of range: no limit */
    CHECK_ISA(choose_env(NULL, (lcv_isa)-1), best);
    CHECK_ISA(choose_env("scalar", best), LCV_ISA_SCALAR);
    CHECK_ISA(choose_env(NULL, best), best);
#if defined(__aarch64__)
    /* x86 levels are wider than NEON: as limits they leave NEON in place. */
    CHECK_ISA(choose_env(NULL, LCV_ISA_NEON), LCV_ISA_NEON);
    CHECK_ISA(choose_env(NULL, LCV_ISA_AVX2), LCV_ISA_NEON);
    CHECK_ISA(choose_env("avx512", LCV_ISA_AUTO), LCV_ISA_NEON);
    CHECK_ISA(choose_env("neon", LCV_ISA_AVX512), LCV_ISA_NEON);
    CHECK_ISA(choose_env("neon", LCV_ISA_SCALAR), LCV_ISA_SCALAR);
#else
    /* NEON (128-bit) is narrower than every x86 SIMD level: it lowers to scalar. */
    CHECK_ISA(choose_env(NULL, LCV_ISA_NEON), LCV_ISA_SCALAR);
    CHECK_ISA(choose_env("neon", LCV_ISA_AUTO), LCV_ISA_SCALAR);
    lcv_isa avx2 = best == LCV_ISA_SCALAR ? LCV_ISA_SCALAR : LCV_ISA_AVX2;
    CHECK_ISA(choose_env(NULL, LCV_ISA_AVX2), avx2);
    CHECK_ISA(choose_env("avx2", LCV_ISA_AVX512), avx2);
    CHECK_ISA(choose_env("avx512", LCV_ISA_AVX2), avx2);
    CHECK_ISA(choose_env("avx512", LCV_ISA_AUTO), best);
#endif
}

/* Each SIMD level gets its own GEMM tile and a vector depthwise kernel, and a level of the
 * other architecture gets the scalar ones. */
static void test_dispatch(lcv_isa best) {
    lcv_dwconv_geom g = {1, 1, 9, 9, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1};
    int smr, snr;
    lcv_gemm_tile_dims(LCV_ISA_SCALAR, &smr, &snr);
    lcv_dwconv_plane_fn sdw = lcv_dwconv_select(LCV_ISA_SCALAR, &g);
    for (lcv_isa i = lcv_isa_next(LCV_ISA_SCALAR, best); i != LCV_ISA_AUTO;
         i = lcv_isa_next(i, best)) {
        int mr, nr;
        lcv_gemm_tile_dims(i, &mr, &nr);
        CHECK_MSG(mr != smr || nr != snr, "isa %s uses the scalar GEMM tile", lcv_isa_name(i));
        CHECK_MSG(lcv_dwconv_select(i, &g) != sdw, "isa %s: scalar dwconv", lcv_isa_name(i));
    }
#if defined(__aarch64__)
    static const lcv_isa foreign[] = {LCV_ISA_AVX2, LCV_ISA_AVX512};
#else
    static const lcv_isa foreign[] = {LCV_ISA_NEON};
#endif
    for (size_t f = 0; f < sizeof foreign / sizeof foreign[0]; f++) {
        int mr, nr;
        lcv_gemm_tile_dims(foreign[f], &mr, &nr);
        CHECK_MSG(mr == smr && nr == snr, "isa %s: not the scalar tile", lcv_isa_name(foreign[f]));
        CHECK_MSG(lcv_dwconv_select(foreign[f], &g) == sdw, "isa %s: not the scalar dwconv",
                  lcv_isa_name(foreign[f]));
    }
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    printf("best isa: %s\n", lcv_isa_name(best));
    test_best_from_flags();
    test_levels(best);
    test_choose(best);
    test_dispatch(best);
    return lcv_test_finish("kernels_isa");
}
