/* test_onnx_reader.c - the ONNX frontend on models built byte by byte with a tiny protobuf
 * writer: every attribute and tensor encoding, error paths and their messages (with field path
 * and byte offset), hostile sizes and wire encodings, and the external-data rules.
 * Real files are covered by test_onnx_files.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/onnx/onnx.h"
#include "frontends/onnx/pbwire.h"
#include "harness.h"

/* ---- a tiny protobuf writer ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_raw(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        while (nc < b->n + n) nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p) {
            fprintf(stderr, "test out of memory\n");
            exit(1);
        }
        b->p = p;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_varint(buf *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        b_raw(b, &c, 1);
    } while (v);
}
static void b_tag(buf *b, uint32_t field, int wire) {
    b_varint(b, ((uint64_t)field << 3) | (unsigned)wire);
}
static void b_int(buf *b, uint32_t field, int64_t v) {
    b_tag(b, field, 0);
    b_varint(b, (uint64_t)v);
}
static void b_f32(buf *b, uint32_t field, float f) {
    b_tag(b, field, 5);
    b_raw(b, &f, 4);
}
static void b_bytes(buf *b, uint32_t field, const void *d, size_t n) {
    b_tag(b, field, 2);
    b_varint(b, n);
    b_raw(b, d, n);
}
static void b_str(buf *b, uint32_t field, const char *s) { b_bytes(b, field, s, strlen(s)); }
/* Appends sub as a length-delimited field and frees it. */
static void b_msg(buf *b, uint32_t field, buf *sub) {
    b_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}
static void b_packed_ints(buf *b, uint32_t field, const int64_t *v, int n) {
    buf s = {0};
    for (int i = 0; i < n; i++) b_varint(&s, (uint64_t)v[i]);
    b_msg(b, field, &s);
}

/* TensorProto with dims and a data_type; the caller adds the payload. */
static buf tensor_head(const char *name, int dtype, int ndim, const int64_t *dims) {
    buf t = {0};
    for (int i = 0; i < ndim; i++) b_int(&t, 1, dims[i]);
    b_int(&t, 2, dtype);
    if (name) b_str(&t, 8, name);
    return t;
}
static buf tensor_f32(const char *name, int ndim, const int64_t *dims, const float *v, int n) {
    buf t = tensor_head(name, LCV_DTYPE_FLOAT32, ndim, dims);
    buf p = {0};
    b_raw(&p, v, sizeof(float) * (size_t)n);
    b_msg(&t, 4, &p);
    return t;
}
/* ValueInfoProto of a tensor; dims of -1 are written as dim_param "N"; ndim -1: no shape. */
static buf value_info(const char *name, int elem, int ndim, const int64_t *dims) {
    buf shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int i = 0; i < ndim; i++) {
        buf d = {0};
        if (dims[i] < 0)
            b_str(&d, 2, "N");
        else
            b_int(&d, 1, dims[i]);
        b_msg(&shape, 1, &d);
    }
    b_int(&tt, 1, elem);
    if (ndim >= 0) b_msg(&tt, 2, &shape);
    free(shape.p);
    b_msg(&tp, 1, &tt);
    b_str(&vi, 1, name);
    b_msg(&vi, 2, &tp);
    return vi;
}
static buf node(const char *op, const char *name, const char *domain, int n_in,
                const char *const *in, int n_out, const char *const *out) {
    buf n = {0};
    for (int i = 0; i < n_in; i++) b_str(&n, 1, in[i]);
    for (int i = 0; i < n_out; i++) b_str(&n, 2, out[i]);
    if (name) b_str(&n, 3, name);
    b_str(&n, 4, op);
    if (domain) b_str(&n, 7, domain);
    return n;
}
static buf opset(const char *domain, int64_t v) {
    buf o = {0};
    if (domain) b_str(&o, 1, domain);
    b_int(&o, 2, v);
    return o;
}
/* ModelProto around graph (consumed), importing the default domain at 13 when ir >= 3. */
static buf model(int64_t ir, buf *graph) {
    buf m = {0};
    b_int(&m, 1, ir);
    b_msg(&m, 7, graph);
    if (ir >= 3) {
        buf o = opset(NULL, 13);
        b_msg(&m, 8, &o);
    }
    return m;
}

