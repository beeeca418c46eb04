/* test_unary.c - one-input elementwise ops and activations: values (hand-computed or from the
 * ONNX backend data), float32 fast loops against the float64 reference, integer paths,
 * opset-dependent Clip/Dropout, and bad input giving an error, not a crash. */
#include "op_test_util.h"

#define F32 LCV_DTYPE_FLOAT32
#define F64 LCV_DTYPE_FLOAT64

static lcv_tensor *vec(lcv_dtype d, int64_t n, const double *v) {
    return optest_tensor(d, 1, &n, v);
}

/* Runs t's node, expects LCV_OK and output 0 of dtype od equal to ref; frees ins and t. */
static void expect(optest *t, int n_in, lcv_tensor **ins, lcv_dtype od, int64_t n,
                   const double *ref, double tol, int line) {
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    lcv_status st = optest_run(t, n_in, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st == LCV_OK, "line %d: %s", line, t->err.msg);
    if (st == LCV_OK) {
        CHECK_MSG(y->dtype == od, "line %d: dtype %s", line, lcv_dtype_name(y->dtype));
        CHECK_MSG(optest_close(y, ref, n, tol, tol), "line %d (%s)", line, t->node->op_type);
    }
    lcv_tensor_free(y);
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
    optest_free(t);
}

static void expect_err(optest *t, int n_in, lcv_tensor **ins, lcv_status want, int line) {
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    lcv_status st = optest_run(t, n_in, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st == want, "line %d: got %s (%s)", line, lcv_status_name(st), t->err.msg);
    CHECK_MSG(strstr(t->err.msg, "node 'n'") != NULL, "line %d: message '%s'", line, t->err.msg);
    lcv_tensor_free(y);
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
    optest_free(t);
}

#define EXPECT(t, n_in, ins, od, n, ref, tol) expect(t, n_in, ins, od, n, ref, tol, __LINE__)
#define EXPECT_ERR(t, n_in, ins, want) expect_err(t, n_in, ins, want, __LINE__)

/* Runs a one-input op without attributes on x (n values) in dtype d; expects ref. */
static void run1(const char *op, int opset, lcv_dtype d, int64_t n, const double *x,
                 const double *ref, double tol, int line) {
    optest t;
    optest_init(&t, op, opset, 1, 1);
    expect(&t, 1, (lcv_tensor *[]){vec(d, n, x)}, d, n, ref, tol, line);
}
#define RUN1(op, opset, d, n, x, ref, tol) run1(op, opset, d, n, x, ref, tol, __LINE__)

static const double xs[] = {-2.5, -1, -0.5, 0, 0.25, 0.5, 1.5, 2.5, 3};
#define NX 9

typedef double (*ref_fn)(double);

