/* report.c — plans, drift and apply results as text and as trees. See
 * report.h. */
#include "report.h"

#include "apply.h"
#include "arena.h"
#include "plan.h"
#include "schema.h"
#include "tree.h"

#include <string.h>

#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_MAGENTA "\033[35m"
#define C_BOLD "\033[1m"

static const char *const how_names[] = { "config", "live", "restart", "replace", "blocked" };
static const char *const note_names[] = {
    "conflict", "blocked", "restart-pending", "prune-skipped", "protected", "unsupported",
    "deletion-refused",
};

static const char *symbol(enum plan_verb v, const char **color)
{
    switch (v) {
    case PLAN_CREATE: *color = C_GREEN; return "+";
    case PLAN_DELETE: *color = C_RED; return "-";
    case PLAN_REPLACE: *color = C_MAGENTA; return "-/+";
    default: *color = C_YELLOW; return "~";
    }
}

/* "spec.memory" -> "memory": the manifests' own words in the text form. */
static const char *short_field(const char *f)
{
    return strncmp(f, "spec.", 5) == 0 ? f + 5 : f;
}

/* Objects of other projects: one line, never counted as changes or drift. */
static void foreign_text(FILE *out, const struct plan *p)
{
    if (!p->nforeign)
        return;
    fprintf(out, "\n%zu object%s of other projects on this host %s left alone:", p->nforeign,
            p->nforeign == 1 ? "" : "s", p->nforeign == 1 ? "is" : "are");
    for (size_t i = 0; i < p->nforeign && i < 8; i++)
        fprintf(out, "%s %s/%s (project %s)", i ? "," : "", plan_kind_name(p->foreign[i].kind),
                p->foreign[i].name, p->foreign[i].project);
    if (p->nforeign > 8)
        fprintf(out, " and %zu more ('qkvm get' lists them)", p->nforeign - 8);
    fputs(".\n", out);
}

static struct tree *foreign_tree(struct arena *a, const struct plan *p)
{
    struct tree *list = tree_new_seq(a);
    for (size_t i = 0; i < p->nforeign; i++) {
        struct tree *m = tree_new_map(a);
        tree_map_str(a, m, "kind", schema_kinds[p->foreign[i].kind].name);
        tree_map_str(a, m, "name", p->foreign[i].name);
        tree_map_str(a, m, "project", p->foreign[i].project);
        tree_seq_add(a, list, m);
    }
    return list;
}

bool report_plan_has_changes(const struct plan *p)
{
    if (p->n || p->restarts_pending)
        return true;
    for (size_t i = 0; i < p->nnotes; i++)
        if (p->notes[i].type == NOTE_CONFLICT || p->notes[i].type == NOTE_BLOCKED ||
            p->notes[i].type == NOTE_REFUSED)
            return true;
    return false;
}

