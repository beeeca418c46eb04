/* cli_task.c - the shared half of leancv detect / segment / textdet: options, model and image
 * loading, fitting the image to the network input and mapping results back, the timed run,
 * class names and the common fields of the results JSON. */
#include "cli_task.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL_BYTES (16u << 20)
#define LETTERBOX_GREY 114 /* Ultralytics' padding value */

const char *const cli_task_help =
    "  -o FILE           write the image with the results drawn on it (PNG)\n"
    "  --json FILE       write the results as JSON (docs/RESULTS_JSON.md; '-': stdout)\n"
    "  --labels FILE     class names, one per line\n"
    "  --threads N       worker threads (default 1)\n"
    "  --size WxH        network input size when the model's is dynamic\n"
    "  --scale S, --mean M, --std S, --bgr, --nhwc   input normalisation (default x/255)\n";

void cli_task_opts_init(cli_task_opts *o) {
    memset(o, 0, sizeof *o);
    o->threads = 1;
    cli_image_opts_init(&o->img);
}

int cli_task_opt(const char *cmd, int argc, char **argv, int *i, cli_task_opts *o) {
    const char *a = argv[*i], *v;
    if (strcmp(a, "--crop") == 0 || strcmp(a, "--resize-short") == 0 || strcmp(a, "--gray") == 0) {
        cli_fail(cmd, "%s is not used here: the image is fitted to the network input", a);
        return -1;
    }
    int r = cli_image_opt(cmd, argc, argv, i, &o->img);
    if (r != 0) return r;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
        if (!(o->out_png = cli_value(cmd, argc, argv, i))) return -1;
    } else if (strcmp(a, "--json") == 0) {
        if (!(o->json_path = cli_value(cmd, argc, argv, i))) return -1;
    } else if (strcmp(a, "--labels") == 0) {
        if (!(o->labels_path = cli_value(cmd, argc, argv, i))) return -1;
    } else if (strcmp(a, "--threads") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (!cli_parse_int(v, 1, 1024, &o->threads)) {
            cli_fail(cmd, "--threads '%s' is not an integer in 1..1024", v);
            return -1;
        }
    } else if (a[0] == '-' && a[1] != '\0') {
        return 0;
    } else if (!o->model_path) {
        o->model_path = a;
    } else if (!o->image_path) {
        o->image_path = a;
    } else {
        cli_fail(cmd, "unexpected argument '%s' (one MODEL and one IMAGE)", a);
        return -1;
    }
    return 1;
}

