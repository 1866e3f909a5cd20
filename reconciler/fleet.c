/* fleet.c — a session over every Node of the manifests. See fleet.h.
 *
 * Decisions an operator relies on:
 * - Every Node is connected and observed, also when -c or --node narrows
 *   the run to one: placement must know where every VM runs, or it could
 *   create a second copy of a VM that runs on a node it did not look at.
 *   A node that cannot be reached does not stop the others: its objects
 *   wait (a note), the VMs placement last put there stay there (the store
 *   remembers), and nothing new is placed on it.
 * - A Network or Pool is defined on the nodes its spec.nodes lists, or on
 *   every node when it lists none. An Image is wherever a Disk placed on a
 *   node is made from it. A Disk goes with the VM that uses it; a Disk no
 *   VM uses is planned on the first node (by name) its pool is defined on.
 * - Failover (the controller's fenced nodes, session_opts.fenced): a fenced
 *   node is not connected and takes nothing. Each VM the records put on it
 *   that a Policy with ha.enabled selects is placed on another node, as
 *   if it were defined nowhere, by ha.priority (placement's order), when
 *   every disk it reads is on a shared pool and it failed over fewer than
 *   ha.maxRestarts times in the last hour (the store's FailedOver events).
 *   The others stay where they are, down, and the plan says why. Nothing
 *   of a node that was not fenced ever moves this way.
 * - Capacity: a Node's capacity, else what the host reports, counted 1:1
 *   (declare capacity.cpus larger than the host to overcommit CPUs). Every
 *   declared VM counts with its maximum cpus and memory, running or not;
 *   domains qkvm does not place count while they run.
 */
#include "fleet.h"

#include "arena.h"
#include "observe.h"
#include "owned.h"
#include "place.h"
#include "vec.h"
#include "virtxml.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- connect and observe, one thread per node ---- */

struct job {
    struct session_node *n;
    const struct session *s;
    char err[1024];
};

static void *connect_job(void *arg)
{
    struct job *j = arg;
    struct session_node *n = j->n;
    if (n->fenced) {
        snprintf(j->err, sizeof(j->err), "fenced: not used until it is back and its stale "
                 "copies of moved VMs are removed");
        return NULL;
    }
    n->v = virt_open(n->uri, &j->s->o->virt, j->err, sizeof(j->err));
    if (n->v && virt_node_info(n->v, &n->host_cpus, &n->host_memory, j->err,
                               sizeof(j->err)) < 0) {
        virt_close(n->v);
        n->v = NULL;
    }
    return NULL;
}

static void *observe_job(void *arg)
{
    struct job *j = arg;
    struct session_node *n = j->n;
    double t0 = session_now();
    n->obs = observe_host(n->v, j->s->m, n->own,
                          j->s->o->need & SESSION_DEEP ? OBSERVE_DEEP : 0, j->err,
                          sizeof(j->err));
    n->t_observe = session_now() - t0;
    /* rebalance: what the running domains keep busy, all nodes at once */
    if (n->obs && j->s->o->rebalance && j->s->o->cpu_interval_ms > 0 &&
        virt_cpu_use(n->v, j->s->o->cpu_interval_ms, &n->cpu, &n->ncpu, &n->cpu_measured,
                     j->err, sizeof(j->err)) < 0) {
        n->cpu_measured = false;
        n->cpu_error = xstrdup(j->err);
        j->err[0] = '\0';
    }
    return NULL;
}

/* Run fn for every node that needs it, all at once; signals stay with the
 * main thread (Ctrl-C is the apply's business). */
static void run_jobs(struct job *jobs, size_t n, void *(*fn)(void *), bool connected_only)
{
    pthread_t *t = xcalloc(n + 1, sizeof(*t));
    bool *started = xcalloc(n + 1, sizeof(*started));
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < n; i++) {
        if (connected_only && !jobs[i].n->v)
            continue;
        jobs[i].err[0] = '\0';
        started[i] = pthread_create(&t[i], NULL, fn, &jobs[i]) == 0;
        if (!started[i])
            fn(&jobs[i]);            /* no thread to be had: here, in turn */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (size_t i = 0; i < n; i++)
        if (started[i])
            pthread_join(t[i], NULL);
    free(t);
    free(started);
}

/* ---- placement ---- */

static const struct model_pool *pool_of(const struct model *m, const char *name)
{
    return (const struct model_pool *)model_find(m, MODEL_POOL, name);
}

/* Why VM vm cannot move between nodes, or NULL: each of its disks, the
 * image a disk is made from and its cloud-init seed (in its first disk's
 * pool) must be on a pool declared shared: true, so that the same files
 * are there on every node. */
static const char *not_shared(struct session *s, const struct model_vm *vm)
{
    const struct model *m = s->m;
    for (size_t j = 0; j < vm->spec.disks.n; j++) {
        const struct model_disk *d =
            (const struct model_disk *)model_find(m, MODEL_DISK, vm->spec.disks.v[j].disk);
        const struct model_pool *p = d ? pool_of(m, d->spec.pool) : NULL;
        if (!p || !p->spec.shared)
            return arena_printf(s->a, "its disk %s is on pool %s, which is not shared: "
                                "declare shared: true on a pool every node sees (NFS, CephFS...) "
                                "to move VMs", vm->spec.disks.v[j].disk,
                                d ? d->spec.pool : "?");
        const struct model_image *im = d->spec.from.image
            ? (const struct model_image *)model_find(m, MODEL_IMAGE, d->spec.from.image) : NULL;
        const struct model_pool *ip = im ? pool_of(m, im->spec.pool) : NULL;
        if (im && (!ip || !ip->spec.shared))
            return arena_printf(s->a, "its disk %s is made from image %s, whose pool %s is not "
                                "shared", d->obj.meta.name, im->obj.meta.name, im->spec.pool);
    }
    return NULL;
}

