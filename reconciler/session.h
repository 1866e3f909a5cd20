/* session.h — one reconcile of one node, set up as far as a caller needs:
 * load and check the manifests, open the state store and record the run,
 * take the reconcile lock, connect, observe, plan. The command line's
 * commands get one from main.c's table; the controller will hold one per
 * loop. It prints nothing: every message goes through the caller's `say`
 * hook as one line (an error or a warning), and the manifests' findings
 * through `findings`, so a caller without a terminal decides where they go.
 *
 * Order and guarantees (the same as the CLI has always had): invalid
 * manifests stop everything before libvirt is contacted; a run that writes
 * (SESSION_LOCK) stops when the store cannot record it; an open that fails
 * after the run was recorded ends the run with its result (invalid, error)
 * itself. After session_open succeeds the caller ends the run
 * (session_end) with what it did.
 */
#ifndef QKVM_SESSION_H
#define QKVM_SESSION_H

#include "manifest.h"
#include "model.h"
#include "plan.h"
#include "store.h"
#include "virt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct diag;
struct inventory;
struct obs_host;
struct owned;

enum session_need {
    SESSION_MANIFESTS = 1u << 0,   /* -f required; loaded and checked */
    SESSION_MANIFESTS_OPT = 1u << 1,/* loaded when given */
    SESSION_INVALID_OK = 1u << 2,  /* go on with invalid manifests (validate, render) */
    SESSION_STORE = 1u << 3,       /* the store, read-only (a missing file is empty) */
    SESSION_RECORD = 1u << 4,      /* the store for writing, the run recorded (a read-only
                                    * file: a warning, the run not recorded) */
    SESSION_LOCK = 1u << 5,        /* the reconcile lock; the run must be recorded */
    SESSION_CONNECT = 1u << 6,     /* connect to the node and observe it */
    SESSION_CONNECT_SOFT = 1u << 7,/* ... and when it cannot, go on with what was recorded */
    SESSION_DEEP = 1u << 8,        /* observe thoroughly (every persistent definition) */
    SESSION_PLAN = 1u << 9,        /* plan, when manifests were loaded and the node observed */
};

/* INFO: progress, quiet with -q; VERBOSE: timings asked for with -v. */
enum session_level { SESSION_ERROR, SESSION_WARNING, SESSION_INFO, SESSION_VERBOSE };

struct session_opts {
    const char *cmd;                   /* "plan", "apply"...: the run's kind */
    const char *const *files;
    size_t nfiles;
    const struct manifest_set *set;    /* the manifests read already (the controller's
                                        * last valid set), or NULL: read files */
    const char *source;                /* recorded as the run's source; NULL: the files */
    const char *commit;                /* the Git commit, recorded on the run; NULL: none */
    const char *connect;               /* -c, or NULL */
    const char *node;                  /* --node NAME, or NULL */
    const char *state;                 /* --state, or NULL (then $QKVM_STATE, the default) */
    unsigned need;                     /* enum session_need */
    struct plan_opts plan;
    int rebalance;                     /* rebalance: the threshold (percent); 0: not a rebalance */
    int cpu_interval_ms;               /* rebalance: CPU use measured over this; 0: not measured */
    int lock_timeout_ms;
    struct virt_limits virt;
    bool verbose;                      /* timings as SESSION_INFO */
    /* Nodes the controller fenced (powered off, confirmed): not connected,
     * nothing placed on them, and the VMs on them a Policy with ha.enabled
     * selects (disks on shared pools, within ha.maxRestarts an hour) are
     * placed on other nodes: failover. NULL-terminated, or NULL. */
    const char *const *fenced;
    void (*say)(void *payload, enum session_level level, const char *msg);
    void (*findings)(void *payload, const struct diag *d);
    void *payload;
};

enum session_status {
    SESSION_OK,
    SESSION_FAILED,                    /* said why; nothing was changed */
    SESSION_INVALID,                   /* invalid manifests; nothing was changed */
};

struct place_out;
struct place_move;
struct place_load;

/* One Node of a fleet run (manifests that declare Nodes). */
struct session_node {
    const char *name, *uri;            /* the Node's; uri libvirt's once connected */
    const struct model_node *decl;
    struct virt *v;                    /* NULL: not reachable (error says why) */
    struct owned *own;
    struct obs_host *obs;              /* NULL: not observed */
    const char *error;
    struct model *view;                /* what placement put on it (a view of s->m) */
    struct plan *plan;                 /* selected and observed nodes */
    struct plan *moves;                /* VMs that leave it for another node, or NULL */
    struct model *moves_view;          /* those VMs */
    int64_t host_cpus;                 /* virNodeGetInfo */
    uint64_t host_memory;
    int64_t cpus, alloc_cpus;          /* offered to VMs (capacity, else the host's), allocated */
    uint64_t memory, alloc_memory;
    size_t vms;                        /* declared VMs placed on it */
    size_t vms_here;                   /* declared VMs defined on it now (qkvm's) */
    bool selected;                     /* planned this run (all, or the one -c/--node names) */
    bool fenced;                       /* session_opts.fenced names it: not connected */
    double t_observe;
    bool cpu_measured;                 /* rebalance: libvirt gave the domains' cpu.time */
    struct virt_cpu_use *cpu;          /* per running domain (malloc'd), when measured */
    size_t ncpu;
    const char *cpu_error;             /* why it was not measured, or NULL */
};

