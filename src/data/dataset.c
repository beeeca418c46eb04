/* dataset.c - the lcv_dataset object: parses the spec ("idx:", "npy:", "folder:"), validates
 * the parameters, dispatches to the source readers (idx.c, npyset.c, folder.c) and serves
 * samples as scaled float32 CHW pixels. Immutable after open, so concurrent reads are safe. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

lcv_status lcv_data_fail(char *errbuf, size_t errcap, lcv_status st, const char *fmt, ...) {
    if (errbuf && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return st;
}

lcv_dataset_params lcv_dataset_default_params(void) {
    lcv_dataset_params p;
    memset(&p, 0, sizeof p);
    p.channels = 3;
    p.scale = 1.0f / 255.0f;
    return p;
}

void lcv_dataset_free(lcv_dataset *ds) {
    if (!ds) return;
    free(ds->labels);
    lcv_tensor_free(ds->y_maps);
    lcv_tensor_free(ds->y_boxes);
    free(ds->pixels);
    lcv_tensor_free(ds->x_tensor);
    if (ds->class_names)
        for (int k = 0; k < ds->classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
    if (ds->files)
        for (int64_t i = 0; i < ds->count; i++) free(ds->files[i]);
    free(ds->files);
    free(ds);
}

static lcv_status check_params(const lcv_dataset_params *p, char *errbuf, size_t errcap) {
    if (p->channels != 1 && p->channels != 3)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: channels must be 1 or 3, not %d", p->channels);
    if (p->width < 0 || p->height < 0 || p->width > LCV_DATA_MAX_SIDE ||
        p->height > LCV_DATA_MAX_SIDE || (p->width == 0) != (p->height == 0))
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: width x height %d x %d must both be 0 or both in 1..%d",
                             p->width, p->height, LCV_DATA_MAX_SIDE);
    if (!isfinite(p->scale))
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: scale %g is not a finite number", (double)p->scale);
    if (p->limit < 0)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: limit %lld is negative", (long long)p->limit);
    return LCV_OK;
}

/* Splits "A,B" at the first comma into two new strings (caller frees both). */
static lcv_status split_pair(const char *spec, const char *rest, char **a, char **b,
                             char *errbuf, size_t errcap) {
    const char *comma = strchr(rest, ',');
    if (!comma || comma == rest || !comma[1])
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set '%s': expected two comma-separated files", spec);
    size_t na = (size_t)(comma - rest), nb = strlen(comma + 1);
    *a = malloc(na + 1);
    *b = malloc(nb + 1);
    if (!*a || !*b)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "data set '%s': out of memory", spec);
    memcpy(*a, rest, na);
    (*a)[na] = '\0';
    memcpy(*b, comma + 1, nb + 1);
    return LCV_OK;
}

lcv_status lcv_dataset_open_budget(const char *spec, const lcv_dataset_params *params,
                                   uint64_t cache_bytes, lcv_dataset **out, char *errbuf,
                                   size_t errcap) {
    if (!out) return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: out is NULL");
    *out = NULL;
    if (!spec) return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: spec is NULL");
    lcv_dataset_params p = params ? *params : lcv_dataset_default_params();
    lcv_status st = check_params(&p, errbuf, errcap);
    if (st != LCV_OK) return st;
    lcv_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "data set: out of memory");
    ds->scale = p.scale;
    char *a = NULL, *b = NULL;
    if (strncmp(spec, "idx:", 4) == 0) {
        st = split_pair(spec, spec + 4, &a, &b, errbuf, errcap);
        if (st == LCV_OK) st = lcv_data_open_idx(ds, a, b, &p, errbuf, errcap);
    } else if (strncmp(spec, "npy:", 4) == 0) {
        st = split_pair(spec, spec + 4, &a, &b, errbuf, errcap);
        if (st == LCV_OK) st = lcv_data_open_npy(ds, a, b, &p, errbuf, errcap);
    } else if (strncmp(spec, "folder:", 7) == 0 && spec[7]) {
        st = lcv_data_open_folder(ds, spec + 7, &p, cache_bytes, errbuf, errcap);
    } else {
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                           "data set '%s' is not idx:IMAGES,LABELS, npy:X,Y or folder:DIR", spec);
    }
    free(a);
    free(b);
    if (st != LCV_OK) {
        lcv_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LCV_OK;
}

