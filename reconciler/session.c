/* session.c — one reconcile of one node, set up as far as a caller needs.
 * See session.h. */
#include "session.h"

#include "arena.h"
#include "diag.h"
#include "fleet.h"
#include "inventory.h"
#include "observe.h"
#include "owned.h"
#include "validate.h"
#include "vec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void session_say(const struct session *s, enum session_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->o->say)
        s->o->say(s->o->payload, level, msg);
}

double session_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the state store ---- */

char *session_state_path(const char *given, bool *dflt)
{
    const char *s = given ? given : getenv("QKVM_STATE");
    *dflt = false;
    if (s && *s)
        return xstrdup(s);
    *dflt = true;
    if (geteuid() == 0)
        return xstrdup("/var/lib/qkvm/state.db");
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char buf[PATH_MAX];
    if (x && *x == '/')
        snprintf(buf, sizeof(buf), "%s/qkvm/state.db", x);
    else
        snprintf(buf, sizeof(buf), "%s/.local/state/qkvm/state.db", home && *home ? home : ".");
    return xstrdup(buf);
}

static int mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(dir, 0700);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writers create the default directory (a given path's directory must
 * exist, so a typo is not silently a new database somewhere). */
static struct store *open_store(const struct session *s, const struct session_opts *o,
                                enum store_mode mode)
{
    bool dflt;
    char *path = session_state_path(o->state, &dflt), err[1024];
    if (dflt && mode == STORE_WRITE) {
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdirs(dir) < 0)
                session_say(s, SESSION_ERROR, "cannot create '%s': %s", dir, strerror(errno));
        }
        free(dir);
    }
    struct store *st = store_open(path, mode, err, sizeof(err));
    if (!st)
        session_say(s, SESSION_ERROR, "%s%s", err, o->need & SESSION_LOCK ? "; nothing was changed" : "");
    free(path);
    return st;
}

struct store *session_store(const struct session_opts *o, enum store_mode mode)
{
    struct session tmp = { .o = o };
    return open_store(&tmp, o, mode);
}

/* ---- the node ---- */

/* Which libvirt host: -c, else the one Node's uri, else libvirt's default
 * (LIBVIRT_DEFAULT_URI, then its own rules). *label gets the node's name:
 * the Node's, else NULL (the URI's host is used). */
static int pick_uri(const struct session *s, const char **uri, const char **label)
{
    const struct model *m = s->m;
    *uri = s->o->connect;
    *label = NULL;
    if (m && m->len[MODEL_NODE] == 1) {
        const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][0];
        if (!*uri || strcmp(*uri, n->spec.uri) == 0) {
            *uri = n->spec.uri;
            *label = n->obj.meta.name;
        }
    } else if (m && m->len[MODEL_NODE] > 1 && !*uri) {
        session_say(s, SESSION_ERROR, "the manifests declare %zu Nodes; this version reconciles one "
                              "host at a time: pass -c URI", m->len[MODEL_NODE]);
        return -1;
    } else if (m && *uri) {
        for (size_t i = 0; i < m->len[MODEL_NODE]; i++) {
            const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][i];
            if (strcmp(n->spec.uri, *uri) == 0)
                *label = n->obj.meta.name;
        }
    }
    return 0;
}

/* A node's name from its URI: the host part, or "localhost". */
static const char *uri_label(struct arena *a, const char *uri)
{
    const char *p = uri ? strstr(uri, "://") : NULL;
    if (!p)
        return "localhost";
    p += 3;
    const char *at = strchr(p, '@'), *end = p + strcspn(p, "/:?");
    if (at && at < end)
        p = at + 1;
    end = p + strcspn(p, "/:?");
    return end > p ? arena_strndup(a, p, (size_t)(end - p)) : "localhost";
}

static const char *join_files(struct arena *a, const struct session_opts *o)
{
    const char *j = "";
    for (size_t i = 0; i < o->nfiles; i++)
        j = arena_printf(a, "%s%s%s", j, i ? "," : "", o->files[i]);
    return j;
}

/* ---- the steps ---- */

