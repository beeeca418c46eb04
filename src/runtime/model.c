/* model.c - the lcv_model handle: loading from a file or buffer, and read-only queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontends/lcvm/lcvm.h"
#include "../frontends/onnx/onnx.h"
#include "model.h"

#define LCV_DEFAULT_MAX_BYTES ((uint64_t)2 << 30)

lcv_model_params lcv_model_default_params(void) {
    lcv_model_params p;
    memset(&p, 0, sizeof p);
    p.optimize = 1;
    p.max_isa = LCV_ISA_AUTO;
    return p;
}

static lcv_model *model_alloc(void) { return calloc(1, sizeof(lcv_model)); }

void lcv_model_free(lcv_model *m) {
    if (!m) return;
    free(m->folded);
    free(m->runtime_shape);
    free(m->slot_base);
    free(m->last_use);
    free(m->node_macs);
    if (m->plans && m->g)
        for (int i = 0; i < m->g->n_nodes; i++) lcv_plan_clear(&m->plans[i]);
    free(m->plans);
    if (!m->borrowed_g) lcv_graph_free(m->g); /* after the plans: they read the node count */
    free(m->declared);
    free(m);
}

const char *lcv_model_errmsg(const lcv_model *m) { return m ? m->err.msg : "no model"; }

/* Keeps the declared type of every graph output before inference refines the value facts. */
static lcv_status keep_declared_outputs(lcv_model *m, lcv_err *e) {
    const lcv_graph *g = m->g;
    m->declared = calloc((size_t)g->n_outputs + 1, sizeof(lcv_value));
    if (!m->declared) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_outputs; i++) m->declared[i] = g->values[g->outputs[i]];
    return LCV_OK;
}

static void apply_params(lcv_model *m, const lcv_model_params *p) {
    m->optimize = p->optimize != 0;
    m->reference = p->reference_kernels != 0;
    m->isa = lcv_isa_choose(p->max_isa);
}

/* lcv_model_params.free_input_dims: the chosen dims of the graph inputs, and of the outputs
 * that have them, become dynamic before analysis, so inference and the passes see no size. */
static lcv_status free_dims(lcv_model *m, unsigned mask) {
    lcv_graph *g = m->g;
    if (!mask) return LCV_OK;
    if (m->preoptimized)
        return lcv_fail(&m->err, LCV_ERR_INVALID_ARG,
                        "free_input_dims: this .lcvm was optimized for its declared input shapes; "
                        "free the dims on the ONNX model or an .lcvm written without optimization");
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? g->n_outputs : g->n_inputs;
        for (int i = 0; i < n; i++) {
            lcv_value *v = &g->values[pass ? g->outputs[i] : g->inputs[i]];
            for (int k = 0; k < v->ndim && k < 32; k++) {
                if (!(mask >> k & 1u)) continue;
                v->dims[k] = -1;
                free(v->dim_params[k]);
                v->dim_params[k] = NULL;
            }
        }
    }
    return LCV_OK;
}

/* Everything after import: the file's bytes are gone by now (the graph holds copies), so
 * the peak memory of a load is the larger of file + graph and graph + packed weights. */
static lcv_status finish_load(lcv_model *m, unsigned free_input_dims) {
    lcv_status st = free_dims(m, free_input_dims);
    if (st == LCV_OK) st = keep_declared_outputs(m, &m->err);
    if (st == LCV_OK) st = lcv_model_analyze(m, &m->err);
    if (st == LCV_OK) m->loaded = true;
    return st;
}

lcv_status lcv_model_from_graph(lcv_graph *g, const lcv_model_params *params, lcv_model **out) {
    if (!out) {
        lcv_graph_free(g);
        return LCV_ERR_INVALID_ARG;
    }
    lcv_model *m = *out = model_alloc();
    if (!m) {
        lcv_graph_free(g);
        return LCV_ERR_NOMEM;
    }
    lcv_model_params p = params ? *params : lcv_model_default_params();
    apply_params(m, &p);
    m->g = g;
    if (!g) return lcv_fail(&m->err, LCV_ERR_INVALID_ARG, "graph is NULL");
    return finish_load(m, p.free_input_dims);
}

lcv_status lcv_model_from_subgraph(lcv_graph *g, const lcv_model *parent, lcv_model **out,
                                   lcv_err *e) {
    *out = NULL;
    if (parent->depth + 1 > LCV_MAX_SUBGRAPH_DEPTH)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "subgraphs nest deeper than %d levels",
                        LCV_MAX_SUBGRAPH_DEPTH);
    lcv_model *m = model_alloc();
    if (!m) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a subgraph");
    m->g = g;
    m->borrowed_g = true;
    m->depth = parent->depth + 1;
    m->optimize = parent->optimize;
    m->reference = parent->reference;
    m->isa = parent->isa;
    lcv_status st = finish_load(m, 0);
    if (st != LCV_OK) {
        lcv_fail(e, st, "%s", m->err.msg);
        lcv_model_free(m);
        return st;
    }
    *out = m;
    return LCV_OK;
}

