/* import.c — manifests for what a host has and no project owns. See
 * import.h (the HOW IT WORKS is there).
 *
 * Invariants: a candidate is refused at most once (the first reason
 * stands) and never un-refused; a refused candidate has no part in the
 * checks of later rounds; every string lives in the result's arena.
 */
#include "import.h"

#include "arena.h"
#include "check.h"
#include "decode.h"
#include "diag.h"
#include "encode.h"
#include "inventory.h"
#include "observe.h"
#include "owned.h"
#include "plan.h"
#include "schema.h"
#include "validate.h"
#include "virtxml.h"
#include "yamldoc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file imported objects are decoded under. validate.c reports a
 * collision at the later of two declarations, by file name: '~' sorts
 * after the paths manifests are read from, so a collision between a
 * declared object and an imported one is reported at the imported one. */
#define IMPORT_FILE "~imported"

struct cand {
    enum model_kind kind;
    const char *name;                /* the manifest name (a volume's own name) */
    const char *label;               /* vm/x, network/x, pool/x, disk/POOL/VOLUME */
    const char *pool;                /* disks: the pool's name */
    const struct obs_domain *dom;
    const struct obs_network *net;
    const struct obs_pool *opool;    /* a pool's, or a volume's pool */
    const struct obs_volume *vol;
    bool asked, printed;
    const char *owner;               /* refused: the project that owns it */
    const char *reason;              /* refused: why */
    struct model_object *obj;        /* the decoded manifest */
    struct cand **deps;              /* what it needs */
    size_t ndeps;
    const char **warn;
    size_t nwarn;
};

struct ctx {
    struct arena *a;
    const struct obs_host *h;
    const struct model *declared;
    const char *project;
    bool all;
    struct cand **v;
    size_t n, cap;
};

/* ---- small helpers ---- */

static const char *join(struct arena *a, const char *const *v, size_t n, const char *sep)
{
    const char *s = "";
    for (size_t i = 0; i < n; i++)
        s = arena_printf(a, "%s%s%s", s, i ? sep : "", v[i]);
    return s;
}

static bool refused(const struct cand *k)
{
    return k->owner || k->reason;
}

static void refuse(struct ctx *c, struct cand *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(struct ctx *c, struct cand *k, const char *fmt, ...)
{
    if (refused(k))
        return;
    va_list ap;
    va_start(ap, fmt);
    k->reason = arena_vprintf(c->a, fmt, ap);
    va_end(ap);
}

static void warn(struct ctx *c, struct cand *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct ctx *c, struct cand *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = arena_vprintf(c->a, fmt, ap);
    va_end(ap);
    arena_strs_add(c->a, &k->warn, &k->nwarn, s);
}

static void depend(struct ctx *c, struct cand *k, struct cand *dep)
{
    for (size_t i = 0; i < k->ndeps; i++)
        if (k->deps[i] == dep)
            return;
    struct cand **grown = arena_alloc(c->a, (k->ndeps + 1) * sizeof(*grown));
    if (k->ndeps)
        memcpy(grown, k->deps, k->ndeps * sizeof(*grown));
    grown[k->ndeps++] = dep;
    k->deps = grown;
}

static struct cand *find(const struct ctx *c, enum model_kind k, const char *name,
                         const char *pool)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cand *x = c->v[i];
        if (x->kind == k && strcmp(x->name, name) == 0 &&
            (!pool || (x->pool && strcmp(x->pool, pool) == 0)))
            return x;
    }
    return NULL;
}

/* The candidate (kind, name) whose manifest takes part in the checks. */
static struct cand *live_cand(const struct ctx *c, enum model_kind k, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cand *x = c->v[i];
        if (x->kind == k && x->obj && !refused(x) && strcmp(x->name, name) == 0)
            return x;
    }
    return NULL;
}

static struct cand *cand_new(struct ctx *c, enum model_kind k, const char *name,
                             const char *pool, bool asked)
{
    struct cand *x = arena_alloc(c->a, sizeof(*x));
    x->kind = k;
    x->name = name;
    x->pool = pool;
    x->asked = asked;
    x->label = pool ? arena_printf(c->a, "%s/%s/%s", plan_kind_name(k), pool, name)
                    : arena_printf(c->a, "%s/%s", plan_kind_name(k), name);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->v[c->n++] = x;
    const char *why = check_name(name);
    if (why)
        refuse(c, x, "its name '%s' is not a manifest name: %s", name, why);
    return x;
}

