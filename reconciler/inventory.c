/* inventory.c — desired joined with observed and stored. See inventory.h.
 *
 * Rows are merged by (kind, name): every source adds candidates to one
 * array, which is sorted once; equal neighbours become one row. The SYNC of
 * a row comes from the plan (its actions and notes) through a sorted
 * lookup, so building is O(n log n) for a node of thousands of objects.
 */
#include "inventory.h"

#include "apply.h"
#include "arena.h"
#include "diff.h"
#include "encode.h"
#include "jsondoc.h"
#include "observe.h"
#include "plan.h"
#include "schema.h"
#include "store.h"
#include "text.h"
#include "tree.h"
#include "vec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum source { SRC_WANT, SRC_SEEN, SRC_STORED };

struct cand {
    enum model_kind kind;
    const char *name;
    enum source src;
    const void *p;
    const char *pool;
};

struct verdict {
    enum model_kind kind;
    const char *name;
    enum inventory_sync sync;
    int rank;              /* higher wins when an object has several actions or notes */
};

const char *inventory_sync_name(enum inventory_sync s)
{
    switch (s) {
    case INVENTORY_UNKNOWN: return "Unknown";
    case INVENTORY_SYNCED: return "Synced";
    case INVENTORY_OUT_OF_SYNC: return "OutOfSync";
    case INVENTORY_RESTART_PENDING: return "RestartPending";
    case INVENTORY_MISSING: return "Missing";
    case INVENTORY_CONFLICT: return "Conflict";
    case INVENTORY_BLOCKED: return "Blocked";
    case INVENTORY_STALE: return "Stale";
    case INVENTORY_ORPHAN: return "Orphan";
    case INVENTORY_FOREIGN: return "Foreign";
    case INVENTORY_UNSUPPORTED: return "Unsupported";
    case INVENTORY_FAILED: return "Failed";
    case INVENTORY_DELETED: return "Deleted";
    case INVENTORY_UNSCHEDULABLE: return "Unschedulable";
    case INVENTORY_SYNC_COUNT: break;
    }
    return "Unknown";
}

enum inventory_sync inventory_sync_parse(const char *word)
{
    for (int i = 0; word && i < INVENTORY_SYNC_COUNT; i++)
        if (strcmp(word, inventory_sync_name((enum inventory_sync)i)) == 0)
            return (enum inventory_sync)i;
    return INVENTORY_UNKNOWN;
}

static int cmp_key(enum model_kind ka, const char *na, enum model_kind kb, const char *nb)
{
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return strcmp(na, nb);
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = cmp_key(x->kind, x->name, y->kind, y->name);
    return c ? c : (int)x->src - (int)y->src;
}

static int cmp_verdict(const void *a, const void *b)
{
    const struct verdict *x = a, *y = b;
    return cmp_key(x->kind, x->name, y->kind, y->name);
}

static enum inventory_sync verb_sync(enum plan_verb verb, int *rank)
{
    switch (verb) {
    case PLAN_CREATE: *rank = 9; return INVENTORY_MISSING;
    case PLAN_ADOPT: *rank = 8; return INVENTORY_CONFLICT;
    case PLAN_DELETE: *rank = 5; return INVENTORY_STALE;
    default: *rank = 6; return INVENTORY_OUT_OF_SYNC;
    }
}

static enum inventory_sync note_sync(enum plan_note_type t, int *rank)
{
    switch (t) {
    case NOTE_CONFLICT: *rank = 8; return INVENTORY_CONFLICT;
    case NOTE_BLOCKED: *rank = 7; return INVENTORY_BLOCKED;
    case NOTE_RESTART_PENDING: *rank = 3; return INVENTORY_RESTART_PENDING;
    case NOTE_PRUNE_SKIPPED:
    case NOTE_PROTECTED: *rank = 5; return INVENTORY_STALE;
    case NOTE_UNSUPPORTED: *rank = 2; return INVENTORY_UNSUPPORTED;
    case NOTE_REFUSED: *rank = 7; return INVENTORY_BLOCKED;
    case NOTE_UNSCHEDULABLE: *rank = 9; return INVENTORY_UNSCHEDULABLE;
    case NOTE_UNREACHABLE: *rank = 1; return INVENTORY_UNKNOWN;
    }
    *rank = 0;
    return INVENTORY_UNKNOWN;
}

