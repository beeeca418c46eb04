/* test_seg_builder.c - the dense-prediction pieces of the builder and trainer through the
 * public API: the dense blocks (upsample nearest / bilinear, concat, head conv with a prior
 * bias, scaled exponential) give the documented shapes and values and refuse bad arguments
 * naming the block; "segnet-tiny" builds, loads and runs (optimized and reference kernels
 * agree) to per-pixel logits; a trainer fits label maps on a fixed batch (the per-pixel loss
 * falls, pixel hits rise), with bit-identical steps on 1 and 2 threads; "fcos-tiny" gives its
 * [N, classes + 5, H / 8, W / 8] maps and fits boxes the same way; labels of the wrong kind or
 * size and distillation are refused with messages; a trainer starts from another model's
 * weights where names and shapes agree (lcv_trainer_init_from_file). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"
#include "leancv_build.h"
#include "leancv_train.h"

static uint64_t rng_state = 777;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static bool shape_is(lcv_builder *b, int v, int c, int h, int w) {
    int gc = -1, gh = -1, gw = -1;
    if (lcv_builder_shape(b, v, &gc, &gh, &gw) != LCV_OK) return false;
    if (gc == c && gh == h && gw == w) return true;
    fprintf(stderr, "value %d: %dx%dx%d, expected %dx%dx%d\n", v, gc, gh, gw, c, h, w);
    return false;
}

#define EXPECT_FAIL(b, call, want)                                                             \
    do {                                                                                       \
        int r_ = (call);                                                                       \
        CHECK_MSG(r_ == -1 && strstr(lcv_builder_errmsg(b), want), "%s -> %d: '%s'", #call, r_, \
                  lcv_builder_errmsg(b));                                                      \
    } while (0)

static void test_blocks(void) {
    lcv_builder *b;
    CHECK(lcv_builder_create(2, 5, 7, 0, &b) == LCV_OK);
    int x = lcv_builder_input(b);
    int s = lcv_builder_conv(b, x, 6, 3, 2, 1, LCV_BUILD_ACT_RELU);
    CHECK(shape_is(b, s, 6, 3, 4));
    int u = lcv_builder_upsample(b, s, 3, 0);
    CHECK(shape_is(b, u, 6, 9, 12));
    int v = lcv_builder_upsample(b, s, 2, 1);
    CHECK(shape_is(b, v, 6, 6, 8));
    int c = lcv_builder_concat(b, lcv_builder_conv(b, x, 3, 1, 1, 1, LCV_BUILD_ACT_NONE), x);
    CHECK(shape_is(b, c, 5, 5, 7));
    int h = lcv_builder_head_conv(b, c, 4, 3, 0.0f);
    CHECK(shape_is(b, h, 4, 5, 7));
    CHECK(lcv_builder_status(b) == LCV_OK);
    lcv_builder_free(b);

    struct {
        int which;
        const char *want;
    } bad[] = {{0, "lcv_builder_upsample: factor is 1"},
               {1, "lcv_builder_upsample: factor is 17"},
               {2, "is 3x4, value 0 is 5x7 (H x W)"},
               {3, "lcv_builder_head_conv: kernel is 2"},
               {4, "lcv_builder_head_conv: out_channels is 0"},
               {5, "is a vector [batch, F]; a feature map [batch, C, H, W] is needed"},
               {6, "lcv_builder_concat: value handle 99 is not"},
               {7, "lcv_builder_head_conv: prior 1 is outside [0, 1)"},
               {8, "lcv_builder_scaled_exp: scale 0 is outside (0, 1e6]"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(lcv_builder_create(2, 5, 7, 0, &b) == LCV_OK);
        x = lcv_builder_input(b);
        s = lcv_builder_conv(b, x, 6, 3, 2, 1, LCV_BUILD_ACT_RELU);
        switch (bad[i].which) {
        case 0: EXPECT_FAIL(b, lcv_builder_upsample(b, s, 1, 0), bad[i].want); break;
        case 1: EXPECT_FAIL(b, lcv_builder_upsample(b, s, 17, 1), bad[i].want); break;
        case 2: EXPECT_FAIL(b, lcv_builder_concat(b, s, x), bad[i].want); break;
        case 3: EXPECT_FAIL(b, lcv_builder_head_conv(b, s, 4, 2, 0.0f), bad[i].want); break;
        case 4: EXPECT_FAIL(b, lcv_builder_head_conv(b, s, 0, 1, 0.0f), bad[i].want); break;
        case 5:
            EXPECT_FAIL(b, lcv_builder_upsample(b, lcv_builder_global_avgpool(b, s), 2, 0),
                        bad[i].want);
            break;
        case 7: EXPECT_FAIL(b, lcv_builder_head_conv(b, s, 4, 1, 1.0f), bad[i].want); break;
        case 8: EXPECT_FAIL(b, lcv_builder_scaled_exp(b, s, 0.0f), bad[i].want); break;
        default: EXPECT_FAIL(b, lcv_builder_concat(b, x, 99), bad[i].want); break;
        }
        CHECK(lcv_builder_status(b) == LCV_ERR_INVALID_ARG);
        lcv_builder_free(b);
    }
}

static lcv_tensor *make(lcv_dtype dt, int nd, const int64_t *dims) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    return t;
}

/* Logits of the model on x, optimized or reference kernels; NULL on failure. Caller frees. */
static float *run(const void *data, size_t size, int reference, const lcv_tensor *x,
                  int64_t *dims) {
    lcv_model_params mp = lcv_model_default_params();
    mp.reference_kernels = reference;
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    float *out = NULL;
    bool ok = lcv_model_load_buffer(data, size, &mp, &m) == LCV_OK &&
              lcv_session_create(m, NULL, &s) == LCV_OK;
    if (!ok && m) fprintf(stderr, "load: %s\n", lcv_model_errmsg(m));
    const char *name = "images";
    if (ok && lcv_session_run(s, 1, &name, &x) != LCV_OK) {
        fprintf(stderr, "run: %s\n", lcv_session_errmsg(s));
        ok = false;
    }
    const lcv_tensor *y = ok ? lcv_session_output(s, 0) : NULL;
    if (y && lcv_tensor_ndim(y) == 4) {
        for (int i = 0; i < 4; i++) dims[i] = lcv_tensor_dim(y, i);
        out = malloc(sizeof(float) * (size_t)lcv_tensor_numel(y));
        if (out) memcpy(out, lcv_tensor_cdata(y), sizeof(float) * (size_t)lcv_tensor_numel(y));
    }
    lcv_session_free(s);
    lcv_model_free(m);
    return out;
}

