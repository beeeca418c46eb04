/* test_conv.c - the backward of Conv and ConvTranspose: random odd shapes in 1, 2 and 3
 * spatial dims with groups (depthwise included), strides, dilations, asymmetric pads,
 * auto_pad, output_padding and output_shape, against float64 finite differences (every ISA
 * level, 1 vs 2 threads); the GEMM, 1x1 and direct paths and the column tiling each hit on
 * purpose; three fixed cases against PyTorch autograd (conv_grad_torch.py, run here so a
 * missing torch fails the test); bad inputs. */
#include <libgen.h>

#include "gradcheck.h"
#include "ops/window.h"

static const gradcheck_opts OPTS = {2e-4, 1e-3, 0, 11, NULL, false};

typedef struct conv_case {
    bool transpose;
    int nsp;
    int64_t batch, group, c_g, m_g; /* Conv: X has group*c_g channels, Y group*m_g */
    int64_t in[3], kernel[3], stride[3], dil[3], pads[6], opad[3], oshape[3];
    const char *auto_pad;          /* NULL: attribute absent */
    bool bias, with_opad, with_oshape;
} conv_case;

static void conv_case_desc(const conv_case *k, char *buf, size_t cap) {
    snprintf(buf, cap, "%s nsp %d n%lld g%lld c_g %lld m_g %lld in %lldx%lldx%lld k %lldx%lldx%lld "
             "s %lld,%lld,%lld d %lld,%lld,%lld pads %lld,%lld,%lld,%lld,%lld,%lld auto_pad %s%s%s",
             k->transpose ? "ConvTranspose" : "Conv", k->nsp, (long long)k->batch,
             (long long)k->group, (long long)k->c_g, (long long)k->m_g, (long long)k->in[0],
             (long long)k->in[1], (long long)k->in[2], (long long)k->kernel[0],
             (long long)k->kernel[1], (long long)k->kernel[2], (long long)k->stride[0],
             (long long)k->stride[1], (long long)k->stride[2], (long long)k->dil[0],
             (long long)k->dil[1], (long long)k->dil[2], (long long)k->pads[0],
             (long long)k->pads[1], (long long)k->pads[2], (long long)k->pads[3],
             (long long)k->pads[4], (long long)k->pads[5], k->auto_pad ? k->auto_pad : "-",
             k->with_opad ? " output_padding" : "", k->with_oshape ? " output_shape" : "");
}

/* Builds the node and inputs of a case; returns the number of inputs. */
static int conv_case_build(const conv_case *k, optest *t, lcv_tensor **in, uint64_t *s) {
    int nsp = k->nsp;
    optest_init(t, k->transpose ? "ConvTranspose" : "Conv", 11, k->bias ? 3 : 2, 1);
    optest_attr_int(t, "group", k->group);
    optest_attr_ints(t, "kernel_shape", nsp, k->kernel);
    optest_attr_ints(t, "strides", nsp, k->stride);
    optest_attr_ints(t, "dilations", nsp, k->dil);
    if (k->auto_pad) {
        optest_attr_str(t, "auto_pad", k->auto_pad);
    } else {
        int64_t p[6];
        for (int d = 0; d < nsp; d++) {
            p[d] = k->pads[d];
            p[nsp + d] = k->pads[3 + d];
        }
        optest_attr_ints(t, "pads", 2 * nsp, p);
    }
    if (k->with_opad) optest_attr_ints(t, "output_padding", nsp, k->opad);
    if (k->with_oshape) optest_attr_ints(t, "output_shape", nsp, k->oshape);
    int64_t c = k->group * k->c_g, m = k->group * k->m_g;
    int64_t xd[5] = {k->batch, c}, wd[5];
    if (k->transpose) {
        wd[0] = c;         /* ConvTranspose W: [C_in, C_out / group, k...] */
        wd[1] = k->m_g;
    } else {
        wd[0] = m;
        wd[1] = k->c_g;
    }
    for (int d = 0; d < nsp; d++) {
        xd[2 + d] = k->in[d];
        wd[2 + d] = k->kernel[d];
    }
    int64_t bd[1] = {m};
    in[0] = gradcheck_tensor(nsp + 2, xd, -1, 1, s);
    in[1] = gradcheck_tensor(nsp + 2, wd, -1, 1, s);
    in[2] = k->bias ? gradcheck_tensor(1, bd, -1, 1, s) : NULL;
    return k->bias ? 3 : 2;
}

