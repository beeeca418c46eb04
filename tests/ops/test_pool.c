/* test_pool.c - MaxPool / AveragePool / LpPool against a direct formula over random N-d
 * configurations (strides, dilations, pads, auto_pad, ceil_mode, count_include_pad), ONNX-derived
 * cases (Indices with storage_order, MaxUnpool with output_shape), the Global* pools, and bad
 * inputs that must fail with a message naming the node. */
#include "op_test_util.h"

static uint64_t rng_state = 4242;
static int64_t rndi(int64_t lo, int64_t hi) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static lcv_tensor *empty_out(lcv_dtype dt) {
    int64_t d = 1;
    return optest_tensor(dt, 1, &d, NULL);
}

typedef struct pcfg {
    int nsp;
    int64_t n, c, in[3], k[3], s[3], d[3], pb[3], pe[3];
    int ceil, cip;
    const char *auto_pad;
} pcfg;

/* Output size by the ONNX formulas (ceil_mode: a window may not start in the end padding). */
static int64_t out_size(pcfg *g, int i) {
    int64_t ext = (g->k[i] - 1) * g->d[i] + 1;
    if (g->auto_pad && strcmp(g->auto_pad, "VALID") == 0) g->pb[i] = g->pe[i] = 0;
    if (g->auto_pad && strcmp(g->auto_pad, "VALID") != 0) {
        int64_t o = (g->in[i] + g->s[i] - 1) / g->s[i];
        int64_t tot = (o - 1) * g->s[i] + ext - g->in[i];
        if (tot < 0) tot = 0;
        g->pb[i] = strcmp(g->auto_pad, "SAME_UPPER") == 0 ? tot / 2 : tot - tot / 2;
        g->pe[i] = tot - g->pb[i];
        return o;
    }
    int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ext;
    int64_t o = (g->ceil ? (span + g->s[i] - 1) / g->s[i] : span / g->s[i]) + 1;
    if (g->ceil && (o - 1) * g->s[i] >= g->in[i] + g->pb[i]) o--;
    return o;
}

