/* cpu.h - CPU feature detection and the instruction-set level leancv's kernels dispatch on.
 * Detection runs CPUID once per process (a write-once value: CPU features do not change while
 * it runs), so asking per call is cheap. x86-64 has
 * the levels scalar < avx2 < avx512, AArch64 scalar < neon (NEON is part of its baseline). */
#ifndef LCV_CPU_H
#define LCV_CPU_H

#include <stdbool.h>

#include "leancv.h"

typedef struct lcv_cpu_info {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512dq, avx512vl, avx512vnni, avx512bf16;
    bool os_avx, os_avx512; /* the OS saves the YMM / ZMM+opmask state (XGETBV) */
    bool neon;              /* AArch64 Advanced SIMD with FMA (always, on AArch64) */
} lcv_cpu_info;

/* Fills *out from CPUID/XGETBV on x86; sets only neon on AArch64; all false elsewhere. */
void lcv_cpu_detect(lcv_cpu_info *out);
/* Highest ISA level whose kernels this CPU can run. */
lcv_isa lcv_cpu_best_isa(const lcv_cpu_info *info);
/* The ISA to use: the best the CPU supports, lowered to `requested` (LCV_ISA_AUTO: no limit)
 * and to the LCV_ISA environment variable ("scalar", "avx2", "avx512", "neon") when set. A
 * level this build's architecture lacks lowers to the best one of no greater vector width
 * (leancv.h). An unknown LCV_ISA value is ignored. */
lcv_isa lcv_isa_choose(lcv_isa requested);
/* The level after isa among those a CPU whose best level is `best` runs, in increasing order
 * (x86-64: scalar, avx2, avx512; AArch64: scalar, neon), or LCV_ISA_AUTO after the last. Tests
 * visit every kernel path with
 *     for (lcv_isa i = LCV_ISA_SCALAR; i != LCV_ISA_AUTO; i = lcv_isa_next(i, best)) */
lcv_isa lcv_isa_next(lcv_isa isa, lcv_isa best);

#endif
