/* main.c — the qkvm command line.
 *
 * qkvm [GLOBAL FLAGS] COMMAND [FLAGS] [ARGS]. Global flags may come before
 * or after the command: options are parsed once up to the command and again
 * after it with the command's own flags added. Results go to stdout, errors
 * and findings to stderr. Exit codes are the same for every command (see
 * enum qkvm_exit and the README).
 */
#include "apply.h"
#include "arena.h"
#include "diag.h"
#include "encode.h"
#include "explain.h"
#include "jsondoc.h"
#include "jsonschema.h"
#include "manifest.h"
#include "model.h"
#include "observe.h"
#include "owned.h"
#include "plan.h"
#include "report.h"
#include "schema.h"
#include "tree.h"
#include "validate.h"
#include "virt.h"
#include "yamldoc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef QKVM_VERSION
#define QKVM_VERSION "0.1.0"
#endif

/* Exit codes, everywhere. Never renumber. */
enum qkvm_exit {
    QKVM_EXIT_OK = 0,        /* success, nothing to do */
    QKVM_EXIT_ERROR = 1,     /* an error: bad usage, unreadable input, a failure */
    QKVM_EXIT_CHANGES = 2,   /* changes or drift present (plan --detailed-exitcode, drift) */
    QKVM_EXIT_INVALID = 3,   /* invalid manifests */
};

enum output { OUT_TABLE, OUT_JSON, OUT_YAML };

struct opts {
    const char **files;
    size_t nfiles;
    const char *connect;
    const char *state;
    enum output output;
    int quiet, verbose;
    bool color;              /* stderr is a terminal and NO_COLOR is unset */
    bool reference;          /* explain --reference */
    bool yes, prune, adopt;  /* apply */
    bool detailed_exitcode;  /* plan */
    int shutdown_timeout;    /* apply: seconds, -1 unset */
};

struct command {
    const char *name;
    int (*run)(struct opts *o, int argc, char **argv);
    const char *args;
    const char *summary;
    const char *help;
};

static const struct command commands[];

static const char global_help[] =
    "Global flags:\n"
    "  -f, --file PATH       manifests: a file or a directory (recursive *.yaml, *.yml);\n"
    "                        may be repeated\n"
    "  -c, --connect URI     libvirt URI of the implicit node (no Node manifests)\n"
    "  -o, --output FORMAT   table (default), json or yaml\n"
    "      --state PATH      state database (default /var/lib/qkvm/state.db as root,\n"
    "                        else $XDG_STATE_HOME/qkvm/state.db)\n"
    "  -q, --quiet           print only problems\n"
    "  -v, --verbose         print what is read and how long it took\n"
    "  -h, --help            help for qkvm or a command\n"
    "  -V, --version         print the version\n"
    "\n"
    "Exit codes: 0 success, 1 error, 2 changes or drift present, 3 invalid manifests.\n"
    "Colour is used on a terminal unless NO_COLOR is set.\n";

static void usage(FILE *f)
{
    fprintf(f, "Usage: qkvm [FLAGS] COMMAND [ARGS]\n\n"
               "qkvm reconciles KVM hosts with declarative manifests.\n\n"
               "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n%s\nRun 'qkvm COMMAND --help' for a command's flags.\n", global_help);
}

static void command_usage(FILE *f, const struct command *c)
{
    fprintf(f, "Usage: qkvm %s %s\n\n%s\n%s", c->name, c->args, c->help, global_help);
}

static int fail(const char *msg)
{
    fprintf(stderr, "qkvm: %s\n", msg);
    return QKVM_EXIT_ERROR;
}

/* ---- output helpers ---- */

