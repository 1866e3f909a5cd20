/* report.c — plans, drift and apply results as text and as trees. See
 * report.h. */
#include "report.h"

#include "apply.h"
#include "arena.h"
#include "inventory.h"
#include "plan.h"
#include "schema.h"
#include "tree.h"

#include <ctype.h>
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
    "deletion-refused", "unschedulable", "unreachable",
};

static const char *symbol(const char *verb, const char **color)
{
    if (strcmp(verb, "create") == 0) {
        *color = C_GREEN;
        return "+";
    }
    if (strcmp(verb, "delete") == 0) {
        *color = C_RED;
        return "-";
    }
    if (strcmp(verb, "migrate") == 0) {
        *color = C_YELLOW;
        return "→";
    }
    if (strcmp(verb, "replace") == 0) {
        *color = C_MAGENTA;
        return "-/+";
    }
    *color = C_YELLOW;
    return "~";
}

/* "VM" -> "vm": kind/name as the text form writes objects. */
static const char *obj_name(char *buf, size_t size, const struct tree *x)
{
    snprintf(buf, size, "%s/%s", tree_str(x, "kind", "?"), tree_str(x, "name", "?"));
    for (char *p = buf; *p && *p != '/'; p++)
        *p = (char)tolower((unsigned char)*p);
    return buf;
}

/* "spec.memory" -> "memory": the manifests' own words in the text form. */
static const char *short_field(const char *f)
{
    return strncmp(f, "spec.", 5) == 0 ? f + 5 : f;
}

/* Objects of other projects: one line, never counted as changes or drift. */
static void foreign_text(FILE *out, const struct tree *t)
{
    const struct tree *f = tree_get(t, "foreign");
    if (!f || !f->len)
        return;
    fprintf(out, "\n%u object%s of other projects on this host %s left alone:", f->len,
            f->len == 1 ? "" : "s", f->len == 1 ? "is" : "are");
    for (size_t i = 0; i < f->len && i < 8; i++) {
        char obj[300];
        fprintf(out, "%s %s (project %s)", i ? "," : "",
                obj_name(obj, sizeof(obj), f->u.items[i]),
                tree_str(f->u.items[i], "project", "?"));
    }
    if (f->len > 8)
        fprintf(out, " and %u more ('qkvm get' lists them)", f->len - 8);
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
        if (p->foreign[i].node)
            tree_map_str(a, m, "node", p->foreign[i].node);
        tree_seq_add(a, list, m);
    }
    return list;
}

/* A fleet's plan: the names of the nodes it covers. */
static struct tree *nodes_tree(struct arena *a, const struct plan *p)
{
    struct tree *l = tree_new_seq(a);
    for (size_t i = 0; i < p->nnodes; i++)
        tree_seq_add(a, l, tree_new_str(a, p->nodes[i]));
    return l;
}

bool report_plan_has_changes(const struct plan *p)
{
    if (p->n || p->restarts_pending)
        return true;
    for (size_t i = 0; i < p->nnotes; i++)
        if (p->notes[i].type == NOTE_CONFLICT || p->notes[i].type == NOTE_BLOCKED ||
            p->notes[i].type == NOTE_REFUSED || p->notes[i].type == NOTE_UNSCHEDULABLE ||
            p->notes[i].type == NOTE_UNREACHABLE)
            return true;
    return false;
}

bool report_note_attention(const char *type)
{
    return strcmp(type, "conflict") == 0 || strcmp(type, "blocked") == 0 ||
           strcmp(type, "deletion-refused") == 0 || strcmp(type, "unschedulable") == 0 ||
           strcmp(type, "unreachable") == 0;
}

/* kind/name, and " on NODE" in a fleet's plan. */
static const char *obj_at(char *buf, size_t size, const struct tree *x)
{
    obj_name(buf, size, x);
    const char *node = tree_str(x, "node", NULL);
    size_t len = strlen(buf);
    if (node && len < size)
        snprintf(buf + len, size - len, " on %s", node);
    return buf;
}

