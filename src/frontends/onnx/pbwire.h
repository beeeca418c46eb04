/* pbwire.h - a minimal, bounds-checked reader for the protobuf wire format over a borrowed
 * (pointer, length) span. It knows nothing about ONNX: it yields fields one at a time, checks
 * every length against the bytes that remain before using it, and reports errors with the byte
 * offset from the start of the whole buffer. */
#ifndef LCV_PBWIRE_H
#define LCV_PBWIRE_H

#include "../../core/core.h"

/* Deepest nesting of sub-messages accepted (hostile files could otherwise recurse forever). */
#define LCV_PB_MAX_DEPTH 64

typedef enum lcv_pb_wire {
    LCV_PB_VARINT = 0,
    LCV_PB_I64 = 1,
    LCV_PB_LEN = 2,
    LCV_PB_I32 = 5
} lcv_pb_wire;

/* A view of one message: bytes [pos, end) of base still to read. base is the start of the whole
 * buffer (borrowed) so that every offset in an error message is absolute. */
typedef struct lcv_pb {
    const uint8_t *base;
    size_t pos;
    size_t end;
    int depth;
} lcv_pb;

/* One decoded field. For VARINT/I64/I32, u holds the value (fixed types: raw little-endian
 * bits). For LEN, [off, off + len) is the payload, already checked to lie inside the message. */
typedef struct lcv_pb_field {
    uint32_t number;
    lcv_pb_wire wire;
    size_t tag_off; /* offset of the field's tag, for error messages */
    uint64_t u;
    size_t off;
    size_t len;
} lcv_pb_field;

/* Starts reading a top-level message spanning data[0, size). data: borrowed. */
void lcv_pb_init(lcv_pb *r, const void *data, size_t size);
/* True while fields remain. */
bool lcv_pb_more(const lcv_pb *r);
/* Reads the next field (any number, so unknown fields are skipped by ignoring them). Group wire
 * types 3/4 and the invalid types 6/7 are errors. */
lcv_status lcv_pb_next(lcv_pb *r, lcv_pb_field *f, lcv_err *e);
/* Makes *sub a reader over the payload of LEN field f, one level deeper than r. */
lcv_status lcv_pb_sub(const lcv_pb *r, const lcv_pb_field *f, lcv_pb *sub, lcv_err *e);
/* Pointer to the payload of LEN field f (valid while the buffer lives). */
const uint8_t *lcv_pb_bytes(const lcv_pb *r, const lcv_pb_field *f);
/* Fails unless f has wire type w; what names the field in the message. */
lcv_status lcv_pb_expect(const lcv_pb_field *f, lcv_pb_wire w, const char *what, lcv_err *e);

/* Iterates over every element of the repeated scalar field `number` of a message, accepting
 * both the unpacked form (one field per element, wire type elem) and packed runs (LEN fields
 * holding back-to-back elements), in any mix and order. Elements are returned as raw 64-bit
 * values: varints as decoded, fixed32/fixed64 as their bits. */
typedef struct lcv_pb_rep {
    lcv_pb msg;    /* fields of the message still to scan */
    lcv_pb packed; /* rest of the packed run being read, empty when none */
    uint32_t number;
    lcv_pb_wire elem;
    const char *what;
} lcv_pb_rep;

void lcv_pb_rep_init(lcv_pb_rep *it, const lcv_pb *msg, uint32_t number, lcv_pb_wire elem,
                     const char *what);
/* *got is false once the elements are exhausted. */
lcv_status lcv_pb_rep_next(lcv_pb_rep *it, bool *got, uint64_t *v, lcv_err *e);
/* Counts (and validates) the elements of a repeated scalar field. */
lcv_status lcv_pb_rep_count(const lcv_pb *msg, uint32_t number, lcv_pb_wire elem,
                            const char *what, int64_t *n, lcv_err *e);

#endif /* LCV_PBWIRE_H */
