/* eval_read.c - reading leancv evaluate's inputs: results JSON in its three forms into box
 * lists (records checked field by field, errors naming the file and record), image names
 * interned in a hash table, sorted directory listings, and the per-image detection cap. */
#include "eval_read.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_json.h"
#include "cli_util.h"

#define MAX_JSON_BYTES ((size_t)1 << 30)
#define MAX_FILES 1000000
#define MAX_BOXES ((int64_t)1 << 26)

static const char *const CMD = "evaluate";

/* ---- a growing set of boxes with interned image names ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a offset basis */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The id of name (added when new); -1 when out of memory. */
static int64_t intern(eval_names *t, const char *name) {
    if (2 * (t->n + 1) > t->hcap) {
        int64_t hcap = t->hcap ? t->hcap * 2 : 1024;
        int64_t *slot = calloc((size_t)hcap, sizeof *slot);
        if (!slot) return -1;
        for (int64_t i = 0; i < t->n; i++) {
            uint64_t h = hash_str(t->name[i]) & (uint64_t)(hcap - 1);
            while (slot[h]) h = (h + 1) & (uint64_t)(hcap - 1);
            slot[h] = i + 1;
        }
        free(t->slot);
        t->slot = slot;
        t->hcap = hcap;
    }
    uint64_t h = hash_str(name) & (uint64_t)(t->hcap - 1);
    for (; t->slot[h]; h = (h + 1) & (uint64_t)(t->hcap - 1))
        if (strcmp(t->name[t->slot[h] - 1], name) == 0) return t->slot[h] - 1;
    if (t->n == t->cap) {
        int64_t cap = t->cap ? t->cap * 2 : 256;
        char **v = realloc(t->name, (size_t)cap * sizeof *v);
        if (!v) return -1;
        t->name = v;
        t->cap = cap;
    }
    if (!(t->name[t->n] = strdup(name))) return -1;
    t->slot[h] = t->n + 1;
    return t->n++;
}

void eval_names_free(eval_names *t) {
    for (int64_t i = 0; i < t->n; i++) free(t->name[i]);
    free(t->name);
    free(t->slot);
}

static bool list_push(eval_boxes *l, lcv_box b, float score, int32_t label, int64_t image) {
    if (l->n == l->cap) {
        if (l->cap >= MAX_BOXES) return false;
        int64_t cap = l->cap ? l->cap * 2 : 256;
        lcv_box *nb = realloc(l->boxes, (size_t)cap * sizeof *nb);
        if (nb) l->boxes = nb;
        float *ns = realloc(l->scores, (size_t)cap * sizeof *ns);
        if (ns) l->scores = ns;
        int32_t *nl = realloc(l->labels, (size_t)cap * sizeof *nl);
        if (nl) l->labels = nl;
        int64_t *ni = realloc(l->images, (size_t)cap * sizeof *ni);
        if (ni) l->images = ni;
        if (!nb || !ns || !nl || !ni) return false;
        l->cap = cap;
    }
    l->boxes[l->n] = b;
    l->scores[l->n] = score;
    l->labels[l->n] = label;
    l->images[l->n++] = image;
    if (label > l->max_label) l->max_label = label;
    return true;
}

void eval_boxes_free(eval_boxes *l) {
    free(l->boxes);
    free(l->scores);
    free(l->labels);
    free(l->images);
}

/* ---- reading results JSON ---- */

typedef struct reader {
    eval_boxes *list;
    eval_names *images;
    bool pred;          /* scores required */
    const char *file;
    const cj_doc *doc;
} reader;

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The image key of an "image" member: the base name of a string, or a number as text. */
static bool image_key(const cj_node *n, char *buf, size_t cap) {
    if (n && n->type == CJ_STRING) snprintf(buf, cap, "%s", base_name(n->str));
    else if (n && n->type == CJ_NUMBER) snprintf(buf, cap, "%.17g", n->number);
    else return false;
    return true;
}

/* One box record (inside "detections" or flat); image is its image id. */
static int read_record(reader *r, const cj_node *rec, int64_t image, int64_t index) {
    const cj_doc *d = r->doc;
    double b[4], v;
    const cj_node *box = cj_get(d, rec, "box"), *bbox = cj_get(d, rec, "bbox");
    const cj_node *cls = cj_get(d, rec, "class"), *score = cj_get(d, rec, "score");
    if (!cls) cls = cj_get(d, rec, "category_id");
    if (!(box ? cj_numbers(d, box, b, 4) : cj_numbers(d, bbox, b, 4)))
        return cli_fail(CMD, "%s: record %lld needs \"box\" [x1,y1,x2,y2] or \"bbox\" [x,y,w,h] "
                        "of 4 numbers", r->file, (long long)index);
    if (!box) {
        b[2] += b[0];
        b[3] += b[1];
    }
    if (!cls || cls->type != CJ_NUMBER || !(cls->number >= 0) ||
        cls->number >= LCV_MAP_MAX_CLASSES || cls->number != (double)(int32_t)cls->number)
        return cli_fail(CMD, "%s: record %lld needs \"class\" (or \"category_id\"), an integer "
                        "in 0..%d", r->file, (long long)index, LCV_MAP_MAX_CLASSES - 1);
    v = 0.0;
    if (r->pred) {
        if (!score || score->type != CJ_NUMBER || score->number != score->number)
            return cli_fail(CMD, "%s: detection %lld needs a numeric \"score\"", r->file,
                            (long long)index);
        v = score->number;
    }
    lcv_box lb = {(float)b[0], (float)b[1], (float)b[2], (float)b[3]};
    if (!list_push(r->list, lb, (float)v, (int32_t)cls->number, image))
        return cli_fail(CMD, "%s: too many boxes (at most %lld) or out of memory", r->file,
                        (long long)MAX_BOXES);
    return 0;
}

