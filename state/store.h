/* store.h — the state database: the sqlite adapter, the only code that
 * includes sqlite3.h.
 *
 * The store records; it is never the source of truth (the manifests and
 * libvirt are). What it keeps:
 *   runs       one row per plan, apply, drift (later observe) run
 *   actions    an apply's actions, each written before it starts (pending)
 *              and updated when it ends (done, failed with libvirt's message)
 *   findings   drift findings as intervals: opened by the drift run that
 *              first saw one, closed by the first that no longer did
 *   owned      the pools and volumes qkvm created or adopted
 *   objects    the last thing seen of every object per node (state, sync,
 *              declared spec), and when qkvm first saw it (AGE)
 *   nodes      node health history, one row per run and node
 *   placements VM -> node (filled by the placement work)
 *   events     what happened to which object, for `qkvm events`/`describe`
 *
 * Durability: WAL journal, synchronous=NORMAL (a committed transaction
 * survives the process being killed at any point; power loss may lose the
 * last few, never corrupt the file), foreign keys on, a busy timeout. The
 * schema is versioned by PRAGMA user_version and migrated forward at open;
 * a file that is not a qkvm database, is corrupt, was written by a newer
 * qkvm, or whose schema differs from what qkvm's migrations make (a column,
 * table or index added or removed by hand) is refused with a message and
 * never written to.
 *
 * Locking: one reconcile (apply) at a time per state file, by an exclusive
 * flock(2) on PATH.lock, PATH being the file the given path resolves to
 * (symbolic links followed), so two spellings of one database share one
 * lock. The kernel drops it when the holder dies, so a dead holder never
 * blocks anyone; the file's content (pid, what, since) names the holder
 * for the message a waiter prints, and finding it non-empty when taking
 * the lock means the previous holder died: that takeover is recorded as an
 * event. Readers (plan, get, history...) never take it.
 *
 * Timestamps are milliseconds since the epoch, UTC.
 */
#ifndef QKVM_STORE_H
#define QKVM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct store;

#define STORE_VERSION 5          /* the schema this binary writes */
#define STORE_DEFAULT_KEEP_RUNS 100000
#define STORE_DEFAULT_KEEP_DAYS 90

enum store_mode {
    STORE_READ,     /* never writes; a missing file opens as an empty store */
    STORE_WRITE,    /* creates the file (not its directory) and migrates */
};

/* Open the database at path. NULL with err on failure. STORE_READ of a
 * missing file succeeds with an empty, read-only store. */
struct store *store_open(const char *path, enum store_mode mode, char *err, size_t errlen);
void store_close(struct store *s);                  /* accepts NULL; unlocks */
const char *store_path(const struct store *s);
bool store_writable(const struct store *s);
int64_t store_now(void);                            /* ms since the epoch */

/* For tests: create a fresh database at schema version `version`
 * (0 < version <= STORE_VERSION) without migrating further, then run
 * `seed` (SQL, may be NULL) in it. */
int store_create_at_version(const char *path, int version, const char *seed, char *err,
                            size_t errlen);

/* Run `sql` (a test helper and for sqlite's own checks): the first column
 * of the first row as text into out. */
int store_query_text(struct store *s, const char *sql, char *out, size_t size,
                     char *err, size_t errlen);

/* For tests: the start time (field 22, clock ticks after boot) in a line of
 * /proc/PID/stat, 0 when the line is malformed. A run records it beside its
 * pid, so that a reused pid does not pass for the process that ran it. */
long long store_proc_starttime(const char *stat_line);

/* ---- the reconcile lock ---- */

struct store_holder {
    int pid;
    char what[64];                /* "apply" */
    int64_t since;
};

/* Wait up to timeout_ms for the lock. On timeout: -1 and err says who holds
 * it ("state locked by pid N (apply started 12:03:05)"). When the previous
 * holder died holding it, *prev gets its record and *took_over is true. */
int store_lock(struct store *s, const char *what, int timeout_ms, bool *took_over,
               struct store_holder *prev, char *err, size_t errlen);
void store_unlock(struct store *s);

/* ---- transactions (many small writes made atomic, and faster) ---- */
int store_begin(struct store *s, char *err, size_t errlen);
int store_commit(struct store *s, char *err, size_t errlen);
void store_rollback(struct store *s);

/* ---- runs and actions ---- */