static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_recip(double x) { return 1 / x; }
static double r_softplus(double x) { return log(exp(x) + 1); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_hardswish(double x) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_mish(double x) { return x * tanh(log1p(exp(x))); }
static double r_neg(double x) { return -x; }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

/* Math functions on float32 (fast loops where they exist) and float64, against libm. */
static void test_math(void) {
    static const struct {
        const char *op;
        ref_fn f;
        bool positive; /* domain: x > 0 (log, sqrt) or |x| < 1 (asin...) */
        bool unit;
    } cases[] = {
        {"Abs", fabs, 0, 0},        {"Neg", r_neg, 0, 0},           {"Exp", exp, 0, 0},
        {"Log", log, 1, 0},         {"Sqrt", sqrt, 1, 0},           {"Reciprocal", r_recip, 1, 0},
        {"Floor", floor, 0, 0},     {"Ceil", ceil, 0, 0},           {"Sign", r_sign, 0, 0},
        {"Sin", sin, 0, 0},         {"Cos", cos, 0, 0},             {"Tan", tan, 0, 0},
        {"Asin", asin, 0, 1},       {"Acos", acos, 0, 1},           {"Atan", atan, 0, 0},
        {"Sinh", sinh, 0, 0},       {"Cosh", cosh, 0, 0},           {"Asinh", asinh, 0, 0},
        {"Acosh", acosh, 1, 0},     {"Atanh", atanh, 0, 1},         {"Tanh", tanh, 0, 0},
        {"Sigmoid", r_sigmoid, 0, 0}, {"Relu", r_relu, 0, 0},       {"Erf", erf, 0, 0},
        {"Softplus", r_softplus, 0, 0}, {"Softsign", r_softsign, 0, 0},
        {"HardSwish", r_hardswish, 0, 0}, {"Mish", r_mish, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double in[NX], ref[NX];
        for (int i = 0; i < NX; i++) {
            in[i] = xs[i];
            if (cases[k].positive) in[i] = fabs(xs[i]) + 1.0;
            if (cases[k].unit) in[i] = xs[i] / 3.5;
            ref[i] = cases[k].f(in[i]);
        }
        RUN1(cases[k].op, 18, F32, NX, in, ref, 2e-6);
        RUN1(cases[k].op, 18, F64, NX, in, ref, 1e-12);
        RUN1(cases[k].op, 18, LCV_DTYPE_FLOAT16, 3, in, ref, 4e-3);
    }
    /* test_round: half to even */
    const double rx[] = {0.1, 0.5, 0.9, 1.2, 1.5, 1.8, 2.3, 2.5, 2.7, -1.1, -1.5, -1.9, -2.2, -2.5,
                         -2.8};
    const double rr[] = {0, 0, 1, 1, 2, 2, 2, 2, 3, -1, -2, -2, -2, -2, -3};
    RUN1("Round", 11, F32, 15, rx, rr, 0);
    RUN1("Round", 11, LCV_DTYPE_BFLOAT16, 15, rx, rr, 0);
    RUN1("Sign", 13, F32, 2, ((double[]){NAN, -0.0}), ((double[]){NAN, 0}), 0);
}

static void test_ints(void) {
    const double v[] = {-128, -3, 0, 5, 127};
    RUN1("Abs", 13, LCV_DTYPE_INT8, 5, v, ((double[]){-128, 3, 0, 5, 127}), 0); /* numpy wraps */
    RUN1("Neg", 13, LCV_DTYPE_INT32, 5, v, ((double[]){128, 3, 0, -5, -127}), 0);
    RUN1("Sign", 13, LCV_DTYPE_INT16, 5, v, ((double[]){-1, -1, 0, 1, 1}), 0);
    RUN1("Relu", 14, LCV_DTYPE_INT64, 5, v, ((double[]){0, 0, 0, 5, 127}), 0);
    RUN1("Abs", 13, LCV_DTYPE_UINT8, 3, ((double[]){0, 200, 255}), ((double[]){0, 200, 255}), 0);
    RUN1("BitwiseNot", 18, LCV_DTYPE_UINT8, 3, ((double[]){0, 1, 255}), ((double[]){255, 254, 0}),
         0);
    RUN1("BitwiseNot", 18, LCV_DTYPE_INT32, 2, ((double[]){0, -6}), ((double[]){-1, 5}), 0);
    /* int64 beyond 2^53 stays exact through Abs/Neg */
    optest t;
    optest_init(&t, "Neg", 13, 1, 1);
    int64_t one = 1;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_INT64, 1, &one, NULL), *y = NULL;
    ((int64_t *)x->data)[0] = ((int64_t)1 << 60) + 1;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {x};
    CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_OK &&
          ((int64_t *)y->data)[0] == -(((int64_t)1 << 60) + 1));
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    optest_free(&t);
}

