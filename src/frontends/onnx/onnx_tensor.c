/* onnx_tensor.c - reads an ONNX TensorProto into a dense lcv_tensor: dims, data_type, raw_data,
 * the typed repeated fields with ONNX's packing rules, and external data files. The payload is
 * verified to hold exactly numel elements before anything proportional to numel is allocated. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "onnx_priv.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the ONNX reader copies little-endian raw_data as is and needs a little-endian host"
#endif

/* TensorProto field numbers. */
enum {
    T_DIMS = 1, T_DATA_TYPE = 2, T_SEGMENT = 3, T_FLOAT_DATA = 4, T_INT32_DATA = 5,
    T_STRING_DATA = 6, T_INT64_DATA = 7, T_NAME = 8, T_RAW_DATA = 9, T_DOUBLE_DATA = 10,
    T_UINT64_DATA = 11, T_EXTERNAL_DATA = 13, T_DATA_LOCATION = 14
};

size_t lcv_onnx_path_push(lcv_onnx_ctx *c, const char *fmt, ...) {
    size_t mark = c->plen;
    size_t cap = sizeof c->path;
    if (c->plen + 1 >= cap) return mark;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + c->plen, cap - c->plen, fmt, ap);
    va_end(ap);
    if (n > 0) c->plen = (size_t)n >= cap - c->plen ? cap - 1 : c->plen + (size_t)n;
    return mark;
}

void lcv_onnx_path_pop(lcv_onnx_ctx *c, size_t mark) {
    if (mark < sizeof c->path) {
        c->plen = mark;
        c->path[mark] = '\0';
    }
}

lcv_status lcv_onnx_copy_string(const lcv_pb *r, const lcv_pb_field *f, const char *what,
                                bool allow_nul, char **out, size_t *len, lcv_err *e) {
    lcv_status st = lcv_pb_expect(f, LCV_PB_LEN, what, e);
    if (st != LCV_OK) return st;
    const uint8_t *p = lcv_pb_bytes(r, f);
    if (!allow_nul && memchr(p, 0, f->len))
        return lcv_fail(e, LCV_ERR_PARSE, "string '%s' at byte %zu contains a NUL byte", what,
                        f->tag_off);
    char *s = malloc(f->len + 1); /* the length was checked against the buffer by lcv_pb_next */
    if (!s) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory copying '%s' (%zu bytes)", what,
                            f->len);
    if (f->len) memcpy(s, p, f->len);
    s[f->len] = '\0';
    *out = s;
    if (len) *len = f->len;
    return LCV_OK;
}

/* Strict non-negative decimal, as written in external_data offset/length entries. */
static bool parse_u64(const char *s, uint64_t *v) {
    if (!*s) return false;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* A location must stay under external_dir: relative, with no ".." component. */
static bool location_is_safe(const char *loc) {
    if (!loc[0] || loc[0] == '/' || loc[0] == '\\') return false;
    const char *p = loc;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n;
        if (*p) p++;
    }
    return true;
}

typedef struct ext_info {
    char *location;
    uint64_t offset, length;
    bool has_length;
} ext_info;

static lcv_status read_external_entry(lcv_onnx_ctx *c, const lcv_pb *msg, ext_info *x) {
    char *key = NULL, *value = NULL;
    lcv_status st = LCV_OK;
    lcv_pb r = *msg;
    while (st == LCV_OK && lcv_pb_more(&r)) {
        lcv_pb_field f;
        st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) break;
        char **dst = f.number == 1 ? &key : f.number == 2 ? &value : NULL;
        if (!dst) continue;
        free(*dst);
        *dst = NULL;
        st = lcv_onnx_copy_string(&r, &f, f.number == 1 ? "key" : "value", false, dst, NULL,
                                  c->e);
    }
    if (st == LCV_OK && key && value) {
        if (strcmp(key, "location") == 0) {
            free(x->location);
            x->location = value;
            value = NULL;
        } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
            uint64_t v;
            if (!parse_u64(value, &v))
                st = lcv_fail(c->e, LCV_ERR_PARSE, "external_data %s '%.40s' is not a "
                              "non-negative integer", key, value);
            else if (key[0] == 'o')
                x->offset = v;
            else {
                x->length = v;
                x->has_length = true;
            }
        }
    }
    free(key);
    free(value);
    return st;
}

