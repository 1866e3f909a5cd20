/* plan.h — from (desired, observed, ownership) to an ordered list of actions
 * and a list of drift findings. Pure: no I/O; the plan is data that can be
 * printed, serialised, compared with a golden file and applied.
 *
 * Order: creations and updates by kind Pool, Network, Image, Disk, VM, then
 * deletions in the reverse order (VMs first, pools last). Every action names
 * the actions it depends on, so apply can skip the dependents of a failure.
 *
 * Ownership (DESIGN §4) is proven, not assumed. A domain or network is this
 * project's when it carries a qkvm:resource mark whose kind and name are the
 * object's own, whose UUID is the object's UUID, and whose project is the
 * manifests' (plan_owner); a pool or volume when the ownership record has it
 * for this project (and, for a volume, the file is still the one qkvm
 * created: observe.c). An object that is not this project's is never
 * changed or deleted, whatever the flags: another project's is "foreign"
 * (listed, never stale or orphan; with the name of a declared object a
 * conflict naming that project); one without a mark is an orphan, or a
 * conflict until --adopt when declared; one whose mark does not match it (a
 * copy made with virt-clone or dumpxml + define keeps the mark) is a
 * conflict, never ours.
 *
 * Deletion guards: an empty manifest set (no Network, Pool, Image, Disk or
 * VM) never prunes. A plan whose deletions number more than the Project's
 * maxDeletions (default 10), or that would delete every object the project
 * manages on the host, keeps none of them and says so in a NOTE_REFUSED;
 * --max-deletions N (plan_opts.max_deletions) allows up to N, including all.
 * A Policy's prune selects stale objects by the labels they were last
 * declared with (in the mark, or the ownership record): never keeps them
 * even with --prune, delete deletes them without it; the most careful of
 * the matching Policies wins.
 */
#ifndef QKVM_PLAN_H
#define QKVM_PLAN_H

#include "diff.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>

struct obs_host;

enum plan_verb {
    PLAN_CREATE,
    PLAN_UPDATE,      /* in place: live and/or persistent definition */
    PLAN_REPLACE,     /* delete and re-create: libvirt cannot change it in place */
    PLAN_DELETE,
    PLAN_START,
    PLAN_STOP,
    PLAN_ADOPT,       /* mark an existing object as qkvm's (--adopt) */
    PLAN_RESTART,     /* graceful shutdown (destroy after the timeout), then start */
    PLAN_PAUSE,       /* suspend a running VM (state: paused) */
    PLAN_RESUME,      /* resume a paused VM (state: running) */
    PLAN_MIGRATE,     /* a fleet's: move a VM to node `target` (live, or defined there) */
    PLAN_VERB_COUNT
};

/* Something apply will not do, shown with '!': a conflict, a blocked change,
 * a restart still pending, what --prune would delete. */
enum plan_note_type {
    NOTE_CONFLICT,
    NOTE_BLOCKED,
    NOTE_RESTART_PENDING,
    NOTE_PRUNE_SKIPPED,   /* stale, --prune not given */
    NOTE_PROTECTED,       /* stale but protect: true */
    NOTE_UNSUPPORTED,     /* a kind or feature this version does not reconcile */
    NOTE_REFUSED,         /* deletions withheld by a deletion guard */
    NOTE_UNSCHEDULABLE,   /* a VM no node can take: every node and why */
    NOTE_UNREACHABLE,     /* a node that could not be observed: its objects wait */
};

/* Whose an observed domain or network is, from its mark. */
enum plan_owner {
    OWNER_NONE,           /* no mark: not qkvm's */
    OWNER_OURS,           /* this project's, and the mark matches the object */
    OWNER_FOREIGN,        /* another project's (its mark matches the object) */
    OWNER_MISMATCH,       /* a mark that does not match the object: never ours */
};
struct virtxml_mark;
struct arena;
/* kind: "VM" or "Network"; uuid: the object's. *owner gets the project the
 * mark names; *why (MISMATCH) says what does not match, in a. Marks written
 * before projects (no project, no UUID) belong to project "default" and are
 * checked by kind and name. */
enum plan_owner plan_owner(struct arena *a, const struct virtxml_mark *m, const char *kind,
                           const char *name, const char *uuid, const char *project,
                           const char **owner, const char **why);

/* An object of another project on the host: shown, never touched. */
struct plan_foreign {
    enum model_kind kind;
    const char *name;
    const char *project;
    const char *node;                 /* a fleet plan's: the node it is on */
};

struct plan_action {
    enum plan_verb verb;
    enum model_kind kind;
    const char *name;
    const char *pool;                 /* Disk actions: the pool of the volume */
    const char *reason;
    struct diff_change *changes;
    size_t nchanges;
    bool restart_required;            /* some changes wait for a restart */
    const struct model_object *want;  /* NULL for deletions */
    const char *node;                 /* a fleet plan's: the node it runs on (its name) */
    const char *placement;            /* a fleet's VM: why it is on this node (for the mark) */
    const char *target;               /* PLAN_MIGRATE: the node it moves to */
    bool live;                        /* PLAN_MIGRATE: running: a live migration; else its
                                       * definition moves */
    bool cold;                        /* PLAN_MIGRATE: its volumes are copied to the target
                                       * (not on shared pools): stopped first when running,
                                       * started there after (live is then false) */
    size_t *deps;                     /* indices of actions this one needs (in the arena) */
    size_t ndeps, deps_cap;
};

