/* core.h - internal foundation shared by every layer: the tensor struct, error reporting,
 * overflow-checked size arithmetic, and dtype conversions (incl. float16/bfloat16).
 * Depends on nothing but libc. */
#ifndef LCV_CORE_H
#define LCV_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#define LCV_ERRMSG_CAP 512

/* An error message buffer. Functions that can fail take an lcv_err* and fill it via lcv_fail. */
typedef struct lcv_err {
    char msg[LCV_ERRMSG_CAP];
} lcv_err;

/* Formats a message into e (if non-NULL) and returns st. Use: return lcv_fail(e, LCV_ERR_PARSE,
 * "node '%s': ...", ...). */
lcv_status lcv_fail(lcv_err *e, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (used to add context while unwinding). */
void lcv_err_prefix(lcv_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A dense row-major tensor. data is owned when owns_data is true (freed with the tensor),
 * otherwise borrowed from something that outlives the tensor (e.g. a model's initializer). */
struct lcv_tensor {
    lcv_dtype dtype;
    int ndim;
    int64_t dims[LCV_MAX_DIMS];
    void *data;
    size_t capacity; /* bytes allocated at data when owned */
    bool owns_data;
};

/* Checked arithmetic: return false on overflow or negative operands. */
bool lcv_mul_size(size_t a, size_t b, size_t *out);
bool lcv_add_size(size_t a, size_t b, size_t *out);
/* Product of dims (1 for ndim 0); false if any dim < 0 or the product overflows 2^62. */
bool lcv_shape_numel(int ndim, const int64_t *dims, int64_t *numel);
/* Row-major element strides for dims. */
void lcv_shape_strides(int ndim, const int64_t *dims, int64_t *strides);
bool lcv_shape_equal(int na, const int64_t *a, int nb, const int64_t *b);
/* Writes "[1,3,224,224]" into buf (always NUL-terminated); returns buf. */
char *lcv_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap);

/* Tensor helpers (internal). lcv_tensor_init makes an empty owned tensor on the stack/struct. */
void lcv_tensor_init(lcv_tensor *t);
/* Frees the data of t (if owned) and resets it; t itself is not freed. */
void lcv_tensor_release(lcv_tensor *t);
/* Sets dtype/shape and makes sure an owned buffer of at least numel*size bytes exists, reusing
 * the current one when large enough (so steady-state runs do not allocate). New bytes are not
 * cleared. Fails with LCV_ERR_NOMEM on overflow/allocation failure, LCV_ERR_UNSUPPORTED for
 * dtypes without a size. */
lcv_status lcv_tensor_reshape_alloc(lcv_tensor *t, lcv_dtype dtype, int ndim, const int64_t *dims,
                                    lcv_err *e);
/* Deep copy of src into dst (dst's buffer reused when possible). */
lcv_status lcv_tensor_copy_into(lcv_tensor *dst, const lcv_tensor *src, lcv_err *e);
int64_t lcv_tensor_count(const lcv_tensor *t);

/* dtype classes */
bool lcv_dtype_is_float(lcv_dtype d); /* float16/32/64, bfloat16 */
bool lcv_dtype_is_int(lcv_dtype d);   /* signed or unsigned integers (not bool) */
bool lcv_dtype_is_signed(lcv_dtype d);

/* Half-precision conversions (round to nearest even; NaN/Inf preserved). */
float lcv_f16_to_f32(uint16_t h);
uint16_t lcv_f32_to_f16(float f);
float lcv_bf16_to_f32(uint16_t h);
uint16_t lcv_f32_to_bf16(float f);

/* Generic element access for reference kernels: element i of a buffer of dtype d read as
 * double / int64 and written from double / int64 (with C conversion semantics: float->int
 * truncates toward zero; out of range float->int is saturated to avoid undefined behaviour). */
double lcv_load_f64(lcv_dtype d, const void *p, int64_t i);
int64_t lcv_load_i64(lcv_dtype d, const void *p, int64_t i);
void lcv_store_f64(lcv_dtype d, void *p, int64_t i, double v);
void lcv_store_i64(lcv_dtype d, void *p, int64_t i, int64_t v);

/* Whole-file reading with a size cap; *data: caller frees. */
lcv_status lcv_read_file(const char *path, uint64_t max_bytes, void **data, size_t *size,
                         lcv_err *e);

#endif /* LCV_CORE_H */