/* Is the object declared by the manifests given (a Disk: in that pool)? */
static bool declared(const struct ctx *c, enum model_kind k, const char *name, const char *pool)
{
    const struct model_object *o = model_find(c->declared, k, name);
    if (!o || k != MODEL_DISK)
        return o != NULL;
    return strcmp(((const struct model_disk *)o)->spec.pool, pool) == 0;
}

/* Values the schema has no word for refuse the object; what the model
 * leaves out is a warning (see struct virtxml_unmodeled). */
static void unmodeled(struct ctx *c, struct cand *k, const struct virtxml_unmodeled *u,
                      const struct virtxml_unmodeled *u2, const char *lost)
{
    const char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < u->nmisread; i++)
        arena_strs_add(c->a, &v, &n, u->misread[i]);
    for (size_t i = 0; u2 && i < u2->nmisread; i++)
        arena_strs_add(c->a, &v, &n, u2->misread[i]);
    if (n)
        refuse(c, k, "a manifest cannot express %s", join(c->a, v, n, "; "));
    v = NULL;
    n = 0;
    for (size_t i = 0; i < u->nextra; i++)
        arena_strs_add(c->a, &v, &n, u->extra[i]);
    for (size_t i = 0; u2 && i < u2->nextra; i++)
        arena_strs_add(c->a, &v, &n, u2->extra[i]);
    if (n)
        warn(c, k, "not in its manifest, %s: %s", lost, join(c->a, v, n, ", "));
}

/* Refuse k when something it needs is refused; true when it was. */
static bool needs_refused(struct ctx *c, struct cand *k)
{
    for (size_t j = 0; j < k->ndeps && !refused(k); j++) {
        const struct cand *d = k->deps[j];
        if (d->owner)
            refuse(c, k, "it uses %s, which belongs to project '%s'", d->label, d->owner);
        else if (d->reason)
            refuse(c, k, "it uses %s, which cannot be imported: %s", d->label, d->reason);
        else
            continue;
        return true;
    }
    return false;
}

/* Encode the object built from the observation, print it as YAML and
 * load that text as the loader loads a file: the result is what loading
 * the printed manifest gives. */
static void finish(struct ctx *c, struct cand *k, struct model_object *o)
{
    if (refused(k) || needs_refused(c, k))
        return;
    o->file = NULL;
    struct tree *t = encode_object(c->a, o);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    int erc = yamldoc_emit(f, &t, 1);
    fclose(f);
    struct diag d;
    diag_init(&d);
    struct yamldoc_set set = { NULL, 0 };
    struct model_object *x = NULL;
    if (erc == 0 && yamldoc_parse(c->a, IMPORT_FILE, text, len, &d, &set) == 0 && set.len == 1)
        x = decode_document(c->a, IMPORT_FILE, set.docs[0], &d);
    free(text);
    const char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < d.len; i++)
        if (d.items[i].severity == DIAG_ERROR)
            arena_strs_add(c->a, &v, &n, arena_strdup(c->a, d.items[i].message));
    if (n || !x)
        refuse(c, k, "%s", n ? join(c->a, v, n, "; ") : "its manifest does not decode");
    else
        k->obj = x;
    diag_dispose(&d);
}

/* ---- candidates, kind by kind ---- */

static struct cand *want_pool(struct ctx *c, const struct obs_pool *p, bool asked)
{
    struct cand *k = find(c, MODEL_POOL, p->name, NULL);
    if (k) {
        k->asked |= asked;
        return k;
    }
    k = cand_new(c, MODEL_POOL, p->name, NULL, asked);
    k->opool = p;
    if (p->rec) {
        k->owner = p->rec->project;
        return k;
    }
    if (!p->type || strcmp(p->type, "dir") != 0)
        refuse(c, k, "it is a '%s' pool: a Pool is a directory of image files (type dir)",
               p->type ? p->type : "?");
    else if (!p->pool->spec.path)
        refuse(c, k, "it has no target path");
    struct model_pool *mp = arena_alloc(c->a, sizeof(*mp));
    *mp = *p->pool;
    mp->obj.meta.name = p->name;
    mp->spec.type = POOL_TYPE_DIR;
    finish(c, k, &mp->obj);
    return k;
}

