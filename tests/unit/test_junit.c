/* test_junit.c — -o junit from the report trees: cases and failures
 * counted per node, and hostile text (markup, quotes, control characters,
 * bytes that are not UTF-8) written as valid, escaped XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"
#include "junit.h"
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tree *item(struct arena *a, const char *node, const char *kind, const char *name)
{
    struct tree *m = tree_new_map(a);
    tree_map_str(a, m, "kind", kind);
    tree_map_str(a, m, "name", name);
    if (node)
        tree_map_str(a, m, "node", node);
    return m;
}

static char *render(const struct tree *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(junit_write(f, t), 0);
    fclose(f);
    return buf;
}

static void test_junit__drift_per_node(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct tree *r = tree_new_map(a), *objs = tree_new_seq(a), *fs = tree_new_seq(a);
    tree_map_str(a, r, "kind", "DriftReport");
    tree_map_str(a, r, "node", "qemu:///system");
    tree_map_add(a, r, "nodes", tree_new_seq(a));
    tree_seq_add(a, objs, item(a, "hv1", "VM", "web-1"));
    tree_seq_add(a, objs, item(a, "hv1", "VM", "web-2"));
    tree_seq_add(a, objs, item(a, "hv2", "VM", "db-1"));
    tree_map_add(a, r, "objects", objs);
    struct tree *f1 = item(a, "hv1", "VM", "web-1");
    tree_map_str(a, f1, "category", "changed");
    tree_map_str(a, f1, "field", "spec.memory");
    tree_map_str(a, f1, "desired", "2GiB");
    tree_map_str(a, f1, "actual", "1GiB");
    tree_seq_add(a, fs, f1);
    struct tree *f2 = item(a, "hv1", "VM", "web-1");
    tree_map_str(a, f2, "category", "stopped");
    tree_map_str(a, f2, "field", "spec.state");
    tree_seq_add(a, fs, f2);
    struct tree *f3 = item(a, "hv2", "File", "pool/stray.img");     /* no object row */
    tree_map_str(a, f3, "category", "orphan-file");
    tree_map_str(a, f3, "message", "a file libvirt does not know");
    tree_seq_add(a, fs, f3);
    tree_map_add(a, r, "findings", fs);
    char *x = render(r);
    /* 4 cases (web-1 has two findings: one failing case, one failure
     * element with both), 2 failing */
    assert_non_null(strstr(x, "<testsuites name=\"qkvm drift\" tests=\"4\" failures=\"2\" errors=\"0\">"));
    assert_non_null(strstr(x, "<testsuite name=\"drift hv1\" tests=\"2\" failures=\"1\""));
    assert_non_null(strstr(x, "<testsuite name=\"drift hv2\" tests=\"2\" failures=\"1\""));
    assert_non_null(strstr(x, "<failure type=\"several\" message=\"changed: spec.memory (want 2GiB, is 1GiB); stopped: spec.state (want -, is -)\""));
    char *second = strstr(x, "<failure");
    assert_non_null(second);
    second = strstr(second + 1, "<failure");
    assert_non_null(second);                             /* the File's */
    assert_null(strstr(second + 1, "<failure"));
    assert_non_null(strstr(x, "<testcase classname=\"qkvm.hv1.VM\" name=\"VM/web-2\"/>"));
    assert_non_null(strstr(x, "name=\"File/pool/stray.img\""));
    free(x);
    arena_free(a);
}

static void test_junit__hostile_text(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct tree *r = tree_new_map(a), *fs = tree_new_seq(a);
    tree_map_str(a, r, "kind", "DriftReport");
    tree_map_str(a, r, "node", "test:///default");
    struct tree *f = item(a, NULL, "VM", "x<script>\"'&]]>");
    tree_map_str(a, f, "category", "orphan");
    /* a control character, a byte that is not UTF-8, and é as it should be */
    tree_map_str(a, f, "message", "bell\x01 bad\xff ok \xc3\xa9");
    tree_seq_add(a, fs, f);
    tree_map_add(a, r, "findings", fs);
    char *x = render(r);
    assert_null(strstr(x, "<script>"));
    assert_non_null(strstr(x, "x&lt;script&gt;&quot;'&amp;]]&gt;"));
    assert_null(strchr(x, '\x01'));
    assert_null(strchr(x, '\xff'));
    assert_non_null(strstr(x, "bell\xef\xbf\xbd bad\xef\xbf\xbd ok \xc3\xa9"));
    free(x);
    arena_free(a);
}

/* Bytes that are not well-formed UTF-8 (overlong forms, surrogates, lone
 * continuation bytes, a cut sequence) and characters XML cannot hold
 * become U+FFFD; well-formed characters, 4-byte ones included, stay. */
static void test_junit__bad_bytes(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        { "a\xc1\xbf", "a\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong '?' */
        { "\xe0\x81\x81", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },      /* overlong */
        { "\xed\xb0\x90", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },      /* a surrogate */
        { "\xef\xbf\xbf", "\xef\xbf\xbd" },                          /* U+FFFF: whole */
        { "\x90\x90", "\xef\xbf\xbd\xef\xbf\xbd" },                    /* continuations */
        { "x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd" },                   /* cut at the end */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "\x1b[0m", "\xef\xbf\xbd[0m" },                              /* a control character */
        { "\xf0\x9f\x98\x80 \xc3\xa9\t", "\xf0\x9f\x98\x80 \xc3\xa9\t" },    /* kept */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arena *a = arena_new();
        struct tree *r = tree_new_map(a), *fs = tree_new_seq(a);
        tree_map_str(a, r, "kind", "DriftReport");
        tree_map_str(a, r, "node", "test:///default");
        struct tree *f = item(a, NULL, "File", "p/f");
        tree_map_str(a, f, "category", "orphan-file");
        tree_map_str(a, f, "message", cases[i].in);
        tree_seq_add(a, fs, f);
        tree_map_add(a, r, "findings", fs);
        char *x = render(r);
        char want[128];
        snprintf(want, sizeof(want), "File/p/f: orphan-file: %s</failure>", cases[i].out);
        if (!strstr(x, want))
            fail_msg("case %zu: no '%s' in\n%s", i, want, x);
        free(x);
        arena_free(a);
    }
}