static void run_case(const conv_case *k, gradcheck_env *e, int max_checks, double atol, uint64_t *s) {
    optest t;
    lcv_tensor *in[3];
    int n_in = conv_case_build(k, &t, in, s);
    gradcheck_opts o = OPTS;
    o.max_checks = max_checks;
    if (atol > 0) o.atol = atol;
    char desc[512];
    conv_case_desc(k, desc, sizeof desc);
    CHECK_MSG(gradcheck_every_isa(&t, n_in, (const lcv_tensor *const *)in, 1, &o, e), "%s", desc);
    for (int i = 0; i < 3; i++) lcv_tensor_free(in[i]);
    optest_free(&t);
}

static conv_case base_case(bool transpose, int nsp) {
    conv_case k;
    memset(&k, 0, sizeof k);
    k.transpose = transpose;
    k.nsp = nsp;
    k.batch = 1;
    k.group = k.c_g = k.m_g = 1;
    for (int d = 0; d < 3; d++) k.in[d] = k.kernel[d] = k.stride[d] = k.dil[d] = 1;
    return k;
}

/* A random case whose output exists; auto_pad cycles through absent and the three modes. */
static conv_case random_case(bool transpose, int trial, uint64_t *s) {
    int nsp = trial % 7 == 3 ? 3 : trial % 7 == 5 ? 1 : 2;
    conv_case k = base_case(transpose, nsp);
    k.batch = gradcheck_int(s, 1, 3);
    k.group = gradcheck_int(s, 1, 3);
    k.c_g = gradcheck_int(s, 1, 7 / k.group < 3 ? 7 / k.group : 3);
    k.m_g = gradcheck_int(s, 1, 3);
    k.bias = trial % 3 != 1;
    static const char *const modes[] = {NULL, "SAME_UPPER", "SAME_LOWER", "VALID", NULL};
    k.auto_pad = modes[trial % 5];
    int64_t maxin = nsp == 3 ? 4 : 9;
    for (int d = 0; d < nsp; d++) {
        k.kernel[d] = gradcheck_int(s, 1, 3);
        k.stride[d] = gradcheck_int(s, 1, 3);
        k.dil[d] = gradcheck_int(s, 1, 2);
        int64_t ext = (k.kernel[d] - 1) * k.dil[d] + 1;
        k.pads[d] = gradcheck_int(s, 0, 2);
        k.pads[3 + d] = gradcheck_int(s, 0, 2);
        int64_t lo = 1;
        if (!transpose) {
            /* VALID drops the pads; explicit pads must leave room for the dilated kernel. */
            int64_t need = ext - (k.auto_pad ? 0 : k.pads[d] + k.pads[3 + d]);
            if (need > lo) lo = need;
        }
        k.in[d] = gradcheck_int(s, lo, lo > maxin ? lo : maxin);
        if (!transpose && !k.auto_pad && k.in[d] + k.pads[d] + k.pads[3 + d] < ext)
            k.pads[3 + d] += ext - (k.in[d] + k.pads[d] + k.pads[3 + d]);
        if (transpose) {
            int64_t lim = k.stride[d] > k.dil[d] ? k.stride[d] : k.dil[d];
            k.opad[d] = gradcheck_int(s, 0, lim - 1);
            int64_t full = k.stride[d] * (k.in[d] - 1) + k.opad[d] + ext;
            /* explicit pads must leave at least one output */
            while (k.pads[d] + k.pads[3 + d] > full - 1)
                k.pads[k.pads[d] > 0 ? d : 3 + d]--;
        }
    }
    if (transpose) {
        k.with_opad = trial % 2 == 0;
        if (!k.with_opad)
            for (int d = 0; d < nsp; d++) k.opad[d] = 0;
        k.with_oshape = trial % 4 == 1 && !k.auto_pad;
        if (k.with_oshape)
            for (int d = 0; d < nsp; d++) {
                int64_t ext = (k.kernel[d] - 1) * k.dil[d] + 1;
                int64_t full = k.stride[d] * (k.in[d] - 1) + k.opad[d] + ext;
                k.oshape[d] = full - gradcheck_int(s, 0, full - 1 < 2 ? full - 1 : 2);
            }
    }
    return k;
}