static struct cand *want_volume(struct ctx *c, const struct obs_pool *p,
                                const struct obs_volume *vol, bool asked)
{
    struct cand *k = find(c, MODEL_DISK, vol->name, p->name);
    if (k) {
        k->asked |= asked;
        return k;
    }
    struct cand *other = find(c, MODEL_DISK, vol->name, NULL);
    k = cand_new(c, MODEL_DISK, vol->name, p->name, asked);
    k->opool = p;
    k->vol = vol;
    if (vol->rec) {
        k->owner = vol->rec->project;
        return k;
    }
    const struct model_disk *dd =
        (const struct model_disk *)model_find(c->declared, MODEL_DISK, vol->name);
    if (dd)
        refuse(c, k, "the manifests declare Disk '%s' in pool '%s', and a Disk is named after "
                     "its volume (Disk names are unique in a manifest set)",
               vol->name, dd->spec.pool);
    else if (other)
        refuse(c, k, "disk/%s/%s is imported too, and a Disk is named after its volume (Disk "
                     "names are unique in a manifest set)", other->pool, other->name);
    unmodeled(c, k, &vol->un, NULL,
              "kept by the volume (qkvm neither compares nor re-creates it)");
    if (!declared(c, MODEL_POOL, p->name, NULL))
        depend(c, k, want_pool(c, p, false));
    struct model_disk *md = arena_alloc(c->a, sizeof(*md));
    *md = *vol->disk;
    md->obj.meta.name = vol->name;
    md->spec.pool = p->name;
    finish(c, k, &md->obj);
    return k;
}

/* The candidate of a domain or network, found or new; a new one's mark
 * is checked (plan_owner): *fresh is false when it was found, or when a
 * project owns it. */
static struct cand *marked(struct ctx *c, enum model_kind kind, const char *name,
                           const struct virtxml_mark *mark, const char *uuid, bool asked,
                           bool *fresh)
{
    struct cand *k = find(c, kind, name, NULL);
    *fresh = !k;
    if (k) {
        k->asked |= asked;
        return k;
    }
    k = cand_new(c, kind, name, NULL, asked);
    const char *owner, *why;
    enum plan_owner own = plan_owner(c->a, mark, schema_kinds[kind].name, name, uuid,
                                     c->project, &owner, &why);
    if (own == OWNER_OURS || own == OWNER_FOREIGN) {
        k->owner = owner;
        *fresh = false;
    } else if (own == OWNER_MISMATCH) {
        warn(c, k, "%s: it is no project's, and 'apply --adopt' replaces the mark", why);
    }
    return k;
}

static struct cand *want_network(struct ctx *c, const struct obs_network *n, bool asked)
{
    bool fresh;
    struct cand *k = marked(c, MODEL_NETWORK, n->name, &n->mark, n->uuid, asked, &fresh);
    if (!fresh)
        return k;
    k->net = n;
    unmodeled(c, k, &n->un, NULL,
              n->active ? "so left out of the definition 'apply --adopt' writes (the running "
                          "network keeps it until it restarts)"
                        : "so left out of the definition 'apply --adopt' writes");
    struct model_network *mn = arena_alloc(c->a, sizeof(*mn));
    *mn = *n->net;
    mn->obj.meta.name = n->name;
    mn->spec.autostart = n->autostart;
    finish(c, k, &mn->obj);
    return k;
}

/* The volume whose file is `path`, in any active pool. */
static const struct obs_volume *volume_at(const struct obs_host *h, const char *path,
                                          const struct obs_pool **pool)
{
    for (size_t i = 0; i < h->npools; i++)
        for (size_t j = 0; j < h->pools[i].nvols; j++)
            if (h->pools[i].vols[j].path && strcmp(h->pools[i].vols[j].path, path) == 0) {
                *pool = &h->pools[i];
                return &h->pools[i].vols[j];
            }
    return NULL;
}

