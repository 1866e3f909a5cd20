/* plan.c — diff a desired model against an observed host into actions and
 * drift findings. See plan.h. Pure: no I/O. */
#include "plan.h"

#include "arena.h"
#include "observe.h"
#include "owned.h"
#include "schema.h"
#include "tree.h"
#include "vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verb_names[PLAN_VERB_COUNT] = {
    "create", "update", "replace", "delete", "start", "stop", "adopt", "restart", "pause",
    "resume", "migrate",
};
static const char *const kind_names[MODEL_KIND_COUNT] = {
    "node", "network", "pool", "image", "disk", "vm", "policy", "project",
};
static const char *const category_names[DRIFT_CATEGORY_COUNT] = {
    "changed", "missing", "stopped", "running", "stale", "orphan",
    "orphan-file", "disk-missing", "stray-process", "conflict", "paused",
};

const char *plan_verb_name(enum plan_verb v) { return verb_names[v]; }
const char *plan_kind_name(enum model_kind k) { return kind_names[k]; }
const char *drift_category_name(enum drift_category c) { return category_names[c]; }

void plan_free(struct plan *p)
{
    if (!p)
        return;
    free(p->v);
    free(p->notes);
    free(p->drift);
    free(p->foreign);
    arena_free(p->arena);
    free(p);
}

/* ---- building blocks ---- */

/* (kind, name) -> index of the last action on that object, for dependencies;
 * also remembers objects in conflict, whose dependents must wait. */
struct key_map {
    struct { enum model_kind kind; const char *name; size_t action; bool blocked; } *v;
    size_t cap, n;
};

static uint64_t key_hash(enum model_kind k, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)k;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        h = (h ^ *s) * 1099511628211ull;
    return h;
}

static size_t key_slot(const struct key_map *m, enum model_kind k, const char *name)
{
    size_t i = (size_t)key_hash(k, name) & (m->cap - 1);
    while (m->v[i].name && (m->v[i].kind != k || strcmp(m->v[i].name, name) != 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void key_put(struct key_map *m, enum model_kind k, const char *name, size_t action,
                    bool blocked)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct key_map old = *m;
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xcalloc(m->cap, sizeof(*m->v));
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i].name)
                key_put(m, old.v[i].kind, old.v[i].name, old.v[i].action, old.v[i].blocked);
        free(old.v);
    }
    size_t i = key_slot(m, k, name);
    if (!m->v[i].name)
        m->n++;
    m->v[i].kind = k;
    m->v[i].name = name;
    m->v[i].action = action;
    m->v[i].blocked = blocked;
}

/* Returns 1 with *action set, 2 when blocked, 0 when nothing is planned. */
static int key_get(const struct key_map *m, enum model_kind k, const char *name,
                   size_t *action)
{
    if (!m->cap)
        return 0;
    size_t i = key_slot(m, k, name);
    if (!m->v[i].name)
        return 0;
    if (m->v[i].blocked)
        return 2;
    *action = m->v[i].action;
    return 1;
}

struct ctx {
    struct plan *p;
    struct arena *a;
    const struct model *want;
    const struct obs_host *obs;
    const struct plan_opts *opts;
    struct key_map keys;
    const char *project;
    bool empty;                 /* the manifests declare no resource: never prune */
    size_t managed;             /* objects of this project on the host */
};

enum plan_owner plan_owner(struct arena *a, const struct virtxml_mark *m, const char *kind,
                           const char *name, const char *uuid, const char *project,
                           const char **owner, const char **why)
{
    *owner = NULL;
    *why = NULL;
    if (!m->kind)
        return OWNER_NONE;
    if (!*m->kind || !m->name || !*m->name)
        *why = "its qkvm mark is empty";
    else if (strcmp(m->kind, kind) != 0)
        *why = arena_printf(a, "its qkvm mark is of a %s", m->kind);
    else if (strcmp(m->name, name) != 0)
        *why = arena_printf(a, "its qkvm mark names '%s': a copy of another object", m->name);
    else if (m->uuid && (!uuid || strcasecmp(m->uuid, uuid) != 0))
        *why = arena_printf(a, "its qkvm mark names UUID %s, not its own %s: a copy of "
                               "another object", m->uuid, uuid ? uuid : "(none)");
    else if (m->project && !*m->project)
        *why = "its qkvm mark names no project";
    if (*why)
        return OWNER_MISMATCH;
    *owner = m->project ? m->project : MODEL_DEFAULT_PROJECT;
    return strcmp(*owner, project) == 0 ? OWNER_OURS : OWNER_FOREIGN;
}

/* Whose a pool or volume is: its ownership record in this state database;
 * without one, the project mark on its file or directory (a local host) can
 * say it is another project's (a project with a state database of its own),
 * never that it is this project's: that takes a record. */
static enum plan_owner record_owner(const struct ctx *c, const struct owned_entry *rec,
                                    const char *marked, const char **owner)
{
    *owner = rec ? rec->project : marked;
    if (!rec)
        return marked && strcmp(marked, c->project) != 0 ? OWNER_FOREIGN : OWNER_NONE;
    return strcmp(rec->project, c->project) == 0 ? OWNER_OURS : OWNER_FOREIGN;
}

/* Whose a volume is: its record's project (observe.c has checked that the
 * file is the one qkvm made), never ours when the file was replaced by hand. */
static enum plan_owner volume_owner(const struct ctx *c, const struct obs_volume *v,
                                    const char **owner)
{
    enum plan_owner own = record_owner(c, v->rec, v->marked, owner);
    return v->replaced ? OWNER_MISMATCH : own;
}

static void foreign(struct ctx *c, enum model_kind k, const char *name, const char *project)
{
    struct plan *p = c->p;
    *vec_append(NULL, p->foreign, p->nforeign, p->foreign_cap, 1) =
        (struct plan_foreign){ k, name, project, NULL };
}

static struct plan_action *add_action(struct ctx *c, enum plan_verb verb, enum model_kind k,
                                      const char *name, const struct model_object *want,
                                      const char *reason)
{
    struct plan *p = c->p;
    struct plan_action *a = vec_push(p);
    a->verb = verb;
    a->kind = k;
    a->name = name;
    a->want = want;
    a->reason = reason;
    p->count[verb]++;
    key_put(&c->keys, k, name, p->n - 1, false);
    return a;
}

static void add_dep(struct ctx *c, struct plan_action *a, size_t dep)
{
    for (size_t i = 0; i < a->ndeps; i++)
        if (a->deps[i] == dep)
            return;
    *vec_append(c->a, a->deps, a->ndeps, a->deps_cap, 1) = dep;
}

/* Make action `ai` depend on whatever is planned for (k, name). */
static void depend(struct ctx *c, size_t ai, enum model_kind k, const char *name)
{
    size_t dep;
    if (key_get(&c->keys, k, name, &dep) == 1 && dep != ai)
        add_dep(c, &c->p->v[ai], dep);
}