void report_plan_text(FILE *out, const struct plan *p, bool color)
{
    const char *reset = color ? C_RESET : "";
    if (p->n) {
        fprintf(out, "qkvm will change %s:\n\n", p->uri);
        for (size_t i = 0; i < p->n; i++) {
            const struct plan_action *a = &p->v[i];
            const char *c;
            const char *sym = symbol(a->verb, &c);
            char obj[300];
            snprintf(obj, sizeof(obj), "%s/%s", plan_kind_name(a->kind), a->name);
            fprintf(out, "  %s%-3s %-32s %s%s: %s\n", color ? c : "", sym, obj,
                    plan_verb_name(a->verb), reset, a->reason);
            for (size_t j = 0; j < a->nchanges; j++) {
                const struct diff_change *ch = &a->changes[j];
                const char *tag = ch->how == DIFF_LIVE      ? " (live)"
                                  : ch->how == DIFF_RESTART ? " (restart required)"
                                                            : "";
                if (!ch->from)
                    fprintf(out, "        %s%s: + %s%s%s\n", color ? C_GREEN : "",
                            short_field(ch->field), ch->to, tag, reset);
                else if (!ch->to)
                    fprintf(out, "        %s%s: - %s%s%s\n", color ? C_RED : "",
                            short_field(ch->field), ch->from, tag, reset);
                else
                    fprintf(out, "        %s: %s → %s%s\n", short_field(ch->field), ch->from,
                            ch->to, tag);
            }
        }
    }
    if (p->nnotes) {
        if (p->n)
            fputc('\n', out);
        for (size_t i = 0; i < p->nnotes; i++) {
            const struct plan_note *n = &p->notes[i];
            char obj[300];
            snprintf(obj, sizeof(obj), "%s/%s", plan_kind_name(n->kind), n->name);
            fprintf(out, "  %s!%s   %-32s %s\n", color ? C_BOLD C_YELLOW : "", reset, obj,
                    n->message);
        }
    }
    if (!p->n) {
        size_t attention = 0;
        for (size_t i = 0; i < p->nnotes; i++)
            attention += p->notes[i].type == NOTE_CONFLICT || p->notes[i].type == NOTE_BLOCKED ||
                         p->notes[i].type == NOTE_REFUSED;
        foreign_text(out, p);
        if (attention)
            fprintf(out, "\nNothing to apply, but %s does not match the manifests: %zu item%s "
                         "above need%s attention.\n", p->uri, attention,
                    attention == 1 ? "" : "s", attention == 1 ? "s" : "");
        else if (p->restarts_pending)
            fprintf(out, "\nNothing to apply, but %zu VM%s wait%s for a restart to run what "
                         "%s definition%s say%s ('apply --restart', or a Policy with restart: "
                         "onChange, restarts %s).\n", p->restarts_pending,
                    p->restarts_pending == 1 ? "" : "s", p->restarts_pending == 1 ? "s" : "",
                    p->restarts_pending == 1 ? "its" : "their",
                    p->restarts_pending == 1 ? "" : "s", p->restarts_pending == 1 ? "s" : "",
                    p->restarts_pending == 1 ? "it" : "them");
        else
            fprintf(out, "%sNo changes. %s matches the manifests.\n",
                    p->nnotes || p->nforeign ? "\n" : "", p->uri);
        return;
    }
    foreign_text(out, p);
    fprintf(out, "\n%sPlan:%s %zu to create, %zu to update, %zu to replace, %zu to delete, "
                 "%zu to start, %zu to stop",
            color ? C_BOLD : "", reset, p->count[PLAN_CREATE], p->count[PLAN_UPDATE],
            p->count[PLAN_REPLACE], p->count[PLAN_DELETE], p->count[PLAN_START],
            p->count[PLAN_STOP]);
    static const enum plan_verb more[] = { PLAN_RESTART, PLAN_PAUSE, PLAN_RESUME, PLAN_ADOPT };
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        if (p->count[more[i]])
            fprintf(out, ", %zu to %s", p->count[more[i]], plan_verb_name(more[i]));
    if (p->restarts_pending)
        fprintf(out, "; %zu restart%s pending after it", p->restarts_pending,
                p->restarts_pending == 1 ? "" : "s");
    fputs(".\n", out);
}

static const char *const status_names[] = { "pending", "done", "failed", "skipped" };

struct tree *report_plan_tree(struct arena *a, const struct plan *p,
                              const struct apply_result *r)
{
    struct tree *root = tree_new_map(a), *sum = tree_new_map(a);
    struct tree *acts = tree_new_seq(a), *notes = tree_new_seq(a);
    tree_map_str(a, root, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, root, "kind", r ? "ApplyResult" : "Plan");
    tree_map_str(a, root, "node", p->uri);
    for (int v = 0; v < PLAN_VERB_COUNT; v++)
        tree_map_int(a, sum, plan_verb_name((enum plan_verb)v), (long long)p->count[v]);
    if (r) {
        tree_map_int(a, sum, "done", (long long)r->done);
        tree_map_int(a, sum, "failed", (long long)r->failed);
        tree_map_int(a, sum, "skipped", (long long)r->skipped);
    }
    tree_map_int(a, sum, "restartsPending", (long long)p->restarts_pending);
    tree_map_bool(a, sum, "changes", report_plan_has_changes(p));
    tree_map_add(a, root, "summary", sum);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *pa = &p->v[i];
        struct tree *m = tree_new_map(a), *chs = tree_new_seq(a), *deps = tree_new_seq(a);
        tree_map_str(a, m, "action", plan_verb_name(pa->verb));
        tree_map_str(a, m, "kind", schema_kinds[pa->kind].name);
        tree_map_str(a, m, "name", pa->name);
        if (pa->pool)
            tree_map_str(a, m, "pool", pa->pool);
        tree_map_str(a, m, "reason", pa->reason);
        tree_map_bool(a, m, "restartRequired", pa->restart_required);
        for (size_t j = 0; j < pa->nchanges; j++) {
            const struct diff_change *ch = &pa->changes[j];
            struct tree *c = tree_new_map(a);
            tree_map_str(a, c, "field", ch->field);
            tree_map_str(a, c, "from", ch->from);
            tree_map_str(a, c, "to", ch->to);
            tree_map_str(a, c, "apply", how_names[ch->how]);
            tree_seq_add(a, chs, c);
        }
        tree_map_add(a, m, "changes", chs);
        for (size_t j = 0; j < pa->ndeps; j++) {
            const struct plan_action *d = &p->v[pa->deps[j]];
            tree_seq_add(a, deps, tree_new_str(a, arena_printf(a, "%s/%s", plan_kind_name(d->kind),
                                                               d->name)));
        }
        tree_map_add(a, m, "dependsOn", deps);
        if (r) {
            tree_map_str(a, m, "status", status_names[r->status[i]]);
            tree_map_str(a, m, "error", r->error[i]);
        }
        tree_seq_add(a, acts, m);
    }
    tree_map_add(a, root, "actions", acts);
    for (size_t i = 0; i < p->nnotes; i++) {
        const struct plan_note *n = &p->notes[i];
        struct tree *m = tree_new_map(a);
        tree_map_str(a, m, "type", note_names[n->type]);
        tree_map_str(a, m, "kind", schema_kinds[n->kind].name);
        tree_map_str(a, m, "name", n->name);
        tree_map_str(a, m, "message", n->message);
        tree_seq_add(a, notes, m);
    }
    tree_map_add(a, root, "notes", notes);
    tree_map_str(a, root, "project", p->project);
    tree_map_add(a, root, "foreign", foreign_tree(a, p));
    return root;
}

