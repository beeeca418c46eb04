/* fuzz_npy.c - libFuzzer target for the .npy parser: any byte string given to
 * lcv_npy_read_buffer must either parse (and then describe exactly the bytes present) or fail
 * with a message, never crash, leak or read out of bounds. Built by hand with
 *   clang -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc, this file, npy.c and the
 *   src/core sources; run as ./fuzz_npy -max_total_time=60 tests/fuzz/corpus_npy */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leancv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    lcv_tensor *t = NULL;
    lcv_status st = lcv_npy_read_buffer(data, size, &t, err, sizeof err);
    if (st == LCV_OK) {
        /* A parsed array never claims more data than the input held. */
        if (!t || lcv_tensor_nbytes(t) > size) abort();
        volatile uint8_t sink = 0;
        const uint8_t *p = lcv_tensor_cdata(t);
        for (size_t i = 0; i < lcv_tensor_nbytes(t); i++) sink ^= p[i];
        (void)sink;
    } else if (t != NULL || strlen(err) == 0) {
        abort();
    }
    lcv_tensor_free(t);
    return 0;
}