enum { B = 4, H = 32, W = 48, K = 3 };

/* A batch whose labels follow from the pixels: bright squares are class 1, dim ones class 2,
 * the rest background. */
static void make_batch(lcv_tensor *x, lcv_tensor *y) {
    float *xp = lcv_tensor_data(x);
    int64_t *yp = lcv_tensor_data(y);
    memset(xp, 0, sizeof(float) * B * H * W);
    memset(yp, 0, sizeof(int64_t) * B * H * W);
    for (int i = 0; i < B; i++)
        for (int r = 0; r < 3; r++) {
            int side = 6 + (int)(urand() * 10), top = (int)(urand() * (H - side));
            int left = (int)(urand() * (W - side)), cls = 1 + (int)(urand() * 2);
            for (int yy = top; yy < top + side; yy++)
                for (int xx = left; xx < left + side; xx++) {
                    xp[(i * H + yy) * W + xx] = cls == 1 ? 1.0f : 0.4f;
                    yp[(i * H + yy) * W + xx] = cls;
                }
        }
}

/* Two AdamW trainers of the model at lr, on 1 and 2 threads, take 40 steps on the batch (x, y)
 * in lock step and must agree bit for bit (loss and hits). *first / *last: the loss of the
 * first and last step; *hits0 / *hits (optional): the first and last step's hits. The caller
 * frees *t1 and *t2 (NULL when creation failed). */
static void fit_twice(const void *data, size_t size, float lr, const lcv_tensor *x,
                      const lcv_tensor *y, lcv_trainer **t1, lcv_trainer **t2, float *first,
                      float *last, int64_t *hits0, int64_t *hits) {
    lcv_train_params p = lcv_train_default_params();
    p.optimizer = LCV_OPTIMIZER_ADAMW;
    p.lr = lr;
    *t1 = *t2 = NULL;
    CHECK_MSG(lcv_trainer_create_buffer(data, size, &p, t1) == LCV_OK, "%s",
              lcv_trainer_errmsg(*t1));
    p.threads = 2;
    CHECK_MSG(lcv_trainer_create_buffer(data, size, &p, t2) == LCV_OK, "%s",
              lcv_trainer_errmsg(*t2));
    float l2 = NAN;
    int64_t h1 = -1, h2 = -1;
    bool same = true;
    *first = *last = NAN;
    for (int s = 0; s < 40 && *t1 && *t2; s++) {
        CHECK_MSG(lcv_trainer_step(*t1, x, y, last, &h1) == LCV_OK, "step %d: %s", s,
                  lcv_trainer_errmsg(*t1));
        CHECK_MSG(lcv_trainer_step(*t2, x, y, &l2, &h2) == LCV_OK, "step %d: %s", s,
                  lcv_trainer_errmsg(*t2));
        same &= *last == l2 && h1 == h2;
        if (s == 0) {
            *first = *last;
            if (hits0) *hits0 = h1;
        }
    }
    if (hits) *hits = h1;
    CHECK_MSG(same, "1 and 2 threads differ");
}