static const char *pct(struct arena *a, double load)
{
    return arena_printf(a, "%.0f%%", load * 100);
}

/* qkvm rebalance: the moves that bring every node under the threshold
 * (place_rebalance), made moves of the run like a drain's. */
static void rebalance(struct session *s, const struct place_input *in)
{
    const struct model *m = s->m;
    size_t nv = m->len[MODEL_VM];
    bool *movable = arena_alloc(s->a, (nv + 1) * sizeof(*movable));
    for (size_t i = 0; i < nv; i++) {
        const struct place_out *p = &s->placed[i];
        if (p->from < 0 || p->node != p->from || s->moving[i] || !s->nodes[p->from].obs)
            continue;
        /* a rebalance never stops a guest: a VM whose volumes must be
         * copied moves only while it is not running */
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        const struct obs_domain *od = observe_domain(s->nodes[p->from].obs, vm->obj.meta.name);
        movable[i] = !not_shared(s, vm) || (place_cold_moves(m, vm) && od && !od->active);
    }
    s->rebalance.threshold = s->o->rebalance / 100.0;
    s->rebalance.n = place_rebalance(s->a, in, s->placed, movable, s->rebalance.threshold,
                                     &s->rebalance.moves, &s->rebalance.loads);
    for (size_t k = 0; k < s->rebalance.n; k++) {
        const struct place_move *mv = &s->rebalance.moves[k];
        struct place_out *p = &s->placed[mv->vm];
        p->node = mv->to;
        p->left = arena_printf(s->a, "rebalance (priority %d): %s %s → %s, %s %s → %s",
                               mv->priority, s->nodes[mv->from].name, pct(s->a, mv->from_before),
                               pct(s->a, mv->from_after), s->nodes[mv->to].name,
                               pct(s->a, mv->to_before), pct(s->a, mv->to_after));
        p->reason = arena_printf(s->a, "rebalance: %s was %s allocated",
                                 s->nodes[mv->from].name, pct(s->a, mv->from_before));
        s->moving[mv->vm] = true;
        s->cold[mv->vm] = not_shared(s, (const struct model_vm *)m->objs[MODEL_VM][mv->vm]) != NULL;
    }
}

static size_t vm_index(const struct model *m, const struct model_object *o)
{
    size_t i = 0;
    while (m->objs[MODEL_VM][i] != o)
        i++;
    return i;
}

/* Does VM vm declare a disk that is volume `volume` of pool `pool`? */
static bool uses_disk(const struct model *m, const struct model_vm *vm, const char *pool,
                      const char *volume)
{
    for (size_t j = 0; j < vm->spec.disks.n; j++) {
        const struct model_disk *d =
            (const struct model_disk *)model_find(m, MODEL_DISK, vm->spec.disks.v[j].disk);
        if (d && strcmp(d->obj.meta.name, volume) == 0 && strcmp(d->spec.pool, pool) == 0)
            return true;
    }
    return false;
}

/* The host CPUs domain `name` kept busy on node n (measured), 0 unknown. */
static double cpu_use_of(const struct session_node *n, const char *name)
{
    for (size_t i = 0; i < n->ncpu; i++)
        if (strcmp(n->cpu[i].name, name) == 0)
            return n->cpu[i].cpus;
    return 0;
}

static bool fenced(const struct session *s, const char *node)
{
    for (const char *const *f = s->o->fenced; f && *f; f++)
        if (strcmp(*f, node) == 0)
            return true;
    return false;
}

#define HOUR_MS 3600000

/* Why VM vm does not fail over from fenced node `from`, or NULL. */
static const char *no_failover(struct session *s, const struct model_vm *vm)
{
    const struct policy_ha *ha = place_ha(s->m, vm);
    if (!ha || !ha->enabled)
        return "no Policy with ha.enabled selects it";
    const char *why = not_shared(s, vm);
    if (why)
        return why;
    struct store_event *ev = NULL;
    size_t n = 0, count = 0;
    char err[512];
    if (!s->st)
        return "the state database is not open: its failovers cannot be counted";
    if (store_events(s->st, s->a, store_now() - HOUR_MS, "VM", vm->obj.meta.name, 0, &ev, &n,
                     err, sizeof(err)) < 0)
        return arena_printf(s->a, "its failovers cannot be counted: %s", err);
    for (size_t i = 0; i < n; i++)
        count += strcmp(ev[i].reason, "FailedOver") == 0;
    if ((int64_t)count >= ha->max_restarts)
        return arena_printf(s->a, "it failed over %zu time%s in the last hour (ha.maxRestarts: "
                            "%lld)", count, count == 1 ? "" : "s", (long long)ha->max_restarts);
    return NULL;
}

