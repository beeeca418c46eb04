/* test_session.c - the public model/session API: loading from file and buffer, input/output
 * facts with a symbolic batch dimension, re-planning when the batch changes, results that do
 * not depend on the batch, errors for wrong inputs, profiling, and NULL-safety. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

#define MODEL "tests/runtime/dyn_batch_cnn.onnx"

static lcv_tensor *make_input(int64_t batch, int64_t seed) {
    int64_t dims[4] = {batch, 2, 6, 6};
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, dims, &t);
    float *p = lcv_tensor_data(t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) {
        int64_t per = 2 * 6 * 6;
        p[i] = (float)(((i % per) * 37 + (i / per + seed) * 11) % 17) / 8.0f - 1.0f;
    }
    return t;
}

static const lcv_tensor *run1(lcv_session *s, const lcv_tensor *x) {
    const char *names[] = {"x"};
    const lcv_tensor *ins[] = {x};
    lcv_status st = lcv_session_run(s, 1, names, ins);
    CHECK_MSG(st == LCV_OK, "%s", lcv_session_errmsg(s));
    return st == LCV_OK ? lcv_session_output(s, 0) : NULL;
}

static void test_info(const lcv_model *m) {
    CHECK(lcv_model_input_count(m) == 1);
    CHECK(lcv_model_output_count(m) == 1);
    CHECK(strcmp(lcv_model_input_name(m, 0), "x") == 0);
    CHECK(strcmp(lcv_model_output_name(m, 0), "logits") == 0);
    lcv_dtype dt;
    int64_t dims[LCV_MAX_DIMS];
    const char *names[LCV_MAX_DIMS];
    CHECK(lcv_model_input_info(m, 0, &dt, dims, names) == 4);
    CHECK(dt == LCV_DTYPE_FLOAT32);
    CHECK(dims[0] == -1 && names[0] && strcmp(names[0], "N") == 0);
    CHECK(dims[1] == 2 && dims[2] == 6 && dims[3] == 6);
    CHECK(lcv_model_output_info(m, 0, &dt, dims, names) == 2);
    CHECK(dims[0] == -1 && dims[1] == 5);
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    CHECK(st.param_count == 4 * 2 * 9 + 4 + 4 * 4 + 5 * 4 + 5 + 2);
    CHECK(st.macs == 4 * 36 * 18 + 5 * 4); /* conv at batch 1 + gemm */
    lcv_node_info ni;
    CHECK(lcv_model_node_info(m, 0, &ni) == LCV_OK && strcmp(ni.op_type, "Conv") == 0);
    CHECK(ni.macs == 4 * 36 * 18);
    CHECK(lcv_model_node_info(m, 1000, &ni) == LCV_ERR_INVALID_ARG);
}

static void test_batches(const lcv_model *m) {
    lcv_session *s = NULL;
    lcv_session_params p = lcv_session_default_params();
    p.profile = 1;
    CHECK(lcv_session_create(m, &p, &s) == LCV_OK);
    lcv_tensor *x1 = make_input(1, 0), *x3 = make_input(3, 0);
    float ref[5];
    const lcv_tensor *y = run1(s, x1);
    CHECK(y && lcv_tensor_ndim(y) == 2 && lcv_tensor_dim(y, 0) == 1 && lcv_tensor_dim(y, 1) == 5);
    if (y) memcpy(ref, lcv_tensor_cdata(y), sizeof ref);
    y = run1(s, x3); /* batch changes: re-plan */
    CHECK(y && lcv_tensor_dim(y, 0) == 3);
    if (y) {
        const float *o = lcv_tensor_cdata(y);
        /* row 0 of the batch holds the same image as the batch-1 run */
        for (int k = 0; k < 5; k++) CHECK_NEAR(o[k], ref[k], 1e-5);
    }
    y = run1(s, x1); /* and back */
    CHECK(y && lcv_tensor_dim(y, 0) == 1);
    if (y)
        for (int k = 0; k < 5; k++) CHECK(((const float *)lcv_tensor_cdata(y))[k] == ref[k]);
    double secs = -1;
    int64_t calls = -1;
    CHECK(lcv_session_profile(s, 0, &secs, &calls) == LCV_OK);
    CHECK(calls == 3 && secs >= 0);
    lcv_tensor_free(x1);
    lcv_tensor_free(x3);
    lcv_session_free(s);
}

