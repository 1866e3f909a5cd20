/* cmd_inventory.c — get and describe: desired (with -f), observed (when
 * the node answers) and stored, joined by inventory.c. Never take the
 * reconcile lock; never write. */
#include "cli.h"

#include "arena.h"
#include "inventory.h"
#include "plan.h"
#include "report.h"
#include "schema.h"
#include "session.h"
#include "store.h"
#include "text.h"
#include "tree.h"
#include "yamldoc.h"

#include <string.h>

int cli_kind_arg(const char *word, enum model_kind *k)
{
    int x = inventory_kind(word);
    if (x < 0)
        return cli_error("unknown kind '%s' (vms, disks, networks, pools, images, nodes, "
                         "policies)", word), -1;
    *k = (enum model_kind)x;
    return 0;
}

static void get_table(FILE *out, const struct cli *c, const struct tree *t,
                      const void *payload)
{
    inventory_table(out, t, *(const enum model_kind *)payload, c->format == CLI_WIDE);
}

CLI_COMMAND(cmd_get)
{
    enum model_kind k;
    if (cli_kind_arg(argv[0], &k) < 0)
        return CLI_EXIT_ERROR;
    const char *name = argc == 2 ? argv[1] : NULL;
    struct inventory *inv = session_inventory(s);
    int rc;
    if (name && !inventory_find(inv, k, name)) {
        rc = cli_error("%s '%s' not found on %s", plan_kind_name(k), name,
                       *inv->uri ? inv->uri : "the host");
    } else {
        struct arena *a = arena_new();
        rc = cli_emit(c, inventory_tree(a, inv, k, name, store_now()), false, get_table, &k);
        arena_free(a);
    }
    inventory_free(inv);
    return rc;
}

static void describe_table(FILE *out, const struct cli *c, const struct tree *doc,
                    const void *payload)
{
    (void)payload;
    (void)c;
    const struct tree *spec = tree_get(doc, "spec"), *status = tree_get(doc, "status");
    const struct tree *meta = tree_get(doc, "metadata");
    const struct tree *drift = tree_get(doc, "drift"), *events = tree_get(doc, "events");
    char first[32];
    cli_when(tree_int(status, "firstSeen", 0) * 1000, first, sizeof(first));
    fprintf(out, "Name:        %s\n", tree_str(meta, "name", "?"));
    fprintf(out, "Kind:        %s\n", tree_str(doc, "kind", "?"));
    const char *uri = tree_str(status, "uri", "");
    fprintf(out, "Node:        %s (%s)\n", tree_str(status, "node", "-"), *uri ? uri : "-");
    if (tree_str(status, "placement", NULL))
        fprintf(out, "Placement:   %s\n", tree_str(status, "placement", ""));
    fprintf(out, "State:       %s\n", tree_str(status, "state", "-"));
    fprintf(out, "Sync:        %s\n", tree_str(status, "sync", "-"));
    fprintf(out, "Declared:    %s\n", tree_bool(status, "declared")
                                          ? "yes (in the manifests given)"
                                          : spec && spec->type != TREE_NULL
                                              ? "as last recorded (no -f given)"
                                              : "no");
    fprintf(out, "First seen:  %s\n", first);
    fflush(out);
    if (spec && spec->type != TREE_NULL) {
        fprintf(out, "Spec:\n");
        fflush(out);
        yamldoc_emit(out, (struct tree **)&spec, 1);
    }
    const struct tree *seen = status ? tree_get(status, "observed") : NULL;
    if (seen) {
        fprintf(out, "Observed:\n");
        fflush(out);
        yamldoc_emit(out, (struct tree **)&seen, 1);
    }
    if (strcmp(tree_str(doc, "driftFrom", ""), "plan") == 0)
        fprintf(out, "Drift:%s\n", drift->len ? "" : "       none");
    else
        fprintf(out, "Drift (as the last 'qkvm drift' found it, unless an apply healed it since):"
                     "%s\n", drift->len ? "" : " none");
    for (size_t i = 0; i < drift->len; i++) {
        const struct tree *x = drift->u.items[i];
        const char *field = tree_str(x, "field", NULL);
        if (field)
            fprintf(out, "  %s: desired %s, actual %s\n", field,
                    tree_str(x, "desired", "(none)"), tree_str(x, "actual", "(none)"));
        else
            fprintf(out, "  %s: %s\n", tree_str(x, "category", "?"), tree_str(x, "message", ""));
    }
    fprintf(out, "Events:%s\n", events->len ? "" : "      none recorded");
    long long now = store_now() / 1000;
    for (size_t i = 0; i < events->len; i++) {
        const struct tree *e = events->u.items[i];
        char ag[16];
        text_age((now - tree_int(e, "time", now)) * 1000, ag, sizeof(ag));
        fprintf(out, "  %-5s %-7s %-14s %s\n", ag, tree_str(e, "type", "?"),
                tree_str(e, "reason", "?"), tree_str(e, "message", ""));
    }
}

CLI_COMMAND(cmd_describe)
{
    (void)argc;
    enum model_kind k;
    char err[1024];
    if (cli_kind_arg(argv[0], &k) < 0)
        return CLI_EXIT_ERROR;
    struct inventory *inv = session_inventory(s);
    if (!inventory_find(inv, k, argv[1])) {
        cli_error("%s '%s' not found on %s", plan_kind_name(k), argv[1],
                  *inv->uri ? inv->uri : "the host");
        inventory_free(inv);
        return CLI_EXIT_ERROR;
    }
    struct arena *a = arena_new();
    struct tree *doc = inventory_tree(a, inv, k, argv[1], store_now());
    /* drift: the plan's findings when manifests were given, else the open
     * findings the last drift run recorded; one shape either way */
    struct tree *drift = tree_new_seq(a);
    if (s->plan) {
        for (size_t i = 0; i < s->plan->ndrift; i++) {
            const struct drift_finding *d = &s->plan->drift[i];
            if (strcmp(d->kind, schema_kinds[k].name) == 0 && strcmp(d->name, argv[1]) == 0)
                tree_seq_add(a, drift, report_finding_tree(
                                           a, drift_category_name(d->category), d->kind, d->name,
                                           d->field, d->desired, d->actual, d->message, 0, 0));
        }
    } else {
        struct store_finding *f;
        size_t nf;
        if (store_findings(s->st, a, 0, inv->uri, &f, &nf, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < nf; i++)
                if (strcmp(f[i].kind, schema_kinds[k].name) == 0 &&
                    strcmp(f[i].name, argv[1]) == 0)
                    tree_seq_add(a, drift, report_finding_tree(
                                               a, f[i].category, f[i].kind, f[i].name,
                                               f[i].field, f[i].desired, f[i].actual,
                                               f[i].message, f[i].opened, f[i].opened_run));
        } else {
            cli_warning("%s", err);
        }
    }
    struct store_event *ev;
    size_t nev = 0;
    if (store_events(s->st, a, 0, schema_kinds[k].name, argv[1], 10, &ev, &nev, err,
                     sizeof(err)) < 0)
        cli_warning("%s", err);
    struct tree *events = tree_new_seq(a);
    for (size_t i = 0; i < nev; i++)
        tree_seq_add(a, events, cli_event_tree(a, &ev[i]));
    tree_map_str(a, doc, "driftFrom", s->plan ? "plan" : "recorded");
    tree_map_add(a, doc, "drift", drift);
    tree_map_add(a, doc, "events", events);
    int rc = cli_emit(c, doc, false, describe_table, NULL);
    arena_free(a);
    inventory_free(inv);
    return rc;
}
