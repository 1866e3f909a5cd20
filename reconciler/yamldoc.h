/* yamldoc.h — the libyaml adapter: YAML text <-> trees.
 *
 * The only file that includes <yaml.h>. Parsing builds one tree per
 * non-empty document from libyaml's event stream, with an explicit stack (no
 * recursion) and these rules, each reported as a finding at its line:column:
 *   - aliases, anchors and tags other than !!str are rejected;
 *   - nesting deeper than YAMLDOC_MAX_DEPTH stops the file;
 *   - duplicate keys and non-scalar keys are errors;
 *   - a key or value with a control character (NUL included) is an error;
 *     the node is marked TREE_REFUSED (a key is dropped) so that nothing
 *     reports it again;
 *   - UTF-16 and UTF-32 (by byte-order mark or NUL bytes) stop the file;
 *     a UTF-8 byte-order mark is skipped;
 *   - invalid UTF-8 and syntax errors stop the file, with libyaml's words.
 */
#ifndef QKVM_YAMLDOC_H
#define QKVM_YAMLDOC_H

#include "diag.h"
#include "tree.h"

#include <stdio.h>

#define YAMLDOC_MAX_DEPTH 64

struct arena;

struct yamldoc_set {
    struct tree **docs;   /* in the arena */
    size_t len;
};

/* Parse `buf` (len bytes) named `file` into `out`. Returns 0, or -1 when the
 * file had a fatal error (documents before it are still in `out`). */
int yamldoc_parse(struct arena *a, const char *file, const char *buf,
                  size_t len, struct diag *d, struct yamldoc_set *out);

/* Is `buf` (len bytes) well-formed YAML? 0, or -1 with libyaml's words and
 * the 1-based line and column of the problem in msg ("line 3 column 5: ...").
 * Only syntax: what the text is parsed for elsewhere (cloud-init) has its
 * own rules. */
int yamldoc_check(const char *buf, size_t len, char *msg, size_t size);

/* Emit trees as a YAML stream ("---" before each document). 0 or -1. */
int yamldoc_emit(FILE *out, struct tree *const *docs, size_t n);

#endif
