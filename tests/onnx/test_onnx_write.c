/* test_onnx_write.c - the ONNX writer: protobuf encodings read back by pbwire; every model that
 * leancv imports (the demo model, tests/runtime, the ONNX backend test data) must survive
 * import -> write -> import as an identical graph, writing that again must give the same
 * bytes, and every model that loads must give bit-identical outputs before and after. With
 * --write-dir DIR it only writes each model to DIR with a manifest.tsv (written, original) for
 * check_written.py, which runs onnx.checker and compares with ONNX's own parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "frontends/onnx/pbwire.h"
#include "frontends/onnx/pbwrite.h"
#include "harness.h"
#include "onnx/model_feeds.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

static const char *write_dir; /* --write-dir: write files for the Python checker only */
static FILE *manifest;

/* ---- protobuf writer against the reader ---- */

static void test_pbwrite(void) {
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT64_MAX,
                                    (uint64_t)(int64_t)-1, (uint64_t)1 << 63};
    lcv_pbw w;
    lcv_pbw_init(&w, 1 << 20);
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) lcv_pbw_varint(&w, 3, vals[k]);
    lcv_pbw_float(&w, 4, -2.5f);
    size_t outer = lcv_pbw_begin(&w, 5);
    lcv_pbw_string(&w, 1, "hello");
    size_t inner = lcv_pbw_begin(&w, 2);
    char big[300];
    memset(big, 'x', sizeof big);
    lcv_pbw_bytes(&w, 7, big, sizeof big); /* makes both lengths need two bytes */
    lcv_pbw_end(&w, inner);
    lcv_pbw_end(&w, outer);
    static const int64_t packed[] = {0, -1, 5, 1LL << 40};
    lcv_pbw_packed_int64(&w, 6, packed, 4);
    lcv_err e;
    CHECK(lcv_pbw_status(&w, &e) == LCV_OK);
    CHECK(w.len > 2 && w.buf[0] == (3 << 3)); /* field 3, varint */
    CHECK(w.len > 2 && w.buf[1] == 0);
    lcv_pb r, sub, sub2;
    lcv_pb_init(&r, w.buf, w.len);
    lcv_pb_field f;
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        CHECK(lcv_pb_next(&r, &f, &e) == LCV_OK && f.number == 3 && f.wire == LCV_PB_VARINT);
        CHECK(f.u == vals[k]);
    }
    CHECK(lcv_pb_next(&r, &f, &e) == LCV_OK && f.number == 4 && f.wire == LCV_PB_I32);
    float fv;
    uint32_t bits = (uint32_t)f.u;
    memcpy(&fv, &bits, 4);
    CHECK(fv == -2.5f);
    CHECK(lcv_pb_next(&r, &f, &e) == LCV_OK && f.number == 5 && f.wire == LCV_PB_LEN);
    CHECK(lcv_pb_sub(&r, &f, &sub, &e) == LCV_OK);
    CHECK(lcv_pb_next(&sub, &f, &e) == LCV_OK && f.number == 1 && f.len == 5 &&
          memcmp(lcv_pb_bytes(&sub, &f), "hello", 5) == 0);
    CHECK(lcv_pb_next(&sub, &f, &e) == LCV_OK && f.number == 2 && f.len == 303);
    CHECK(lcv_pb_sub(&sub, &f, &sub2, &e) == LCV_OK);
    CHECK(lcv_pb_next(&sub2, &f, &e) == LCV_OK && f.number == 7 && f.len == 300 &&
          lcv_pb_bytes(&sub2, &f)[299] == 'x');
    CHECK(!lcv_pb_more(&sub2) && !lcv_pb_more(&sub));
    lcv_pb_rep it;
    lcv_pb_rep_init(&it, &r, 6, LCV_PB_VARINT, "packed");
    for (int k = 0; k < 4; k++) {
        bool got = false;
        uint64_t v = 0;
        CHECK(lcv_pb_rep_next(&it, &got, &v, &e) == LCV_OK && got && (int64_t)v == packed[k]);
    }
    lcv_pbw_free(&w);
    /* Past the limit: sticky failure, later calls do nothing. */
    lcv_pbw_init(&w, 16);
    lcv_pbw_bytes(&w, 1, big, 20);
    size_t len = w.len;
    lcv_pbw_varint(&w, 2, 1);
    CHECK(w.len == len && lcv_pbw_status(&w, &e) == LCV_ERR_UNSUPPORTED && strstr(e.msg, "16"));
    lcv_pbw_free(&w);
}

