/* onnx_value.c - reads ONNX ValueInfoProto / TypeProto entries (graph inputs, outputs and
 * value_info) and records their declared element type and shape on the graph's values. Only
 * tensor types are accepted; sequences, maps and optionals are refused as unsupported. */
#include <stdlib.h>
#include <string.h>

#include "onnx_priv.h"

typedef struct value_type {
    lcv_dtype dtype;
    int ndim;
    int64_t dims[LCV_MAX_DIMS];
    char *dim_params[LCV_MAX_DIMS]; /* owned */
} value_type;

static void value_type_clear(value_type *t) {
    for (int i = 0; i < LCV_MAX_DIMS; i++) free(t->dim_params[i]);
    memset(t, 0, sizeof *t);
    t->ndim = -1;
}

static lcv_status read_dim(lcv_onnx_ctx *c, const lcv_pb *msg, value_type *t) {
    int k = t->ndim;
    t->dims[k] = -1;
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number == 1) {
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "dim_value", c->e)) != LCV_OK) return st;
            /* Negative sizes are invalid; some exporters write -1 for "dynamic": treat so. */
            t->dims[k] = (int64_t)f.u < 0 ? -1 : (int64_t)f.u;
        } else if (f.number == 2) {
            free(t->dim_params[k]);
            t->dim_params[k] = NULL;
            st = lcv_onnx_copy_string(&r, &f, "dim_param", false, &t->dim_params[k], NULL, c->e);
            if (st != LCV_OK) return st;
        }
    }
    if (t->dims[k] >= 0) { /* a concrete size wins over a symbol */
        free(t->dim_params[k]);
        t->dim_params[k] = NULL;
    }
    return LCV_OK;
}

static lcv_status read_tensor_type(lcv_onnx_ctx *c, const lcv_pb *msg, const char *vname,
                                   value_type *t) {
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number == 1) {
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "elem_type", c->e)) != LCV_OK) return st;
            int64_t et = (int64_t)f.u;
            if (et != 0 && et != LCV_DTYPE_STRING &&
                (et < 0 || et > LCV_DTYPE_BFLOAT16 || lcv_dtype_size((lcv_dtype)et) == 0))
                return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "value '%.100s' has element type "
                                "%lld, which is not supported", vname, (long long)et);
            t->dtype = (lcv_dtype)et;
        } else if (f.number == 2) {
            lcv_pb shape;
            if ((st = lcv_pb_sub(&r, &f, &shape, c->e)) != LCV_OK) return st;
            for (int i = 0; i < t->ndim; i++) {
                free(t->dim_params[i]);
                t->dim_params[i] = NULL;
            }
            t->ndim = 0;
            while (lcv_pb_more(&shape)) {
                lcv_pb_field d;
                if ((st = lcv_pb_next(&shape, &d, c->e)) != LCV_OK) return st;
                if (d.number != 1) continue;
                if (t->ndim == LCV_MAX_DIMS)
                    return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "value '%.100s' has more than %d "
                                    "dims", vname, LCV_MAX_DIMS);
                lcv_pb dim;
                if ((st = lcv_pb_sub(&shape, &d, &dim, c->e)) != LCV_OK) return st;
                if ((st = read_dim(c, &dim, t)) != LCV_OK) return st;
                t->ndim++;
            }
        }
    }
    return LCV_OK;
}

static lcv_status read_type(lcv_onnx_ctx *c, const lcv_pb *msg, const char *vname,
                            value_type *t) {
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        const char *kind = NULL;
        switch (f.number) {
        case 1: {
            lcv_pb sub;
            if ((st = lcv_pb_sub(&r, &f, &sub, c->e)) != LCV_OK) return st;
            if ((st = read_tensor_type(c, &sub, vname, t)) != LCV_OK) return st;
            break;
        }
        case 4: kind = "sequence"; break;
        case 5: kind = "map"; break;
        case 8: kind = "sparse tensor"; break;
        case 9: kind = "optional"; break;
        default: break;
        }
        if (kind)
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "value '%.100s' has a %s type; only "
                            "tensors are supported", vname, kind);
    }
    return LCV_OK;
}

/* Reads a ValueInfoProto: *name (caller frees) and its declared type. */
static lcv_status read_value_info(lcv_onnx_ctx *c, const lcv_pb *msg, char **name,
                                  value_type *t) {
    lcv_pb r = *msg;
    lcv_pb_field type_field;
    bool has_type = false;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number == 1) {
            free(*name);
            *name = NULL;
            if ((st = lcv_onnx_copy_string(&r, &f, "name", false, name, NULL, c->e)) != LCV_OK)
                return st;
        } else if (f.number == 2) {
            type_field = f;
            has_type = true;
        }
    }
    if (!*name || !**name) return lcv_fail(c->e, LCV_ERR_PARSE, "value has no name");
    lcv_onnx_path_push(c, " '%.80s'", *name);
    if (!has_type) return LCV_OK;
    lcv_pb sub;
    lcv_status st = lcv_pb_sub(msg, &type_field, &sub, c->e);
    if (st != LCV_OK) return st;
    return read_type(c, &sub, *name, t);
}

/* Records declared facts on a value without overriding what is already known (initializers). */
static void apply_type(lcv_value *v, value_type *t) {
    if (v->dtype == LCV_DTYPE_UNDEFINED) v->dtype = t->dtype;
    if (v->ndim == -1 && t->ndim >= 0) {
        v->ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) {
            v->dims[i] = t->dims[i];
            free(v->dim_params[i]);
            v->dim_params[i] = t->dim_params[i];
            t->dim_params[i] = NULL;
        }
    }
}

lcv_status lcv_onnx_read_graph_values(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg,
                                      lcv_onnx_graph_list field) {
    const char *what = field == LCV_ONNX_GRAPH_INPUT    ? "input"
                       : field == LCV_ONNX_GRAPH_OUTPUT ? "output"
                                                        : "value_info";
    lcv_pb r = *msg;
    int index = 0;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number != (uint32_t)field) continue;
        size_t mark = lcv_onnx_path_push(c, ".%s[%d]", what, index++);
        lcv_pb sub;
        char *name = NULL;
        value_type t;
        memset(&t, 0, sizeof t);
        t.ndim = -1;
        st = lcv_pb_sub(&r, &f, &sub, c->e);
        if (st == LCV_OK) st = read_value_info(c, &sub, &name, &t);
        int id = -1;
        if (st == LCV_OK) {
            if (field == LCV_ONNX_GRAPH_VALUE_INFO)
                id = lcv_graph_find(g, name); /* facts about unused names are dropped */
            else
                st = lcv_graph_intern(g, name, &id, c->e);
        }
        if (st == LCV_OK && id >= 0) {
            apply_type(&g->values[id], &t);
            if (field == LCV_ONNX_GRAPH_OUTPUT)
                st = lcv_graph_add_output(g, id, c->e);
            else if (field == LCV_ONNX_GRAPH_INPUT && !g->values[id].is_initializer)
                st = lcv_graph_add_input(g, id, c->e);
        }
        value_type_clear(&t);
        free(name);
        if (st != LCV_OK) return st;
        lcv_onnx_path_pop(c, mark);
    }
    return LCV_OK;
}
