/* i8gemm.c - the int8 GEMM driver: kernel choice, packing into quad panels, column blocks of
 * B sized to stay in L2 (the whole depth at once: int32 sums never leave the registers until
 * the epilogue) and the split of C over the thread pool in panel shares. */
#include "i8gemm_internal.h"

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Bytes of one B column block (per thread): its nr-wide panels over the whole depth. */
#define I8GEMM_BLOCK_BYTES (192 * 1024)
/* A thread's whole share of B is taken as one block up to this size, so that the packed A is
 * streamed once: deep products with few columns (3x3 convs at 7x7 and 14x14, k up to 4608)
 * otherwise read megabytes of A from L3 once per block. Still well inside a 1 MiB L2. */
#define I8GEMM_SHARE_BYTES (576 * 1024)

typedef struct i8_kernel {
    int mr, nr;
    lcv_i8gemm_tile_fn tile;
} i8_kernel;

static i8_kernel kernel_for(lcv_i8gemm_kind kind) {
    i8_kernel k = {LCV_I8GEMM_MR_SCALAR, LCV_I8GEMM_NR_SCALAR, lcv_i8gemm_tile_scalar};
#if defined(__x86_64__)
    if (kind == LCV_I8GEMM_AVX2) {
        k.mr = LCV_I8GEMM_MR_AVX2;
        k.nr = LCV_I8GEMM_NR_AVX2;
        k.tile = lcv_i8gemm_tile_avx2;
    } else if (kind == LCV_I8GEMM_VNNI512) {
        k.mr = LCV_I8GEMM_MR_VNNI;
        k.nr = LCV_I8GEMM_NR_VNNI;
        k.tile = lcv_i8gemm_tile_vnni512;
    }
#else
    (void)kind;
#endif
    return k;
}

bool lcv_i8gemm_supported(lcv_i8gemm_kind kind) {
#if defined(__x86_64__)
    lcv_cpu_info ci;
    lcv_cpu_detect(&ci);
    lcv_isa best = lcv_cpu_best_isa(&ci);
    if (kind == LCV_I8GEMM_AVX2) return best >= LCV_ISA_AVX2 && best != LCV_ISA_NEON;
    if (kind == LCV_I8GEMM_VNNI512) return best == LCV_ISA_AVX512 && ci.avx512vnni;
#endif
    return kind == LCV_I8GEMM_SCALAR;
}

lcv_i8gemm_kind lcv_i8gemm_select(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512 && lcv_i8gemm_supported(LCV_I8GEMM_VNNI512))
        return LCV_I8GEMM_VNNI512;
    if (isa == LCV_ISA_AVX512 || isa == LCV_ISA_AVX2) return LCV_I8GEMM_AVX2;
#else
    (void)isa;
#endif
    return LCV_I8GEMM_SCALAR;
}

const char *lcv_i8gemm_name(lcv_i8gemm_kind kind) {
    return kind == LCV_I8GEMM_VNNI512 ? "vnni512" : kind == LCV_I8GEMM_AVX2 ? "avx2" : "scalar";
}

void lcv_i8gemm_tile_dims(lcv_i8gemm_kind kind, int *mr, int *nr) {
    i8_kernel k = kernel_for(kind);
    *mr = k.mr;
    *nr = k.nr;
}

/* AVX2 keeps A as 16-bit values (its products are 16 x 16 -> 32 bit). */
static int elem_bytes(lcv_i8gemm_kind kind, bool is_a) {
    return kind == LCV_I8GEMM_AVX2 && is_a ? 2 : 1;
}

size_t lcv_i8gemm_pack_size(lcv_i8gemm_kind kind, bool is_a, int64_t lines, int64_t k) {
    if (lines < 1 || k < 1 || k > INT64_MAX / 8) return 0;
    i8_kernel kr = kernel_for(kind);
    uint64_t panel = (uint64_t)(is_a ? kr.mr : kr.nr);
    uint64_t l = ((uint64_t)lines + panel - 1) / panel * panel;
    uint64_t per = (uint64_t)lcv_i8gemm_kq(k) * (uint64_t)elem_bytes(kind, is_a);
    if (per > SIZE_MAX / l) return 0;
    return (size_t)(l * per);
}

