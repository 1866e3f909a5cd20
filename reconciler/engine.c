/* engine.c — a reconcile's work after planning, for the command line and
 * the controller alike. See engine.h. */
#include "engine.h"

#include "arena.h"
#include "inventory.h"
#include "observe.h"
#include "report.h"
#include "schema.h"
#include "store.h"
#include "text.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool engine_note_unapplied(const struct plan_note *x)
{
    return x->type == NOTE_CONFLICT || x->type == NOTE_BLOCKED || x->type == NOTE_REFUSED ||
           x->type == NOTE_UNSCHEDULABLE || x->type == NOTE_UNREACHABLE;
}

size_t engine_unapplied(const struct plan *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nnotes; i++)
        n += engine_note_unapplied(&p->notes[i]);
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Objects whose every action succeeded (inventory_applied marked them)
 * match their manifests now: the drift the last drift run recorded for
 * them is over. */
static void resolve_healed(struct session *s, const struct inventory *inv)
{
    char err[1024];
    if (store_begin(s->st, err, sizeof(err)) < 0)
        goto bad;
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *row = &inv->v[i];
        if (row->applied && row->sync != INVENTORY_FAILED &&
            store_findings_resolve(s->st, s->run, inv->uri, schema_kinds[row->kind].name,
                                   row->name, err, sizeof(err)) < 0) {
            store_rollback(s->st);
            goto bad;
        }
    }
    if (store_commit(s->st, err, sizeof(err)) == 0)
        return;
bad:
    session_say(s, SESSION_WARNING, "%s", err);
}

static const char *placement_reason(void *payload, const char *vm)
{
    const char *why = NULL;
    return session_vm_node(payload, vm, &why) ? why : NULL;
}

/* One node's apply, in a thread of its own when several nodes apply at
 * once: its own connection and its own connection to the state database
 * (sqlite in WAL mode takes one writer at a time; the others wait). */
struct unit_run {
    struct session_unit *u;
    struct apply_opts ao;
    struct apply_result res;
    struct store *st;
    int rc;
};

static void *unit_apply(void *arg)
{
    struct unit_run *x = arg;
    x->rc = apply_plan(x->u->v, x->u->m, x->u->obs, x->u->plan, x->st, &x->ao, &x->res);
    return NULL;
}

static struct virt *node_virt(void *payload, const char *node)
{
    const struct session *s = payload;
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcmp(s->nodes[i].name, node) == 0)
            return s->nodes[i].v;
    return NULL;
}

/* Nothing could be started on this node: every action skipped, said why. */
static void unit_not_started(struct unit_run *x, const char *why)
{
    size_t n = x->u->plan->n;
    memset(&x->res, 0, sizeof(x->res));
    x->res.status = xcalloc(n + 1, sizeof(*x->res.status));
    x->res.error = xcalloc(n + 1, sizeof(*x->res.error));
    for (size_t i = 0; i < n; i++) {
        x->res.status[i] = APPLY_SKIPPED;
        x->res.error[i] = xstrdup(why);
    }
    x->res.skipped = n;
    x->res.failure = xstrdup(why);
    x->rc = -1;
}

/* The units of one phase (the nodes' own plans, or the moves), each in
 * a thread with its own connection to the state database. */
static void run_phase(struct session *s, struct unit_run *x, size_t nu, bool moves,
                      struct arena *a)
{
    pthread_t *t = arena_alloc(a, (nu + 1) * sizeof(*t));
    bool *started = arena_alloc(a, (nu + 1) * sizeof(*started));
    sigset_t all, old;
    sigfillset(&all);
    for (size_t i = 0; i < nu; i++) {
        if (x[i].u->moves != moves)
            continue;
        if (!x[i].u->plan->n) {
            x[i].res.status = xcalloc(1, sizeof(*x[i].res.status));
            x[i].res.error = xcalloc(1, sizeof(*x[i].res.error));
            continue;
        }
        x[i].st = session_store(s->o, STORE_WRITE);
        if (!x[i].st) {
            unit_not_started(&x[i], "not started: the state database cannot be opened");
            continue;
        }
        pthread_sigmask(SIG_SETMASK, &all, &old);
        started[i] = pthread_create(&t[i], NULL, unit_apply, &x[i]) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!started[i])
            unit_apply(&x[i]);
    }
    for (size_t i = 0; i < nu; i++) {
        if (started[i])
            pthread_join(t[i], NULL);
        if (x[i].u->moves == moves) {
            store_close(x[i].st);
            x[i].st = NULL;
        }
    }
}

