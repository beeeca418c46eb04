/* test_shape.c - backward of the shape, layout, indexing, reduction and resampling ops against
 * float64 finite differences: Reshape/Flatten/Squeeze/Unsqueeze, Transpose, Concat, Split
 * (incl. outputs without a gradient), Slice (negative steps, clamping, axes), Expand, Pad
 * (constant with crops, reflect, edge, opset-18 axes), Gather (repeated and negative indices),
 * ReduceSum/ReduceMean (axes as attribute or input, keepdims, noop_with_empty_axes) and Resize
 * (nearest and linear under each coordinate transformation, scales or sizes, Upsample); plus
 * thread-count independence and the unsupported Resize modes failing with a message. */
#include "gradcheck.h"

#define ATOL 2e-4
#define RTOL 2e-3

static lcv_tensor *rnd(int nd, const int64_t *d, uint64_t *s) {
    return gradcheck_tensor_off_kinks(nd, d, -1, 1, NULL, 0, 0, s);
}

/* ---- relabelling ops, Transpose ---- */

static void test_relabel(void) {
    uint64_t s = 1;
    int64_t d[4] = {2, 3, 1, 5};
    optest t;
    /* Reshape with a -1 and a 0 */
    optest_init(&t, "Reshape", 14, 2, 1);
    lcv_tensor *in[2] = {rnd(4, d, &s), gradcheck_vec(2, (int64_t[]){0, -1})};
    gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "Reshape");
    optest_free(&t);
    /* Flatten at axes 0 and 2 */
    for (int a = 0; a <= 2; a += 2) {
        optest_init(&t, "Flatten", 13, 1, 1);
        optest_attr_int(&t, "axis", a);
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, "Flatten");
        optest_free(&t);
    }
    /* Squeeze (opset 11 attribute, opset 13 input), Unsqueeze */
    optest_init(&t, "Squeeze", 11, 1, 1);
    optest_attr_ints(&t, "axes", 1, (int64_t[]){2});
    gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, "Squeeze attribute");
    optest_free(&t);
    optest_init(&t, "Squeeze", 13, 2, 1);
    lcv_tensor *ax[2] = {in[0], gradcheck_vec(1, (int64_t[]){-2})};
    gradcheck_expect(&t, 2, ax, 1, NULL, ATOL, RTOL, "Squeeze input");
    optest_free(&t);
    optest_init(&t, "Unsqueeze", 13, 2, 1);
    ((int64_t *)ax[1]->data)[0] = 0;
    gradcheck_expect(&t, 2, ax, 1, NULL, ATOL, RTOL, "Unsqueeze");
    optest_free(&t);
    lcv_tensor_free(ax[1]);
    gradcheck_free_all(in, 2);
}

static void test_transpose(void) {
    uint64_t s = 2;
    int64_t d[4] = {2, 3, 4, 5};
    static const int64_t perms[][4] = {{0, 2, 3, 1}, {3, 1, 0, 2}, {1, 0, 2, 3}};
    lcv_tensor *in[1] = {rnd(4, d, &s)};
    for (int p = -1; p < 3; p++) {
        optest t;
        optest_init(&t, "Transpose", 13, 1, 1);
        if (p >= 0) optest_attr_ints(&t, "perm", 4, perms[p]);
        gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, p < 0 ? "reversed" : "perm");
        optest_free(&t);
    }
    gradcheck_free_all(in, 1);
}

/* ---- Concat, Split ---- */