void lcv_i8gemm_pack(lcv_i8gemm_kind kind, bool is_a, bool is_u8, int64_t lines, int64_t k,
                     const uint8_t *src, int64_t s_line, int64_t s_depth, uint8_t flip,
                     int32_t *sums, void *dst) {
    if (lines < 1 || k < 1) return;
    i8_kernel kr = kernel_for(kind);
    const int panel = is_a ? kr.mr : kr.nr;
    const int64_t kq = lcv_i8gemm_kq(k);
    const bool wide = elem_bytes(kind, is_a) == 2;
    uint8_t *d8 = dst;
    int16_t *d16 = dst;
    for (int64_t l0 = 0; l0 < lines; l0 += panel) {
        int64_t base = l0 * kq; /* elements before this panel */
        for (int l = 0; l < panel; l++) {
            int64_t line = l0 + l;
            int32_t s = 0;
            if (!wide && s_depth == 1 && line < lines) { /* rows of A: whole quads at once */
                const uint8_t *sp = src + line * s_line;
                uint8_t *dp = d8 + base + (int64_t)l * 4;
                const uint32_t f4 = 0x01010101u * flip;
                int64_t q = 0;
                for (; 4 * q + 4 <= k; q++) {
                    uint32_t v;
                    memcpy(&v, sp + 4 * q, 4);
                    v ^= f4;
                    memcpy(dp + q * panel * 4, &v, 4);
                }
                for (int64_t d = 4 * q; d < kq; d++)
                    dp[q * panel * 4 + (d & 3)] = d < k ? (uint8_t)(sp[d] ^ flip) : 0;
                for (int64_t d = 0; d < k; d++) {
                    uint8_t b = sp[d] ^ flip;
                    s += is_u8 ? (int32_t)b : (int32_t)(int8_t)b;
                }
                if (sums) sums[line] = s;
                continue;
            }
            for (int64_t d = 0; d < kq; d++) {
                int32_t v = 0;
                if (line < lines && d < k) {
                    uint8_t b = src[line * s_line + d * s_depth] ^ flip;
                    v = is_u8 ? (int32_t)b : (int32_t)(int8_t)b;
                }
                s += v;
                int64_t at = base + ((d >> 2) * panel + l) * 4 + (d & 3);
                if (wide) d16[at] = (int16_t)v;
                else d8[at] = (uint8_t)v;
            }
            if (sums && line < lines) sums[line] = s;
        }
    }
}

#if defined(__x86_64__)
/* 32 columns at a time: the byte and 16-bit unpacks work within 128-bit lanes, so each result
 * holds columns c..c+3 and c+16..c+19; the lane permutes put them back in column order. */
__attribute__((target("avx2"))) static int64_t interleave4_avx2(const uint8_t *const rows[4],
                                                                 int64_t n, uint8_t flip,
                                                                 uint8_t *dst) {
    const __m256i f = _mm256_set1_epi8((char)flip);
    int64_t l = 0;
    for (; l + 32 <= n; l += 32) {
        __m256i r0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(rows[0] + l)), f);
        __m256i r1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(rows[1] + l)), f);
        __m256i r2 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(rows[2] + l)), f);
        __m256i r3 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(rows[3] + l)), f);
        __m256i a = _mm256_unpacklo_epi8(r0, r1), b = _mm256_unpackhi_epi8(r0, r1);
        __m256i c = _mm256_unpacklo_epi8(r2, r3), d = _mm256_unpackhi_epi8(r2, r3);
        __m256i e0 = _mm256_unpacklo_epi16(a, c), e1 = _mm256_unpackhi_epi16(a, c);
        __m256i e2 = _mm256_unpacklo_epi16(b, d), e3 = _mm256_unpackhi_epi16(b, d);
        __m256i *o = (__m256i *)(dst + l * 4);
        _mm256_storeu_si256(o, _mm256_permute2x128_si256(e0, e1, 0x20));
        _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(e2, e3, 0x20));
        _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(e0, e1, 0x31));
        _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(e2, e3, 0x31));
    }
    return l;
}

