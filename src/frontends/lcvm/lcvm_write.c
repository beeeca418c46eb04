/* lcvm_write.c - encodes a graph as .lcvm (docs/LCVM.md): header, opsets, the values nodes and
 * the graph's inputs/outputs use (renumbered densely), nodes with attributes and fused
 * epilogues, graph inputs/outputs, and a checksum trailer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcvm.h"

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool failed; /* out of memory or size overflow: every later put is a no-op */
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
    if (w->failed || n == 0) return;
    if (n > SIZE_MAX - w->n) {
        w->failed = true;
        return;
    }
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + n) cap = cap > SIZE_MAX / 2 ? w->n + n : cap * 2;
        uint8_t *q = realloc(w->p, cap);
        if (!q) {
            w->failed = true;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

/* Little-endian stores (the byte order is the format's, whatever the host's). */
static void put_u32(wbuf *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}
static void put_u64(wbuf *w, uint64_t v) {
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}
static void put_i32(wbuf *w, int32_t v) { put_u32(w, (uint32_t)v); }
static void put_i64(wbuf *w, int64_t v) { put_u64(w, (uint64_t)v); }
static void put_f32(wbuf *w, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(w, v);
}
static void put_bytes(wbuf *w, const void *s, size_t n) {
    put_u64(w, (uint64_t)n);
    put(w, s, n);
}
static void put_str(wbuf *w, const char *s) { put_bytes(w, s ? s : "", s ? strlen(s) : 0); }

/* Tensor payloads are written element by element in little-endian order so a big-endian host
 * writes the same file; on little-endian hosts this is one copy. */
static void put_elems(wbuf *w, const lcv_tensor *t, size_t esz, size_t count) {
    const uint16_t one = 1;
    uint8_t little;
    memcpy(&little, &one, 1);
    if (little || esz == 1) {
        put(w, t->data, esz * count);
        return;
    }
    const uint8_t *s = t->data;
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < esz; b++) put(w, &s[i * esz + esz - 1 - b], 1);
}

static lcv_status put_tensor(wbuf *w, const lcv_tensor *t, const char *what, lcv_err *e) {
    size_t esz = lcv_dtype_size(t->dtype);
    if (t->dtype == LCV_DTYPE_STRING || esz == 0)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "%s: %s tensors cannot be stored in .lcvm", what,
                        lcv_dtype_name(t->dtype));
    int64_t count;
    size_t bytes;
    if (!lcv_shape_numel(t->ndim, t->dims, &count) ||
        !lcv_mul_size((size_t)count, esz, &bytes))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "%s: tensor too large", what);
    put_i32(w, (int32_t)t->dtype);
    put_i32(w, t->ndim);
    for (int i = 0; i < t->ndim; i++) put_i64(w, t->dims[i]);
    put_u64(w, (uint64_t)bytes);
    put_elems(w, t, esz, (size_t)count);
    return LCV_OK;
}

static lcv_status put_attr(wbuf *w, const lcv_node *n, const lcv_attr *a, lcv_err *e) {
    switch (a->type) {
    case LCV_ATTR_FLOAT: case LCV_ATTR_INT: case LCV_ATTR_STRING: case LCV_ATTR_TENSOR:
    case LCV_ATTR_FLOATS: case LCV_ATTR_INTS: case LCV_ATTR_STRINGS: break;
    default:
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "node '%s' attribute '%s': type %d cannot be "
                        "stored in .lcvm", n->name, a->name, (int)a->type);
    }
    put_str(w, a->name);
    put_i32(w, (int32_t)a->type);
    switch (a->type) {
    case LCV_ATTR_FLOAT: put_f32(w, a->f); break;
    case LCV_ATTR_INT: put_i64(w, a->i); break;
    case LCV_ATTR_STRING: put_bytes(w, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case LCV_ATTR_TENSOR: {
        char what[160];
        snprintf(what, sizeof what, "node '%s' attribute '%s'", n->name, a->name);
        if (!a->t) return lcv_fail(e, LCV_ERR_INVALID_ARG, "%s: no tensor", what);
        return put_tensor(w, a->t, what, e);
    }
    case LCV_ATTR_FLOATS:
        put_u64(w, (uint64_t)a->n);
        for (int64_t i = 0; i < a->n; i++) put_f32(w, a->floats[i]);
        break;
    case LCV_ATTR_INTS:
        put_u64(w, (uint64_t)a->n);
        for (int64_t i = 0; i < a->n; i++) put_i64(w, a->ints[i]);
        break;
    default: /* STRINGS */
        put_u64(w, (uint64_t)a->n);
        for (int64_t i = 0; i < a->n; i++) put_str(w, a->strings[i]);
        break;
    }
    return LCV_OK;
}

