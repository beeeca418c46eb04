/* test_autodiff.c - the autodiff engine (src/train/autodiff.c) on a small CNN built in C:
 * Conv-BN-Relu, a 1x1 Conv whose input also feeds a residual Add (a value with two consumers),
 * a layer-scale Mul, MaxPool, Reshape, Gemm and a constant Add. Every parameter's gradient of
 * the cross-entropy loss (batch 3) is compared with central finite differences of the whole
 * graph evaluated in float64 (reference kernels; BatchNormalization with batch statistics
 * written out here), for every ISA level; also with a second seed on an intermediate value
 * (feature distillation), bit-identical gradients for 1 and 2 threads and with bn1's Relu
 * folded into it or kept apart, the classification of initializers, BatchNormalization's
 * running statistics, seeded Dropout masks, and the errors at creation. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "train/autodiff.h"
#include "train/loss.h"
#include "train_graph.h"

#define BATCH 3
#define CLASSES 5

static const int64_t XDIMS[4] = {BATCH, 2, 7, 7};

/* The test CNN; the input batch dim is dynamic. With `split`, an Identity between bn1 and relu1
 * keeps the engine from folding the Relu into the BatchNorm (the same function). */
static lcv_graph *make_cnn_split(uint64_t seed, bool split) {
    lcv_graph *g = lcv_graph_new();
    uint64_t s = seed;
    lcv_err e;
    lcv_graph_add_opset(g, "", 13, &e);
    int64_t xd[4] = {-1, 2, 7, 7};
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 4, xd);
    int64_t w1[4] = {4, 2, 3, 3}, c4[1] = {4}, w2[4] = {4, 4, 1, 1}, ls[3] = {4, 1, 1};
    int64_t w3[2] = {CLASSES, 36}, b3[1] = {CLASSES};
    tg_init(g, "W1", 4, w1, -0.4, 0.4, NULL, &s);
    tg_init(g, "B1", 1, c4, -0.1, 0.1, NULL, &s);
    tg_init(g, "S1", 1, c4, 0.8, 1.2, NULL, &s);
    tg_init(g, "T1", 1, c4, -0.2, 0.2, NULL, &s);
    tg_init(g, "M1", 1, c4, -0.1, 0.1, NULL, &s);
    tg_init(g, "V1", 1, c4, 0.9, 1.1, NULL, &s);
    tg_init(g, "W2", 4, w2, -0.5, 0.5, NULL, &s);
    tg_init(g, "LS", 3, ls, 0.5, 1.5, NULL, &s);
    tg_init(g, "W3", 2, w3, -0.3, 0.3, NULL, &s);
    tg_init(g, "B3", 1, b3, -0.1, 0.1, NULL, &s);
    int64_t shape[2] = {-1, 36};
    tg_init_i64(g, "shape", 2, shape);
    double half = 0.5;
    tg_init(g, "c0", 0, NULL, 0, 0, &half, &s);
    lcv_node *n = tg_node(g, "conv1", "Conv", "x,W1,B1", "c1");
    tg_ints(n, "pads", 4, 1, 1, 1, 1);
    n = tg_node(g, "bn1", "BatchNormalization", "c1,S1,T1,M1,V1", split ? "b0" : "b1");
    tg_float(n, "momentum", 0.8f);
    if (split) tg_node(g, "keep", "Identity", "b0", "b1");
    tg_node(g, "relu1", "Relu", "b1", "r");
    tg_node(g, "conv2", "Conv", "r,W2", "c2");
    tg_node(g, "add1", "Add", "r,c2", "a");
    tg_node(g, "scale", "Mul", "a,LS", "m");
    n = tg_node(g, "pool", "MaxPool", "m", "p");
    tg_ints(n, "kernel_shape", 2, 2, 2);
    tg_ints(n, "strides", 2, 2, 2);
    tg_node(g, "flat", "Reshape", "p,shape", "f");
    n = tg_node(g, "fc", "Gemm", "f,W3,B3", "y");
    tg_int(n, "transB", 1);
    tg_node(g, "shift", "Add", "y,c0", "logits");
    tg_output(g, "logits");
    return g;
}