/* Two 32-column panels at a time (64 columns, AVX-512BW): as above within each 128-bit lane
 * (lane L of e_k holds the quads of columns 16L + 4k .. 16L + 4k + 3), then 64-bit lane
 * shuffles gather each panel half. Returns the columns done (a multiple of 64). */
__attribute__((target("avx512f,avx512bw"))) static int64_t
interleave4_panels512(const uint8_t *const rows[4], int64_t n, int64_t stride, uint8_t flip,
                      uint8_t *dst) {
    const __m512i f = _mm512_set1_epi8((char)flip);
    int64_t l = 0;
    for (; l + 64 <= n; l += 64) {
        __m512i r0 = _mm512_xor_si512(_mm512_loadu_si512(rows[0] + l), f);
        __m512i r1 = _mm512_xor_si512(_mm512_loadu_si512(rows[1] + l), f);
        __m512i r2 = _mm512_xor_si512(_mm512_loadu_si512(rows[2] + l), f);
        __m512i r3 = _mm512_xor_si512(_mm512_loadu_si512(rows[3] + l), f);
        __m512i a = _mm512_unpacklo_epi8(r0, r1), b = _mm512_unpackhi_epi8(r0, r1);
        __m512i c = _mm512_unpacklo_epi8(r2, r3), d = _mm512_unpackhi_epi8(r2, r3);
        __m512i e0 = _mm512_unpacklo_epi16(a, c), e1 = _mm512_unpackhi_epi16(a, c);
        __m512i e2 = _mm512_unpacklo_epi16(b, d), e3 = _mm512_unpackhi_epi16(b, d);
        __m512i x0 = _mm512_shuffle_i64x2(e0, e1, 0x44), x1 = _mm512_shuffle_i64x2(e2, e3, 0x44);
        __m512i y0 = _mm512_shuffle_i64x2(e0, e1, 0xEE), y1 = _mm512_shuffle_i64x2(e2, e3, 0xEE);
        uint8_t *p0 = dst + (l / 32) * stride, *p1 = p0 + stride;
        _mm512_storeu_si512(p0, _mm512_shuffle_i64x2(x0, x1, 0x88));
        _mm512_storeu_si512(p0 + 64, _mm512_shuffle_i64x2(x0, x1, 0xDD));
        _mm512_storeu_si512(p1, _mm512_shuffle_i64x2(y0, y1, 0x88));
        _mm512_storeu_si512(p1 + 64, _mm512_shuffle_i64x2(y0, y1, 0xDD));
    }
    return l;
}

/* The best x86 level the CPU runs: 0 SSE2, 1 AVX2, 2 AVX-512 F/BW (packing asks per block
 * row; lcv_cpu_detect reads the CPU once per process). */
static int cpu_level(void) {
    lcv_cpu_info ci;
    lcv_cpu_detect(&ci);
    lcv_isa best = lcv_cpu_best_isa(&ci);
    return best == LCV_ISA_AVX512 ? 2 : best == LCV_ISA_AVX2 ? 1 : 0;
}
#endif

void lcv_i8gemm_interleave4(const uint8_t *const rows[4], int64_t n, uint8_t flip,
                            uint8_t *dst) {
    int64_t l = 0;
#if defined(__x86_64__) /* SSE2 is part of x86-64: byte then 16-bit unpacks transpose 4 x 16 */
    if (n >= 32 && cpu_level() >= 1) l = interleave4_avx2(rows, n, flip, dst);
    const __m128i f = _mm_set1_epi8((char)flip);
    for (; l + 16 <= n; l += 16) {
        __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[0] + l)), f);
        __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[1] + l)), f);
        __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[2] + l)), f);
        __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[3] + l)), f);
        __m128i a = _mm_unpacklo_epi8(r0, r1), b = _mm_unpackhi_epi8(r0, r1);
        __m128i c = _mm_unpacklo_epi8(r2, r3), d = _mm_unpackhi_epi8(r2, r3);
        __m128i *o = (__m128i *)(dst + l * 4);
        _mm_storeu_si128(o, _mm_unpacklo_epi16(a, c));
        _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(a, c));
        _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(b, d));
        _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(b, d));
    }