static void test_activations(void) {
    optest t;
    const double x[] = {-2, -1, 0, 1, 2};
    /* test_elu_example: alpha 2 */
    optest_init(&t, "Elu", 6, 1, 1);
    optest_attr_float(&t, "alpha", 2.0f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 3, (double[]){-1, 0, 1})}, F32, 3,
           ((double[]){-1.2642411, 0, 1}), 1e-6);
    optest_init(&t, "Elu", 6, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 2, (double[]){-1, 3})}, F32, 2,
           ((double[]){exp(-1) - 1, 3}), 1e-6);
    /* test_selu_example: alpha 2, gamma 3 */
    optest_init(&t, "Selu", 6, 1, 1);
    optest_attr_float(&t, "alpha", 2.0f);
    optest_attr_float(&t, "gamma", 3.0f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 3, (double[]){-1, 0, 1})}, F32, 3,
           ((double[]){-3.7927232, 0, 3}), 1e-6);
    optest_init(&t, "Selu", 6, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 2, (double[]){-1, 1})}, F32, 2,
           ((double[]){-1.1113307, 1.050701}), 1e-6);
    /* Celu alpha 2 */
    optest_init(&t, "Celu", 12, 1, 1);
    optest_attr_float(&t, "alpha", 2.0f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 2, (double[]){-1, 0.5})}, F32, 2,
           ((double[]){2 * (exp(-0.5) - 1), 0.5}), 1e-6);
    optest_init(&t, "LeakyRelu", 16, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, x)}, F32, 5,
           ((double[]){-0.02, -0.01, 0, 1, 2}), 1e-7);
    optest_init(&t, "LeakyRelu", 16, 1, 1);
    optest_attr_float(&t, "alpha", 0.1f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F64, 5, x)}, F64, 5, ((double[]){-0.2, -0.1, 0, 1, 2}),
           1e-7);
    optest_init(&t, "ThresholdedRelu", 10, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, x)}, F32, 5, ((double[]){0, 0, 0, 0, 2}), 0);
    optest_init(&t, "ThresholdedRelu", 10, 1, 1);
    optest_attr_float(&t, "alpha", 0.5f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, x)}, F32, 5, ((double[]){0, 0, 0, 1, 2}), 0);
    /* HardSigmoid defaults 0.2/0.5 and test_hardsigmoid_example (0.5, 0.6) */
    optest_init(&t, "HardSigmoid", 6, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, (double[]){-3, -1, 0, 1, 3})}, F32, 5,
           ((double[]){0, 0.3, 0.5, 0.7, 1}), 1e-6);
    optest_init(&t, "HardSigmoid", 6, 1, 1);
    optest_attr_float(&t, "alpha", 0.5f);
    optest_attr_float(&t, "beta", 0.6f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F64, 3, (double[]){-1, 0, 1})}, F64, 3,
           ((double[]){0.1, 0.6, 1}), 1e-6);
    /* test_shrink_soft / test_shrink_hard */
    optest_init(&t, "Shrink", 9, 1, 1);
    optest_attr_float(&t, "lambd", 1.5f);
    optest_attr_float(&t, "bias", 1.5f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, x)}, F32, 5, ((double[]){-0.5, 0, 0, 0, 0.5}), 0);
    optest_init(&t, "Shrink", 9, 1, 1);
    optest_attr_float(&t, "lambd", 1.5f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_INT32, 5, x)}, LCV_DTYPE_INT32, 5,
           ((double[]){-2, 0, 0, 0, 2}), 0);
}

