/* cli_util.h - helpers shared by the leancv subcommands: error reporting in the one-line
 * "leancv <cmd>: <what>" form, strict number/list parsing, model loading, input files
 * (.npy or images) and random inputs, timing and small formatting helpers. */
#ifndef LCV_CLI_UTIL_H
#define LCV_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leancv.h"
#include "leancv_image.h"

#define CLI_MAX_INPUTS 32

/* Prints "leancv <cmd>: <message>" to stderr and returns 1 (the exit status). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict parsers: the whole string must be a number in [lo, hi]. */
bool cli_parse_int(const char *s, long lo, long hi, long *out);
bool cli_parse_float(const char *s, float *out);
/* "a,b,c" (exactly n values, n <= 3) or a single value repeated. */
bool cli_parse_floats(const char *s, float *out, int n);
/* "WxH" with both in 1..LCV_IMAGE_MAX_SIDE. */
bool cli_parse_size(const char *s, int *w, int *h);

/* Reads a whole file of at most 2 GiB into *data (caller frees; one spare byte allocated).
 * Returns 0, or 1 after reporting. */
int cli_read_file(const char *cmd, const char *path, void **data, size_t *size);
/* Writes the whole buffer to path, or removes what it began. Returns 0, or 1 after reporting. */
int cli_write_file(const char *cmd, const char *path, const void *data, size_t size);

/* The value of option argv[*i]: advances *i; NULL (after reporting) when it is missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Image preprocessing options shared by run and bench. set_* record what the user gave so the
 * rest can default from the model's input shape. */
typedef struct cli_image_opts {
    lcv_image_params params;
    bool set_size, set_channels;
} cli_image_opts;
void cli_image_opts_init(cli_image_opts *o);
/* Consumes argv[*i] (and its value) if it is an image option: returns 1 if consumed, 0 if not
 * an image option, -1 on a bad value (already reported). */
int cli_image_opt(const char *cmd, int argc, char **argv, int *i, cli_image_opts *o);
extern const char *const cli_image_help;

/* Loads a model; on failure reports "leancv <cmd>: <model error>" and returns NULL. */
lcv_model *cli_load_model(const char *cmd, const char *path);
/* Same, with lcv_model_params.free_input_dims = free_dims. */
lcv_model *cli_load_model_free_dims(const char *cmd, const char *path, unsigned free_dims);

/* Inputs given as "[NAME=]FILE". */
typedef struct cli_inputs {
    int count;
    const char *names[CLI_MAX_INPUTS]; /* graph input names (owned by the model) */
    lcv_tensor *tensors[CLI_MAX_INPUTS];
} cli_inputs;
/* Loads every spec (each "[NAME=]FILE", .npy or PNG/JPEG) for model; specs without a name fill
 * the model's inputs in order. Returns 0 or the exit status after reporting. */
int cli_inputs_load(const char *cmd, const lcv_model *m, int n_specs, char **specs,
                    const cli_image_opts *img, cli_inputs *out);
/* Adds random tensors for every model input not yet given (dynamic dims = 1). */
int cli_inputs_fill_random(const char *cmd, const lcv_model *m, cli_inputs *in, uint64_t seed);
void cli_inputs_free(cli_inputs *in);

/* Runs the session; reports the session's error on failure. Returns 0 or 1. */
int cli_run_session(const char *cmd, lcv_session *s, const cli_inputs *in);

/* Monotonic seconds. */
double cli_now(void);
/* Shape text with dynamic dims by name, e.g. "[batch,1,28,28]". */
void cli_shape_text(int ndim, const int64_t *dims, const char *const *names, char *buf,
                    size_t cap);
/* A filesystem-safe file name for a tensor name: [A-Za-z0-9._-], others become '_'. */
void cli_safe_name(const char *name, char *buf, size_t cap);
/* Writes s as a JSON string literal (with quotes). */
void cli_json_string(const char *s);
int cli_cmp_double(const void *a, const void *b);

/* Subcommands: argv[0] is the subcommand name; return the process exit status. */
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif /* LCV_CLI_UTIL_H */
