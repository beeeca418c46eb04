/* cli_json.c - JSON writing and reading for the task commands and leancv evaluate. The reader
 * is a recursive-descent parser with a depth limit; strings are decoded in place in a private
 * copy of the text (a decoded string is never longer than its source), so node strings need
 * no allocation of their own. */
#include "cli_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Writer ---- */

void cj_init(cj_writer *w, FILE *f) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->first[0] = true;
}

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* The separator, indentation and key before a value at the current level. */
static void prefix(cj_writer *w, const char *key) {
    int d = w->depth;
    if (d > 0) {
        if (!w->first[d]) fputc(',', w->f);
        if (w->inline_[d]) {
            if (!w->first[d]) fputc(' ', w->f);
        } else {
            fputc('\n', w->f);
            for (int i = 0; i < d; i++) fputs("  ", w->f);
        }
    }
    w->first[d] = false;
    if (key) {
        put_string(w->f, key);
        fputs(": ", w->f);
    }
}

static void open_level(cj_writer *w, const char *key, char c, bool one_line) {
    prefix(w, key);
    fputc(c, w->f);
    if (w->depth + 1 < CJ_MAX_DEPTH) w->depth++;
    w->first[w->depth] = true;
    /* Members of a one-line array stay on its line, whatever they are. */
    w->inline_[w->depth] = one_line || w->inline_[w->depth - 1];
    w->close[w->depth] = c == '{' ? '}' : ']';
}

void cj_object(cj_writer *w, const char *key) { open_level(w, key, '{', false); }
void cj_array(cj_writer *w, const char *key, bool one_line) { open_level(w, key, '[', one_line); }

void cj_end(cj_writer *w) {
    int d = w->depth;
    if (d == 0) return;
    bool empty = w->first[d], one = w->inline_[d];
    w->depth--;
    if (!empty && !one) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
    }
    fputc(w->close[d], w->f);
    if (w->depth == 0) fputc('\n', w->f);
}

void cj_string(cj_writer *w, const char *key, const char *s) {
    prefix(w, key);
    if (s) put_string(w->f, s);
    else fputs("null", w->f);
}

void cj_number(cj_writer *w, const char *key, double v) {
    prefix(w, key);
    if (isfinite(v)) fprintf(w->f, "%.9g", v);
    else fputs("null", w->f);
}

void cj_int(cj_writer *w, const char *key, long long v) {
    prefix(w, key);
    fprintf(w->f, "%lld", v);
}

void cj_null(cj_writer *w, const char *key) {
    prefix(w, key);
    fputs("null", w->f);
}

/* ---- Reader ---- */

#define MAX_NEST 64
#define MAX_NODES (1 << 24)

typedef struct parser {
    char *s;         /* the private copy */
    size_t len, pos;
    cj_doc *doc;
    char *err;
    size_t errcap;
    const char *name; /* for messages */
} parser;

static bool perr(parser *p, const char *what) {
    size_t line = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) line += p->s[i] == '\n';
    if (p->err && p->errcap)
        snprintf(p->err, p->errcap, "%s: line %zu: %s", p->name, line, what);
    return false;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int64_t new_node(parser *p, cj_type t) {
    cj_doc *d = p->doc;
    if (d->n_nodes == d->cap_nodes) {
        if (d->cap_nodes >= MAX_NODES) return -1;
        int64_t cap = d->cap_nodes ? d->cap_nodes * 2 : 64;
        cj_node *n = realloc(d->nodes, (size_t)cap * sizeof *n);
        if (!n) return -1;
        d->nodes = n;
        d->cap_nodes = cap;
    }
    cj_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = t;
    n->first = n->next = -1;
    return d->n_nodes++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the string at pos (after the quote) in place; *out points at its text. */
static bool parse_string(parser *p, const char **out) {
    char *dst = p->s + p->pos, *start = dst;
    while (p->pos < p->len) {
        char c = p->s[p->pos++];
        if (c == '"') {
            *dst = '\0'; /* the closing quote's byte or earlier: always inside the copy */
            *out = start;
            return true;
        }
        if ((unsigned char)c < 0x20) return perr(p, "control character in a string");
        if (c != '\\') {
            *dst++ = c;
            continue;
        }
        if (p->pos >= p->len) break;
        char e = p->s[p->pos++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *dst++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u' || p->pos + 4 > p->len) return perr(p, "bad escape in a string");
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
            int h = hexval(p->s[p->pos++]);
            if (h < 0) return perr(p, "bad \\u escape in a string");
            v = v * 16 + (unsigned)h;
        }
        /* Names and labels are ASCII in practice; other code points become UTF-8 (surrogate
         * pairs are kept as two 3-byte sequences, which is enough for comparing names). */
        if (v < 0x80) {
            *dst++ = (char)v;
        } else if (v < 0x800) {
            *dst++ = (char)(0xC0 | (v >> 6));
            *dst++ = (char)(0x80 | (v & 0x3F));
        } else {
            *dst++ = (char)(0xE0 | (v >> 12));
            *dst++ = (char)(0x80 | ((v >> 6) & 0x3F));
            *dst++ = (char)(0x80 | (v & 0x3F));
        }
    }
    return perr(p, "unterminated string");
}

static bool parse_value(parser *p, int64_t *out, int depth);

/* Array or object at pos (after the bracket). */
static bool parse_list(parser *p, int64_t self, bool object, int depth) {
    char close = object ? '}' : ']';
    int64_t last = -1;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return true;
    }
    for (;;) {
        const char *key = NULL;
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') return perr(p, "expected a member name");
            p->pos++;
            if (!parse_string(p, &key)) return false;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return perr(p, "expected ':'");
            p->pos++;
        }
        int64_t child;
        if (!parse_value(p, &child, depth + 1)) return false;
        cj_node *nodes = p->doc->nodes;
        nodes[child].key = key;
        if (last < 0) nodes[self].first = child;
        else nodes[last].next = child;
        last = child;
        nodes[self].count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return true;
        }
        return perr(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool parse_value(parser *p, int64_t *out, int depth) {
    if (depth >= MAX_NEST) return perr(p, "nested deeper than 64 levels");
    skip_ws(p);
    if (p->pos >= p->len) return perr(p, "unexpected end of the document");
    char c = p->s[p->pos];
    int64_t id;
    if (c == '{' || c == '[') {
        if ((id = new_node(p, c == '{' ? CJ_OBJECT : CJ_ARRAY)) < 0)
            return perr(p, "too many values");
        p->pos++;
        *out = id;
        return parse_list(p, id, c == '{', depth);
    }
    if (c == '"') {
        if ((id = new_node(p, CJ_STRING)) < 0) return perr(p, "too many values");
        p->pos++;
        const char *s;
        if (!parse_string(p, &s)) return false;
        p->doc->nodes[id].str = s;
        *out = id;
        return true;
    }
    static const struct { const char *word; cj_type t; } words[] = {
        {"null", CJ_NULL}, {"true", CJ_TRUE}, {"false", CJ_FALSE}};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i].word, n) == 0) {
            if ((id = new_node(p, words[i].t)) < 0) return perr(p, "too many values");
            p->pos += n;
            *out = id;
            return true;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        /* strtod needs a terminator: the copy has one at the end of the text. */
        char *end;
        errno = 0;
        double v = strtod(p->s + p->pos, &end);
        /* strtod also takes hex, "inf" and "nan", which JSON does not. */
        bool plain = end != p->s + p->pos;
        for (const char *q = p->s + p->pos; plain && q < end; q++)
            plain = strchr("0123456789+-.eE", *q) != NULL;
        if (!plain) return perr(p, "bad number");
        if ((id = new_node(p, CJ_NUMBER)) < 0) return perr(p, "too many values");
        p->doc->nodes[id].number = v;
        p->pos = (size_t)(end - p->s);
        *out = id;
        return true;
    }
    return perr(p, "expected a value");
}

