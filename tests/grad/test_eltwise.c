/* test_eltwise.c - backward of the elementwise ops against float64 finite differences:
 * unary math and activations (attribute variants, Clip's bounds as attributes and as inputs
 * with their own gradients), broadcasting Add/Sub/Mul/Div/Pow/PRelu over every broadcast
 * pattern, Softmax/LogSoftmax along every axis in both opset semantics, and Dropout (same seed
 * same mask, ratio 0 is the identity, mask statistics, training_mode false); plus thread-count
 * independence and bad inputs rejected with a message. */
#include "gradcheck.h"

#define ATOL 2e-4
#define RTOL 2e-3

/* A random odd-ish shape of rank 1..4 with dims 1..7. */
static int rand_shape(uint64_t *s, int64_t *dims) {
    int nd = (int)gradcheck_int(s, 1, 4);
    for (int i = 0; i < nd; i++) dims[i] = gradcheck_int(s, 1, 7);
    return nd;
}

/* ---- unary ops ---- */

typedef struct unary_case {
    const char *op;
    double lo, hi;
    int nk;
    double kinks[2];
} unary_case;

static void test_unary(void) {
    static const unary_case cases[] = {
        {"Relu", -2, 2, 1, {0}},        {"Sigmoid", -4, 4, 0, {0}}, {"Tanh", -3, 3, 0, {0}},
        {"Erf", -2, 2, 0, {0}},         {"Exp", -2, 2, 0, {0}},     {"Log", 0.3, 3, 0, {0}},
        {"Sqrt", 0.3, 3, 0, {0}},       {"Neg", -2, 2, 0, {0}},     {"Abs", -2, 2, 1, {0}},
        {"Reciprocal", 0.4, 2, 0, {0}}, {"Identity", -2, 2, 0, {0}}, {"Softplus", -5, 5, 0, {0}},
        {"HardSwish", -5, 5, 2, {-3, 3}},
    };
    uint64_t s = 101;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const unary_case *u = &cases[k];
        for (int rep = 0; rep < 3; rep++) {
            int64_t dims[4];
            int nd = rand_shape(&s, dims);
            optest t;
            optest_init(&t, u->op, 13, 1, 1);
            lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(nd, dims, u->lo, u->hi, u->kinks, u->nk, 0.02, &s)};
            gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, u->op);
            gradcheck_free_all(in, 1);
            optest_free(&t);
        }
    }
}

static void test_activations(void) {
    uint64_t s = 202;
    int64_t dims[3] = {3, 5, 7};
    /* LeakyRelu: default and custom alpha */
    for (int v = 0; v < 2; v++) {
        optest t;
        optest_init(&t, "LeakyRelu", 16, 1, 1);
        if (v) optest_attr_float(&t, "alpha", 0.3f);
        double k0 = 0;
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(3, dims, -2, 2, &k0, 1, 0.02, &s)};
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, v ? "alpha 0.3" : "default alpha");
        gradcheck_free_all(in, 1);
        optest_free(&t);
    }
    /* HardSigmoid: default (0.2, 0.5) and (1/6, 1/2) as torch exports it */
    for (int v = 0; v < 2; v++) {
        optest t;
        optest_init(&t, "HardSigmoid", 6, 1, 1);
        double kinks[2] = {-2.5, 2.5};
        if (v) {
            optest_attr_float(&t, "alpha", 1.0f / 6.0f);
            optest_attr_float(&t, "beta", 0.5f);
            kinks[0] = -3;
            kinks[1] = 3;
        }
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(3, dims, -5, 5, kinks, 2, 0.05, &s)};
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, v ? "torch alpha/beta" : "default alpha/beta");
        gradcheck_free_all(in, 1);
        optest_free(&t);
    }
    /* Elu: default and alpha 0.7 */
    for (int v = 0; v < 2; v++) {
        optest t;
        optest_init(&t, "Elu", 6, 1, 1);
        if (v) optest_attr_float(&t, "alpha", 0.7f);
        double k0 = 0;
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(3, dims, -3, 2, &k0, 1, 0.02, &s)};
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, v ? "alpha 0.7" : "default alpha");
        gradcheck_free_all(in, 1);
        optest_free(&t);
    }
    /* GELU as torch exports it uses Erf, Mul, Add, Div: Erf is covered above, the binary ops
     * below. */
}

/* Clip: attributes (opset 6), inputs (opset 13: both, only min, only max, neither, and the
 * ReLU6 form), with the bound inputs' gradients checked too. */
