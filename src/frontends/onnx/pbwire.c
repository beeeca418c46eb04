/* pbwire.c - the bounds-checked protobuf wire reader: varints, fixed-width values, length-
 * delimited payloads and packed repeated fields. Every read checks the bytes that remain in the
 * enclosing message first; nothing here allocates. */
#include <string.h>

#include "pbwire.h"

static const char *wire_name(unsigned w) {
    switch (w) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case 5: return "fixed32";
    }
    return "invalid";
}

void lcv_pb_init(lcv_pb *r, const void *data, size_t size) {
    r->base = data;
    r->pos = 0;
    r->end = data ? size : 0;
    r->depth = 0;
}

bool lcv_pb_more(const lcv_pb *r) { return r->pos < r->end; }

/* At most 10 bytes; the 10th may only carry the top bit of a 64-bit value. */
static lcv_status read_varint(lcv_pb *r, uint64_t *v, lcv_err *e) {
    size_t start = r->pos;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->end)
            return lcv_fail(e, LCV_ERR_PARSE, "varint runs past end of data at byte %zu", start);
        uint8_t b = r->base[r->pos++];
        if (i == 9 && b > 1)
            return lcv_fail(e, LCV_ERR_PARSE, "varint overflows 64 bits at byte %zu", start);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return LCV_OK;
        }
    }
    return lcv_fail(e, LCV_ERR_PARSE, "varint longer than 10 bytes at byte %zu", start);
}

static lcv_status read_fixed(lcv_pb *r, int nbytes, uint64_t *v, lcv_err *e) {
    if (r->end - r->pos < (size_t)nbytes)
        return lcv_fail(e, LCV_ERR_PARSE, "fixed%d value runs past end of data at byte %zu",
                        nbytes * 8, r->pos);
    uint64_t x = 0;
    for (int i = 0; i < nbytes; i++) x |= (uint64_t)r->base[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)nbytes;
    *v = x;
    return LCV_OK;
}

lcv_status lcv_pb_next(lcv_pb *r, lcv_pb_field *f, lcv_err *e) {
    memset(f, 0, sizeof *f);
    f->tag_off = r->pos;
    uint64_t tag;
    lcv_status st = read_varint(r, &tag, e);
    if (st != LCV_OK) return st;
    unsigned w = (unsigned)(tag & 7);
    uint64_t num = tag >> 3;
    if (num == 0 || num > 0x1fffffff)
        return lcv_fail(e, LCV_ERR_PARSE, "invalid field number %llu at byte %zu",
                        (unsigned long long)num, f->tag_off);
    f->number = (uint32_t)num;
    switch (w) {
    case LCV_PB_VARINT: st = read_varint(r, &f->u, e); break;
    case LCV_PB_I64: st = read_fixed(r, 8, &f->u, e); break;
    case LCV_PB_I32: st = read_fixed(r, 4, &f->u, e); break;
    case LCV_PB_LEN: {
        uint64_t len;
        size_t len_off = r->pos;
        st = read_varint(r, &len, e);
        if (st != LCV_OK) return st;
        if (len > r->end - r->pos)
            return lcv_fail(e, LCV_ERR_PARSE,
                            "length %llu of field %u at byte %zu runs past end of data (%zu "
                            "bytes left)",
                            (unsigned long long)len, f->number, len_off, r->end - r->pos);
        f->off = r->pos;
        f->len = (size_t)len;
        r->pos += (size_t)len;
        break;
    }
    default:
        return lcv_fail(e, LCV_ERR_PARSE, "field %u at byte %zu has %s wire type %u, which is "
                        "not supported", f->number, f->tag_off, wire_name(w), w);
    }
    if (st != LCV_OK) return st;
    f->wire = (lcv_pb_wire)w;
    return LCV_OK;
}

