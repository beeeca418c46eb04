/* test_lcvm.c - leancv's own format (.lcvm): every model leancv loads (the repo's models,
 * tests/runtime, the ONNX backend test data) converted to .lcvm gives bit-identical outputs to
 * the ONNX model, converting the .lcvm again gives the same bytes, and damaged files (every
 * truncation, byte flips with a repaired checksum, hostile counts, another version) fail with
 * a message and no crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/lcvm/lcvm.h"
#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "onnx/model_feeds.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

typedef struct tally {
    int models, loaded, converted, refused, ran, nondeterministic;
} tally;

/* Whether the ONNX model has graph attributes (If/Loop subgraphs), which .lcvm refuses. */
static bool has_graph_attr(const void *onnx, size_t on) {
    lcv_graph *g = NULL;
    lcv_err e;
    bool found = false;
    if (lcv_onnx_import(onnx, on, NULL, 0, &g, &e) != LCV_OK) return false;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_attrs; k++)
            found = found || g->nodes[i].attrs[k].type == LCV_ATTR_GRAPH ||
                    g->nodes[i].attrs[k].type == LCV_ATTR_GRAPHS;
    lcv_graph_free(g);
    return found;
}

static void compare(const char *label, const void *onnx, size_t on, const char *data_dir,
                    tally *t) {
    lcv_model *mo = NULL, *ml = NULL;
    lcv_session *sa = NULL, *sb = NULL, *sl = NULL;
    void *l1 = NULL, *l2 = NULL;
    size_t n1 = 0, n2 = 0;
    char err[512];
    feeds f;
    memset(&f, 0, sizeof f);
    t->models++;
    if (lcv_model_load_buffer(onnx, on, NULL, &mo) != LCV_OK) goto done;
    t->loaded++;
    lcv_status st = lcv_model_convert(onnx, on, NULL, &l1, &n1, err, sizeof err);
    if (st == LCV_ERR_UNSUPPORTED && has_graph_attr(onnx, on)) {
        t->refused++;
        goto done;
    }
    CHECK_MSG(st == LCV_OK, "%s: convert failed: %s", label, err);
    if (st != LCV_OK) goto done;
    st = lcv_model_convert(l1, n1, NULL, &l2, &n2, err, sizeof err);
    CHECK_MSG(st == LCV_OK && n1 == n2 && memcmp(l1, l2, n1) == 0,
              "%s: converting the .lcvm again changes it (%s)", label, err);
    t->converted++;
    st = lcv_model_load_buffer(l1, n1, NULL, &ml);
    CHECK_MSG(st == LCV_OK, "%s: the .lcvm does not load: %s", label, lcv_model_errmsg(ml));
    if (st != LCV_OK || !make_feeds(mo, data_dir, &f)) goto done;
    CHECK(lcv_model_output_count(ml) == lcv_model_output_count(mo));
    if (lcv_session_create(mo, NULL, &sa) != LCV_OK || lcv_session_create(mo, NULL, &sb) != LCV_OK ||
        lcv_session_create(ml, NULL, &sl) != LCV_OK)
        goto done;
    const lcv_tensor *const *in = (const lcv_tensor *const *)f.t;
    if (lcv_session_run(sa, f.n, f.names, in) != LCV_OK) goto done;
    CHECK_MSG(lcv_session_run(sl, f.n, f.names, in) == LCV_OK, "%s: the .lcvm fails: %s", label,
              lcv_session_errmsg(sl));
    if (lcv_session_run(sb, f.n, f.names, in) != LCV_OK) goto done;
    int n_out = lcv_model_output_count(mo);
    if (!outputs_eq(sa, sb, n_out)) {
        t->nondeterministic++;
        goto done;
    }
    t->ran++;
    CHECK_MSG(outputs_eq(sa, sl, n_out), "%s: outputs differ after .lcvm", label);
done:
    lcv_session_free(sa);
    lcv_session_free(sb);
    lcv_session_free(sl);
    feeds_free(&f);
    lcv_model_free(mo);
    lcv_model_free(ml);
    lcv_buffer_free(l1);
    lcv_buffer_free(l2);
}

static void compare_file(const char *path, const char *data_dir, const char *label, tally *t) {
    void *d = NULL;
    size_t n = 0;
    lcv_err e;
    if (lcv_read_file(path, (uint64_t)1 << 30, &d, &n, &e) != LCV_OK) return;
    compare(label, d, n, data_dir, t);
    free(d);
}

static void visit(const char *path, const char *data_dir, const char *label, void *ctx) {
    compare_file(path, data_dir, label, ctx);
}

static void each_model(const char *dir, bool test_dirs, const char *prefix, tally *t) {
    CHECK_MSG(each_model_file(dir, test_dirs, prefix, visit, t), "cannot open %s", dir);
}

