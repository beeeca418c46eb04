/* build_archs.c - named small architectures (lcv_build_arch), each written over the public
 * builder API of include/leancv_build.h as a user would: a CIFAR-style ResNet family and tiny
 * MobileNet v2 / v3, ShuffleNet v2 and GhostNet variants sized for Fashion-MNIST-like inputs
 * (28x28, a few classes; larger inputs get a strided stem), a tiny encoder-decoder segmenter
 * and a tiny one-level anchor-free detector. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leancv_build.h"

#define R LCV_BUILD_ACT_RELU
#define R6 LCV_BUILD_ACT_RELU6
#define HS LCV_BUILD_ACT_HARDSWISH
#define NO LCV_BUILD_ACT_NONE

/* Inputs of 64 pixels or more get a stride-2 stem so the tiny nets stay cheap. */
static int stem_stride(lcv_builder *b) {
    int h, w;
    lcv_builder_shape(b, lcv_builder_input(b), NULL, &h, &w);
    return h >= 64 && w >= 64 ? 2 : 1;
}

/* CIFAR ResNet (He et al. 2016, section 4.2): 6n + 2 layers. */
static int resnet(lcv_builder *b, int n, int width) {
    int x = lcv_builder_conv(b, lcv_builder_input(b), width, 3, stem_stride(b), 1, R);
    for (int stage = 0; stage < 3; stage++)
        for (int i = 0; i < n; i++)
            x = lcv_builder_basic_block(b, x, width << stage, stage > 0 && i == 0 ? 2 : 1);
    return lcv_builder_global_avgpool(b, x);
}

static int mobilenetv2_tiny(lcv_builder *b) {
    /* expansion, channels, repeats, stride: MobileNet v2's table, narrowed and shortened */
    static const int cfg[][4] = {{1, 16, 1, 1}, {4, 24, 2, 2}, {4, 32, 2, 2}, {4, 64, 2, 1}};
    int x = lcv_builder_conv(b, lcv_builder_input(b), 16, 3, stem_stride(b), 1, R6);
    for (size_t s = 0; s < sizeof cfg / sizeof cfg[0]; s++)
        for (int i = 0; i < cfg[s][2]; i++)
            x = lcv_builder_inverted_residual(b, x, cfg[s][1], 3, i == 0 ? cfg[s][3] : 1,
                                              cfg[s][0], 0, R6);
    x = lcv_builder_conv(b, x, 96, 1, 1, 1, R6);
    return lcv_builder_global_avgpool(b, x);
}

static int mobilenetv3_tiny(lcv_builder *b) {
    /* kernel, expansion, channels, SE reduction, activation, stride */
    static const int cfg[][6] = {{3, 1, 16, 4, R, 1}, {3, 4, 24, 0, R, 2},  {3, 3, 24, 0, R, 1},
                                 {5, 3, 40, 4, HS, 2}, {5, 3, 40, 4, HS, 1}, {5, 3, 48, 4, HS, 1}};
    int x = lcv_builder_conv(b, lcv_builder_input(b), 16, 3, stem_stride(b), 1, HS);
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        x = lcv_builder_inverted_residual(b, x, cfg[i][2], cfg[i][0], cfg[i][5], cfg[i][1],
                                          cfg[i][3], (lcv_build_act)cfg[i][4]);
    x = lcv_builder_conv(b, x, 96, 1, 1, 1, HS);
    return lcv_builder_global_avgpool(b, x);
}

static int shufflenetv2_tiny(lcv_builder *b) {
    static const int stages[][2] = {{48, 2}, {96, 3}, {192, 2}}; /* channels, units */
    int x = lcv_builder_conv(b, lcv_builder_input(b), 24, 3, stem_stride(b), 1, R);
    for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++)
        for (int i = 0; i < stages[s][1]; i++)
            x = lcv_builder_shuffle_unit(b, x, stages[s][0], i == 0 ? 2 : 1);
    return lcv_builder_global_avgpool(b, x);
}

/* GhostNet's bottleneck (Han et al. 2020): ghost module (expand, ReLU), a strided depthwise
 * conv when stride 2, optional SE, ghost module (project, no activation), plus the input or a
 * depthwise + pointwise shortcut when the shape changes. */
static int ghost_bottleneck(lcv_builder *b, int x, int kernel, int expand, int out, int se,
                            int stride) {
    int c;
    lcv_builder_shape(b, x, &c, NULL, NULL);
    int y = lcv_builder_ghost_module(b, x, expand, 2, 3, R);
    if (stride > 1) y = lcv_builder_conv(b, y, expand, kernel, stride, expand, NO);
    if (se) y = lcv_builder_squeeze_excite(b, y, se);
    y = lcv_builder_ghost_module(b, y, out, 2, 3, NO);
    int s = x;
    if (stride > 1 || c != out) {
        s = lcv_builder_conv(b, x, c, kernel, stride, c, NO);
        s = lcv_builder_conv(b, s, out, 1, 1, 1, NO);
    }
    return lcv_builder_add(b, y, s);
}

