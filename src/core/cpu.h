/* cpu.h - CPU feature detection and the instruction-set level leancv's kernels dispatch on.
 * Detection runs CPUID once per call (no cached global); callers keep the result. */
#ifndef LCV_CPU_H
#define LCV_CPU_H

#include <stdbool.h>

#include "leancv.h"

typedef struct lcv_cpu_info {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512dq, avx512vl, avx512vnni, avx512bf16;
    bool os_avx, os_avx512; /* the OS saves the YMM / ZMM+opmask state (XGETBV) */
} lcv_cpu_info;

/* Fills *out from CPUID/XGETBV; all false on non-x86 builds. */
void lcv_cpu_detect(lcv_cpu_info *out);
/* Highest ISA level whose kernels this CPU can run. */
lcv_isa lcv_cpu_best_isa(const lcv_cpu_info *info);
/* The ISA to use: the best the CPU supports, lowered to `requested` (LCV_ISA_AUTO: no limit)
 * and to the LCV_ISA environment variable ("scalar", "avx2", "avx512") when set.
 * An unknown LCV_ISA value is ignored. */
lcv_isa lcv_isa_choose(lcv_isa requested);

#endif
