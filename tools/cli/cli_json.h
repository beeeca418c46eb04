/* cli_json.h - the JSON the task commands write (results of detect, segment, textdet; schema in
 * docs/RESULTS_JSON.md) and read back (leancv evaluate): a small streaming writer that places
 * commas and indentation, and a bounded reader that parses a whole document into a node array. */
#ifndef LCV_CLI_JSON_H
#define LCV_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Writer ---- */

#define CJ_MAX_DEPTH 32

typedef struct cj_writer {
    FILE *f;        /* borrowed */
    int depth;
    bool first[CJ_MAX_DEPTH]; /* nothing written yet at this level */
    bool inline_[CJ_MAX_DEPTH]; /* this array is written on one line */
    char close[CJ_MAX_DEPTH]; /* the bracket that closes this level */
} cj_writer;

void cj_init(cj_writer *w, FILE *f);
/* key: the member name inside an object, NULL inside an array or at the top. */
void cj_object(cj_writer *w, const char *key);
void cj_array(cj_writer *w, const char *key, bool one_line);
void cj_end(cj_writer *w); /* closes the innermost object or array */
void cj_string(cj_writer *w, const char *key, const char *s); /* NULL s writes null */
void cj_number(cj_writer *w, const char *key, double v);      /* non-finite writes null */
void cj_int(cj_writer *w, const char *key, long long v);
void cj_null(cj_writer *w, const char *key);

/* ---- Reader ---- */

typedef enum cj_type { CJ_NULL, CJ_FALSE, CJ_TRUE, CJ_NUMBER, CJ_STRING, CJ_ARRAY, CJ_OBJECT } cj_type;

typedef struct cj_node {
    cj_type type;
    double number;
    const char *str;  /* CJ_STRING: the decoded text (NUL-terminated; inside the document) */
    const char *key;  /* member name when the parent is an object, else NULL */
    int64_t first;    /* arrays/objects: index of the first child, -1 if empty */
    int64_t next;     /* the next sibling, -1 at the end */
    int64_t count;    /* arrays/objects: number of children */
} cj_node;

typedef struct cj_doc {
    char *text;      /* owned: a copy of the input with strings decoded in place */
    cj_node *nodes;  /* owned; nodes[0] is the root */
    int64_t n_nodes, cap_nodes;
} cj_doc;

/* Parses a whole file (at most max_bytes); on failure fills err with the file, line and
 * what was expected and returns false (the doc is then empty). Free with cj_doc_free. */
bool cj_parse_file(const char *path, size_t max_bytes, cj_doc *doc, char *err, size_t errcap);
bool cj_parse(const char *text, size_t len, cj_doc *doc, char *err, size_t errcap);
void cj_doc_free(cj_doc *doc);

/* The member `key` of object node obj, or NULL (also when obj is not an object). */
const cj_node *cj_get(const cj_doc *doc, const cj_node *obj, const char *key);
/* Child i of an array (NULL when out of range); iterate with first/next for speed. */
const cj_node *cj_child(const cj_doc *doc, const cj_node *parent, int64_t i);
/* Reads an array of exactly n numbers into out; false otherwise. */
bool cj_numbers(const cj_doc *doc, const cj_node *arr, double *out, int64_t n);

#endif /* LCV_CLI_JSON_H */
