/* test_det_data.c - detection data through leancv_data: .npy boxes float32 [N, K, 5] (classes
 * from the used rows, per-sample reads, refusals naming the file, box and limits) and the
 * loader's batches of boxes, where --pad-crop and --hflip must move each box exactly like its
 * image: every image here is one filled rectangle whose box is its first row, so after any
 * crop or flip the box must still be the bounding box of the nonzero pixels (clipped; a
 * rectangle cropped away must leave an unused row). */
#include <stdlib.h>
#include <string.h>

#include "task_data_util.h"

enum { N = 9, H = 10, W = 14, K = 3 };

/* Sample i's rectangle [x1, x2) x [y1, y2) and class: some touch the edges. */
static void rect_of(int64_t i, int r[5]) {
    r[0] = (int)(i * 3 % 9);
    r[1] = (int)(i * 2 % 6);
    r[2] = r[0] + 2 + (int)(i % 5);
    r[3] = r[1] + 1 + (int)(i % 4);
    r[4] = (int)(i % 4);
}

static void write_set(const char *xname, const char *yname, int bad) {
    int64_t xd[3] = {N, H, W}, yd[3] = {N, K, 5};
    lcv_tensor *x = NULL, *y = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_UINT8, 3, xd, &x) == LCV_OK);
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 3, yd, &y) == LCV_OK);
    if (!x || !y) return;
    uint8_t *px = lcv_tensor_data(x);
    float *b = lcv_tensor_data(y);
    memset(px, 0, (size_t)(N * H * W));
    for (int64_t i = 0; i < N; i++) {
        int r[5];
        rect_of(i, r);
        for (int yy = r[1]; yy < r[3]; yy++)
            for (int xx = r[0]; xx < r[2]; xx++) px[(i * H + yy) * W + xx] = 200;
        float *row = b + i * K * 5;
        for (int k = 0; k < K * 5; k++) row[k] = -1.0f;
        for (int k = 0; k < 5; k++) row[k] = (float)r[k];
        if (i == 4) { /* a second box of another class in sample 4, not drawn */
            const float extra[5] = {0.5f, 0.5f, 3.5f, 2.0f, 5.0f};
            memcpy(row + 5, extra, sizeof extra);
        }
    }
    if (bad == 1) b[2 * K * 5 + 2] = (float)W + 1; /* sample 2, box 0: x2 past the image */
    if (bad == 2) b[3 * K * 5 + 4] = 1.5f;         /* sample 3, box 0: a fractional class */
    CHECK(lcv_npy_write_file(tpath(xname), x, errbuf, sizeof errbuf) == LCV_OK);
    CHECK(lcv_npy_write_file(tpath(yname), y, errbuf, sizeof errbuf) == LCV_OK);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
}