uint64_t lcv_lcvm_checksum(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = 0;
        for (int b = 7; b >= 0; b--) v = v << 8 | p[i + (size_t)b];
        h = (h ^ v) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

/* Dense numbering of the values the file keeps: -1 for the others. */
static int *number_values(const lcv_graph *g, int *count) {
    int *map = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    if (!map) return NULL;
    for (int v = 0; v < g->n_values; v++) map[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) map[n->in[k]] = 0;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) map[n->out[k]] = 0;
    }
    for (int i = 0; i < g->n_inputs; i++) map[g->inputs[i]] = 0;
    for (int i = 0; i < g->n_outputs; i++) map[g->outputs[i]] = 0;
    int c = 0;
    for (int v = 0; v < g->n_values; v++)
        if (map[v] == 0) map[v] = c++;
    *count = c;
    return map;
}

static lcv_status put_values(wbuf *w, const lcv_graph *g, const int *map, int count,
                             lcv_err *e) {
    put_u32(w, (uint32_t)count);
    for (int v = 0; v < g->n_values; v++) {
        if (map[v] < 0) continue;
        const lcv_value *val = &g->values[v];
        /* a produced value's constant is a folding result the reader recomputes: keep the
         * tensor only for values no node produces */
        bool tensor = val->init && val->producer < 0;
        put_str(w, val->name);
        put_u32(w, (val->is_input ? 1u : 0u) | (val->is_output ? 2u : 0u) | (tensor ? 4u : 0u));
        put_i32(w, (int32_t)val->dtype);
        put_i32(w, val->ndim);
        for (int k = 0; k < val->ndim; k++) put_i64(w, val->dims[k]);
        for (int k = 0; k < val->ndim; k++) put_str(w, val->dim_params[k]);
        if (tensor) {
            char what[160];
            snprintf(what, sizeof what, "value '%s'", val->name);
            lcv_status st = put_tensor(w, val->init, what, e);
            if (st != LCV_OK) return st;
        }
    }
    return LCV_OK;
}

static lcv_status put_nodes(wbuf *w, const lcv_graph *g, const int *map, lcv_err *e) {
    put_u32(w, (uint32_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        put_str(w, n->name);
        put_str(w, n->op_type);
        put_str(w, n->domain);
        put_i32(w, n->opset); /* passes may add nodes of another opset than the graph's */
        put_u32(w, (uint32_t)n->n_in);
        for (int k = 0; k < n->n_in; k++) put_i32(w, n->in[k] >= 0 ? map[n->in[k]] : -1);
        put_u32(w, (uint32_t)n->n_out);
        for (int k = 0; k < n->n_out; k++) put_i32(w, n->out[k] >= 0 ? map[n->out[k]] : -1);
        put_u32(w, (uint32_t)n->n_attrs);
        for (int k = 0; k < n->n_attrs; k++) {
            lcv_status st = put_attr(w, n, &n->attrs[k], e);
            if (st != LCV_OK) return st;
        }
        put_i32(w, (int32_t)n->fused.act);
        put_f32(w, n->fused.alpha);
        put_f32(w, n->fused.beta);
        put_i32(w, n->fused.residual);
    }
    return LCV_OK;
}

lcv_status lcv_lcvm_write(const lcv_graph *g, unsigned flags, void **data, size_t *size,
                          lcv_err *e) {
    if (!g || !data || !size) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcvm: NULL argument");
    *data = NULL;
    *size = 0;
    int count = 0;
    int *map = number_values(g, &count);
    if (!map) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory writing .lcvm");
    wbuf w = {0};
    put(&w, LCV_LCVM_MAGIC, 4);
    put_u32(&w, LCV_LCVM_VERSION);
    put_u32(&w, flags);
    put_str(&w, g->name);
    put_i64(&w, g->ir_version);
    put_u32(&w, (uint32_t)g->n_opsets);
    for (int i = 0; i < g->n_opsets; i++) {
        put_str(&w, g->opsets[i].domain);
        put_i64(&w, g->opsets[i].version);
    }
    lcv_status st = put_values(&w, g, map, count, e);
    if (st == LCV_OK) st = put_nodes(&w, g, map, e);
    if (st == LCV_OK) {
        put_u32(&w, (uint32_t)g->n_inputs);
        for (int i = 0; i < g->n_inputs; i++) put_u32(&w, (uint32_t)map[g->inputs[i]]);
        put_u32(&w, (uint32_t)g->n_outputs);
        for (int i = 0; i < g->n_outputs; i++) put_u32(&w, (uint32_t)map[g->outputs[i]]);
        if (!w.failed) put_u64(&w, lcv_lcvm_checksum(w.p, w.n));
        if (w.failed) st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory writing .lcvm");
    }
    free(map);
    if (st != LCV_OK) {
        free(w.p);
        return st;
    }
    *data = w.p;
    *size = w.n;
    return LCV_OK;
}
