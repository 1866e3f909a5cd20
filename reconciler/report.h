/* report.h — plans, drift reports and apply results for people (text) and
 * programs (trees emitted as JSON or YAML). The shapes are documented in
 * the README and stable: fields are added, never renamed or removed.
 */
#ifndef QKVM_REPORT_H
#define QKVM_REPORT_H

#include <stdbool.h>
#include <stdio.h>

struct apply_result;
struct arena;
struct plan;
struct tree;

/* Terraform-like: '+' create, '~' update/start/stop/adopt, '-/+' replace,
 * '-' delete, '!' what apply will not do; field diffs; a summary line. */
void report_plan_text(FILE *out, const struct plan *p, bool color);
/* kind: Plan. With r, kind ApplyResult and each action gets a status. */
struct tree *report_plan_tree(struct arena *a, const struct plan *p,
                              const struct apply_result *r);
void report_drift_text(FILE *out, const struct plan *p, bool color);
struct tree *report_drift_tree(struct arena *a, const struct plan *p);
/* Does the plan change anything (actions) or need attention (notes other
 * than pending restarts)? */
bool report_plan_has_changes(const struct plan *p);

#endif
