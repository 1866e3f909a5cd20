/* place.h — which node each VM runs on. Pure: no I/O, no clock, no
 * randomness; the same input gives the same placement on any machine.
 *
 * Filters (hard): spec.node, nodeSelector, maintenance, a node that was not
 * observed this run (nothing new lands where qkvm cannot see), capacity
 * (cpus and memory offered minus what the VMs placed there and the
 * domains placement does not place take), the Networks and Pools the VM
 * needs are defined there (spec.nodes), anti-affinity (a Policy with
 * placement.antiAffinity: no two of the VMs it selects on one node).
 * Scores: the VM's Policy's placement.strategy, spread (the most free
 * after placing: the smaller of the free cpu and memory fractions) or pack
 * (the least free that fits); a node already running a VM that matches one
 * of the Policy's placement.affinity label sets is preferred to any other;
 * ties go to the node whose name sorts first.
 *
 * Stable: a VM defined on a node (ours) stays there unless that node is in
 * maintenance, its pin names another node, its nodeSelector no longer
 * matches, a Network or Pool it needs is no longer defined there, or
 * anti-affinity puts another VM it must not share a node with there first
 * (by name); a VM that cannot move (stuck) stays even then, with `left`
 * saying why it should not. Capacity is not re-checked for a VM that stays: it is already
 * there (moving VMs to even out load is rebalance's job). A VM whose node
 * was not observed this run stays on it: moving it is failover's decision.
 *
 * Order: VMs that stay take their capacity first; then pinned VMs (they
 * have one choice); then the others by the ha.priority of their Policy
 * (highest first), then by name.
 */
#ifndef QKVM_PLACE_H
#define QKVM_PLACE_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

struct place_node {
    const char *name;
    const struct model_labels *labels;
    bool maintenance;
    bool up;                  /* observed this run */
    int64_t cpus;             /* offered to VMs: Node capacity, else the host's */
    uint64_t memory;          /* bytes */
    int64_t used_cpus;        /* taken by domains placement does not place */
    uint64_t used_memory;
    /* measured (rebalance): the host's CPUs, and how many of them the
     * running domains placement does not place kept busy; cpu_use < 0:
     * not measured on this node */
    int64_t host_cpus;
    double cpu_use;
};

struct place_input {
    const struct model *m;                 /* sorted */
    const struct place_node *nodes;        /* sorted by name */
    size_t nn;
    /* per m->objs[MODEL_VM][i]: the node it is defined on (qkvm's, this
     * project's), or -1; and the reason its mark records, or NULL */
    const long *current;
    const char *const *current_reason;
    /* rebalance: per VM, the host CPUs it kept busy (measured; < 0
     * unknown), or NULL when nothing was measured */
    const double *vm_cpu_use;
    /* per VM, or NULL: it cannot leave the node it is defined on (its
     * volumes are not on shared pools and no Policy allows a cold move);
     * when it should (left), it still stays there, taking its capacity */
    const bool *stuck;
};

struct place_out {
    long node;                /* -1: unschedulable */
    long from;                /* where it is defined now, -1 */
    const char *reason;       /* why this node; unschedulable: every node and why not */
    const char *left;         /* defined on a node it cannot stay on: why not, or NULL */
};

/* out: one per m->objs[MODEL_VM][i]. Strings in a. */
void place_vms(struct arena *a, const struct place_input *in, struct place_out *out);

/* Rebalance (DRS): a node is over the threshold when the largest of its
 * allocated cpus and memory (the VMs placed there and what placement
 * does not place, over what it offers) and, where it was measured, its
 * CPU use (what its running domains kept busy, over the host's CPUs; a
 * VM that moves takes its measured use with it) exceeds it. While one is, the
 * most loaded node gives up one VM: of its VMs that may move (movable[i]:
 * not pinned, everything on shared pools) and every node that passes
 * placement's filters for it and stays at or under the threshold with
 * it, the move that leaves the larger of the two nodes' loads smallest
 * (ties: the emptier target, then by VM name and node name). Greedy: each move is the one that
 * helps most, so a fleet is evened out in few moves; when no move helps,
 * what is left over is reported. Priority 1: the node is over 100% (it is
 * overcommitted); 2: over the threshold. */
struct place_move {
    size_t vm;                /* index in m->objs[MODEL_VM] */
    long from, to;
    int priority;
    double from_before, from_after, to_before, to_after;   /* loads, 0..1+ */
};
struct place_load {
    double before, after;     /* per node */
    double use_before, use_after; /* measured CPU use, < 0: not measured */
};
/* placed: place_vms' answer (every VM where it is). Returns how many moves
 * (*out, in a); loads[] (nn, in a) before and after them. */
size_t place_rebalance(struct arena *a, const struct place_input *in,
                       const struct place_out *placed, const bool *movable, double threshold,
                       struct place_move **out, struct place_load **loads);

/* The Networks and Pools a node has: declared with no spec.nodes, or
 * listing it. */
bool place_network_on(const struct model_network *n, const char *node);
bool place_pool_on(const struct model_pool *p, const char *node);

/* A VM's ha priority (its first matching Policy with ha), 0 by default. */
int64_t place_priority(const struct model *m, const struct model_vm *vm);
/* The ha section of the first Policy (by name) that selects the VM and
 * sets ha, or NULL. */
const struct policy_ha *place_ha(const struct model *m, const struct model_vm *vm);
/* Does the VM's placement Policy (the first by name that selects it and
 * sets placement) allow cold moves? */
bool place_cold_moves(const struct model *m, const struct model_vm *vm);

#endif
