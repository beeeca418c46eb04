/* loader.c - batches of a data set for training: the epoch's order (a permutation drawn from
 * seed and epoch), per-sample augmentation (zero-padded random crop, horizontal flip; a label
 * map moves with its image) drawn from seed, epoch and sample index, normalisation, and a
 * background thread that prepares the next batch into the other of two slots while the caller
 * works on the current one. Every
 * random choice is a function of (seed, epoch, sample), never of timing, so the batches are
 * the same with or without prefetch and a resumed run sees what an uninterrupted one would. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define MAX_BATCH (1 << 20)
#define MAX_PAD 4096
/* Bytes of the four batch tensors of one slot. */
#define MAX_SLOT_BYTES ((uint64_t)1 << 33)

/* One prepared batch: full-size tensors, and tensors for the final partial batch if any. */
typedef struct slot {
    lcv_tensor *img, *lab;
    lcv_tensor *img_tail, *lab_tail; /* NULL when the batch size divides the count */
    bool tail;                       /* the batch in the slot is the partial one */
    lcv_status st;
    char msg[256];
} slot;

struct lcv_loader {
    const lcv_dataset *ds; /* borrowed */
    lcv_loader_params p;
    int64_t n, batches, sample; /* samples, batches per epoch, values per sample */
    int64_t c, h, w;
    bool maps;       /* label maps [h, w] per sample instead of one label */
    int64_t boxes;   /* boxes per sample ([boxes, 5] floats) instead of one label, or 0 */
    int64_t *lscratch; /* maps: one sample's labels before augmentation */
    int64_t *perm;   /* [n] the epoch's order; written only while the worker is idle */
    int64_t epoch;   /* -1 before the first lcv_loader_start_epoch */
    int64_t next;    /* batch the next lcv_loader_next returns */
    float *scratch;  /* one sample before augmentation (used by whoever prepares) */
    slot slots[2];
    lcv_status epoch_st; /* sticky failure of this epoch */
    char epoch_msg[256];
    /* Prefetch: the worker takes a request (batch, slot), prepares it, and posts it ready.
     * Everything below is guarded by mu. */
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, cancel, busy, has_req;
    int64_t req_batch, ready_batch;
    int req_slot, ready_slot;
};

/* ---- deterministic randomness ---- */

/* SplitMix64 (Steele, Lea, Flood 2014; constants as published by Vigna): a bijective finaliser
 * used both as the generator step and to derive independent streams from (seed, epoch, i). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    return mix64(*s);
}

/* Uniform in [0, n), n >= 1, without modulo bias (draws past the last whole multiple of n are
 * redrawn). */
static uint64_t rng_below(uint64_t *s, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = rng_next(s);
    while (r >= limit);
    return r % n;
}

/* Stream state for one purpose: 0 = the epoch's permutation, 1 + i = sample i's augmentation. */
static uint64_t stream(uint64_t seed, int64_t epoch, uint64_t purpose) {
    uint64_t s = mix64(seed ^ 0x6A09E667F3BCC909ull);
    s = mix64(s ^ mix64((uint64_t)epoch + 0x3C6EF372FE94F82Bull));
    return mix64(s ^ mix64(purpose + 0xA54FF53A5F1D36F1ull));
}

/* ---- batch preparation ---- */

static bool cancelled(lcv_loader *l) {
    if (!l->threaded) return false;
    pthread_mutex_lock(&l->mu);
    bool c = l->cancel || l->stop;
    pthread_mutex_unlock(&l->mu);
    return c;
}

/* Sample i's crop and flip this epoch: *dy, *dx the offset of the crop in the image padded by
 * pad_crop (pad_crop, pad_crop when off), *flip whether it is mirrored. */
static void draw_crop(const lcv_loader *l, int64_t i, int64_t *dy, int64_t *dx, bool *flip) {
    int64_t pad = l->p.pad_crop;
    uint64_t s = stream(l->p.seed, l->epoch, 1 + (uint64_t)i);
    *dy = *dx = pad;
    *flip = false;
    if (pad > 0) {
        *dy = (int64_t)rng_below(&s, (uint64_t)(2 * pad + 1));
        *dx = (int64_t)rng_below(&s, (uint64_t)(2 * pad + 1));
    }
    if (l->p.hflip) *flip = (rng_next(&s) >> 63) != 0;
}

