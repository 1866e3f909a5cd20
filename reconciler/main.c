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
#include "import.h"
#include "jsondoc.h"
#include "jsonschema.h"
#include "manifest.h"
#include "inventory.h"
#include "model.h"
#include "observe.h"
#include "owned.h"
#include "plan.h"
#include "report.h"
#include "schema.h"
#include "store.h"
#include "text.h"
#include "tree.h"
#include "validate.h"
#include "virt.h"
#include "yamldoc.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    bool restart;            /* apply, plan: restart VMs whose changes need it */
    bool detailed_exitcode;  /* plan */
    bool all;                /* import */
    int shutdown_timeout;    /* apply: seconds, -1 unset */
    bool wide;               /* -o wide */
    int lock_timeout_ms;     /* apply */
    long max_deletions;      /* plan, apply: -1 unset (the Project's maxDeletions) */
    long long since_ms;      /* history, events: -1 unset */
    long long prune_older_ms;/* history: -1 unset */
    long limit;              /* history, events: -1 unset */
    struct virt_limits virt; /* --connect-timeout, --keepalive-interval, --keepalive-count */
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
    "      --connect-timeout D\n"
    "                        give up connecting to libvirt after D (default 30s)\n"
    "      --keepalive-interval D\n"
    "                        probe a libvirt connection silent for D (default 5s)\n"
    "      --keepalive-count N\n"
    "                        give it up after N unanswered probes (default 3)\n"
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

/* Has stdout's reader gone (a pipe or socket closed at the other end)?
 * Writes then fail with EPIPE, SIGPIPE being ignored; poll says so even
 * where stdio's error flag has lost the errno. */
static bool reader_gone(void)
{
    struct pollfd p = { STDOUT_FILENO, POLLOUT, 0 };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The end of stdout (hint: the errno of a write that failed, or 0). A
 * reader that stopped reading (`qkvm history | head -1`) is not an error:
 * the output ends quietly and the exit code is the command's. Any other
 * write error is, reported once (a full disk must not pass for a complete
 * listing). */
static int output_end(int rc, int hint)
{
    static bool reported;
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    int e = errno ? errno : hint;
    if (e == EPIPE || reader_gone())
        return rc;
    if (!reported)
        fprintf(stderr, "qkvm: cannot write output: %s\n", e ? strerror(e) : "write error");
    reported = true;
    return rc == QKVM_EXIT_OK ? QKVM_EXIT_ERROR : rc;
}

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
    if (rc >= 0 && fflush(stdout) == 0)
        return QKVM_EXIT_OK;
    if (ferror(stdout))
        return output_end(QKVM_EXIT_OK, errno);
    return fail("cannot write output");
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

/* ---- the state store ---- */

/* The state database's path: --state, $QKVM_STATE, /var/lib/qkvm/state.db
 * as root, else $XDG_STATE_HOME/qkvm/state.db or ~/.local/state/qkvm/state.db.
 * *dflt tells whether it is the default (whose directory qkvm creates; a
 * given path's directory must exist, so a typo is not silently a new
 * database somewhere). */
static char *state_path(const struct opts *o, bool *dflt)
{
    const char *s = o->state ? o->state : getenv("QKVM_STATE");
    *dflt = false;
    if (s && *s)
        return xstrdup(s);
    *dflt = true;
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

static int mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(dir, 0700);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Open the store. Writers create the default directory; a writer whose
 * file is read-only gets an error (the caller decides whether reading is
 * enough). NULL with the message printed. */
static struct store *open_store(const struct opts *o, enum store_mode mode)
{
    bool dflt;
    char *path = state_path(o, &dflt), err[1024];
    if (dflt && mode == STORE_WRITE) {
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdirs(dir) < 0)
                fprintf(stderr, "qkvm: cannot create '%s': %s\n", dir, strerror(errno));
        }
        free(dir);
    }
    struct store *st = store_open(path, mode, err, sizeof(err));
    if (!st)
        fprintf(stderr, "qkvm: %s\n", err);
    free(path);
    return st;
}

/* ---- reconcile: plan, apply, drift ---- */

/* Which libvirt host: -c, else the one Node's uri, else libvirt's default
 * (LIBVIRT_DEFAULT_URI, then its own rules). *label gets the node's name:
 * the Node's, else the URI's host, else "localhost". */
static int pick_uri(const struct opts *o, const struct model *m, const char **uri,
                    const char **label)
{
    *uri = o->connect;
    *label = NULL;
    if (m && m->len[MODEL_NODE] == 1) {
        const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][0];
        if (!*uri || strcmp(*uri, n->spec.uri) == 0) {
            *uri = n->spec.uri;
            *label = n->obj.meta.name;
        }
    } else if (m && m->len[MODEL_NODE] > 1 && !*uri) {
        fprintf(stderr, "qkvm: the manifests declare %zu Nodes; this version reconciles one "
                        "host at a time: pass -c URI\n", m->len[MODEL_NODE]);
        return -1;
    } else if (m && *uri) {
        for (size_t i = 0; i < m->len[MODEL_NODE]; i++) {
            const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][i];
            if (strcmp(n->spec.uri, *uri) == 0)
                *label = n->obj.meta.name;
        }
    }
    return 0;
}

/* A node's name from its URI: the host part, or "localhost". */
static const char *uri_label(struct arena *a, const char *uri)
{
    const char *p = uri ? strstr(uri, "://") : NULL;
    if (!p)
        return "localhost";
    p += 3;
    const char *at = strchr(p, '@'), *end = p + strcspn(p, "/:?");
    if (at && at < end)
        p = at + 1;
    end = p + strcspn(p, "/:?");
    return end > p ? arena_strndup(a, p, (size_t)(end - p)) : "localhost";
}

struct reconcile {
    struct model *m;
    struct diag d;
    struct virt *v;
    struct owned *own;
    struct obs_host *obs;
    struct plan *plan;
    struct store *st;
    struct arena *a;
    int64_t run;               /* 0: not recorded */
    const char *node;          /* label */
    double t_load, t_observe;
};

static void reconcile_dispose(struct reconcile *r)
{
    plan_free(r->plan);
    observe_free(r->obs);
    owned_free(r->own);
    virt_close(r->v);
    store_close(r->st);
    arena_free(r->a);
    if (r->m) {
        model_free(r->m);
        diag_dispose(&r->d);
    }
}

/* End the run's record. A failure to record is reported, not fatal: what
 * happened on the host already happened. */
static void run_end(struct reconcile *r, const char *result, const char *summary,
                    const char *error)
{
    char err[1024];
    if (r->run && store_run_end(r->st, r->run, result, summary, error, err, sizeof(err)) < 0)
        fprintf(stderr, "qkvm: warning: %s\n", err);
}

static const char *join_files(struct arena *a, const struct opts *o)
{
    const char *s = "";
    for (size_t i = 0; i < o->nfiles; i++)
        s = arena_printf(a, "%s%s%s", s, i ? "," : "", o->files[i]);
    return s;
}

/* Record the node's health and what was seen on it (with the declared
 * specs when with_spec: apply and drift; plan keeps it cheap). */
static void record_seen(struct reconcile *r, struct inventory *inv, bool with_spec)
{
    char err[1024];
    if (!r->run)
        return;
    struct store_object *so;
    size_t n = inventory_snapshot(inv, with_spec, &so);
    if (store_objects_put(r->st, r->run, so, n, err, sizeof(err)) < 0)
        fprintf(stderr, "qkvm: warning: %s\n", err);
}

