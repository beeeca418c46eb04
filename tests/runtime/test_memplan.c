/* test_memplan.c - the static memory planner (src/runtime/memplan.c): on random interval sets
 * no two tensors alive at the same time share bytes, in-place chains share one place, the
 * arena is never above the sum of the tensors; invalid aliases fail with a message; and every
 * entry of the in-place table (src/ops/inplace.c) really runs with its output over its input,
 * reference and fast kernels, 1 and 2 threads, giving the bits of the same graph without
 * aliasing. */
#include <stdio.h>

#include "graph_build.h"
#include "ops/inplace.h"
#include "runtime/memplan.h"

static size_t align_up(size_t b) { return (b + LCV_MEMPLAN_ALIGN - 1) & ~(LCV_MEMPLAN_ALIGN - 1); }

static void test_exact(void) {
    /* three 100-byte tensors in a chain: the first and the third may share */
    lcv_memplan_item it[3] = {{100, 0, 1, -1, 0}, {100, 1, 2, -1, 0}, {100, 2, 3, -1, 0}};
    size_t arena = 0;
    lcv_err e;
    CHECK(lcv_memplan_place(it, 3, &arena, &e) == LCV_OK);
    CHECK(arena == 256);
    CHECK(it[0].offset == it[2].offset && it[0].offset != it[1].offset);
    /* the same with the second taking the first's place (in place) and the third the second's:
     * one buffer */
    lcv_memplan_item ip[3] = {{100, 0, 1, -1, 0}, {100, 1, 2, 0, 0}, {100, 2, 3, 1, 0}};
    CHECK(lcv_memplan_place(ip, 3, &arena, &e) == LCV_OK);
    CHECK(arena == 128 && ip[0].offset == 0 && ip[1].offset == 0 && ip[2].offset == 0);
    /* zero-byte tensors take no space */
    lcv_memplan_item z[2] = {{0, 0, 5, -1, 7}, {0, 1, 2, -1, 7}};
    CHECK(lcv_memplan_place(z, 2, &arena, &e) == LCV_OK && arena == 0 && z[0].offset == 0);
    CHECK(lcv_memplan_place(NULL, 0, &arena, &e) == LCV_OK && arena == 0);
    /* best fit: a small tensor goes into the tight hole, not the wide one */
    lcv_memplan_item bf[5] = {
        {1000, 0, 9, -1, 0}, /* long-lived, bottom */
        {640, 0, 1, -1, 0},  /* dies early: leaves a 640-byte hole */
        {192, 0, 9, -1, 0},  /* long-lived, above the 640 hole */
        {128, 0, 1, -1, 0},  /* dies early: leaves a 128-byte hole */
        {100, 5, 6, -1, 0},  /* later: fits both holes, the 128 one is tighter */
    };
    CHECK(lcv_memplan_place(bf, 5, &arena, &e) == LCV_OK);
    CHECK(bf[4].offset == bf[3].offset);
    CHECK(arena == 1024 + 640 + 192 + 128);
}

static void test_bad_aliases(void) {
    lcv_err e;
    size_t arena;
    lcv_memplan_item size[2] = {{100, 0, 1, -1, 0}, {200, 1, 2, 0, 0}};
    CHECK(lcv_memplan_place(size, 2, &arena, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "cannot take the place") != NULL);
    lcv_memplan_item gap[2] = {{100, 0, 1, -1, 0}, {100, 2, 3, 0, 0}}; /* dies before: no */
    CHECK(lcv_memplan_place(gap, 2, &arena, &e) == LCV_ERR_INVALID_ARG);
    lcv_memplan_item twice[3] = {{100, 0, 1, -1, 0}, {100, 1, 2, 0, 0}, {100, 1, 3, 0, 0}};
    CHECK(lcv_memplan_place(twice, 3, &arena, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "already taken") != NULL);
    lcv_memplan_item self[1] = {{100, 0, 1, 0, 0}};
    CHECK(lcv_memplan_place(self, 1, &arena, &e) == LCV_ERR_INVALID_ARG);
    lcv_memplan_item range[1] = {{100, 0, 1, 5, 0}};
    CHECK(lcv_memplan_place(range, 1, &arena, &e) == LCV_ERR_INVALID_ARG);
    lcv_memplan_item order[1] = {{100, 3, 1, -1, 0}};
    CHECK(lcv_memplan_place(order, 1, &arena, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "from node 3 to node 1") != NULL);
    lcv_memplan_item huge[1] = {{SIZE_MAX - 3, 0, 1, -1, 0}};
    CHECK(lcv_memplan_place(huge, 1, &arena, &e) == LCV_ERR_NOMEM);
    lcv_memplan_item two_huge[2] = {{SIZE_MAX / 2, 0, 1, -1, 0}, {SIZE_MAX / 2, 0, 1, -1, 0}};
    CHECK(lcv_memplan_place(two_huge, 2, &arena, &e) == LCV_ERR_NOMEM);
}