static void place(struct session *s)
{
    const struct model *m = s->m;
    size_t nv = m->len[MODEL_VM], nn = s->nnodes;
    const char *project = model_project_name(m);
    struct place_node *pn = arena_alloc(s->a, (nn + 1) * sizeof(*pn));
    long *current = arena_alloc(s->a, (nv + 1) * sizeof(*current));
    const char **reason = arena_alloc(s->a, (nv + 1) * sizeof(*reason));
    bool *active = arena_alloc(s->a, (nv + 1) * sizeof(*active));
    const char *blind_node = NULL;
    s->copies = arena_alloc(s->a, (nv + 1) * sizeof(*s->copies));
    s->failover = arena_alloc(s->a, (nv + 1) * sizeof(*s->failover));
    const char **stays = s->failover_no = arena_alloc(s->a, (nv + 1) * sizeof(*stays));
    for (size_t i = 0; i < nv; i++)
        current[i] = -1;
    for (size_t k = 0; k < nn; k++) {
        struct session_node *n = &s->nodes[k];
        const struct node_capacity *cap = &n->decl->spec.capacity;
        n->cpus = cap->cpus ? cap->cpus : n->host_cpus;
        n->memory = cap->memory ? cap->memory : n->host_memory;
        pn[k] = (struct place_node){ n->name, &n->decl->obj.meta.labels,
                                     n->decl->spec.maintenance, n->obs != NULL, n->cpus,
                                     n->memory, 0, 0, n->host_cpus,
                                     n->cpu_measured ? 0 : -1 };
        if (!n->obs)
            continue;
        for (size_t d = 0; d < n->obs->ndoms; d++) {
            const struct obs_domain *od = &n->obs->doms[d];
            const char *owner, *why;
            const struct model_object *want = model_find(m, MODEL_VM, od->name);
            bool ours = plan_owner(s->a, &od->mark, "VM", od->name, od->uuid, project, &owner,
                                   &why) == OWNER_OURS;
            if (want && ours) {
                size_t i = vm_index(m, want);
                if (current[i] >= 0 && current[i] != (long)k)
                    s->copies[i] = arena_printf(s->a, "%s%s%s", s->copies[i] ? s->copies[i] : "",
                                                s->copies[i] ? ", " : "", n->name);
                else if (current[i] < 0)
                    s->copies[i] = n->name;
                /* defined on several nodes: the running copy is the one */
                if (current[i] < 0 || (od->active && !active[i])) {
                    current[i] = (long)k;
                    active[i] = od->active;
                    reason[i] = od->mark.placement;
                }
                continue;
            }
            if (od->active) {
                pn[k].used_cpus += od->vm->spec.max_cpus;
                pn[k].used_memory += od->vm->spec.max_memory;
                if (n->cpu_measured)
                    pn[k].cpu_use += cpu_use_of(n, od->name);
            }
        }
    }
    /* Where a VM is when the node it was on cannot be seen: where the
     * store last saw it (every recorded run notes each node's objects) or
     * last placed it. That wins over a copy seen elsewhere that does not
     * run (the running copy may be on the node out of sight); nothing is
     * created for it elsewhere: moving it is failover's decision. */
    struct store_placement *rec = NULL;
    size_t nrec = 0;
    char err[1024];
    bool blind = false;           /* a node is out of sight and the records cannot be read */
    if (s->st && store_placements(s->st, s->a, &rec, &nrec, err, sizeof(err)) < 0) {
        session_say(s, SESSION_WARNING, "%s", err);
        blind = true;
    }
    /* Two passes over the nodes out of sight: their placement records
     * first (where placement or a failover last put a VM wins over where
     * a run last saw it), then what the runs last saw there. A VM with a
     * record on a node out of sight that is not fenced may run there:
     * claim[i] names it, and it never fails over (see below). */
    bool *by_rec = arena_alloc(s->a, (nv + 1) * sizeof(*by_rec));
    const char **claim = arena_alloc(s->a, (nv + 1) * sizeof(*claim));
    struct store_object **so = arena_alloc(s->a, (nn + 1) * sizeof(*so));
    size_t *nso = arena_alloc(s->a, (nn + 1) * sizeof(*nso));
    for (size_t k = 0; k < nn; k++) {
        if (s->nodes[k].obs)
            continue;
        if (s->st && store_objects(s->st, s->a, s->nodes[k].uri, "VM", NULL, &so[k], &nso[k],
                                   err, sizeof(err)) < 0) {
            session_say(s, SESSION_WARNING, "%s", err);
            blind = true;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < nn; k++) {
            struct session_node *n = &s->nodes[k];
            if (n->obs)
                continue;
            size_t nr = pass == 0 ? nrec : nso[k];
            for (size_t r = 0; r < nr; r++) {
                const char *vm = pass == 0 ? rec[r].vm : so[k][r].name;
                if (pass == 0 && strcmp(rec[r].node, n->name) != 0)
                    continue;
                if (pass == 1 && (strcmp(so[k][r].state, "gone") == 0 ||
                                  strcmp(so[k][r].state, "moved") == 0 ||
                                  strcmp(so[k][r].state, "missing") == 0))
                    continue;
                const struct model_object *want = model_find(m, MODEL_VM, vm);
                if (!want)
                    continue;
                size_t i = vm_index(m, want);
                if (!n->fenced)
                    claim[i] = n->name;
                if (current[i] < 0 || (!active[i] && !by_rec[i])) {
                    current[i] = (long)k;
                    active[i] = true;          /* as far as anyone knows */
                    reason[i] = pass == 0 ? rec[r].reason : NULL;
                    by_rec[i] = true;
                }
            }
        }
    }
    if (blind) {
        for (size_t k = 0; k < nn; k++)
            blind_node = !s->nodes[k].obs ? s->nodes[k].name : blind_node;
    }
    /* Failover: the HA VMs of a fenced node are placed anew, elsewhere.
     * Not while the records cannot say what else ran there. */
    for (size_t i = 0; !blind && i < nv; i++) {
        if (current[i] < 0 || !fenced(s, s->nodes[current[i]].name))
            continue;
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        const char *why = claim[i] ? arena_printf(s->a, "it may still run on %s, which cannot "
                                                  "be seen and is not fenced", claim[i])
                                   : no_failover(s, vm);
        if (why) {
            stays[i] = why;
            continue;
        }
        s->failover[i] = s->nodes[current[i]].name;
        current[i] = -1;
        active[i] = false;
        reason[i] = NULL;
    }
    /* A VM defined nowhere whose declared disks a domain uses on a node (a
     * rename, a domain undefined by hand) stays with its disks: a second
     * domain on the same disk elsewhere would run on it at the same time. */
    for (size_t k = 0; k < nn; k++) {
        const struct obs_host *h = s->nodes[k].obs;
        for (size_t d = 0; h && d < h->ndoms; d++) {
            const struct obs_domain *od = &h->doms[d];
            for (size_t j = 0; j < od->vm->spec.disks.n; j++) {
                const struct virtxml_disk_src *src = &od->src[j];
                if (!src->pool || !src->volume)
                    continue;
                for (size_t i = 0; i < nv; i++) {
                    const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
                    if (current[i] >= 0 || !uses_disk(m, vm, src->pool, src->volume))
                        continue;
                    current[i] = (long)k;
                    reason[i] = arena_printf(s->a, "its disk %s is used by domain %s there",
                                             src->volume, od->name);
                }
            }
        }
    }
    s->placed = arena_alloc(s->a, (nv + 1) * sizeof(*s->placed));
    /* a VM's measured use: on the node it runs on */
    double *vm_use = NULL;
    for (size_t i = 0; s->o->rebalance && i < nv; i++) {
        if (!vm_use)
            vm_use = arena_alloc(s->a, (nv + 1) * sizeof(*vm_use));
        const struct session_node *n = current[i] >= 0 ? &s->nodes[current[i]] : NULL;
        vm_use[i] = n && n->cpu_measured && active[i]
                        ? cpu_use_of(n, m->objs[MODEL_VM][i]->meta.name) : -1;
    }
    /* a VM that cannot leave its node stays there even when it should
     * (the plan says why), and keeps its capacity there */
    bool *stuck = arena_alloc(s->a, (nv + 1) * sizeof(*stuck));
    const char **stuck_why = arena_alloc(s->a, (nv + 1) * sizeof(*stuck_why));
    for (size_t i = 0; i < nv; i++) {
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        if (current[i] < 0 || !s->nodes[current[i]].obs || place_cold_moves(m, vm))
            continue;
        stuck_why[i] = not_shared(s, vm);
        stuck[i] = stuck_why[i] != NULL;
    }
    struct place_input in = { m, pn, nn, current, reason, vm_use, stuck };
    place_vms(s->a, &in, s->placed);
    for (size_t i = 0; i < nv; i++) {
        if (s->failover[i] && s->placed[i].node >= 0)
            s->placed[i].reason = arena_printf(s->a, "failover from %s (fenced): %s",
                                               s->failover[i], s->placed[i].reason);
        else if (s->failover[i])
            s->failover[i] = NULL;        /* nowhere to go: unschedulable says why */
        if (stays[i])
            stays[i] = arena_printf(s->a, "its node %s is fenced, and it is not restarted "
                                    "elsewhere: %s", s->nodes[current[i]].name, stays[i]);
    }
    for (size_t i = 0; blind_node && i < nv; i++)
        if (current[i] < 0 && s->placed[i].node >= 0) {
            s->placed[i].node = -1;
            s->placed[i].reason = arena_printf(s->a, "not placed while %s cannot be seen and "
                                               "the state database cannot say what runs there",
                                               blind_node);
        }
    for (size_t i = 0; i < nv; i++)
        if (current[i] >= 0)
            s->nodes[current[i]].vms_here++;
    /* A VM placement moves: live when it runs, its definition when not,
     * and only when everything it reads is on shared pools; else it stays
     * where it is, and the plan says why. */
    s->moves = arena_alloc(s->a, (nv + 1) * sizeof(*s->moves));
    s->moving = arena_alloc(s->a, (nv + 1) * sizeof(*s->moving));
    s->cold = arena_alloc(s->a, (nv + 1) * sizeof(*s->cold));
    for (size_t i = 0; i < nv; i++) {
        struct place_out *p = &s->placed[i];
        if (p->from < 0 || (p->node == p->from && !(stuck[i] && p->left)))
            continue;
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        const struct session_node *from = &s->nodes[p->from];
        const char *why = stuck[i] ? arena_printf(s->a, "%s (or allow cold moves: a Policy "
                                                  "with placement.coldMoves: true)", stuck_why[i])
                          : p->node < 0 ? arena_printf(s->a, "no node can take it (%s)", p->reason)
                          : !from->obs ? arena_printf(s->a, "%s cannot be reached", from->name)
                                       : NULL;
        if (!why && (why = not_shared(s, vm)) != NULL) {
            s->cold[i] = true;    /* not stuck: a Policy allows the cold move */
            why = NULL;
        }
        if (!why) {
            s->moving[i] = true;
            continue;
        }
        s->moves[i] = arena_printf(s->a, "should leave %s (%s), but %s: it stays there",
                                   from->name, p->left ? p->left : "?", why);
        p->node = p->from;
        p->reason = "stays where it is defined (a move is pending)";
    }
    if (s->o->rebalance)
        rebalance(s, &in);
    for (size_t i = 0; i < nv; i++) {
        long k = s->placed[i].node;
        if (k < 0)
            continue;
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        s->nodes[k].vms++;
        s->nodes[k].alloc_cpus += vm->spec.max_cpus;
        s->nodes[k].alloc_memory += vm->spec.max_memory;
    }
    for (size_t k = 0; k < nn; k++) {
        s->nodes[k].alloc_cpus += pn[k].used_cpus;
        s->nodes[k].alloc_memory += pn[k].used_memory;
    }
}

