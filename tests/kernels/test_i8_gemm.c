/* test_i8_gemm.c - the int8 GEMM (src/kernels/i8-gemm) against a plain int64 triple loop with
 * the shared requantization, bit for bit: every kernel this CPU runs, odd M/N/K around the
 * tiles and quads, uint8/int8 on either side (shifted into the kernel's u8 x s8 form), every
 * zero point arrangement, bias per row/column, int32 and 8-bit outputs with clamps, B
 * pre-packed or produced by a callback, guard bytes around C, 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/i8-gemm/i8gemm.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int64_t rnd_range(int64_t lo, int64_t hi) {
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static void *xalloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1)) return NULL;
    return p;
}

typedef struct icase {
    int64_t m, n, k;
    bool a_u8;           /* the kernel's u8 side is A */
    bool a_signed, b_signed; /* the user's dtypes of A and B */
    bool zb_per_col;     /* else za may be per row */
    bool za_vec, zb_vec;
    int bias;            /* 0 none, 1 per row, 2 per column */
    int mult_kind;       /* 0 scalar, 1 per row, 2 per column */
    lcv_i8_out out;
    bool relu;           /* clamp the low end at zy */
    bool callback;       /* B produced by pack_b */
} icase;

static int32_t val(const uint8_t *p, int64_t i, bool sgn) {
    return sgn ? (int32_t)(int8_t)p[i] : (int32_t)p[i];
}

typedef struct cb_src {
    lcv_i8gemm_kind kind;
    bool is_u8;
    const uint8_t *b;
    int64_t k, n;
    uint8_t flip;
} cb_src;

static void cb_pack(const void *ctx, int64_t j0, int64_t j1, int nr, uint8_t *dst) {
    const cb_src *s = ctx;
    (void)nr;
    lcv_i8gemm_pack(s->kind, false, s->is_u8, j1 - j0, s->k, s->b + j0, 1, s->n, s->flip, NULL,
                    dst);
}

