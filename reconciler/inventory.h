/* inventory.h — every object of one node, desired joined with observed and
 * with what the state store remembers: the rows of `qkvm get` and
 * `qkvm describe`, and the snapshot a run leaves in the store.
 *
 * A row exists for every declared object (when manifests are given), every
 * object libvirt has (when the node was observed) and every object the store
 * last saw on the node. Its SYNC says how it relates to the manifests:
 *   Synced          declared, matches
 *   OutOfSync       declared, differs (apply changes it)
 *   RestartPending  applied to the definition, waits for a restart
 *   Missing         declared, absent (apply creates it)
 *   Conflict        declared, exists, not qkvm's (--adopt)
 *   Blocked         declared, differs in a way apply refuses
 *   Stale           qkvm's, no longer declared (--prune deletes it)
 *   Orphan          nobody declares it and it is not qkvm's
 *   Foreign         another project's: shown, never touched
 *   Unsupported     a kind or feature this version does not reconcile
 *   Failed          the last apply failed on it
 *   Unknown         not compared (no manifests given and none recorded)
 * Without manifests, SYNC is the one recorded by the last run.
 */
#ifndef QKVM_INVENTORY_H
#define QKVM_INVENTORY_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct apply_result;
struct obs_host;
struct plan;
struct store_object;
struct tree;

enum inventory_sync {
    INVENTORY_UNKNOWN,
    INVENTORY_SYNCED,
    INVENTORY_OUT_OF_SYNC,
    INVENTORY_RESTART_PENDING,
    INVENTORY_MISSING,
    INVENTORY_CONFLICT,
    INVENTORY_BLOCKED,
    INVENTORY_STALE,
    INVENTORY_ORPHAN,
    INVENTORY_FOREIGN,
    INVENTORY_UNSUPPORTED,
    INVENTORY_FAILED,
    INVENTORY_DELETED,        /* an apply deleted it */
    INVENTORY_UNSCHEDULABLE,  /* declared, and no node can take it */
    INVENTORY_SYNC_COUNT
};
/* "Synced", "OutOfSync"...: the words get shows and the store keeps. */
const char *inventory_sync_name(enum inventory_sync s);
/* A stored word back (unknown words are Unknown). */
enum inventory_sync inventory_sync_parse(const char *word);

struct inventory_row {
    enum model_kind kind;
    const char *name;
    const char *state;                /* running, shut off, active, inactive, missing... */
    enum inventory_sync sync;
    long long cpus, memory;           /* VM, -1 unknown */
    const struct model_object *want;  /* declared, or NULL */
    const struct model_object *seen;  /* observed, or NULL */
    const char *pool;                 /* Disks: the pool */
    const char *stored_spec;          /* the spec last declared, as JSON (store) */
    int64_t created;                  /* first seen (store), 0 unknown */
    bool stored;                      /* the store has a row for it */
    bool applied;                     /* an apply acted on it (inventory_applied) */
    const char *node, *uri;           /* the node it is on (the inventory's, or a fleet's) */
    const struct obs_host *obs;       /* that node's observation, or NULL */
    const char *placement;            /* a VM: why it is on its node (a fleet), or NULL */
    /* a fleet's Node: what placement allocated of what it offers */
    bool fleet_node, maintenance;
    long long node_cpus, node_alloc_cpus, node_memory, node_alloc_memory, node_vms;
};

struct inventory {
    struct arena *arena;
    struct inventory **parts;         /* a merged inventory's sources (freed with it) */
    size_t nparts;
    const char *node, *uri;           /* the node's label and URI */
    bool observed;                    /* the node was reachable */
    const struct obs_host *obs;       /* what was observed (leases for addresses), or NULL */
    struct inventory_row *v;
    size_t n;
    struct inventory_row *v_owned;    /* rows added after inventory_build (malloc'd) */
    size_t v_cap;
};

/* Build the rows. m, obs, p and stored may each be NULL / empty. */
struct inventory *inventory_build(const char *node, const char *uri, const struct model *m,
                                  const struct obs_host *obs, const struct plan *p,
                                  const struct store_object *stored, size_t nstored);
void inventory_free(struct inventory *inv);     /* accepts NULL */
/* Several nodes' inventories as one (rows keep their node), sorted by kind,
 * name and node; takes the parts (freed with it). Node rows of the parts
 * are left out: a fleet adds its own (inventory_add_row). */
struct inventory *inventory_merge(struct inventory **parts, size_t n);
/* Room for one more row (a fleet's Node, an unschedulable VM); call
 * inventory_sort after the last. */
struct inventory_row *inventory_add_row(struct inventory *inv);
void inventory_sort(struct inventory *inv);

/* After an apply: rows of done actions are Synced (or RestartPending) in
 * the state the manifests ask for; a row with any failed or skipped action
 * is Failed. Every row acted on is marked `applied`. */
void inventory_applied(struct inventory *inv, const struct plan *p, const struct apply_result *r);

/* The rows as store objects (for store_objects_put), allocated in the
 * inventory's arena; with_spec: the declared specs as JSON too. */
size_t inventory_snapshot(struct inventory *inv, bool with_spec, struct store_object **out);

/* A kind from what a user types: "vm", "vms", "VM", "disks"... -1 if none. */
int inventory_kind(const char *word);

/* `qkvm get KIND [NAME]`: one document (a List, or one object with NAME),
 * and its table (80 columns unless wide) rendered from that document. */
struct tree *inventory_tree(struct arena *a, const struct inventory *inv, enum model_kind k,
                            const char *name, int64_t now);
void inventory_table(FILE *out, const struct tree *doc, enum model_kind k, bool wide);
/* Rows are sorted by kind and name: a binary search. */
const struct inventory_row *inventory_find(const struct inventory *inv, enum model_kind k,
                                           const char *name);

#endif
