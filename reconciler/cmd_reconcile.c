/* cmd_reconcile.c — the commands that compare the manifests with a host:
 * plan, apply, drift. main.c's table gives each an open session (manifests
 * checked, run recorded, node observed and planned; apply holds the lock). */
#include "cli.h"

#include "apply.h"
#include "arena.h"
#include "engine.h"
#include "inventory.h"
#include "place.h"
#include "plan.h"
#include "report.h"
#include "schema.h"
#include "session.h"
#include "store.h"
#include "tree.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool stdout_color(const struct cli *c)
{
    return c->color && isatty(STDOUT_FILENO);
}

static void plan_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    report_plan_text(out, t, stdout_color(c));
}

static void drift_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    report_drift_text(out, t, stdout_color(c));
}

/* A plan's or drift report's tree with its "objects", for the formats
 * that print them (a table does not: no inventory is built for it). */
static struct tree *with_objects(const struct cli *c, struct session *s, struct arena *a,
                                 struct tree *t)
{
    if (c->format == CLI_TABLE || c->format == CLI_WIDE)
        return t;
    struct inventory *inv = session_inventory(s);
    report_add_objects(a, t, inv);
    inventory_free(inv);
    return t;
}

CLI_COMMAND(cmd_plan)
{
    (void)argc;
    (void)argv;
    struct arena *a = arena_new();
    struct tree *t = with_objects(c, s, a, report_plan_tree(a, s->plan, NULL));
    int rc = cli_emit(c, t, false, plan_table, NULL);
    arena_free(a);
    bool changes = report_plan_has_changes(s->plan);
    if (rc == CLI_EXIT_OK && c->detailed_exitcode && changes)
        rc = CLI_EXIT_CHANGES;
    if (s->run) {
        engine_record_seen(s, false, false);
        session_end(s, changes ? STORE_RUN_CHANGES : STORE_RUN_OK, session_plan_summary(s),
                    NULL);
    }
    return rc;
}

static bool confirm(const struct plan *p)
{
    if (!isatty(STDIN_FILENO)) {
        cli_error("stdin is not a terminal: pass --yes to apply without a question; nothing "
                  "was changed");
        return false;
    }
    fprintf(stderr, "\nApply %s %zu action%s to %s%s? Only 'yes' is accepted: ",
            p->n == 1 ? "this" : "these", p->n, p->n == 1 ? "" : "s", p->uri,
            p->count[PLAN_DELETE] ? " (including deletions)" : "");
    char line[64];
    if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
        cli_error("not confirmed; nothing was changed");
        return false;
    }
    return true;
}

static bool journal_on(void)
{
    /* Only for `make bench`, which measures what the journal costs. */
    const char *e = getenv("QKVM_BENCH_NO_JOURNAL");
    return !(e && *e == '1');
}

/* What the manifests ask and apply will not do (a conflict, a blocked
 * change, deletions a guard withheld) is a failure the operator must see,
 * even when everything else is applied and whatever -q or -o say: one line
 * each on stderr (the table above already shows them with '!'). */
static size_t unapplied(const struct cli *c, const struct plan *p)
{
    size_t n = 0;
    bool shown = (c->format == CLI_TABLE || c->format == CLI_WIDE) && !c->quiet;
    for (size_t i = 0; i < p->nnotes; i++) {
        const struct plan_note *x = &p->notes[i];
        if (!engine_note_unapplied(x))
            continue;
        n++;
        if (!shown || x->type == NOTE_REFUSED)
            cli_error("%s/%s%s%s: %s", plan_kind_name(x->kind), x->name, x->node ? " on " : "",
                      x->node ? x->node : "", x->message);
    }
    if (n && shown)
        cli_error("%zu item%s of the manifests cannot be applied (marked ! above)", n,
                  n == 1 ? "" : "s");
    return n;
}

static int apply_run(struct cli *c, struct session *s);

CLI_COMMAND(cmd_apply)
{
    (void)argc;
    (void)argv;
    return apply_run(c, s);
}

