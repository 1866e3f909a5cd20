/* cmd_report.c — qkvm report: the drift report people look at. One
 * observation, as `qkvm drift` makes and journals it, gives the findings,
 * the objects and the nodes; the state database gives the recent runs, the
 * failovers and fences and the timeline (this run included: it is ended
 * first). dashboard.c makes the Report tree of it and the page of that
 * tree; -o json and -o yaml print the tree, --html FILE writes the page.
 */
#include "cli.h"

#include "arena.h"
#include "dashboard.h"
#include "engine.h"
#include "inventory.h"
#include "model.h"
#include "plan.h"
#include "report.h"
#include "session.h"
#include "store.h"
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_page(FILE *f, const void *payload)
{
    return dashboard_html(f, payload);
}

/* The summary a terminal gets. */
static void report_table(FILE *out, const struct cli *c, const struct tree *t,
                         const void *payload)
{
    (void)c;
    (void)payload;
    const struct tree *sum = tree_get(t, "summary"), *objs = tree_get(sum, "objects");
    const struct tree *nodes = tree_get(t, "nodes");
    fprintf(out, "NODE                 STATE         OBJECTS  NOT-IN-SYNC  FINDINGS\n");
    for (size_t i = 0; nodes && i < nodes->len; i++) {
        const struct tree *n = nodes->u.items[i];
        fprintf(out, "%-20s %-13s %7lld  %11lld  %8lld\n", tree_str(n, "name", ""),
                tree_str(n, "state", ""), tree_int(n, "objects", 0), tree_int(n, "notInSync", 0),
                tree_int(n, "findings", 0));
    }
    fprintf(out, "\nobjects:");
    for (size_t i = 0; objs && i < objs->len; i++)
        fprintf(out, "%s %s %lld", i ? "," : "", objs->u.pairs[i].key->u.str,
                tree_int(objs, objs->u.pairs[i].key->u.str, 0));
    fprintf(out, "\nfindings: %lld\n", tree_int(sum, "findings", 0));
}

CLI_COMMAND(cmd_report)
{
    (void)argc;
    (void)argv;
    struct arena *a = arena_new();
    struct tree *d = report_drift_tree(a, s->plan);
    struct inventory *inv = session_inventory(s);
    report_add_objects(a, d, inv);
    inventory_free(inv);
    /* the run is ended first, so that the report's runs include it */
    if (s->run) {
        engine_record_seen(s, true, true);
        session_end(s, s->plan->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK,
                    arena_printf(a, "%zu finding%s (report)", s->plan->ndrift,
                                 s->plan->ndrift == 1 ? "" : "s"), NULL);
    }
    struct tree *nodes = tree_new_seq(a);
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct session_node *n = &s->nodes[i];
        struct tree *x = tree_new_map(a);
        tree_map_str(a, x, "name", n->name);
        tree_map_str(a, x, "state", n->decl && n->decl->spec.maintenance ? "maintenance"
                                    : n->obs                             ? "ready"
                                                                         : "unreachable");
        if (n->error)
            tree_map_str(a, x, "message", n->error);
        tree_seq_add(a, nodes, x);
    }
    if (!s->nnodes) {
        struct tree *x = tree_new_map(a);
        tree_map_str(a, x, "name", s->node ? s->node : s->uri ? s->uri : "-");
        tree_map_str(a, x, "state", s->obs ? "ready" : "unreachable");
        tree_seq_add(a, nodes, x);
    }
    char *src = NULL;
    size_t srclen = 0;
    FILE *sf = open_memstream(&src, &srclen);
    for (size_t i = 0; sf && i < c->nfiles; i++)
        fprintf(sf, "%s%s", i ? " " : "", c->files[i]);
    if (sf)
        fclose(sf);
    struct dashboard_in in = {
        .project = s->plan->project,
        .source = src ? src : "",
        .commit = s->o && s->o->commit ? s->o->commit : "",
        .nodes = nodes,
        .findings = tree_get(d, "findings"),
        .objects = tree_get(d, "objects"),
        .foreign = tree_get(d, "foreign"),
        .fleet = s->nnodes > 0,
    };
    double t0 = cli_now();
    struct tree *t = dashboard_tree(a, &in, s->st, store_now());
    double t1 = cli_now();
    free(src);
    int rc = CLI_EXIT_OK;
    if (c->html) {
        if (cli_write_atomically(c->html, write_page, t, -1) < 0)
            rc = CLI_EXIT_ERROR;
        else if (c->verbose)
            cli_info(c, "report: tree %.1f ms, page %.1f ms", (t1 - t0) * 1000,
                     (cli_now() - t1) * 1000);
        else
            cli_info(c, "wrote %s: %zu finding%s", c->html, s->plan->ndrift,
                     s->plan->ndrift == 1 ? "" : "s");
    }
    if (rc == CLI_EXIT_OK && (!c->html || c->format == CLI_JSON || c->format == CLI_YAML))
        rc = cli_emit(c, t, false, report_table, NULL);
    arena_free(a);
    if (rc == CLI_EXIT_OK && s->plan->ndrift)
        rc = CLI_EXIT_CHANGES;
    return rc;
}
