/* cmd_textdet.c - `leancv textdet`: runs a DBNet-style text detector (a probability map
 * [1,1,h,w]) on an image resized to the network input, extracts text regions as quadrilaterals
 * in image pixels, and prints, draws and writes them as JSON (docs/RESULTS_JSON.md). */
#include <stdlib.h>
#include <string.h>

#include "cli_task.h"
#include "leancv_detect.h"

#define MAX_REGIONS 10000
#define PRINT_MAX 20

static void help(void) {
    printf("usage: leancv textdet MODEL IMAGE [options]\n\n"
           "Finds text regions: the image is resized to the network input, the probability map\n"
           "[1,1,h,w] is binarized and each region becomes its grown minimum-area rectangle.\n\n"
           "  --bin T           text pixel threshold (default 0.3)\n"
           "  --box T           mean probability a region needs (default 0.6)\n"
           "  --unclip R        growth ratio (default 1.5)\n"
           "  --max N           keep at most N regions (default 1000)\n%s",
           cli_task_help);
}

static int write_json(const cli_task *t, const cli_task_opts *o, const lcv_quad *q,
                      const float *scores, int64_t n) {
    FILE *f = cli_task_json_open(t->cmd, o->json_path);
    if (!f) return 1;
    cj_writer w;
    cj_init(&w, f);
    cli_task_json_begin(t, &w, "textdet", "dbnet");
    cj_array(&w, "detections", false);
    cj_end(&w);
    cj_null(&w, "segmentation");
    cj_array(&w, "text_regions", false);
    for (int64_t k = 0; k < n; k++) {
        cj_object(&w, NULL);
        cj_array(&w, "quad", true);
        for (int j = 0; j < 4; j++) {
            cj_array(&w, NULL, true);
            cj_number(&w, NULL, q[k].x[j]);
            cj_number(&w, NULL, q[k].y[j]);
            cj_end(&w);
        }
        cj_end(&w);
        cj_number(&w, "score", scores[k]);
        cj_end(&w);
    }
    cj_end(&w);
    cj_end(&w);
    return cli_task_json_close(t->cmd, o->json_path, f);
}

static int draw(const cli_task *t, const lcv_quad *q, int64_t n, const char *path) {
    char err[512];
    lcv_image *img = NULL;
    if (lcv_image_create(t->image->width, t->image->height, 3, &img) != LCV_OK)
        return cli_fail(t->cmd, "out of memory for the drawing");
    int64_t w = img->width, h = img->height;
    memcpy(img->data, t->image->data, (size_t)(w * h * 3));
    const uint8_t red[3] = {255, 0, 0};
    for (int64_t k = 0; k < n; k++) lcv_draw_quad(img->data, h, w, &q[k], red);
    lcv_status st = lcv_image_write_png(path, img, err, sizeof err);
    lcv_image_free(img);
    if (st != LCV_OK) return cli_fail(t->cmd, "%s", err);
    fprintf(t->say, "wrote %s\n", path);
    return 0;
}