/* kind 0 max, 1 average, 2 Lp (p = 3). */
static void pool_case(int kind, pcfg *g, int index) {
    int64_t xd[5] = {g->n, g->c}, yd[5] = {g->n, g->c}, out[3];
    for (int i = 0; i < g->nsp; i++) {
        xd[2 + i] = g->in[i];
        yd[2 + i] = out[i] = out_size(g, i);
    }
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, g->nsp + 2, xd, NULL);
    for (int64_t i = 0; i < lcv_tensor_numel(x); i++)
        ((float *)x->data)[i] = (float)rndi(-50, 50) / 8.0f;
    lcv_tensor *outs[2] = {empty_out(LCV_DTYPE_FLOAT32), empty_out(LCV_DTYPE_INT64)};
    int nout = kind == 0 ? 2 : 1;
    optest t;
    optest_init(&t, kind == 0 ? "MaxPool" : kind == 1 ? "AveragePool" : "LpPool", 19, 1, nout);
    int64_t pads[6];
    for (int i = 0; i < g->nsp; i++) {
        pads[i] = g->pb[i];
        pads[g->nsp + i] = g->pe[i];
    }
    optest_attr_ints(&t, "kernel_shape", g->nsp, g->k);
    optest_attr_ints(&t, "strides", g->nsp, g->s);
    optest_attr_ints(&t, "dilations", g->nsp, g->d);
    if (g->auto_pad) optest_attr_str(&t, "auto_pad", g->auto_pad);
    else optest_attr_ints(&t, "pads", 2 * g->nsp, pads);
    optest_attr_int(&t, "ceil_mode", g->ceil);
    if (kind == 1) optest_attr_int(&t, "count_include_pad", g->cip);
    if (kind == 2) optest_attr_int(&t, "p", 3);
    const lcv_tensor *ins[1] = {x};
    lcv_status st = optest_run(&t, 1, ins, nout, outs);
    CHECK_MSG(st == LCV_OK, "case %d: %s", index, t.err.msg);
    if (st == LCV_OK) {
        CHECK_MSG(lcv_shape_equal(outs[0]->ndim, outs[0]->dims, g->nsp + 2, yd), "case %d shape",
                  index);
        int64_t osz = 1, isz = 1, ksz = 1;
        for (int i = 0; i < g->nsp; i++) {
            osz *= out[i];
            isz *= g->in[i];
            ksz *= g->k[i];
        }
        double *ref = malloc(sizeof(double) * (size_t)(g->n * g->c * osz));
        int64_t *refi = malloc(sizeof(int64_t) * (size_t)(g->n * g->c * osz));
        const float *xv = x->data;
        for (int64_t pl = 0; pl < g->n * g->c; pl++)
            for (int64_t o = 0; o < osz; o++) {
                double acc = kind == 0 ? -1e300 : 0;
                int64_t arg = -1, valid = 0, padded = 0;
                for (int64_t k = 0; k < ksz; k++) {
                    int64_t orem = o, krem = k, ostr = osz, kstr = ksz, xi = 0;
                    bool inside = true, in_pad = true;
                    for (int d = 0; d < g->nsp; d++) {
                        ostr /= out[d];
                        kstr /= g->k[d];
                        int64_t od = orem / ostr, kd = krem / kstr;
                        orem %= ostr;
                        krem %= kstr;
                        int64_t id = od * g->s[d] + kd * g->d[d] - g->pb[d];
                        if (id < 0 || id >= g->in[d]) inside = false;
                        if (id >= g->in[d] + g->pe[d]) in_pad = false;
                        xi = xi * g->in[d] + id;
                    }
                    padded += in_pad;
                    if (!inside) continue;
                    valid++;
                    double v = xv[pl * isz + xi];
                    if (kind == 0 && v > acc) {
                        acc = v;
                        arg = pl * isz + xi;
                    }
                    if (kind == 1) acc += v;
                    if (kind == 2) acc += fabs(v) * fabs(v) * fabs(v);
                }
                if (kind == 1) acc /= (double)(g->cip ? padded : valid);
                if (kind == 2) acc = cbrt(acc);
                ref[pl * osz + o] = acc;
                refi[pl * osz + o] = arg;
            }
        CHECK_MSG(optest_close(outs[0], ref, g->n * g->c * osz, 1e-5, 1e-5), "case %d kind %d",
                  index, kind);
        if (kind == 0) {
            /* Ties may pick a different but equal element; compare the values they point at. */
            bool same = true;
            for (int64_t i = 0; i < g->n * g->c * osz; i++) {
                int64_t got = ((int64_t *)outs[1]->data)[i];
                if (got < 0 || got >= lcv_tensor_numel(x) || xv[got] != xv[refi[i]]) same = false;
            }
            CHECK_MSG(same, "case %d indices", index);
        }
        free(ref);
        free(refi);
    }
    optest_free(&t);
    lcv_tensor_free(x);
    lcv_tensor_free(outs[0]);
    lcv_tensor_free(outs[1]);
}

static void random_pools(void) {
    static const char *aps[] = {NULL, NULL, NULL, "SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int it = 0; it < 150; it++) {
        pcfg g;
        memset(&g, 0, sizeof g);
        g.nsp = (int)rndi(1, 3);
        g.n = rndi(1, 2);
        g.c = rndi(1, 3);
        g.auto_pad = aps[rndi(0, 5)];
        g.ceil = (int)rndi(0, 1);
        g.cip = (int)rndi(0, 1);
        for (int i = 0; i < g.nsp; i++) {
            g.k[i] = rndi(1, 3);
            g.s[i] = rndi(1, 3);
            g.d[i] = rndi(1, 2);
            int64_t ext = (g.k[i] - 1) * g.d[i] + 1;
            g.in[i] = rndi(ext, g.nsp == 3 ? 6 : 10);
            g.pb[i] = rndi(0, g.k[i] - 1); /* pads smaller than the kernel, as frameworks do */
            g.pe[i] = rndi(0, g.k[i] - 1);
        }
        pool_case((int)(it % 3), &g, it);
    }
}