const char *session_vm_failover(const struct session *s, const char *vm)
{
    if (!s->failover || !s->m)
        return NULL;
    const struct model_object *o = model_find(s->m, MODEL_VM, vm);
    return o ? s->failover[vm_index(s->m, o)] : NULL;
}

const struct session_node *session_vm_node(const struct session *s, const char *vm,
                                           const char **why)
{
    if (!s->placed || !s->m)
        return NULL;
    const struct model_object *o = model_find(s->m, MODEL_VM, vm);
    if (!o)
        return NULL;
    for (size_t i = 0; i < s->m->len[MODEL_VM]; i++)
        if (s->m->objs[MODEL_VM][i] == o) {
            if (s->placed[i].node < 0)
                return NULL;
            if (why)
                *why = s->placed[i].reason;
            return &s->nodes[s->placed[i].node];
        }
    return NULL;
}

/* A pool declared shared: true has the same files on every node, but
 * each node's libvirt knows it as a pool of its own (its own UUID), and
 * the ownership records name the pool of the node that created the
 * volume. A volume of a shared pool that one node's records prove is
 * qkvm's is qkvm's on every node that sees the same file. */
static void share_records(struct session *s)
{
    /* A fenced node is not observed, but its records are in the store:
     * a volume it created on a shared pool is still qkvm's where another
     * node sees the same file (its identity, inode and birth time, as
     * recorded, proves it is that file). */
    for (size_t k = 0; k < s->nnodes; k++) {
        struct obs_host *h = s->nodes[k].obs;
        for (size_t i = 0; h && i < h->npools; i++) {
            struct obs_pool *p = &h->pools[i];
            const struct model_pool *decl = pool_of(s->m, p->name);
            if (!decl || !decl->spec.shared)
                continue;
            for (size_t j = 0; j < p->nvols; j++) {
                struct obs_volume *v = &p->vols[j];
                for (size_t o = 0; !v->rec && !v->replaced && v->path && o < s->nnodes; o++) {
                    const struct session_node *f = &s->nodes[o];
                    const struct owned_entry *e =
                        f->fenced && f->own ? owned_volume_in(f->own, p->name, v->name) : NULL;
                    char hp[4096], ident[96] = "";
                    if (!e || !*e->ident)
                        continue;
                    owned_file_ident(observe_host_path(h, v->path, hp, sizeof(hp)), ident,
                                     sizeof(ident));
                    if (*ident && strcmp(ident, e->ident) == 0) {
                        v->rec = e;
                        v->unverified = false;
                        v->marked = NULL;
                    }
                }
            }
        }
    }
    for (size_t k = 0; k < s->nnodes; k++) {
        struct obs_host *h = s->nodes[k].obs;
        for (size_t i = 0; h && i < h->npools; i++) {
            struct obs_pool *p = &h->pools[i];
            const struct model_pool *decl = pool_of(s->m, p->name);
            if (!decl || !decl->spec.shared)
                continue;
            for (size_t j = 0; j < p->nvols; j++) {
                struct obs_volume *v = &p->vols[j];
                for (size_t o = 0; !v->rec && !v->replaced && o < s->nnodes; o++) {
                    const struct obs_host *oh = s->nodes[o].obs;
                    const struct obs_pool *op = o != k && oh ? observe_pool(oh, p->name) : NULL;
                    const struct obs_volume *ov = op ? observe_volume(op, v->name) : NULL;
                    if (!ov || !ov->rec || !ov->path || !v->path || strcmp(ov->path, v->path))
                        continue;
                    v->rec = ov->rec;
                    v->unverified = ov->unverified;
                    v->marked = NULL;
                }
            }
        }
    }
}

