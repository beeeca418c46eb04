/* test_qdq_models.c - the QDQ models make_qdq_models.py writes (ONNX Runtime's quantize_static
 * layout: ResNet-style blocks with residual Adds and a MaxPool, depthwise convolutions,
 * MatMuls), run unoptimized, optimized (fuse_qdq: integer Conv/MatMul/Add) with reference and fast
 * kernels, and in ONNX Runtime (ort_qdq.js): every result within one quantization step of
 * the unoptimized one, every Conv/MatMul fused, and the off-by-one fractions reported. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

#ifndef LCV_QDQ_DIR
#error "LCV_QDQ_DIR names the directory make_qdq_models.py and ort_qdq.js wrote"
#endif

static lcv_model *load(const char *path, int optimize, int reference) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    p.reference_kernels = reference;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(path, &p, &m);
    CHECK_MSG(st == LCV_OK, "%s: %s", path, m ? lcv_model_errmsg(m) : "no memory");
    if (st != LCV_OK) {
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

/* Runs m on x; returns its first output as doubles (caller frees), *n its count. */
static double *run(lcv_model *m, const lcv_tensor *x, int threads, int64_t *n) {
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = threads;
    lcv_session *s = NULL;
    double *out = NULL;
    CHECK(lcv_session_create(m, &sp, &s) == LCV_OK);
    const char *name = lcv_model_input_name(m, 0);
    lcv_status st = lcv_session_run(s, 1, &name, &x);
    CHECK_MSG(st == LCV_OK, "run: %s", lcv_session_errmsg(s));
    if (st == LCV_OK) {
        const lcv_tensor *y = lcv_session_output(s, 0);
        *n = lcv_tensor_numel(y);
        out = malloc(sizeof(double) * (size_t)(*n ? *n : 1));
        const void *p = lcv_tensor_cdata(y);
        for (int64_t i = 0; out && i < *n; i++) {
            switch (lcv_tensor_dtype(y)) {
            case LCV_DTYPE_UINT8: out[i] = ((const uint8_t *)p)[i]; break;
            case LCV_DTYPE_INT8: out[i] = ((const int8_t *)p)[i]; break;
            default: out[i] = NAN; break; /* the models give integers: fails below */
            }
        }
    }
    lcv_session_free(s);
    return out;
}

/* Compares b with a: at most one step apart; returns how many differ by one. */
static int64_t diff(const char *what, const char *vs, const double *a, const double *b, int64_t n) {
    int64_t off = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > worst || d != d) worst = d;
        off += d == 1;
    }
    CHECK_MSG(worst <= 1, "%s %s: worst difference %g steps", what, vs, worst);
    printf("  %-16s %-24s %5lld of %5lld off by one (%.2f%%)\n", what, vs, (long long)off,
           (long long)n, n ? 100.0 * (double)off / (double)n : 0.0);
    return off;
}

/* Counts the optimized model's nodes of op `op`. */
static int count_op(const lcv_model *m, const char *op) {
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    int c = 0;
    for (int64_t i = 0; i < st.node_count; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) == LCV_OK) c += strcmp(ni.op_type, op) == 0;
    }
    return c;
}

static int64_t fused_off, fused_total, ort_off;

static void check_model(const char *stem, int want_qconv, int want_qmatmul, int want_qadd) {
    char path[512], xpath[512], opath[512], err[256];
    snprintf(path, sizeof path, "%s/%s.onnx", LCV_QDQ_DIR, stem);
    snprintf(xpath, sizeof xpath, "%s/%s.x.npy", LCV_QDQ_DIR, stem);
    snprintf(opath, sizeof opath, "%s/%s.ort.npy", LCV_QDQ_DIR, stem);
    lcv_tensor *x = NULL, *ort = NULL;
    CHECK_MSG(lcv_npy_read_file(xpath, &x, err, sizeof err) == LCV_OK, "%s", err);
    CHECK_MSG(lcv_npy_read_file(opath, &ort, err, sizeof err) == LCV_OK, "%s", err);
    lcv_model *a = load(path, 0, 1), *b = load(path, 1, 1), *c = load(path, 1, 0);
    if (x && ort && a && b && c) {
        CHECK_MSG(count_op(b, "QLinearConv") == want_qconv, "%s: %d QLinearConv, want %d", stem,
                  count_op(b, "QLinearConv"), want_qconv);
        CHECK_MSG(count_op(b, "QLinearMatMul") == want_qmatmul, "%s: %d QLinearMatMul, want %d",
                  stem, count_op(b, "QLinearMatMul"), want_qmatmul);
        CHECK_MSG(count_op(b, "Conv") == 0 && count_op(b, "MatMul") == 0,
                  "%s: a float Conv/MatMul was left", stem);
        /* the residual junctions (DQ, DQ -> Add -> Relu -> Q) run on integers too */
        CHECK_MSG(count_op(b, "QLinearAdd") == want_qadd && count_op(b, "Add") == 0,
                  "%s: %d QLinearAdd (want %d), %d Add left", stem, count_op(b, "QLinearAdd"),
                  want_qadd, count_op(b, "Add"));
        int64_t na = 0, nb = 0, nc = 0, nc2 = 0;
        double *ya = run(a, x, 1, &na), *yb = run(b, x, 1, &nb), *yc = run(c, x, 1, &nc);
        double *yc2 = run(c, x, 2, &nc2);
        int64_t no = lcv_tensor_numel(ort);
        const float *po = lcv_tensor_cdata(ort);
        double *yo = malloc(sizeof(double) * (size_t)(no ? no : 1));
        for (int64_t i = 0; yo && i < no; i++) yo[i] = po[i];
        CHECK(ya && yb && yc && yc2 && yo && na == nb && na == nc && na == nc2 && na == no);
        if (ya && yb && yc && yc2 && yo && na == nb && na == nc && na == nc2 && na == no) {
            fused_off += diff(stem, "fused (reference)", ya, yb, na);
            fused_off += diff(stem, "fused (fast kernels)", ya, yc, na);
            fused_total += 2 * na;
            diff(stem, "fast: 2 vs 1 threads", yc, yc2, na);
            for (int64_t i = 0; i < na; i++) CHECK(yc[i] == yc2[i]);
            ort_off += diff(stem, "ONNX Runtime vs fused", yo, yc, na);
            diff(stem, "ONNX Runtime vs unfused", yo, ya, na);
        }
        free(ya);
        free(yb);
        free(yc);
        free(yc2);
        free(yo);
    }
    lcv_model_free(a);
    lcv_model_free(b);
    lcv_model_free(c);
    lcv_tensor_free(x);
    lcv_tensor_free(ort);
}

int main(void) {
    check_model("qdq_resnet_u8", 6, 0, 2);
    check_model("qdq_resnet_i8", 6, 0, 2);
    check_model("qdq_depthwise", 3, 0, 0);
    check_model("qdq_matmul", 0, 2, 0);
    printf("fused vs unfused: %lld of %lld off by one (%.2f%%)\n", (long long)fused_off,
           (long long)fused_total, fused_total ? 100.0 * (double)fused_off / (double)fused_total : 0.0);
    /* one step only where a float sum lands near a rounding tie: a few percent at most */
    CHECK_MSG(fused_total > 0 && (double)fused_off <= 0.05 * (double)fused_total,
              "%lld of %lld off by one", (long long)fused_off, (long long)fused_total);
    return lcv_test_finish("passes_qdq_models");
}