static void test_concat_split(void) {
    uint64_t s = 3;
    int64_t a[3] = {2, 3, 4}, b[3] = {2, 1, 4}, c[3] = {2, 5, 4};
    lcv_tensor *in[3] = {rnd(3, a, &s), rnd(3, b, &s), rnd(3, c, &s)};
    optest t;
    optest_init(&t, "Concat", 13, 3, 1);
    optest_attr_int(&t, "axis", 1);
    gradcheck_expect(&t, 3, in, 1, NULL, ATOL, RTOL, "axis 1");
    bool wants[3] = {true, false, true};
    gradcheck_expect(&t, 3, in, 1, wants, ATOL, RTOL, "middle input not wanted");
    optest_free(&t);
    gradcheck_free_all(in, 3);
    int64_t e[2] = {3, 2}, f[2] = {3, 5};
    lcv_tensor *in2[2] = {rnd(2, e, &s), rnd(2, f, &s)};
    optest_init(&t, "Concat", 13, 2, 1);
    optest_attr_int(&t, "axis", -1);
    gradcheck_expect(&t, 2, in2, 1, NULL, ATOL, RTOL, "axis -1");
    optest_free(&t);
    gradcheck_free_all(in2, 2);

    int64_t x[3] = {3, 7, 2};
    lcv_tensor *xs[2] = {rnd(3, x, &s), gradcheck_vec(3, (int64_t[]){2, 4, 1})};
    optest_init(&t, "Split", 13, 2, 3);
    optest_attr_int(&t, "axis", 1);
    gradcheck_expect(&t, 2, xs, 3, NULL, ATOL, RTOL, "split input");
    optest_free(&t);
    optest_init(&t, "Split", 11, 1, 3);
    optest_attr_int(&t, "axis", 0);
    gradcheck_expect(&t, 1, xs, 3, NULL, ATOL, RTOL, "equal pieces");
    optest_free(&t);
    /* outputs without a gradient count as zero */
    optest_init(&t, "Split", 13, 2, 3);
    optest_attr_int(&t, "axis", 1);
    lcv_tensor *out[3], *din[2];
    CHECK(gradcheck_forward(&t, 2, xs, 3, out, NULL, NULL) == LCV_OK);
    lcv_tensor *dy[3] = {gradcheck_fill(out[0]->ndim, out[0]->dims, 1.0f), NULL,
                         gradcheck_fill(out[2]->ndim, out[2]->dims, 3.0f)};
    CHECK(gradcheck_backward(&t, 2, xs, 3, out, dy, din, NULL, NULL, NULL, NULL) == LCV_OK);
    int bad = 0;
    for (int64_t i = 0; i < 3 * 7 * 2; i++) {
        int64_t k = i / 2 % 7;
        float want = k < 2 ? 1.0f : k < 6 ? 0.0f : 3.0f;
        bad += ((float *)din[0]->data)[i] != want;
    }
    CHECK_MSG(bad == 0, "Split with a missing output gradient: %d wrong", bad);
    gradcheck_free_all(dy, 3);
    gradcheck_free_all(din, 2);
    gradcheck_free_all(out, 3);
    optest_free(&t);
    gradcheck_free_all(xs, 2);
}

/* ---- Slice ---- */

static void test_slice(void) {
    uint64_t s = 4;
    int64_t d[3] = {5, 7, 6};
    lcv_tensor *x = rnd(3, d, &s);
    static const struct {
        int n;
        int64_t st[3], en[3], ax[3], sp[3];
    } v[] = {
        {3, {0, 1, 0}, {5, 6, 6}, {0, 1, 2}, {2, 2, 1}},                 /* positive steps */
        {2, {-1, 5}, {-100, 0}, {0, 2}, {-2, -1}},                      /* negative steps */
        {2, {1, -3}, {1000, 100}, {-1, 1}, {1, 1}},                     /* clamped ends */
        {1, {6}, {-8}, {1}, {-3}},                                      /* clamped start */
        {1, {2}, {2}, {0}, {1}},                                        /* empty slice */
    };
    for (int i = 0; i < 5; i++) {
        optest t;
        optest_init(&t, "Slice", 13, 5, 1);
        lcv_tensor *in[5] = {x, gradcheck_vec(v[i].n, v[i].st), gradcheck_vec(v[i].n, v[i].en),
                             gradcheck_vec(v[i].n, v[i].ax), gradcheck_vec(v[i].n, v[i].sp)};
        char what[32];
        snprintf(what, sizeof what, "case %d", i);
        gradcheck_expect(&t, 5, in, 1, NULL, ATOL, RTOL, what);
        for (int k = 1; k < 5; k++) lcv_tensor_free(in[k]);
        optest_free(&t);
    }
    /* opset 9: attributes, no steps */
    optest t;
    optest_init(&t, "Slice", 9, 1, 1);
    optest_attr_ints(&t, "starts", 2, (int64_t[]){1, -4});
    optest_attr_ints(&t, "ends", 2, (int64_t[]){4, -1});
    optest_attr_ints(&t, "axes", 2, (int64_t[]){0, 2});
    gradcheck_expect(&t, 1, &x, 1, NULL, ATOL, RTOL, "opset 9");
    optest_free(&t);
    lcv_tensor_free(x);
}

