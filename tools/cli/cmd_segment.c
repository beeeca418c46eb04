/* cmd_segment.c - `leancv segment`: runs a semantic segmentation model ([1,C,h,w] logits) on an
 * image resized to the network input (with --flip on its mirror image too, with --scales at
 * several multiples of the input size; the logits of all runs summed at the first run's
 * size), takes the per-pixel argmax at the image's own size, and
 * prints class pixel counts, writes the label mask and a palette overlay as PNGs, and the
 * results as JSON (docs/RESULTS_JSON.md). */
#include <stdlib.h>
#include <string.h>

#include "cli_task.h"
#include "leancv_detect.h"

#define MAX_SCALES 8

static void help(void) {
    printf("usage: leancv segment MODEL IMAGE [options]\n\n"
           "Labels every pixel: the image is resized to the network input, the logits [1,C,h,w]\n"
           "are resized back to the image (bilinear) and the largest wins.\n\n"
           "  --flip            test-time flip: also run on the mirrored image and take the\n"
           "                    argmax of the two runs' mean logits (twice the network time)\n"
           "  --scales S,...    multi-scale inference: run the network at each of these\n"
           "                    multiples of its input size (e.g. 1,1.125; at most %d) and take\n"
           "                    the argmax of the mean logits; the model's input height and\n"
           "                    width are taken as dynamic (a fully convolutional network)\n"
           "  --mask FILE       write the labels as an 8-bit grey PNG (pixel value = class)\n"
           "  --alpha A         overlay opacity for -o (default 0.5)\n"
           "  --skip K          class left uncoloured in the overlay (default 0; -1: none)\n%s",
           MAX_SCALES, cli_task_help);
}

static int write_json(const cli_task *t, const cli_task_opts *o, int n_scales, int classes,
                      const int64_t *count, const char *mask_path) {
    FILE *f = cli_task_json_open(t->cmd, o->json_path);
    if (!f) return 1;
    cj_writer w;
    cj_init(&w, f);
    const char *head = n_scales > 1 ? (o->flip ? "argmax-scales-flip" : "argmax-scales")
                                    : (o->flip ? "argmax-flip" : "argmax");
    cli_task_json_begin(t, &w, "segment", head);
    cj_array(&w, "detections", false);
    cj_end(&w);
    cj_object(&w, "segmentation");
    cj_int(&w, "classes", classes);
    cj_string(&w, "mask", mask_path);
    cj_array(&w, "class_pixels", false);
    for (int c = 0; c < classes; c++) {
        if (!count[c]) continue;
        cj_object(&w, NULL);
        cj_int(&w, "class", c);
        const char *name = cli_task_label(t, c);
        cj_string(&w, "label", *name ? name : NULL);
        cj_int(&w, "pixels", count[c]);
        cj_end(&w);
    }
    cj_end(&w);
    cj_end(&w);
    cj_array(&w, "text_regions", false);
    cj_end(&w);
    cj_end(&w);
    return cli_task_json_close(t->cmd, o->json_path, f);
}

/* Writes labels (h x w) as a grey PNG, or the overlay of them on the image when overlay. */
static int write_png(const cli_task *t, const uint8_t *labels, const char *path, bool overlay,
                     float alpha, int skip) {
    char err[512];
    int w = t->image->width, h = t->image->height;
    lcv_image *img = NULL;
    if (lcv_image_create(w, h, overlay ? 3 : 1, &img) != LCV_OK)
        return cli_fail(t->cmd, "out of memory for a %dx%d image", w, h);
    lcv_status st = LCV_OK;
    if (overlay) {
        memcpy(img->data, t->image->data, (size_t)w * (size_t)h * 3);
        st = lcv_seg_overlay(img->data, h, w, labels, NULL, skip, alpha, err, sizeof err);
    } else {
        memcpy(img->data, labels, (size_t)w * (size_t)h);
    }
    if (st == LCV_OK) st = lcv_image_write_png(path, img, err, sizeof err);
    lcv_image_free(img);
    if (st != LCV_OK) return cli_fail(t->cmd, "%s", err);
    fprintf(t->say, "wrote %s\n", path);
    return 0;
}

/* Adds the last run's logits (and those of its mirrored run, with --flip) to sum [classes, h,
 * w]. Returns 0 or the exit status after reporting. */
static int add_run(const cli_task *t, float *sum, int classes, int64_t h, int64_t w) {
    char err[512];
    const lcv_tensor *runs[2] = {cli_task_output(t, 0), t->mirrored};
    for (int k = 0; k < 2 && runs[k]; k++) {
        const lcv_tensor *x = runs[k];
        if (lcv_tensor_ndim(x) != 4 || lcv_tensor_dim(x, 0) != 1 || lcv_tensor_dim(x, 1) != classes)
            return cli_fail(t->cmd, "the run at %dx%d gave no [1,%d,h,w] logits", t->net_w,
                            t->net_h, classes);
        if (lcv_seg_accumulate(sum, classes, h, w, lcv_tensor_cdata(x), lcv_tensor_dim(x, 2),
                               lcv_tensor_dim(x, 3), k == 1, err, sizeof err) != LCV_OK)
            return cli_fail(t->cmd, "%s", err);
    }
    return 0;
}

/* Parses "S,S,..." into scales (each in (0, 8]). Returns the count, or 0 after reporting. */
static int parse_scales(const char *cmd, const char *v, double *scales) {
    int n = 0;
    for (const char *p = v;; p++) {
        float f;
        char one[32];
        size_t len = strcspn(p, ",");
        if (n == MAX_SCALES || len == 0 || len >= sizeof one) break;
        memcpy(one, p, len);
        one[len] = '\0';
        if (!cli_parse_float(one, &f) || !(f > 0.0f && f <= 8.0f)) break;
        scales[n++] = f;
        p += len;
        if (*p == '\0') return n;
    }
    cli_fail(cmd, "--scales '%s' is not a list of 1 to %d numbers in (0, 8] (e.g. 1,1.125)", v,
             MAX_SCALES);
    return 0;
}

