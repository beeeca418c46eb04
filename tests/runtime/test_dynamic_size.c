/* test_dynamic_size.c - a fully convolutional graph with dynamic height and width loads even
 * though it cannot be sized at the 1x1 the load-time analysis takes dynamic dims as: MaxPool
 * 2x2 stride 2, nearest upsampling by 2, Concat with the input (an encoder-decoder's skip
 * connection; at 1x1 the pooling window does not fit). Runs at several real sizes against plain C,
 * with and without the optimizer and fast kernels; a size the graph cannot take (odd) fails at
 * run time naming the Concat; the same graph with static 1x1 dims still fails at load, naming
 * the MaxPool. lcv_model_params.free_input_dims: the graph declared at 6x6 runs at other sizes
 * with its height and width freed (outputs' too); an optimized .lcvm refuses to free them. */
#include "graph_build.h"

static lcv_graph *skip_graph(int64_t h, int64_t w) {
    lcv_graph *g = lcv_graph_new();
    CHECK(g && lcv_graph_add_opset(g, "", 13, &gb_err) == LCV_OK);
    const int64_t dx[4] = {1, 1, h, w}, d4[1] = {4};
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 4, dx);
    const double scales[4] = {1, 1, 2, 2};
    gb_const(g, "scales", LCV_DTYPE_FLOAT32, 1, d4, scales, 4);
    lcv_node *p = gb_node(g, "MaxPool", "x", "p", 13);
    static const int64_t two[2] = {2, 2};
    gb_attr_ints(p, "kernel_shape", two, 2);
    gb_attr_ints(p, "strides", two, 2);
    gb_attr_str(gb_node(g, "Resize", "p - scales", "u", 13), "mode", "nearest");
    gb_attr_int(gb_node(g, "Concat", "u x", "y", 13), "axis", 1);
    const int64_t dy[4] = {1, 2, h, w};
    gb_value(g, "y", LCV_DTYPE_FLOAT32, 4, dy);
    gb_output(g, "y");
    return g;
}

static void run_size(lcv_model *m, int64_t h, int64_t w) {
    const int64_t dx[4] = {1, 1, h, w};
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 4, dx, (uint32_t)(h * 31 + w));
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    if (!x || !s) goto done;
    const char *name = "x";
    const lcv_tensor *in = x;
    CHECK_MSG(lcv_session_run(s, 1, &name, &in) == LCV_OK, "%s", lcv_session_errmsg(s));
    const lcv_tensor *y = lcv_session_output(s, 0);
    CHECK(y && y->ndim == 4 && y->dims[1] == 2 && y->dims[2] == h && y->dims[3] == w);
    if (!y || y->ndim != 4 || y->dims[2] != h || y->dims[3] != w) goto done;
    const float *xv = x->data, *yv = y->data;
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            int64_t r = i / 2 * 2, c = j / 2 * 2;
            float mx = xv[r * w + c];
            if (xv[r * w + c + 1] > mx) mx = xv[r * w + c + 1];
            if (xv[(r + 1) * w + c] > mx) mx = xv[(r + 1) * w + c];
            if (xv[(r + 1) * w + c + 1] > mx) mx = xv[(r + 1) * w + c + 1];
            CHECK(yv[i * w + j] == mx);
            CHECK(yv[h * w + i * w + j] == xv[i * w + j]);
        }
    /* 5x5 pools to 2x2 and comes back as 4x4: refused where the shapes meet */
    const int64_t odd[4] = {1, 1, 5, 5};
    lcv_tensor *x5 = gb_tensor(LCV_DTYPE_FLOAT32, 4, odd, 7);
    in = x5;
    CHECK(x5 && lcv_session_run(s, 1, &name, &in) == LCV_ERR_SHAPE);
    CHECK_MSG(strstr(lcv_session_errmsg(s), "Concat") != NULL, "%s", lcv_session_errmsg(s));
    lcv_tensor_free(x5);
done:
    lcv_session_free(s);
    lcv_tensor_free(x);
}

/* The whole file at path (caller frees), *size its length. */
static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(1 << 20) : NULL;
    *size = buf ? fread(buf, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK_MSG(*size > 0, "cannot read %s", path);
    return buf;
}

static void test_free_dims(void) {
    lcv_model_params p = lcv_model_default_params();
    p.free_input_dims = 1u << 2 | 1u << 3;
    lcv_model *m = NULL;
    CHECK_MSG(lcv_model_from_graph(skip_graph(6, 6), &p, &m) == LCV_OK, "%s",
              m ? lcv_model_errmsg(m) : "");
    int64_t d[LCV_MAX_DIMS];
    CHECK(lcv_model_input_info(m, 0, NULL, d, NULL) == 4 && d[1] == 1 && d[2] == -1 && d[3] == -1);
    CHECK(lcv_model_output_info(m, 0, NULL, d, NULL) == 4 && d[2] == -1 && d[3] == -1);
    run_size(m, 6, 6);
    run_size(m, 8, 10);
    lcv_model_free(m);
    /* an .lcvm written optimized keeps what its passes made of the declared shapes */
    size_t size, lsize;
    void *onnx = read_all("tests/runtime/dyn_batch_cnn.onnx", &size), *lcvm = NULL;
    char err[256];
    CHECK(lcv_model_convert(onnx, size, NULL, &lcvm, &lsize, err, sizeof err) == LCV_OK);
    m = NULL;
    CHECK(lcv_model_load_buffer(lcvm, lsize, &p, &m) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(m && strstr(lcv_model_errmsg(m), "free_input_dims") != NULL, "%s",
              m ? lcv_model_errmsg(m) : "");
    lcv_model_free(m);
    m = NULL;
    CHECK(lcv_model_load_buffer(onnx, size, &p, &m) == LCV_OK);
    lcv_model_free(m);
    lcv_buffer_free(lcvm);
    free(onnx);
}

int main(void) {
    for (int mode = 0; mode < 3; mode++) {
        lcv_model *m = gb_model(skip_graph(-1, -1), mode != 0, mode == 2);
        if (!m) continue;
        run_size(m, 6, 6);
        run_size(m, 8, 10);
        run_size(m, 64, 32);
        lcv_model_free(m);
    }
    lcv_model_params p = lcv_model_default_params();
    lcv_model *m = NULL;
    CHECK(lcv_model_from_graph(skip_graph(1, 1), &p, &m) != LCV_OK);
    CHECK_MSG(m && strstr(lcv_model_errmsg(m), "MaxPool") != NULL, "%s",
              m ? lcv_model_errmsg(m) : "");
    lcv_model_free(m);
    test_free_dims();
    return lcv_test_finish("runtime_dynamic_size");
}
