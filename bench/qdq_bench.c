/* qdq_bench.c - time of QuantizeLinear (float32 -> uint8) and DequantizeLinear (uint8 ->
 * float32) on one activation-sized tensor, per tensor: the reference exec of src/ops/quant.c
 * and the q8-cvt kernels at every ISA level this CPU runs (one thread); median of runs.
 * Usage: qdq_bench [elements] [runs]   (defaults 1048576 50) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "kernels/q8-cvt/q8cvt.h"
#include "ops/op.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median time of the reference exec of op (QuantizeLinear or DequantizeLinear). */
static double time_reference(const char *op, lcv_tensor *x, lcv_tensor *s, lcv_tensor *z,
                             lcv_tensor *y, int runs) {
    lcv_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)"bench";
    node.op_type = (char *)op;
    node.op = lcv_op_lookup(op, "");
    node.opset = 13;
    node.fused.residual = -1;
    const lcv_tensor *in[3] = {x, s, z};
    lcv_tensor *out[1] = {y};
    lcv_err err;
    lcv_opctx c = {&node, 3, in, 1, out, &err, NULL, NULL, NULL};
    double *t = malloc(sizeof(double) * (size_t)runs), med;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        if (lcv_op_table[node.op].exec(&c) != LCV_OK) fprintf(stderr, "%s: %s\n", op, err.msg);
        t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    med = t[runs / 2];
    free(t);
    return med;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1048576;
    int runs = argc > 2 ? atoi(argv[2]) : 50;
    if (n < 1 || n > 100000000 || runs < 1 || runs > 100000) {
        fprintf(stderr, "usage: qdq_bench [elements] [runs]\n");
        return 1;
    }
    int64_t dims[1] = {n};
    lcv_tensor *x = NULL, *q = NULL, *yf = NULL, *s = NULL, *z = NULL;
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, dims, &x) != LCV_OK ||
        lcv_tensor_create(LCV_DTYPE_UINT8, 1, dims, &q) != LCV_OK ||
        lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, dims, &yf) != LCV_OK ||
        lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &s) != LCV_OK ||
        lcv_tensor_create(LCV_DTYPE_UINT8, 0, NULL, &z) != LCV_OK) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint32_t r = 1;
    for (long i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        ((float *)x->data)[i] = (float)(r >> 8) / 16777216.0f * 6.0f - 3.0f;
    }
    *(float *)s->data = 0.0235f;
    *(uint8_t *)z->data = 128;
    printf("%ld elements, median of %d runs, ms (Gelem/s)\n", n, runs);
    double tq = time_reference("QuantizeLinear", x, s, z, q, runs);
    double td = time_reference("DequantizeLinear", q, s, z, yf, runs);
    printf("  %-10s quantize %8.3f (%5.2f)   dequantize %8.3f (%5.2f)\n", "reference", tq,
           (double)n / tq * 1e-6, td, (double)n / td * 1e-6);
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    double *t = malloc(sizeof(double) * (size_t)runs);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        const lcv_q8cvt_kernels *k = lcv_q8cvt_kernels_for(isa);
        double m[2];
        for (int which = 0; which < 2; which++) {
            for (int i = 0; i < runs; i++) {
                double t0 = now_ms();
                if (which == 0) k->quant_u8(x->data, 0.0235f, 128, q->data, n);
                else k->dequant_u8(q->data, 0.0235f, 128, yf->data, n);
                t[i] = now_ms() - t0;
            }
            qsort(t, (size_t)runs, sizeof t[0], cmp_double);
            m[which] = t[runs / 2];
        }
        printf("  %-10s quantize %8.3f (%5.2f)   dequantize %8.3f (%5.2f)\n", lcv_isa_name(isa),
               m[0], (double)n / m[0] * 1e-6, m[1], (double)n / m[1] * 1e-6);
    }
    free(t);
    lcv_tensor_free(x);
    lcv_tensor_free(q);
    lcv_tensor_free(yf);
    lcv_tensor_free(s);
    lcv_tensor_free(z);
    return 0;
}
