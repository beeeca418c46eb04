/* npyset.c - data sets from a pair of .npy files (read by the core's .npy reader): images X,
 * uint8 or float32, [N, H, W] or [N, C, H, W], and integer labels Y [N] (checked and widened to
 * int64) or label maps Y [N, H, W] for segmentation (checked, kept in their tensor and widened
 * per sample), or float32 boxes Y [N, K, 5] for detection (checked, kept). X stays in its
 * tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* Label k of tensor y (any integer dtype) as int64; false if the dtype is not an integer. */
static bool label_at(const lcv_tensor *y, int64_t k, int64_t *v) {
    const void *p = lcv_tensor_cdata(y);
    switch (lcv_tensor_dtype(y)) {
    case LCV_DTYPE_UINT8: *v = ((const uint8_t *)p)[k]; return true;
    case LCV_DTYPE_INT8: *v = ((const int8_t *)p)[k]; return true;
    case LCV_DTYPE_UINT16: *v = ((const uint16_t *)p)[k]; return true;
    case LCV_DTYPE_INT16: *v = ((const int16_t *)p)[k]; return true;
    case LCV_DTYPE_UINT32: *v = ((const uint32_t *)p)[k]; return true;
    case LCV_DTYPE_INT32: *v = ((const int32_t *)p)[k]; return true;
    case LCV_DTYPE_INT64: *v = ((const int64_t *)p)[k]; return true;
    case LCV_DTYPE_UINT64: {
        uint64_t u = ((const uint64_t *)p)[k];
        *v = u > (uint64_t)INT64_MAX ? -1 : (int64_t)u; /* refused as out of range below */
        return true;
    }
    default: return false;
    }
}

static lcv_status check_x(const lcv_tensor *x, const char *path, char *errbuf, size_t errcap) {
    lcv_dtype dt = lcv_tensor_dtype(x);
    int nd = lcv_tensor_ndim(x);
    if (dt != LCV_DTYPE_UINT8 && dt != LCV_DTYPE_FLOAT32)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                             "'%s': images must be uint8 or float32, not %s", path,
                             lcv_dtype_name(dt));
    if (nd != 3 && nd != 4)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                             "'%s': images must be [N, H, W] or [N, C, H, W], not rank %d", path,
                             nd);
    int64_t c = nd == 4 ? lcv_tensor_dim(x, 1) : 1;
    int64_t h = lcv_tensor_dim(x, nd - 2), w = lcv_tensor_dim(x, nd - 1);
    if (lcv_tensor_dim(x, 0) < 1)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' holds no images", path);
    if (c < 1 || c > 3 || h < 1 || w < 1 || h > LCV_DATA_MAX_SIDE || w > LCV_DATA_MAX_SIDE ||
        c * h * w > LCV_DATA_MAX_SAMPLE)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                             "'%s': image shape %lld x %lld x %lld (C x H x W) is not supported "
                             "(1 to 3 channels, at most %lld values)", path, (long long)c,
                             (long long)h, (long long)w, (long long)LCV_DATA_MAX_SAMPLE);
    return LCV_OK;
}

static lcv_status finish_open(lcv_dataset *ds, lcv_tensor *x, const lcv_dataset_params *params,
                              int64_t n, int64_t top);

/* Boxes y float32 [N, K, 5] (x1, y1, x2, y2, class; class -1 marks an unused row): each used
 * row an integer class in range and a box of positive size inside the images (h x w). *top
 * receives the largest class (-1 if none). */
