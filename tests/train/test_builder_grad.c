/* test_builder_grad.c - a whole network written with the model builder (include/leancv_build.h)
 * trains with correct gradients: the autodiff engine's gradient of L = sum(r * logits) for
 * every parameter tensor (conv, BatchNorm, linear) is compared with central finite
 * differences of the whole graph's training forward (BatchNorm with batch statistics).
 * The forward runs in float32, so eps is large and the tolerance loose; smooth activations
 * (SiLU) keep the differences away from kinks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "leancv_build.h"
#include "train/autodiff.h"

#define SILU LCV_BUILD_ACT_SILU

static uint64_t rng = 99;
static float frand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng >> 40) / 16777216.0 * 2.0 - 1.0);
}

/* L = sum(r * logits) after a training forward (r: weights per logit). */
static double loss(lcv_autodiff *ad, const lcv_tensor *x, const float *r, int64_t n) {
    lcv_err e;
    lcv_graph *g = lcv_autodiff_graph(ad);
    if (lcv_autodiff_forward(ad, 1, &x, true, 1, &e) != LCV_OK) {
        CHECK_MSG(0, "forward: %s", e.msg);
        return NAN;
    }
    const float *y = lcv_tensor_cdata(lcv_autodiff_value(ad, g->outputs[0]));
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

int main(void) {
    lcv_builder *b;
    CHECK(lcv_builder_create(2, 9, 7, 3, &b) == LCV_OK);
    int v = lcv_builder_conv(b, lcv_builder_input(b), 6, 3, 1, 1, SILU);
    v = lcv_builder_dwsep(b, v, 8, 3, 2, SILU);
    v = lcv_builder_inverted_residual(b, v, 8, 3, 1, 2, 0, SILU);
    v = lcv_builder_ghost_module(b, v, 8, 2, 3, SILU);
    v = lcv_builder_channel_shuffle(b, v, 2);
    v = lcv_builder_linear(b, lcv_builder_global_avgpool(b, v), 4);
    void *data = NULL;
    size_t size = 0;
    CHECK_MSG(lcv_builder_finish(b, v, &data, &size) == LCV_OK, "%s", lcv_builder_errmsg(b));
    lcv_builder_free(b);

    lcv_err e;
    lcv_graph *g = NULL;
    lcv_autodiff *ad = NULL;
    lcv_autodiff_params ap = {LCV_ISA_AUTO, 1, NULL, 0};
    CHECK_MSG(data && lcv_onnx_import(data, size, NULL, 0, &g, &e) == LCV_OK, "%s", e.msg);
    lcv_build_free_buffer(data);
    CHECK_MSG(g && lcv_autodiff_create(g, &ap, &ad, &e) == LCV_OK, "%s", e.msg);
    if (!ad) return lcv_test_finish("train_builder_grad");

    enum { N = 3, K = 4 };
    lcv_tensor *x;
    int64_t xd[4] = {N, 2, 9, 7};
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, xd, &x) == LCV_OK);
    for (int64_t i = 0; i < lcv_tensor_numel(x); i++) ((float *)lcv_tensor_data(x))[i] = frand();
    float r[N * K];
    for (int i = 0; i < N * K; i++) r[i] = frand();

    /* analytic gradients */
    CHECK(lcv_autodiff_forward(ad, 1, (const lcv_tensor *const *)&x, true, 1, &e) == LCV_OK);
    lcv_graph *ag = lcv_autodiff_graph(ad);
    lcv_tensor *seed = lcv_autodiff_seed(ad, ag->outputs[0], &e);
    CHECK_MSG(seed && lcv_tensor_numel(seed) == N * K, "%s", e.msg);
    if (seed) memcpy(lcv_tensor_data(seed), r, sizeof r);
    CHECK_MSG(lcv_autodiff_backward(ad, &e) == LCV_OK, "%s", e.msg);
    int np = lcv_autodiff_param_count(ad), checked = 0, bad = 0;
    double max_diff = 0, max_fd = 0;
    CHECK(np >= 20); /* conv weights, BN scale and bias of 7 convs, Gemm weight and bias */
    for (int i = 0; i < np; i++) {
        lcv_tensor *p = lcv_autodiff_param(ad, i);
        int64_t n = lcv_tensor_numel(p), step = n / 5 > 0 ? n / 5 : 1;
        float *grad = malloc(sizeof(float) * (size_t)n);
        memcpy(grad, lcv_tensor_cdata(lcv_autodiff_param_grad(ad, i)), sizeof(float) * (size_t)n);
        for (int64_t j = 0; j < n; j += step) {
            float *w = (float *)lcv_tensor_data(p) + j, w0 = *w;
            const float eps = 1e-2f;
            *w = w0 + eps;
            lcv_autodiff_params_changed(ad);
            double lp = loss(ad, x, r, N * K);
            *w = w0 - eps;
            lcv_autodiff_params_changed(ad);
            double lm = loss(ad, x, r, N * K);
            *w = w0;
            lcv_autodiff_params_changed(ad);
            double fd = (lp - lm) / (2.0 * eps), an = grad[j];
            checked++;
            max_diff = fmax(max_diff, fabs(fd - an));
            max_fd = fmax(max_fd, fabs(fd));
            if (!(fabs(fd - an) <= 2e-3 + 3e-2 * fabs(fd))) {
                bad++;
                fprintf(stderr, "%s[%lld]: autodiff %.6g, finite differences %.6g\n",
                        ag->values[lcv_autodiff_param_value(ad, i)].name, (long long)j, an, fd);
            }
        }
        free(grad);
    }
    CHECK_MSG(bad == 0, "%d of %d gradient elements differ", bad, checked);
    CHECK(checked > 80);
    CHECK(max_fd > 1e-2); /* the gradients checked are not all ~0 */
    printf("checked %d gradient elements of %d parameter tensors: max |difference| %.3g, max "
           "|gradient| %.3g\n", checked, np, max_diff, max_fd);
    lcv_tensor_free(x);
    lcv_autodiff_free(ad);
    return lcv_test_finish("train_builder_grad");
}