static enum session_status load(struct session *s)
{
    const struct session_opts *o = s->o;
    bool must = o->need & SESSION_MANIFESTS;
    if (!o->nfiles && !o->set) {
        if (!must)
            return SESSION_OK;
        session_say(s, SESSION_ERROR, "%s needs manifests: -f PATH (a file or a directory)", o->cmd);
        return SESSION_FAILED;
    }
    s->d = xcalloc(1, sizeof(*s->d));
    diag_init(s->d);
    double t0 = session_now();
    s->m = model_new();
    int lrc = 0;
    if (o->set)
        manifest_parse(s->m, o->set, s->d, &s->stats);
    else
        lrc = manifest_load(s->m, (const char **)o->files, o->nfiles, s->d, &s->stats);
    double t1 = session_now();
    validate_model(s->m, s->d);
    diag_sort(s->d);
    s->t_load = session_now() - t0;
    if (o->verbose)
        session_say(s, SESSION_VERBOSE, "read %zu file%s (%zu bytes, %zu document%s, %zu object%s): "
                                "load %.1f ms, checks %.1f ms, %.1f MiB of trees and model",
            s->stats.files, s->stats.files == 1 ? "" : "s", s->stats.bytes, s->stats.documents,
            s->stats.documents == 1 ? "" : "s", model_count(s->m),
            model_count(s->m) == 1 ? "" : "s",
            (t1 - t0) * 1e3, (session_now() - t1) * 1e3, (double)arena_used(s->m->arena) / (1 << 20));
    if (o->findings)
        o->findings(o->payload, s->d);
    if (lrc < 0)
        return SESSION_FAILED;       /* a path that could not be read: said by the findings */
    return SESSION_OK;
}

static enum session_status fail_run(struct session *s, enum store_result r, const char *error)
{
    session_end(s, r, "", error);
    return r == STORE_RUN_INVALID ? SESSION_INVALID : SESSION_FAILED;
}

/* Open the store; record the run when asked (and possible). */
static enum session_status store_step(struct session *s)
{
    const struct session_opts *o = s->o;
    bool lock = o->need & SESSION_LOCK, record = lock || (o->need & SESSION_RECORD);
    bool invalid = s->d && s->d->errors;
    char err[1024];
    if (!record) {
        s->st = open_store(s, o, STORE_READ);
        return s->st ? SESSION_OK : SESSION_FAILED;
    }
    bool dflt;
    char *sp = session_state_path(o->state, &dflt);
    bool readonly = !lock && access(sp, F_OK) == 0 && access(sp, W_OK) < 0;
    free(sp);
    if (readonly) {
        /* plan and drift still work from a store they may only read */
        s->st = open_store(s, o, STORE_READ);
        if (s->st)
            session_say(s, SESSION_WARNING, "the state database is read-only: this %s is not recorded",
                o->cmd);
    } else {
        s->st = open_store(s, o, STORE_WRITE);
    }
    if (!s->st && (lock || !invalid))
        return invalid ? SESSION_INVALID : SESSION_FAILED;   /* said by open_store */
    if (!s->st || !store_writable(s->st))
        return SESSION_OK;
    if (owned_import_legacy(s->st, err, sizeof(err)) < 0) {
        session_say(s, SESSION_ERROR, "cannot import the ownership record: %s", err);
        return SESSION_FAILED;
    }
    if (store_prune(s->st, STORE_DEFAULT_KEEP_RUNS,
                    store_now() - STORE_DEFAULT_KEEP_DAYS * 86400000LL, err, sizeof(err)) < 0 ||
        store_run_begin(s->st, o->cmd, s->uri ? s->uri : "",
                        o->source ? o->source : join_files(s->a, o), o->commit ? o->commit : "",
                        &s->run,
                        err, sizeof(err)) < 0) {
        session_say(s, lock ? SESSION_ERROR : SESSION_WARNING, "%s%s", err,
            lock ? "; nothing was changed" : "");
        s->run = 0;
        if (lock)
            return SESSION_FAILED;
    }
    return SESSION_OK;
}

