/* cpu.c - CPUID/XGETBV feature detection and the choice of the kernel instruction set. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void lcv_cpu_detect(lcv_cpu_info *out) {
    memset(out, 0, sizeof *out);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = (c >> 27) & 1;
    out->fma = (c >> 12) & 1;
    out->f16c = (c >> 29) & 1;
    if (osxsave) {
        uint64_t xcr0 = xgetbv0();
        out->os_avx = (xcr0 & 0x6) == 0x6;             /* XMM and YMM state */
        out->os_avx512 = (xcr0 & 0xe6) == 0xe6;        /* plus opmask and ZMM state */
    }
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    out->avx2 = (b >> 5) & 1;
    out->avx512f = (b >> 16) & 1;
    out->avx512dq = (b >> 17) & 1;
    out->avx512bw = (b >> 30) & 1;
    out->avx512vl = (b >> 31) & 1;
    out->avx512vnni = (c >> 11) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    out->avx512bf16 = (a >> 5) & 1;
}
#else
void lcv_cpu_detect(lcv_cpu_info *out) { memset(out, 0, sizeof *out); }
#endif

lcv_isa lcv_cpu_best_isa(const lcv_cpu_info *info) {
    if (info->os_avx512 && info->avx512f && info->avx512bw && info->avx512dq && info->avx512vl &&
        info->avx2 && info->fma)
        return LCV_ISA_AVX512;
    if (info->os_avx && info->avx2 && info->fma) return LCV_ISA_AVX2;
    return LCV_ISA_SCALAR;
}

static lcv_isa isa_from_env(void) {
    const char *v = getenv("LCV_ISA");
    if (!v) return LCV_ISA_AUTO;
    if (strcmp(v, "scalar") == 0) return LCV_ISA_SCALAR;
    if (strcmp(v, "avx2") == 0) return LCV_ISA_AVX2;
    if (strcmp(v, "avx512") == 0) return LCV_ISA_AVX512;
    return LCV_ISA_AUTO;
}

lcv_isa lcv_isa_choose(lcv_isa requested) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa isa = lcv_cpu_best_isa(&info);
    if (requested != LCV_ISA_AUTO && requested < isa) isa = requested;
    lcv_isa env = isa_from_env();
    if (env != LCV_ISA_AUTO && env < isa) isa = env;
    return isa;
}