bool cj_parse(const char *text, size_t len, cj_doc *doc, char *err, size_t errcap) {
    memset(doc, 0, sizeof *doc);
    parser p = {NULL, len, 0, doc, err, errcap, "json"};
    if (!(doc->text = malloc(len + 1))) return perr(&p, "out of memory");
    memcpy(doc->text, text, len);
    doc->text[len] = '\0';
    p.s = doc->text;
    int64_t root;
    bool ok = parse_value(&p, &root, 0);
    if (ok) {
        skip_ws(&p);
        if (p.pos != len) ok = perr(&p, "text after the document");
    }
    if (!ok) cj_doc_free(doc);
    return ok;
}

bool cj_parse_file(const char *path, size_t max_bytes, cj_doc *doc, char *err, size_t errcap) {
    memset(doc, 0, sizeof *doc);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    char *buf = malloc(max_bytes + 1);
    size_t n = buf ? fread(buf, 1, max_bytes + 1, f) : 0;
    fclose(f);
    if (!buf || n > max_bytes) {
        free(buf);
        snprintf(err, errcap, buf ? "'%s' is larger than %zu bytes" : "out of memory reading '%s'",
                 path, max_bytes);
        return false;
    }
    char inner[384];
    bool ok = cj_parse(buf, n, doc, inner, sizeof inner);
    free(buf);
    /* "json: line N: ..." becomes "<path>: line N: ...". */
    if (!ok) snprintf(err, errcap, "%s%s", path, inner + 4);
    return ok;
}

void cj_doc_free(cj_doc *doc) {
    if (!doc) return;
    free(doc->text);
    free(doc->nodes);
    memset(doc, 0, sizeof *doc);
}

const cj_node *cj_get(const cj_doc *doc, const cj_node *obj, const char *key) {
    if (!obj || obj->type != CJ_OBJECT) return NULL;
    for (int64_t i = obj->first; i >= 0; i = doc->nodes[i].next)
        if (strcmp(doc->nodes[i].key, key) == 0) return &doc->nodes[i];
    return NULL;
}

const cj_node *cj_child(const cj_doc *doc, const cj_node *parent, int64_t k) {
    if (!parent || (parent->type != CJ_ARRAY && parent->type != CJ_OBJECT)) return NULL;
    for (int64_t i = parent->first; i >= 0; i = doc->nodes[i].next, k--)
        if (k == 0) return &doc->nodes[i];
    return NULL;
}

bool cj_numbers(const cj_doc *doc, const cj_node *arr, double *out, int64_t n) {
    if (!arr || arr->type != CJ_ARRAY || arr->count != n) return false;
    int64_t k = 0;
    for (int64_t i = arr->first; i >= 0; i = doc->nodes[i].next) {
        if (doc->nodes[i].type != CJ_NUMBER) return false;
        out[k++] = doc->nodes[i].number;
    }
    return true;
}