static lcv_status import_buf(const buf *b, const char *dir, uint64_t max, lcv_graph **g,
                             lcv_err *e) {
    memset(e, 0, sizeof *e);
    return lcv_onnx_import(b->p, b->n, dir, max, g, e);
}

/* Imports b (freed), expecting status want and a message containing each of the given parts. */
static void expect_fail(buf *b, const char *dir, lcv_status want, const char *part1,
                        const char *part2, int line) {
    lcv_graph *g = (lcv_graph *)1;
    lcv_err e;
    lcv_status st = import_buf(b, dir, 0, &g, &e);
    CHECK_MSG(st == want, "line %d: got %s (%s), want %s", line, lcv_status_name(st), e.msg,
              lcv_status_name(want));
    CHECK_MSG(g == NULL, "line %d: graph not NULL on failure", line);
    const char *parts[2] = {part1, part2};
    for (int k = 0; k < 2; k++)
        if (parts[k])
            CHECK_MSG(strstr(e.msg, parts[k]) != NULL, "line %d: '%s' lacks '%s'", line, e.msg,
                      parts[k]);
    if (st == LCV_OK) lcv_graph_free(g);
    free(b->p);
    memset(b, 0, sizeof *b);
}
#define EXPECT_FAIL(b, dir, st, p1, p2) expect_fail(&(b), dir, st, p1, p2, __LINE__)

/* A graph with one initializer tensor t (consumed) feeding an Identity node. */
static buf model_with_init(buf *t) {
    buf g = {0}, n;
    const char *in[] = {"w"}, *out[] = {"y"};
    n = node("Identity", "id", NULL, 1, in, 1, out);
    b_msg(&g, 1, &n);
    b_msg(&g, 5, t);
    buf o = value_info("y", 1, -1, NULL);
    b_msg(&g, 12, &o);
    return model(8, &g);
}