static void test_clip(void) {
    uint64_t s = 303;
    int64_t dims[3] = {4, 3, 5};
    {
        optest t;
        optest_init(&t, "Clip", 6, 1, 1);
        optest_attr_float(&t, "min", -0.5f);
        optest_attr_float(&t, "max", 0.75f);
        double k[2] = {-0.5, 0.75};
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(3, dims, -2, 2, k, 2, 0.02, &s)};
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, "attributes");
        gradcheck_free_all(in, 1);
        optest_free(&t);
    }
    static const struct {
        bool has_min, has_max;
        float lo, hi;
    } v[] = {{true, true, -0.5f, 0.75f}, {true, false, -0.3f, 0}, {false, true, 0, 0.4f},
             {false, false, 0, 0},        {true, true, 0.0f, 6.0f}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        optest t;
        optest_init(&t, "Clip", 13, 3, 1);
        double k[2] = {v[i].has_min ? v[i].lo : 100, v[i].has_max ? v[i].hi : 100};
        double hi = v[i].hi > 1 ? 8 : 2;
        lcv_tensor *in[3] = {gradcheck_tensor_off_kinks(3, dims, -2, hi, k, 2, 0.02, &s),
                             v[i].has_min ? gradcheck_fill(0, NULL, v[i].lo) : NULL,
                             v[i].has_max ? gradcheck_fill(0, NULL, v[i].hi) : NULL};
        gradcheck_expect(&t, 3, in, 1, NULL, ATOL, RTOL, "bound inputs");
        gradcheck_free_all(in, 3);
        optest_free(&t);
    }
}

/* ---- broadcasting binary ops ---- */

/* (a, b) shape pairs covering every broadcast pattern: equal, scalar either side, trailing
 * vector, per-channel [C,1,1], both sides broadcast, lower rank, size-1 leading dims. */
typedef struct shape_pair {
    int na, nb;
    int64_t a[4], b[4];
} shape_pair;

static const shape_pair PAIRS[] = {
    {3, 3, {2, 3, 5}, {2, 3, 5}},       {3, 0, {2, 3, 5}, {0}},
    {0, 3, {0}, {3, 1, 5}},             {4, 1, {2, 3, 4, 5}, {5}},
    {4, 3, {2, 3, 4, 5}, {3, 1, 1}},    {3, 3, {2, 1, 5}, {1, 3, 1}},
    {2, 4, {4, 5}, {2, 3, 4, 5}},       {4, 4, {1, 3, 1, 5}, {2, 1, 4, 1}},
    {1, 1, {1}, {7}},                   {3, 2, {3, 1, 1}, {1, 1}},
};

static void binary_case(const char *op, int opset, const shape_pair *p, uint64_t *s) {
    optest t;
    optest_init(&t, op, opset, 2, 1);
    bool div = strcmp(op, "Div") == 0;
    lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(p->na, p->a, -2, 2, NULL, 0, 0, s),
                         div ? gradcheck_tensor_off_kinks(p->nb, p->b, 0.5, 2, NULL, 0, 0, s)
                             : gradcheck_tensor_off_kinks(p->nb, p->b, -2, 2, NULL, 0, 0, s)};
    if (div) /* negative divisors too, kept away from 0 */
        for (int64_t i = 0; i < lcv_tensor_count(in[1]); i += 2)
            ((float *)in[1]->data)[i] = -((float *)in[1]->data)[i];
    char what[96];
    snprintf(what, sizeof what, "a rank %d, b rank %d (case %d)", p->na, p->nb, (int)(p - PAIRS));
    gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, what);
    gradcheck_free_all(in, 2);
    optest_free(&t);
}

static void test_binary(void) {
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div"};
    uint64_t s = 404;
    for (size_t o = 0; o < 4; o++)
        for (size_t p = 0; p < sizeof PAIRS / sizeof PAIRS[0]; p++)
            binary_case(ops[o], 14, &PAIRS[p], &s);
    /* only one input wanted (the other a constant) */
    optest t;
    optest_init(&t, "Mul", 14, 2, 1);
    int64_t da[3] = {2, 3, 5}, db[1] = {5};
    lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(3, da, -1, 1, NULL, 0, 0, &s),
                         gradcheck_tensor_off_kinks(1, db, -1, 1, NULL, 0, 0, &s)};
    bool wants[2] = {false, true};
    gradcheck_expect(&t, 2, in, 1, wants, ATOL, RTOL, "only b wanted");
    gradcheck_free_all(in, 2);
    optest_free(&t);
}