static const char *vm_state(const struct obs_domain *d)
{
    if (!d->active)
        return "shut off";
    return d->paused ? "paused" : "running";
}

struct inventory *inventory_build(const char *node, const char *uri, const struct model *m,
                                  const struct obs_host *obs, const struct plan *p,
                                  const struct store_object *stored, size_t nstored)
{
    struct inventory *inv = xcalloc(1, sizeof(*inv));
    inv->arena = arena_new();
    inv->node = arena_strdup(inv->arena, node ? node : "");
    inv->uri = arena_strdup(inv->arena, uri ? uri : "");
    inv->observed = obs != NULL;
    inv->obs = obs;
    VEC(struct cand) cands = { 0 };

    if (m)
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            for (size_t i = 0; i < m->len[k]; i++) {
                const struct model_object *o = m->objs[k][i];
                const char *pool = k == MODEL_DISK ? ((const struct model_disk *)o)->spec.pool
                                                   : NULL;
                *vec_push(&cands) = (struct cand){ k, o->meta.name, SRC_WANT, o, pool };
            }
    if (obs) {
        for (size_t i = 0; i < obs->ndoms; i++)
            *vec_push(&cands) = (struct cand){ MODEL_VM, obs->doms[i].name, SRC_SEEN,
                                               &obs->doms[i], NULL };
        for (size_t i = 0; i < obs->nnets; i++)
            *vec_push(&cands) = (struct cand){ MODEL_NETWORK, obs->nets[i].name, SRC_SEEN,
                                               &obs->nets[i], NULL };
        for (size_t i = 0; i < obs->npools; i++) {
            const struct obs_pool *op = &obs->pools[i];
            *vec_push(&cands) = (struct cand){ MODEL_POOL, op->name, SRC_SEEN, op, NULL };
            for (size_t j = 0; j < op->nvols; j++)
                *vec_push(&cands) = (struct cand){ MODEL_DISK, op->vols[j].name, SRC_SEEN,
                                                   &op->vols[j], op->name };
        }
    }
    /* the node itself, declared or not */
    if (obs && node && *node)
        *vec_push(&cands) = (struct cand){ MODEL_NODE, inv->node, SRC_SEEN, NULL, NULL };
    for (size_t i = 0; i < nstored; i++) {
        int k = inventory_kind(stored[i].kind);
        if (k >= 0)
            *vec_push(&cands) = (struct cand){ k, stored[i].name, SRC_STORED, &stored[i],
                                               NULL };
    }
    struct cand *c = cands.v;
    size_t nc = cands.n;
    if (nc)
        qsort(c, nc, sizeof(*c), cmp_cand);

    VEC(struct verdict) verdicts = { 0 };
    if (p) {
        int rank;
        for (size_t i = 0; i < p->n; i++) {
            enum inventory_sync s = verb_sync(p->v[i].verb, &rank);
            *vec_push(&verdicts) = (struct verdict){ p->v[i].kind, p->v[i].name, s, rank };
        }
        for (size_t i = 0; i < p->nnotes; i++) {
            enum inventory_sync s = note_sync(p->notes[i].type, &rank);
            *vec_push(&verdicts) = (struct verdict){ p->notes[i].kind, p->notes[i].name, s,
                                                     rank };
        }
        for (size_t i = 0; i < p->nforeign; i++)
            *vec_push(&verdicts) = (struct verdict){ p->foreign[i].kind, p->foreign[i].name,
                                                     INVENTORY_FOREIGN, 1 };
    }
    struct verdict *vd = verdicts.v;
    size_t nv = verdicts.n;
    if (nv)
        qsort(vd, nv, sizeof(*vd), cmp_verdict);

    inv->v = arena_alloc(inv->arena, (nc + 1) * sizeof(*inv->v));
    for (size_t i = 0; i < nc;) {
        struct inventory_row *r = &inv->v[inv->n++];
        r->kind = c[i].kind;
        r->name = c[i].name;
        r->node = inv->node;
        r->uri = inv->uri;
        r->obs = obs;
        r->cpus = r->memory = -1;
        r->state = "-";
        const struct store_object *so = NULL;
        bool declared = false, seen = false;
        for (; i < nc && c[i].kind == r->kind && strcmp(c[i].name, r->name) == 0; i++) {
            switch (c[i].src) {
            case SRC_WANT:
                declared = true;
                r->want = c[i].p;
                r->pool = c[i].pool;
                break;
            case SRC_SEEN:
                seen = true;
                if (!r->pool)
                    r->pool = c[i].pool;
                switch (r->kind) {
                case MODEL_VM: {
                    const struct obs_domain *d = c[i].p;
                    r->seen = &d->vm->obj;
                    r->state = vm_state(d);
                    break;
                }
                case MODEL_NETWORK: {
                    const struct obs_network *n = c[i].p;
                    r->seen = n->net ? &n->net->obj : NULL;
                    r->state = n->active ? "active" : "inactive";
                    break;
                }
                case MODEL_POOL: {
                    const struct obs_pool *op = c[i].p;
                    r->seen = op->pool ? &op->pool->obj : NULL;
                    r->state = op->active ? "active" : "inactive";
                    break;
                }
                case MODEL_DISK: {
                    const struct obs_volume *ov = c[i].p;
                    r->seen = ov->disk ? &ov->disk->obj : NULL;
                    r->state = "present";
                    break;
                }
                default:
                    break;
                }
                break;
            case SRC_STORED:
                so = c[i].p;
                break;
            }
        }
        if (so) {
            r->stored = true;
            r->created = so->created;
            r->stored_spec = so->spec;
        }
        if (!seen && obs && (r->kind == MODEL_VM || r->kind == MODEL_NETWORK ||
                             r->kind == MODEL_POOL || r->kind == MODEL_DISK))
            r->state = declared ? "missing" : "gone";
        else if (!seen && !obs && so)
            r->state = so->state;       /* not reachable: the last thing seen */
        if (r->kind == MODEL_NODE) {
            /* only the node this run connected to was seen */
            const struct model_node *nd = (const struct model_node *)r->want;
            bool here = obs && (seen || (nd && nd->spec.uri && strcmp(nd->spec.uri, inv->uri) == 0));
            r->state = here ? "ready" : so && so->state && *so->state ? so->state : "-";
        }
        const struct model_vm *vm = (const struct model_vm *)(r->seen ? r->seen : r->want);
        if (r->kind == MODEL_VM && vm) {
            r->cpus = vm->spec.cpus;
            r->memory = (long long)vm->spec.memory;
        } else if (r->kind == MODEL_VM && so) {
            r->cpus = so->cpus;
            r->memory = so->memory;
        }
        /* SYNC */
        struct verdict key = { r->kind, r->name, INVENTORY_UNKNOWN, 0 }, *hit = NULL;
        if (nv)
            hit = bsearch(&key, vd, nv, sizeof(*vd), cmp_verdict);
        if (hit) {
            /* the highest rank among equal keys */
            struct verdict *lo = hit, *hi = hit;
            while (lo > vd && cmp_verdict(lo - 1, &key) == 0)
                lo--;
            while (hi + 1 < vd + nv && cmp_verdict(hi + 1, &key) == 0)
                hi++;
            for (hit = lo; lo <= hi; lo++)
                if (lo->rank > hit->rank)
                    hit = lo;
            r->sync = hit->sync;
        } else if (p) {
            bool part_of = r->kind == MODEL_DISK && seen && r->pool && m &&
                           plan_declared_volume(m, r->pool, r->name);
            r->sync = declared || part_of ? INVENTORY_SYNCED
                      : seen              ? INVENTORY_ORPHAN
                                          : INVENTORY_UNKNOWN;
        } else {
            r->sync = so ? inventory_sync_parse(so->sync) : INVENTORY_UNKNOWN;
        }
        if (r->kind == MODEL_POLICY || r->kind == MODEL_NODE)
            r->sync = declared || (so && so->sync && *so->sync)
                          ? (p || !so ? INVENTORY_SYNCED : inventory_sync_parse(so->sync))
                          : INVENTORY_UNKNOWN;
    }
    vec_free(&cands);
    vec_free(&verdicts);
    return inv;
}