#endif
    for (; l < n; l++)
        for (int e = 0; e < 4; e++) dst[l * 4 + e] = rows[e][l] ^ flip;
}

void lcv_i8gemm_interleave4_panels(const uint8_t *const rows[4], int64_t n, int nr,
                                   int64_t panel_stride, uint8_t flip, uint8_t *dst) {
    int64_t l = 0;
#if defined(__x86_64__)
    if (nr == 32 && cpu_level() >= 2) l = interleave4_panels512(rows, n, panel_stride, flip, dst);
#endif
    for (; l < n; l += nr) {
        const uint8_t *pr[4] = {rows[0] + l, rows[1] + l, rows[2] + l, rows[3] + l};
        lcv_i8gemm_interleave4(pr, nr, flip, dst + (l / nr) * panel_stride);
    }
}

/* Column panels of nr per B block for depth kq (at least one). */
static int64_t block_panels(int64_t kq, int nr) {
    int64_t p = I8GEMM_BLOCK_BYTES / (kq * nr);
    return p < 1 ? 1 : p;
}

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

/* Per-thread workspace: the B block, then its column sums. */
static size_t ws_per_thread(int64_t kq, int nr, size_t *sums_off) {
    int64_t share = I8GEMM_SHARE_BYTES / (kq * nr), blk = block_panels(kq, nr);
    int64_t cols = (share > blk ? share : blk) * nr;
    *sums_off = round64((size_t)(cols * kq));
    return *sums_off + round64(sizeof(int32_t) * (size_t)cols);
}

size_t lcv_i8gemm_ws_size(lcv_i8gemm_kind kind, int64_t k, int threads) {
    if (k < 1 || k > ((int64_t)1 << 40)) return 0;
    size_t off, per = ws_per_thread(lcv_i8gemm_kq(k), kernel_for(kind).nr, &off);
    if (threads < 1) threads = 1;
    if (per > SIZE_MAX / (size_t)threads) return 0;
    return per * (size_t)threads;
}

typedef struct i8_job {
    const lcv_i8gemm_args *g;
    i8_kernel kr;
    int64_t kq, pm, pn, ncp;
    int tm, tn;
    size_t ws_per, sums_off;
} i8_job;

/* Sums over the depth of columns [0, cols) of a block of panels (B read as its signedness). */
static void block_sums(const uint8_t *b, int64_t kq, int nr, int64_t cols, bool b_u8,
                       int32_t *sums) {
    for (int64_t j = 0; j < cols; j++) {
        const uint8_t *p = b + (j / nr) * kq * nr + (j % nr) * 4;
        int32_t s = 0;
        for (int64_t q = 0; q < kq / 4; q++, p += (int64_t)nr * 4)
            for (int e = 0; e < 4; e++) s += b_u8 ? (int32_t)p[e] : (int32_t)(int8_t)p[e];
        sums[j] = s;
    }
}

static void i8_block(const i8_job *j, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                     uint8_t *ws) {
    const lcv_i8gemm_args *g = j->g;
    const int mr = j->kr.mr, nr = j->kr.nr;
    const int64_t kq = j->kq;
    const uint8_t *bblk;
    if (g->pack_b) {
        g->pack_b(g->pack_ctx, j0, j1, nr, ws);
        bblk = ws;
    } else {
        bblk = g->b + j0 * kq;
    }
    int32_t *bsum = NULL;
    if (g->epi->row_z) {
        bsum = (int32_t *)(void *)(ws + j->sums_off);
        block_sums(bblk, kq, nr, j1 - j0, !g->a_u8, bsum);
    }
    const size_t esz = g->epi->out == LCV_I8_OUT_S32 ? 4 : 1;
    const int ab = elem_bytes(g->kind, true);
    lcv_i8gemm_tile t;
    memset(&t, 0, sizeof t);
    t.kq = kq;
    t.a_u8 = g->a_u8;
    t.epi = g->epi;
    t.ldc = g->ldc;
    for (int64_t i = i0; i < i1; i += mr) {
        t.a = (const uint8_t *)g->a + i * kq * ab;
        t.mr = i1 - i < mr ? (int)(i1 - i) : mr;
        t.i0 = i;
        for (int64_t jj = j0; jj < j1; jj += nr) {
            t.nr = j1 - jj < nr ? (int)(j1 - jj) : nr;
            t.b = bblk + (jj - j0) * kq;
            t.j0 = jj;
            t.bsum = bsum ? bsum + (jj - j0) : NULL;
            t.c = (uint8_t *)g->c + (size_t)(i * g->ldc + jj) * esz;
            j->kr.tile(&t);
        }
    }
}