const char *session_lock_taken(struct store *st, int64_t run, const char *uri,
                               const struct store_holder *prev, struct arena *a, char *err,
                               size_t errlen)
{
    char when[64];
    time_t t = (time_t)(prev->since / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    struct store_event ev = {
        0, run, "Warning", "LockTakenOver", "", "", uri ? uri : "",
        arena_printf(a, "the lock of pid %d (%s started %s) was taken over: that process is "
                        "gone", prev->pid, prev->what, when) };
    return store_event(st, &ev, err, errlen) < 0 ? NULL : ev.message;
}

static enum session_status lock_step(struct session *s)
{
    char err[1024], e2[1024];
    bool took;
    struct store_holder prev;
    if (store_lock(s->st, s->o->cmd, s->o->lock_timeout_ms, &took, &prev, err, sizeof(err)) < 0) {
        session_say(s, SESSION_ERROR, "%s; nothing was changed", err);
        return fail_run(s, STORE_RUN_ERROR, err);
    }
    if (took) {
        const char *msg = session_lock_taken(s->st, s->run, s->uri, &prev, s->a, e2, sizeof(e2));
        if (!msg)
            session_say(s, SESSION_WARNING, "%s", e2);
        else
            session_say(s, SESSION_INFO, "%s", msg);
    }
    if (store_reap(s->st, e2, sizeof(e2)) < 0)
        session_say(s, SESSION_WARNING, "%s", e2);
    return SESSION_OK;
}

static enum session_status connect_step(struct session *s, const char *label)
{
    const struct session_opts *o = s->o;
    bool soft = o->need & SESSION_CONNECT_SOFT;
    char err[1024];
    double t0 = session_now();
    s->v = virt_open(s->uri, &o->virt, err, sizeof(err));
    if (!s->v) {
        if (soft) {
            session_say(s, SESSION_WARNING, "cannot observe %s: %s; showing what was last recorded",
                s->uri ? s->uri : "the default libvirt host", err);
            s->node = label ? label : uri_label(s->a, s->uri);
            return SESSION_OK;
        }
        session_say(s, SESSION_ERROR, "%s", err);
        char e2[256];
        if (s->run && s->uri)
            store_node_seen(s->st, s->run, s->uri, label ? label : uri_label(s->a, s->uri),
                            "unreachable", err, e2, sizeof(e2));
        return fail_run(s, STORE_RUN_ERROR, err);
    }
    s->uri = arena_strdup(s->a, virt_uri(s->v));
    s->node = label ? label : uri_label(s->a, s->uri);
    if (s->run)
        store_run_set_node(s->st, s->run, s->uri, err, sizeof(err));
    /* this host's ownership records: known once libvirt named the host */
    if (s->st) {
        s->own = owned_from_store(s->st, s->uri, err, sizeof(err));
        if (!s->own) {
            session_say(s, SESSION_ERROR, "cannot read the ownership records: %s", err);
            return fail_run(s, STORE_RUN_ERROR, err);
        }
    }
    s->obs = observe_host(s->v, s->m, s->own, o->need & SESSION_DEEP ? OBSERVE_DEEP : 0, err,
                          sizeof(err));
    if (!s->obs) {
        if (soft) {
            session_say(s, SESSION_WARNING, "cannot observe %s: %s; showing what was last recorded",
                s->uri, err);
            return SESSION_OK;
        }
        session_say(s, SESSION_ERROR, "cannot observe %s: %s", s->uri, err);
        return fail_run(s, STORE_RUN_ERROR, err);
    }
    s->t_observe = session_now() - t0;
    if (s->run && store_node_seen(s->st, s->run, s->uri, s->node, "ready", "", err,
                                  sizeof(err)) < 0)
        session_say(s, SESSION_WARNING, "%s", err);
    if (o->verbose)
        session_say(s, SESSION_VERBOSE, "%s: load %.1f ms, observe %.1f ms (%zu domain%s, %zu network%s, "
                                "%zu pool%s; %lu libvirt calls)",
            s->uri, s->t_load * 1e3, s->t_observe * 1e3, s->obs->ndoms,
            s->obs->ndoms == 1 ? "" : "s", s->obs->nnets, s->obs->nnets == 1 ? "" : "s",
            s->obs->npools, s->obs->npools == 1 ? "" : "s", s->obs->calls);
    return SESSION_OK;
}

enum session_status session_open(struct session *s, const struct session_opts *o)
{
    enum session_status rc;
    memset(s, 0, sizeof(*s));
    s->o = o;
    s->a = arena_new();
    if (o->need & (SESSION_MANIFESTS | SESSION_MANIFESTS_OPT)) {
        if ((rc = load(s)) != SESSION_OK)
            return rc;
    }
    bool invalid = s->d && s->d->errors;
    if (invalid && (o->need & SESSION_INVALID_OK))
        return SESSION_INVALID;
    if (invalid && !(o->need & (SESSION_RECORD | SESSION_LOCK))) {
        session_say(s, SESSION_ERROR, "%zu error%s: manifests are invalid", s->d->errors,
            s->d->errors == 1 ? "" : "s");
        return SESSION_INVALID;
    }
    if (!invalid && !(o->need & (SESSION_STORE | SESSION_RECORD | SESSION_LOCK | SESSION_CONNECT |
                                  SESSION_CONNECT_SOFT)))
        return SESSION_OK;               /* the manifests alone (validate, render) */
    const char *label = NULL;
    bool fleet = !invalid && s->m && s->m->len[MODEL_NODE] > 0 &&
                 (o->need & (SESSION_CONNECT | SESSION_CONNECT_SOFT));
    if (!fleet && o->node) {
        session_say(s, SESSION_ERROR, "--node %s: the manifests declare no Nodes%s", o->node,
            s->m ? "" : " (give them with -f)");
        return SESSION_FAILED;
    }
    int urc = invalid || fleet ? 0 : pick_uri(s, &s->uri, &label);
    if (o->need & (SESSION_STORE | SESSION_RECORD | SESSION_LOCK)) {
        if ((rc = store_step(s)) != SESSION_OK)
            return rc;
    }
    if (invalid) {
        session_say(s, SESSION_ERROR, "%zu error%s: manifests are invalid; nothing was changed",
            s->d->errors, s->d->errors == 1 ? "" : "s");
        char *msg = arena_printf(s->a, "%zu error%s in the manifests", s->d->errors,
                                 s->d->errors == 1 ? "" : "s");
        session_end(s, STORE_RUN_INVALID, msg, msg);
        return SESSION_INVALID;
    }
    if (urc < 0)
        return fail_run(s, STORE_RUN_ERROR, "several Nodes and no -c");
    if ((o->need & SESSION_LOCK) && (rc = lock_step(s)) != SESSION_OK)
        return rc;
    if (!(o->need & (SESSION_CONNECT | SESSION_CONNECT_SOFT))) {
        s->node = label ? label : uri_label(s->a, s->uri);
        return SESSION_OK;
    }
    if (fleet)
        return fleet_open(s);
    if ((rc = connect_step(s, label)) != SESSION_OK)
        return rc;
    if ((o->need & SESSION_PLAN) && s->m && s->obs)
        s->plan = plan_build(s->m, s->obs, &o->plan);
    return SESSION_OK;
}

void session_end(struct session *s, enum store_result result, const char *summary,
                 const char *error)
{
    char err[1024];
    if (s->run && store_run_end(s->st, s->run, result, summary, error, err, sizeof(err)) < 0)
        session_say(s, SESSION_WARNING, "%s", err);
    s->run = 0;
}

void session_close(struct session *s)
{
    if (!s->o)
        return;
    fleet_close(s);
    for (size_t i = 0; i < s->nviews; i++)
        model_free(s->views[i]);
    free(s->views);
    plan_free(s->plan);
    observe_free(s->obs);
    owned_free(s->own);
    virt_close(s->v);
    store_close(s->st);
    arena_free(s->a);
    model_free(s->m);
    if (s->d) {
        diag_dispose(s->d);
        free(s->d);
    }
    memset(s, 0, sizeof(*s));
}

size_t session_units(struct session *s, struct session_unit **out)
{
    *out = NULL;
    if (!s->nnodes) {
        if (!s->plan)
            return 0;
        *out = arena_alloc(s->a, sizeof(**out));
        **out = (struct session_unit){ s->node, s->uri, s->v, s->m, s->obs, s->plan, 0, false };
        return 1;
    }
    struct session_unit *u = arena_alloc(s->a, (2 * s->nnodes + 1) * sizeof(*u));
    size_t n = 0, base = 0;
    /* in fleet_open's merge order: every node's plan, then the moves */
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *nd = &s->nodes[i];
        if (!nd->selected || !nd->plan)
            continue;
        u[n++] = (struct session_unit){ nd->name, nd->uri, nd->v, nd->view, nd->obs, nd->plan,
                                        base, false };
        base += nd->plan->n;
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *nd = &s->nodes[i];
        if (!nd->selected || !nd->moves)
            continue;
        u[n++] = (struct session_unit){ nd->name, nd->uri, nd->v, nd->moves_view, nd->obs,
                                        nd->moves, base, true };
        base += nd->moves->n;
    }
    *out = u;
    return n;
}