/* Checks what can be checked before the destination buffer is allocated. */
static lcv_status check_external(lcv_onnx_ctx *c, const ext_info *x, size_t nbytes) {
    lcv_err *e = c->e;
    if (!c->external_dir)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "tensor data is stored in an external file "
                        "('%.100s') but no external data directory was given",
                        x->location ? x->location : "");
    if (!x->location)
        return lcv_fail(e, LCV_ERR_PARSE, "external data has no 'location' entry");
    if (!location_is_safe(x->location))
        return lcv_fail(e, LCV_ERR_PARSE, "external data location '%.100s' is refused: it must "
                        "be a relative path without '..'", x->location);
    uint64_t cap = c->max_bytes ? c->max_bytes : ((uint64_t)2 << 30);
    if (x->has_length && x->length != nbytes)
        return lcv_fail(e, LCV_ERR_PARSE, "external data length %llu does not match the %zu "
                        "bytes the tensor's shape and type need",
                        (unsigned long long)x->length, nbytes);
    if ((uint64_t)nbytes > cap)
        return lcv_fail(e, LCV_ERR_PARSE, "external data of %zu bytes exceeds the limit of %llu",
                        nbytes, (unsigned long long)cap);
    return LCV_OK;
}

/* Reads exactly nbytes from the external file described by x (already checked) into dst. */
static lcv_status read_external(lcv_onnx_ctx *c, const ext_info *x, size_t nbytes, void *dst) {
    lcv_err *e = c->e;
    size_t dl = strlen(c->external_dir), ll = strlen(x->location);
    char *full = malloc(dl + ll + 2);
    if (!full) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    memcpy(full, c->external_dir, dl);
    full[dl] = '/';
    memcpy(full + dl + 1, x->location, ll + 1);
    FILE *f = fopen(full, "rb");
    if (!f) {
        lcv_status st = lcv_fail(e, LCV_ERR_IO, "cannot open external data '%.200s': %s", full,
                                 strerror(errno));
        free(full);
        return st;
    }
    lcv_status st = LCV_OK;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = lcv_fail(e, LCV_ERR_IO, "external data '%.200s' is not a regular file", full);
    else if (x->offset > (uint64_t)sb.st_size || nbytes > (uint64_t)sb.st_size - x->offset)
        st = lcv_fail(e, LCV_ERR_PARSE, "external data '%.200s': offset %llu + %zu bytes runs "
                      "past the end of the %lld-byte file", full,
                      (unsigned long long)x->offset, nbytes, (long long)sb.st_size);
    else if (fseeko(f, (off_t)x->offset, SEEK_SET) != 0 || fread(dst, 1, nbytes, f) != nbytes)
        st = lcv_fail(e, LCV_ERR_IO, "short read on external data '%.200s'", full);
    fclose(f);
    free(full);
    return st;
}

static bool dtype_storable(int64_t dt) {
    return dt > 0 && dt <= LCV_DTYPE_BFLOAT16 && dt != LCV_DTYPE_STRING &&
           lcv_dtype_size((lcv_dtype)dt) != 0;
}

/* Which typed field ONNX uses for each element type (0: none, raw_data only). */
static int typed_field_for(lcv_dtype dt) {
    switch (dt) {
    case LCV_DTYPE_FLOAT32: return T_FLOAT_DATA;
    case LCV_DTYPE_INT32:
    case LCV_DTYPE_INT16:
    case LCV_DTYPE_INT8:
    case LCV_DTYPE_UINT16:
    case LCV_DTYPE_UINT8:
    case LCV_DTYPE_BOOL:
    case LCV_DTYPE_FLOAT16:
    case LCV_DTYPE_BFLOAT16: return T_INT32_DATA;
    case LCV_DTYPE_INT64: return T_INT64_DATA;
    case LCV_DTYPE_FLOAT64: return T_DOUBLE_DATA;
    case LCV_DTYPE_UINT32:
    case LCV_DTYPE_UINT64: return T_UINT64_DATA;
    default: return 0;
    }
}

static const char *field_name(int field) {
    switch (field) {
    case T_FLOAT_DATA: return "float_data";
    case T_INT32_DATA: return "int32_data";
    case T_STRING_DATA: return "string_data";
    case T_INT64_DATA: return "int64_data";
    case T_DOUBLE_DATA: return "double_data";
    case T_UINT64_DATA: return "uint64_data";
    case T_RAW_DATA: return "raw_data";
    }
    return "?";
}

/* Stores element i of a typed field (raw 64-bit wire value v) into t. */
static void store_typed(lcv_tensor *t, int64_t i, uint64_t v) {
    void *p = t->data;
    switch (t->dtype) {
    case LCV_DTYPE_FLOAT32: {
        uint32_t b = (uint32_t)v;
        memcpy((char *)p + 4 * i, &b, 4);
        break;
    }
    case LCV_DTYPE_FLOAT64: memcpy((char *)p + 8 * i, &v, 8); break;
    case LCV_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)(uint32_t)v; break;
    case LCV_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)(uint16_t)v; break;
    case LCV_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)(uint8_t)v; break;
    case LCV_DTYPE_UINT16:
    case LCV_DTYPE_FLOAT16:
    case LCV_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case LCV_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case LCV_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case LCV_DTYPE_INT64:
    case LCV_DTYPE_UINT64: memcpy((char *)p + 8 * i, &v, 8); break;
    case LCV_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: break;
    }
}

