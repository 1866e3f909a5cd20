/* test_yamldoc.c — the libyaml adapter: trees, marks, limits, emitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"
#include "helpers.h"

#include <stdlib.h>

static int parse(const char *text, struct diag *d, struct yamldoc_set *set,
                 struct arena *a)
{
    return yamldoc_parse(a, "t.yaml", text, strlen(text), d, set);
}

static void test_yamldoc__marks_and_documents(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    assert_int_equal(parse("# c\n---\n---\na:\n  b: [1, \"x\"]\n---\n...\n---\nz: 1\n", &d, &set, a), 0);
    assert_int_equal(set.len, 2);            /* empty documents skipped */
    const struct tree *b = tree_get(set.docs[0], "a");
    assert_non_null(b);
    const struct tree *seq = tree_get(b, "b");
    assert_int_equal(seq->type, TREE_SEQ);
    assert_int_equal(seq->mark.line, 5);
    assert_int_equal(seq->mark.col, 6);
    assert_int_equal(seq->u.items[1]->scalar, TREE_STR);
    assert_int_equal(seq->u.items[0]->scalar, TREE_PLAIN);
    assert_int_equal(seq->u.items[1]->mark.col, 10);
    assert_int_equal(d.errors, 0);
    diag_dispose(&d);
    arena_free(a);
}

static void test_yamldoc__depth(void **state)
{
    (void)state;
    char ok[200], deep[200];
    /* depth 64 is the limit: 63 nested lists inside the root mapping */
    snprintf(ok, sizeof(ok), "a: %.*s%.*s\n", 63, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             63, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    snprintf(deep, sizeof(deep), "a: %.*s%.*s\n", 64, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             64, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    struct arena *a = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    assert_int_equal(parse(ok, &d, &set, a), 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(parse(deep, &d, &set, a), -1);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[0].message, "nesting deeper than 64 levels"));
    assert_int_equal(d.items[0].mark.col, 67);
    diag_dispose(&d);
    arena_free(a);
}

static void test_yamldoc__rejections(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    parse("a: &x 1\nb: *x\nc: !foo 2\nd: !!str 3\n", &d, &set, a);
    assert_int_equal(d.errors, 3);
    diag_sort(&d);
    assert_non_null(strstr(d.items[0].message, "anchors are not supported ('&x')"));
    assert_non_null(strstr(d.items[1].message, "aliases are not supported ('*x')"));
    assert_non_null(strstr(d.items[2].message, "tags are not supported ('!foo')"));
    assert_int_equal(tree_get(set.docs[0], "d")->scalar, TREE_STR);   /* !!str */
    diag_dispose(&d);

    /* duplicate keys: the pairwise path (small maps) and the sorting path */
    diag_init(&d);
    parse("a: 1\nb: 2\na: 3\n", &d, &set, a);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.items[0].message, "duplicate key 'a' (first at line 1)");
    assert_int_equal(d.items[0].mark.line, 3);
    diag_dispose(&d);
    diag_init(&d);
    char big[4096];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "k%02d: %d\n", i, i);
    snprintf(big + o, sizeof(big) - o, "k07: again\nk07: thrice\n");
    parse(big, &d, &set, a);
    assert_int_equal(d.errors, 2);
    diag_sort(&d);
    assert_int_equal(d.items[0].mark.line, 41);
    assert_int_equal(d.items[1].mark.line, 42);
    assert_string_equal(d.items[1].message, "duplicate key 'k07' (first at line 8)");
    diag_dispose(&d);

    diag_init(&d);
    parse("? [a]\n: 1\n", &d, &set, a);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[0].message, "mapping keys must be strings, not a list"));
    diag_dispose(&d);
    arena_free(a);
}