/* A per-image results object: "image" (optional) and "detections". */
static int read_image_object(reader *r, const cj_node *obj, const char *fallback_key) {
    char key[512];
    if (!image_key(cj_get(r->doc, obj, "image"), key, sizeof key)) {
        if (!fallback_key)
            return cli_fail(CMD, "%s: a results object without an \"image\" member", r->file);
        snprintf(key, sizeof key, "%s", fallback_key);
    }
    int64_t id = intern(r->images, key);
    if (id < 0) return cli_fail(CMD, "out of memory");
    const cj_node *dets = cj_get(r->doc, obj, "detections");
    if (!dets || dets->type != CJ_ARRAY)
        return cli_fail(CMD, "%s: image '%s' has no \"detections\" list", r->file, key);
    int64_t k = 0;
    for (int64_t i = dets->first; i >= 0; i = r->doc->nodes[i].next, k++) {
        int rc = read_record(r, &r->doc->nodes[i], id, k);
        if (rc) return rc;
    }
    return 0;
}

static int read_json_file(reader *r, const char *path, const char *fallback_key) {
    cj_doc doc;
    char err[640];
    if (!cj_parse_file(path, MAX_JSON_BYTES, &doc, err, sizeof err))
        return cli_fail(CMD, "%s", err);
    r->doc = &doc;
    r->file = path;
    const cj_node *root = &doc.nodes[0];
    int rc = 0;
    if (root->type == CJ_OBJECT) {
        rc = read_image_object(r, root, fallback_key);
    } else if (root->type == CJ_ARRAY) {
        int64_t k = 0;
        for (int64_t i = root->first; i >= 0 && !rc; i = doc.nodes[i].next, k++) {
            const cj_node *e = &doc.nodes[i];
            char key[512];
            int64_t id;
            if (cj_get(&doc, e, "detections")) {
                rc = read_image_object(r, e, NULL);
            } else if (!image_key(cj_get(&doc, e, "image"), key, sizeof key) &&
                       !image_key(cj_get(&doc, e, "image_id"), key, sizeof key)) {
                rc = cli_fail(CMD, "%s: record %lld has no \"image\" (or \"image_id\")", path,
                              (long long)k);
            } else if ((id = intern(r->images, key)) < 0) {
                rc = cli_fail(CMD, "out of memory");
            } else {
                rc = read_record(r, e, id, k);
            }
        }
    } else {
        rc = cli_fail(CMD, "%s: expected a results object or a list", path);
    }
    cj_doc_free(&doc);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int eval_list_dir(const char *dir, const char *ext, char ***out, int64_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return cli_fail(CMD, "cannot open directory '%s': %s", dir, strerror(errno));
    int64_t cap = 0;
    struct dirent *e;
    size_t el = strlen(ext);
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = cap <= MAX_FILES ? realloc(*out, (size_t)cap * sizeof *v) : NULL;
            if (!v) {
                rc = cli_fail(CMD, "too many files in '%s' or out of memory", dir);
                break;
            }
            *out = v;
        }
        if (!((*out)[*n] = strdup(e->d_name))) rc = cli_fail(CMD, "out of memory");
        else (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_str);
    return rc;
}

void eval_free_names(char **v, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Reads PATH (a directory of .json files or one file) into r->list. */
static int read_path(reader *r, const char *path) {
    if (!is_dir(path)) {
        char key[512];
        const char *b = base_name(path);
        size_t l = strlen(b);
        snprintf(key, sizeof key, "%.*s",
                 (int)(l > 5 && strcmp(b + l - 5, ".json") == 0 ? l - 5 : l), b);
        return read_json_file(r, path, key);
    }
    char **files;
    int64_t n;
    int rc = eval_list_dir(path, ".json", &files, &n);
    if (!rc && n == 0) rc = cli_fail(CMD, "directory '%s' holds no .json files", path);
    for (int64_t i = 0; i < n && !rc; i++) {
        char full[4096], key[512];
        snprintf(full, sizeof full, "%s/%s", path, files[i]);
        snprintf(key, sizeof key, "%.*s", (int)(strlen(files[i]) - 5), files[i]);
        rc = read_json_file(r, full, key);
    }
    eval_free_names(files, n);
    return rc;
}

typedef struct ranked {
    int64_t image, index;
    float score;
} ranked;

/* By image, then descending score, then index: the order the cap keeps from. */
static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->image != y->image) return x->image < y->image ? -1 : 1;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Keeps the max_det highest-scored detections of each image (pycocotools' maxDets), in
 * their original order. */
int eval_cap_per_image(eval_boxes *l, long max_det) {
    if (l->n == 0) return 0;
    ranked *r = malloc((size_t)l->n * sizeof *r);
    uint8_t *keep = calloc((size_t)l->n, 1);
    if (!r || !keep) {
        free(r);
        free(keep);
        return cli_fail(CMD, "out of memory");
    }
    for (int64_t i = 0; i < l->n; i++) r[i] = (ranked){l->images[i], i, l->scores[i]};
    qsort(r, (size_t)l->n, sizeof *r, cmp_ranked);
    for (int64_t i = 0, run = 0; i < l->n; i++) {
        run = i > 0 && r[i].image == r[i - 1].image ? run + 1 : 0;
        keep[r[i].index] = run < max_det;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (!keep[i]) continue;
        l->boxes[n] = l->boxes[i];
        l->scores[n] = l->scores[i];
        l->labels[n] = l->labels[i];
        l->images[n++] = l->images[i];
    }
    l->n = n;
    free(r);
    free(keep);
    return 0;
}

int eval_read_results(eval_boxes *l, eval_names *images, bool pred, const char *path) {
    reader r = {l, images, pred, NULL, NULL};
    return read_path(&r, path);
}
