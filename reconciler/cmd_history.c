/* cmd_history.c — what the state database recorded: history (the runs,
 * or one run's actions and findings) and events. Readers: they never wait
 * for an apply and never write, except history --prune-older-than. Each
 * builds one tree (the -o json/yaml document) and its table is rendered
 * from that tree. */
#include "cli.h"

#include "arena.h"
#include "jsondoc.h"
#include "report.h"
#include "schema.h"
#include "session.h"
#include "store.h"
#include "text.h"
#include "tree.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "12.3s", "4m05s": how long a run took (durationMs), "-" while running. */
static const char *duration(struct arena *a, const struct tree *run)
{
    long long ms = tree_int(run, "durationMs", -1), s = (ms + 500) / 1000;
    if (ms < 0)
        return "-";
    if (ms < 60000)
        return arena_printf(a, "%.1fs", (double)ms / 1000.0);
    return arena_printf(a, "%lldm%02llds", s / 60, s % 60);
}

struct tree *cli_run_tree(struct arena *a, const struct store_run *r, struct tree *acts)
{
    struct tree *t = tree_new_map(a);
    tree_map_int(a, t, "id", r->id);
    tree_map_str(a, t, "kind", r->kind);
    tree_map_str(a, t, "node", r->node);
    tree_map_str(a, t, "source", r->source);
    tree_map_str(a, t, "commit", r->commit);
    tree_map_int(a, t, "pid", r->pid);
    tree_map_int(a, t, "started", r->started / 1000);
    tree_map_add(a, t, "ended", r->ended ? tree_new_int(a, r->ended / 1000) : tree_new_null(a));
    tree_map_add(a, t, "durationMs",
                 r->ended ? tree_new_int(a, r->ended - r->started) : tree_new_null(a));
    tree_map_str(a, t, "result", store_result_name(r->result));
    tree_map_str(a, t, "summary", r->summary);
    tree_map_str(a, t, "error", r->error);
    if (acts)
        tree_map_add(a, t, "actions", acts);
    else
        tree_map_int(a, t, "actions", (long long)r->nactions);
    if (r->last_action)
        tree_map_str(a, t, "lastAction", r->last_action);
    return t;
}

/* A stored before/after: JSON, or null; kept as text if it is not JSON. */
static struct tree *json_tree(struct arena *a, const char *json)
{
    struct tree *t = json ? jsondoc_parse(a, json) : tree_new_null(a);
    return t ? t : tree_new_str(a, json);
}

static const char *when(struct arena *a, long long seconds)
{
    char buf[32];
    cli_when(seconds * 1000, buf, sizeof(buf));
    return arena_strdup(a, buf);
}