void inventory_free(struct inventory *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->nparts; i++)
        inventory_free(inv->parts[i]);
    free(inv->parts);
    free(inv->v_owned);
    arena_free(inv->arena);
    free(inv);
}

static int cmp_row_node(const void *pa, const void *pb)
{
    const struct inventory_row *a = pa, *b = pb;
    int c = cmp_key(a->kind, a->name, b->kind, b->name);
    return c ? c : strcmp(a->node ? a->node : "", b->node ? b->node : "");
}

struct inventory *inventory_merge(struct inventory **parts, size_t n)
{
    struct inventory *inv = xcalloc(1, sizeof(*inv));
    inv->arena = arena_new();
    inv->parts = xcalloc(n + 1, sizeof(*inv->parts));
    memcpy(inv->parts, parts, n * sizeof(*parts));
    inv->nparts = n;
    inv->node = inv->uri = "";
    for (size_t i = 0; i < n; i++) {
        inv->observed |= parts[i]->observed;
        for (size_t j = 0; j < parts[i]->n; j++)
            if (parts[i]->v[j].kind != MODEL_NODE)
                *inventory_add_row(inv) = parts[i]->v[j];
    }
    inventory_sort(inv);
    return inv;
}

struct inventory_row *inventory_add_row(struct inventory *inv)
{
    if (!inv->v_owned) {
        /* rows built by inventory_build live in the arena: copy them out */
        inv->v_owned = xcalloc(inv->n + 1, sizeof(*inv->v));
        if (inv->n)
            memcpy(inv->v_owned, inv->v, inv->n * sizeof(*inv->v));
        inv->v = inv->v_owned;
        inv->v_cap = inv->n + 1;
    }
    if (inv->n == inv->v_cap) {
        inv->v_cap = inv->v_cap * 2 + 8;
        inv->v_owned = xrealloc(inv->v_owned, inv->v_cap * sizeof(*inv->v));
        inv->v = inv->v_owned;
    }
    struct inventory_row *r = &inv->v[inv->n++];
    memset(r, 0, sizeof(*r));
    r->cpus = r->memory = -1;
    r->state = "-";
    return r;
}