static void note(struct ctx *c, enum plan_note_type t, enum model_kind k, const char *name,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void note(struct ctx *c, enum plan_note_type t, enum model_kind k, const char *name,
                 const char *fmt, ...)
{
    struct plan *p = c->p;
    va_list ap;
    va_start(ap, fmt);
    *vec_append(NULL, p->notes, p->nnotes, p->notes_cap, 1) =
        (struct plan_note){ t, k, name, arena_vprintf(c->a, fmt, ap), NULL };
    va_end(ap);
}

static void finding(struct ctx *c, enum drift_category cat, const char *kind,
                    const char *name, const char *field, const char *desired,
                    const char *actual, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static void finding(struct ctx *c, enum drift_category cat, const char *kind,
                    const char *name, const char *field, const char *desired,
                    const char *actual, const char *fmt, ...)
{
    struct plan *p = c->p;
    va_list ap;
    va_start(ap, fmt);
    *vec_append(NULL, p->drift, p->ndrift, p->drift_cap, 1) =
        (struct drift_finding){ cat, kind, name, field, desired, actual,
                                arena_vprintf(c->a, fmt, ap), NULL };
    va_end(ap);
}

/* A declared object that exists and is not this project's: its dependents
 * wait (blocked), the plan notes it, drift reports it. `state` says what it
 * is ("exists and was not created by qkvm"), `advice` what happens now. */
static void conflict(struct ctx *c, enum model_kind k, const char *name, const char *what,
                     const char *state, const char *advice)
{
    key_put(&c->keys, k, name, 0, true);
    note(c, NOTE_CONFLICT, k, name, "conflict: a %s of this name %s; %s", what, state, advice);
    finding(c, DRIFT_CONFLICT, schema_kinds[k].name, name, NULL, NULL, NULL,
            "a %s of this name %s", what, state);
}

/* May this project change the declared object that exists? Notes the
 * conflict and returns false when it may not; *adopt when --adopt takes it
 * over. Another project's object is never taken, whatever the flags. */
static bool may_manage(struct ctx *c, enum model_kind k, const char *name, const char *what,
                       enum plan_owner own, const char *owner, const char *why, bool *adopt)
{
    static const char adopt_it[] = "it is left alone (use --adopt to manage it)";
    *adopt = false;
    switch (own) {
    case OWNER_OURS:
        return true;
    case OWNER_FOREIGN:
        conflict(c, k, name, what, arena_printf(c->a, "belongs to project '%s'", owner),
                 "it is left alone (a project never changes another's objects: rename one of "
                 "them)");
        return false;
    case OWNER_MISMATCH:
        if (c->opts->adopt)
            break;
        conflict(c, k, name, what, arena_printf(c->a, "exists, but %s", why),
                 "it is not qkvm's and is left alone (use --adopt to manage it)");
        return false;
    case OWNER_NONE:
        if (c->opts->adopt)
            break;
        conflict(c, k, name, what, "exists and was not created by qkvm", adopt_it);
        return false;
    }
    *adopt = true;
    return true;
}

/* Is any dependency of a declared object in conflict or blocked? */
static bool blocked_by(struct ctx *c, enum model_kind self_kind, const char *self,
                       enum model_kind k, const char *name)
{
    size_t dummy;
    if (key_get(&c->keys, k, name, &dummy) != 2)
        return false;
    key_put(&c->keys, self_kind, self, 0, true);
    note(c, NOTE_BLOCKED, self_kind, self, "waits for %s/%s, which cannot be reconciled (see above)",
         kind_names[k], name);
    return true;
}

/* The drift.ignore paths of every Policy selecting this object. */
static bool ignored(const struct ctx *c, const struct model_object *o, const char *field)
{
    for (size_t i = 0; i < c->want->len[MODEL_POLICY]; i++) {
        const struct model_policy *pol = (const struct model_policy *)c->want->objs[MODEL_POLICY][i];
        if (pol->spec.drift.ignore.n && model_labels_match(&pol->spec.selector, &o->meta.labels) &&
            diff_ignored(field, &pol->spec.drift.ignore))
            return true;
    }
    return false;
}

/* Drop ignored changes; report the rest as drift. */
static void filter(struct ctx *c, const struct model_object *o, struct diff *d)
{
    size_t out = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (c->want->len[MODEL_POLICY] && ignored(c, o, d->v[i].field))
            continue;
        d->v[out++] = d->v[i];
    }
    d->n = out;
}

static void report_changes(struct ctx *c, const struct model_object *o, const struct diff *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diff_change *ch = &d->v[i];
        finding(c, DRIFT_CHANGED, schema_kinds[o->kind].name, o->meta.name, ch->field, ch->to,
                ch->from, "%s: %s, declared %s", ch->field, ch->from ? ch->from : "(none)",
                ch->to ? ch->to : "(none)");
    }
}

static void take_changes(struct ctx *c, struct plan_action *a, const struct diff *d)
{
    if (!d->n)
        return;
    a->changes = arena_alloc(c->a, d->n * sizeof(*a->changes));
    memcpy(a->changes, d->v, d->n * sizeof(*a->changes));
    a->nchanges = d->n;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].how == DIFF_RESTART)
            a->restart_required = true;
}

static void blocked_changes(struct ctx *c, const struct model_object *o, struct diff *d)
{
    size_t out = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].how == DIFF_BLOCKED)
            note(c, NOTE_BLOCKED, o->kind, o->meta.name, "%s: %s → %s not applied: %s",
                 d->v[i].field, d->v[i].from ? d->v[i].from : "(none)",
                 d->v[i].to ? d->v[i].to : "(none)", d->v[i].why);
        else
            d->v[out++] = d->v[i];
    }
    d->n = out;
}

/* ---- per kind ---- */

#define EACH(kind, T, var)                                                        \
    for (size_t i_##var = 0; i_##var < c->want->len[kind]; i_##var++)             \
        for (const T *var = (const T *)c->want->objs[kind][i_##var]; var; var = NULL)

static void plan_pools(struct ctx *c)
{
    EACH(MODEL_POOL, struct model_pool, want) {
        const char *name = want->obj.meta.name;
        const struct obs_pool *op = observe_pool(c->obs, name);
        if (!op) {
            add_action(c, PLAN_CREATE, MODEL_POOL, name, &want->obj, "not on the host");
            finding(c, DRIFT_MISSING, "Pool", name, NULL, NULL, NULL, "declared, not on the host");
            continue;
        }
        const char *owner = NULL;
        bool adopt;
        /* the owner is known only once record_owner has run: two statements */
        enum plan_owner own = record_owner(c, op->rec, op->marked, &owner);
        if (!may_manage(c, MODEL_POOL, name, "storage pool", own, owner, NULL, &adopt))
            continue;
        if (adopt)
            add_action(c, PLAN_ADOPT, MODEL_POOL, name, &want->obj, "--adopt: record as qkvm's");
        struct diff d;
        diff_init(&d, c->a);
        if (op->type && strcmp(op->type, "dir") != 0)
            diff_add(&d, "spec.type", op->type, "dir", DIFF_BLOCKED,
                     "a pool's type cannot change; re-create it by hand");
        diff_pool(&d, want, op->pool);
        filter(c, &want->obj, &d);
        report_changes(c, &want->obj, &d);
        blocked_changes(c, &want->obj, &d);
        diff_dispose(&d);
        if (!op->active) {
            add_action(c, PLAN_START, MODEL_POOL, name, &want->obj, "the pool is inactive");
            finding(c, DRIFT_STOPPED, "Pool", name, NULL, "active", "inactive", "the pool is inactive");
        }
    }
}

size_t plan_dhcp_hosts(struct arena *a, const struct model *want, const char *net,
                       struct virtxml_dhcp_host **out)
{
    VEC(struct virtxml_dhcp_host) hosts = { 0 };
    for (size_t i = 0; i < want->len[MODEL_VM]; i++) {
        const struct model_vm *vm = (const struct model_vm *)want->objs[MODEL_VM][i];
        bool named = false;
        for (size_t j = 0; j < vm->spec.nics.n; j++) {
            const struct vm_nic *nic = &vm->spec.nics.v[j];
            if (!nic->ip || strcmp(nic->network, net) != 0)
                continue;
            /* libvirt refuses two entries with one name: the VM's first
             * NIC on the network gets its name, the others none. */
            *vec_push_arena(a, &hosts) = (struct virtxml_dhcp_host){
                nic->mac, nic->ip, named ? NULL : vm->obj.meta.name };
            named = true;
        }
    }
    *out = hosts.v;
    return hosts.n;
}

static const struct virtxml_dhcp_host *find_host(const struct virtxml_dhcp_host *v, size_t n,
                                                 const char *mac)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].mac && mac && strcasecmp(v[i].mac, mac) == 0)
            return &v[i];
    return NULL;
}

static void plan_networks(struct ctx *c)
{
    EACH(MODEL_NETWORK, struct model_network, want) {
        const char *name = want->obj.meta.name;
        const struct obs_network *on = observe_network(c->obs, name);
        if (!on) {
            add_action(c, PLAN_CREATE, MODEL_NETWORK, name, &want->obj, "not on the host");
            finding(c, DRIFT_MISSING, "Network", name, NULL, NULL, NULL,
                    "declared, not on the host");
            continue;
        }
        const char *owner = NULL, *why = NULL;
        bool adopt;
        enum plan_owner own = plan_owner(c->a, &on->mark, "Network", name, on->uuid, c->project,
                                         &owner, &why);
        if (!may_manage(c, MODEL_NETWORK, name, "network", own, owner, why, &adopt))
            continue;
        struct diff d;
        diff_init(&d, c->a);
        diff_network(&d, want, on->net);
        /* DHCP host entries: changed in place with virNetworkUpdate */
        struct virtxml_dhcp_host *hosts;
        size_t nh = plan_dhcp_hosts(c->a, c->want, name, &hosts);
        for (size_t i = 0; i < on->nhosts; i++) {
            const struct virtxml_dhcp_host *h = &on->hosts[i], *w = find_host(hosts, nh, h->mac);
            if (!w || !h->ip || strcmp(w->ip, h->ip) != 0)
                diff_add(&d, arena_printf(c->a, "spec.dhcp.hosts[%s]", h->mac ? h->mac : "?"),
                         h->ip, w ? w->ip : NULL, DIFF_LIVE, NULL);
        }
        for (size_t i = 0; i < nh; i++)
            if (!find_host(on->hosts, on->nhosts, hosts[i].mac))
                diff_add(&d, arena_printf(c->a, "spec.dhcp.hosts[%s]", hosts[i].mac), NULL,
                         hosts[i].ip, DIFF_LIVE, NULL);
        if (want->spec.autostart != on->autostart)
            diff_add(&d, "spec.autostart", on->autostart ? "true" : "false",
                     want->spec.autostart ? "true" : "false", DIFF_LIVE, NULL);
        filter(c, &want->obj, &d);
        report_changes(c, &want->obj, &d);
        bool replace = false;
        for (size_t i = 0; i < d.n; i++)
            replace |= d.v[i].how == DIFF_REPLACE;
        if (adopt)
            add_action(c, PLAN_ADOPT, MODEL_NETWORK, name, &want->obj,
                       "--adopt: mark as qkvm's (takes effect in the definition)");
        struct plan_action *a = NULL;
        if (replace)
            a = add_action(c, PLAN_REPLACE, MODEL_NETWORK, name, &want->obj,
                           "libvirt cannot change these on a defined network: it is "
                           "destroyed and re-created; running guests on it lose their link "
                           "until they restart");
        else if (d.n)
            a = add_action(c, PLAN_UPDATE, MODEL_NETWORK, name, &want->obj, "in place");
        if (a)
            take_changes(c, a, &d);
        diff_dispose(&d);
        if (!on->active && !replace) {
            add_action(c, PLAN_START, MODEL_NETWORK, name, &want->obj, "the network is inactive");
            finding(c, DRIFT_STOPPED, "Network", name, NULL, "active", "inactive",
                    "the network is inactive");
        }
    }
}

