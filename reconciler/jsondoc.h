/* jsondoc.h — the jansson adapter: trees <-> JSON text.
 *
 * The only file that includes <jansson.h>; no JSON is ever escaped by hand.
 * Built scalars keep their type; parsed plain scalars are resolved by the
 * YAML 1.2 core schema (integers, booleans, null; everything else a string).
 */
#ifndef QKVM_JSONDOC_H
#define QKVM_JSONDOC_H

#include "tree.h"

#include <stdio.h>

struct arena;

/* Write `t` as indented JSON followed by a newline. 0 or -1. */
int jsondoc_emit(FILE *out, const struct tree *t);
/* `t` as compact JSON on the heap (free()), or NULL. */
char *jsondoc_string(const struct tree *t);
/* JSON text back as a tree in `a` (key order kept), or NULL if invalid. */
struct tree *jsondoc_parse(struct arena *a, const char *text);

#endif