static void test_clip(void) {
    optest t;
    const double x[] = {-2, -1, 0, 1, 2, NAN};
    /* opset 11+: optional scalar inputs */
    optest_init(&t, "Clip", 13, 3, 1);
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(F32, 6, x), optest_tensor(F32, 0, NULL, (double[]){-1}),
                             optest_tensor(F32, 0, NULL, (double[]){1})}),
           F32, 6, ((double[]){-1, -1, 0, 1, 1, NAN}), 0);
    optest_init(&t, "Clip", 13, 3, 1); /* min only, max omitted */
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(F64, 5, x), optest_tensor(F64, 0, NULL, (double[]){0}), NULL}),
           F64, 5, ((double[]){0, 0, 0, 1, 2}), 0);
    optest_init(&t, "Clip", 13, 1, 1); /* test_clip_default_inbounds */
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 5, x)}, F32, 5, x, 0);
    optest_init(&t, "Clip", 13, 3, 1); /* min > max: max wins, as numpy */
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(F32, 3, x), optest_tensor(F32, 0, NULL, (double[]){1}),
                             optest_tensor(F32, 0, NULL, (double[]){0})}),
           F32, 3, ((double[]){0, 0, 0}), 0);
    optest_init(&t, "Clip", 13, 3, 1); /* test_clip_default_int8_min */
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_INT8, 5, x),
                             optest_tensor(LCV_DTYPE_INT8, 0, NULL, (double[]){0})}),
           LCV_DTYPE_INT8, 5, ((double[]){0, 0, 0, 1, 2}), 0);
    optest_init(&t, "Clip", 13, 3, 1); /* unsigned 64-bit bounds compare unsigned */
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(LCV_DTYPE_UINT64, 3, (double[]){1, 5, 9}), NULL,
                             optest_tensor(LCV_DTYPE_UINT64, 0, NULL, (double[]){6})}),
           LCV_DTYPE_UINT64, 3, ((double[]){1, 5, 6}), 0);
    /* opset 6: attributes (ReLU6) */
    optest_init(&t, "Clip", 6, 1, 1);
    optest_attr_float(&t, "min", 0.0f);
    optest_attr_float(&t, "max", 6.0f);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 3, (double[]){-1, 3, 7})}, F32, 3,
           ((double[]){0, 3, 6}), 0);
    /* bad bounds */
    optest_init(&t, "Clip", 13, 3, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){vec(F32, 3, x), vec(F32, 2, x)}), LCV_ERR_SHAPE);
    optest_init(&t, "Clip", 13, 3, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){vec(F32, 3, x), vec(F64, 1, x)}), LCV_ERR_SHAPE);
    optest_init(&t, "Clip", 6, 3, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){vec(F32, 3, x), vec(F32, 1, x)}), LCV_ERR_SHAPE);
}

static void test_misc(void) {
    optest t;
    RUN1("Identity", 16, LCV_DTYPE_BOOL, 3, ((double[]){1, 0, 1}), ((double[]){1, 0, 1}), 0);
    RUN1("Identity", 16, LCV_DTYPE_INT64, 2, ((double[]){-7, 9}), ((double[]){-7, 9}), 0);
    optest_init(&t, "Not", 1, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_BOOL, 3, (double[]){1, 0, 1})}, LCV_DTYPE_BOOL,
           3, ((double[]){0, 1, 0}), 0);
    const double v[] = {-1.2, NAN, INFINITY, 2.8, -INFINITY, INFINITY};
    optest_init(&t, "IsNaN", 13, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_FLOAT16, 6, v)}, LCV_DTYPE_BOOL, 6,
           ((double[]){0, 1, 0, 0, 0, 0}), 0);
    optest_init(&t, "IsInf", 10, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 6, v)}, LCV_DTYPE_BOOL, 6,
           ((double[]){0, 0, 1, 0, 1, 1}), 0);
    optest_init(&t, "IsInf", 10, 1, 1);
    optest_attr_int(&t, "detect_positive", 0);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F64, 6, v)}, LCV_DTYPE_BOOL, 6,
           ((double[]){0, 0, 0, 0, 1, 0}), 0);
    optest_init(&t, "IsInf", 10, 1, 1);
    optest_attr_int(&t, "detect_negative", 0);
    EXPECT(&t, 1, (lcv_tensor *[]){vec(F32, 6, v)}, LCV_DTYPE_BOOL, 6,
           ((double[]){0, 0, 1, 0, 0, 1}), 0);
}