static const char *volume_keeper(struct ctx *c, const struct obs_pool *p,
                                 const struct obs_volume *v);

/* A declared Disk to be made from this Image (it is not in its pool yet):
 * only then does the host need the image. Disks that exist keep whatever
 * they were made from. */
static bool shared_pool(const struct ctx *c, const char *pool);

/* A fleet's uploader, for an image on a shared pool: a Disk of the whole
 * set made from it whose volume this node does not see (the pool's files
 * are every node's). */
static const char *fleet_image_user(const struct ctx *c, const char *image)
{
    const struct model *f = c->opts->fleet;
    for (size_t i = 0; i < f->len[MODEL_DISK]; i++) {
        const struct model_disk *d = (const struct model_disk *)f->objs[MODEL_DISK][i];
        if (!d->spec.from.hdr.set || !d->spec.from.image || strcmp(d->spec.from.image, image) ||
            !shared_pool(c, d->spec.pool))
            continue;
        const struct obs_pool *op = observe_pool(c->obs, d->spec.pool);
        if (op && !observe_volume(op, d->obj.meta.name))
            return d->obj.meta.name;
    }
    return NULL;
}

static const char *image_user(const struct ctx *c, const char *image)
{
    for (size_t i = 0; i < c->want->len[MODEL_DISK]; i++) {
        const struct model_disk *d = (const struct model_disk *)c->want->objs[MODEL_DISK][i];
        if (!d->spec.from.hdr.set || !d->spec.from.image || strcmp(d->spec.from.image, image))
            continue;
        const struct obs_pool *op = observe_pool(c->obs, d->spec.pool);
        if (!op || !observe_volume(op, d->obj.meta.name))
            return d->obj.meta.name;
    }
    return NULL;
}

/* An Image is one volume, NAME.SHA16.FORMAT, in its pool on each host
 * that needs it (a declared Disk is made from it): downloaded into qkvm's
 * cache, verified, uploaded. A new sha256 is a new volume; the old one is
 * stale once nothing is built on it. */
static void plan_images(struct ctx *c)
{
    EACH(MODEL_IMAGE, struct model_image, want) {
        const char *name = want->obj.meta.name, *pool = want->spec.pool;
        char vbuf[160];
        model_image_volume(want, vbuf, sizeof(vbuf));
        const char *vol = arena_strdup(c->a, vbuf);
        const struct obs_pool *op = observe_pool(c->obs, pool);
        const struct obs_volume *ov = op ? observe_volume(op, vol) : NULL;
        bool shared = c->opts->fleet && shared_pool(c, pool);
        const char *uploader = shared && c->opts->shared_uploader
            ? c->opts->shared_uploader(c->opts->uploader_payload, pool) : NULL;
        if (uploader &&
            (!ov || (ov->rec && ov->rec->digest && strcmp(ov->rec->digest, "-") == 0))) {
            /* one node uploads a shared pool's images, for all */
            if (image_user(c, name)) {
                key_put(&c->keys, MODEL_IMAGE, name, 0, true);
                note(c, NOTE_BLOCKED, MODEL_IMAGE, name,
                     "uploaded to shared pool %s by node %s this run (one node writes it, for "
                     "all): the disks made from it here are created by the next apply", pool,
                     uploader);
            }
            continue;
        }
        if (!ov && !image_user(c, name) && !(shared && fleet_image_user(c, name)))
            continue;
        if (blocked_by(c, MODEL_IMAGE, name, MODEL_POOL, pool))
            continue;
        if (!ov) {
            struct plan_action *a = add_action(
                c, PLAN_CREATE, MODEL_IMAGE, name, &want->obj,
                arena_printf(c->a, "downloaded into the cache (unless it is there), verified "
                                   "(sha256 %.12s…) and uploaded to pool %s as volume %s",
                             want->spec.sha256, pool, vol));
            a->pool = pool;
            depend(c, (size_t)(a - c->p->v), MODEL_POOL, pool);
            finding(c, DRIFT_MISSING, "Image", name, NULL, NULL, NULL,
                    "declared and used, no volume %s in pool %s", vol, pool);
            continue;
        }
        const char *owner = NULL;
        bool adopt;
        if (!may_manage(c, MODEL_IMAGE, name, "volume", volume_owner(c, ov, &owner), owner,
                        "its file is not the one qkvm uploaded", &adopt))
            continue;
        if (adopt) {
            add_action(c, PLAN_ADOPT, MODEL_IMAGE, name, &want->obj,
                       "--adopt: record the volume as qkvm's (its content is not checked)")
                ->pool = pool;
            continue;
        }
        const char *digest = ov->rec ? ov->rec->digest : NULL;
        const char *user = digest && strcmp(digest, "-") == 0 ? volume_keeper(c, op, ov) : NULL;
        if (user) {
            note(c, NOTE_BLOCKED, MODEL_IMAGE, name,
                 "volume %s is recorded as an upload that did not finish, but %s: it is "
                 "left alone (check it, then delete what uses it)", vol, user);
        } else if (digest && strcmp(digest, "-") == 0) {
            struct plan_action *a = add_action(
                c, PLAN_REPLACE, MODEL_IMAGE, name, &want->obj,
                arena_printf(c->a, "an earlier upload of volume %s did not finish: it is "
                                   "deleted and uploaded again", vol));
            a->pool = pool;
            finding(c, DRIFT_CHANGED, "Image", name, "volume", "complete", "incomplete",
                    "volume %s in pool %s: an upload that did not finish", vol, pool);
        } else if (digest && *digest && strcmp(digest, want->spec.sha256) != 0) {
            conflict(c, MODEL_IMAGE, name, "volume",
                     arena_printf(c->a, "(%s) holds an image of another sha256 (%.16s…)", vol,
                                  digest),
                     "it is left alone: two digests with the same first 16 digits");
        }
    }
}

static void plan_disks(struct ctx *c)
{
    EACH(MODEL_DISK, struct model_disk, want) {
        const char *name = want->obj.meta.name, *pool = want->spec.pool;
        const char *image = want->spec.from.hdr.set ? want->spec.from.image : NULL;
        if (image && blocked_by(c, MODEL_DISK, name, MODEL_IMAGE, image))
            continue;
        if (blocked_by(c, MODEL_DISK, name, MODEL_POOL, pool))
            continue;
        const struct obs_pool *op = observe_pool(c->obs, pool);
        const struct obs_volume *ov = op ? observe_volume(op, name) : NULL;
        if (!ov) {
            struct plan_action *a = add_action(
                c, PLAN_CREATE, MODEL_DISK, name, &want->obj,
                image ? arena_printf(c->a, "not in its pool: a copy-on-write overlay of image %s",
                                     image)
                      : "not in its pool");
            a->pool = pool;
            depend(c, (size_t)(a - c->p->v), MODEL_POOL, pool);
            if (image)
                depend(c, (size_t)(a - c->p->v), MODEL_IMAGE, image);
            finding(c, DRIFT_MISSING, "Disk", name, NULL, NULL, NULL,
                    "declared, no volume in pool %s", pool);
            continue;
        }
        const char *owner = NULL;
        bool adopt;
        if (!may_manage(c, MODEL_DISK, name, "volume", volume_owner(c, ov, &owner), owner,
                        "its file is not the one qkvm created (deleted and re-created by hand)",
                        &adopt))
            continue;
        if (adopt)
            add_action(c, PLAN_ADOPT, MODEL_DISK, name, &want->obj,
                       "--adopt: record as qkvm's")->pool = pool;
        struct diff d;
        diff_init(&d, c->a);
        diff_disk(&d, want, ov->disk);
        filter(c, &want->obj, &d);
        report_changes(c, &want->obj, &d);
        blocked_changes(c, &want->obj, &d);
        if (d.n) {
            struct plan_action *a = add_action(c, PLAN_UPDATE, MODEL_DISK, name, &want->obj,
                                               "grown in place");
            a->pool = pool;
            take_changes(c, a, &d);
        }
        diff_dispose(&d);
    }
}

static void vm_deps(struct ctx *c, size_t ai, const struct model_vm *vm)
{
    for (size_t j = 0; j < vm->spec.disks.n; j++) {
        depend(c, ai, MODEL_DISK, vm->spec.disks.v[j].disk);
        const struct model_disk *d =
            (const struct model_disk *)model_find(c->want, MODEL_DISK, vm->spec.disks.v[j].disk);
        if (d)
            depend(c, ai, MODEL_POOL, d->spec.pool);
    }
    for (size_t j = 0; j < vm->spec.nics.n; j++)
        depend(c, ai, MODEL_NETWORK, vm->spec.nics.v[j].network);
}