typedef struct tensor_scan {
    int64_t data_type;
    bool has_type;
    bool seen[16];      /* typed and raw fields seen, by field number */
    lcv_pb_field raw;   /* last raw_data field */
    int64_t location;   /* data_location: 1 = EXTERNAL */
    ext_info ext;
    char *name;
} tensor_scan;

static lcv_status scan_tensor(lcv_onnx_ctx *c, const lcv_pb *msg, tensor_scan *s) {
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        switch (f.number) {
        case T_DATA_TYPE:
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "data_type", c->e)) != LCV_OK) return st;
            s->data_type = (int64_t)f.u;
            s->has_type = true;
            break;
        case T_SEGMENT:
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "segmented tensors (field 'segment' at "
                            "byte %zu) are not supported", f.tag_off);
        case T_FLOAT_DATA:
        case T_INT32_DATA:
        case T_STRING_DATA:
        case T_INT64_DATA:
        case T_DOUBLE_DATA:
        case T_UINT64_DATA: s->seen[f.number] = true; break;
        case T_RAW_DATA:
            if ((st = lcv_pb_expect(&f, LCV_PB_LEN, "raw_data", c->e)) != LCV_OK) return st;
            s->raw = f;
            s->seen[T_RAW_DATA] = true;
            break;
        case T_NAME:
            free(s->name);
            s->name = NULL;
            if ((st = lcv_onnx_copy_string(&r, &f, "name", false, &s->name, NULL, c->e)) !=
                LCV_OK)
                return st;
            break;
        case T_EXTERNAL_DATA: {
            lcv_pb sub;
            if ((st = lcv_pb_sub(&r, &f, &sub, c->e)) != LCV_OK) return st;
            if ((st = read_external_entry(c, &sub, &s->ext)) != LCV_OK) return st;
            break;
        }
        case T_DATA_LOCATION:
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "data_location", c->e)) != LCV_OK)
                return st;
            s->location = (int64_t)f.u;
            break;
        default: break; /* doc_string and fields from newer versions */
        }
    }
    return LCV_OK;
}

static lcv_status read_dims(lcv_onnx_ctx *c, const lcv_pb *msg, int *ndim, int64_t *dims) {
    lcv_pb_rep it;
    lcv_pb_rep_init(&it, msg, T_DIMS, LCV_PB_VARINT, "dims");
    int n = 0;
    for (;;) {
        bool got;
        uint64_t v;
        lcv_status st = lcv_pb_rep_next(&it, &got, &v, c->e);
        if (st != LCV_OK) return st;
        if (!got) break;
        if (n == LCV_MAX_DIMS)
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "tensor has more than %d dims",
                            LCV_MAX_DIMS);
        if ((int64_t)v < 0)
            return lcv_fail(c->e, LCV_ERR_PARSE, "dims[%d] is negative (%lld)", n,
                            (long long)(int64_t)v);
        dims[n++] = (int64_t)v;
    }
    *ndim = n;
    return LCV_OK;
}

