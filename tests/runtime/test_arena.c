/* test_arena.c - sessions on the planned arena: graph outputs stay intact while later tensors
 * reuse memory, a dynamic batch re-plans (results match the reference kernels at every batch,
 * the arena grows with the batch, the load-time statistic equals the batch-1 arena), two
 * sessions of one model run on two threads with different batches, a node whose output shape
 * comes from run-time data gets its own buffer and follows the data, and the constants a plan
 * packed or the optimizer replaced are freed at load while results stay right. */
#include <pthread.h>
#include <stdio.h>

#include "graph_build.h"

#define DYN_MODEL "tests/runtime/dyn_batch_cnn.onnx"
#define FASHION_MODEL "models/fashion_cnn.onnx"

static lcv_model *load(const char *path, int reference) {
    lcv_model_params p = lcv_model_default_params();
    p.reference_kernels = reference;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(path, &p, &m);
    CHECK_MSG(st == LCV_OK, "%s", m ? lcv_model_errmsg(m) : "out of memory");
    if (st == LCV_OK) return m;
    lcv_model_free(m);
    return NULL;
}

static const lcv_tensor *run(lcv_session *s, const char *name, const lcv_tensor *x) {
    const char *names[] = {name};
    const lcv_tensor *ins[] = {x};
    lcv_status st = lcv_session_run(s, 1, names, ins);
    CHECK_MSG(st == LCV_OK, "%s", lcv_session_errmsg(s));
    return st == LCV_OK ? lcv_session_output(s, 0) : NULL;
}

static double max_diff(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b || lcv_tensor_numel(a) != lcv_tensor_numel(b)) return INFINITY;
    const float *x = a->data, *y = b->data;
    double m = 0;
    for (int64_t i = 0; i < lcv_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* y is an output early in the graph and read again; big tensors after it would gladly take
 * its place. w = |-(y * 2)| + big-chain result. */
static void test_outputs_intact(void) {
    lcv_graph *g = lcv_graph_new();
    int64_t d[2] = {4, 300};
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 2, d);
    gb_node(g, "Relu", "x", "y", 17);
    gb_node(g, "Neg", "y", "n", 17);
    gb_node(g, "Add", "n n", "n2", 17);
    gb_node(g, "Abs", "n2", "a", 17);
    gb_node(g, "Exp", "x", "e1", 17);
    gb_node(g, "Neg", "e1", "e2", 17);
    gb_node(g, "Mul", "e2 e2", "e3", 17);
    gb_node(g, "Sub", "a y", "w", 17); /* |-2y| - y = y */
    gb_node(g, "Add", "e3 w", "z", 17);
    gb_output(g, "y");
    gb_output(g, "w");
    gb_output(g, "z");
    lcv_model *m = gb_model(g, 1, 0);
    if (!m) return;
    lcv_tensor *x1 = gb_tensor(LCV_DTYPE_FLOAT32, 2, d, 1), *x2 = gb_tensor(LCV_DTYPE_FLOAT32, 2, d, 2);
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    const char *names[] = {"x"};
    const lcv_tensor *in1[] = {x1}, *in2[] = {x2};
    lcv_tensor *keep[3] = {NULL, NULL, NULL};
    for (int round = 0; round < 3; round++) {
        const lcv_tensor *const *in = round == 1 ? in2 : in1;
        CHECK(lcv_session_run(s, 1, names, in) == LCV_OK);
        const lcv_tensor *y = lcv_session_output(s, 0), *w = lcv_session_output(s, 1),
                         *z = lcv_session_output(s, 2);
        CHECK(y && w && z);
        if (!y || !w || !z) break;
        const float *px = in[0]->data, *py = y->data, *pw = w->data, *pz = z->data;
        int bad = 0;
        for (int i = 0; i < 1200; i++) {
            float r = px[i] > 0 ? px[i] : 0, e = expf(px[i]);
            if (py[i] != r || pw[i] != r || fabsf(pz[i] - (e * e + r)) > 1e-4f * (1 + e * e)) bad++;
        }
        CHECK_MSG(bad == 0, "round %d: %d wrong output elements", round, bad);
        /* outputs do not overlap each other */
        CHECK(y->data != w->data && w->data != z->data && y->data != z->data);
        if (round == 0) {
            for (int o = 0; o < 3; o++) {
                const lcv_tensor *t = lcv_session_output(s, o);
                CHECK(lcv_tensor_create(t->dtype, t->ndim, t->dims, &keep[o]) == LCV_OK);
                if (keep[o]) memcpy(keep[o]->data, t->data, lcv_tensor_nbytes(t));
            }
        } else if (round == 2) {
            for (int o = 0; o < 3; o++) CHECK(gb_same(keep[o], lcv_session_output(s, o)));
        }
    }
    size_t arena = 0, total = 0;
    lcv_session_memory(s, &arena, &total, NULL);
    CHECK(arena > 0 && arena < total);
    for (int o = 0; o < 3; o++) lcv_tensor_free(keep[o]);
    lcv_tensor_free(x1);
    lcv_tensor_free(x2);
    lcv_session_free(s);
    lcv_model_free(m);
}