static struct inventory *node_inventory(struct session *s, const char *node, const char *uri,
                                        const struct model *m, struct obs_host *obs,
                                        struct virt *v, const struct plan *p)
{
    struct store_object *so = NULL;
    size_t n = 0;
    char err[1024];
    /* only this node's rows: with no URI known (the default host did not
     * answer), none rather than every node's under one name */
    if (s->st && uri && store_objects(s->st, s->a, uri, NULL, NULL, &so, &n, err,
                                      sizeof(err)) < 0) {
        session_say(s, SESSION_WARNING, "%s", err);
        n = 0;
    }
    if (obs && v && !obs->leases)
        observe_leases(v, obs);
    return inventory_build(node, uri, m, obs, p, so, n);
}

struct inventory *session_unit_inventory(struct session *s, const struct session_unit *u)
{
    return node_inventory(s, u->name, u->uri, u->m, (struct obs_host *)u->obs, u->v, u->plan);
}

static bool moving(const struct session *s, const struct model_object *o)
{
    for (size_t i = 0; s->moving && i < s->m->len[MODEL_VM]; i++)
        if (s->m->objs[MODEL_VM][i] == o)
            return s->moving[i];
    return false;
}

static bool unplaced(void *payload, const struct model_object *o)
{
    return o->kind == MODEL_VM && !session_vm_node(payload, o->meta.name, NULL);
}