static void share(int64_t total, int parts, int s, int64_t *b, int64_t *e) {
    *b = total * s / parts;
    *e = total * (s + 1) / parts;
}

static void i8_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const i8_job *j = ctx;
    const int mr = j->kr.mr, nr = j->kr.nr;
    uint8_t *ws = j->g->ws ? j->g->ws + (size_t)thread * j->ws_per : NULL;
    for (int64_t t = begin; t < end; t++) {
        int64_t pm0, pm1, pn0, pn1;
        share(j->pm, j->tm, (int)(t % j->tm), &pm0, &pm1);
        share(j->pn, j->tn, (int)(t / j->tm), &pn0, &pn1);
        if (pm0 >= pm1 || pn0 >= pn1) continue;
        int64_t i0 = pm0 * mr, i1 = pm1 * mr < j->g->m ? pm1 * mr : j->g->m;
        for (int64_t p = pn0; p < pn1; p += j->ncp) {
            int64_t pe = p + j->ncp < pn1 ? p + j->ncp : pn1;
            int64_t j1 = pe * nr < j->g->n ? pe * nr : j->g->n;
            i8_block(j, i0, i1, p * nr, j1, ws);
        }
    }
}

lcv_status lcv_i8gemm_run(const lcv_i8gemm_args *g, lcv_threadpool *pool, lcv_err *e) {
    if (!g || !g->a || !g->c || !g->epi || (!g->b && !g->pack_b))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "i8gemm: NULL argument");
    if (g->m < 1 || g->n < 1 || g->k < 1 || g->ldc < g->n || g->k > ((int64_t)1 << 40))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "i8gemm: bad dims M=%lld N=%lld K=%lld ldc=%lld",
                        (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->ldc);
    if ((g->pack_b || g->epi->row_z) && !g->ws)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "i8gemm: a packing callback or row zero points "
                        "need a workspace");
    if (g->epi->col_z && !g->epi->a_sums)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "i8gemm: column zero points need A's row sums");
    i8_job j;
    j.g = g;
    j.kr = kernel_for(g->kind);
    j.kq = lcv_i8gemm_kq(g->k);
    j.pm = (g->m + j.kr.mr - 1) / j.kr.mr;
    j.pn = (g->n + j.kr.nr - 1) / j.kr.nr;
    j.ncp = block_panels(j.kq, j.kr.nr);
    j.ws_per = ws_per_thread(j.kq, j.kr.nr, &j.sums_off);
    /* Split the columns when there are enough panels (each share reads all of the packed A
     * once per block), else the rows; tiny products stay on one thread. */
    int threads = lcv_threadpool_size(pool);
    j.tm = j.tn = 1;
    double ops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    if (threads > 1 && ops >= 2e5) {
        if (j.pn >= threads) j.tn = threads;
        else if (j.pm >= threads) j.tm = threads;
        else {
            j.tn = (int)j.pn;
            j.tm = (int)(threads / j.tn < j.pm ? threads / j.tn : j.pm);
        }
    }
    int64_t share = (j.pn + j.tn - 1) / j.tn;
    if (share * j.kq * j.kr.nr <= I8GEMM_SHARE_BYTES) j.ncp = share;
    lcv_threadpool_parallel_for(pool, (int64_t)j.tm * j.tn, 1, i8_task, &j);
    return LCV_OK;
}