/* ---- Expand ---- */

static void test_expand(void) {
    uint64_t s = 5;
    static const struct {
        int nx, ns;
        int64_t x[4], shape[4];
    } v[] = {{3, 4, {3, 1, 5}, {2, 3, 4, 5}}, {1, 2, {1}, {3, 4}}, {2, 2, {4, 1}, {1, 6}},
             {2, 2, {3, 4}, {3, 4}}};
    for (int i = 0; i < 4; i++) {
        optest t;
        optest_init(&t, "Expand", 13, 2, 1);
        lcv_tensor *in[2] = {rnd(v[i].nx, v[i].x, &s), gradcheck_vec(v[i].ns, v[i].shape)};
        gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "Expand");
        gradcheck_free_all(in, 2);
        optest_free(&t);
    }
}

/* ---- Pad ---- */

static void test_pad(void) {
    uint64_t s = 6;
    int64_t d[4] = {2, 3, 4, 5};
    lcv_tensor *x = rnd(4, d, &s);
    static const char *const modes[] = {"constant", "reflect", "edge"};
    static const int64_t pads[][8] = {{0, 0, 1, 2, 0, 1, 3, 1},     /* padding */
                                      {0, 1, -1, 2, 1, 0, 2, -2}};  /* with crops */
    for (int m = 0; m < 3; m++) {
        for (int p = 0; p < 2; p++) {
            optest t;
            optest_init(&t, "Pad", 13, 3, 1);
            optest_attr_str(&t, "mode", modes[m]);
            lcv_tensor *in[3] = {x, gradcheck_vec(8, pads[p]), m == 0 ? gradcheck_fill(0, NULL, 0.5f) : NULL};
            char what[48];
            snprintf(what, sizeof what, "%s pads %d", modes[m], p);
            gradcheck_expect(&t, 3, in, 1, NULL, ATOL, RTOL, what);
            lcv_tensor_free(in[1]);
            lcv_tensor_free(in[2]);
            optest_free(&t);
        }
    }
    /* opset 2: pads and value as attributes; opset 18: axes input */
    optest t;
    optest_init(&t, "Pad", 2, 1, 1);
    optest_attr_ints(&t, "pads", 8, pads[1]);
    optest_attr_float(&t, "value", 1.5f);
    gradcheck_expect(&t, 1, &x, 1, NULL, ATOL, RTOL, "opset 2");
    optest_free(&t);
    optest_init(&t, "Pad", 18, 4, 1);
    optest_attr_str(&t, "mode", "reflect");
    lcv_tensor *in[4] = {x, gradcheck_vec(4, (int64_t[]){2, 1, 3, -1}), NULL,
                         gradcheck_vec(2, (int64_t[]){-1, 1})};
    gradcheck_expect(&t, 4, in, 1, NULL, ATOL, RTOL, "opset 18 axes");
    lcv_tensor_free(in[1]);
    lcv_tensor_free(in[3]);
    optest_free(&t);
    lcv_tensor_free(x);
}

/* ---- Gather ---- */

