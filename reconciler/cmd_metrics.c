/* cmd_metrics.c — qkvm metrics: the controller's /metrics for hosts that
 * run qkvm from a timer. One observation, as `qkvm drift` makes and
 * journals it (findings recorded), gives the drift findings, the objects by
 * sync state and the nodes; the state database gives the counters (runs by
 * kind and result with their durations, the last successful apply or sync,
 * failed actions, heals, fences, failovers), counted over the runs it
 * keeps: a counter can go down when old runs are pruned, which Prometheus
 * reads as a reset. metrics.c writes the exposition, the controller's own
 * writer, so the names, labels and help texts are the same.
 *
 * -o FILE is written atomically: a temporary file in FILE's directory,
 * flushed and renamed over it, so node_exporter never reads half of one.
 */
#include "cli.h"

#include "arena.h"
#include "diag.h"
#include "engine.h"
#include "inventory.h"
#include "metrics.h"
#include "plan.h"
#include "session.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_metrics(FILE *f, const void *payload)
{
    metrics_write(f, payload);
    return 0;
}

CLI_COMMAND(cmd_metrics)
{
    (void)argc;
    (void)argv;
    struct arena *a = arena_new();
    struct metrics m = { 0 };
    bool invalid = s->d && s->d->errors;
    m.manifest_errors = s->d ? s->d->errors : 0;
    /* the state database's counters (read only when the run did not open it) */
    struct session_opts so = { .cmd = "metrics", .state = c->state, .need = SESSION_STORE };
    struct store *st = s->st ? s->st : session_store(&so, STORE_READ);
    struct store_stats ss;
    char err[1024];
    if (st && store_stats(st, a, &ss, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < ss.nruns; i++)
            metrics_run(&m, ss.runs[i].kind, ss.runs[i].result, ss.runs[i].seconds);
        m.last_sync_ok = (double)ss.last_sync_ok / 1000;
        if (ss.last_sync_ok)
            m.synced_commit = ss.last_sync_commit ? ss.last_sync_commit : "";
        m.apply_failures = ss.actions_failed;
        m.heals_done = ss.heals_done;
        m.heals_failed = ss.heals_failed;
        m.fences_ok = ss.fences_ok;
        m.fences_failed = ss.fences_failed;
        m.failovers_ok = ss.failovers_ok;
        m.failovers_failed = ss.failovers_failed;
        m.stale_removed = ss.stale_removed;
    } else if (st) {
        cli_warning("the counters are left out: %s", err);
    }
    if (st != s->st)
        store_close(st);
    /* the observation: findings, objects, nodes */
    size_t nodes[METRICS_NODE_STATES] = { 0 };
    m.nstates = METRICS_NODE_STATES;
    m.states = metrics_node_states;
    m.nodes = nodes;
    if (!invalid && s->plan) {
        for (size_t i = 0; i < s->plan->ndrift; i++)
            metrics_finding(&m, s->plan->drift[i].kind, (unsigned)s->plan->drift[i].category);
        struct inventory *inv = session_inventory(s);
        for (size_t i = 0; inv && i < inv->n; i++)
            if (inv->v[i].kind != MODEL_NODE || s->nnodes)
                m.objects[inv->v[i].kind][inv->v[i].sync]++;
        inventory_free(inv);
        for (size_t i = 0; i < s->nnodes; i++)
            nodes[s->nodes[i].decl && s->nodes[i].decl->spec.maintenance ? 5
                  : s->nodes[i].obs                                     ? 1
                                                                        : 0]++;
        if (!s->nnodes)
            nodes[s->obs ? 1 : 0]++;
    }
    int rc = CLI_EXIT_OK;
    if (c->output) {
        if (cli_write_atomically(c->output, write_metrics, &m, 0644) < 0)
            rc = CLI_EXIT_ERROR;
    } else {
        metrics_write(stdout, &m);
        rc = cli_output_end(CLI_EXIT_OK);
    }
    if (s->run && !invalid) {
        engine_record_seen(s, true, true);
        session_end(s, s->plan && s->plan->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK,
                    arena_printf(a, "%zu finding%s (metrics)", s->plan ? s->plan->ndrift : 0,
                                 s->plan && s->plan->ndrift == 1 ? "" : "s"), NULL);
    }
    arena_free(a);
    if (rc == CLI_EXIT_OK && invalid)
        rc = CLI_EXIT_INVALID;
    else if (rc == CLI_EXIT_OK && s->plan && s->plan->ndrift)
        rc = CLI_EXIT_CHANGES;
    return rc;
}