int cmd_textdet(int argc, char **argv) {
    const char *cmd = "textdet", *v;
    lcv_textdet_params tp = lcv_textdet_default_params();
    long max_regions = 1000;
    cli_task_opts o;
    cli_task_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        }
        int r = cli_task_opt(cmd, argc, argv, &i, &o);
        if (r < 0) return 1;
        if (r > 0) continue;
        if (strcmp(a, "--bin") != 0 && strcmp(a, "--box") != 0 && strcmp(a, "--unclip") != 0 &&
            strcmp(a, "--max") != 0)
            return cli_fail(cmd, "unknown option '%s' (see leancv textdet --help)", a);
        if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
        float *dst = strcmp(a, "--bin") == 0      ? &tp.bin_threshold
                     : strcmp(a, "--box") == 0    ? &tp.box_threshold
                     : strcmp(a, "--unclip") == 0 ? &tp.unclip_ratio
                                                  : NULL;
        if (dst) {
            if (!cli_parse_float(v, dst) || !(*dst >= 0.0f && *dst <= 100.0f))
                return cli_fail(cmd, "%s '%s' is not a number in [0, 100]", a, v);
        } else if (strcmp(a, "--max") == 0) {
            if (!cli_parse_int(v, 1, MAX_REGIONS, &max_regions))
                return cli_fail(cmd, "--max '%s' is not an integer in 1..%d", v, MAX_REGIONS);
        } else {
            return cli_fail(cmd, "unknown option '%s' (see leancv textdet --help)", a);
        }
    }
    cli_task t;
    int rc = cli_task_run(&t, cmd, &o, false);
    const lcv_tensor *out = rc ? NULL : cli_task_output(&t, 0);
    if (!rc && !(lcv_model_output_count(t.model) == 1 &&
                 lcv_tensor_dtype(out) == LCV_DTYPE_FLOAT32 && lcv_tensor_ndim(out) == 4 &&
                 lcv_tensor_dim(out, 0) == 1 && lcv_tensor_dim(out, 1) == 1 &&
                 lcv_tensor_numel(out) > 0))
        rc = cli_task_output_fail(&t, "dbnet", 0, "a probability map [1,1,h,w], the only output");
    lcv_quad *quads = malloc((size_t)max_regions * sizeof *quads);
    float *scores = malloc((size_t)max_regions * sizeof *scores);
    void *ws = NULL;
    int64_t n = 0, found = 0;
    if (!rc && (!quads || !scores)) rc = cli_fail(cmd, "out of memory");
    double t0 = cli_now();
    if (!rc) {
        int64_t mh = lcv_tensor_dim(out, 2), mw = lcv_tensor_dim(out, 3);
        size_t ws_size = lcv_textdet_workspace_size(mh, mw);
        char err[512];
        tp.scale_x = (float)t.image->width / (float)mw;
        tp.scale_y = (float)t.image->height / (float)mh;
        if (!ws_size || !(ws = malloc(ws_size)))
            rc = cli_fail(cmd, "out of memory for a %lldx%lld map", (long long)mw, (long long)mh);
        else if (lcv_textdet(lcv_tensor_cdata(out), mh, mw, &tp, ws, ws_size, quads, scores,
                             max_regions, &n, &found, err, sizeof err) != LCV_OK)
            rc = cli_fail(cmd, "%s", err);
    }
    t.ms_post = (cli_now() - t0) * 1e3;
    if (!rc) {
        FILE *say = cli_task_say(&o);
        fprintf(say, "%s: %dx%d image, resized to %dx%d input: %lld text region%s", o.image_path,
                t.image->width, t.image->height, t.net_w, t.net_h, (long long)n, n == 1 ? "" : "s");
        if (found > n) fprintf(say, " (of %lld found; raise --max)", (long long)found);
        fputc('\n', say);
        for (int64_t k = 0; k < n && k < PRINT_MAX; k++)
            fprintf(say, "  %3lld. %.3f  (%.1f,%.1f) (%.1f,%.1f) (%.1f,%.1f) (%.1f,%.1f)\n",
                    (long long)k + 1, (double)scores[k], (double)quads[k].x[0],
                    (double)quads[k].y[0], (double)quads[k].x[1], (double)quads[k].y[1],
                    (double)quads[k].x[2], (double)quads[k].y[2], (double)quads[k].x[3],
                    (double)quads[k].y[3]);
        if (n > PRINT_MAX) fprintf(say, "  ... %lld more\n", (long long)(n - PRINT_MAX));
        cli_task_print_timings(&t, say);
    }
    if (!rc && o.out_png) rc = draw(&t, quads, n, o.out_png);
    if (!rc && o.json_path) rc = write_json(&t, &o, quads, scores, n);
    free(quads);
    free(scores);
    free(ws);
    cli_task_free(&t);
    return rc;
}