static void test_models(void) {
    tally t;
    memset(&t, 0, sizeof t);
    each_model("models", false, "models", &t);
    each_model("tests/runtime", false, "runtime", &t);
    int before = t.ran;
    static const char *const folders[] = {"node", "pytorch-converted", "pytorch-operator"};
    for (int k = 0; k < 3; k++) {
        char dir[256];
        snprintf(dir, sizeof dir, TESTDATA "/%s", folders[k]);
        each_model(dir, true, folders[k], &t);
    }
    printf("lcvm: %d models, %d load, %d converted, %d refused (graph attributes), %d compared "
           "after running, %d nondeterministic\n", t.models, t.loaded, t.converted, t.refused,
           t.ran, t.nondeterministic);
    CHECK(before >= 2 && t.ran > 900 && t.converted + t.refused == t.loaded);
}

static void reseal(uint8_t *p, size_t n) {
    uint64_t h = lcv_lcvm_checksum(p, n - 8);
    for (int b = 0; b < 8; b++) p[n - 8 + (size_t)b] = (uint8_t)(h >> (8 * b));
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--) v = v << 8 | p[b];
    return v;
}

static lcv_status load(const void *p, size_t n, char *msg, size_t cap) {
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_buffer(p, n, NULL, &m);
    snprintf(msg, cap, "%s", lcv_model_errmsg(m));
    lcv_model_free(m);
    return st;
}

/* A bit flipped in every byte of a small model's .lcvm, checksum repaired so the parser itself
 * meets the damage: each load fails with a message or succeeds (a changed name or weight), and
 * flips in counts, indices and types must be refused. */
static void flips(const char *path) {
    void *d = NULL, *l = NULL;
    size_t n = 0, ln = 0;
    lcv_err e;
    char err[512], msg[600];
    CHECK(lcv_read_file(path, (uint64_t)1 << 30, &d, &n, &e) == LCV_OK);
    CHECK(lcv_model_convert(d, n, NULL, &l, &ln, err, sizeof err) == LCV_OK && ln > 100);
    free(d);
    uint8_t *buf = malloc(ln);
    int refused = 0, tried = 0;
    for (size_t k = 4; l && buf && k + 8 < ln; k++, tried++) {
        memcpy(buf, l, ln);
        buf[k] ^= (uint8_t)(1u << (k % 8));
        reseal(buf, ln);
        if (load(buf, ln, msg, sizeof msg) != LCV_OK) {
            refused++;
            CHECK_MSG(msg[0] != '\0', "byte %zu: failure without a message", k);
        }
    }
    printf("lcvm: %d of %d single-bit flips refused (%s)\n", refused, tried, path);
    CHECK(refused > tried / 20);
    free(buf);
    lcv_buffer_free(l);
}

static void test_damage(void) {
    void *d = NULL, *l = NULL;
    size_t n = 0, ln = 0;
    lcv_err e;
    char err[512], msg[600];
    CHECK(lcv_read_file("models/fashion_cnn.onnx", (uint64_t)1 << 30, &d, &n, &e) == LCV_OK);
    CHECK(lcv_model_convert(d, n, NULL, &l, &ln, err, sizeof err) == LCV_OK && ln > 100);
    free(d);
    if (!l) return;
    uint8_t *buf = malloc(ln);
    /* every truncation (the checksum is read from the new end: it must not match) */
    int trunc_ok = 0;
    for (size_t k = 0; k < ln; k += k < 4096 ? 1 : 997)
        trunc_ok += load(l, k, msg, sizeof msg) == LCV_OK;
    CHECK(trunc_ok == 0);
    memcpy(buf, l, ln);
    buf[ln / 2] ^= 0x10;
    CHECK(load(buf, ln, msg, sizeof msg) == LCV_ERR_PARSE && strstr(msg, "checksum"));
    flips("tests/runtime/dyn_batch_cnn.onnx");
    /* another version */
    memcpy(buf, l, ln);
    buf[4] = 2;
    reseal(buf, ln);
    CHECK(load(buf, ln, msg, sizeof msg) == LCV_ERR_UNSUPPORTED && strstr(msg, "version 2"));
    /* a hostile value count: after the header (12), the graph name, ir_version and opsets */
    memcpy(buf, l, ln);
    size_t at = 12;
    at += 8 + (size_t)le64(buf + at) + 8;
    uint32_t n_ops = (uint32_t)le64(buf + at) & 0xffffffffu;
    at += 4;
    for (uint32_t i = 0; i < n_ops; i++) at += 8 + (size_t)le64(buf + at) + 8;
    CHECK(at + 4 < ln);
    buf[at] = buf[at + 1] = buf[at + 2] = 0xff;
    buf[at + 3] = 0x7f;
    reseal(buf, ln);
    CHECK(load(buf, ln, msg, sizeof msg) == LCV_ERR_PARSE && strstr(msg, "count exceeds") &&
          strstr(msg, "values"));
    CHECK(load("LCVM", 4, msg, sizeof msg) == LCV_ERR_PARSE && strstr(msg, "LCVM"));
    free(buf);
    lcv_buffer_free(l);
    /* convert refuses what it cannot read, with a message */
    void *o = (void *)1;
    size_t on = 5;
    CHECK(lcv_model_convert("junk", 4, NULL, &o, &on, err, sizeof err) != LCV_OK && !o && !on &&
          err[0]);
}

int main(void) {
    test_damage();
    test_models();
    return lcv_test_finish("lcvm");
}