static void test_dataset(void) {
    write_set("dx.npy", "dy.npy", 0);
    lcv_dataset *ds = open_set("dx.npy", "dy.npy", LCV_OK, NULL);
    CHECK(lcv_dataset_count(ds) == N && lcv_dataset_classes(ds) == 6);
    CHECK(lcv_dataset_box_rows(ds) == K);
    float px[H * W], b[K * 5];
    int64_t one;
    CHECK(lcv_dataset_get_boxes(ds, 4, px, b, errbuf, sizeof errbuf) == LCV_OK);
    int r[5];
    rect_of(4, r);
    CHECK(b[0] == (float)r[0] && b[3] == (float)r[3] && b[9] == 5.0f && b[14] == -1.0f);
    CHECK(lcv_dataset_get(ds, 1, px, &one, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(errbuf, "has boxes") != NULL, "%s", errbuf);
    CHECK(lcv_dataset_get_boxes(ds, N, px, b, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    lcv_dataset_free(ds);
    write_set("dx1.npy", "dy1.npy", 1);
    open_set("dx1.npy", "dy1.npy", LCV_ERR_PARSE, "box 0 of sample 2 is (6, 4, 15, 7) class 2");
    write_set("dx2.npy", "dy2.npy", 2);
    open_set("dx2.npy", "dy2.npy", LCV_ERR_PARSE, "box 0 of sample 3");
    /* float labels of another shape */
    int64_t yd[3] = {N, K, 4};
    lcv_tensor *y = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 3, yd, &y) == LCV_OK);
    memset(lcv_tensor_data(y), 0, lcv_tensor_nbytes(y));
    CHECK(lcv_npy_write_file(tpath("dy3.npy"), y, errbuf, sizeof errbuf) == LCV_OK);
    lcv_tensor_free(y);
    open_set("dx.npy", "dy3.npy", LCV_ERR_UNSUPPORTED, "are boxes, D = 5");
}

/* Batches with crop and flip: box 0 of each sample must be the extent of its bright pixels. */
static void test_loader(bool prefetch, int pad, bool flip) {
    lcv_dataset *ds = open_set("dx.npy", "dy.npy", LCV_OK, NULL);
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 4;
    p.shuffle = true;
    p.seed = 5;
    p.pad_crop = pad;
    p.hflip = flip;
    p.prefetch = prefetch;
    lcv_loader *l = NULL;
    CHECK(lcv_loader_create(ds, &p, &l, errbuf, sizeof errbuf) == LCV_OK);
    if (!l) {
        lcv_dataset_free(ds);
        return;
    }
    int bad = 0, moved = 0, dropped = 0;
    for (int64_t epoch = 0; epoch < 3; epoch++) {
        CHECK(lcv_loader_start_epoch(l, epoch) == LCV_OK);
        for (;;) {
            const lcv_tensor *x, *y;
            CHECK(lcv_loader_next(l, &x, &y, errbuf, sizeof errbuf) == LCV_OK);
            if (!x) break;
            int64_t nb = lcv_tensor_dim(x, 0);
            CHECK(lcv_tensor_dtype(y) == LCV_DTYPE_FLOAT32 && lcv_tensor_ndim(y) == 3 &&
                  lcv_tensor_dim(y, 1) == K && lcv_tensor_dim(y, 2) == 5);
            const float *xp = lcv_tensor_cdata(x), *yp = lcv_tensor_cdata(y);
            for (int64_t s = 0; s < nb; s++) {
                int x1 = W, y1 = H, x2 = 0, y2 = 0;
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++)
                        if (xp[(s * H + yy) * W + xx] > 0.5f) {
                            x1 = xx < x1 ? xx : x1;
                            y1 = yy < y1 ? yy : y1;
                            x2 = xx + 1 > x2 ? xx + 1 : x2;
                            y2 = yy + 1 > y2 ? yy + 1 : y2;
                        }
                const float *b = yp + s * K * 5;
                if (x2 == 0) { /* the rectangle was cropped away: so must the box be */
                    dropped++;
                    bad += b[4] != -1.0f;
                    continue;
                }
                bad += b[0] != (float)x1 || b[1] != (float)y1 || b[2] != (float)x2 ||
                       b[3] != (float)y2 || b[4] < 0;
                int r[5];
                for (int64_t i = 0; i < N; i++) {
                    rect_of(i, r);
                    if (r[4] == (int)b[4] && r[2] - r[0] == x2 - x1 && (float)r[0] != b[0])
                        moved++;
                }
            }
        }
    }
    CHECK_MSG(bad == 0, "%d boxes do not follow their image (pad %d, flip %d)", bad, pad,
              (int)flip);
    if (pad || flip) CHECK_MSG(moved > 0, "the augmentation never moved a box");
    (void)dropped;
    lcv_loader_free(l);
    lcv_dataset_free(ds);
}

int main(void) {
    test_dataset();
    test_loader(true, 0, false);
    test_loader(true, 4, false);
    test_loader(true, 0, true);
    test_loader(false, 5, true);
    return lcv_test_finish("test_det_data");
}