static lcv_status check_boxes(const lcv_tensor *y, const char *path, int64_t h, int64_t w,
                              int64_t *top, char *errbuf, size_t errcap) {
    const float *b = lcv_tensor_cdata(y);
    int64_t rows = lcv_tensor_dim(y, 0) * lcv_tensor_dim(y, 1), k = lcv_tensor_dim(y, 1);
    *top = -1;
    for (int64_t r = 0; r < rows; r++, b += 5) {
        if (b[4] == -1.0f) continue;
        bool cls = b[4] >= 0.0f && b[4] < (float)LCV_DATA_MAX_CLASSES && b[4] == floorf(b[4]);
        bool box = b[0] >= 0.0f && b[1] >= 0.0f && b[0] < b[2] && b[1] < b[3] &&
                   b[2] <= (float)w && b[3] <= (float)h;
        if (!cls || !box)
            return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s': box %lld of sample %lld "
                                 "is (%g, %g, %g, %g) class %g: it needs 0 <= x1 < x2 <= %lld, "
                                 "0 <= y1 < y2 <= %lld and a class in 0..%d (-1: no box)", path,
                                 (long long)(r % k), (long long)(r / k), (double)b[0],
                                 (double)b[1], (double)b[2], (double)b[3], (double)b[4],
                                 (long long)w, (long long)h, LCV_DATA_MAX_CLASSES - 1);
        if ((int64_t)b[4] > *top) *top = (int64_t)b[4];
    }
    return LCV_OK;
}

lcv_status lcv_data_open_npy(lcv_dataset *ds, const char *x_path, const char *y_path,
                             const lcv_dataset_params *params, char *errbuf, size_t errcap) {
    lcv_tensor *x = NULL, *y = NULL;
    lcv_status st = lcv_npy_read_file(x_path, &x, errbuf, errcap);
    if (st == LCV_OK) st = check_x(x, x_path, errbuf, errcap);
    if (st == LCV_OK) st = lcv_npy_read_file(y_path, &y, errbuf, errcap);
    int64_t n = x ? lcv_tensor_dim(x, 0) : 0;
    int xd = x ? lcv_tensor_ndim(x) : 0;
    bool boxes = st == LCV_OK && lcv_tensor_dtype(y) == LCV_DTYPE_FLOAT32 &&
                 lcv_tensor_ndim(y) == 3;
    if (boxes && (lcv_tensor_dim(y, 2) != 5 || lcv_tensor_dim(y, 1) < 1 ||
                  lcv_tensor_dim(y, 1) > LCV_DATA_MAX_BOXES))
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED, "'%s': float32 labels [N, K, D] "
                           "are boxes, D = 5 (x1, y1, x2, y2, class) and K in 1..%d, not [%lld, "
                           "%lld, %lld] (label maps must be integers)", y_path, LCV_DATA_MAX_BOXES,
                           (long long)lcv_tensor_dim(y, 0), (long long)lcv_tensor_dim(y, 1),
                           (long long)lcv_tensor_dim(y, 2));
    if (boxes && st == LCV_OK && lcv_tensor_dim(y, 0) != n)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' and '%s': %lld images but boxes "
                           "for %lld", x_path, y_path, (long long)n,
                           (long long)lcv_tensor_dim(y, 0));
    if (boxes) {
        int64_t top = -1;
        if (st == LCV_OK)
            st = check_boxes(y, y_path, lcv_tensor_dim(x, xd - 2), lcv_tensor_dim(x, xd - 1), &top,
                             errbuf, errcap);
        if (st != LCV_OK) {
            lcv_tensor_free(x);
            lcv_tensor_free(y);
            return st;
        }
        ds->y_boxes = y;
        y = NULL;
        return finish_open(ds, x, params, n, top);
    }
    bool maps = st == LCV_OK && lcv_tensor_ndim(y) == 3;
    if (st == LCV_OK && lcv_tensor_ndim(y) != 1 && !maps)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                           "'%s': labels must be a 1-D array [N] or label maps [N, H, W], not "
                           "rank %d", y_path, lcv_tensor_ndim(y));
    if (maps && (lcv_tensor_dim(y, 1) != lcv_tensor_dim(x, xd - 2) ||
                 lcv_tensor_dim(y, 2) != lcv_tensor_dim(x, xd - 1)))
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                           "'%s': label maps are %lld x %lld but the images in '%s' are %lld x "
                           "%lld (H x W)", y_path, (long long)lcv_tensor_dim(y, 1),
                           (long long)lcv_tensor_dim(y, 2), x_path,
                           (long long)lcv_tensor_dim(x, xd - 2),
                           (long long)lcv_tensor_dim(x, xd - 1));
    if (st == LCV_OK && lcv_tensor_dim(y, 0) != n)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' and '%s': %lld images but %lld "
                           "labels", x_path, y_path, (long long)n,
                           (long long)lcv_tensor_dim(y, 0));
    int64_t use = params->limit > 0 && params->limit < n ? params->limit : n;
    if (st == LCV_OK && !maps) {
        ds->labels = malloc((size_t)use * sizeof *ds->labels);
        if (!ds->labels)
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", y_path);
    }
    /* every label of every sample is checked (also past the limit), so a bad file fails at
     * once rather than in the middle of training */
    int64_t top = -1, per = maps ? lcv_tensor_dim(y, 1) * lcv_tensor_dim(y, 2) : 1;
    for (int64_t i = 0; st == LCV_OK && i < n * per; i++) {
        int64_t v;
        if (!label_at(y, i, &v)) {
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                               "'%s': labels must be integers, not %s", y_path,
                               lcv_dtype_name(lcv_tensor_dtype(y)));
        } else if (v < 0 || v >= LCV_DATA_MAX_CLASSES) {
            if (maps)
                st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s': label %lld of sample "
                                   "%lld at (y %lld, x %lld) is out of range 0..%d", y_path,
                                   (long long)v, (long long)(i / per),
                                   (long long)(i % per / lcv_tensor_dim(y, 2)),
                                   (long long)(i % lcv_tensor_dim(y, 2)),
                                   LCV_DATA_MAX_CLASSES - 1);
            else
                st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                                   "'%s': label %lld of sample %lld is out of range 0..%d",
                                   y_path, (long long)v, (long long)i, LCV_DATA_MAX_CLASSES - 1);
        } else {
            if (v > top) top = v;
            if (!maps && i < use) ds->labels[i] = v;
        }
    }
    if (st == LCV_OK && maps) ds->y_maps = y;
    else lcv_tensor_free(y);
    if (st != LCV_OK) {
        lcv_tensor_free(x);
        return st;
    }
    return finish_open(ds, x, params, n, top);
}