/* Imports .lcvm or ONNX, told apart by the first bytes. A graph the optimizer already ran on
 * (an .lcvm written optimized) skips the passes. */
static lcv_status import_any(lcv_model *m, const void *data, size_t size, const char *ext_dir,
                             uint64_t max) {
    if (!lcv_lcvm_sniff(data, size)) return lcv_onnx_import(data, size, ext_dir, max, &m->g, &m->err);
    unsigned flags = 0;
    lcv_status st = lcv_lcvm_read(data, size, &m->g, &flags, &m->err);
    if (st == LCV_OK && (flags & LCV_LCVM_OPTIMIZED)) {
        m->preoptimized = true;
        m->optimize = false;
    }
    return st;
}

lcv_status lcv_model_load_buffer(const void *data, size_t size, const lcv_model_params *params,
                                 lcv_model **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    lcv_model *m = *out = model_alloc();
    if (!m) return LCV_ERR_NOMEM;
    lcv_model_params p = params ? *params : lcv_model_default_params();
    uint64_t max = p.max_bytes ? p.max_bytes : LCV_DEFAULT_MAX_BYTES;
    if (!data && size) return lcv_fail(&m->err, LCV_ERR_INVALID_ARG, "data is NULL");
    if (size > max)
        return lcv_fail(&m->err, LCV_ERR_PARSE, "model buffer of %zu bytes exceeds the limit %llu",
                        size, (unsigned long long)max);
    apply_params(m, &p);
    lcv_status st = import_any(m, data, size, p.external_data_dir, max);
    return st == LCV_OK ? finish_load(m, p.free_input_dims) : st;
}

lcv_status lcv_model_load_file(const char *path, const lcv_model_params *params, lcv_model **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    lcv_model *m = *out = model_alloc();
    if (!m) return LCV_ERR_NOMEM;
    if (!path) return lcv_fail(&m->err, LCV_ERR_INVALID_ARG, "path is NULL");
    lcv_model_params p = params ? *params : lcv_model_default_params();
    uint64_t max = p.max_bytes ? p.max_bytes : LCV_DEFAULT_MAX_BYTES;
    void *data;
    size_t size;
    lcv_status st = lcv_read_file(path, max, &data, &size, &m->err);
    if (st != LCV_OK) return st;
    /* External data resolves next to the model file unless the caller says otherwise. */
    char *dir = NULL;
    const char *ext_dir = p.external_data_dir;
    if (!ext_dir) {
        const char *slash = strrchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : 1;
        dir = malloc(len + 1);
        if (!dir) {
            free(data);
            return lcv_fail(&m->err, LCV_ERR_NOMEM, "out of memory");
        }
        memcpy(dir, slash ? path : ".", len);
        dir[len] = '\0';
        ext_dir = dir;
    }
    apply_params(m, &p);
    st = import_any(m, data, size, ext_dir, max);
    free(data);
    free(dir);
    if (st == LCV_OK) st = finish_load(m, p.free_input_dims);
    if (st != LCV_OK) lcv_err_prefix(&m->err, "%s", path);
    return st;
}

lcv_isa lcv_model_isa(const lcv_model *m) {
    return m && m->loaded ? m->isa : LCV_ISA_AUTO;
}

const char *lcv_isa_name(lcv_isa isa) {
    switch (isa) {
    case LCV_ISA_AUTO: return "auto";
    case LCV_ISA_SCALAR: return "scalar";
    case LCV_ISA_AVX2: return "avx2";
    case LCV_ISA_AVX512: return "avx512";
    case LCV_ISA_NEON: return "neon";
    }
    return "unknown";
}

int lcv_model_input_count(const lcv_model *m) { return m && m->loaded ? m->g->n_inputs : 0; }
int lcv_model_output_count(const lcv_model *m) { return m && m->loaded ? m->g->n_outputs : 0; }

const char *lcv_model_input_name(const lcv_model *m, int i) {
    if (i < 0 || i >= lcv_model_input_count(m)) return NULL;
    return m->g->values[m->g->inputs[i]].name;
}

const char *lcv_model_output_name(const lcv_model *m, int i) {
    if (i < 0 || i >= lcv_model_output_count(m)) return NULL;
    return m->g->values[m->g->outputs[i]].name;
}