static void check_case(const icase *c, lcv_i8gemm_kind kind, lcv_threadpool *pool) {
    const int64_t m = c->m, n = c->n, k = c->k, ldc = n + 3;
    uint8_t *a = malloc((size_t)(m * k)), *b = malloc((size_t)(k * n));
    int32_t za[64 + 512], zb[512 + 64], bias_r[600], bias_c[600];
    float mr[600], mc[600];
    for (int64_t i = 0; i < m * k; i++) a[i] = (uint8_t)rnd();
    for (int64_t i = 0; i < k * n; i++) b[i] = (uint8_t)rnd();
    /* zero points in the operand's range (sometimes at its edges) */
    for (int64_t i = 0; i < 600; i++) {
        int32_t r = (int32_t)(rnd() % 256);
        if (rnd() % 5 == 0) r = rnd() % 2 ? 0 : 255;
        za[i % 576] = c->a_signed ? r - 128 : r;
        r = (int32_t)(rnd() % 256);
        zb[i % 576] = c->b_signed ? r - 128 : r;
        bias_r[i] = (int32_t)(rnd() % 200001) - 100000;
        bias_c[i] = (int32_t)(rnd() % 200001) - 100000;
        mr[i] = (float)(rnd() % 1000 + 1) * 1e-6f;
        mc[i] = (float)(rnd() % 1000 + 1) * 1e-6f;
    }
    if (!c->za_vec) for (int i = 1; i < 576; i++) za[i] = za[0];
    if (!c->zb_vec) for (int i = 1; i < 576; i++) zb[i] = zb[0];
    if (c->zb_per_col) for (int i = 1; i < 576; i++) za[i] = za[0];
    else for (int i = 1; i < 576; i++) zb[i] = zb[0];
    int32_t zy = c->out == LCV_I8_OUT_U8 ? (int32_t)(rnd() % 256) : (int32_t)(rnd() % 256) - 128;
    int32_t lo = c->out == LCV_I8_OUT_U8 ? 0 : -128, hi = lo + 255;
    if (c->relu) lo = zy;
    /* the reference: exact sums, int32 wrap, bias, shared requantization */
    size_t esz = c->out == LCV_I8_OUT_S32 ? 4 : 1;
    uint8_t *want = malloc((size_t)(m * ldc) * esz);
    memset(want, 0xA5, (size_t)(m * ldc) * esz);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (int64_t)(val(a, i * k + kk, c->a_signed) - za[i]) *
                     (val(b, kk * n + j, c->b_signed) - zb[j]);
            if (c->bias == 1) s += bias_r[i];
            if (c->bias == 2) s += bias_c[j];
            int32_t v = lcv_i32_wrap(s);
            if (c->out == LCV_I8_OUT_S32) {
                memcpy(want + (size_t)(i * ldc + j) * 4, &v, 4);
                continue;
            }
            float mu = c->mult_kind == 1 ? mr[i] : c->mult_kind == 2 ? mc[j] : mr[0];
            want[i * ldc + j] = (uint8_t)lcv_i8_requant(v, mu, zy, lo, hi);
        }
    /* the kernel's form: u8 side shifted to unsigned, s8 side to signed */
    bool a_is_u8 = c->a_u8;
    uint8_t fa = (uint8_t)(a_is_u8 == c->a_signed ? 0x80 : 0);
    uint8_t fb = (uint8_t)(!a_is_u8 == c->b_signed ? 0x80 : 0);
    int32_t sa = fa ? (c->a_signed ? 128 : -128) : 0, sb = fb ? (c->b_signed ? 128 : -128) : 0;
    size_t pa = lcv_i8gemm_pack_size(kind, true, m, k), pb = lcv_i8gemm_pack_size(kind, false, n, k);
    void *ap = xalloc(pa);
    uint8_t *bp = xalloc(pb);
    int32_t *asum = malloc(sizeof(int32_t) * (size_t)m), *bsum = malloc(sizeof(int32_t) * (size_t)n);
    lcv_i8gemm_pack(kind, true, a_is_u8, m, k, a, k, 1, fa, asum, ap);
    lcv_i8gemm_pack(kind, false, !a_is_u8, n, k, b, 1, n, fb, bsum, bp);
    int32_t *row_add = calloc((size_t)m, 4), *row_z = calloc((size_t)m, 4);
    int32_t *col_add = calloc((size_t)n, 4), *col_z = calloc((size_t)n, 4);
    lcv_i8gemm_epi epi;
    memset(&epi, 0, sizeof epi);
    /* sum (a - za)(b - zb) = acc - za * bsum - zb * asum + k * za * zb, in shifted values */
    if (!c->zb_per_col) {
        for (int64_t i = 0; i < m; i++) {
            int32_t zai = za[i] + sa, zbs = zb[0] + sb;
            row_add[i] = lcv_i32_sub(lcv_i32_mul((int32_t)k, lcv_i32_mul(zai, zbs)),
                                     lcv_i32_mul(zbs, asum[i]));
            row_z[i] = zai;
        }
        epi.row_add = row_add;
        epi.row_z = row_z;
    } else {
        for (int64_t j = 0; j < n; j++) {
            int32_t zas = za[0] + sa, zbj = zb[j] + sb;
            col_add[j] = lcv_i32_sub(lcv_i32_mul((int32_t)k, lcv_i32_mul(zas, zbj)),
                                     lcv_i32_mul(zas, bsum[j]));
            col_z[j] = zbj;
        }
        epi.col_add = col_add;
        epi.col_z = col_z;
        epi.a_sums = asum;
    }
    for (int64_t i = 0; i < m && c->bias == 1; i++) row_add[i] = lcv_i32_add(row_add[i], bias_r[i]);
    if (c->bias == 2) {
        for (int64_t j = 0; j < n; j++) col_add[j] = lcv_i32_add(col_add[j], bias_c[j]);
        epi.col_add = col_add;
    }
    if (c->bias == 1) epi.row_add = row_add;
    epi.mult = mr[0];
    if (c->mult_kind == 1) epi.row_mult = mr;
    if (c->mult_kind == 2) epi.col_mult = mc;
    epi.zy = zy;
    epi.lo = lo;
    epi.hi = hi;
    epi.out = c->out;
    cb_src src = {kind, !a_is_u8, b, k, n, fb};
    for (int th = 0; th < 2; th++) {
        lcv_threadpool *p = th ? pool : NULL;
        size_t wsb = lcv_i8gemm_ws_size(kind, k, lcv_threadpool_size(p));
        uint8_t *ws = xalloc(wsb), *got = malloc((size_t)(m * ldc) * esz);
        memset(got, 0xA5, (size_t)(m * ldc) * esz);
        lcv_i8gemm_args g = {kind, m, n, k, a_is_u8, ap, c->callback ? NULL : bp,
                             c->callback ? cb_pack : NULL, &src, ws, &epi, got, ldc};
        lcv_err e;
        CHECK(lcv_i8gemm_run(&g, p, &e) == LCV_OK);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < m * ldc * (int64_t)esz; i++)
            if (got[i] != want[i] && bad++ == 0) first = i;
        CHECK_MSG(bad == 0, "%s th=%d m=%lld n=%lld k=%lld a_u8=%d sgn=%d%d zcol=%d bias=%d mult=%d "
                  "out=%d relu=%d cb=%d: %lld bad bytes, first at %lld (%u vs %u)",
                  lcv_i8gemm_name(kind), th + 1, (long long)m, (long long)n, (long long)k,
                  c->a_u8, c->a_signed, c->b_signed, c->zb_per_col, c->bias, c->mult_kind,
                  (int)c->out, c->relu, c->callback, (long long)bad, (long long)first,
                  first >= 0 ? got[first] : 0, first >= 0 ? want[first] : 0);
        free(ws);
        free(got);
    }
    free(a); free(b); free(want); free(ap); free(bp); free(asum); free(bsum);
    free(row_add); free(row_z); free(col_add); free(col_z);
}