static void run_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    (void)c;
    struct arena *a = arena_new();
    const char *result = tree_str(t, "result", "?");
    bool ended = tree_int(t, "ended", 0) != 0;
    fprintf(out, "Run %lld: %s, %s\n", tree_int(t, "id", 0), tree_str(t, "kind", "?"), result);
    fprintf(out, "  node:     %s\n", *tree_str(t, "node", "") ? tree_str(t, "node", "") : "-");
    fprintf(out, "  source:   %s\n", *tree_str(t, "source", "") ? tree_str(t, "source", "") : "-");
    fprintf(out, "  commit:   %s\n", *tree_str(t, "commit", "") ? tree_str(t, "commit", "") : "-");
    fprintf(out, "  started:  %s (pid %lld)\n", when(a, tree_int(t, "started", 0)),
            tree_int(t, "pid", 0));
    if (ended)
        fprintf(out, "  ended:    %s (%s)\n", when(a, tree_int(t, "ended", 0)), duration(a, t));
    else
        fprintf(out, "  ended:    -\n");
    if (*tree_str(t, "summary", ""))
        fprintf(out, "  summary:  %s\n", tree_str(t, "summary", ""));
    if (*tree_str(t, "error", ""))
        fprintf(out, "  error:    %s\n", tree_str(t, "error", ""));
    if (strcmp(result, "interrupted") == 0)
        fprintf(out, "  last action: %s\n", tree_str(t, "lastAction", "none was started"));
    const struct tree *acts = tree_get(t, "actions"), *fs = tree_get(t, "findings");
    if (acts && acts->len)
        fprintf(out, "\nActions:\n");
    for (size_t i = 0; acts && i < acts->len; i++) {
        const struct tree *x = acts->u.items[i];
        char obj[300];
        snprintf(obj, sizeof(obj), "%s/%s", tree_str(x, "kind", "?"), tree_str(x, "name", "?"));
        fprintf(out, "  %3lld  %-7s %s: %s", tree_int(x, "seq", 0), tree_str(x, "verb", "?"), obj,
                tree_str(x, "status", "?"));
        long long ms = tree_int(x, "durationMs", -1);
        if (ms >= 0)
            fprintf(out, " (%.1f s)", (double)ms / 1000.0);
        fputc('\n', out);
        if (*tree_str(x, "reason", ""))
            fprintf(out, "         reason: %s\n", tree_str(x, "reason", ""));
        const char *const sides[] = { "before", "after" };
        for (size_t k = 0; k < 2; k++) {
            const struct tree *v = tree_get(x, sides[k]);
            if (!v || v->type == TREE_NULL)
                continue;
            char *j = jsondoc_string(v);
            fprintf(out, "         %s:%s %s\n", sides[k], k ? " " : "", j ? j : "?");
            free(j);
        }
        if (tree_str(x, "error", NULL))
            fprintf(out, "         error:  %s\n", tree_str(x, "error", ""));
    }
    if (fs && fs->len)
        fprintf(out, "\nFindings:\n");
    for (size_t i = 0; fs && i < fs->len; i++) {
        const struct tree *f = fs->u.items[i];
        const char *field = tree_str(f, "field", NULL);
        fprintf(out, "  %-13s %s/%s", tree_str(f, "category", "?"), tree_str(f, "kind", "?"),
                tree_str(f, "name", "?"));
        if (field)
            fprintf(out, " %s: desired %s, actual %s", field, tree_str(f, "desired", "(none)"),
                    tree_str(f, "actual", "(none)"));
        else if (*tree_str(f, "message", ""))
            fprintf(out, ": %s", tree_str(f, "message", ""));
        fprintf(out, "  (since %s, run %lld)\n", when(a, tree_int(f, "since", 0)),
                tree_int(f, "sinceRun", 0));
    }
    arena_free(a);
}

static int history_one(const struct cli *c, struct store *st, const char *arg)
{
    char *end, err[1024];
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno || *end || end == arg || id <= 0)
        return cli_error("history takes a run id (a number), not '%s'", arg);
    struct arena *a = arena_new();
    struct store_run r;
    struct store_action *act;
    size_t n;
    int rc = store_run_get(st, a, id, &r, &act, &n, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0)
            cli_error("no run %lld in '%s'", id, store_path(st));
        else
            cli_error("%s", err);
        arena_free(a);
        return CLI_EXIT_ERROR;
    }
    struct store_finding *f = NULL;
    size_t nf = 0;
    if (strcmp(r.kind, "drift") == 0 &&
        store_findings(st, a, r.id, NULL, &f, &nf, err, sizeof(err)) < 0) {
        arena_free(a);
        return cli_error("%s", err);
    }
    struct tree *acts = tree_new_seq(a), *fs = tree_new_seq(a);
    for (size_t i = 0; i < n; i++) {
        struct tree *x = tree_new_map(a);
        tree_map_int(a, x, "seq", act[i].seq);
        tree_map_str(a, x, "kind", act[i].kind);
        tree_map_str(a, x, "name", act[i].name);
        tree_map_str(a, x, "verb", act[i].verb);
        tree_map_str(a, x, "reason", act[i].reason ? act[i].reason : "");
        tree_map_str(a, x, "status", store_status_name(act[i].status));
        tree_map_str(a, x, "error", act[i].error);
        tree_map_add(a, x, "before", json_tree(a, act[i].before));
        tree_map_add(a, x, "after", json_tree(a, act[i].after));
        tree_map_int(a, x, "started", act[i].started / 1000);
        tree_map_add(a, x, "durationMs", act[i].ended ? tree_new_int(a, act[i].ended -
                                                                        act[i].started)
                                                      : tree_new_null(a));
        tree_seq_add(a, acts, x);
    }
    for (size_t i = 0; i < nf; i++)
        tree_seq_add(a, fs, report_finding_tree(a, f[i].category, f[i].kind, f[i].name,
                                                f[i].field, f[i].desired, f[i].actual,
                                                f[i].message, f[i].opened, f[i].opened_run));
    struct tree *t = cli_run_tree(a, &r, acts);
    tree_map_add(a, t, "findings", fs);
    rc = cli_emit(c, t, false, run_table, NULL);
    arena_free(a);
    return rc;
}

