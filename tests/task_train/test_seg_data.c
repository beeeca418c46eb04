/* test_seg_data.c - segmentation data through leancv_data: .npy label maps [N, H, W] (classes
 * from every pixel, the label shape, per-sample reads, refusals naming the file, pixel and
 * sizes) and the loader's batches of maps, where --pad-crop and --hflip must move each label
 * map exactly like its image: every image pixel here encodes its own label, so any
 * disagreement shows. Also with 1 and 2 loader threads (prefetch off / on) the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "task_data_util.h"

enum { N = 7, H = 9, W = 13, CLASSES = 6 };

/* Label of pixel (y, x) of sample i: 1..5 in blobs, 0 on a border. */
static int label_of(int64_t i, int64_t y, int64_t x) {
    if (y == 0 || x == W - 1) return 0;
    return (int)((i * 3 + y / 2 + x / 3) % (CLASSES - 1)) + 1;
}

static void write(const char *name, lcv_dtype dt, int nd, const int64_t *dims, int what) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    if (!t) return;
    int64_t n = lcv_tensor_numel(t);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = k / (H * W), y = k / W % H, x = k % W;
        int l = label_of(i, y, x);
        if (dt == LCV_DTYPE_FLOAT32) ((float *)lcv_tensor_data(t))[k] = (float)l * 0.125f;
        else if (dt == LCV_DTYPE_UINT8) ((uint8_t *)lcv_tensor_data(t))[k] = (uint8_t)l;
        else ((int16_t *)lcv_tensor_data(t))[k] = (int16_t)(what == 1 && k == 50 ? -3 : l);
    }
    CHECK_MSG(lcv_npy_write_file(tpath(name), t, errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
    lcv_tensor_free(t);
}

static void test_dataset(void) {
    int64_t xd[4] = {N, 1, H, W}, yd[3] = {N, H, W};
    write("x.npy", LCV_DTYPE_FLOAT32, 4, xd, 0);
    write("y.npy", LCV_DTYPE_UINT8, 3, yd, 0);
    lcv_dataset *ds = open_set("x.npy", "y.npy", LCV_OK, NULL);
    CHECK(lcv_dataset_count(ds) == N && lcv_dataset_classes(ds) == CLASSES);
    int64_t ls[2];
    lcv_dataset_label_shape(ds, ls);
    CHECK(ls[0] == H && ls[1] == W);
    float px[H * W];
    int64_t lab[H * W], one;
    CHECK(lcv_dataset_get_map(ds, 4, px, lab, errbuf, sizeof errbuf) == LCV_OK);
    int bad = 0;
    for (int k = 0; k < H * W; k++)
        bad += lab[k] != label_of(4, k / W, k % W) || px[k] != (float)lab[k] * 0.125f;
    CHECK(bad == 0);
    CHECK(lcv_dataset_get_map(ds, 4, NULL, lab, errbuf, sizeof errbuf) == LCV_OK);
    CHECK(lcv_dataset_get_map(ds, N, px, lab, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_dataset_get(ds, 1, px, &one, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(errbuf, "label map of 9 x 13") != NULL, "%s", errbuf);
    CHECK(lcv_dataset_get(ds, 1, px, NULL, errbuf, sizeof errbuf) == LCV_OK);
    lcv_dataset_free(ds);

    /* a classification set has no maps */
    int64_t y1[1] = {N};
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 1, y1, &t) == LCV_OK);
    memset(lcv_tensor_data(t), 0, sizeof(int64_t) * N);
    ((int64_t *)lcv_tensor_data(t))[2] = 1;
    CHECK(lcv_npy_write_file(tpath("y1.npy"), t, errbuf, sizeof errbuf) == LCV_OK);
    lcv_tensor_free(t);
    ds = open_set("x.npy", "y1.npy", LCV_OK, NULL);
    lcv_dataset_label_shape(ds, ls);
    CHECK(ls[0] == 0 && ls[1] == 0);
    CHECK(lcv_dataset_get_map(ds, 0, px, lab, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(errbuf, "one label per sample") != NULL, "%s", errbuf);
    lcv_dataset_free(ds);

    /* refusals: a negative pixel label, maps of another size, rank 2 labels */
    write("yneg.npy", LCV_DTYPE_INT16, 3, yd, 1);
    open_set("x.npy", "yneg.npy", LCV_ERR_PARSE, "label -3 of sample 0 at (y 3, x 11)");
    int64_t ysmall[3] = {N, H, W - 1};
    write("ysmall.npy", LCV_DTYPE_UINT8, 3, ysmall, 0);
    open_set("x.npy", "ysmall.npy", LCV_ERR_PARSE, "label maps are 9 x 12 but the images");
    int64_t y2[2] = {N, H};
    write("y2.npy", LCV_DTYPE_UINT8, 2, y2, 0);
    open_set("x.npy", "y2.npy", LCV_ERR_UNSUPPORTED, "not rank 2");
}

/* Batches with crop and flip: each image pixel must still be its label * 0.125. */
static void test_loader(bool prefetch, int pad, bool flip, int64_t **keep) {
    lcv_dataset *ds = open_set("x.npy", "y.npy", LCV_OK, NULL);
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 3;
    p.shuffle = true;
    p.seed = 11;
    p.pad_crop = pad;
    p.hflip = flip;
    p.prefetch = prefetch;
    lcv_loader *l = NULL;
    CHECK(lcv_loader_create(ds, &p, &l, errbuf, sizeof errbuf) == LCV_OK);
    if (!l) {
        lcv_dataset_free(ds);
        return;
    }
    CHECK(lcv_loader_batches(l) == 3); /* 7 samples: 3 + 3 + a partial 1 */
    int bad = 0, batches = 0, moved = 0;
    for (int64_t epoch = 0; epoch < 2; epoch++) {
        CHECK(lcv_loader_start_epoch(l, epoch) == LCV_OK);
        for (;;) {
            const lcv_tensor *x, *y;
            CHECK(lcv_loader_next(l, &x, &y, errbuf, sizeof errbuf) == LCV_OK);
            if (!x) break;
            int64_t b = lcv_tensor_dim(x, 0);
            CHECK(lcv_tensor_ndim(y) == 3 && lcv_tensor_dim(y, 0) == b &&
                  lcv_tensor_dim(y, 1) == H && lcv_tensor_dim(y, 2) == W);
            const float *xp = lcv_tensor_cdata(x);
            const int64_t *yp = lcv_tensor_cdata(y);
            for (int64_t k = 0; k < b * H * W; k++) {
                bad += xp[k] != (float)yp[k] * 0.125f;
                /* pixel (1, 0) is never 0 in place; shifted or mirrored it can be */
                moved += k % (H * W) == W && yp[k] == 0;
            }
            if (keep && epoch == 1 && batches < 3) {
                keep[batches] = malloc(sizeof(int64_t) * (size_t)(b * H * W));
                if (keep[batches]) memcpy(keep[batches], yp, sizeof(int64_t) * (size_t)(b * H * W));
            }
            if (epoch == 1) batches++;
        }
    }
    CHECK_MSG(bad == 0, "%d label pixels do not follow their image (pad %d, flip %d)", bad, pad,
              (int)flip);
    if (pad || flip) CHECK_MSG(moved > 0, "the augmentation never moved a map");
    CHECK(batches == 3);
    lcv_loader_free(l);
    lcv_dataset_free(ds);
}

int main(void) {
    test_dataset();
    test_loader(true, 0, false, NULL);
    test_loader(true, 3, false, NULL);
    test_loader(true, 0, true, NULL);
    int64_t *a[3] = {0}, *b[3] = {0};
    test_loader(true, 2, true, a);
    test_loader(false, 2, true, b);
    for (int i = 0; i < 3; i++) {
        size_t bytes = sizeof(int64_t) * (size_t)((i < 2 ? 3 : 1) * H * W);
        CHECK_MSG(a[i] && b[i] && memcmp(a[i], b[i], bytes) == 0,
                  "batch %d differs with and without prefetch", i);
        free(a[i]);
        free(b[i]);
    }
    return lcv_test_finish("test_seg_data");
}
