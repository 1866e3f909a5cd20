/* cli.h — what the commands of the command line share: their options, the
 * exit codes, the output formats, and one path for errors, warnings and
 * output (the front end's base; the commands live in cmd_*.c, the table of
 * them in main.c).
 *
 * Every failure is one line through cli_error ("qkvm: error: ..."), every
 * warning through cli_warning ("qkvm: warning: ..."), on stderr; neither
 * -q nor -o json silences them: -q quiets only what went well (cli_info).
 * A command builds one tree and cli_emit renders it: JSON, YAML, or the
 * command's own renderer of that tree for table and wide.
 */
#ifndef QKVM_CLI_H
#define QKVM_CLI_H

#include "virt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct arena;
struct diag;
struct session;
struct tree;

/* Exit codes, everywhere. Never renumber. */
enum cli_exit {
    CLI_EXIT_OK = 0,         /* success, nothing to do */
    CLI_EXIT_ERROR = 1,      /* an error: bad usage, unreadable input, a failure */
    CLI_EXIT_CHANGES = 2,    /* changes or drift present (plan --detailed-exitcode, drift) */
    CLI_EXIT_INVALID = 3,    /* invalid manifests */
};

enum cli_format { CLI_TABLE, CLI_WIDE, CLI_JSON, CLI_YAML, CLI_JUNIT };

struct cli {
    const char **files;
    size_t nfiles, files_cap;      /* a vec.h array */
    const char *connect;
    const char *node;        /* --node NAME */
    bool apply;              /* rebalance --apply */
    int parallelism;         /* apply --parallelism: actions at once per node; 0: the default (10) */
    int threshold;           /* rebalance --threshold, percent; 0: the default */
    int cpu_interval_ms;     /* rebalance --cpu-interval; -1: the default (1 s) */
    const char *state;
    const char *cache_dir;   /* --cache-dir: the image cache (pull); NULL: fetch's default */
    enum cli_format format;
    const char *output;      /* -o's word as given: `qkvm metrics` takes it as its file */
    const char *html;        /* report --html FILE */
    bool format_unknown;     /* -o named no format (refused unless the command is metrics) */
    bool quiet, verbose;
    bool color;              /* stderr is a terminal and NO_COLOR is unset */
    bool out_color;          /* the same for stdout */
    bool reference;          /* explain --reference */
    bool yes, prune, adopt;  /* apply */
    bool restart;            /* apply, plan: restart VMs whose changes need it */
    bool all;                /* import --all */
    bool detailed_exitcode;  /* plan */
    int shutdown_timeout;    /* apply: seconds, -1 unset */
    int lock_timeout_ms;     /* apply */
    long max_deletions;      /* plan, apply: -1 unset (the Project's maxDeletions) */
    long long since_ms;      /* history, events: -1 unset */
    long long prune_older_ms;/* history: -1 unset */
    long limit;              /* history, events: -1 unset */
    struct virt_limits virt; /* --connect-timeout, --keepalive-interval, --keepalive-count */
    /* run (the controller) */
    const char *listen;      /* --listen [ADDR:]PORT, or NULL */
    const char *token_file;  /* --token-file */
    bool log_json;           /* --log-format json */
    long long debounce_ms;   /* --debounce; -1 unset (500 ms) */
    long long observe_interval_ms; /* --observe-interval; -1 unset (5 min) */
    const char *git_url, *git_ref, *git_path;   /* --git, --ref, --path */
    const char *git_token_file, *git_ssh_key, *git_cache;
    const char *webhook_secret_file;
    const char *alertmanager;            /* --alertmanager URL */
    const char *notify_webhook_file;     /* --notify-webhook-file: URLs, one per line */
    const char *notify_secret_file;      /* --notify-secret-file: signs the deliveries */
    const char *verify_keyring;  /* --verify-commits KEYRING */
    long long interval_ms;   /* --interval: Git fetches; -1 unset (1 min) */
    long long node_grace_ms; /* --node-grace; -1 unset (10 s) */
    long long fence_timeout_ms; /* --fence-timeout; 0 unset (60 s) */
};

/* "qkvm: error: ..." / "qkvm: warning: ..." on stderr, always. cli_error
 * returns CLI_EXIT_ERROR for `return cli_error(...)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "qkvm: ..." on stderr, unless -q: progress and what went well. */
void cli_info(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The manifests' findings (file:line:col: ...), errors and warnings. */
void cli_findings(const struct cli *c, const struct diag *d);

/* Render a command's tree: JSON or YAML, else `table` (which may look at
 * c->format for wide). stream: a sequence is written as a YAML stream of
 * documents (render). Returns an exit code (a write error is one). */
int cli_emit(const struct cli *c, struct tree *t, bool stream,
             void (*table)(FILE *out, const struct cli *c, const struct tree *t,
                          const void *payload),
             const void *payload);
/* The end of stdout for text written directly: a reader that went away is
 * not an error, a full disk is. */
int cli_output_end(int rc);

/* The pieces commands share: a kind from what a user types (an error
 * said, -1), and an event as the one tree events and describe print. */
enum model_kind;
struct store_event;
int cli_kind_arg(const char *word, enum model_kind *k);
struct tree *cli_event_tree(struct arena *a, const struct store_event *ev);
/* A run as history prints it; `actions` is its number of actions, or (one
 * run, acts) the list. */
struct store_run;
struct tree *cli_run_tree(struct arena *a, const struct store_run *r, struct tree *acts);

/* Write path atomically: fn writes into a temporary file in path's
 * directory, which is flushed, synced, given `mode` (-1: an earlier
 * file's mode, else 0666 less the umask) and renamed over path, so a
 * reader never sees half of it. An error is said (with path) and returns
 * -1; nothing is left behind. */
int cli_write_atomically(const char *path, int (*fn)(FILE *f, const void *payload),
                         const void *payload, int mode);

/* Seconds on a monotonic clock. */
double cli_now(void);
/* Local time of a timestamp (ms since the epoch), "-" for 0. */
void cli_when(int64_t ms, char *buf, size_t size);

/* The commands, one group per file (cmd_manifest.c, cmd_reconcile.c,
 * cmd_history.c, cmd_inventory.c, cmd_import.c, cmd_image.c). main.c's table says what setup each
 * needs (session.h: manifests, store, lock, connection, observation, plan);
 * s is that open session, or NULL for a command that needs none. argv holds
 * the positional arguments, whose number the table has checked. */
#define CLI_COMMAND(name) int name(struct cli *c, struct session *s, int argc, char **argv)
CLI_COMMAND(cmd_validate);
CLI_COMMAND(cmd_run);
CLI_COMMAND(cmd_render);
CLI_COMMAND(cmd_explain);
CLI_COMMAND(cmd_schema);
CLI_COMMAND(cmd_version);
CLI_COMMAND(cmd_plan);
CLI_COMMAND(cmd_apply);
CLI_COMMAND(cmd_drift);
CLI_COMMAND(cmd_metrics);
CLI_COMMAND(cmd_report);
CLI_COMMAND(cmd_rebalance);
CLI_COMMAND(cmd_history);
CLI_COMMAND(cmd_events);
CLI_COMMAND(cmd_get);
CLI_COMMAND(cmd_describe);
CLI_COMMAND(cmd_import);
CLI_COMMAND(cmd_pull);
CLI_COMMAND(cmd_node);

#endif
