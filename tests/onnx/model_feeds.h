/* model_feeds.h - shared by the model round-trip tests (ONNX writer, .lcvm): inputs for a model
 * from its ONNX backend test data or pseudo-random, bitwise comparison of tensors and of two
 * sessions' outputs, and a walk over a folder of models. Header-only (static functions) for the test executables. */
#ifndef LCV_TEST_MODEL_FEEDS_H
#define LCV_TEST_MODEL_FEEDS_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "frontends/onnx/onnx.h"
#include "leancv.h"

static inline bool tensor_eq(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || !lcv_shape_equal(a->ndim, a->dims, b->ndim, b->dims)) return false;
    size_t n = (size_t)lcv_tensor_count(a) * lcv_dtype_size(a->dtype);
    return n == 0 || memcmp(a->data, b->data, n) == 0;
}

typedef struct feeds {
    int n;
    const char *names[32];
    lcv_tensor *t[32];
} feeds;

static inline void feeds_free(feeds *f) {
    for (int i = 0; i < f->n; i++) lcv_tensor_free(f->t[i]);
    f->n = 0;
}

/* Inputs from data_dir/test_data_set_0 (by name, else by position), or pseudo-random floats
 * with dynamic dims set to 2. False when the model cannot be fed. */
static inline bool make_feeds(const lcv_model *m, const char *data_dir, feeds *f) {
    memset(f, 0, sizeof *f);
    int n = lcv_model_input_count(m);
    if (n > 32) return false;
    for (int i = 0; i < n; i++) {
        f->names[i] = lcv_model_input_name(m, i);
        f->n = i + 1;
        if (data_dir) {
            char path[1024];
            snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", data_dir, i);
            void *d = NULL;
            size_t sz = 0;
            lcv_err e;
            char *name = NULL;
            if (lcv_read_file(path, (uint64_t)1 << 30, &d, &sz, &e) != LCV_OK) return false;
            lcv_status st = lcv_onnx_parse_tensor(d, sz, &f->t[i], &name, &e);
            free(d);
            if (st != LCV_OK) return false;
            for (int k = 0; name && k < n; k++)
                if (strcmp(name, lcv_model_input_name(m, k)) == 0)
                    f->names[i] = lcv_model_input_name(m, k);
            free(name);
            continue;
        }
        lcv_dtype dt;
        int64_t dims[LCV_MAX_DIMS];
        int nd = lcv_model_input_info(m, i, &dt, dims, NULL);
        if (nd < 0 || lcv_dtype_size(dt) == 0) return false;
        for (int k = 0; k < nd; k++)
            if (dims[k] < 0) dims[k] = 2;
        if (lcv_tensor_create(dt, nd, dims, &f->t[i]) != LCV_OK) return false;
        if (dt == LCV_DTYPE_FLOAT32) {
            float *p = lcv_tensor_data(f->t[i]);
            uint32_t s = 12345u + (uint32_t)i;
            for (int64_t k = 0; k < lcv_tensor_numel(f->t[i]); k++) {
                s = s * 1664525u + 1013904223u;
                p[k] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
            }
        }
    }
    return true;
}

static inline bool outputs_eq(const lcv_session *a, const lcv_session *b, int n) {
    for (int k = 0; k < n; k++) {
        const lcv_tensor *x = lcv_session_output(a, k), *y = lcv_session_output(b, k);
        if (!x || !y || !tensor_eq(x, y)) return false;
    }
    return true;
}

/* Calls fn(path, data_dir, label, ctx) for every model.onnx under dir/<test>/ (test_dirs: the
 * ONNX backend test data layout, data_dir = dir/<test>) or every *.onnx directly in dir
 * (data_dir NULL). label is "prefix/<entry>". False when dir cannot be opened. */
typedef void (*model_visit_fn)(const char *path, const char *data_dir, const char *label,
                               void *ctx);
static inline bool each_model_file(const char *dir, bool test_dirs, const char *prefix,
                                   model_visit_fn fn, void *ctx) {
    DIR *dp = opendir(dir);
    if (!dp) return false;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        char path[1100], data[1024], label[600];
        size_t len = strlen(de->d_name);
        snprintf(label, sizeof label, "%s/%s", prefix, de->d_name);
        if (test_dirs) {
            snprintf(data, sizeof data, "%s/%s", dir, de->d_name);
            snprintf(path, sizeof path, "%s/model.onnx", data);
            fn(path, data, label, ctx);
        } else if (len > 5 && strcmp(de->d_name + len - 5, ".onnx") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            fn(path, NULL, label, ctx);
        }
    }
    closedir(dp);
    return true;
}

#endif
