/* place.c — which node each VM runs on. See place.h. */
#include "place.h"

#include "arena.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool listed(const struct model_strings *s, const char *node)
{
    if (!s->n)
        return true;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], node) == 0)
            return true;
    return false;
}

bool place_network_on(const struct model_network *n, const char *node)
{
    return listed(&n->spec.nodes, node);
}

bool place_pool_on(const struct model_pool *p, const char *node)
{
    return listed(&p->spec.nodes, node);
}

/* The first Policy (by name) whose selector matches the VM and that sets
 * the given part, or NULL. */
static const struct model_policy *policy_for(const struct model *m, const struct model_vm *vm,
                                             size_t hdr_offset)
{
    for (size_t i = 0; i < m->len[MODEL_POLICY]; i++) {
        const struct model_policy *p = (const struct model_policy *)m->objs[MODEL_POLICY][i];
        const struct model_hdr *h = (const struct model_hdr *)((const char *)&p->spec + hdr_offset);
        if (h->set && model_labels_match(&p->spec.selector, &vm->obj.meta.labels))
            return p;
    }
    return NULL;
}

bool place_cold_moves(const struct model *m, const struct model_vm *vm)
{
    const struct model_policy *p = policy_for(m, vm, offsetof(struct policy_spec, placement));
    return p && p->spec.placement.cold_moves;
}

const struct policy_ha *place_ha(const struct model *m, const struct model_vm *vm)
{
    const struct model_policy *p = policy_for(m, vm, offsetof(struct policy_spec, ha));
    return p ? &p->spec.ha : NULL;
}

int64_t place_priority(const struct model *m, const struct model_vm *vm)
{
    const struct model_policy *p = policy_for(m, vm, offsetof(struct policy_spec, ha));
    return p ? p->spec.ha.priority : 0;
}

struct need {
    size_t *idx;              /* indices into a node-availability table */
    size_t n;
};

struct pvm {
    const struct model_vm *vm;
    size_t i;                 /* index in m->objs[MODEL_VM] */
    int64_t prio;
    const struct model_policy *placement;
    struct need nets, pools;
    size_t *groups;           /* anti-affinity groups (Policies) it is in */
    size_t ngroups;
};

struct st {
    struct arena *a;
    const struct place_input *in;
    size_t nn;
    int64_t *cpus;            /* used per node */
    uint64_t *mem;
    double *use;              /* measured CPU use per node (rebalance) */
    bool *net_on, *pool_on;   /* [network or pool][node] */
    size_t nnet, npool;
    unsigned *grp;            /* [group][node]: members placed there */
    size_t ngrp;
    const struct model_policy **grp_policy;
    const struct model_labels **aff;      /* every affinity label set of every Policy */
    const struct model_policy **aff_policy;
    size_t naff;
    unsigned *aff_count;      /* [set][node]: VMs matching it placed there */
};

static void need_add(struct arena *a, struct need *n, size_t idx)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->idx[i] == idx)
            return;
    size_t *v = arena_alloc(a, (n->n + 1) * sizeof(*v));
    if (n->n)
        memcpy(v, n->idx, n->n * sizeof(*v));
    v[n->n++] = idx;
    n->idx = v;
}

static long obj_index(const struct model *m, enum model_kind k, const char *name)
{
    const struct model_object *o = model_find(m, k, name);
    if (!o)
        return -1;
    for (size_t i = 0; i < m->len[k]; i++)
        if (m->objs[k][i] == o)
            return (long)i;
    return -1;
}

static void describe_vm(struct st *s, struct pvm *p)
{
    const struct model *m = s->in->m;
    const struct model_vm *vm = p->vm;
    for (size_t j = 0; j < vm->spec.nics.n; j++) {
        long ni = obj_index(m, MODEL_NETWORK, vm->spec.nics.v[j].network);
        if (ni >= 0)
            need_add(s->a, &p->nets, (size_t)ni);
    }
    for (size_t j = 0; j < vm->spec.disks.n; j++) {
        const struct model_disk *d =
            (const struct model_disk *)model_find(m, MODEL_DISK, vm->spec.disks.v[j].disk);
        if (!d)
            continue;
        long pi = obj_index(m, MODEL_POOL, d->spec.pool);
        if (pi >= 0)
            need_add(s->a, &p->pools, (size_t)pi);
        const struct model_image *im = d->spec.from.image
            ? (const struct model_image *)model_find(m, MODEL_IMAGE, d->spec.from.image) : NULL;
        if (im && (pi = obj_index(m, MODEL_POOL, im->spec.pool)) >= 0)
            need_add(s->a, &p->pools, (size_t)pi);
    }
    p->prio = place_priority(m, vm);
    p->placement = policy_for(m, vm, offsetof(struct policy_spec, placement));
    for (size_t g = 0; g < s->ngrp; g++)
        if (model_labels_match(&s->grp_policy[g]->spec.selector, &vm->obj.meta.labels)) {
            size_t *v = arena_alloc(s->a, (p->ngroups + 1) * sizeof(*v));
            if (p->ngroups)
                memcpy(v, p->groups, p->ngroups * sizeof(*v));
            v[p->ngroups++] = g;
            p->groups = v;
        }
}