/* Pow: a positive base with a scalar, a same-shape and a broadcast float exponent (their
 * gradients checked), and an integer exponent (no gradient). */
static void test_pow(void) {
    uint64_t s = 505;
    int64_t d[3] = {3, 4, 5}, dc[1] = {5};
    for (int v = 0; v < 4; v++) {
        optest t;
        optest_init(&t, "Pow", 15, 2, 1);
        lcv_tensor *b;
        if (v == 0) b = gradcheck_fill(0, NULL, 2.5f);
        else if (v == 1) b = gradcheck_tensor_off_kinks(3, d, -1.5, 2.5, NULL, 0, 0, &s);
        else if (v == 2) b = gradcheck_tensor_off_kinks(1, dc, 0.5, 3, NULL, 0, 0, &s);
        else b = gradcheck_vec(1, (int64_t[]){3});
        lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(3, d, 0.4, 2.0, NULL, 0, 0, &s), b};
        gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL,
                v == 0 ? "scalar exponent" : v == 1 ? "tensor exponent"
                : v == 2 ? "broadcast exponent" : "int64 exponent");
        gradcheck_free_all(in, 2);
        optest_free(&t);
    }
}

/* PRelu: slope [C,1,1] (opset 9), [C] per channel before opset 7, a single slope, and a slope
 * broadcast along the last dim. */
static void test_prelu(void) {
    uint64_t s = 606;
    int64_t x[4] = {2, 3, 4, 5};
    static const struct {
        int opset, nd;
        int64_t d[3];
    } v[] = {{9, 3, {3, 1, 1}}, {6, 1, {3}}, {16, 1, {1}}, {16, 1, {5}}};
    for (int i = 0; i < 4; i++) {
        optest t;
        optest_init(&t, "PRelu", v[i].opset, 2, 1);
        double k0 = 0;
        lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(4, x, -2, 2, &k0, 1, 0.02, &s),
                             gradcheck_tensor_off_kinks(v[i].nd, v[i].d, 0.05, 0.5, NULL, 0, 0, &s)};
        gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "slope");
        gradcheck_free_all(in, 2);
        optest_free(&t);
    }
}

/* ---- Softmax, LogSoftmax ---- */

static void test_softmax(void) {
    uint64_t s = 707;
    int64_t d[4] = {2, 3, 4, 5};
    static const char *const ops[] = {"Softmax", "LogSoftmax"};
    for (int o = 0; o < 2; o++) {
        for (int opset = 11; opset <= 13; opset += 2) {
            for (int axis = -4; axis < 4; axis++) {
                optest t;
                optest_init(&t, ops[o], opset, 1, 1);
                optest_attr_int(&t, "axis", axis);
                lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(4, d, -3, 3, NULL, 0, 0, &s)};
                char what[48];
                snprintf(what, sizeof what, "opset %d axis %d", opset, axis);
                gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, what);
                gradcheck_free_all(in, 1);
                optest_free(&t);
            }
        }
        /* defaults: axis 1 before opset 13, -1 from it; a 1-D input */
        int64_t n = 9;
        optest t;
        optest_init(&t, ops[o], 13, 1, 1);
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(1, &n, -3, 3, NULL, 0, 0, &s)};
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, "1-D default axis");
        gradcheck_free_all(in, 1);
        optest_free(&t);
    }
}

/* ---- Dropout ---- */

/* Runs Dropout's training forward with ratio (opset 13 input) and returns Y, optionally the
 * mask output. */
static lcv_tensor *dropout_run(lcv_tensor *x, float ratio, uint64_t seed, lcv_threadpool *pool,
                               lcv_train_io *io, lcv_tensor **mask) {
    optest t;
    optest_init(&t, "Dropout", 13, 2, mask ? 2 : 1);
    lcv_tensor *in[2] = {x, gradcheck_fill(0, NULL, ratio)}, *out[2] = {NULL, NULL};
    lcv_status st = gradcheck_forward(&t, 2, in, mask ? 2 : 1, out, io, pool);
    CHECK_MSG(st == LCV_OK, "dropout forward: %s", t.err.msg);
    if (mask) *mask = out[1];
    lcv_tensor_free(in[1]);
    optest_free(&t);
    return out[0];
}