static bool journal_on(void)
{
    /* Only for `make bench`, which measures what the journal costs. */
    const char *e = getenv("QKVM_BENCH_NO_JOURNAL");
    return !(e && *e == '1');
}

/* Load and check the manifests, open the store and record the run, take
 * the reconcile lock (apply), connect, observe, plan. Invalid manifests stop
 * everything before libvirt is even contacted; so does a store apply cannot
 * write. */
static int reconcile_prepare(const struct opts *o, const char *cmd, int argc,
                             struct reconcile *r, unsigned observe_flags, bool lock)
{
    struct manifest_stats st;
    int rc;
    char err[1024];
    memset(r, 0, sizeof(*r));
    r->a = arena_new();
    double t0 = now();
    r->m = load(o, cmd, argc, &r->d, &st, &rc);
    if (!r->m)
        return rc;
    r->t_load = now() - t0;
    diag_print(&r->d, stderr, o->color);

    bool dflt;
    char *sp = state_path(o, &dflt);
    bool readonly = !lock && access(sp, F_OK) == 0 && access(sp, W_OK) < 0;
    free(sp);
    if (readonly) {
        /* plan and drift still work from a store they may only read */
        r->st = open_store(o, STORE_READ);
        if (r->st)
            fprintf(stderr, "qkvm: warning: the state database is read-only: this %s is not "
                            "recorded\n", cmd);
    } else {
        r->st = open_store(o, STORE_WRITE);
    }
    if (!r->st && (lock || !r->d.errors)) {
        if (lock)
            fprintf(stderr, "qkvm: nothing was changed\n");
        return r->d.errors ? QKVM_EXIT_INVALID : QKVM_EXIT_ERROR;
    }
    const char *uri = NULL, *label = NULL;
    int urc = r->d.errors ? 0 : pick_uri(o, r->m, &uri, &label);
    if (r->st && store_writable(r->st)) {
        if (owned_import_legacy(r->st, err, sizeof(err)) < 0) {
            fprintf(stderr, "qkvm: cannot import the ownership record: %s\n", err);
            return QKVM_EXIT_ERROR;
        }
        if (store_prune(r->st, STORE_DEFAULT_KEEP_RUNS,
                        store_now() - STORE_DEFAULT_KEEP_DAYS * 86400000LL, err, sizeof(err)) < 0 ||
            store_run_begin(r->st, cmd, uri ? uri : "", join_files(r->a, o), "", &r->run, err,
                            sizeof(err)) < 0) {
            fprintf(stderr, "qkvm: %s%s\n", err, lock ? "; nothing was changed" : "");
            if (lock)
                return QKVM_EXIT_ERROR;
            r->run = 0;
        }
    }
    if (r->d.errors) {
        fprintf(stderr, "qkvm: %zu error%s: manifests are invalid; nothing was changed\n",
                r->d.errors, r->d.errors == 1 ? "" : "s");
        char *msg = arena_printf(r->a, "%zu error%s in the manifests", r->d.errors,
                                 r->d.errors == 1 ? "" : "s");
        run_end(r, "invalid", msg, msg);
        return QKVM_EXIT_INVALID;
    }
    if (urc < 0) {
        run_end(r, "error", "", "several Nodes and no -c");
        return QKVM_EXIT_ERROR;
    }
    if (lock) {
        bool took;
        struct store_holder prev;
        if (store_lock(r->st, cmd, o->lock_timeout_ms, &took, &prev, err, sizeof(err)) < 0) {
            fprintf(stderr, "qkvm: %s; nothing was changed\n", err);
            run_end(r, "error", "", err);
            return QKVM_EXIT_ERROR;
        }
        char e2[1024];
        if (took) {
            char when[64];
            time_t t = (time_t)(prev.since / 1000);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
            struct store_event ev = {
                0, r->run, "Warning", "LockTakenOver", "", "", uri ? uri : "",
                arena_printf(r->a, "the lock of pid %d (%s started %s) was taken over: that "
                                   "process is gone", prev.pid, prev.what, when) };
            if (store_event(r->st, &ev, e2, sizeof(e2)) < 0)
                fprintf(stderr, "qkvm: warning: %s\n", e2);
            if (!o->quiet)
                fprintf(stderr, "qkvm: %s\n", ev.message);
        }
        if (store_reap(r->st, e2, sizeof(e2)) < 0)
            fprintf(stderr, "qkvm: warning: %s\n", e2);
    }
    r->own = owned_from_store(r->st, err, sizeof(err));
    if (!r->own) {
        fprintf(stderr, "qkvm: cannot read the ownership records: %s\n", err);
        run_end(r, "error", "", err);
        return QKVM_EXIT_ERROR;
    }
    t0 = now();
    r->v = virt_open(uri, &o->virt, err, sizeof(err));
    if (!r->v) {
        fprintf(stderr, "qkvm: %s\n", err);
        char e2[256];
        if (r->run && uri)
            store_node_seen(r->st, r->run, uri, label ? label : uri_label(r->a, uri),
                            "unreachable", err, e2, sizeof(e2));
        run_end(r, "error", "", err);
        return QKVM_EXIT_ERROR;
    }
    uri = virt_uri(r->v);
    r->node = label ? label : uri_label(r->a, uri);
    if (r->run)
        store_run_set_node(r->st, r->run, uri, err, sizeof(err));
    r->obs = observe_host(r->v, r->m, r->own, observe_flags, err, sizeof(err));
    if (!r->obs) {
        fprintf(stderr, "qkvm: cannot observe %s: %s\n", virt_uri(r->v), err);
        run_end(r, "error", "", err);
        return QKVM_EXIT_ERROR;
    }
    r->t_observe = now() - t0;
    if (r->run && store_node_seen(r->st, r->run, uri, r->node, "ready", "", err, sizeof(err)) < 0)
        fprintf(stderr, "qkvm: warning: %s\n", err);
    struct plan_opts po = { o->prune, o->adopt, o->max_deletions, o->restart };
    r->plan = plan_build(r->m, r->obs, &po);
    if (o->verbose)
        fprintf(stderr, "qkvm: %s: load %.1f ms, observe %.1f ms (%zu domains, %zu networks, "
                        "%zu pools; %lu libvirt calls)\n",
                virt_uri(r->v), r->t_load * 1e3, r->t_observe * 1e3, r->obs->ndoms,
                r->obs->nnets, r->obs->npools, r->obs->calls);
    return QKVM_EXIT_OK;
}

static const char *plan_summary(struct arena *a, const struct plan *p)
{
    if (!p->n && p->restarts_pending)
        return arena_printf(a, "nothing to apply, %zu restart%s pending", p->restarts_pending,
                            p->restarts_pending == 1 ? "" : "s");
    if (!p->n)
        return arena_printf(a, "no changes%s", p->nnotes ? ", with notes" : "");
    return arena_printf(a, "%zu to create, %zu to update, %zu to replace, %zu to delete, "
                           "%zu to start/stop/pause/resume, %zu to restart, %zu to adopt",
                        p->count[PLAN_CREATE], p->count[PLAN_UPDATE], p->count[PLAN_REPLACE],
                        p->count[PLAN_DELETE], p->count[PLAN_START] + p->count[PLAN_STOP] +
                        p->count[PLAN_PAUSE] + p->count[PLAN_RESUME], p->count[PLAN_RESTART],
                        p->count[PLAN_ADOPT]);
}

/* The node's rows: manifests, observation, plan and what the store last
 * saw on the node (for AGE). */
