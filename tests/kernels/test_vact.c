/* test_vact.c - the vectorised elementwise kernels (src/kernels/f32-vact) at every ISA level
 * this CPU runs: each fused activation against lcv_act_f32 (bit-exact for the piecewise-linear
 * ones, within a few ulp for sigmoid/SiLU/tanh, same NaN/inf behaviour), Erf/Exp against libm,
 * a sweep of the float range against double-precision truth, and the binary, sum, softmax and
 * layernorm rows against plain C, on every length 0..67 (vector remainders). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/f32-vact/vact.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}

/* Uniform in [lo, hi). */
static float rndf(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

/* A float from random bits: every exponent, NaNs and infinities included. */
static float rnd_bits(void) {
    uint32_t u = rnd();
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const float specials[] = {0.0f,      -0.0f,     1.0f,      -1.0f,     0.5f,     -0.5f,
                                 3.0f,      -3.0f,     6.0f,      -6.0f,     1e-30f,   -1e-30f,
                                 1e-45f,    -1e-45f,   FLT_MIN,   -FLT_MIN,  88.0f,    -88.0f,
                                 88.72f,    -88.72f,   88.8f,     -88.8f,    89.5f,    -89.5f,
                                 104.0f,    -104.0f,   200.0f,    -200.0f,   1e30f,    -1e30f,
                                 FLT_MAX,   -FLT_MAX,  INFINITY,  -INFINITY, NAN,      -NAN,
                                 0.5625f,   -0.5625f,  0.5624999f, 3.92f,    4.0f,     -4.0f,
                                 0.4999999f, 9.0f,     -9.0f,     20.0f,     -20.0f,   1.2345678f};
#define N_SPECIALS ((int)(sizeof specials / sizeof specials[0]))

/* Distance in representable floats; -0 and +0 are the same point. */
static int64_t ulp_dist(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? -(int64_t)(ia & 0x7fffffff) : ia;
    int64_t ob = ib < 0 ? -(int64_t)(ib & 0x7fffffff) : ib;
    return oa > ob ? oa - ob : ob - oa;
}

/* got agrees with want: both NaN, or within max_ulp, or both below the normal range (where
 * ulps mean nothing and the definitions may flush differently). */
static bool close_ulp(float got, float want, int64_t max_ulp) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    if (fabsf(want) < FLT_MIN && fabsf(got) < FLT_MIN) return true;
    return ulp_dist(got, want) <= max_ulp;
}

static bool same_bits(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static const char *act_name(int k) {
    static const char *names[] = {"none",        "relu",      "clip", "leakyrelu", "sigmoid",
                                  "hardsigmoid", "hardswish", "silu", "tanh", "gelu"};
    return k >= 0 && k <= LCV_ACT_GELU ? names[k] : "?";
}

#define GUARD 12345.0f

/* GELU's 1 + erf(x / sqrt 2) cancels for negative x, so an erf error of a few ulp of 1 shows
 * as up to ~2e-7 |x| absolute error in the result, however small the result is. */
static bool gelu_close(float got, float want, float x) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    return close_ulp(got, want, 4) || fabsf(got - want) <= 2.5e-7f * fabsf(x);
}

/* Fills x[0, n) with a mix of specials and values from several ranges. */
static void fill_inputs(float *x, int64_t n, int mode) {
    for (int64_t i = 0; i < n; i++) {
        switch ((mode + i) % 5) {
        case 0: x[i] = specials[rnd() % N_SPECIALS]; break;
        case 1: x[i] = rndf(-1.0f, 1.0f); break;
        case 2: x[i] = rndf(-12.0f, 12.0f); break;
        case 3: x[i] = rndf(-120.0f, 120.0f); break;
        default: x[i] = rnd_bits(); break;
        }
    }
}

/* Every fused activation on lengths 0..67 (in place, guards after the end untouched). */
static void test_acts(lcv_isa isa) {
    static const float params[][2] = {{-0.5f, 0.75f}, {0.0f, 6.0f}, {1.0f, -1.0f}, {0.2f, 0.5f},
                                      {1.0f / 6.0f, 0.5f}, {-0.3f, 2.0f}};
    const int n_params = (int)(sizeof params / sizeof params[0]);
    for (int k = LCV_ACT_NONE; k <= LCV_ACT_GELU; k++) {
        bool exact = k != LCV_ACT_SIGMOID && k != LCV_ACT_SILU && k != LCV_ACT_TANH &&
                     k != LCV_ACT_GELU;
        int bad = 0;
        for (int64_t n = 0; n <= 67; n++) {
            const float *pr = params[n % n_params];
            lcv_fused f = {(lcv_act_kind)k, pr[0], pr[1], -1};
            float x[80], y[80];
            fill_inputs(x, n, (int)n);
            if (n == 67) memcpy(x, specials, sizeof specials); /* every special at least once */
            memcpy(y, x, sizeof(float) * (size_t)n);
            for (int i = (int)n; i < 80; i++) y[i] = GUARD;
            lcv_vact_apply(isa, &f, y, n);
            for (int64_t i = 0; i < n; i++) {
                float want = lcv_act_f32(&f, x[i]);
                bool ok = exact                 ? same_bits(y[i], want)
                          : k == LCV_ACT_GELU ? gelu_close(y[i], want, x[i])
                                              : close_ulp(y[i], want, 4);
                if (!ok && bad++ < 5)
                    fprintf(stderr, "isa %s %s(%g, %g) x=%.9g: %.9g, want %.9g\n",
                            lcv_isa_name(isa), act_name(k), (double)f.alpha, (double)f.beta,
                            (double)x[i], (double)y[i], (double)want);
            }
            for (int i = (int)n; i < 80; i++)
                if (y[i] != GUARD) bad++;
        }
        CHECK_MSG(bad == 0, "isa %s act %s: %d mismatches", lcv_isa_name(isa), act_name(k), bad);
    }
    float v = 2.0f;
    lcv_vact_apply(isa, NULL, &v, 1); /* NULL: no activation */
    CHECK(v == 2.0f);
}

static float hsig_ab(float x, float a, float b) {
    float v = a * x + b;
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

/* The functions beyond the fused set, out of place and in place. */
static void test_fns(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    CHECK(k->isa == isa || isa > LCV_ISA_AVX512);
    static const lcv_vfn fns[] = {LCV_VFN_ERF, LCV_VFN_EXP, LCV_VFN_RELU_KEEP_NAN,
                                  LCV_VFN_HARDSWISH_AB};
    for (size_t fi = 0; fi < sizeof fns / sizeof fns[0]; fi++) {
        int bad = 0;
        for (int64_t n = 0; n <= 67; n++) {
            float x[80], y[80], a = 1.0f / 6.0f, b = 0.5f;
            fill_inputs(x, n, (int)n + 1);
            if (n == 67) memcpy(x, specials, sizeof specials);
            for (int i = 0; i < 80; i++) y[i] = GUARD;
            bool in_place = n % 2 == 1;
            if (in_place) memcpy(y, x, sizeof(float) * (size_t)n);
            k->unary(fns[fi], a, b, in_place ? y : x, y, n);
            for (int64_t i = 0; i < n; i++) {
                float xv = x[i];
                bool ok;
                switch (fns[fi]) {
                case LCV_VFN_ERF: ok = close_ulp(y[i], erff(xv), 4); break;
                case LCV_VFN_EXP: ok = close_ulp(y[i], expf(xv), 3); break;
                case LCV_VFN_RELU_KEEP_NAN: ok = same_bits(y[i], xv < 0.0f ? 0.0f : xv); break;
                default: ok = same_bits(y[i], xv * hsig_ab(xv, a, b)); break;
                }
                if (!ok && bad++ < 5)
                    fprintf(stderr, "isa %s fn %d x=%.9g: %.9g\n", lcv_isa_name(isa),
                            (int)fns[fi], (double)xv, (double)y[i]);
            }
            for (int i = (int)n; i < 80; i++)
                if (y[i] != GUARD) bad++;
        }
        CHECK_MSG(bad == 0, "isa %s fn %d: %d mismatches", lcv_isa_name(isa), (int)fns[fi], bad);
    }
    /* erf is odd, saturates to exactly +-1 and keeps -0 */
    float x[4] = {INFINITY, -INFINITY, -0.0f, 10.0f}, y[4];
    k->unary(LCV_VFN_ERF, 0.0f, 0.0f, x, y, 4);
    CHECK(y[0] == 1.0f && y[1] == -1.0f && y[2] == 0.0f && signbit(y[2]) && y[3] == 1.0f);
}

/* A sweep over the float range (every 4099th bit pattern) against double-precision truth:
 * the approximations' own error, in ulp. */
static double truth(lcv_vfn fn, double x) {
    switch (fn) {
    case LCV_VFN_EXP: return exp(x);
    case LCV_VFN_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case LCV_VFN_SILU: return x / (1.0 + exp(-x));
    case LCV_VFN_TANH: return tanh(x);
    default: return erf(x);
    }
}

static void test_accuracy(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    static const lcv_vfn fns[] = {LCV_VFN_EXP, LCV_VFN_SIGMOID, LCV_VFN_SILU, LCV_VFN_TANH,
                                  LCV_VFN_ERF};
    static const char *names[] = {"exp", "sigmoid", "silu", "tanh", "erf"};
    enum { CHUNK = 4096 };
    float *x = malloc(sizeof(float) * CHUNK), *y = malloc(sizeof(float) * CHUNK);
    for (size_t fi = 0; fi < sizeof fns / sizeof fns[0]; fi++) {
        int64_t worst = 0, bad = 0;
        float worst_x = 0.0f;
        uint64_t u = 0;
        while (u < ((uint64_t)1 << 32)) {
            int m = 0;
            for (; m < CHUNK && u < ((uint64_t)1 << 32); u += 4099) {
                uint32_t bits = (uint32_t)u;
                float v;
                memcpy(&v, &bits, sizeof v);
                /* SiLU below -88.72: the definition (core/act.c) divides by an infinite
                 * exp(-x) and gives -0; test_acts covers that region. */
                if (isnan(v) || (fns[fi] == LCV_VFN_SILU && v < -88.0f)) continue;
                x[m++] = v;
            }
            k->unary(fns[fi], 0.0f, 0.0f, x, y, m);
            for (int i = 0; i < m; i++) {
                float want = (float)truth(fns[fi], (double)x[i]);
                if (fabsf(want) < FLT_MIN && fabsf(y[i]) < FLT_MIN) continue;
                int64_t d = isinf(want) ? (y[i] == want ? 0 : 1000) : ulp_dist(y[i], want);
                if (d > worst) {
                    worst = d;
                    worst_x = x[i];
                }
                if (d > 3) bad++;
            }
        }
        printf("  %-7s max %lld ulp (at x = %.9g)\n", names[fi], (long long)worst,
               (double)worst_x);
        CHECK_MSG(bad == 0, "isa %s %s: %lld inputs beyond 3 ulp, worst %lld at %.9g",
                  lcv_isa_name(isa), names[fi], (long long)bad, (long long)worst,
                  (double)worst_x);
    }
    free(x);
    free(y);
}

/* GELU, the vector kernel and its definition (core/act.c), against double-precision truth over
 * a sweep of the float range: within 4 ulp, or 2.5e-7 |x| where 1 + erf cancels. */
static void test_gelu_accuracy(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    const lcv_fused f = {LCV_ACT_GELU, 0.0f, 0.0f, -1};
    enum { CHUNK = 4096 };
    float x[CHUNK], y[CHUNK];
    int64_t bad = 0, checked = 0;
    for (uint64_t u = 0; u < ((uint64_t)1 << 32);) {
        int m = 0;
        for (; m < CHUNK && u < ((uint64_t)1 << 32); u += 8191) {
            uint32_t bits = (uint32_t)u;
            float v;
            memcpy(&v, &bits, sizeof v);
            if (!isnan(v) && !isinf(v)) x[m++] = v;
        }
        k->unary(LCV_VFN_GELU, 0.0f, 0.0f, x, y, m);
        for (int i = 0; i < m; i++) {
            double xd = x[i];
            float want = (float)(0.5 * xd * (1.0 + erf(xd / sqrt(2.0))));
            float def = lcv_act_f32(&f, x[i]);
            bool ok = (fabsf(want) < FLT_MIN && fabsf(y[i]) < FLT_MIN) ||
                      gelu_close(y[i], want, x[i]);
            ok = ok && ((fabsf(want) < FLT_MIN && fabsf(def) < FLT_MIN) ||
                        gelu_close(def, want, x[i]));
            if (!ok && bad++ < 5)
                fprintf(stderr, "isa %s gelu x=%.9g: kernel %.9g, definition %.9g, truth %.9g\n",
                        lcv_isa_name(isa), (double)x[i], (double)y[i], (double)def,
                        (double)want);
            checked++;
        }
    }
    CHECK_MSG(bad == 0 && checked > 500000, "isa %s gelu: %lld of %lld inputs off",
              lcv_isa_name(isa), (long long)bad, (long long)checked);
}

static float bin_c(lcv_vbin op, float a, float b) {
    switch (op) {
    case LCV_VBIN_ADD: return a + b;
    case LCV_VBIN_SUB: return a - b;
    case LCV_VBIN_MUL: return a * b;
    case LCV_VBIN_DIV: return a / b;
    case LCV_VBIN_RSUB: return b - a;
    default: return b / a;
    }
}

/* Binary rows: bit-identical to scalar C, with a vector or one value as b, in place too. */
static void test_binary(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    int bad = 0;
    for (int op = LCV_VBIN_ADD; op <= LCV_VBIN_RDIV; op++)
        for (int64_t n = 0; n <= 67; n++)
            for (int step = 0; step <= 1; step++) {
                float a[80], b[80], y[80];
                fill_inputs(a, n, 0);
                fill_inputs(b, n > 0 ? n : 1, 3);
                for (int i = 0; i < 80; i++) y[i] = GUARD;
                int alias = (int)(n % 3); /* 0: separate y, 1: y is a, 2: y is b */
                const float *pa = a, *pb = b;
                if (alias == 1) {
                    memcpy(y, a, sizeof(float) * (size_t)n);
                    pa = y;
                } else if (alias == 2 && step == 1) {
                    memcpy(y, b, sizeof(float) * (size_t)n);
                    pb = y;
                }
                k->binary((lcv_vbin)op, pa, pb, step, y, n);
                for (int64_t i = 0; i < n; i++)
                    if (!same_bits(y[i], bin_c((lcv_vbin)op, a[i], b[step ? i : 0]))) bad++;
                for (int i = (int)n; i < 80; i++)
                    if (y[i] != GUARD) bad++;
            }
    CHECK_MSG(bad == 0, "isa %s binary: %d mismatches", lcv_isa_name(isa), bad);
}

static void test_sum(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    static const int64_t big[] = {1023, 1024, 1025, 4099, 20000};
    float *x = malloc(sizeof(float) * 20000);
    int bad = 0;
    for (int64_t t = 0; t < 68 + 5; t++) {
        int64_t n = t < 68 ? t : big[t - 68];
        double exact = 0.0, mag = 0.0;
        for (int64_t i = 0; i < n; i++) {
            x[i] = rndf(-2.0f, 3.0f);
            exact += x[i];
            mag += fabsf(x[i]);
        }
        double got = k->sum(x, n);
        if (!(fabs(got - exact) <= 1e-6 * mag)) {
            if (bad++ < 3) fprintf(stderr, "sum n=%lld: %.9g vs %.9g\n", (long long)n, got, exact);
        }
    }
    CHECK_MSG(bad == 0, "isa %s sum: %d mismatches", lcv_isa_name(isa), bad);
    free(x);
}

/* Softmax and LogSoftmax rows against double precision; special rows keep the reference's
 * NaN behaviour. */
static void test_softmax(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    static const int64_t big[] = {197, 1000, 2500};
    float *x = malloc(sizeof(float) * 2500), *y = malloc(sizeof(float) * 2501);
    int bad = 0;
    for (int logsm = 0; logsm <= 1; logsm++)
        for (int64_t t = 1; t < 68 + 3; t++) {
            int64_t n = t < 68 ? t : big[t - 68];
            float shift = rndf(-50.0f, 50.0f);
            for (int64_t i = 0; i < n; i++)
                x[i] = (t % 7 == 3 && i % 5 == 1) ? -INFINITY : shift + rndf(-15.0f, 15.0f);
            if (t % 7 == 3) x[0] = shift; /* keep one finite value */
            y[n] = GUARD;
            k->softmax(x, y, n, logsm);
            double m = -INFINITY, s = 0.0;
            for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
            for (int64_t i = 0; i < n; i++) s += exp((double)x[i] - m);
            for (int64_t i = 0; i < n; i++) {
                double want = logsm ? ((double)x[i] - m) - log(s) : exp((double)x[i] - m) / s;
                double tol = logsm ? 2e-6 * (1.0 + fabs(want)) : 1e-6 * want + 1e-12;
                if (isinf(want) ? y[i] != want : !(fabs(y[i] - want) <= tol)) {
                    if (bad++ < 3)
                        fprintf(stderr, "softmax log=%d n=%lld [%lld]: %.9g vs %.9g\n", logsm,
                                (long long)n, (long long)i, (double)y[i], want);
                }
            }
            if (y[n] != GUARD) bad++;
        }
    /* A NaN, a +inf or only -inf make the whole row NaN, as in the reference. */
    float rows[3][5] = {{1.0f, NAN, 3.0f, 0.0f, 2.0f},
                        {1.0f, INFINITY, 3.0f, 0.0f, 2.0f},
                        {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
    for (int r = 0; r < 3; r++)
        for (int logsm = 0; logsm <= 1; logsm++) {
            k->softmax(rows[r], y, 5, logsm);
            for (int i = 0; i < 5; i++)
                if (!isnan(y[i])) bad++;
        }
    CHECK_MSG(bad == 0, "isa %s softmax: %d mismatches", lcv_isa_name(isa), bad);
    free(x);
    free(y);
}

static void test_layernorm(lcv_isa isa) {
    const lcv_vact_kernels *k = lcv_vact_kernels_for(isa);
    static const int64_t big[] = {768, 1500};
    float *x = malloc(sizeof(float) * 1500), *y = malloc(sizeof(float) * 1501);
    float *sc = malloc(sizeof(float) * 1500), *b = malloc(sizeof(float) * 1500);
    int bad = 0;
    for (int64_t t = 1; t < 68 + 2; t++) {
        int64_t n = t < 68 ? t : big[t - 68];
        float mean = rndf(-3.0f, 3.0f), spread = rndf(0.1f, 4.0f), eps = t % 2 ? 1e-5f : 1e-3f;
        for (int64_t i = 0; i < n; i++) {
            x[i] = mean + spread * rndf(-1.0f, 1.0f);
            sc[i] = rndf(-2.0f, 2.0f);
            b[i] = rndf(-1.0f, 1.0f);
        }
        bool with_bias = t % 3 != 0;
        y[n] = GUARD;
        k->layernorm(x, sc, with_bias ? b : NULL, eps, y, n);
        double m = 0.0, v = 0.0;
        for (int64_t i = 0; i < n; i++) m += x[i];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++) v += ((double)x[i] - m) * ((double)x[i] - m);
        v /= (double)n;
        double inv = 1.0 / sqrt(v + eps);
        for (int64_t i = 0; i < n; i++) {
            double want = ((double)x[i] - m) * inv * sc[i] + (with_bias ? b[i] : 0.0);
            if (!(fabs(y[i] - want) <= 1e-5 * (1.0 + fabs(want)))) {
                if (bad++ < 3)
                    fprintf(stderr, "layernorm n=%lld [%lld]: %.9g vs %.9g\n", (long long)n,
                            (long long)i, (double)y[i], want);
            }
        }
        if (y[n] != GUARD) bad++;
    }
    CHECK_MSG(bad == 0, "isa %s layernorm: %d mismatches", lcv_isa_name(isa), bad);
    free(x);
    free(y);
    free(sc);
    free(b);
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        printf("isa %s\n", lcv_isa_name(isa));
        test_acts(isa);
        test_fns(isa);
        test_accuracy(isa);
        test_gelu_accuracy(isa);
        test_binary(isa);
        test_sum(isa);
        test_softmax(isa);
        test_layernorm(isa);
    }
    return lcv_test_finish("test_vact");
}