static lcv_tensor *dyn_input(int64_t batch, uint32_t seed) {
    int64_t d[4] = {batch, 2, 6, 6};
    return gb_tensor(LCV_DTYPE_FLOAT32, 4, d, seed);
}

static void test_dyn_batch(void) {
    lcv_model *m = load(DYN_MODEL, 0), *r = load(DYN_MODEL, 1);
    if (!m || !r) goto out;
    lcv_session *s = NULL, *sr = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    CHECK(lcv_session_create(r, NULL, &sr) == LCV_OK);
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    CHECK(st.peak_activation_bytes > 0 && st.peak_activation_bytes < st.activation_bytes);
    static const int64_t batches[] = {1, 3, 7, 2, 7, 1};
    size_t arena_at[8] = {0};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        lcv_tensor *x = dyn_input(batches[i], (uint32_t)i);
        const lcv_tensor *y = run(s, "x", x), *yr = run(sr, "x", x);
        CHECK(y && lcv_tensor_ndim(y) == 2 && lcv_tensor_dim(y, 0) == batches[i]);
        CHECK_MSG(max_diff(y, yr) <= 1e-4, "batch %lld: diff %g", (long long)batches[i],
                  max_diff(y, yr));
        size_t arena = 0, total = 0;
        lcv_session_memory(s, &arena, &total, NULL);
        CHECK(arena > 0 && arena <= total);
        if (arena_at[batches[i]]) CHECK(arena_at[batches[i]] == arena); /* same plan again */
        arena_at[batches[i]] = arena;
        if (batches[i] == 1) CHECK((int64_t)arena == st.peak_activation_bytes);
        lcv_tensor_free(x);
    }
    CHECK(arena_at[7] > arena_at[3] && arena_at[3] > arena_at[1]);
    lcv_session_free(s);
    lcv_session_free(sr);
out:
    lcv_model_free(m);
    lcv_model_free(r);
    /* the same agreement between statistic and session on the demo model */
    lcv_model *f = load(FASHION_MODEL, 0);
    if (!f) return;
    lcv_model_get_stats(f, &st);
    lcv_session *fs = NULL;
    CHECK(lcv_session_create(f, NULL, &fs) == LCV_OK);
    int64_t d[4] = {1, 1, 28, 28};
    lcv_tensor *img = gb_tensor(LCV_DTYPE_FLOAT32, 4, d, 3);
    CHECK(run(fs, "image", img) != NULL);
    size_t arena = 0, total = 0;
    lcv_session_memory(fs, &arena, &total, NULL);
    CHECK((int64_t)arena == st.peak_activation_bytes && (int64_t)total == st.activation_bytes);
    CHECK(st.peak_activation_bytes < st.activation_bytes);
    lcv_tensor_free(img);
    lcv_session_free(fs);
    lcv_model_free(f);
}

/* ---- two sessions of one model on two threads ---- */

#define WORKER_RUNS 150

typedef struct worker {
    const lcv_model *m;
    int threads;             /* the session's own pool */
    int64_t batch[2];        /* alternated, so every run re-plans */
    const lcv_tensor *x[2];
    const lcv_tensor *want[2];
    int mismatches, failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    lcv_session_params p = lcv_session_default_params();
    p.threads = w->threads;
    lcv_session *s = NULL;
    if (lcv_session_create(w->m, &p, &s) != LCV_OK) {
        w->failures++;
        return NULL;
    }
    const char *names[] = {"x"};
    for (int i = 0; i < WORKER_RUNS; i++) {
        const lcv_tensor *ins[] = {w->x[i % 2]};
        if (lcv_session_run(s, 1, names, ins) != LCV_OK) {
            w->failures++;
            continue;
        }
        if (!gb_same(lcv_session_output(s, 0), w->want[i % 2])) w->mismatches++;
    }
    lcv_session_free(s);
    return NULL;
}

