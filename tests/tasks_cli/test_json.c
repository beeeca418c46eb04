/* test_json.c - the CLI's JSON writer and reader (tools/cli/cli_json.c): a document written by
 * the writer parses back to the same values, escapes and \u sequences decode, errors name the
 * line, nesting and non-JSON numbers are refused, and a deterministic mutation sweep (truncated
 * and corrupted documents) never crashes or reads out of bounds (run under sanitizers in CI). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "harness.h"

static bool parse(const char *s, cj_doc *d, char *err) {
    return cj_parse(s, strlen(s), d, err, 256);
}

static void test_round_trip(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cj_writer w;
    cj_init(&w, f);
    cj_object(&w, NULL);
    cj_string(&w, "name", "a \"quoted\"\\ line\n\t");
    cj_number(&w, "pi", 3.14159274101257324);
    cj_number(&w, "inf", INFINITY);
    cj_int(&w, "big", -1234567890123LL);
    cj_array(&w, "box", true);
    for (int i = 0; i < 4; i++) cj_number(&w, NULL, 0.1f * (float)i);
    cj_end(&w);
    cj_array(&w, "empty", false);
    cj_end(&w);
    cj_null(&w, "none");
    cj_end(&w);
    fclose(f);
    cj_doc d;
    char err[256] = "";
    CHECK_MSG(cj_parse(buf, len, &d, err, sizeof err), "%s\n%s", err, buf);
    const cj_node *root = &d.nodes[0];
    const cj_node *name = cj_get(&d, root, "name"), *box = cj_get(&d, root, "box");
    CHECK(name && name->type == CJ_STRING && strcmp(name->str, "a \"quoted\"\\ line\n\t") == 0);
    CHECK((float)cj_get(&d, root, "pi")->number == 3.14159274101257324f); /* %.9g: floats exact */
    CHECK(cj_get(&d, root, "inf")->type == CJ_NULL && cj_get(&d, root, "none")->type == CJ_NULL);
    CHECK(cj_get(&d, root, "big")->number == -1234567890123.0);
    double v[4];
    CHECK(cj_numbers(&d, box, v, 4) && (float)v[3] == 0.1f * 3.0f && !cj_numbers(&d, box, v, 3));
    CHECK(cj_get(&d, root, "empty")->count == 0 && cj_get(&d, root, "missing") == NULL);
    CHECK((float)cj_child(&d, box, 2)->number == 0.1f * 2.0f && cj_child(&d, box, 4) == NULL);
    /* The one-line array stays on one line. */
    CHECK(strstr(buf, "\"box\": [0, 0.100000001, 0.200000003, 0.300000012]") != NULL);
    cj_doc_free(&d);
    free(buf);
}

static void test_reader(void) {
    cj_doc d;
    char err[256] = "";
    CHECK(parse(" [1, -2.5e3, true, false, null, \"\\u0041\\u00e9\\/\"] ", &d, err));
    CHECK(d.nodes[0].count == 6 && cj_child(&d, &d.nodes[0], 1)->number == -2500.0);
    CHECK(cj_child(&d, &d.nodes[0], 2)->type == CJ_TRUE && cj_child(&d, &d.nodes[0], 3)->type == CJ_FALSE);
    CHECK(strcmp(cj_child(&d, &d.nodes[0], 5)->str, "A\xc3\xa9/") == 0);
    cj_doc_free(&d);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"a\": 1,\n \"b\" 2}", "line 2: expected ':'"},
        {"[1, 2", "line 1: expected ',' or ']'"},
        {"{\"a\": [1,\n\n oops]}", "line 3: expected a value"},
        {"[0x10]", "bad number"},
        {"[-inf]", "bad number"},
        {"[nan]", "expected a value"},
        {"\"abc", "unterminated string"},
        {"\"a\\q\"", "bad escape"},
        {"\"a\\u12g4\"", "bad \\u escape"},
        {"\"tab\there\"", "control character"},
        {"{} {}", "text after the document"},
        {"", "unexpected end"},
        {"{1: 2}", "expected a member name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_MSG(!parse(bad[i].text, &d, err) && strstr(err, bad[i].msg), "'%s': '%s'",
                  bad[i].text, err);
        CHECK(d.nodes == NULL && d.text == NULL);
    }
    /* Nesting: 64 levels parse, 65 do not (no unbounded recursion). */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    CHECK(!parse(deep, &d, err) && strstr(err, "nested deeper"));
    deep[129] = '\0';
    CHECK_MSG(parse(deep + 1, &d, err), "%s", err);
    cj_doc_free(&d);
}

static void test_mutations(void) {
    const char *seed = "{\"image\": \"a.png\", \"detections\": [\n {\"box\": [1, 2.5, 3e1, -4],"
                       " \"score\": 0.5, \"class\": 2, \"label\": \"d\\u00f6g\"},\n {}], "
                       "\"x\": [[], {}, null, true]}";
    size_t n = strlen(seed);
    const char alphabet[] = "{}[],:\"\\0e-.1tfnu \n";
    uint64_t s = 88172645463325252ull;
    int accepted = 0;
    char *c = malloc(n + 1);
    for (int it = 0; it < 20000; it++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t len = (size_t)(s % (n + 1));
        memcpy(c, seed, len);
        for (int k = 0; k < 3 && len; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            c[(s >> 8) % len] = alphabet[(s >> 40) % (sizeof alphabet - 1)];
        }
        cj_doc d;
        char err[256];
        if (cj_parse(c, len, &d, err, sizeof err)) {
            accepted++;
            cj_get(&d, &d.nodes[0], "detections");
            cj_doc_free(&d);
        }
    }
    free(c);
    CHECK(accepted > 0);
}

int main(void) {
    test_round_trip();
    test_reader();
    test_mutations();
    return lcv_test_finish("tasks_cli_json");
}
