/* ema.c - the moving average of ema.h. */
#include "ema.h"

#include <stdlib.h>
#include <string.h>

struct lcv_ema {
    int n;
    float **avg; /* owned, n arrays of the tensors' sizes */
};

void lcv_ema_free(lcv_ema *a) {
    if (!a) return;
    for (int i = 0; a->avg && i < a->n; i++) free(a->avg[i]);
    free(a->avg);
    free(a);
}

lcv_status lcv_ema_create(int n, lcv_tensor *const *tensors, lcv_ema **out, lcv_err *e) {
    *out = NULL;
    lcv_ema *a = calloc(1, sizeof *a);
    if (a) a->avg = calloc((size_t)n + 1, sizeof *a->avg);
    if (!a || !a->avg) {
        free(a);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for the weight average");
    }
    a->n = n;
    for (int i = 0; i < n; i++) {
        a->avg[i] = malloc(lcv_tensor_nbytes(tensors[i]) + 1);
        if (!a->avg[i]) {
            lcv_ema_free(a);
            return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for the weight average");
        }
    }
    lcv_ema_reset(a, tensors);
    *out = a;
    return LCV_OK;
}

void lcv_ema_reset(lcv_ema *a, lcv_tensor *const *tensors) {
    for (int i = 0; i < a->n; i++)
        memcpy(a->avg[i], tensors[i]->data, lcv_tensor_nbytes(tensors[i]));
}

void lcv_ema_update(lcv_ema *a, lcv_tensor *const *tensors, float decay, int64_t step) {
    double warm = (1.0 + (double)step) / (10.0 + (double)step);
    float d = (float)(warm < decay ? warm : decay), keep = 1.0f - d;
    for (int i = 0; i < a->n; i++) {
        float *avg = a->avg[i];
        const float *x = tensors[i]->data;
        int64_t count = lcv_tensor_count(tensors[i]);
        for (int64_t j = 0; j < count; j++) avg[j] = d * avg[j] + keep * x[j];
    }
}

void lcv_ema_swap(lcv_ema *a, lcv_tensor *const *tensors) {
    for (int i = 0; i < a->n; i++) {
        float *avg = a->avg[i], *x = tensors[i]->data;
        int64_t count = lcv_tensor_count(tensors[i]);
        for (int64_t j = 0; j < count; j++) {
            float v = x[j];
            x[j] = avg[j];
            avg[j] = v;
        }
    }
}

float *lcv_ema_data(lcv_ema *a, int i) { return a->avg[i]; }