/* ONNX test_maxpool_with_argmax_2d_precomputed_strides: storage_order = 1 indices. */
static void onnx_argmax_case(void) {
    double xv[25];
    for (int i = 0; i < 25; i++) xv[i] = i + 1;
    const int64_t xd[4] = {1, 1, 5, 5}, k[2] = {2, 2}, s[2] = {2, 2};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv);
    lcv_tensor *outs[2] = {empty_out(LCV_DTYPE_FLOAT32), empty_out(LCV_DTYPE_INT64)};
    optest t;
    optest_init(&t, "MaxPool", 12, 1, 2);
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, s);
    optest_attr_int(&t, "storage_order", 1);
    const lcv_tensor *ins[1] = {x};
    CHECK(optest_run(&t, 1, ins, 2, outs) == LCV_OK);
    const double yv[4] = {7, 9, 17, 19}, iv[4] = {6, 16, 8, 18};
    CHECK(optest_close(outs[0], yv, 4, 0, 0));
    CHECK(optest_close(outs[1], iv, 4, 0, 0));
    optest_free(&t);

    /* The same indices row-major feed MaxUnpool back to a 5x5 map via output_shape. */
    optest_init(&t, "MaxPool", 12, 1, 2);
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, s);
    CHECK(optest_run(&t, 1, ins, 2, outs) == LCV_OK);
    const double ivr[4] = {6, 8, 16, 18};
    CHECK(optest_close(outs[1], ivr, 4, 0, 0));
    optest_free(&t);
    lcv_tensor_free(x);
    lcv_tensor_free(outs[0]);
    lcv_tensor_free(outs[1]);
}

/* ONNX test_maxunpool_export_with_output_shape and _without_output_shape. */
static void unpool_cases(void) {
    const double xv[4] = {5, 6, 7, 8}, iv[4] = {5, 7, 13, 15}, sv[4] = {1, 1, 5, 5};
    const int64_t xd[4] = {1, 1, 2, 2}, sd[1] = {4}, k[2] = {2, 2};
    lcv_tensor *ins[3] = {optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv),
                          optest_tensor(LCV_DTYPE_INT64, 4, xd, iv),
                          optest_tensor(LCV_DTYPE_INT64, 1, sd, sv)};
    lcv_tensor *y = empty_out(LCV_DTYPE_FLOAT32);
    optest t;
    optest_init(&t, "MaxUnpool", 11, 3, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, k);
    CHECK(optest_run(&t, 3, (const lcv_tensor *const *)ins, 1, &y) == LCV_OK);
    double want[25] = {0};
    want[6] = 5, want[8] = 6, want[16] = 7, want[18] = 8;
    CHECK(optest_close(y, want, 25, 0, 0));
    optest_free(&t);
    optest_init(&t, "MaxUnpool", 11, 2, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, k);
    CHECK(optest_run(&t, 2, (const lcv_tensor *const *)ins, 1, &y) == LCV_OK);
    double want16[16] = {0};
    want16[5] = 5, want16[7] = 6, want16[13] = 7, want16[15] = 8;
    CHECK(optest_close(y, want16, 16, 0, 0));
    /* An index outside the output is an error, not a wild write. */
    ((int64_t *)ins[1]->data)[2] = 16;
    lcv_status st = optest_run(&t, 2, (const lcv_tensor *const *)ins, 1, &y);
    CHECK(st == LCV_ERR_SHAPE && strstr(t.err.msg, "I[2] = 16"));
    ((int64_t *)ins[1]->data)[2] = -1;
    CHECK(optest_run(&t, 2, (const lcv_tensor *const *)ins, 1, &y) == LCV_ERR_SHAPE);
    optest_free(&t);
    /* output_shape smaller than the indices' frame or with a wrong channel count. */
    optest_init(&t, "MaxUnpool", 11, 3, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "strides", 2, k);
    ((int64_t *)ins[1]->data)[2] = 13;
    ((int64_t *)ins[2]->data)[2] = 3;
    CHECK(optest_run(&t, 3, (const lcv_tensor *const *)ins, 1, &y) == LCV_ERR_SHAPE);
    ((int64_t *)ins[2]->data)[2] = 5;
    ((int64_t *)ins[2]->data)[1] = 2;
    CHECK(optest_run(&t, 3, (const lcv_tensor *const *)ins, 1, &y) == LCV_ERR_SHAPE);
    optest_free(&t);
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
}