/* Checks the payload against the shape, then allocates and fills the tensor. */
static lcv_status build_tensor(lcv_onnx_ctx *c, const lcv_pb *msg, const tensor_scan *s,
                               lcv_tensor **out) {
    lcv_err *e = c->e;
    int ndim = 0;
    int64_t dims[LCV_MAX_DIMS];
    lcv_status st = read_dims(c, msg, &ndim, dims);
    if (st != LCV_OK) return st;
    char sbuf[160];
    lcv_shape_str(ndim, dims, sbuf, sizeof sbuf);
    if (!s->has_type || s->data_type == 0)
        return lcv_fail(e, LCV_ERR_PARSE, "tensor has no data_type");
    if (s->data_type == LCV_DTYPE_STRING || s->seen[T_STRING_DATA])
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "tensor '%.100s' holds strings, which are not "
                        "supported", s->name ? s->name : "");
    if (!dtype_storable(s->data_type))
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "tensor '%.100s' has data_type %lld, which is not "
                        "supported", s->name ? s->name : "", (long long)s->data_type);
    lcv_dtype dt = (lcv_dtype)s->data_type;
    int64_t numel;
    size_t nbytes;
    if (!lcv_shape_numel(ndim, dims, &numel) ||
        !lcv_mul_size((size_t)numel, lcv_dtype_size(dt), &nbytes))
        return lcv_fail(e, LCV_ERR_PARSE, "tensor shape %s is too large", sbuf);
    bool external = s->location == 1;
    if (s->location != 0 && s->location != 1)
        return lcv_fail(e, LCV_ERR_PARSE, "unknown data_location %lld", (long long)s->location);
    int source = 0; /* field number of the data source; 0 none */
    static const int fields[] = {T_RAW_DATA,   T_FLOAT_DATA,  T_INT32_DATA,
                                 T_INT64_DATA, T_DOUBLE_DATA, T_UINT64_DATA};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        if (!s->seen[fields[k]]) continue;
        if (source || external)
            return lcv_fail(e, LCV_ERR_PARSE, "tensor has data in both %s and %s",
                            external ? "external data" : field_name(source),
                            field_name(fields[k]));
        source = fields[k];
    }
    int64_t count = 0;
    if (source == T_RAW_DATA) {
        if (s->raw.len != nbytes)
            return lcv_fail(e, LCV_ERR_PARSE, "raw_data at byte %zu has %zu bytes but shape %s "
                            "of %s needs %zu", s->raw.tag_off, s->raw.len, sbuf,
                            lcv_dtype_name(dt), nbytes);
    } else if (source) {
        if (source != typed_field_for(dt))
            return lcv_fail(e, LCV_ERR_PARSE, "%s cannot hold a %s tensor", field_name(source),
                            lcv_dtype_name(dt));
        lcv_pb_wire w = source == T_FLOAT_DATA ? LCV_PB_I32
                        : source == T_DOUBLE_DATA ? LCV_PB_I64 : LCV_PB_VARINT;
        st = lcv_pb_rep_count(msg, (uint32_t)source, w, field_name(source), &count, e);
        if (st != LCV_OK) return st;
        if (count != numel)
            return lcv_fail(e, LCV_ERR_PARSE, "%s has %lld elements but shape %s needs %lld",
                            field_name(source), (long long)count, sbuf, (long long)numel);
    } else if (!external && numel != 0) {
        return lcv_fail(e, LCV_ERR_PARSE, "tensor of shape %s has no data", sbuf);
    }
    /* The file's size is checked when it is opened; the buffer is bounded by max_bytes. */
    if (external && (st = check_external(c, &s->ext, nbytes)) != LCV_OK) return st;
    lcv_tensor *t = malloc(sizeof *t);
    if (!t) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    lcv_tensor_init(t);
    st = lcv_tensor_reshape_alloc(t, dt, ndim, dims, e);
    if (st != LCV_OK) {
        lcv_tensor_free(t);
        return st;
    }
    if (external) {
        st = read_external(c, &s->ext, nbytes, t->data);
    } else if (source == T_RAW_DATA) {
        if (nbytes) memcpy(t->data, lcv_pb_bytes(msg, &s->raw), nbytes);
    } else if (source) {
        lcv_pb_rep it;
        lcv_pb_wire w = source == T_FLOAT_DATA ? LCV_PB_I32
                        : source == T_DOUBLE_DATA ? LCV_PB_I64 : LCV_PB_VARINT;
        lcv_pb_rep_init(&it, msg, (uint32_t)source, w, field_name(source));
        for (int64_t i = 0; i < count && st == LCV_OK; i++) {
            bool got = false;
            uint64_t v = 0;
            st = lcv_pb_rep_next(&it, &got, &v, e);
            if (st == LCV_OK && !got) st = lcv_fail(e, LCV_ERR_INTERNAL, "element count changed");
            if (st == LCV_OK) store_typed(t, i, v);
        }
    }
    if (st != LCV_OK) {
        lcv_tensor_free(t);
        return st;
    }
    *out = t;
    return LCV_OK;
}

lcv_status lcv_onnx_read_tensor(lcv_onnx_ctx *c, const lcv_pb *msg, lcv_tensor **out,
                                char **name) {
    *out = NULL;
    if (name) *name = NULL;
    tensor_scan s;
    memset(&s, 0, sizeof s);
    lcv_status st = scan_tensor(c, msg, &s);
    if (st == LCV_OK) {
        if (s.name && s.name[0]) lcv_onnx_path_push(c, " '%.80s'", s.name);
        st = build_tensor(c, msg, &s, out);
    }
    free(s.ext.location);
    if (st == LCV_OK && name && s.name && s.name[0]) {
        *name = s.name;
        s.name = NULL;
    }
    free(s.name);
    return st;
}

lcv_status lcv_onnx_parse_tensor(const void *data, size_t size, lcv_tensor **out, char **name,
                                 lcv_err *e) {
    if (name) *name = NULL;
    if (!out) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_onnx_parse_tensor: out is NULL");
    *out = NULL;
    if (!data && size) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_onnx_parse_tensor: no data");
    lcv_onnx_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    lcv_onnx_path_push(&c, "tensor");
    lcv_pb r;
    lcv_pb_init(&r, data, size);
    lcv_status st = lcv_onnx_read_tensor(&c, &r, out, name);
    if (st != LCV_OK) lcv_err_prefix(e, "%s", c.path);
    return st;
}