static bool moving(const struct session *s, const struct model_object *o);
struct keep {
    const struct session *s;
    size_t node;
};

/* The VMs that leave node x (what its moves act on), and the Pools. */
static bool leaving(void *payload, const struct model_object *o)
{
    const struct keep *x = payload;
    if (o->kind == MODEL_POOL)
        return true;              /* a move asks which are shared */
    if (o->kind != MODEL_VM || !moving(x->s, o))
        return false;
    for (size_t i = 0; i < x->s->m->len[MODEL_VM]; i++)
        if (x->s->m->objs[MODEL_VM][i] == o)
            return x->s->placed[i].from == (long)x->node;
    return false;
}

/* The moves of the VMs that leave a selected node: one plan per node
 * they leave, applied after every node's own plan (a network or pool
 * the VM needs on its new node is created first). */
static size_t plan_moves(struct session *s)
{
    const struct model *m = s->m;
    size_t n = 0;
    for (size_t i = 0; s->moving && i < m->len[MODEL_VM]; i++) {
        if (!s->moving[i])
            continue;
        const struct place_out *p = &s->placed[i];
        struct session_node *from = &s->nodes[p->from], *to = &s->nodes[p->node];
        if (!from->selected)
            continue;
        const struct model_object *vm = m->objs[MODEL_VM][i];
        const struct obs_domain *od = observe_domain(from->obs, vm->meta.name);
        if (!od)
            continue;
        if (!from->moves)
            from->moves = plan_new(from->uri, model_project_name(m));
        struct plan *mp = from->moves;
        bool cold = s->cold[i], live = od->active && !cold;
        const char *how = live ? "live"
                          : !cold ? "not running: its definition moves"
                          : od->active ? "cold: stopped, its volumes copied, started there"
                                       : "not running: its definition and volumes move";
        size_t ai = plan_add(mp, PLAN_MIGRATE, MODEL_VM, vm->meta.name,
                             arena_printf(mp->arena, "%s → %s (%s): %s", from->name, to->name,
                                          how, p->left ? p->left : "placement"));
        struct plan_action *a = &mp->v[ai];
        a->want = vm;
        a->target = to->name;
        a->live = live;
        a->cold = cold;
        a->placement = p->reason;
        n++;
    }
    for (size_t k = 0; k < s->nnodes; k++) {
        struct session_node *nd = &s->nodes[k];
        struct keep kp = { s, k };
        if (nd->moves)
            nd->moves_view = model_view(m, leaving, &kp);
    }
    return n;
}