/* ---- graph comparison ---- */

static bool str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static bool attr_eq(const lcv_attr *a, const lcv_attr *b) {
    if (!str_eq(a->name, b->name) || a->type != b->type) return false;
    switch (a->type) {
    case LCV_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case LCV_ATTR_INT: return a->i == b->i;
    case LCV_ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case LCV_ATTR_TENSOR: return tensor_eq(a->t, b->t);
    case LCV_ATTR_FLOATS:
        return a->n == b->n && (!a->n || !memcmp(a->floats, b->floats, (size_t)a->n * 4));
    case LCV_ATTR_INTS:
        return a->n == b->n && (!a->n || !memcmp(a->ints, b->ints, (size_t)a->n * 8));
    case LCV_ATTR_STRINGS:
        if (a->n != b->n) return false;
        for (int64_t k = 0; k < a->n; k++)
            if (!str_eq(a->strings[k], b->strings[k])) return false;
        return true;
    default: return true;
    }
}

static const char *vname(const lcv_graph *g, int id) { return id >= 0 ? g->values[id].name : ""; }

/* a and b are the same graph up to value ids; why says where they differ. */
static bool graph_eq(const lcv_graph *a, const lcv_graph *b, char *why, size_t cap) {
#define DIFF(...) return snprintf(why, cap, __VA_ARGS__), false
    if (a->name && !str_eq(a->name, b->name)) DIFF("graph name");
    if (a->ir_version != b->ir_version) DIFF("ir_version %lld vs %lld", (long long)a->ir_version,
                                             (long long)b->ir_version);
    if (a->n_opsets != b->n_opsets) DIFF("opset count");
    for (int k = 0; k < a->n_opsets; k++)
        if (!str_eq(a->opsets[k].domain, b->opsets[k].domain) ||
            a->opsets[k].version != b->opsets[k].version)
            DIFF("opset %d", k);
    if (a->n_nodes != b->n_nodes) DIFF("node count %d vs %d", a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const lcv_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (!str_eq(x->name, y->name) || !str_eq(x->op_type, y->op_type) ||
            !str_eq(x->domain, y->domain) || x->opset != y->opset || x->n_in != y->n_in ||
            x->n_out != y->n_out || x->n_attrs != y->n_attrs)
            DIFF("node %d '%s' header", i, x->name);
        for (int k = 0; k < x->n_in; k++)
            if (!str_eq(vname(a, x->in[k]), vname(b, y->in[k])))
                DIFF("node '%s' input %d", x->name, k);
        for (int k = 0; k < x->n_out; k++)
            if (!str_eq(vname(a, x->out[k]), vname(b, y->out[k])))
                DIFF("node '%s' output %d", x->name, k);
        for (int k = 0; k < x->n_attrs; k++)
            if (!attr_eq(&x->attrs[k], &y->attrs[k]))
                DIFF("node '%s' attribute '%s'", x->name, x->attrs[k].name);
    }
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs) DIFF("input/output count");
    for (int k = 0; k < a->n_inputs; k++)
        if (!str_eq(vname(a, a->inputs[k]), vname(b, b->inputs[k]))) DIFF("input %d", k);
    for (int k = 0; k < a->n_outputs; k++)
        if (!str_eq(vname(a, a->outputs[k]), vname(b, b->outputs[k]))) DIFF("output %d", k);
    if (a->n_values != b->n_values) DIFF("value count %d vs %d", a->n_values, b->n_values);
    for (int id = 0; id < a->n_values; id++) {
        const lcv_value *u = &a->values[id];
        int j = lcv_graph_find(b, u->name);
        if (j < 0) DIFF("value '%s' missing", u->name);
        const lcv_value *v = &b->values[j];
        if (u->dtype != v->dtype || u->ndim != v->ndim) DIFF("value '%s' type", u->name);
        for (int k = 0; k < u->ndim; k++)
            if (u->dims[k] != v->dims[k] || !str_eq(u->dim_params[k], v->dim_params[k]))
                DIFF("value '%s' dim %d", u->name, k);
        if (!tensor_eq(u->init, v->init)) DIFF("value '%s' data", u->name);
        if (u->is_input != v->is_input || u->is_output != v->is_output ||
            u->is_initializer != v->is_initializer)
            DIFF("value '%s' role", u->name);
        if ((u->producer < 0) != (v->producer < 0) ||
            (u->producer >= 0 && !str_eq(a->nodes[u->producer].name, b->nodes[v->producer].name)))
            DIFF("value '%s' producer", u->name);
    }
    return true;
