/* fuzz_model.c - libFuzzer target for the whole load path behind lcv_model_load_buffer:
 * import, op resolution, ordering, shape inference, constant folding, the optimizer passes and
 * kernel planning. Seeds: tests/fuzz/corpus_onnx (shared with fuzz_onnx). */
#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lcv_model_params p = lcv_model_default_params();
    p.max_bytes = 1 << 20;
    lcv_model *m = NULL;
    if (lcv_model_load_buffer(data, size, &p, &m) == LCV_OK) {
        lcv_model_stats st;
        lcv_model_get_stats(m, &st);
    }
    lcv_model_free(m);
    return 0;
}
