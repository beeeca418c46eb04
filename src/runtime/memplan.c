/* memplan.c - the static memory planner (see memplan.h): offsets of every activation in one
 * arena from liveness intervals, with in-place outputs sharing their input's place. Runs once
 * per set of input shapes, so it may allocate; the plan it makes lets runs allocate nothing. */
#include <stdlib.h>
#include <string.h>

#include "../ops/inplace.h"
#include "memplan.h"
#include "model.h"

/* A buffer: the items joined by aliases, placed as one. */
typedef struct mp_buf {
    size_t bytes; /* aligned */
    int first, last;
    int root;     /* the item that heads the alias chain: a stable tie-breaker */
    size_t offset;
} mp_buf;

static int cmp_largest_first(const void *pa, const void *pb) {
    const mp_buf *a = pa, *b = pb;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return (a->root > b->root) - (a->root < b->root);
}

static bool overlap_in_time(const mp_buf *a, const mp_buf *b) {
    return a->first <= b->last && b->first <= a->last;
}

/* Places the buffers in order. by_offset holds the indices of the buffers placed so far in
 * ascending offset order. best_fit: the tightest gap that fits (lowest offset on ties; the
 * room between the time-overlapping buffers and the arena's current top counts as a gap),
 * else the lowest gap that fits; no fitting gap: above every time-overlapping buffer. */
static bool place_all(mp_buf *b, int nb, bool best_fit, int *by_offset, size_t *arena) {
    int placed = 0;
    size_t top = 0;
    for (int i = 0; i < nb; i++) {
        size_t pos = 0, chosen = 0, chosen_gap = SIZE_MAX;
        bool found = false;
        for (int q = 0; q < placed; q++) {
            const mp_buf *o = &b[by_offset[q]];
            if (!overlap_in_time(o, &b[i])) continue;
            if (o->offset > pos) {
                size_t gap = o->offset - pos;
                if (gap >= b[i].bytes && (!found || (best_fit && gap < chosen_gap))) {
                    chosen = pos;
                    chosen_gap = gap;
                    found = true;
                    if (!best_fit) break;
                }
            }
            if (o->offset + o->bytes > pos) pos = o->offset + o->bytes;
        }
        if (best_fit && pos < top && top - pos >= b[i].bytes &&
            (!found || top - pos < chosen_gap)) {
            chosen = pos;
            found = true;
        }
        if (!found) chosen = pos;
        size_t end;
        if (!lcv_add_size(chosen, b[i].bytes, &end)) return false;
        b[i].offset = chosen;
        if (end > top) top = end;
        int at = placed;
        while (at > 0 && b[by_offset[at - 1]].offset > chosen) {
            by_offset[at] = by_offset[at - 1];
            at--;
        }
        by_offset[at] = i;
        placed++;
    }
    *arena = top;
    return true;
}

static lcv_status check_alias(const lcv_memplan_item *items, int n, int i, const bool *taken,
                              lcv_err *e) {
    int a = items[i].alias;
    if (a < 0) return LCV_OK;
    if (a >= n || a == i)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "memory plan: item %d aliases item %d of %d", i,
                        a, n);
    const lcv_memplan_item *t = &items[a];
    if (t->first >= items[i].first || t->last != items[i].first || t->bytes != items[i].bytes ||
        taken[a])
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "memory plan: item %d (%zu bytes, nodes %d..%d) cannot take the place of "
                        "item %d (%zu bytes, nodes %d..%d)%s",
                        i, items[i].bytes, items[i].first, items[i].last, a, t->bytes, t->first,
                        t->last, taken[a] ? ": already taken" : "");
    return LCV_OK;
}