static icase random_case(int64_t maxm, int64_t maxn, int64_t maxk) {
    icase c;
    memset(&c, 0, sizeof c);
    c.m = rnd_range(1, maxm);
    c.n = rnd_range(1, maxn);
    c.k = rnd_range(1, maxk);
    c.a_u8 = rnd() % 2;
    c.a_signed = rnd() % 2;
    c.b_signed = rnd() % 2;
    c.zb_per_col = rnd() % 2;
    c.za_vec = rnd() % 2;
    c.zb_vec = rnd() % 2;
    c.bias = (int)(rnd() % 3);
    c.mult_kind = (int)(rnd() % 3);
    c.out = (lcv_i8_out)(rnd() % 3);
    c.relu = rnd() % 3 == 0;
    c.callback = rnd() % 2;
    return c;
}

/* The requantization itself: half-to-even ties, saturation, the clamp, NaN. */
static void test_requant(void) {
    CHECK(lcv_i8_requant(5, 0.5f, 0, -128, 127) == 2);   /* 2.5 -> 2 */
    CHECK(lcv_i8_requant(7, 0.5f, 0, -128, 127) == 4);   /* 3.5 -> 4 */
    CHECK(lcv_i8_requant(-5, 0.5f, 10, -128, 127) == 8); /* -2.5 -> -2, + 10 */
    CHECK(lcv_i8_requant(100000, 1.0f, 3, 0, 255) == 255);
    CHECK(lcv_i8_requant(-100000, 1.0f, 3, 0, 255) == 0);
    CHECK(lcv_i8_requant(-20, 1.0f, 3, 3, 255) == 3); /* a fused Relu: clamp at zy */
    CHECK(lcv_i8_requant(0, __builtin_nanf(""), 3, -128, 127) == -128);
    CHECK(lcv_i8_requant(INT32_MAX, 1.0f, 0, -128, 127) == 127);
}

/* The quad interleaves against their definition: single runs of n columns (the vector bodies
 * and the byte tail) and panel runs (pairs of 32-column panels and an odd one left over),
 * with and without the flip; bytes between panels must stay untouched. */