void report_drift_text(FILE *out, const struct plan *p, bool color)
{
    if (!p->ndrift) {
        fprintf(out, "No drift: %s matches the manifests; no orphans.\n", p->uri);
        foreign_text(out, p);
        return;
    }
    fprintf(out, "%-14s %-8s %-24s %s\n", "CATEGORY", "KIND", "NAME", "DETAIL");
    size_t count[DRIFT_CATEGORY_COUNT] = { 0 };
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *f = &p->drift[i];
        count[f->category]++;
        const char *c = f->category == DRIFT_ORPHAN || f->category == DRIFT_ORPHAN_FILE
                            ? C_MAGENTA
                            : f->category == DRIFT_STALE ? C_YELLOW : C_RED;
        fprintf(out, "%s%-14s%s %-8s %-24s %s\n", color ? c : "",
                drift_category_name(f->category), color ? C_RESET : "", f->kind, f->name,
                f->field && f->category == DRIFT_CHANGED
                    ? f->message + (strncmp(f->message, "spec.", 5) == 0 ? 5 : 0)
                    : f->message);
    }
    fprintf(out, "\n%zu finding%s on %s:", p->ndrift, p->ndrift == 1 ? "" : "s", p->uri);
    const char *sep = " ";
    for (int c = 0; c < DRIFT_CATEGORY_COUNT; c++)
        if (count[c]) {
            fprintf(out, "%s%zu %s", sep, count[c], drift_category_name((enum drift_category)c));
            sep = ", ";
        }
    fputs(".\n", out);
    foreign_text(out, p);
}

struct tree *report_drift_tree(struct arena *a, const struct plan *p)
{
    struct tree *root = tree_new_map(a), *counts = tree_new_map(a), *list = tree_new_seq(a);
    size_t count[DRIFT_CATEGORY_COUNT] = { 0 };
    tree_map_str(a, root, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, root, "kind", "DriftReport");
    tree_map_str(a, root, "node", p->uri);
    tree_map_bool(a, root, "drift", p->ndrift > 0);
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *f = &p->drift[i];
        count[f->category]++;
        struct tree *m = tree_new_map(a);
        tree_map_str(a, m, "category", drift_category_name(f->category));
        tree_map_str(a, m, "kind", f->kind);
        tree_map_str(a, m, "name", f->name);
        tree_map_str(a, m, "field", f->field);
        tree_map_str(a, m, "desired", f->desired);
        tree_map_str(a, m, "actual", f->actual);
        tree_map_str(a, m, "message", f->message);
        tree_seq_add(a, list, m);
    }
    for (int c = 0; c < DRIFT_CATEGORY_COUNT; c++)
        tree_map_int(a, counts, drift_category_name((enum drift_category)c), (long long)count[c]);
    tree_map_add(a, root, "counts", counts);
    tree_map_add(a, root, "findings", list);
    tree_map_str(a, root, "project", p->project);
    tree_map_add(a, root, "foreign", foreign_tree(a, p));
    return root;
}