static void test_junit__plan_notes(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct tree *r = tree_new_map(a), *acts = tree_new_seq(a), *notes = tree_new_seq(a);
    tree_map_str(a, r, "kind", "Plan");
    tree_map_str(a, r, "node", "test:///default");
    struct tree *act = item(a, NULL, "VM", "web-1");
    tree_map_str(a, act, "action", "update");
    tree_map_str(a, act, "reason", "in place");
    struct tree *chs = tree_new_seq(a), *ch = tree_new_map(a);
    tree_map_str(a, ch, "field", "spec.cpus");
    tree_map_str(a, ch, "from", "2");
    tree_map_str(a, ch, "to", "3");
    tree_seq_add(a, chs, ch);
    tree_map_add(a, act, "changes", chs);
    tree_seq_add(a, acts, act);
    tree_map_add(a, r, "actions", acts);
    struct tree *n1 = item(a, NULL, "VM", "db-1");          /* a restart pending: no failure */
    tree_map_str(a, n1, "type", "restart-pending");
    tree_map_str(a, n1, "message", "restart required");
    tree_seq_add(a, notes, n1);
    struct tree *n2 = item(a, NULL, "Network", "lab");       /* a conflict: a failure */
    tree_map_str(a, n2, "type", "conflict");
    tree_map_str(a, n2, "message", "not qkvm's");
    tree_seq_add(a, notes, n2);
    tree_map_add(a, r, "notes", notes);
    char *x = render(r);
    assert_non_null(strstr(x, "tests=\"3\" failures=\"2\""));
    assert_non_null(strstr(x, "message=\"update: spec.cpus: 2 -&gt; 3\""));
    assert_non_null(strstr(x, "<system-out>restart-pending: restart required</system-out>"));
    assert_non_null(strstr(x, "<failure type=\"conflict\" message=\"not qkvm's\">"));
    free(x);
    arena_free(a);
}

/* Matching: a Volume finding is its Disk's case; a fleet's Project (no
 * node) takes a note of any node; a node-less note takes the object's
 * case on its node; an object of a node not observed is skipped. */
static void test_junit__matching(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct tree *r = tree_new_map(a), *objs = tree_new_seq(a), *notes = tree_new_seq(a);
    tree_map_str(a, r, "kind", "Plan");
    tree_map_str(a, r, "node", "2 nodes (hv1, hv2)");
    tree_map_add(a, r, "nodes", tree_new_seq(a));
    struct tree *disk = item(a, "hv1", "Disk", "iso");
    tree_map_str(a, disk, "pool", "local");
    tree_map_str(a, disk, "sync", "Orphan");
    tree_seq_add(a, objs, disk);
    struct tree *proj = item(a, NULL, "Project", "p");
    tree_map_str(a, proj, "sync", "Synced");
    tree_seq_add(a, objs, proj);
    struct tree *n2 = item(a, "hv2", "Node", "hv2");
    tree_map_str(a, n2, "sync", "Synced");
    tree_seq_add(a, objs, n2);
    struct tree *lab = item(a, "hv2", "Network", "lab");
    tree_map_str(a, lab, "sync", "Unknown");
    tree_seq_add(a, objs, lab);
    tree_map_add(a, r, "objects", objs);
    struct tree *acts = tree_new_seq(a), *del = item(a, "hv1", "Volume", "local/iso");
    tree_map_str(a, del, "action", "delete");
    tree_map_str(a, del, "reason", "stale");
    tree_seq_add(a, acts, del);
    tree_map_add(a, r, "actions", acts);
    struct tree *refused = item(a, "hv1", "Project", "p");
    tree_map_str(a, refused, "type", "deletion-refused");
    tree_map_str(a, refused, "message", "too many");
    tree_seq_add(a, notes, refused);
    struct tree *down = item(a, NULL, "Node", "hv2");
    tree_map_str(a, down, "type", "unreachable");
    tree_map_str(a, down, "message", "no answer");
    tree_seq_add(a, notes, down);
    tree_map_add(a, r, "notes", notes);
    char *x = render(r);
    /* 4 cases, no more: nothing made a case of its own */
    assert_non_null(strstr(x, "<testsuites name=\"qkvm plan\" tests=\"4\" failures=\"3\""));
    assert_non_null(strstr(x, "name=\"Disk/iso\">\n      <failure type=\"delete\""));
    assert_non_null(strstr(x, "name=\"Project/p\">\n      <failure type=\"deletion-refused\""));
    assert_non_null(strstr(x, "name=\"Node/hv2\">\n      <failure type=\"unreachable\""));
    assert_non_null(strstr(x, "name=\"Network/lab\">\n      <skipped"));
    assert_null(strstr(x, "name=\"Volume/"));      /* no case of its own */
    free(x);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junit__drift_per_node),
        cmocka_unit_test(test_junit__hostile_text),
        cmocka_unit_test(test_junit__plan_notes),
        cmocka_unit_test(test_junit__bad_bytes),
        cmocka_unit_test(test_junit__matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
