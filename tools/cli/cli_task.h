/* cli_task.h - what leancv detect, segment and textdet share: common options, loading the
 * model and the image, fitting the image to the network input (letterbox or plain resize) with
 * the mapping back to image pixels, a timed run split into pre-processing / network /
 * post-processing, class-name files, and the common part of the results JSON
 * (docs/RESULTS_JSON.md). */
#ifndef LCV_CLI_TASK_H
#define LCV_CLI_TASK_H

#include "cli_json.h"
#include "cli_util.h"

typedef struct cli_task_opts {
    const char *model_path, *image_path;
    const char *out_png;    /* -o: the drawn image (NULL: none) */
    const char *json_path;  /* --json: results file ("-": stdout; NULL: none) */
    const char *labels_path;
    long threads;
    cli_image_opts img;     /* --size gives the network size when the model's is dynamic */
    bool flip;              /* also run on the mirrored input (cli_task.mirrored) */
    bool any_size;          /* load the model with its input height and width dynamic, so that
                               it may run at other sizes than the file declares */
    double net_scale;       /* the first run's size: this times the model's (or --size's);
                               0 = 1 */
} cli_task_opts;

void cli_task_opts_init(cli_task_opts *o);
/* Consumes argv[*i] if it is a common option or the MODEL / IMAGE positional: 1 consumed,
 * 0 not ours, -1 bad (reported). */
int cli_task_opt(const char *cmd, int argc, char **argv, int *i, cli_task_opts *o);
extern const char *const cli_task_help;

typedef struct cli_task {
    const char *cmd;
    const char *model_path, *image_path; /* borrowed from the options */
    lcv_model *model;       /* owned */
    lcv_session *session;   /* owned */
    lcv_image *image;       /* owned: the original image, RGB */
    int net_w, net_h;       /* network input size */
    int base_w, base_h;     /* the model's (or --size's), which the scales multiply */
    int channels;           /* image channels fed to the network */
    /* Network pixel -> image pixel: x_img = (x_net - pad_x) * sx (same for y). */
    double pad_x, pad_y, sx, sy;
    bool letterbox;
    double ms_pre, ms_net, ms_post;
    FILE *say;              /* where the human summary goes (cli_task_say) */
    char **labels;          /* owned: class names (n_labels) or NULL */
    char *label_text;       /* owned: their storage */
    int n_labels;
    lcv_tensor *mirrored;   /* owned: with opts.flip, output 0 of the run on the horizontally
                               mirrored input (as the network gives it, not mirrored back) */
} cli_task;

/* Loads the labels, the model and the image, fits the image to the network input (letterbox
 * with grey 114 padding, as Ultralytics, when letterbox; else a plain resize), runs the model
 * once at o->net_scale times its input size (with o->flip first on the mirrored input too,
 * the network time covering both), timing both. Returns 0 or the exit status after
 * reporting; free with cli_task_free either way. */
int cli_task_run(cli_task *t, const char *cmd, const cli_task_opts *o, bool letterbox);
/* Runs the network again, on the same image, at scale times the model's input size
 * (rounded; o->any_size must have been set for cli_task_run), with o->flip on the mirrored
 * input too; the outputs and t->mirrored are this run's after it, the timings add up. Returns
 * 0 or the exit status after reporting. */
int cli_task_rerun(cli_task *t, const cli_task_opts *o, double scale);
void cli_task_free(cli_task *t);

/* Output i of the run; cli_task_output_fail reports a layout mismatch naming the head, what
 * it expects and the actual shape, and returns 1. */
const lcv_tensor *cli_task_output(const cli_task *t, int i);
int cli_task_output_fail(const cli_task *t, const char *head, int i, const char *expected);
/* Label of class c ("" when unknown). */
const char *cli_task_label(const cli_task *t, int c);

/* Reads a class-name file (one per line, at most 16 MiB): *lines[*n] point into *text (both
 * caller frees). Returns 0 or the exit status after reporting. */
int cli_read_labels(const char *cmd, const char *path, char **text, char ***lines, int *n);

/* Writes the common head of the results JSON (opens the top-level object); the caller writes
 * detections, segmentation and text_regions and closes it. */
void cli_task_json_begin(const cli_task *t, cj_writer *w, const char *task, const char *head);
/* Opens the JSON output (stdout for "-"); NULL after reporting on failure. */
FILE *cli_task_json_open(const char *cmd, const char *path);
/* Closes it (not stdout), reporting write errors: 0 or 1. */
int cli_task_json_close(const char *cmd, const char *path, FILE *f);
/* Where the human summary goes: stderr when the JSON goes to stdout, else stdout. */
FILE *cli_task_say(const cli_task_opts *o);
/* Prints the timing line of the human summary. */
void cli_task_print_timings(const cli_task *t, FILE *f);

#endif /* LCV_CLI_TASK_H */
