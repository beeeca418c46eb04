/* test_builder.c - the model builder (include/leancv_build.h) through its public API: a net
 * using every block on odd shapes builds with the documented shapes, loads, runs (optimized
 * and reference kernels agree) and trains (the loss falls on a fixed tiny batch); every named
 * architecture builds, runs and takes training steps; the same seed gives the same bytes; bad
 * arguments fail with messages naming the block and the argument, and errors are sticky.
 * PyTorch comparisons are in tests/builder/check_builder_torch.py. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"
#include "leancv_build.h"
#include "leancv_train.h"

#define RELU LCV_BUILD_ACT_RELU

static uint64_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng_state >> 40) / 16777216.0 * 2.0 - 1.0);
}

static lcv_tensor *images(int n, int c, int h, int w) {
    lcv_tensor *t;
    int64_t dims[4] = {n, c, h, w};
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, dims, &t) != LCV_OK) return NULL;
    float *p = lcv_tensor_data(t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = frand();
    return t;
}

static bool shape_is(lcv_builder *b, int v, int c, int h, int w) {
    int gc = -1, gh = -1, gw = -1;
    if (lcv_builder_shape(b, v, &gc, &gh, &gw) != LCV_OK) return false;
    if (gc == c && gh == h && gw == w) return true;
    fprintf(stderr, "value %d: %dx%dx%d, expected %dx%dx%d\n", v, gc, gh, gw, c, h, w);
    return false;
}

/* Runs the model on x; copies the [n, classes] logits to out. */
static bool run(const void *data, size_t size, int reference, const lcv_tensor *x, float *out,
                int64_t count) {
    lcv_model_params mp = lcv_model_default_params();
    mp.reference_kernels = reference;
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    bool ok = lcv_model_load_buffer(data, size, &mp, &m) == LCV_OK &&
              lcv_session_create(m, NULL, &s) == LCV_OK;
    if (!ok && m) fprintf(stderr, "load: %s\n", lcv_model_errmsg(m));
    const char *name = "images";
    if (ok && lcv_session_run(s, 1, &name, &x) != LCV_OK) {
        fprintf(stderr, "run: %s\n", lcv_session_errmsg(s));
        ok = false;
    }
    const lcv_tensor *y = ok ? lcv_session_output(s, 0) : NULL;
    ok = ok && y && lcv_tensor_numel(y) == count &&
         strcmp(lcv_model_output_name(m, 0), "logits") == 0;
    if (ok) memcpy(out, lcv_tensor_cdata(y), sizeof(float) * (size_t)count);
    lcv_session_free(s);
    lcv_model_free(m);
    return ok;
}