/* A domain disk: the volume it is, pulled in unless declared. */
static void vm_disk(struct ctx *c, struct cand *k, const struct virtxml_disk_src *s)
{
    const char *dev = s->target ? s->target : "?";
    if (!s->pool || !s->volume) {
        const struct obs_pool *p;
        const struct obs_volume *v = s->file ? volume_at(c->h, s->file, &p) : NULL;
        if (v)
            refuse(c, k, "its disk '%s' is attached by the path of volume %s/%s ('%s'): a "
                         "manifest attaches the volume itself (<disk type='volume'>), which "
                         "would be another disk to libvirt; attach it as the volume (virsh "
                         "edit) and import it again", dev, p->name, v->name, s->file);
        else if (s->file)
            refuse(c, k, "its disk '%s' is the file '%s', outside any storage pool: a VM's "
                         "disks are volumes of a Pool (define a dir pool holding it, and "
                         "attach it as a volume)", dev, s->file);
        else
            refuse(c, k, "its disk '%s' is of type '%s', not a volume of a storage pool", dev,
                   s->type ? s->type : "?");
        return;
    }
    const struct obs_pool *p = observe_pool(c->h, s->pool);
    const struct obs_volume *v = p ? observe_volume(p, s->volume) : NULL;
    if (!p) {
        refuse(c, k, "its disk '%s' is volume '%s' of pool '%s', which does not exist", dev,
               s->volume, s->pool);
    } else if (!p->active) {
        refuse(c, k, "its disk '%s' is in pool '%s', which is inactive (its volumes cannot be "
                     "listed: start it)", dev, s->pool);
    } else if (!v) {
        refuse(c, k, "its disk '%s' is volume '%s' of pool '%s', which the pool does not have",
               dev, s->volume, s->pool);
    } else {
        const char *fmt = schema_values_disk_format[v->disk->spec.format];
        if (s->driver && !v->un.nmisread && strcmp(s->driver, fmt) != 0)
            refuse(c, k, "its disk '%s' is read as '%s', but volume %s/%s is %s: a manifest "
                         "attaches a volume in its own format", dev, s->driver, p->name,
                   v->name, fmt);
        const struct model_disk *dd =
            (const struct model_disk *)model_find(c->declared, MODEL_DISK, v->name);
        if (!dd)
            depend(c, k, want_volume(c, p, v, false));
        else if (strcmp(dd->spec.pool, p->name) != 0)
            refuse(c, k, "its disk '%s' is volume %s/%s, but the manifests declare Disk '%s' "
                         "in pool '%s'", dev, p->name, v->name, v->name, dd->spec.pool);
    }
}

static struct cand *want_domain(struct ctx *c, const struct obs_domain *d, bool asked)
{
    bool fresh;
    struct cand *k = marked(c, MODEL_VM, d->name, &d->mark, d->uuid, asked, &fresh);
    if (!fresh)
        return k;
    k->dom = d;
    if (!d->persistent)
        refuse(c, k, "it is transient: a VM is a defined domain (define it first: virsh "
                     "dumpxml %s >x.xml; virsh define x.xml)", d->name);
    unmodeled(c, k, &d->un, d->config ? &d->config_un : NULL,
              d->active ? "so left out of the definition 'apply --adopt' writes (what runs "
                          "keeps it until the domain restarts)"
                        : "so left out of the definition 'apply --adopt' writes");

    const struct vm_spec *s = &d->vm->spec;
    struct model_vm *vm = arena_alloc(c->a, sizeof(*vm));
    *vm = *d->vm;
    vm->obj.meta.name = d->name;
    /* plan compares a running domain's memory in its persistent definition:
     * the live figure is the balloon's */
    if (d->config)
        vm->spec.memory = d->config->spec.memory;
    vm->spec.state = d->paused && !d->starting_up ? VM_STATE_PAUSED
                     : d->active                  ? VM_STATE_RUNNING
                                                  : VM_STATE_STOPPED;
    for (size_t j = 0; j < s->disks.n; j++)
        vm_disk(c, k, &d->src[j]);
    vm->spec.nics.v = arena_alloc(c->a, (s->nics.n + 1) * sizeof(*vm->spec.nics.v));
    for (size_t j = 0; j < s->nics.n; j++) {
        struct vm_nic *nic = &vm->spec.nics.v[j];
        *nic = s->nics.v[j];
        if (!*nic->network)
            continue;           /* not on a libvirt network: misread, refused above */
        const struct obs_network *on = observe_network(c->h, nic->network);
        if (!on) {
            refuse(c, k, "its interface %s is on network '%s', which does not exist",
                   nic->mac ? nic->mac : "?", nic->network);
            continue;
        }
        /* a static lease: the host entry of its MAC on its network */
        for (size_t i = 0; i < on->nhosts && nic->mac; i++)
            if (on->hosts[i].mac && strcasecmp(on->hosts[i].mac, nic->mac) == 0)
                nic->ip = on->hosts[i].ip;
        if (!declared(c, MODEL_NETWORK, on->name, NULL))
            depend(c, k, want_network(c, on, false));
    }
    /* qkvm numbers each bus's disks in order: say where that renames one */
    char (*target)[16] = arena_alloc(c->a, (s->disks.n + 1) * sizeof(*target));
    virtxml_disk_targets(&vm->spec.disks, target);
    const char **moved = NULL;
    size_t nmoved = 0;
    for (size_t j = 0; j < s->disks.n; j++)
        if (d->src[j].target && strcmp(d->src[j].target, target[j]) != 0)
            arena_strs_add(c->a, &moved, &nmoved,
                     arena_printf(c->a, "'%s' becomes '%s'", d->src[j].target, target[j]));
    if (nmoved)
        warn(c, k, "the definition 'apply --adopt' writes names its disks as qkvm numbers "
                   "them: %s (the guest sees that %s)", join(c->a, moved, nmoved, ", "),
             d->active ? "once it restarts" : "when it starts");
    finish(c, k, &vm->obj);
    return k;
}