static int emit_tree(const struct opts *o, struct tree *t, bool stream)
{
    int rc;
    if (o->output == OUT_JSON) {
        rc = jsondoc_emit(stdout, t);
    } else if (stream && t->type == TREE_SEQ) {
        rc = yamldoc_emit(stdout, t->u.items, t->len);
    } else {
        rc = yamldoc_emit(stdout, &t, 1);
    }
    if (rc < 0 || fflush(stdout) == EOF)
        return fail("cannot write output");
    return QKVM_EXIT_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The prelude of every command that reads manifests: no positional
 * arguments, at least one -f, then load and check everything. Returns the
 * model with its findings in d (sorted), or NULL with *rc set and d
 * disposed (bad usage, or a path that could not be read). */
static struct model *load(const struct opts *o, const char *cmd, int argc,
                          struct diag *d, struct manifest_stats *st, int *rc)
{
    *rc = QKVM_EXIT_ERROR;
    if (argc > 0) {
        fprintf(stderr, "qkvm: %s takes no arguments (use -f PATH)\n", cmd);
        return NULL;
    }
    if (!o->nfiles) {
        fprintf(stderr, "qkvm: %s needs manifests: -f PATH (a file or a directory)\n", cmd);
        return NULL;
    }
    diag_init(d);
    double t0 = now();
    struct model *m = model_new();
    int lrc = manifest_load(m, o->files, o->nfiles, d, st);
    double t1 = now();
    validate_model(m, d);
    diag_sort(d);
    if (o->verbose)
        fprintf(stderr, "qkvm: read %zu files (%zu bytes, %zu documents, %zu objects): "
                        "load %.1f ms, checks %.1f ms, %.1f MiB of trees and model\n",
                st->files, st->bytes, st->documents, model_count(m),
                (t1 - t0) * 1e3, (now() - t1) * 1e3,
                (double)arena_used(m->arena) / (1 << 20));
    if (lrc < 0) {
        diag_print(d, stderr, o->color);
        model_free(m);
        diag_dispose(d);
        return NULL;
    }
    *rc = QKVM_EXIT_OK;
    return m;
}

/* ---- commands ---- */

static int cmd_validate(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct diag d;
    struct manifest_stats st;
    int rc;
    struct model *m = load(o, "validate", argc, &d, &st, &rc);
    if (!m)
        return rc;
    rc = d.errors ? QKVM_EXIT_INVALID : QKVM_EXIT_OK;

    if (o->output != OUT_TABLE) {
        struct arena *a = arena_new();
        struct tree *r = tree_new_map(a), *counts = tree_new_map(a);
        tree_map_str(a, r, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, r, "kind", "ValidationResult");
        tree_map_bool(a, r, "valid", d.errors == 0);
        tree_map_int(a, r, "errors", (long long)d.errors);
        tree_map_int(a, r, "warnings", (long long)d.warnings);
        tree_map_int(a, r, "files", (long long)st.files);
        tree_map_int(a, r, "documents", (long long)st.documents);
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            tree_map_int(a, counts, schema_kinds[k].name, (long long)m->len[k]);
        tree_map_add(a, r, "objects", counts);
        tree_map_add(a, r, "findings", diag_to_tree(&d, a));
        if (emit_tree(o, r, false) != QKVM_EXIT_OK)
            rc = QKVM_EXIT_ERROR;
        arena_free(a);
    } else {
        diag_print(&d, stderr, o->color);
        if (d.errors) {
            fprintf(stderr, "qkvm: %zu error%s, %zu warning%s: manifests are invalid\n",
                    d.errors, d.errors == 1 ? "" : "s", d.warnings,
                    d.warnings == 1 ? "" : "s");
        } else if (!o->quiet) {
            printf("%-8s %6s  %s\n", "KIND", "COUNT", "NAMES");
            for (int k = 0; k < MODEL_KIND_COUNT; k++) {
                size_t n = m->len[k], used = 0, i;
                printf("%-8s %6zu", schema_kinds[k].name, n);
                for (i = 0; i < n; i++) {
                    const char *name = m->objs[k][i]->meta.name;
                    if (used + strlen(name) + 2 > 58)
                        break;
                    used += (size_t)printf("%s%s", i ? ", " : "  ", name);
                }
                if (i < n)
                    printf("%s... (%zu more)", i ? ", " : "  ", n - i);
                putchar('\n');
            }
            printf("valid: %zu objects in %zu file%s%s\n", model_count(m), st.files,
                   st.files == 1 ? "" : "s",
                   d.warnings ? ", with warnings" : "");
        }
    }
    model_free(m);
    diag_dispose(&d);
    return rc;
}

static int cmd_render(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct diag d;
    struct manifest_stats st;
    int rc;
    struct model *m = load(o, "render", argc, &d, &st, &rc);
    if (!m)
        return rc;
    diag_print(&d, stderr, o->color);
    if (d.errors) {
        fprintf(stderr, "qkvm: %zu error%s: manifests are invalid\n", d.errors,
                d.errors == 1 ? "" : "s");
        rc = QKVM_EXIT_INVALID;
    } else {
        struct arena *a = arena_new();
        struct tree *all = tree_new_seq(a);
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            for (size_t i = 0; i < m->len[k]; i++)
                tree_seq_add(a, all, encode_object(a, m->objs[k][i]));
        rc = emit_tree(o, all, true);
        arena_free(a);
    }
    model_free(m);
    diag_dispose(&d);
    return rc;
}

static int cmd_explain(struct opts *o, int argc, char **argv)
{
    if (o->reference) {
        explain_reference(stdout);
        return QKVM_EXIT_OK;
    }
    if (argc == 0) {
        explain_kinds(stdout);
        return QKVM_EXIT_OK;
    }
    if (argc > 1)
        return fail("explain takes one KIND[.FIELD...] path");
    char err[256];
    if (explain_path(stdout, argv[0], err, sizeof(err)) < 0)
        return fail(err);
    return QKVM_EXIT_OK;
}

static int cmd_schema(struct opts *o, int argc, char **argv)
{
    (void)argv;
    if (argc > 0)
        return fail("schema takes no arguments");
    struct arena *a = arena_new();
    struct opts jo = *o;
    if (jo.output == OUT_TABLE)
        jo.output = OUT_JSON;
    int rc = emit_tree(&jo, jsonschema_build(a), false);
    arena_free(a);
    return rc;
}

/* ---- reconcile: plan, apply, drift ---- */

/* The state database's path (the ownership record lives next to it):
 * --state, $QKVM_STATE, /var/lib/qkvm/state.db as root, else
 * $XDG_STATE_HOME/qkvm/state.db or ~/.local/state/qkvm/state.db. */
static char *state_path(const struct opts *o)
{
    const char *s = o->state ? o->state : getenv("QKVM_STATE");
    if (s && *s)
        return xstrdup(s);
    if (geteuid() == 0)
        return xstrdup("/var/lib/qkvm/state.db");
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char buf[PATH_MAX];
    if (x && *x == '/')
        snprintf(buf, sizeof(buf), "%s/qkvm/state.db", x);
    else
        snprintf(buf, sizeof(buf), "%s/.local/state/qkvm/state.db", home && *home ? home : ".");
    return xstrdup(buf);
}

/* Which libvirt host: -c, else the one Node's uri, else libvirt's default
 * (LIBVIRT_DEFAULT_URI, then its own rules). */
static int pick_uri(const struct opts *o, const struct model *m, const char **uri)
{
    *uri = o->connect;
    if (*uri)
        return 0;
    if (m->len[MODEL_NODE] == 1) {
        *uri = ((const struct model_node *)m->objs[MODEL_NODE][0])->spec.uri;
        return 0;
    }
    if (m->len[MODEL_NODE] > 1) {
        fprintf(stderr, "qkvm: the manifests declare %zu Nodes; this version reconciles one "
                        "host at a time: pass -c URI\n", m->len[MODEL_NODE]);
        return -1;
    }
    return 0;
}

struct reconcile {
    struct model *m;
    struct diag d;
    struct virt *v;
    struct owned *own;
    struct obs_host *obs;
    struct plan *plan;
    double t_load, t_observe;
};

static void reconcile_dispose(struct reconcile *r)
{
    plan_free(r->plan);
    observe_free(r->obs);
    owned_free(r->own);
    virt_close(r->v);
    if (r->m) {
        model_free(r->m);
        diag_dispose(&r->d);
    }
}

/* Load and check the manifests, connect, observe, plan. Invalid manifests
 * stop everything before libvirt is even contacted. */
static int reconcile_prepare(const struct opts *o, const char *cmd, int argc,
                             struct reconcile *r, unsigned observe_flags)
{
    struct manifest_stats st;
    int rc;
    memset(r, 0, sizeof(*r));
    double t0 = now();
    r->m = load(o, cmd, argc, &r->d, &st, &rc);
    if (!r->m)
        return rc;
    r->t_load = now() - t0;
    diag_print(&r->d, stderr, o->color);
    if (r->d.errors) {
        fprintf(stderr, "qkvm: %zu error%s: manifests are invalid; nothing was changed\n",
                r->d.errors, r->d.errors == 1 ? "" : "s");
        return QKVM_EXIT_INVALID;
    }
    const char *uri;
    if (pick_uri(o, r->m, &uri) < 0)
        return QKVM_EXIT_ERROR;
    char err[1024];
    char *sp = state_path(o);
    size_t n = strlen(sp) + 8;
    char *op = xmalloc(n);
    snprintf(op, n, "%s.owned", sp);
    free(sp);
    r->own = owned_load(op, err, sizeof(err));
    free(op);
    if (!r->own) {
        fprintf(stderr, "qkvm: cannot read the ownership record: %s\n", err);
        return QKVM_EXIT_ERROR;
    }
    t0 = now();
    r->v = virt_open(uri, err, sizeof(err));
    if (!r->v) {
        fprintf(stderr, "qkvm: cannot connect: %s\n", err);
        return QKVM_EXIT_ERROR;
    }
    r->obs = observe_host(r->v, r->m, r->own, observe_flags, err, sizeof(err));
    if (!r->obs) {
        fprintf(stderr, "qkvm: cannot observe %s: %s\n", virt_uri(r->v), err);
        return QKVM_EXIT_ERROR;
    }
    r->t_observe = now() - t0;
    struct plan_opts po = { o->prune, o->adopt };
    r->plan = plan_build(r->m, r->obs, &po);
    if (o->verbose)
        fprintf(stderr, "qkvm: %s: load %.1f ms, observe %.1f ms (%zu domains, %zu networks, "
                        "%zu pools; %lu libvirt calls)\n",
                virt_uri(r->v), r->t_load * 1e3, r->t_observe * 1e3, r->obs->ndoms,
                r->obs->nnets, r->obs->npools, r->obs->calls);
    return QKVM_EXIT_OK;
}

static int cmd_plan(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "plan", argc, &r, 0);
    if (rc == QKVM_EXIT_OK) {
        if (o->output != OUT_TABLE) {
            struct arena *a = arena_new();
            rc = emit_tree(o, report_plan_tree(a, r.plan, NULL), false);
            arena_free(a);
        } else {
            report_plan_text(stdout, r.plan, o->color && isatty(STDOUT_FILENO));
        }
        if (rc == QKVM_EXIT_OK && o->detailed_exitcode && report_plan_has_changes(r.plan))
            rc = QKVM_EXIT_CHANGES;
    }
    reconcile_dispose(&r);
    return rc;
}