static void setup(struct st *s)
{
    const struct model *m = s->in->m;
    size_t nn = s->nn;
    s->cpus = arena_alloc(s->a, (nn + 1) * sizeof(*s->cpus));
    s->mem = arena_alloc(s->a, (nn + 1) * sizeof(*s->mem));
    s->use = arena_alloc(s->a, (nn + 1) * sizeof(*s->use));
    for (size_t n = 0; n < nn; n++) {
        s->cpus[n] = s->in->nodes[n].used_cpus;
        s->mem[n] = s->in->nodes[n].used_memory;
        s->use[n] = s->in->nodes[n].cpu_use > 0 ? s->in->nodes[n].cpu_use : 0;
    }
    s->nnet = m->len[MODEL_NETWORK];
    s->npool = m->len[MODEL_POOL];
    s->net_on = arena_alloc(s->a, (s->nnet * nn + 1) * sizeof(bool));
    s->pool_on = arena_alloc(s->a, (s->npool * nn + 1) * sizeof(bool));
    for (size_t i = 0; i < s->nnet; i++)
        for (size_t n = 0; n < nn; n++)
            s->net_on[i * nn + n] = place_network_on(
                (const struct model_network *)m->objs[MODEL_NETWORK][i], s->in->nodes[n].name);
    for (size_t i = 0; i < s->npool; i++)
        for (size_t n = 0; n < nn; n++)
            s->pool_on[i * nn + n] = place_pool_on(
                (const struct model_pool *)m->objs[MODEL_POOL][i], s->in->nodes[n].name);
    size_t np = m->len[MODEL_POLICY];
    s->grp_policy = arena_alloc(s->a, (np + 1) * sizeof(*s->grp_policy));
    for (size_t i = 0; i < np; i++) {
        const struct model_policy *p = (const struct model_policy *)m->objs[MODEL_POLICY][i];
        if (p->spec.placement.anti_affinity)
            s->grp_policy[s->ngrp++] = p;
        s->naff += p->spec.placement.affinity.n;
    }
    s->grp = arena_alloc(s->a, (s->ngrp * nn + 1) * sizeof(*s->grp));
    s->aff = arena_alloc(s->a, (s->naff + 1) * sizeof(*s->aff));
    s->aff_policy = arena_alloc(s->a, (s->naff + 1) * sizeof(*s->aff_policy));
    s->naff = 0;
    for (size_t i = 0; i < np; i++) {
        const struct model_policy *p = (const struct model_policy *)m->objs[MODEL_POLICY][i];
        for (size_t j = 0; j < p->spec.placement.affinity.n; j++) {
            s->aff_policy[s->naff] = p;
            s->aff[s->naff++] = &p->spec.placement.affinity.v[j];
        }
    }
    s->aff_count = arena_alloc(s->a, (s->naff * nn + 1) * sizeof(*s->aff_count));
}

static double vm_use(const struct st *s, const struct pvm *p)
{
    const double *u = s->in->vm_cpu_use;
    return u && u[p->i] > 0 ? u[p->i] : 0;
}

static void take(struct st *s, const struct pvm *p, size_t n)
{
    s->cpus[n] += p->vm->spec.max_cpus;
    s->mem[n] += p->vm->spec.max_memory;
    s->use[n] += vm_use(s, p);
    for (size_t g = 0; g < p->ngroups; g++)
        s->grp[p->groups[g] * s->nn + n]++;
    for (size_t k = 0; k < s->naff; k++)
        if (model_labels_match(s->aff[k], &p->vm->obj.meta.labels))
            s->aff_count[k * s->nn + n]++;
}