/* ID KIND STARTED DURATION RESULT SOURCE COMMIT; wide adds NODE and
 * SUMMARY and shows sources whole. Oldest first, like a log. */
static void runs_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    const struct tree *items = tree_get(t, "items");
    bool wide = c->format == CLI_WIDE;
    if (!items->len) {
        fprintf(out, "no runs recorded in %s\n", (const char *)payload);
        return;
    }
    struct arena *a = arena_new();
    struct text_table tb = { .head = { "ID", "KIND", "STARTED", "DURATION", "RESULT", "SOURCE",
                                       "COMMIT", "NODE", "SUMMARY" },
                             .cap = { 0, 0, 0, 0, 0, 24, 7 },
                             .ncols = wide ? 9 : 7 };
    for (size_t i = 0; i < items->len; i++) {
        const struct tree *r = items->u.items[i];
        char buf[32];
        time_t tt = (time_t)tree_int(r, "started", 0);
        struct tm tm;
        localtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%m-%d %H:%M:%S", &tm);
        const char *src = tree_str(r, "source", ""), *commit = tree_str(r, "commit", "");
        size_t sl = text_width(src);
        if (!wide && sl > 24)           /* the end of a long path says most */
            src = arena_printf(a, "…%s", src + strlen(src) - 23);
        const char *err = tree_str(r, "error", "");
        const char *cells[] = {
            arena_printf(a, "%lld", tree_int(r, "id", 0)), tree_str(r, "kind", "?"),
            arena_strdup(a, buf), duration(a, r), tree_str(r, "result", "?"), *src ? src : "-",
            *commit ? commit : "-",
            *tree_str(r, "node", "") ? tree_str(r, "node", "") : "-",
            arena_printf(a, "%s%s%s", tree_str(r, "summary", ""), *err ? ": " : "", err),
        };
        text_table_row(&tb, cells);
    }
    text_table_print(out, &tb, wide);
    arena_free(a);
}

CLI_COMMAND(cmd_history)
{
    char err[1024];
    struct store *st = s->st;
    if (c->prune_older_ms >= 0) {
        if (argc)
            return cli_error("--prune-older-than takes no run id");
        struct session_opts so = *s->o;
        struct store *w = session_store(&so, STORE_WRITE);
        if (!w)
            return CLI_EXIT_ERROR;
        long n = store_prune(w, 0, store_now() - c->prune_older_ms, err, sizeof(err));
        store_close(w);
        if (n < 0)
            return cli_error("%s", err);
        if (!c->quiet)
            printf("removed %ld run%s (with their actions, findings and events)\n", n,
                   n == 1 ? "" : "s");
        return cli_output_end(CLI_EXIT_OK);
    }
    if (argc == 1)
        return history_one(c, st, argv[0]);
    struct arena *a = arena_new();
    struct store_run *runs;
    size_t n;
    int64_t since = c->since_ms >= 0 ? store_now() - c->since_ms : 0;
    long limit = c->limit >= 0 ? c->limit : 20;
    int rc;
    if (store_runs(st, a, limit, since, &runs, &n, err, sizeof(err)) < 0) {
        rc = cli_error("%s", err);
    } else {
        struct tree *list = tree_new_map(a), *items = tree_new_seq(a);
        tree_map_str(a, list, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, list, "kind", "RunList");
        for (size_t i = n; i-- > 0;)
            tree_seq_add(a, items, cli_run_tree(a, &runs[i], NULL));
        tree_map_add(a, list, "items", items);
        rc = cli_emit(c, list, false, runs_table, store_path(st));
    }
    arena_free(a);
    return rc;
}