static void test_random(gradcheck_env *e, bool transpose) {
    uint64_t s = transpose ? 11 : 5;
    for (int trial = 0; trial < 40; trial++) {
        conv_case k = random_case(transpose, trial, &s);
        run_case(&k, e, 0, 0, &s);
    }
}

/* A 2-D depthwise case of batch 2: group channels of h x w, a kernel x kernel window. */
static conv_case depthwise_case(bool transpose, int64_t group, int64_t h, int64_t w,
                                int64_t kernel) {
    conv_case k = base_case(transpose, 2);
    k.batch = 2;
    k.group = group;
    k.in[0] = h;
    k.in[1] = w;
    k.kernel[0] = k.kernel[1] = kernel;
    return k;
}

/* Each engine path on purpose: direct (depthwise, multiplier 2), the GEMM with im2col, 1x1
 * read in place, and the column tiling with products past the GEMM's K block. */
static void test_paths(gradcheck_env *e, bool transpose) {
    uint64_t s = transpose ? 21 : 20;
    conv_case k = depthwise_case(transpose, 5, 9, 7, 3);
    k.stride[0] = 2;
    k.pads[0] = k.pads[1] = k.pads[3] = 1;
    k.bias = true;
    run_case(&k, e, 0, 0, &s); /* depthwise */
    k.m_g = 2;
    k.dil[1] = 2;
    run_case(&k, e, 0, 0, &s); /* depth multiplier 2 */

    k = depthwise_case(transpose, 6, 13, 19, 5);
    k.pads[0] = 2;
    k.pads[1] = 1;
    k.pads[3] = 3;
    k.pads[4] = 2;
    run_case(&k, e, 0, 0, &s); /* depthwise stride 1: the adjoint on the inference kernels */
    k.dil[0] = 2;
    k.pads[0] = 9; /* wider than the dilated kernel: the adjoint's direct loops */
    run_case(&k, e, 0, 0, &s);
    /* planes narrower than a vector (a backbone's deepest layers), column dilation 2 */
    k = depthwise_case(transpose, 3, 4, 4, 5);
    k.pads[0] = k.pads[1] = k.pads[3] = k.pads[4] = 2;
    run_case(&k, e, 0, 0, &s);
    k = depthwise_case(transpose, 3, 6, 5, 3);
    k.dil[1] = 2;
    k.pads[1] = k.pads[4] = 2;
    run_case(&k, e, 0, 0, &s);

    k = base_case(transpose, 2);
    k.batch = 2;
    k.c_g = 6;
    k.m_g = 5;
    k.in[0] = 7;
    k.in[1] = 9;
    k.bias = true;
    run_case(&k, e, 0, 0, &s); /* 1x1: X is its own column matrix */
    k.group = 2;
    k.c_g = 3;
    k.m_g = 4;
    run_case(&k, e, 0, 0, &s); /* grouped 1x1 */

    k = base_case(transpose, 2);
    k.c_g = 32;
    k.m_g = 6;
    k.in[0] = k.in[1] = 32;
    k.kernel[0] = k.kernel[1] = 3;
    k.pads[0] = k.pads[1] = k.pads[3] = k.pads[4] = 1;
    k.bias = true;
    run_case(&k, e, 16, 1e-3, &s); /* 288-row column matrix in two tiles */

    k = base_case(transpose, 1);
    k.batch = 3;
    k.c_g = 5;
    k.m_g = 3;
    k.in[0] = 300;
    k.kernel[0] = 4;
    k.dil[0] = 2;
    k.pads[0] = 2;
    k.pads[3] = 1;
    run_case(&k, e, 16, 5e-4, &s); /* 1-D, rows past the K block */

    k = base_case(transpose, 2);
    k.batch = 11;
    k.c_g = 5;
    k.m_g = 13;
    k.in[0] = 6;
    k.in[1] = 5;
    k.kernel[0] = k.kernel[1] = 3;
    k.stride[1] = 2;
    k.pads[0] = k.pads[1] = k.pads[4] = 1;
    k.bias = true;
    run_case(&k, e, 0, 0, &s); /* batch in uneven chunks, 45 column-matrix rows */

    k = base_case(transpose, 3);
    k.batch = 2;
    k.group = 2;
    k.c_g = 3;
    k.m_g = 2;
    k.in[0] = 3;
    k.in[1] = 5;
    k.in[2] = 4;
    k.kernel[0] = k.kernel[1] = k.kernel[2] = 2;
    k.stride[1] = 2;
    k.pads[2] = 1;
    k.pads[4] = 1;
    k.bias = true;
    run_case(&k, e, 0, 0, &s); /* 3-D grouped */
}