static void test_yamldoc__bad_input(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    const char utf[] = "a: 1\nb: x\xff\n";
    assert_int_equal(yamldoc_parse(a, "t.yaml", utf, sizeof(utf) - 1, &d, &set), -1);
    assert_int_equal(d.errors, 1);
    assert_int_equal(d.items[0].mark.line, 2);
    assert_int_equal(d.items[0].mark.col, 5);
    assert_non_null(strstr(d.items[0].message, "manifests must be UTF-8 text"));
    diag_dispose(&d);
    /* UTF-16 and UTF-32, with and without a byte-order mark: named, at 1:1 */
    static const struct { const char *text; size_t len; const char *says; } enc[] = {
        { "\xff\xfe" "a\0:\0 \0" "1\0", 10, "file is UTF-16LE (it starts with" },
        { "\xfe\xff\0a\0:", 6, "file is UTF-16BE" },
        { "\xff\xfe\0\0" "a\0\0\0", 8, "file is UTF-32LE" },
        { "\0\0\xfe\xff\0\0\0a", 8, "file is UTF-32BE" },
        { "a\0:\0", 4, "file looks like UTF-16LE without a byte-order mark" },
        { "\0\0\0a\0\0\0:", 8, "file looks like UTF-32BE" },
    };
    for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        diag_init(&d);
        assert_int_equal(yamldoc_parse(a, "t.yaml", enc[i].text, enc[i].len, &d, &set), -1);
        assert_int_equal(d.errors, 1);
        assert_int_equal(d.items[0].mark.line, 1);
        assert_int_equal(d.items[0].mark.col, 1);
        assert_non_null(strstr(d.items[0].message, enc[i].says));
        assert_non_null(strstr(d.items[0].message, "manifests must be UTF-8"));
        diag_dispose(&d);
    }
    /* a UTF-8 byte-order mark is skipped */
    diag_init(&d);
    assert_int_equal(parse("\xef\xbb\xbf" "a: 1\n", &d, &set, a), 0);
    assert_int_equal(d.errors, 0);
    assert_string_equal(tree_get(set.docs[0], "a")->u.str, "1");
    diag_dispose(&d);
    diag_init(&d);
    assert_int_equal(parse("a: [1, 2\nb: 3\n", &d, &set, a), -1);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[0].message, "invalid YAML: "));
    diag_dispose(&d);
    arena_free(a);
}

/* A control character in a key or value is reported once, at the scalar;
 * the key is dropped (so "a\0" can never stand for "a") and the value is
 * marked refused for the decoder to skip. */
static void test_yamldoc__control_characters(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    assert_int_equal(parse("a: 1\n\"a\\0\": 2\nb: \"x\\ay\"\nc: [ok, \"\\u0085\"]\nd: \"\\u00a0\"\ne: \"x\\ty\\nz\"\n",
                           &d, &set, a), 0);
    assert_int_equal(d.errors, 3);
    diag_sort(&d);
    assert_string_equal(d.items[0].message,
                        "NUL character (U+0000) in key 'a\\x00': keys and values cannot contain control characters");
    assert_int_equal(d.items[0].mark.line, 2);
    assert_int_equal(d.items[0].mark.col, 1);
    assert_string_equal(d.items[1].message,
                        "control character U+0007 in value 'x\\x07y': keys and values cannot contain control characters");
    assert_int_equal(d.items[1].mark.col, 4);
    assert_non_null(strstr(d.items[2].message, "control character U+0085 in value '\\u0085'"));
    const struct tree *doc = set.docs[0];
    assert_int_equal(doc->len, 5);                      /* a, b, c, d, e */
    assert_string_equal(tree_get(doc, "a")->u.str, "1");
    assert_int_equal(tree_get(doc, "b")->scalar, TREE_REFUSED);
    assert_int_equal(tree_get(doc, "c")->u.items[0]->scalar, TREE_PLAIN);
    assert_int_equal(tree_get(doc, "c")->u.items[1]->scalar, TREE_REFUSED);
    assert_int_equal(tree_get(doc, "d")->scalar, TREE_STR);   /* U+00A0 is no control */
    /* a value may be text of several lines: the decoder refuses newlines
     * and tabs in every field that is not multi-line text */
    assert_int_equal(tree_get(doc, "e")->scalar, TREE_STR);
    diag_dispose(&d);
    arena_free(a);
}