void inventory_sort(struct inventory *inv)
{
    if (inv->n > 1)
        qsort(inv->v, inv->n, sizeof(*inv->v), cmp_row_node);
}

static int cmp_row(const void *key, const void *row)
{
    const struct inventory_row *k = key, *r = row;
    return cmp_key(k->kind, k->name, r->kind, r->name);
}

const struct inventory_row *inventory_find(const struct inventory *inv, enum model_kind k,
                                           const char *name)
{
    struct inventory_row key = { .kind = k, .name = name };
    return inv->n ? bsearch(&key, inv->v, inv->n, sizeof(*inv->v), cmp_row) : NULL;
}

void inventory_applied(struct inventory *inv, const struct plan *p, const struct apply_result *res)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        struct inventory_row *r = (struct inventory_row *)inventory_find(inv, a->kind, a->name);
        if (!r)
            continue;
        r->applied = true;
        if (res->status[i] != APPLY_DONE || r->sync == INVENTORY_FAILED) {
            r->sync = INVENTORY_FAILED;     /* one failed action is enough */
            continue;
        }
        r->sync = a->restart_required ? INVENTORY_RESTART_PENDING : INVENTORY_SYNCED;
        switch (a->verb) {
        case PLAN_DELETE:
            r->state = "gone";
            r->sync = INVENTORY_DELETED;
            break;
        case PLAN_START:
            r->state = a->kind == MODEL_VM ? "running" : "active";
            break;
        case PLAN_STOP:
            r->state = "shut off";
            break;
        case PLAN_MIGRATE:
            r->state = "moved";
            break;
        case PLAN_CREATE:
        case PLAN_REPLACE:
            if (a->kind == MODEL_VM && r->want)
                r->state = ((const struct model_vm *)r->want)->spec.state == VM_STATE_RUNNING
                               ? "running" : "shut off";
            else if (a->kind == MODEL_DISK)
                r->state = "present";
            else
                r->state = "active";
            break;
        default:
            break;
        }
        if (a->kind == MODEL_VM && r->want) {
            const struct model_vm *vm = (const struct model_vm *)r->want;
            r->cpus = vm->spec.cpus;
            r->memory = (long long)vm->spec.memory;
        }
    }
    /* objects whose start action came after their create are covered above;
     * a created VM that should run but whose start failed stays Failed */
}