static void test_dropout(void) {
    uint64_t s = 808;
    int64_t n = 200001;
    lcv_tensor *x = gradcheck_tensor_off_kinks(1, &n, 0.5, 1.5, NULL, 0, 0, &s);
    lcv_threadpool *pool = NULL;
    lcv_err err;
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    lcv_train_io io1, io2, io3;
    gradcheck_io_init(&io1, 42);
    gradcheck_io_init(&io2, 42);
    gradcheck_io_init(&io3, 43);
    /* same seed, same mask, whatever the thread count; another seed, another mask */
    lcv_tensor *mask = NULL;
    lcv_tensor *y1 = dropout_run(x, 0.3f, 42, NULL, &io1, &mask);
    lcv_tensor *y2 = dropout_run(x, 0.3f, 42, pool, &io2, NULL);
    lcv_tensor *y3 = dropout_run(x, 0.3f, 43, NULL, &io3, NULL);
    CHECK(gradcheck_same_bits(y1, y2));
    CHECK(!gradcheck_same_bits(y1, y3));
    /* statistics: kept fraction 0.7 within 5 sigma (sigma = sqrt(0.21 / n) ~ 0.001); kept
     * values scaled by 1 / 0.7; the mask output agrees */
    int64_t kept = 0, bad = 0;
    const float *xp = x->data, *yp = y1->data;
    const uint8_t *mp = mask->data;
    for (int64_t i = 0; i < n; i++) {
        bool k = yp[i] != 0.0f;
        kept += k;
        if ((k && fabsf(yp[i] - xp[i] / 0.7f) > 1e-6f * xp[i]) || mp[i] != k) bad++;
    }
    CHECK(mask->dtype == LCV_DTYPE_BOOL);
    CHECK_MSG(fabs((double)kept / (double)n - 0.7) < 0.005, "kept fraction %g",
              (double)kept / (double)n);
    CHECK_MSG(bad == 0, "%lld elements with a wrong value or mask", (long long)bad);
    /* neighbouring elements are not correlated: runs of kept elements as for independent
     * draws (expected transitions 2 * 0.7 * 0.3 * n ~ 0.42 n) */
    int64_t changes = 0;
    for (int64_t i = 1; i < n; i++) changes += (yp[i] != 0.0f) != (yp[i - 1] != 0.0f);
    CHECK_MSG(fabs((double)changes / (double)n - 0.42) < 0.01, "transitions %g",
              (double)changes / (double)n);
    /* backward: dY * mask / 0.7 */
    {
        optest t;
        optest_init(&t, "Dropout", 13, 2, 1);
        lcv_tensor *in[2] = {x, gradcheck_fill(0, NULL, 0.3f)}, *din[2], *out[1] = {y1};
        lcv_tensor *dy[1] = {gradcheck_tensor_off_kinks(1, &n, -1, 1, NULL, 0, 0, &s)};
        CHECK(gradcheck_backward(&t, 2, in, 1, out, dy, din, NULL, &io1, pool, NULL) == LCV_OK);
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; i++) {
            float want = mp[i] ? ((float *)dy[0]->data)[i] * (1.0f / 0.7f) : 0.0f;
            wrong += fabsf(((float *)din[0]->data)[i] - want) > 1e-6f;
        }
        CHECK_MSG(wrong == 0, "%lld wrong gradients", (long long)wrong);
        CHECK(din[1] && ((float *)din[1]->data)[0] == 0.0f);
        lcv_tensor_free(in[1]);
        gradcheck_free_all(dy, 1);
        gradcheck_free_all(din, 2);
        optest_free(&t);
    }
    /* ratio 0: the identity, forward and backward */
    lcv_train_io io0;
    gradcheck_io_init(&io0, 5);
    lcv_tensor *y0 = dropout_run(x, 0.0f, 5, NULL, &io0, NULL);
    CHECK(gradcheck_same_bits(y0, x));
    gradcheck_io_free(&io0);
    lcv_tensor_free(y0);
    /* finite differences through the mask (same seed each evaluation) */
    {
        int64_t d[3] = {3, 5, 7};
        optest t;
        optest_init(&t, "Dropout", 13, 2, 1);
        lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(3, d, -1, 1, NULL, 0, 0, &s), gradcheck_fill(0, NULL, 0.4f)};
        bool wants[2] = {true, false};
        gradcheck_expect(&t, 2, in, 1, wants, ATOL, RTOL, "ratio 0.4");
        gradcheck_free_all(in, 2);
        optest_free(&t);
        /* opset 7: ratio attribute, mask output of X's dtype */
        optest_init(&t, "Dropout", 7, 1, 2);
        optest_attr_float(&t, "ratio", 0.25f);
        lcv_tensor *in7[1] = {gradcheck_tensor_off_kinks(3, d, -1, 1, NULL, 0, 0, &s)};
        gradcheck_expect(&t, 1, in7, 1, NULL, ATOL, RTOL, "opset 7 ratio attribute");
        gradcheck_free_all(in7, 1);
        optest_free(&t);
    }
    /* training_mode false: the identity even in training; ratio 1.5: rejected */
    {
        optest t;
        optest_init(&t, "Dropout", 13, 3, 1);
        lcv_tensor *tm = optest_tensor(LCV_DTYPE_BOOL, 0, NULL, (double[]){0});
        lcv_tensor *in[3] = {x, gradcheck_fill(0, NULL, 0.5f), tm}, *out[1];
        lcv_train_io io;
        gradcheck_io_init(&io, 9);
        CHECK(gradcheck_forward(&t, 3, in, 1, out, &io, NULL) == LCV_OK);
        CHECK(gradcheck_same_bits(out[0], x));
        lcv_tensor_free(out[0]);
        ((float *)in[1]->data)[0] = 1.5f;
        optest_free(&t);
        optest_init(&t, "Dropout", 13, 2, 1);
        lcv_status st = gradcheck_forward(&t, 2, in, 1, out, &io, NULL);
        CHECK(st == LCV_ERR_INVALID_ARG && strstr(t.err.msg, "ratio") != NULL);
        lcv_tensor_free(out[0]);
        gradcheck_io_free(&io);
        lcv_tensor_free(in[1]);
        lcv_tensor_free(tm);
        optest_free(&t);
    }
    /* backward without a training forward (inference exec ran): the identity */
    {
        int64_t d[1] = {6};
        optest t;
        optest_init(&t, "Dropout", 13, 1, 1);
        lcv_tensor *in[1] = {gradcheck_tensor_off_kinks(1, d, -1, 1, NULL, 0, 0, &s)}, *din[1];
        lcv_tensor *dy[1] = {gradcheck_tensor_off_kinks(1, d, -1, 1, NULL, 0, 0, &s)};
        CHECK(gradcheck_backward(&t, 1, in, 1, in, dy, din, NULL, NULL, NULL, NULL) == LCV_OK);
        CHECK(gradcheck_same_bits(din[0], dy[0]));
        gradcheck_free_all(in, 1);
        gradcheck_free_all(dy, 1);
        gradcheck_free_all(din, 1);
        optest_free(&t);
    }
    gradcheck_io_free(&io1);
    gradcheck_io_free(&io2);
    gradcheck_io_free(&io3);
    lcv_tensor_free(mask);
    lcv_tensor_free(y1);
    lcv_tensor_free(y2);
    lcv_tensor_free(y3);
    lcv_tensor_free(x);
    lcv_threadpool_free(pool);
}

