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

struct owned *owned_new(void);
/* The set recorded in the store. NULL with err on failure. */
struct owned *owned_from_store(struct store *s, char *err, size_t errlen);
/* Move DBPATH.owned (the text record of earlier versions) into the store,
 * in one transaction, then rename the file DBPATH.owned.imported. Nothing
 * to do when there is no such file. A malformed file is an error and is
 * left as it is. */
int owned_import_legacy(struct store *s, char *err, size_t errlen);
void owned_free(struct owned *o);                    /* accepts NULL */
bool owned_pool(const struct owned *o, const char *pool_uuid);
/* Is the volume ours? *protect gets its last recorded protect flag. */
bool owned_volume(const struct owned *o, const char *pool_uuid, const char *name,
                  bool *protect);
void owned_add_pool(struct owned *o, const char *pool_uuid, const char *name);
void owned_add_volume(struct owned *o, const char *pool_uuid, const char *name, bool protect);

#endif
