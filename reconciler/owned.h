/* owned.h — the record of storage pools and volumes qkvm created.
 *
 * Domains and networks carry qkvm's mark in their XML metadata; pools and
 * volumes have nowhere to keep one, so qkvm records them here when it
 * creates them (or adopts them). Pools are keyed by libvirt UUID, so a pool
 * re-created by hand under the same name is not ours; volumes by their
 * pool's UUID and name, with the Disk's `protect` flag as last declared, so
 * a protected Disk removed from the manifests is still never deleted.
 *
 * The record is a small text file, written whole to a temporary file,
 * fsync'd and renamed over the old one, so a crash leaves the old or the new
 * record, never a torn one. It lives next to the state database
 * (STATE.owned); the state-store work moves it into sqlite. Losing it never
 * deletes anything: unrecorded pools and volumes are reported as orphans.
 */
#ifndef QKVM_OWNED_H
#define QKVM_OWNED_H

#include <stdbool.h>
#include <stddef.h>

struct owned;

/* A missing file is an empty record; an unreadable or malformed one is an
 * error (NULL, message in err): it is never overwritten blindly. */
struct owned *owned_load(const char *path, char *err, size_t errlen);
void owned_free(struct owned *o);                    /* accepts NULL */
bool owned_pool(const struct owned *o, const char *pool_uuid);
/* Is the volume ours? *protect gets its last recorded protect flag. */
bool owned_volume(const struct owned *o, const char *pool_uuid, const char *name,
                  bool *protect);
void owned_add_pool(struct owned *o, const char *pool_uuid, const char *name);
void owned_add_volume(struct owned *o, const char *pool_uuid, const char *name, bool protect);
void owned_remove_pool(struct owned *o, const char *pool_uuid);
void owned_remove_volume(struct owned *o, const char *pool_uuid, const char *name);
bool owned_dirty(const struct owned *o);
/* Write it out (creating the directory) when it changed. */
int owned_save(struct owned *o, char *err, size_t errlen);
const char *owned_path(const struct owned *o);

#endif