static bool vm_blocked(struct ctx *c, const struct model_vm *vm)
{
    const char *name = vm->obj.meta.name;
    for (size_t j = 0; j < vm->spec.disks.n; j++)
        if (blocked_by(c, MODEL_VM, name, MODEL_DISK, vm->spec.disks.v[j].disk))
            return true;
    for (size_t j = 0; j < vm->spec.nics.n; j++)
        if (blocked_by(c, MODEL_VM, name, MODEL_NETWORK, vm->spec.nics.v[j].network))
            return true;
    return false;
}

static bool has_field(const struct diff *d, const char *field)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].field, field) == 0)
            return true;
    return false;
}

static bool deletable(struct ctx *c, const struct model_labels *labels, const char **how,
                      const char **why);
static bool declared(const struct ctx *c, enum model_kind k, const char *name);

/* A VM that is not on the host, one of whose disks an undeclared domain
 * holds: a rename (or a copy). Two domains must never run on one disk, so
 * the old one goes first, stopped and undefined, when it may be deleted
 * (it is this project's and --prune or a Policy allows it); otherwise the
 * new one is a conflict naming the holder. Returns false when the VM must
 * not be created; *after gets the deletion it waits for, *renamed the old
 * domain. */
static bool plan_rename(struct ctx *c, const struct model_vm *want, size_t **after,
                        size_t *nafter, const struct obs_domain **renamed)
{
    const char *name = want->obj.meta.name;
    const struct obs_host *h = c->obs;
    *after = arena_alloc(c->a, (h->ndoms * (want->spec.disks.n + 1) + 1) * sizeof(**after));
    *nafter = 0;
    *renamed = NULL;
    /* Two passes: every holder of every disk must be one this plan may
     * delete before any deletion is planned for the rename. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < want->spec.disks.n; j++) {
            const char *dname = want->spec.disks.v[j].disk;
            const struct model_disk *dk =
                (const struct model_disk *)model_find(c->want, MODEL_DISK, dname);
            const struct obs_pool *op = dk ? observe_pool(h, dk->spec.pool) : NULL;
            const struct obs_volume *ov = op ? observe_volume(op, dname) : NULL;
            for (size_t k = 0; ov && k < h->ndoms; k++) {
                const struct obs_domain *d = &h->doms[k];
                size_t idx, dep;
                if (strcmp(d->name, name) == 0 || declared(c, MODEL_VM, d->name) ||
                    !observe_uses_volume(d, op, ov, &idx))
                    continue;
                const char *owner, *why, *how;
                enum plan_owner own = plan_owner(c->a, &d->mark, "VM", d->name, d->uuid,
                                                 c->project, &owner, &why);
                bool planned = key_get(&c->keys, MODEL_VM, d->name, &dep) == 1 &&
                               c->p->v[dep].verb == PLAN_DELETE;
                bool ok = own == OWNER_OURS && (planned || deletable(c, &d->mark.labels, &how,
                                                                     &why));
                if (pass == 1) {
                    if (!planned)
                        dep = (size_t)(add_action(
                            c, PLAN_DELETE, MODEL_VM, d->name, NULL,
                            arena_printf(c->a, "no longer declared (%s), and vm/%s is to use "
                                               "its disk %s: %s before vm/%s is created", how,
                                         name, dname,
                                         d->active ? "stopped and undefined" : "undefined",
                                         name)) - c->p->v);
                    (*after)[(*nafter)++] = dep;
                    *renamed = d;
                    continue;
                }
                if (ok)
                    continue;
                const char *held;
                if (own == OWNER_OURS)
                    held = arena_printf(c->a, "domain %s (qkvm's, no longer declared: a rename? "
                                              "%s)", d->name,
                                        why ? why : "'apply --prune' deletes it first, then "
                                                    "creates this one");
                else if (own == OWNER_FOREIGN)
                    held = arena_printf(c->a, "domain %s of project '%s'", d->name, owner);
                else if (own == OWNER_MISMATCH)
                    held = arena_printf(c->a, "domain %s (%s)", d->name, why);
                else
                    held = arena_printf(c->a, "domain %s, which is not qkvm's", d->name);
                key_put(&c->keys, MODEL_VM, name, 0, true);
                note(c, NOTE_CONFLICT, MODEL_VM, name,
                     "conflict: its disk %s is held by %s; not created: two domains must never "
                     "run on one disk", dname, held);
                finding(c, DRIFT_CONFLICT, "VM", name, NULL, NULL, NULL,
                        "its disk %s is held by %s", dname, held);
                return false;
            }
        }
    return true;
}

/* What a rename does to MACs qkvm derived from the VM's name. */
static const char *mac_changes(struct ctx *c, const struct model_vm *want,
                               const struct obs_domain *old)
{
    const char *s = "";
    for (size_t i = 0; i < want->spec.nics.n && i < old->vm->spec.nics.n; i++) {
        const struct vm_nic *n = &want->spec.nics.v[i], *o = &old->vm->spec.nics.v[i];
        bool derived = !n->hdr.src || !tree_get(n->hdr.src, "mac");
        if (derived && n->mac && o->mac && strcasecmp(n->mac, o->mac) != 0)
            s = arena_printf(c->a, "%s; the MAC of nics[%zu] is derived from the VM's name and "
                                   "changes from %s to %s (declare mac: %s to keep it)",
                             s, i, o->mac, n->mac, o->mac);
    }
    return s;
}

/* Does a Policy (one that declares `restart`) let qkvm restart the VM? The
 * most careful of those selecting it wins; *by names the deciding one. */
static bool restart_allowed(const struct ctx *c, const struct model_vm *vm, const char **by)
{
    enum policy_restart rule = POLICY_RESTART_NEVER;
    bool any = false;
    *by = NULL;
    for (size_t i = 0; i < c->want->len[MODEL_POLICY]; i++) {
        const struct model_policy *pol = (const struct model_policy *)c->want->objs[MODEL_POLICY][i];
        if (!tree_get(pol->spec.hdr.src, "restart") ||
            !model_labels_match(&pol->spec.selector, &vm->obj.meta.labels))
            continue;
        if (!any || pol->spec.restart < rule) {
            rule = pol->spec.restart;
            *by = pol->obj.meta.name;
        }
        any = true;
    }
    return any && rule == POLICY_RESTART_ONCHANGE;
}

/* The power state: declared (running, stopped, paused) against observed. */
static void plan_power(struct ctx *c, const struct model_vm *want, const struct obs_domain *od,
                       bool has_upd, size_t upd, bool restarting)
{
    const char *name = want->obj.meta.name;
    enum vm_state w = want->spec.state;
    struct plan_action *a = NULL;
    if (!od->active) {
        if (w == VM_STATE_STOPPED)
            return;
        a = add_action(c, PLAN_START, MODEL_VM, name, &want->obj,
                       w == VM_STATE_PAUSED ? "state: paused, the domain is shut off: started "
                                              "with its vCPUs paused"
                                            : "state: running, the domain is shut off");
        vm_deps(c, (size_t)(a - c->p->v), want);
        finding(c, DRIFT_STOPPED, "VM", name, "spec.state", w == VM_STATE_PAUSED ? "paused"
                                                                                 : "running",
                "stopped", "should %s, is shut off", w == VM_STATE_PAUSED ? "be paused" : "run");
    } else if (w == VM_STATE_STOPPED) {
        a = add_action(c, PLAN_STOP, MODEL_VM, name, &want->obj,
                       od->paused ? "state: stopped, the domain is paused: resumed, then shut "
                                    "down"
                                  : "state: stopped, the domain runs");
        finding(c, DRIFT_RUNNING, "VM", name, "spec.state", "stopped",
                od->paused ? "paused" : "running", "should be stopped, %s",
                od->paused ? "is paused" : "runs");
    } else if (w == VM_STATE_RUNNING && od->paused && !od->starting_up && !restarting) {
        finding(c, DRIFT_PAUSED, "VM", name, "spec.state", "running", "paused",
                "should run, is paused (%s)", od->paused_why ? od->paused_why : "unknown");
        if (od->paused_ioerror) {
            key_put(&c->keys, MODEL_VM, name, 0, true);
            note(c, NOTE_BLOCKED, MODEL_VM, name,
                 "paused by an I/O error: not resumed (resuming onto a full or failing disk "
                 "fixes nothing); free the storage, then 'virsh resume %s'", name);
            return;
        }
        a = add_action(c, PLAN_RESUME, MODEL_VM, name, &want->obj,
                       arena_printf(c->a, "state: running, the domain is paused (%s)",
                                    od->paused_why ? od->paused_why : "unknown"));
    } else if (w == VM_STATE_PAUSED && !od->paused) {
        a = add_action(c, PLAN_PAUSE, MODEL_VM, name, &want->obj,
                       "state: paused, the domain runs");
        finding(c, DRIFT_RUNNING, "VM", name, "spec.state", "paused", "running",
                "should be paused, runs");
    }
    if (a && has_upd)
        add_dep(c, a, upd);
}

/* May this VM's seed volume, when it exists, be written? Only when it is
 * this project's, recorded, and its file is the one qkvm wrote; otherwise
 * the VM is a conflict (nothing of it changes) and says why. */
static bool seed_ours(struct ctx *c, const char *vm, const struct obs_pool *p,
                      const struct obs_volume *v)
{
    if (!v)
        return true;
    const char *owner = NULL, *why = NULL;
    enum plan_owner own = volume_owner(c, v, &owner);
    if (own == OWNER_MISMATCH)
        why = "its file is not the one qkvm wrote (deleted and re-created by hand)";
    else if (own == OWNER_FOREIGN)
        why = arena_printf(c->a, "it belongs to project '%s'", owner ? owner : "?");
    else if (own == OWNER_NONE)
        why = "it was not created by qkvm";
    else if (v->unverified)
        why = "its file cannot be checked to be the one qkvm wrote (a remote host, or "
              "unreadable)";
    if (!why)
        return true;
    key_put(&c->keys, MODEL_VM, vm, 0, true);
    note(c, NOTE_CONFLICT, MODEL_VM, vm,
         "conflict: its cloud-init seed volume %s exists in pool %s and %s; the VM is left "
         "alone (remove that volume, or rename the VM)", v->name, p->name, why);
    finding(c, DRIFT_CONFLICT, "Volume", arena_printf(c->a, "%s/%s", p->name, v->name), NULL,
            NULL, NULL, "the seed of VM %s, but %s", vm, why);
    return false;
}

static bool in_only(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->opts->nonly; i++)
        if (strcmp(c->opts->only[i], name) == 0)
            return true;
    return false;
}

