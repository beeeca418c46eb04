/* test_conv.c - Conv and ConvTranspose: hand-checked and ONNX-derived cases, a direct-formula
 * oracle over random odd shapes (1-3 spatial dims, groups, strides, dilations, pads, auto_pad,
 * float32/float64/float16), and bad inputs that must fail with a message naming the node. */
#include "op_test_util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rnd(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}
static int64_t rndi(int64_t lo, int64_t hi) { /* inclusive */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static lcv_tensor *rand_tensor(lcv_dtype dt, int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(dt, ndim, dims, NULL);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) lcv_store_f64(dt, t->data, i, rnd());
    return t;
}

static lcv_tensor *empty_out(void) {
    int64_t d = 1;
    return optest_tensor(LCV_DTYPE_FLOAT32, 1, &d, NULL);
}

/* Runs op on ins (NULL entries are omitted optional inputs); returns the status. */
static lcv_status run1(optest *t, int nin, lcv_tensor **ins, lcv_tensor *out) {
    for (int i = 0; i < nin; i++)
        if (!ins[i]) t->node->in[i] = -1;
    return optest_run(t, nin, (const lcv_tensor *const *)ins, 1, &out);
}

/* ---- one configuration of a windowed op ---- */
typedef struct cfg {
    int nsp, group;
    int64_t n, c, m, in[3], k[3], s[3], d[3], pb[3], pe[3], opad[3];
    const char *auto_pad; /* NULL = explicit pads */
    bool bias;
    lcv_dtype dt;
} cfg;

static void set_attrs(optest *t, const cfg *g, bool transpose) {
    int64_t pads[6];
    for (int i = 0; i < g->nsp; i++) {
        pads[i] = g->pb[i];
        pads[g->nsp + i] = g->pe[i];
    }
    optest_attr_ints(t, "strides", g->nsp, g->s);
    optest_attr_ints(t, "dilations", g->nsp, g->d);
    optest_attr_int(t, "group", g->group);
    if (g->auto_pad) optest_attr_str(t, "auto_pad", g->auto_pad);
    else optest_attr_ints(t, "pads", 2 * g->nsp, pads);
    if (transpose) optest_attr_ints(t, "output_padding", g->nsp, g->opad);
    if (rndi(0, 1)) optest_attr_ints(t, "kernel_shape", g->nsp, g->k);
}

/* Direct formula: y[n,m,o] = b[m] + sum_{c in group(m), k} x[n,c,o*s+k*d-pb] * w[m,c',k]. */
static void conv_oracle(const cfg *g, const int64_t *out, const double *x, const double *w,
                        const double *b, double *y) {
    int64_t osz = 1, isz = 1, ksz = 1, cg = g->c / g->group, mg = g->m / g->group;
    for (int i = 0; i < g->nsp; i++) {
        osz *= out[i];
        isz *= g->in[i];
        ksz *= g->k[i];
    }
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t m = 0; m < g->m; m++)
            for (int64_t o = 0; o < osz; o++) {
                double acc = b ? b[m] : 0.0;
                for (int64_t cc = 0; cc < cg; cc++)
                    for (int64_t k = 0; k < ksz; k++) {
                        int64_t xi = 0, orem = o, krem = k, ostr = osz, kstr = ksz;
                        bool inside = true;
                        for (int d = 0; d < g->nsp; d++) {
                            ostr /= out[d];
                            kstr /= g->k[d];
                            int64_t od = orem / ostr, kd = krem / kstr;
                            orem %= ostr;
                            krem %= kstr;
                            int64_t id = od * g->s[d] + kd * g->d[d] - g->pb[d];
                            if (id < 0 || id >= g->in[d]) inside = false;
                            xi = xi * g->in[d] + id;
                        }
                        if (!inside) continue;
                        int64_t c = (m / mg) * cg + cc;
                        acc += x[(n * g->c + c) * isz + xi] * w[(m * cg + cc) * ksz + k];
                    }
                y[(n * g->m + m) * osz + o] = acc;
            }
}

