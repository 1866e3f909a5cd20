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

/* A manifest set read into memory: files by name, in load order. The
 * controller keeps the last valid one and plans from it, whatever the
 * directory or the Git branch holds since. */
struct manifest_file {
    char *name;                /* as errors name it: the path, or the path in the tree */
    char *data;
    size_t len;
};
struct manifest_set {
    struct manifest_file *v;
    size_t n, cap;
};

/* Read every path (walked as above) into `set`; problems go to `d`.
 * Returns 0, or -1 when a path could not be read at all. */
int manifest_read(const char *const *paths, size_t npaths, struct diag *d,
                  struct manifest_set *set);
/* Add a file (copied): a blob of a Git tree. */
void manifest_set_add(struct manifest_set *set, const char *name, const char *data, size_t len);
void manifest_set_free(struct manifest_set *set);
/* Parse and decode every file of the set into `m` (sorted after). */
void manifest_parse(struct model *m, const struct manifest_set *set, struct diag *d,
                    struct manifest_stats *st);
/* SHA-256 of the set's names and contents, as hex: its revision. */
void manifest_set_digest(const struct manifest_set *set, char out[65]);

/* Load every path into `m`; problems go to `d`. Returns 0 when every path
 * could be read (the manifests may still be invalid: see d->errors), -1 when
 * a path could not be read at all. */
int manifest_load(struct model *m, const char *const *paths, size_t npaths,
                  struct diag *d, struct manifest_stats *st);

#endif
