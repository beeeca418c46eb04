/* cpu.c - CPUID/XGETBV feature detection and the choice of the kernel instruction set. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <pthread.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect_x86(lcv_cpu_info *out) {
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

/* CPUID traps to the hypervisor in a virtual machine (tens of microseconds), and callers such
 * as lcv_nms choose their kernels per call, so the features are read once per process: they
 * cannot change while it runs, which makes this the one process-wide value, written once. */
static lcv_cpu_info detected;
static pthread_once_t detected_once = PTHREAD_ONCE_INIT;

static void detect_once(void) { detect_x86(&detected); }

void lcv_cpu_detect(lcv_cpu_info *out) {
    pthread_once(&detected_once, detect_once);
    *out = detected;
}
#elif defined(__aarch64__)
void lcv_cpu_detect(lcv_cpu_info *out) {
    memset(out, 0, sizeof *out);
    out->neon = true; /* Advanced SIMD, FMA included, is mandatory in AArch64 (ARMv8-A) */
}
#else
void lcv_cpu_detect(lcv_cpu_info *out) { memset(out, 0, sizeof *out); }
#endif

/* The levels of this build's architecture, lowest first. */
#if defined(__aarch64__)
static const lcv_isa arch_levels[] = {LCV_ISA_SCALAR, LCV_ISA_NEON};
#else
static const lcv_isa arch_levels[] = {LCV_ISA_SCALAR, LCV_ISA_AVX2, LCV_ISA_AVX512};
#endif
#define N_ARCH_LEVELS ((int)(sizeof arch_levels / sizeof arch_levels[0]))

/* Orders levels across architectures by vector width, so that a limit naming another
 * architecture's level still means "nothing wider than this". AUTO (no limit) is widest. */
static int isa_width_rank(lcv_isa isa) {
    switch (isa) {
    case LCV_ISA_SCALAR: return 1;
    case LCV_ISA_NEON: return 2;
    case LCV_ISA_AVX2: return 3;
    case LCV_ISA_AVX512: return 4;
    case LCV_ISA_AUTO: break;
    }
    return 5;
}

/* Position of isa in arch_levels, or -1 when this architecture has no such level. */
static int arch_index(lcv_isa isa) {
    for (int i = 0; i < N_ARCH_LEVELS; i++)
        if (arch_levels[i] == isa) return i;
    return -1;
}

lcv_isa lcv_cpu_best_isa(const lcv_cpu_info *info) {
    if (info->neon) return LCV_ISA_NEON;
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
    if (strcmp(v, "neon") == 0) return LCV_ISA_NEON;
    return LCV_ISA_AUTO;
}

lcv_isa lcv_isa_choose(lcv_isa requested) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    lcv_isa env = isa_from_env();
    int limit = isa_width_rank(best);
    if (isa_width_rank(requested) < limit) limit = isa_width_rank(requested);
    if (isa_width_rank(env) < limit) limit = isa_width_rank(env);
    /* The widest level this CPU runs within the limit; scalar always qualifies. */
    lcv_isa isa = LCV_ISA_SCALAR;
    for (lcv_isa i = LCV_ISA_SCALAR; i != LCV_ISA_AUTO; i = lcv_isa_next(i, best))
        if (isa_width_rank(i) <= limit) isa = i;
    return isa;
}

lcv_isa lcv_isa_next(lcv_isa isa, lcv_isa best) {
    int i = arch_index(isa), b = arch_index(best);
    if (i < 0 || b < 0 || i >= b) return LCV_ISA_AUTO;
    return arch_levels[i + 1];
}