void report_plan_text(FILE *out, const struct tree *t, bool color)
{
    const char *reset = color ? C_RESET : "", *uri = tree_str(t, "node", "?");
    const struct tree *acts = tree_get(t, "actions"), *notes = tree_get(t, "notes");
    const struct tree *sum = tree_get(t, "summary");
    char obj[300];
    if (acts->len) {
        fprintf(out, "qkvm will change %s:\n\n", uri);
        for (size_t i = 0; i < acts->len; i++) {
            const struct tree *a = acts->u.items[i], *chs = tree_get(a, "changes");
            const char *c, *verb = tree_str(a, "action", "?");
            const char *sym = symbol(verb, &c);
            /* "→" is one column and three bytes: padded by hand */
            fprintf(out, "  %s%s%*s %-32s %s%s: %s\n", color ? c : "", sym,
                    strcmp(sym, "→") == 0 ? 2 : 3 - (int)strlen(sym), "",
                    obj_at(obj, sizeof(obj), a), verb, reset, tree_str(a, "reason", ""));
            for (size_t j = 0; chs && j < chs->len; j++) {
                const struct tree *ch = chs->u.items[j];
                const char *how = tree_str(ch, "apply", ""), *field = tree_str(ch, "field", "");
                const char *from = tree_str(ch, "from", NULL), *to = tree_str(ch, "to", NULL);
                const char *tag = strcmp(how, "live") == 0      ? " (live)"
                                  : strcmp(how, "restart") == 0 ? " (restart required)"
                                                                : "";
                if (!from)
                    fprintf(out, "        %s%s: + %s%s%s\n", color ? C_GREEN : "",
                            short_field(field), to, tag, reset);
                else if (!to)
                    fprintf(out, "        %s%s: - %s%s%s\n", color ? C_RED : "",
                            short_field(field), from, tag, reset);
                else
                    fprintf(out, "        %s: %s → %s%s\n", short_field(field), from, to, tag);
            }
        }
    }
    size_t nattention = 0;
    if (notes->len) {
        if (acts->len)
            fputc('\n', out);
        for (size_t i = 0; i < notes->len; i++) {
            const struct tree *n = notes->u.items[i];
            nattention += report_note_attention(tree_str(n, "type", ""));
            fprintf(out, "  %s!%s   %-32s %s\n", color ? C_BOLD C_YELLOW : "", reset,
                    obj_at(obj, sizeof(obj), n), tree_str(n, "message", ""));
        }
    }
    long long pending = tree_int(sum, "restartsPending", 0);
    foreign_text(out, t);
    if (!acts->len) {
        if (nattention)
            fprintf(out, "\nNothing to apply, but %s do%s not match the manifests: %zu item%s "
                         "above need%s attention.\n", uri, tree_get(t, "nodes") ? "" : "es",
                    nattention,
                    nattention == 1 ? "" : "s", nattention == 1 ? "s" : "");
        else if (pending)
            fprintf(out, "\nNothing to apply, but %lld VM%s wait%s for a restart to run what "
                         "%s definition%s say%s ('apply --restart', or a Policy with restart: "
                         "onChange, restarts %s).\n", pending, pending == 1 ? "" : "s",
                    pending == 1 ? "s" : "", pending == 1 ? "its" : "their",
                    pending == 1 ? "" : "s", pending == 1 ? "s" : "",
                    pending == 1 ? "it" : "them");
        else
            fprintf(out, "%sNo changes. %s match%s the manifests.\n",
                    notes->len || (tree_get(t, "foreign") && tree_get(t, "foreign")->len)
                        ? "\n" : "", uri, tree_get(t, "nodes") ? "" : "es");
        return;
    }
    fprintf(out, "\n%sPlan:%s %lld to create, %lld to update, %lld to replace, %lld to delete, "
                 "%lld to start, %lld to stop",
            color ? C_BOLD : "", reset, tree_int(sum, "create", 0), tree_int(sum, "update", 0),
            tree_int(sum, "replace", 0), tree_int(sum, "delete", 0), tree_int(sum, "start", 0),
            tree_int(sum, "stop", 0));
    static const char *const more[] = { "restart", "pause", "resume", "adopt", "migrate" };
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        if (tree_int(sum, more[i], 0))
            fprintf(out, ", %lld to %s", tree_int(sum, more[i], 0), more[i]);
    if (pending)
        fprintf(out, "; %lld restart%s pending after it", pending, pending == 1 ? "" : "s");
    fputs(".\n", out);
}