/* Scatter formula: y[n,m,i*s+k*d-pb] += x[n,c,i] * w[c,m',k], plus bias. */
static void convt_oracle(const cfg *g, const int64_t *out, const double *x, const double *w,
                         const double *b, double *y) {
    int64_t osz = 1, isz = 1, ksz = 1, cg = g->c / g->group, mg = g->m / g->group;
    for (int i = 0; i < g->nsp; i++) {
        osz *= out[i];
        isz *= g->in[i];
        ksz *= g->k[i];
    }
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t m = 0; m < g->m; m++) {
            for (int64_t o = 0; o < osz; o++) y[(n * g->m + m) * osz + o] = b ? b[m] : 0.0;
            for (int64_t cc = 0; cc < cg; cc++)
                for (int64_t i = 0; i < isz; i++)
                    for (int64_t k = 0; k < ksz; k++) {
                        int64_t oi = 0, irem = i, krem = k, istr = isz, kstr = ksz;
                        bool inside = true;
                        for (int d = 0; d < g->nsp; d++) {
                            istr /= g->in[d];
                            kstr /= g->k[d];
                            int64_t id = irem / istr, kd = krem / kstr;
                            irem %= istr;
                            krem %= kstr;
                            int64_t od = id * g->s[d] + kd * g->d[d] - g->pb[d];
                            if (od < 0 || od >= out[d]) inside = false;
                            oi = oi * out[d] + od;
                        }
                        if (!inside) continue;
                        int64_t c = (m / mg) * cg + cc;
                        y[(n * g->m + m) * osz + oi] +=
                            x[(n * g->c + c) * isz + i] * w[(c * mg + m % mg) * ksz + k];
                    }
        }
}

static double *to_f64(const lcv_tensor *t) {
    int64_t n = lcv_tensor_numel(t);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = lcv_load_f64(t->dtype, t->data, i);
    return v;
}

/* Builds random inputs for cfg, runs the op and compares with the oracle. */
static void check_cfg(cfg *g, bool transpose, int index) {
    int64_t out[3];
    for (int i = 0; i < g->nsp; i++) {
        int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
        if (g->auto_pad && strcmp(g->auto_pad, "VALID") == 0) g->pb[i] = g->pe[i] = 0;
        if (transpose) {
            int64_t full = g->s[i] * (g->in[i] - 1) + g->opad[i] + ext;
            if (g->auto_pad && strcmp(g->auto_pad, "VALID") != 0) {
                out[i] = g->in[i] * g->s[i];
                int64_t tot = full - out[i];
                g->pb[i] = tot < 0 ? 0 : (strcmp(g->auto_pad, "SAME_UPPER") == 0 ? tot / 2
                                                                              : tot - tot / 2);
                g->pe[i] = tot - g->pb[i];
            } else {
                out[i] = full - g->pb[i] - g->pe[i];
            }
        } else if (g->auto_pad && strcmp(g->auto_pad, "VALID") != 0) {
            out[i] = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t tot = (out[i] - 1) * g->s[i] + ext - g->in[i];
            if (tot < 0) tot = 0;
            g->pb[i] = strcmp(g->auto_pad, "SAME_UPPER") == 0 ? tot / 2 : tot - tot / 2;
            g->pe[i] = tot - g->pb[i];
        } else {
            out[i] = (g->in[i] + g->pb[i] + g->pe[i] - ext) / g->s[i] + 1;
        }
    }
    int64_t xd[5] = {g->n, g->c}, wd[5] = {transpose ? g->c : g->m,
                                           transpose ? g->m / g->group : g->c / g->group};
    for (int i = 0; i < g->nsp; i++) {
        xd[2 + i] = g->in[i];
        wd[2 + i] = g->k[i];
    }
    lcv_tensor *ins[3] = {rand_tensor(g->dt, g->nsp + 2, xd), rand_tensor(g->dt, g->nsp + 2, wd),
                          g->bias ? rand_tensor(g->dt, 1, &g->m) : NULL};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, transpose ? "ConvTranspose" : "Conv", 11, 3, 1);
    set_attrs(&t, g, transpose);
    lcv_status st = run1(&t, 3, ins, y);
    CHECK_MSG(st == LCV_OK, "case %d: %s", index, t.err.msg);
    if (st == LCV_OK) {
        int64_t want[5] = {g->n, g->m};
        for (int i = 0; i < g->nsp; i++) want[2 + i] = out[i];
        CHECK_MSG(lcv_shape_equal(y->ndim, y->dims, g->nsp + 2, want), "case %d: shape", index);
        double *x = to_f64(ins[0]), *w = to_f64(ins[1]), *b = g->bias ? to_f64(ins[2]) : NULL;
        int64_t ny = 1;
        for (int i = 0; i < g->nsp + 2; i++) ny *= want[i];
        double *ref = malloc(sizeof(double) * (size_t)ny);
        if (transpose) convt_oracle(g, out, x, w, b, ref);
        else conv_oracle(g, out, x, w, b, ref);
        double tol = g->dt == LCV_DTYPE_FLOAT16 ? 2e-2 : g->dt == LCV_DTYPE_FLOAT64 ? 1e-12 : 1e-5;
        CHECK_MSG(optest_close(y, ref, ny, tol, tol), "case %d (%s, nsp %d, group %d)", index,
                  transpose ? "ConvTranspose" : "Conv", g->nsp, g->group);
        free(x);
        free(w);
        free(b);
        free(ref);
    }
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
    optest_free(&t);
}