static void test_interleave(void) {
    enum { MAXN = 7 * 32 + 5 };
    static uint8_t src[4][MAXN], out[8 * 200 + 64];
    for (int e = 0; e < 4; e++)
        for (int l = 0; l < MAXN; l++) src[e][l] = (uint8_t)rnd();
    const uint8_t *rows[4] = {src[0], src[1], src[2], src[3]};
    for (int it = 0; it < 40; it++) {
        uint8_t flip = it % 2 ? 0x80 : 0;
        int64_t n = rnd_range(1, MAXN);
        memset(out, 0xA5, sizeof out);
        lcv_i8gemm_interleave4(rows, n, flip, out);
        int64_t bad = 0;
        for (int64_t l = 0; l < n; l++)
            for (int e = 0; e < 4; e++) bad += out[l * 4 + e] != (uint8_t)(src[e][l] ^ flip);
        bad += out[n * 4] != 0xA5;
        CHECK_MSG(bad == 0, "interleave4 n %lld flip %d: %lld bad bytes", (long long)n, flip,
                  (long long)bad);
        int nr = it % 4 < 2 ? 32 : 8;
        int64_t np = rnd_range(1, 7), stride = nr * 4 + rnd_range(0, 3) * 4;
        memset(out, 0xA5, sizeof out);
        lcv_i8gemm_interleave4_panels(rows, np * nr, nr, stride, flip, out);
        bad = 0;
        for (int64_t p = 0; p < np; p++) {
            for (int64_t l = 0; l < nr; l++)
                for (int e = 0; e < 4; e++)
                    bad += out[p * stride + l * 4 + e] != (uint8_t)(src[e][p * nr + l] ^ flip);
            for (int64_t b = nr * 4; b < stride; b++) bad += out[p * stride + b] != 0xA5;
        }
        CHECK_MSG(bad == 0, "interleave4_panels nr %d panels %lld stride %lld flip %d: %lld bad "
                  "bytes", nr, (long long)np, (long long)stride, flip, (long long)bad);
    }
}

static void test_errors(void) {
    lcv_i8gemm_epi epi;
    memset(&epi, 0, sizeof epi);
    uint8_t buf[64] = {0};
    lcv_i8gemm_args g = {LCV_I8GEMM_SCALAR, 0, 4, 4, false, buf, buf, NULL, NULL, NULL, &epi,
                         buf, 4};
    lcv_err e;
    CHECK(lcv_i8gemm_run(&g, NULL, &e) == LCV_ERR_INVALID_ARG);
    g.m = 1;
    g.b = NULL;
    g.pack_b = cb_pack;
    CHECK(lcv_i8gemm_run(&g, NULL, &e) == LCV_ERR_INVALID_ARG); /* callback without ws */
    CHECK(lcv_i8gemm_pack_size(LCV_I8GEMM_SCALAR, true, 0, 4) == 0);
}

int main(void) {
    lcv_threadpool *pool = NULL;
    lcv_err e;
    CHECK(lcv_threadpool_create(2, &pool, &e) == LCV_OK);
    test_requant();
    test_interleave();
    test_errors();
    for (int ki = 0; ki < 3; ki++) {
        lcv_i8gemm_kind kind = (lcv_i8gemm_kind)ki;
        if (!lcv_i8gemm_supported(kind)) {
            printf("kernel %s: not supported by this CPU\n", lcv_i8gemm_name(kind));
            continue;
        }
        printf("kernel %s\n", lcv_i8gemm_name(kind));
        /* K around the quads and 16/64 multiples, M and N around the tiles */
        static const int64_t ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 129};
        for (size_t ki2 = 0; ki2 < sizeof ks / sizeof ks[0]; ki2++)
            for (int64_t m = 1; m <= 14; m += 3) {
                icase c = random_case(14, 40, 8);
                c.k = ks[ki2];
                c.m = m;
                c.n = rnd_range(1, 70);
                check_case(&c, kind, pool);
            }
        for (int it = 0; it < 150; it++) {
            icase c = random_case(30, 80, 70);
            check_case(&c, kind, pool);
        }
        for (int it = 0; it < 4; it++) { /* several B blocks and row shares */
            icase c = random_case(60, 260, 8);
            c.m = rnd_range(30, 60);
            c.n = rnd_range(150, 260);
            c.k = rnd_range(1500, 3100);
            check_case(&c, kind, pool);
        }
    }
    lcv_threadpool_free(pool);
    return lcv_test_finish("test_i8_gemm");
}
