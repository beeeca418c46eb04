/* fuzz_json.c - libFuzzer target for the CLI's JSON reader (tools/cli/cli_json.c: the results
 * files `leancv evaluate` reads): any byte string either parses into a tree whose links all
 * stay inside the node array, or fails with a message; never a crash, a leak or a read out of
 * bounds. scripts/fuzz.sh builds it with tools/cli/cli_json.c. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../tools/cli/cli_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks node i's subtree by first/next links, checking each against the array, and reads it
 * through the lookup helpers the CLI uses. */
static void walk(const cj_doc *doc, int64_t i, int depth) {
    if (i < 0 || i >= doc->n_nodes || depth > 100) __builtin_trap();
    const cj_node *n = &doc->nodes[i];
    if (n->type == CJ_STRING && !n->str) __builtin_trap();
    if (n->type != CJ_ARRAY && n->type != CJ_OBJECT) return;
    int64_t seen = 0;
    for (int64_t c = n->first; c >= 0; c = doc->nodes[c].next) {
        if (c <= i || c >= doc->n_nodes || ++seen > n->count) __builtin_trap();
        walk(doc, c, depth + 1);
    }
    if (seen != n->count) __builtin_trap();
    double v[4];
    (void)cj_numbers(doc, n, v, n->count < 4 ? n->count : 4);
    (void)cj_child(doc, n, n->count - 1);
    (void)cj_get(doc, n, "boxes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    cj_doc doc;
    memset(&doc, 0, sizeof doc);
    if (cj_parse((const char *)data, size, &doc, err, sizeof err)) {
        if (doc.n_nodes < 1) __builtin_trap();
        walk(&doc, 0, 0);
    } else if (!err[0]) {
        __builtin_trap(); /* a failure always says why */
    }
    cj_doc_free(&doc);
    return 0;
}
