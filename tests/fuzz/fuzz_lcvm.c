/* fuzz_lcvm.c - libFuzzer target for loading leancv's own format (.lcvm) through
 * lcv_model_load_buffer. The checksum trailer is recomputed over each input first, so the
 * mutations reach the parser and the load path behind it instead of stopping at the checksum
 * (which tests/onnx/test_lcvm.c checks). Seeds: tests/fuzz/corpus_lcvm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/lcvm/lcvm.h"
#include "leancv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 20 || size > (1u << 20)) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    memcpy(buf, LCV_LCVM_MAGIC, 4);
    uint64_t h = lcv_lcvm_checksum(buf, size - 8);
    for (int b = 0; b < 8; b++) buf[size - 8 + (size_t)b] = (uint8_t)(h >> (8 * b));
    lcv_model_params p = lcv_model_default_params();
    p.max_bytes = 1 << 20;
    lcv_model *m = NULL;
    if (lcv_model_load_buffer(buf, size, &p, &m) == LCV_OK) {
        lcv_model_stats st;
        lcv_model_get_stats(m, &st);
    }
    lcv_model_free(m);
    free(buf);
    return 0;
}