static int value_info(const lcv_value *v, lcv_dtype *dtype, int64_t *dims, const char **names) {
    if (dtype) *dtype = v->dtype;
    for (int k = 0; k < v->ndim; k++) {
        if (dims) dims[k] = v->dims[k];
        if (names) names[k] = v->dim_params[k];
    }
    return v->ndim;
}

int lcv_model_input_info(const lcv_model *m, int i, lcv_dtype *dtype, int64_t *dims,
                         const char **dim_names) {
    if (i < 0 || i >= lcv_model_input_count(m)) return -1;
    return value_info(&m->g->values[m->g->inputs[i]], dtype, dims, dim_names);
}

int lcv_model_output_info(const lcv_model *m, int i, lcv_dtype *dtype, int64_t *dims,
                          const char **dim_names) {
    if (i < 0 || i >= lcv_model_output_count(m)) return -1;
    const lcv_value *declared = &m->declared[i];
    const lcv_value *v = declared->ndim >= 0 ? declared : &m->g->values[m->g->outputs[i]];
    int r = value_info(v, dtype, dims, dim_names);
    if (dtype && *dtype == LCV_DTYPE_UNDEFINED) *dtype = m->g->values[m->g->outputs[i]].dtype;
    return r;
}

void lcv_model_get_stats(const lcv_model *m, lcv_model_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (m && m->loaded) *out = m->stats;
}

static const char *act_name(lcv_act_kind act) {
    switch (act) {
    case LCV_ACT_NONE: return "";
    case LCV_ACT_RELU: return "relu";
    case LCV_ACT_CLIP: return "clip";
    case LCV_ACT_LEAKYRELU: return "leakyrelu";
    case LCV_ACT_SIGMOID: return "sigmoid";
    case LCV_ACT_HARDSIGMOID: return "hardsigmoid";
    case LCV_ACT_HARDSWISH: return "hardswish";
    case LCV_ACT_SILU: return "silu";
    case LCV_ACT_TANH: return "tanh";
    case LCV_ACT_GELU: return "gelu";
    }
    return "unknown";
}

lcv_status lcv_model_node_info(const lcv_model *m, int64_t i, lcv_node_info *out) {
    if (!m || !m->loaded || !out || i < 0 || i >= m->g->n_nodes) return LCV_ERR_INVALID_ARG;
    const lcv_node *n = &m->g->nodes[i];
    memset(out, 0, sizeof *out);
    out->name = n->name;
    out->op_type = n->op_type;
    out->domain = n->domain;
    out->input_count = n->n_in;
    out->output_count = n->n_out;
    out->out_ndim = -1;
    if (n->n_out > 0 && n->out[0] >= 0) {
        const lcv_value *v = &m->g->values[n->out[0]];
        out->out_ndim = v->ndim;
        for (int k = 0; k < v->ndim; k++) out->out_dims[k] = v->dims[k];
    }
    out->macs = m->node_macs[i];
    out->fused = act_name(n->fused.act);
    out->has_residual = n->fused.residual >= 0;
    return LCV_OK;
}

void lcv_buffer_free(void *p) { free(p); }

lcv_status lcv_model_convert(const void *data, size_t size, const lcv_model_params *params,
                             void **out, size_t *out_size, char *errbuf, size_t errcap) {
    if (errbuf && errcap) errbuf[0] = '\0';
    if (!out || !out_size) return LCV_ERR_INVALID_ARG;
    *out = NULL;
    *out_size = 0;
    lcv_model *m = model_alloc();
    if (!m) return LCV_ERR_NOMEM;
    lcv_model_params p = params ? *params : lcv_model_default_params();
    uint64_t max = p.max_bytes ? p.max_bytes : LCV_DEFAULT_MAX_BYTES;
    lcv_status st = LCV_OK;
    if (!data && size) st = lcv_fail(&m->err, LCV_ERR_INVALID_ARG, "data is NULL");
    else if (size > max)
        st = lcv_fail(&m->err, LCV_ERR_PARSE, "model buffer of %zu bytes exceeds the limit %llu",
                      size, (unsigned long long)max);
    if (st == LCV_OK) {
        apply_params(m, &p);
        m->export_only = true;
        st = import_any(m, data, size, p.external_data_dir, max);
    }
    if (st == LCV_OK) st = finish_load(m, p.free_input_dims);
    if (st == LCV_OK)
        st = lcv_lcvm_write(m->g, m->optimize || m->preoptimized ? LCV_LCVM_OPTIMIZED : 0, out,
                            out_size, &m->err);
    if (st != LCV_OK && errbuf && errcap) snprintf(errbuf, errcap, "%s", m->err.msg);
    lcv_model_free(m);
    return st;
}