/* Every block, on a 3x13x11 input; returns the builder (finished into *data). */
static lcv_builder *all_blocks(uint64_t seed, void **data, size_t *size) {
    lcv_builder *b;
    CHECK(lcv_builder_create(3, 13, 11, seed, &b) == LCV_OK);
    int x = lcv_builder_input(b);
    CHECK(x == 0 && shape_is(b, x, 3, 13, 11));
    x = lcv_builder_conv(b, x, 8, 3, 1, 1, RELU);
    CHECK(shape_is(b, x, 8, 13, 11));
    x = lcv_builder_conv(b, x, 8, 5, 2, 2, LCV_BUILD_ACT_HARDSWISH);
    CHECK(shape_is(b, x, 8, 7, 6));
    x = lcv_builder_dwsep(b, x, 12, 3, 1, LCV_BUILD_ACT_SILU);
    CHECK(shape_is(b, x, 12, 7, 6));
    x = lcv_builder_inverted_residual(b, x, 12, 5, 1, 3, 4, LCV_BUILD_ACT_RELU6); /* + input */
    CHECK(shape_is(b, x, 12, 7, 6));
    x = lcv_builder_inverted_residual(b, x, 16, 3, 2, 1, 0, LCV_BUILD_ACT_HARDSWISH);
    CHECK(shape_is(b, x, 16, 4, 3));
    x = lcv_builder_squeeze_excite(b, x, 4);
    x = lcv_builder_channel_shuffle(b, x, 4);
    CHECK(shape_is(b, x, 16, 4, 3));
    x = lcv_builder_shuffle_unit(b, x, 16, 1);
    CHECK(shape_is(b, x, 16, 4, 3));
    x = lcv_builder_shuffle_unit(b, x, 24, 2);
    CHECK(shape_is(b, x, 24, 2, 2));
    x = lcv_builder_ghost_module(b, x, 24, 3, 3, RELU);
    CHECK(shape_is(b, x, 24, 2, 2));
    x = lcv_builder_basic_block(b, x, 24, 1);
    int y = lcv_builder_basic_block(b, x, 24, 2);
    CHECK(shape_is(b, y, 24, 1, 1));
    x = lcv_builder_conv(b, x, 24, 3, 2, 24, LCV_BUILD_ACT_NONE);
    x = lcv_builder_add(b, x, y);
    x = lcv_builder_global_avgpool(b, x);
    CHECK(shape_is(b, x, 24, 0, 0));
    x = lcv_builder_linear(b, x, 16);
    x = lcv_builder_act(b, x, LCV_BUILD_ACT_SILU);
    x = lcv_builder_linear(b, x, 5);
    CHECK(shape_is(b, x, 5, 0, 0));
    CHECK_MSG(lcv_builder_finish(b, x, data, size) == LCV_OK, "%s", lcv_builder_errmsg(b));
    return b;
}

static void test_every_block(void) {
    void *data = NULL, *again = NULL, *other = NULL;
    size_t size = 0, size2 = 0, size3 = 0;
    lcv_builder *b = all_blocks(1, &data, &size);
    CHECK(lcv_builder_param_count(b) > 5000 && lcv_builder_param_count(b) < 50000);
    /* finishing again with the same output gives the same bytes; blocks are refused */
    CHECK(lcv_builder_finish(b, 1, &again, &size2) == LCV_ERR_INVALID_ARG && !again);
    lcv_builder_free(b);
    b = all_blocks(1, &again, &size2);
    lcv_builder *b3 = all_blocks(2, &other, &size3);
    CHECK(data && again && size == size2 && memcmp(data, again, size) == 0);
    CHECK(other && (size3 != size || memcmp(data, other, size) != 0));
    lcv_builder_free(b);
    lcv_builder_free(b3);
    lcv_build_free_buffer(again);
    lcv_build_free_buffer(other);

    lcv_tensor *x = images(2, 3, 13, 11);
    float fast[10], ref[10];
    CHECK(run(data, size, 0, x, fast, 10) && run(data, size, 1, x, ref, 10));
    for (int i = 0; i < 10; i++) {
        CHECK(isfinite(fast[i]));
        CHECK_NEAR(fast[i], ref[i], 1e-4 + 1e-4 * fabs(ref[i]));
    }
    /* training: the loss on a fixed batch of 8 falls */
    lcv_tensor *xb = images(8, 3, 13, 11), *lab;
    int64_t ld[1] = {8};
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 1, ld, &lab) == LCV_OK);
    for (int i = 0; i < 8; i++) ((int64_t *)lcv_tensor_data(lab))[i] = i % 5;
    lcv_train_params tp = lcv_train_default_params();
    tp.lr = 0.05f;
    lcv_trainer *t = NULL;
    CHECK_MSG(lcv_trainer_create_buffer(data, size, &tp, &t) == LCV_OK, "%s",
              lcv_trainer_errmsg(t));
    float first = NAN, loss = NAN;
    for (int s = 0; s < 25 && t; s++) {
        if (lcv_trainer_step(t, xb, lab, &loss, NULL) != LCV_OK) {
            CHECK_MSG(0, "step %d: %s", s, lcv_trainer_errmsg(t));
            break;
        }
        if (s == 0) first = loss;
    }
    CHECK_MSG(loss < 0.5f * first, "loss %g after 25 steps, %g at first", loss, first);
    lcv_trainer_free(t);
    lcv_tensor_free(xb);
    lcv_tensor_free(lab);
    lcv_tensor_free(x);
    lcv_build_free_buffer(data);
}

