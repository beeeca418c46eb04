/* test_bad_inputs.c - every crafted bad file in tests/bad_inputs/ (listed in expected.txt)
 * must be refused with the expected status and a message naming the culprit. Models fail at
 * load or - for files that are valid but cannot run - at the first run; .npy files fail in
 * lcv_npy_read_file; images (and all the files again) are checked through the CLI by cli_bad_inputs.sh. Uses the
 * public API only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

#define DIR "tests/bad_inputs/"

/* Runs the model once with zero-filled inputs of its declared shapes (dynamic dims = 1). */
static lcv_status run_once(lcv_model *m, char *msg, size_t cap) {
    lcv_session *s = NULL;
    lcv_status st = lcv_session_create(m, NULL, &s);
    if (st != LCV_OK) return st;
    int n = lcv_model_input_count(m);
    lcv_tensor **ts = calloc((size_t)n + 1, sizeof *ts);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    for (int i = 0; i < n; i++) {
        lcv_dtype dt;
        int64_t dims[LCV_MAX_DIMS];
        int r = lcv_model_input_info(m, i, &dt, dims, NULL);
        if (r < 0) r = 0;
        for (int k = 0; k < r; k++)
            if (dims[k] < 0) dims[k] = 1;
        if (lcv_tensor_create(dt == LCV_DTYPE_UNDEFINED ? LCV_DTYPE_FLOAT32 : dt, r, dims,
                              &ts[i]) != LCV_OK)
            ts[i] = NULL;
        names[i] = lcv_model_input_name(m, i);
    }
    st = lcv_session_run(s, n, names, (const lcv_tensor *const *)ts);
    snprintf(msg, cap, "%s", lcv_session_errmsg(s));
    for (int i = 0; i < n; i++) lcv_tensor_free(ts[i]);
    free(ts);
    free(names);
    lcv_session_free(s);
    return st;
}

int main(void) {
    FILE *f = fopen(DIR "expected.txt", "r");
    CHECK(f != NULL);
    if (!f) return lcv_test_finish("bad_inputs");
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char file[128], status[64], substr[256];
        if (sscanf(line, "%127[^\t]\t%63[^\t]\t%255[^\n]", file, status, substr) != 3) continue;
        char path[256];
        snprintf(path, sizeof path, DIR "%s", file);
        const char *ext = strrchr(file, '.');
        lcv_status st;
        char msg[1024];
        if (ext && strcmp(ext, ".onnx") == 0) {
            lcv_model *m = NULL;
            st = lcv_model_load_file(path, NULL, &m);
            snprintf(msg, sizeof msg, "%s", lcv_model_errmsg(m));
            if (st == LCV_OK) st = run_once(m, msg, sizeof msg);
            lcv_model_free(m);
        } else if (ext && strcmp(ext, ".npy") == 0) {
            lcv_tensor *t = NULL;
            msg[0] = '\0';
            st = lcv_npy_read_file(path, &t, msg, sizeof msg);
            CHECK(t == NULL || st == LCV_OK);
            lcv_tensor_free(t);
        } else {
            continue;
        }
        count++;
        CHECK_MSG(st != LCV_OK, "%s was accepted", file);
        if (strcmp(status, "-") != 0)
            CHECK_MSG(strcmp(lcv_status_name(st), status) == 0, "%s: got %s, want %s (%s)", file,
                      lcv_status_name(st), status, msg);
        CHECK_MSG(msg[0] != '\0', "%s: empty error message", file);
        if (strcmp(substr, "-") != 0)
            CHECK_MSG(strstr(msg, substr) != NULL, "%s: message '%s' does not mention '%s'", file,
                      msg, substr);
        printf("%-36s %-20s %s\n", file, lcv_status_name(st), msg);
    }
    fclose(f);
    CHECK_MSG(count >= 30, "only %d bad files", count);
    return lcv_test_finish("bad_inputs");
}