static void plan_vms(struct ctx *c)
{
    EACH(MODEL_VM, struct model_vm, want) {
        const char *name = want->obj.meta.name;
        bool run = want->spec.state != VM_STATE_STOPPED;
        if (c->opts->only && !in_only(c, name))
            continue;
        if (vm_blocked(c, want))
            continue;
        if (want->spec.cloud_init.hdr.set) {
            const char *spool = model_seed_pool(c->want, want);
            const struct obs_pool *sop = spool ? observe_pool(c->obs, spool) : NULL;
            char sv[160];
            model_seed_volume(name, sv, sizeof(sv));
            if (sop && !seed_ours(c, name, sop, observe_volume(sop, sv)))
                continue;
        }
        const struct obs_domain *od = observe_domain(c->obs, name);
        if (!od) {
            size_t *after, nafter;
            const struct obs_domain *old;
            if (!plan_rename(c, want, &after, &nafter, &old))
                continue;
            struct plan_action *a = add_action(
                c, PLAN_CREATE, MODEL_VM, name, &want->obj,
                old ? arena_printf(c->a, "not on the host (it takes over the disks of vm/%s, "
                                         "deleted first: a rename%s)", old->name,
                                   mac_changes(c, want, old))
                    : "not on the host");
            size_t ai = (size_t)(a - c->p->v);
            vm_deps(c, ai, want);
            for (size_t k = 0; k < nafter; k++)
                add_dep(c, a, after[k]);
            finding(c, DRIFT_MISSING, "VM", name, NULL, NULL, NULL, "declared, not on the host");
            if (run) {
                a = add_action(c, PLAN_START, MODEL_VM, name, &want->obj,
                               want->spec.state == VM_STATE_PAUSED
                                   ? "state: paused: started with its vCPUs paused"
                                   : "state: running");
                add_dep(c, a, ai);
            }
            continue;
        }
        const char *owner = NULL, *why = NULL;
        bool adopt;
        enum plan_owner own = plan_owner(c->a, &od->mark, "VM", name, od->uuid, c->project,
                                         &owner, &why);
        if (!may_manage(c, MODEL_VM, name, "domain", own, owner, why, &adopt))
            continue;
        if (adopt) {
            struct plan_action *a = add_action(c, PLAN_ADOPT, MODEL_VM, name, &want->obj,
                                               "--adopt: mark as qkvm's");
            vm_deps(c, (size_t)(a - c->p->v), want);
        }
        /* The live definition of a running domain says what runs; its
         * persistent definition (always fetched for a declared running
         * domain) says what the next start runs. A change in the live one
         * only, already in the definition, is a pending restart; a change in
         * the definition only (virsh ... --config) is healed by redefining
         * it from the manifest. */
        struct diff live, conf, out;
        diff_init(&live, c->a);
        diff_init(&conf, c->a);
        diff_init(&out, c->a);
        bool active = od->active;
        diff_vm(&live, want, od->vm, active);
        /* a seed volume gone (deleted by hand) is written again */
        const char *seed_pool = want->spec.cloud_init.hdr.set ? model_seed_pool(c->want, want)
                                                                : NULL;
        const struct obs_pool *sp = seed_pool ? observe_pool(c->obs, seed_pool) : NULL;
        char seed_vol[160];
        model_seed_volume(name, seed_vol, sizeof(seed_vol));
        const struct obs_volume *sv = sp ? observe_volume(sp, seed_vol) : NULL;
        const char *held = !sp ? NULL
                           : !sv ? "seed volume missing"
                           : !sv->rec || !sv->rec->digest ? NULL
                           : strcmp(sv->rec->digest, "-") == 0 ? "seed volume incomplete"
                           : strcmp(sv->rec->digest, want->spec.cloud_init.digest) != 0
                               ? arena_printf(c->a, "seed volume holds seed %.12s",
                                              sv->rec->digest)
                               : NULL;
        if (held && !has_field(&live, "spec.cloudInit"))
            diff_add(&live, "spec.cloudInit", held,
                     arena_printf(c->a, "seed %.12s", want->spec.cloud_init.digest),
                     DIFF_LIVE, NULL);
        filter(c, &want->obj, &live);
        if (active && od->config) {
            diff_vm(&conf, want, od->config, false);
            filter(c, &want->obj, &conf);
        }
        const char **pending = arena_alloc(c->a, (live.n + 1) * sizeof(*pending));
        size_t npending = 0;
        for (size_t i = 0; i < live.n; i++) {
            struct diff_change ch = live.v[i];
            /* The live memory of a running domain is the balloon's actual
             * size, which the guest decides (a guest without a balloon
             * driver keeps maxMemory); the declared target is in the
             * persistent definition, and that is what is compared. */
            if (strcmp(ch.field, "spec.memory") == 0 && od->config &&
                !has_field(&conf, ch.field))
                continue;
            /* An unplug the guest has not completed (a guest must release
             * a device; one without ACPI hot-plug support never does): the
             * definition is done, the rest waits for a restart. Asking
             * again would only wait for libvirt's timeout again. */
            if (ch.how == DIFF_LIVE && !ch.to && od->config && !has_field(&conf, ch.field)) {
                pending[npending++] = arena_printf(c->a, "%s was unplugged in the definition; "
                                                   "the guest has not released it", ch.field);
                continue;
            }
            if (ch.how == DIFF_RESTART && od->config && !has_field(&conf, ch.field)) {
                pending[npending++] = arena_printf(c->a, "%s %s → %s is in the definition, not "
                                                   "yet running", ch.field,
                                                   ch.from ? ch.from : "(none)",
                                                   ch.to ? ch.to : "(none)");
                continue;
            }
            diff_add(&out, ch.field, ch.from, ch.to, ch.how, ch.why);
        }
        /* Changes only in the persistent definition (made with --config):
         * what runs is right, the definition is rewritten. */
        for (size_t i = 0; i < conf.n; i++)
            if (!has_field(&live, conf.v[i].field))
                diff_add(&out, conf.v[i].field, conf.v[i].from, conf.v[i].to, DIFF_CONFIG,
                         NULL);
        report_changes(c, &want->obj, &out);
        size_t upd = 0;
        bool has_upd = false, needs_restart = npending > 0;
        bool any_live = false;
        for (size_t i = 0; i < out.n; i++)
            any_live |= out.v[i].how == DIFF_LIVE;
        if (out.n) {
            struct plan_action *a = add_action(c, PLAN_UPDATE, MODEL_VM, name, &want->obj,
                                               any_live ? "in place"
                                               : active ? "in its definition (the running "
                                                          "domain keeps what it runs)"
                                                        : "in its definition");
            take_changes(c, a, &out);
            upd = (size_t)(a - c->p->v);
            has_upd = true;
            needs_restart |= a->restart_required;
            vm_deps(c, upd, want);
        }
        diff_dispose(&live);
        diff_dispose(&conf);
        diff_dispose(&out);
        /* Restart what needs it when a Policy (restart: onChange) or
         * --restart allows; otherwise the restart stays pending. */
        const char *by = NULL;
        bool restarting = false;
        if (needs_restart && active && run &&
            (c->opts->restart || restart_allowed(c, want, &by))) {
            struct plan_action *a = add_action(
                c, PLAN_RESTART, MODEL_VM, name, &want->obj,
                by ? arena_printf(c->a, "changes wait for a restart (Policy '%s', restart: "
                                        "onChange): graceful shutdown, then start", by)
                   : "changes wait for a restart (--restart): graceful shutdown, then start");
            if (has_upd)
                add_dep(c, a, upd);
            restarting = true;
        } else {
            for (size_t i = 0; i < npending; i++)
                note(c, NOTE_RESTART_PENDING, MODEL_VM, name, "restart required: %s",
                     pending[i]);
        }
        plan_power(c, want, od, has_upd, upd, restarting);
    }
}

/* ---- what is on the host and not declared ---- */

