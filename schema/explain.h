/* explain.h — field documentation from the tables.
 *
 * explain_path() prints what `qkvm explain vm.spec.nics` shows, in the
 * manner of kubectl explain: the kind, the field's type, default and doc,
 * and its sub-fields. explain_reference() prints the whole manifest
 * reference as Markdown; the README's reference section is this output
 * (a test checks that they agree).
 */
#ifndef QKVM_EXPLAIN_H
#define QKVM_EXPLAIN_H

#include <stdio.h>

/* 0, or -1 with a message (and suggestion) in err. */
int explain_path(FILE *out, const char *path, char *err, size_t errsize);
void explain_kinds(FILE *out);
void explain_reference(FILE *out);

#endif