static int ghostnet_tiny(lcv_builder *b) {
    /* kernel, expansion, channels, SE reduction, stride */
    static const int cfg[][5] = {{3, 16, 16, 0, 1},  {3, 48, 24, 0, 2},  {3, 72, 24, 0, 1},
                                 {5, 72, 40, 4, 2},  {5, 120, 40, 4, 1}, {3, 160, 48, 4, 1}};
    int x = lcv_builder_conv(b, lcv_builder_input(b), 16, 3, stem_stride(b), 1, R);
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        x = ghost_bottleneck(b, x, cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], cfg[i][4]);
    x = lcv_builder_conv(b, x, 128, 1, 1, 1, R);
    return lcv_builder_global_avgpool(b, x);
}

/* The encoder segnet-tiny and fcos-tiny share: MobileNet v2 inverted residuals (expansion 4)
 * halving the size four times, most of the depth at 1/8 and 1/16 where blocks cost little;
 * the 5x5 depthwise kernels there give a receptive field of about 300 pixels, enough to see a
 * whole object before labelling it. Returns the 1/16 map; *s4 and *s8 receive the 1/4 and 1/8
 * ones for the decoders' skip connections. */
static int dense_encoder(lcv_builder *b, int in, int *s4, int *s8) {
    int x = lcv_builder_conv(b, in, 16, 3, 2, 1, R);
    x = lcv_builder_inverted_residual(b, x, 24, 3, 2, 4, 0, R);
    *s4 = x = lcv_builder_inverted_residual(b, x, 24, 3, 1, 4, 0, R);
    x = lcv_builder_inverted_residual(b, x, 48, 3, 2, 4, 0, R);
    for (int i = 0; i < 2; i++) x = lcv_builder_inverted_residual(b, x, 48, 5, 1, 4, 0, R);
    *s8 = x;
    x = lcv_builder_inverted_residual(b, x, 96, 3, 2, 4, 0, R);
    for (int i = 0; i < 3; i++) x = lcv_builder_inverted_residual(b, x, 96, 5, 1, 4, 0, R);
    return x;
}

/* x upsampled by 2 (nearest), concatenated with the skip map of that size, and mixed by a
 * depthwise-separable block of `out` channels: one step of a U-Net / feature-pyramid decoder. */
static int merge_up(lcv_builder *b, int x, int skip, int out) {
    return lcv_builder_dwsep(b, lcv_builder_concat(b, lcv_builder_upsample(b, x, 2, 0), skip), out,
                             3, 1, R);
}

/* A U-Net-shaped (Ronneberger et al. 2015) segmenter: the dense encoder, decoder steps back up
 * to 1/4, logits there; they are upsampled bilinearly to full size and a 1x1 convolution weighs
 * them against the image itself, which draws the boundaries with the background at full
 * resolution without full-resolution feature maps (most of a decoder's training time
 * otherwise). */
static int segnet_tiny(lcv_builder *b, int classes) {
    int in = lcv_builder_input(b), s4, s8;
    int x = dense_encoder(b, in, &s4, &s8);
    x = merge_up(b, merge_up(b, x, s8, 64), s4, 32);
    x = lcv_builder_head_conv(b, x, classes, 1, 0.0f);
    x = lcv_builder_concat(b, lcv_builder_upsample(b, x, 4, 1), in);
    return lcv_builder_head_conv(b, x, classes, 1, 0.0f);
}

/* An FCOS-style (Tian et al. 2019) anchor-free detector at one level, stride 8: the dense
 * encoder, its 1/16 map merged into the 1/8 one (a one-step feature pyramid), and two towers
 * of depthwise-separable blocks: classification (sigmoid scores, prior 0.01) and regression
 * (distances l, t, r, b = exp(.) times a learned scale starting at the stride; centre-ness
 * beside them, as FCOS places it). Output [batch, classes + 5, H / 8, W / 8]: the class
 * logits, the four distances in pixels, the centre-ness logit (leancv detect --head fcos reads
 * this layout as one output). */
static int fcos_tiny(lcv_builder *b, int classes) {
    int s4, s8, x = dense_encoder(b, lcv_builder_input(b), &s4, &s8);
    x = merge_up(b, x, s8, 96);
    int cls = x, reg = x;
    for (int i = 0; i < 2; i++) {
        cls = lcv_builder_dwsep(b, cls, 96, 3, 1, R);
        reg = lcv_builder_dwsep(b, reg, 96, 3, 1, R);
    }
    cls = lcv_builder_head_conv(b, cls, classes, 3, 0.01f);
    int box = lcv_builder_scaled_exp(b, lcv_builder_head_conv(b, reg, 4, 3, 0.0f), 8.0f);
    int ctr = lcv_builder_head_conv(b, reg, 1, 3, 0.0f);
    return lcv_builder_concat(b, lcv_builder_concat(b, cls, box), ctr);
}

