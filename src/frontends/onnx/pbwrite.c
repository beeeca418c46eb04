/* pbwrite.c - protobuf wire format writer: varints, fixed32, length-delimited fields and
 * nested messages whose length is put in front once their content is known (one byte is
 * reserved; longer lengths move the content up). */
#include <stdlib.h>
#include <string.h>

#include "pbwrite.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the protobuf writer stores fixed32 values in host order and needs a little-endian host"
#endif

void lcv_pbw_init(lcv_pbw *w, size_t limit) {
    memset(w, 0, sizeof *w);
    w->limit = limit;
    w->failed = LCV_OK;
}

void lcv_pbw_free(lcv_pbw *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

lcv_status lcv_pbw_status(const lcv_pbw *w, lcv_err *e) {
    if (w->failed == LCV_ERR_NOMEM) return lcv_fail(e, w->failed, "out of memory writing protobuf");
    if (w->failed != LCV_OK)
        return lcv_fail(e, w->failed, "the protobuf message would exceed %zu bytes", w->limit);
    return LCV_OK;
}

/* Makes room for n more bytes; false (and the writer failed) if it cannot. */
static bool reserve(lcv_pbw *w, size_t n) {
    if (w->failed != LCV_OK) return false;
    if (n > w->limit || w->len > w->limit - n) {
        w->failed = LCV_ERR_UNSUPPORTED;
        return false;
    }
    if (w->len + n <= w->cap) return true;
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + n) ncap = ncap > SIZE_MAX / 2 ? w->len + n : ncap * 2;
    uint8_t *nb = realloc(w->buf, ncap);
    if (!nb) {
        w->failed = LCV_ERR_NOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = ncap;
    return true;
}

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Encodes v at p (which has room); returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void raw_varint(lcv_pbw *w, uint64_t v) {
    if (reserve(w, 10)) w->len += put_varint(w->buf + w->len, v);
}

static void raw_bytes(lcv_pbw *w, const void *p, size_t n) {
    if (n && reserve(w, n)) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

static void tag(lcv_pbw *w, uint32_t field, unsigned wire) {
    raw_varint(w, (uint64_t)field << 3 | wire);
}

void lcv_pbw_varint(lcv_pbw *w, uint32_t field, uint64_t v) {
    tag(w, field, 0);
    raw_varint(w, v);
}

void lcv_pbw_float(lcv_pbw *w, uint32_t field, float v) {
    tag(w, field, 5);
    raw_bytes(w, &v, 4);
}

void lcv_pbw_bytes(lcv_pbw *w, uint32_t field, const void *data, size_t n) {
    tag(w, field, 2);
    raw_varint(w, n);
    raw_bytes(w, data, n);
}

void lcv_pbw_string(lcv_pbw *w, uint32_t field, const char *s) {
    lcv_pbw_bytes(w, field, s, strlen(s));
}

void lcv_pbw_packed_int64(lcv_pbw *w, uint32_t field, const int64_t *v, size_t n) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += varint_size((uint64_t)v[i]);
    tag(w, field, 2);
    raw_varint(w, bytes);
    if (!reserve(w, bytes)) return;
    for (size_t i = 0; i < n; i++) w->len += put_varint(w->buf + w->len, (uint64_t)v[i]);
}

void lcv_pbw_packed_float(lcv_pbw *w, uint32_t field, const float *v, size_t n) {
    size_t bytes;
    if (!lcv_mul_size(n, 4, &bytes)) {
        if (w->failed == LCV_OK) w->failed = LCV_ERR_UNSUPPORTED;
        return;
    }
    lcv_pbw_bytes(w, field, v, bytes);
}

size_t lcv_pbw_begin(lcv_pbw *w, uint32_t field) {
    tag(w, field, 2);
    size_t mark = w->len;
    if (reserve(w, 1)) w->buf[w->len++] = 0;
    return mark;
}

void lcv_pbw_end(lcv_pbw *w, size_t mark) {
    if (w->failed != LCV_OK) return;
    size_t body = w->len - mark - 1;
    size_t k = varint_size(body);
    if (k > 1) {
        if (!reserve(w, k - 1)) return;
        memmove(w->buf + mark + k, w->buf + mark + 1, body);
        w->len += k - 1;
    }
    put_varint(w->buf + mark, body);
}