static void test_archs(void) {
    const char *names[] = {"resnet8", "arch:resnet-8-4", "mobilenetv2-tiny", "mobilenetv3-tiny",
                           "shufflenetv2-tiny", "ghostnet-tiny"};
    /* seven names: segnet-tiny and fcos-tiny, the last two, are a segmenter and a detector
     * (tests/task_train/test_seg_builder.c) */
    CHECK(lcv_build_arch_name(0) && !lcv_build_arch_name(7) && !lcv_build_arch_name(-1));
    lcv_tensor *x = images(4, 1, 28, 28), *lab;
    int64_t ld[1] = {4};
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 1, ld, &lab) == LCV_OK);
    for (int i = 0; i < 4; i++) ((int64_t *)lcv_tensor_data(lab))[i] = i;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        void *data = NULL;
        size_t size = 0;
        char err[256] = "";
        CHECK_MSG(lcv_build_arch(names[k], 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
                  LCV_OK, "%s: %s", names[k], err);
        float out[40];
        CHECK_MSG(run(data, size, 0, x, out, 40), "%s", names[k]);
        lcv_trainer *t = NULL;
        CHECK_MSG(lcv_trainer_create_buffer(data, size, NULL, &t) == LCV_OK, "%s: %s", names[k],
                  lcv_trainer_errmsg(t));
        float loss = NAN;
        for (int s = 0; s < 2 && t; s++)
            CHECK_MSG(lcv_trainer_step(t, x, lab, &loss, NULL) == LCV_OK, "%s: %s", names[k],
                      lcv_trainer_errmsg(t));
        CHECK_MSG(isfinite(loss), "%s: loss %g", names[k], loss);
        lcv_trainer_free(t);
        lcv_build_free_buffer(data);
    }
    /* a larger RGB input gets the strided stem and still builds */
    void *data = NULL;
    size_t size;
    CHECK(lcv_build_arch("mobilenetv3-tiny", 3, 96, 80, 100, 0, &data, &size, NULL, 0) ==
          LCV_OK);
    lcv_build_free_buffer(data);
    lcv_tensor_free(lab);
    lcv_tensor_free(x);
}

/* The failing call's status and that the message contains `want`. */
#define EXPECT_FAIL(b, call, want)                                                             \
    do {                                                                                       \
        int r_ = (call);                                                                       \
        CHECK_MSG(r_ == -1 && strstr(lcv_builder_errmsg(b), want), "%s -> %d: '%s'", #call, r_, \
                  lcv_builder_errmsg(b));                                                      \
    } while (0)

/* Runs one failing block on a fresh 8x9x9 builder (after a stem conv). */
#define BAD(call_fmt, want)                                                                    \
    do {                                                                                       \
        lcv_builder *b;                                                                        \
        CHECK(lcv_builder_create(8, 9, 9, 0, &b) == LCV_OK);                                   \
        int x = lcv_builder_input(b);                                                          \
        (void)x;                                                                               \
        EXPECT_FAIL(b, call_fmt, want);                                                        \
        CHECK(lcv_builder_status(b) == LCV_ERR_INVALID_ARG);                                   \
        lcv_builder_free(b);                                                                   \
    } while (0)

