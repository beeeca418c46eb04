/* fuzz_checkpoint.c - libFuzzer target for the trainer's checkpoint reader: any file given to
 * lcv_trainer_load must either restore a state or fail with a message and leave the trainer
 * exactly as it was (parameters compared bit for bit), never crash, leak or read out of
 * bounds. The trainer is made once from tests/runtime/dyn_batch_cnn.onnx (SGD with momentum,
 * so optimizer state is part of the format); the run starts in the repository root. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leancv.h"
#include "leancv_train.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lcv_trainer *trainer;
static char path[64];

/* Copies the file at src into the corpus folder (the last argument that is not an option). */
static void seed_corpus(int argc, char **argv, const char *src) {
    const char *dir = NULL;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-') dir = argv[i];
    if (!dir) return;
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/valid.ckpt", dir);
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int c;
    while (out && (c = fgetc(in)) != EOF) fputc(c, out);
    if (out) fclose(out);
    if (in) fclose(in);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    lcv_train_params p = lcv_train_default_params();
    if (lcv_trainer_create_file("tests/runtime/dyn_batch_cnn.onnx", &p, &trainer) != LCV_OK) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", lcv_trainer_errmsg(trainer));
        abort();
    }
    snprintf(path, sizeof path, "/tmp/lcv_fuzz_ckpt_%ld", (long)getpid());
    /* A valid checkpoint first, so the fuzzer can learn the format from it. */
    if (lcv_trainer_save(trainer, path) != LCV_OK) abort();
    seed_corpus(*argc, *argv, path);
    return 0;
}

static uint64_t param_hash(void) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < lcv_trainer_param_tensors(trainer); i++) {
        const char *name;
        const lcv_tensor *v;
        if (lcv_trainer_param(trainer, i, &name, &v) != LCV_OK) abort();
        const uint8_t *b = lcv_tensor_cdata(v);
        for (size_t k = 0; k < lcv_tensor_nbytes(v); k++) h = (h ^ b[k]) * 1099511628211ULL;
    }
    return h ^ (uint64_t)lcv_trainer_step_count(trainer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    uint64_t before = param_hash();
    if (lcv_trainer_load(trainer, path) != LCV_OK) {
        if (param_hash() != before || strlen(lcv_trainer_errmsg(trainer)) == 0) abort();
    }
    return 0;
}
