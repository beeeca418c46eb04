/* test_core.c - core and ir foundations: half-precision conversions, checked arithmetic,
 * shape helpers, tensor buffer reuse, and the graph's name index, duplicate detection and
 * topological ordering with cycle detection. */
#include <string.h>

#include "harness.h"
#include "core/core.h"
#include "ir/graph.h"

static void test_half(void) {
    /* every float16 bit pattern survives f16 -> f32 -> f16 (NaNs stay NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lcv_f16_to_f32((uint16_t)h);
        uint16_t back = lcv_f32_to_f16(f);
        if (f != f) {
            if ((back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0) bad++;
        } else if (back != h) {
            bad++;
        }
    }
    CHECK(bad == 0);
    CHECK(lcv_f32_to_f16(1.0f) == 0x3c00);
    CHECK(lcv_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(lcv_f32_to_f16(65520.0f) == 0x7c00);       /* rounds to infinity */
    CHECK(lcv_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00); /* tie to even */
    CHECK(lcv_f32_to_f16(5.9604645e-8f) == 0x0001);   /* smallest subnormal */
    CHECK(lcv_f32_to_f16(2.9802322e-8f) == 0x0000);   /* half of it: tie to even -> 0 */
    CHECK(lcv_bf16_to_f32(lcv_f32_to_bf16(3.0f)) == 3.0f);
    CHECK(lcv_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80); /* tie to even */
}

static void test_sizes(void) {
    size_t s;
    CHECK(lcv_mul_size(SIZE_MAX / 2, 3, &s) == false);
    CHECK(lcv_mul_size(1000, 1000, &s) && s == 1000000);
    CHECK(lcv_add_size(SIZE_MAX, 1, &s) == false);
    int64_t n;
    int64_t big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(lcv_shape_numel(2, big, &n) == false);
    int64_t neg[2] = {3, -1};
    CHECK(lcv_shape_numel(2, neg, &n) == false);
    int64_t zero[3] = {(int64_t)1 << 62, 0, (int64_t)1 << 62};
    CHECK(lcv_shape_numel(3, zero, &n) && n == 0);
    char buf[64];
    int64_t d[3] = {1, 3, 224};
    CHECK(strcmp(lcv_shape_str(3, d, buf, sizeof buf), "[1,3,224]") == 0);
    CHECK(strcmp(lcv_shape_str(0, d, buf, sizeof buf), "[]") == 0);
}

static void test_tensor_reuse(void) {
    lcv_tensor t;
    lcv_tensor_init(&t);
    int64_t d1[2] = {4, 4}, d2[1] = {8};
    CHECK(lcv_tensor_reshape_alloc(&t, LCV_DTYPE_FLOAT32, 2, d1, NULL) == LCV_OK);
    void *p = t.data;
    CHECK(lcv_tensor_reshape_alloc(&t, LCV_DTYPE_FLOAT32, 1, d2, NULL) == LCV_OK);
    CHECK(t.data == p); /* smaller: buffer reused */
    lcv_err e;
    int64_t huge[2] = {(int64_t)1 << 61, 16};
    CHECK(lcv_tensor_reshape_alloc(&t, LCV_DTYPE_FLOAT32, 2, huge, &e) == LCV_ERR_NOMEM);
    CHECK(strstr(e.msg, "too large") != NULL);
    lcv_tensor_release(&t);
    CHECK(lcv_load_f64(LCV_DTYPE_INT8, (int8_t[]){-5}, 0) == -5.0);
    int8_t i8;
    lcv_store_f64(LCV_DTYPE_INT8, &i8, 0, 1e9);
    CHECK(i8 == 127);
    int32_t i32;
    lcv_store_f64(LCV_DTYPE_INT32, &i32, 0, 0.0 / 0.0);
    CHECK(i32 == 0);
}

static void test_graph(void) {
    lcv_err e;
    lcv_graph *g = lcv_graph_new();
    const char *in_a[] = {"b"}, *out_a[] = {"c"};
    const char *in_b[] = {"x"}, *out_b[] = {"b"};
    CHECK(lcv_graph_add_node(g, "second", "Relu", "", 1, in_a, 1, out_a, NULL, &e) == LCV_OK);
    CHECK(lcv_graph_add_node(g, "first", "Relu", "", 1, in_b, 1, out_b, NULL, &e) == LCV_OK);
    int x;
    CHECK(lcv_graph_intern(g, "x", &x, &e) == LCV_OK);
    CHECK(lcv_graph_add_input(g, x, &e) == LCV_OK);
    CHECK(lcv_graph_add_input(g, x, &e) == LCV_ERR_PARSE);
    CHECK(lcv_graph_toposort(g, &e) == LCV_OK);
    CHECK(strcmp(g->nodes[0].name, "first") == 0);
    CHECK(g->values[lcv_graph_find(g, "b")].producer == 0);
    const char *dup[] = {"c"};
    CHECK(lcv_graph_add_node(g, "third", "Relu", "", 1, in_b, 1, dup, NULL, &e) ==
          LCV_ERR_PARSE);
    CHECK(strstr(e.msg, "'c'") && strstr(e.msg, "second") && strstr(e.msg, "third"));
    lcv_graph_free(g);

    /* a cycle is found and named */
    g = lcv_graph_new();
    const char *i1[] = {"q"}, *o1[] = {"p"}, *i2[] = {"p"}, *o2[] = {"q"};
    lcv_graph_add_node(g, "n1", "Relu", "", 1, i1, 1, o1, NULL, &e);
    lcv_graph_add_node(g, "n2", "Relu", "", 1, i2, 1, o2, NULL, &e);
    CHECK(lcv_graph_toposort(g, &e) == LCV_ERR_PARSE);
    CHECK(strstr(e.msg, "cycle") != NULL);
    lcv_graph_free(g);

    /* many values: the name index grows and still finds everything */
    g = lcv_graph_new();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        int id;
        snprintf(name, sizeof name, "v%d", i);
        lcv_graph_intern(g, name, &id, &e);
    }
    int found = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        found += lcv_graph_find(g, name) == i;
    }
    CHECK(found == 5000);
    CHECK(lcv_graph_find(g, "nope") == -1);
    lcv_graph_free(g);
}

int main(void) {
    test_half();
    test_sizes();
    test_tensor_reuse();
    test_graph();
    return lcv_test_finish("core");
}
