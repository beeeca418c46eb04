/* half.c - half-precision weights: every float32 initializer of a model stored as float16 or
 * bfloat16 with a Cast back to float after it, so the file is about half the size and runs
 * unchanged (leancv folds the Casts at load; ONNX Runtime does the same). */
#include <stdio.h>
#include <stdlib.h>

#include "../frontends/onnx/onnx.h"
#include "compress.h"

lcv_status lcv_convert_half(const void *data, size_t size, lcv_dtype dtype, void **out,
                            size_t *out_size, char *errbuf, size_t errcap) {
    lcv_err err;
    err.msg[0] = '\0';
    lcv_status st = LCV_OK;
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!data || !out || !out_size)
        st = lcv_fail(&err, LCV_ERR_INVALID_ARG, "lcv_convert_half: NULL argument");
    else if (dtype != LCV_DTYPE_FLOAT16 && dtype != LCV_DTYPE_BFLOAT16)
        st = lcv_fail(&err, LCV_ERR_INVALID_ARG, "lcv_convert_half: dtype %s is neither "
                      "float16 nor bfloat16", lcv_dtype_name(dtype));
    lcv_graph *g = NULL;
    if (st == LCV_OK) st = lcv_qdq_prepare(data, size, &g, &err);
    if (st == LCV_OK) st = lcv_qdq_half(g, dtype, &err);
    if (st == LCV_OK) st = lcv_onnx_write_graph(g, 0, out, out_size, &err);
    lcv_graph_free(g);
    if (st != LCV_OK && errbuf && errcap) snprintf(errbuf, errcap, "%s", err.msg);
    return st;
}
