/* test_plan.c — ownership as plan decides it: a mark proves nothing until
 * its kind, name, UUID and project match the object carrying it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "helpers.h"
#include "observe.h"
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

    struct virtxml_mark ok = { "VM", "web-1", "0", "", "", "alpha", NULL, { NULL, 0 }, NULL, NULL };
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
    struct virtxml_mark empty = { "", NULL, NULL, NULL, NULL, NULL, NULL, { NULL, 0 }, NULL, NULL };
    assert_int_equal(own(&empty, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    assert_non_null(strstr(why, "empty"));
    struct virtxml_mark net = ok;
    net.kind = "Network";
    assert_int_equal(own(&net, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    struct virtxml_mark noproj = ok;
    noproj.project = "";
    assert_int_equal(own(&noproj, "web-1", U1, "alpha", &owner, &why), OWNER_MISMATCH);
    /* a mark of an earlier release: project default, checked by kind and name */
    struct virtxml_mark legacy = { "VM", "web-1", "0", "", "", NULL, NULL, { NULL, 0 }, NULL, NULL };
    assert_int_equal(own(&legacy, "web-1", U1, "default", &owner, &why), OWNER_OURS);
    assert_int_equal(own(&legacy, "web-1", U1, "alpha", &owner, &why), OWNER_FOREIGN);
    assert_string_equal(owner, "default");
    assert_int_equal(own(&legacy, "web-2", U1, "default", &owner, &why), OWNER_MISMATCH);
    arena_free(a);
}

/* A host with one domain "web-1" of project default, as observe would
 * give it: running, paused with the given flags. */
static struct obs_host *host_with(struct arena *ar, const struct model *m, bool paused,
                                  bool ioerror, bool starting)
{
    struct obs_host *h = calloc(1, sizeof(*h));
    h->arena = arena_new();
    h->uri = "test:///unit";
    h->doms = arena_alloc(ar, sizeof(*h->doms));
    h->ndoms = 1;
    struct obs_domain *d = &h->doms[0];
    memset(d, 0, sizeof(*d));
    d->name = "web-1";
    d->vm = arena_alloc(ar, sizeof(*d->vm));
    *d->vm = *(const struct model_vm *)model_find(m, MODEL_VM, "web-1");
    d->vm->obj.file = NULL;
    d->uuid = "44444444-0000-4000-8000-000000000001";
    d->mark = (struct virtxml_mark){ "VM", "web-1", "0", "", "", "default", d->uuid, { NULL, 0 }, NULL, NULL };
    d->active = d->persistent = true;
    d->paused = paused;
    d->paused_why = ioerror ? "an I/O error" : starting ? "starting up" : "paused by the user";
    d->paused_ioerror = ioerror;
    d->starting_up = starting;
    d->disk_path = arena_alloc(ar, sizeof(*d->disk_path));
    d->disk_missing = arena_alloc(ar, sizeof(*d->disk_missing));
    return h;
}

static size_t count_verb(const struct plan *p, enum plan_verb v)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->v[i].verb == v;
    return n;
}

static void test_plan__paused(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, "apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: web-1}\n"
                 "spec: {memory: 64MiB}\n");
    assert_int_equal(l.d.errors, 0);
    struct arena *ar = arena_new();
    struct plan_opts po = { .max_deletions = -1 };

    /* paused by hand: drift, resumed */
    struct obs_host *h = host_with(ar, l.m, true, false, false);
    struct plan *p = plan_build(l.m, h, &po);
    assert_int_equal(count_verb(p, PLAN_RESUME), 1);
    assert_int_equal(p->ndrift, 1);
    assert_int_equal(p->drift[0].category, DRIFT_PAUSED);
    assert_non_null(strstr(p->drift[0].message, "paused by the user"));
    plan_free(p);
    observe_free(h);

    /* paused by an I/O error: reported, never resumed */
    h = host_with(ar, l.m, true, true, false);
    p = plan_build(l.m, h, &po);
    assert_int_equal(p->n, 0);
    assert_int_equal(p->ndrift, 1);
    assert_int_equal(p->nnotes, 1);
    assert_int_equal(p->notes[0].type, NOTE_BLOCKED);
    assert_non_null(strstr(p->notes[0].message, "I/O error"));
    plan_free(p);
    observe_free(h);

    /* paused while starting up: on its way to running, not drift */
    h = host_with(ar, l.m, true, false, true);
    p = plan_build(l.m, h, &po);
    assert_int_equal(p->n, 0);
    assert_int_equal(p->ndrift, 0);
    plan_free(p);
    observe_free(h);

    /* running, declared paused: paused */
    model_free(l.m);
    diag_dispose(&l.d);
    load_str(&l, "apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: web-1}\n"
                 "spec: {memory: 64MiB, state: paused}\n");
    h = host_with(ar, l.m, false, false, false);
    h->doms[0].vm->spec.state = VM_STATE_RUNNING;
    p = plan_build(l.m, h, &po);
    assert_int_equal(count_verb(p, PLAN_PAUSE), 1);
    plan_free(p);
    observe_free(h);
    model_free(l.m);
    diag_dispose(&l.d);
    arena_free(ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan__owner),
        cmocka_unit_test(test_plan__paused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