static lcv_graph *make_cnn(uint64_t seed) { return make_cnn_split(seed, false); }

/* ---- the float64 reference forward ---------------------------------------------------- */

static lcv_tensor *to_f64(const lcv_tensor *t) {
    lcv_tensor *d = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT64, t->ndim, t->dims, &d);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        ((double *)d->data)[i] = lcv_load_f64(t->dtype, t->data, i);
    return d;
}

/* BatchNormalization with batch statistics (biased variance), in float64. */
static void bn_train64(const lcv_node *n, lcv_tensor *const *in, lcv_tensor *out) {
    const lcv_tensor *x = in[0];
    int64_t N = x->dims[0], C = x->dims[1], S = lcv_tensor_numel(x) / (N * C);
    double eps = 1e-5;
    const lcv_attr *a = lcv_attr_find(n, "epsilon");
    if (a) eps = a->f;
    lcv_tensor_reshape_alloc(out, LCV_DTYPE_FLOAT64, x->ndim, x->dims, NULL);
    const double *xp = x->data, *sc = in[1]->data, *bi = in[2]->data;
    double *yp = out->data;
    for (int64_t c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++) m += xp[(b * C + c) * S + s];
        m /= (double)(N * S);
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++) {
                double d = xp[(b * C + c) * S + s] - m;
                v += d * d;
            }
        v /= (double)(N * S);
        double inv = 1.0 / sqrt(v + eps);
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++)
                yp[(b * C + c) * S + s] = (xp[(b * C + c) * S + s] - m) * inv * sc[c] + bi[c];
    }
}

/* Loss in float64: CE(logits, labels) + sum(r .* value[extra]) when extra >= 0. Parameter value
 * pv's element j is shifted by delta. */
static double loss64(lcv_graph *g, const lcv_tensor *x, const int64_t *labels, int pv, int64_t j,
                     double delta, int extra, const float *r) {
    lcv_tensor **vals = calloc((size_t)g->n_values, sizeof *vals);
    for (int v = 0; v < g->n_values; v++) {
        const lcv_tensor *t = g->values[v].init;
        if (!t) continue;
        if (t->dtype == LCV_DTYPE_FLOAT32) {
            vals[v] = to_f64(t);
        } else {
            lcv_tensor_create(t->dtype, t->ndim, t->dims, &vals[v]);
            lcv_tensor_copy_into(vals[v], t, NULL);
        }
    }
    ((double *)vals[pv]->data)[j] += delta;
    vals[g->inputs[0]] = to_f64(x);
    lcv_err e;
    double loss = NAN;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        lcv_tensor *ins[8], *outs[4];
        for (int k = 0; k < n->n_in; k++) ins[k] = n->in[k] >= 0 ? vals[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT64, 0, NULL, &outs[k]);
        if (n->op == LCV_OP_BatchNormalization) {
            bn_train64(n, ins, outs[0]);
        } else if (lcv_op_invoke(n, n->n_in, (const lcv_tensor *const *)ins, n->n_out, outs, &e) !=
                   LCV_OK) {
            fprintf(stderr, "float64 forward: %s\n", e.msg);
            goto done;
        }
        for (int k = 0; k < n->n_out; k++) vals[n->out[k]] = outs[k];
    }
    const lcv_tensor *lg = vals[g->outputs[0]];
    int64_t k = lg->dims[1];
    loss = 0;
    for (int64_t b = 0; b < lg->dims[0]; b++) {
        const double *row = (const double *)lg->data + b * k;
        double m = row[0], s = 0;
        for (int64_t c = 1; c < k; c++) m = row[c] > m ? row[c] : m;
        for (int64_t c = 0; c < k; c++) s += exp(row[c] - m);
        loss += -(row[labels[b]] - m - log(s)) / (double)lg->dims[0];
    }
    if (extra >= 0)
        for (int64_t i = 0; i < lcv_tensor_numel(vals[extra]); i++)
            loss += ((const double *)vals[extra]->data)[i] * r[i];
