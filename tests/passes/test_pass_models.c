/* test_pass_models.c - end to end check of the optimizer on the models that
 * scripts/make_pass_models.py writes: each model is loaded with optimize=0 and =1 (and with
 * reference kernels), run on the same random inputs, and the outputs must agree within 1e-5;
 * the optimized graph must have the expected node count and fusions. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

#define MODEL_DIR "tests/passes/models/"

static lcv_model *load_isa(const char *path, int optimize, int reference, lcv_isa isa) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    p.reference_kernels = reference;
    p.max_isa = isa;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(path, &p, &m);
    CHECK_MSG(st == LCV_OK, "%s: %s", path, m ? lcv_model_errmsg(m) : "no memory");
    if (st != LCV_OK) {
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

static lcv_model *load(const char *path, int optimize, int reference) {
    return load_isa(path, optimize, reference, LCV_ISA_AUTO);
}

/* Deterministic inputs for every graph input (dynamic dims = batch). */
static int make_inputs(const lcv_model *m, int64_t batch, lcv_tensor **ts, const char **names) {
    int n = lcv_model_input_count(m);
    uint32_t seed = 12345;
    for (int i = 0; i < n; i++) {
        int64_t d[LCV_MAX_DIMS];
        lcv_dtype dt;
        int nd = lcv_model_input_info(m, i, &dt, d, NULL);
        for (int k = 0; k < nd; k++)
            if (d[k] < 0) d[k] = batch;
        ts[i] = NULL;
        lcv_tensor_create(LCV_DTYPE_FLOAT32, nd, d, &ts[i]);
        float *p = lcv_tensor_data(ts[i]);
        for (int64_t j = 0; j < lcv_tensor_numel(ts[i]); j++) {
            seed = seed * 1664525u + 1013904223u;
            p[j] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
        names[i] = lcv_model_input_name(m, i);
    }
    return n;
}

static void compare_isa(const char *path, int64_t batch, int reference, lcv_isa isa) {
    lcv_model *a = load(path, 0, 1), *b = load_isa(path, 1, reference, isa);
    if (!a || !b) {
        lcv_model_free(a);
        lcv_model_free(b);
        return;
    }
    lcv_tensor *ins[8];
    const char *names[8];
    int n = make_inputs(a, batch, ins, names);
    lcv_session *sa = NULL, *sb = NULL;
    CHECK(lcv_session_create(a, NULL, &sa) == LCV_OK);
    CHECK(lcv_session_create(b, NULL, &sb) == LCV_OK);
    const lcv_tensor *const *cin = (const lcv_tensor *const *)ins;
    lcv_status ra = lcv_session_run(sa, n, names, cin), rb = lcv_session_run(sb, n, names, cin);
    CHECK_MSG(ra == LCV_OK, "%s: %s", path, lcv_session_errmsg(sa));
    CHECK_MSG(rb == LCV_OK, "%s: %s", path, lcv_session_errmsg(sb));
    for (int o = 0; ra == LCV_OK && rb == LCV_OK && o < lcv_model_output_count(a); o++) {
        const lcv_tensor *x = lcv_session_output(sa, o), *y = lcv_session_output(sb, o);
        CHECK(lcv_tensor_numel(x) == lcv_tensor_numel(y));
        const float *px = lcv_tensor_cdata(x), *py = lcv_tensor_cdata(y);
        double worst = 0;
        for (int64_t j = 0; j < lcv_tensor_numel(x) && j < lcv_tensor_numel(y); j++) {
            double d = fabs((double)px[j] - py[j]) / (1.0 + fabs((double)px[j]));
            if (d > worst || d != d) worst = d;
        }
        CHECK_MSG(worst <= 1e-5, "%s output %s (batch %lld, reference %d): diff %g", path,
                  lcv_model_output_name(a, o), (long long)batch, reference, worst);
    }
    for (int i = 0; i < n; i++) lcv_tensor_free(ins[i]);
    lcv_session_free(sa);
    lcv_session_free(sb);
    lcv_model_free(a);
    lcv_model_free(b);
}

static void compare(const char *path, int64_t batch, int reference) {
    compare_isa(path, batch, reference, LCV_ISA_AUTO);
}

/* The optimized node list as "Op[+residual][+act]" joined by spaces. */
static void describe(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    lcv_model *m = load(path, 1, 0);
    if (!m) return;
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    size_t len = 0;
    for (int64_t i = 0; i < st.node_count; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s%s", i ? " " : "", ni.op_type,
                                ni.has_residual ? "+add" : "", ni.fused[0] ? "+" : "", ni.fused);
        if (len >= cap) break;
    }
    lcv_model_free(m);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the space-separated words of s in place (node order depends on the toposort). */
static void sort_words(char *s) {
    char copy[1024], *words[128];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", s);
    for (char *w = strtok(copy, " "); w && n < 128; w = strtok(NULL, " ")) words[n++] = w;
    qsort(words, (size_t)n, sizeof words[0], cmp_str);
    size_t len = 0;
    s[0] = '\0';
    for (int i = 0; i < n; i++) len += (size_t)snprintf(s + len, 1024 - len, "%s%s", i ? " " : "", words[i]);
}

static void check_structure(const char *path, const char *expected) {
    char got[1024], want[1024];
    describe(path, got, sizeof got);
    snprintf(want, sizeof want, "%s", expected);
    sort_words(got);
    sort_words(want);
    CHECK_MSG(strcmp(got, want) == 0, "%s:\n  got  '%s'\n  want '%s'", path, got, want);
}

int main(void) {
    static const char *const models[] = {MODEL_DIR "resnet_block.onnx",
                                         MODEL_DIR "resnet_block_dynamic.onnx",
                                         MODEL_DIR "activations.onnx",
                                         MODEL_DIR "transformer.onnx",
                                         MODEL_DIR "hardswish.onnx"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        compare(models[i], 2, 1);
        compare(models[i], 2, 0);
    }
    compare(MODEL_DIR "resnet_block_dynamic.onnx", 3, 0);
#if defined(__x86_64__)
    /* the fused GELU/HardSwish epilogues of every ISA's fast kernels (the CPU's best caps it) */
    for (lcv_isa isa = LCV_ISA_SCALAR; isa <= LCV_ISA_AVX512; isa++) {
        compare_isa(MODEL_DIR "transformer.onnx", 2, 0, isa);
        compare_isa(MODEL_DIR "hardswish.onnx", 2, 0, isa);
    }
#endif
    check_structure(MODEL_DIR "resnet_block.onnx", "Conv+relu Conv+add+relu Conv");
    /* a dynamic batch makes inferred shapes inexact: no residual fusion */
    check_structure(MODEL_DIR "resnet_block_dynamic.onnx", "Conv+relu Conv Add Relu Conv");
    check_structure(MODEL_DIR "activations.onnx",
                    "Conv+relu Conv+clip Conv+leakyrelu Conv+hardsigmoid Conv+hardswish "
                    "Conv+tanh Conv+silu Gemm+sigmoid MatMul+relu MatMul Tanh Relu Add");
    /* decomposed LayerNormalization and GELU put back together (not over a middle axis) */
    check_structure(MODEL_DIR "transformer.onnx",
                    "LayerNormalization MatMul Add+gelu MatMul Add Add LayerNormalization MatMul "
                    "Add+gelu ReduceMean Sub Pow ReduceMean Add Sqrt Div Conv Transpose "
                    "LayerNormalization Transpose Conv+gelu");
    /* x * HardSigmoid(x) (alpha 1/6) into the producer; the SE gate and alpha 0.2 stay */
    check_structure(MODEL_DIR "hardswish.onnx",
                    "Conv+hardswish GlobalAveragePool Conv+hardsigmoid Mul Conv HardSigmoid Mul "
                    "Gemm+hardswish");
    return lcv_test_finish("passes_models");
}