/* ---- PyTorch reference ----------------------------------------------------------------- */

static lcv_tensor *read_npy(const char *dir, const char *name, const char *key) {
    char path[1024], err[256] = "";
    snprintf(path, sizeof path, "%s/%s_%s.npy", dir, name, key);
    lcv_tensor *t = NULL;
    if (lcv_npy_read_file(path, &t, err, sizeof err) != LCV_OK)
        fprintf(stderr, "  %s: %s\n", path, err);
    return t;
}

/* Max |ours - torch| over a gradient, or +inf on a shape mismatch. */
static double max_diff(const lcv_tensor *ours, const lcv_tensor *ref) {
    if (!ref || !lcv_shape_equal(ours->ndim, ours->dims, ref->ndim, ref->dims)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < lcv_tensor_numel(ours); i++) {
        double d = fabs(lcv_load_f64(ours->dtype, ours->data, i) -
                        lcv_load_f64(ref->dtype, ref->data, i));
        m = d > m ? d : m;
    }
    return m;
}

static void torch_case(const char *dir, const char *name, bool transpose, const int64_t *stride,
                       const int64_t *pads, const int64_t *dil, const int64_t *opad,
                       int64_t group) {
    optest t;
    optest_init(&t, transpose ? "ConvTranspose" : "Conv", 11, 3, 1);
    optest_attr_ints(&t, "strides", 2, stride);
    optest_attr_ints(&t, "pads", 4, pads);
    optest_attr_ints(&t, "dilations", 2, dil);
    if (opad) optest_attr_ints(&t, "output_padding", 2, opad);
    optest_attr_int(&t, "group", group);
    lcv_tensor *x = read_npy(dir, name, "x"), *w = read_npy(dir, name, "w");
    lcv_tensor *b = read_npy(dir, name, "b"), *dy = read_npy(dir, name, "dy");
    lcv_tensor *rdx = read_npy(dir, name, "dx"), *rdw = read_npy(dir, name, "dw");
    lcv_tensor *rdb = read_npy(dir, name, "db");
    CHECK_MSG(x && w && b && dy && rdx && rdw && rdb, "%s: fixture files missing", name);
    if (x && w && b && dy) {
        lcv_tensor *y = NULL;
        lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &y);
        const lcv_tensor *in[3] = {x, w, b};
        CHECK(lcv_op_invoke(t.node, 3, in, 1, &y, &t.err) == LCV_OK);
        lcv_tensor *dx = optest_tensor(LCV_DTYPE_FLOAT32, x->ndim, x->dims, NULL);
        lcv_tensor *dw = optest_tensor(LCV_DTYPE_FLOAT32, w->ndim, w->dims, NULL);
        lcv_tensor *db = optest_tensor(LCV_DTYPE_FLOAT32, b->ndim, b->dims, NULL);
        const lcv_tensor *outs[1] = {y}, *douts[1] = {dy};
        lcv_tensor *din[3] = {dx, dw, db};
        lcv_gradctx g = {t.node, 3, in, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
        lcv_status st = lcv_grad_lookup(t.node->op)(&g);
        CHECK_MSG(st == LCV_OK, "%s: %s", name, t.err.msg);
        double ex = max_diff(dx, rdx), ew = max_diff(dw, rdw), eb = max_diff(db, rdb);
        CHECK_MSG(ex <= 1e-5 && ew <= 1e-5 && eb <= 1e-5, "%s vs PyTorch: max |diff| dX %.3g "
                  "dW %.3g dB %.3g", name, ex, ew, eb);
        lcv_tensor_free(y);
        lcv_tensor_free(dx);
        lcv_tensor_free(dw);
        lcv_tensor_free(db);
    }
    lcv_tensor *all[7] = {x, w, b, dy, rdx, rdw, rdb};
    for (int i = 0; i < 7; i++) lcv_tensor_free(all[i]);
    optest_free(&t);
}