lcv_status lcv_memplan_place(lcv_memplan_item *items, int n, size_t *arena_bytes, lcv_err *e) {
    *arena_bytes = 0;
    if (n < 0 || (n > 0 && !items))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "memory plan: invalid item array");
    if (n == 0) return LCV_OK;
    size_t cnt = (size_t)n;
    int *root = malloc(cnt * sizeof *root), *buf_of = malloc(cnt * sizeof *buf_of);
    int *by_offset = malloc(cnt * sizeof *by_offset), *path = malloc(cnt * sizeof *path);
    bool *taken = calloc(cnt, sizeof *taken);
    mp_buf *b = malloc(cnt * sizeof *b), *alt = malloc(cnt * sizeof *alt);
    lcv_status st = LCV_OK;
    if (!root || !buf_of || !by_offset || !path || !taken || !b || !alt) {
        st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory planning %d tensors", n);
        goto done;
    }
    for (int i = 0; i < n && st == LCV_OK; i++) {
        if (items[i].first > items[i].last)
            st = lcv_fail(e, LCV_ERR_INVALID_ARG, "memory plan: item %d lives from node %d to "
                          "node %d", i, items[i].first, items[i].last);
        else if ((st = check_alias(items, n, i, taken, e)) == LCV_OK && items[i].alias >= 0)
            taken[items[i].alias] = true;
        root[i] = -1;
    }
    if (st != LCV_OK) goto done;
    /* Chain heads: an alias always points to an item that starts earlier, so chains end. */
    for (int i = 0; i < n; i++) {
        int len = 0, j = i;
        while (root[j] < 0 && items[j].alias >= 0) {
            path[len++] = j;
            j = items[j].alias;
        }
        int r = root[j] >= 0 ? root[j] : j;
        root[j] = r;
        for (int k = 0; k < len; k++) root[path[k]] = r;
    }
    /* One buffer per head, spanning its chain's intervals. */
    int nb = 0;
    for (int i = 0; i < n; i++) buf_of[i] = -1;
    for (int i = 0; i < n; i++) {
        int r = root[i];
        if (buf_of[r] < 0) {
            size_t aligned;
            if (!lcv_add_size(items[r].bytes, LCV_MEMPLAN_ALIGN - 1, &aligned)) {
                st = lcv_fail(e, LCV_ERR_NOMEM, "memory plan: tensor of %zu bytes is too large",
                              items[r].bytes);
                goto done;
            }
            b[nb] = (mp_buf){aligned & ~(LCV_MEMPLAN_ALIGN - 1), items[r].first, items[r].last,
                             r, 0};
            buf_of[r] = nb++;
        }
        mp_buf *x = &b[buf_of[r]];
        if (items[i].first < x->first) x->first = items[i].first;
        if (items[i].last > x->last) x->last = items[i].last;
    }
    /* Zero-byte buffers need no place; the rest go largest first. */
    int live = 0;
    for (int i = 0; i < nb; i++)
        if (b[i].bytes > 0) b[live++] = b[i];
    qsort(b, (size_t)live, sizeof *b, cmp_largest_first);
    memcpy(alt, b, (size_t)live * sizeof *b);
    size_t arena_best, arena_low;
    if (!place_all(b, live, true, by_offset, &arena_best) ||
        !place_all(alt, live, false, by_offset, &arena_low)) {
        st = lcv_fail(e, LCV_ERR_NOMEM, "memory plan: the arena size overflows");
        goto done;
    }
    if (arena_low < arena_best) {
        memcpy(b, alt, (size_t)live * sizeof *b);
        arena_best = arena_low;
    }
    for (int i = 0; i < n; i++) buf_of[i] = -1;
    for (int i = 0; i < live; i++) buf_of[b[i].root] = i;
    for (int i = 0; i < n; i++) items[i].offset = buf_of[root[i]] >= 0 ? b[buf_of[root[i]]].offset : 0;
    *arena_bytes = arena_best;
done:
    free(root);
    free(buf_of);
    free(by_offset);
    free(path);
    free(taken);
    free(b);
    free(alt);
    return st;
}

/* Whether value v appears exactly once among node n's inputs (a fused residual included):
 * an output may overwrite an input only when nothing else in the node reads it. */
static bool read_once(const lcv_node *n, int v) {
    int count = 0;
    for (int k = 0; k < n->n_in; k++) count += n->in[k] == v;
    return count == 1;
}

