/* fuzz_onnx.c - libFuzzer target for the ONNX frontend: every input is fed both to the model
 * importer and to the TensorProto reader; any crash, leak or sanitizer report is a bug. */
#include <stdlib.h>

#include "frontends/onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lcv_err e;
    lcv_graph *g = NULL;
    /* A bogus external directory exercises the location checks without touching real files. */
    if (lcv_onnx_import(data, size, "/nonexistent-lcv-fuzz", 1 << 20, &g, &e) == LCV_OK)
        lcv_graph_free(g);
    lcv_tensor *t = NULL;
    char *name = NULL;
    if (lcv_onnx_parse_tensor(data, size, &t, &name, &e) == LCV_OK) {
        lcv_tensor_free(t);
        free(name);
    }
    return 0;
}