/* Dropout in inference: identity plus an all-true mask; training with ratio > 0 refused. */
static void test_dropout(void) {
    const double x[] = {-1, 0, 1};
    for (int opset = 7; opset <= 13; opset += 3) {
        optest t;
        optest_init(&t, "Dropout", opset, 1, 2);
        lcv_tensor *in = vec(F32, 3, x), *y = NULL, *m = NULL;
        lcv_tensor_create(F32, 0, NULL, &y);
        lcv_tensor_create(F32, 0, NULL, &m);
        lcv_tensor *outs[] = {y, m};
        const lcv_tensor *ins[] = {in};
        CHECK_MSG(optest_run(&t, 1, ins, 2, outs) == LCV_OK, "%s", t.err.msg);
        CHECK(optest_close(y, x, 3, 0, 0));
        CHECK(m->dtype == (opset >= 10 ? LCV_DTYPE_BOOL : F32));
        CHECK(optest_close(m, (double[]){1, 1, 1}, 3, 0, 0));
        lcv_tensor_free(in);
        lcv_tensor_free(y);
        lcv_tensor_free(m);
        optest_free(&t);
    }
    optest t;
    optest_init(&t, "Dropout", 13, 3, 1); /* ratio given, training false */
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(F32, 3, x), optest_tensor(F32, 0, NULL, (double[]){0.1}),
                             optest_tensor(LCV_DTYPE_BOOL, 0, NULL, (double[]){0})}),
           F32, 3, x, 0);
    optest_init(&t, "Dropout", 13, 3, 1); /* training with ratio 0 is still the identity */
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(F32, 3, x), optest_tensor(F32, 0, NULL, (double[]){0}),
                             optest_tensor(LCV_DTYPE_BOOL, 0, NULL, (double[]){1})}),
           F32, 3, x, 0);
    optest_init(&t, "Dropout", 13, 3, 1);
    EXPECT_ERR(&t, 3,
               ((lcv_tensor *[]){vec(F32, 3, x), optest_tensor(F32, 0, NULL, (double[]){0.5}),
                                 optest_tensor(LCV_DTYPE_BOOL, 0, NULL, (double[]){1})}),
               LCV_ERR_UNSUPPORTED);
    optest_init(&t, "Dropout", 13, 3, 1); /* default ratio 0.5 */
    EXPECT_ERR(&t, 3,
               ((lcv_tensor *[]){vec(F32, 3, x), NULL,
                                 optest_tensor(LCV_DTYPE_BOOL, 0, NULL, (double[]){1})}),
               LCV_ERR_UNSUPPORTED);
    optest_init(&t, "Dropout", 13, 3, 1);
    EXPECT_ERR(&t, 3,
               ((lcv_tensor *[]){vec(F32, 3, x), NULL,
                                 optest_tensor(F32, 0, NULL, (double[]){1})}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Dropout", 10, 2, 1);
    EXPECT_ERR(&t, 2,
               ((lcv_tensor *[]){vec(F32, 3, x), optest_tensor(F32, 0, NULL, (double[]){0})}),
               LCV_ERR_SHAPE);
}

static void test_errors(void) {
    optest t;
    const double x[] = {1, 2};
    const char *float_only[] = {"Exp", "Log", "Sigmoid", "Tanh", "HardSwish", "Floor", "Round",
                                "Elu", "IsNaN", "IsInf", "Dropout", "LpNormalization"};
    for (size_t k = 0; k < sizeof float_only / sizeof float_only[0]; k++) {
        optest_init(&t, float_only[k], 13, 1, 1);
        EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_INT32, 2, x)}, LCV_ERR_SHAPE);
    }
    optest_init(&t, "Neg", 13, 1, 1);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_UINT8, 2, x)}, LCV_ERR_SHAPE);
    optest_init(&t, "Abs", 13, 1, 1);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(LCV_DTYPE_BOOL, 2, x)}, LCV_ERR_SHAPE);
    optest_init(&t, "Not", 1, 1, 1);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(F32, 2, x)}, LCV_ERR_SHAPE);
    optest_init(&t, "BitwiseNot", 18, 1, 1);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(F32, 2, x)}, LCV_ERR_SHAPE);
    optest_init(&t, "Celu", 12, 1, 1);
    optest_attr_float(&t, "alpha", 0.0f);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){vec(F32, 2, x)}, LCV_ERR_INVALID_ARG);
    lcv_tensor *s = vec(LCV_DTYPE_UINT8, 2, x);
    s->dtype = LCV_DTYPE_STRING;
    optest_init(&t, "Identity", 16, 1, 1);
    EXPECT_ERR(&t, 1, (lcv_tensor *[]){s}, LCV_ERR_UNSUPPORTED);
    /* empty input */
    int64_t z = 0;
    optest_init(&t, "Sigmoid", 13, 1, 1);
    EXPECT(&t, 1, (lcv_tensor *[]){optest_tensor(F32, 1, &z, NULL)}, F32, 0, NULL, 0);
}

int main(void) {
    test_math();
    test_ints();
    test_activations();
    test_clip();
    test_misc();
    test_dropout();
    test_errors();
    return lcv_test_finish("ops_unary");
}