/* ---- what was asked for ---- */

struct msgs {
    struct import_msg *v;
    size_t n, cap;
};

static void msg(struct ctx *c, struct msgs *m, enum import_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void msg(struct ctx *c, struct msgs *m, enum import_level level, const char *fmt, ...)
{
    if (m->n == m->cap) {
        struct import_msg *old = m->v;
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = arena_alloc(c->a, m->cap * sizeof(*m->v));
        if (old)
            memcpy(m->v, old, m->n * sizeof(*old));
    }
    va_list ap;
    va_start(ap, fmt);
    m->v[m->n++] = (struct import_msg){ level, arena_vprintf(c->a, fmt, ap) };
    va_end(ap);
}

/* One object asked for by name. Returns false when it is not on the host. */
static bool ask(struct ctx *c, const struct import_request *q, struct msgs *m)
{
    const struct obs_host *h = c->h;
    const char *word = plan_kind_name(q->kind);
    const struct obs_pool *p = NULL;
    const struct obs_volume *vol = NULL;
    const char *dup = NULL;
    switch (q->kind) {
    case MODEL_VM:
        if (!observe_domain(h, q->name)) {
            msg(c, m, IMPORT_ERROR, "%s/%s: no domain of this name on %s", word, q->name, h->uri);
            return false;
        }
        break;
    case MODEL_NETWORK:
        if (!observe_network(h, q->name)) {
            msg(c, m, IMPORT_ERROR, "%s/%s: no network of this name on %s", word, q->name,
                h->uri);
            return false;
        }
        break;
    case MODEL_POOL:
        if (!observe_pool(h, q->name)) {
            msg(c, m, IMPORT_ERROR, "%s/%s: no storage pool of this name on %s", word, q->name,
                h->uri);
            return false;
        }
        break;
    default:
        for (size_t i = 0; i < h->npools; i++) {
            const struct obs_volume *x = observe_volume(&h->pools[i], q->name);
            if (!x || (q->pool && strcmp(q->pool, h->pools[i].name) != 0))
                continue;
            if (vol)
                dup = h->pools[i].name;
            else {
                vol = x;
                p = &h->pools[i];
            }
        }
        if (dup) {
            msg(c, m, IMPORT_ERROR, "disk/%s: pools '%s' and '%s' both have a volume of this "
                                    "name: say which, as POOL/VOLUME", q->name, p->name, dup);
            return false;
        }
        if (!vol) {
            const struct obs_pool *op = q->pool ? observe_pool(h, q->pool) : NULL;
            if (q->pool && !op)
                msg(c, m, IMPORT_ERROR, "disk/%s/%s: no storage pool '%s' on %s", q->pool,
                    q->name, q->pool, h->uri);
            else if (op && !op->active)
                msg(c, m, IMPORT_ERROR, "disk/%s/%s: pool '%s' is inactive: its volumes "
                                        "cannot be listed", q->pool, q->name, q->pool);
            else
                msg(c, m, IMPORT_ERROR, "disk/%s%s%s: no volume of this name in %s on %s",
                    q->pool ? q->pool : "", q->pool ? "/" : "", q->name,
                    q->pool ? "the pool" : "any active pool", h->uri);
            return false;
        }
        break;
    }
    if (declared(c, q->kind, q->name, p ? p->name : NULL)) {
        msg(c, m, IMPORT_WARNING, "%s/%s%s%s: the manifests given declare it already; not "
                                  "printed again", word, p ? p->name : "", p ? "/" : "",
            q->name);
        return true;
    }
    switch (q->kind) {
    case MODEL_VM:
        want_domain(c, observe_domain(h, q->name), true);
        break;
    case MODEL_NETWORK:
        want_network(c, observe_network(h, q->name), true);
        break;
    case MODEL_POOL:
        want_pool(c, observe_pool(h, q->name), true);
        break;
    default:
        want_volume(c, p, vol, true);
        break;
    }
    return true;
}

static void ask_all(struct ctx *c)
{
    const struct obs_host *h = c->h;
    for (size_t i = 0; i < h->npools; i++) {
        const struct obs_pool *p = &h->pools[i];
        if (!declared(c, MODEL_POOL, p->name, NULL))
            want_pool(c, p, true);
        for (size_t j = 0; j < p->nvols; j++)
            if (!declared(c, MODEL_DISK, p->vols[j].name, p->name))
                want_volume(c, p, &p->vols[j], true);
    }
    for (size_t i = 0; i < h->nnets; i++)
        if (!declared(c, MODEL_NETWORK, h->nets[i].name, NULL))
            want_network(c, &h->nets[i], true);
    for (size_t i = 0; i < h->ndoms; i++)
        if (!declared(c, MODEL_VM, h->doms[i].name, NULL))
            want_domain(c, &h->doms[i], true);
}

/* ---- the rounds ---- */

static size_t count_refused(const struct ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += refused(c->v[i]);
    return n;
}

/* What needs a refused candidate is refused, transitively. */
static void cascade(struct ctx *c)
{
    bool again = true;
    while (again) {
        again = false;
        for (size_t i = 0; i < c->n; i++)
            if (!refused(c->v[i]) && needs_refused(c, c->v[i]))
                again = true;
    }
}

/* The manifests given plus every candidate still standing. */
static struct model *check_model(const struct ctx *c)
{
    struct model *m = model_new();
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 0; i < c->declared->len[k]; i++)
            model_add(m, c->declared->objs[k][i]);
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->obj && !refused(c->v[i]))
            model_add(m, c->v[i]->obj);
    model_sort(m);
    return m;
}