done:
    for (int v = 0; v < g->n_values; v++) lcv_tensor_free(vals[v]);
    free(vals);
    return loss;
}

/* ---- the checks ------------------------------------------------------------------------ */

typedef struct run_out {
    float *grads[16];
    int n;
} run_out;

static void run_out_free(run_out *o) {
    for (int i = 0; i < o->n; i++) free(o->grads[i]);
    o->n = 0;
}

/* One engine step: forward, CE seed (+ r on value `extra`), backward; copies the gradients. */
static lcv_status engine_grads(lcv_autodiff *ad, const lcv_tensor *x, const int64_t *labels,
                               int extra, const float *r, run_out *o, lcv_err *e) {
    lcv_graph *g = lcv_autodiff_graph(ad);
    lcv_status st = lcv_autodiff_forward(ad, 1, &x, true, 7, e);
    if (st != LCV_OK) return st;
    const lcv_tensor *lg = lcv_autodiff_value(ad, g->outputs[0]);
    lcv_tensor *seed = lcv_autodiff_seed(ad, g->outputs[0], e);
    if (!seed) return LCV_ERR_INVALID_ARG;
    double loss;
    st = lcv_loss_softmax_ce(lg->data, labels, lg->dims[0], lg->dims[1], 0, seed->data, &loss, e);
    if (st != LCV_OK) return st;
    if (extra >= 0) {
        lcv_tensor *s2 = lcv_autodiff_seed(ad, extra, e);
        if (!s2) return LCV_ERR_INVALID_ARG;
        memcpy(s2->data, r, lcv_tensor_nbytes(s2));
    }
    st = lcv_autodiff_backward(ad, e);
    if (st != LCV_OK) return st;
    o->n = lcv_autodiff_param_count(ad);
    for (int i = 0; i < o->n; i++) {
        const lcv_tensor *gr = lcv_autodiff_param_grad(ad, i);
        o->grads[i] = malloc(lcv_tensor_nbytes(gr));
        memcpy(o->grads[i], gr->data, lcv_tensor_nbytes(gr));
    }
    return LCV_OK;
}

static void compare_fd(lcv_autodiff *ad, const lcv_tensor *x, const int64_t *labels, int extra,
                       const float *r, const run_out *o, const char *what) {
    lcv_graph *g = lcv_autodiff_graph(ad);
    int bad = 0, checked = 0;
    for (int i = 0; i < o->n; i++) {
        int pv = lcv_autodiff_param_value(ad, i);
        int64_t n = lcv_tensor_numel(g->values[pv].init);
        int64_t step = n > 10 ? n / 10 : 1;
        for (int64_t j = 0; j < n; j += step) {
            double eps = 1e-6;
            double lp = loss64(g, x, labels, pv, j, eps, extra, r);
            double lm = loss64(g, x, labels, pv, j, -eps, extra, r);
            double num = (lp - lm) / (2 * eps), ana = o->grads[i][j];
            checked++;
            if (!(fabs(ana - num) <= 3e-5 + 2e-3 * fabs(num))) {
                if (bad++ < 8)
                    fprintf(stderr,
                            "%s: d loss / d %s[%lld]: engine %.8g, finite difference %.8g\n", what,
                            g->values[pv].name, (long long)j, ana, num);
            }
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %d gradient elements differ", what, bad, checked);
}

static lcv_tensor *make_input(uint64_t *s) {
    lcv_tensor *x = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, XDIMS, &x);
    for (int64_t i = 0; i < lcv_tensor_numel(x); i++) ((float *)x->data)[i] = (float)tg_rand(s);
    return x;
}

static void check_kinds(lcv_autodiff *ad) {
    lcv_graph *g = lcv_autodiff_graph(ad);
    static const char *params[] = {"W1", "B1", "S1", "T1", "W2", "LS", "W3", "B3"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        CHECK_MSG(lcv_autodiff_kind(ad, lcv_graph_find(g, params[i])) == LCV_AD_PARAM, "%s",
                  params[i]);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "M1")) == LCV_AD_BUFFER);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "V1")) == LCV_AD_BUFFER);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "shape")) == LCV_AD_CONST);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "c0")) == LCV_AD_CONST);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "x")) == LCV_AD_INPUT);
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(g, "r")) == LCV_AD_ACTIVATION);
    CHECK(lcv_autodiff_param_count(ad) == 8);
    CHECK(lcv_autodiff_buffer_count(ad) == 2);
}

