/* npyset.c - data sets from a pair of .npy files (read by the core's .npy reader): images X,
 * uint8 or float32, [N, H, W] or [N, C, H, W], and integer labels Y [N]. X stays in its tensor;
 * the labels are checked and widened to int64. */
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

lcv_status lcv_data_open_npy(lcv_dataset *ds, const char *x_path, const char *y_path,
                             const lcv_dataset_params *params, char *errbuf, size_t errcap) {
    lcv_tensor *x = NULL, *y = NULL;
    lcv_status st = lcv_npy_read_file(x_path, &x, errbuf, errcap);
    if (st == LCV_OK) st = check_x(x, x_path, errbuf, errcap);
    if (st == LCV_OK) st = lcv_npy_read_file(y_path, &y, errbuf, errcap);
    int64_t n = x ? lcv_tensor_dim(x, 0) : 0;
    if (st == LCV_OK && lcv_tensor_ndim(y) != 1)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                           "'%s': labels must be a 1-D array, not rank %d", y_path,
                           lcv_tensor_ndim(y));
    if (st == LCV_OK && lcv_tensor_dim(y, 0) != n)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' and '%s': %lld images but %lld "
                           "labels", x_path, y_path, (long long)n,
                           (long long)lcv_tensor_dim(y, 0));
    int64_t use = params->limit > 0 && params->limit < n ? params->limit : n;
    if (st == LCV_OK) {
        ds->labels = malloc((size_t)use * sizeof *ds->labels);
        if (!ds->labels)
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", y_path);
    }
    int64_t top = -1;
    for (int64_t i = 0; st == LCV_OK && i < n; i++) {
        int64_t v;
        if (!label_at(y, i, &v)) {
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                               "'%s': labels must be integers, not %s", y_path,
                               lcv_dtype_name(lcv_tensor_dtype(y)));
        } else if (v < 0 || v >= LCV_DATA_MAX_CLASSES) {
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                               "'%s': label %lld of sample %lld is out of range 0..%d", y_path,
                               (long long)v, (long long)i, LCV_DATA_MAX_CLASSES - 1);
        } else {
            if (v > top) top = v;
            if (i < use) ds->labels[i] = v;
        }
    }
    lcv_tensor_free(y);
    if (st != LCV_OK) {
        lcv_tensor_free(x);
        return st;
    }
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
