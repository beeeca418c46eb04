/* test_norm.c - training forward and backward of the normalisations against float64 finite
 * differences and hand computations: BatchNormalization with batch 1..3 at ranks 2..5 (batch
 * statistics; running mean/variance updated with momentum and the unbiased variance, in the
 * state buffers and the optional outputs; frozen-statistics backward when no training forward
 * ran), LayerNormalization (axes, with/without B, broadcast parameters, gradients reaching the
 * Mean/InvStdDev outputs), InstanceNormalization; 1 vs 2 threads bit-identical; bad inputs. */
#include "gradcheck.h"

#define ATOL 3e-4
#define RTOL 3e-3

/* ---- BatchNormalization ---- */

static lcv_tensor **bn_inputs(int nd, const int64_t *d, uint64_t *s, lcv_tensor **in) {
    int64_t C = d[1];
    in[0] = gradcheck_tensor_off_kinks(nd, d, -2, 2, NULL, 0, 0, s);
    in[1] = gradcheck_tensor_off_kinks(1, &C, 0.5, 1.5, NULL, 0, 0, s);
    in[2] = gradcheck_tensor_off_kinks(1, &C, -0.5, 0.5, NULL, 0, 0, s);
    in[3] = gradcheck_tensor_off_kinks(1, &C, -0.2, 0.2, NULL, 0, 0, s);
    in[4] = gradcheck_tensor_off_kinks(1, &C, 0.5, 1.5, NULL, 0, 0, s);
    return in;
}

static void test_bn_grad(void) {
    uint64_t s = 11;
    static const struct {
        int nd, opset;
        int64_t d[5];
        float eps;
    } v[] = {{4, 15, {1, 3, 5, 7}, 1e-5f}, {4, 9, {2, 4, 3, 5}, 1e-3f}, {3, 14, {3, 2, 7}, 1e-5f},
             {2, 15, {3, 5}, 1e-5f},       {5, 15, {2, 3, 2, 3, 3}, 1e-5f},
             {4, 15, {3, 1, 1, 2}, 0.1f}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        optest t;
        optest_init(&t, "BatchNormalization", v[i].opset, 5, 1);
        optest_attr_float(&t, "epsilon", v[i].eps);
        if (v[i].opset >= 14) optest_attr_int(&t, "training_mode", 1);
        lcv_tensor *in[5];
        bn_inputs(v[i].nd, v[i].d, &s, in);
        /* the running statistics do not influence the training output */
        bool wants[5] = {true, true, true, false, false};
        char what[64];
        snprintf(what, sizeof what, "batch %lld rank %d", (long long)v[i].d[0], v[i].nd);
        gradcheck_expect(&t, 5, in, 1, wants, ATOL, RTOL, what);
        gradcheck_free_all(in, 5);
        optest_free(&t);
    }
}

/* Batch statistics by hand: normalised output, saved mean and 1/std, running mean/variance
 * updated with momentum and the unbiased variance, in the state buffers and outputs 1, 2. */