static bool declared(const struct ctx *c, enum model_kind k, const char *name)
{
    return model_find(c->want, k, name) != NULL;
}

/* Declared in the fleet's set, for another node (see plan_opts.fleet). */
static bool elsewhere(const struct ctx *c, enum model_kind k, const char *name)
{
    return c->opts->fleet && model_find(c->opts->fleet, k, name) != NULL;
}

/* A fleet's pool declared shared: true (its files are every node's). */
static bool shared_pool(const struct ctx *c, const char *pool)
{
    const struct model_pool *p = c->opts->fleet
        ? (const struct model_pool *)model_find(c->opts->fleet, MODEL_POOL, pool) : NULL;
    return p && p->spec.shared;
}

static bool fleet_disk(const struct ctx *c, const char *pool, const char *name)
{
    const struct model_disk *d =
        (const struct model_disk *)model_find(c->opts->fleet, MODEL_DISK, name);
    return d && strcmp(d->spec.pool, pool) == 0;
}

static const struct model_disk *declared_disk(const struct ctx *c, const char *pool,
                                              const char *name)
{
    const struct model_disk *d = (const struct model_disk *)model_find(c->want, MODEL_DISK, name);
    return d && strcmp(d->spec.pool, pool) == 0 ? d : NULL;
}

bool plan_declared_volume(const struct model *want, const char *pool, const char *vol)
{
    char owner[160], buf[192];
    if (model_image_owner(vol, owner, sizeof(owner))) {
        const struct model_image *im =
            (const struct model_image *)model_find(want, MODEL_IMAGE, owner);
        if (!im || strcmp(im->spec.pool, pool) != 0)
            return false;
        model_image_volume(im, buf, sizeof(buf));
        return strcmp(buf, vol) == 0;
    }
    if (model_seed_owner(vol, owner, sizeof(owner))) {
        const struct model_vm *vm = (const struct model_vm *)model_find(want, MODEL_VM, owner);
        const char *sp = vm && vm->spec.cloud_init.hdr.set ? model_seed_pool(want, vm) : NULL;
        return sp && strcmp(sp, pool) == 0;
    }
    return false;
}

/* "k=v" lines (an ownership record's labels) as a label set. */
static struct model_labels parse_labels(struct arena *a, const char *text)
{
    struct model_labels l = { 0 };
    if (!text || !*text)
        return l;
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    l.v = arena_alloc(a, n * sizeof(*l.v));
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        const char *eq = memchr(p, '=', len);
        if (eq)
            l.v[l.n++] = (struct model_label){ arena_strndup(a, p, (size_t)(eq - p)),
                                               arena_strndup(a, eq + 1, len - (size_t)(eq - p) - 1) };
        p += len + (p[len] == '\n');
    }
    return l;
}

/* The prune rule of a stale object: the most careful (never < report <
 * delete) of the Policies that declare `prune` and select the labels it was
 * last declared with; report when none does. *by names the Policy. */
static enum policy_prune prune_rule(const struct ctx *c, const struct model_labels *labels,
                                    const char **by)
{
    enum policy_prune rule = POLICY_PRUNE_REPORT;
    bool any = false;
    *by = NULL;
    for (size_t i = 0; i < c->want->len[MODEL_POLICY]; i++) {
        const struct model_policy *pol = (const struct model_policy *)c->want->objs[MODEL_POLICY][i];
        if (!tree_get(pol->spec.hdr.src, "prune") ||
            !model_labels_match(&pol->spec.selector, labels))
            continue;
        if (!any || pol->spec.prune < rule) {
            rule = pol->spec.prune;
            *by = pol->obj.meta.name;
        }
        any = true;
    }
    return rule;
}

/* May a stale object be deleted? *how says by what (--prune, a Policy);
 * otherwise *why says why not, where NULL means "--prune was not given". */
static bool deletable(struct ctx *c, const struct model_labels *labels, const char **how,
                      const char **why)
{
    const char *by;
    *why = NULL;
    if (c->empty) {
        *why = "the manifests declare nothing, and an empty manifest set never prunes";
        return false;
    }
    enum policy_prune rule = prune_rule(c, labels, &by);
    if (rule == POLICY_PRUNE_NEVER) {
        *why = arena_printf(c->a, "Policy '%s' says prune: never", by);
        return false;
    }
    if (rule == POLICY_PRUNE_DELETE) {
        *how = arena_printf(c->a, "Policy '%s', prune: delete", by);
        return true;
    }
    *how = "--prune";
    return c->opts->prune;
}

/* Is a stale object to be deleted? When not, says why in a note. */
static bool prune_it(struct ctx *c, enum model_kind k, const char *name,
                     const struct model_labels *labels, const char *where, const char **how)
{
    const char *why;
    if (deletable(c, labels, how, &why))
        return true;
    if (why)
        note(c, NOTE_PRUNE_SKIPPED, k, name, "stale: no longer declared; not deleted: %s", why);
    else
        note(c, NOTE_PRUNE_SKIPPED, k, name,
             "stale: no longer declared; 'apply --prune' deletes it%s", where);
    return false;
}

/* Is this domain deleted by the plan (so far)? */
static bool deleting(struct ctx *c, const char *vm)
{
    size_t a;
    return key_get(&c->keys, MODEL_VM, vm, &a) == 1 && c->p->v[a].verb == PLAN_DELETE;
}

/* What keeps a stale volume: a domain that stays and uses it (any of them,
 * not only the first), or a volume built on it (its backing file). NULL
 * when nothing does. */
static const char *volume_keeper(struct ctx *c, const struct obs_pool *p,
                                 const struct obs_volume *v)
{
    const struct obs_host *h = c->obs;
    size_t disk;
    for (size_t k = 0; k < h->ndoms; k++) {
        const struct obs_domain *d = &h->doms[k];
        bool seed = d->seed_volume && d->seed_pool && strcmp(d->seed_pool, p->name) == 0 &&
                    strcmp(d->seed_volume, v->name) == 0;
        bool held = !seed && observe_holds_volume(d, p, v);
        if ((seed || held || observe_uses_volume(d, p, v, &disk)) && !deleting(c, d->name))
            return arena_printf(c->a, "domain %s still uses it%s", d->name,
                                seed   ? " (its cloud-init seed)"
                                : held ? " (a cdrom, or in a disk's backing chain)"
                                       : "");
    }
    /* an image is what overlays are built on: with a pool whose volumes
     * cannot be listed, one of them may be */
    char owner[160];
    for (size_t i = 0; model_image_owner(v->name, owner, sizeof(owner)) && i < h->npools; i++)
        if (!h->pools[i].active)
            return arena_printf(c->a, "pool %s is inactive, and a volume there may be built "
                                      "on it", h->pools[i].name);
    for (size_t i = 0; v->path && i < h->npools; i++)
        for (size_t j = 0; j < h->pools[i].nvols; j++) {
            const struct obs_volume *o = &h->pools[i].vols[j];
            if (o->backing && strcmp(o->backing, v->path) == 0)
                return arena_printf(c->a, "volume %s/%s is built on it (its backing file)",
                                    h->pools[i].name, o->name);
        }
    return NULL;
}

/* A domain that stays and has a NIC on network `net`, or NULL. */
static const char *network_user(struct ctx *c, const char *net)
{
    const struct obs_host *h = c->obs;
    for (size_t k = 0; k < h->ndoms; k++)
        for (size_t m = 0; m < h->doms[k].vm->spec.nics.n; m++)
            if (strcmp(h->doms[k].vm->spec.nics.v[m].network, net) == 0 &&
                !deleting(c, h->doms[k].name))
                return h->doms[k].name;
    return NULL;
}

/* A volume of pool p that stays (not deleted by this plan), or NULL. */
static const char *pool_keeps(struct ctx *c, const struct obs_pool *p)
{
    for (size_t j = 0; j < p->nvols; j++) {
        size_t a;
        bool gone = false;
        if (key_get(&c->keys, MODEL_DISK, p->vols[j].name, &a) == 1) {
            const struct plan_action *x = &c->p->v[a];
            gone = x->verb == PLAN_DELETE && x->pool && strcmp(x->pool, p->name) == 0;
        }
        if (!gone)
            return p->vols[j].name;
    }
    return NULL;
}

