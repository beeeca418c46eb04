/* pack_avx2.c - packing of row-major lines into GEMM panels with AVX2: the panel layout is
 * the transpose of the source (element (line, d) of a line-major source lands at d * panel +
 * line % panel), so 8 lines x 8 depth steps are transposed in registers at a time. This is
 * the packing of a plain A, of a transposed B, and of the weight gradient's column matrix,
 * which scalar copies made as slow as the products they feed. */
#include "gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))

/* r[0..7] <- the transpose of the 8 x 8 block in r[0..7]. */
T256 INL void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* One panel: `rows` (<= panel) lines of src (line i at src + i * ld, depth contiguous) times
 * alpha, into dst[d * panel + i] for d < depth, zeros for lines rows..panel-1. */
T256 static void pack_panel(int64_t rows, int64_t depth, int panel, const float *src,
                            int64_t ld, float alpha, float *dst) {
    const __m256 va = _mm256_set1_ps(alpha);
    for (int g = 0; g < panel; g += 8) {
        int cnt = panel - g < 8 ? panel - g : 8; /* lanes of the panel in this group */
        int live = rows - g < 0 ? 0 : rows - g > cnt ? cnt : (int)(rows - g);
        __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        int64_t d = 0;
        for (; d + 8 <= depth; d += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = i < live ? _mm256_mul_ps(_mm256_loadu_ps(src + (g + i) * ld + d), va)
                                : _mm256_setzero_ps();
            transpose8(r);
            float *q = dst + d * panel + g;
            if (cnt == 8)
                for (int k = 0; k < 8; k++) _mm256_storeu_ps(q + k * panel, r[k]);
            else
                for (int k = 0; k < 8; k++) _mm256_maskstore_ps(q + k * panel, keep, r[k]);
        }
        for (; d < depth; d++)
            for (int i = 0; i < cnt; i++)
                dst[d * panel + g + i] = i < live ? alpha * src[(g + i) * ld + d] : 0.0f;
    }
}

T256 void lcv_gemm_pack_lines_avx2(int64_t lines, int64_t depth, int panel, const float *src,
                                   int64_t ld, float alpha, float *dst) {
    for (int64_t l0 = 0; l0 < lines; l0 += panel) {
        int64_t rows = lines - l0 < panel ? lines - l0 : panel;
        pack_panel(rows, depth, panel, src + l0 * ld, ld, alpha, dst + l0 * depth);
    }
}

#endif