/* Writes sample src (C x H x W) into dst with sample i's crop/flip and the normalisation, and
 * its label map lsrc (H x W, or NULL) into ldst with the same crop/flip. */
static void augment(const lcv_loader *l, int64_t i, const float *src, float *dst,
                    const int64_t *lsrc, int64_t *ldst) {
    int64_t pad = l->p.pad_crop, H = l->h, W = l->w, dy, dx;
    bool flip;
    draw_crop(l, i, &dy, &dx, &flip);
    for (int64_t c = 0; c < l->c; c++) {
        float mean = l->p.mean[c], sd = l->p.std[c];
        const float *sp = src + c * H * W;
        float *dp = dst + c * H * W;
        for (int64_t y = 0; y < H; y++) {
            int64_t sy = y + dy - pad;
            for (int64_t x = 0; x < W; x++) {
                int64_t sx = (flip ? W - 1 - x : x) + dx - pad;
                float v = sy >= 0 && sy < H && sx >= 0 && sx < W ? sp[sy * W + sx] : 0.0f;
                dp[y * W + x] = (v - mean) / sd;
            }
        }
    }
    for (int64_t y = 0; lsrc && y < H; y++) {
        int64_t sy = y + dy - pad;
        for (int64_t x = 0; x < W; x++) {
            int64_t sx = (flip ? W - 1 - x : x) + dx - pad;
            ldst[y * W + x] = sy >= 0 && sy < H && sx >= 0 && sx < W ? lsrc[sy * W + sx] : 0;
        }
    }
}

/* Moves sample i's boxes (k rows of x1, y1, x2, y2, class) with the crop/flip augment gives
 * its image: clipped to the image, a box with no area left becomes unused (class -1). */
static void augment_boxes(const lcv_loader *l, int64_t i, float *b, int64_t k) {
    int64_t pad = l->p.pad_crop, dy, dx;
    bool flip;
    draw_crop(l, i, &dy, &dx, &flip);
    float W = (float)l->w, H = (float)l->h, ox = (float)(pad - dx), oy = (float)(pad - dy);
    for (int64_t r = 0; r < k; r++, b += 5) {
        if (b[4] < 0) continue;
        float x1 = b[0] + ox, x2 = b[2] + ox;
        if (flip) {
            float t = x1;
            x1 = W - x2;
            x2 = W - t;
        }
        b[0] = fmaxf(x1, 0.0f);
        b[2] = fminf(x2, W);
        b[1] = fmaxf(b[1] + oy, 0.0f);
        b[3] = fminf(b[3] + oy, H);
        if (!(b[0] < b[2] && b[1] < b[3])) b[4] = -1.0f;
    }
}

/* Fills slot s with batch b of the current epoch. */
static void prepare(lcv_loader *l, int64_t b, int s) {
    slot *sl = &l->slots[s];
    int64_t start = b * l->p.batch;
    int64_t cnt = l->n - start < l->p.batch ? l->n - start : l->p.batch;
    sl->tail = cnt < l->p.batch;
    sl->st = LCV_OK;
    sl->msg[0] = '\0';
    float *img = lcv_tensor_data(sl->tail ? sl->img_tail : sl->img);
    int64_t *lab = lcv_tensor_data(sl->tail ? sl->lab_tail : sl->lab);
    for (int64_t k = 0; k < cnt; k++) {
        if (cancelled(l)) return; /* the result will be discarded */
        int64_t i = l->perm[start + k];
        if (l->boxes) {
            float *bx = (float *)(void *)lab + k * l->boxes * 5;
            sl->st = lcv_dataset_get_boxes(l->ds, i, l->scratch, bx, sl->msg, sizeof sl->msg);
            if (sl->st != LCV_OK) return;
            augment(l, i, l->scratch, img + k * l->sample, NULL, NULL);
            augment_boxes(l, i, bx, l->boxes);
            continue;
        }
        if (l->maps)
            sl->st = lcv_dataset_get_map(l->ds, i, l->scratch, l->lscratch, sl->msg,
                                         sizeof sl->msg);
        else
            sl->st = lcv_dataset_get(l->ds, i, l->scratch, &lab[k], sl->msg, sizeof sl->msg);
        if (sl->st != LCV_OK) return;
        augment(l, i, l->scratch, img + k * l->sample, l->maps ? l->lscratch : NULL,
                l->maps ? lab + k * l->h * l->w : NULL);
    }
}