/* ---- threads, missing gradients, bad inputs ---- */

/* Broadcast reductions split over 2 threads give the same bits as 1 thread. */
static void test_threads(void) {
    uint64_t s = 909;
    lcv_threadpool *pool = NULL;
    lcv_err err;
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    static const shape_pair big[] = {{4, 4, {8, 16, 33, 35}, {1, 16, 1, 1}},
                                     {3, 1, {64, 50, 67}, {67}},
                                     {3, 3, {61, 1, 300}, {1, 70, 1}}};
    static const char *const ops[] = {"Add", "Mul", "Div", "PRelu"};
    for (int o = 0; o < 4; o++) {
        for (int p = 0; p < 3; p++) {
            if (o == 3 && p == 2) continue; /* PRelu's slope never broadcasts X */
            optest t;
            optest_init(&t, ops[o], 16, 2, 1);
            lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(big[p].na, big[p].a, -2, 2, NULL, 0, 0, &s),
                                 gradcheck_tensor_off_kinks(big[p].nb, big[p].b, 0.5, 2, NULL, 0, 0, &s)};
            lcv_tensor *out[1], *dy[1], *d1[2], *d2[2];
            CHECK(gradcheck_forward(&t, 2, in, 1, out, NULL, NULL) == LCV_OK);
            dy[0] = gradcheck_tensor_off_kinks(out[0]->ndim, out[0]->dims, -1, 1, NULL, 0, 0, &s);
            lcv_scratch scr = {NULL, 0};
            CHECK(gradcheck_backward(&t, 2, in, 1, out, dy, d1, NULL, NULL, NULL, NULL) == LCV_OK);
            CHECK(gradcheck_backward(&t, 2, in, 1, out, dy, d2, NULL, NULL, pool, &scr) == LCV_OK);
            CHECK_MSG(gradcheck_same_bits(d1[0], d2[0]) && gradcheck_same_bits(d1[1], d2[1]), "%s case %d", ops[o], p);
            free(scr.data);
            gradcheck_free_all(in, 2);
            gradcheck_free_all(out, 1);
            gradcheck_free_all(dy, 1);
            gradcheck_free_all(d1, 2);
            gradcheck_free_all(d2, 2);
            optest_free(&t);
        }
    }
    lcv_threadpool_free(pool);
}