static void test_segnet(void) {
    void *data = NULL;
    size_t size = 0;
    char err[300] = "";
    CHECK_MSG(lcv_build_arch("arch:segnet-tiny", 1, H, W, K, 5, &data, &size, err, sizeof err) ==
              LCV_OK, "%s", err);
    bool listed = false;
    for (int i = 0; lcv_build_arch_name(i); i++)
        listed |= strcmp(lcv_build_arch_name(i), "segnet-tiny") == 0;
    CHECK(listed);
    int64_t xd[4] = {B, 1, H, W}, yd[3] = {B, H, W}, d1[4] = {0}, d2[4] = {0};
    lcv_tensor *x = make(LCV_DTYPE_FLOAT32, 4, xd), *y = make(LCV_DTYPE_INT64, 3, yd);
    make_batch(x, y);
    float *fast = run(data, size, 0, x, d1), *ref = run(data, size, 1, x, d2);
    CHECK(fast && ref && d1[0] == B && d1[1] == K && d1[2] == H && d1[3] == W &&
          memcmp(d1, d2, sizeof d1) == 0);
    double worst = 0, scale = 0;
    for (int64_t i = 0; fast && ref && i < (int64_t)B * K * H * W; i++) {
        worst = fmax(worst, fabs((double)fast[i] - (double)ref[i]));
        scale = fmax(scale, fabs((double)ref[i]));
    }
    CHECK_MSG(scale > 0 && worst <= 1e-4 * fmax(1.0, scale), "fast vs reference: %g (max %g)",
              worst, scale);
    free(fast);
    free(ref);

    lcv_trainer *t1, *t2;
    float first, last;
    int64_t hits0, hits;
    fit_twice(data, size, 0.01f, x, y, &t1, &t2, &first, &last, &hits0, &hits);
    CHECK_MSG(first > 0.5f && last < 0.3f * first, "loss %g -> %g", first, last);
    CHECK_MSG(hits > hits0 && hits >= (int64_t)(0.95 * B * H * W), "pixel hits %lld -> %lld of %d",
              (long long)hits0, (long long)hits, B * H * W);
    const lcv_tensor *lg = NULL;
    CHECK(t1 && lcv_trainer_evaluate(t1, x, &lg) == LCV_OK && lcv_tensor_ndim(lg) == 4);

    /* refusals: one label per image, maps of another size, distillation */
    int64_t one[1] = {B}, small[3] = {B, H, W - 16};
    lcv_tensor *y1 = make(LCV_DTYPE_INT64, 1, one), *ys = make(LCV_DTYPE_INT64, 3, small);
    memset(lcv_tensor_data(y1), 0, sizeof(int64_t) * B);
    memset(lcv_tensor_data(ys), 0, sizeof(int64_t) * B * H * (W - 16));
    int64_t steps = lcv_trainer_step_count(t1);
    CHECK(lcv_trainer_step(t1, x, y1, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t1), "need label maps [4, 32, 48], got one label per "
                     "image"), "%s", lcv_trainer_errmsg(t1));
    CHECK(lcv_trainer_step(t1, x, ys, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t1), "got maps of another size"), "%s",
              lcv_trainer_errmsg(t1));
    const lcv_tensor *teacher = NULL;
    CHECK(lcv_trainer_evaluate(t2, x, &teacher) == LCV_OK);
    CHECK(lcv_trainer_step_distill(t1, x, y, teacher, NULL, NULL) == LCV_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t1), "distillation needs logits [N, classes]"), "%s",
              lcv_trainer_errmsg(t1));
    CHECK(lcv_trainer_step_count(t1) == steps); /* nothing moved */
    lcv_tensor_free(y1);
    lcv_tensor_free(ys);
    lcv_trainer_free(t1);
    lcv_trainer_free(t2);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_build_free_buffer(data);

    /* sizes that the four halvings cannot undo */
    CHECK(lcv_build_arch("segnet-tiny", 1, 40, 48, K, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err, "images of 40x48: height and width must be multiples of 16"), "%s", err);
    CHECK(lcv_build_arch("segnet-tiny", 1, 32, 32, 1, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
}

/* The head convolution's prior bias and the scaled exponential, by value: on zero images the
 * head gives exactly its bias, -log(99) for prior 0.01; exp(x) * 8 follows its input. */
static void test_head_values(void) {
    lcv_builder *b;
    CHECK(lcv_builder_create(1, 4, 4, 0, &b) == LCV_OK);
    int x = lcv_builder_input(b);
    int h = lcv_builder_head_conv(b, x, 3, 3, 0.01f);
    int e = lcv_builder_scaled_exp(b, h, 8.0f);
    void *data = NULL;
    size_t size = 0;
    CHECK(lcv_builder_finish(b, e, &data, &size) == LCV_OK);
    lcv_builder_free(b);
    int64_t xd[4] = {1, 1, 4, 4}, dims[4];
    lcv_tensor *in = make(LCV_DTYPE_FLOAT32, 4, xd);
    memset(lcv_tensor_data(in), 0, sizeof(float) * 16);
    float *out = run(data, size, 1, in, dims);
    double want = 8.0 * exp(-log(99.0));
    CHECK(out && dims[1] == 3);
    for (int i = 0; out && i < 3 * 16; i++)
        CHECK_MSG(fabs(out[i] - want) <= 1e-6 * want, "output %d: %g, want %g", i, out[i], want);
    free(out);
    lcv_tensor_free(in);
    lcv_build_free_buffer(data);
}

/* Boxes whose class follows from the pixels: bright squares class 0, dim ones class 1. */
static void make_boxes(lcv_tensor *x, lcv_tensor *y) {
    float *xp = lcv_tensor_data(x), *yp = lcv_tensor_data(y);
    memset(xp, 0, sizeof(float) * B * H * W);
    for (int i = 0; i < B; i++)
        for (int r = 0; r < 2; r++) {
            int side = 12 + (int)(urand() * 8), top = r * 16, left = (int)(urand() * (W - side));
            int cls = (int)(urand() * 2);
            for (int yy = top; yy < top + side && yy < H; yy++)
                for (int xx = left; xx < left + side; xx++)
                    xp[(i * H + yy) * W + xx] = cls == 0 ? 1.0f : 0.4f;
            float box[5] = {(float)left, (float)top, (float)(left + side),
                            (float)(top + side < H ? top + side : H), (float)cls};
            memcpy(yp + (i * 2 + r) * 5, box, sizeof box);
        }
}

static void test_fcos(void) {
    void *data = NULL;
    size_t size = 0;
    char err[300] = "";
    CHECK_MSG(lcv_build_arch("fcos-tiny", 1, H, W, 2, 5, &data, &size, err, sizeof err) ==
              LCV_OK, "%s", err);
    int64_t xd[4] = {B, 1, H, W}, yd[3] = {B, 2, 5}, d1[4] = {0};
    lcv_tensor *x = make(LCV_DTYPE_FLOAT32, 4, xd), *y = make(LCV_DTYPE_FLOAT32, 3, yd);
    make_boxes(x, y);
    float *out = run(data, size, 0, x, d1);
    CHECK(out && d1[0] == B && d1[1] == 2 + 5 && d1[2] == H / 8 && d1[3] == W / 8);
    free(out);
    lcv_trainer *t1, *t2;
    float first, last;
    fit_twice(data, size, 0.005f, x, y, &t1, &t2, &first, &last, NULL, NULL);
    CHECK_MSG(first > 0.5f && last < 0.5f * first, "detection loss %g -> %g", first, last);
    const lcv_tensor *teacher = NULL;
    CHECK(t2 && lcv_trainer_evaluate(t2, x, &teacher) == LCV_OK);
    CHECK(t1 && lcv_trainer_step_distill(t1, x, y, teacher, NULL, NULL) == LCV_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t1), "the labels are boxes"), "%s",
              lcv_trainer_errmsg(t1));
    lcv_trainer_free(t1);
    lcv_trainer_free(t2);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_build_free_buffer(data);
    CHECK(lcv_build_arch("fcos-tiny", 1, 40, 48, 2, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err, "multiples of 16"), "%s", err);
}

