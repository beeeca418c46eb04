/* checkpoint.c - saving and restoring a trainer's state in leancv's own checkpoint format, and
 * writing the trained model as ONNX.
 * Layout (all integers little-endian):
 *   "LCVCKPT\0", u32 version (1; 2 with distillation adapters; 3 with averaged weights),
 *   u32 optimizer, u32 state tensors per parameter, u64 fingerprint (FNV-1a of the tensor
 *   table), i64 step, i64 epoch, u64 seed, u64 rng, u32 parameter count, u32 buffer count,
 *   [versions 2 and 3: u32 adapter count], [version 3: u32 averaged tensors (parameters +
 *   buffers)],
 *   table: per parameter, buffer, then adapter: u32 name length, name, u32 rank, i64 dims[rank],
 *   data: parameters, buffers, adapters, then each parameter's optimizer state, then each
 *   adapter's, [version 3: then the average of each parameter and buffer] (float32),
 *   u64 FNV-1a of everything before it.
 * Files are written to "<path>.tmp", synced and renamed over path, so a crash mid-save leaves
 * the previous checkpoint as it was. Loading checks everything before changing anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../frontends/onnx/onnx.h"
#include "distill.h"
#include "ema.h"

#define CKPT_MAGIC "LCVCKPT"
#define CKPT_VERSION 1u
#define CKPT_VERSION_ADAPTERS 2u
#define CKPT_VERSION_AVERAGE 3u
#define CKPT_MAX_BYTES ((uint64_t)16 << 30)

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    bool failed;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->failed) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u64(wbuf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}

static void put_u32(wbuf *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}

/* float32 data in little-endian order whatever the host's. */
static void put_floats(wbuf *b, const float *f, int64_t n) {
    for (int64_t i = 0; i < n && !b->failed; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        put_u32(b, u);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Parameters, buffers and distillation adapters, in that order. */
static int tensor_total(lcv_trainer *t) {
    return t->n_params + t->n_buffers + lcv_distill_tensor_count(t->kd);
}

static const char *tensor_name(lcv_trainer *t, int i) {
    lcv_graph *g = lcv_autodiff_graph(t->ad);
    if (i >= t->n_params + t->n_buffers)
        return lcv_distill_tensor_name(t->kd, i - t->n_params - t->n_buffers);
    return i < t->n_params ? g->values[lcv_autodiff_param_value(t->ad, i)].name
                           : g->values[lcv_autodiff_buffer_value(t->ad, i - t->n_params)].name;
}

static lcv_tensor *tensor_at(lcv_trainer *t, int i) {
    if (i >= t->n_params + t->n_buffers)
        return lcv_distill_tensor(t->kd, i - t->n_params - t->n_buffers);
    return i < t->n_params ? t->params[i] : t->buffers[i - t->n_params];
}

static const char *tensor_kind(lcv_trainer *t, int i) {
    return i < t->n_params ? "parameter" : i < t->n_params + t->n_buffers ? "buffer" : "adapter";
}

/* The tensor table (names and shapes), also the fingerprint's input. */
static void put_table(wbuf *b, lcv_trainer *t) {
    for (int i = 0; i < tensor_total(t); i++) {
        const char *name = tensor_name(t, i);
        const lcv_tensor *x = tensor_at(t, i);
        put_u32(b, (uint32_t)strlen(name));
        put(b, name, strlen(name));
        put_u32(b, (uint32_t)x->ndim);
        for (int d = 0; d < x->ndim; d++) put_u64(b, (uint64_t)x->dims[d]);
    }
}

/* Writes size bytes to "<path>.tmp", syncs it and renames it over path, so that readers see
 * either the old file or the complete new one. */
static lcv_status write_atomic(lcv_trainer *t, const char *path, const void *data, size_t size) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    lcv_status st = LCV_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = lcv_fail(&t->err, LCV_ERR_IO, "cannot create '%s'", tmp);
    } else {
        bool ok = fwrite(data, 1, size, f) == size && fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            remove(tmp);
            st = lcv_fail(&t->err, LCV_ERR_IO, "cannot write '%s'", path);
        }
    }
    free(tmp);
    return st;
}