int cli_read_labels(const char *cmd, const char *path, char **text, char ***lines, int *n) {
    *text = NULL;
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open labels '%s': %s", path, strerror(errno));
    char *buf = malloc(MAX_LABEL_BYTES + 1);
    size_t len = buf ? fread(buf, 1, MAX_LABEL_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) return cli_fail(cmd, "out of memory reading labels");
    if (len > MAX_LABEL_BYTES) {
        free(buf);
        return cli_fail(cmd, "labels file '%s' is larger than %u bytes", path, MAX_LABEL_BYTES);
    }
    buf[len] = '\0';
    size_t count = 1;
    for (size_t i = 0; i < len; i++) count += buf[i] == '\n';
    char **v = malloc(count * sizeof *v);
    if (!v) {
        free(buf);
        return cli_fail(cmd, "out of memory reading labels");
    }
    int k = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        v[k++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    *text = buf;
    *lines = v;
    *n = k;
    return 0;
}

/* The network input size from the model (NCHW or NHWC) or --size for dynamic dims. */
static int net_size(cli_task *t, const cli_task_opts *o, int *channels) {
    lcv_dtype dt;
    int64_t d[LCV_MAX_DIMS];
    int nd = lcv_model_input_info(t->model, 0, &dt, d, NULL);
    if (lcv_model_input_count(t->model) != 1 || nd != 4 || dt != LCV_DTYPE_FLOAT32)
        return cli_fail(t->cmd, "the model needs one float32 image input [1,C,H,W]; it has %d "
                        "input%s, the first of rank %d",
                        lcv_model_input_count(t->model),
                        lcv_model_input_count(t->model) == 1 ? "" : "s", nd);
    const lcv_image_params *p = &o->img.params;
    int64_t c = p->nhwc ? d[3] : d[1], h = p->nhwc ? d[1] : d[2], w = p->nhwc ? d[2] : d[3];
    *channels = o->img.set_channels ? p->channels : (c == 1 ? 1 : 3);
    if (o->img.set_size) {
        t->net_w = p->width;
        t->net_h = p->height;
    } else if (h > 0 && w > 0 && h <= LCV_IMAGE_MAX_SIDE && w <= LCV_IMAGE_MAX_SIDE) {
        t->net_w = (int)w;
        t->net_h = (int)h;
    } else {
        return cli_fail(t->cmd, "the model's input '%s' has a dynamic height or width; give the "
                        "network size with --size WxH", lcv_model_input_name(t->model, 0));
    }
    return 0;
}

/* Fits t->image to the network size; *out: caller frees. */
static int fit_image(cli_task *t, lcv_image **out) {
    char err[512];
    int w = t->image->width, h = t->image->height;
    double r = t->letterbox ? fmin((double)t->net_w / w, (double)t->net_h / h) : 0.0;
    int nw = t->letterbox ? (int)lround(w * r) : t->net_w;
    int nh = t->letterbox ? (int)lround(h * r) : t->net_h;
    nw = nw < 1 ? 1 : nw > t->net_w ? t->net_w : nw;
    nh = nh < 1 ? 1 : nh > t->net_h ? t->net_h : nh;
    lcv_image *rs = NULL, *canvas = NULL;
    if (lcv_image_resize(t->image, nw, nh, &rs, err, sizeof err) != LCV_OK)
        return cli_fail(t->cmd, "%s", err);
    int px = (t->net_w - nw) / 2, py = (t->net_h - nh) / 2;
    t->pad_x = px;
    t->pad_y = py;
    t->sx = (double)w / nw;
    t->sy = (double)h / nh;
    if (nw == t->net_w && nh == t->net_h) {
        *out = rs;
        return 0;
    }
    if (lcv_image_create(t->net_w, t->net_h, 3, &canvas) != LCV_OK) {
        lcv_image_free(rs);
        return cli_fail(t->cmd, "out of memory for a %dx%d image", t->net_w, t->net_h);
    }
    memset(canvas->data, LETTERBOX_GREY, (size_t)t->net_w * (size_t)t->net_h * 3);
    for (int y = 0; y < nh; y++)
        memcpy(canvas->data + ((size_t)(y + py) * (size_t)t->net_w + (size_t)px) * 3,
               rs->data + (size_t)y * (size_t)nw * 3, (size_t)nw * 3);
    lcv_image_free(rs);
    *out = canvas;
    return 0;
}

/* Reverses every image row of a float tensor [1,C,H,W] (or [1,H,W,C] when nhwc) in place. */
static void mirror_rows(lcv_tensor *x, bool nhwc) {
    float *p = lcv_tensor_data(x);
    int64_t w = lcv_tensor_dim(x, nhwc ? 2 : 3), pix = nhwc ? lcv_tensor_dim(x, 3) : 1;
    int64_t rows = lcv_tensor_numel(x) / (w * pix);
    for (int64_t r = 0; r < rows; r++) {
        float *row = p + r * w * pix;
        for (int64_t a = 0, b = w - 1; a < b; a++, b--)
            for (int64_t k = 0; k < pix; k++) {
                float v = row[a * pix + k];
                row[a * pix + k] = row[b * pix + k];
                row[b * pix + k] = v;
            }
    }
}

/* Runs the model on the mirrored input and keeps a copy of output 0 in t->mirrored; the input
 * is left as it was. Returns 0 or the exit status after reporting. */
static int run_mirrored(cli_task *t, const char *name, lcv_tensor *input, bool nhwc) {
    mirror_rows(input, nhwc);
    lcv_status st = lcv_session_run(t->session, 1, &name, (const lcv_tensor *const *)&input);
    mirror_rows(input, nhwc);
    if (st != LCV_OK)
        return cli_fail(t->cmd, "at network input %dx%d: %s", t->net_w, t->net_h,
                        lcv_session_errmsg(t->session));
    const lcv_tensor *out = lcv_session_output(t->session, 0);
    int64_t d[LCV_MAX_DIMS];
    for (int k = 0; k < lcv_tensor_ndim(out); k++) d[k] = lcv_tensor_dim(out, k);
    if (lcv_tensor_create(lcv_tensor_dtype(out), lcv_tensor_ndim(out), d, &t->mirrored) != LCV_OK)
        return cli_fail(t->cmd, "out of memory for the mirrored run's output");
    memcpy(lcv_tensor_data(t->mirrored), lcv_tensor_cdata(out), lcv_tensor_nbytes(out));
    return 0;
}

/* The network size at scale times the model's (base_w x base_h). */
static int scale_size(cli_task *t, double scale) {
    long w = lround(t->base_w * scale), h = lround(t->base_h * scale);
    if (!(scale > 0.0) || w < 1 || h < 1 || w > LCV_IMAGE_MAX_SIDE || h > LCV_IMAGE_MAX_SIDE)
        return cli_fail(t->cmd, "scale %g of the %dx%d input gives no usable network size", scale,
                        t->base_w, t->base_h);
    t->net_w = (int)w;
    t->net_h = (int)h;
    return 0;
}

/* Fits the image to the network size and runs the network on it (and on its mirror image
 * with o->flip), adding to the timings. */
static int run_network(cli_task *t, const cli_task_opts *o) {
    char err[512];
    double t0 = cli_now();
    lcv_image *fitted = NULL;
    int rc = fit_image(t, &fitted);
    if (rc) return rc;
    lcv_image_params tp = o->img.params;
    tp.width = tp.height = tp.resize_short = 0;
    tp.channels = t->channels;
    lcv_tensor *input = NULL;
    lcv_status st = lcv_image_to_tensor(fitted, &tp, &input, err, sizeof err);
    lcv_image_free(fitted);
    if (st != LCV_OK) return cli_fail(t->cmd, "%s", err);
    t->ms_pre += (cli_now() - t0) * 1e3;
    const char *name = lcv_model_input_name(t->model, 0);
    t0 = cli_now();
    lcv_tensor_free(t->mirrored);
    t->mirrored = NULL;
    rc = o->flip ? run_mirrored(t, name, input, o->img.params.nhwc) : 0;
    if (!rc) st = lcv_session_run(t->session, 1, &name, (const lcv_tensor *const *)&input);
    t->ms_net += (cli_now() - t0) * 1e3;
    lcv_tensor_free(input);
    if (rc) return rc;
    if (st != LCV_OK)
        return cli_fail(t->cmd, "at network input %dx%d: %s", t->net_w, t->net_h,
                        lcv_session_errmsg(t->session));
    return 0;
}

int cli_task_run(cli_task *t, const char *cmd, const cli_task_opts *o, bool letterbox) {
    memset(t, 0, sizeof *t);
    t->cmd = cmd;
    t->model_path = o->model_path;
    t->image_path = o->image_path;
    t->say = cli_task_say(o);
    t->letterbox = letterbox;
    if (!o->model_path || !o->image_path)
        return cli_fail(cmd, "needs MODEL and IMAGE (see leancv %s --help)", cmd);
    int rc = 0;
    if (o->labels_path &&
        (rc = cli_read_labels(cmd, o->labels_path, &t->label_text, &t->labels, &t->n_labels)))
        return rc;
    if (!(t->model = cli_load_model(cmd, o->model_path))) return 1;
    if ((rc = net_size(t, o, &t->channels))) return rc;
    t->base_w = t->net_w;
    t->base_h = t->net_h;
    if (o->net_scale > 0.0 && (rc = scale_size(t, o->net_scale))) return rc;
    if (o->any_size) { /* the size came from the file or --size; now free it */
        lcv_model_free(t->model);
        unsigned hw = o->img.params.nhwc ? 3u << 1 : 3u << 2;
        if (!(t->model = cli_load_model_free_dims(cmd, o->model_path, hw))) return 1;
    }
    char err[512];
    double t0 = cli_now();
    lcv_image_params lp = lcv_image_default_params();
    lp.max_pixels = o->img.params.max_pixels;
    if (lcv_image_load_file(o->image_path, &lp, &t->image, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "%s", err);
    t->ms_pre = (cli_now() - t0) * 1e3;
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = (int)o->threads;
    if (lcv_session_create(t->model, &sp, &t->session) != LCV_OK)
        return cli_fail(cmd, "cannot create a session");
    return run_network(t, o);
}

int cli_task_rerun(cli_task *t, const cli_task_opts *o, double scale) {
    int rc = scale_size(t, scale);
    return rc ? rc : run_network(t, o);
}

void cli_task_free(cli_task *t) {
    lcv_tensor_free(t->mirrored);
    lcv_session_free(t->session);
    lcv_model_free(t->model);
    lcv_image_free(t->image);
    free(t->labels);
    free(t->label_text);
    memset(t, 0, sizeof *t);
}

const lcv_tensor *cli_task_output(const cli_task *t, int i) {
    return i < lcv_model_output_count(t->model) ? lcv_session_output(t->session, i) : NULL;
}

int cli_task_output_fail(const cli_task *t, const char *head, int i, const char *expected) {
    const lcv_tensor *o = cli_task_output(t, i);
    if (!o)
        return cli_fail(t->cmd, "head '%s' expects output %d as %s; the model has %d output%s",
                        head, i, expected, lcv_model_output_count(t->model),
                        lcv_model_output_count(t->model) == 1 ? "" : "s");
    int64_t d[LCV_MAX_DIMS];
    for (int k = 0; k < lcv_tensor_ndim(o); k++) d[k] = lcv_tensor_dim(o, k);
    char shape[256];
    cli_shape_text(lcv_tensor_ndim(o), d, NULL, shape, sizeof shape);
    return cli_fail(t->cmd, "head '%s' expects output %d as %s; the model's output '%s' is %s %s",
                    head, i, expected, lcv_model_output_name(t->model, i),
                    lcv_dtype_name(lcv_tensor_dtype(o)), shape);
}

const char *cli_task_label(const cli_task *t, int c) {
    return c >= 0 && c < t->n_labels ? t->labels[c] : "";
}

void cli_task_json_begin(const cli_task *t, cj_writer *w, const char *task, const char *head) {
    cj_object(w, NULL);
    cj_int(w, "leancv_results", 1);
    cj_string(w, "task", task);
    cj_string(w, "head", head);
    cj_string(w, "model", t->model_path);
    cj_string(w, "image", t->image_path);
    cj_array(w, "image_size", true);
    cj_int(w, NULL, t->image->width);
    cj_int(w, NULL, t->image->height);
    cj_end(w);
    cj_array(w, "input_size", true);
    cj_int(w, NULL, t->net_w);
    cj_int(w, NULL, t->net_h);
    cj_end(w);
    cj_string(w, "resize", t->letterbox ? "letterbox" : "stretch");
    cj_object(w, "timings_ms");
    cj_number(w, "pre", t->ms_pre);
    cj_number(w, "network", t->ms_net);
    cj_number(w, "post", t->ms_post);
    cj_end(w);
}

FILE *cli_task_json_open(const char *cmd, const char *path) {
    if (strcmp(path, "-") == 0) return stdout;
    FILE *f = fopen(path, "w");
    if (!f) cli_fail(cmd, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

int cli_task_json_close(const char *cmd, const char *path, FILE *f) {
    if (f == stdout) return fflush(f) == 0 ? 0 : cli_fail(cmd, "cannot write the JSON to stdout");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) return cli_fail(cmd, "cannot write '%s'", path);
    printf("wrote %s\n", path);
    return 0;
}

FILE *cli_task_say(const cli_task_opts *o) {
    return o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
}

void cli_task_print_timings(const cli_task *t, FILE *f) {
    fprintf(f, "timings: pre-processing %.3f ms, network %.3f ms, post-processing %.3f ms\n",
           t->ms_pre, t->ms_net, t->ms_post);
}