static uint32_t rng(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* The head of item i's alias chain. */
static int head(const lcv_memplan_item *it, int i) {
    while (it[i].alias >= 0) i = it[i].alias;
    return i;
}

static void test_random(void) {
    uint32_t seed = 7;
    int bad = 0;
    for (int trial = 0; trial < 400; trial++) {
        int n = 1 + (int)(rng(&seed) % 80), steps = 2 + (int)(rng(&seed) % 40);
        lcv_memplan_item it[80];
        bool taken[80] = {false};
        for (int i = 0; i < n; i++) {
            int a = (int)(rng(&seed) % (uint32_t)steps), b = (int)(rng(&seed) % (uint32_t)steps);
            it[i] = (lcv_memplan_item){rng(&seed) % 5000, a < b ? a : b, a < b ? b : a, -1, 0};
            if (rng(&seed) % 7 == 0) it[i].bytes = 0;
            /* sometimes take the place of an earlier tensor that dies where this one starts */
            for (int j = 0; j < i && rng(&seed) % 2; j++)
                if (!taken[j] && it[j].first < it[i].first && it[j].last == it[i].first) {
                    it[i].alias = j;
                    it[i].bytes = it[j].bytes;
                    taken[j] = true;
                    break;
                }
        }
        size_t arena = 0, sum = 0;
        lcv_err e;
        lcv_status st = lcv_memplan_place(it, n, &arena, &e);
        CHECK_MSG(st == LCV_OK, "trial %d: %s", trial, e.msg);
        if (st != LCV_OK) continue;
        for (int i = 0; i < n; i++) {
            if (it[i].alias < 0) sum += align_up(it[i].bytes);
            if (it[i].offset % LCV_MEMPLAN_ALIGN || it[i].offset + it[i].bytes > arena) bad++;
            if (it[i].alias >= 0 && it[i].offset != it[it[i].alias].offset) bad++;
        }
        CHECK_MSG(arena <= sum, "trial %d: arena %zu > sum %zu", trial, arena, sum);
        /* alive at the same time (chains span their members' union) -> disjoint bytes */
        int first[80], last[80];
        for (int i = 0; i < n; i++) first[i] = it[i].first, last[i] = it[i].last;
        for (int i = 0; i < n; i++) {
            int h = head(it, i);
            if (it[i].first < first[h]) first[h] = it[i].first;
            if (it[i].last > last[h]) last[h] = it[i].last;
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                int hi = head(it, i), hj = head(it, j);
                if (hi == hj || !it[i].bytes || !it[j].bytes) continue;
                bool time = first[hi] <= last[hj] && first[hj] <= last[hi];
                bool space = it[i].offset < it[j].offset + it[j].bytes &&
                             it[j].offset < it[i].offset + it[i].bytes;
                if (time && space) bad++;
            }
        /* and the arena holds at least what is alive at the busiest node */
        size_t busiest = 0;
        for (int t = 0; t < steps; t++) {
            size_t live = 0;
            for (int i = 0; i < n; i++)
                if (head(it, i) == i && first[i] <= t && t <= last[i]) live += align_up(it[i].bytes);
            if (live > busiest) busiest = live;
        }
        CHECK(arena >= busiest);
    }
    CHECK_MSG(bad == 0, "%d overlapping or misplaced tensors", bad);
}

/* ---- every in-place table entry, run for real ---- */

typedef enum shape_kind {
    K_UNARY,   /* y = OP(a) */
    K_CLIP,    /* y = Clip(a, 0.3, 1.2) */
    K_BIN_A,   /* y = OP(a, c), c full-size constant: a is input 0 */
    K_BIN_AB,  /* y = OP(a, cb), cb [1,3,1] broadcast */
    K_BIN_B,   /* y = OP(cb, a): a is input 1 */
    K_PRELU,   /* y = PRelu(a, slope [4]) */
    K_BN,      /* y = BatchNormalization(a, scale, B, mean, var) */
    K_RESHAPE, /* y = Reshape(a, [6, 4]) */
    K_SQUEEZE, /* y = Squeeze(a) (no axes: nothing of size 1, same shape) */
    K_UNSQUEEZE
} shape_kind;

typedef struct inplace_case {
    const char *op;
    lcv_dtype dtype;
    shape_kind kind;
} inplace_case;

#define F32 LCV_DTYPE_FLOAT32
static const inplace_case CASES[] = {
    {"Abs", F32, K_UNARY}, {"Neg", F32, K_UNARY}, {"Exp", F32, K_UNARY},
    {"Log", F32, K_UNARY}, {"Sqrt", F32, K_UNARY}, {"Reciprocal", F32, K_UNARY},
    {"Floor", F32, K_UNARY}, {"Ceil", F32, K_UNARY}, {"Round", F32, K_UNARY},
    {"Sign", F32, K_UNARY}, {"Sin", F32, K_UNARY}, {"Cos", F32, K_UNARY},
    {"Tan", F32, K_UNARY}, {"Asin", F32, K_UNARY}, {"Acos", F32, K_UNARY},
    {"Atan", F32, K_UNARY}, {"Sinh", F32, K_UNARY}, {"Cosh", F32, K_UNARY},
    {"Asinh", F32, K_UNARY}, {"Acosh", F32, K_UNARY}, {"Atanh", F32, K_UNARY},
    {"Tanh", F32, K_UNARY}, {"Sigmoid", F32, K_UNARY}, {"Relu", F32, K_UNARY},
    {"Relu", LCV_DTYPE_INT32, K_UNARY}, {"Erf", F32, K_UNARY}, {"Identity", F32, K_UNARY},
    {"Dropout", F32, K_UNARY}, {"BitwiseNot", LCV_DTYPE_INT32, K_UNARY},
    {"Softplus", F32, K_UNARY}, {"Softsign", F32, K_UNARY}, {"HardSwish", F32, K_UNARY},
    {"HardSigmoid", F32, K_UNARY}, {"Mish", F32, K_UNARY}, {"Elu", F32, K_UNARY},
    {"Selu", F32, K_UNARY}, {"Celu", F32, K_UNARY}, {"LeakyRelu", F32, K_UNARY},
    {"ThresholdedRelu", F32, K_UNARY}, {"Shrink", F32, K_UNARY}, {"Clip", F32, K_CLIP},
    {"Clip", LCV_DTYPE_INT64, K_CLIP}, {"Add", F32, K_BIN_A}, {"Add", F32, K_BIN_AB},
    {"Add", F32, K_BIN_B}, {"Add", LCV_DTYPE_INT64, K_BIN_B}, {"Sub", F32, K_BIN_A},
    {"Sub", F32, K_BIN_B}, {"Mul", F32, K_BIN_AB}, {"Mul", F32, K_BIN_B},
    {"Div", F32, K_BIN_A}, {"Div", F32, K_BIN_B}, {"Div", LCV_DTYPE_FLOAT64, K_BIN_AB},
    {"Mod", F32, K_BIN_B}, {"Mod", LCV_DTYPE_INT32, K_BIN_A},
    {"BitShift", LCV_DTYPE_UINT8, K_BIN_A}, {"BitShift", LCV_DTYPE_UINT8, K_BIN_B},
    {"BitwiseAnd", LCV_DTYPE_INT32, K_BIN_A}, {"BitwiseAnd", LCV_DTYPE_INT32, K_BIN_B},
    {"BitwiseOr", LCV_DTYPE_INT16, K_BIN_A}, {"BitwiseOr", LCV_DTYPE_INT16, K_BIN_B},
    {"BitwiseXor", LCV_DTYPE_INT32, K_BIN_AB}, {"BitwiseXor", LCV_DTYPE_INT32, K_BIN_B},
    {"Pow", F32, K_BIN_A}, {"Pow", F32, K_BIN_AB}, {"PRelu", F32, K_PRELU},
    {"BatchNormalization", F32, K_BN}, {"BatchNormalization", LCV_DTYPE_FLOAT16, K_BN},
    {"Reshape", F32, K_RESHAPE}, {"Flatten", F32, K_UNARY}, {"Squeeze", F32, K_SQUEEZE},
    {"Unsqueeze", F32, K_UNSQUEEZE}, {"Unsqueeze", LCV_DTYPE_INT64, K_UNSQUEEZE},
};
#undef F32

static const int64_t XD[3] = {2, 3, 4};

/* x -> Abs -> a -> OP(...) -> y -> Transpose -> z (graph outputs never share a place, so y
 * is not one); with a_is_output a is a graph output too and cannot be overwritten. */
static lcv_graph *case_graph(const inplace_case *c, bool a_is_output) {
    lcv_graph *g = lcv_graph_new();
    lcv_dtype dt = c->dtype;
    gb_input(g, "x", dt, 3, XD);
    gb_node(g, "Abs", "x", "a", 17);
    int64_t cb[3] = {1, 3, 1}, one = 1, c3 = 3, c4 = 4, rs[2] = {6, 4};
    const double full[] = {1, 2, 3, 1.5, 2.5}, lo = 0.3, hi = 1.2, axes = 1;
    const double bn_scale[] = {1.5, 0.5, 2}, bn_b[] = {0.1, -0.2, 0.3}, bn_mean[] = {0.4, 1, 0},
                 bn_var[] = {2, 0.5, 1};
    const char *ins = "a";
    switch (c->kind) {
    case K_UNARY: break;
    case K_CLIP:
        gb_const(g, "lo", dt, 0, &one, &lo, 1);
        gb_const(g, "hi", dt, 0, &one, &hi, 1);
        ins = "a lo hi";
        break;
    case K_BIN_A:
        gb_const(g, "c", dt, 3, XD, full, 5);
        ins = "a c";
        break;
    case K_BIN_AB:
    case K_BIN_B:
        gb_const(g, "cb", dt, 3, cb, full, 5);
        ins = c->kind == K_BIN_AB ? "a cb" : "cb a";
        break;
    case K_PRELU:
        gb_const(g, "slope", dt, 1, &c4, full, 5);
        ins = "a slope";
        break;
    case K_BN:
        gb_const(g, "s", dt, 1, &c3, bn_scale, 3);
        gb_const(g, "b", dt, 1, &c3, bn_b, 3);
        gb_const(g, "m", dt, 1, &c3, bn_mean, 3);
        gb_const(g, "v", dt, 1, &c3, bn_var, 3);
        ins = "a s b m v";
        break;
    case K_RESHAPE: {
        const double r[] = {(double)rs[0], (double)rs[1]};
        int64_t two = 2;
        gb_const(g, "shape", LCV_DTYPE_INT64, 1, &two, r, 2);
        ins = "a shape";
        break;
    }
    case K_SQUEEZE: break;
    case K_UNSQUEEZE:
        gb_const(g, "axes", LCV_DTYPE_INT64, 1, &one, &axes, 1);
        ins = "a axes";
        break;
    }
    lcv_node *n = gb_node(g, c->op, ins, "y", 17);
    if (n && strcmp(c->op, "Mod") == 0 && lcv_dtype_is_float(dt)) gb_attr_int(n, "fmod", 1);
    if (n && strcmp(c->op, "BitShift") == 0) gb_attr_str(n, "direction", "LEFT");
    if (n && strcmp(c->op, "LeakyRelu") == 0) gb_attr_float(n, "alpha", 0.25f);
    gb_node(g, "Transpose", "y", "z", 17);
    gb_output(g, "z");
    if (a_is_output) gb_output(g, "a");
    return g;
}

/* Runs one case; returns the input index that output y took the place of (-1 none). */
static int run_case(const inplace_case *c) {
    int aliased = -1;
    for (int reference = 0; reference < 2; reference++) {
        lcv_model *m = gb_model(case_graph(c, false), 0, reference);
        lcv_model *ref = gb_model(case_graph(c, true), 0, reference);
        if (!m || !ref) {
            lcv_model_free(m);
            lcv_model_free(ref);
            return -1;
        }
        lcv_tensor *x = gb_tensor(c->dtype, 3, XD, 99);
        const char *names[] = {"x"};
        const lcv_tensor *ins[] = {x};
        for (int threads = 1; threads <= 2; threads++) {
            lcv_session_params sp = lcv_session_default_params();
            sp.threads = threads;
            lcv_session *s = NULL, *r = NULL;
            CHECK(lcv_session_create(m, &sp, &s) == LCV_OK);
            CHECK(lcv_session_create(ref, &sp, &r) == LCV_OK);
            if (!s || !r) {
                lcv_session_free(s);
                lcv_session_free(r);
                continue;
            }
            for (int run = 0; run < 2; run++) {
                lcv_status st = lcv_session_run(s, 1, names, ins);
                CHECK_MSG(st == LCV_OK, "%s: %s", c->op, lcv_session_errmsg(s));
                st = lcv_session_run(r, 1, names, ins);
                CHECK_MSG(st == LCV_OK, "%s: %s", c->op, lcv_session_errmsg(r));
                CHECK_MSG(gb_same(lcv_session_output(s, 0), lcv_session_output(r, 0)),
                          "%s %s kind %d reference %d threads %d: in-place result differs",
                          c->op, lcv_dtype_name(c->dtype), (int)c->kind, reference, threads);
            }
            const int *alias_s = NULL, *alias_r = NULL;
            lcv_session_memory(s, NULL, NULL, &alias_s);
            lcv_session_memory(r, NULL, NULL, &alias_r);
            int ys = gb_slot(m, "y"), as = gb_slot(m, "a");
            CHECK(alias_s && alias_r && ys >= 0 && as >= 0);
            if (alias_s && alias_r && ys >= 0 && as >= 0) {
                CHECK_MSG(alias_s[ys] == as, "%s: y did not take a's place", c->op);
                CHECK(alias_r[gb_slot(ref, "y")] == -1); /* a is a graph output there */
                if (alias_s[ys] == as) {
                    const lcv_node *n = &m->g->nodes[m->g->values[lcv_graph_find(m->g, "y")].producer];
                    for (int k = 0; k < n->n_in; k++)
                        if (n->in[k] == lcv_graph_find(m->g, "a")) aliased = k;
                }
            }
            lcv_session_free(s);
            lcv_session_free(r);
        }
        lcv_tensor_free(x);
        lcv_model_free(m);
        lcv_model_free(ref);
    }
    return aliased;
}

static void test_inplace_ops(void) {
    unsigned covered[LCV_OP_COUNT] = {0};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        int op = lcv_op_lookup(CASES[i].op, "");
        CHECK_MSG(op >= 0 && lcv_op_inplace_inputs(op) != 0, "%s is not in the in-place table",
                  CASES[i].op);
        int k = run_case(&CASES[i]);
        if (op >= 0 && k >= 0) covered[op] |= 1u << k;
    }
    /* every table entry (op and input) is exercised above */
    for (int op = 0; op < LCV_OP_COUNT; op++)
        CHECK_MSG(covered[op] == lcv_op_inplace_inputs(op), "%s: in-place inputs 0x%x tested, "
                  "table says 0x%x", lcv_op_table[op].name, covered[op],
                  lcv_op_inplace_inputs(op));
    CHECK(lcv_op_inplace_inputs(-1) == 0 && lcv_op_inplace_inputs(LCV_OP_COUNT) == 0);
    CHECK(lcv_op_inplace_inputs(lcv_op_lookup("Conv", "")) == 0);
}