/* Every selected node's rows, each Node with what placement allocated on
 * it, and the VMs no node takes. */
static struct inventory *fleet_inventory(struct session *s)
{
    struct inventory **parts = xcalloc(s->nnodes + 2, sizeof(*parts));
    size_t np = 0;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct session_node *n = &s->nodes[i];
        if (n->selected)
            parts[np++] = node_inventory(s, n->name, n->uri, n->view, n->obs, n->v, n->plan);
    }
    struct model *left = s->placed ? model_view(s->m, unplaced, s) : NULL;
    if (left)
        parts[np++] = inventory_build("", "", left, NULL, s->plan, NULL, 0);
    struct inventory *inv = inventory_merge(parts, np);
    free(parts);
    /* what the store last saw of a declared VM or Disk on a node it is
     * no longer on (it moved) is history, not a row */
    size_t kept = 0;
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *r = &inv->v[i];
        if (!r->want && !r->seen && (r->kind == MODEL_VM || r->kind == MODEL_DISK) &&
            model_find(s->m, r->kind, r->name))
            continue;
        inv->v[kept++] = *r;
    }
    inv->n = kept;
    for (size_t i = 0; i < inv->n; i++) {
        struct inventory_row *r = &inv->v[i];
        const char *why = NULL;
        if (r->kind != MODEL_VM)
            continue;
        const struct model_object *o = model_find(s->m, MODEL_VM, r->name);
        const struct session_node *to = o ? session_vm_node(s, r->name, &why) : NULL;
        if (!r->want && o && r->seen && to && to->name != r->node && moving(s, o)) {
            /* leaving this node this run: declared, on its way */
            r->want = o;
            r->sync = INVENTORY_OUT_OF_SYNC;
            r->placement = arena_printf(s->a, "moving to %s: %s", to->name, why);
            continue;
        }
        if (r->want && to)
            r->placement = why;
        else if (r->seen) {
            const struct obs_domain *d = r->obs ? observe_domain(r->obs, r->name) : NULL;
            r->placement = d ? d->mark.placement : NULL;
        }
        if (r->want && !r->node[0])
            r->node = "-";
    }
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct session_node *n = &s->nodes[i];
        struct inventory_row *r = inventory_add_row(inv);
        r->kind = MODEL_NODE;
        r->name = n->name;
        r->node = n->name;
        r->uri = n->uri;
        r->want = &n->decl->obj;
        r->state = n->obs ? "ready" : n->selected ? "unreachable" : "-";
        r->sync = n->obs ? INVENTORY_SYNCED : INVENTORY_UNKNOWN;
        r->fleet_node = n->obs != NULL;
        r->maintenance = n->decl->spec.maintenance;
        r->node_cpus = n->cpus;
        r->node_alloc_cpus = n->alloc_cpus;
        r->node_memory = (long long)n->memory;
        r->node_alloc_memory = (long long)n->alloc_memory;
        /* what runs there now (a drain's progress), else what is placed */
        r->node_vms = (long long)(n->obs ? n->vms_here : n->vms);
    }
    inventory_sort(inv);
    if (left) {
        /* the rows point into it: kept until the session ends */
        *vec_append(NULL, s->views, s->nviews, s->views_cap, 1) = left;
    }
    return inv;
}

