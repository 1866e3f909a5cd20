/* owned.h — which storage pools and volumes are qkvm's.
 *
 * Domains and networks carry qkvm's mark in their XML metadata; pools and
 * volumes have nowhere to keep one, so qkvm records them in the state
 * store (table `owned`) when it creates or adopts them. Pools are keyed by
 * libvirt UUID, so a pool re-created by hand under the same name is not
 * ours; volumes by their pool's UUID and name, with the Disk's `protect` flag
 * as last declared, so a protected Disk removed from the manifests is still
 * never deleted. Losing the record never deletes anything: unrecorded pools
 * and volumes are reported as orphans.
 *
 * This module is the in-memory set observe and plan read. Before the state
 * store existed the record was a text file next to the database path
 * (STATE.owned, "# qkvm owned v1"); owned_import_legacy moves such a file
 * into the store once and renames it STATE.owned.imported.
 */
#ifndef QKVM_OWNED_H
#define QKVM_OWNED_H

#include <stdbool.h>
#include <stddef.h>

struct owned;
struct store;

/* One record. Strings are owned by the set. */
struct owned_entry {
    bool volume, protect;
    char *uuid;                 /* the pool's UUID (for a volume, its pool's) */
    char *name;
    char *project;              /* who created or adopted it */
    char *ident;                /* volumes: "ino:btime" of the file qkvm created, "" unknown */
    char *labels;               /* as last declared: "k=v" lines */
    char *digest;               /* volumes: SHA-256 of the content (Image, seed), "" none */
};

struct owned *owned_new(void);
/* The records the store has for the host at `node` (its URI as libvirt
 * gives it): a record binds to the host it was made on, so a pool copied
 * to another host with its UUID is not ours there. Records from before the
 * host was kept (node "") bind by UUID alone. NULL with err on failure. */
struct owned *owned_from_store(struct store *s, const char *node, char *err, size_t errlen);
/* Move DBPATH.owned (the text record of earlier versions) into the store,
 * in one transaction, then rename the file DBPATH.owned.imported. Nothing
 * to do when there is no such file. A malformed file is an error and is
 * left as it is. */
int owned_import_legacy(struct store *s, char *err, size_t errlen);
void owned_free(struct owned *o);                    /* accepts NULL */
/* The record of a pool, or of a volume (pool UUID + name), or NULL. A
 * record is not yet proof: observe.c checks a volume's file against its
 * ident, plan.c the project. */
const struct owned_entry *owned_pool(const struct owned *o, const char *pool_uuid);
const struct owned_entry *owned_volume(const struct owned *o, const char *pool_uuid,
                                       const char *name);
/* The record of volume `name` of the pool named pool_name (by the pools'
 * records' names), or NULL: for a shared pool seen by a host whose own
 * records cannot be read (a fenced node's). */
const struct owned_entry *owned_volume_in(const struct owned *o, const char *pool_name,
                                          const char *name);
/* The identity of a local volume file: "INODE:BIRTH-TIME-NS", or "" when
 * the file cannot be inspected (remote, no birth time). */
void owned_file_ident(const char *path, char *out, size_t size);
/* The project's mark on a file or directory qkvm created on a local host
 * (a pool's directory, a volume's file): the extended attribute
 * user.qkvm.project (trusted.qkvm.project where the file system takes no
 * user attributes). Pools and volumes have nowhere in libvirt to carry a
 * mark; this lets a project that keeps its own state database see another
 * project's pools and volumes as foreign. Best effort: 0 when written. */
int owned_file_mark(const char *path, const char *project);
/* Remove it (a pool's definition deleted, its directory kept). */
void owned_file_unmark(const char *path);
/* The project a file is marked for, in buf; false when unmarked or
 * unreadable. */
bool owned_file_project(const char *path, char *buf, size_t size);

#endif