struct plan_note {
    enum plan_note_type type;
    enum model_kind kind;
    const char *name;
    const char *message;
    const char *node;                 /* a fleet plan's, or NULL */
};

enum drift_category {
    DRIFT_CHANGED,        /* a field differs */
    DRIFT_MISSING,        /* declared, absent */
    DRIFT_STOPPED,        /* should run, does not */
    DRIFT_RUNNING,        /* should be stopped, runs */
    DRIFT_STALE,          /* qkvm's, no longer declared */
    DRIFT_ORPHAN,         /* not qkvm's, not declared */
    DRIFT_ORPHAN_FILE,    /* a file in a managed pool directory libvirt does not know */
    DRIFT_DISK_MISSING,   /* a defined domain's disk file does not exist */
    DRIFT_STRAY_PROCESS,  /* a qemu process no domain accounts for */
    DRIFT_CONFLICT,       /* declared, exists, not qkvm's */
    DRIFT_PAUSED,         /* should run, is paused (with libvirt's reason) */
    DRIFT_CATEGORY_COUNT
};

struct drift_finding {
    enum drift_category category;
    const char *kind;     /* "VM", "Network", ... "File", "Process" */
    const char *name;
    const char *field;    /* DRIFT_CHANGED */
    const char *desired, *actual;
    const char *message;
    const char *node;     /* a fleet plan's, or NULL */
};

struct plan {
    struct arena *arena;
    const char *uri;
    struct plan_action *v;
    size_t n, cap;
    struct plan_note *notes;
    size_t nnotes, notes_cap;
    struct drift_finding *drift;
    size_t ndrift, drift_cap;
    struct plan_foreign *foreign;
    size_t nforeign, foreign_cap;
    size_t count[PLAN_VERB_COUNT];
    const char *project;              /* the manifests' project */
    size_t refused;                   /* deletions a guard withheld */
    size_t restarts_pending;          /* VMs whose definition waits for a restart, after
                                       * this plan (not restarted by it) */
    size_t nnodes;                    /* a fleet plan: how many nodes it covers; 0: one host */
    const char **nodes;               /* their names */
};

struct plan_opts {
    bool prune;       /* delete stale objects */
    bool adopt;       /* take over same-named unmanaged objects */
    long max_deletions;   /* -1: the Project's maxDeletions; else this many, all included */
    bool restart;     /* restart running VMs whose pending changes need it (apply --restart) */
    /* A fleet's node: `desired` is what is placed on this node, `fleet` the
     * whole set. A VM, Disk or volume of the set that is ours here but
     * declared for another node is neither stale nor orphan here (moving
     * it is the fleet's business, plan_merge's caller), and an empty set
     * is judged by the fleet. NULL: one host. */
    const struct model *fleet;
    size_t fleet_deletions;   /* a fleet's: the deletions the other nodes' plans make */
    /* a fleet's: the node that uploads Images to shared pool `pool` this
     * run (one node, so two never write the same file); NULL: this one */
    const char *(*shared_uploader)(const void *payload, const char *pool);
    const void *uploader_payload;
    /* Only these VMs (nonly names), observed alone (observe_only): their
     * changes, power state and conflicts are planned and found, nothing
     * else (no other kind, no stale or orphan object, no file check). NULL:
     * everything. */
    const char *const *only;
    size_t nonly;
};

struct plan *plan_build(const struct model *desired, const struct obs_host *obs,
                        const struct plan_opts *opts);
void plan_free(struct plan *p);                 /* accepts NULL */

/* One plan of several nodes' (parts[i] planned for names[i]): their
 * actions, notes, findings and foreign objects in node order, each tagged
 * with its node, dependencies renumbered. The parts are copied. */
struct plan *plan_merge(struct plan *const *parts, const char *const *names, size_t n,
                        const char *project);
/* An empty plan (a fleet's moves between nodes). */
struct plan *plan_new(const char *uri, const char *project);
/* Add an action (in p's arena) to a plan; returns its index. */
size_t plan_add(struct plan *p, enum plan_verb verb, enum model_kind kind, const char *name,
                const char *reason);
void plan_add_dep(struct plan *p, size_t action, size_t dep);
void plan_add_note(struct plan *p, enum plan_note_type t, enum model_kind kind,
                   const char *name, const char *node, const char *message);

/* The DHCP host entries network `net` should have: one per declared NIC
 * with an ip on it (arena-allocated). */
struct virtxml_dhcp_host;
size_t plan_dhcp_hosts(struct arena *a, const struct model *want, const char *net,
                       struct virtxml_dhcp_host **out);

/* Is volume `vol` of pool `pool` one qkvm names for a declared object: the
 * volume of a declared Image (its current digest, in its pool) or the
 * cloud-init seed of a declared VM with cloudInit (in its first disk's
 * pool)? Such a volume belongs to that object, never stale or orphan. */
bool plan_declared_volume(const struct model *want, const char *pool, const char *vol);

const char *plan_verb_name(enum plan_verb v);  /* "create", ... */
const char *plan_kind_name(enum model_kind k); /* "vm", "network", ... (for kind/name) */
const char *drift_category_name(enum drift_category c);

#endif