static struct cand *cand_of_kind_name(const struct ctx *c, const char *kind, const char *name)
{
    for (int k = 0; kind && name && k < MODEL_KIND_COUNT; k++)
        if (strcmp(schema_kinds[k].name, kind) == 0)
            return live_cand(c, (enum model_kind)k, name);
    return NULL;
}

/* A finding of the loader's checks, where "FILE:LINE" of an imported
 * object reads "imported". */
static const char *finding_text(struct ctx *c, const char *msg)
{
    const char *tag = IMPORT_FILE ":", *at;
    while ((at = strstr(msg, tag))) {
        const char *rest = at + strlen(tag);
        rest += strspn(rest, "0123456789");
        msg = arena_printf(c->a, "%.*simported%s", (int)(at - msg), msg, rest);
    }
    return msg;
}

/* The loader's cross-object checks. */
static void check_validate(struct ctx *c, const struct model *m)
{
    struct diag d;
    diag_init(&d);
    validate_model(m, &d);
    for (size_t i = 0; i < d.len; i++) {
        const struct diag_item *it = &d.items[i];
        if (it->severity != DIAG_ERROR)
            continue;
        struct cand *k = it->file && strcmp(it->file, IMPORT_FILE) == 0
                             ? cand_of_kind_name(c, it->kind, it->name) : NULL;
        if (k) {
            refuse(c, k, "%s", finding_text(c, it->message));
            continue;
        }
        /* a declared object's finding (the manifests were valid alone):
         * no single candidate can be told to cause it */
        for (size_t j = 0; j < c->n; j++)
            if (c->v[j]->obj)
                refuse(c, c->v[j], "the manifests given would not validate with it: %s",
                       finding_text(c, it->message));
    }
    diag_dispose(&d);
}

