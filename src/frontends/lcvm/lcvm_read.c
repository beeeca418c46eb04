/* lcvm_read.c - decodes .lcvm (docs/LCVM.md) into a graph. The file is untrusted: the checksum
 * is verified first, then every count is bounded by the bytes left before anything is
 * allocated, every value index by the value count, every dtype, attribute type and fused
 * activation by its enum; errors name the section, the item and the byte offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcvm.h"

typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    const char *where; /* the item being read, for messages */
    lcv_err *e;
    lcv_status st; /* first failure; every later read is a no-op */
} rd;

static bool bad(rd *r, lcv_status st, const char *what) {
    if (r->st == LCV_OK)
        r->st = lcv_fail(r->e, st, ".lcvm %s at byte %zu: %s", r->where, r->at, what);
    return false;
}

static bool take(rd *r, size_t k, const uint8_t **out) {
    if (r->st != LCV_OK) return false;
    if (k > r->n - r->at) return bad(r, LCV_ERR_PARSE, "truncated");
    *out = r->p + r->at;
    r->at += k;
    return true;
}

static uint32_t get_u32(rd *r) {
    const uint8_t *b;
    if (!take(r, 4, &b)) return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get_u64(rd *r) {
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}
static int32_t get_i32(rd *r) { return (int32_t)get_u32(r); }
static int64_t get_i64(rd *r) { return (int64_t)get_u64(r); }
static float get_f32(rd *r) {
    uint32_t v = get_u32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* A count of items of at least min_bytes each: bounded by what is left, so a hostile count
 * cannot make the reader allocate more than the file's size. */
static size_t get_count(rd *r, bool wide, size_t min_bytes, size_t limit) {
    uint64_t c = wide ? get_u64(r) : get_u32(r);
    if (r->st != LCV_OK) return 0;
    if (c > limit || c > (r->n - r->at) / (min_bytes ? min_bytes : 1)) {
        bad(r, LCV_ERR_PARSE, "count exceeds the bytes left");
        return 0;
    }
    return (size_t)c;
}

/* A length-prefixed byte string copied into a NUL-terminated allocation (caller frees). */
static char *get_str(rd *r, size_t *len_out) {
    size_t len = get_count(r, true, 1, SIZE_MAX - 1);
    const uint8_t *b;
    if (r->st != LCV_OK || !take(r, len, &b)) return NULL;
    char *s = malloc(len + 1);
    if (!s) {
        bad(r, LCV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(s, b, len);
    s[len] = '\0';
    if (len_out) *len_out = len;
    return s;
}

static bool storable_dtype(int32_t d) {
    return d != LCV_DTYPE_STRING && d > 0 && d < 64 && lcv_dtype_size((lcv_dtype)d) > 0;
}

static lcv_tensor *get_tensor(rd *r) {
    int32_t dt = get_i32(r), nd = get_i32(r);
    if (r->st != LCV_OK) return NULL;
    if (!storable_dtype(dt)) {
        bad(r, LCV_ERR_PARSE, "tensor dtype is not a storable type");
        return NULL;
    }
    if (nd < 0 || nd > LCV_MAX_DIMS) {
        bad(r, LCV_ERR_PARSE, "tensor rank out of range");
        return NULL;
    }
    int64_t dims[LCV_MAX_DIMS], count;
    for (int i = 0; i < nd; i++) dims[i] = get_i64(r);
    uint64_t bytes = get_u64(r);
    if (r->st != LCV_OK) return NULL;
    size_t esz = lcv_dtype_size((lcv_dtype)dt), want;
    if (!lcv_shape_numel(nd, dims, &count) || !lcv_mul_size((size_t)count, esz, &want) ||
        want != bytes) {
        bad(r, LCV_ERR_PARSE, "tensor byte count does not match its shape");
        return NULL;
    }
    const uint8_t *src;
    if (!take(r, (size_t)bytes, &src)) return NULL;
    lcv_tensor *t = NULL;
    if (lcv_tensor_create((lcv_dtype)dt, nd, dims, &t) != LCV_OK) {
        bad(r, LCV_ERR_NOMEM, "out of memory for a tensor");
        return NULL;
    }
    const uint16_t one = 1;
    uint8_t little;
    memcpy(&little, &one, 1);
    uint8_t *d = t->data;
    if (little || esz == 1) {
        if (bytes) memcpy(d, src, (size_t)bytes);
    } else {
        for (size_t i = 0; i < (size_t)count; i++)
            for (size_t b = 0; b < esz; b++) d[i * esz + b] = src[i * esz + esz - 1 - b];
    }
    return t;
}

static void get_attr(rd *r, lcv_node *n) {
    char *name = get_str(r, NULL);
    int32_t type = get_i32(r);
    lcv_attr *a = NULL;
    if (r->st == LCV_OK) {
        lcv_status st = lcv_node_add_attr(n, name, &a, r->e);
        if (st != LCV_OK) r->st = st;
    }
    free(name);
    if (r->st != LCV_OK) return;
    switch (type) {
    case LCV_ATTR_FLOAT: a->f = get_f32(r); break;
    case LCV_ATTR_INT: a->i = get_i64(r); break;
    case LCV_ATTR_STRING: a->s = get_str(r, &a->s_len); break;
    case LCV_ATTR_TENSOR: a->t = get_tensor(r); break;
    case LCV_ATTR_FLOATS:
        a->n = (int64_t)get_count(r, true, 4, (size_t)INT32_MAX);
        if (r->st == LCV_OK && !(a->floats = malloc(sizeof(float) * ((size_t)a->n + 1))))
            bad(r, LCV_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < a->n && r->st == LCV_OK; i++) a->floats[i] = get_f32(r);
        break;
    case LCV_ATTR_INTS:
        a->n = (int64_t)get_count(r, true, 8, (size_t)INT32_MAX);
        if (r->st == LCV_OK && !(a->ints = malloc(sizeof(int64_t) * ((size_t)a->n + 1))))
            bad(r, LCV_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < a->n && r->st == LCV_OK; i++) a->ints[i] = get_i64(r);
        break;
    case LCV_ATTR_STRINGS: {
        size_t c = get_count(r, true, 8, (size_t)INT32_MAX);
        if (r->st == LCV_OK && !(a->strings = calloc(c + 1, sizeof(char *))))
            bad(r, LCV_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < c && r->st == LCV_OK; i++, a->n++) a->strings[i] = get_str(r, NULL);
        break;
    }
    default: bad(r, LCV_ERR_PARSE, "unknown attribute type"); return;
    }
    if (r->st == LCV_OK) a->type = (lcv_attr_type)type;
}

/* Values: ids[i] is the graph id of the file's value i. */
static void get_values(rd *r, lcv_graph *g, int **ids_out, size_t *count_out) {
    char where[96];
    r->where = "values";
    size_t count = get_count(r, false, 20, INT32_MAX / 2);
    int *ids = *ids_out = calloc(count + 1, sizeof(int));
    *count_out = count;
    if (!ids) {
        bad(r, LCV_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < count && r->st == LCV_OK; i++) {
        snprintf(where, sizeof where, "value %zu", i);
        r->where = where;
        char *name = get_str(r, NULL);
        uint32_t flags = get_u32(r);
        int32_t dt = get_i32(r), nd = get_i32(r);
        if (r->st == LCV_OK && !name[0]) bad(r, LCV_ERR_PARSE, "a value without a name");
        if (r->st == LCV_OK && lcv_graph_find(g, name) >= 0)
            bad(r, LCV_ERR_PARSE, "the value name is used twice");
        if (r->st == LCV_OK && (nd < -1 || nd > LCV_MAX_DIMS))
            bad(r, LCV_ERR_PARSE, "rank out of range");
        if (r->st == LCV_OK && dt != LCV_DTYPE_UNDEFINED && dt != LCV_DTYPE_STRING &&
            !storable_dtype(dt))
            bad(r, LCV_ERR_PARSE, "unknown dtype");
        if (r->st == LCV_OK && lcv_graph_intern(g, name, &ids[i], r->e) != LCV_OK)
            r->st = LCV_ERR_NOMEM;
        free(name);
        if (r->st != LCV_OK) return;
        lcv_value *v = &g->values[ids[i]];
        v->dtype = (lcv_dtype)dt;
        v->ndim = nd;
        for (int k = 0; k < nd; k++) v->dims[k] = get_i64(r);
        for (int k = 0; k < nd && r->st == LCV_OK; k++)
            if (v->dims[k] < -1) bad(r, LCV_ERR_PARSE, "a dimension below -1 (dynamic)");
        for (int k = 0; k < nd && r->st == LCV_OK; k++) {
            char *dp = get_str(r, NULL);
            if (dp && !dp[0]) {
                free(dp);
                dp = NULL;
            }
            v->dim_params[k] = dp;
        }
        if (r->st == LCV_OK && (flags & 4u)) {
            lcv_tensor *t = get_tensor(r);
            if (t && lcv_graph_set_initializer(g, ids[i], t, r->e) != LCV_OK)
                r->st = LCV_ERR_PARSE;
        }
    }
}

static int value_ref(rd *r, const int *ids, size_t count, bool optional) {
    int32_t v = get_i32(r);
    if (r->st != LCV_OK) return -1;
    if (optional && v == -1) return -1;
    if (v < 0 || (size_t)v >= count) {
        bad(r, LCV_ERR_PARSE, "value index out of range");
        return -1;
    }
    return ids[v];
}

/* Names of n value references (-1: "", an omitted optional value); *out: caller frees. */
static void get_refs(rd *r, lcv_graph *g, const int *ids, size_t count, size_t *n,
                     const char ***out) {
    *n = get_count(r, false, 4, 1u << 20);
    *out = r->st == LCV_OK ? malloc(sizeof(char *) * (*n + 1)) : NULL;
    if (r->st == LCV_OK && !*out) bad(r, LCV_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < *n && r->st == LCV_OK; k++) {
        int id = value_ref(r, ids, count, true);
        (*out)[k] = id >= 0 ? g->values[id].name : "";
    }
}

static void get_node(rd *r, lcv_graph *g, const int *ids, size_t count) {
    char *name = get_str(r, NULL), *op = get_str(r, NULL), *dom = get_str(r, NULL);
    int32_t opset = get_i32(r);
    if (r->st == LCV_OK && opset < 1) bad(r, LCV_ERR_PARSE, "opset version must be positive");
    size_t n_in = 0, n_out = 0;
    const char **in_names = NULL, **out_names = NULL;
    get_refs(r, g, ids, count, &n_in, &in_names);
    get_refs(r, g, ids, count, &n_out, &out_names);
    lcv_node *n = NULL;
    if (r->st == LCV_OK &&
        lcv_graph_add_node(g, name, op, dom, (int)n_in, in_names, (int)n_out, out_names, &n,
                           r->e) != LCV_OK)
        r->st = LCV_ERR_PARSE;
    free(name);
    free(op);
    free(dom);
    free(in_names);
    free(out_names);
    if (r->st != LCV_OK) return;
    n->opset = opset;
    size_t n_attrs = get_count(r, false, 16, 4096);
    for (size_t k = 0; k < n_attrs && r->st == LCV_OK; k++) get_attr(r, n);
    int32_t act = get_i32(r);
    float alpha = get_f32(r), beta = get_f32(r);
    int32_t res = get_i32(r);
    if (r->st != LCV_OK) return;
    if (act < LCV_ACT_NONE || act > LCV_ACT_GELU) {
        bad(r, LCV_ERR_PARSE, "unknown fused activation");
        return;
    }
    if (res < -1 || (res >= 0 && res != n->n_in - 1)) {
        bad(r, LCV_ERR_PARSE, "fused residual must be -1 or the last input");
        return;
    }
    n->fused.act = (lcv_act_kind)act;
    n->fused.alpha = alpha;
    n->fused.beta = beta;
    n->fused.residual = res;
}

static void get_io(rd *r, lcv_graph *g, const int *ids, size_t count, bool inputs) {
    r->where = inputs ? "graph inputs" : "graph outputs";
    size_t c = get_count(r, false, 4, INT32_MAX);
    for (size_t i = 0; i < c && r->st == LCV_OK; i++) {
        int id = value_ref(r, ids, count, false);
        if (r->st != LCV_OK) return;
        lcv_status st = inputs ? lcv_graph_add_input(g, id, r->e) : lcv_graph_add_output(g, id, r->e);
        if (st != LCV_OK) r->st = st;
    }
}

bool lcv_lcvm_sniff(const void *data, size_t size) {
    return data && size >= 4 && memcmp(data, LCV_LCVM_MAGIC, 4) == 0;
}

lcv_status lcv_lcvm_read(const void *data, size_t size, lcv_graph **out, unsigned *flags,
                         lcv_err *e) {
    if (!out) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcvm: NULL argument");
    *out = NULL;
    if (!lcv_lcvm_sniff(data, size) || size < 20)
        return lcv_fail(e, LCV_ERR_PARSE, "not an .lcvm file (no LCVM header)");
    rd r = {data, size - 8, 4, "header", e, LCV_OK};
    uint64_t stored = 0;
    for (int b = 7; b >= 0; b--) stored = stored << 8 | r.p[size - 8 + (size_t)b];
    if (stored != lcv_lcvm_checksum(data, size - 8))
        return lcv_fail(e, LCV_ERR_PARSE, ".lcvm checksum mismatch: the file is damaged or "
                        "truncated (%zu bytes)", size);
    uint32_t version = get_u32(&r), fl = get_u32(&r);
    if (version != LCV_LCVM_VERSION)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, ".lcvm version %u; this leancv reads version %u",
                        version, LCV_LCVM_VERSION);
    lcv_graph *g = lcv_graph_new();
    if (!g) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    g->name = get_str(&r, NULL);
    g->ir_version = get_i64(&r);
    r.where = "opsets";
    size_t n_ops = get_count(&r, false, 16, 4096);
    for (size_t i = 0; i < n_ops && r.st == LCV_OK; i++) {
        char *dom = get_str(&r, NULL);
        int64_t ver = get_i64(&r);
        if (r.st == LCV_OK && lcv_graph_add_opset(g, dom, ver, e) != LCV_OK) r.st = LCV_ERR_NOMEM;
        free(dom);
    }
    int *ids = NULL;
    size_t count = 0;
    if (r.st == LCV_OK) get_values(&r, g, &ids, &count);
    r.where = "nodes";
    size_t n_nodes = r.st == LCV_OK ? get_count(&r, false, 56, INT32_MAX / 2) : 0;
    char where[96];
    for (size_t i = 0; i < n_nodes && r.st == LCV_OK; i++) {
        snprintf(where, sizeof where, "node %zu", i);
        r.where = where;
        get_node(&r, g, ids, count);
    }
    if (r.st == LCV_OK) get_io(&r, g, ids, count, true);
    if (r.st == LCV_OK) get_io(&r, g, ids, count, false);
    if (r.st == LCV_OK && r.at != r.n) {
        r.where = "end";
        bad(&r, LCV_ERR_PARSE, "bytes left over before the checksum");
    }
    free(ids);
    if (r.st != LCV_OK) {
        lcv_graph_free(g);
        return r.st;
    }
    if (flags) *flags = fl;
    *out = g;
    return LCV_OK;
}
