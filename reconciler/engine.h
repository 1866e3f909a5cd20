/* engine.h — what a reconcile does once its session is open and planned,
 * shared by the command line (plan, apply, drift, rebalance) and the
 * controller (qkvm run): one engine, two front ends.
 *
 * engine_apply runs a plan on every unit of the session (every node at
 * once, then the moves between nodes), journals every action, records
 * where placement put the VMs, what was seen, and the drift it healed; it
 * prints nothing but the per-action log lines it is given a FILE for, and
 * says warnings through the session's `say`. The caller ends the run
 * (session_end) with engine_summary and the first error.
 */
#ifndef QKVM_ENGINE_H
#define QKVM_ENGINE_H

#include "apply.h"
#include "inventory.h"
#include "plan.h"
#include "session.h"

#include <stdbool.h>
#include <stdio.h>

struct arena;
struct tree;

struct engine_opts {
    int shutdown_timeout_ms;
    const char *commit;          /* recorded in the marks; "" for a directory */
    FILE *log;                   /* one line per action, or NULL */
    bool tty, color;             /* log is a terminal (one node: progress in place) */
    const char *cache_dir;
    int parallelism;             /* 0: the default, 10 */
    bool journal;                /* false only to measure the journal (make bench) */
    bool objects;                /* count a fleet's objects once (result.objects: the
                                  * session's inventory, one more pass); a node's are
                                  * counted from what the records use either way */
    /* With objects: the same objects as rows (report_add_object's
     * {kind, name, node, pool, sync, state, labels}) added to this list,
     * in list_arena (the dashboard's; NULL: none) */
    struct arena *list_arena;
    struct tree *list;
    /* Actions held back (the controller's drift in report mode): not
     * started, not journalled, their dependents held too. NULL: none. */
    const char *(*hold)(void *payload, const struct plan_action *pa);
    void *hold_payload;
};

struct engine_result {
    struct apply_result res;     /* per s->plan action */
    int rc;                      /* 0, or -1: something failed or was skipped */
    size_t held;                 /* actions held back (opts.hold) */
    double seconds;
    unsigned long calls;         /* libvirt calls of every unit */
    const char *first_error;     /* of a failed or skipped action, or NULL */
    /* the objects of the observed nodes after the apply, by kind and sync
     * state (inventory rows: declared, orphans, stale...); VMs moving to
     * another node are counted on the node they leave; a fleet's are
     * right only with opts.objects (its Nodes and Policies once, its
     * unschedulable VMs and unreachable nodes' objects counted) */
    size_t objects[MODEL_KIND_COUNT][INVENTORY_SYNC_COUNT];
};

/* Items of the plan that will not be applied: conflicts, blocked changes,
 * refused deletions, unschedulable VMs, unreachable nodes. */
size_t engine_unapplied(const struct plan *p);
bool engine_note_unapplied(const struct plan_note *x);

/* Apply s->plan (which may be empty: the records still follow the
 * manifests). r->res is the caller's to dispose (apply_result_dispose with
 * s->plan->n). */
void engine_apply(struct session *s, const struct engine_opts *o, struct engine_result *r);
void engine_result_dispose(struct session *s, struct engine_result *r);

/* Record what a plan or drift run saw: the objects of every node, and for
 * a drift run (findings) the findings. */
void engine_record_seen(struct session *s, bool with_spec, bool findings);

#endif