/* What must never be overwritten in place: graph inputs, graph outputs, values read again
 * later, values read twice by the node. */
static void test_inplace_rules(void) {
    lcv_graph *g = lcv_graph_new();
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 3, XD);
    gb_node(g, "Relu", "x", "a", 17);       /* x is the caller's: no */
    gb_node(g, "Neg", "a", "b", 17);        /* a read again below: no */
    gb_node(g, "Add", "b a", "c", 17);      /* b dies here: yes; a does not */
    gb_node(g, "Mul", "a c", "d", 17);      /* a and c die here: the first, a */
    gb_node(g, "Mul", "d d", "e2", 17);     /* d read twice: no */
    gb_node(g, "Sigmoid", "e2", "e", 17);   /* e is a graph output: no */
    gb_node(g, "Exp", "e", "f", 17);        /* e is a graph output: never overwritten */
    gb_output(g, "e");
    gb_output(g, "f");
    lcv_model *m = gb_model(g, 0, 0);
    if (!m) return;
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 3, XD, 5);
    const char *names[] = {"x"};
    const lcv_tensor *ins[] = {x};
    CHECK(lcv_session_run(s, 1, names, ins) == LCV_OK);
    const int *alias = NULL;
    size_t arena = 0, total = 0;
    lcv_session_memory(s, &arena, &total, &alias);
    CHECK(alias != NULL);
    if (alias) {
        CHECK(alias[gb_slot(m, "a")] == -1);
        CHECK(alias[gb_slot(m, "b")] == -1);
        CHECK(alias[gb_slot(m, "c")] == gb_slot(m, "b"));
        CHECK(alias[gb_slot(m, "d")] == gb_slot(m, "a"));
        CHECK(alias[gb_slot(m, "e2")] == -1);
        CHECK(alias[gb_slot(m, "e")] == -1);
        CHECK(alias[gb_slot(m, "f")] == -1);
    }
    /* 7 tensors of 96 bytes (128 aligned); buffers a=d, b=c, e2, e, f: at most 4 alive at once
     * (a, b, e, f while c is computed) */
    CHECK(total == 7 * 128);
    CHECK_MSG(arena == 4 * 128, "arena %zu", arena);
    /* the graph output e holds Sigmoid(d) after f was computed from it */
    const lcv_tensor *e = lcv_session_output(s, 0), *f = lcv_session_output(s, 1);
    CHECK(e && f);
    if (e && f) {
        const float *xe = e->data, *xf = f->data, *xx = x->data;
        for (int i = 0; i < 24; i++) {
            float a = xx[i] > 0 ? xx[i] : 0, c = -a + a, d = a * c, e2 = d * d;
            CHECK_NEAR(xe[i], 1.0 / (1.0 + exp(-(double)e2)), 1e-6);
            CHECK_NEAR(xf[i], exp((double)xe[i]), 1e-5);
        }
    }
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    CHECK(st.peak_activation_bytes == (int64_t)arena && st.activation_bytes == (int64_t)total);
    lcv_tensor_free(x);
    lcv_session_free(s);
    lcv_model_free(m);
}

int main(void) {
    test_exact();
    test_bad_aliases();
    test_random();
    test_inplace_ops();
    test_inplace_rules();
    return lcv_test_finish("runtime_memplan");
}