#undef DIFF
}

static bool has_unwritable_attr(const lcv_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_attrs; k++) {
            lcv_attr_type t = g->nodes[i].attrs[k].type;
            if (t == LCV_ATTR_GRAPH || t == LCV_ATTR_GRAPHS || t == LCV_ATTR_TENSORS ||
                t >= LCV_ATTR_SPARSE_TENSOR)
                return true;
        }
    return false;
}

/* ---- running the original and the written model ---- */

typedef struct tally {
    int models, not_imported, refused, round_trips, ran, nondeterministic;
} tally;

/* Runs the original and the written model on the same inputs; returns false on a mismatch. */
static void compare_runs(const char *label, const void *orig, size_t on, const void *written,
                         size_t wn, const char *data_dir, tally *t) {
    lcv_model *mo = NULL, *mw = NULL;
    lcv_session *sa = NULL, *sb = NULL, *sw = NULL;
    feeds f;
    memset(&f, 0, sizeof f);
    if (lcv_model_load_buffer(orig, on, NULL, &mo) != LCV_OK) goto done;
    CHECK_MSG(lcv_model_load_buffer(written, wn, NULL, &mw) == LCV_OK, "%s: written model does "
              "not load: %s", label, lcv_model_errmsg(mw));
    if (!mw || !make_feeds(mo, data_dir, &f)) goto done;
    if (lcv_session_create(mo, NULL, &sa) != LCV_OK ||
        lcv_session_create(mo, NULL, &sb) != LCV_OK ||
        lcv_session_create(mw, NULL, &sw) != LCV_OK)
        goto done;
    const lcv_tensor *const *in = (const lcv_tensor *const *)f.t;
    if (lcv_session_run(sa, f.n, f.names, in) != LCV_OK) goto done;
    CHECK_MSG(lcv_session_run(sw, f.n, f.names, in) == LCV_OK, "%s: written model fails: %s",
              label, lcv_session_errmsg(sw));
    if (lcv_session_run(sb, f.n, f.names, in) != LCV_OK) goto done;
    int n_out = lcv_model_output_count(mo);
    CHECK(lcv_model_output_count(mw) == n_out);
    if (!outputs_eq(sa, sb, n_out)) {
        t->nondeterministic++;
        goto done;
    }
    t->ran++;
    CHECK_MSG(outputs_eq(sa, sw, n_out), "%s: outputs differ after the round trip", label);
done:
    lcv_session_free(sa);
    lcv_session_free(sb);
    lcv_session_free(sw);
    feeds_free(&f);
    lcv_model_free(mo);
    lcv_model_free(mw);
}

/* import -> write -> import -> write on one file; then outputs before and after. */
static void round_trip(const char *path, const char *data_dir, const char *label, tally *t) {
    void *d = NULL, *w1 = NULL, *w2 = NULL;
    size_t n = 0, n1 = 0, n2 = 0;
    lcv_err e;
    lcv_graph *g1 = NULL, *g2 = NULL;
    if (lcv_read_file(path, (uint64_t)1 << 30, &d, &n, &e) != LCV_OK) return;
    t->models++;
    if (lcv_onnx_import(d, n, NULL, 0, &g1, &e) != LCV_OK) {
        t->not_imported++;
        goto done;
    }
    lcv_status st = lcv_onnx_write_graph(g1, 0, &w1, &n1, &e);
    if (st == LCV_ERR_UNSUPPORTED && has_unwritable_attr(g1)) {
        t->refused++;
        goto done;
    }
    CHECK_MSG(st == LCV_OK, "%s: write failed: %s", label, e.msg);
    if (st != LCV_OK) goto done;
    st = lcv_onnx_import(w1, n1, NULL, 0, &g2, &e);
    CHECK_MSG(st == LCV_OK, "%s: the written model does not import: %s", label, e.msg);
    if (st != LCV_OK) goto done;
    char why[256] = "";
    CHECK_MSG(graph_eq(g1, g2, why, sizeof why), "%s: graphs differ: %s", label, why);
    CHECK(lcv_onnx_write_graph(g2, 0, &w2, &n2, &e) == LCV_OK);
    CHECK_MSG(n1 == n2 && w2 && memcmp(w1, w2, n1) == 0, "%s: second write differs", label);
    t->round_trips++;
    if (write_dir) {
        char out[1024];
        snprintf(out, sizeof out, "%s/%s.onnx", write_dir, label);
        for (char *p = out + strlen(write_dir) + 1; *p; p++)
            if (*p == '/') *p = '_';
        FILE *fo = fopen(out, "wb");
        CHECK_MSG(fo && fwrite(w1, 1, n1, fo) == n1, "cannot write %s", out);
        if (fo) fclose(fo);
        fprintf(manifest, "%s\t%s\n", out, path);
        goto done;
    }
    compare_runs(label, d, n, w1, n1, data_dir, t);
done:
    lcv_graph_free(g1);
    lcv_graph_free(g2);
    free(d);
    free(w1);
    free(w2);
}