lcv_status lcv_pb_sub(const lcv_pb *r, const lcv_pb_field *f, lcv_pb *sub, lcv_err *e) {
    if (f->wire != LCV_PB_LEN)
        return lcv_fail(e, LCV_ERR_PARSE, "field %u at byte %zu should be a message but has %s "
                        "wire type", f->number, f->tag_off, wire_name(f->wire));
    if (r->depth >= LCV_PB_MAX_DEPTH)
        return lcv_fail(e, LCV_ERR_PARSE, "messages nested deeper than %d at byte %zu",
                        LCV_PB_MAX_DEPTH, f->tag_off);
    sub->base = r->base;
    sub->pos = f->off;
    sub->end = f->off + f->len;
    sub->depth = r->depth + 1;
    return LCV_OK;
}

const uint8_t *lcv_pb_bytes(const lcv_pb *r, const lcv_pb_field *f) { return r->base + f->off; }

lcv_status lcv_pb_expect(const lcv_pb_field *f, lcv_pb_wire w, const char *what, lcv_err *e) {
    if (f->wire == w) return LCV_OK;
    return lcv_fail(e, LCV_ERR_PARSE, "field '%s' (%u) at byte %zu has %s wire type, expected %s",
                    what, f->number, f->tag_off, wire_name(f->wire), wire_name(w));
}

void lcv_pb_rep_init(lcv_pb_rep *it, const lcv_pb *msg, uint32_t number, lcv_pb_wire elem,
                     const char *what) {
    it->msg = *msg;
    it->packed = *msg;
    it->packed.pos = it->packed.end = 0;
    it->number = number;
    it->elem = elem;
    it->what = what;
}

static lcv_status read_elem(lcv_pb *r, lcv_pb_wire elem, uint64_t *v, lcv_err *e) {
    switch (elem) {
    case LCV_PB_VARINT: return read_varint(r, v, e);
    case LCV_PB_I64: return read_fixed(r, 8, v, e);
    case LCV_PB_I32: return read_fixed(r, 4, v, e);
    default: return lcv_fail(e, LCV_ERR_INTERNAL, "bad element wire type for a repeated field");
    }
}

lcv_status lcv_pb_rep_next(lcv_pb_rep *it, bool *got, uint64_t *v, lcv_err *e) {
    *got = false;
    for (;;) {
        if (lcv_pb_more(&it->packed)) {
            lcv_status st = read_elem(&it->packed, it->elem, v, e);
            if (st != LCV_OK) return st;
            *got = true;
            return LCV_OK;
        }
        if (!lcv_pb_more(&it->msg)) return LCV_OK;
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&it->msg, &f, e);
        if (st != LCV_OK) return st;
        if (f.number != it->number) continue;
        if (f.wire == it->elem) {
            *v = f.u;
            *got = true;
            return LCV_OK;
        }
        if (f.wire != LCV_PB_LEN)
            return lcv_fail(e, LCV_ERR_PARSE, "repeated field '%s' (%u) at byte %zu has %s wire "
                            "type, expected %s or packed", it->what, f.number, f.tag_off,
                            wire_name(f.wire), wire_name(it->elem));
        size_t w = it->elem == LCV_PB_I64 ? 8 : it->elem == LCV_PB_I32 ? 4 : 1;
        if (f.len % w != 0)
            return lcv_fail(e, LCV_ERR_PARSE, "packed field '%s' at byte %zu has %zu bytes, not "
                            "a multiple of %zu", it->what, f.tag_off, f.len, w);
        it->packed.pos = f.off;
        it->packed.end = f.off + f.len;
    }
}

lcv_status lcv_pb_rep_count(const lcv_pb *msg, uint32_t number, lcv_pb_wire elem,
                            const char *what, int64_t *n, lcv_err *e) {
    lcv_pb_rep it;
    lcv_pb_rep_init(&it, msg, number, elem, what);
    int64_t count = 0;
    for (;;) {
        bool got;
        uint64_t v;
        lcv_status st = lcv_pb_rep_next(&it, &got, &v, e);
        if (st != LCV_OK) return st;
        if (!got) break;
        count++;
    }
    *n = count;
    return LCV_OK;
}