static void test_bad_blocks(void) {
    BAD(lcv_builder_conv(b, x, 8, 4, 1, 1, RELU), "kernel is 4");
    BAD(lcv_builder_conv(b, x, 8, 3, 0, 1, RELU), "stride is 0");
    BAD(lcv_builder_conv(b, x, 8, 3, 17, 1, RELU), "stride is 17");
    BAD(lcv_builder_conv(b, x, 9, 3, 1, 3, RELU), "groups 3");
    BAD(lcv_builder_conv(b, x, 8, 3, 1, 0, RELU), "groups 0");
    BAD(lcv_builder_conv(b, x, 0, 3, 1, 1, RELU), "out_channels is 0");
    BAD(lcv_builder_conv(b, x, 70000, 3, 1, 1, RELU), "out_channels is 70000");
    BAD(lcv_builder_conv(b, x, 8, 3, 1, 1, (lcv_build_act)99), "activation 99");
    BAD(lcv_builder_conv(b, 7, 8, 3, 1, 1, RELU), "value handle 7");
    BAD(lcv_builder_conv(b, -1, 8, 3, 1, 1, RELU), "value handle -1");
    BAD(lcv_builder_linear(b, x, 0), "out_features is 0");
    BAD(lcv_builder_global_avgpool(b, lcv_builder_global_avgpool(b, x)), "vector [batch, F]");
    BAD(lcv_builder_add(b, x, lcv_builder_conv(b, x, 8, 3, 2, 1, RELU)), "shapes differ");
    BAD(lcv_builder_dwsep(b, x, 8, 2, 1, RELU), "kernel is 2");
    BAD(lcv_builder_squeeze_excite(b, x, 0), "reduction is 0");
    BAD(lcv_builder_inverted_residual(b, x, 8, 3, 1, 0, 0, RELU), "expansion 0");
    BAD(lcv_builder_inverted_residual(b, x, 8, 3, 1, 10000, 0, RELU), "expansion 10000");
    BAD(lcv_builder_inverted_residual(b, x, 8, 3, 1, 2, -1, RELU), "se_reduction is -1");
    BAD(lcv_builder_channel_shuffle(b, x, 3), "groups 3");
    BAD(lcv_builder_shuffle_unit(b, x, 9, 2), "out_channels 9 must be even");
    BAD(lcv_builder_shuffle_unit(b, x, 8, 3), "stride is 3");
    BAD(lcv_builder_shuffle_unit(b, x, 16, 1), "keeps the channels");
    BAD(lcv_builder_ghost_module(b, x, 8, 1, 3, RELU), "ratio 1");
    BAD(lcv_builder_ghost_module(b, x, 8, 3, 3, RELU), "ratio 3");
    BAD(lcv_builder_ghost_module(b, x, 8, 2, 4, RELU), "kernel is 4");
    BAD(lcv_builder_basic_block(b, x, 8, -2), "stride is -2");
    /* weights past the limit are refused before anything is allocated */
    BAD(lcv_builder_conv(b, lcv_builder_conv(b, x, 65536, 1, 1, 1, RELU), 65536, 31, 1, 1,
                         RELU),
        "past its limit");
}