struct inventory *session_inventory(struct session *s)
{
    if (s->nnodes)
        return fleet_inventory(s);
    return node_inventory(s, s->node, s->uri, s->m, s->obs, s->v, s->plan);
}

void session_record_seen(struct session *s, struct inventory *inv, bool with_spec)
{
    char err[1024];
    if (!s->run)
        return;
    struct store_object *so;
    size_t n = inventory_snapshot(inv, with_spec, &so);
    if (store_objects_put(s->st, s->run, so, n, err, sizeof(err)) < 0)
        session_say(s, SESSION_WARNING, "%s", err);
}

const char *session_plan_summary(struct session *s)
{
    const struct plan *p = s->plan;
    if (!p->n && p->restarts_pending)
        return arena_printf(s->a, "nothing to apply, %zu restart%s pending", p->restarts_pending,
                            p->restarts_pending == 1 ? "" : "s");
    if (!p->n)
        return arena_printf(s->a, "no changes%s", p->nnotes ? ", with notes" : "");
    if (p->count[PLAN_MIGRATE])
        return arena_printf(s->a, "%zu to create, %zu to update, %zu to replace, %zu to delete, "
                                  "%zu to start/stop/pause/resume, %zu to restart, %zu to adopt, "
                                  "%zu to migrate",
                            p->count[PLAN_CREATE], p->count[PLAN_UPDATE], p->count[PLAN_REPLACE],
                            p->count[PLAN_DELETE], p->count[PLAN_START] + p->count[PLAN_STOP] +
                            p->count[PLAN_PAUSE] + p->count[PLAN_RESUME],
                            p->count[PLAN_RESTART], p->count[PLAN_ADOPT],
                            p->count[PLAN_MIGRATE]);
    return arena_printf(s->a, "%zu to create, %zu to update, %zu to replace, %zu to delete, "
                              "%zu to start/stop/pause/resume, %zu to restart, %zu to adopt",
                        p->count[PLAN_CREATE], p->count[PLAN_UPDATE], p->count[PLAN_REPLACE],
                        p->count[PLAN_DELETE], p->count[PLAN_START] + p->count[PLAN_STOP] +
                        p->count[PLAN_PAUSE] + p->count[PLAN_RESUME], p->count[PLAN_RESTART],
                        p->count[PLAN_ADOPT]);
}
