/* file.c - reading a whole file with a size cap, so hostile inputs cannot force huge reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

lcv_status lcv_read_file(const char *path, uint64_t max_bytes, void **data, size_t *size,
                         lcv_err *e) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lcv_fail(e, LCV_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return lcv_fail(e, LCV_ERR_IO, "cannot seek in '%s'", path);
    }
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return lcv_fail(e, LCV_ERR_IO, "cannot determine the size of '%s'", path);
    }
    if ((uint64_t)len > max_bytes) {
        fclose(f);
        return lcv_fail(e, LCV_ERR_PARSE, "'%s' is %ld bytes, more than the limit of %llu", path,
                        len, (unsigned long long)max_bytes);
    }
    void *buf = malloc(len ? (size_t)len : 1);
    if (!buf) {
        fclose(f);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return lcv_fail(e, LCV_ERR_IO, "short read on '%s'", path);
    }
    *data = buf;
    *size = (size_t)len;
    return LCV_OK;
}