static bool confirm(const struct plan *p)
{
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "qkvm: stdin is not a terminal: pass --yes to apply without a "
                        "question; nothing was changed\n");
        return false;
    }
    fprintf(stderr, "\nApply these %zu action%s to %s%s? Only 'yes' is accepted: ", p->n,
            p->n == 1 ? "" : "s", p->uri,
            p->count[PLAN_DELETE] ? " (including deletions)" : "");
    char line[64];
    if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
        fprintf(stderr, "qkvm: not confirmed; nothing was changed\n");
        return false;
    }
    return true;
}

static int cmd_apply(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "apply", argc, &r, 0);
    if (rc != QKVM_EXIT_OK) {
        reconcile_dispose(&r);
        return rc;
    }
    bool text = o->output == OUT_TABLE;
    if (text && !o->quiet)
        report_plan_text(stdout, r.plan, o->color && isatty(STDOUT_FILENO));
    if (!r.plan->n) {
        if (!text) {
            struct arena *a = arena_new();
            struct apply_result none = { 0 };
            rc = emit_tree(o, report_plan_tree(a, r.plan, &none), false);
            arena_free(a);
        }
        reconcile_dispose(&r);
        return rc;
    }
    if (!o->yes && !confirm(r.plan)) {
        reconcile_dispose(&r);
        return QKVM_EXIT_ERROR;
    }
    if (text && !o->quiet)
        putchar('\n');
    fflush(stdout);
    struct apply_opts ao = {
        .shutdown_timeout_ms = (o->shutdown_timeout < 0 ? 60 : o->shutdown_timeout) * 1000,
        .commit = "",
        .log = text && !o->quiet ? stdout : NULL,
        .color = o->color && isatty(STDOUT_FILENO),
    };
    struct apply_result res;
    double t0 = now();
    int arc = apply_plan(r.v, r.m, r.obs, r.plan, r.own, &ao, &res);
    if (!text) {
        struct arena *a = arena_new();
        rc = emit_tree(o, report_plan_tree(a, r.plan, &res), false);
        arena_free(a);
    } else if (!o->quiet || arc < 0) {
        printf("\nApply %s: %zu done, %zu failed, %zu skipped (%.1f s).\n",
               arc < 0 ? "incomplete" : "complete", res.done, res.failed, res.skipped,
               now() - t0);
    }
    if (arc < 0) {
        for (size_t i = 0; i < r.plan->n; i++)
            if (res.status[i] == APPLY_FAILED || res.status[i] == APPLY_SKIPPED)
                fprintf(stderr, "qkvm: %s %s/%s: %s\n", plan_verb_name(r.plan->v[i].verb),
                        plan_kind_name(r.plan->v[i].kind), r.plan->v[i].name,
                        res.error[i] ? res.error[i] : "failed");
        rc = QKVM_EXIT_ERROR;
    }
    if (o->verbose)
        fprintf(stderr, "qkvm: %lu libvirt calls in all\n", virt_calls(r.v));
    apply_result_dispose(&res, r.plan->n);
    reconcile_dispose(&r);
    return rc;
}