/* ---- each node's view of the manifests ---- */

static bool moving(const struct session *s, const struct model_object *o)
{
    for (size_t i = 0; s->moving && i < s->m->len[MODEL_VM]; i++)
        if (s->m->objs[MODEL_VM][i] == o)
            return s->moving[i];
    return false;
}

/* The node a Disk is planned on: its VM's, else the first node its pool
 * is defined on; -1 when neither, or when its VM moves this run (its disk
 * is then planned by the next run, on the VM's new node: nothing resizes
 * it under the VM while it moves). */
static long disk_node(const struct session *s, const struct model_disk *d)
{
    const struct model *m = s->m;
    for (size_t i = 0; i < m->len[MODEL_VM]; i++) {
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        for (size_t j = 0; j < vm->spec.disks.n; j++)
            if (strcmp(vm->spec.disks.v[j].disk, d->obj.meta.name) == 0)
                return s->moving && s->moving[i] ? -1 : s->placed[i].node;
    }
    const struct model_pool *p = (const struct model_pool *)model_find(m, MODEL_POOL,
                                                                      d->spec.pool);
    for (size_t k = 0; p && k < s->nnodes; k++)
        if (place_pool_on(p, s->nodes[k].name))
            return (long)k;
    return -1;
}

static bool keep(void *payload, const struct model_object *o)
{
    const struct keep *x = payload;
    const struct session *s = x->s;
    const char *node = s->nodes[x->node].name;
    switch (o->kind) {
    case MODEL_NETWORK: return place_network_on((const struct model_network *)o, node);
    case MODEL_POOL: return place_pool_on((const struct model_pool *)o, node);
    case MODEL_DISK: return disk_node(s, (const struct model_disk *)o) == (long)x->node;
    case MODEL_VM: {
        const struct session_node *n = session_vm_node(s, o->meta.name, NULL);
        return n == &s->nodes[x->node] && !moving(s, o);
    }
    default: return true;         /* Node, Image, Policy, Project */
    }
}

/* ---- the run ---- */

static enum session_status fail(struct session *s, const char *error)
{
    session_end(s, STORE_RUN_ERROR, "", error);
    return SESSION_FAILED;
}

static const char *node_list(struct session *s)
{
    const char *l = "";
    for (size_t i = 0; i < s->nnodes; i++)
        l = arena_printf(s->a, "%s%s%s: %s", l, i ? ", " : "", s->nodes[i].name,
                         s->nodes[i].uri);
    return l;
}

static enum session_status select_nodes(struct session *s)
{
    const struct session_opts *o = s->o;
    size_t hits = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        n->selected = (!o->connect && !o->node) ||
                      (o->node && strcmp(o->node, n->name) == 0) ||
                      (o->connect && strcmp(o->connect, n->uri) == 0);
        hits += n->selected;
    }
    if (hits)
        return SESSION_OK;
    const char *msg = o->node
        ? arena_printf(s->a, "--node %s: the manifests declare no such Node (%s)", o->node,
                       node_list(s))
        : arena_printf(s->a, "-c %s: no Node of the manifests has that uri (%s); name one of "
                             "them, or --node NAME", o->connect, node_list(s));
    session_say(s, SESSION_ERROR, "%s", msg);
    return fail(s, msg);
}