/* Running statistics after one training forward: momentum 0.8 blend with the unbiased batch
 * variance; an inference forward leaves them alone. */
static void check_running_stats(lcv_autodiff *ad, const lcv_tensor *x) {
    lcv_graph *g = lcv_autodiff_graph(ad);
    int mv = lcv_graph_find(g, "M1"), vv = lcv_graph_find(g, "V1"), cv = lcv_graph_find(g, "c1");
    float m0[4], v0[4];
    memcpy(m0, g->values[mv].init->data, sizeof m0);
    memcpy(v0, g->values[vv].init->data, sizeof v0);
    lcv_err e;
    CHECK(lcv_autodiff_forward(ad, 1, &x, false, 1, &e) == LCV_OK);
    CHECK(memcmp(m0, g->values[mv].init->data, sizeof m0) == 0);
    CHECK(lcv_autodiff_forward(ad, 1, &x, true, 1, &e) == LCV_OK);
    const lcv_tensor *c1 = lcv_autodiff_value(ad, cv);
    int64_t N = c1->dims[0], C = c1->dims[1], S = c1->dims[2] * c1->dims[3];
    for (int64_t c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++) m += ((const float *)c1->data)[(b * C + c) * S + s];
        m /= (double)(N * S);
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++) {
                double d = ((const float *)c1->data)[(b * C + c) * S + s] - m;
                v += d * d;
            }
        v /= (double)(N * S - 1);
        CHECK_NEAR(((float *)g->values[mv].init->data)[c], 0.8 * m0[c] + 0.2 * m, 1e-5);
        CHECK_NEAR(((float *)g->values[vv].init->data)[c], 0.8 * v0[c] + 0.2 * v, 1e-5);
    }
    /* Nothing seeded: every parameter gradient is zero. */
    CHECK(lcv_autodiff_backward(ad, &e) == LCV_OK);
    for (int i = 0; i < lcv_autodiff_param_count(ad); i++) {
        const lcv_tensor *gr = lcv_autodiff_param_grad(ad, i);
        for (int64_t j = 0; j < lcv_tensor_numel(gr); j++) CHECK(((float *)gr->data)[j] == 0.0f);
    }
    CHECK(lcv_autodiff_backward(ad, &e) == LCV_ERR_INVALID_ARG); /* one backward per forward */
}

/* Dropout between two MatMuls: the training forward's mask depends only on the step seed, the
 * inference forward is the identity, and the gradient flows through the same mask. */