int cmd_segment(int argc, char **argv) {
    const char *cmd = "segment", *v, *mask_path = NULL;
    float alpha = 0.5f;
    long skip = 0;
    double scales[MAX_SCALES] = {1.0};
    int n_scales = 1;
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
        if (strcmp(a, "--flip") == 0) {
            o.flip = true;
            continue;
        }
        if (strcmp(a, "--mask") != 0 && strcmp(a, "--alpha") != 0 && strcmp(a, "--skip") != 0 &&
            strcmp(a, "--scales") != 0)
            return cli_fail(cmd, "unknown option '%s' (see leancv segment --help)", a);
        if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
        if (strcmp(a, "--scales") == 0) {
            if (!(n_scales = parse_scales(cmd, v, scales))) return 1;
        } else if (strcmp(a, "--mask") == 0) {
            mask_path = v;
        } else if (strcmp(a, "--alpha") == 0) {
            if (!cli_parse_float(v, &alpha) || !(alpha >= 0.0f && alpha <= 1.0f))
                return cli_fail(cmd, "--alpha '%s' is not a number in [0, 1]", v);
        } else if (strcmp(a, "--skip") == 0) {
            if (!cli_parse_int(v, -1, 255, &skip))
                return cli_fail(cmd, "--skip '%s' is not an integer in -1..255", v);
        } else {
            return cli_fail(cmd, "unknown option '%s' (see leancv segment --help)", a);
        }
    }
    o.net_scale = scales[0];
    for (int k = 0; k < n_scales; k++) o.any_size = o.any_size || scales[k] != 1.0;
    cli_task t;
    int rc = cli_task_run(&t, cmd, &o, false);
    uint8_t *labels = NULL;
    float *sum = NULL; /* the logits of all runs added, at the first run's size */
    int64_t count[256] = {0};
    int classes = 0;
    if (!rc) {
        const lcv_tensor *out = cli_task_output(&t, 0);
        bool ok = lcv_model_output_count(t.model) == 1 &&
                  lcv_tensor_dtype(out) == LCV_DTYPE_FLOAT32 && lcv_tensor_ndim(out) == 4 &&
                  lcv_tensor_dim(out, 0) == 1 && lcv_tensor_dim(out, 1) >= 1 &&
                  lcv_tensor_dim(out, 1) <= 256 && lcv_tensor_numel(out) > 0;
        if (!ok)
            rc = cli_task_output_fail(&t, "segment", 0,
                                      "class logits [1,C,h,w] (C in 1..256), the only output");
    }
    double t0 = cli_now();
    if (!rc) {
        const lcv_tensor *out = cli_task_output(&t, 0);
        char err[512];
        int64_t w = t.image->width, h = t.image->height;
        classes = (int)lcv_tensor_dim(out, 1);
        int64_t oh = lcv_tensor_dim(out, 2), ow = lcv_tensor_dim(out, 3);
        size_t bytes = lcv_tensor_nbytes(out);
        /* one run needs no sum; more are added up, each resized to the first's output size */
        if ((t.mirrored || n_scales > 1) && !(sum = calloc(1, bytes)))
            rc = cli_fail(cmd, "out of memory");
        if (sum) rc = add_run(&t, sum, classes, oh, ow);
        for (int k = 1; k < n_scales && !rc; k++) {
            t.ms_post += (cli_now() - t0) * 1e3;
            rc = cli_task_rerun(&t, &o, scales[k]);
            t0 = cli_now();
            if (!rc) rc = add_run(&t, sum, classes, oh, ow);
        }
        t.net_w = t.base_w; /* what the results report: the size the scales multiply */
        t.net_h = t.base_h;
        const float *logits = sum ? sum : lcv_tensor_cdata(out);
        if (!rc && !(labels = malloc((size_t)(w * h)))) rc = cli_fail(cmd, "out of memory");
        if (!rc && lcv_seg_argmax(logits, classes, oh, ow, h, w, labels, err, sizeof err) != LCV_OK)
            rc = cli_fail(cmd, "%s", err);
        for (int64_t k = 0; !rc && k < w * h; k++) count[labels[k]]++;
    }
    t.ms_post += (cli_now() - t0) * 1e3;
    if (!rc) {
        FILE *say = cli_task_say(&o);
        int64_t total = (int64_t)t.image->width * t.image->height;
        fprintf(say, "%s: %dx%d image, resized to %dx%d input", o.image_path, t.image->width,
                t.image->height, t.base_w, t.base_h);
        for (int k = 0; k < n_scales && n_scales > 1; k++)
            fprintf(say, "%s%g", k ? ", " : " at scales ", scales[k]);
        fprintf(say, ", %d classes\n", classes);
        for (int c = 0; c < classes; c++)
            if (count[c])
                fprintf(say, "  class %-4d %-16s %10lld pixels (%.2f%%)\n", c,
                        cli_task_label(&t, c), (long long)count[c], 100.0 * count[c] / total);
        cli_task_print_timings(&t, say);
    }
    if (!rc && mask_path) rc = write_png(&t, labels, mask_path, false, alpha, (int)skip);
    if (!rc && o.out_png) rc = write_png(&t, labels, o.out_png, true, alpha, (int)skip);
    if (!rc && o.json_path) rc = write_json(&t, &o, n_scales, classes, count, mask_path);
    free(labels);
    free(sum);
    cli_task_free(&t);
    return rc;
}