static const char *changes_text(struct ctx *c, const struct plan_action *a, const char *from,
                                const char *to)
{
    const char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < a->nchanges; i++) {
        const struct diff_change *ch = &a->changes[i];
        arena_strs_add(c->a, &v, &n, arena_printf(c->a, "%s: %s %s, %s %s", ch->field, from,
                                            ch->from ? ch->from : "(none)", to,
                                            ch->to ? ch->to : "(none)"));
    }
    return join(c->a, v, n, "; ");
}

/* A network whose plan changes its DHCP host entries: say which. */
static bool dhcp_hosts(struct ctx *c, struct cand *k, const struct plan_action *a)
{
    const char *pre = "spec.dhcp.hosts[";
    for (size_t i = 0; i < a->nchanges; i++)
        if (strncmp(a->changes[i].field, pre, strlen(pre)) != 0)
            return false;
    const char **lost = NULL;
    size_t nlost = 0;
    for (size_t i = 0; i < a->nchanges; i++) {
        const struct diff_change *ch = &a->changes[i];
        const char *mac = ch->field + strlen(pre);
        int len = (int)strcspn(mac, "]");
        if (!ch->from)
            warn(c, k, "'apply' adds a DHCP host entry for MAC %.*s (%s), a NIC the manifests "
                       "declare", len, mac, ch->to);
        else
            arena_strs_add(c->a, &lost, &nlost,
                           arena_printf(c->a, "%.*s (%s)", len, mac, ch->from));
    }
    if (nlost)
        refuse(c, k, "its DHCP host entr%s for MAC %s %s no NIC of a VM imported with it or "
                     "declared with that ip: a manifest says a host entry as the ip of the VM's "
                     "NIC (import that VM too)", nlost == 1 ? "y" : "ies",
               join(c->a, lost, nlost, ", "), nlost == 1 ? "is" : "are");
    return true;
}

/* Plan the set with --adopt against the observation: a candidate must
 * need nothing but its adoption. */
static void check_plan(struct ctx *c, const struct model *m)
{
    struct plan_opts po = { .adopt = true, .max_deletions = -1 };
    struct plan *p = plan_build(m, c->h, &po);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        struct cand *k = live_cand(c, a->kind, a->name);
        if (!k || a->verb == PLAN_ADOPT)
            continue;
        if (a->verb == PLAN_START && (a->kind == MODEL_POOL || a->kind == MODEL_NETWORK)) {
            warn(c, k, "it is inactive: 'apply' starts it");
            continue;
        }
        bool config = a->verb == PLAN_UPDATE && a->kind == MODEL_VM && k->dom->active;
        for (size_t j = 0; j < a->nchanges && config; j++)
            config = a->changes[j].how == DIFF_CONFIG;
        if (config) {
            warn(c, k, "its persistent definition differs from what runs (%s): the manifest "
                       "says what runs, and 'apply --adopt' rewrites the definition to it",
                 changes_text(c, a, "defined", "runs"));
            continue;
        }
        if (a->verb == PLAN_UPDATE && a->kind == MODEL_NETWORK && dhcp_hosts(c, k, a))
            continue;
        refuse(c, k, "its manifest would not match it: 'apply' would %s it%s%s%s",
               plan_verb_name(a->verb), a->nchanges ? " (" : "",
               a->nchanges ? changes_text(c, a, "host", "manifest") : "",
               a->nchanges ? ")" : "");
    }
    for (size_t i = 0; i < p->nnotes; i++) {
        const struct plan_note *n = &p->notes[i];
        struct cand *k = live_cand(c, n->kind, n->name);
        if (k && n->type != NOTE_PRUNE_SKIPPED && n->type != NOTE_PROTECTED &&
            n->type != NOTE_REFUSED)
            refuse(c, k, "%s", n->message);
    }
    plan_free(p);
}

/* DHCP host entries are rewritten with the VM's name: say where that
 * renames one. */
static void host_names(struct ctx *c, const struct model *m)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cand *k = c->v[i];
        if (k->kind != MODEL_NETWORK || !k->printed)
            continue;
        struct virtxml_dhcp_host *want;
        size_t nw = plan_dhcp_hosts(c->a, m, k->name, &want);
        for (size_t j = 0; j < k->net->nhosts; j++) {
            const struct virtxml_dhcp_host *h = &k->net->hosts[j];
            for (size_t w = 0; w < nw; w++)
                if (h->mac && strcasecmp(want[w].mac, h->mac) == 0 && want[w].name &&
                    (!h->name || strcmp(h->name, want[w].name) != 0))
                    warn(c, k, "its DHCP host entry for MAC %s is named '%s'; 'apply --adopt' "
                               "names it '%s', after its VM", h->mac,
                         h->name ? h->name : "", want[w].name);
        }
    }
}