static int apply_run(struct cli *c, struct session *s)
{
    bool text = c->format == CLI_TABLE || c->format == CLI_WIDE;
    int rc = CLI_EXIT_OK;
    struct arena *a = arena_new();
    if (text && !c->quiet)
        report_plan_text(stdout, report_plan_tree(a, s->plan, NULL), stdout_color(c));
    size_t bad = unapplied(c, s->plan);
    const char *why_bad = bad ? "parts of the manifests cannot be applied (conflicts, blocked "
                                "changes, refused deletions, unschedulable VMs or unreachable "
                                "nodes)"
                              : NULL;
    if (s->plan->n && !c->yes && !confirm(s->plan)) {
        session_end(s, STORE_RUN_ERROR, "", "not confirmed");
        arena_free(a);
        return CLI_EXIT_ERROR;
    }
    if (s->plan->n && text && !c->quiet)
        putchar('\n');
    fflush(stdout);
    struct engine_opts eo = {
        .shutdown_timeout_ms = (c->shutdown_timeout < 0 ? 60 : c->shutdown_timeout) * 1000,
        .commit = "",
        .log = text && !c->quiet ? stdout : NULL,
        .tty = text && !c->quiet && isatty(STDOUT_FILENO),
        .color = stdout_color(c),
        .cache_dir = c->cache_dir,
        .parallelism = c->parallelism,
        .journal = journal_on(),
    };
    struct engine_result er;
    engine_apply(s, &eo, &er);
    struct apply_result *res = &er.res;
    if (!s->plan->n) {
        if (!text)
            rc = cli_emit(c, report_plan_tree(a, s->plan, res), false, NULL, NULL);
        if (er.rc < 0) {
            bad++;
            why_bad = "the ownership records cannot be written";
        }
        session_end(s, bad ? STORE_RUN_FAILED : STORE_RUN_OK, session_plan_summary(s), why_bad);
        engine_result_dispose(s, &er);
        arena_free(a);
        return bad ? CLI_EXIT_ERROR : rc;
    }
    if (!text)
        rc = cli_emit(c, report_plan_tree(a, s->plan, res), false, NULL, NULL);
    else if (!c->quiet || er.rc < 0)
        printf("\nApply %s: %zu done, %zu failed, %zu skipped (%.1f s).\n",
               er.rc < 0 ? "incomplete" : "complete", res->done, res->failed, res->skipped,
               er.seconds);
    if (res->failure)
        cli_error("%s", res->failure);
    if (res->interrupted) {
        size_t not_started = 0;
        for (size_t i = 0; i < s->plan->n; i++)
            not_started += res->status[i] == APPLY_SKIPPED &&
                           strstr(res->error[i] ? res->error[i] : "", "not started: interrupted");
        cli_error("interrupted by %s: %zu done, %zu failed, %zu not started; the next apply picks "
                  "up from what the host has", res->interrupted == SIGINT ? "SIGINT" : "SIGTERM",
                  res->done, res->failed, not_started);
        rc = CLI_EXIT_ERROR;
    } else if (er.rc < 0) {
        for (size_t i = 0; i < s->plan->n; i++) {
            const struct plan_action *pa = &s->plan->v[i];
            if (res->status[i] == APPLY_FAILED || res->status[i] == APPLY_SKIPPED)
                cli_error("%s %s/%s%s%s: %s", plan_verb_name(pa->verb), plan_kind_name(pa->kind),
                          pa->name, pa->node ? " on " : "", pa->node ? pa->node : "",
                          res->error[i] ? res->error[i] : "failed");
        }
        rc = CLI_EXIT_ERROR;
    }
    if (c->verbose)
        fprintf(stderr, "qkvm: %lu libvirt call%s in all\n", er.calls, er.calls == 1 ? "" : "s");
    const char *first_error = er.first_error;
    if (bad) {
        rc = CLI_EXIT_ERROR;
        if (!first_error)
            first_error = why_bad;
    }
    session_end(s, er.rc < 0 || bad ? STORE_RUN_FAILED : STORE_RUN_OK,
                arena_printf(a, "%zu done, %zu failed, %zu skipped", res->done, res->failed,
                             res->skipped), first_error);
    engine_result_dispose(s, &er);
    arena_free(a);
    return cli_output_end(rc);
}

