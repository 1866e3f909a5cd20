/* manifest.h — load manifests from files and directories into a model.
 *
 * A path is a file (loaded whatever its name) or a directory, walked
 * recursively in byte order of names: files ending in .yaml or .yml are
 * loaded; names starting with '.' (files and directories) are skipped. A
 * symbolic link is followed only when its target lies inside the directory
 * being walked and is a regular file; a link to a directory is not followed
 * (no loops), and anything else is reported as a warning and skipped. Only
 * regular files are opened, never a FIFO or a device, so loading never
 * blocks. Every file is read whole, at most MANIFEST_MAX_FILE bytes.
 */
#ifndef QKVM_MANIFEST_H
#define QKVM_MANIFEST_H

#include "diag.h"
#include "model.h"

#define MANIFEST_MAX_FILE (16u << 20)
#define MANIFEST_MAX_WALK_DEPTH 32

struct manifest_stats {
    size_t files, documents, bytes;
};

/* Load every path into `m`; problems go to `d`. Returns 0 when every path
 * could be read (the manifests may still be invalid: see d->errors), -1 when
 * a path could not be read at all. */
int manifest_load(struct model *m, const char *const *paths, size_t npaths,
                  struct diag *d, struct manifest_stats *st);

#endif