/* Keeps images x in ds (n of them, params->limit applied) with classes 0..top. */
static lcv_status finish_open(lcv_dataset *ds, lcv_tensor *x, const lcv_dataset_params *params,
                              int64_t n, int64_t top) {
    int64_t use = params->limit > 0 && params->limit < n ? params->limit : n;
    int nd = lcv_tensor_ndim(x);
    ds->x_tensor = x;
    ds->count = use;
    ds->classes = (int)top + 1;
    ds->c = nd == 4 ? lcv_tensor_dim(x, 1) : 1;
    ds->h = lcv_tensor_dim(x, nd - 2);
    ds->w = lcv_tensor_dim(x, nd - 1);
    if (lcv_tensor_dtype(x) == LCV_DTYPE_UINT8)
        ds->u8 = lcv_tensor_cdata(x);
    else
        ds->f32 = lcv_tensor_cdata(x);
    return LCV_OK;
}

void lcv_data_npy_map(const lcv_dataset *ds, int64_t i, int64_t *labels) {
    int64_t per = ds->h * ds->w, base = i * per;
    if (lcv_tensor_dtype(ds->y_maps) == LCV_DTYPE_UINT8) { /* the usual case, kept cheap */
        const uint8_t *p = (const uint8_t *)lcv_tensor_cdata(ds->y_maps) + base;
        for (int64_t k = 0; k < per; k++) labels[k] = p[k];
        return;
    }
    for (int64_t k = 0; k < per; k++) label_at(ds->y_maps, base + k, &labels[k]);
}

void lcv_data_npy_boxes(const lcv_dataset *ds, int64_t i, float *boxes) {
    int64_t per = lcv_tensor_dim(ds->y_boxes, 1) * 5;
    memcpy(boxes, (const float *)lcv_tensor_cdata(ds->y_boxes) + i * per,
           sizeof(float) * (size_t)per);
}
