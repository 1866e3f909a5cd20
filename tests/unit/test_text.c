/* test_text.c — suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "text.h"

static const char *const fields[] = { "cpus", "memory", "state", "disks", "nics",
                                      "node", "nodeSelector", "firmware" };
#define N (sizeof(fields) / sizeof(fields[0]))

static const char *sugg(const char *w)
{
    return text_suggest(w, fields, N, sizeof(fields[0]));
}

static void test_text__distance(void **state)
{
    (void)state;
    assert_int_equal(text_distance("cpus", "cpus", 3), 0);
    assert_int_equal(text_distance("cpu", "cpus", 3), 1);
    assert_int_equal(text_distance("cpsu", "cpus", 3), 1);   /* transposition */
    assert_int_equal(text_distance("memroy", "memory", 3), 1);
    assert_int_equal(text_distance("CPUS", "cpus", 3), 0);   /* case */
    assert_int_equal(text_distance("kitten", "sitting", 3), 3);
    assert_true(text_distance("abcdefgh", "zzzzzzzz", 2) > 2);  /* gives up */
    assert_int_equal(text_distance("", "abc", 3), 3);
}

static void test_text__suggest(void **state)
{
    (void)state;
    assert_string_equal(sugg("cpu"), "cpus");
    assert_string_equal(sugg("memroy"), "memory");
    assert_string_equal(sugg("nodeselector"), "nodeSelector");
    assert_string_equal(sugg("disk"), "disks");
    assert_string_equal(sugg("NICS"), "nics");
    assert_null(sugg("hugepages"));
    assert_null(sugg("x"));
    assert_null(sugg(""));
    /* short words need a close match: 'nod' -> node, but 'abc' -> nothing */
    assert_string_equal(sugg("nod"), "node");
    assert_null(sugg("abc"));
    /* NULL candidates are skipped */
    const char *const holes[] = { NULL, "running", NULL };
    assert_string_equal(text_suggest("runing", holes, 3, sizeof(holes[0])), "running");
    /* a very long word is never matched (no work on hostile input) */
    char big[200];
    for (int i = 0; i < 199; i++)
        big[i] = 'a';
    big[199] = '\0';
    assert_null(sugg(big));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text__distance),
        cmocka_unit_test(test_text__suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