static int cmd_drift(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "drift", argc, &r, OBSERVE_DEEP);
    if (rc == QKVM_EXIT_OK) {
        if (o->output != OUT_TABLE) {
            struct arena *a = arena_new();
            rc = emit_tree(o, report_drift_tree(a, r.plan), false);
            arena_free(a);
        } else {
            report_drift_text(stdout, r.plan, o->color && isatty(STDOUT_FILENO));
        }
        if (rc == QKVM_EXIT_OK && r.plan->ndrift)
            rc = QKVM_EXIT_CHANGES;
    }
    reconcile_dispose(&r);
    return rc;
}

static int cmd_version(struct opts *o, int argc, char **argv)
{
    (void)o;
    (void)argc;
    (void)argv;
    printf("qkvm %s (manifests %s)\n", QKVM_VERSION, SCHEMA_API_VERSION);
    return QKVM_EXIT_OK;
}

static const struct command commands[] = {
    { "validate", cmd_validate, "-f PATH [-o table|json|yaml]",
      "check manifests and report every problem",
      "Load the manifests under PATH and check them: YAML, types, required\n"
      "fields, allowed values, names, quantities, addresses, references between\n"
      "objects, duplicates. Every problem is printed as file:line:col: message,\n"
      "sorted. Exit 0 when valid (warnings allowed), 3 when not, 1 when PATH\n"
      "cannot be read. With -o json or yaml, the result is a document with the\n"
      "list of findings (file, line, column, severity, kind, name, field, message).\n" },
    { "render", cmd_render, "-f PATH [-o yaml|json]",
      "print the manifests as qkvm reads them, defaults filled in",
      "Print every object of PATH, normalised: defaults filled in, derived\n"
      "values (NIC MACs, network gateways) spelled out, quantities in canonical\n"
      "units, objects ordered by kind and name. The output is itself a valid\n"
      "manifest set that renders to the same text. Exit 3 when invalid.\n" },
    { "explain", cmd_explain, "[KIND[.FIELD...]] [--reference]",
      "document a kind or a field",
      "Print a kind's or a field's type, default, documentation and sub-fields,\n"
      "from the schema, e.g. 'qkvm explain vm.spec.nics'. Without an argument,\n"
      "list the kinds. --reference prints the whole manifest reference as\n"
      "Markdown.\n" },
    { "schema", cmd_schema, "",
      "print the JSON Schema of manifests (for editors)",
      "Print the JSON Schema (draft 2020-12) of a manifest document, generated\n"
      "from the schema, for yaml-language-server and other editors:\n"
      "  # yaml-language-server: $schema=./qkvm.schema.json\n" },
    { "plan", cmd_plan, "-f PATH [-c URI] [--detailed-exitcode] [--prune] [--adopt] [-o json]",
      "show what apply would change on the host",
      "Observe the libvirt host, compare it with the manifests field by field and\n"
      "print the actions apply would take, in order: + create, ~ update in place\n"
      "(live, or in the definition with \"restart required\"), -/+ replace, - delete,\n"
      "and ! for what apply will not do (conflicts, blocked changes, pending\n"
      "restarts, stale objects without --prune). Nothing is changed.\n"
      "  --detailed-exitcode  exit 2 when there are changes, 0 when none, 1 on error\n"
      "  --prune              plan deletion of stale objects (qkvm's, no longer declared)\n"
      "  --adopt              plan taking over same-named objects qkvm did not create\n" },
    { "apply", cmd_apply, "-f PATH [-c URI] [--yes] [--prune] [--adopt] [--shutdown-timeout S]",
      "make the host match the manifests",
      "Plan as 'qkvm plan' does, ask for confirmation (unless --yes), then apply\n"
      "the actions in order: pools, networks, disks, VMs; deletions in reverse.\n"
      "Independent actions go on when one fails; dependents of a failure are\n"
      "skipped. Exit 1 when anything failed, one line per failure on stderr.\n"
      "  --yes                do not ask (required when stdin is not a terminal)\n"
      "  --prune              delete stale objects (never Disks with protect: true)\n"
      "  --adopt              take over same-named objects qkvm did not create\n"
      "  --shutdown-timeout S graceful shutdown wait before destroy (default 60)\n" },
    { "drift", cmd_drift, "-f PATH [-c URI] [-o json]",
      "report drift, stale objects and orphans; exit 2 when there are any",
      "Observe the host thoroughly (running domains' persistent definitions too)\n"
      "and report: changed fields (desired vs actual), missing objects, VMs in the\n"
      "wrong power state, stale objects (qkvm's, no longer declared), orphans\n"
      "(domains, networks, pools, volumes qkvm did not create and nobody declares;\n"
      "files in managed pool directories libvirt does not know), domains whose\n"
      "disk file is missing, and qemu processes no domain accounts for. Fields in\n"
      "a selecting Policy's drift.ignore are left out. Exit 2 when anything is\n"
      "found, 0 when nothing is.\n" },
    { "version", cmd_version, "", "print the version", "Print the version.\n" },
    { NULL, NULL, NULL, NULL, NULL },
};