static void plan_stale(struct ctx *c)
{
    const struct obs_host *h = c->obs;
    const char *owner, *why, *how;
    /* VMs first */
    for (size_t i = 0; i < h->ndoms; i++) {
        const struct obs_domain *d = &h->doms[i];
        enum plan_owner own = plan_owner(c->a, &d->mark, "VM", d->name, d->uuid, c->project,
                                         &owner, &why);
        c->managed += own == OWNER_OURS;
        if (declared(c, MODEL_VM, d->name) || (own == OWNER_OURS && elsewhere(c, MODEL_VM, d->name)))
            continue;
        if (own == OWNER_FOREIGN) {
            foreign(c, MODEL_VM, d->name, owner);
            continue;
        }
        if (own == OWNER_MISMATCH) {
            finding(c, DRIFT_CONFLICT, "VM", d->name, NULL, NULL, NULL,
                    "a domain no manifest declares, %s; it is not qkvm's and is left alone", why);
            continue;
        }
        if (own == OWNER_NONE) {
            finding(c, DRIFT_ORPHAN, "VM", d->name, NULL, NULL, NULL,
                    "a domain qkvm did not create and no manifest declares (%s)",
                    d->active ? "running" : "shut off");
            continue;
        }
        finding(c, DRIFT_STALE, "VM", d->name, NULL, NULL, NULL,
                "created by qkvm, no longer declared");
        size_t planned;
        if (key_get(&c->keys, MODEL_VM, d->name, &planned) == 1 &&
            c->p->v[planned].verb == PLAN_DELETE)
            continue;                  /* already: a renamed VM's old domain */
        if (prune_it(c, MODEL_VM, d->name, &d->mark.labels, "", &how))
            add_action(c, PLAN_DELETE, MODEL_VM, d->name, NULL,
                       d->active ? arena_printf(c->a, "no longer declared (%s): stopped and "
                                                "undefined", how)
                                 : arena_printf(c->a, "no longer declared (%s): undefined", how));
    }
    /* volumes */
    for (size_t i = 0; i < h->npools; i++) {
        const struct obs_pool *p = &h->pools[i];
        for (size_t j = 0; j < p->nvols; j++) {
            const struct obs_volume *v = &p->vols[j];
            enum plan_owner own = record_owner(c, v->rec, v->marked, &owner);
            c->managed += own == OWNER_OURS;
            if (declared_disk(c, p->name, v->name) || plan_declared_volume(c->want, p->name, v->name))
                continue;
            if (own == OWNER_OURS && c->opts->fleet &&
                (fleet_disk(c, p->name, v->name) ||
                 plan_declared_volume(c->opts->fleet, p->name, v->name)))
                continue;          /* declared for another node */
            const char *vname = arena_printf(c->a, "%s/%s", p->name, v->name);
            if (own == OWNER_FOREIGN) {
                foreign(c, MODEL_DISK, v->name, owner);
                continue;
            }
            if (v->replaced) {
                finding(c, DRIFT_CONFLICT, "Volume", vname, NULL, NULL, NULL,
                        "recorded as created by qkvm, but its file is not the one qkvm created "
                        "(deleted and re-created by hand): not qkvm's, left alone");
                continue;
            }
            if (own == OWNER_NONE) {
                finding(c, DRIFT_ORPHAN, "Volume", vname, NULL, NULL, NULL,
                        "a volume no manifest declares, not recorded as qkvm's (in this state "
                        "database)");
                continue;
            }
            finding(c, DRIFT_STALE, "Disk", v->name, NULL, NULL, NULL,
                    "created by qkvm in pool %s, no longer declared", p->name);
            struct model_labels labels = parse_labels(c->a, v->rec->labels);
            const char *keeper = volume_keeper(c, p, v);
            if (v->rec->protect)
                note(c, NOTE_PROTECTED, MODEL_DISK, v->name,
                     "stale, but protect: true was declared; never deleted (pool %s)", p->name);
            else if (keeper)
                note(c, NOTE_PRUNE_SKIPPED, MODEL_DISK, v->name, "stale, but %s; not deleted",
                     keeper);
            else if (shared_pool(c, p->name))
                note(c, NOTE_PRUNE_SKIPPED, MODEL_DISK, v->name,
                     "stale, but on pool %s, which is shared: a fleet run does not delete it "
                     "(a domain on another node may read it); delete it by hand once nothing "
                     "uses it", p->name);
            else if (v->unverified)
                note(c, NOTE_PRUNE_SKIPPED, MODEL_DISK, v->name,
                     "stale, but its file cannot be checked to be the one qkvm created (pool "
                     "%s on a remote host, or unreadable); not deleted", p->name);
            else if (prune_it(c, MODEL_DISK, v->name, &labels,
                              arena_printf(c->a, " from pool %s", p->name), &how)) {
                struct plan_action *a = add_action(c, PLAN_DELETE, MODEL_DISK, v->name, NULL,
                                                   arena_printf(c->a, "no longer declared "
                                                                "(%s): volume deleted "
                                                                "from pool %s", how, p->name));
                a->pool = p->name;
                size_t ai = (size_t)(a - c->p->v), disk;
                for (size_t k = 0; k < h->ndoms; k++) {
                    const struct obs_domain *d = &h->doms[k];
                    if (observe_uses_volume(d, p, v, &disk) || observe_holds_volume(d, p, v) ||
                        (d->seed_volume && strcmp(d->seed_volume, v->name) == 0 &&
                         d->seed_pool && strcmp(d->seed_pool, p->name) == 0))
                        depend(c, ai, MODEL_VM, d->name);
                }
            }
        }
        for (size_t j = 0; j < p->nstray_files; j++)
            finding(c, DRIFT_ORPHAN_FILE, "File", p->stray_files[j], NULL, NULL, NULL,
                    "in the directory of pool %s, unknown to libvirt", p->name);
    }
    /* networks */
    for (size_t i = 0; i < h->nnets; i++) {
        const struct obs_network *n = &h->nets[i];
        enum plan_owner own = plan_owner(c->a, &n->mark, "Network", n->name, n->uuid, c->project,
                                         &owner, &why);
        c->managed += own == OWNER_OURS;
        if (declared(c, MODEL_NETWORK, n->name))
            continue;
        if (own == OWNER_FOREIGN) {
            foreign(c, MODEL_NETWORK, n->name, owner);
            continue;
        }
        if (own == OWNER_MISMATCH) {
            finding(c, DRIFT_CONFLICT, "Network", n->name, NULL, NULL, NULL,
                    "a network no manifest declares, %s; it is not qkvm's and is left alone",
                    why);
            continue;
        }
        if (own == OWNER_NONE) {
            finding(c, DRIFT_ORPHAN, "Network", n->name, NULL, NULL, NULL,
                    "a network qkvm did not create and no manifest declares");
            continue;
        }
        finding(c, DRIFT_STALE, "Network", n->name, NULL, NULL, NULL,
                "created by qkvm, no longer declared");
        const char *user = network_user(c, n->name);
        if (user) {
            note(c, NOTE_PRUNE_SKIPPED, MODEL_NETWORK, n->name,
                 "stale, but domain %s still has a NIC on it; not deleted", user);
            continue;
        }
        if (!prune_it(c, MODEL_NETWORK, n->name, &n->mark.labels, "", &how))
            continue;
        struct plan_action *a = add_action(c, PLAN_DELETE, MODEL_NETWORK, n->name, NULL,
                                           arena_printf(c->a, "no longer declared (%s)", how));
        size_t ai = (size_t)(a - c->p->v);
        for (size_t k = 0; k < h->ndoms; k++)
            for (size_t m = 0; m < h->doms[k].vm->spec.nics.n; m++)
                if (strcmp(h->doms[k].vm->spec.nics.v[m].network, n->name) == 0)
                    depend(c, ai, MODEL_VM, h->doms[k].name);
    }
    /* pools last */
    for (size_t i = 0; i < h->npools; i++) {
        const struct obs_pool *p = &h->pools[i];
        enum plan_owner own = record_owner(c, p->rec, p->marked, &owner);
        c->managed += own == OWNER_OURS;
        if (declared(c, MODEL_POOL, p->name))
            continue;
        if (own == OWNER_FOREIGN) {
            foreign(c, MODEL_POOL, p->name, owner);
            continue;
        }
        if (own == OWNER_NONE) {
            finding(c, DRIFT_ORPHAN, "Pool", p->name, NULL, NULL, NULL,
                    "a storage pool no manifest declares, not recorded as qkvm's (in this "
                    "state database)");
            continue;
        }
        finding(c, DRIFT_STALE, "Pool", p->name, NULL, NULL, NULL,
                "created by qkvm, no longer declared");
        struct model_labels labels = parse_labels(c->a, p->rec->labels);
        const char *vol = pool_keeps(c, p);
        if (vol) {
            note(c, NOTE_PRUNE_SKIPPED, MODEL_POOL, p->name,
                 "stale, but volume %s stays in it; not deleted", vol);
            continue;
        }
        if (!prune_it(c, MODEL_POOL, p->name, &labels, " (its definition; the directory stays)",
                      &how))
            continue;
        struct plan_action *a = add_action(c, PLAN_DELETE, MODEL_POOL, p->name, NULL,
                                           arena_printf(c->a, "no longer declared (%s): "
                                                        "definition removed, the directory and "
                                                        "its files stay", how));
        size_t ai = (size_t)(a - c->p->v);
        for (size_t j = 0; j < p->nvols; j++)
            depend(c, ai, MODEL_DISK, p->vols[j].name);
    }
}

/* The deletion guards: too many deletions, or all of the project's objects,
 * and none of them is kept in the plan; neither is an action that needs
 * one of them (a renamed VM's create waits for its old domain's deletion).
 * Dependencies always point to earlier actions, so one forward pass finds
 * what stays, and the survivors' dependencies are renumbered. */