static void test_bn_state(void) {
    uint64_t s = 22;
    for (int64_t N = 1; N <= 3; N++) {
        int64_t d[4] = {N, 3, 2, 3}, C = 3, S = 6, M = N * S;
        optest t;
        optest_init(&t, "BatchNormalization", 15, 5, 3);
        optest_attr_int(&t, "training_mode", 1);
        optest_attr_float(&t, "momentum", 0.8f);
        optest_attr_float(&t, "epsilon", 1e-4f);
        lcv_tensor *in[5], *out[3];
        bn_inputs(4, d, &s, in);
        lcv_tensor *sm = optest_tensor(LCV_DTYPE_FLOAT32, 1, &C, NULL);
        lcv_tensor *sv = optest_tensor(LCV_DTYPE_FLOAT32, 1, &C, NULL);
        memcpy(sm->data, in[3]->data, sizeof(float) * 3);
        memcpy(sv->data, in[4]->data, sizeof(float) * 3);
        lcv_tensor *const state[5] = {NULL, NULL, NULL, sm, sv};
        lcv_train_io io;
        gradcheck_io_init(&io, 1);
        io.state = state;
        CHECK_MSG(gradcheck_forward(&t, 5, in, 3, out, &io, NULL) == LCV_OK, "%s", t.err.msg);
        const float *x = in[0]->data, *y = out[0]->data;
        const double *saved = io.saved[0].data;
        for (int64_t c = 0; c < C; c++) {
            double sum = 0, sq = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < S; k++) sum += x[(n * C + c) * S + k];
            double m = sum / (double)M;
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < S; k++) {
                    double e = x[(n * C + c) * S + k] - m;
                    sq += e * e;
                }
            double var = sq / (double)M, inv = 1.0 / sqrt(var + 1e-4);
            double sc = ((float *)in[1]->data)[c], b = ((float *)in[2]->data)[c];
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < S; k++) {
                    int64_t j = (n * C + c) * S + k;
                    CHECK_NEAR(y[j], (x[j] - m) * inv * sc + b, 1e-5);
                }
            double rm = ((float *)in[3]->data)[c] * 0.8 + m * 0.2;
            double rv = ((float *)in[4]->data)[c] * 0.8 + var * (double)M / (double)(M - 1) * 0.2;
            CHECK_NEAR(((float *)sm->data)[c], rm, 1e-6);
            CHECK_NEAR(((float *)sv->data)[c], rv, 1e-6);
            CHECK_NEAR(((float *)out[1]->data)[c], rm, 1e-6);
            CHECK_NEAR(((float *)out[2]->data)[c], rv, 1e-6);
            CHECK_NEAR(saved[c], m, 1e-12);
            CHECK_NEAR(saved[C + c], inv, 1e-9);
        }
        gradcheck_io_free(&io);
        gradcheck_free_all(out, 3);
        gradcheck_free_all(in, 5);
        lcv_tensor_free(sm);
        lcv_tensor_free(sv);
        optest_free(&t);
    }
}

/* Without a training forward (frozen statistics), the backward differentiates the inference
 * formula, including the mean and variance inputs: compared with finite differences of the
 * inference kernel in float64. */
static void test_bn_frozen(void) {
    uint64_t s = 33;
    int64_t d[4] = {2, 3, 4, 5};
    optest t;
    optest_init(&t, "BatchNormalization", 15, 5, 1);
    lcv_tensor *in[5], *out[1], *din[5];
    bn_inputs(4, d, &s, in);
    CHECK(gradcheck_forward(&t, 5, in, 1, out, NULL, NULL) == LCV_OK);
    lcv_tensor *dy[1] = {gradcheck_tensor_off_kinks(4, d, -1, 1, NULL, 0, 0, &s)};
    CHECK_MSG(gradcheck_backward(&t, 5, in, 1, out, dy, din, NULL, NULL, NULL, NULL) == LCV_OK, "%s",
              t.err.msg);
    /* float64 copies for the finite differences */
    lcv_tensor *in64[5];
    for (int i = 0; i < 5; i++) {
        in64[i] = optest_tensor(LCV_DTYPE_FLOAT64, in[i]->ndim, in[i]->dims, NULL);
        for (int64_t j = 0; j < lcv_tensor_count(in[i]); j++)
            ((double *)in64[i]->data)[j] = ((float *)in[i]->data)[j];
    }
    int bad = 0;
    for (int i = 0; i < 5; i++) {
        int64_t n = lcv_tensor_count(in[i]);
        for (int64_t j = 0; j < n; j += n > 20 ? 7 : 1) {
            double *p = (double *)in64[i]->data + j, x0 = *p, l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                *p = x0 + (sgn ? -1e-6 : 1e-6);
                lcv_tensor *o = NULL;
                lcv_tensor_create(LCV_DTYPE_FLOAT64, 0, NULL, &o);
                CHECK(optest_run(&t, 5, (const lcv_tensor *const *)in64, 1, &o) == LCV_OK);
                l[sgn] = 0;
                for (int64_t k = 0; k < lcv_tensor_count(o); k++)
                    l[sgn] += ((double *)o->data)[k] * ((float *)dy[0]->data)[k];
                lcv_tensor_free(o);
            }
            *p = x0;
            double num = (l[0] - l[1]) / 2e-6, ana = ((float *)din[i]->data)[j];
            if (fabs(num - ana) > ATOL + RTOL * fabs(num)) {
                fprintf(stderr, "  frozen BN input %d element %lld: %g vs %g\n", i, (long long)j,
                        ana, num);
                bad++;
            }
        }
    }
    CHECK_MSG(bad == 0, "frozen BatchNorm: %d mismatches", bad);
    gradcheck_free_all(in64, 5);
    gradcheck_free_all(din, 5);
    gradcheck_free_all(dy, 1);
    gradcheck_free_all(out, 1);
    gradcheck_free_all(in, 5);
    optest_free(&t);
}