static const char *mib(struct arena *a, uint64_t bytes)
{
    if (bytes % (1ULL << 30) == 0 && bytes)
        return arena_printf(a, "%llu GiB", (unsigned long long)(bytes >> 30));
    return arena_printf(a, "%llu MiB", (unsigned long long)(bytes >> 20));
}

static const char *labels_str(struct arena *a, const struct model_labels *l)
{
    const char *s = "";
    for (size_t i = 0; i < l->n; i++)
        s = arena_printf(a, "%s%s%s=%s", s, i ? "," : "", l->v[i].key, l->v[i].value);
    return s;
}

/* Can the VM be on node n? NULL, or why not (in a, only when a is given:
 * the fast path builds no strings). `staying`: it is there already, so
 * capacity is not checked. */
static const char *refuse(struct st *s, const struct pvm *p, size_t n, bool staying,
                          struct arena *a, bool *no)
{
    const struct place_node *nd = &s->in->nodes[n];
    const struct model_vm *vm = p->vm;
    *no = true;
    if (vm->spec.node && strcmp(vm->spec.node, nd->name) != 0)
        return a ? arena_printf(a, "the VM is pinned to %s", vm->spec.node) : "";
    if (nd->maintenance)
        return "in maintenance";
    if (!staying && !nd->up)
        return "not reachable this run";
    if (vm->spec.node_selector.n && !model_labels_match(&vm->spec.node_selector, nd->labels))
        return a ? arena_printf(a, "nodeSelector %s does not match its labels",
                                labels_str(a, &vm->spec.node_selector)) : "";
    for (size_t i = 0; i < p->nets.n; i++)
        if (!s->net_on[p->nets.idx[i] * s->nn + n])
            return a ? arena_printf(a, "network %s is not defined there",
                                    s->in->m->objs[MODEL_NETWORK][p->nets.idx[i]]->meta.name) : "";
    for (size_t i = 0; i < p->pools.n; i++)
        if (!s->pool_on[p->pools.idx[i] * s->nn + n])
            return a ? arena_printf(a, "pool %s is not defined there",
                                    s->in->m->objs[MODEL_POOL][p->pools.idx[i]]->meta.name) : "";
    for (size_t g = 0; g < p->ngroups; g++)
        if (s->grp[p->groups[g] * s->nn + n])
            return a ? arena_printf(a, "anti-affinity (Policy %s): one of its VMs is there",
                                    s->grp_policy[p->groups[g]]->obj.meta.name) : "";
    if (!staying) {
        if (s->cpus[n] + vm->spec.max_cpus > nd->cpus)
            return a ? arena_printf(a, "not enough cpus (needs %lld, %lld of %lld free)",
                                    (long long)vm->spec.max_cpus,
                                    (long long)(nd->cpus > s->cpus[n] ? nd->cpus - s->cpus[n] : 0),
                                    (long long)nd->cpus) : "";
        if (s->mem[n] + vm->spec.max_memory > nd->memory)
            return a ? arena_printf(a, "not enough memory (needs %s, %s of %s free)",
                                    mib(a, vm->spec.max_memory),
                                    mib(a, nd->memory > s->mem[n] ? nd->memory - s->mem[n] : 0),
                                    mib(a, nd->memory)) : "";
    }
    *no = false;
    return NULL;
}

static bool affine(const struct st *s, const struct pvm *p, size_t n)
{
    if (!p->placement)
        return false;
    for (size_t k = 0; k < s->naff; k++)
        if (s->aff_policy[k] == p->placement && s->aff_count[k * s->nn + n])
            return true;
    return false;
}

/* The free fraction after placing: the smaller of cpus and memory. */
static double free_after(const struct st *s, const struct pvm *p, size_t n)
{
    const struct place_node *nd = &s->in->nodes[n];
    double fc = nd->cpus > 0 ? (double)(nd->cpus - s->cpus[n] - p->vm->spec.max_cpus) /
                               (double)nd->cpus : 0;
    double fm = nd->memory > 0 ? ((double)nd->memory - (double)s->mem[n] -
                                  (double)p->vm->spec.max_memory) / (double)nd->memory : 0;
    return fc < fm ? fc : fm;
}

