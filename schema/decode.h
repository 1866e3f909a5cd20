/* decode.h — the generic decoder: a document tree + a schema table -> model.
 *
 * decode_document() identifies the kind, walks the document with the kind's
 * tables and fills a freshly allocated model struct: declared values are
 * type-checked and normalised, absent ones take their defaults, and every
 * problem becomes a finding at the offending node's line:column. The result
 * is complete even when there were errors (bad values stay unset), so the
 * cross-object checks can still run on it.
 */
#ifndef QKVM_DECODE_H
#define QKVM_DECODE_H

#include "diag.h"
#include "model.h"
#include "schema.h"
#include "tree.h"
#include "yamldoc.h"

struct arena;

struct decode_ctx {
    struct arena *arena;
    struct diag *diag;
    const char *file;
    const struct schema_kind *kind;
    struct model_object *obj;
    const char *name;          /* as written, for findings; may be NULL */
    const char *where_;        /* "VM 'web-1'": see decode_where() */
    /* The field path of the current node, as segments: rendered to text
     * ("spec.nics[0].mac") only when a finding is reported. */
    struct { const char *key; long index; } seg[YAMLDOC_MAX_DEPTH];
    size_t nseg;
};

/* Decode one document. Returns the object, allocated in `a`, or NULL when it
 * cannot be identified (not a mapping, no or unknown kind, no valid name);
 * the reasons are findings in `d`. */
struct model_object *decode_document(struct arena *a, const char *file,
                                     const struct tree *doc, struct diag *d);

/* For finish hooks: report a problem about field `field` (NULL: the struct
 * itself) of the struct whose header is `at`. The finding points at that
 * field's value when it was declared, else at the struct, else at the
 * object. */
void decode_error(struct decode_ctx *c, const struct model_hdr *at,
                  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "VM 'web-1'" (or "VM" when the name is unknown), for messages. Built on
 * first use: formatting it for every document would cost more than the
 * decoding when nothing is wrong. */
const char *decode_where(struct decode_ctx *c);

/* Where a field of a struct was declared (see decode_error). */
struct tree_mark decode_mark(const struct model_object *obj,
                             const struct model_hdr *at, const char *field);

#endif
