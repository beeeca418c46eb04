/* pbwrite.h - a minimal writer for the protobuf wire format into a growable byte buffer, the
 * counterpart of pbwire.h. Like the reader it knows nothing about ONNX. Errors (out of memory,
 * a size past the format's limits) are sticky: calls after a failure do nothing, and the
 * caller checks once at the end with lcv_pbw_status. */
#ifndef LCV_PBWRITE_H
#define LCV_PBWRITE_H

#include "../../core/core.h"

typedef struct lcv_pbw {
    uint8_t *buf; /* owned */
    size_t len, cap;
    size_t limit;      /* largest buffer allowed */
    lcv_status failed; /* LCV_OK until something failed */
} lcv_pbw;

/* An empty writer whose output may grow to limit bytes. */
void lcv_pbw_init(lcv_pbw *w, size_t limit);
void lcv_pbw_free(lcv_pbw *w);
/* LCV_OK, or the first failure with a message naming it in e. */
lcv_status lcv_pbw_status(const lcv_pbw *w, lcv_err *e);

/* Scalar fields: a varint (int64 values as their two's complement bits, as protobuf does) and
 * a fixed32 float. */
void lcv_pbw_varint(lcv_pbw *w, uint32_t field, uint64_t v);
void lcv_pbw_float(lcv_pbw *w, uint32_t field, float v);
/* Length-delimited fields: bytes, and a NUL-terminated string. */
void lcv_pbw_bytes(lcv_pbw *w, uint32_t field, const void *data, size_t n);
void lcv_pbw_string(lcv_pbw *w, uint32_t field, const char *s);
/* Packed repeated fields (one LEN field holding the elements back to back). */
void lcv_pbw_packed_int64(lcv_pbw *w, uint32_t field, const int64_t *v, size_t n);
void lcv_pbw_packed_float(lcv_pbw *w, uint32_t field, const float *v, size_t n);

/* Nested messages: begin writes the tag and returns a mark; the fields of the sub-message
 * follow; end(mark) puts the sub-message's length in front of it. Nest freely. */
size_t lcv_pbw_begin(lcv_pbw *w, uint32_t field);
void lcv_pbw_end(lcv_pbw *w, size_t mark);

#endif /* LCV_PBWRITE_H */