CLI_COMMAND(cmd_drift)
{
    (void)argc;
    (void)argv;
    struct arena *a = arena_new();
    struct tree *t = with_objects(c, s, a, report_drift_tree(a, s->plan));
    int rc = cli_emit(c, t, false, drift_table, NULL);
    if (rc == CLI_EXIT_OK && s->plan->ndrift)
        rc = CLI_EXIT_CHANGES;
    if (s->run) {
        engine_record_seen(s, true, true);
        session_end(s, s->plan->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK,
                    arena_printf(a, "%zu finding%s", s->plan->ndrift,
                                 s->plan->ndrift == 1 ? "" : "s"), NULL);
    }
    arena_free(a);
    return rc;
}

/* ---- rebalance ---- */

static void rebalance_text(FILE *out, const struct cli *c, const struct tree *t,
                           const void *payload)
{
    (void)c;
    (void)payload;
    const struct tree *nodes = tree_get(t, "nodes"), *moves = tree_get(t, "moves");
    long long th = tree_int(t, "threshold", 0);
    fprintf(out, "%-16s %-8s %-8s %s\n", "NODE", "LOAD", "AFTER", "CPU USE");
    for (size_t i = 0; i < nodes->len; i++) {
        const struct tree *n = nodes->u.items[i];
        const char *use = tree_str(n, "cpuUse", NULL), *use_after = tree_str(n, "cpuUseAfter", "-");
        char moved[32] = "";
        if (use && strcmp(use, use_after) != 0)
            snprintf(moved, sizeof(moved), " → %s", use_after);
        fprintf(out, "%-16s %-8s %-8s %s%s%s\n", tree_str(n, "name", "?"),
                tree_str(n, "load", "-"), tree_str(n, "after", "-"), use ? use : "-", moved,
                tree_bool(n, "overAfter") ? "  (still over the threshold: no move helps)" : "");
    }
    if (!moves->len) {
        fprintf(out, "\n%s\n", tree_bool(t, "balanced")
                                   ? "Balanced: no recommendations."
                                   : "No move brings the nodes over the threshold under it.");
        return;
    }
    fprintf(out, "\n%lld%% threshold: %u migration%s recommended:\n\n", th, moves->len,
            moves->len == 1 ? "" : "s");
    for (size_t i = 0; i < moves->len; i++) {
        const struct tree *m = moves->u.items[i];
        fprintf(out, "  →   vm/%s %s → %s (%s): gain %s; priority %lld\n",
                tree_str(m, "vm", "?"), tree_str(m, "from", "?"), tree_str(m, "to", "?"),
                tree_bool(m, "live")   ? "live"
                : tree_bool(m, "cold") ? "not running: its definition and volumes move"
                                       : "not running: its definition moves",
                tree_str(m, "gain", ""), tree_int(m, "priority", 0));
    }
    fprintf(out, "\n'qkvm rebalance --apply' makes %s.\n", moves->len == 1 ? "it" : "them");
}

