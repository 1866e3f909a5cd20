/* test_place.c — rebalance with measured CPU use: a node whose running
 * VMs keep its CPUs busy is over the threshold even when its allocation
 * is not, the VM that moves takes its use along, and without a
 * measurement the same fleet is balanced by allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"
#include "helpers.h"
#include "place.h"

static const char *const fleet =
    HDR "kind: VM\nmetadata: {name: a}\nspec: {cpus: 1, memory: 1GiB}\n---\n"
    HDR "kind: VM\nmetadata: {name: b}\nspec: {cpus: 1, memory: 1GiB}\n---\n"
    HDR "kind: VM\nmetadata: {name: c}\nspec: {cpus: 1, memory: 1GiB}\n";

struct fixture {
    struct loaded l;
    struct arena *a;
    struct place_node nodes[2];
    long current[3];
    const char *reason[3];
    struct place_out placed[3];
    bool movable[3];
};

/* Two nodes offering 8 CPUs and 8 GiB on hosts of 4 CPUs; a, b and c on
 * hv1: 3 of 8 CPUs and 3 of 8 GiB allocated (38%). measured: the host
 * CPUs each VM kept busy, or NULL. */
static void setup(struct fixture *f, const double *measured)
{
    load_str(&f->l, fleet);
    assert_int_equal(f->l.d.errors, 0);
    f->a = arena_new();
    for (int n = 0; n < 2; n++)
        f->nodes[n] = (struct place_node){ n ? "hv2" : "hv1", NULL, false, true, 8, 8ULL << 30,
                                           0, 0, 4, measured ? 0 : -1 };
    for (int i = 0; i < 3; i++) {
        f->current[i] = 0;
        f->reason[i] = NULL;
        f->placed[i] = (struct place_out){ 0, 0, "stays", NULL };
        f->movable[i] = true;
    }
}

static void teardown(struct fixture *f)
{
    arena_free(f->a);
    load_free(&f->l);
}

static void test_place__measured_use_moves_the_busiest(void **state)
{
    (void)state;
    struct fixture f;
    const double use[3] = { 2.0, 1.0, 0.6 };   /* 3.6 of 4 host CPUs: 90% */
    setup(&f, use);
    struct place_input in = { f.l.m, f.nodes, 2, f.current, f.reason, use, NULL };
    struct place_move *mv;
    struct place_load *loads;
    size_t n = place_rebalance(f.a, &in, f.placed, f.movable, 0.70, &mv, &loads);
    /* a leaves hv1 at 40% and hv2 at 50%: the best of the three moves
     * (b: 65%; c would leave hv1 at 75%, still over) */
    assert_int_equal(n, 1);
    assert_int_equal(mv[0].vm, 0);
    assert_int_equal(mv[0].from, 0);
    assert_int_equal(mv[0].to, 1);
    assert_int_equal(mv[0].priority, 2);
    assert_true(mv[0].from_before > 0.899 && mv[0].from_before < 0.901);
    assert_true(mv[0].from_after > 0.399 && mv[0].from_after < 0.401);
    assert_true(mv[0].to_after > 0.499 && mv[0].to_after < 0.501);
    assert_true(loads[0].use_before > 0.899 && loads[0].use_before < 0.901);
    assert_true(loads[0].use_after > 0.399 && loads[0].use_after < 0.401);
    assert_true(loads[1].use_before > -0.001 && loads[1].use_before < 0.001);
    assert_true(loads[1].use_after > 0.499 && loads[1].use_after < 0.501);
    teardown(&f);
}

static void test_place__unmeasured_is_allocation(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, NULL);
    struct place_input in = { f.l.m, f.nodes, 2, f.current, f.reason, NULL, NULL };
    struct place_move *mv;
    struct place_load *loads;
    size_t n = place_rebalance(f.a, &in, f.placed, f.movable, 0.70, &mv, &loads);
    assert_int_equal(n, 0);                    /* 38% allocated: balanced */
    assert_true(loads[0].before > 0.374 && loads[0].before < 0.376);
    assert_true(loads[0].use_before < 0);      /* not measured */
    teardown(&f);
}

static void test_place__use_over_the_target_refuses(void **state)
{
    (void)state;
    struct fixture f;
    /* hv2 is busy with domains qkvm does not place (3.4 CPUs: 85%): no
     * VM of hv1 may go there, and hv1 stays over */
    const double use[3] = { 2.0, 1.0, 0.6 };
    setup(&f, use);
    f.nodes[1].cpu_use = 3.4;
    struct place_input in = { f.l.m, f.nodes, 2, f.current, f.reason, use, NULL };
    struct place_move *mv;
    struct place_load *loads;
    size_t n = place_rebalance(f.a, &in, f.placed, f.movable, 0.70, &mv, &loads);
    assert_int_equal(n, 0);
    assert_true(loads[0].after > 0.899);
    assert_true(loads[1].before > 0.849 && loads[1].before < 0.851);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place__measured_use_moves_the_busiest),
        cmocka_unit_test(test_place__unmeasured_is_allocation),
        cmocka_unit_test(test_place__use_over_the_target_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