static void test_gather(void) {
    uint64_t s = 7;
    int64_t d[3] = {4, 5, 3};
    lcv_tensor *x = rnd(3, d, &s);
    static const struct {
        int axis, ni;
        int64_t idims[2], v[6];
    } c[] = {{0, 1, {5}, {0, 3, -1, 3, 1}},       /* repeated and negative */
             {1, 2, {2, 3}, {4, 0, 4, -5, 2, 2}}, /* 2-D indices */
             {-1, 0, {0}, {2}}};                  /* scalar index */
    for (int i = 0; i < 3; i++) {
        optest t;
        optest_init(&t, "Gather", 13, 2, 1);
        optest_attr_int(&t, "axis", c[i].axis);
        lcv_tensor *in[2] = {x, gradcheck_ints(c[i].ni, c[i].idims, c[i].v)};
        char what[32];
        snprintf(what, sizeof what, "axis %d", c[i].axis);
        gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, what);
        lcv_tensor_free(in[1]);
        optest_free(&t);
    }
    /* int32 indices; an index out of range is refused by the backward too */
    optest t;
    optest_init(&t, "Gather", 13, 2, 1);
    int64_t two = 2;
    lcv_tensor *idx = optest_tensor(LCV_DTYPE_INT32, 1, &two, (double[]){1, 3});
    lcv_tensor *in[2] = {x, idx}, *out[1], *din[2];
    gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "int32 indices");
    CHECK(gradcheck_forward(&t, 2, in, 1, out, NULL, NULL) == LCV_OK);
    ((int32_t *)idx->data)[1] = 4;
    lcv_tensor *dy[1] = {rnd(out[0]->ndim, out[0]->dims, &s)};
    CHECK(gradcheck_backward(&t, 2, in, 1, out, dy, din, NULL, NULL, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(t.err.msg, "out of range") != NULL);
    gradcheck_free_all(din, 2);
    gradcheck_free_all(dy, 1);
    gradcheck_free_all(out, 1);
    lcv_tensor_free(idx);
    optest_free(&t);
    lcv_tensor_free(x);
}

/* ---- ReduceSum, ReduceMean ---- */

static void test_reduce(void) {
    uint64_t s = 8;
    int64_t d[4] = {2, 3, 4, 5};
    lcv_tensor *x = rnd(4, d, &s);
    static const char *const ops[] = {"ReduceSum", "ReduceMean"};
    for (int o = 0; o < 2; o++) {
        for (int keep = 0; keep < 2; keep++) {
            /* axes as attribute (opset 11) */
            optest t;
            optest_init(&t, ops[o], 11, 1, 1);
            optest_attr_ints(&t, "axes", 2, (int64_t[]){1, -1});
            optest_attr_int(&t, "keepdims", keep);
            gradcheck_expect(&t, 1, &x, 1, NULL, ATOL, RTOL, "axes attribute");
            optest_free(&t);
            /* all axes (none given) */
            optest_init(&t, ops[o], 11, 1, 1);
            optest_attr_int(&t, "keepdims", keep);
            gradcheck_expect(&t, 1, &x, 1, NULL, ATOL, RTOL, "all axes");
            optest_free(&t);
            /* axes as input (opset 18), and an empty input with noop_with_empty_axes */
            optest_init(&t, ops[o], 18, 2, 1);
            optest_attr_int(&t, "keepdims", keep);
            lcv_tensor *in[2] = {x, gradcheck_vec(2, (int64_t[]){0, 2})};
            gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "axes input");
            lcv_tensor_free(in[1]);
            optest_attr_int(&t, "noop_with_empty_axes", 1);
            in[1] = gradcheck_vec(0, (int64_t[]){0});
            gradcheck_expect(&t, 2, in, 1, NULL, ATOL, RTOL, "noop with empty axes");
            lcv_tensor_free(in[1]);
            optest_free(&t);
        }
    }
    lcv_tensor_free(x);
}

/* ---- Resize ---- */

typedef struct resize_case {
    const char *mode, *ct, *nm;
    int nd;
    int64_t x[4];
    bool use_sizes;
    double v[4]; /* scales, or sizes */
    bool exclude;
} resize_case;

static void resize_run(const resize_case *c, uint64_t *s) {
    optest t;
    optest_init(&t, "Resize", 13, 4, 1);
    optest_attr_str(&t, "mode", c->mode);
    if (c->ct) optest_attr_str(&t, "coordinate_transformation_mode", c->ct);
    if (c->nm) optest_attr_str(&t, "nearest_mode", c->nm);
    if (c->exclude) optest_attr_int(&t, "exclude_outside", 1);
    int64_t n = c->nd, zero = 0;
    lcv_tensor *x = rnd(c->nd, c->x, s);
    lcv_tensor *roi = optest_tensor(LCV_DTYPE_FLOAT32, 1, &zero, NULL);
    lcv_tensor *sc = c->use_sizes ? optest_tensor(LCV_DTYPE_FLOAT32, 1, &zero, NULL)
                                  : optest_tensor(LCV_DTYPE_FLOAT32, 1, &n, c->v);
    lcv_tensor *sz = c->use_sizes ? optest_tensor(LCV_DTYPE_INT64, 1, &n, c->v) : NULL;
    lcv_tensor *in[4] = {x, roi, sc, sz};
    bool wants[4] = {true, false, false, false};
    char what[96];
    snprintf(what, sizeof what, "%s %s %s %s", c->mode, c->ct ? c->ct : "half_pixel",
             c->nm ? c->nm : "", c->use_sizes ? "sizes" : "scales");
    gradcheck_expect(&t, sz ? 4 : 3, in, 1, wants, ATOL, RTOL, what);
    gradcheck_free_all(in, 4);
    optest_free(&t);
}