static void test_threads(void) {
    lcv_model *m = load(DYN_MODEL, 0);
    if (!m) return;
    static const int64_t batches[4] = {1, 3, 2, 5};
    lcv_tensor *x[4], *want[4];
    for (int i = 0; i < 4; i++) {
        x[i] = dyn_input(batches[i], 40u + (uint32_t)i);
        want[i] = NULL;
        lcv_session *s = NULL;
        CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
        const lcv_tensor *y = s ? run(s, "x", x[i]) : NULL;
        if (y && lcv_tensor_create(y->dtype, y->ndim, y->dims, &want[i]) == LCV_OK)
            memcpy(want[i]->data, y->data, lcv_tensor_nbytes(y));
        lcv_session_free(s);
    }
    worker w[2] = {{m, 1, {1, 3}, {x[0], x[1]}, {want[0], want[1]}, 0, 0},
                   {m, 2, {2, 5}, {x[2], x[3]}, {want[2], want[3]}, 0, 0}};
    pthread_t t[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, work, &w[i]) == 0) started |= 1 << i;
    for (int i = 0; i < 2; i++)
        if (started >> i & 1) pthread_join(t[i], NULL);
    CHECK(started == 3);
    for (int i = 0; i < 2; i++)
        CHECK_MSG(w[i].mismatches == 0 && w[i].failures == 0,
                  "thread %d: %d mismatches, %d failures", i, w[i].mismatches, w[i].failures);
    for (int i = 0; i < 4; i++) {
        lcv_tensor_free(x[i]);
        lcv_tensor_free(want[i]);
    }
    lcv_model_free(m);
}

/* Reshape to a shape fed at run time: the input shapes stay the same, the output's follows the
 * data of every run (the node and what it feeds are inferred during the run, in own buffers). */
static void test_data_dependent(void) {
    lcv_graph *g = lcv_graph_new();
    int64_t xd[2] = {2, 4}, two = 2;
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 2, xd);
    gb_input(g, "s", LCV_DTYPE_INT64, 1, &two);
    gb_node(g, "Neg", "x", "n", 17);
    gb_node(g, "Reshape", "n s", "r", 17);
    gb_node(g, "Relu", "r", "y", 17);
    gb_node(g, "Abs", "x", "z", 17); /* planned in the arena beside the run-time part */
    gb_output(g, "y");
    gb_output(g, "z");
    lcv_model *m = gb_model(g, 1, 0);
    if (!m) return;
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 2, xd, 8), *shape = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 1, &two, &shape) == LCV_OK);
    static const int64_t shapes[4][2] = {{4, 2}, {8, 1}, {1, 8}, {4, 2}};
    for (int i = 0; i < 4 && s && shape; i++) {
        memcpy(shape->data, shapes[i], sizeof shapes[i]);
        const char *names[] = {"x", "s"};
        const lcv_tensor *ins[] = {x, shape};
        CHECK_MSG(lcv_session_run(s, 2, names, ins) == LCV_OK, "%s", lcv_session_errmsg(s));
        const lcv_tensor *y = lcv_session_output(s, 0), *z = lcv_session_output(s, 1);
        CHECK(y && y->ndim == 2 && y->dims[0] == shapes[i][0] && y->dims[1] == shapes[i][1]);
        CHECK(z && z->ndim == 2 && z->dims[0] == 2);
        if (!y || !z) continue;
        const float *px = x->data, *py = y->data, *pz = z->data;
        for (int k = 0; k < 8; k++) {
            CHECK(py[k] == (px[k] < 0 ? -px[k] : 0.0f));
            CHECK(pz[k] == fabsf(px[k]));
        }
    }
    lcv_tensor_free(x);
    lcv_tensor_free(shape);
    lcv_session_free(s);
    lcv_model_free(m);
}

/* ---- constants freed at load ---- */

