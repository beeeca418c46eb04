/* test_sums.c - the statistics sums of src/kernels/f32-sums at every ISA level against a
 * plain double loop (close) and against the scalar level (the same bits): lengths 0..70 and
 * a few long ones (tails of every size), values over several magnitudes, m inside and
 * outside the data, a Relu mask that passes about half the terms. */
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/f32-sums/sums.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double rnd(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static bool same(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void check_len(int64_t n, lcv_isa best) {
    float g[4096], x[4096];
    double scale = pow(10.0, (double)(n % 7) - 3.0);
    for (int64_t i = 0; i < n; i++) {
        g[i] = (float)((rnd() - 0.5) * scale);
        x[i] = (float)((rnd() - 0.3) * 2.0 * scale);
    }
    double m = (n % 3 == 0 ? 0.1 : -2.0) * scale;
    float fa = n % 2 ? 1.3f : -0.7f, fb = (float)(-0.2 * scale); /* passes about half */
    /* plain double references, and the sums of the terms' magnitudes for the tolerance */
    double rs = 0, rq = 0, rg = 0, rgx = 0, as = 0, agx = 0, ag = 0, mg = 0, mgx = 0;
    for (int64_t i = 0; i < n; i++) {
        rs += x[i];
        rq += (x[i] - m) * (x[i] - m);
        rg += g[i];
        rgx += g[i] * (x[i] - m);
        as += fabs(x[i]);
        ag += fabs(g[i]);
        agx += fabs(g[i] * (x[i] - m));
        if ((double)x[i] * fa + fb > 0) { /* the mask in double: equal away from the kink */
            mg += g[i];
            mgx += g[i] * (x[i] - m);
        }
    }
    const lcv_f32_sums *s0 = lcv_f32_sums_for(LCV_ISA_SCALAR);
    double s0s = s0->sum(x, n), s0q = s0->sumsq(x, n, m), s0g = 1.0, s0gx = -1.0;
    s0->sum_gx(g, x, n, m, &s0g, &s0gx);
    CHECK_MSG(fabs(s0s - rs) <= 1e-13 * as, "n %lld: sum %.17g vs %.17g", (long long)n, s0s, rs);
    CHECK_MSG(fabs(s0q - rq) <= 1e-13 * rq, "n %lld: sumsq %.17g vs %.17g", (long long)n, s0q, rq);
    CHECK_MSG(fabs((s0g - 1.0) - rg) <= 1e-13 * ag + 1e-15, "n %lld: sum of g", (long long)n);
    CHECK_MSG(fabs((s0gx + 1.0) - rgx) <= 1e-13 * agx + 1e-15, "n %lld: sum of g (x - m)",
              (long long)n);
    double s0mg = 0.5, s0mgx = 0.25;
    s0->sum_gx_relu(g, x, n, m, fa, fb, &s0mg, &s0mgx);
    CHECK_MSG(fabs((s0mg - 0.5) - mg) <= 1e-13 * ag + 1e-15, "n %lld: masked sum of g",
              (long long)n);
    CHECK_MSG(fabs((s0mgx - 0.25) - mgx) <= 1e-13 * agx + 1e-15,
              "n %lld: masked sum of g (x - m)", (long long)n);
    for (lcv_isa isa = lcv_isa_next(LCV_ISA_SCALAR, best); isa != LCV_ISA_AUTO;
         isa = lcv_isa_next(isa, best)) {
        const lcv_f32_sums *s = lcv_f32_sums_for(isa);
        double sg = 1.0, sgx = -1.0, mg1 = 0.5, mgx1 = 0.25;
        s->sum_gx(g, x, n, m, &sg, &sgx);
        s->sum_gx_relu(g, x, n, m, fa, fb, &mg1, &mgx1);
        CHECK_MSG(same(s->sum(x, n), s0s) && same(s->sumsq(x, n, m), s0q) && same(sg, s0g) &&
                      same(sgx, s0gx) && same(mg1, s0mg) && same(mgx1, s0mgx),
                  "%s n %lld: not the scalar bits", lcv_isa_name(isa), (long long)n);
    }
}

int main(void) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    for (int64_t n = 0; n <= 70; n++) check_len(n, best);
    const int64_t long_lens[] = {783, 784, 1025, 4096};
    for (int k = 0; k < 4; k++) check_len(long_lens[k], best);
    return lcv_test_finish("kernels_sums");
}