/* How a run ended, as stored (store_result_name: "ok") and shown. */
enum store_result {
    STORE_RUN_RUNNING,       /* not ended (yet) */
    STORE_RUN_OK,
    STORE_RUN_CHANGES,       /* a plan with something to do */
    STORE_RUN_DRIFT,         /* a drift run that found some */
    STORE_RUN_FAILED,        /* an apply where something failed or could not be applied */
    STORE_RUN_ERROR,         /* the run could not do its work */
    STORE_RUN_INVALID,       /* invalid manifests */
    STORE_RUN_INTERRUPTED,   /* its process died */
    STORE_RESULT_COUNT
};
const char *store_result_name(enum store_result r);

/* An action's status in the journal (store_status_name: "pending"). */
enum store_status {
    STORE_ACTION_PENDING,    /* written before libvirt is asked */
    STORE_ACTION_DONE,
    STORE_ACTION_FAILED,
    STORE_ACTION_SKIPPED,
    STORE_ACTION_INTERRUPTED,/* pending when its process died */
    STORE_STATUS_COUNT
};
const char *store_status_name(enum store_status s);

struct store_run {
    int64_t id;
    const char *kind, *node, *source, *commit;
    int pid;
    int64_t started, ended;        /* ended 0: not ended */
    enum store_result result;
    const char *summary, *error;
    size_t nactions;
    const char *last_action;       /* "vm/web-1 create pending" of an interrupted run */
};

int store_run_begin(struct store *s, const char *kind, const char *node, const char *source,
                    const char *commit, int64_t *id, char *err, size_t errlen);
/* The node is known only once connected (libvirt's default URI). */
int store_run_set_node(struct store *s, int64_t id, const char *node, char *err, size_t errlen);
int store_run_end(struct store *s, int64_t id, enum store_result result, const char *summary,
                  const char *error, char *err, size_t errlen);
/* Mark runs whose process is gone as interrupted, with an event for each:
 * its pid does not run, or runs with another start time (the pid was
 * reused). Returns how many, or -1. */
int store_reap(struct store *s, char *err, size_t errlen);
/* Apply the retention rules: runs older than keep_days or beyond the newest
 * keep_runs go, with their actions, closed findings, node rows and events.
 * Returns the number of runs removed, or -1. */
long store_prune(struct store *s, long keep_runs, int64_t older_than_ms, char *err,
                 size_t errlen);

struct store_action {
    int64_t run;
    long seq;
    const char *kind, *name, *verb, *reason;
    const char *before, *after;    /* JSON text, may be NULL */
    enum store_status status;
    const char *error;
    int64_t started, ended;
};

int store_action_begin(struct store *s, const struct store_action *a, char *err, size_t errlen);
int store_action_end(struct store *s, int64_t run, long seq, enum store_status status,
                     const char *error, char *err, size_t errlen);

/* Runs newest first: at most limit (0: all), started at or after since. */
int store_runs(struct store *s, struct arena *a, long limit, int64_t since,
               struct store_run **out, size_t *n, char *err, size_t errlen);
/* One run; 1 when there is no such run. */
int store_run_get(struct store *s, struct arena *a, int64_t id, struct store_run *out,
                  struct store_action **actions, size_t *nactions, char *err, size_t errlen);

/* ---- drift findings ---- */

struct store_finding {
    const char *category, *kind, *name, *field, *desired, *actual, *message;
    int64_t opened, closed;        /* read back: when it started / ended */
    int64_t opened_run, closed_run;
};

/* Record what drift run `run` found on `node`: findings not open yet are
 * opened (event DriftDetected), open ones not found any more are closed
 * (event DriftResolved). */
int store_findings_record(struct store *s, int64_t run, const char *node,
                          const struct store_finding *f, size_t n, char *err, size_t errlen);
/* The same for a run that looked at part of the node: only the open
 * findings of objects of `kind` named in names, of any category but
 * `except` and any field but `except_field` (NULL: none), may be closed. */
struct store_findings_scope {
    const char *kind;
    const char *const *names;
    size_t n;
    const char *except, *except_field;
};
int store_findings_record_scoped(struct store *s, int64_t run, const char *node,
                                 const struct store_findings_scope *scope,
                                 const struct store_finding *f, size_t n, char *err,
                                 size_t errlen);
/* Close the open findings of one object on node (an apply changed it to
 * match the manifests), with a DriftResolved event naming run. */
int store_findings_resolve(struct store *s, int64_t run, const char *node, const char *kind,
                           const char *name, char *err, size_t errlen);
/* The findings a run saw (drift runs), or the open ones of a node (run 0). */
int store_findings(struct store *s, struct arena *a, int64_t run, const char *node,
                   struct store_finding **out, size_t *n, char *err, size_t errlen);