static void test_bad_inputs(void) {
    uint64_t s = 1010;
    int64_t d[2] = {3, 4}, d2[2] = {4, 3};
    /* no gradient reaching the output: zeros */
    optest t;
    optest_init(&t, "Mul", 14, 2, 1);
    lcv_tensor *in[2] = {gradcheck_tensor_off_kinks(2, d, -1, 1, NULL, 0, 0, &s),
                         gradcheck_tensor_off_kinks(2, d, -1, 1, NULL, 0, 0, &s)};
    lcv_tensor *out[1], *din[2], *dnull[1] = {NULL};
    CHECK(gradcheck_forward(&t, 2, in, 1, out, NULL, NULL) == LCV_OK);
    CHECK(gradcheck_backward(&t, 2, in, 1, out, dnull, din, NULL, NULL, NULL, NULL) == LCV_OK);
    bool zero = true;
    for (int i = 0; i < 12; i++)
        zero &= ((float *)din[0]->data)[i] == 0 && ((float *)din[1]->data)[i] == 0;
    CHECK(zero);
    gradcheck_free_all(din, 2);
    /* a gradient of the wrong size */
    lcv_tensor *dbad[1] = {gradcheck_tensor_off_kinks(1, (int64_t[]){5}, -1, 1, NULL, 0, 0, &s)};
    CHECK(gradcheck_backward(&t, 2, in, 1, out, dbad, din, NULL, NULL, NULL, NULL) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "gradient of output 0") != NULL && strstr(t.err.msg, "'n'") != NULL);
    gradcheck_free_all(din, 2);
    gradcheck_free_all(dbad, 1);
    /* an output shape the inputs do not broadcast to */
    lcv_tensor *wrong[1] = {gradcheck_tensor_off_kinks(2, d2, -1, 1, NULL, 0, 0, &s)};
    lcv_tensor *dy[1] = {gradcheck_tensor_off_kinks(2, d2, -1, 1, NULL, 0, 0, &s)};
    CHECK(gradcheck_backward(&t, 2, in, 1, wrong, dy, din, NULL, NULL, NULL, NULL) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "does not broadcast") != NULL);
    gradcheck_free_all(din, 2);
    gradcheck_free_all(wrong, 1);
    gradcheck_free_all(dy, 1);
    gradcheck_free_all(out, 1);
    optest_free(&t);
    /* float64 data: training is float32 only */
    optest_init(&t, "Relu", 14, 1, 1);
    lcv_tensor *x64[1] = {optest_tensor(LCV_DTYPE_FLOAT64, 2, d, NULL)};
    lcv_tensor *g[1] = {optest_tensor(LCV_DTYPE_FLOAT32, 2, d, NULL)};
    lcv_tensor *dx[1] = {optest_tensor(LCV_DTYPE_FLOAT32, 2, d, NULL)};
    lcv_gradctx gc = {t.node, 1, (const lcv_tensor *const *)x64, 1,
                      (const lcv_tensor *const *)x64, (const lcv_tensor *const *)g, dx, NULL,
                      &t.err, NULL, NULL};
    CHECK(lcv_grad_relu(&gc) == LCV_ERR_UNSUPPORTED);
    CHECK(strstr(t.err.msg, "float32") != NULL);
    gradcheck_free_all(x64, 1);
    gradcheck_free_all(g, 1);
    gradcheck_free_all(dx, 1);
    optest_free(&t);
    gradcheck_free_all(in, 2);
}

int main(void) {
    test_unary();
    test_activations();
    test_clip();
    test_binary();
    test_pow();
    test_prelu();
    test_softmax();
    test_dropout();
    test_threads();
    test_bad_inputs();
    return lcv_test_finish("grad_eltwise");
}