static void check_dropout(void) {
    lcv_err e;
    lcv_graph *g = lcv_graph_new();
    uint64_t s = 11;
    lcv_graph_add_opset(g, "", 13, &e);
    int64_t xd[2] = {-1, 16}, wd[2] = {16, 16};
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 2, xd);
    tg_init(g, "W", 2, wd, -1, 1, NULL, &s);
    double ratio = 0.5;
    tg_init(g, "ratio", 0, NULL, 0, 0, &ratio, &s);
    tg_node(g, "mm", "MatMul", "x,W", "h");
    tg_node(g, "drop", "Dropout", "h,ratio", "d");
    tg_output(g, "d");
    lcv_autodiff *ad = NULL;
    CHECK(lcv_autodiff_create(g, NULL, &ad, &e) == LCV_OK);
    if (!ad) return;
    CHECK(lcv_autodiff_kind(ad, lcv_graph_find(lcv_autodiff_graph(ad), "ratio")) == LCV_AD_CONST);
    int64_t d[2] = {4, 16};
    lcv_tensor *x = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, d, &x);
    for (int i = 0; i < 64; i++) ((float *)x->data)[i] = (float)(0.5 + 0.5 * tg_rand(&s));
    const lcv_tensor *xs = x;
    int dv = lcv_autodiff_graph(ad)->outputs[0], hv = lcv_graph_find(lcv_autodiff_graph(ad), "h");
    float a[64], b[64], c[64];
    CHECK(lcv_autodiff_forward(ad, 1, &xs, true, 1234, &e) == LCV_OK);
    memcpy(a, lcv_autodiff_value(ad, dv)->data, sizeof a);
    CHECK(lcv_autodiff_forward(ad, 1, &xs, true, 1234, &e) == LCV_OK);
    memcpy(b, lcv_autodiff_value(ad, dv)->data, sizeof b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(lcv_autodiff_forward(ad, 1, &xs, true, 999, &e) == LCV_OK);
    memcpy(c, lcv_autodiff_value(ad, dv)->data, sizeof c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    int zeros = 0;
    for (int i = 0; i < 64; i++) zeros += c[i] == 0.0f;
    CHECK_MSG(zeros > 10 && zeros < 54, "%d of 64 dropped at ratio 0.5", zeros);
    /* backward: dL/dh = mask * 2 for L = sum(d) */
    lcv_tensor *seed = lcv_autodiff_seed(ad, dv, &e);
    for (int i = 0; seed && i < 64; i++) ((float *)seed->data)[i] = 1.0f;
    CHECK(lcv_autodiff_backward(ad, &e) == LCV_OK);
    const float *gw = lcv_autodiff_param_grad(ad, 0)->data;
    /* dW[k][j] = sum_i x[i][k] * mask[i][j] * 2, mask from the output */
    double want = 0;
    for (int i = 0; i < 4; i++)
        want += ((float *)x->data)[i * 16 + 3] * (c[i * 16 + 5] != 0 ? 2.0 : 0.0);
    CHECK_NEAR(gw[3 * 16 + 5], want, 1e-5);
    CHECK(lcv_autodiff_forward(ad, 1, &xs, false, 1234, &e) == LCV_OK);
    CHECK(memcmp(lcv_autodiff_value(ad, dv)->data, lcv_autodiff_value(ad, hv)->data, sizeof a) ==
          0);
    lcv_tensor_free(x);
    lcv_autodiff_free(ad);
}

/* relu1 folded into bn1 while training: it shares bn1's output (in an inference forward it
 * runs on its own), and the gradients are bit-identical to those of the graph where an
 * Identity keeps the two apart. ref: the folded graph's gradients at `isa`, 1 thread. */
static void check_relu_fusion(const lcv_tensor *x, const int64_t *labels, lcv_isa isa,
                              const run_out *ref) {
    lcv_err e;
    lcv_autodiff_params p = {isa, 1, NULL, 0};
    for (int split = 0; split < 2; split++) {
        lcv_autodiff *ad = NULL;
        CHECK(lcv_autodiff_create(make_cnn_split(5, split), &p, &ad, &e) == LCV_OK);
        if (!ad) continue;
        lcv_graph *g = lcv_autodiff_graph(ad);
        int bv = lcv_graph_find(g, "b1"), rv = lcv_graph_find(g, "r");
        CHECK(lcv_autodiff_forward(ad, 1, &x, false, 1, &e) == LCV_OK);
        const lcv_tensor *b = lcv_autodiff_value(ad, bv), *r = lcv_autodiff_value(ad, rv);
        CHECK(b != r);
        for (int64_t i = 0; b && r && i < lcv_tensor_numel(b); i++) {
            float bi = ((const float *)b->data)[i];
            CHECK(((const float *)r->data)[i] == (bi < 0 ? 0.0f : bi));
        }
        run_out o = {0};
        CHECK(engine_grads(ad, x, labels, -1, NULL, &o, &e) == LCV_OK);
        CHECK_MSG((lcv_autodiff_value(ad, bv) == lcv_autodiff_value(ad, rv)) == !split,
                  "split %d: the Relu is %sfolded", split, split ? "" : "not ");
        for (int i = 0; i < o.n && ref->n == o.n; i++)
            CHECK_MSG(memcmp(o.grads[i], ref->grads[i],
                             lcv_tensor_nbytes(lcv_autodiff_param_grad(ad, i))) == 0,
                      "split %d: parameter %d differs", split, i);
        run_out_free(&o);
        lcv_autodiff_free(ad);
    }
}

static void check_errors(void) {
    lcv_err e;
    /* A node without a backward between a parameter and the loss. */
    lcv_graph *g = lcv_graph_new();
    uint64_t s = 3;
    lcv_graph_add_opset(g, "", 13, &e);
    int64_t xd[2] = {-1, 4}, wd[2] = {4, 4};
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 2, xd);
    tg_init(g, "W", 2, wd, -1, 1, NULL, &s);
    tg_node(g, "mm", "MatMul", "x,W", "h");
    tg_node(g, "wave", "Sin", "h", "y");
    tg_output(g, "y");
    lcv_autodiff *ad = NULL;
    e.msg[0] = '\0';
    CHECK(lcv_autodiff_create(g, NULL, &ad, &e) == LCV_ERR_UNSUPPORTED && !ad);
    CHECK_MSG(strstr(e.msg, "'wave'") && strstr(e.msg, "Sin") && strstr(e.msg, "'W'"), "%s",
              e.msg);
    /* The same op off the gradient path is fine. */
    g = lcv_graph_new();
    lcv_graph_add_opset(g, "", 13, &e);
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 2, xd);
    tg_init(g, "W", 2, wd, -1, 1, NULL, &s);
    tg_node(g, "wave", "Sin", "x", "h");
    tg_node(g, "mm", "MatMul", "h,W", "y");
    tg_output(g, "y");
    CHECK(lcv_autodiff_create(g, NULL, &ad, &e) == LCV_OK);
    lcv_autodiff_free(ad);
    /* Unknown op; unknown loss value. */
    g = lcv_graph_new();
    lcv_graph_add_opset(g, "", 13, &e);
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 2, xd);
    tg_node(g, "odd", "NoSuchOp", "x", "y");
    tg_output(g, "y");
    CHECK(lcv_autodiff_create(g, NULL, &ad, &e) == LCV_ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "NoSuchOp") != NULL);
    g = make_cnn(1);
    const char *names[1] = {"nowhere"};
    lcv_autodiff_params p = {LCV_ISA_AUTO, 1, names, 1};
    CHECK(lcv_autodiff_create(g, &p, &ad, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "nowhere") != NULL);
    /* Wrong input shape at run time. */
    g = make_cnn(1);
    CHECK(lcv_autodiff_create(g, NULL, &ad, &e) == LCV_OK);
    int64_t bad[4] = {2, 3, 7, 7};
    lcv_tensor *x = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, bad, &x);
    const lcv_tensor *xs = x;
    CHECK(lcv_autodiff_forward(ad, 1, &xs, true, 0, &e) == LCV_ERR_SHAPE);
    CHECK(strstr(e.msg, "'x'") != NULL);
    CHECK(lcv_autodiff_seed(ad, g->outputs[0], &e) == NULL);
    lcv_tensor_free(x);
    lcv_autodiff_free(ad);
}