/* ---- ownership of pools and volumes ---- */

struct store_owned {
    const char *pool_uuid;
    const char *volume;            /* NULL for the pool itself */
    const char *name;              /* the pool's name, or the volume's */
    bool protect;
    const char *project;           /* the project that created or adopted it */
    const char *ident;             /* volumes: what identifies the file qkvm created
                                    * ("ino:btime" of a local file), "" unknown; a put
                                    * with "" keeps the recorded one */
    const char *labels;            /* "k=v\n..." as last declared, "" none */
    const char *node;              /* read back: the URI of the host it was recorded on,
                                    * "" in records from before that was kept */
    const char *digest;            /* volumes: SHA-256 of the content (an Image's, a
                                    * seed's), "" none; a put with "" keeps the recorded one */
};

int store_owned_put(struct store *s, const struct store_owned *o, const char *node,
                    int64_t run, char *err, size_t errlen);
int store_owned_delete(struct store *s, const char *pool_uuid, const char *volume,
                       char *err, size_t errlen);
int store_owned_all(struct store *s, struct arena *a, struct store_owned **out, size_t *n,
                    char *err, size_t errlen);

/* ---- objects: what was last seen, and since when ---- */

struct store_object {
    const char *node, *kind, *name;
    const char *state, *sync;
    long long cpus, memory;        /* VMs: vCPUs and bytes; -1 unknown */
    const char *hash, *spec;       /* spec: the declared object as JSON, or NULL */
    int64_t created, updated;      /* read back */
};

/* Upsert the objects one run saw on node (in one transaction): created is
 * kept, the rest replaced; spec is kept when o->spec is NULL. */
int store_objects_put(struct store *s, int64_t run, const struct store_object *o, size_t n,
                      char *err, size_t errlen);
/* Objects of a kind ("VM"...), all nodes when node is NULL, one when name. */
int store_objects(struct store *s, struct arena *a, const char *node, const char *kind,
                  const char *name, struct store_object **out, size_t *n, char *err,
                  size_t errlen);

/* ---- node health ---- */

int store_node_seen(struct store *s, int64_t run, const char *node, const char *label,
                    const char *state, const char *message, char *err, size_t errlen);
struct store_node {
    const char *node, *label, *state, *message;
    int64_t first, last;           /* first seen, last observation */
};
int store_nodes(struct store *s, struct arena *a, struct store_node **out, size_t *n,
                char *err, size_t errlen);

/* ---- placements: which node placement put a VM on, and why ---- */

struct store_placement {
    const char *vm, *node, *reason;
    int64_t placed;                /* since when it is on that node (ms) */
};
int store_placement_put(struct store *s, int64_t run, const char *vm, const char *node,
                        const char *reason, char *err, size_t errlen);
int store_placements(struct store *s, struct arena *a, struct store_placement **out, size_t *n,
                     char *err, size_t errlen);

/* ---- events ---- */

struct store_event {
    int64_t at, run;
    const char *type;              /* Normal, Warning */
    const char *reason, *kind, *name, *node, *message;
};

int store_event(struct store *s, const struct store_event *e, char *err, size_t errlen);
/* Events at or after since, oldest first; kind/name filter when not NULL;
 * at most limit (the newest), 0 for all. */
int store_events(struct store *s, struct arena *a, int64_t since, const char *kind,
                 const char *name, long limit, struct store_event **out, size_t *n,
                 char *err, size_t errlen);

/* ---- what `qkvm metrics` counts (over the runs the database keeps) ---- */

struct store_run_stat {
    const char *kind;
    enum store_result result;
    double seconds;
};
struct store_stats {
    struct store_run_stat *runs;       /* every ended run */
    size_t nruns;
    int64_t last_sync_ok;              /* the end of the last apply or sync that
                                        * succeeded, ms; 0 none */
    const char *last_sync_commit;      /* its commit, or NULL/"" */
    unsigned long actions_failed;      /* actions that failed, every kind of run */
    unsigned long heals_done, heals_failed;   /* actions of observe runs */
    unsigned long fences_ok, fences_failed;   /* NodeFenced, FenceFailed events */
    unsigned long failovers_ok, failovers_failed;   /* FailedOver events; failover runs
                                                     * that failed */
    unsigned long stale_removed;       /* StaleCopyRemoved events */
};
int store_stats(struct store *s, struct arena *a, struct store_stats *out, char *err,
                size_t errlen);

#endif
