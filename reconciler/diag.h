/* diag.h — findings: every problem of a whole manifest set, sorted.
 *
 * Validation never stops at the first problem: the loader, the decoder and
 * the cross-object checks all add findings here, and the command prints them
 * sorted by file, line and column, one line each:
 *
 *     examples/x/vms.yaml:12:5: unknown field 'cpu' in VM 'web-1' (did you mean 'cpus'?)
 *
 * Warnings are prefixed "warning: " and do not change the exit code. Message
 * text never contains a newline or a control character (they are escaped),
 * and the list has a hard cap: past DIAG_MAX findings only the count grows.
 */
#ifndef QKVM_DIAG_H
#define QKVM_DIAG_H

#include "tree.h"

#include <stdbool.h>
#include <stdio.h>

#define DIAG_MAX 100000

enum diag_severity { DIAG_ERROR, DIAG_WARNING };

struct diag_item {
    const char *file;      /* NULL: not tied to a file */
    struct tree_mark mark; /* 0:0 when unknown */
    enum diag_severity severity;
    const char *kind;      /* "VM", or NULL */
    const char *name;      /* object name, or NULL */
    const char *field;     /* "spec.nics[0].mac", or NULL */
    const char *message;
};

struct diag {
    struct arena *arena;   /* owns every string of every item */
    struct diag_item *items;
    size_t len, cap;
    size_t errors, warnings, dropped;
};

void diag_init(struct diag *d);
void diag_dispose(struct diag *d);

void diag_add(struct diag *d, enum diag_severity sev, const char *file,
              struct tree_mark mark, const char *kind, const char *name,
              const char *field, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

void diag_sort(struct diag *d);
/* One line per finding; `color` adds ANSI bold/colour (TTY only). */
void diag_print(const struct diag *d, FILE *out, bool color);
/* A sequence of mappings: file, line, column, severity, kind, name, field,
 * message (absent values are null). */
struct tree *diag_to_tree(const struct diag *d, struct arena *a);

#endif
