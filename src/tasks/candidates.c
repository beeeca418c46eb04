/* candidates.c - the bounded candidate set the decoders fill: a min-heap on (score, -index) in
 * the caller's arrays, so adding is O(log k) and only the top k survive, then an in-place heap
 * sort into descending order. The arrays are parallel (boxes, scores, labels, indices), so
 * every move swaps all four. The order is total (score, then index, then label), so the
 * survivors do not depend on the order of adding. */
#include <stdio.h>

#include "tasks_impl.h"

/* (score, index, label) ranks below (score2, index2, label2): lower score, then higher
 * index, then higher label (multi-label heads give one index several classes). */
static bool ranks_below(float s, int64_t i, int32_t l, float s2, int64_t i2, int32_t l2) {
    return s < s2 || (s == s2 && (i > i2 || (i == i2 && l > l2)));
}

static bool worse(const lcv_candidates *c, int64_t a, int64_t b) {
    return ranks_below(c->scores[a], c->indices[a], c->labels[a], c->scores[b], c->indices[b],
                       c->labels[b]);
}

static void swap_at(lcv_candidates *c, int64_t a, int64_t b) {
    lcv_box tb = c->boxes[a];
    c->boxes[a] = c->boxes[b];
    c->boxes[b] = tb;
    float ts = c->scores[a];
    c->scores[a] = c->scores[b];
    c->scores[b] = ts;
    int32_t tl = c->labels[a];
    c->labels[a] = c->labels[b];
    c->labels[b] = tl;
    int64_t ti = c->indices[a];
    c->indices[a] = c->indices[b];
    c->indices[b] = ti;
}

/* Restores the min-heap below i in [0, n): the worst candidate at the root. */
static void sift_down(lcv_candidates *c, int64_t i, int64_t n) {
    for (;;) {
        int64_t l = 2 * i + 1, m = i;
        if (l < n && worse(c, l, m)) m = l;
        if (l + 1 < n && worse(c, l + 1, m)) m = l + 1;
        if (m == i) return;
        swap_at(c, i, m);
        i = m;
    }
}

static void sift_up(lcv_candidates *c, int64_t i) {
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!worse(c, i, p)) return;
        swap_at(c, i, p);
        i = p;
    }
}

static void put(lcv_candidates *c, int64_t at, lcv_box box, float score, int32_t label,
                int64_t index) {
    c->boxes[at] = box;
    c->scores[at] = score;
    c->labels[at] = label;
    c->indices[at] = index;
}

void lcv_candidates_add(lcv_candidates *c, lcv_box box, float score, int32_t label,
                        int64_t index) {
    if (!(score > c->score_threshold)) return;
    int64_t k = c->topk > 0 ? c->topk : c->capacity;
    if (c->count < k) {
        put(c, c->count, box, score, label, index);
        sift_up(c, c->count++);
        return;
    }
    /* full: replace the root only when the newcomer ranks above it */
    if (ranks_below(score, index, label, c->scores[0], c->indices[0], c->labels[0])) return;
    put(c, 0, box, score, label, index);
    sift_down(c, 0, c->count);
}

lcv_status lcv_candidates_reset(lcv_candidates *c, char *errbuf, size_t errcap) {
    const char *bad = !c                              ? "NULL candidate set"
                      : c->capacity < 1               ? "capacity must be >= 1"
                      : c->topk < 0 || c->topk > c->capacity ? "topk must be in [0, capacity]"
                      : !c->boxes || !c->scores || !c->labels || !c->indices
                          ? "boxes, scores, labels and indices must all be given"
                      : c->score_threshold != c->score_threshold ? "score_threshold is NaN"
                                                                 : NULL;
    if (bad) {
        if (errbuf && errcap) snprintf(errbuf, errcap, "candidates: %s", bad);
        return LCV_ERR_INVALID_ARG;
    }
    c->count = 0;
    return LCV_OK;
}

void lcv_candidates_sort(lcv_candidates *c) {
    /* The heap's root is the worst: move it to the end each time, leaving best first. */
    for (int64_t n = c->count; n > 1; n--) {
        swap_at(c, 0, n - 1);
        sift_down(c, 0, n - 1);
    }
}