static struct inventory *reconcile_inventory(struct reconcile *r)
{
    struct store_object *so = NULL;
    size_t n = 0;
    char err[1024];
    if (r->st && store_objects(r->st, r->a, virt_uri(r->v), NULL, NULL, &so, &n, err,
                               sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: warning: %s\n", err);
        n = 0;
    }
    return inventory_build(r->node, virt_uri(r->v), r->m, r->obs, r->plan, so, n);
}

static int cmd_plan(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "plan", argc, &r, 0, false);
    if (rc == QKVM_EXIT_OK) {
        if (o->output != OUT_TABLE) {
            struct arena *a = arena_new();
            rc = emit_tree(o, report_plan_tree(a, r.plan, NULL), false);
            arena_free(a);
        } else {
            report_plan_text(stdout, r.plan, o->color && isatty(STDOUT_FILENO));
        }
        bool changes = report_plan_has_changes(r.plan);
        if (rc == QKVM_EXIT_OK && o->detailed_exitcode && changes)
            rc = QKVM_EXIT_CHANGES;
        if (r.run) {
            struct inventory *inv = reconcile_inventory(&r);
            record_seen(&r, inv, false);
            inventory_free(inv);
            run_end(&r, changes ? "changes" : "ok", plan_summary(r.a, r.plan), NULL);
        }
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

/* Objects whose every action succeeded (inventory_applied marked them)
 * match their manifests now: the drift the last drift run recorded for
 * them is over. */
static void resolve_healed(struct reconcile *r, const struct inventory *inv)
{
    char err[1024];
    if (store_begin(r->st, err, sizeof(err)) < 0)
        goto bad;
    for (size_t i = 0; i < inv->n; i++) {
        const struct inventory_row *row = &inv->v[i];
        if (row->applied && strcmp(row->sync, "Failed") != 0 &&
            store_findings_resolve(r->st, r->run, inv->uri, schema_kinds[row->kind].name,
                                   row->name, err, sizeof(err)) < 0) {
            store_rollback(r->st);
            goto bad;
        }
    }
    if (store_commit(r->st, err, sizeof(err)) == 0)
        return;
bad:
    fprintf(stderr, "qkvm: warning: %s\n", err);
}

static int cmd_apply(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "apply", argc, &r, 0, true);
    if (rc != QKVM_EXIT_OK) {
        reconcile_dispose(&r);
        return rc;
    }
    bool text = o->output == OUT_TABLE;
    if (text && !o->quiet)
        report_plan_text(stdout, r.plan, o->color && isatty(STDOUT_FILENO));
    /* withheld deletions are a failure the operator must see, even when
     * everything else is applied */
    bool refused = false;
    for (size_t i = 0; i < r.plan->nnotes; i++)
        if (r.plan->notes[i].type == NOTE_REFUSED) {
            fprintf(stderr, "qkvm: error: %s\n", r.plan->notes[i].message);
            refused = true;
        }
    if (refused)
        rc = QKVM_EXIT_ERROR;
    struct inventory *inv = reconcile_inventory(&r);
    if (!r.plan->n) {
        if (!text) {
            struct arena *a = arena_new();
            struct apply_result none = { 0 };
            rc = emit_tree(o, report_plan_tree(a, r.plan, &none), false);
            arena_free(a);
        }
        record_seen(&r, inv, true);
        run_end(&r, rc == QKVM_EXIT_OK ? "ok" : "failed", plan_summary(r.a, r.plan),
                rc == QKVM_EXIT_OK ? NULL : "deletions refused by the deletion guard");
        inventory_free(inv);
        reconcile_dispose(&r);
        return rc;
    }
    if (!o->yes && !confirm(r.plan)) {
        run_end(&r, "error", "", "not confirmed");
        inventory_free(inv);
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
        .run = r.run,
        .journal = journal_on(),
    };
    struct apply_result res;
    double t0 = now();
    int arc = apply_plan(r.v, r.m, r.obs, r.plan, r.st, &ao, &res);
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
    inventory_applied(inv, r.plan, &res);
    if (ao.journal) {
        record_seen(&r, inv, true);
        resolve_healed(&r, inv);
    }
    const char *first_error = NULL;
    for (size_t i = 0; i < r.plan->n && !first_error; i++)
        if (res.status[i] == APPLY_FAILED || res.status[i] == APPLY_SKIPPED)
            first_error = res.error[i];
    if (refused) {
        rc = QKVM_EXIT_ERROR;
        if (!first_error)
            first_error = "deletions refused by the deletion guard";
    }
    run_end(&r, arc < 0 || refused ? "failed" : "ok",
            arena_printf(r.a, "%zu done, %zu failed, %zu skipped", res.done, res.failed,
                         res.skipped), first_error);
    inventory_free(inv);
    apply_result_dispose(&res, r.plan->n);
    reconcile_dispose(&r);
    return rc;
}

static int cmd_drift(struct opts *o, int argc, char **argv)
{
    (void)argv;
    struct reconcile r;
    int rc = reconcile_prepare(o, "drift", argc, &r, OBSERVE_DEEP, false);
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
        if (r.run) {
            char err[1024];
            struct store_finding *f = arena_alloc(r.a, (r.plan->ndrift + 1) * sizeof(*f));
            for (size_t i = 0; i < r.plan->ndrift; i++) {
                const struct drift_finding *d = &r.plan->drift[i];
                f[i] = (struct store_finding){ drift_category_name(d->category), d->kind, d->name,
                                               d->field, d->desired, d->actual, d->message,
                                               0, 0, 0, 0 };
            }
            if (store_begin(r.st, err, sizeof(err)) < 0 ||
                store_findings_record(r.st, r.run, virt_uri(r.v), f, r.plan->ndrift, err,
                                      sizeof(err)) < 0 ||
                store_commit(r.st, err, sizeof(err)) < 0) {
                store_rollback(r.st);
                fprintf(stderr, "qkvm: warning: the findings are not recorded: %s\n", err);
            }
            struct inventory *inv = reconcile_inventory(&r);
            record_seen(&r, inv, true);
            inventory_free(inv);
            run_end(&r, r.plan->ndrift ? "drift" : "ok",
                    arena_printf(r.a, "%zu finding%s", r.plan->ndrift,
                                 r.plan->ndrift == 1 ? "" : "s"), NULL);
        }
    }
    reconcile_dispose(&r);
    return rc;
}

/* ---- reading the store: history, events, get, describe ---- */