static void test_bn_bad(void) {
    uint64_t s = 44;
    int64_t d[2] = {1, 4};
    optest t;
    optest_init(&t, "BatchNormalization", 15, 5, 1);
    lcv_tensor *in[5], *out[1];
    bn_inputs(2, d, &s, in);
    lcv_train_io io;
    gradcheck_io_init(&io, 1);
    /* one value per channel has no unbiased variance */
    CHECK(gradcheck_forward(&t, 5, in, 1, out, &io, NULL) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "more than one value per channel") != NULL);
    lcv_tensor_free(out[0]);
    gradcheck_free_all(in, 5);
    /* a state buffer of the wrong size */
    int64_t d2[2] = {3, 4}, two = 2;
    bn_inputs(2, d2, &s, in);
    lcv_tensor *sm = optest_tensor(LCV_DTYPE_FLOAT32, 1, &two, NULL);
    lcv_tensor *const state[5] = {NULL, NULL, NULL, sm, NULL};
    io.state = state;
    CHECK(gradcheck_forward(&t, 5, in, 1, out, &io, NULL) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "running mean") != NULL);
    lcv_tensor_free(out[0]);
    lcv_tensor_free(sm);
    gradcheck_free_all(in, 5);
    gradcheck_io_free(&io);
    optest_free(&t);
}

/* ---- LayerNormalization ---- */