static void plan_guard(struct ctx *c)
{
    struct plan *p = c->p;
    size_t n = p->count[PLAN_DELETE];
    if (!n)
        return;
    const struct model_project *proj = model_project(c->want);
    bool given = c->opts->max_deletions >= 0;
    long max = given ? c->opts->max_deletions : proj ? (long)proj->spec.max_deletions : 10;
    bool all = n >= c->managed;
    /* a fleet's guard counts the whole run's deletions, every node's */
    size_t total = n + c->opts->fleet_deletions;
    if (total <= (size_t)max && (!all || given))
        return;
    size_t *to = xcalloc(p->n + 1, sizeof(*to)), kept = 0;
    bool *keep = xcalloc(p->n + 1, sizeof(*keep));
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        keep[i] = a->verb != PLAN_DELETE;
        for (size_t j = 0; j < a->ndeps && keep[i]; j++)
            keep[i] = keep[a->deps[j]];
        if (a->verb == PLAN_DELETE)
            note(c, NOTE_PRUNE_SKIPPED, a->kind, a->name,
                 "stale: its deletion is refused by the deletion guard (see project/%s)",
                 c->project);
        else if (!keep[i])
            note(c, NOTE_BLOCKED, a->kind, a->name, "%s not planned: it needs a deletion the "
                 "deletion guard refused (see project/%s)", plan_verb_name(a->verb), c->project);
    }
    memset(p->count, 0, sizeof(p->count));
    for (size_t i = 0; i < p->n; i++) {
        if (!keep[i])
            continue;
        to[i] = kept;
        struct plan_action *a = &p->v[i];
        for (size_t j = 0; j < a->ndeps; j++)
            a->deps[j] = to[a->deps[j]];
        p->count[a->verb]++;
        p->v[kept++] = *a;
    }
    p->n = kept;
    free(to);
    free(keep);
    if (total > (size_t)max && c->opts->fleet_deletions)
        note(c, NOTE_REFUSED, MODEL_PROJECT, c->project,
             "refused: this run would delete %zu object%s on all nodes (%zu here), more than "
             "the %ld that project '%s' allows (%s); nothing is deleted. Pass "
             "--max-deletions %zu to allow it", total, total == 1 ? "" : "s", n, max,
             c->project, given ? "--max-deletions" : "spec.maxDeletions", total);
    else if (n > (size_t)max)
        note(c, NOTE_REFUSED, MODEL_PROJECT, c->project,
             "refused: this plan would delete %zu object%s, more than the %ld that project "
             "'%s' allows (%s); nothing is deleted. Pass --max-deletions %zu to allow it",
             n, n == 1 ? "" : "s", max, c->project,
             given ? "--max-deletions" : "spec.maxDeletions", n);
    else
        note(c, NOTE_REFUSED, MODEL_PROJECT, c->project,
             "refused: this plan would delete every object project '%s' manages on the host "
             "(%zu); nothing is deleted. Pass --max-deletions %zu to allow it",
             c->project, n, n);
    p->refused = n;
}

static void plan_host_checks(struct ctx *c)
{
    const struct obs_host *h = c->obs;
    for (size_t i = 0; i < h->ndoms; i++) {
        const struct obs_domain *d = &h->doms[i];
        for (size_t j = 0; j < d->vm->spec.disks.n; j++)
            if (d->disk_missing[j])
                finding(c, DRIFT_DISK_MISSING, "VM", d->name,
                        arena_printf(c->a, "spec.disks[%s]", d->vm->spec.disks.v[j].disk),
                        NULL, NULL, "the disk file %s does not exist",
                        d->disk_path[j] ? d->disk_path[j] : "?");
    }
    for (size_t i = 0; i < h->nstrays; i++) {
        const struct obs_process *s = &h->strays[i];
        finding(c, DRIFT_STRAY_PROCESS, "Process", arena_printf(c->a, "%d", s->pid), NULL,
                NULL, NULL, "qemu process of guest %s (uuid %s) that no libvirt domain accounts for",
                s->name ? s->name : "?", s->uuid ? s->uuid : "?");
    }
}

struct plan *plan_build(const struct model *desired, const struct obs_host *obs,
                        const struct plan_opts *opts)
{
    struct plan *p = xcalloc(1, sizeof(*p));
    p->arena = arena_new();
    p->uri = arena_strdup(p->arena, obs->uri);
    struct ctx c = { p, p->arena, desired, obs, opts, { 0 }, model_project_name(desired),
                     true, 0 };
    p->project = c.project;
    for (int k = MODEL_NETWORK; k <= MODEL_VM; k++)
        c.empty &= (opts->fleet ? opts->fleet : desired)->len[k] == 0;
    if (opts->only) {
        plan_vms(&c);             /* the rest was not observed: nothing to judge */
    } else {
        plan_pools(&c);
        plan_networks(&c);
        plan_images(&c);
        plan_disks(&c);
        plan_vms(&c);
        plan_stale(&c);
        plan_guard(&c);
        plan_host_checks(&c);
    }
    /* VMs left waiting for a restart: a pending one, or one this plan's
     * update makes, that no restart action of the plan takes care of */
    for (size_t i = 0; i < p->nnotes; i++) {
        const struct plan_note *n = &p->notes[i];
        bool first = n->type == NOTE_RESTART_PENDING;
        for (size_t j = 0; first && j < i; j++)
            first = !(p->notes[j].type == NOTE_RESTART_PENDING &&
                      strcmp(p->notes[j].name, n->name) == 0);
        p->restarts_pending += first;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        if (a->kind != MODEL_VM || a->verb != PLAN_UPDATE || !a->restart_required)
            continue;
        bool counted = false;
        for (size_t j = 0; j < p->n && !counted; j++)
            counted = p->v[j].verb == PLAN_RESTART && strcmp(p->v[j].name, a->name) == 0;
        for (size_t j = 0; j < p->nnotes && !counted; j++)
            counted = p->notes[j].type == NOTE_RESTART_PENDING &&
                      strcmp(p->notes[j].name, a->name) == 0;
        p->restarts_pending += !counted;
    }
    free(c.keys.v);
    return p;
}

/* ---- a fleet's plan ---- */

struct plan *plan_new(const char *uri, const char *project)
{
    struct plan *p = xcalloc(1, sizeof(*p));
    p->arena = arena_new();
    p->uri = arena_strdup(p->arena, uri ? uri : "");
    p->project = project;
    return p;
}

size_t plan_add(struct plan *p, enum plan_verb verb, enum model_kind kind, const char *name,
                const char *reason)
{
    struct plan_action *a = vec_push(p);
    a->verb = verb;
    a->kind = kind;
    a->name = name;
    a->reason = reason;
    p->count[verb]++;
    return p->n - 1;
}

void plan_add_dep(struct plan *p, size_t action, size_t dep)
{
    struct plan_action *a = &p->v[action];
    for (size_t i = 0; i < a->ndeps; i++)
        if (a->deps[i] == dep)
            return;
    *vec_append(p->arena, a->deps, a->ndeps, a->deps_cap, 1) = dep;
}

void plan_add_note(struct plan *p, enum plan_note_type t, enum model_kind kind,
                   const char *name, const char *node, const char *message)
{
    *vec_append(NULL, p->notes, p->nnotes, p->notes_cap, 1) =
        (struct plan_note){ t, kind, name, message, node };
}

struct plan *plan_merge(struct plan *const *parts, const char *const *names, size_t n,
                        const char *project)
{
    struct plan *p = xcalloc(1, sizeof(*p));
    p->arena = arena_new();
    p->project = project;
    p->nodes = arena_alloc(p->arena, (n + 1) * sizeof(*p->nodes));
    const char *uri = "";
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < p->nnodes && !seen; j++)
            seen = strcmp(p->nodes[j], names[i]) == 0;
        if (seen)
            continue;              /* a node's own plan and its moves */
        uri = arena_printf(p->arena, "%s%s%s", uri, p->nnodes ? ", " : "", names[i]);
        p->nodes[p->nnodes++] = names[i];
    }
    p->uri = arena_printf(p->arena, "%zu node%s (%s)", p->nnodes, p->nnodes == 1 ? "" : "s",
                          uri);
    for (size_t i = 0; i < n; i++) {
        const struct plan *q = parts[i];
        if (!q)
            continue;
        size_t base = p->n;
        for (size_t j = 0; j < q->n; j++) {
            struct plan_action *a = vec_push(p);
            *a = q->v[j];
            a->node = names[i];
            a->deps = NULL;
            a->ndeps = a->deps_cap = 0;
            for (size_t k = 0; k < q->v[j].ndeps; k++)
                plan_add_dep(p, p->n - 1, base + q->v[j].deps[k]);
        }
        for (size_t j = 0; j < q->nnotes; j++) {
            struct plan_note x = q->notes[j];
            x.node = names[i];
            *vec_append(NULL, p->notes, p->nnotes, p->notes_cap, 1) = x;
        }
        for (size_t j = 0; j < q->ndrift; j++) {
            struct drift_finding x = q->drift[j];
            x.node = names[i];
            *vec_append(NULL, p->drift, p->ndrift, p->drift_cap, 1) = x;
        }
        for (size_t j = 0; j < q->nforeign; j++) {
            struct plan_foreign x = q->foreign[j];
            x.node = names[i];
            *vec_append(NULL, p->foreign, p->nforeign, p->foreign_cap, 1) = x;
        }
        for (int v = 0; v < PLAN_VERB_COUNT; v++)
            p->count[v] += q->count[v];
        p->refused += q->refused;
        p->restarts_pending += q->restarts_pending;
    }
    return p;
}