static void test_resize(void) {
    uint64_t s = 9;
    static const resize_case cases[] = {
        {"nearest", "asymmetric", "floor", 4, {1, 2, 3, 4}, false, {1, 1, 2, 2}, false},
        {"nearest", NULL, NULL, 4, {2, 1, 5, 7}, false, {1, 1, 0.6, 0.5}, false},
        {"nearest", "align_corners", "round_prefer_ceil", 3, {2, 3, 5}, true, {2, 3, 8}, false},
        {"nearest", "tf_half_pixel_for_nn", "ceil", 4, {1, 2, 3, 3}, false, {1, 1, 1.7, 2.3},
         false},
        {"linear", NULL, NULL, 4, {1, 2, 3, 4}, false, {1, 1, 2, 2}, false},
        {"linear", "pytorch_half_pixel", NULL, 4, {2, 1, 4, 5}, true, {2, 1, 7, 3}, false},
        {"linear", "align_corners", NULL, 4, {1, 2, 3, 4}, true, {1, 2, 5, 9}, false},
        {"linear", "asymmetric", NULL, 3, {2, 5, 4}, false, {1, 1.6, 0.75}, false},
        {"linear", "half_pixel_symmetric", NULL, 4, {1, 1, 5, 3}, false, {1, 1, 1.5, 2.5}, false},
        {"linear", NULL, NULL, 4, {1, 2, 4, 4}, false, {1, 1, 2.5, 0.7}, true},
        {"linear", NULL, NULL, 4, {2, 3, 4, 5}, false, {1, 2, 1.5, 1}, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) resize_run(&cases[i], &s);
    /* Resize-10 and Upsample-9 (scales input, asymmetric), Upsample-7 (scales attribute) */
    int64_t d[4] = {1, 2, 3, 4}, four = 4;
    lcv_tensor *x = rnd(4, d, &s);
    lcv_tensor *sc = optest_tensor(LCV_DTYPE_FLOAT32, 1, &four, (double[]){1, 1, 2, 1.5});
    lcv_tensor *in[2] = {x, sc};
    bool wants[2] = {true, false};
    const char *ops[2] = {"Resize", "Upsample"};
    for (int o = 0; o < 2; o++)
        for (int m = 0; m < 2; m++) {
            optest t;
            optest_init(&t, ops[o], o ? 9 : 10, 2, 1);
            optest_attr_str(&t, "mode", m ? (o ? "bilinear" : "linear") : "nearest");
            gradcheck_expect(&t, 2, in, 1, wants, ATOL, RTOL, m ? "linear" : "nearest");
            optest_free(&t);
        }
    optest t;
    optest_init(&t, "Upsample", 7, 1, 1);
    optest_attr_str(&t, "mode", "nearest");
    optest_attr_floats(&t, "scales", 4, (float[]){1, 1, 2, 3});
    gradcheck_expect(&t, 1, in, 1, NULL, ATOL, RTOL, "Upsample-7");
    optest_free(&t);
    /* cubic has no backward: a message, not a wrong gradient */
    optest_init(&t, "Resize", 13, 3, 1);
    optest_attr_str(&t, "mode", "cubic");
    int64_t zero = 0;
    lcv_tensor *roi = optest_tensor(LCV_DTYPE_FLOAT32, 1, &zero, NULL);
    lcv_tensor *rin[3] = {x, roi, sc}, *out[1], *din[3];
    CHECK(gradcheck_forward(&t, 3, rin, 1, out, NULL, NULL) == LCV_OK);
    lcv_tensor *dy[1] = {rnd(out[0]->ndim, out[0]->dims, &s)};
    bool want3[3] = {true, false, false};
    CHECK(gradcheck_backward(&t, 3, rin, 1, out, dy, din, want3, NULL, NULL, NULL) == LCV_ERR_UNSUPPORTED);
    CHECK(strstr(t.err.msg, "cubic") != NULL);
    gradcheck_free_all(din, 3);
    gradcheck_free_all(dy, 1);
    gradcheck_free_all(out, 1);
    lcv_tensor_free(roi);
    optest_free(&t);
    gradcheck_free_all(in, 2);
}

/* ---- threads ---- */

static void test_threads(void) {
    uint64_t s = 10;
    lcv_threadpool *pool = NULL;
    lcv_err err;
    CHECK(lcv_threadpool_create(2, &pool, &err) == LCV_OK);
    int64_t d[4] = {4, 8, 17, 19}, wide[4] = {4, 64, 17, 19}, four = 4, zero = 0;
    lcv_tensor *x = rnd(4, d, &s), *xw = rnd(4, wide, &s);
    lcv_tensor *roi = optest_tensor(LCV_DTYPE_FLOAT32, 1, &zero, NULL);
    lcv_tensor *sc = optest_tensor(LCV_DTYPE_FLOAT32, 1, &four, (double[]){1, 1, 2, 2});
    lcv_tensor *idx = gradcheck_vec(5, (int64_t[]){3, 0, 3, 7, 1});
    lcv_tensor *shape = gradcheck_vec(5, (int64_t[]){2, 4, 8, 17, 19});
    /* Concat's slabs are large enough to be shared out */
    struct {
        const char *op;
        int n_in;
        lcv_tensor *in[3];
    } c[] = {{"Resize", 3, {x, roi, sc}}, {"Gather", 2, {x, idx, NULL}},
             {"Expand", 2, {x, shape, NULL}}, {"Concat", 2, {xw, xw, NULL}}};
    for (int i = 0; i < 4; i++) {
        optest t;
        optest_init(&t, c[i].op, 13, c[i].n_in, 1);
        if (i == 0) optest_attr_str(&t, "mode", "linear");
        if (i == 1 || i == 3) optest_attr_int(&t, "axis", 1);
        lcv_tensor *out[1], *out2[1], *d1[3], *d2[3];
        bool wants[3] = {true, i == 3, false};
        CHECK(gradcheck_forward(&t, c[i].n_in, c[i].in, 1, out, NULL, NULL) == LCV_OK);
        CHECK(gradcheck_forward(&t, c[i].n_in, c[i].in, 1, out2, NULL, pool) == LCV_OK);
        CHECK_MSG(gradcheck_same_bits(out[0], out2[0]), "%s forward", c[i].op);
        lcv_tensor *dy[1] = {rnd(out[0]->ndim, out[0]->dims, &s)};
        int n = c[i].n_in;
        CHECK(gradcheck_backward(&t, n, c[i].in, 1, out, dy, d1, wants, NULL, NULL, NULL) == LCV_OK);
        CHECK(gradcheck_backward(&t, n, c[i].in, 1, out, dy, d2, wants, NULL, pool, NULL) == LCV_OK);
        for (int k = 0; k < n; k++)
            if (wants[k]) CHECK_MSG(gradcheck_same_bits(d1[k], d2[k]), "%s input %d", c[i].op, k);
        gradcheck_free_all(d1, c[i].n_in);
        gradcheck_free_all(d2, c[i].n_in);
        gradcheck_free_all(dy, 1);
        gradcheck_free_all(out, 1);
        gradcheck_free_all(out2, 1);
        optest_free(&t);
    }
    lcv_tensor *all[6] = {x, xw, roi, sc, idx, shape};
    gradcheck_free_all(all, 6);
    lcv_threadpool_free(pool);
}

int main(void) {
    test_relabel();
    test_transpose();
    test_concat_split();
    test_slice();
    test_expand();
    test_pad();
    test_gather();
    test_reduce();
    test_resize();
    test_threads();
    return lcv_test_finish("grad_shape");
}
