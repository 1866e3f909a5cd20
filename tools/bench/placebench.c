/* tools/bench/placebench.c — placement and rebalance in memory, for
 * `make bench` (tools/bench/fleet).
 *
 *   placebench VMS NODES RUNS
 *
 * Builds a fleet in memory: NODES Nodes (32 CPUs, 128 GiB, four zones) and
 * VMS VMs (1 to 4 CPUs, 1 to 8 GiB; every 100th under an anti-affinity
 * Policy, every 3rd under a pack Policy, every 10th with a nodeSelector).
 * Then, RUNS times each, best and median printed in ms:
 *   place      place_vms from nothing (every VM new);
 *   rebalance  place_rebalance at 80% after every VM was put on the first
 *              half of the nodes (overloaded, so there is work to do).
 * Prints "place BEST MEDIAN PLACED rebalance BEST MEDIAN MOVES".
 */
#include "arena.h"
#include "model.h"
#include "place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct model_labels one_label(struct arena *a, const char *k, const char *v)
{
    struct model_label *l = arena_alloc(a, sizeof(*l));
    l->key = k;
    l->value = v;
    return (struct model_labels){ l, 1 };
}

static void policy(struct model *m, const char *name, const char *app, bool anti, bool pack)
{
    struct model_policy *p = arena_alloc(m->arena, sizeof(*p));
    p->obj.kind = MODEL_POLICY;
    p->obj.kind_name = "Policy";
    p->obj.meta.name = name;
    p->spec.selector = one_label(m->arena, "app", app);
    p->spec.placement.hdr.set = true;
    p->spec.placement.anti_affinity = anti;
    p->spec.placement.strategy = pack ? POLICY_PACK : POLICY_SPREAD;
    model_add(m, &p->obj);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: placebench VMS NODES RUNS\n");
        return 2;
    }
    size_t nv = strtoul(argv[1], NULL, 10), nn = strtoul(argv[2], NULL, 10);
    int runs = (int)strtol(argv[3], NULL, 10);
    if (runs < 1)
        runs = 1;
    static const char *const zones[] = { "a", "b", "c", "d" };
    struct model *m = model_new();
    struct arena *a = m->arena;
    policy(m, "web", "web", true, false);
    policy(m, "batch", "batch", false, true);
    for (size_t i = 0; i < nn; i++) {
        struct model_node *n = arena_alloc(a, sizeof(*n));
        n->obj.kind = MODEL_NODE;
        n->obj.kind_name = "Node";
        n->obj.meta.name = arena_printf(a, "hv%05zu", i);
        n->obj.meta.labels = one_label(a, "zone", zones[i % 4]);
        n->spec.capacity.cpus = 32;
        n->spec.capacity.memory = 128ULL << 30;
        model_add(m, &n->obj);
    }
    for (size_t i = 0; i < nv; i++) {
        struct model_vm *vm = arena_alloc(a, sizeof(*vm));
        vm->obj.kind = MODEL_VM;
        vm->obj.kind_name = "VM";
        vm->obj.meta.name = arena_printf(a, "vm-%06zu", i);
        vm->obj.meta.labels = one_label(a, "app", i % 100 == 0 ? "web"
                                                 : i % 3 == 0  ? "batch"
                                                               : "app");
        vm->spec.cpus = vm->spec.max_cpus = 1 + (int64_t)(i % 4);
        vm->spec.memory = vm->spec.max_memory = (1 + i % 8) << 30;
        if (i % 10 == 1)
            vm->spec.node_selector = one_label(a, "zone", zones[i % 4]);
        model_add(m, &vm->obj);
    }
    model_sort(m);
    struct place_node *pn = calloc(nn, sizeof(*pn));
    for (size_t i = 0; i < nn; i++) {
        const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][i];
        pn[i] = (struct place_node){ n->obj.meta.name, &n->obj.meta.labels, false, true,
                                     n->spec.capacity.cpus, n->spec.capacity.memory, 0, 0, 0, -1 };
    }
    double *tp = calloc((size_t)runs, sizeof(double)), *tr = calloc((size_t)runs, sizeof(double));
    long *skew = calloc(nv, sizeof(*skew));
    for (size_t i = 0; i < nv; i++)
        skew[i] = (long)(i % (nn / 2 ? nn / 2 : 1));
    size_t placed = 0, moves = 0;
    for (int r = 0; r < runs; r++) {
        struct arena *x = arena_new();
        struct place_out *out = arena_alloc(x, nv * sizeof(*out));
        struct place_input in = { m, pn, nn, NULL, NULL, NULL, NULL };
        double t0 = now_ms();
        place_vms(x, &in, out);
        tp[r] = now_ms() - t0;
        placed = 0;
        for (size_t i = 0; i < nv; i++)
            placed += out[i].node >= 0;
        /* the same VMs crowded onto half the nodes: they stay, then rebalance */
        struct place_input sk = { m, pn, nn, skew, NULL, NULL, NULL };
        place_vms(x, &sk, out);
        bool *movable = arena_alloc(x, nv * sizeof(*movable));
        memset(movable, 1, nv * sizeof(*movable));
        struct place_move *mv;
        struct place_load *loads;
        t0 = now_ms();
        moves = place_rebalance(x, &sk, out, movable, 0.8, &mv, &loads);
        tr[r] = now_ms() - t0;
        arena_free(x);
    }
    qsort(tp, (size_t)runs, sizeof(double), cmp_d);
    qsort(tr, (size_t)runs, sizeof(double), cmp_d);
    printf("place %.1f %.1f %zu rebalance %.1f %.1f %zu\n", tp[0], tp[runs / 2], placed, tr[0],
           tr[runs / 2], moves);
    free(tp);
    free(tr);
    free(skew);
    free(pn);
    model_free(m);
    return 0;
}