static const char *const NAMES[] = {"resnet8", "mobilenetv2-tiny", "mobilenetv3-tiny",
                                    "shufflenetv2-tiny", "ghostnet-tiny", "segnet-tiny",
                                    "fcos-tiny"};

const char *lcv_build_arch_name(int i) {
    return i >= 0 && i < (int)(sizeof NAMES / sizeof NAMES[0]) ? NAMES[i] : NULL;
}

/* "resnet-D-W": true with *n = (D - 2) / 6 and *width when name has that form. */
static bool parse_resnet(const char *name, long *depth, long *width) {
    if (strncmp(name, "resnet-", 7) != 0) return false;
    char *end;
    *depth = strtol(name + 7, &end, 10);
    if (end == name + 7 || *end != '-') return false;
    const char *w = end + 1;
    *width = strtol(w, &end, 10);
    return end != w && *end == '\0';
}

static void set_err(char *errbuf, size_t errcap, const char *fmt, const char *a, const char *b) {
    if (errbuf && errcap) snprintf(errbuf, errcap, fmt, a, b);
}

lcv_status lcv_build_arch(const char *name, int channels, int height, int width, int classes,
                          uint64_t seed, void **data, size_t *size, char *errbuf,
                          size_t errcap) {
    if (!name || !data || !size) {
        set_err(errbuf, errcap, "%s%s", "lcv_build_arch: NULL argument", "");
        return LCV_ERR_INVALID_ARG;
    }
    *data = NULL;
    *size = 0;
    if (strncmp(name, "arch:", 5) == 0) name += 5;
    char msg[256];
    if (classes < 2 || classes > 100000) {
        snprintf(msg, sizeof msg, "%d classes: it must be in 2..100000", classes);
        set_err(errbuf, errcap, "architecture '%s': %s", name, msg);
        return LCV_ERR_INVALID_ARG;
    }
    long depth = 8, rwidth = 16;
    int which = -1;
    for (int i = 0; lcv_build_arch_name(i); i++)
        if (strcmp(name, lcv_build_arch_name(i)) == 0) which = i;
    if (which < 0 && parse_resnet(name, &depth, &rwidth)) {
        if (depth < 8 || depth > 602 || (depth - 2) % 6 || rwidth < 1 || rwidth > 1024) {
            set_err(errbuf, errcap, "architecture '%s': %s", name,
                    "resnet-D-W needs D = 6n + 2 in 8..602 and W in 1..1024");
            return LCV_ERR_INVALID_ARG;
        }
        which = 0;
    }
    if (which < 0) {
        size_t k = 0;
        for (int i = 0; lcv_build_arch_name(i) && k < sizeof msg; i++)
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s, ", lcv_build_arch_name(i));
        if (k < sizeof msg) snprintf(msg + k, sizeof msg - k, "resnet-D-W (D = 6n + 2)");
        set_err(errbuf, errcap, "unknown architecture '%s' (known: %s)", name, msg);
        return LCV_ERR_INVALID_ARG;
    }
    if (which >= 5 && (height % 16 || width % 16)) {
        snprintf(msg, sizeof msg, "images of %dx%d: height and width must be multiples of 16",
                 height, width);
        set_err(errbuf, errcap, "architecture '%s': %s", name, msg);
        return LCV_ERR_INVALID_ARG;
    }
    lcv_builder *b;
    lcv_status st = lcv_builder_create(channels, height, width, seed, &b);
    if (st == LCV_OK && which >= 5) {
        st = lcv_builder_finish(b, which == 5 ? segnet_tiny(b, classes) : fcos_tiny(b, classes),
                                data, size);
    } else if (st == LCV_OK) {
        int x = which == 0   ? resnet(b, (int)(depth - 2) / 6, (int)rwidth)
                : which == 1 ? mobilenetv2_tiny(b)
                : which == 2 ? mobilenetv3_tiny(b)
                : which == 3 ? shufflenetv2_tiny(b)
                             : ghostnet_tiny(b);
        x = lcv_builder_linear(b, x, classes);
        st = lcv_builder_finish(b, x, data, size);
    }
    if (st != LCV_OK)
        set_err(errbuf, errcap, "architecture '%s': %s", name,
                b ? lcv_builder_errmsg(b) : "out of memory");
    lcv_builder_free(b);
    return st;
}
