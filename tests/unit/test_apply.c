/* test_apply.c — apply against libvirt's test driver (test:///default, in
 * process) with a real state store: when the journal cannot record the end
 * of an action that ran, apply stops there (nothing after it is started),
 * keeps that action's own status, and fails. */
#include "apply.h"
#include "observe.h"
#include "owned.h"
#include "plan.h"
#include "store.h"
#include "virt.h"

#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[256];
static char err[1024];

static const char *const NETS =
    HDR "kind: Network\nmetadata: {name: ja-net-a}\nspec: {mode: isolated, cidr: 10.91.0.0/24}\n"
    "---\n"
    HDR "kind: Network\nmetadata: {name: ja-net-b}\nspec: {mode: isolated, cidr: 10.92.0.0/24}\n";

static size_t action_of(const struct plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return i;
    fail_msg("no action for '%s' in the plan", name);
    return 0;
}

static void test_apply__journal_end_failure_stops(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, NETS);
    if (l.d.errors)
        dump(&l);
    assert_int_equal(l.d.errors, 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/state.db", dir);
    struct store *st = store_open(path, STORE_WRITE, err, sizeof(err));
    assert_non_null(st);
    int64_t run;
    assert_int_equal(store_run_begin(st, "apply", "test:///default", "", "", &run, err,
                                     sizeof(err)), 0);
    /* the end of an action cannot be written (as on a file system that
     * filled up while the action ran); its start can */
    char v[64];
    assert_int_equal(store_query_text(st, "CREATE TEMP TRIGGER no_end BEFORE UPDATE ON "
                                          "main.actions BEGIN SELECT RAISE(ABORT, "
                                          "'database or disk is full'); END", v, sizeof(v),
                                      err, sizeof(err)), 0);

    struct virt *virt = virt_open("test:///default", &(struct virt_limits){ 30000, 0, 3 }, err, sizeof(err));
    if (!virt)
        fail_msg("%s", err);
    struct owned *own = owned_new();
    struct obs_host *obs = observe_host(virt, l.m, own, 0, err, sizeof(err));
    assert_non_null(obs);
    struct plan_opts po = { .max_deletions = -1 };
    struct plan *p = plan_build(l.m, obs, &po);
    assert_non_null(p);
    assert_int_equal(p->n, 2);
    size_t a = action_of(p, "ja-net-a"), b = action_of(p, "ja-net-b");
    size_t first = a < b ? a : b, second = a < b ? b : a;

    char *log = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&log, &loglen);
    assert_non_null(logf);
    struct apply_opts ao = { .shutdown_timeout_ms = 1000, .commit = "", .log = logf, .run = run,
                             .journal = true };
    struct apply_result res;
    int rc = apply_plan(virt, l.m, obs, p, st, &ao, &res);
    fclose(logf);

    assert_int_equal(rc, -1);
    assert_int_equal(res.status[first], APPLY_DONE);         /* it did run */
    assert_int_equal(res.status[second], APPLY_SKIPPED);     /* never started */
    if (!strstr(res.error[second], "not started: the journal cannot be written") ||
        !strstr(res.error[second], "database or disk is full"))
        fail_msg("skipped with '%s'", res.error[second]);
    /* the failure is the result's, for the caller's error path (which -q
     * and -o json cannot silence), not a line of the log */
    if (!res.failure || !strstr(res.failure, "but the journal cannot record it"))
        fail_msg("the result does not say the journal failed: '%s'",
                 res.failure ? res.failure : "(none)");

    /* libvirt: the first network exists, the second was never created */
    struct obs_host *after = observe_host(virt, l.m, own, 0, err, sizeof(err));
    assert_non_null(after);
    assert_non_null(observe_network(after, p->v[first].name));
    assert_null(observe_network(after, p->v[second].name));
    /* the journal: the first action as far as it got, nothing of the second */
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT group_concat(seq || ' ' || status) FROM actions "
                               "WHERE run = %lld", (long long)run);
    assert_int_equal(store_query_text(st, sql, v, sizeof(v), err, sizeof(err)), 0);
    char want[32];
    snprintf(want, sizeof(want), "%zu pending", first);
    assert_string_equal(v, want);

    observe_free(after);
    free(log);
    apply_result_dispose(&res, p->n);
    plan_free(p);
    observe_free(obs);
    owned_free(own);
    virt_close(virt);
    store_close(st);
    load_free(&l);
}

/* observe_only and plan_opts.only (the controller's quick check of the
 * domains its events name): those domains as the full observation sees
 * them, nothing else observed, and only those VMs planned. */
static void test_apply__observe_only(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, HDR "kind: VM\nmetadata: {name: test}\nspec: {memory: 64MiB}\n"
                 "---\n"
                 HDR "kind: VM\nmetadata: {name: ja-absent}\nspec: {memory: 64MiB}\n"
                 "---\n"
                 HDR "kind: Network\nmetadata: {name: ja-net-c}\n"
                 "spec: {mode: isolated, cidr: 10.93.0.0/24}\n");
    if (l.d.errors)
        dump(&l);
    assert_int_equal(l.d.errors, 0);
    struct virt *virt = virt_open("test:///default", &(struct virt_limits){ 30000, 0, 3 }, err,
                                  sizeof(err));
    if (!virt)
        fail_msg("%s", err);
    struct owned *own = owned_new();
    struct obs_host *full = observe_host(virt, l.m, own, 0, err, sizeof(err));
    assert_non_null(full);
    const char *names[] = { "test", "ja-absent" };
    struct obs_host *only = observe_only(virt, l.m, names, 2, err, sizeof(err));
    if (!only)
        fail_msg("%s", err);
    assert_true(only->partial);
    assert_false(full->partial);
    assert_int_equal(only->ndoms, 1);             /* ja-absent does not exist: left out */
    assert_int_equal(only->nnets, 0);
    assert_int_equal(only->npools, 0);
    const struct obs_domain *a = observe_domain(full, "test"), *b = observe_domain(only, "test");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->active, b->active);
    assert_true(b->active);
    assert_int_equal(a->paused, b->paused);
    assert_int_equal(a->persistent, b->persistent);
    assert_string_equal(a->uuid, b->uuid);
    assert_int_equal(a->vm->spec.memory, b->vm->spec.memory);
    assert_non_null(b->config);                   /* declared and running: its definition too */

    /* the full plan: ja-absent missing, the network created, vm/test a
     * conflict (not qkvm's); the plan of vm/test alone: only its conflict */
    struct plan_opts po = { .max_deletions = -1 };
    struct plan *pf = plan_build(l.m, full, &po);
    struct plan_opts po1 = { .max_deletions = -1, .only = names, .nonly = 1 };
    struct plan *p1 = plan_build(l.m, only, &po1);
    bool missing = false, conflict = false;
    for (size_t i = 0; i < pf->ndrift; i++) {
        missing |= strcmp(pf->drift[i].name, "ja-absent") == 0;
        conflict |= strcmp(pf->drift[i].name, "test") == 0 &&
                    pf->drift[i].category == DRIFT_CONFLICT;
    }
    assert_true(missing);
    assert_true(conflict);
    assert_true(pf->n >= 2);
    assert_int_equal(p1->ndrift, 1);
    assert_string_equal(p1->drift[0].name, "test");
    assert_int_equal(p1->drift[0].category, DRIFT_CONFLICT);
    assert_int_equal(p1->n, 0);

    plan_free(pf);
    plan_free(p1);
    observe_free(only);
    observe_free(full);
    owned_free(own);
    virt_close(virt);
    load_free(&l);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/qkvm-apply.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply__journal_end_failure_stops),
        cmocka_unit_test(test_apply__observe_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
