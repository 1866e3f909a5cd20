/* test_text.c — suggestions and escaped control characters. */
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

/* The literal's bytes, a NUL inside it included. */
#define ESC(size, lit) text_escape(b, (size), (lit), sizeof(lit) - 1)

static void test_text__escape(void **state)
{
    (void)state;
    char b[64];
    /* what libvirt passes on from QEMU: several lines, and worse */
    assert_string_equal(ESC(sizeof(b), "a\nb\r\tc"), "a\\nb\\r\\tc");
    assert_string_equal(ESC(sizeof(b), "x\033[2Jy"), "x\\x1b[2Jy");
    assert_string_equal(ESC(sizeof(b), "del\x7f"), "del\\x7f");
    /* a NUL byte inside the text is shown, not taken as the end */
    assert_string_equal(ESC(sizeof(b), "memory\0x"), "memory\\x00x");
    /* C1 controls (8-bit CSI) in UTF-8; other UTF-8 is kept */
    assert_string_equal(ESC(sizeof(b), "a\xc2\x9b" "2J"), "a\\u009b2J");
    assert_string_equal(ESC(sizeof(b), "caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
    assert_string_equal(ESC(sizeof(b), "plain text"), "plain text");
    assert_string_equal(ESC(sizeof(b), ""), "");
    /* cut at a character boundary, marked with "..." */
    assert_string_equal(ESC(8, "abcdefghij"), "abcd...");
    assert_string_equal(ESC(8, "abcdefg"), "abcdefg");           /* fits exactly */
    assert_string_equal(ESC(8, "ab\ncdefgh"), "ab\\n...");
    assert_string_equal(ESC(8, "abc\ncdefgh"), "abc...");         /* no half escape */
    assert_string_equal(ESC(8, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"), "\xe2\x82\xac...");
    assert_string_equal(ESC(3, "abcdef"), "..");
    assert_string_equal(ESC(1, "abcdef"), "");
    /* bytes that are not UTF-8 are copied one by one, never skipped */
    assert_string_equal(ESC(sizeof(b), "\xe2\x41"), "\xe2\x41");
}

static void test_text__bytes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(text_bytes(0, b, sizeof(b)), "0 B");
    assert_string_equal(text_bytes(1023, b, sizeof(b)), "1023 B");
    assert_string_equal(text_bytes(1024, b, sizeof(b)), "1.0 KiB");
    assert_string_equal(text_bytes(256.0 * 1024 * 1024, b, sizeof(b)), "256.0 MiB");
    assert_string_equal(text_bytes(1.5 * 1024 * 1024 * 1024, b, sizeof(b)), "1.5 GiB");
    assert_string_equal(text_bytes(3.0 * 1024 * 1024 * 1024 * 1024 * 1024, b, sizeof(b)),
                        "3072.0 TiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text__distance),
        cmocka_unit_test(test_text__suggest),
        cmocka_unit_test(test_text__escape),
        cmocka_unit_test(test_text__bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
