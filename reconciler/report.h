/* report.h — plans, drift reports and apply results for people (text) and
 * programs (trees emitted as JSON or YAML). The shapes are documented in
 * the README and stable: fields are added, never renamed or removed.
 */
#ifndef QKVM_REPORT_H
#define QKVM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct apply_result;
struct arena;
struct inventory;
struct plan;
struct tree;

/* The text renderers take the very trees -o json and -o yaml print, so
 * every format says the same. */

/* Terraform-like: '+' create, '~' update/start/stop/adopt, '-/+' replace,
 * '-' delete, '!' what apply will not do; field diffs; a summary line. */
void report_plan_text(FILE *out, const struct tree *plan, bool color);
/* kind: Plan. With r, kind ApplyResult and each action gets a status. */
struct tree *report_plan_tree(struct arena *a, const struct plan *p,
                              const struct apply_result *r);
void report_drift_text(FILE *out, const struct tree *drift, bool color);
struct tree *report_drift_tree(struct arena *a, const struct plan *p);
/* "objects": every object the run judged (inventory rows: declared, and
 * what it found), {kind, name, node (a fleet's node objects: Node,
 * Network, Pool, Disk, a placed VM), pool (Disks), sync, state, labels}; what
 * -o junit makes its test cases of. */
void report_add_objects(struct arena *a, struct tree *root, const struct inventory *inv);
/* One inventory row onto such a list (fleet: rows of a node name it; a
 * fleet's Policy or Project is added once). "labels" (a map) is there
 * when the object has any. */
struct inventory_row;
void report_add_object(struct arena *a, struct tree *list, const struct inventory_row *r,
                       bool fleet);
/* One drift finding, the one shape drift, history and describe print:
 * {category, kind, name, field, desired, actual, message, since,
 * sinceRun}; field, desired and actual are null for a finding that is not
 * a field's, since (Unix seconds) and sinceRun null when not known (0). */
struct tree *report_finding_tree(struct arena *a, const char *category, const char *kind,
                                 const char *name, const char *field, const char *desired,
                                 const char *actual, const char *message, int64_t since,
                                 int64_t since_run);
/* Does the plan change anything (actions) or need attention (notes other
 * than pending restarts)? */
bool report_plan_has_changes(const struct plan *p);
/* A plan note of this type ("conflict", "blocked"...) needs attention:
 * something will not be applied (not so "restart-pending", "protected"). */
bool report_note_attention(const char *type);

#endif