static void test_bad_arguments(void) {
    lcv_builder *b = NULL;
    CHECK(lcv_builder_create(0, 28, 28, 0, &b) == LCV_ERR_INVALID_ARG);
    CHECK(b && strstr(lcv_builder_errmsg(b), "channels is 0"));
    lcv_builder_free(b);
    CHECK(lcv_builder_create(1, 28, 70000, 0, &b) == LCV_ERR_INVALID_ARG);
    CHECK(b && strstr(lcv_builder_errmsg(b), "28x70000"));
    lcv_builder_free(b);
    CHECK(lcv_builder_create(1, 1, 1, 0, NULL) == LCV_ERR_INVALID_ARG);

    /* sticky errors: the first message stays, later valid calls fail */
    CHECK(lcv_builder_create(1, 8, 8, 0, &b) == LCV_OK);
    int x = lcv_builder_conv(b, 0, 4, 3, 1, 1, RELU);
    CHECK(x > 0 && lcv_builder_status(b) == LCV_OK && lcv_builder_errmsg(b)[0] == '\0');
    EXPECT_FAIL(b, lcv_builder_conv(b, x, 4, 6, 1, 1, RELU), "lcv_builder_conv: kernel is 6");
    CHECK(lcv_builder_conv(b, x, 4, 3, 1, 1, RELU) == -1);
    CHECK(strstr(lcv_builder_errmsg(b), "kernel is 6"));
    void *data = NULL;
    size_t size = 0;
    CHECK(lcv_builder_finish(b, x, &data, &size) == LCV_ERR_INVALID_ARG && !data);
    lcv_builder_free(b);

    /* finish: not the input itself; once finished, no blocks and no other output */
    CHECK(lcv_builder_create(1, 8, 8, 0, &b) == LCV_OK);
    CHECK(lcv_builder_finish(b, 0, &data, &size) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(lcv_builder_errmsg(b), "input itself"));
    lcv_builder_free(b);
    CHECK(lcv_builder_create(1, 8, 8, 0, &b) == LCV_OK);
    x = lcv_builder_linear(b, lcv_builder_conv(b, 0, 4, 3, 1, 1, RELU), 3);
    CHECK(lcv_builder_finish(b, x, &data, &size) == LCV_OK && data && size > 0);
    lcv_build_free_buffer(data);
    CHECK(lcv_builder_finish(b, x, &data, &size) == LCV_OK);
    lcv_build_free_buffer(data);
    CHECK(lcv_builder_write(b, x, "/nonexistent-dir/model.onnx") == LCV_ERR_IO);
    CHECK(strstr(lcv_builder_errmsg(b), "/nonexistent-dir/model.onnx"));
    lcv_builder_free(b);
    CHECK(lcv_builder_create(1, 8, 8, 0, &b) == LCV_OK);
    x = lcv_builder_linear(b, 0, 3);
    CHECK(lcv_builder_finish(b, x, &data, &size) == LCV_OK);
    lcv_build_free_buffer(data);
    EXPECT_FAIL(b, lcv_builder_linear(b, x, 3), "finished");
    lcv_builder_free(b);
    CHECK(lcv_builder_create(1, 8, 8, 0, &b) == LCV_OK);
    x = lcv_builder_linear(b, 0, 3);
    CHECK(lcv_builder_finish(b, x, &data, &size) == LCV_OK);
    lcv_build_free_buffer(data);
    CHECK(lcv_builder_finish(b, 0, &data, &size) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(lcv_builder_errmsg(b), "already finished"));
    lcv_builder_free(b);
    /* NULL handles are refused, not dereferenced */
    CHECK(lcv_builder_conv(NULL, 0, 4, 3, 1, 1, RELU) == -1);
    CHECK(lcv_builder_finish(NULL, 0, &data, &size) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_builder_shape(NULL, 0, NULL, NULL, NULL) == LCV_ERR_INVALID_ARG);
    lcv_builder_free(NULL);

    /* named architectures */
    char err[300];
    CHECK(lcv_build_arch("resnet9", 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(err, "unknown architecture 'resnet9'") && strstr(err, "ghostnet-tiny"));
    CHECK(lcv_build_arch("resnet-9-16", 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(err, "6n + 2"));
    CHECK(lcv_build_arch("resnet-8-0", 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(lcv_build_arch("resnet-8-16x", 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(lcv_build_arch("resnet8", 1, 28, 28, 1, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(err, "1 classes"));
    CHECK(lcv_build_arch("resnet8", 0, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(err, "channels is 0"));
    CHECK(lcv_build_arch(NULL, 1, 28, 28, 10, 0, &data, &size, err, sizeof err) ==
          LCV_ERR_INVALID_ARG);
    CHECK(lcv_build_arch("resnet8", 1, 28, 28, 10, 0, &data, &size, err, 4) ==
          LCV_OK); /* a tiny errbuf is fine when nothing fails */
    lcv_build_free_buffer(data);
}

int main(void) {
    test_bad_blocks();
    test_bad_arguments();
    test_every_block();
    test_archs();
    return lcv_test_finish("train_builder");
}