/* Where placement put the VMs of a unit whose actions all succeeded. */
static void record_placements(struct session *s, const struct session_unit *u,
                              const struct apply_result *res)
{
    char err[1024];
    if (!s->nnodes || !s->run)
        return;
    for (size_t i = 0; i < u->m->len[MODEL_VM]; i++) {
        const char *vm = u->m->objs[MODEL_VM][i]->meta.name, *why = NULL, *node = u->name;
        /* only where it is: seen there, or made or moved there now */
        bool ok = u->obs && observe_domain(u->obs, vm), acted = false;
        for (size_t k = 0; res && k < u->plan->n; k++) {
            const struct plan_action *pa = &u->plan->v[k];
            if (pa->kind != MODEL_VM || strcmp(pa->name, vm) != 0)
                continue;
            acted = true;
            ok = ok || pa->verb == PLAN_CREATE || pa->verb == PLAN_REPLACE || pa->target;
            ok = ok && res->status[k] == APPLY_DONE;
            if (pa->target)
                node = pa->target;       /* it moved there */
        }
        if (u->moves && (!res || !acted))
            ok = false;                  /* a move not made: it is still where it was */
        if (ok && session_vm_node(s, vm, &why) &&
            store_placement_put(s->st, s->run, vm, node, why, err, sizeof(err)) < 0) {
            session_say(s, SESSION_WARNING, "%s", err);
            return;
        }
    }
}

/* A node's objects by kind and sync state (engine_result.objects). */
static void count_objects(struct session *s, const struct engine_opts *o,
                          struct engine_result *r, const struct inventory *inv)
{
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *row = &inv->v[i];
        r->objects[row->kind][row->sync]++;
        /* a fleet's Nodes, Policies and Project: count_fleet's */
        if (o->objects && o->list &&
            !(s->nnodes && (row->kind == MODEL_NODE || row->kind == MODEL_POLICY ||
                            row->kind == MODEL_PROJECT)))
            report_add_object(o->list_arena, o->list, row, s->nnodes > 0);
    }
}

/* A fleet's objects counted once: every node's inventory has the fleet's
 * Nodes, Policies and Project too, and none has a VM no node can take nor
 * the objects of a node that was not observed. Those come from the
 * session's inventory, which has each once. */
static void count_fleet(struct session *s, const struct engine_opts *o, struct engine_result *r)
{
    if (!s->nnodes || !o->objects)
        return;
    static const enum model_kind fleet[] = { MODEL_NODE, MODEL_POLICY, MODEL_PROJECT };
    for (size_t k = 0; k < sizeof(fleet) / sizeof(fleet[0]); k++)
        memset(r->objects[fleet[k]], 0, sizeof(r->objects[fleet[k]]));
    struct inventory *inv = session_inventory(s);
    for (size_t i = 0; inv && i < inv->n; i++) {
        const struct inventory_row *row = &inv->v[i];
        bool of_fleet = row->kind == MODEL_NODE || row->kind == MODEL_POLICY ||
                        row->kind == MODEL_PROJECT;
        bool elsewhere = row->sync == INVENTORY_UNSCHEDULABLE ||
                         (row->sync == INVENTORY_UNKNOWN && !row->obs);
        /* a Policy or the Project is a row of each node: the first one
         * (rows are sorted by kind and name) */
        bool again = of_fleet && row->kind != MODEL_NODE && i > 0 &&
                     inv->v[i - 1].kind == row->kind &&
                     strcmp(inv->v[i - 1].name, row->name) == 0;
        if ((of_fleet && !again) || (!of_fleet && elsewhere)) {
            r->objects[row->kind][row->sync]++;
            if (o->list)
                report_add_object(o->list_arena, o->list, row, true);
        }
    }
    inventory_free(inv);
}

/* Nothing to change on the host, but the records follow the manifests
 * (a Disk now declared protect: true). -1 when they cannot be written. */
static int records_only(struct session *s, const struct engine_opts *o, struct engine_result *r)
{
    struct session_unit *u;
    size_t nu = session_units(s, &u);
    char err[1400];
    int rc = 0;
    for (size_t i = 0; i < nu; i++) {
        if (u[i].moves)
            continue;
        if (o->journal && apply_records(s->st, u[i].m, u[i].obs, u[i].plan, s->run, err,
                                        sizeof(err)) < 0) {
            session_say(s, SESSION_ERROR, "%s", err);
            rc = -1;
        }
        struct inventory *inv = session_unit_inventory(s, &u[i]);
        session_record_seen(s, inv, true);
        count_objects(s, o, r, inv);
        inventory_free(inv);
        record_placements(s, &u[i], NULL);
    }
    return rc;
}

