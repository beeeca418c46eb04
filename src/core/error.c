/* error.c - status names and the formatted error messages kept on handles. */
#include <stdio.h>
#include <string.h>

#include "core.h"

lcv_status lcv_fail(lcv_err *e, lcv_status st, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

void lcv_err_prefix(lcv_err *e, const char *fmt, ...) {
    if (!e) return;
    char prefix[LCV_ERRMSG_CAP];
    char old[LCV_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Concatenate by hand: prefix, ": ", old message, truncated to the buffer. */
    size_t used = 0, cap = sizeof e->msg - 1;
    const char *parts[3] = {prefix, ": ", old};
    for (int k = 0; k < 3; k++) {
        size_t len = strlen(parts[k]);
        if (len > cap - used) len = cap - used;
        memcpy(e->msg + used, parts[k], len);
        used += len;
    }
    e->msg[used] = '\0';
}

const char *lcv_status_name(lcv_status status) {
    switch (status) {
    case LCV_OK: return "LCV_OK";
    case LCV_ERR_INVALID_ARG: return "LCV_ERR_INVALID_ARG";
    case LCV_ERR_PARSE: return "LCV_ERR_PARSE";
    case LCV_ERR_UNSUPPORTED: return "LCV_ERR_UNSUPPORTED";
    case LCV_ERR_SHAPE: return "LCV_ERR_SHAPE";
    case LCV_ERR_NOMEM: return "LCV_ERR_NOMEM";
    case LCV_ERR_IO: return "LCV_ERR_IO";
    case LCV_ERR_INTERNAL: return "LCV_ERR_INTERNAL";
    }
    return "LCV_ERR_UNKNOWN";
}

const char *lcv_version(void) {
#define LCV_STR2(x) #x
#define LCV_STR(x) LCV_STR2(x)
    return LCV_STR(LCV_VERSION_MAJOR) "." LCV_STR(LCV_VERSION_MINOR) "." LCV_STR(LCV_VERSION_PATCH);
}