static void *worker_main(void *arg) {
    lcv_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !l->has_req) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        int64_t b = l->req_batch;
        int s = l->req_slot;
        l->has_req = false;
        l->busy = true;
        pthread_mutex_unlock(&l->mu);
        prepare(l, b, s);
        pthread_mutex_lock(&l->mu);
        l->busy = false;
        l->ready_batch = b;
        l->ready_slot = s;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Asks the worker for batch b into slot s (caller holds mu). */
static void post(lcv_loader *l, int64_t b, int s) {
    l->req_batch = b;
    l->req_slot = s;
    l->has_req = true;
    pthread_cond_broadcast(&l->cv);
}

/* ---- public API ---- */

lcv_loader_params lcv_loader_default_params(void) {
    lcv_loader_params p;
    memset(&p, 0, sizeof p);
    p.batch = 64;
    p.prefetch = true;
    for (int c = 0; c < 3; c++) p.std[c] = 1.0f;
    return p;
}

static lcv_status check_params(const lcv_loader_params *p, const lcv_dataset *ds, char *errbuf,
                               size_t errcap) {
    if (p->batch < 1 || p->batch > MAX_BATCH)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "loader: batch %d is outside 1..%d", p->batch, MAX_BATCH);
    if (p->pad_crop < 0 || p->pad_crop > MAX_PAD)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "loader: pad_crop %d is outside 0..%d", p->pad_crop, MAX_PAD);
    for (int64_t c = 0; c < ds->c; c++)
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c]) || p->std[c] == 0.0f)
            return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                                 "loader: mean[%lld] = %g / std[%lld] = %g is not usable",
                                 (long long)c, (double)p->mean[c], (long long)c,
                                 (double)p->std[c]);
    return LCV_OK;
}

static lcv_status make_pair(const lcv_loader *l, int64_t b, lcv_tensor **img, lcv_tensor **lab) {
    int64_t idims[4] = {b, l->c, l->h, l->w}, ldims[3] = {b, l->h, l->w};
    int64_t bdims[3] = {b, l->boxes, 5};
    lcv_status st = lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, idims, img);
    if (st == LCV_OK && l->boxes) st = lcv_tensor_create(LCV_DTYPE_FLOAT32, 3, bdims, lab);
    else if (st == LCV_OK) st = lcv_tensor_create(LCV_DTYPE_INT64, l->maps ? 3 : 1, ldims, lab);
    return st;
}

lcv_status lcv_loader_create(const lcv_dataset *ds, const lcv_loader_params *params,
                             lcv_loader **out, char *errbuf, size_t errcap) {
    if (!out || !ds)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "loader: NULL argument");
    *out = NULL;
    lcv_loader_params p = params ? *params : lcv_loader_default_params();
    lcv_status st = check_params(&p, ds, errbuf, errcap);
    if (st != LCV_OK) return st;
    lcv_loader *l = calloc(1, sizeof *l);
    if (!l) return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "loader: out of memory");
    l->ds = ds;
    l->p = p;
    l->n = lcv_dataset_count(ds);
    l->c = ds->c;
    l->h = ds->h;
    l->w = ds->w;
    l->sample = l->c * l->h * l->w;
    l->maps = ds->y_maps != NULL;
    l->boxes = lcv_dataset_box_rows(ds);
    l->batches = p.drop_last ? l->n / p.batch : (l->n + p.batch - 1) / p.batch;
    l->epoch = -1;
    l->ready_batch = -1;
    int64_t rem = p.drop_last ? 0 : l->n % p.batch;
    uint64_t per = (uint64_t)l->sample * 4u + (l->maps ? (uint64_t)(l->h * l->w) * 8u : 0u) +
                   (uint64_t)l->boxes * 20u;
    uint64_t slot_bytes = (uint64_t)(p.batch + rem) * per;
    if (slot_bytes > MAX_SLOT_BYTES) {
        int64_t sample = l->sample;
        free(l);
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "loader: a batch of %d samples of %lld values is too large", p.batch,
                             (long long)sample);
    }
    l->perm = malloc((size_t)l->n * sizeof *l->perm);
    l->scratch = malloc((size_t)l->sample * sizeof *l->scratch);
    if (l->maps) l->lscratch = malloc((size_t)(l->h * l->w) * sizeof *l->lscratch);
    st = l->perm && l->scratch && (!l->maps || l->lscratch) ? LCV_OK : LCV_ERR_NOMEM;
    for (int s = 0; s < 2 && st == LCV_OK; s++) {
        st = make_pair(l, p.batch, &l->slots[s].img, &l->slots[s].lab);
        if (st == LCV_OK && rem)
            st = make_pair(l, rem, &l->slots[s].img_tail, &l->slots[s].lab_tail);
        if (!p.prefetch) break; /* one slot is enough without the worker */
    }
    if (st == LCV_OK && p.prefetch) {
        bool mu = pthread_mutex_init(&l->mu, NULL) == 0;
        bool cv = mu && pthread_cond_init(&l->cv, NULL) == 0;
        if (cv && pthread_create(&l->thread, NULL, worker_main, l) == 0) {
            l->threaded = true;
        } else {
            if (cv) pthread_cond_destroy(&l->cv);
            if (mu) pthread_mutex_destroy(&l->mu);
            lcv_loader_free(l);
            return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM,
                                 "loader: cannot start the prefetch thread");
        }
    }
    if (st != LCV_OK) {
        lcv_loader_free(l);
        return lcv_data_fail(errbuf, errcap, st, "loader: out of memory for batches of %d",
                             p.batch);
    }
    *out = l;
    return LCV_OK;
}