lcv_status lcv_trainer_save(lcv_trainer *t, const char *path) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    t->err.msg[0] = '\0';
    if (!path) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint path is NULL");
    wbuf table = {0}, b = {0};
    put_table(&table, t);
    int ns = lcv_optim_state_count(t->opt), na = lcv_distill_tensor_count(t->kd);
    put(&b, CKPT_MAGIC, 8);
    int ne = t->ema ? t->n_params + t->n_buffers : 0;
    put_u32(&b, ne ? CKPT_VERSION_AVERAGE : na ? CKPT_VERSION_ADAPTERS : CKPT_VERSION);
    put_u32(&b, (uint32_t)t->p.optimizer);
    put_u32(&b, (uint32_t)ns);
    put_u64(&b, table.failed ? 0 : fnv1a(table.p, table.n));
    put_u64(&b, (uint64_t)lcv_optim_steps(t->opt));
    put_u64(&b, (uint64_t)t->epoch);
    put_u64(&b, t->p.seed);
    put_u64(&b, t->rng);
    put_u32(&b, (uint32_t)t->n_params);
    put_u32(&b, (uint32_t)t->n_buffers);
    if (na || ne) put_u32(&b, (uint32_t)na);
    if (ne) put_u32(&b, (uint32_t)ne);
    put(&b, table.p, table.n);
    for (int i = 0; i < tensor_total(t); i++) {
        const lcv_tensor *x = tensor_at(t, i);
        put_floats(&b, x->data, lcv_tensor_count(x));
    }
    for (int i = 0; i < t->n_params; i++)
        for (int s = 0; s < ns; s++)
            put_floats(&b, lcv_optim_state(t->opt, i, s), lcv_optim_state_numel(t->opt, i));
    lcv_optim *ao = lcv_distill_optim(t->kd);
    for (int i = 0; i < na; i++)
        for (int s = 0; s < ns; s++)
            put_floats(&b, lcv_optim_state(ao, i, s), lcv_optim_state_numel(ao, i));
    for (int i = 0; i < ne; i++)
        put_floats(&b, lcv_ema_data(t->ema, i), lcv_tensor_count(t->params[i]));
    if (!b.failed) put_u64(&b, fnv1a(b.p, b.n));
    lcv_status st;
    if (b.failed || table.failed)
        st = lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory saving");
    else
        st = write_atomic(t, path, b.p, b.n);
    free(table.p);
    free(b.p);
    return st;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t n, off;
} rbuf;

static bool get(rbuf *r, void *dst, size_t n) {
    if (r->n - r->off < n) return false;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return true;
}

static bool get_u64(rbuf *r, uint64_t *v) {
    unsigned char x[8];
    if (!get(r, x, 8)) return false;
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)x[i] << (8 * i);
    return true;
}

static bool get_u32(rbuf *r, uint32_t *v) {
    unsigned char x[4];
    if (!get(r, x, 4)) return false;
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    return true;
}

static void get_floats(rbuf *r, float *f, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = 0;
        get_u32(r, &u);
        memcpy(&f[i], &u, 4);
    }
}

/* Compares the checkpoint's table with the trainer's, naming the first difference. */
static lcv_status check_table(lcv_trainer *t, rbuf *r, uint32_t np, uint32_t nb, uint32_t na,
                              const char *path) {
    int total = tensor_total(t), ck_total = (int)(np + nb + na);
    for (int i = 0; i < total || i < ck_total; i++) {
        const char *kind = tensor_kind(t, i);
        if (i >= ck_total)
            return lcv_fail(&t->err, LCV_ERR_INVALID_ARG,
                            "checkpoint '%s' is of another model: it has no %s '%s'", path, kind,
                            tensor_name(t, i));
        uint32_t len, nd;
        if (!get_u32(r, &len) || r->n - r->off < len)
            return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': tensor %d has a bad name",
                            path, i);
        const char *name = (const char *)r->p + r->off; /* not NUL-terminated: print with len */
        int nlen = len > 200 ? 200 : (int)len;
        r->off += len;
        if (i >= total)
            return lcv_fail(&t->err, LCV_ERR_INVALID_ARG,
                            "checkpoint '%s' is of another model: the model has no tensor '%.*s'",
                            path, nlen, name);
        int64_t dims[LCV_MAX_DIMS];
        if (!get_u32(r, &nd) || nd > LCV_MAX_DIMS)
            return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': tensor '%.*s' has a bad rank",
                            path, nlen, name);
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v;
            if (!get_u64(r, &v))
                return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s' is truncated", path);
            dims[d] = (int64_t)v;
        }
        const lcv_tensor *x = tensor_at(t, i);
        if (strlen(tensor_name(t, i)) != len || memcmp(name, tensor_name(t, i), len) != 0)
            return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint '%s' is of another model: "
                            "%s %d is '%.*s' there but '%s' in the model", path, kind, i, nlen,
                            name, tensor_name(t, i));
        if (!lcv_shape_equal((int)nd, dims, x->ndim, x->dims)) {
            char a[160], b[160];
            return lcv_fail(&t->err, LCV_ERR_INVALID_ARG,
                            "checkpoint '%s' is of another model: "
                            "%s '%.*s' has shape %s there but %s in the model",
                            path, kind, nlen, name, lcv_shape_str((int)nd, dims, a, sizeof a),
                            lcv_shape_str(x->ndim, x->dims, b, sizeof b));
        }
    }
    if (np != (uint32_t)t->n_params)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint '%s' is of another model: %u "
                        "parameters, the model has %d", path, np, t->n_params);
    return LCV_OK;
}