/* AGE TYPE REASON OBJECT MESSAGE; wide adds the NODE and the RUN and shows
 * messages whole (narrow cuts them at 80 columns). */
static void events_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    const struct tree *items = tree_get(t, "items");
    bool wide = c->format == CLI_WIDE;
    if (!items->len) {
        fprintf(out, "no events%s\n", c->since_ms >= 0 ? " in that time" : "");
        return;
    }
    struct arena *a = arena_new();
    /* narrow: 80 columns (a message is cut, with '…'); wide: the run and
     * node too, and nothing cut */
    struct text_table tb = { .head = { "AGE", "TYPE", "REASON", "OBJECT", "MESSAGE" },
                             .cap = { 5, 7, 14, 20, 24 },
                             .ncols = 5 };
    if (wide)
        tb = (struct text_table){ .head = { "AGE", "TYPE", "REASON", "OBJECT", "RUN", "NODE",
                                            "MESSAGE" },
                                  .ncols = 7 };
    long long now = store_now() / 1000;
    for (size_t i = 0; i < items->len; i++) {
        const struct tree *e = items->u.items[i];
        char ag[16], obj[300];
        text_age((now - tree_int(e, "time", now)) * 1000, ag, sizeof(ag));
        if (*tree_str(e, "kind", "")) {
            snprintf(obj, sizeof(obj), "%s/%s", tree_str(e, "kind", ""), tree_str(e, "name", ""));
            for (char *p = obj; *p && *p != '/'; p++)
                *p = (char)tolower((unsigned char)*p);
        } else {
            snprintf(obj, sizeof(obj), "run/%lld", tree_int(e, "run", 0));
        }
        const char *run = arena_printf(a, "%lld", tree_int(e, "run", 0));
        const char *node = *tree_str(e, "node", "") ? tree_str(e, "node", "") : "-";
        const char *cells[] = { arena_strdup(a, ag), tree_str(e, "type", "?"),
                                tree_str(e, "reason", "?"), arena_strdup(a, obj),
                                wide ? run : tree_str(e, "message", ""), node,
                                tree_str(e, "message", "") };
        text_table_row(&tb, cells);
    }
    text_table_print(out, &tb, wide);
    arena_free(a);
}

struct tree *cli_event_tree(struct arena *a, const struct store_event *ev)
{
    struct tree *x = tree_new_map(a);
    tree_map_int(a, x, "time", ev->at / 1000);
    tree_map_int(a, x, "run", ev->run);
    tree_map_str(a, x, "type", ev->type);
    tree_map_str(a, x, "reason", ev->reason);
    tree_map_str(a, x, "kind", ev->kind);
    tree_map_str(a, x, "name", ev->name);
    tree_map_str(a, x, "node", ev->node);
    tree_map_str(a, x, "message", ev->message);
    return x;
}


CLI_COMMAND(cmd_events)
{
    char err[1024];
    const char *kind = NULL, *name = NULL;
    if (argc >= 1) {
        enum model_kind k;
        if (cli_kind_arg(argv[0], &k) < 0)
            return CLI_EXIT_ERROR;
        kind = schema_kinds[k].name;
        name = argc == 2 ? argv[1] : NULL;
    }
    struct arena *a = arena_new();
    struct store_event *ev;
    size_t n;
    int64_t since = c->since_ms >= 0 ? store_now() - c->since_ms : 0;
    int rc;
    if (store_events(s->st, a, since, kind, name, c->limit >= 0 ? c->limit : 50, &ev, &n, err,
                     sizeof(err)) < 0) {
        rc = cli_error("%s", err);
    } else {
        struct tree *list = tree_new_map(a), *items = tree_new_seq(a);
        tree_map_str(a, list, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, list, "kind", "EventList");
        for (size_t i = 0; i < n; i++)
            tree_seq_add(a, items, cli_event_tree(a, &ev[i]));
        tree_map_add(a, list, "items", items);
        rc = cli_emit(c, list, false, events_table, NULL);
    }
    arena_free(a);
    return rc;
}