static void test_layernorm(void) {
    uint64_t s = 55;
    static const struct {
        int nd, axis, ns, nb; /* nb 0: no B */
        int64_t x[4], sd[4], bd[4];
    } v[] = {
        {3, -1, 1, 1, {3, 5, 7}, {7}, {7}},          {3, 1, 2, 2, {2, 3, 5}, {3, 5}, {3, 5}},
        {4, 2, 2, 0, {2, 3, 4, 5}, {4, 5}, {0}},     {3, 0, 3, 3, {2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
        {3, -1, 2, 1, {3, 5, 7}, {5, 7}, {1}},       {2, -1, 2, 2, {4, 6}, {1, 6}, {4, 1}},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        optest t;
        optest_init(&t, "LayerNormalization", 17, v[i].nb ? 3 : 2, 1);
        optest_attr_int(&t, "axis", v[i].axis);
        if (i % 2) optest_attr_float(&t, "epsilon", 1e-3f);
        lcv_tensor *in[3] = {gradcheck_tensor_off_kinks(v[i].nd, v[i].x, -2, 2, NULL, 0, 0, &s),
                             gradcheck_tensor_off_kinks(v[i].ns, v[i].sd, 0.5, 1.5, NULL, 0, 0, &s),
                             v[i].nb ? gradcheck_tensor_off_kinks(v[i].nb, v[i].bd, -1, 1, NULL, 0, 0, &s) : NULL};
        char what[48];
        snprintf(what, sizeof what, "case %d axis %d", (int)i, v[i].axis);
        gradcheck_expect(&t, v[i].nb ? 3 : 2, in, 1, NULL, ATOL, RTOL, what);
        gradcheck_free_all(in, 3);
        optest_free(&t);
    }
}

/* Gradients of all three outputs, against finite differences of the float64 forward with
 * double Mean/InvStdDev (stash_type 11). */
static void test_layernorm_stats(void) {
    uint64_t s = 66;
    int64_t d[3] = {3, 4, 5}, sd[2] = {4, 5};
    optest t;
    optest_init(&t, "LayerNormalization", 17, 3, 3);
    optest_attr_int(&t, "axis", 1);
    optest_attr_int(&t, "stash_type", 11);
    lcv_tensor *in[3] = {gradcheck_tensor_off_kinks(3, d, -2, 2, NULL, 0, 0, &s),
                         gradcheck_tensor_off_kinks(2, sd, 0.5, 1.5, NULL, 0, 0, &s),
                         gradcheck_tensor_off_kinks(2, sd, -1, 1, NULL, 0, 0, &s)};
    lcv_tensor *out[3], *din[3];
    CHECK(gradcheck_forward(&t, 3, in, 3, out, NULL, NULL) == LCV_OK);
    int64_t sdims[3] = {3, 1, 1};
    for (int mode = 0; mode < 2; mode++) { /* all three gradients; only Mean and InvStdDev */
        lcv_tensor *dy[3] = {mode ? NULL : gradcheck_tensor_off_kinks(3, d, -1, 1, NULL, 0, 0, &s),
                             gradcheck_tensor_off_kinks(3, sdims, -1, 1, NULL, 0, 0, &s),
                             gradcheck_tensor_off_kinks(3, sdims, -1, 1, NULL, 0, 0, &s)};
        CHECK_MSG(gradcheck_backward(&t, 3, in, 3, out, dy, din, NULL, NULL, NULL, NULL) == LCV_OK, "%s",
                  t.err.msg);
        lcv_tensor *x64 = optest_tensor(LCV_DTYPE_FLOAT64, 3, d, NULL);
        for (int64_t j = 0; j < 60; j++) ((double *)x64->data)[j] = ((float *)in[0]->data)[j];
        lcv_tensor *p64[3] = {x64, NULL, NULL};
        for (int i = 1; i < 3; i++) {
            p64[i] = optest_tensor(LCV_DTYPE_FLOAT64, 2, sd, NULL);
            for (int64_t j = 0; j < 20; j++)
                ((double *)p64[i]->data)[j] = ((float *)in[i]->data)[j];
        }
        int bad = 0;
        for (int64_t j = 0; j < 60; j += 3) {
            double x0 = ((double *)x64->data)[j], l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                ((double *)x64->data)[j] = x0 + (sgn ? -1e-6 : 1e-6);
                lcv_tensor *o[3];
                for (int k = 0; k < 3; k++) lcv_tensor_create(LCV_DTYPE_FLOAT64, 0, NULL, &o[k]);
                CHECK(optest_run(&t, 3, (const lcv_tensor *const *)p64, 3, o) == LCV_OK);
                l[sgn] = 0;
                for (int k = 0; k < 3; k++) {
                    for (int64_t e = 0; dy[k] && e < lcv_tensor_count(o[k]); e++)
                        l[sgn] += ((double *)o[k]->data)[e] * ((float *)dy[k]->data)[e];
                    lcv_tensor_free(o[k]);
                }
            }
            ((double *)x64->data)[j] = x0;
            double num = (l[0] - l[1]) / 2e-6, ana = ((float *)din[0]->data)[j];
            if (fabs(num - ana) > ATOL + RTOL * fabs(num)) {
                fprintf(stderr, "  LayerNorm stats element %lld: %g vs %g\n", (long long)j, ana,
                        num);
                bad++;
            }
        }
        CHECK_MSG(bad == 0, "LayerNorm Mean/InvStdDev gradients (mode %d): %d mismatches", mode,
                  bad);
        gradcheck_free_all(p64, 3);
        gradcheck_free_all(dy, 3);
        gradcheck_free_all(din, 3);
    }
    gradcheck_free_all(out, 3);
    gradcheck_free_all(in, 3);
    optest_free(&t);
}

/* ---- InstanceNormalization ---- */

static void test_instancenorm(void) {
    uint64_t s = 77;
    static const struct {
        int nd;
        int64_t d[4];
    } v[] = {{4, {2, 3, 5, 4}}, {3, {1, 2, 7}}, {4, {3, 1, 3, 3}}};
    for (int i = 0; i < 3; i++) {
        optest t;
        optest_init(&t, "InstanceNormalization", 6, 3, 1);
        if (i == 1) optest_attr_float(&t, "epsilon", 1e-2f);
        int64_t C = v[i].d[1];
        lcv_tensor *in[3] = {gradcheck_tensor_off_kinks(v[i].nd, v[i].d, -2, 2, NULL, 0, 0, &s),
                             gradcheck_tensor_off_kinks(1, &C, 0.5, 1.5, NULL, 0, 0, &s),
                             gradcheck_tensor_off_kinks(1, &C, -1, 1, NULL, 0, 0, &s)};
        gradcheck_expect(&t, 3, in, 1, NULL, ATOL, RTOL, "planes");
        gradcheck_free_all(in, 3);
        optest_free(&t);
    }
}

/* ---- threads ---- */

/* The same forward and backward with 1 and 2 threads: bit-identical results. */
static void test_threads(void) {
    uint64_t s = 88;
    lcv_threadpool *pool = NULL;
    lcv_err err;
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    int64_t d[4] = {8, 16, 21, 23};
    lcv_tensor *in[5], *out1[1], *out2[1], *d1[5], *d2[5];
    bn_inputs(4, d, &s, in);
    lcv_tensor *dy[1] = {gradcheck_tensor_off_kinks(4, d, -1, 1, NULL, 0, 0, &s)};
    optest t;
    optest_init(&t, "BatchNormalization", 15, 5, 1);
    lcv_train_io io1, io2;
    gradcheck_io_init(&io1, 1);
    gradcheck_io_init(&io2, 1);
    CHECK(gradcheck_forward(&t, 5, in, 1, out1, &io1, NULL) == LCV_OK);
    CHECK(gradcheck_forward(&t, 5, in, 1, out2, &io2, pool) == LCV_OK);
    CHECK(gradcheck_same_bits(out1[0], out2[0]));
    CHECK(gradcheck_backward(&t, 5, in, 1, out1, dy, d1, NULL, &io1, NULL, NULL) == LCV_OK);
    CHECK(gradcheck_backward(&t, 5, in, 1, out2, dy, d2, NULL, &io2, pool, NULL) == LCV_OK);
    for (int i = 0; i < 5; i++) CHECK_MSG(gradcheck_same_bits(d1[i], d2[i]), "BatchNorm input %d", i);
    gradcheck_free_all(d1, 5);
    gradcheck_free_all(d2, 5);
    gradcheck_free_all(out1, 1);
    gradcheck_free_all(out2, 1);
    gradcheck_io_free(&io1);
    gradcheck_io_free(&io2);
    optest_free(&t);
    /* LayerNorm over the last two dims, InstanceNorm */
    const char *ops[2] = {"LayerNormalization", "InstanceNormalization"};
    for (int o = 0; o < 2; o++) {
        optest_init(&t, ops[o], o ? 6 : 17, 3, 1);
        int64_t pd[2] = {21, 23}, C = 16;
        if (!o) optest_attr_int(&t, "axis", 2);
        lcv_tensor *p[3] = {in[0], o ? gradcheck_tensor_off_kinks(1, &C, 0.5, 1.5, NULL, 0, 0, &s)
                                     : gradcheck_tensor_off_kinks(2, pd, 0.5, 1.5, NULL, 0, 0, &s),
                            o ? gradcheck_tensor_off_kinks(1, &C, -1, 1, NULL, 0, 0, &s)
                              : gradcheck_tensor_off_kinks(2, pd, -1, 1, NULL, 0, 0, &s)};
        CHECK(gradcheck_forward(&t, 3, p, 1, out1, NULL, NULL) == LCV_OK);
        CHECK(gradcheck_backward(&t, 3, p, 1, out1, dy, d1, NULL, NULL, NULL, NULL) == LCV_OK);
        CHECK(gradcheck_backward(&t, 3, p, 1, out1, dy, d2, NULL, NULL, pool, NULL) == LCV_OK);
        for (int i = 0; i < 3; i++) CHECK_MSG(gradcheck_same_bits(d1[i], d2[i]), "%s input %d", ops[o], i);
        gradcheck_free_all(d1, 3);
        gradcheck_free_all(d2, 3);
        gradcheck_free_all(out1, 1);
        lcv_tensor_free(p[1]);
        lcv_tensor_free(p[2]);
        optest_free(&t);
    }
    gradcheck_free_all(dy, 1);
    gradcheck_free_all(in, 5);
    lcv_threadpool_free(pool);
}

int main(void) {
    test_bn_grad();
    test_bn_state();
    test_bn_frozen();
    test_bn_bad();
    test_layernorm();
    test_layernorm_stats();
    test_instancenorm();
    test_threads();
    return lcv_test_finish("grad_norm");
}