void engine_apply(struct session *s, const struct engine_opts *o, struct engine_result *r)
{
    memset(r, 0, sizeof(*r));
    struct arena *a = arena_new();
    struct session_unit *u;
    size_t nu = session_units(s, &u);
    double t0 = now();
    struct apply_result *res = &r->res;
    res->status = xcalloc(s->plan->n + 1, sizeof(*res->status));
    res->error = xcalloc(s->plan->n + 1, sizeof(*res->error));
    if (!s->plan->n) {
        if (records_only(s, o, r) < 0) {
            r->rc = -1;
            res->failure = xstrdup("the ownership records cannot be written");
        }
        count_fleet(s, o, r);
        arena_free(a);
        return;
    }
    struct apply_opts ao = {
        .shutdown_timeout_ms = o->shutdown_timeout_ms,
        .commit = o->commit ? o->commit : "",
        .log = o->log,
        .tty = o->tty && nu == 1,
        .color = o->color,
        .run = s->run,
        .journal = o->journal,
        .cache_dir = o->cache_dir,
        .parallelism = o->parallelism ? o->parallelism : 10,
        .hold = o->hold,
        .hold_payload = o->hold_payload,
    };
    struct unit_run *x = arena_alloc(a, (nu + 1) * sizeof(*x));
    for (size_t i = 0; i < nu; i++) {
        x[i] = (struct unit_run){ &u[i], ao, { 0 }, NULL, 0 };
        if (s->nnodes) {
            x[i].ao.placement = placement_reason;
            x[i].ao.node_virt = node_virt;
            x[i].ao.placement_payload = s;
        }
        /* one migration at a time off a node (nodes side by side): each
         * holds a request of the daemon's (5 per client by default) for
         * as long as it copies memory */
        if (u[i].moves)
            x[i].ao.parallelism = 1;
        if (nu > 1) {
            x[i].ao.node = u[i].name;
            x[i].ao.index_base = u[i].base;
            x[i].ao.signals_caught = true;
        }
    }
    if (nu == 1) {
        x[0].st = s->st;
        unit_apply(&x[0]);
    } else {
        /* every node at once, then the moves between nodes (what a VM
         * needs on its new node exists by then); Ctrl-C stops them all */
        apply_catch_signals(true);
        run_phase(s, x, nu, false, a);
        run_phase(s, x, nu, true, a);
        apply_catch_signals(false);
    }
    /* the run's result, action by action in the plan's order */
    for (size_t i = 0; i < nu; i++) {
        const struct apply_result *ur = &x[i].res;
        for (size_t k = 0; k < u[i].plan->n; k++) {
            res->status[u[i].base + k] = ur->status[k];
            res->error[u[i].base + k] = ur->error[k] ? xstrdup(ur->error[k]) : NULL;
        }
        res->done += ur->done;
        res->failed += ur->failed;
        res->skipped += ur->skipped;
        res->held += ur->held;
        if (ur->interrupted)
            res->interrupted = ur->interrupted;
        if (ur->failure && !res->failure)
            res->failure = nu == 1 ? xstrdup(ur->failure)
                                   : xstrdup(arena_printf(a, "%s: %s", u[i].name, ur->failure));
        if (x[i].rc < 0)
            r->rc = -1;
        r->calls += virt_calls(u[i].v);
    }
    r->held = res->held;
    r->seconds = now() - t0;
    for (size_t i = 0; i < nu; i++) {
        record_placements(s, &u[i], &x[i].res);
        if (u[i].moves)
            continue;               /* the moved VMs are seen on their new node next run */
        struct inventory *inv = session_unit_inventory(s, &u[i]);
        inventory_applied(inv, u[i].plan, &x[i].res);
        count_objects(s, o, r, inv);
        if (o->journal) {
            session_record_seen(s, inv, true);
            resolve_healed(s, inv);
        }
        inventory_free(inv);
    }
    count_fleet(s, o, r);
    for (size_t i = 0; i < s->plan->n && !r->first_error; i++)
        if (res->status[i] == APPLY_FAILED || res->status[i] == APPLY_SKIPPED)
            r->first_error = res->error[i];
    for (size_t i = 0; i < nu; i++)
        apply_result_dispose(&x[i].res, u[i].plan->n);
    arena_free(a);
}

void engine_result_dispose(struct session *s, struct engine_result *r)
{
    apply_result_dispose(&r->res, s->plan ? s->plan->n : 0);
    r->first_error = NULL;
}

void engine_record_seen(struct session *s, bool with_spec, bool findings)
{
    if (!s->run)
        return;
    char err[1024];
    struct arena *a = arena_new();
    struct session_unit *u;
    size_t nu = session_units(s, &u);
    for (size_t k = 0; k < nu; k++) {
        if (u[k].moves)
            continue;           /* its node's unit records the node and its findings */
        if (findings) {
            const struct plan *p = u[k].plan;
            struct store_finding *f = arena_alloc(a, (p->ndrift + 1) * sizeof(*f));
            for (size_t i = 0; i < p->ndrift; i++) {
                const struct drift_finding *d = &p->drift[i];
                f[i] = (struct store_finding){ drift_category_name(d->category), d->kind,
                                               d->name, d->field, d->desired, d->actual,
                                               d->message, 0, 0, 0, 0 };
            }
            if (store_begin(s->st, err, sizeof(err)) < 0 ||
                store_findings_record(s->st, s->run, u[k].uri, f, p->ndrift, err,
                                      sizeof(err)) < 0 ||
                store_commit(s->st, err, sizeof(err)) < 0) {
                store_rollback(s->st);
                session_say(s, SESSION_WARNING, "the findings are not recorded: %s", err);
            }
        }
        struct inventory *inv = session_unit_inventory(s, &u[k]);
        session_record_seen(s, inv, with_spec);
        inventory_free(inv);
    }
    arena_free(a);
}