CLI_COMMAND(cmd_rebalance)
{
    (void)argc;
    (void)argv;
    if (!s->nnodes) {
        session_end(s, STORE_RUN_ERROR, "", "no Nodes");
        return cli_error("rebalance evens out a fleet: the manifests declare no Node");
    }
    struct arena *a = arena_new();
    struct tree *t = tree_new_map(a), *nodes = tree_new_seq(a), *moves = tree_new_seq(a);
    tree_map_str(a, t, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, t, "kind", "Rebalance");
    tree_map_int(a, t, "threshold", (long long)(s->rebalance.threshold * 100 + 0.5));
    bool over_after = false;
    for (size_t i = 0; i < s->nnodes && s->rebalance.loads; i++) {
        const struct place_load *l = &s->rebalance.loads[i];
        struct tree *n = tree_new_map(a);
        tree_map_str(a, n, "name", s->nodes[i].name);
        if (s->nodes[i].obs) {
            tree_map_str(a, n, "load", arena_printf(a, "%.0f%%", l->before * 100));
            tree_map_str(a, n, "after", arena_printf(a, "%.0f%%", l->after * 100));
        }
        if (s->nodes[i].obs && l->use_before >= 0) {
            /* measured: what its running domains kept busy, over its CPUs */
            tree_map_str(a, n, "cpuUse", arena_printf(a, "%.0f%%", l->use_before * 100));
            tree_map_str(a, n, "cpuUseAfter", arena_printf(a, "%.0f%%", l->use_after * 100));
            double busy = 0;
            for (size_t k = 0; k < s->nodes[i].ncpu; k++)
                busy += s->nodes[i].cpu[k].cpus;
            tree_map_int(a, n, "cpuMillicores", (long long)(busy * 1000 + 0.5));
            tree_map_int(a, n, "hostCpus", s->nodes[i].host_cpus);
        } else if (s->nodes[i].cpu_error) {
            cli_warning("%s: CPU use not measured: %s", s->nodes[i].name, s->nodes[i].cpu_error);
        }
        tree_map_bool(a, n, "over", l->before > s->rebalance.threshold);
        tree_map_bool(a, n, "overAfter", l->after > s->rebalance.threshold);
        over_after |= s->nodes[i].obs && l->after > s->rebalance.threshold;
        tree_seq_add(a, nodes, n);
    }
    for (size_t k = 0; k < s->rebalance.n; k++) {
        const struct place_move *mv = &s->rebalance.moves[k];
        const char *vm = s->m->objs[MODEL_VM][mv->vm]->meta.name;
        bool live = false, cold = false;
        for (size_t i = 0; i < s->plan->n; i++)
            if (s->plan->v[i].verb == PLAN_MIGRATE && strcmp(s->plan->v[i].name, vm) == 0) {
                live = s->plan->v[i].live;
                cold = s->plan->v[i].cold;
            }
        struct tree *m = tree_new_map(a);
        tree_map_str(a, m, "vm", vm);
        tree_map_str(a, m, "from", s->nodes[mv->from].name);
        tree_map_str(a, m, "to", s->nodes[mv->to].name);
        tree_map_bool(a, m, "live", live);
        tree_map_bool(a, m, "cold", cold);
        tree_map_int(a, m, "priority", mv->priority);
        tree_map_str(a, m, "gain", arena_printf(a, "%s %.0f%% → %.0f%%, %s %.0f%% → %.0f%%",
                                                s->nodes[mv->from].name, mv->from_before * 100,
                                                mv->from_after * 100, s->nodes[mv->to].name,
                                                mv->to_before * 100, mv->to_after * 100));
        tree_seq_add(a, moves, m);
    }
    tree_map_add(a, t, "nodes", nodes);
    tree_map_add(a, t, "moves", moves);
    tree_map_bool(a, t, "balanced", !s->rebalance.n && !over_after);
    if (c->apply && s->rebalance.n) {
        if ((c->format == CLI_TABLE || c->format == CLI_WIDE) && !c->quiet) {
            rebalance_text(stdout, c, t, NULL);
            putchar('\n');
        }
        arena_free(a);
        return apply_run(c, s);
    }
    int rc = cli_emit(c, t, false, rebalance_text, NULL);
    if (rc == CLI_EXIT_OK && (s->rebalance.n || over_after) && !c->apply)
        rc = CLI_EXIT_CHANGES;
    if (rc == CLI_EXIT_OK && over_after)
        rc = CLI_EXIT_CHANGES;
    session_end(s, s->rebalance.n || over_after ? STORE_RUN_CHANGES : STORE_RUN_OK,
                arena_printf(a, "%zu migration%s recommended", s->rebalance.n,
                             s->rebalance.n == 1 ? "" : "s"), NULL);
    arena_free(a);
    return rc;
}
