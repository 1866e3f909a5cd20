/* diff.h — field-by-field comparison of a declared object with an observed
 * one (both decoded into the same model structs). Pure: no I/O.
 *
 * Field paths are those of the manifests ("spec.memory"); list entries are
 * named by their key, not their position: disks by Disk name
 * ("spec.disks[web-1-root].bus"), NICs by MAC ("spec.nics[52:..].model"), so
 * reordering a list is not a change. Values are printed as a manifest would
 * write them (quantities in canonical units). Fields a declaration leaves
 * unset (a VM's machine type, a network's bridge name) are not compared:
 * libvirt fills them in and that is not drift.
 */
#ifndef QKVM_DIFF_H
#define QKVM_DIFF_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>

struct arena;

enum diff_how {
    DIFF_CONFIG,     /* changed in the definition; no running instance to care about */
    DIFF_LIVE,       /* can be applied to the running VM (and its definition) */
    DIFF_RESTART,    /* definition only: takes effect when the VM restarts */
    DIFF_REPLACE,    /* libvirt cannot change it in place: the object is re-created */
    DIFF_BLOCKED,    /* cannot be applied safely at all (data would be lost) */
};

struct diff_change {
    const char *field;
    const char *from, *to;        /* NULL: absent */
    enum diff_how how;
    const char *why;              /* for BLOCKED and REPLACE */
};

struct diff {
    struct arena *arena;
    struct diff_change *v;
    size_t n, cap;
};

void diff_init(struct diff *d, struct arena *a);
void diff_dispose(struct diff *d);
void diff_add(struct diff *d, const char *field, const char *from, const char *to,
              enum diff_how how, const char *why);

/* `running`: o is the live definition of a running domain (decides LIVE vs
 * RESTART). */
void diff_vm(struct diff *d, const struct model_vm *want, const struct model_vm *o,
             bool running);
void diff_network(struct diff *d, const struct model_network *want,
                  const struct model_network *o);
void diff_pool(struct diff *d, const struct model_pool *want, const struct model_pool *o);
void diff_disk(struct diff *d, const struct model_disk *want, const struct model_disk *o);

/* Value formatting shared with plan output. */
const char *diff_quantity(struct arena *a, uint64_t bytes);

/* Does the path `field` fall under an ignore path ("spec.nics" covers
 * "spec.nics[52:..].model")? */
bool diff_ignored(const char *field, const struct model_strings *ignore);

#endif
