/* task_data_util.h - what the data tests of the task models share: paths in the test's
 * scratch folder (LCV_SEG_TMP_DIR) and opening an npy pair with an expected status and
 * message. */
#ifndef LCV_TASK_DATA_UTIL_H
#define LCV_TASK_DATA_UTIL_H

#include <string.h>

#include "harness.h"
#include "leancv_data.h"

#ifndef LCV_SEG_TMP_DIR
#define LCV_SEG_TMP_DIR "."
#endif

static char errbuf[512];

/* name inside the scratch folder; four results stay valid at a time */
static const char *tpath(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", LCV_SEG_TMP_DIR, name);
    return buf[k];
}

/* Opens npy:x,y (scratch names) expecting status want and, when msg is given, a message
 * containing it. */
static lcv_dataset *open_set(const char *x, const char *y, lcv_status want, const char *msg) {
    char spec[2200];
    snprintf(spec, sizeof spec, "npy:%s,%s", tpath(x), tpath(y));
    lcv_dataset *ds = NULL;
    errbuf[0] = '\0';
    lcv_status st = lcv_dataset_open(spec, NULL, &ds, errbuf, sizeof errbuf);
    CHECK_MSG(st == want, "%s,%s: status %d, %s", x, y, (int)st, errbuf);
    if (msg) CHECK_MSG(strstr(errbuf, msg) != NULL, "message '%s' lacks '%s'", errbuf, msg);
    return ds;
}

#endif