void lcv_loader_free(lcv_loader *l) {
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    for (int s = 0; s < 2; s++) {
        lcv_tensor_free(l->slots[s].img);
        lcv_tensor_free(l->slots[s].lab);
        lcv_tensor_free(l->slots[s].img_tail);
        lcv_tensor_free(l->slots[s].lab_tail);
    }
    free(l->perm);
    free(l->scratch);
    free(l->lscratch);
    free(l);
}

int64_t lcv_loader_batches(const lcv_loader *l) { return l ? l->batches : 0; }

lcv_status lcv_loader_start_epoch(lcv_loader *l, int64_t epoch) {
    if (!l || epoch < 0) return LCV_ERR_INVALID_ARG;
    if (l->threaded) { /* drop what is pending and wait until the worker is idle */
        pthread_mutex_lock(&l->mu);
        l->has_req = false;
        l->cancel = true;
        while (l->busy) pthread_cond_wait(&l->cv, &l->mu);
        l->cancel = false;
        l->ready_batch = -1;
        pthread_mutex_unlock(&l->mu);
    }
    l->epoch = epoch;
    l->next = 0;
    l->epoch_st = LCV_OK;
    for (int64_t i = 0; i < l->n; i++) l->perm[i] = i;
    if (l->p.shuffle) { /* Fisher-Yates from the last position down */
        uint64_t s = stream(l->p.seed, epoch, 0);
        for (int64_t i = l->n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(&s, (uint64_t)i + 1);
            int64_t t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    if (l->threaded && l->batches > 0) {
        pthread_mutex_lock(&l->mu);
        post(l, 0, 0);
        pthread_mutex_unlock(&l->mu);
    }
    return LCV_OK;
}

lcv_status lcv_loader_next(lcv_loader *l, const lcv_tensor **images, const lcv_tensor **labels,
                           char *errbuf, size_t errcap) {
    if (images) *images = NULL;
    if (labels) *labels = NULL;
    if (!l || !images || !labels)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "loader: NULL argument");
    if (l->epoch < 0)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                             "loader: lcv_loader_start_epoch was not called");
    if (l->epoch_st != LCV_OK)
        return lcv_data_fail(errbuf, errcap, l->epoch_st, "%s", l->epoch_msg);
    if (l->next >= l->batches) return LCV_OK;
    int s = 0;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        while (l->ready_batch != l->next) pthread_cond_wait(&l->cv, &l->mu);
        s = l->ready_slot;
        /* The slot the caller held until now is free: prepare the batch after this one. */
        if (l->next + 1 < l->batches && l->slots[s].st == LCV_OK) post(l, l->next + 1, 1 - s);
        pthread_mutex_unlock(&l->mu);
    } else {
        prepare(l, l->next, 0);
    }
    slot *sl = &l->slots[s];
    if (sl->st != LCV_OK) {
        l->epoch_st = sl->st;
        snprintf(l->epoch_msg, sizeof l->epoch_msg, "%s", sl->msg);
        return lcv_data_fail(errbuf, errcap, sl->st, "%s", sl->msg);
    }
    l->next++;
    *images = sl->tail ? sl->img_tail : sl->img;
    *labels = sl->tail ? sl->lab_tail : sl->lab;
    return LCV_OK;
}