static void visit(const char *path, const char *data_dir, const char *label, void *ctx) {
    round_trip(path, data_dir, label, ctx);
}

static void each_model(const char *dir, bool test_dirs, const char *prefix, tally *t) {
    CHECK_MSG(each_model_file(dir, test_dirs, prefix, visit, t), "cannot open %s", dir);
}

static void test_round_trips(void) {
    tally t;
    memset(&t, 0, sizeof t);
    each_model("models", false, "models", &t);
    each_model("tests/runtime", false, "runtime", &t);
    int before = t.models;
    static const char *const folders[] = {"node", "pytorch-converted", "pytorch-operator"};
    for (int k = 0; k < 3; k++) {
        char dir[256];
        snprintf(dir, sizeof dir, TESTDATA "/%s", folders[k]);
        each_model(dir, true, folders[k], &t);
    }
    printf("onnx_write: %d models, %d not imported, %d refused (graph attributes), %d round "
           "trips, %d compared after running, %d nondeterministic\n", t.models, t.not_imported,
           t.refused, t.round_trips, t.ran, t.nondeterministic);
    CHECK(before >= 2 && t.models > before + 1000);
    CHECK(t.round_trips + t.refused + t.not_imported == t.models);
    CHECK(write_dir || t.ran > 900);
}

/* Refusals with a message. */
static void test_errors(void) {
    lcv_err e;
    void *d = (void *)1;
    size_t n = 7;
    CHECK(lcv_onnx_write_graph(NULL, 13, &d, &n, &e) == LCV_ERR_INVALID_ARG);
    lcv_graph *g = lcv_graph_new();
    CHECK(lcv_onnx_write_graph(g, 0, &d, &n, &e) == LCV_ERR_INVALID_ARG && d == NULL && n == 0);
    CHECK(strstr(e.msg, "opset") != NULL);
    const char *in[1] = {"x"}, *out[1] = {"y"};
    lcv_node *node = NULL;
    lcv_attr *a = NULL;
    CHECK(lcv_graph_add_node(g, "loop", "If", "", 1, in, 1, out, &node, &e) == LCV_OK);
    CHECK(lcv_node_add_attr(node, "then_branch", &a, &e) == LCV_OK);
    a->type = LCV_ATTR_GRAPH;
    CHECK(lcv_onnx_write_graph(g, 13, &d, &n, &e) == LCV_ERR_UNSUPPORTED && d == NULL);
    CHECK(strstr(e.msg, "then_branch") && strstr(e.msg, "loop"));
    a->type = LCV_ATTR_INTS; /* an empty ints attribute is fine */
    CHECK(lcv_onnx_write_graph(g, 13, &d, &n, &e) == LCV_OK && d && n > 0);
    free(d);
    lcv_graph_free(g);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-dir") == 0) {
        write_dir = argv[2];
        char mpath[1024];
        snprintf(mpath, sizeof mpath, "%s/manifest.tsv", write_dir);
        manifest = fopen(mpath, "w");
        if (!manifest) {
            fprintf(stderr, "cannot write %s\n", mpath);
            return 1;
        }
        test_round_trips();
        fclose(manifest);
        return lcv_test_finish("onnx_write --write-dir");
    }
    test_pbwrite();
    test_errors();
    test_round_trips();
    return lcv_test_finish("onnx_write");
}