/* Writes arch, built for 1 x h x w images and K classes, to LCV_SEG_TMP_DIR/file; the path,
 * or NULL. */
static const char *write_arch(const char *arch, int h, int w, const char *file, char *path,
                              size_t cap) {
    void *data = NULL;
    size_t size = 0;
    char err[300] = "";
    snprintf(path, cap, "%s/%s", LCV_SEG_TMP_DIR, file);
    CHECK_MSG(lcv_build_arch(arch, 1, h, w, K, 9, &data, &size, err, sizeof err) == LCV_OK, "%s",
              err);
    FILE *f = data ? fopen(path, "wb") : NULL;
    bool ok = f && fwrite(data, 1, size, f) == size;
    if (f) ok &= fclose(f) == 0;
    lcv_build_free_buffer(data);
    CHECK_MSG(ok, "cannot write %s", path);
    return ok ? path : NULL;
}

/* How many of a's parameters b has under the same name, and how many of those hold the same
 * values. */
static void compare_params(const lcv_trainer *a, const lcv_trainer *b, int *named, int *equal) {
    *named = *equal = 0;
    for (int i = 0; i < lcv_trainer_param_tensors(a); i++) {
        const char *n, *m;
        const lcv_tensor *v, *u;
        CHECK(lcv_trainer_param(a, i, &n, &v) == LCV_OK);
        for (int j = 0; j < lcv_trainer_param_tensors(b); j++) {
            if (lcv_trainer_param(b, j, &m, &u) != LCV_OK || strcmp(n, m) != 0) continue;
            ++*named;
            size_t bytes = lcv_tensor_nbytes(v);
            *equal += bytes == lcv_tensor_nbytes(u) &&
                      memcmp(lcv_tensor_cdata(v), lcv_tensor_cdata(u), bytes) == 0;
        }
    }
}

