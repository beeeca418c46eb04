/* shape.c - overflow-checked size arithmetic and small shape utilities. */
#include <stdio.h>
#include <string.h>

#include "core.h"

#define LCV_NUMEL_LIMIT ((int64_t)1 << 62)

bool lcv_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

bool lcv_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return false;
    *out = a + b;
    return true;
}

bool lcv_shape_numel(int ndim, const int64_t *dims, int64_t *numel) {
    int64_t n = 1;
    bool zero = false;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] == 0) zero = true;
    }
    if (zero) {
        *numel = 0;
        return true;
    }
    for (int i = 0; i < ndim; i++) {
        if (dims[i] > LCV_NUMEL_LIMIT / n) return false;
        n *= dims[i];
    }
    *numel = n;
    return true;
}

void lcv_shape_strides(int ndim, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

bool lcv_shape_equal(int na, const int64_t *a, int nb, const int64_t *b) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

char *lcv_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap) {
    size_t used = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    int n = snprintf(buf, cap, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < ndim && used < cap; i++) {
        n = snprintf(buf + used, cap - used, i ? ",%lld" : "%lld", (long long)dims[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}