struct tree *report_plan_tree(struct arena *a, const struct plan *p,
                              const struct apply_result *r)
{
    struct tree *root = tree_new_map(a), *sum = tree_new_map(a);
    struct tree *acts = tree_new_seq(a), *notes = tree_new_seq(a);
    tree_map_str(a, root, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, root, "kind", r ? "ApplyResult" : "Plan");
    tree_map_str(a, root, "node", p->uri);
    if (p->nnodes)
        tree_map_add(a, root, "nodes", nodes_tree(a, p));
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
        if (pa->node)
            tree_map_str(a, m, "node", pa->node);
        if (pa->placement)
            tree_map_str(a, m, "placement", pa->placement);
        if (pa->target) {
            tree_map_str(a, m, "target", pa->target);
            tree_map_bool(a, m, "live", pa->live);
            tree_map_bool(a, m, "cold", pa->cold);
        }
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
            tree_map_str(a, m, "status", apply_status_name(r->status[i]));
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
        if (n->node)
            tree_map_str(a, m, "node", n->node);
        tree_map_str(a, m, "message", n->message);
        tree_seq_add(a, notes, m);
    }
    tree_map_add(a, root, "notes", notes);
    tree_map_str(a, root, "project", p->project);
    tree_map_add(a, root, "foreign", foreign_tree(a, p));
    return root;
}

void report_drift_text(FILE *out, const struct tree *t, bool color)
{
    const struct tree *list = tree_get(t, "findings"), *counts = tree_get(t, "counts");
    const char *uri = tree_str(t, "node", "?");
    if (!list->len) {
        fprintf(out, "No drift: %s match%s the manifests; no orphans.\n", uri,
                tree_get(t, "nodes") ? "" : "es");
        foreign_text(out, t);
        return;
    }
    fprintf(out, "%-14s %-8s %-24s %s\n", "CATEGORY", "KIND", "NAME", "DETAIL");
    for (size_t i = 0; i < list->len; i++) {
        const struct tree *f = list->u.items[i];
        const char *cat = tree_str(f, "category", "?"), *msg = tree_str(f, "message", "");
        const char *c = strncmp(cat, "orphan", 6) == 0 ? C_MAGENTA
                        : strcmp(cat, "stale") == 0    ? C_YELLOW
                                                       : C_RED;
        bool changed = strcmp(cat, "changed") == 0 && tree_str(f, "field", NULL);
        const char *node = tree_str(f, "node", NULL);
        char name[300];
        snprintf(name, sizeof(name), "%s%s%s", tree_str(f, "name", "?"), node ? " on " : "",
                 node ? node : "");
        fprintf(out, "%s%-14s%s %-8s %-24s %s\n", color ? c : "", cat, color ? C_RESET : "",
                tree_str(f, "kind", "?"), name, changed ? short_field(msg) : msg);
    }
    fprintf(out, "\n%u finding%s on %s:", list->len, list->len == 1 ? "" : "s", uri);
    const char *sep = " ";
    for (size_t i = 0; i < counts->len; i++) {
        const char *cat = counts->u.pairs[i].key->u.str;
        long long n = tree_int(counts, cat, 0);
        if (n) {
            fprintf(out, "%s%lld %s", sep, n, cat);
            sep = ", ";
        }
    }
    fputs(".\n", out);
    foreign_text(out, t);
}

struct tree *report_finding_tree(struct arena *a, const char *category, const char *kind,
                                 const char *name, const char *field, const char *desired,
                                 const char *actual, const char *message, int64_t since,
                                 int64_t since_run)
{
    struct tree *m = tree_new_map(a);
    tree_map_str(a, m, "category", category);
    tree_map_str(a, m, "kind", kind);
    tree_map_str(a, m, "name", name);
    /* absent and "" (as the store keeps an absent value) are both null */
    bool f = field && *field;
    tree_map_str(a, m, "field", f ? field : NULL);
    tree_map_str(a, m, "desired", f && desired && *desired ? desired : NULL);
    tree_map_str(a, m, "actual", f && actual && *actual ? actual : NULL);
    tree_map_str(a, m, "message", message);
    tree_map_add(a, m, "since", since ? tree_new_int(a, since / 1000) : tree_new_null(a));
    tree_map_add(a, m, "sinceRun", since_run ? tree_new_int(a, since_run) : tree_new_null(a));
    return m;
}