enum { OPT_STATE = 256, OPT_REFERENCE, OPT_YES, OPT_PRUNE, OPT_ADOPT, OPT_DETAILED,
       OPT_SHUTDOWN_TIMEOUT };

static const struct option long_opts[] = {
    { "file", required_argument, NULL, 'f' },
    { "connect", required_argument, NULL, 'c' },
    { "output", required_argument, NULL, 'o' },
    { "state", required_argument, NULL, OPT_STATE },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "reference", no_argument, NULL, OPT_REFERENCE },
    { "yes", no_argument, NULL, OPT_YES },
    { "prune", no_argument, NULL, OPT_PRUNE },
    { "adopt", no_argument, NULL, OPT_ADOPT },
    { "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
    { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
    { NULL, 0, NULL, 0 },
};

/* Parse flags of argv (getopt's optind is left after them). Returns 0, 1
 * for "help was asked", 2 for "version", -1 for bad usage. */
static int parse_flags(struct opts *o, int argc, char **argv, bool stop_at_command,
                       const struct command *cmd)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, stop_at_command ? "+:f:c:o:qvhV" : ":f:c:o:qvhV",
                            long_opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->files = xreallocarray(o->files, o->nfiles + 1, sizeof(*o->files));
            o->files[o->nfiles++] = optarg;
            break;
        case 'c':
            o->connect = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "table") == 0 || strcmp(optarg, "wide") == 0)
                o->output = OUT_TABLE;
            else if (strcmp(optarg, "json") == 0)
                o->output = OUT_JSON;
            else if (strcmp(optarg, "yaml") == 0)
                o->output = OUT_YAML;
            else {
                fprintf(stderr, "qkvm: unknown output format '%s' (table, json or yaml)\n", optarg);
                return -1;
            }
            break;
        case OPT_STATE:
            o->state = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            return 1;
        case 'V':
            return 2;
        case OPT_REFERENCE:
            if (!cmd || strcmp(cmd->name, "explain") != 0) {
                fprintf(stderr, "qkvm: --reference is a flag of 'explain'\n");
                return -1;
            }
            o->reference = true;
            break;
        case OPT_YES:
        case OPT_PRUNE:
        case OPT_ADOPT:
        case OPT_DETAILED:
        case OPT_SHUTDOWN_TIMEOUT: {
            static const struct { int opt; const char *flag, *cmds; } allowed[] = {
                { OPT_YES, "--yes", " apply " },
                { OPT_PRUNE, "--prune", " apply plan " },
                { OPT_ADOPT, "--adopt", " apply plan " },
                { OPT_DETAILED, "--detailed-exitcode", " plan " },
                { OPT_SHUTDOWN_TIMEOUT, "--shutdown-timeout", " apply " },
            };
            for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
                if (allowed[i].opt != c)
                    continue;
                char word[32];
                snprintf(word, sizeof(word), " %s ", cmd ? cmd->name : "");
                if (!cmd || !strstr(allowed[i].cmds, word)) {
                    fprintf(stderr, "qkvm: %s is a flag of:%s\n", allowed[i].flag, allowed[i].cmds);
                    return -1;
                }
            }
            if (c == OPT_YES)
                o->yes = true;
            else if (c == OPT_PRUNE)
                o->prune = true;
            else if (c == OPT_ADOPT)
                o->adopt = true;
            else if (c == OPT_DETAILED)
                o->detailed_exitcode = true;
            else {
                char *end;
                errno = 0;
                long t = strtol(optarg, &end, 10);
                if (errno || *end || end == optarg || t < 0 || t > 86400) {
                    fprintf(stderr, "qkvm: --shutdown-timeout takes seconds (0-86400), not '%s'\n",
                            optarg);
                    return -1;
                }
                o->shutdown_timeout = (int)t;
            }
            break;
        }
        case ':':
            fprintf(stderr, "qkvm: flag '%s' needs a value\n", argv[optind - 1]);
            return -1;
        default:
            if (optopt)
                fprintf(stderr, "qkvm: unknown flag '-%c'\n", optopt);
            else
                fprintf(stderr, "qkvm: unknown flag '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { 0 };
    o.shutdown_timeout = -1;
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    o.color = isatty(STDERR_FILENO) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

    int r = parse_flags(&o, argc, argv, true, NULL);
    if (r == 1 || (r == 0 && optind >= argc)) {
        usage(r == 1 ? stdout : stderr);
        free(o.files);
        return r == 1 ? QKVM_EXIT_OK : QKVM_EXIT_ERROR;
    }
    if (r == 2) {
        free(o.files);
        return cmd_version(&o, 0, NULL);
    }
    if (r < 0) {
        fputc('\n', stderr);
        usage(stderr);
        free(o.files);
        return QKVM_EXIT_ERROR;
    }
    const char *name = argv[optind];
    const struct command *cmd = NULL;
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            cmd = c;
    if (!cmd && strcmp(name, "help") == 0) {
        if (optind + 1 < argc) {
            for (const struct command *c = commands; c->name; c++)
                if (strcmp(c->name, argv[optind + 1]) == 0) {
                    command_usage(stdout, c);
                    free(o.files);
                    return QKVM_EXIT_OK;
                }
        }
        usage(stdout);
        free(o.files);
        return QKVM_EXIT_OK;
    }
    if (!cmd) {
        fprintf(stderr, "qkvm: unknown command '%s'\n\n", name);
        usage(stderr);
        free(o.files);
        return QKVM_EXIT_ERROR;
    }
    /* The command's own argv: flags anywhere, then its arguments. */
    int cargc = argc - optind;
    char **cargv = argv + optind;
    optind = 1;
    r = parse_flags(&o, cargc, cargv, false, cmd);
    if (r == 1) {
        command_usage(stdout, cmd);
        free(o.files);
        return QKVM_EXIT_OK;
    }
    if (r == 2) {
        free(o.files);
        return cmd_version(&o, 0, NULL);
    }
    if (r < 0) {
        fputc('\n', stderr);
        command_usage(stderr, cmd);
        free(o.files);
        return QKVM_EXIT_ERROR;
    }
    int rc = cmd->run(&o, cargc - optind, cargv + optind);
    free(o.files);
    return rc;
}