/* Lets output 0 of node i take the place of an input that dies there, when its op allows. */
static void choose_inplace(const lcv_model *m, int i, const int *slot_of_value,
                           const int *item_of, lcv_memplan_item *items, bool *taken,
                           int *alias_of) {
    const lcv_graph *g = m->g;
    const lcv_node *n = &g->nodes[i];
    int s0 = m->slot_base[i], it0 = n->n_out > 0 ? item_of[s0] : -1;
    if (it0 < 0 || items[it0].bytes == 0 || n->out[0] < 0 || g->values[n->out[0]].is_output)
        return;
    unsigned mask = lcv_op_inplace_inputs(n->op);
    int n_op = lcv_node_op_inputs(n);
    for (int k = 0; k < n_op && k < 32; k++) {
        int v = n->in[k];
        if (!(mask >> k & 1u) || v < 0 || slot_of_value[v] < 0) continue;
        int iv = item_of[slot_of_value[v]];
        if (iv < 0 || taken[iv] || m->last_use[v] != i || items[iv].bytes != items[it0].bytes ||
            !read_once(n, v))
            continue;
        items[it0].alias = iv;
        taken[iv] = true;
        alias_of[s0] = slot_of_value[v];
        return;
    }
}

lcv_status lcv_memplan_model(const lcv_model *m, const size_t *slot_bytes, size_t *offset,
                             int *alias_of, size_t *arena_bytes, size_t *total_bytes,
                             lcv_err *e) {
    const lcv_graph *g = m->g;
    int ns = m->n_slots, nn = g->n_nodes;
    *arena_bytes = 0;
    *total_bytes = 0;
    int *item_of = malloc(((size_t)ns + 1) * sizeof *item_of);
    int *slot_of_value = malloc(((size_t)g->n_values + 1) * sizeof *slot_of_value);
    lcv_memplan_item *items = malloc(((size_t)ns + 1) * sizeof *items);
    bool *taken = calloc((size_t)ns + 1, sizeof *taken);
    lcv_status st = LCV_OK;
    if (!item_of || !slot_of_value || !items || !taken) {
        st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory planning the activation memory");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++) slot_of_value[v] = -1;
    int n_items = 0;
    size_t total = 0;
    for (int i = 0; i < nn; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            int s = m->slot_base[i] + k, v = n->out[k];
            alias_of[s] = -1;
            offset[s] = 0;
            item_of[s] = -1;
            if (m->folded[i] || slot_bytes[s] == LCV_MEMPLAN_PRIVATE) continue;
            if (v >= 0) slot_of_value[v] = s;
            lcv_memplan_item *it = &items[n_items];
            it->bytes = slot_bytes[s];
            it->first = i;
            it->last = i;
            it->alias = -1;
            it->offset = 0;
            if (v >= 0 && g->values[v].is_output) {
                it->first = 0; /* nothing else may ever share a graph output's place */
                it->last = nn;
            } else if (v >= 0 && m->last_use[v] > i) {
                it->last = m->last_use[v];
            }
            size_t aligned;
            if (!lcv_add_size(it->bytes, LCV_MEMPLAN_ALIGN - 1, &aligned) ||
                !lcv_add_size(total, aligned & ~(LCV_MEMPLAN_ALIGN - 1), &total)) {
                st = lcv_fail(e, LCV_ERR_NOMEM, "the activations' total size overflows");
                goto done;
            }
            item_of[s] = n_items++;
        }
    }
    for (int i = 0; i < nn; i++)
        if (!m->folded[i]) choose_inplace(m, i, slot_of_value, item_of, items, taken, alias_of);
    st = lcv_memplan_place(items, n_items, arena_bytes, e);
    if (st != LCV_OK) goto done;
    for (int s = 0; s < ns; s++)
        if (item_of[s] >= 0) offset[s] = items[item_of[s]].offset;
    *total_bytes = total;
done:
    free(item_of);
    free(slot_of_value);
    free(items);
    free(taken);
    return st;
}