size_t inventory_snapshot(struct inventory *inv, bool with_spec, struct store_object **out)
{
    struct store_object *v = arena_alloc(inv->arena, (inv->n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *r = &inv->v[i];
        if (strcmp(r->state, "gone") == 0 && !r->want)
            continue;              /* deleted, or no longer there: forgotten */
        char *spec = NULL;
        if (r->want && with_spec) {
            struct arena *a = arena_new();
            struct tree *t = tree_get(encode_object(a, r->want), "spec");
            char *j = t ? jsondoc_string(t) : NULL;
            spec = j ? arena_strdup(inv->arena, j) : NULL;
            free(j);
            arena_free(a);
        }
        v[n++] = (struct store_object){ inv->uri, schema_kinds[r->kind].name, r->name, r->state,
                                        inventory_sync_name(r->sync), r->cpus, r->memory,
                                        NULL, spec, 0, 0 };
    }
    *out = v;
    return n;
}

int inventory_kind(const char *word)
{
    static const struct { const char *w; enum model_kind k; } words[] = {
        { "vm", MODEL_VM }, { "vms", MODEL_VM }, { "domain", MODEL_VM }, { "domains", MODEL_VM },
        { "disk", MODEL_DISK }, { "disks", MODEL_DISK }, { "volume", MODEL_DISK },
        { "volumes", MODEL_DISK }, { "network", MODEL_NETWORK }, { "networks", MODEL_NETWORK },
        { "net", MODEL_NETWORK }, { "nets", MODEL_NETWORK }, { "pool", MODEL_POOL },
        { "pools", MODEL_POOL }, { "image", MODEL_IMAGE }, { "images", MODEL_IMAGE },
        { "node", MODEL_NODE }, { "nodes", MODEL_NODE }, { "policy", MODEL_POLICY },
        { "policies", MODEL_POLICY }, { "project", MODEL_PROJECT }, { "projects", MODEL_PROJECT },
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(word, words[i].w) == 0)
            return (int)words[i].k;
    return -1;
}

/* ---- output ---- */

#define MAXCOLS TEXT_TABLE_COLS

static bool wanted(const struct inventory_row *r, enum model_kind k, const char *name)
{
    return r->kind == k && (!name || strcmp(r->name, name) == 0);
}

/* A member of a map, "-" when absent or null. */
static const char *cell(const struct tree *m, const char *key)
{
    const char *v = tree_str(m, key, NULL);
    return v && *v ? v : "-";
}

static const char *count(struct arena *a, const struct tree *spec, const char *key)
{
    const struct tree *l = spec ? tree_get(spec, key) : NULL;
    return spec ? arena_printf(a, "%u", l && l->type == TREE_SEQ ? l->len : 0) : "-";
}

/* A VM's IPv4 addresses, without their prefixes, "-" when none. */
static const char *addresses(struct arena *a, const struct tree *st)
{
    const struct tree *l = tree_get(st, "addresses");
    const char *out = "";
    for (size_t i = 0; l && l->type == TREE_SEQ && i < l->len; i++) {
        const char *ip = tree_str(l->u.items[i], "ip", NULL);
        if (ip)
            out = arena_printf(a, "%s%s%.*s", out, *out ? "," : "", (int)strcspn(ip, "/"), ip);
    }
    return *out ? out : "-";
}

/* The columns of `qkvm get` come from the very document -o json prints:
 * the object's spec (declared, or the observed one for what nobody
 * declares, or the last recorded) and its status. */
void inventory_table(FILE *out, const struct tree *doc, enum model_kind k, bool wide)
{
    struct arena *a = arena_new();
    struct text_table t = { 0 };
    static const char *const vm[] = { "NAME", "NODE", "STATE", "IP", "CPUS", "MEMORY", "SYNC",
                                      "AGE", "DISKS", "NICS", "FIRMWARE", "PLACEMENT" };
    static const char *const disk[] = { "NAME", "NODE", "POOL", "SIZE", "FORMAT", "SYNC", "AGE",
                                        "PROTECT" };
    static const char *const net[] = { "NAME", "NODE", "MODE", "CIDR", "STATE", "SYNC", "AGE",
                                       "BRIDGE" };
    static const char *const pool[] = { "NAME", "NODE", "STATE", "SYNC", "AGE", "PATH" };
    static const char *const image[] = { "NAME", "FORMAT", "POOL", "SYNC", "AGE", "URL" };
    static const char *const node[] = { "NAME", "STATE", "CPUS", "MEMORY", "VMS", "SYNC", "AGE",
                                        "URI" };
    static const char *const pol[] = { "NAME", "PRUNE", "RESTART", "DRIFT", "SYNC", "AGE",
                                       "SELECTOR" };
    static const char *const proj[] = { "NAME", "SYNC", "AGE", "MAX-DELETIONS" };
    const char *const *head;
    size_t narrow, all;
    switch (k) {
    case MODEL_VM: head = vm; narrow = 8; all = 12; break;
    case MODEL_DISK: head = disk; narrow = 7; all = 8; break;
    case MODEL_NETWORK: head = net; narrow = 7; all = 8; break;
    case MODEL_POOL: head = pool; narrow = 5; all = 6; break;
    case MODEL_IMAGE: head = image; narrow = 5; all = 6; break;
    case MODEL_NODE: head = node; narrow = 7; all = 8; break;
    case MODEL_PROJECT: head = proj; narrow = 3; all = 4; break;
    default: head = pol; narrow = 6; all = 7; break;
    }
    t.ncols = wide ? all : narrow;
    for (size_t c = 0; c < t.ncols; c++) {
        t.head[c] = head[c];
        t.cap[c] = c == 0 ? 24 : strcmp(head[c], "NODE") == 0 ? 12 : 16;
        if (strcmp(head[c], "PLACEMENT") == 0)
            t.cap[c] = 200;
    }
    const struct tree *items = tree_get(doc, "items");
    size_t n = items ? items->len : doc->type == TREE_MAP ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        const struct tree *o = items ? items->u.items[i] : doc;
        const struct tree *st = tree_get(o, "status"), *spec = tree_get(o, "spec");
        const struct tree *seen = tree_get(st, "observed");
        if (!tree_bool(st, "declared") && seen)
            spec = seen;
        if (spec && spec->type != TREE_MAP)
            spec = NULL;
        const char *name = cell(tree_get(o, "metadata"), "name"), *age = cell(st, "age");
        const char *sync = cell(st, "sync"), *state = cell(st, "state"), *nd = cell(st, "node");
        const char *cells[TEXT_TABLE_COLS] = { 0 };
        switch (k) {
        case MODEL_VM: {
            const char *c[] = { name, nd, state, addresses(a, st), cell(st, "cpus"),
                                cell(st, "memory"), sync, age, count(a, spec, "disks"),
                                count(a, spec, "nics"), cell(spec, "firmware"),
                                cell(st, "placement") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_DISK: {
            const char *c[] = { name, nd, cell(st, "pool"), cell(spec, "size"),
                                cell(spec, "format"), sync, age, cell(spec, "protect") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_NETWORK: {
            const char *c[] = { name, nd, cell(spec, "mode"), cell(spec, "cidr"), state, sync,
                                age, cell(spec, "bridge") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_POOL: {
            const char *c[] = { name, nd, state, sync, age, cell(spec, "path") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_IMAGE: {
            const char *c[] = { name, cell(spec, "format"), cell(spec, "pool"), sync, age,
                                cell(spec, "url") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_NODE: {
            const char *uri = tree_str(spec, "uri", NULL);
            const struct tree *al = tree_get(st, "allocated"), *cap = tree_get(st, "capacity");
            const char *cpus = al ? arena_printf(a, "%s/%s", cell(al, "cpus"), cell(cap, "cpus"))
                                  : "-";
            const char *mem = al ? arena_printf(a, "%s/%s", cell(al, "memory"),
                                                cell(cap, "memory")) : "-";
            if (tree_bool(st, "maintenance") && strcmp(state, "ready") == 0)
                state = "maintenance";
            const char *c[] = { name, state, cpus, mem, al ? cell(st, "vms") : "-", sync, age,
                                uri ? uri : cell(st, "uri") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        case MODEL_PROJECT: {
            const char *c[] = { name, sync, age, cell(spec, "maxDeletions") };
            memcpy(cells, c, sizeof(c));
            break;
        }
        default: {
            const struct tree *drift = spec ? tree_get(spec, "drift") : NULL;
            const struct tree *sel = spec ? tree_get(spec, "selector") : NULL;
            const char *s = "";
            for (size_t j = 0; sel && sel->type == TREE_MAP && j < sel->len; j++)
                s = arena_printf(a, "%s%s%s=%s", s, j ? "," : "", sel->u.pairs[j].key->u.str,
                                 sel->u.pairs[j].value->u.str);
            const char *c[] = { name, cell(spec, "prune"), cell(spec, "restart"),
                                cell(drift, "mode"), sync, age, *s ? s : "*" };
            memcpy(cells, c, sizeof(c));
            break;
        }
        }
        text_table_row(&t, cells);
    }
    text_table_print(out, &t, wide);
    arena_free(a);
}

struct tree *inventory_tree(struct arena *a, const struct inventory *inv, enum model_kind k,
                            const char *name, int64_t now)
{
    struct tree *items = tree_new_seq(a);
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *r = &inv->v[i];
        if (!wanted(r, k, name))
            continue;
        struct tree *o = tree_new_map(a), *meta = tree_new_map(a), *st = tree_new_map(a);
        tree_map_str(a, o, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, o, "kind", schema_kinds[k].name);
        tree_map_str(a, meta, "name", r->name);
        const struct model_labels *labels = r->want ? &r->want->meta.labels
                                            : r->seen ? &r->seen->meta.labels : NULL;
        if (labels && labels->n) {
            struct tree *lt = tree_new_map(a);
            for (size_t j = 0; j < labels->n; j++)
                tree_map_str(a, lt, labels->v[j].key, labels->v[j].value);
            tree_map_add(a, meta, "labels", lt);
        }
        tree_map_add(a, o, "metadata", meta);
        struct tree *spec = NULL;
        if (r->want)
            spec = tree_get(encode_object(a, r->want), "spec");
        else if (r->stored_spec)
            spec = jsondoc_parse(a, r->stored_spec);
        tree_map_add(a, o, "spec", spec ? spec : tree_new_null(a));
        tree_map_str(a, st, "node", r->node ? r->node : inv->node);
        tree_map_str(a, st, "uri", r->uri ? r->uri : inv->uri);
        if (r->placement)
            tree_map_str(a, st, "placement", r->placement);
        if (r->fleet_node) {
            struct tree *al = tree_new_map(a), *cap = tree_new_map(a);
            tree_map_int(a, al, "cpus", r->node_alloc_cpus);
            tree_map_str(a, al, "memory", diff_quantity(a, (uint64_t)r->node_alloc_memory));
            tree_map_int(a, cap, "cpus", r->node_cpus);
            tree_map_str(a, cap, "memory", diff_quantity(a, (uint64_t)r->node_memory));
            tree_map_add(a, st, "allocated", al);
            tree_map_add(a, st, "capacity", cap);
            tree_map_int(a, st, "vms", r->node_vms);
            tree_map_bool(a, st, "maintenance", r->maintenance);
        }
        tree_map_str(a, st, "state", r->state);
        tree_map_str(a, st, "sync", inventory_sync_name(r->sync));
        tree_map_bool(a, st, "declared", r->want != NULL);
        if (r->pool)
            tree_map_str(a, st, "pool", r->pool);
        if (r->cpus >= 0)
            tree_map_int(a, st, "cpus", r->cpus);
        if (r->memory >= 0)              /* in the spec's own units: 64MiB */
            tree_map_str(a, st, "memory", diff_quantity(a, (uint64_t)r->memory));
        if (r->kind == MODEL_VM && r->seen && r->obs) {
            /* each NIC's IPv4 address, from its network's DHCP leases */
            const struct model_vm *vm = (const struct model_vm *)r->seen;
            struct tree *addrs = tree_new_seq(a);
            for (size_t j = 0; j < vm->spec.nics.n; j++) {
                const struct vm_nic *nic = &vm->spec.nics.v[j];
                const struct obs_lease *l = observe_lease(r->obs, nic->mac);
                struct tree *e = tree_new_map(a);
                tree_map_str(a, e, "mac", nic->mac);
                tree_map_str(a, e, "network", nic->network);
                tree_map_add(a, e, "ip", l ? tree_new_str(a, l->ip) : tree_new_null(a));
                tree_seq_add(a, addrs, e);
            }
            tree_map_add(a, st, "addresses", addrs);
        }
        if (r->seen) {
            struct tree *seen = tree_get(encode_object(a, r->seen), "spec");
            if (seen)
                tree_map_add(a, st, "observed", seen);
        }
        if (r->created) {
            char buf[32];
            text_age(now - r->created, buf, sizeof(buf));
            tree_map_int(a, st, "firstSeen", r->created / 1000);
            tree_map_str(a, st, "age", buf);
        }
        tree_map_add(a, o, "status", st);
        tree_seq_add(a, items, o);
    }
    if (name)
        return items->len ? items->u.items[0] : tree_new_null(a);
    struct tree *list = tree_new_map(a);
    tree_map_str(a, list, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, list, "kind", "List");
    tree_map_add(a, list, "items", items);
    return list;
}