lcv_status lcv_dataset_open(const char *spec, const lcv_dataset_params *params,
                            lcv_dataset **out, char *errbuf, size_t errcap) {
    return lcv_dataset_open_budget(spec, params, LCV_DATA_FOLDER_CACHE, out, errbuf, errcap);
}

int64_t lcv_dataset_count(const lcv_dataset *ds) { return ds ? ds->count : 0; }

int lcv_dataset_classes(const lcv_dataset *ds) { return ds ? ds->classes : 0; }

void lcv_dataset_shape(const lcv_dataset *ds, int64_t dims[3]) {
    if (!dims) return;
    dims[0] = ds ? ds->c : 0;
    dims[1] = ds ? ds->h : 0;
    dims[2] = ds ? ds->w : 0;
}

const char *lcv_dataset_class_name(const lcv_dataset *ds, int k) {
    if (!ds || !ds->class_names || k < 0 || k >= ds->classes) return NULL;
    return ds->class_names[k];
}

void lcv_dataset_label_shape(const lcv_dataset *ds, int64_t dims[2]) {
    if (!dims) return;
    dims[0] = ds && ds->y_maps ? ds->h : 0;
    dims[1] = ds && ds->y_maps ? ds->w : 0;
}

static lcv_status check_index(const lcv_dataset *ds, int64_t i, char *errbuf, size_t errcap) {
    if (i < 0 || i >= ds->count)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: sample %lld is outside 0..%lld", (long long)i,
                             (long long)ds->count - 1);
    return LCV_OK;
}

lcv_status lcv_dataset_get_map(const lcv_dataset *ds, int64_t i, float *pixels, int64_t *labels,
                               char *errbuf, size_t errcap) {
    if (!ds || !labels)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: NULL argument");
    if (!ds->y_maps)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: it has one label per sample, not label maps");
    lcv_status st = check_index(ds, i, errbuf, errcap);
    if (st == LCV_OK && pixels) st = lcv_dataset_get(ds, i, pixels, NULL, errbuf, errcap);
    if (st == LCV_OK) lcv_data_npy_map(ds, i, labels);
    return st;
}

int64_t lcv_dataset_box_rows(const lcv_dataset *ds) {
    return ds && ds->y_boxes ? lcv_tensor_dim(ds->y_boxes, 1) : 0;
}

lcv_status lcv_dataset_get_boxes(const lcv_dataset *ds, int64_t i, float *pixels, float *boxes,
                                 char *errbuf, size_t errcap) {
    if (!ds || !boxes)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: NULL argument");
    if (!ds->y_boxes)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "data set: it has no boxes (its labels are classes or maps)");
    lcv_status st = check_index(ds, i, errbuf, errcap);
    if (st == LCV_OK && pixels) st = lcv_dataset_get(ds, i, pixels, NULL, errbuf, errcap);
    if (st == LCV_OK) lcv_data_npy_boxes(ds, i, boxes);
    return st;
}

lcv_status lcv_dataset_get(const lcv_dataset *ds, int64_t i, float *pixels, int64_t *label,
                           char *errbuf, size_t errcap) {
    if (!ds || !pixels)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: NULL argument");
    lcv_status st = check_index(ds, i, errbuf, errcap);
    if (st != LCV_OK) return st;
    if (label && ds->y_boxes)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: sample %lld has "
                             "boxes, not one label (lcv_dataset_get_boxes reads them)",
                             (long long)i);
    if (label && ds->y_maps)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "data set: sample %lld has a "
                             "label map of %lld x %lld, not one label (lcv_dataset_get_map reads "
                             "it)", (long long)i, (long long)ds->h, (long long)ds->w);
    size_t n = (size_t)(ds->c * ds->h * ds->w);
    if (ds->f32) {
        memcpy(pixels, ds->f32 + (size_t)i * n, n * sizeof(float));
    } else if (ds->u8) {
        const uint8_t *src = ds->u8 + (size_t)i * n;
        for (size_t k = 0; k < n; k++) pixels[k] = (float)src[k] * ds->scale;
    } else {
        uint8_t *tmp = malloc(n);
        if (!tmp)
            return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "data set: out of memory");
        st = lcv_data_folder_decode(ds, ds->files[i], tmp, errbuf, errcap);
        if (st == LCV_OK)
            for (size_t k = 0; k < n; k++) pixels[k] = (float)tmp[k] * ds->scale;
        free(tmp);
        if (st != LCV_OK) return st;
    }
    if (label) *label = ds->labels[i];
    return LCV_OK;
}