static const lcv_attr *find_attr(const lcv_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

static const lcv_tensor *init_of(const lcv_graph *g, const char *name) {
    int id = lcv_graph_find(g, name);
    return id >= 0 ? g->values[id].init : NULL;
}

static void test_full_model(void) {
    buf g = {0}, t, n, v;
    int64_t d3[] = {3}, d2[] = {2}, d1[] = {1}, nx3[] = {-1, 3};
    float w[] = {1, 2, 3};
    t = tensor_f32("w", 1, d3, w, 3);
    b_msg(&g, 5, &t);
    t = tensor_head("b", LCV_DTYPE_INT64, 1, d2); /* unpacked int64_data */
    b_int(&t, 7, -1);
    b_int(&t, 7, 5);
    b_msg(&g, 5, &t);
    t = tensor_head("h", LCV_DTYPE_FLOAT16, 1, d2);
    int64_t h[] = {0x3c00, 0xc000};
    b_packed_ints(&t, 5, h, 2);
    b_msg(&g, 5, &t);
    t = tensor_head("bo", LCV_DTYPE_BOOL, 1, d3);
    int64_t bo[] = {1, 0, 1};
    b_packed_ints(&t, 5, bo, 3);
    b_msg(&g, 5, &t);
    t = tensor_head("i8", LCV_DTYPE_INT8, 1, d2);
    b_int(&t, 5, -3);
    b_int(&t, 5, 7);
    b_msg(&g, 5, &t);
    t = tensor_head("d", LCV_DTYPE_FLOAT64, 1, d1);
    double dv = 2.5;
    b_bytes(&t, 10, &dv, 8);
    b_msg(&g, 5, &t);
    t = tensor_head("u32", LCV_DTYPE_UINT32, 1, d1);
    b_int(&t, 11, 4000000000);
    b_msg(&g, 5, &t);
    t = tensor_head("r", LCV_DTYPE_INT32, 1, d2);
    int32_t rv[] = {7, -8};
    b_bytes(&t, 9, rv, 8);
    b_msg(&g, 5, &t);

    const char *in1[] = {"x", "w"}, *out1[] = {"y"};
    n = node("Mul", NULL, NULL, 2, in1, 1, out1); /* no name: synthesised */
    buf a = {0};
    b_str(&a, 1, "alpha"), b_f32(&a, 2, 0.5f), b_int(&a, 20, LCV_ATTR_FLOAT), b_msg(&n, 5, &a);
    b_str(&a, 1, "axis"), b_int(&a, 3, -2), b_int(&a, 20, LCV_ATTR_INT), b_msg(&n, 5, &a);
    b_str(&a, 1, "mode"), b_str(&a, 4, "nearest"), b_int(&a, 20, LCV_ATTR_STRING);
    b_msg(&n, 5, &a);
    int64_t pads[] = {1, 2, -3, 4};
    b_str(&a, 1, "pads"), b_packed_ints(&a, 8, pads, 4), b_int(&a, 20, LCV_ATTR_INTS);
    b_msg(&n, 5, &a);
    b_str(&a, 1, "scales"), b_f32(&a, 7, 1.5f), b_f32(&a, 7, 2.0f);
    b_int(&a, 20, LCV_ATTR_FLOATS), b_msg(&n, 5, &a);
    b_str(&a, 1, "names"), b_str(&a, 9, "a"), b_str(&a, 9, "bc");
    b_int(&a, 20, LCV_ATTR_STRINGS), b_msg(&n, 5, &a);
    float three = 3;
    t = tensor_f32("k", 0, NULL, &three, 1);
    b_str(&a, 1, "value"), b_msg(&a, 5, &t), b_int(&a, 20, LCV_ATTR_TENSOR), b_msg(&n, 5, &a);
    buf sub = {0};
    b_str(&sub, 2, "body");
    b_str(&a, 1, "body"), b_msg(&a, 6, &sub), b_int(&a, 20, LCV_ATTR_GRAPH), b_msg(&n, 5, &a);
    b_str(&a, 1, "old"), b_int(&a, 3, 42), b_msg(&n, 5, &a); /* no type field */
    b_str(&a, 1, "empty"), b_int(&a, 20, LCV_ATTR_INTS), b_msg(&n, 5, &a);
    b_msg(&g, 1, &n);
    const char *in2[] = {"y", ""}, *out2[] = {"z"};
    n = node("Custom", "c1", "com.x", 2, in2, 1, out2);
    b_msg(&g, 1, &n);
    v = value_info("x", LCV_DTYPE_FLOAT32, 2, nx3), b_msg(&g, 11, &v);
    v = value_info("z", LCV_DTYPE_FLOAT32, 2, nx3), b_msg(&g, 12, &v);
    v = value_info("y", LCV_DTYPE_FLOAT32, 2, nx3), b_msg(&g, 13, &v);
    v = value_info("ghost", LCV_DTYPE_FLOAT32, 0, NULL), b_msg(&g, 13, &v);
    b_str(&g, 2, "main");
    buf m = model(8, &g);
    buf o = opset("com.x", 1);
    b_msg(&m, 8, &o);

    lcv_graph *gr = NULL;
    lcv_err e;
    lcv_status st = import_buf(&m, NULL, 0, &gr, &e);
    free(m.p);
    CHECK_MSG(st == LCV_OK, "%s", e.msg);
    if (st != LCV_OK) return;
    CHECK(gr->ir_version == 8 && gr->name && strcmp(gr->name, "main") == 0);
    CHECK(gr->n_nodes == 2 && gr->n_inputs == 1 && gr->n_outputs == 1);
    CHECK(lcv_graph_find(gr, "ghost") < 0);
    const lcv_node *n0 = &gr->nodes[0], *n1 = &gr->nodes[1];
    CHECK(strcmp(n0->name, "Mul_0") == 0 && strcmp(n0->op_type, "Mul") == 0);
    CHECK(n0->op == -1 && n0->opset == 13 && n1->opset == 1 && strcmp(n1->domain, "com.x") == 0);
    CHECK(n1->n_in == 2 && n1->in[1] == -1 && n1->in[0] == n0->out[0]);
    const lcv_attr *at;
    CHECK((at = find_attr(n0, "alpha")) && at->type == LCV_ATTR_FLOAT && at->f == 0.5f);
    CHECK((at = find_attr(n0, "axis")) && at->type == LCV_ATTR_INT && at->i == -2);
    CHECK((at = find_attr(n0, "mode")) && at->type == LCV_ATTR_STRING && at->s_len == 7 &&
          strcmp(at->s, "nearest") == 0);
    CHECK((at = find_attr(n0, "pads")) && at->type == LCV_ATTR_INTS && at->n == 4 &&
          at->ints[2] == -3 && at->ints[3] == 4);
    CHECK((at = find_attr(n0, "scales")) && at->type == LCV_ATTR_FLOATS && at->n == 2 &&
          at->floats[0] == 1.5f && at->floats[1] == 2.0f);
    CHECK((at = find_attr(n0, "names")) && at->type == LCV_ATTR_STRINGS && at->n == 2 &&
          strcmp(at->strings[1], "bc") == 0);
    CHECK((at = find_attr(n0, "value")) && at->type == LCV_ATTR_TENSOR && at->t &&
          at->t->ndim == 0 && ((float *)at->t->data)[0] == 3.0f);
    CHECK((at = find_attr(n0, "body")) && at->type == LCV_ATTR_GRAPH);
    CHECK((at = find_attr(n0, "old")) && at->type == LCV_ATTR_INT && at->i == 42);
    CHECK((at = find_attr(n0, "empty")) && at->type == LCV_ATTR_INTS && at->n == 0);
    const lcv_tensor *tt;
    CHECK((tt = init_of(gr, "w")) && tt->dtype == LCV_DTYPE_FLOAT32 && tt->ndim == 1 &&
          ((float *)tt->data)[2] == 3.0f);
    CHECK((tt = init_of(gr, "b")) && ((int64_t *)tt->data)[0] == -1 &&
          ((int64_t *)tt->data)[1] == 5);
    CHECK((tt = init_of(gr, "h")) && lcv_f16_to_f32(((uint16_t *)tt->data)[0]) == 1.0f &&
          lcv_f16_to_f32(((uint16_t *)tt->data)[1]) == -2.0f);
    CHECK((tt = init_of(gr, "bo")) && ((uint8_t *)tt->data)[0] == 1 &&
          ((uint8_t *)tt->data)[1] == 0 && ((uint8_t *)tt->data)[2] == 1);
    CHECK((tt = init_of(gr, "i8")) && ((int8_t *)tt->data)[0] == -3 &&
          ((int8_t *)tt->data)[1] == 7);
    CHECK((tt = init_of(gr, "d")) && ((double *)tt->data)[0] == 2.5);
    CHECK((tt = init_of(gr, "u32")) && ((uint32_t *)tt->data)[0] == 4000000000u);
    CHECK((tt = init_of(gr, "r")) && ((int32_t *)tt->data)[1] == -8);
    const lcv_value *x = &gr->values[gr->inputs[0]];
    CHECK(strcmp(x->name, "x") == 0 && x->dtype == LCV_DTYPE_FLOAT32 && x->ndim == 2 &&
          x->dims[0] == -1 && x->dim_params[0] && strcmp(x->dim_params[0], "N") == 0 &&
          x->dims[1] == 3 && !x->dim_params[1]);
    const lcv_value *y = &gr->values[n0->out[0]];
    CHECK(y->dtype == LCV_DTYPE_FLOAT32 && y->ndim == 2);
    lcv_graph_free(gr);
}

/* IR < 4 lists initializers among the inputs: they must stay initializers. */
static void test_ir3_initializer_inputs(void) {
    buf g = {0}, t, n, v;
    int64_t d3[] = {3};
    float w[] = {1, 2, 3};
    const char *in[] = {"x", "w"}, *out[] = {"y"};
    n = node("Add", "add", NULL, 2, in, 1, out);
    b_msg(&g, 1, &n);
    v = value_info("x", 1, 1, d3), b_msg(&g, 11, &v);
    v = value_info("w", 1, 1, d3), b_msg(&g, 11, &v);
    v = value_info("y", 1, 1, d3), b_msg(&g, 12, &v);
    t = tensor_f32("w", 1, d3, w, 3);
    b_msg(&g, 5, &t); /* after the inputs on the wire: order must not matter */
    buf m = model(3, &g);
    lcv_graph *gr = NULL;
    lcv_err e;
    lcv_status st = import_buf(&m, NULL, 0, &gr, &e);
    free(m.p);
    CHECK_MSG(st == LCV_OK, "%s", e.msg);
    if (st != LCV_OK) return;
    CHECK(gr->n_inputs == 1 && strcmp(gr->values[gr->inputs[0]].name, "x") == 0);
    int wid = lcv_graph_find(gr, "w");
    CHECK(wid >= 0 && gr->values[wid].is_initializer && !gr->values[wid].is_input &&
          gr->values[wid].init);
    lcv_graph_free(gr);
}

/* lcv_onnx_parse_tensor directly: packed dims, nameless tensors, bfloat16 and uint64 fields. */
static void test_tensor_entry(void) {
    buf t = {0};
    int64_t dims[] = {2, 3};
    b_packed_ints(&t, 1, dims, 2);
    b_int(&t, 2, LCV_DTYPE_BFLOAT16);
    int64_t v[] = {0x3f80, 0xc000, 0, 0, 0, 0x4040};
    b_packed_ints(&t, 5, v, 6);
    lcv_tensor *out = NULL;
    char *name = (char *)1;
    lcv_err e;
    CHECK_MSG(lcv_onnx_parse_tensor(t.p, t.n, &out, &name, &e) == LCV_OK, "%s", e.msg);
    CHECK(name == NULL && out && out->ndim == 2 && out->dims[1] == 3 &&
          out->dtype == LCV_DTYPE_BFLOAT16);
    if (out) CHECK(lcv_bf16_to_f32(((uint16_t *)out->data)[5]) == 3.0f);
    lcv_tensor_free(out);
    free(t.p);
    memset(&t, 0, sizeof t);
    t = tensor_head("", LCV_DTYPE_UINT64, 1, dims);
    b_int(&t, 11, -1); /* UINT64_MAX as a varint */
    b_int(&t, 11, 9);
    CHECK_MSG(lcv_onnx_parse_tensor(t.p, t.n, &out, &name, &e) == LCV_OK, "%s", e.msg);
    CHECK(name == NULL && out && ((uint64_t *)out->data)[0] == UINT64_MAX &&
          ((uint64_t *)out->data)[1] == 9);
    lcv_tensor_free(out);
    free(t.p);
    /* empty input, and a zero-element tensor without data */
    CHECK(lcv_onnx_parse_tensor("", 0, &out, NULL, &e) == LCV_ERR_PARSE && !out);
    int64_t zero[] = {0, 4};
    t = tensor_head("z", LCV_DTYPE_FLOAT32, 2, zero);
    CHECK(lcv_onnx_parse_tensor(t.p, t.n, &out, NULL, &e) == LCV_OK && out &&
          lcv_tensor_numel(out) == 0);
    lcv_tensor_free(out);
    free(t.p);
}

static void test_model_errors(void) {
    lcv_graph *gr = (lcv_graph *)1;
    lcv_err e;
    CHECK(lcv_onnx_import("", 0, NULL, 0, &gr, &e) == LCV_ERR_PARSE && gr == NULL);
    buf m = {0}, g = {0}, n, t;
    b_int(&m, 1, 8);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "no graph", NULL);

    /* a node whose domain is not imported */
    const char *in[] = {"x"}, *out[] = {"y"};
    n = node("Foo", "f1", "com.nope", 1, in, 1, out);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "'f1' (Foo)", "com.nope");

    /* IR 2 without opset imports */
    n = node("Relu", "r", NULL, 1, in, 1, out);
    b_msg(&g, 1, &n);
    m = model(2, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "IR version 2", NULL);

    /* sparse initializer */
    buf sp = {0};
    b_str(&sp, 3, "dims");
    b_msg(&g, 15, &sp);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "sparse", NULL);

    /* string initializer */
    int64_t d1[] = {1}, d2[] = {2};
    t = tensor_head("names", LCV_DTYPE_STRING, 1, d1);
    b_str(&t, 6, "hello");
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "'names'", "string");

    /* a sequence-typed input */
    buf tp = {0}, vi = {0}, seq = {0};
    b_msg(&tp, 4, &seq);
    b_str(&vi, 1, "seq_in");
    b_msg(&vi, 2, &tp);
    b_msg(&g, 11, &vi);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "'seq_in'", "sequence");

    /* payload size rules */
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 1, d2);
    b_bytes(&t, 9, "abc", 3);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "graph.initializer[0] 'w'", "raw_data");
    float f3[] = {1, 2, 3};
    t = tensor_f32("w", 1, d2, f3, 3);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "float_data has 3 elements", NULL);
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 1, d2);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "no data", NULL);
    t = tensor_head("w", LCV_DTYPE_INT64, 1, d1);
    b_f32(&t, 4, 1.0f);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "float_data cannot hold", NULL);
    int64_t neg[] = {-1};
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 1, neg);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "negative", NULL);
    int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 2, huge);
    b_bytes(&t, 9, "abcd", 4);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "too large", NULL);
    int64_t big[] = {(int64_t)1 << 30, (int64_t)1 << 30};
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 2, big);
    b_bytes(&t, 9, "abcd", 4);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "raw_data", NULL);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 9, nine);
    b_f32(&t, 4, 1.0f);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "more than 8 dims", NULL);
    t = tensor_head("w", 17, 1, d1); /* a float8 type */
    b_bytes(&t, 9, "a", 1);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "data_type 17", NULL);
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 1, d1);
    b_bytes(&t, 4, "abcde", 5); /* packed floats not a multiple of 4 */
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "multiple of 4", NULL);
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 0, NULL);
    b_f32(&t, 1, 1.0f); /* dims with a fixed32 wire type */
    b_f32(&t, 4, 1.0f);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "'dims'", "wire type");

    /* a length field running past the end of its message, with the path in the message */
    t = tensor_head("w", LCV_DTYPE_FLOAT32, 0, NULL);
    b_tag(&t, 9, 2);
    b_varint(&t, 1000);
    m = model_with_init(&t);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "runs past end of data", "at byte");

    /* a truncated varint inside a packed attribute: the message names the attribute */
    n = node("Pad", "p", NULL, 1, in, 1, out);
    buf a = {0}, bad = {0};
    b_str(&a, 1, "pads");
    uint8_t cont = 0x80;
    b_raw(&bad, &cont, 1);
    b_msg(&a, 8, &bad);
    b_int(&a, 20, LCV_ATTR_INTS);
    b_msg(&n, 5, &a);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "graph.node[0] (Pad 'p').attribute[0] 'pads': ",
                "varint runs past end of data at byte");

    /* attribute with neither type nor value; unknown attribute type */
    n = node("Pad", "p", NULL, 1, in, 1, out);
    b_str(&a, 1, "mode"), b_msg(&n, 5, &a);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "no type", NULL);
    n = node("Pad", "p", NULL, 1, in, 1, out);
    b_str(&a, 1, "mode"), b_int(&a, 20, 99), b_msg(&n, 5, &a);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "type 99", NULL);

    /* two nodes producing one value (reported by the graph builder, with the path) */
    n = node("Relu", "r1", NULL, 1, in, 1, out);
    b_msg(&g, 1, &n);
    n = node("Relu", "r2", NULL, 1, in, 1, out);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "graph.node[1]", "'r1'");

    /* one domain imported at two versions; too many attributes on a node */
    n = node("Relu", "r1", NULL, 1, in, 1, out);
    b_msg(&g, 1, &n);
    m = model(8, &g);
    buf o2 = opset("ai.onnx", 11);
    b_msg(&m, 8, &o2);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "imported twice", NULL);
    n = node("Relu", "r1", NULL, 1, in, 1, out);
    for (int k = 0; k < 1025; k++) {
        char an[16];
        snprintf(an, sizeof an, "a%d", k);
        b_str(&a, 1, an), b_int(&a, 3, k), b_msg(&n, 5, &a);
    }
    b_msg(&g, 1, &n);
    m = model(8, &g);
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "more than 1024 attributes", NULL);

    /* wire-level errors at the top level */
    uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    b_raw(&m, overlong, sizeof overlong);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "varint", "byte 1");
    uint8_t overflow[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    b_raw(&m, overflow, sizeof overflow);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "overflows 64 bits", "byte 1");
    uint8_t group[] = {0x08, 0x08, 0x1b, 0x1c};
    b_raw(&m, group, sizeof group);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "start-group", "byte 2");
    uint8_t fieldzero[] = {0x00, 0x01};
    b_raw(&m, fieldzero, sizeof fieldzero);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "field number 0", NULL);
    uint8_t short_fixed[] = {0x08, 0x08, 0x0d, 0x01, 0x02};
    b_raw(&m, short_fixed, sizeof short_fixed);
    EXPECT_FAIL(m, NULL, LCV_ERR_PARSE, "fixed32", "byte 3");

    /* the nesting bound of the wire reader */
    lcv_pb r, sub;
    uint8_t inner[] = {0x0a, 0x00};
    lcv_pb_init(&r, inner, sizeof inner);
    lcv_pb_field f;
    CHECK(lcv_pb_next(&r, &f, &e) == LCV_OK && f.wire == LCV_PB_LEN && f.len == 0);
    r.depth = LCV_PB_MAX_DEPTH;
    CHECK(lcv_pb_sub(&r, &f, &sub, &e) == LCV_ERR_PARSE && strstr(e.msg, "nested"));
    free(g.p);
}