/* A checkpoint with distillation adapters: the trainer's FitNets adapters are created with the
 * shapes it holds (when they do not exist yet), so check_table can compare them. The adapters'
 * initial values depend on the seed only, so creating them early changes nothing visible. */
static lcv_status make_adapters(lcv_trainer *t, rbuf r, uint32_t skip, uint32_t na,
                                const char *path) {
    if (na != (uint32_t)lcv_distill_tensor_slots(t->kd))
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint '%s' holds %u distillation "
                        "adapter tensors; this trainer has %d (2 per fitnets pair)", path, na,
                        lcv_distill_tensor_slots(t->kd));
    int64_t ct[64], cs[64];
    for (uint32_t i = 0; i < skip + na; i++) {
        uint32_t len, nd;
        uint64_t d[LCV_MAX_DIMS];
        if (!get_u32(&r, &len) || r.n - r.off < len)
            return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s' is truncated", path);
        r.off += len;
        if (!get_u32(&r, &nd) || nd > LCV_MAX_DIMS)
            return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': bad rank", path);
        for (uint32_t k = 0; k < nd; k++)
            if (!get_u64(&r, &d[k]))
                return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s' is truncated", path);
        uint32_t a = i - skip;
        if (i < skip || a % 2) continue;
        if (nd != 2 || a / 2 >= 64)
            return lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': adapter %u is not a "
                            "[out, in] matrix", path, a / 2 + 1);
        ct[a / 2] = (int64_t)(d[0] > (1u << 30) ? 0 : d[0]);
        cs[a / 2] = (int64_t)(d[1] > (1u << 30) ? 0 : d[1]);
    }
    return lcv_distill_ensure_adapters(t, ct, cs, &t->err);
}

