/* cmd_build.c - `leancv build ARCH`: writes one of the named architectures of
 * include/leancv_build.h, freshly initialised, as an ONNX model for a given input shape and
 * class count, so it can be inspected (leancv info), run or trained from a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "leancv_build.h"

#define CMD "build"

int cmd_build(int argc, char **argv);

static void help(void) {
    printf("usage: leancv build ARCH -o MODEL.onnx [--input CxHxW] [--classes N] [--seed S]\n\n"
           "Writes the architecture ARCH with freshly initialised weights (PyTorch's default\n"
           "initialisation, drawn from the seed) as an ONNX classifier: input \"images\"\n"
           "[batch, C, H, W], output \"logits\" [batch, N]. ARCH (optionally prefixed\n"
           "\"arch:\"):\n");
    for (int i = 0; lcv_build_arch_name(i); i++) printf("  %s\n", lcv_build_arch_name(i));
    printf("  resnet-D-W             CIFAR-style ResNet, D = 6n + 2 layers, W stem channels\n\n"
           "  -o, --out FILE         where to write the model (required)\n"
           "  --input CxHxW          image shape (default 1x28x28)\n"
           "  --classes N            outputs (default 10)\n"
           "  --seed S               weight initialisation seed (default 0)\n"
           "`leancv train ARCH --data SPEC` builds ARCH for the data set's shape and classes.\n");
}

/* "CxHxW" with each part an integer >= 0 (the builder checks the limits). */
static bool parse_chw(const char *s, int chw[3]) {
    for (int i = 0; i < 3; i++) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 1000000 || *end != (i < 2 ? 'x' : '\0')) return false;
        chw[i] = (int)v;
        s = end + 1;
    }
    return true;
}

int cmd_build(int argc, char **argv) {
    const char *arch = NULL, *out = NULL;
    int chw[3] = {1, 28, 28};
    long classes = 10, seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (arch) return cli_fail(CMD, "unexpected argument '%s'", a);
            arch = a;
            continue;
        }
        if (!(v = cli_value(CMD, argc, argv, &i))) return 1;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--input") == 0) {
            if (!parse_chw(v, chw))
                return cli_fail(CMD, "--input '%s' is not CxHxW (e.g. 1x28x28)", v);
        } else if (strcmp(a, "--classes") == 0) {
            if (!cli_parse_int(v, 2, 100000, &classes))
                return cli_fail(CMD, "--classes '%s' is not an integer in 2..100000", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_parse_int(v, 0, 0x7fffffffffffffffL, &seed))
                return cli_fail(CMD, "--seed '%s' is not a non-negative integer", v);
        } else {
            return cli_fail(CMD, "unknown option '%s' (see leancv build --help)", a);
        }
    }
    if (!arch) return cli_fail(CMD, "no architecture given (see leancv build --help)");
    if (!out) return cli_fail(CMD, "no output file given (-o MODEL.onnx)");
    void *data;
    size_t size;
    char err[512];
    if (lcv_build_arch(arch, chw[0], chw[1], chw[2], (int)classes, (uint64_t)seed, &data, &size,
                       err, sizeof err) != LCV_OK)
        return cli_fail(CMD, "%s", err);
    FILE *f = fopen(out, "wb");
    bool ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = false;
    lcv_build_free_buffer(data);
    if (!ok) return cli_fail(CMD, "cannot write '%s'", out);
    printf("wrote %s: %s for %dx%dx%d images, %ld classes (%zu bytes)\n", out, arch, chw[0],
           chw[1], chw[2], classes, size);
    return 0;
}