static void global_cases(void) {
    const double xv[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    const int64_t xd[4] = {1, 2, 2, 3}, yd[4] = {1, 2, 1, 1};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv);
    lcv_tensor *y = empty_out(LCV_DTYPE_FLOAT32);
    const char *ops[3] = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"};
    const double want[3][2] = {{3.5, -3.5}, {6, -1}, {sqrt(91.0), sqrt(91.0)}};
    for (int i = 0; i < 3; i++) {
        optest t;
        optest_init(&t, ops[i], 2, 1, 1);
        const lcv_tensor *ins[1] = {x};
        CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_OK);
        CHECK(lcv_shape_equal(y->ndim, y->dims, 4, yd));
        CHECK_MSG(optest_close(y, want[i], 2, 1e-6, 1e-6), "%s", ops[i]);
        optest_free(&t);
    }
    /* float64 and a 1-D spatial input */
    const int64_t x3[3] = {2, 1, 3};
    lcv_tensor *xd64 = optest_tensor(LCV_DTYPE_FLOAT64, 3, x3, xv);
    optest t;
    optest_init(&t, "GlobalAveragePool", 1, 1, 1);
    const lcv_tensor *ins[1] = {xd64};
    CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_OK);
    const double w64[2] = {2, 5};
    CHECK(y->dtype == LCV_DTYPE_FLOAT64 && optest_close(y, w64, 2, 1e-12, 0));
    optest_free(&t);
    lcv_tensor_free(xd64);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
}

/* A hand-checked AveragePool with count_include_pad and ceil_mode, and uint8 MaxPool. */
static void hand_cases(void) {
    double xv[16];
    for (int i = 0; i < 16; i++) xv[i] = i + 1;
    const int64_t xd[4] = {1, 1, 4, 4}, k3[2] = {3, 3}, s2[2] = {2, 2}, p1[4] = {1, 1, 1, 1};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, xv);
    lcv_tensor *y = empty_out(LCV_DTYPE_FLOAT32);
    const lcv_tensor *ins[1] = {x};
    optest t;
    optest_init(&t, "MaxPool", 12, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k3);
    optest_attr_ints(&t, "strides", 2, s2);
    optest_attr_int(&t, "ceil_mode", 1);
    CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_OK);
    const double mx[4] = {11, 12, 15, 16};
    CHECK(optest_close(y, mx, 4, 0, 0));
    optest_free(&t);
    optest_init(&t, "AveragePool", 11, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k3);
    optest_attr_ints(&t, "strides", 2, s2);
    optest_attr_ints(&t, "pads", 4, p1);
    optest_attr_int(&t, "count_include_pad", 1);
    CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_OK);
    /* window at (0,0) covers rows -1..1, cols -1..1: 1+2+5+6 = 14 over 9 */
    const double av[4] = {14.0 / 9, 30.0 / 9, 57.0 / 9, 99.0 / 9};
    CHECK(optest_close(y, av, 4, 1e-6, 1e-6));
    optest_free(&t);
    lcv_tensor *xu = optest_tensor(LCV_DTYPE_UINT8, 4, xd, xv);
    const lcv_tensor *insu[1] = {xu};
    lcv_tensor *yu = empty_out(LCV_DTYPE_UINT8);
    optest_init(&t, "MaxPool", 12, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, s2);
    optest_attr_ints(&t, "strides", 2, s2);
    CHECK(optest_run(&t, 1, insu, 1, &yu) == LCV_OK);
    const double mu[4] = {6, 8, 14, 16};
    CHECK(yu->dtype == LCV_DTYPE_UINT8 && optest_close(yu, mu, 4, 0, 0));
    optest_free(&t);
    lcv_tensor_free(xu);
    lcv_tensor_free(yu);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
}

