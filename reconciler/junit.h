/* junit.h — a plan or a drift report as JUnit XML (-o junit), for CI
 * systems: one test suite per node, one test case per object the run
 * judged (the report's "objects", and any other its findings, actions or
 * notes name), failing with its findings (drift: each one's category, the
 * field's desired and actual values) or its actions and problems (plan:
 * the verb and the field changes; conflicts, blocked changes, refused
 * deletions), skipped when its node could not be observed. An object in
 * sync is a test case that passes. Rendered from the very tree -o json
 * prints (junit.c says the rules).
 */
#ifndef QKVM_JUNIT_H
#define QKVM_JUNIT_H

#include <stdio.h>

struct tree;

/* report: a DriftReport or a Plan tree. 0, or -1 when it cannot be written. */
int junit_write(FILE *out, const struct tree *report);

#endif