static void random_cases(bool transpose) {
    static const char *aps[] = {NULL, NULL, NULL, "SAME_UPPER", "SAME_LOWER", "VALID"};
    static const lcv_dtype dts[] = {LCV_DTYPE_FLOAT32, LCV_DTYPE_FLOAT32, LCV_DTYPE_FLOAT64,
                                    LCV_DTYPE_FLOAT16};
    for (int it = 0; it < 120; it++) {
        cfg g;
        memset(&g, 0, sizeof g);
        g.nsp = (int)rndi(1, 3);
        g.group = (int)rndi(1, 3);
        g.n = rndi(1, 2);
        g.c = g.group * rndi(1, 3);
        g.m = g.group * rndi(1, 3);
        g.auto_pad = aps[rndi(0, 5)];
        g.bias = rndi(0, 1);
        g.dt = dts[rndi(0, 3)];
        for (int i = 0; i < g.nsp; i++) {
            g.k[i] = rndi(1, 3);
            g.s[i] = rndi(1, 3);
            g.d[i] = rndi(1, 2);
            g.in[i] = rndi(g.nsp == 3 ? 2 : 3, g.nsp == 3 ? 6 : 11);
            int64_t ext = (g.k[i] - 1) * g.d[i] + 1;
            if (!transpose && g.in[i] < ext) g.in[i] = ext;
            g.pb[i] = rndi(0, 2);
            g.pe[i] = rndi(0, 2);
            if (transpose) {
                int64_t lim = g.s[i] > g.d[i] ? g.s[i] : g.d[i];
                g.opad[i] = rndi(0, lim - 1);
                if (g.s[i] * (g.in[i] - 1) + g.opad[i] + ext - g.pb[i] - g.pe[i] < 1)
                    g.pb[i] = g.pe[i] = 0;
            }
        }
        check_cfg(&g, transpose, it);
    }
}

/* The brief's shape: 1x3x7x9 input, 3 groups... with stride 2, pad 1, dilation 2. */
static void odd_case(void) {
    cfg g = {.nsp = 2, .group = 3, .n = 1, .c = 3, .m = 6, .in = {7, 9}, .k = {3, 3},
             .s = {2, 2}, .d = {2, 2}, .pb = {1, 1}, .pe = {1, 1}, .bias = true,
             .dt = LCV_DTYPE_FLOAT32};
    check_cfg(&g, false, 1000);
    cfg h = {.nsp = 2, .group = 1, .n = 1, .c = 3, .m = 5, .in = {7, 9}, .k = {3, 3},
             .s = {2, 2}, .d = {2, 2}, .pb = {1, 1}, .pe = {1, 1}, .bias = true,
             .dt = LCV_DTYPE_FLOAT32};
    check_cfg(&h, false, 1001);
    check_cfg(&h, true, 1002);
    /* Depthwise with a channel multiplier, as in MobileNets. */
    cfg dw = {.nsp = 2, .group = 4, .n = 2, .c = 4, .m = 8, .in = {9, 8}, .k = {3, 3},
              .s = {1, 1}, .d = {1, 1}, .pb = {1, 1}, .pe = {1, 1}, .bias = true,
              .dt = LCV_DTYPE_FLOAT32};
    check_cfg(&dw, false, 1003);
}