static void expect_run_error(lcv_session *s, int n, const char **names, const lcv_tensor **ins,
                             lcv_status want, const char *substr) {
    lcv_status st = lcv_session_run(s, n, names, ins);
    CHECK_MSG(st == want, "got %s want %s: %s", lcv_status_name(st), lcv_status_name(want),
              lcv_session_errmsg(s));
    CHECK_MSG(strstr(lcv_session_errmsg(s), substr) != NULL, "'%s' lacks '%s'",
              lcv_session_errmsg(s), substr);
    CHECK(lcv_session_output(s, 0) == NULL);
}

static void test_bad_inputs(const lcv_model *m) {
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    int64_t d_rank[3] = {1, 2, 6};
    int64_t d_fixed[4] = {1, 3, 6, 6};
    int64_t d_ok[4] = {1, 2, 6, 6};
    lcv_tensor *rank = NULL, *fixed = NULL, *ints = NULL, *ok = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 3, d_rank, &rank);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, d_fixed, &fixed);
    lcv_tensor_create(LCV_DTYPE_INT32, 4, d_ok, &ints);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, d_ok, &ok);
    const char *x[] = {"x", "x"};
    const char *wrong[] = {"y"};
    const lcv_tensor *in_rank[] = {rank}, *in_fixed[] = {fixed}, *in_ints[] = {ints};
    const lcv_tensor *in_ok2[] = {ok, ok};
    expect_run_error(s, 1, x, in_rank, LCV_ERR_SHAPE, "expected shape");
    expect_run_error(s, 1, x, in_fixed, LCV_ERR_SHAPE, "[1,3,6,6]");
    expect_run_error(s, 1, x, in_ints, LCV_ERR_SHAPE, "int32");
    expect_run_error(s, 1, wrong, in_ok2, LCV_ERR_INVALID_ARG, "'y'");
    expect_run_error(s, 2, x, in_ok2, LCV_ERR_INVALID_ARG, "twice");
    expect_run_error(s, 0, x, in_ok2, LCV_ERR_INVALID_ARG, "not given");
    /* the session still works after errors */
    CHECK(run1(s, ok) != NULL);
    lcv_tensor_free(rank);
    lcv_tensor_free(fixed);
    lcv_tensor_free(ints);
    lcv_tensor_free(ok);
    lcv_session_free(s);
}

static void test_buffer_and_null(void) {
    FILE *f = fopen(MODEL, "rb");
    CHECK(f != NULL);
    if (!f) return;
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    lcv_model *m = NULL;
    CHECK(lcv_model_load_buffer(buf, n, NULL, &m) == LCV_OK);
    CHECK(lcv_model_input_count(m) == 1);
    lcv_model_free(m);
    lcv_model_params p = lcv_model_default_params();
    p.max_bytes = 16;
    CHECK(lcv_model_load_buffer(buf, n, &p, &m) == LCV_ERR_PARSE);
    CHECK(strstr(lcv_model_errmsg(m), "limit") != NULL);
    lcv_model_free(m);
    CHECK(lcv_model_load_file("tests/runtime/no_such_file.onnx", NULL, &m) == LCV_ERR_IO);
    CHECK(strstr(lcv_model_errmsg(m), "no_such_file") != NULL);
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_ERR_INVALID_ARG && s == NULL);
    lcv_model_free(m);
    lcv_model_free(NULL);
    lcv_session_free(NULL);
    lcv_tensor_free(NULL);
    CHECK(lcv_model_load_file(MODEL, NULL, NULL) == LCV_ERR_INVALID_ARG);
}

int main(void) {
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(MODEL, NULL, &m);
    CHECK_MSG(st == LCV_OK, "%s", lcv_model_errmsg(m));
    if (st == LCV_OK) {
        test_info(m);
        test_batches(m);
        test_bad_inputs(m);
    }
    lcv_model_free(m);
    test_buffer_and_null();
    return lcv_test_finish("runtime_session");
}
