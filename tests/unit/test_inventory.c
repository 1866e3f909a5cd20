/* test_inventory.c — the join behind get, describe and the snapshot each
 * run records: manifests, what libvirt's test driver (test:///default, in
 * process: a running domain "test", a network "default", a pool
 * "default-pool") observes, the plan, and what the store remembered. */
#include "apply.h"
#include "inventory.h"
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
#include <cmocka.h>

static const char *const MANIFESTS =
    HDR "kind: Network\nmetadata: {name: default}\nspec: {mode: isolated, cidr: 10.93.0.0/24}\n"
    "---\n"
    HDR "kind: VM\nmetadata: {name: web-1}\nspec: {memory: 64MiB, state: stopped}\n"
    "---\n"
    HDR "kind: Policy\nmetadata: {name: p}\nspec: {prune: never}\n";

static const struct inventory_row *row(const struct inventory *inv, enum model_kind k,
                                       const char *name)
{
    const struct inventory_row *r = inventory_find(inv, k, name);
    if (!r)
        fail_msg("no row %d/%s", (int)k, name);
    return r;
}

static void test_inventory__join(void **state)
{
    (void)state;
    char err[1024];
    struct loaded l;
    load_str(&l, MANIFESTS);
    assert_int_equal(l.d.errors, 0);
    struct virt_limits lim = { 30000, 0, 3 };
    struct virt *v = virt_open("test:///default", &lim, err, sizeof(err));
    if (!v)
        fail_msg("%s", err);
    struct owned *own = owned_new();
    struct obs_host *obs = observe_host(v, l.m, own, 0, err, sizeof(err));
    assert_non_null(obs);
    struct plan_opts po = { .max_deletions = -1 };
    struct plan *p = plan_build(l.m, obs, &po);
    /* the store remembers a VM no longer anywhere, and when it first saw
     * the network */
    struct store_object stored[] = {
        { "test:///default", "VM", "old", "shut off", "Stale", 1, 1 << 30, "", NULL, 1000, 2000 },
        { "test:///default", "Network", "default", "active", "Conflict", -1, -1, "", NULL, 500,
          2000 },
    };
    struct inventory *inv = inventory_build("hv", "test:///default", l.m, obs, p, stored, 2);

    /* declared and absent: Missing; declared and not qkvm's: Conflict, with
     * when the store first saw it; on the host, undeclared, unmarked:
     * Orphan; only remembered: not on the host any more */
    const struct inventory_row *r = row(inv, MODEL_VM, "web-1");
    assert_int_equal(r->sync, INVENTORY_MISSING);
    assert_string_equal(r->state, "missing");
    assert_non_null(r->want);
    assert_null(r->seen);
    r = row(inv, MODEL_NETWORK, "default");
    assert_int_equal(r->sync, INVENTORY_CONFLICT);
    assert_int_equal(r->created, 500);
    assert_true(r->stored);
    r = row(inv, MODEL_VM, "test");
    assert_int_equal(r->sync, INVENTORY_ORPHAN);
    assert_string_equal(r->state, "running");
    r = row(inv, MODEL_VM, "old");
    assert_string_equal(r->state, "gone");
    assert_int_equal(r->sync, INVENTORY_UNKNOWN);
    r = row(inv, MODEL_POLICY, "p");
    assert_int_equal(r->sync, INVENTORY_SYNCED);
    assert_null(inventory_find(inv, MODEL_VM, "nobody"));
    /* rows are sorted by kind, then name: the binary search depends on it */
    for (size_t i = 1; i < inv->n; i++)
        assert_true(inv->v[i - 1].kind < inv->v[i].kind ||
                    (inv->v[i - 1].kind == inv->v[i].kind &&
                     strcmp(inv->v[i - 1].name, inv->v[i].name) < 0));

    /* after an apply whose create of web-1 succeeded: Synced, shut off (it
     * is declared stopped); the snapshot forgets what is gone */
    struct apply_result res = { 0 };
    res.status = calloc(p->n + 1, sizeof(*res.status));
    res.error = calloc(p->n + 1, sizeof(*res.error));
    for (size_t i = 0; i < p->n; i++)
        res.status[i] = APPLY_DONE;
    inventory_applied(inv, p, &res);
    r = row(inv, MODEL_VM, "web-1");
    assert_int_equal(r->sync, INVENTORY_SYNCED);
    assert_true(r->applied);
    struct store_object *so;
    size_t n = inventory_snapshot(inv, true, &so);
    bool old = false, web = false;
    for (size_t i = 0; i < n; i++) {
        old |= strcmp(so[i].name, "old") == 0;
        if (strcmp(so[i].name, "web-1") == 0) {
            web = true;
            assert_string_equal(so[i].sync, "Synced");
            assert_non_null(so[i].spec);      /* the declared spec, as JSON */
        }
    }
    assert_false(old);
    assert_true(web);
    /* the words round-trip through the store */
    for (int i = 0; i < INVENTORY_SYNC_COUNT; i++)
        assert_int_equal(inventory_sync_parse(inventory_sync_name((enum inventory_sync)i)), i);
    assert_int_equal(inventory_sync_parse("Nonsense"), INVENTORY_UNKNOWN);

    apply_result_dispose(&res, p->n);
    inventory_free(inv);
    plan_free(p);
    observe_free(obs);
    owned_free(own);
    virt_close(v);
    load_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory__join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
