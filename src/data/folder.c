/* folder.c - image folder data sets: DIR/<class>/<image>, one subfolder per class (class ids
 * follow the sorted subfolder names), PNG or JPEG files picked by extension and sorted by name
 * within a class. Every image is converted to the requested channels and resized (bilinear)
 * to one size. Sets whose 8-bit pixels fit the cache budget are decoded once at open (so bad
 * files are found there); larger ones keep the paths and decode in lcv_dataset_get. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_internal.h"

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(name_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static bool names_push(name_list *l, char *s) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) return false;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = s;
    return true;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

/* Sorted names in dir of subdirectories (dirs) or image files (!dirs); hidden entries skipped. */
static lcv_status list_dir(const char *dir, bool dirs, name_list *out, char *errbuf,
                           size_t errcap) {
    DIR *d = opendir(dir);
    if (!d)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_IO, "cannot open folder '%s': %s", dir,
                             strerror(errno));
    lcv_status st = LCV_OK;
    struct dirent *ent;
    while (st == LCV_OK && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') continue;
        if (!dirs && !is_image_name(ent->d_name)) continue;
        char *full = join(dir, ent->d_name);
        struct stat sb;
        if (!full) {
            st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", dir);
        } else if (stat(full, &sb) == 0 && (dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode))) {
            char *name = strdup(ent->d_name);
            if (!name || !names_push(out, name)) {
                free(name);
                st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", dir);
            }
        }
        free(full);
    }
    closedir(d);
    if (st == LCV_OK && out->n) qsort(out->v, out->n, sizeof *out->v, cmp_names);
    return st;
}

lcv_status lcv_data_folder_decode(const lcv_dataset *ds, const char *path, uint8_t *dst,
                                  char *errbuf, size_t errcap) {
    lcv_image_params ip = lcv_image_default_params();
    ip.channels = ds->img_channels;
    lcv_image *img = NULL, *sized = NULL;
    lcv_status st = lcv_image_load_file(path, &ip, &img, errbuf, errcap);
    if (st != LCV_OK) return st;
    if (img->width != ds->w || img->height != ds->h) {
        char msg[256] = "";
        st = lcv_image_resize(img, (int)ds->w, (int)ds->h, &sized, msg, sizeof msg);
        if (st != LCV_OK) {
            lcv_image_free(img);
            return lcv_data_fail(errbuf, errcap, st, "%s: %s", path, msg);
        }
    }
    const lcv_image *src = sized ? sized : img;
    size_t plane = (size_t)ds->h * (size_t)ds->w;
    int ch = src->channels;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < ch; c++) dst[(size_t)c * plane + i] = src->data[i * (size_t)ch + c];
    lcv_image_free(sized);
    lcv_image_free(img);
    return LCV_OK;
}

/* The size of the first image, when the caller gave none. */
static lcv_status first_size(lcv_dataset *ds, const char *path, char *errbuf, size_t errcap) {
    lcv_image_params ip = lcv_image_default_params();
    ip.channels = ds->img_channels;
    lcv_image *img = NULL;
    lcv_status st = lcv_image_load_file(path, &ip, &img, errbuf, errcap);
    if (st != LCV_OK) return st;
    ds->w = img->width;
    ds->h = img->height;
    lcv_image_free(img);
    if (ds->w * ds->h * ds->c > LCV_DATA_MAX_SAMPLE)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                             "%s: %lld x %lld images are too large for a data set (at most %lld "
                             "values per sample); pass a smaller width and height", path,
                             (long long)ds->w, (long long)ds->h, (long long)LCV_DATA_MAX_SAMPLE);
    return LCV_OK;
}

/* Collects every image path under the class folders into files, with its class in labels. */
static lcv_status collect(const char *dir, const name_list *classes, name_list *files,
                          int64_t **labels, char *errbuf, size_t errcap) {
    size_t lcap = 0;
    for (size_t k = 0; k < classes->n; k++) {
        char *cdir = join(dir, classes->v[k]);
        name_list imgs = {0};
        lcv_status st = cdir ? list_dir(cdir, false, &imgs, errbuf, errcap)
                             : lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == LCV_OK && i < imgs.n; i++) {
            if (files->n == lcap) {
                size_t ncap = lcap ? lcap * 2 : 256;
                int64_t *nl = realloc(*labels, ncap * sizeof *nl);
                if (!nl) {
                    st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", dir);
                    break;
                }
                *labels = nl;
                lcap = ncap;
            }
            char *path = join(cdir, imgs.v[i]);
            if (!path || !names_push(files, path)) {
                free(path);
                st = lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", dir);
            } else {
                (*labels)[files->n - 1] = (int64_t)k;
            }
        }
        names_free(&imgs);
        free(cdir);
        if (st != LCV_OK) return st;
    }
    return LCV_OK;
}

lcv_status lcv_data_open_folder(lcv_dataset *ds, const char *dir, const lcv_dataset_params *params,
                                uint64_t cache_bytes, char *errbuf, size_t errcap) {
    name_list classes = {0}, files = {0};
    int64_t *labels = NULL;
    lcv_status st = list_dir(dir, true, &classes, errbuf, errcap);
    if (st == LCV_OK && classes.n == 0)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                           "folder '%s' has no class subfolders", dir);
    if (st == LCV_OK && classes.n > LCV_DATA_MAX_CLASSES)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                           "folder '%s' has %zu class subfolders, more than %d", dir, classes.n,
                           LCV_DATA_MAX_CLASSES);
    if (st == LCV_OK) st = collect(dir, &classes, &files, &labels, errbuf, errcap);
    if (st == LCV_OK && files.n == 0)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                           "folder '%s' holds no PNG or JPEG images in its class subfolders", dir);
    if (st != LCV_OK) {
        names_free(&classes);
        names_free(&files);
        free(labels);
        return st;
    }
    /* From here on ds owns the lists; lcv_dataset_free releases them on failure. */
    ds->classes = (int)classes.n;
    ds->class_names = classes.v;
    int64_t n = (int64_t)files.n;
    int64_t use = params->limit > 0 && params->limit < n ? params->limit : n;
    for (int64_t i = use; i < n; i++) free(files.v[i]);
    ds->files = files.v;
    ds->labels = labels;
    ds->count = use;
    ds->img_channels = params->channels;
    ds->c = params->channels;
    ds->w = params->width;
    ds->h = params->height;
    if (ds->w == 0) st = first_size(ds, ds->files[0], errbuf, errcap);
    if (st != LCV_OK) return st;
    uint64_t bytes = (uint64_t)use * (uint64_t)(ds->c * ds->h * ds->w);
    if (bytes > cache_bytes) return LCV_OK; /* decoded on demand */
    uint8_t *pix = malloc(bytes ? (size_t)bytes : 1);
    if (!pix)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM,
                             "folder '%s': out of memory for %llu bytes of pixels", dir,
                             (unsigned long long)bytes);
    size_t per = (size_t)(ds->c * ds->h * ds->w);
    for (int64_t i = 0; i < use && st == LCV_OK; i++)
        st = lcv_data_folder_decode(ds, ds->files[i], pix + (size_t)i * per, errbuf, errcap);
    if (st != LCV_OK) {
        free(pix);
        return st;
    }
    for (int64_t i = 0; i < use; i++) free(ds->files[i]);
    free(ds->files);
    ds->files = NULL;
    ds->pixels = pix;
    ds->u8 = pix;
    return LCV_OK;
}
