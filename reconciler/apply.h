/* apply.h — execute a plan: the only module that changes libvirt.
 *
 * Actions run in plan order. An action whose dependency failed (or was
 * skipped) is skipped and reported; independent actions go on, unless the
 * connection to libvirt is lost: then every action after the failed one is
 * skipped as "not started" (and journalled so). Every failure is one line
 * naming the resource and libvirt's message.
 *
 * In place wherever libvirt allows: on a running domain, memory and vCPU
 * changes within the maximums and disk/NIC hot-plug are applied live, then
 * the persistent definition is rewritten from the manifest (keeping the
 * domain's UUID), so live and persistent agree; what only a restart applies
 * waits in the definition ("restart required"). Disk growth uses
 * virStorageVolResize, or virDomainBlockResize when a running domain has the
 * disk attached. DHCP host entries change through virNetworkUpdate.
 *
 * Pools and volumes qkvm creates (or adopts) are recorded in the state
 * store's ownership table before libvirt creates them (see apply.c).
 *
 * The journal: every action is written to the store as pending before it
 * starts and updated to done / failed (with libvirt's message) / skipped
 * when it ends, with an event. When the journal cannot be written, the
 * action is not started and nothing after it either: qkvm never changes
 * libvirt without a record of it. When the end of an action that ran
 * cannot be recorded, that action keeps its status, nothing after it is
 * started, and apply_plan fails.
 */
#ifndef QKVM_APPLY_H
#define QKVM_APPLY_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct obs_host;
struct plan;
struct plan_action;
struct store;
struct virt;

/* HELD: not started because the caller held it back (apply_opts.hold), or
 * because it needs one that was; never journalled, not a failure. */
enum apply_status { APPLY_PENDING, APPLY_DONE, APPLY_FAILED, APPLY_SKIPPED, APPLY_HELD };
/* "pending", "done", "failed", "skipped", "held": the journal's words. */
const char *apply_status_name(enum apply_status s);

struct apply_opts {
    int shutdown_timeout_ms;   /* graceful stop before destroy */
    const char *commit;        /* recorded in the mark; "" for a directory */
    FILE *log;                 /* one line per action, NULL for none */
    bool tty;                  /* log is a terminal: progress rewritten in place */
    bool color;
    int64_t run;               /* the run's id in the store */
    bool journal;              /* write actions and events (off only to measure it) */
    const char *cache_dir;     /* images' download cache; NULL: fetch's default */
    const char *node;          /* a fleet's node: its name before every line */
    size_t index_base;         /* a fleet's node: its first action's index in the run's journal */
    /* a fleet's: why placement put VM `vm` on this node (kept in its mark) */
    const char *(*placement)(void *payload, const char *vm);
    void *placement_payload;
    bool signals_caught;       /* the caller called apply_catch_signals (several nodes at once) */
    int parallelism;           /* actions under way at once on this node (--parallelism); 0, 1:
                                * one after another */
    /* a fleet's: the connection to another node (a migration's target);
     * called with placement_payload */
    struct virt *(*node_virt)(void *payload, const char *node);
    /* Why action pa is held back, or NULL to run it (the controller's
     * drift under drift.mode report); NULL: nothing is held. */
    const char *(*hold)(void *payload, const struct plan_action *pa);
    void *hold_payload;
};

/* SIGINT and SIGTERM stop an apply after the actions under way (on) and
 * are given back (off). apply_plan does it itself unless told otherwise. */
void apply_catch_signals(bool on);

struct apply_result {
    enum apply_status *status; /* per plan action */
    char **error;              /* per plan action: message (FAILED, SKIPPED) */
    size_t done, failed, skipped, held;
    int interrupted;           /* the signal (SIGINT, SIGTERM) that stopped it, or 0 */
    char *failure;             /* a failure no action owns (the journal, the records), or NULL */
};

/* Returns 0 when every action succeeded, -1 otherwise (see r). */
int apply_plan(struct virt *v, const struct model *desired, const struct obs_host *obs,
               const struct plan *p, struct store *st, const struct apply_opts *o,
               struct apply_result *r);
void apply_result_dispose(struct apply_result *r, size_t n);

/* Keep the ownership records of the project's declared Disks (protect,
 * labels) and Pools (labels) as the manifests say, also when nothing else
 * changes: a Disk declared protect: true is recorded so before it can ever
 * be pruned. 0, or -1 with err. */
int apply_records(struct store *st, const struct model *desired, const struct obs_host *obs,
                  const struct plan *p, int64_t run, char *err, size_t errlen);

/* FNV-1a 64 of a declared object's normalised spec, as hex (17 bytes). */
void apply_spec_hash(const struct model_object *o, char *out);

#endif