/* ONNX node test test_conv_with_strides_and_asymmetric_padding. */
static void onnx_conv_case(void) {
    double xv[35], wv[9];
    for (int i = 0; i < 35; i++) xv[i] = i;
    for (int i = 0; i < 9; i++) wv[i] = 1;
    const int64_t xd[4] = {1, 1, 7, 5}, wd[4] = {1, 1, 3, 3};
    lcv_tensor *ins[2] = {optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv),
                          optest_tensor(LCV_DTYPE_FLOAT32, 4, wd, wv)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Conv", 11, 2, 1);
    const int64_t ks[2] = {3, 3}, pads[4] = {1, 0, 1, 0}, strides[2] = {2, 2};
    optest_attr_ints(&t, "kernel_shape", 2, ks);
    optest_attr_ints(&t, "pads", 4, pads);
    optest_attr_ints(&t, "strides", 2, strides);
    CHECK(run1(&t, 2, ins, y) == LCV_OK);
    const double want[8] = {21, 33, 99, 117, 189, 207, 171, 183};
    const int64_t yd[4] = {1, 1, 4, 2};
    CHECK(lcv_shape_equal(y->ndim, y->dims, 4, yd));
    CHECK(optest_close(y, want, 8, 0, 1e-6));
    lcv_tensor_free(ins[0]);
    lcv_tensor_free(ins[1]);
    lcv_tensor_free(y);
    optest_free(&t);
}

/* ONNX node test test_convtranspose_pads, and output_shape giving one extra row/column. */
static void onnx_convt_case(void) {
    double xv[9], wv[18];
    for (int i = 0; i < 9; i++) xv[i] = i;
    for (int i = 0; i < 18; i++) wv[i] = 1;
    const int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 2, 3, 3};
    lcv_tensor *ins[2] = {optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv),
                          optest_tensor(LCV_DTYPE_FLOAT32, 4, wd, wv)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "ConvTranspose", 11, 2, 1);
    const int64_t pads[4] = {1, 2, 1, 2}, strides[2] = {3, 2};
    optest_attr_ints(&t, "pads", 4, pads);
    optest_attr_ints(&t, "strides", 2, strides);
    CHECK(run1(&t, 2, ins, y) == LCV_OK);
    const double plane[21] = {1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
    double want[42];
    for (int i = 0; i < 42; i++) want[i] = plane[i % 21];
    const int64_t yd[4] = {1, 2, 7, 3};
    CHECK(lcv_shape_equal(y->ndim, y->dims, 4, yd));
    CHECK(optest_close(y, want, 42, 0, 1e-6));
    optest_free(&t);

    /* output_shape [10, 8] with strides [3, 2]: the natural 9x7 output plus a zero row/col. */
    optest_init(&t, "ConvTranspose", 11, 2, 1);
    const int64_t os[2] = {10, 8};
    optest_attr_ints(&t, "output_shape", 2, os);
    optest_attr_ints(&t, "strides", 2, strides);
    CHECK(run1(&t, 2, ins, y) == LCV_OK);
    const int64_t yd2[4] = {1, 2, 10, 8};
    CHECK(lcv_shape_equal(y->ndim, y->dims, 4, yd2));
    const float *yv = y->data;
    CHECK(yv[9 * 8 + 3] == 0.0f && yv[2 * 8 + 7] == 0.0f); /* last row and column */
    CHECK(yv[0] == 0.0f && yv[1] == 0.0f && yv[2] == 1.0f); /* x[0]=0 then x[0]+x[1] */
    optest_free(&t);
    lcv_tensor_free(ins[0]);
    lcv_tensor_free(ins[1]);
    lcv_tensor_free(y);
}