static lcv_graph *weights_graph(void) {
    lcv_graph *g = lcv_graph_new();
    int64_t xd[4] = {-1, 4, 5, 5}, w1[4] = {6, 4, 3, 3}, c6 = 6, wd[4] = {6, 1, 3, 3},
            w2[4] = {6, 6, 1, 1}, bd[2] = {6, 5}, c5 = 5, md[2] = {5, 3};
    const double v[] = {0.3, -0.2, 0.5, 0.1, -0.4, 0.25, 0.05}, var[] = {1.5, 0.5, 2};
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 4, xd);
    gb_const(g, "W1", LCV_DTYPE_FLOAT32, 4, w1, v, 7);
    gb_const(g, "s", LCV_DTYPE_FLOAT32, 1, &c6, v, 7);
    gb_const(g, "b", LCV_DTYPE_FLOAT32, 1, &c6, v + 1, 6);
    gb_const(g, "m", LCV_DTYPE_FLOAT32, 1, &c6, v + 2, 5);
    gb_const(g, "v", LCV_DTYPE_FLOAT32, 1, &c6, var, 3);
    gb_const(g, "Wdw", LCV_DTYPE_FLOAT32, 4, wd, v, 7);
    gb_const(g, "W2", LCV_DTYPE_FLOAT32, 4, w2, v + 3, 4);
    gb_const(g, "B", LCV_DTYPE_FLOAT32, 2, bd, v, 7);
    gb_const(g, "C", LCV_DTYPE_FLOAT32, 1, &c5, v, 7);
    gb_const(g, "M", LCV_DTYPE_FLOAT32, 2, md, v + 1, 6);
    lcv_node *n = gb_node(g, "Conv", "x W1", "c1", 17);
    gb_attr_int(n, "group", 1);
    static const int64_t pads[4] = {1, 1, 1, 1};
    lcv_attr *a = NULL;
    CHECK(lcv_node_add_attr(n, "pads", &a, &gb_err) == LCV_OK);
    if (a) {
        a->type = LCV_ATTR_INTS;
        a->n = 4;
        a->ints = malloc(sizeof pads);
        if (a->ints) memcpy(a->ints, pads, sizeof pads);
    }
    gb_node(g, "BatchNormalization", "c1 s b m v", "bn", 17);
    gb_node(g, "Relu", "bn", "r", 17);
    n = gb_node(g, "Conv", "r Wdw", "dw", 17);
    gb_attr_int(n, "group", 6);
    gb_node(g, "Conv", "dw W2", "p1", 17); /* W2 has two readers: it stays */
    gb_node(g, "Conv", "p1 W2", "p2", 17);
    gb_node(g, "GlobalAveragePool", "p2", "gap", 17);
    gb_node(g, "Flatten", "gap", "f", 17);
    gb_node(g, "Gemm", "f B C", "gm", 17);
    gb_node(g, "MatMul", "gm M", "y", 17);
    gb_output(g, "y");
    return g;
}

static const lcv_tensor *constant(const lcv_model *m, const char *name) {
    int id = lcv_graph_find(m->g, name);
    return id >= 0 ? m->g->values[id].init : NULL;
}

static void test_weights(void) {
    lcv_model *m = gb_model(weights_graph(), 1, 0), *r = gb_model(weights_graph(), 1, 1);
    if (!m || !r) goto out;
    /* BatchNorm folded into the conv: the originals and the BN parameters are unread */
    static const char *const unread[] = {"W1", "s", "b", "m", "v"};
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(constant(m, unread[i]) == NULL, "%s kept", unread[i]);
        CHECK_MSG(constant(r, unread[i]) == NULL, "%s kept (reference)", unread[i]);
    }
    /* packed by a plan and read by nothing else: shape kept, data freed */
    static const char *const packed[] = {"B", "C", "M"};
    for (int i = 0; i < 3; i++) {
        const lcv_tensor *t = constant(m, packed[i]), *tr = constant(r, packed[i]);
        CHECK_MSG(t && !t->data && t->ndim >= 1, "%s: data kept", packed[i]);
        CHECK_MSG(tr && tr->data, "%s: the reference kernels need it", packed[i]);
    }
    const lcv_node *c1 = &m->g->nodes[m->g->values[lcv_graph_find(m->g, "r")].producer];
    CHECK(c1->op == LCV_OP_Conv && c1->fused.act == LCV_ACT_RELU);
    const lcv_tensor *folded = m->g->values[c1->in[1]].init;
    CHECK(folded && !folded->data && folded->dims[0] == 6); /* the BN-folded weights, packed */
    CHECK(constant(m, "Wdw") && constant(m, "Wdw")->data); /* depthwise reads them in place */
    CHECK(constant(m, "W2") && constant(m, "W2")->data);   /* two readers */
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    CHECK(st.weight_bytes == 4 * (6 * 4 * 9 + 4 * 6 + 6 * 9 + 36 + 30 + 5 + 15));
    lcv_session *s = NULL, *sr = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    CHECK(lcv_session_create(r, NULL, &sr) == LCV_OK);
    for (int64_t batch = 1; batch <= 3 && s && sr; batch++) {
        int64_t d[4] = {batch, 4, 5, 5};
        lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 4, d, 11);
        const lcv_tensor *y = run(s, "x", x), *yr = run(sr, "x", x);
        CHECK(y && lcv_tensor_dim(y, 0) == batch && lcv_tensor_dim(y, 1) == 3);
        CHECK_MSG(max_diff(y, yr) <= 1e-5, "batch %lld: diff %g", (long long)batch,
                  max_diff(y, yr));
        lcv_tensor_free(x);
    }
    lcv_session_free(s);
    lcv_session_free(sr);
out:
    lcv_model_free(m);
    lcv_model_free(r);
}

int main(void) {
    test_outputs_intact();
    test_dyn_batch();
    test_threads();
    test_data_dependent();
    test_weights();
    return lcv_test_finish("runtime_arena");
}
