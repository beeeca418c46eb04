/* nms_bench.c - time of leancv's NMS on detector-sized inputs: N boxes in clusters (as a
 * detector's candidates are), each with one of C classes, class-wise and class-agnostic greedy
 * NMS, Soft-NMS and Matrix NMS, at every ISA level this CPU runs; median of repeated runs.
 * Usage: nms_bench [boxes] [classes] [runs] [greedy]   (defaults 10000 80 30; "greedy": only
 * class-wise greedy NMS at the best ISA, the case bench/detect_bench.py compares with the
 * detectors' end-to-end time) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "leancv_detect.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double urand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000, classes = argc > 2 ? atol(argv[2]) : 80;
    int runs = argc > 3 ? atoi(argv[3]) : 30;
    int only_greedy = argc > 4 && strcmp(argv[4], "greedy") == 0;
    if (n < 1 || n > 10000000 || classes < 1 || runs < 1 || (argc > 4 && !only_greedy)) {
        fprintf(stderr, "usage: nms_bench [boxes] [classes] [runs] [greedy]\n");
        return 1;
    }
    lcv_box *boxes = malloc(sizeof(lcv_box) * (size_t)n);
    float *scores = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * (size_t)n);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
    int64_t *keep = malloc(sizeof(int64_t) * (size_t)n);
    size_t ws_size = lcv_nms_workspace_size(n);
    void *ws = malloc(ws_size);
    double *t = malloc(sizeof(double) * (size_t)runs);
    if (!boxes || !scores || !out || !labels || !keep || !ws || !t) return 1;
    /* a 640x640 image with n / 20 objects, about 20 candidates around each */
    uint64_t s = 1;
    long objects = n / 20 > 0 ? n / 20 : 1;
    for (long i = 0; i < n; i++) {
        uint64_t o = (uint64_t)(i % objects) * 2654435761u;
        float cx = (float)(o % 600) + 20, cy = (float)((o / 600) % 600) + 20;
        float w = 10 + (float)(o % 97), h = 10 + (float)(o % 89);
        cx += (float)(urand(&s) - 0.5) * w * 0.3f;
        cy += (float)(urand(&s) - 0.5) * h * 0.3f;
        boxes[i] = (lcv_box){cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
        scores[i] = (float)urand(&s);
        labels[i] = (int32_t)((i % objects) % classes);
    }
    struct {
        const char *name;
        lcv_nms_method method;
        int agnostic;
    } cases[] = {{"greedy, class-wise", LCV_NMS_GREEDY, 0},
                 {"greedy, class-agnostic", LCV_NMS_GREEDY, 1},
                 {"soft-nms gaussian, class-wise", LCV_NMS_SOFT_GAUSSIAN, 0},
                 {"matrix-nms gaussian, class-wise", LCV_NMS_MATRIX_GAUSSIAN, 0}};
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    printf("nms_bench: %ld boxes, %ld classes, median of %d runs (ms)\n", n, classes, runs);
    lcv_isa first = only_greedy ? best : LCV_ISA_SCALAR;
    size_t n_cases = only_greedy ? 1 : sizeof cases / sizeof cases[0];
    for (lcv_isa isa = first; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        setenv("LCV_ISA", lcv_isa_name(isa), 1);
        for (size_t c = 0; c < n_cases; c++) {
            lcv_nms_params p = lcv_nms_default_params();
            p.method = cases[c].method;
            p.class_agnostic = cases[c].agnostic;
            p.score_threshold = 0.05f;
            int64_t nk = 0;
            char err[256];
            for (int r = 0; r < runs; r++) {
                double t0 = now_ms();
                if (lcv_nms(boxes, scores, labels, n, &p, ws, ws_size, keep, out, &nk, err,
                            sizeof err) != LCV_OK) {
                    fprintf(stderr, "nms_bench: %s\n", err);
                    return 1;
                }
                t[r] = now_ms() - t0;
            }
            qsort(t, (size_t)runs, sizeof(double), cmp_double);
            printf("  %-7s %-34s %9.3f ms  (%lld kept)\n", lcv_isa_name(isa), cases[c].name,
                   t[runs / 2], (long long)nk);
        }
    }
    free(boxes);
    free(scores);
    free(out);
    free(labels);
    free(keep);
    free(ws);
    free(t);
    return 0;
}