/* Each bad configuration must fail (no crash) with the node's name in the message. */
static void bad_case(const char *op, int nx, const int64_t *xd, int nw, const int64_t *wd,
                     lcv_dtype wdt, const char *attr, int na, const int64_t *av,
                     const char *why) {
    lcv_tensor *ins[2] = {optest_tensor(LCV_DTYPE_FLOAT32, nx, xd, NULL),
                          optest_tensor(wdt, nw, wd, NULL)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, op, 11, 2, 1);
    if (attr && na == 1) optest_attr_int(&t, attr, av[0]);
    else if (attr) optest_attr_ints(&t, attr, na, av);
    lcv_status st = run1(&t, 2, ins, y);
    CHECK_MSG(st != LCV_OK && strstr(t.err.msg, "node 'n'"), "%s: %s -> %s", op, why,
              t.err.msg);
    optest_free(&t);
    lcv_tensor_free(ins[0]);
    lcv_tensor_free(ins[1]);
    lcv_tensor_free(y);
}

static void bad_inputs(void) {
    const int64_t x4[4] = {1, 4, 5, 5}, w4[4] = {2, 4, 3, 3}, w3[3] = {2, 4, 3};
    const int64_t wbadc[4] = {2, 3, 3, 3}, wbig[4] = {2, 4, 9, 9}, x2[2] = {4, 5};
    const int64_t neg[4] = {-1, 0, 0, 0}, zero2[2] = {0, 1}, two[1] = {3};
    const int64_t huge[4] = {0, 0, (int64_t)1 << 40, 0};
    bad_case("Conv", 4, x4, 3, w3, LCV_DTYPE_FLOAT32, NULL, 0, NULL, "weight rank");
    bad_case("Conv", 4, x4, 4, wbadc, LCV_DTYPE_FLOAT32, NULL, 0, NULL, "channels");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "group", 1, two, "group 3 vs 4 ch");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "pads", 4, neg, "negative pad");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "pads", 4, huge, "huge pad");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "strides", 2, zero2, "zero stride");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "dilations", 1, two, "dilations len");
    bad_case("Conv", 4, x4, 4, wbig, LCV_DTYPE_FLOAT32, NULL, 0, NULL, "kernel > input");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT64, NULL, 0, NULL, "dtype mismatch");
    bad_case("Conv", 2, x2, 2, x2, LCV_DTYPE_FLOAT32, NULL, 0, NULL, "rank 2");
    bad_case("Conv", 4, x4, 4, w4, LCV_DTYPE_FLOAT32, "kernel_shape", 2, zero2, "kernel attr");
    const int64_t xt[4] = {1, 2, 3, 3}, wt[4] = {2, 1, 3, 3}, op4[2] = {4, 0}, os[2] = {99, 99};
    bad_case("ConvTranspose", 4, x4, 4, wt, LCV_DTYPE_FLOAT32, NULL, 0, NULL, "channels");
    bad_case("ConvTranspose", 4, xt, 4, wt, LCV_DTYPE_FLOAT32, "output_padding", 2, op4,
             "output_padding >= stride");
    bad_case("ConvTranspose", 4, xt, 4, wt, LCV_DTYPE_FLOAT32, "output_shape", 2, os,
             "output_shape too large");
    bad_case("ConvTranspose", 4, xt, 4, wt, LCV_DTYPE_FLOAT32, "pads", 4, huge, "pads > out");
    /* Unknown auto_pad string and a bias of the wrong length. */
    lcv_tensor *ins[3] = {optest_tensor(LCV_DTYPE_FLOAT32, 4, x4, NULL),
                          optest_tensor(LCV_DTYPE_FLOAT32, 4, w4, NULL),
                          optest_tensor(LCV_DTYPE_FLOAT32, 1, two, NULL)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Conv", 11, 3, 1);
    CHECK(run1(&t, 3, ins, y) == LCV_ERR_SHAPE && strstr(t.err.msg, "B [3]"));
    optest_free(&t);
    optest_init(&t, "Conv", 11, 2, 1);
    optest_attr_str(&t, "auto_pad", "SAME_MIDDLE");
    CHECK(run1(&t, 2, ins, y) == LCV_ERR_INVALID_ARG && strstr(t.err.msg, "SAME_MIDDLE"));
    optest_free(&t);
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
}

int main(void) {
    onnx_conv_case();
    onnx_convt_case();
    odd_case();
    random_cases(false);
    random_cases(true);
    bad_inputs();
    return lcv_test_finish("ops_conv");
}