static void mark_printed(struct cand *k)
{
    if (k->printed || refused(k))
        return;
    k->printed = true;
    for (size_t i = 0; i < k->ndeps; i++)
        mark_printed(k->deps[i]);
}

static int by_kind_label(const void *pa, const void *pb)
{
    const struct cand *a = *(struct cand *const *)pa, *b = *(struct cand *const *)pb;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->label, b->label);
}

/* ---- the module's interface ---- */

int import_requests(struct arena *a, int argc, char *const *argv,
                    struct import_request **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (argc < 2) {
        snprintf(err, errlen, "import takes KIND NAME... (vm, network, pool or disk), or --all");
        return -1;
    }
    int k = inventory_kind(argv[0]);
    if (k != MODEL_VM && k != MODEL_NETWORK && k != MODEL_POOL && k != MODEL_DISK) {
        snprintf(err, errlen, "cannot import '%s': the kinds are vm, network, pool and disk",
                 argv[0]);
        return -1;
    }
    struct import_request *v = arena_alloc(a, (size_t)argc * sizeof(*v));
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i], *slash = strchr(name, '/');
        struct import_request *q = &v[(*n)++];
        q->kind = (enum model_kind)k;
        q->name = name;
        if (!slash)
            continue;
        if (k != MODEL_DISK || slash == name || !slash[1] || strchr(slash + 1, '/')) {
            snprintf(err, errlen, k == MODEL_DISK ? "a disk is named POOL/VOLUME or VOLUME, "
                                                    "not '%s'"
                                                  : "'%s' is not a name", name);
            return -1;
        }
        q->pool = arena_strndup(a, name, (size_t)(slash - name));
        q->name = slash + 1;
    }
    *out = v;
    return 0;
}

struct import_result *import_build(const struct obs_host *h, const struct model *declared,
                                   const struct import_request *req, size_t nreq, bool all)
{
    struct import_result *r = xcalloc(1, sizeof(*r));
    r->model = model_new();
    struct ctx c = { r->model->arena, h, declared, model_project_name(declared), all, NULL, 0,
                     0 };
    struct msgs m = { 0 };
    if (all)
        ask_all(&c);
    for (size_t i = 0; !all && i < nreq; i++)
        if (!ask(&c, &req[i], &m))
            r->refused++;

    size_t before;
    struct model *check = NULL;
    do {
        before = count_refused(&c);
        cascade(&c);
        model_free(check);
        check = check_model(&c);
        check_validate(&c, check);
        cascade(&c);
        model_free(check);
        check = check_model(&c);
        check_plan(&c, check);
    } while (count_refused(&c) != before);

    for (size_t i = 0; i < c.n; i++)
        if (c.v[i]->asked)
            mark_printed(c.v[i]);
    host_names(&c, check);
    model_free(check);
    if (c.n)
        qsort(c.v, c.n, sizeof(*c.v), by_kind_label);
    for (size_t i = 0; i < c.n; i++) {
        const struct cand *k = c.v[i];
        enum import_level level = all ? IMPORT_WARNING : IMPORT_ERROR;
        const char *skipped = all ? "; skipped" : "";
        if (k->asked && k->owner)
            msg(&c, &m, level, "%s belongs to project '%s'%s", k->label, k->owner, skipped);
        else if (k->asked && k->reason)
            msg(&c, &m, level, "%s cannot be imported: %s%s", k->label, k->reason, skipped);
        if (k->asked && refused(k) && !all)
            r->refused++;
        if (!k->printed)
            continue;
        for (size_t j = 0; j < k->nwarn; j++)
            msg(&c, &m, IMPORT_WARNING, "%s: %s", k->label, k->warn[j]);
        model_add(r->model, k->obj);
    }
    model_sort(r->model);
    r->msgs = m.v;
    r->nmsgs = m.n;
    free(c.v);
    return r;
}

void import_free(struct import_result *r)
{
    if (!r)
        return;
    model_free(r->model);
    free(r);
}
