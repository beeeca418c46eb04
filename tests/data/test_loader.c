/* test_loader.c - leancv_data's loader: batch counts and tails, normalisation, per-epoch
 * permutations from the seed, augmentation that is always a zero-padded crop (and flip) of the
 * source, identical batches with and without the prefetch thread and across runs (a pinned
 * hash), epoch resume, errors raised on the worker, and shutdown at any point (run under ASan
 * and TSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"
#include "harness.h"
#include "leancv_data.h"
#include "leancv_image.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define N 37
#define C 3
#define H 5
#define W 6
#define PER (C * H * W)

static char errbuf[512];
static char tmp[512];

/* The synthetic set: sample i holds i * 1000 + k at value k, label i % 4. */
static lcv_dataset *synthetic(void) {
    int64_t xd[4] = {N, C, H, W}, yd[1] = {N};
    lcv_tensor *x = NULL, *y = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, xd, &x) == LCV_OK);
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 1, yd, &y) == LCV_OK);
    float *xp = lcv_tensor_data(x);
    int64_t *yp = lcv_tensor_data(y);
    for (int i = 0; i < N; i++) {
        yp[i] = i % 4;
        for (int k = 0; k < PER; k++) xp[i * PER + k] = (float)(i * 1000 + k);
    }
    char xs[600], ys[600], spec[1300];
    snprintf(xs, sizeof xs, "%s/x.npy", tmp);
    snprintf(ys, sizeof ys, "%s/y.npy", tmp);
    CHECK(lcv_npy_write_file(xs, x, errbuf, sizeof errbuf) == LCV_OK);
    CHECK(lcv_npy_write_file(ys, y, errbuf, sizeof errbuf) == LCV_OK);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    snprintf(spec, sizeof spec, "npy:%s,%s", xs, ys);
    lcv_dataset *ds = NULL;
    CHECK_MSG(lcv_dataset_open(spec, NULL, &ds, errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
    return ds;
}

/* One epoch's output: every batch's images and labels concatenated, and the batch sizes. */
typedef struct epoch_out {
    float *img;
    int64_t *lab;
    int64_t n, batches, sizes[128];
} epoch_out;

static void epoch_free(epoch_out *e) {
    free(e->img);
    free(e->lab);
    memset(e, 0, sizeof *e);
}

static epoch_out run_epoch(lcv_loader *l, int64_t epoch, int64_t per) {
    epoch_out o;
    memset(&o, 0, sizeof o);
    CHECK(lcv_loader_start_epoch(l, epoch) == LCV_OK);
    for (;;) {
        const lcv_tensor *img = NULL, *lab = NULL;
        lcv_status st = lcv_loader_next(l, &img, &lab, errbuf, sizeof errbuf);
        CHECK_MSG(st == LCV_OK, "%s", errbuf);
        if (st != LCV_OK || !img) {
            CHECK(img == NULL && lab == NULL);
            break;
        }
        int64_t b = lcv_tensor_dim(img, 0);
        CHECK(lcv_tensor_ndim(img) == 4 && lcv_tensor_dim(lab, 0) == b &&
              lcv_tensor_dtype(lab) == LCV_DTYPE_INT64 &&
              lcv_tensor_numel(img) == b * per);
        o.img = realloc(o.img, (size_t)((o.n + b) * per) * sizeof(float));
        o.lab = realloc(o.lab, (size_t)(o.n + b) * sizeof(int64_t));
        memcpy(o.img + o.n * per, lcv_tensor_cdata(img), (size_t)(b * per) * sizeof(float));
        memcpy(o.lab + o.n, lcv_tensor_cdata(lab), (size_t)b * sizeof(int64_t));
        if (o.batches < 128) o.sizes[o.batches] = b;
        o.batches++;
        o.n += b;
    }
    return o;
}

static bool same_epoch(const epoch_out *a, const epoch_out *b, int64_t per) {
    return a->n == b->n && a->batches == b->batches &&
           memcmp(a->img, b->img, (size_t)(a->n * per) * sizeof(float)) == 0 &&
           memcmp(a->lab, b->lab, (size_t)a->n * sizeof(int64_t)) == 0;
}

static lcv_loader *make(const lcv_dataset *ds, const lcv_loader_params *p) {
    lcv_loader *l = NULL;
    CHECK_MSG(lcv_loader_create(ds, p, &l, errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
    return l;
}

static void test_order_and_batches(const lcv_dataset *ds) {
    for (int pf = 0; pf < 2; pf++) {
        lcv_loader_params p = lcv_loader_default_params();
        p.batch = 8;
        p.prefetch = pf;
        static const float mean[3] = {1, 2, 3}, sd[3] = {2, 4, 8};
        memcpy(p.mean, mean, sizeof mean);
        memcpy(p.std, sd, sizeof sd);
        lcv_loader *l = make(ds, &p);
        if (!l) continue;
        CHECK(lcv_loader_batches(l) == 5);
        epoch_out e = run_epoch(l, 0, PER);
        CHECK(e.n == N && e.batches == 5 && e.sizes[0] == 8 && e.sizes[4] == 5);
        bool ok = true;
        for (int i = 0; i < N && e.n == N; i++) {
            ok &= e.lab[i] == i % 4;
            for (int k = 0; k < PER; k++)
                ok &= e.img[i * PER + k] == ((float)(i * 1000 + k) - mean[k / (H * W)]) /
                                                sd[k / (H * W)];
        }
        CHECK_MSG(ok, "in-order epoch content (prefetch %d)", pf);
        epoch_free(&e);
        lcv_loader_free(l);
        p.drop_last = true;
        l = make(ds, &p);
        CHECK(lcv_loader_batches(l) == 4);
        e = run_epoch(l, 3, PER);
        CHECK(e.n == 32 && e.batches == 4 && e.sizes[3] == 8);
        epoch_free(&e);
        lcv_loader_free(l);
        p.batch = 64; /* drop_last with fewer samples than a batch: an empty epoch */
        l = make(ds, &p);
        CHECK(lcv_loader_batches(l) == 0);
        e = run_epoch(l, 0, PER);
        CHECK(e.n == 0 && e.batches == 0);
        epoch_free(&e);
        lcv_loader_free(l);
        p.drop_last = false; /* one batch holding everything */
        l = make(ds, &p);
        e = run_epoch(l, 0, PER);
        CHECK(lcv_loader_batches(l) == 1 && e.n == N && e.sizes[0] == N);
        epoch_free(&e);
        lcv_loader_free(l);
    }
}

/* The sample ids of an epoch of the synthetic set without augmentation. */
static void ids_of(const epoch_out *e, int *ids) {
    for (int64_t i = 0; i < e->n && i < N; i++) ids[i] = (int)(e->img[i * PER] / 1000.0f);
}

static void test_shuffle(const lcv_dataset *ds) {
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 5;
    p.shuffle = true;
    p.seed = 1234;
    lcv_loader *a = make(ds, &p), *b = make(ds, &p);
    p.seed = 1235;
    lcv_loader *c = make(ds, &p);
    if (!a || !b || !c) goto done;
    int prev[N] = {0};
    for (int ep = 0; ep < 4; ep++) {
        epoch_out ea = run_epoch(a, ep, PER), eb = run_epoch(b, ep, PER),
                  ec = run_epoch(c, ep, PER);
        CHECK(same_epoch(&ea, &eb, PER));
        CHECK(!same_epoch(&ea, &ec, PER));
        int ids[N], seen[N] = {0};
        ids_of(&ea, ids);
        bool perm = ea.n == N, moved = false;
        for (int i = 0; i < N && perm; i++) {
            perm &= ids[i] >= 0 && ids[i] < N && !seen[ids[i]]++;
            perm &= ea.lab[i] == ids[i] % 4;
            moved |= ids[i] != i;
        }
        CHECK_MSG(perm && moved, "epoch %d is not a shuffled permutation", ep);
        if (ep) CHECK(memcmp(ids, prev, sizeof ids) != 0);
        memcpy(prev, ids, sizeof ids);
        epoch_free(&ea);
        epoch_free(&eb);
        epoch_free(&ec);
    }
done:
    lcv_loader_free(a);
    lcv_loader_free(b);
    lcv_loader_free(c);
}

/* Every augmented sample must be exactly one zero-padded crop (and maybe flip) of its source. */
static void test_augment(const lcv_dataset *ds) {
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 7;
    p.pad_crop = 2;
    p.hflip = true;
    lcv_loader *l = make(ds, &p);
    if (!l) return;
    int used[5][5][2] = {{{0}}}, bad = 0;
    for (int ep = 0; ep < 3; ep++) {
        epoch_out e = run_epoch(l, ep, PER);
        for (int i = 0; i < N && e.n == N; i++) {
            int found = 0;
            for (int dy = 0; dy < 5; dy++)
                for (int dx = 0; dx < 5; dx++)
                    for (int f = 0; f < 2; f++) {
                        bool match = true;
                        for (int k = 0; k < PER && match; k++) {
                            int ch = k / (H * W), y = k / W % H, x = k % W;
                            int sy = y + dy - 2, sx = (f ? W - 1 - x : x) + dx - 2;
                            float want = sy >= 0 && sy < H && sx >= 0 && sx < W
                                             ? (float)(i * 1000 + ch * H * W + sy * W + sx)
                                             : 0.0f;
                            match = e.img[i * PER + k] == want;
                        }
                        if (match) {
                            found++;
                            used[dy][dx][f]++;
                        }
                    }
            bad += found != 1;
        }
        epoch_free(&e);
    }
    CHECK_MSG(bad == 0, "%d augmented samples are not a unique crop/flip of their source", bad);
    int distinct = 0, flips = 0;
    for (int dy = 0; dy < 5; dy++)
        for (int dx = 0; dx < 5; dx++)
            for (int f = 0; f < 2; f++) {
                distinct += used[dy][dx][f] > 0;
                flips += f ? used[dy][dx][f] : 0;
            }
    /* 111 draws over 50 outcomes: far more than 20 distinct, flips near half. */
    CHECK_MSG(distinct >= 20 && flips > 30 && flips < 81, "distinct %d flips %d", distinct, flips);
    lcv_loader_free(l);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Prefetch on/off, fresh loaders, a resumed and an interrupted run: all the same batches. */
static void test_determinism(const lcv_dataset *ds) {
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 6;
    p.shuffle = true;
    p.seed = 42;
    p.pad_crop = 1;
    p.hflip = true;
    p.mean[0] = 0.5f;
    p.std[2] = 3.0f;
    p.prefetch = true;
    lcv_loader *on = make(ds, &p), *resumed = make(ds, &p), *cut = make(ds, &p);
    p.prefetch = false;
    lcv_loader *off = make(ds, &p);
    if (!on || !off || !resumed || !cut) goto done;
    uint64_t h = 0xcbf29ce484222325ull;
    epoch_out ref[3];
    for (int ep = 0; ep < 3; ep++) {
        ref[ep] = run_epoch(on, ep, PER);
        epoch_out e = run_epoch(off, ep, PER);
        CHECK_MSG(same_epoch(&ref[ep], &e, PER), "prefetch changes epoch %d", ep);
        epoch_free(&e);
        h = fnv(h, ref[ep].img, (size_t)(ref[ep].n * PER) * sizeof(float));
        h = fnv(h, ref[ep].lab, (size_t)ref[ep].n * sizeof(int64_t));
    }
    /* The batches of these three epochs, pinned: a change means runs are no longer
     * reproducible across versions (or machines), which checkpoint resume relies on. */
    CHECK_MSG(h == 0xee0db89aa0340630ull, "epoch hash %016llx changed", (unsigned long long)h);
    epoch_out e = run_epoch(resumed, 2, PER);
    CHECK(same_epoch(&ref[2], &e, PER));
    epoch_free(&e);
    /* Interrupted mid-epoch (next batch already prefetched), then epoch 1 again. */
    CHECK(lcv_loader_start_epoch(cut, 1) == LCV_OK);
    const lcv_tensor *img, *lab;
    CHECK(lcv_loader_next(cut, &img, &lab, errbuf, sizeof errbuf) == LCV_OK && img);
    CHECK(lcv_loader_next(cut, &img, &lab, errbuf, sizeof errbuf) == LCV_OK && img);
    e = run_epoch(cut, 1, PER);
    CHECK(same_epoch(&ref[1], &e, PER));
    epoch_free(&e);
    e = run_epoch(cut, 0, PER);
    CHECK(same_epoch(&ref[0], &e, PER));
    epoch_free(&e);
    for (int ep = 0; ep < 3; ep++) epoch_free(&ref[ep]);
done:
    lcv_loader_free(on);
    lcv_loader_free(off);
    lcv_loader_free(resumed);
    lcv_loader_free(cut);
}

/* Fashion-MNIST's test set through the full pipeline, with and without prefetch. */
static void test_fashion_mnist(void) {
    lcv_dataset *ds = NULL;
    CHECK_MSG(lcv_dataset_open("idx:" FMNIST "/t10k-images-idx3-ubyte.gz," FMNIST
                               "/t10k-labels-idx1-ubyte.gz", NULL, &ds, errbuf,
                               sizeof errbuf) == LCV_OK, "%s", errbuf);
    if (!ds) return;
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 128;
    p.shuffle = true;
    p.seed = 7;
    p.pad_crop = 4;
    p.hflip = true;
    p.mean[0] = 0.2860f;
    p.std[0] = 0.3530f;
    lcv_loader *on = make(ds, &p);
    p.prefetch = false;
    lcv_loader *off = make(ds, &p);
    if (on && off) {
        CHECK(lcv_loader_batches(on) == 79);
        epoch_out a = run_epoch(on, 5, 784), b = run_epoch(off, 5, 784);
        CHECK(a.n == 10000 && a.sizes[78] == 10000 - 78 * 128);
        CHECK(same_epoch(&a, &b, 784));
        int64_t hist[10] = {0};
        for (int64_t i = 0; i < a.n; i++)
            if (a.lab[i] >= 0 && a.lab[i] < 10) hist[a.lab[i]]++;
        for (int k = 0; k < 10; k++) CHECK(hist[k] == 1000);
        epoch_free(&a);
        epoch_free(&b);
    }
    lcv_loader_free(on);
    lcv_loader_free(off);
    lcv_dataset_free(ds);
}

/* A folder decoded on demand with a corrupt image: the error surfaces from lcv_loader_next
 * (raised on the worker when prefetching), stays until the next epoch starts, and names the
 * file. */
static void test_worker_error(void) {
    char root[700], dir[800], file[900];
    snprintf(root, sizeof root, "%s/errfolder", tmp);
    mkdir(root, 0755);
    snprintf(dir, sizeof dir, "%s/a", root);
    mkdir(dir, 0755);
    for (int j = 0; j < 9; j++) {
        snprintf(file, sizeof file, "%s/im%d.png", dir, j);
        if (j == 6) {
            FILE *f = fopen(file, "wb");
            if (f) {
                fputs("\x89PNG\r\n\x1a\nbroken", f);
                fclose(f);
            }
            continue;
        }
        lcv_image *img = NULL;
        CHECK(lcv_image_create(4, 3, 1, &img) == LCV_OK);
        if (img) memset(img->data, 10 * j, 12);
        CHECK(lcv_image_write_png(file, img, errbuf, sizeof errbuf) == LCV_OK);
        lcv_image_free(img);
    }
    char spec[800];
    snprintf(spec, sizeof spec, "folder:%s", root);
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.channels = 1;
    dp.width = 4;
    dp.height = 3;
    lcv_dataset *ds = NULL;
    CHECK(lcv_dataset_open_budget(spec, &dp, 0, &ds, errbuf, sizeof errbuf) == LCV_OK);
    for (int pf = 0; pf < 2 && ds; pf++) {
        lcv_loader_params p = lcv_loader_default_params();
        p.batch = 2;
        p.prefetch = pf;
        lcv_loader *l = make(ds, &p);
        if (!l) continue;
        for (int round = 0; round < 2; round++) {
            CHECK(lcv_loader_start_epoch(l, round) == LCV_OK);
            const lcv_tensor *img, *lab;
            for (int b = 0; b < 3; b++)
                CHECK(lcv_loader_next(l, &img, &lab, errbuf, sizeof errbuf) == LCV_OK && img);
            for (int again = 0; again < 2; again++) {
                errbuf[0] = '\0';
                CHECK(lcv_loader_next(l, &img, &lab, errbuf, sizeof errbuf) != LCV_OK);
                CHECK(img == NULL && lab == NULL);
                CHECK_MSG(strstr(errbuf, "im6.png") != NULL, "'%s'", errbuf);
            }
        }
        lcv_loader_free(l);
    }
    lcv_dataset_free(ds);
}

static void test_lifecycle(const lcv_dataset *ds) {
    lcv_loader_params p = lcv_loader_default_params();
    p.batch = 3;
    p.pad_crop = 1;
    lcv_loader *l = make(ds, &p);
    lcv_loader_free(l); /* never started */
    l = make(ds, &p);
    const lcv_tensor *img, *lab;
    CHECK(lcv_loader_next(l, &img, &lab, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(errbuf, "start_epoch") != NULL);
    CHECK(lcv_loader_start_epoch(l, -1) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loader_start_epoch(l, 0) == LCV_OK);
    lcv_loader_free(l); /* worker busy with batch 0 */
    l = make(ds, &p);
    for (int k = 0; k < 20; k++) CHECK(lcv_loader_start_epoch(l, k) == LCV_OK);
    CHECK(lcv_loader_next(l, &img, &lab, errbuf, sizeof errbuf) == LCV_OK && img);
    lcv_loader_free(l); /* mid-epoch, next batch in flight */
    lcv_loader_free(NULL);
    CHECK(lcv_loader_batches(NULL) == 0);
    static const struct {
        int batch, pad;
        float std0;
    } bad[] = {{0, 0, 1}, {-4, 0, 1}, {2000000, 0, 1}, {4, -1, 1}, {4, 5000, 1}, {4, 0, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        p = lcv_loader_default_params();
        p.batch = bad[k].batch;
        p.pad_crop = bad[k].pad;
        p.std[0] = bad[k].std0;
        l = NULL;
        CHECK(lcv_loader_create(ds, &p, &l, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
        CHECK(l == NULL && strstr(errbuf, "loader:") != NULL);
    }
    CHECK(lcv_loader_create(NULL, NULL, &l, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/loader_tmp", LCV_DATA_TMP_DIR);
    mkdir(tmp, 0755);
    lcv_dataset *ds = synthetic();
    if (ds) {
        test_order_and_batches(ds);
        test_shuffle(ds);
        test_augment(ds);
        test_determinism(ds);
        test_lifecycle(ds);
    }
    lcv_dataset_free(ds);
    test_fashion_mnist();
    test_worker_error();
    return lcv_test_finish("data_loader");
}