lcv_status lcv_trainer_load(lcv_trainer *t, const char *path) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    t->err.msg[0] = '\0';
    if (!path) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint path is NULL");
    void *data = NULL;
    size_t size = 0;
    lcv_status st = lcv_read_file(path, CKPT_MAX_BYTES, &data, &size, &t->err);
    if (st != LCV_OK) return st;
    rbuf r = {data, size, 0};
    char magic[8];
    uint32_t version = 0, opt = 0, ns = 0, np = 0, nb = 0, na = 0, ne = 0;
    uint64_t fp, step, epoch, seed, rng, sum = 0;
    bool ok = get(&r, magic, 8) && memcmp(magic, CKPT_MAGIC, 8) == 0;
    if (!ok) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "'%s' is not a leancv checkpoint", path);
        goto done;
    }
    ok = get_u32(&r, &version) && get_u32(&r, &opt) && get_u32(&r, &ns) && get_u64(&r, &fp) &&
         get_u64(&r, &step) && get_u64(&r, &epoch) && get_u64(&r, &seed) && get_u64(&r, &rng) &&
         get_u32(&r, &np) && get_u32(&r, &nb);
    if (ok && version >= CKPT_VERSION_ADAPTERS) ok = get_u32(&r, &na);
    if (ok && version == CKPT_VERSION_AVERAGE) ok = get_u32(&r, &ne);
    if (!ok || version < CKPT_VERSION || version > CKPT_VERSION_AVERAGE) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': %s", path,
                      ok ? "unsupported version" : "truncated header");
        goto done;
    }
    rbuf tail = {data, size, size - 8}; /* the header read above is longer than 8 bytes */
    get_u64(&tail, &sum);
    if (sum != fnv1a(data, size - 8)) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s' is damaged (checksum mismatch)",
                      path);
        goto done;
    }
    if (np > (1u << 24) || nb > (1u << 24) || na > (1u << 24)) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': %u parameters, %u buffers and %u "
                      "adapters is implausible", path, np, nb, na);
        goto done;
    }
    size_t table_start = r.off;
    if (na) st = make_adapters(t, r, np + nb, na, path);
    if (st == LCV_OK) st = check_table(t, &r, np, nb, na, path);
    if (st != LCV_OK) goto done;
    if (fp != fnv1a(r.p + table_start, r.off - table_start)) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s': fingerprint mismatch", path);
        goto done;
    }
    if (opt != (uint32_t)t->p.optimizer || ns != (uint32_t)lcv_optim_state_count(t->opt)) {
        st = lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint '%s' holds %s state (%u buffers "
                      "per parameter); this trainer uses %s with %d", path,
                      opt == LCV_OPTIMIZER_ADAMW ? "AdamW" : "SGD", ns,
                      t->p.optimizer == LCV_OPTIMIZER_ADAMW ? "AdamW" : "SGD",
                      lcv_optim_state_count(t->opt));
        goto done;
    }
    uint32_t want_ne = t->ema ? (uint32_t)(t->n_params + t->n_buffers) : 0;
    if (ne != want_ne) {
        st = lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "checkpoint '%s' %s averaged weights; this "
                      "trainer %s (the weight-average decay must be %s)", path,
                      ne ? "holds" : "has no", t->ema ? "keeps them" : "does not",
                      ne ? "set" : "0");
        goto done;
    }
    uint64_t floats = 0;
    lcv_optim *ao = lcv_distill_optim(t->kd);
    for (int i = 0; i < tensor_total(t); i++)
        floats += (uint64_t)lcv_tensor_count(tensor_at(t, i));
    for (int i = 0; i < t->n_params; i++)
        floats += (uint64_t)ns * (uint64_t)lcv_optim_state_numel(t->opt, i);
    for (uint32_t i = 0; i < na; i++)
        floats += (uint64_t)ns * (uint64_t)lcv_optim_state_numel(ao, (int)i);
    for (uint32_t i = 0; i < ne; i++) floats += (uint64_t)lcv_tensor_count(t->params[i]);
    if ((uint64_t)(size - 8 - r.off) != floats * 4) {
        st = lcv_fail(&t->err, LCV_ERR_PARSE, "checkpoint '%s' has %llu data bytes, expected %llu",
                      path, (unsigned long long)(size - 8 - r.off), (unsigned long long)floats * 4);
        goto done;
    }
    for (int i = 0; i < tensor_total(t); i++) {
        lcv_tensor *x = tensor_at(t, i);
        get_floats(&r, x->data, lcv_tensor_count(x));
    }
    for (int i = 0; i < t->n_params; i++)
        for (uint32_t s = 0; s < ns; s++)
            get_floats(&r, lcv_optim_state(t->opt, i, (int)s), lcv_optim_state_numel(t->opt, i));
    for (uint32_t i = 0; i < na; i++)
        for (uint32_t s = 0; s < ns; s++)
            get_floats(&r, lcv_optim_state(ao, (int)i, (int)s), lcv_optim_state_numel(ao, (int)i));
    for (uint32_t i = 0; i < ne; i++)
        get_floats(&r, lcv_ema_data(t->ema, (int)i), lcv_tensor_count(t->params[i]));
    lcv_optim_set_steps(t->opt, (int64_t)step);
    if (ao) lcv_optim_set_steps(ao, (int64_t)step);
    t->epoch = (int64_t)epoch;
    t->rng = rng; /* the saved seed is informative: the random state continues from rng */
    (void)seed;
    lcv_autodiff_params_changed(t->ad);
done:
    free(data);
    return st;
}

lcv_status lcv_trainer_export_onnx(lcv_trainer *t, const char *path) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    t->err.msg[0] = '\0';
    if (!path) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "output path is NULL");
    void *data = NULL;
    size_t size = 0;
    /* The graph holds the current parameters and running statistics as its initializers (the
     * averaged ones while swapped in). */
    lcv_trainer_swap_ema(t);
    lcv_status st = lcv_onnx_write_graph(lcv_autodiff_graph(t->ad), 0, &data, &size, &t->err);
    lcv_trainer_swap_ema(t);
    if (st != LCV_OK) return st;
    st = write_atomic(t, path, data, size);
    free(data);
    return st;
}
