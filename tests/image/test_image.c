/* test_image.c - leancv_image: every PNG colour type/bit depth and JPEG flavour decodes to the
 * pixels PIL gives (expected arrays in the .npy files in tests/image/data), corrupt or oversized files fail
 * cleanly, and resize/crop/normalisation/layout and the PNG writer behave as documented. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"
#include "leancv_image.h"

static char errbuf[512];

static void path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", LCV_IMAGE_DATA_DIR, name);
}

static lcv_image *load(const char *name, int channels, lcv_status *st) {
    char path[512];
    path_of(path, sizeof path, name);
    lcv_image_params p = lcv_image_default_params();
    p.channels = channels;
    lcv_image *img = NULL;
    errbuf[0] = '\0';
    *st = lcv_image_load_file(path, &p, &img, errbuf, sizeof errbuf);
    return img;
}

/* Compares img with the uint8 (or uint16, scaled to 8 bits) array in name.npy. */
static void expect_pixels(const lcv_image *img, const char *npy, int tol) {
    char path[512];
    path_of(path, sizeof path, npy);
    lcv_tensor *t = NULL;
    CHECK_MSG(lcv_npy_read_file(path, &t, errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
    if (!t || !img) {
        lcv_tensor_free(t);
        return;
    }
    int ch = lcv_tensor_ndim(t) == 3 ? (int)lcv_tensor_dim(t, 2) : 1;
    CHECK_MSG(lcv_tensor_dim(t, 0) == img->height && lcv_tensor_dim(t, 1) == img->width &&
                  ch == img->channels,
              "%s: shape mismatch", npy);
    int64_t n = lcv_tensor_numel(t);
    int worst = 0;
    for (int64_t i = 0; i < n && n == (int64_t)img->width * img->height * img->channels; i++) {
        int want = lcv_tensor_dtype(t) == LCV_DTYPE_UINT16
                       ? (int)((((const uint16_t *)lcv_tensor_cdata(t))[i] * 255u + 32767u) / 65535u)
                       : ((const uint8_t *)lcv_tensor_cdata(t))[i];
        int diff = abs(want - img->data[i]);
        if (diff > worst) worst = diff;
    }
    CHECK_MSG(worst <= tol, "%s: max pixel difference %d > %d", npy, worst, tol);
    lcv_tensor_free(t);
}

static void test_decode(void) {
    lcv_status st;
    static const struct {
        const char *file, *npy;
        int channels, tol;
    } good[] = {
        {"rgb8.png", "rgb8.npy", 3, 0},         {"rgba8.png", "rgb8.npy", 3, 0},
        {"gray8.png", "gray8.npy", 1, 0},       {"gray1.png", "gray1.npy", 1, 0},
        {"gray16.png", "gray16.npy", 1, 1},     {"palette_trns.png", "palette_trns.npy", 3, 0},
        {"rgb.jpg", "rgb_jpg.npy", 3, 2},       {"gray.jpg", "gray_jpg.npy", 1, 2},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        lcv_image *img = load(good[i].file, good[i].channels, &st);
        CHECK_MSG(st == LCV_OK && img, "%s: %s", good[i].file, errbuf);
        expect_pixels(img, good[i].npy, good[i].tol);
        lcv_image_free(img);
    }
    /* Gray files expand to RGB by replication. */
    lcv_image *g = load("gray8.png", 3, &st), *g1 = load("gray8.png", 1, &st);
    CHECK(g && g1 && g->channels == 3);
    if (g && g1)
        for (int i = 0; i < g1->width * g1->height; i++)
            CHECK(g->data[3 * i] == g1->data[i] && g->data[3 * i + 2] == g1->data[i]);
    lcv_image_free(g);
    lcv_image_free(g1);
    /* Colour to gray: PNG and JPEG paths use the same luma weights. */
    lcv_image *c = load("rgb8.png", 3, &st), *c1 = load("rgb8.png", 1, &st);
    CHECK(c && c1 && c1->channels == 1);
    if (c && c1)
        for (int i = 0; i < c1->width * c1->height; i++) {
            double y = 0.299 * c->data[3 * i] + 0.587 * c->data[3 * i + 1] + 0.114 * c->data[3 * i + 2];
            CHECK_NEAR(c1->data[i], y, 1.01);
        }
    lcv_image_free(c);
    lcv_image_free(c1);
    lcv_image *k = load("cmyk.jpg", 3, &st);
    CHECK_MSG(st == LCV_OK && k && k->channels == 3, "cmyk: %s", errbuf);
    if (k) expect_pixels(k, "rgb8.npy", 40); /* lossy and through CMYK: only roughly equal */
    lcv_image_free(k);
}

static void test_bad_files(void) {
    static const struct {
        const char *file;
        lcv_status st;
        const char *needle;
    } bad[] = {
        {"truncated.png", LCV_ERR_PARSE, "PNG"},
        {"badcrc.png", LCV_ERR_PARSE, "PNG"},
        {"truncated.jpg", LCV_ERR_PARSE, "JPEG"},
        {"junk.jpg", LCV_ERR_PARSE, "JPEG"},
        {"not_an_image.png", LCV_ERR_UNSUPPORTED, "not a PNG or JPEG"},
        {"huge.png", LCV_ERR_UNSUPPORTED, "100000 x 100000"},
        {"big_budget.png", LCV_ERR_UNSUPPORTED, "exceeds the budget"},
        {"huge.jpg", LCV_ERR_UNSUPPORTED, "60000 x 60000"},
        {"missing.png", LCV_ERR_IO, "missing.png"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int ch = 1; ch <= 3; ch += 2) {
            lcv_status st;
            lcv_image *img = load(bad[i].file, ch, &st);
            CHECK_MSG(st == bad[i].st && !img, "%s: %s (%s)", bad[i].file, lcv_status_name(st),
                      errbuf);
            CHECK_MSG(strstr(errbuf, bad[i].needle) != NULL, "%s: '%s' lacks '%s'", bad[i].file,
                      errbuf, bad[i].needle);
            lcv_image_free(img);
        }
    }
    lcv_image *img = NULL;
    lcv_image_params p = lcv_image_default_params();
    p.channels = 2;
    CHECK(lcv_image_load_buffer("\x89PNG\r\n\x1a\n", 8, &p, &img, errbuf, sizeof errbuf) ==
          LCV_ERR_INVALID_ARG);
    CHECK(lcv_image_load_buffer("\x89PNG\r\n\x1a\n", 8, NULL, &img, errbuf, sizeof errbuf) ==
          LCV_ERR_PARSE);
    CHECK(lcv_image_load_buffer(NULL, 0, NULL, &img, errbuf, sizeof errbuf) == LCV_ERR_UNSUPPORTED);
    CHECK(lcv_image_sniff("\xff\xd8\xff\xe0", 4) && !lcv_image_sniff("GIF89a", 6));
}

static void test_geometry(void) {
    lcv_image *src = NULL, *dst = NULL;
    CHECK(lcv_image_create(2, 1, 1, &src) == LCV_OK);
    if (!src) return;
    src->data[1] = 255;
    CHECK(lcv_image_resize(src, 4, 1, &dst, errbuf, sizeof errbuf) == LCV_OK);
    if (dst) CHECK(dst->data[0] == 0 && dst->data[1] == 64 && dst->data[2] == 191 && dst->data[3] == 255);
    lcv_image_free(dst);
    CHECK(lcv_image_resize(src, 0, 1, &dst, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_image_resize(src, 40000, 1, &dst, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_image_crop(src, 1, 0, 2, 1, &dst, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(errbuf, "does not fit") != NULL);
    CHECK(lcv_image_crop(src, 1, 0, 1, 1, &dst, errbuf, sizeof errbuf) == LCV_OK && dst &&
          dst->data[0] == 255);
    lcv_image_free(dst);
    lcv_image_free(src);
    CHECK(lcv_image_create(0, 1, 1, &src) == LCV_ERR_INVALID_ARG && !src);
    CHECK(lcv_image_create(1, 1, 4, &src) == LCV_ERR_INVALID_ARG);

    /* 40 x 20 colour ramp: shorter side 10 -> 20 x 10, centre crop 8 x 8. */
    CHECK(lcv_image_create(40, 20, 3, &src) == LCV_OK);
    if (!src) return;
    for (int i = 0; i < 40 * 20; i++) {
        src->data[3 * i] = (uint8_t)(i % 40 * 6);
        src->data[3 * i + 1] = 100;
        src->data[3 * i + 2] = 200;
    }
    lcv_image_params p = lcv_image_default_params();
    p.resize_short = 10;
    p.width = p.height = 8;
    CHECK(lcv_image_prepare(src, &p, &dst, errbuf, sizeof errbuf) == LCV_OK && dst &&
          dst->width == 8 && dst->height == 8);
    lcv_image_free(dst);
    p.width = p.height = 12;
    CHECK(lcv_image_prepare(src, &p, &dst, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(errbuf, "larger") != NULL);
    p.resize_short = 0;
    p.width = 5;
    p.height = 0;
    CHECK(lcv_image_prepare(src, &p, &dst, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);

    /* Tensor conversion: layout, channel order, scale/mean/std. */
    p = lcv_image_default_params();
    p.width = 4;
    p.height = 2;
    p.mean[0] = 0.5f;
    p.std[0] = 0.25f;
    p.mean[2] = 0.1f;
    lcv_tensor *t = NULL;
    CHECK(lcv_image_to_tensor(src, &p, &t, errbuf, sizeof errbuf) == LCV_OK && t);
    if (t) {
        CHECK(lcv_tensor_ndim(t) == 4 && lcv_tensor_dim(t, 0) == 1 && lcv_tensor_dim(t, 1) == 3 &&
              lcv_tensor_dim(t, 2) == 2 && lcv_tensor_dim(t, 3) == 4);
        const float *v = lcv_tensor_cdata(t);
        CHECK_NEAR(v[8], 100 / 255.0, 1e-6);        /* green plane */
        CHECK_NEAR(v[16], 200 / 255.0 - 0.1, 1e-6); /* blue plane */
        CHECK(v[0] < 0);                           /* red: dark left edge, minus mean 0.5 */
    }
    lcv_tensor_free(t);
    p.bgr = 1;
    p.nhwc = 1;
    CHECK(lcv_image_to_tensor(src, &p, &t, errbuf, sizeof errbuf) == LCV_OK && t);
    if (t) {
        CHECK(lcv_tensor_dim(t, 1) == 2 && lcv_tensor_dim(t, 2) == 4 && lcv_tensor_dim(t, 3) == 3);
        const float *v = lcv_tensor_cdata(t);
        CHECK_NEAR(v[0], (200 / 255.0 - 0.5) / 0.25, 1e-5); /* blue first, mean[0] applies */
        CHECK_NEAR(v[1], 100 / 255.0, 1e-6);
    }
    lcv_tensor_free(t);
    p = lcv_image_default_params();
    p.channels = 1;
    p.std[0] = 0;
    CHECK(lcv_image_to_tensor(src, &p, &t, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG && !t);
    p.std[0] = 1;
    p.scale = 1;
    CHECK(lcv_image_to_tensor(src, &p, &t, errbuf, sizeof errbuf) == LCV_OK && t);
    if (t) CHECK_NEAR(((const float *)lcv_tensor_cdata(t))[0], 0.587 * 100 + 0.114 * 200, 1e-3);
    lcv_tensor_free(t);
    lcv_image_free(src);
}

static void test_write(void) {
    lcv_status st;
    lcv_image *img = load("rgb8.png", 3, &st), *back = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/written.png", LCV_IMAGE_TMP_DIR);
    CHECK(img && lcv_image_write_png(path, img, errbuf, sizeof errbuf) == LCV_OK);
    CHECK(lcv_image_load_file(path, NULL, &back, errbuf, sizeof errbuf) == LCV_OK && back);
    if (img && back)
        CHECK(back->width == img->width && back->height == img->height &&
              memcmp(back->data, img->data, (size_t)img->width * img->height * 3) == 0);
    lcv_image_free(back);
    CHECK(lcv_image_write_png("/nonexistent-dir/x.png", img, errbuf, sizeof errbuf) == LCV_ERR_IO);
    CHECK(strstr(errbuf, "/nonexistent-dir/x.png") != NULL);
    lcv_tensor *t = NULL;
    CHECK(lcv_image_load_tensor(path, NULL, &t, errbuf, sizeof errbuf) == LCV_OK && t &&
          lcv_tensor_dim(t, 1) == 3 && lcv_tensor_dim(t, 2) == 5 && lcv_tensor_dim(t, 3) == 7);
    lcv_tensor_free(t);
    lcv_image_free(img);
}

int main(void) {
    test_decode();
    test_bad_files();
    test_geometry();
    test_write();
    return lcv_test_finish("image_test");
}