static void fmt_when(int64_t ms, char *buf, size_t size)
{
    if (!ms) {
        snprintf(buf, size, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *duration(struct arena *a, const struct store_run *r)
{
    if (!r->ended)
        return "-";
    long long ms = r->ended - r->started, s = (ms + 500) / 1000;
    if (ms < 60000)
        return arena_printf(a, "%.1fs", (double)ms / 1000.0);
    return arena_printf(a, "%lldm%02llds", s / 60, s % 60);
}

static struct tree *run_tree(struct arena *a, const struct store_run *r)
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
    tree_map_str(a, t, "result", r->result);
    tree_map_str(a, t, "summary", r->summary);
    tree_map_str(a, t, "error", r->error);
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

static int history_one(const struct opts *o, struct store *st, const char *arg)
{
    char *end, err[1024];
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno || *end || end == arg || id <= 0) {
        fprintf(stderr, "qkvm: history takes a run id (a number), not '%s'\n", arg);
        return QKVM_EXIT_ERROR;
    }
    struct arena *a = arena_new();
    struct store_run r;
    struct store_action *act;
    size_t n;
    int rc = store_run_get(st, a, id, &r, &act, &n, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0)
            fprintf(stderr, "qkvm: no run %lld in '%s'\n", id, store_path(st));
        else
            fprintf(stderr, "qkvm: %s\n", err);
        arena_free(a);
        return QKVM_EXIT_ERROR;
    }
    struct store_finding *f = NULL;
    size_t nf = 0;
    if (strcmp(r.kind, "drift") == 0 &&
        store_findings(st, a, r.id, NULL, &f, &nf, err, sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: %s\n", err);
        arena_free(a);
        return QKVM_EXIT_ERROR;
    }
    rc = QKVM_EXIT_OK;
    if (o->output != OUT_TABLE) {
        struct tree *t = run_tree(a, &r), *acts = tree_new_seq(a), *fs = tree_new_seq(a);
        for (size_t i = 0; i < n; i++) {
            struct tree *x = tree_new_map(a);
            tree_map_int(a, x, "seq", act[i].seq);
            tree_map_str(a, x, "kind", act[i].kind);
            tree_map_str(a, x, "name", act[i].name);
            tree_map_str(a, x, "verb", act[i].verb);
            tree_map_str(a, x, "reason", act[i].reason ? act[i].reason : "");
            tree_map_str(a, x, "status", act[i].status);
            tree_map_add(a, x, "error", act[i].error ? tree_new_str(a, act[i].error)
                                                     : tree_new_null(a));
            tree_map_add(a, x, "before", json_tree(a, act[i].before));
            tree_map_add(a, x, "after", json_tree(a, act[i].after));
            tree_map_int(a, x, "started", act[i].started / 1000);
            tree_map_add(a, x, "durationMs", act[i].ended ? tree_new_int(a, act[i].ended -
                                                                            act[i].started)
                                                          : tree_new_null(a));
            tree_seq_add(a, acts, x);
        }
        for (size_t i = 0; i < nf; i++) {
            struct tree *x = tree_new_map(a);
            tree_map_str(a, x, "category", f[i].category);
            tree_map_str(a, x, "kind", f[i].kind);
            tree_map_str(a, x, "name", f[i].name);
            tree_map_str(a, x, "field", f[i].field ? f[i].field : "");
            tree_map_str(a, x, "desired", f[i].desired ? f[i].desired : "");
            tree_map_str(a, x, "actual", f[i].actual ? f[i].actual : "");
            tree_map_str(a, x, "message", f[i].message ? f[i].message : "");
            tree_map_int(a, x, "since", f[i].opened / 1000);
            tree_map_int(a, x, "sinceRun", f[i].opened_run);
            tree_seq_add(a, fs, x);
        }
        tree_map_add(a, t, "actions", acts);
        tree_map_add(a, t, "findings", fs);
        rc = emit_tree(o, t, false);
        arena_free(a);
        return rc;
    }
    char started[32], ended[32];
    fmt_when(r.started, started, sizeof(started));
    fmt_when(r.ended, ended, sizeof(ended));
    printf("Run %lld: %s, %s\n", (long long)r.id, r.kind, r.result);
    printf("  node:     %s\n", *r.node ? r.node : "-");
    printf("  source:   %s\n", *r.source ? r.source : "-");
    printf("  commit:   %s\n", *r.commit ? r.commit : "-");
    printf("  started:  %s (pid %d)\n", started, r.pid);
    printf("  ended:    %s%s%s%s\n", ended, r.ended ? " (" : "", r.ended ? duration(a, &r) : "",
           r.ended ? ")" : "");
    if (*r.summary)
        printf("  summary:  %s\n", r.summary);
    if (*r.error)
        printf("  error:    %s\n", r.error);
    if (strcmp(r.result, "interrupted") == 0)
        printf("  last action: %s\n", r.last_action ? r.last_action : "none was started");
    if (n) {
        printf("\nActions:\n");
        for (size_t i = 0; i < n; i++) {
            double ms = act[i].ended ? (double)(act[i].ended - act[i].started) : -1;
            printf("  %3ld  %-7s %s/%s: %s", act[i].seq, act[i].verb, act[i].kind, act[i].name,
                   act[i].status);
            if (ms >= 0)
                printf(" (%.1f s)", ms / 1000.0);
            putchar('\n');
            if (act[i].reason && *act[i].reason)
                printf("         reason: %s\n", act[i].reason);
            if (act[i].before)
                printf("         before: %s\n", act[i].before);
            if (act[i].after)
                printf("         after:  %s\n", act[i].after);
            if (act[i].error)
                printf("         error:  %s\n", act[i].error);
        }
    }
    if (nf) {
        printf("\nFindings:\n");
        for (size_t i = 0; i < nf; i++) {
            char since[32];
            fmt_when(f[i].opened, since, sizeof(since));
            printf("  %-13s %s/%s", f[i].category, f[i].kind, f[i].name);
            if (f[i].field && *f[i].field)
                printf(" %s: desired %s, actual %s", f[i].field, f[i].desired, f[i].actual);
            else if (f[i].message && *f[i].message)
                printf(": %s", f[i].message);
            printf("  (since %s, run %lld)\n", since, (long long)f[i].opened_run);
        }
    }
    arena_free(a);
    return rc;
}

static int cmd_history(struct opts *o, int argc, char **argv)
{
    char err[1024];
    if (argc > 1)
        return fail("history takes at most one run id");
    if (o->prune_older_ms >= 0) {
        if (argc)
            return fail("--prune-older-than takes no run id");
        struct store *st = open_store(o, STORE_WRITE);
        if (!st)
            return QKVM_EXIT_ERROR;
        long n = store_prune(st, 0, store_now() - o->prune_older_ms, err, sizeof(err));
        if (n < 0)
            fprintf(stderr, "qkvm: %s\n", err);
        else if (!o->quiet)
            printf("removed %ld run%s (with their actions, findings and events)\n", n,
                   n == 1 ? "" : "s");
        store_close(st);
        return n < 0 ? QKVM_EXIT_ERROR : QKVM_EXIT_OK;
    }
    struct store *st = open_store(o, STORE_READ);
    if (!st)
        return QKVM_EXIT_ERROR;
    if (argc == 1) {
        int rc = history_one(o, st, argv[0]);
        store_close(st);
        return rc;
    }
    struct arena *a = arena_new();
    struct store_run *runs;
    size_t n;
    int64_t since = o->since_ms >= 0 ? store_now() - o->since_ms : 0;
    long limit = o->limit >= 0 ? o->limit : 20;
    int rc = QKVM_EXIT_OK;
    if (store_runs(st, a, limit, since, &runs, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: %s\n", err);
        rc = QKVM_EXIT_ERROR;
    } else if (o->output != OUT_TABLE) {
        struct tree *list = tree_new_map(a), *items = tree_new_seq(a);
        tree_map_str(a, list, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, list, "kind", "RunList");
        for (size_t i = n; i-- > 0;)
            tree_seq_add(a, items, run_tree(a, &runs[i]));
        tree_map_add(a, list, "items", items);
        rc = emit_tree(o, list, false);
    } else if (!n) {
        printf("no runs recorded in %s\n", store_path(st));
    } else {
        /* oldest first, like a log: the newest run is the last line */
        printf("%-6s %-5s %-14s %8s %-11s %-16s %s%s\n", "ID", "KIND", "STARTED", "DURATION",
               "RESULT", "SOURCE", "COMMIT", o->wide ? "  NODE  SUMMARY" : "");
        for (size_t i = n; i-- > 0;) {
            const struct store_run *r = &runs[i];
            char when[32];
            time_t t = (time_t)(r->started / 1000);
            struct tm tm;
            localtime_r(&t, &tm);
            strftime(when, sizeof(when), "%m-%d %H:%M:%S", &tm);
            const char *src = *r->source ? r->source : "-";
            size_t sl = strlen(src);
            char srcbuf[20];
            if (!o->wide && sl > 16)
                snprintf(srcbuf, sizeof(srcbuf), "~%s", src + sl - 15);
            printf("%-6lld %-5s %-14s %8s %-11s %-16s %.7s", (long long)r->id, r->kind, when,
                   duration(a, r), r->result, !o->wide && sl > 16 ? srcbuf : src,
                   *r->commit ? r->commit : "-");
            if (o->wide)
                printf("  %s  %s%s%s", *r->node ? r->node : "-", r->summary,
                       *r->error ? ": " : "", r->error);
            putchar('\n');
        }
    }
    arena_free(a);
    store_close(st);
    return rc;
}

static int cmd_events(struct opts *o, int argc, char **argv)
{
    char err[1024];
    const char *kind = NULL, *name = NULL;
    if (argc > 2)
        return fail("events takes at most KIND and NAME");
    if (argc >= 1) {
        int k = inventory_kind(argv[0]);
        if (k < 0) {
            fprintf(stderr, "qkvm: unknown kind '%s' (vm, disk, network, pool, image, node, "
                            "policy)\n", argv[0]);
            return QKVM_EXIT_ERROR;
        }
        kind = schema_kinds[k].name;
        name = argc == 2 ? argv[1] : NULL;
    }
    struct store *st = open_store(o, STORE_READ);
    if (!st)
        return QKVM_EXIT_ERROR;
    struct arena *a = arena_new();
    struct store_event *ev;
    size_t n;
    int64_t t = store_now();
    int64_t since = o->since_ms >= 0 ? t - o->since_ms : 0;
    int rc = QKVM_EXIT_OK;
    if (store_events(st, a, since, kind, name, o->limit >= 0 ? o->limit : 50, &ev, &n, err,
                     sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: %s\n", err);
        rc = QKVM_EXIT_ERROR;
    } else if (o->output != OUT_TABLE) {
        struct tree *list = tree_new_map(a), *items = tree_new_seq(a);
        tree_map_str(a, list, "apiVersion", SCHEMA_API_VERSION);
        tree_map_str(a, list, "kind", "EventList");
        for (size_t i = 0; i < n; i++) {
            struct tree *x = tree_new_map(a);
            tree_map_int(a, x, "time", ev[i].at / 1000);
            tree_map_int(a, x, "run", ev[i].run);
            tree_map_str(a, x, "type", ev[i].type);
            tree_map_str(a, x, "reason", ev[i].reason);
            tree_map_str(a, x, "kind", ev[i].kind);
            tree_map_str(a, x, "name", ev[i].name);
            tree_map_str(a, x, "node", ev[i].node);
            tree_map_str(a, x, "message", ev[i].message);
            tree_seq_add(a, items, x);
        }
        tree_map_add(a, list, "items", items);
        rc = emit_tree(o, list, false);
    } else if (!n) {
        printf("no events%s\n", o->since_ms >= 0 ? " in that time" : "");
    } else {
        printf("%-5s %-7s %-14s %-20s %s\n", "AGE", "TYPE", "REASON", "OBJECT", "MESSAGE");
        for (size_t i = 0; i < n; i++) {
            char ag[16], obj[256];
            text_age(t - ev[i].at, ag, sizeof(ag));
            if (*ev[i].kind) {
                snprintf(obj, sizeof(obj), "%s/%s", ev[i].kind, ev[i].name);
                for (char *p = obj; *p && *p != '/'; p++)
                    *p = (char)tolower((unsigned char)*p);
            } else {
                snprintf(obj, sizeof(obj), "run/%lld", (long long)ev[i].run);
            }
            int room = o->wide ? INT_MAX : 80 - 51;
            int ml = (int)strlen(ev[i].message);
            printf("%-5s %-7s %-14s %-20.20s %.*s%s\n", ag, ev[i].type, ev[i].reason, obj,
                   ml > room ? room - 1 : ml, ev[i].message, ml > room ? "~" : "");
        }
    }
    arena_free(a);
    store_close(st);
    return rc;
}

/* get and describe: desired (with -f), observed (when the node answers) and
 * stored, joined. Never takes the reconcile lock; never writes. */
static int inventory_load(const struct opts *o, const char *cmd, struct reconcile *r,
                          struct inventory **out)
{
    char err[1024];
    int rc;
    *out = NULL;
    memset(r, 0, sizeof(*r));
    r->a = arena_new();
    if (o->nfiles) {
        struct manifest_stats st;
        r->m = load(o, cmd, 0, &r->d, &st, &rc);
        if (!r->m)
            return rc;
        diag_print(&r->d, stderr, o->color);
        if (r->d.errors) {
            fprintf(stderr, "qkvm: %zu error%s: manifests are invalid\n", r->d.errors,
                    r->d.errors == 1 ? "" : "s");
            return QKVM_EXIT_INVALID;
        }
    }
    r->st = open_store(o, STORE_READ);
    if (!r->st)
        return QKVM_EXIT_ERROR;
    const char *uri, *label;
    if (pick_uri(o, r->m, &uri, &label) < 0)
        return QKVM_EXIT_ERROR;
    r->own = owned_from_store(r->st, err, sizeof(err));
    if (!r->own) {
        fprintf(stderr, "qkvm: cannot read the ownership records: %s\n", err);
        return QKVM_EXIT_ERROR;
    }
    r->v = virt_open(uri, &o->virt, err, sizeof(err));
    if (r->v) {
        uri = virt_uri(r->v);
        r->obs = observe_host(r->v, r->m, r->own, 0, err, sizeof(err));
    }
    const char *node = label ? label : uri_label(r->a, uri);
    struct store_object *so;
    size_t n;
    if (!r->obs) {
        fprintf(stderr, "qkvm: warning: cannot observe %s: %s; showing what was last "
                        "recorded\n", uri ? uri : "the default libvirt host", err);
    } else if (r->m) {
        struct plan_opts po = { false, false, -1, false };
        r->plan = plan_build(r->m, r->obs, &po);
    }
    if (store_objects(r->st, r->a, uri, NULL, NULL, &so, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: %s\n", err);
        return QKVM_EXIT_ERROR;
    }
    *out = inventory_build(node, uri, r->m, r->obs, r->plan, so, n);
    return QKVM_EXIT_OK;
}

static int kind_arg(const char *word, enum model_kind *k)
{
    int x = inventory_kind(word);
    if (x < 0) {
        fprintf(stderr, "qkvm: unknown kind '%s' (vms, disks, networks, pools, images, nodes, "
                        "policies)\n", word);
        return -1;
    }
    *k = (enum model_kind)x;
    return 0;
}

static int cmd_get(struct opts *o, int argc, char **argv)
{
    enum model_kind k;
    if (argc < 1 || argc > 2)
        return fail("get takes KIND [NAME], e.g. 'qkvm get vms' or 'qkvm get vm web-1'");
    if (kind_arg(argv[0], &k) < 0)
        return QKVM_EXIT_ERROR;
    const char *name = argc == 2 ? argv[1] : NULL;
    struct reconcile r;
    struct inventory *inv;
    int rc = inventory_load(o, "get", &r, &inv);
    if (rc == QKVM_EXIT_OK) {
        if (name && !inventory_find(inv, k, name)) {
            fprintf(stderr, "qkvm: %s '%s' not found on %s\n", plan_kind_name(k), name,
                    *inv->uri ? inv->uri : "the host");
            rc = QKVM_EXIT_ERROR;
        } else if (o->output != OUT_TABLE) {
            struct arena *a = arena_new();
            rc = emit_tree(o, inventory_tree(a, inv, k, name, store_now()), false);
            arena_free(a);
        } else {
            inventory_table(stdout, inv, k, name, o->wide, store_now());
        }
    }
    inventory_free(inv);
    reconcile_dispose(&r);
    return rc;
}

static int cmd_describe(struct opts *o, int argc, char **argv)
{
    enum model_kind k;
    char err[1024];
    if (argc != 2)
        return fail("describe takes KIND NAME, e.g. 'qkvm describe vm web-1'");
    if (kind_arg(argv[0], &k) < 0)
        return QKVM_EXIT_ERROR;
    struct reconcile r;
    struct inventory *inv;
    int rc = inventory_load(o, "describe", &r, &inv);
    const struct inventory_row *row = inv ? inventory_find(inv, k, argv[1]) : NULL;
    if (rc == QKVM_EXIT_OK && !row) {
        fprintf(stderr, "qkvm: %s '%s' not found on %s\n", plan_kind_name(k), argv[1],
                *inv->uri ? inv->uri : "the host");
        rc = QKVM_EXIT_ERROR;
    }
    if (rc != QKVM_EXIT_OK) {
        inventory_free(inv);
        reconcile_dispose(&r);
        return rc;
    }
    struct arena *a = arena_new();
    int64_t t = store_now();
    struct tree *doc = inventory_tree(a, inv, k, argv[1], t);
    /* drift: the plan's field changes when manifests were given, else the
     * open findings the last drift run recorded */
    struct tree *drift = tree_new_seq(a);
    if (r.plan) {
        for (size_t i = 0; i < r.plan->ndrift; i++) {
            const struct drift_finding *d = &r.plan->drift[i];
            if (strcmp(d->kind, schema_kinds[k].name) != 0 || strcmp(d->name, argv[1]) != 0)
                continue;
            struct tree *x = tree_new_map(a);
            tree_map_str(a, x, "category", drift_category_name(d->category));
            if (d->field)
                tree_map_str(a, x, "field", d->field);
            if (d->desired)
                tree_map_str(a, x, "desired", d->desired);
            if (d->actual)
                tree_map_str(a, x, "actual", d->actual);
            tree_map_str(a, x, "message", d->message);
            tree_seq_add(a, drift, x);
        }
    } else {
        struct store_finding *f;
        size_t nf;
        if (store_findings(r.st, a, 0, inv->uri, &f, &nf, err, sizeof(err)) == 0)
            for (size_t i = 0; i < nf; i++) {
                if (strcmp(f[i].kind, schema_kinds[k].name) != 0 || strcmp(f[i].name, argv[1]))
                    continue;
                struct tree *x = tree_new_map(a);
                tree_map_str(a, x, "category", f[i].category);
                if (f[i].field && *f[i].field) {
                    tree_map_str(a, x, "field", f[i].field);
                    tree_map_str(a, x, "desired", f[i].desired);
                    tree_map_str(a, x, "actual", f[i].actual);
                }
                tree_map_str(a, x, "message", f[i].message ? f[i].message : "");
                tree_map_int(a, x, "since", f[i].opened / 1000);
                tree_seq_add(a, drift, x);
            }
    }
    struct store_event *ev;
    size_t nev = 0;
    if (store_events(r.st, a, 0, schema_kinds[k].name, argv[1], 10, &ev, &nev, err,
                     sizeof(err)) < 0)
        fprintf(stderr, "qkvm: warning: %s\n", err);
    struct tree *events = tree_new_seq(a);
    for (size_t i = 0; i < nev; i++) {
        struct tree *x = tree_new_map(a);
        tree_map_int(a, x, "time", ev[i].at / 1000);
        tree_map_str(a, x, "type", ev[i].type);
        tree_map_str(a, x, "reason", ev[i].reason);
        tree_map_str(a, x, "message", ev[i].message);
        tree_seq_add(a, events, x);
    }
    tree_map_add(a, doc, "drift", drift);
    tree_map_add(a, doc, "events", events);
    if (o->output != OUT_TABLE) {
        rc = emit_tree(o, doc, false);
    } else {
        struct tree *spec = tree_get(doc, "spec"), *status = tree_get(doc, "status");
        char first[32];
        fmt_when(row->created, first, sizeof(first));
        printf("Name:        %s\n", row->name);
        printf("Kind:        %s\n", schema_kinds[k].name);
        printf("Node:        %s (%s)\n", inv->node, *inv->uri ? inv->uri : "-");
        printf("State:       %s\n", row->state);
        printf("Sync:        %s\n", row->sync);
        printf("Declared:    %s\n", row->want ? "yes (in the manifests given)"
                                    : row->stored_spec ? "as last recorded (no -f given)" : "no");
        printf("First seen:  %s\n", first);
        fflush(stdout);
        if (spec && spec->type != TREE_NULL) {
            printf("Spec:\n");
            fflush(stdout);
            yamldoc_emit(stdout, &spec, 1);
        }
        struct tree *seen = status ? tree_get(status, "observed") : NULL;
        if (seen) {
            printf("Observed:\n");
            fflush(stdout);
            yamldoc_emit(stdout, &seen, 1);
        }
        if (r.plan)
            printf("Drift:%s\n", drift->len ? "" : "       none");
        else
            printf("Drift (as the last 'qkvm drift' found it, unless an apply healed it since):"
                   "%s\n", drift->len ? "" : " none");
        for (size_t i = 0; i < drift->len; i++) {
            struct tree *x = drift->u.items[i], *f = tree_get(x, "field");
            if (f)
                printf("  %s: desired %s, actual %s\n", f->u.str,
                       tree_get(x, "desired") ? tree_get(x, "desired")->u.str : "-",
                       tree_get(x, "actual") ? tree_get(x, "actual")->u.str : "-");
            else
                printf("  %s: %s\n", tree_get(x, "category")->u.str,
                       tree_get(x, "message")->u.str);
        }
        printf("Events:%s\n", nev ? "" : "      none recorded");
        for (size_t i = 0; i < nev; i++) {
            char ag[16];
            text_age(t - ev[i].at, ag, sizeof(ag));
            printf("  %-5s %-7s %-14s %s\n", ag, ev[i].type, ev[i].reason, ev[i].message);
        }
    }
    arena_free(a);
    inventory_free(inv);
    reconcile_dispose(&r);
    return rc;
}

/* import: manifests for what the host has and no project owns (import.c
 * decides what and why; this prints it as render prints manifests). Reads
 * the host and the ownership records; never writes. */
static int cmd_import(struct opts *o, int argc, char **argv)
{
    char err[1024];
    struct arena *a = arena_new();
    struct import_request *req = NULL;
    size_t nreq = 0;
    int rc = QKVM_EXIT_ERROR;
    struct model *m = NULL;
    struct diag d = { 0 };
    struct store *st = NULL;
    struct owned *own = NULL;
    struct virt *v = NULL;
    struct obs_host *obs = NULL;
    struct import_result *res = NULL;
    if (o->all ? argc > 0 : import_requests(a, argc, argv, &req, &nreq, err, sizeof(err)) < 0) {
        fprintf(stderr, "qkvm: error: %s\n", o->all ? "--all takes no KIND or NAME" : err);
        goto done;
    }
    if (o->nfiles) {
        struct manifest_stats ms;
        m = load(o, "import", 0, &d, &ms, &rc);
        if (!m)
            goto done;
        diag_print(&d, stderr, o->color);
        if (d.errors) {
            fprintf(stderr, "qkvm: %zu error%s: manifests are invalid\n", d.errors,
                    d.errors == 1 ? "" : "s");
            rc = QKVM_EXIT_INVALID;
            goto done;
        }
    } else {
        m = model_new();
    }
    rc = QKVM_EXIT_ERROR;
    const char *uri, *label;
    if (pick_uri(o, m, &uri, &label) < 0 || !(st = open_store(o, STORE_READ)))
        goto done;
    if (!(own = owned_from_store(st, err, sizeof(err)))) {
        fprintf(stderr, "qkvm: error: cannot read the ownership records: %s\n", err);
        goto done;
    }
    if (!(v = virt_open(uri, &o->virt, err, sizeof(err))) ||
        !(obs = observe_host(v, m, own, OBSERVE_DEEP, err, sizeof(err)))) {
        fprintf(stderr, "qkvm: error: %s%s%s\n", v ? "cannot observe " : "", v ? virt_uri(v) : "",
                v ? arena_printf(a, ": %s", err) : err);
        goto done;
    }
    res = import_build(obs, m, req, nreq, o->all);
    for (size_t i = 0; i < res->nmsgs; i++)
        fprintf(stderr, "qkvm: %s: %s\n",
                res->msgs[i].level == IMPORT_ERROR ? "error" : "warning", res->msgs[i].text);
    struct tree *all = tree_new_seq(a);
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 0; i < res->model->len[k]; i++)
            tree_seq_add(a, all, encode_object(a, res->model->objs[k][i]));
    rc = all->len ? emit_tree(o, all, true) : QKVM_EXIT_OK;
    if (res->refused)
        rc = QKVM_EXIT_ERROR;
done:
    import_free(res);
    observe_free(obs);
    virt_close(v);
    owned_free(own);
    store_close(st);
    if (m && o->nfiles)
        diag_dispose(&d);
    model_free(m);
    arena_free(a);
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
    { "plan", cmd_plan, "-f PATH [-c URI] [--detailed-exitcode] [--prune] [--max-deletions N] "
                        "[--adopt] [--restart] [-o json]",
      "show what apply would change on the host",
      "Observe the libvirt host, compare it with the manifests field by field and\n"
      "print the actions apply would take, in order: + create, ~ update in place\n"
      "(live, or in the definition with \"restart required\"), -/+ replace, - delete,\n"
      "and ! for what apply will not do (conflicts, blocked changes, pending\n"
      "restarts, stale objects without --prune, deletions a guard refused).\n"
      "Objects of other projects are listed apart and never touched. Nothing is\n"
      "changed.\n"
      "  --detailed-exitcode  exit 2 when there are changes, pending restarts or\n"
      "                       items needing attention; 0 when none; 1 on error\n"
      "  --prune              plan deletion of stale objects (the project's, no longer\n"
      "                       declared)\n"
      "  --max-deletions N    allow up to N deletions (default: the Project's\n"
      "                       maxDeletions, 10; deleting all of the project's objects\n"
      "                       needs it too)\n"
      "  --adopt              plan taking over same-named objects no project created\n"
      "  --restart            plan restarting VMs whose changes wait for a restart\n" },
    { "apply", cmd_apply, "-f PATH [-c URI] [--yes] [--prune] [--max-deletions N] [--adopt] "
                          "[--restart] [--shutdown-timeout S]",
      "make the host match the manifests",
      "Plan as 'qkvm plan' does, ask for confirmation (unless --yes), then apply\n"
      "the actions in order: pools, networks, disks, VMs; deletions in reverse.\n"
      "Independent actions go on when one fails; dependents of a failure are\n"
      "skipped. Exit 1 when anything failed, one line per failure on stderr.\n"
      "  --yes                do not ask (required when stdin is not a terminal)\n"
      "  --prune              delete stale objects (never Disks with protect: true),\n"
      "                       within the deletion guards: an empty manifest set never\n"
      "                       prunes; more than maxDeletions, or every object of the\n"
      "                       project, is refused (exit 1) unless --max-deletions\n"
      "  --max-deletions N    allow up to N deletions in this run\n"
      "  --adopt              take over same-named objects no project created\n"
      "  --restart            restart VMs whose changes wait for a restart (graceful\n"
      "                       shutdown, destroy after --shutdown-timeout, start)\n"
      "  --shutdown-timeout S graceful shutdown wait before destroy (default 60)\n"
      "  --lock-timeout D     wait this long for another apply on the same state file\n"
      "                       (default 30s), then fail naming its pid\n"
      "Every action is journalled in the state database before it starts; see\n"
      "'qkvm history'.\n" },
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
    { "history", cmd_history, "[RUN] [--limit N] [--since D] [--prune-older-than D] [-o wide|json|yaml]",
      "list recorded runs, or show one run's actions",
      "Without RUN: the most recent runs (20 unless --limit; 0 for all), oldest\n"
      "first: id, kind (plan, apply, drift), start, duration, result, source,\n"
      "commit. A run whose process died shows as interrupted. With RUN: every\n"
      "action with before/after, status and error, and a drift run's findings\n"
      "with the run since which each one has been seen.\n"
      "  --since D              only runs started in the last D (90s, 30m, 1h, 7d)\n"
      "  --prune-older-than D   delete runs older than D, with their actions,\n"
      "                         findings and events, and shrink the file\n"
      "Runs beyond the newest 100000 or older than 90 days are removed\n"
      "automatically. Never waits for a running apply.\n" },
    { "get", cmd_get, "KIND [NAME] [-f PATH] [-c URI] [-o wide|json|yaml]",
      "list objects: desired joined with observed",
      "KIND is vms, disks, networks, pools, images, nodes or policies (singular\n"
      "works too). Rows come from the host (observed now), the manifests (with\n"
      "-f) and the state database (AGE: since qkvm first saw the object; SYNC as\n"
      "the last run recorded it when no -f is given). When the host cannot be\n"
      "reached, the last recorded state is shown with a warning. -o yaml/json\n"
      "gives spec (as declared) and status (observed). Never waits for a\n"
      "running apply and never writes.\n" },
    { "describe", cmd_describe, "KIND NAME [-f PATH] [-c URI] [-o json|yaml]",
      "one object: spec, observed, drift, recent events",
      "Like 'get KIND NAME', plus the drift of the object (from a plan when -f is\n"
      "given, else the findings the last 'qkvm drift' recorded) and its last ten\n"
      "events.\n" },
    { "events", cmd_events, "[KIND [NAME]] [--since D] [--limit N] [-o wide|json|yaml]",
      "what happened to which object",
      "Events recorded by runs, oldest first (the last 50 unless --limit): objects\n"
      "created, updated, deleted, failed; drift detected and resolved; runs\n"
      "interrupted; locks taken over from a dead process.\n"
      "  --since D   only the last D (90s, 30m, 1h, 7d)\n" },
    { "import", cmd_import, "KIND NAME... | --all [-f PATH] [-c URI] [-o yaml|json]",
      "print manifests for objects of the host no project owns",
      "Print manifests (as 'qkvm render' prints them) for domains (KIND vm),\n"
      "networks, pools and volumes (KIND disk; POOL/VOLUME, or VOLUME when one\n"
      "pool has it) that no project owns, with what an imported VM uses (its\n"
      "volumes, their pools, its networks) unless the manifests given with -f\n"
      "declare it. Every value libvirt has is written out (power state, MACs,\n"
      "static leases as NIC ips...), so that after 'qkvm apply --adopt' with them\n"
      "nothing is re-created and the next plan has nothing to do.\n"
      "Refused, with the reason: another project's object (a qkvm mark, or a\n"
      "record in the state database), and what a manifest cannot express (a\n"
      "disk that is a file outside any pool, a name the schema refuses, a pool\n"
      "other than dir, a network mode or device model the schema lacks...). What\n"
      "the manifest leaves out (a cdrom, a <channel>) is a warning.\n"
      "  --all   every object of the host; what cannot be imported is skipped\n"
      "          with a warning\n"
      "Exit 1 when an object named was refused; 0 otherwise.\n" },
    { "version", cmd_version, "", "print the version", "Print the version.\n" },
    { NULL, NULL, NULL, NULL, NULL },
};

enum { OPT_STATE = 256, OPT_REFERENCE, OPT_YES, OPT_PRUNE, OPT_ADOPT, OPT_DETAILED,
       OPT_SHUTDOWN_TIMEOUT, OPT_LOCK_TIMEOUT, OPT_SINCE, OPT_PRUNE_OLDER, OPT_LIMIT,
       OPT_MAX_DELETIONS, OPT_RESTART, OPT_CONNECT_TIMEOUT, OPT_KEEPALIVE_INTERVAL,
       OPT_KEEPALIVE_COUNT, OPT_ALL };

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
    { "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
    { "since", required_argument, NULL, OPT_SINCE },
    { "prune-older-than", required_argument, NULL, OPT_PRUNE_OLDER },
    { "limit", required_argument, NULL, OPT_LIMIT },
    { "max-deletions", required_argument, NULL, OPT_MAX_DELETIONS },
    { "restart", no_argument, NULL, OPT_RESTART },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "keepalive-interval", required_argument, NULL, OPT_KEEPALIVE_INTERVAL },
    { "keepalive-count", required_argument, NULL, OPT_KEEPALIVE_COUNT },
    { "all", no_argument, NULL, OPT_ALL },
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
            if (strcmp(optarg, "table") == 0 || strcmp(optarg, "wide") == 0) {
                o->output = OUT_TABLE;
                o->wide = strcmp(optarg, "wide") == 0;
            }
            else if (strcmp(optarg, "json") == 0)
                o->output = OUT_JSON;
            else if (strcmp(optarg, "yaml") == 0)
                o->output = OUT_YAML;
            else {
                fprintf(stderr, "qkvm: unknown output format '%s' (table, wide, json or yaml)\n",
                        optarg);
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
        case OPT_CONNECT_TIMEOUT:
        case OPT_KEEPALIVE_INTERVAL: {
            long long ms;
            if (text_duration(optarg, &ms) < 0 || ms > 86400000LL ||
                (c == OPT_KEEPALIVE_INTERVAL && ms % 1000)) {
                fprintf(stderr, "qkvm: %s takes a duration like 30s or 5m%s, not '%s'\n",
                        c == OPT_CONNECT_TIMEOUT ? "--connect-timeout" : "--keepalive-interval",
                        c == OPT_KEEPALIVE_INTERVAL ? " (whole seconds)" : "", optarg);
                return -1;
            }
            if (c == OPT_CONNECT_TIMEOUT)
                o->virt.connect_timeout_ms = (int)ms;
            else
                o->virt.keepalive_interval = (int)(ms / 1000);
            break;
        }
        case OPT_KEEPALIVE_COUNT: {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || n < 1 || n > 100) {
                fprintf(stderr, "qkvm: --keepalive-count takes a number from 1 to 100, not "
                                "'%s'\n", optarg);
                return -1;
            }
            o->virt.keepalive_count = (unsigned)n;
            break;
        }
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
        case OPT_SHUTDOWN_TIMEOUT:
        case OPT_LOCK_TIMEOUT:
        case OPT_SINCE:
        case OPT_PRUNE_OLDER:
        case OPT_MAX_DELETIONS:
        case OPT_RESTART:
        case OPT_ALL:
        case OPT_LIMIT: {
            static const struct { int opt; const char *flag, *cmds; } allowed[] = {
                { OPT_YES, "--yes", " apply " },
                { OPT_PRUNE, "--prune", " apply plan " },
                { OPT_ADOPT, "--adopt", " apply plan " },
                { OPT_DETAILED, "--detailed-exitcode", " plan " },
                { OPT_SHUTDOWN_TIMEOUT, "--shutdown-timeout", " apply " },
                { OPT_LOCK_TIMEOUT, "--lock-timeout", " apply " },
                { OPT_SINCE, "--since", " history events " },
                { OPT_PRUNE_OLDER, "--prune-older-than", " history " },
                { OPT_LIMIT, "--limit", " history events " },
                { OPT_MAX_DELETIONS, "--max-deletions", " apply plan " },
                { OPT_RESTART, "--restart", " apply plan " },
                { OPT_ALL, "--all", " import " },
            };
            const char *flag = "";
            for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
                if (allowed[i].opt != c)
                    continue;
                flag = allowed[i].flag;
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
            else if (c == OPT_RESTART)
                o->restart = true;
            else if (c == OPT_ALL)
                o->all = true;
            else if (c == OPT_LOCK_TIMEOUT || c == OPT_SINCE || c == OPT_PRUNE_OLDER) {
                long long ms;
                if (text_duration(optarg, &ms) < 0 ||
                    (c == OPT_LOCK_TIMEOUT && ms > 86400000LL)) {
                    fprintf(stderr, "qkvm: %s takes a duration like 30s, 5m, 1h or 30d, not "
                                    "'%s'\n", flag, optarg);
                    return -1;
                }
                if (c == OPT_LOCK_TIMEOUT)
                    o->lock_timeout_ms = (int)ms;
                else if (c == OPT_SINCE)
                    o->since_ms = ms;
                else
                    o->prune_older_ms = ms;
            } else if (c == OPT_LIMIT || c == OPT_MAX_DELETIONS) {
                char *end;
                errno = 0;
                long n = strtol(optarg, &end, 10);
                if (errno || *end || end == optarg || n < 0) {
                    fprintf(stderr, "qkvm: %s takes a number%s, not '%s'\n",
                            c == OPT_LIMIT ? "--limit" : "--max-deletions",
                            c == OPT_LIMIT ? " (0 for all)" : "", optarg);
                    return -1;
                }
                if (c == OPT_LIMIT)
                    o->limit = n;
                else
                    o->max_deletions = n;
            } else {
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
    /* libvirt's clients must ignore SIGPIPE: a write to a daemon that died
     * would kill qkvm mid-apply, without a message or a record of the run.
     * Writes to a closed stdout then fail with EPIPE (see output_end). */
    signal(SIGPIPE, SIG_IGN);
    struct opts o = { 0 };
    o.shutdown_timeout = -1;
    o.lock_timeout_ms = 30000;
    o.since_ms = o.prune_older_ms = -1;
    o.limit = -1;
    o.max_deletions = -1;
    o.virt = (struct virt_limits){ 30000, 5, 3 };
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
    optind = 0;   /* 0, not 1: GNU getopt re-reads the ordering ("+" above) */
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
    return output_end(rc, 0);
}