static void test_torch(const char *argv0) {
    char exe[1024], dir[1100], cmd[1400];
    snprintf(exe, sizeof exe, "%s", argv0);
    snprintf(dir, sizeof dir, "%s/conv_grad_torch", strchr(argv0, '/') ? dirname(exe) : ".");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/grad/conv_grad_torch.py '%s'", dir);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "'%s' failed (exit %d): PyTorch reference data is required", cmd, rc);
    if (rc != 0) return;
    const int64_t s21[2] = {2, 1}, s22[2] = {2, 2}, p1[4] = {1, 1, 1, 1}, d12[2] = {1, 2};
    const int64_t d11[2] = {1, 1}, p10[4] = {1, 0, 1, 0}, op10[2] = {1, 0};
    torch_case(dir, "grouped", false, s21, p1, d12, NULL, 2);
    torch_case(dir, "depthwise", false, s22, p1, d11, NULL, 5);
    torch_case(dir, "transpose", true, s22, p10, d11, op10, 1);
}

/* ---- bad inputs ------------------------------------------------------------------------ */

static void test_bad(void) {
    uint64_t s = 9;
    optest t;
    optest_init(&t, "Conv", 11, 2, 1);
    const int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, yd[4] = {1, 3, 3, 3};
    const int64_t bad_y[4] = {1, 3, 4, 3}, w_bad[4] = {3, 4, 3, 3};
    lcv_tensor *x = gradcheck_tensor(4, xd, -1, 1, &s), *w = gradcheck_tensor(4, wd, -1, 1, &s);
    lcv_tensor *y = gradcheck_tensor(4, yd, -1, 1, &s), *dyb = gradcheck_tensor(4, bad_y, -1, 1, &s);
    lcv_tensor *wb = gradcheck_tensor(4, w_bad, -1, 1, &s);
    lcv_tensor *dx = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, NULL);
    const lcv_tensor *in[2] = {x, w}, *outs[1] = {y}, *douts[1] = {dyb};
    lcv_tensor *din[2] = {dx, NULL};
    lcv_gradctx g = {t.node, 2, in, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
    CHECK(lcv_grad_conv(&g) == LCV_ERR_SHAPE && strstr(t.err.msg, "gradient of output 0"));
    douts[0] = y;
    in[1] = wb; /* channels do not match */
    CHECK(lcv_grad_conv(&g) == LCV_ERR_SHAPE && strstr(t.err.msg, "node 'n'"));
    in[1] = w;
    const int64_t neg[2] = {-1, 1};
    optest_attr_ints(&t, "strides", 2, neg);
    CHECK(lcv_grad_conv(&g) == LCV_ERR_INVALID_ARG && strstr(t.err.msg, "strides"));
    optest_free(&t);
    optest_init(&t, "Conv", 11, 2, 1);
    g.node = t.node;
    CHECK(lcv_grad_conv(&g) == LCV_OK);
    t.node->fused.residual = 2;
    CHECK(lcv_grad_conv(&g) == LCV_ERR_UNSUPPORTED && strstr(t.err.msg, "fused"));
    optest_free(&t);
    optest_init(&t, "ConvTranspose", 11, 2, 1);
    g.node = t.node;
    const int64_t xt[4] = {1, 3, 2, 2};
    lcv_tensor *x64 = optest_tensor(LCV_DTYPE_FLOAT64, 4, xt, NULL);
    lcv_tensor *w64 = optest_tensor(LCV_DTYPE_FLOAT64, 4, wd, NULL);
    in[0] = x64;
    in[1] = w64;
    din[0] = NULL;
    CHECK(lcv_grad_conv_transpose(&g) == LCV_ERR_UNSUPPORTED && strstr(t.err.msg, "float32"));
    lcv_tensor *all[8] = {x, w, y, dyb, wb, dx, x64, w64};
    for (int i = 0; i < 8; i++) lcv_tensor_free(all[i]);
    optest_free(&t);
}

int main(int argc, char **argv) {
    (void)argc;
    gradcheck_env e;
    gradcheck_env_init(&e);
    test_torch(argv[0]);
    test_paths(&e, false);
    test_paths(&e, true);
    test_random(&e, false);
    test_random(&e, true);
    test_bad();
    gradcheck_env_free(&e);
    return lcv_test_finish("grad_conv");
}