int main(void) {
    uint64_t s = 99;
    lcv_tensor *x = make_input(&s);
    int64_t labels[BATCH] = {1, 4, 0};
    lcv_cpu_info cpu;
    lcv_cpu_detect(&cpu);
    lcv_isa best = lcv_cpu_best_isa(&cpu);
    lcv_err e;
    run_out ref = {0};
    for (int isa = LCV_ISA_SCALAR; isa <= (int)best; isa++) {
        lcv_autodiff_params p = {(lcv_isa)isa, 1, NULL, 0};
        lcv_autodiff *ad = NULL;
        lcv_status st = lcv_autodiff_create(make_cnn(5), &p, &ad, &e);
        CHECK_MSG(st == LCV_OK, "create: %s", e.msg);
        if (st != LCV_OK) continue;
        if (isa == LCV_ISA_SCALAR) check_kinds(ad);
        run_out o = {0};
        st = engine_grads(ad, x, labels, -1, NULL, &o, &e);
        CHECK_MSG(st == LCV_OK, "%s step: %s", lcv_isa_name((lcv_isa)isa), e.msg);
        if (st == LCV_OK) {
            char what[64];
            snprintf(what, sizeof what, "CE, isa %s", lcv_isa_name((lcv_isa)isa));
            compare_fd(ad, x, labels, -1, NULL, &o, what);
            /* a second step on unchanged parameters gives the same gradients */
            run_out o2 = {0};
            CHECK(engine_grads(ad, x, labels, -1, NULL, &o2, &e) == LCV_OK);
            for (int i = 0; i < o.n && o2.n == o.n; i++)
                CHECK(memcmp(o.grads[i], o2.grads[i],
                             lcv_tensor_nbytes(lcv_autodiff_param_grad(ad, i))) == 0);
            run_out_free(&o2);
        }
        if (isa == (int)best) {
            ref = o;
            check_running_stats(ad, x);
        } else {
            run_out_free(&o);
        }
        lcv_autodiff_free(ad);
    }
    /* 2 threads: bit-identical to 1 thread at the same ISA. */
    {
        lcv_autodiff_params p = {best, 2, NULL, 0};
        lcv_autodiff *ad = NULL;
        run_out o = {0};
        CHECK(lcv_autodiff_create(make_cnn(5), &p, &ad, &e) == LCV_OK);
        CHECK(ad && engine_grads(ad, x, labels, -1, NULL, &o, &e) == LCV_OK);
        for (int i = 0; i < o.n && ref.n == o.n; i++)
            CHECK_MSG(memcmp(o.grads[i], ref.grads[i],
                             lcv_tensor_nbytes(lcv_autodiff_param_grad(ad, i))) == 0,
                      "parameter %d differs with 2 threads", i);
        run_out_free(&o);
        lcv_autodiff_free(ad);
    }
    /* A second loss term on the intermediate value "a" (two consumers, seeded too). */
    {
        const char *seeds[2] = {"logits", "a"};
        lcv_autodiff_params p = {LCV_ISA_AUTO, 1, seeds, 2};
        lcv_autodiff *ad = NULL;
        CHECK(lcv_autodiff_create(make_cnn(5), &p, &ad, &e) == LCV_OK);
        if (ad) {
            int av = lcv_graph_find(lcv_autodiff_graph(ad), "a");
            float r[BATCH * 4 * 49];
            for (int i = 0; i < BATCH * 4 * 49; i++) r[i] = (float)(0.05 * tg_rand(&s));
            run_out o = {0};
            lcv_status st = engine_grads(ad, x, labels, av, r, &o, &e);
            CHECK_MSG(st == LCV_OK, "%s", e.msg);
            if (st == LCV_OK) compare_fd(ad, x, labels, av, r, &o, "CE + feature term");
            run_out_free(&o);
        }
        lcv_autodiff_free(ad);
    }
    check_relu_fusion(x, labels, best, &ref);
    run_out_free(&ref);
    lcv_tensor_free(x);
    check_dropout();
    check_errors();
    return lcv_test_finish("train_autodiff");
}