static int cmp_order(const void *pa, const void *pb)
{
    const struct pvm *a = pa, *b = pb;
    bool pa_ = a->vm->spec.node != NULL, pb_ = b->vm->spec.node != NULL;
    if (pa_ != pb_)
        return pa_ ? -1 : 1;          /* pinned first: they have one choice */
    if (a->prio != b->prio)
        return a->prio > b->prio ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static const char *strategy_name(const struct pvm *p)
{
    return p->placement && p->placement->spec.placement.strategy == POLICY_PACK ? "pack"
                                                                                : "spread";
}

void place_vms(struct arena *a, const struct place_input *in, struct place_out *out)
{
    const struct model *m = in->m;
    size_t nv = m->len[MODEL_VM];
    struct st s = { .a = a, .in = in, .nn = in->nn };
    setup(&s);
    struct pvm *v = arena_alloc(a, (nv + 1) * sizeof(*v));
    for (size_t i = 0; i < nv; i++) {
        v[i].vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        v[i].i = i;
        describe_vm(&s, &v[i]);
        out[i] = (struct place_out){ -1, in->current ? in->current[i] : -1, NULL, NULL };
    }
    /* the VMs that stay, by name */
    bool *done = arena_alloc(a, (nv + 1) * sizeof(bool));
    for (size_t i = 0; i < nv; i++) {
        long cur = out[i].from;
        bool no;
        if (cur < 0)
            continue;
        if (refuse(&s, &v[i], (size_t)cur, true, NULL, &no)) {
            out[i].left = arena_printf(a, "%s: %s", in->nodes[cur].name,
                                       refuse(&s, &v[i], (size_t)cur, true, a, &no));
            if (!in->stuck || !in->stuck[i])
                continue;
        }
        take(&s, &v[i], (size_t)cur);
        out[i].node = cur;
        const char *why = in->current_reason ? in->current_reason[i] : NULL;
        out[i].reason = out[i].left ? "stays where it is defined (a move is pending)"
                        : why && *why ? why : "stays where it is defined";
        done[i] = true;
    }
    /* the others, by priority then name */
    struct pvm *order = arena_alloc(a, (nv + 1) * sizeof(*order));
    size_t no_ = 0;
    for (size_t i = 0; i < nv; i++)
        if (!done[i])
            order[no_++] = v[i];
    qsort(order, no_, sizeof(*order), cmp_order);
    for (size_t k = 0; k < no_; k++) {
        struct pvm *p = &order[k];
        struct place_out *o = &out[p->i];
        bool pack = p->placement && p->placement->spec.placement.strategy == POLICY_PACK;
        long best = -1;
        bool best_aff = false;
        double best_free = 0;
        for (size_t n = 0; n < s.nn; n++) {
            bool no;
            refuse(&s, p, n, false, NULL, &no);
            if (no)
                continue;
            bool af = affine(&s, p, n);
            double f = free_after(&s, p, n);
            if (best < 0 || (af && !best_aff) ||
                (af == best_aff && (pack ? f < best_free : f > best_free))) {
                best = (long)n;
                best_aff = af;
                best_free = f;
            }
        }
        if (best >= 0) {
            take(&s, p, (size_t)best);
            o->node = best;
            const struct place_node *nd = &in->nodes[best];
            const char *why = p->vm->spec.node ? "pinned (spec.node)"
                                               : arena_printf(a, "%s: %s", strategy_name(p),
                                                              pack ? "the fullest node that fits"
                                                                   : "the most free node that fits");
            if (best_aff)
                why = arena_printf(a, "%s, affinity (Policy %s)", why,
                                   p->placement->obj.meta.name);
            o->reason = arena_printf(a, "%s; %lld/%lld cpus, %s/%s memory allocated with it",
                                     why, (long long)s.cpus[best], (long long)nd->cpus,
                                     mib(a, s.mem[best]), mib(a, nd->memory));
            continue;
        }
        const char *all = "";
        for (size_t n = 0; n < s.nn; n++) {
            bool no;
            const char *r = refuse(&s, p, n, false, a, &no);
            all = arena_printf(a, "%s%s%s: %s", all, n ? "; " : "", in->nodes[n].name, r);
        }
        o->reason = s.nn ? all : "no nodes";
    }
}

/* ---- rebalance ---- */

static void untake(struct st *s, const struct pvm *p, size_t n)
{
    s->cpus[n] -= p->vm->spec.max_cpus;
    s->mem[n] -= p->vm->spec.max_memory;
    s->use[n] -= vm_use(s, p);
    for (size_t g = 0; g < p->ngroups; g++)
        s->grp[p->groups[g] * s->nn + n]--;
    for (size_t k = 0; k < s->naff; k++)
        if (model_labels_match(s->aff[k], &p->vm->obj.meta.labels))
            s->aff_count[k * s->nn + n]--;
}

/* Measured CPU use of node n with du more (a fraction of its CPUs), or -1. */
static double use_of(const struct st *s, size_t n, double du)
{
    const struct place_node *nd = &s->in->nodes[n];
    if (nd->cpu_use < 0 || nd->host_cpus <= 0)
        return -1;
    double u = (s->use[n] + du) / (double)nd->host_cpus;
    return u > 0 ? u : 0;
}

/* The load of node n with dc cpus, dm bytes and du measured CPUs more. */
static double load(const struct st *s, size_t n, int64_t dc, int64_t dm, double du)
{
    const struct place_node *nd = &s->in->nodes[n];
    double c = nd->cpus > 0 ? (double)(s->cpus[n] + dc) / (double)nd->cpus : 0;
    double m = nd->memory > 0 ? ((double)s->mem[n] + (double)dm) / (double)nd->memory : 0;
    double u = use_of(s, n, du);
    double l = c > m ? c : m;
    return u > l ? u : l;
}

size_t place_rebalance(struct arena *a, const struct place_input *in,
                       const struct place_out *placed, const bool *movable, double threshold,
                       struct place_move **out, struct place_load **loads)
{
    const struct model *m = in->m;
    size_t nv = m->len[MODEL_VM], nn = in->nn, nmoves = 0;
    struct st s = { .a = a, .in = in, .nn = nn };
    setup(&s);
    struct pvm *v = arena_alloc(a, (nv + 1) * sizeof(*v));
    long *at = arena_alloc(a, (nv + 1) * sizeof(*at));
    for (size_t i = 0; i < nv; i++) {
        v[i].vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        v[i].i = i;
        describe_vm(&s, &v[i]);
        at[i] = placed[i].node;
        if (at[i] >= 0)
            take(&s, &v[i], (size_t)at[i]);
    }
    *loads = arena_alloc(a, (nn + 1) * sizeof(**loads));
    for (size_t n = 0; n < nn; n++) {
        (*loads)[n].before = load(&s, n, 0, 0, 0);
        (*loads)[n].use_before = use_of(&s, n, 0);
    }
    *out = arena_alloc(a, (nv + 1) * sizeof(**out));
    for (size_t round = 0; round < nv; round++) {
        long src = -1;
        double worst = threshold;
        for (size_t n = 0; n < nn; n++)
            if (in->nodes[n].up && load(&s, n, 0, 0, 0) > worst) {
                worst = load(&s, n, 0, 0, 0);
                src = (long)n;
            }
        if (src < 0)
            break;
        long best_vm = -1, best_to = -1;
        double best = 0, best_src = 0, best_dst = 0;
        for (size_t i = 0; i < nv; i++) {
            if (at[i] != src || !movable[i] || v[i].vm->spec.node)
                continue;
            int64_t c = v[i].vm->spec.max_cpus;
            int64_t mm = (int64_t)v[i].vm->spec.max_memory;
            double u = vm_use(&s, &v[i]);
            double after_src = load(&s, (size_t)src, -c, -mm, -u);
            untake(&s, &v[i], (size_t)src);     /* its own anti-affinity group */
            for (size_t t = 0; t < nn; t++) {
                bool no;
                if ((long)t == src)
                    continue;
                refuse(&s, &v[i], t, false, NULL, &no);
                double after_t = load(&s, t, c, mm, u);
                if (no || after_t > threshold)
                    continue;
                double score = after_src > after_t ? after_src : after_t;
                /* ties: the emptier target (spread the load) */
                if (best_vm < 0 || score < best - 1e-12 ||
                    (score < best + 1e-12 && after_t < best_dst - 1e-12)) {
                    best = score;
                    best_vm = (long)i;
                    best_to = (long)t;
                    best_src = after_src;
                    best_dst = after_t;
                }
            }
            take(&s, &v[i], (size_t)src);
        }
        if (best_vm < 0)
            break;                        /* nothing helps: what is left is reported */
        struct place_move *mv = &(*out)[nmoves++];
        *mv = (struct place_move){ (size_t)best_vm, src, best_to, worst > 1.0 ? 1 : 2, worst,
                                   best_src, load(&s, (size_t)best_to, 0, 0, 0), best_dst };
        untake(&s, &v[best_vm], (size_t)src);
        take(&s, &v[best_vm], (size_t)best_to);
        at[best_vm] = best_to;
    }
    for (size_t n = 0; n < nn; n++) {
        (*loads)[n].after = load(&s, n, 0, 0, 0);
        (*loads)[n].use_after = use_of(&s, n, 0);
    }
    return nmoves;
}