static void write_file(const char *path, const void *d, size_t n) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    CHECK(fwrite(d, 1, n, fp) == n);
    fclose(fp);
}

/* An initializer "w" of 3 floats stored externally at location/offset/length. */
static buf external_model(const char *location, const char *offset, const char *length) {
    int64_t d3[] = {3};
    buf t = tensor_head("w", LCV_DTYPE_FLOAT32, 1, d3), kv = {0};
    b_str(&kv, 1, "location"), b_str(&kv, 2, location), b_msg(&t, 13, &kv);
    if (offset) b_str(&kv, 1, "offset"), b_str(&kv, 2, offset), b_msg(&t, 13, &kv);
    if (length) b_str(&kv, 1, "length"), b_str(&kv, 2, length), b_msg(&t, 13, &kv);
    b_int(&t, 14, 1);
    return model_with_init(&t);
}

static void test_external_data(void) {
    char dir[] = "/tmp/lcv_onnx_test_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp failed");
        return;
    }
    char path[256], subdir[256];
    float data[] = {-7, 1, 2, 3};
    snprintf(path, sizeof path, "%s/w.bin", dir);
    write_file(path, data, sizeof data);
    snprintf(subdir, sizeof subdir, "%s/sub", dir);
    mkdir(subdir, 0700);

    buf m = external_model("w.bin", "4", "12");
    lcv_graph *g = NULL;
    lcv_err e;
    lcv_status st = import_buf(&m, dir, 0, &g, &e);
    CHECK_MSG(st == LCV_OK, "%s", e.msg);
    const lcv_tensor *t = g ? init_of(g, "w") : NULL;
    CHECK(t && ((float *)t->data)[0] == 1.0f && ((float *)t->data)[2] == 3.0f);
    lcv_graph_free(g);
    st = import_buf(&m, dir, 8, &g, &e); /* max_bytes below the 12 bytes needed */
    CHECK(st == LCV_ERR_PARSE && g == NULL && strstr(e.msg, "limit"));
    EXPECT_FAIL(m, NULL, LCV_ERR_UNSUPPORTED, "external", "'w.bin'");

    m = external_model("sub/../w.bin", "4", NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "refused", "graph.initializer[0] 'w'");
    m = external_model("../w.bin", NULL, NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "refused", NULL);
    m = external_model(path, NULL, NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "refused", NULL);
    m = external_model("w.bin", "8", NULL); /* only 8 bytes left after offset 8 */
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "past the end", NULL);
    m = external_model("w.bin", "18446744073709551615", NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "past the end", NULL);
    m = external_model("w.bin", "-1", NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "not a non-negative integer", NULL);
    m = external_model("w.bin", NULL, "8");
    EXPECT_FAIL(m, dir, LCV_ERR_PARSE, "length 8", NULL);
    m = external_model("missing.bin", NULL, NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_IO, "missing.bin", NULL);
    m = external_model("sub", NULL, NULL);
    EXPECT_FAIL(m, dir, LCV_ERR_IO, "not a regular file", NULL);

    /* the .pb entry point refuses external data outright */
    int64_t d3[] = {3};
    buf tb = tensor_head("w", LCV_DTYPE_FLOAT32, 1, d3), kv = {0};
    b_str(&kv, 1, "location"), b_str(&kv, 2, "w.bin"), b_msg(&tb, 13, &kv);
    b_int(&tb, 14, 1);
    lcv_tensor *pt = (lcv_tensor *)1;
    char *name = (char *)1;
    CHECK(lcv_onnx_parse_tensor(tb.p, tb.n, &pt, &name, &e) == LCV_ERR_UNSUPPORTED && !pt &&
          !name);
    free(tb.p);
    remove(path);
    rmdir(subdir);
    rmdir(dir);
}

int main(void) {
    test_full_model();
    test_ir3_initializer_inputs();
    test_tensor_entry();
    test_model_errors();
    test_external_data();
    return lcv_test_finish("onnx_reader");
}