struct session {
    const struct session_opts *o;
    struct arena *a;
    struct model *m;                   /* NULL when no manifests were loaded */
    struct diag *d;                    /* their findings */
    struct manifest_stats stats;
    struct store *st;
    struct owned *own;
    struct virt *v;                    /* NULL when not connected */
    struct obs_host *obs;              /* NULL when not observed */
    struct plan *plan;                 /* NULL when not planned */
    int64_t run;                       /* the run's id; 0: not recorded */
    const char *uri;                   /* the node's URI (libvirt's, once connected) */
    const char *node;                  /* its name: the Node's, else the URI's host */
    double t_load, t_observe;          /* seconds */
    /* A fleet run (the manifests declare Nodes): every Node, in name order.
     * With one selected node, v, obs, plan, uri and node above are its;
     * with several, plan is their merged plan and v and obs are NULL. */
    struct session_node *nodes;
    size_t nnodes, nselected;
    struct place_out *placed;          /* per s->m VM */
    const char **moves;                /* per s->m VM: a move not made, why; or NULL */
    bool *moving;                      /* per s->m VM: it moves this run (from placed[i].from) */
    bool *cold;                        /* per s->m VM: its move copies its volumes (a
                                        * Policy's placement.coldMoves) */
    const char **copies;               /* per s->m VM: the nodes it is defined on, ", " apart */
    const char **failover;             /* per s->m VM: the fenced node it leaves, or NULL */
    const char **failover_no;          /* per s->m VM: on a fenced node, why it stays, or NULL */
    bool plan_merged;                  /* plan is the nodes' merged (the session's own) */
    struct {                           /* qkvm rebalance */
        double threshold;
        struct place_move *moves;
        size_t n;
        struct place_load *loads;      /* per node */
    } rebalance;
    struct model **views;              /* kept until session_close */
    size_t nviews, views_cap;
};

/* One node's share of a run: what apply, drift and the records work on.
 * A run of one host has one, the session's own; a fleet run one per
 * selected node that was observed. base: the index of its first action in
 * s->plan. */
struct session_unit {
    const char *name, *uri;
    struct virt *v;
    const struct model *m;
    const struct obs_host *obs;
    struct plan *plan;
    size_t base;
    bool moves;                        /* the moves off a node: run after every node's plan */
};
/* The units (in s->a); 0 when nothing was observed and planned. */
size_t session_units(struct session *s, struct session_unit **out);
/* A unit's rows (inventory_build over its view, observation and plan, and
 * what the store last saw on its node). */
struct inventory *session_unit_inventory(struct session *s, const struct session_unit *u);

/* The node a declared VM is placed on, and why (a fleet run), or NULL. */
const struct session_node *session_vm_node(const struct session *s, const char *vm,
                                           const char **why);

/* The fenced node a declared VM fails over from this run, or NULL. */
const char *session_vm_failover(const struct session *s, const char *vm);

/* A message through the caller's hook (o->say), and a monotonic clock in
 * seconds: for the session's own parts (fleet.c) and the engine. */
void session_say(const struct session *s, enum session_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double session_now(void);

/* Set up what o->need asks. The session is always to be closed. */
enum session_status session_open(struct session *s, const struct session_opts *o);
void session_close(struct session *s);              /* accepts a zeroed session */
/* End the recorded run (no-op when not recorded); a failure to record is
 * a warning: what happened on the host already happened. */
void session_end(struct session *s, enum store_result result, const char *summary,
                 const char *error);
/* The node's rows: manifests, observation, plan, and what the store last
 * saw on the node (for AGE). */
struct inventory *session_inventory(struct session *s);
/* Record what was seen (with the declared specs when with_spec). */
void session_record_seen(struct session *s, struct inventory *inv, bool with_spec);
/* A one-line summary of the plan for the run record. */
const char *session_plan_summary(struct session *s);
/* The state path the options name ($QKVM_STATE, the default...); *dflt
 * tells whether it is the default, whose directory qkvm creates. */
/* The reconcile lock was taken from a process that died holding it
 * (store_lock's took_over): a LockTakenOver event (of run, 0: none), its
 * message returned; NULL with err when it cannot be written. */
const char *session_lock_taken(struct store *st, int64_t run, const char *uri,
                               const struct store_holder *prev, struct arena *a, char *err,
                               size_t errlen);
char *session_state_path(const char *given, bool *dflt);
/* Open the store at the options' path, for the commands that need it
 * otherwise (history --prune-older-than). NULL after saying why. */
struct store *session_store(const struct session_opts *o, enum store_mode mode);

#endif