static void bad(const char *op, int nx, const int64_t *xd, lcv_dtype dt, const char *attr,
                int na, const int64_t *av, bool with_kernel, const char *why) {
    lcv_tensor *x = optest_tensor(dt, nx, xd, NULL);
    lcv_tensor *y = empty_out(LCV_DTYPE_FLOAT32);
    optest t;
    optest_init(&t, op, 12, 1, 1);
    const int64_t k2[2] = {2, 2};
    if (with_kernel) optest_attr_ints(&t, "kernel_shape", 2, k2);
    if (attr && na == 1) optest_attr_int(&t, attr, av[0]);
    else if (attr) optest_attr_ints(&t, attr, na, av);
    const lcv_tensor *ins[1] = {x};
    lcv_status st = optest_run(&t, 1, ins, 1, &y);
    CHECK_MSG(st != LCV_OK && strstr(t.err.msg, "node 'n'"), "%s: %s: %s", op, why, t.err.msg);
    optest_free(&t);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
}

static void bad_inputs(void) {
    const int64_t x4[4] = {1, 1, 4, 4}, x2[2] = {1, 4}, neg[4] = {0, -1, 0, 0};
    const int64_t k9[2] = {9, 9}, two[1] = {2}, s0[2] = {1, 0}, k3[3] = {2, 2, 2};
    bad("MaxPool", 4, x4, LCV_DTYPE_FLOAT32, NULL, 0, NULL, false, "no kernel_shape");
    bad("MaxPool", 2, x2, LCV_DTYPE_FLOAT32, NULL, 0, NULL, true, "rank 2");
    bad("MaxPool", 4, x4, LCV_DTYPE_FLOAT32, "pads", 4, neg, true, "negative pad");
    bad("MaxPool", 4, x4, LCV_DTYPE_FLOAT32, "storage_order", 1, two, true, "storage_order 2");
    bad("MaxPool", 4, x4, LCV_DTYPE_FLOAT32, "strides", 2, s0, true, "zero stride");
    bad("MaxPool", 4, x4, LCV_DTYPE_INT32, NULL, 0, NULL, true, "int32");
    bad("AveragePool", 4, x4, LCV_DTYPE_FLOAT32, "kernel_shape", 2, k9, false, "kernel > in");
    bad("AveragePool", 4, x4, LCV_DTYPE_FLOAT32, "kernel_shape", 3, k3, false, "kernel rank");
    bad("AveragePool", 4, x4, LCV_DTYPE_UINT8, NULL, 0, NULL, true, "uint8 average");
    bad("AveragePool", 4, x4, LCV_DTYPE_FLOAT32, "count_include_pad", 1, two, true, "cip 2");
    bad("LpPool", 4, x4, LCV_DTYPE_FLOAT32, "ceil_mode", 1, two, true, "ceil_mode 2");
    bad("GlobalMaxPool", 2, x2, LCV_DTYPE_FLOAT32, NULL, 0, NULL, false, "rank 2");
    bad("GlobalAveragePool", 4, x4, LCV_DTYPE_INT64, NULL, 0, NULL, false, "int64");
}

int main(void) {
    hand_cases();
    onnx_argmax_case();
    unpool_cases();
    global_cases();
    random_pools();
    bad_inputs();
    return lcv_test_finish("ops_pool");
}