/* lcv_trainer_init_from_file: segnet-tiny trained at 64x64 starts segnet-tiny at H x W with
 * every tensor (the network is convolutional: the same names and shapes); fcos-tiny takes
 * its shared encoder (and whatever else agrees in name and shape) and keeps the rest; a model
 * with nothing in common and a missing file are refused with messages naming them. */
static void test_init_from(void) {
    char small[512], other[512];
    const char *ps = write_arch("segnet-tiny", 64, 64, "init_small.onnx", small, sizeof small);
    const char *po = write_arch("resnet-8-8", H, W, "init_resnet.onnx", other, sizeof other);
    lcv_train_params p = lcv_train_default_params();
    lcv_trainer *from = NULL;
    CHECK_MSG(ps && lcv_trainer_create_file(ps, &p, &from) == LCV_OK, "%s",
              lcv_trainer_errmsg(from));
    static const char *const archs[] = {"segnet-tiny", "fcos-tiny"};
    for (int a = 0; a < 2 && from && po; a++) {
        void *data = NULL;
        size_t size = 0;
        char err[300] = "";
        CHECK(lcv_build_arch(archs[a], 1, H, W, K, 3, &data, &size, err, sizeof err) == LCV_OK);
        lcv_trainer *t = NULL;
        CHECK_MSG(lcv_trainer_create_buffer(data, size, &p, &t) == LCV_OK, "%s",
                  lcv_trainer_errmsg(t));
        lcv_build_free_buffer(data);
        int taken = -1, named, before, after;
        compare_params(t, from, &named, &before);
        CHECK(lcv_trainer_init_from_file(t, po, &taken) == LCV_ERR_INVALID_ARG && taken == 0);
        CHECK_MSG(strstr(lcv_trainer_errmsg(t), "init_resnet.onnx") != NULL, "%s",
                  lcv_trainer_errmsg(t));
        CHECK(lcv_trainer_init_from_file(t, "/nonexistent/init.onnx", &taken) != LCV_OK);
        CHECK(strstr(lcv_trainer_errmsg(t), "/nonexistent/init.onnx") != NULL);
        compare_params(t, from, &named, &after);
        CHECK_MSG(after == before, "%s: a refused start changed %d tensors", archs[a],
                  after - before);
        CHECK_MSG(lcv_trainer_init_from_file(t, ps, &taken) == LCV_OK, "%s",
                  lcv_trainer_errmsg(t));
        compare_params(t, from, &named, &after);
        int total = lcv_trainer_param_tensors(t);
        if (a == 0) /* all of them, the running statistics too (two per BatchNorm) */
            CHECK_MSG(named == total && after == total && taken > total, "%s: %d of %d equal, "
                      "%d taken", archs[a], after, total, taken);
        else /* at least the encoder: 28 conv-BN pairs of 3 tensors; not the heads */
            CHECK_MSG(after >= 3 * 28 && after > before && after < total, "%s: %d of %d equal "
                      "(%d before), %d taken", archs[a], after, total, before, taken);
        lcv_trainer_free(t);
    }
    lcv_trainer_free(from);
}

int main(void) {
    test_blocks();
    test_segnet();
    test_head_values();
    test_fcos();
    test_init_from();
    return lcv_test_finish("test_seg_builder");
}
