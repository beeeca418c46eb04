/* cmd_convert.c - `leancv convert MODEL -o OUT.lcvm [--no-optimize]`: writes a model in
 * leancv's own format (docs/LCVM.md), the graph after the optimizer with its weights, so later
 * loads skip protobuf parsing and the passes (a QDQ model is stored with its integer nodes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static const char *const HELP =
    "usage: leancv convert MODEL -o OUT.lcvm [--no-optimize]\n\n"
    "Writes MODEL (ONNX or .lcvm) in leancv's own format: the graph as leancv runs it after\n"
    "the optimizer (fused activations and residual adds, QDQ patterns as integer QLinear\n"
    "nodes, BatchNorm and constants folded), weights included. Every leancv command loads\n"
    ".lcvm like ONNX; ONNX Runtime does not read it.\n\n"
    "  -o, --out FILE   the .lcvm file to write\n"
    "  --no-optimize    store the graph as in MODEL (the passes run when it is loaded)\n";

int cmd_convert(int argc, char **argv) {
    const char *cmd = "convert", *in = NULL, *out = NULL;
    bool optimize = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(HELP, stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) {
            if (!(out = cli_value(cmd, argc, argv, &i))) return 1;
        } else if (strcmp(a, "--no-optimize") == 0) {
            optimize = false;
        } else if (a[0] == '-') {
            return cli_fail(cmd, "unknown option '%s' (see leancv convert --help)", a);
        } else if (in) {
            return cli_fail(cmd, "more than one model given ('%s', '%s')", in, a);
        } else {
            in = a;
        }
    }
    if (!in || !out) return cli_fail(cmd, "a model and -o OUT are required (see --help)");
    void *data = NULL, *lcvm = NULL;
    size_t size = 0, lsize = 0;
    if (cli_read_file(cmd, in, &data, &size)) {
        free(data);
        return 1;
    }
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    /* ONNX external data sits next to the model file */
    char dir[4096];
    const char *slash = strrchr(in, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - in) : 1, slash ? in : ".");
    p.external_data_dir = dir;
    char err[512];
    lcv_status st = lcv_model_convert(data, size, &p, &lcvm, &lsize, err, sizeof err);
    free(data);
    if (st != LCV_OK) return cli_fail(cmd, "%s: %s", in, err);
    int rc = cli_write_file(cmd, out, lcvm, lsize);
    lcv_buffer_free(lcvm);
    if (rc == 0)
        printf("wrote %s (%zu bytes, %.3fx the input's %zu)\n", out, lsize,
               size ? (double)lsize / (double)size : 0.0, size);
    return rc;
}