/* Strings that look like something else come back as strings. */
static void test_yamldoc__emit_quotes(void **state)
{
    (void)state;
    static const char *const tricky[] = { "yes", "no", "on", "true", "null", "~", "123",
        "0x1F", "1.5", "", "52:54:00:00:00:01", "a: b", "- x", "#c", "x #y", "'q'",
        "line\nbreak", "J\xc3\xb6rg", " lead", "trail ", "@at", "%p", "*star", "&amp",
        "!bang", "{a}", "[a]", ".inf", NULL };
    struct arena *a = arena_new();
    struct tree *m = tree_new_map(a);
    for (size_t i = 0; tricky[i]; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%zu", i);
        tree_map_str(a, m, key, tricky[i]);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(yamldoc_emit(f, &m, 1), 0);
    fclose(f);
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    assert_int_equal(parse(text, &d, &set, a), 0);
    assert_int_equal(set.len, 1);
    for (size_t i = 0; tricky[i]; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%zu", i);
        const struct tree *v = tree_get(set.docs[0], key);
        assert_non_null(v);
        assert_string_equal(v->u.str, tricky[i]);
        if (v->scalar == TREE_PLAIN)
            assert_int_equal(tree_plain_kind(v->u.str, v->len), TREE_PLAIN_STR);
    }
    free(text);
    diag_dispose(&d);
    arena_free(a);
}

/* tree_copy: a deep copy that outlives its source and can grow */
static void test_yamldoc__copy(void **state)
{
    (void)state;
    struct arena *a = arena_new(), *b = arena_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    assert_int_equal(parse("a:\n  b: [1, \"x\", 3, 4, 5, 6, 7, 8, 9]\n  c: {k: v}\n", &d, &set, a), 0);
    struct tree *c = tree_copy(b, set.docs[0]);
    diag_dispose(&d);
    arena_free(a);                           /* the source is gone */
    const struct tree *seq = tree_get(tree_get(c, "a"), "b");
    assert_int_equal(seq->type, TREE_SEQ);
    assert_int_equal(seq->len, 9);
    assert_int_equal(seq->mark.line, 2);
    assert_int_equal(seq->u.items[0]->scalar, TREE_PLAIN);
    assert_int_equal(seq->u.items[1]->scalar, TREE_STR);
    assert_string_equal(seq->u.items[1]->u.str, "x");
    assert_string_equal(tree_str(tree_get(tree_get(c, "a"), "c"), "k", ""), "v");
    /* nine items: grow() counts on room for sixteen; the copy must have
     * it (an add past its end would overwrite what the arena put after) */
    struct tree *s2 = tree_get(tree_get(c, "a"), "b");
    struct tree *after = tree_new_str(b, "after");
    for (int i = 0; i < 20; i++)
        tree_seq_add(b, s2, tree_new_int(b, i));
    assert_int_equal(s2->len, 29);
    assert_string_equal(s2->u.items[8]->u.str, "9");
    assert_string_equal(s2->u.items[9]->u.str, "0");
    assert_string_equal(s2->u.items[28]->u.str, "19");
    assert_string_equal(after->u.str, "after");
    assert_int_equal(after->type, TREE_SCALAR);
    struct tree *m = tree_get(c, "a");
    for (int i = 0; i < 10; i++)
        tree_map_str(b, m, "more", "y");
    assert_int_equal(m->len, 12);
    assert_string_equal(tree_str(m, "c", "?"), "?");    /* a map, not a string */
    assert_non_null(tree_get(m, "c"));
    arena_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamldoc__marks_and_documents),
        cmocka_unit_test(test_yamldoc__depth),
        cmocka_unit_test(test_yamldoc__rejections),
        cmocka_unit_test(test_yamldoc__control_characters),
        cmocka_unit_test(test_yamldoc__bad_input),
        cmocka_unit_test(test_yamldoc__emit_quotes),
        cmocka_unit_test(test_yamldoc__copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