/* One node uploads the images of a shared pool, for all: the first (by
 * name) planned this run that has the pool. */
struct uploader {
    const struct session *s;
    const char *self;
};

static const char *shared_uploader(const void *payload, const char *pool)
{
    const struct uploader *u = payload;
    const struct model_pool *p = pool_of(u->s->m, pool);
    for (size_t i = 0; p && i < u->s->nnodes; i++) {
        const struct session_node *n = &u->s->nodes[i];
        if (n->selected && n->obs && place_pool_on(p, n->name))
            return strcmp(n->name, u->self) == 0 ? NULL : n->name;
    }
    return NULL;
}

static const char *placement_of(void *payload, const char *vm)
{
    const char *why = NULL;
    return session_vm_node(payload, vm, &why) ? why : NULL;
}

enum session_status fleet_open(struct session *s)
{
    const struct session_opts *o = s->o;
    const struct model *m = s->m;
    bool soft = o->need & SESSION_CONNECT_SOFT;
    char err[1024];
    s->nnodes = m->len[MODEL_NODE];
    s->nodes = arena_alloc(s->a, s->nnodes * sizeof(*s->nodes));
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct model_node *d = (const struct model_node *)m->objs[MODEL_NODE][i];
        s->nodes[i] = (struct session_node){ .name = d->obj.meta.name, .uri = d->spec.uri,
                                             .decl = d };
        s->nodes[i].fenced = fenced(s, d->obj.meta.name);
    }
    enum session_status rc = select_nodes(s);
    if (rc != SESSION_OK)
        return rc;
    virtxml_init();                /* before the threads decode XML */
    struct job *jobs = arena_alloc(s->a, s->nnodes * sizeof(*jobs));
    for (size_t i = 0; i < s->nnodes; i++)
        jobs[i] = (struct job){ .n = &s->nodes[i], .s = s };
    double t0 = session_now();
    run_jobs(jobs, s->nnodes, connect_job, false);
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        if (!n->v) {
            n->error = arena_strdup(s->a, jobs[i].err);
            /* a fenced node's records: its volumes on shared pools */
            if (n->fenced && s->st &&
                !(n->own = owned_from_store(s->st, n->uri, err, sizeof(err))))
                session_say(s, SESSION_WARNING, "cannot read %s's ownership records: %s",
                            n->name, err);
            continue;
        }
        n->uri = arena_strdup(s->a, virt_uri(n->v));
        if (s->st && !(n->own = owned_from_store(s->st, n->uri, err, sizeof(err)))) {
            session_say(s, SESSION_ERROR, "cannot read the ownership records: %s", err);
            return fail(s, err);
        }
    }
    run_jobs(jobs, s->nnodes, observe_job, true);
    size_t up = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        if (n->v && !n->obs)
            n->error = arena_printf(s->a, "cannot observe %s: %s", n->uri, jobs[i].err);
        up += n->obs != NULL;
        const char *state = n->obs ? "ready" : n->fenced ? "fenced" : "unreachable";
        if (s->run && store_node_seen(s->st, s->run, n->uri, n->name, state,
                                      n->error ? n->error : "", err, sizeof(err)) < 0)
            session_say(s, SESSION_WARNING, "%s", err);
        /* an error when the run cannot go on without it; else the plan
         * carries a note and the run goes on */
        if (n->error && (soft || s->nnodes > 1))
            session_say(s, SESSION_WARNING, "node %s: %s%s", n->name, n->error,
                soft ? "; showing what was last recorded" : "");
        else if (n->error)
            session_say(s, SESSION_ERROR, "node %s: %s", n->name, n->error);
        if (o->verbose && n->obs)
            session_say(s, SESSION_VERBOSE, "node %s (%s): observe %.1f ms (%zu domains; %lu libvirt "
                                    "calls)", n->name, n->uri, n->t_observe * 1e3,
                n->obs->ndoms, n->obs->calls);
    }
    s->t_observe = session_now() - t0;
    if (o->verbose)
        session_say(s, SESSION_VERBOSE, "%zu node%s observed in %.1f ms (in parallel)", up,
            up == 1 ? "" : "s", s->t_observe * 1e3);
    share_records(s);
    place(s);
    /* the plan of each selected node, over what is placed on it */
    struct plan_opts po = o->plan;
    po.fleet = m;
    struct plan **parts = arena_alloc(s->a, 2 * s->nnodes * sizeof(*parts));
    const char **names = arena_alloc(s->a, 2 * s->nnodes * sizeof(*names));
    struct session_node *only = NULL;
    size_t nparts = 0, unreachable = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        if (!n->selected)
            continue;
        s->nselected++;
        only = n;
        struct keep k = { s, i };
        n->view = model_view(m, keep, &k);
        if (n->obs && (o->need & SESSION_PLAN) && o->rebalance) {
            n->plan = plan_new(n->uri, model_project_name(m));   /* only the moves */
        } else if (n->obs && (o->need & SESSION_PLAN)) {
            struct uploader upl = { s, n->name };
            po.shared_uploader = shared_uploader;
            po.uploader_payload = &upl;
            n->plan = plan_build(n->view, n->obs, &po);
            for (size_t j = 0; j < n->plan->n; j++)
                if (n->plan->v[j].kind == MODEL_VM)
                    n->plan->v[j].placement = placement_of(s, n->plan->v[j].name);
        }
        unreachable += !n->obs;
        parts[nparts] = n->plan;
        names[nparts++] = n->name;
    }
    /* the deletion guard is the run's: plan again with the other nodes'
     * deletions counted when there are deletions on more than one node */
    size_t del_total = 0, del_nodes = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct plan *p = s->nodes[i].plan;
        size_t d = p ? p->count[PLAN_DELETE] + p->refused : 0;
        del_total += d;
        del_nodes += d > 0;
    }
    for (size_t i = 0, k = 0; del_nodes > 1 && i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        if (!n->selected)
            continue;
        k++;
        if (!n->plan || o->rebalance)
            continue;
        struct plan_opts po2 = po;
        struct uploader upl = { s, n->name };
        po2.shared_uploader = shared_uploader;
        po2.uploader_payload = &upl;
        po2.fleet_deletions = del_total - (n->plan->count[PLAN_DELETE] + n->plan->refused);
        plan_free(n->plan);
        n->plan = plan_build(n->view, n->obs, &po2);
        for (size_t j = 0; j < n->plan->n; j++)
            if (n->plan->v[j].kind == MODEL_VM)
                n->plan->v[j].placement = placement_of(s, n->plan->v[j].name);
        parts[k - 1] = n->plan;
    }
    size_t nmoves = (o->need & SESSION_PLAN) ? plan_moves(s) : 0;
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].moves) {
            parts[nparts] = s->nodes[i].moves;
            names[nparts++] = s->nodes[i].name;
        }
    if (!up || (s->nselected == 1 && !only->obs)) {
        if (!soft)
            return fail(s, only && only->error ? only->error : "no node could be reached");
        if (s->nselected == 1) {
            s->uri = only->uri;
            s->node = only->name;
        }
        return SESSION_OK;
    }
    if (s->nselected == 1) {
        s->v = only->v;
        s->obs = only->obs;
        s->uri = only->uri;
        s->node = only->name;
        if (!nmoves)
            s->plan = only->plan;
    }
    if (!(o->need & SESSION_PLAN))
        return SESSION_OK;
    if (s->nselected > 1 || nmoves) {
        s->plan = plan_merge(parts, names, nparts, model_project_name(m));
        s->plan_merged = true;
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct session_node *n = &s->nodes[i];
        if (n->selected && n->fenced)
            plan_add_note(s->plan, NOTE_UNREACHABLE, MODEL_NODE, n->name, NULL,
                          arena_printf(s->plan->arena, "fenced: nothing is placed on it; its "
                                       "HA VMs are started elsewhere, the others wait for it "
                                       "(%zu stay%s placed there)", n->vms,
                                       n->vms == 1 ? "s" : ""));
        else if (n->selected && !n->obs)
            plan_add_note(s->plan, NOTE_UNREACHABLE, MODEL_NODE, n->name, NULL,
                          n->vms ? arena_printf(s->plan->arena, "unreachable (%s): nothing on it "
                                                "is changed this run; its %zu VM%s stay%s "
                                                "placed there", n->error, n->vms,
                                                n->vms == 1 ? "" : "s", n->vms == 1 ? "s" : "")
                                 : arena_printf(s->plan->arena, "unreachable (%s): nothing on it "
                                                "is changed, and no VM is placed on it this run",
                                                n->error));
    }
    for (size_t i = 0; i < m->len[MODEL_VM]; i++) {
        const struct place_out *p = &s->placed[i];
        const char *name = m->objs[MODEL_VM][i]->meta.name;
        if (p->node < 0)
            plan_add_note(s->plan, NOTE_UNSCHEDULABLE, MODEL_VM, name, NULL,
                          arena_printf(s->plan->arena, "unschedulable: %s", p->reason));
        else if (s->moves[i])
            plan_add_note(s->plan, NOTE_BLOCKED, MODEL_VM, name, s->nodes[p->node].name,
                          s->moves[i]);
        else if (s->failover_no[i])
            plan_add_note(s->plan, NOTE_BLOCKED, MODEL_VM, name, s->nodes[p->node].name,
                          s->failover_no[i]);
        if (s->copies[i] && strchr(s->copies[i], ','))
            plan_add_note(s->plan, NOTE_BLOCKED, MODEL_VM, name, NULL,
                          arena_printf(s->plan->arena, "defined on several nodes (%s): the "
                                       "running copy (else the first) is the one reconciled; "
                                       "the others are left alone, never started: undefine "
                                       "them by hand once you know which is right",
                                       s->copies[i]));
    }
    (void)unreachable;
    if (s->run && s->uri)
        store_run_set_node(s->st, s->run, s->uri, err, sizeof(err));
    return SESSION_OK;
}

void fleet_close(struct session *s)
{
    if (!s->nodes)
        return;                   /* one host: the session's own are freed by it */
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        plan_free(n->plan);
        observe_free(n->obs);
        owned_free(n->own);
        virt_close(n->v);
        model_free(n->view);
        virt_cpu_use_free(n->cpu, n->ncpu);
        free((char *)n->cpu_error);
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        plan_free(s->nodes[i].moves);
        model_free(s->nodes[i].moves_view);
    }
    if (s->plan_merged)
        plan_free(s->plan);
    s->plan = NULL;
    s->obs = NULL;
    s->v = NULL;
}