void report_add_object(struct arena *a, struct tree *list, const struct inventory_row *r,
                       bool fleet)
{
    if (r->kind == MODEL_NODE && !fleet)
        return;                        /* the implicit node: the report's "node" */
    /* a fleet's objects of a node: its Node, networks, pools, images
     * (uploaded to each node), disks, VMs (not "-", a VM placed
     * nowhere); the rest (Policies, the Project) is the fleet's */
    bool of_node = r->kind == MODEL_NODE || r->kind == MODEL_NETWORK ||
                   r->kind == MODEL_POOL || r->kind == MODEL_IMAGE ||
                   r->kind == MODEL_DISK || r->kind == MODEL_VM;
    const char *node = fleet && of_node && r->node && strcmp(r->node, "-") != 0 ? r->node
                                                                             : NULL;
    for (size_t k = 0; !node && fleet && k < list->len; k++) {
        const struct tree *o = list->u.items[k];    /* a fleet's Policy, Image... once */
        if (!tree_get(o, "node") && strcmp(tree_str(o, "kind", ""),
                                           schema_kinds[r->kind].name) == 0 &&
            strcmp(tree_str(o, "name", ""), r->name) == 0)
            return;
    }
    struct tree *m = tree_new_map(a);
    tree_map_str(a, m, "kind", schema_kinds[r->kind].name);
    tree_map_str(a, m, "name", r->name);
    if (node)
        tree_map_str(a, m, "node", node);
    if (r->kind == MODEL_DISK && r->pool)
        tree_map_str(a, m, "pool", r->pool);
    tree_map_str(a, m, "sync", inventory_sync_name(r->sync));
    tree_map_str(a, m, "state", r->state);
    /* the declared labels (else the observed ones): user-written text
     * every renderer escapes; left out when there are none */
    const struct model_object *o = r->want ? r->want : r->seen;
    if (o && o->meta.labels.n) {
        struct tree *lm = tree_new_map(a);
        for (size_t k = 0; k < o->meta.labels.n; k++)
            tree_map_str(a, lm, o->meta.labels.v[k].key, o->meta.labels.v[k].value);
        tree_map_add(a, m, "labels", lm);
    }
    tree_seq_add(a, list, m);
}

void report_add_objects(struct arena *a, struct tree *root, const struct inventory *inv)
{
    bool fleet = tree_get(root, "nodes") != NULL;
    struct tree *l = tree_new_seq(a);
    for (size_t i = 0; inv && i < inv->n; i++)
        report_add_object(a, l, &inv->v[i], fleet);
    tree_map_add(a, root, "objects", l);
}

struct tree *report_drift_tree(struct arena *a, const struct plan *p)
{
    struct tree *root = tree_new_map(a), *counts = tree_new_map(a), *list = tree_new_seq(a);
    size_t count[DRIFT_CATEGORY_COUNT] = { 0 };
    tree_map_str(a, root, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, root, "kind", "DriftReport");
    tree_map_str(a, root, "node", p->uri);
    if (p->nnodes)
        tree_map_add(a, root, "nodes", nodes_tree(a, p));
    tree_map_bool(a, root, "drift", p->ndrift > 0);
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *f = &p->drift[i];
        count[f->category]++;
        struct tree *x = report_finding_tree(a, drift_category_name(f->category), f->kind,
                                             f->name, f->field, f->desired, f->actual,
                                             f->message, 0, 0);
        if (f->node)
            tree_map_str(a, x, "node", f->node);
        tree_seq_add(a, list, x);
    }
    for (int c = 0; c < DRIFT_CATEGORY_COUNT; c++)
        tree_map_int(a, counts, drift_category_name((enum drift_category)c), (long long)count[c]);
    tree_map_add(a, root, "counts", counts);
    tree_map_add(a, root, "findings", list);
    tree_map_str(a, root, "project", p->project);
    tree_map_add(a, root, "foreign", foreign_tree(a, p));
    return root;
}
