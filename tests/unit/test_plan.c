/* test_plan.c — ownership as plan decides it: a mark proves nothing until
 * its kind, name, UUID and project match the object carrying it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "arena.h"
#include "plan.h"
#include "virtxml.h"

static const char *U1 = "44444444-0000-4000-8000-000000000001";
static const char *U2 = "44444444-0000-4000-8000-000000000002";

static struct arena *a;

static enum plan_owner own(const struct virtxml_mark *m, const char *name, const char *uuid,
                           const char *project, const char **owner, const char **why)
{
    return plan_owner(a, m, "VM", name, uuid, project, owner, why);
}

static void test_plan__owner(void **state)
{
    (void)state;
    a = arena_new();
    const char *owner, *why;
    struct virtxml_mark none = { 0 };
    assert_int_equal(own(&none, "web-1", U1, "alpha", &owner, &why), OWNER_NONE);

    struct virtxml_mark ok = { "VM", "web-1", "0", "", "", "alpha", NULL, { NULL, 0 } };
    ok.uuid = U1;
    assert_int_equal(own(&ok, "web-1", U1, "alpha", &owner, &why), OWNER_OURS);
    assert_string_equal(owner, "alpha");
    /* UUIDs compare without regard to case, as libvirt prints them lowercase */
    assert_int_equal(own(&ok, "web-1", "44444444-0000-4000-8000-00000000000A", "alpha", &owner,
                         &why), OWNER_MISMATCH);
    struct virtxml_mark upper = ok;
    upper.uuid = "44444444-0000-4000-8000-00000000000A";
    assert_int_equal(own(&upper, "web-1", "44444444-0000-4000-8000-00000000000a", "alpha", &owner,
                         &why), OWNER_OURS);
    /* another project's */
    assert_int_equal(own(&ok, "web-1", U1, "beta", &owner, &why), OWNER_FOREIGN);
    assert_string_equal(owner, "alpha");
    /* a copy: the mark names another domain, or another UUID */
    assert_int_equal(own(&ok, "web-1-copy", U2, "alpha", &owner, &why), OWNER_MISMATCH);
    assert_non_null(strstr(why, "names 'web-1'"));
    assert_int_equal(own(&ok, "web-1", U2, "alpha", &owner, &why), OWNER_MISMATCH);
    assert_non_null(strstr(why, "not its own"));
    /* an empty mark, a mark of another kind */
    struct virtxml_mark empty = { "", NULL, NULL, NULL, NULL, NULL, NULL, { NULL, 0 } };
    assert_int_equal(own(&empty, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    assert_non_null(strstr(why, "empty"));
    struct virtxml_mark net = ok;
    net.kind = "Network";
    assert_int_equal(own(&net, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    struct virtxml_mark noproj = ok;
    noproj.project = "";
    assert_int_equal(own(&noproj, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    /* a mark of an earlier release: project default, checked by kind and name */
    struct virtxml_mark legacy = { "VM", "web-1", "0", "", "", NULL, NULL, { NULL, 0 } };
    assert_int_equal(own(&legacy, "web-1", U1, "default", &owner, &why), OWNER_OURS);
    assert_int_equal(own(&legacy, "web-1", U1, "alpha", &owner, &why), OWNER_FOREIGN);
    assert_string_equal(owner, "default");
    assert_int_equal(own(&legacy, "web-2", U1, "default", &owner, &why), OWNER_MISMATCH);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan__owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
