/* controller.c — qkvm run: the long-running reconcile loop.
 *
 * One process per state database (an flock()ed file beside it, released
 * by the kernel when the process ends). The source is one or more
 * directories (-f), read whole into memory, watched with inotify:
 * recursively, new subdirectories included, debounced (--debounce), and
 * an editor's save-by-rename is a move into a watched directory like any
 * other. What the loop applies is always the last valid manifest set: a
 * set with errors is reported (file:line:col, in the log, /api/v1/status
 * and the metrics) and the previous one stays.
 *
 * Two kinds of run, both journalled like a command line's and shown by
 * `qkvm history`:
 *   sync     a new valid revision (the SHA-256 of the set's files) is
 *            applied whole, as `qkvm apply --yes` would: creations,
 *            updates, and deletions only where a Policy says
 *            prune: delete, within the deletion guards. A sync that fails
 *            is retried with backoff (10 s doubling to 5 min).
 *   observe  every --observe-interval, a thorough observation (orphans,
 *            stray qemu processes, missing disk files, edits of the
 *            persistent definition); its findings are recorded, and the
 *            drift of objects a Policy with drift.mode: heal selects is
 *            repaired at once. Everything else is held (reported only).
 *            Heals of one object back off: the first at once, then no
 *            sooner than 10 s, 20 s, ... 5 min after the previous one, so a
 *            guest that crashes on start is not restarted in a tight loop;
 *            the count resets after 10 min without a heal. A domain
 *            event brings an observation of the VMs it names alone (the
 *            quick check), or of the nodes when that is not enough.
 * The first run after start is a sync: starting the controller applies
 * the manifests, as `qkvm apply` would.
 *
 * Signals: SIGTERM and SIGINT end the loop after the action under way
 * (apply's own handlers stop what is not started, journalled so) and exit
 * 0; SIGHUP re-reads the source and runs an observation at once.
 *
 * HTTP (--listen): /healthz, /readyz (a sync has succeeded), /metrics
 * (Prometheus text format), /api/v1/status (JSON). 127.0.0.1 by default;
 * any other address needs --token-file, whose token every request must
 * carry as "Authorization: Bearer TOKEN".
 */
#include "cli.h"

#include "arena.h"
#include "dashboard.h"
#include "diag.h"
#include "digest.h"
#include "engine.h"
#include "fence.h"
#include "git.h"
#include "gpg.h"
#include "httpd.h"
#include "inventory.h"
#include "jsondoc.h"
#include "observe.h"
#include "report.h"
#include "manifest.h"
#include "metrics.h"
#include "notify.h"
#include "schema.h"
#include "session.h"
#include "store.h"
#include "text.h"
#include "tree.h"
#include "validate.h"
#include "virt.h"
#include "virtxml.h"
#include "vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEAL_FIRST_DELAY_MS 10000
#define HEAL_MAX_DELAY_MS 300000
#define HEAL_RESET_MS 600000
#define SYNC_RETRY_MS 10000
#define SYNC_RETRY_MAX_MS 300000
#define HOOK_GAP_MS 2000

/* Run durations' histogram buckets: metrics.c's. */
#define NBUCKETS METRICS_BUCKETS
#define buckets metrics_bucket_le

enum run_kind { RUN_SYNC, RUN_OBSERVE, RUN_FAILOVER, RUN_KINDS };
static const char *const run_kind_names[RUN_KINDS] = { "sync", "observe", "failover" };

struct heal {                 /* one object's heals, for the backoff */
    char *key;                /* "VM/web-1" */
    int count;
    int64_t last_ms;
};

/* A node's health (see "node health" below). */
enum health { H_UNKNOWN, H_READY, H_SUSPECT, H_FAILED, H_FENCED, H_MAINTENANCE, H_STATES };
/* the names: metrics.c's, which `qkvm metrics` prints too */
#define health_names metrics_node_states
_Static_assert(H_STATES == METRICS_NODE_STATES, "the node states of metrics.h");

struct ctl;
struct watch;

struct known {                /* a finding, as "the same finding" is told between runs */
    char *node, *kind, *name, *category, *field;      /* node "": one host */
};

struct ev_note {              /* a domain event: node, domain, what happened */
    struct watch *w;
    char *vm, *what;
};

struct where {                /* a declared VM, and the one node it was seen on */
    char *vm;
    struct watch *w;
};

struct watch {                /* a node: its connection for domain events, and its health */
    struct ctl *x;
    char *name, *uri;         /* uri NULL: libvirt's default */
    struct virt *v;           /* NULL: not connected */
    int64_t retry_at;
    bool wanted;
    bool was_wanted;          /* by the revision before (watch_nodes) */
    bool lost;                /* the close callback fired (under ev_mu) */
    /* health */
    enum health state;
    int64_t since;            /* ms (monotonic) in this state */
    int64_t since_wall;       /* the same, ms since the epoch */
    char *why;                /* why it left ready, or the last fence's result */
    int flaps;                /* came back before it was fenced */
    /* the Node manifest's: a Node (else the implicit node: never fenced) */
    bool declared, maintenance;
    struct arena *fa;         /* the fence spec's strings */
    struct fence_spec fs;
    struct fence *fence;      /* under way, or NULL */
    int fence_tries;
    int64_t fence_at;         /* the next attempt (ms), 0 none */
    bool manual_said;
    bool seen_ready;          /* ready once since the controller started */
    bool confirm_off;         /* fenced: a connection attempt must fail before failover */
    bool restored;            /* fenced by an earlier controller (the state database) */
    bool fence_failed;        /* its last fence failed (a QkvmFenceFailed alert stands) */
    char *fence_why;          /* what the fence said */
    int tries;                /* connection attempts failed in this state (backoff) */
};

struct ctl {
    struct cli *c;
    bool json;
    const char *source;       /* "dir:PATH[,PATH]" or "git:URL#REF:PATH" */
    struct gitsrc *git;       /* --git, or NULL: directories */
    char seen_commit[41];     /* the last commit fetched */
    char good_commit[41];     /* the commit of the last valid revision */
    char synced_commit[41];
    int64_t fetch_at;         /* --git: fetch then */
    int64_t hook_ok_at;       /* a webhook may fetch from then on */
    char *git_cache;
    char *shown_url;          /* --git's URL without credentials */
    struct gpgv *gpg;         /* --verify-commits, or NULL */
    atomic_int webhook;       /* a signed webhook came: fetch at once */
    char *webhook_secret;
    size_t secret_len;
    atomic_ulong hooks_ok, hooks_refused;
    int64_t hook_logged_ms;
    const char *hook_why;             /* the last refusal's reason (a literal), under mu */
    unsigned long hooks_said;         /* refusals logged so far (the loop's) */
    /* the source */
    int ino;                  /* inotify fd, -1 none */
    int64_t debounce_at;      /* ms: read the source then; 0 none */
    char seen_rev[65];        /* the last revision read (valid or not) */
    struct manifest_set good; /* the last valid set */
    char good_rev[65];        /* "" before one */
    char synced_rev[65];      /* the revision whose sync succeeded last */
    /* timers, ms on CLOCK_MONOTONIC */
    int64_t sync_at, observe_at;
    int64_t heal_at;          /* a heal held by its backoff may run then */
    int sync_failures;
    /* heals */
    VEC(struct heal) heals;
    const struct model *cur;  /* the run's model, for hold() */
    /* the findings of the last observation, to log only new ones */
    VEC(struct known) findings;
    /* libvirt events: one connection per node, and what they said */
    VEC(struct watch *) watches;
    pthread_mutex_t ev_mu;
    VEC(struct ev_note) events; /* since the last observation */
    VEC(char *) declared;     /* the VMs of the last valid revision (under ev_mu) */
    int64_t event_at;         /* ms: observe then (the first event + a short delay) */
    VEC(struct where) where;  /* of the last run: where each declared VM was (the loop's) */
    bool by_node;             /* the last run's findings name their node (a merged plan) */
    /* wake-up and stop */
    int wake[2];
    /* what the HTTP thread serves: rebuilt by the loop, under mu */
    pthread_mutex_t mu;
    char *metrics, *status;
    bool ready;
    char *token;
    /* counters (the loop's) */
    unsigned long runs[RUN_KINDS][STORE_RESULT_COUNT];
    unsigned long hist[RUN_KINDS][NBUCKETS + 1];
    double hist_sum[RUN_KINDS];
    unsigned long apply_failures, heals_done, heals_failed, source_errors;
    /* the last run's objects, by kind and sync state (its inventory after
     * the apply); a quick check leaves them as they are */
    size_t objects[MODEL_KIND_COUNT][INVENTORY_SYNC_COUNT];
    int64_t last_sync_ok_wall;        /* ms since the epoch, 0 none */
    int64_t last_observe_wall;
    size_t manifest_errors;           /* of the last revision read */
    char *last_error;                 /* of the last run or read, or NULL */
    struct arena *snap;               /* drift and nodes of the last run */
    struct tree *drift, *nodes, *foreign;
    struct arena *errs_a;             /* the last invalid revision's errors */
    struct tree *errors;
    size_t nodes_ready, nodes_unreachable;
    /* node health, fencing, failover */
    int64_t grace_ms, fence_timeout_ms;
    int64_t failover_at;              /* run a failover then (a node was fenced), 0 none */
    int64_t alive_at;                 /* check the connections' liveness then */
    int failover_failures;            /* failover runs that failed in a row */
    const struct session *cur_s;      /* the run's session, for hold() */
    int cur_kind;                     /* the run's enum run_kind */
    unsigned long fences_ok, fences_failed, failovers_ok, failovers_failed, stale_removed;
    struct arena *fo_a;               /* the recent failovers shown in the status */
    struct tree *failovers;
    struct arena *objects_a;          /* the last full run's objects (rows), for the */
    struct tree *objects_list;        /* status and the dashboard; a quick check keeps them */
    const char *project;              /* the last run's (objects_a) */
    struct notify *notify;            /* --alertmanager, --notify-webhook-file; or NULL */
    long long generation;             /* of the status: each rebuild one more (the page polls) */
};

static volatile sig_atomic_t stop_sig, hup_sig;
static atomic_int wake_fd = -1;   /* the signal handler's and the other threads' way in */

static void on_signal(int sig)
{
    int e = errno;
    if (sig == SIGHUP)
        hup_sig = 1;
    else
        stop_sig = sig;
    if (wake_fd >= 0) {
        ssize_t r = write(wake_fd, "x", 1);
        (void)r;
    }
    errno = e;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the log: one line per event ---- */

static void log_line(struct ctl *x, const char *level, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* with_rev false: from a thread that runs beside the loop (the notifier),
 * which must not read the revision the loop writes */
static void log_msg_rev(struct ctl *x, const char *level, const char *object, const char *msg,
                        bool with_rev)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    char clean[2048];
    text_escape(clean, sizeof(clean), msg, strlen(msg));
    const char *rev = with_rev && x->good_rev[0] ? x->good_rev : "";
    const char *commit = with_rev ? x->good_commit : "";
    if (x->json) {
        struct arena *a = arena_new();
        struct tree *t = tree_new_map(a);
        tree_map_str(a, t, "time", arena_printf(a, "%s.%03ldZ", when, ts.tv_nsec / 1000000));
        tree_map_str(a, t, "level", level);
        tree_map_str(a, t, "msg", clean);
        tree_map_str(a, t, "revision", rev);
        if (*commit)
            tree_map_str(a, t, "commit", commit);
        if (object)
            tree_map_str(a, t, "object", object);
        char *j = jsondoc_string(t);
        printf("%s\n", j ? j : "{}");
        free(j);
        arena_free(a);
    } else {
        /* the commit when the source is Git, else the revision */
        printf("%s.%03ldZ %-5s %.12s %s\n", when, ts.tv_nsec / 1000000, level,
               *commit ? commit : *rev ? rev : "-", clean);
    }
    fflush(stdout);
}

static void log_msg(struct ctl *x, const char *level, const char *object, const char *msg)
{
    log_msg_rev(x, level, object, msg, true);
}

static void log_line(struct ctl *x, const char *level, const char *object, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg(x, level, object, msg);
}

/* apply's per-action lines ("vm/web-1: created", "hv1: vm/web-1: ...")
 * through a stdio stream of our own: each a log line with its object. */
struct cookie {
    struct ctl *x;
    pthread_mutex_t mu;
    char buf[4096];
    size_t len;
};

static void cookie_line(struct cookie *k, char *line)
{
    /* the object: "kind/name:" as the first word, or the second after a
     * node's name */
    char *obj = NULL, *p = line;
    for (int w = 0; w < 2 && p && *p && !obj; w++) {
        size_t n = strcspn(p, " ");
        if (n > 1 && p[n - 1] == ':' && memchr(p, '/', n))
            obj = strndup(p, n - 1);
        p = p[n] ? p + n + 1 : NULL;
    }
    log_msg(k->x, strstr(line, "FAILED") ? "error" : "info", obj, line);
    free(obj);
}

static ssize_t cookie_write(void *c, const char *buf, size_t size)
{
    struct cookie *k = c;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n' || k->len == sizeof(k->buf) - 1) {
            k->buf[k->len] = '\0';
            if (k->len)
                cookie_line(k, k->buf);
            k->len = 0;
            if (buf[i] == '\n')
                continue;
        }
        if (buf[i] != '\r')
            k->buf[k->len++] = buf[i];
    }
    pthread_mutex_unlock(&k->mu);
    return (ssize_t)size;
}

/* ---- session hooks ---- */

static void say(void *payload, enum session_level level, const char *msg)
{
    struct ctl *x = payload;
    if (level == SESSION_VERBOSE && !x->c->verbose)
        return;
    log_msg(x, level == SESSION_ERROR     ? "error"
               : level == SESSION_WARNING ? "warn"
                                          : "info",
            NULL, msg);
}

static void no_findings(void *payload, const struct diag *d)
{
    (void)payload;
    (void)d;     /* the set was checked when read: it is valid */
}

/* ---- the source: directories watched with inotify ---- */

static void watch_tree(struct ctl *x, const char *dir, int depth)
{
    if (depth > MANIFEST_MAX_WALK_DEPTH)
        return;
    if (inotify_add_watch(x->ino, dir, IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                                           IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            log_line(x, "warn", NULL, "cannot watch '%s': %s; it is read again every "
                     "observation", dir, strerror(errno));
        return;
    }
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat sb;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
            lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
            continue;
        watch_tree(x, path, depth + 1);
    }
    closedir(dh);
}

/* Watch every -f directory (a file: the directory it is in). Called again
 * after changes: new subdirectories get their watch (inotify_add_watch of
 * a watched directory only returns its watch). */
static void watch_all(struct ctl *x)
{
    if (x->ino < 0)
        return;
    for (size_t i = 0; i < x->c->nfiles; i++) {
        struct stat sb;
        const char *p = x->c->files[i];
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            watch_tree(x, p, 0);
        } else {
            char *d = xstrdup(p), *slash = strrchr(d, '/');
            if (slash)
                *(slash == d ? slash + 1 : slash) = '\0';
            watch_tree(x, slash ? d : ".", MANIFEST_MAX_WALK_DEPTH);
            free(d);
        }
    }
}

static void rebuild_status(struct ctl *x);
static void watch_nodes(struct ctl *x, const struct model *m);

/* --verify-commits: is the commit signed by a key of the keyring? Said
 * either way; a commit that is not is never read. *retry: the answer is
 * not about the commit (its signature could not be read or checked:
 * GnuPG, the cache): asked again at the next fetch. */
static bool commit_signed(struct ctl *x, const char *commit, bool *retry)
{
    *retry = false;
    char *sig, *data, err[1024], fpr[128];
    size_t siglen, len;
    int has = gitsrc_signature(x->git, commit, &sig, &siglen, &data, &len, err, sizeof(err));
    const char *why = NULL;
    if (has < 0) {
        why = err;
        *retry = true;
    } else if (has == 0)
        why = "it is not signed";
    else if (gpgv_verify(x->gpg, sig, siglen, data, len, fpr, sizeof(fpr), err, sizeof(err)) < 0) {
        why = err;
        *retry = strncmp(err, "the signature cannot be checked", 31) == 0;
    }
    free(sig);
    free(data);
    if (why) {
        x->source_errors++;
        char msg[1400];
        snprintf(msg, sizeof(msg), "commit %.12s is not applied: %s (--verify-commits)", commit,
                 why);
        log_line(x, "error", NULL, "%s; %s", msg, x->good_rev[0] ? "the last good commit stays "
                 "applied" : "nothing applied yet");
        free(x->last_error);
        x->last_error = xstrdup(msg);
        return false;
    }
    log_line(x, "info", NULL, "commit %.12s is signed by %s, a key of the keyring", commit, fpr);
    return true;
}

/* Read the source; a new valid revision becomes the one applied. */
static void read_source(struct ctl *x)
{
    struct manifest_set set = { 0 };
    struct diag d;
    diag_init(&d);
    int rc;
    char commit[41] = "";
    if (x->git) {
        char err[2048];
        bool rewritten = false;
        if (gitsrc_fetch(x->git, x->seen_commit, commit, &rewritten, err, sizeof(err)) < 0) {
            x->source_errors++;
            log_line(x, "error", NULL, "%s; %s", err, x->good_rev[0] ? "the last valid commit "
                     "stays applied" : "nothing applied yet");
            free(x->last_error);
            x->last_error = xstrdup(err);
            diag_dispose(&d);
            rebuild_status(x);
            return;
        }
        if (strcmp(commit, x->seen_commit) == 0) {
            diag_dispose(&d);
            return;                 /* no new commit */
        }
        if (rewritten)
            log_line(x, "warn", NULL, "%s was rewritten (a force push): %.12s does not descend "
                     "from %.12s, the last commit fetched", x->c->git_ref ? x->c->git_ref :
                     "HEAD", commit, x->seen_commit);
        log_line(x, "info", NULL, "fetched commit %s", commit);
        bool retry = false;
        if (x->gpg && !commit_signed(x, commit, &retry)) {
            if (!retry)                    /* refused: not read again */
                snprintf(x->seen_commit, sizeof(x->seen_commit), "%s", commit);
            diag_dispose(&d);
            rebuild_status(x);
            return;
        }
        rc = gitsrc_read(x->git, commit, &set, &d, err, sizeof(err));
        if (rc < 0) {
            /* not the commit's fault, maybe: read again on the next fetch */
            x->source_errors++;
            log_line(x, "error", NULL, "cannot read commit %.12s: %s; %s", commit, err,
                     x->good_rev[0] ? "the last valid commit stays applied"
                                    : "nothing applied yet");
            free(x->last_error);
            x->last_error = xstrdup(err);
            manifest_set_free(&set);
            diag_dispose(&d);
            rebuild_status(x);
            return;
        }
        snprintf(x->seen_commit, sizeof(x->seen_commit), "%s", commit);
    } else {
        rc = manifest_read((const char *const *)x->c->files, x->c->nfiles, &d, &set);
    }
    char rev[65];
    manifest_set_digest(&set, rev);
    if (rc == 0 && strcmp(rev, x->seen_rev) == 0 && !d.errors) {
        /* the same files: a commit that changes nothing qkvm reads */
        if (*commit && strcmp(rev, x->good_rev) == 0) {
            snprintf(x->good_commit, sizeof(x->good_commit), "%s", commit);
            if (strcmp(x->good_rev, x->synced_rev) == 0)
                snprintf(x->synced_commit, sizeof(x->synced_commit), "%s", commit);
            rebuild_status(x);
        }
        manifest_set_free(&set);
        diag_dispose(&d);
        return;
    }
    snprintf(x->seen_rev, sizeof(x->seen_rev), "%s", rev);
    struct model *m = model_new();
    struct manifest_stats st;
    manifest_parse(m, &set, &d, &st);
    validate_model(m, &d);
    diag_sort(&d);
    if (rc == 0 && !d.errors)
        watch_nodes(x, m);
    model_free(m);
    if (rc < 0 || d.errors) {
        x->source_errors++;
        x->manifest_errors = d.errors;
        if (*commit)
            log_line(x, "error", NULL, "commit %.12s is invalid (%zu error%s): the last valid "
                     "one%s stays applied", commit, d.errors, d.errors == 1 ? "" : "s",
                     x->good_rev[0] ? "" : " (none yet)");
        else
            log_line(x, "error", NULL, "revision %.12s is invalid (%zu error%s): the last valid "
                     "one%s stays applied", rev, d.errors, d.errors == 1 ? "" : "s",
                     x->good_rev[0] ? "" : " (none yet)");
        arena_free(x->errs_a);
        x->errs_a = arena_new();
        struct arena *a = x->errs_a;
        x->errors = tree_new_seq(a);
        for (size_t i = 0; i < d.len; i++) {
            const struct diag_item *it = &d.items[i];
            if (it->severity != DIAG_ERROR)
                continue;
            char *where = it->file ? arena_printf(a, "%s:%u:%u", it->file, it->mark.line,
                                                  it->mark.col)
                                   : arena_strdup(a, "");
            log_line(x, "error", NULL, "%s%s%s", where, *where ? ": " : "", it->message);
            tree_seq_add(a, x->errors, tree_new_str(a, arena_printf(a, "%s%s%s", where,
                                                                     *where ? ": " : "",
                                                                     it->message)));
        }
        free(x->last_error);
        x->last_error = xstrdup(arena_printf(a, "%s %.12s is invalid", *commit ? "commit" :
                                             "revision", *commit ? commit : rev));
        manifest_set_free(&set);
        diag_dispose(&d);
        rebuild_status(x);
        return;
    }
    x->manifest_errors = 0;
    x->errors = NULL;
    manifest_set_free(&x->good);
    x->good = set;
    /* where the VMs were says nothing of a revision no run planned yet */
    for (size_t i = 0; i < x->where.n; i++)
        free(x->where.v[i].vm);
    x->where.n = 0;
    snprintf(x->good_rev, sizeof(x->good_rev), "%s", rev);
    snprintf(x->good_commit, sizeof(x->good_commit), "%s", commit);
    log_line(x, "info", NULL, "revision %.12s read: %zu file%s, %zu document%s", rev, st.files,
             st.files == 1 ? "" : "s", st.documents, st.documents == 1 ? "" : "s");
    diag_dispose(&d);
    if (strcmp(x->good_rev, x->synced_rev) != 0) {
        x->sync_at = mono_ms();
        x->sync_failures = 0;
    }
    rebuild_status(x);
}

/* ---- holding drift back: drift.mode and the heal backoff ---- */

static bool heal_mode(const struct model *m, const struct model_object *o)
{
    for (size_t i = 0; m && i < m->len[MODEL_POLICY]; i++) {
        const struct model_policy *p = (const struct model_policy *)m->objs[MODEL_POLICY][i];
        if (p->spec.drift.mode == POLICY_DRIFT_HEAL &&
            model_labels_match(&p->spec.selector, &o->meta.labels))
            return true;
    }
    return false;
}

static struct heal *heal_of(struct ctl *x, const char *key, bool add)
{
    for (size_t i = 0; i < x->heals.n; i++)
        if (strcmp(x->heals.v[i].key, key) == 0)
            return &x->heals.v[i];
    if (!add)
        return NULL;
    struct heal *h = vec_push(&x->heals);
    *h = (struct heal){ xstrdup(key), 0, 0 };
    return h;
}

/* first, doubled n times, at most max: the backoffs of heals and syncs */
static int64_t doubling(int64_t first, int64_t max, int n)
{
    int64_t d = first;
    for (int i = 0; i < n && d < max; i++)
        d *= 2;
    return d > max ? max : d;
}

static int64_t heal_delay(int count)
{
    return count <= 0 ? 0 : doubling(HEAL_FIRST_DELAY_MS, HEAL_MAX_DELAY_MS, count - 1);
}

/* A sync that could not run or failed: tried again after 10 s, doubling
 * up to 5 min, until one succeeds or a new revision comes. */
static void sync_retry(struct ctl *x, const char *what)
{
    int64_t d = doubling(SYNC_RETRY_MS, SYNC_RETRY_MAX_MS, x->sync_failures);
    x->sync_failures++;
    x->sync_at = mono_ms() + d;
    log_line(x, "error", NULL, "sync of revision %.12s %s; retrying in %llds", x->good_rev, what,
             (long long)(d / 1000));
}

/* Runs in apply's threads: only reads (x->holds is built before). */
static const char *hold(void *payload, const struct plan_action *pa)
{
    struct ctl *x = payload;
    bool fo = pa->kind == MODEL_VM && x->cur_s && session_vm_failover(x->cur_s, pa->name);
    if (x->cur_kind == RUN_FAILOVER)
        return fo ? NULL : "a failover run starts the VMs of fenced nodes only";
    if (fo && pa->verb != PLAN_DELETE)
        return NULL;                   /* its node was fenced: failover */
    if (x->cur_kind == RUN_SYNC)
        return NULL;                   /* a sync applies the whole revision */
    if (pa->verb == PLAN_DELETE || !pa->want)
        return "deletions are made by a sync of a new revision";
    if (pa->verb == PLAN_REPLACE)
        return "a replacement (destroy and re-create) is made by a sync of a new revision";
    if (!heal_mode(x->cur, pa->want))
        return "drift.mode is report";
    for (size_t i = 0; i < x->heals.n; i++) {
        const struct heal *h = &x->heals.v[i];
        char k[600];
        snprintf(k, sizeof(k), "%s/%s", plan_kind_name(pa->kind), pa->name);
        if (strcmp(h->key, k) == 0 && h->count > 0 &&
            mono_ms() < h->last_ms + heal_delay(h->count))
            return "healed recently: backing off";
    }
    return NULL;
}

/* ---- libvirt events ----
 *
 * A connection of its own to every node (the Node manifests' URIs, else
 * -c or libvirt's default), with a lifecycle callback: a domain started,
 * stopped, crashed, defined... by anyone is noted and, EVENT_DELAY_MS
 * later (events of one change come in a burst), the VMs named are checked
 * alone (the quick check, below) or the nodes observed. Events about domains the controller's own run just acted on are
 * dropped after that run. A lost connection is opened again as "node
 * health" below says; the periodic observation covers the gap. */

#define EVENT_DELAY_MS 10
#define MAX_EVENTS 256

/* libvirt's event loop thread: note it, wake the loop. domain NULL: the
 * connection closed. */
static void on_event(void *payload, const char *domain, const char *what)
{
    struct watch *w = payload;
    struct ctl *x = w->x;
    pthread_mutex_lock(&x->ev_mu);
    if (!domain) {
        w->lost = true;
        pthread_mutex_unlock(&x->ev_mu);
        if (wake_fd >= 0) {
            ssize_t r = write(wake_fd, "l", 1);
            (void)r;
        }
        return;
    }
    /* only the VMs the manifests declare: the others are the periodic
     * observation's (orphans), and a busy host's churn is not ours */
    bool ours = false;
    for (size_t i = 0; i < x->declared.n && !ours; i++)
        ours = strcmp(x->declared.v[i], domain) == 0;
    if (!ours || !w->wanted) {
        pthread_mutex_unlock(&x->ev_mu);
        return;
    }
    if (x->events.n < MAX_EVENTS)
        *vec_push(&x->events) = (struct ev_note){ w, xstrdup(domain), xstrdup(what) };
    if (!x->event_at)
        x->event_at = mono_ms() + EVENT_DELAY_MS;
    pthread_mutex_unlock(&x->ev_mu);
    if (wake_fd >= 0) {
        ssize_t r = write(wake_fd, "e", 1);
        (void)r;
    }
}

static void watch_drop(struct watch *w)
{
    virt_close(w->v);
    w->v = NULL;
    pthread_mutex_lock(&w->x->ev_mu);
    w->lost = false;
    pthread_mutex_unlock(&w->x->ev_mu);
}

/* The Node's fence method, copied (the model goes with the revision). */
static void watch_fence_spec(struct watch *w, const struct model_node *n)
{
    arena_free(w->fa);
    w->fa = arena_new();
    struct arena *a = w->fa;
    const struct node_fence *f = &n->spec.fence;
    struct fence_spec fs = { .node = arena_strdup(a, n->obj.meta.name),
                             .uri = n->spec.uri ? arena_strdup(a, n->spec.uri) : NULL,
                             .method = FENCE_MANUAL };
    if (f->command.n) {
        fs.method = FENCE_COMMAND;
        const char **v = arena_alloc(a, (f->command.n + 1) * sizeof(*v));
        for (size_t i = 0; i < f->command.n; i++)
            v[i] = arena_strdup(a, f->command.v[i]);
        fs.argv = v;
        fs.n_argv = f->command.n;
    } else if (f->agent.hdr.set) {
        fs.method = FENCE_AGENT;
        fs.agent = arena_strdup(a, f->agent.name);
        const char **v = arena_alloc(a, (f->agent.options.n + 1) * sizeof(*v));
        for (size_t i = 0; i < f->agent.options.n; i++)
            v[i] = arena_strdup(a, f->agent.options.v[i]);
        fs.options = v;
        fs.n_options = f->agent.options.n;
        fs.password_file = f->agent.password_file ? arena_strdup(a, f->agent.password_file)
                                                  : NULL;
    } else if (f->redfish.hdr.set) {
        fs.method = FENCE_REDFISH;
        fs.url = arena_strdup(a, f->redfish.url);
        fs.username = arena_strdup(a, f->redfish.username);
        fs.password_file = arena_strdup(a, f->redfish.password_file);
    }
    w->fs = fs;
}

static bool fenced_before(struct ctl *x, const char *node);

/* The nodes of the last valid revision: watched; others: closed. */
static void watch_nodes(struct ctl *x, const struct model *m)
{
    pthread_mutex_lock(&x->ev_mu);
    for (size_t i = 0; i < x->declared.n; i++)
        free(x->declared.v[i]);
    x->declared.n = 0;
    for (size_t i = 0; m && i < m->len[MODEL_VM]; i++)
        *vec_push(&x->declared) = xstrdup(m->objs[MODEL_VM][i]->meta.name);
    for (size_t i = 0; i < x->watches.n; i++) {
        x->watches.v[i]->was_wanted = x->watches.v[i]->wanted;
        x->watches.v[i]->wanted = false;
    }
    pthread_mutex_unlock(&x->ev_mu);
    size_t nn = m ? m->len[MODEL_NODE] : 0;
    for (size_t k = 0; k < (nn ? nn : 1); k++) {
        const char *name, *uri;
        const struct model_node *n = NULL;
        if (nn) {
            n = (const struct model_node *)m->objs[MODEL_NODE][k];
            name = n->obj.meta.name;
            uri = n->spec.uri;
        } else {
            uri = x->c->connect;
            name = uri ? uri : "default";
        }
        /* a node is its name: a new URI is the same node, connected anew */
        struct watch *w = NULL;
        for (size_t i = 0; i < x->watches.n && !w; i++)
            if (strcmp(x->watches.v[i]->name, name) == 0)
                w = x->watches.v[i];
        if (w && strcmp(w->uri ? w->uri : "", uri ? uri : "") != 0) {
            watch_drop(w);
            free(w->uri);
            w->uri = uri ? xstrdup(uri) : NULL;
            w->retry_at = mono_ms();
            if (w->state != H_FENCED) {    /* a new address: nothing known of it yet */
                fence_free(w->fence);
                w->fence = NULL;
                w->state = H_UNKNOWN;
                w->since = mono_ms();
                w->since_wall = store_now();
                w->seen_ready = false;
            }
        }
        if (w && !w->was_wanted && w->state != H_FENCED) {
            /* declared again: what it was before says nothing now */
            fence_free(w->fence);
            w->fence = NULL;
            w->state = H_UNKNOWN;
            w->since = mono_ms();
            w->since_wall = store_now();
            w->seen_ready = false;
        }
        if (!w) {
            w = xcalloc(1, sizeof(*w));
            /* retry_at: now (never 0, which watch_next reads as none) */
            *w = (struct watch){ .x = x, .name = xstrdup(name), .uri = uri ? xstrdup(uri) : NULL,
                                 .retry_at = mono_ms(), .state = H_UNKNOWN,
                                 .since = mono_ms(), .since_wall = store_now() };
            /* fenced by an earlier controller, not recovered since: its
             * stale copies are removed when it answers */
            if (n && fenced_before(x, name)) {
                w->state = H_FENCED;
                w->seen_ready = true;
                w->restored = true;        /* answering, it is recovered; silent, fenced */
                w->confirm_off = true;
                log_line(x, "warn", NULL, "node %s: fenced by an earlier run of the controller "
                         "and not recovered since: its stale copies are removed when it answers",
                         name);
            }
            *vec_push(&x->watches) = w;
        }
        w->declared = n != NULL;
        w->maintenance = n && n->spec.maintenance;
        if (n)
            watch_fence_spec(w, n);
        if (w->maintenance && w->state != H_FENCED && w->state != H_MAINTENANCE) {
            fence_free(w->fence);          /* an operator took it: no fence now */
            w->fence = NULL;
            w->fence_failed = false;
            w->state = H_MAINTENANCE;
            w->since = mono_ms();
            w->since_wall = store_now();
        } else if (!w->maintenance && w->state == H_MAINTENANCE) {
            w->state = w->v ? H_READY : H_SUSPECT;
            w->since = mono_ms();
            w->since_wall = store_now();
        }
        pthread_mutex_lock(&x->ev_mu);
        w->wanted = true;
        pthread_mutex_unlock(&x->ev_mu);
    }
    /* A node no longer declared: its connection closed (virt_close waits
     * until libvirt is done with the callback); the struct is kept until
     * exit, and a new revision may want it again. */
    for (size_t i = 0; i < x->watches.n; i++)
        if (!x->watches.v[i]->wanted) {
            x->watches.v[i]->fence_failed = false;
            watch_drop(x->watches.v[i]);
            fence_free(x->watches.v[i]->fence);
            x->watches.v[i]->fence = NULL;
        }
}

/* ---- node health ----
 *
 * Each node's own connection (the events' one, with libvirt keepalive and
 * the close callback, and a liveness check every ALIVE_CHECK_MS) says how
 * it is:
 *   ready        connected.
 *   suspect      the connection closed, or a connection cannot be made:
 *                tried again every SUSPECT_RETRY_MS.
 *   failed       still suspect after --node-grace (default 10 s): fenced
 *                by its Node's method; a failed fence is retried after 5 s,
 *                doubling to 2 min, and nothing moves meanwhile. A node
 *                that answers again (a flap) is ready, unless a fence is
 *                under way: its result decides.
 *   fenced       the fence succeeded (or `qkvm node confirm-down NODE`
 *                for manual) and a connection made right after it failed:
 *                a failover run starts its HA VMs elsewhere (fleet.c decides
 *                which). A node that still answers after its fence said
 *                success was not powered off: nothing fails over, and it is
 *                ready. When a fenced node answers again, its copies of the
 *                VMs that failed over from it are destroyed and undefined
 *                (a run of kind recover) before it is ready, used again.
 *   maintenance  its Node says maintenance: true: never fenced, nothing
 *                fails over from it (an operator is at it).
 * Never fenced by qkvm (an operator's `qkvm node confirm-down` still
 * counts): a node that has not been ready once since the controller
 * started (the controller may be the one cut off, or the URI wrong), and
 * any node while more than half of the Nodes are failed or fenced (the
 * controller is likelier to be the one cut off than they all dead). The
 * implicit node (no Node manifests) goes suspect and failed but is never
 * fenced: there is nowhere else to run its VMs.
 * Failures, fences and recoveries are events of the state database
 * (NodeFailed, FenceFailed, NodeFenced, NodeRecovered): a controller that
 * starts finds a node fenced by an earlier one fenced, so its stale copies
 * are removed when it answers. */

#define SUSPECT_RETRY_MS 500
#define RETRY_MAX_MS 30000
#define FENCE_RETRY_MS 5000
#define FENCE_RETRY_MAX_MS 120000
#define MANUAL_CHECK_MS 1000
#define RECOVER_RETRY_MS 5000
#define ALIVE_CHECK_MS 2000

static void notify_standing(struct ctl *x);

/* An event of a Node in the state database (best effort: logged). */
static void node_event(struct ctl *x, const char *node, const char *type, const char *reason,
                       const char *msg)
{
    bool dflt;
    char *path = session_state_path(x->c->state, &dflt);
    char err[1024];
    struct store *st = store_open(path, STORE_WRITE, err, sizeof(err));
    free(path);
    struct store_event ev = { .at = store_now(), .type = type, .reason = reason, .kind = "Node",
                              .name = node, .node = node, .message = msg };
    if (!st || store_event(st, &ev, err, sizeof(err)) < 0)
        log_line(x, "error", NULL, "node %s: cannot record %s: %s", node, reason, err);
    store_close(st);
    /* a fence that failed stands until the node is fenced or back (the
     * "fence" group of notify_standing) */
    bool failed = strcmp(reason, "FenceFailed") == 0;
    if (failed || strcmp(reason, "NodeFenced") == 0 || strcmp(reason, "NodeRecovered") == 0) {
        for (size_t i = 0; i < x->watches.n; i++) {
            struct watch *w = x->watches.v[i];
            if (strcmp(w->name, node) != 0)
                continue;
            w->fence_failed = failed;
            if (failed) {
                free(w->fence_why);
                w->fence_why = xstrdup(msg ? msg : "");
            }
        }
        notify_standing(x);
    }
}

/* Of node's events since `since` (ms since the epoch), the reason of the
 * last one among reasons (NULL-terminated), or NULL: none, or the state
 * database cannot be read. Read on a connection of its own. */
static const char *last_node_event(struct ctl *x, const char *node, int64_t since,
                                   const char *const *reasons)
{
    bool dflt;
    char *path = session_state_path(x->c->state, &dflt);
    char err[1024];
    struct store *st = store_open(path, STORE_READ, err, sizeof(err));
    free(path);
    if (!st)
        return NULL;
    struct arena *a = arena_new();
    struct store_event *ev = NULL;
    size_t n = 0;
    const char *last = NULL;
    if (store_events(st, a, since, "Node", node, 0, &ev, &n, err, sizeof(err)) == 0)
        for (size_t i = 0; i < n; i++)            /* oldest first */
            for (const char *const *r = reasons; *r; r++)
                if (strcmp(ev[i].reason, *r) == 0)
                    last = *r;                    /* a literal of the caller's */
    arena_free(a);
    store_close(st);
    return last;
}

/* Did an earlier controller fence this node, and it is neither back
 * (NodeRecovered) nor found answering after its fence (FenceFailed)? */
static bool fenced_before(struct ctl *x, const char *node)
{
    static const char *const r[] = { "NodeFenced", "NodeRecovered", "FenceFailed", NULL };
    const char *last = last_node_event(x, node, 0, r);
    return last && strcmp(last, "NodeFenced") == 0;
}

static void set_health(struct ctl *x, struct watch *w, enum health h, const char *why)
{
    if (w->state == h)
        return;
    w->state = h;
    w->since = mono_ms();
    w->since_wall = store_now();
    w->tries = 0;
    if (h == H_READY)
        w->seen_ready = true;
    if (h == H_MAINTENANCE || h == H_FENCED)
        w->fence_failed = false;      /* fenced, or an operator's: the failed fence is over
                                       * (a node that answers again keeps it: its fence is
                                       * still broken for the next failure) */
    if (why) {
        free(w->why);
        w->why = xstrdup(why);
    }
    rebuild_status(x);
}

static void recover_node(struct ctl *x, struct watch *w);

/* A connection lost, or a connect that failed. */
static void health_lost(struct ctl *x, struct watch *w, const char *why)
{
    int64_t now = mono_ms();
    switch (w->state) {
    case H_UNKNOWN:
    case H_READY:
        set_health(x, w, H_SUSPECT, why);
        log_line(x, "warn", NULL, "node %s: suspect: %s; failed in %.1fs unless it answers",
                 w->name, why, (double)x->grace_ms / 1000);
        break;
    case H_MAINTENANCE:
        if (!w->why || strcmp(w->why, why) != 0)
            log_line(x, "warn", NULL, "node %s (maintenance): %s; not fenced", w->name, why);
        free(w->why);
        w->why = xstrdup(why);
        break;
    default:
        break;
    }
    /* within the grace: often; after it, backing off to RETRY_MAX_MS */
    w->retry_at = now + (w->state == H_SUSPECT ? SUSPECT_RETRY_MS
                                               : doubling(SUSPECT_RETRY_MS, RETRY_MAX_MS,
                                                          w->tries++));
    if (w->state == H_FENCED && w->confirm_off) {
        /* fenced, and it does not answer: its VMs may run elsewhere now */
        w->confirm_off = w->restored = false;
        x->failover_at = now;
        log_line(x, "warn", NULL, "node %s: fenced and silent: its HA VMs are started "
                 "elsewhere", w->name);
    }
}

/* A node that answers right after a fence that said it worked: the fence
 * did not power it off. Nothing has failed over from it (failover waits
 * for a connection to fail first): it is simply ready, and the event
 * says the fence failed (which also ends the NodeFenced a restarted
 * controller would read). */
static void fence_not_off(struct ctl *x, struct watch *w)
{
    w->confirm_off = false;
    x->fences_ok--;
    x->fences_failed++;
    log_line(x, "error", NULL, "node %s answers right after its fence said it is off: the fence "
             "did not power it off (check spec.fence); nothing fails over", w->name);
    node_event(x, w->name, "Warning", "FenceFailed",
               "the node answered right after its fence: not powered off");
    set_health(x, w, H_READY, NULL);
    x->sync_at = mono_ms();            /* it may have rebooted: the revision, applied */
}

/* Connect what is not (or no longer) connected, when its retry is due. */
static void watch_connect(struct ctl *x)
{
    int64_t now = mono_ms();
    bool check = now >= x->alive_at;
    if (check)
        x->alive_at = now + ALIVE_CHECK_MS;
    for (size_t i = 0; i < x->watches.n; i++) {
        struct watch *w = x->watches.v[i];
        char err[1024];
        pthread_mutex_lock(&x->ev_mu);
        bool closed = w->lost;
        pthread_mutex_unlock(&x->ev_mu);
        /* the close callback, or (a close it missed) the liveness check */
        if (w->v && (closed || check) && virt_lost(w->v, err, sizeof(err)))
            closed = true;
        else if (w->v && closed)
            snprintf(err, sizeof(err), "the connection to '%s' closed", w->uri ? w->uri : "");
        if (w->v && closed) {
            log_line(x, "warn", NULL, "%s: events: %s; connecting again", w->name, err);
            watch_drop(w);
            health_lost(x, w, err);
            if (w->state == H_SUSPECT)
                w->retry_at = now;         /* at once: a daemon restart is back quickly */
        }
        if (w->v || !w->wanted || now < w->retry_at)
            continue;
        struct virt_limits lim = x->c->virt;
        /* the loop waits for it: keep it short, shorter for a node in
         * doubt; the check after a fence gets the longer one (a slow node
         * that answers must not count as off) */
        int cap = w->state == H_READY || w->state == H_UNKNOWN || w->confirm_off ? 5000 : 2000;
        if (!lim.connect_timeout_ms || lim.connect_timeout_ms > cap)
            lim.connect_timeout_ms = cap;
        w->v = virt_open(w->uri, &lim, err, sizeof(err));
        bool answered = w->v != NULL;
        if (w->v && virt_watch_domains(w->v, on_event, w, err, sizeof(err)) < 0) {
            virt_close(w->v);
            w->v = NULL;
        }
        if (answered && !w->v && w->state == H_FENCED) {
            w->retry_at = now + SUSPECT_RETRY_MS;   /* it answers: never "silent" */
            continue;
        }
        if (answered && w->state == H_FENCED && w->confirm_off && !w->restored) {
            fence_not_off(x, w);           /* it answers: whatever its fence said, it is on */
            if (!w->v)
                w->retry_at = now + SUSPECT_RETRY_MS;
            continue;
        }
        if (!w->v) {
            bool first = w->state == H_UNKNOWN || w->state == H_READY;
            health_lost(x, w, err);
            if (first)
                log_line(x, "warn", NULL, "%s: no domain events: %s; trying again", w->name, err);
            continue;
        }
        w->tries = 0;
        switch (w->state) {
        case H_FENCED:
            /* fenced (by this controller, or an earlier one), and back */
            w->confirm_off = w->restored = false;
            log_line(x, "warn", NULL, "node %s answers again after it was fenced: removing its "
                     "copies of the VMs that moved before it is used", w->name);
            recover_node(x, w);
            break;
        case H_SUSPECT:
        case H_FAILED:
            if (w->fence)
                break;                     /* a fence under way decides */
            w->flaps++;
            log_line(x, "warn", NULL, "node %s: ready again after %.1f s (not fenced; %d flap%s "
                     "so far)", w->name, (double)(now - w->since) / 1000, w->flaps,
                     w->flaps == 1 ? "" : "s");
            set_health(x, w, H_READY, NULL);
            x->observe_at = now;           /* what happened meanwhile */
            break;
        case H_MAINTENANCE:
            log_line(x, "info", NULL, "node %s (maintenance): watching domain events", w->name);
            w->seen_ready = true;
            break;
        default:
            set_health(x, w, H_READY, NULL);
            log_line(x, "info", NULL, "%s: watching domain events", w->name);
            break;
        }
        rebuild_status(x);
    }
}

static int64_t watch_next(const struct ctl *x)
{
    int64_t next = 0;
    bool connected = false;
    for (size_t i = 0; i < x->watches.n; i++) {
        connected |= x->watches.v[i]->v != NULL;
        if (!x->watches.v[i]->v && x->watches.v[i]->wanted &&
            (!next || x->watches.v[i]->retry_at < next))
            next = x->watches.v[i]->retry_at;
    }
    if (connected && (!next || x->alive_at < next))
        next = x->alive_at;
    return next;
}

static bool watch_any_lost(struct ctl *x)
{
    bool any = false;
    pthread_mutex_lock(&x->ev_mu);
    for (size_t i = 0; i < x->watches.n && !any; i++)
        any = x->watches.v[i]->lost && x->watches.v[i]->v;
    pthread_mutex_unlock(&x->ev_mu);
    return any;
}

static void fence_done(void *payload)
{
    (void)payload;
    int fd = atomic_load(&wake_fd);
    if (fd >= 0) {
        ssize_t r = write(fd, "f", 1);
        (void)r;
    }
}

/* Has `qkvm node confirm-down NODE` been run since the node failed? */
static bool confirmed_down(struct ctl *x, struct watch *w)
{
    static const char *const r[] = { "ConfirmedDown", NULL };
    return last_node_event(x, w->name, w->since_wall, r) != NULL;
}

/* Why qkvm must not fence w now, or NULL. */
static const char *no_fence(struct ctl *x, const struct watch *w)
{
    if (!w->seen_ready)
        return "it has not answered once since the controller started (the controller may be "
               "the one cut off, or its URI wrong)";
    size_t nodes = 0, down = 0;
    for (size_t i = 0; i < x->watches.n; i++) {
        const struct watch *o = x->watches.v[i];
        if (!o->wanted || !o->declared)
            continue;
        nodes++;
        down += !o->v;                 /* suspect, failed, fenced, or never reached */
    }
    if (down * 2 > nodes)
        return "more than half of the Nodes do not answer: the controller is likelier to be "
               "the one cut off";
    return NULL;
}

static void fence_ok(struct ctl *x, struct watch *w, const char *how)
{
    int64_t now = mono_ms();
    x->fences_ok++;
    set_health(x, w, H_FENCED, how);
    node_event(x, w->name, "Warning", "NodeFenced", how);
    log_line(x, "warn", NULL, "node %s: fenced (%s): its HA VMs are started elsewhere once a "
             "connection to it fails", w->name, how);
    /* one connection attempt first: a node that still answers was not
     * powered off, whatever its fence said */
    if (w->v)
        watch_drop(w);
    w->confirm_off = true;
    w->retry_at = now;
}

/* Timers of suspect and failed nodes: grace, fences, confirmations. */
static void health_tick(struct ctl *x)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < x->watches.n; i++) {
        struct watch *w = x->watches.v[i];
        if (!w->wanted)
            continue;
        if (w->state == H_SUSPECT && now - w->since >= x->grace_ms) {
            set_health(x, w, H_FAILED, NULL);
            w->fence_tries = 0;
            w->fence_at = now;
            w->manual_said = false;
            log_line(x, "error", NULL, "node %s: failed: no answer for %.1f s (%s)%s", w->name,
                     (double)x->grace_ms / 1000, w->why ? w->why : "?",
                     w->declared ? "" : "; the implicit node is never fenced: nothing fails "
                                        "over");
            if (w->declared)
                node_event(x, w->name, "Warning", "NodeFailed", w->why ? w->why : "no answer");
        }
        if (w->state != H_FAILED || !w->declared)
            continue;
        if (w->fence) {
            bool ok;
            char msg[1024];
            if (!fence_result(w->fence, &ok, msg, sizeof(msg)))
                continue;
            fence_free(w->fence);
            w->fence = NULL;
            if (ok) {
                fence_ok(x, w, arena_printf(x->snap, "%s: %s", fence_method_name(w->fs.method),
                                            msg));
                continue;
            }
            x->fences_failed++;
            node_event(x, w->name, "Warning", "FenceFailed", msg);
            if (w->v) {
                /* it answered meanwhile: alive, and not powered off */
                log_line(x, "warn", NULL, "node %s: fence failed (%s), and it answers: ready "
                         "again", w->name, msg);
                set_health(x, w, H_READY, NULL);
                continue;
            }
            int64_t d = doubling(FENCE_RETRY_MS, FENCE_RETRY_MAX_MS, w->fence_tries - 1);
            w->fence_at = now + d;
            free(w->why);
            w->why = xstrdup(msg);
            log_line(x, "error", NULL, "node %s: fence failed (%s: %s): nothing is started "
                     "elsewhere; trying again in %llds", w->name,
                     fence_method_name(w->fs.method), msg, (long long)(d / 1000));
            rebuild_status(x);
            continue;
        }
        if (!w->fence_at || now < w->fence_at)
            continue;
        const char *why_not = no_fence(x, w);
        if (w->fs.method == FENCE_MANUAL || why_not) {
            if (!w->manual_said) {
                log_line(x, "error", NULL, "node %s: %s%s: make sure it is off, then run `qkvm "
                         "node confirm-down %s`; nothing is started elsewhere until then",
                         w->name, why_not ? "not fenced by qkvm: " : "waiting for an operator",
                         why_not ? why_not : "", w->name);
                w->manual_said = true;
            }
            if (confirmed_down(x, w))
                fence_ok(x, w, "manual: confirmed down by an operator");
            else
                w->fence_at = now + MANUAL_CHECK_MS;
            continue;
        }
        if (w->v) {                        /* it answers: no fence of a live node */
            set_health(x, w, H_READY, NULL);
            continue;
        }
        char err[256];
        struct fence_spec fs = w->fs;
        fs.timeout_ms = (int)x->fence_timeout_ms;
        w->fence_tries++;
        log_line(x, "warn", NULL, "node %s: fencing (%s, attempt %d)", w->name,
                 fence_method_name(fs.method), w->fence_tries);
        w->fence = fence_start(&fs, fence_done, w, err, sizeof(err));
        if (!w->fence) {
            x->fences_failed++;
            w->fence_at = now + doubling(FENCE_RETRY_MS, FENCE_RETRY_MAX_MS, w->fence_tries - 1);
            log_line(x, "error", NULL, "node %s: cannot fence: %s", w->name, err);
            node_event(x, w->name, "Warning", "FenceFailed", err);
        }
    }
}

/* When the health timers want the loop: 0 none. */
static int64_t health_next(const struct ctl *x)
{
    int64_t next = 0;
    for (size_t i = 0; i < x->watches.n; i++) {
        const struct watch *w = x->watches.v[i];
        int64_t t = 0;
        if (!w->wanted)
            continue;
        if (w->state == H_SUSPECT)
            t = w->since + x->grace_ms;
        else if (w->state == H_FAILED && w->declared && !w->fence && w->fence_at)
            t = w->fence_at;
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

/* The names of the fenced nodes, NULL-terminated (in a), or NULL. */
static const char *const *fenced_nodes(const struct ctl *x, struct arena *a)
{
    const char **v = arena_alloc(a, (x->watches.n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < x->watches.n; i++)
        if (x->watches.v[i]->wanted && x->watches.v[i]->state == H_FENCED &&
            !x->watches.v[i]->confirm_off)    /* not before a connection to it failed */
            v[n++] = arena_strdup(a, x->watches.v[i]->name);
    v[n] = NULL;
    return n ? v : NULL;
}

/* Forget the events about domains this run acted on (its own doing). */
static void events_acted(struct ctl *x, const struct plan *p, const struct apply_result *res)
{
    pthread_mutex_lock(&x->ev_mu);
    for (size_t i = 0; i < x->events.n;) {
        bool own = false;
        for (size_t k = 0; k < p->n && !own; k++) {
            const struct plan_action *pa = &p->v[k];
            if (pa->kind != MODEL_VM || res->status[k] == APPLY_HELD ||
                res->status[k] == APPLY_SKIPPED)
                continue;
            own = strcmp(x->events.v[i].vm, pa->name) == 0;
        }
        if (own) {
            free(x->events.v[i].vm);
            free(x->events.v[i].what);
            memmove(&x->events.v[i], &x->events.v[i + 1],
                    (x->events.n - i - 1) * sizeof(*x->events.v));
            x->events.n--;
        } else {
            i++;
        }
    }
    if (!x->events.n)
        x->event_at = 0;
    pthread_mutex_unlock(&x->ev_mu);
}

static void events_free(struct ev_note *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].vm);
        free(v[i].what);
    }
    free(v);
}

/* The events noted since the last observation: logged, handed over
 * (events_free), cleared. */
static size_t events_take(struct ctl *x, struct ev_note **out)
{
    pthread_mutex_lock(&x->ev_mu);
    size_t n = x->events.n;
    struct ev_note *v = x->events.v;
    x->events.v = NULL;
    x->events.n = x->events.cap = 0;
    x->event_at = 0;
    pthread_mutex_unlock(&x->ev_mu);
    for (size_t i = 0; i < n; i++) {
        char obj[600];
        snprintf(obj, sizeof(obj), "vm/%s", v[i].vm);
        log_line(x, "info", obj, "event: %s: vm/%s %s", v[i].w->name, v[i].vm, v[i].what);
    }
    *out = v;
    return n;
}

/* ---- one run ---- */

/* What a quick check (only the VMs its events named, on one node) can
 * see: every finding of those VMs on that node but a missing disk file
 * and a seed volume that is missing or holds another seed, which take the
 * pools' observation. */
struct scope {
    const char *node;                 /* the findings' node: NULL for one host */
    const char *const *vms;
    size_t n;
};

#define SCOPE_NOT_FIELD "spec.cloudInit"   /* its seed volume: the pools' */

static bool in_scope(const struct scope *sc, const char *node, const char *kind,
                     const char *name, const char *category, const char *field)
{
    if (!sc || strcmp(kind, "VM") != 0 ||
        strcmp(category, drift_category_name(DRIFT_DISK_MISSING)) == 0 ||
        (field && strcmp(field, SCOPE_NOT_FIELD) == 0) ||
        strcmp(node ? node : "", sc->node ? sc->node : "") != 0)
        return false;
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->vms[i], name) == 0)
            return true;
    return false;
}

static bool known_is(const struct known *k, const struct drift_finding *d, const char *node)
{
    return strcmp(k->node, node ? node : "") == 0 && strcmp(k->kind, d->kind) == 0 &&
           strcmp(k->name, d->name) == 0 &&
           strcmp(k->category, drift_category_name(d->category)) == 0 &&
           strcmp(k->field, d->field ? d->field : "") == 0;
}

static void known_free(struct known *k)
{
    free(k->node);
    free(k->kind);
    free(k->name);
    free(k->category);
    free(k->field);
}

/* Log the findings the last observation did not have; remember them. A
 * scope: the plan saw only that, the rest of what is remembered stays. */
static void observe_findings(struct ctl *x, const struct plan *p, const struct scope *sc)
{
    VEC(struct known) now = { 0 };
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *d = &p->drift[i];
        const char *node = sc ? sc->node : d->node;
        if (sc && !in_scope(sc, node, d->kind, d->name, drift_category_name(d->category),
                            d->field))
            continue;                        /* kept from before: not this check's to say */
        bool seen = false;
        for (size_t k = 0; k < x->findings.n && !seen; k++)
            seen = known_is(&x->findings.v[k], d, node);
        if (!seen) {
            const char *obj = arena_printf(x->snap, "%s/%s", d->kind, d->name);
            if (d->field)
                log_line(x, "warn", obj, "drift: %s%s%s: %s: %s (want %s, is %s)",
                         node ? node : "", node ? ": " : "", obj,
                         drift_category_name(d->category), d->field,
                         d->desired ? d->desired : "-", d->actual ? d->actual : "-");
            else
                log_line(x, "warn", obj, "drift: %s%s%s: %s%s%s", node ? node : "",
                         node ? ": " : "", obj, drift_category_name(d->category),
                         d->message ? ": " : "", d->message ? d->message : "");
        }
        *vec_push(&now) = (struct known){ xstrdup(node ? node : ""), xstrdup(d->kind),
                                          xstrdup(d->name),
                                          xstrdup(drift_category_name(d->category)),
                                          xstrdup(d->field ? d->field : "") };
    }
    for (size_t k = 0; k < x->findings.n; k++) {
        struct known *o = &x->findings.v[k];
        if (sc && !in_scope(sc, *o->node ? o->node : NULL, o->kind, o->name, o->category,
                            o->field))
            *vec_push(&now) = *o;            /* out of the scope: as it was */
        else
            known_free(o);
    }
    vec_free(&x->findings);
    x->findings.v = now.v;
    x->findings.n = now.n;
    x->findings.cap = now.cap;
}

static struct tree *drift_item(struct arena *a, const struct drift_finding *d, const char *node)
{
    struct tree *t = tree_new_map(a);
    if (node)
        tree_map_str(a, t, "node", node);
    tree_map_str(a, t, "kind", d->kind);
    tree_map_str(a, t, "name", d->name);
    tree_map_str(a, t, "category", drift_category_name(d->category));
    if (d->field)
        tree_map_str(a, t, "field", d->field);
    if (d->desired)
        tree_map_str(a, t, "desired", d->desired);
    if (d->actual)
        tree_map_str(a, t, "actual", d->actual);
    if (d->message)
        tree_map_str(a, t, "message", d->message);
    return t;
}

/* A quick check's findings in the status: those of its scope replaced,
 * the rest (and the nodes) as the last run left them. */
static void snapshot_scope(struct ctl *x, const struct plan *p, const struct scope *sc)
{
    struct arena *a = arena_new();
    struct tree *drift = tree_new_seq(a);
    for (size_t i = 0; x->drift && i < x->drift->len; i++) {
        const struct tree *d = x->drift->u.items[i];
        if (!in_scope(sc, tree_str(d, "node", NULL), tree_str(d, "kind", ""),
                      tree_str(d, "name", ""), tree_str(d, "category", ""),
                      tree_str(d, "field", NULL)))
            tree_seq_add(a, drift, tree_copy(a, d));
    }
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *d = &p->drift[i];
        if (in_scope(sc, sc->node, d->kind, d->name, drift_category_name(d->category), d->field))
            tree_seq_add(a, drift, drift_item(a, d, sc->node));
    }
    struct tree *nodes = x->nodes ? tree_copy(a, x->nodes) : tree_new_seq(a);
    struct tree *foreign = x->foreign ? tree_copy(a, x->foreign) : NULL;
    arena_free(x->snap);
    x->snap = a;
    x->drift = drift;
    x->nodes = nodes;
    x->foreign = foreign;
    /* the checked VMs' rows follow: OutOfSync with a finding, Synced
     * without (only between those two: a conflict or a blocked VM is not
     * checked alone) */
    for (size_t i = 0; x->objects_list && i < x->objects_list->len; i++) {
        struct tree *o = x->objects_list->u.items[i];
        const char *sync = tree_str(o, "sync", "");
        if ((strcmp(sync, "Synced") != 0 && strcmp(sync, "OutOfSync") != 0) ||
            !in_scope(sc, tree_str(o, "node", sc->node), tree_str(o, "kind", ""),
                      tree_str(o, "name", ""), "", NULL))
            continue;
        bool found = false;            /* in the merged drift: what the check kept counts */
        for (size_t k = 0; k < x->drift->len && !found; k++) {
            const struct tree *d = x->drift->u.items[k];
            found = strcmp(tree_str(d, "kind", ""), "VM") == 0 &&
                    strcmp(tree_str(d, "name", ""), tree_str(o, "name", "")) == 0 &&
                    strcmp(tree_str(d, "node", ""), tree_str(o, "node", sc->node ? sc->node : "")) == 0;
        }
        for (size_t k = 0; k < o->len; k++)
            if (strcmp(o->u.pairs[k].key->u.str, "sync") == 0)
                o->u.pairs[k].value = tree_new_str(x->objects_a, found ? "OutOfSync" : "Synced");
    }
}

/* The drift and nodes the status and metrics show, from the run's plan. */
static void snapshot(struct ctl *x, const struct session *s)
{
    arena_free(x->snap);
    x->snap = arena_new();
    struct arena *a = x->snap;
    x->drift = tree_new_seq(a);
    x->nodes = tree_new_seq(a);
    x->foreign = s->plan ? tree_get(report_drift_tree(a, s->plan), "foreign") : NULL;
    x->nodes_ready = x->nodes_unreachable = 0;
    for (size_t i = 0; s->plan && i < s->plan->ndrift; i++)
        tree_seq_add(a, x->drift, drift_item(a, &s->plan->drift[i], s->plan->drift[i].node));
    if (s->nnodes) {
        for (size_t i = 0; i < s->nnodes; i++) {
            struct tree *t = tree_new_map(a);
            bool ok = s->nodes[i].obs != NULL;
            tree_map_str(a, t, "name", s->nodes[i].name);
            tree_map_str(a, t, "state", ok ? "ready" : "unreachable");
            if (s->nodes[i].error)
                tree_map_str(a, t, "error", s->nodes[i].error);
            tree_seq_add(a, x->nodes, t);
            ok ? x->nodes_ready++ : x->nodes_unreachable++;
        }
    } else if (s->uri) {
        struct tree *t = tree_new_map(a);
        tree_map_str(a, t, "name", s->node ? s->node : s->uri);
        tree_map_str(a, t, "state", s->obs ? "ready" : "unreachable");
        tree_seq_add(a, x->nodes, t);
        s->obs ? x->nodes_ready++ : x->nodes_unreachable++;
    }
}

/* Does action pa, done, make finding (category, field) right? Each
 * category has the verbs that undo it; a changed field needs an update or
 * replace that carries that field, applied (not blocked, not waiting for a
 * restart). Orphans, stray files and processes, missing disk files: never
 * an action's. */
static bool fixes(const struct plan_action *pa, const char *cat, const char *field)
{
    enum plan_verb v = pa->verb;
    if (strcmp(cat, "missing") == 0)
        return v == PLAN_CREATE || v == PLAN_REPLACE;
    if (strcmp(cat, "stopped") == 0)
        return v == PLAN_START || v == PLAN_RESTART;
    if (strcmp(cat, "running") == 0)
        return v == PLAN_STOP || v == PLAN_PAUSE;
    if (strcmp(cat, "paused") == 0)
        return v == PLAN_RESUME;
    if (strcmp(cat, "stale") == 0)
        return v == PLAN_DELETE;
    if (strcmp(cat, "conflict") == 0)
        return v == PLAN_ADOPT;
    if (strcmp(cat, "changed") != 0)
        return false;
    if (v == PLAN_REPLACE || v == PLAN_RESTART)
        return true;                       /* made anew from the manifests */
    if (v != PLAN_UPDATE)
        return false;
    for (size_t k = 0; field && k < pa->nchanges; k++)
        if (strcmp(pa->changes[k].field, field) == 0)
            return pa->changes[k].how == DIFF_CONFIG || pa->changes[k].how == DIFF_LIVE ||
                   pa->changes[k].how == DIFF_REPLACE;
    return false;
}

/* What the apply made right is no longer drift: a finding that an action
 * of this run undid (fixes(), on the finding's node) leaves the status, as
 * the state database closes it; so the status, the metrics, the dashboard
 * and the alerts do not show, after a sync, the VMs it has just created as
 * missing. A finding no done action answers stays until the next
 * observation says. */
static void drop_applied(struct ctl *x, const struct session *s, const struct apply_result *res)
{
    const struct plan *p = s->plan;
    if (!x->drift || !p->n)
        return;
    size_t k = 0;
    for (size_t i = 0; i < x->drift->len; i++) {
        const struct tree *d = x->drift->u.items[i];
        const char *kind = tree_str(d, "kind", ""), *name = tree_str(d, "name", "");
        const char *node = tree_str(d, "node", NULL), *cat = tree_str(d, "category", "");
        const char *field = tree_str(d, "field", NULL);
        bool done = false, undone = false;
        for (size_t j = 0; j < p->n; j++) {
            const struct plan_action *pa = &p->v[j];
            if (strcmp(schema_kinds[pa->kind].name, kind) != 0 || strcmp(pa->name, name) != 0 ||
                !fixes(pa, cat, field))
                continue;
            const char *on = pa->node;
            if (!on && s->nnodes && pa->kind == MODEL_VM) {
                const struct session_node *sn = session_vm_node(s, pa->name, NULL);
                on = sn ? sn->name : NULL;
            }
            if (node && on && strcmp(node, on) != 0)
                continue;                      /* the same name on another node */
            res->status[j] == APPLY_DONE ? (done = true) : (undone = true);
        }
        if (!done || undone)
            x->drift->u.items[k++] = x->drift->u.items[i];
    }
    x->drift->len = (uint32_t)k;
}

/* An action that failed stands as an alert until an action on the same
 * object is done (a later run's, or its retry's). */
/* The node an action acts on: its own (a fleet's), the VM's, the host's. */
static const char *action_node(const struct session *s, const struct plan_action *pa)
{
    const char *node = pa->node;
    if (!node && s->nnodes && pa->kind == MODEL_VM) {
        const struct session_node *sn = session_vm_node(s, pa->name, NULL);
        node = sn ? sn->name : NULL;
    }
    return node ? node : s->node ? s->node : s->uri ? s->uri : "";
}

static void notify_applied(struct ctl *x, struct session *s, const struct apply_result *res)
{
    for (size_t i = 0; x->notify && i < s->plan->n; i++) {
        const struct plan_action *pa = &s->plan->v[i];
        const char *node = action_node(s, pa);
        /* per object on a node: its first action there decides for all
         * of them (a failure of any stands; all done resolves) */
        bool first = true, failed = false, all_done = true;
        size_t fail_at = i;
        for (size_t j = 0; j < s->plan->n; j++) {
            const struct plan_action *pb = &s->plan->v[j];
            if (pb->kind != pa->kind || strcmp(pb->name, pa->name) != 0 ||
                strcmp(action_node(s, pb), node) != 0)
                continue;
            if (j < i)
                first = false;
            if (res->status[j] == APPLY_FAILED && !failed) {
                failed = true;
                fail_at = j;
            }
            all_done &= res->status[j] == APPLY_DONE;
        }
        if (!first)
            continue;
        struct notify_alert al = {
            .group = "apply", .severity = "critical",
            .labels = { { "alertname", "QkvmApplyFailed" }, { "project", x->project ? x->project : "" },
                        { "node", node }, { "kind", schema_kinds[pa->kind].name }, { "name", pa->name } },
            .fired = "ApplyFailed", .resolved = "ApplyRecovered" };
        if (failed) {
            al.summary = arena_printf(s->a, "%s %s/%s on %s failed",
                                      plan_verb_name(s->plan->v[fail_at].verb),
                                      schema_kinds[pa->kind].name, pa->name, node);
            al.description = res->error[fail_at];
            notify_fire(x->notify, &al);
        } else if (all_done) {
            notify_resolve(x->notify, al.labels);
        }
    }
}

/* The VMs this run started on other nodes because theirs was fenced: a
 * FailedOver event each (what ha.maxRestarts counts), logged, counted,
 * listed in the status. */
static void failover_record(struct ctl *x, struct session *s, const struct apply_result *res)
{
    const struct model *m = s->m;
    for (size_t i = 0; s->failover && m && i < m->len[MODEL_VM]; i++) {
        const char *from = s->failover[i];
        if (!from)
            continue;
        const char *name = m->objs[MODEL_VM][i]->meta.name;
        bool any = false, bad = false;
        const char *error = NULL;
        for (size_t k = 0; k < s->plan->n; k++) {
            const struct plan_action *pa = &s->plan->v[k];
            if (pa->kind != MODEL_VM || strcmp(pa->name, name) != 0)
                continue;
            if (res->status[k] == APPLY_DONE)
                any = true;
            else if (res->status[k] == APPLY_FAILED || res->status[k] == APPLY_SKIPPED) {
                bad = true;
                error = error ? error : res->error[k];
            }
        }
        if (!any && !bad)
            continue;                      /* held or nothing to do */
        const struct session_node *to = session_vm_node(s, name, NULL);
        const char *obj = arena_printf(s->a, "vm/%s", name);
        char err[512];
        if (bad) {
            x->failovers_failed++;
            log_line(x, "error", obj, "failover of %s from %s to %s failed: %s", obj, from,
                     to ? to->name : "?", error ? error : "?");
            struct store_event fe = { .at = store_now(), .run = s->run, .type = "Warning",
                                      .reason = "FailoverFailed", .kind = "VM", .name = name,
                                      .node = from,
                                      .message = arena_printf(s->a, "not started on %s: %s",
                                                              to ? to->name : "?",
                                                              error ? error : "?") };
            if (s->st && store_event(s->st, &fe, err, sizeof(err)) < 0)
                log_line(x, "error", obj, "cannot record the failed failover of %s: %s", obj, err);
            continue;
        }
        x->failovers_ok++;
        const char *msg = arena_printf(s->a, "started on %s: %s was fenced", to ? to->name : "?",
                                       from);
        /* node: the one it left (what recover_node checks) */
        struct store_event ev = { .at = store_now(), .run = s->run, .type = "Warning",
                                  .reason = "FailedOver", .kind = "VM", .name = name,
                                  .node = from, .message = msg };
        if (s->st && store_event(s->st, &ev, err, sizeof(err)) < 0)
            log_line(x, "error", obj, "cannot record the failover of %s: %s", obj, err);
        log_line(x, "warn", obj, "failover: %s %s", obj, msg);
        /* an event, not a state: its alert ends by itself after an hour */
        struct notify_alert al = {
            .group = "failover", .severity = "warning",
            .labels = { { "alertname", "QkvmFailedOver" }, { "project", x->project ? x->project : "" },
                        { "vm", name }, { "from", from }, { "to", to ? to->name : "" } },
            .summary = arena_printf(s->a, "VM %s failed over from %s to %s", name, from,
                                    to ? to->name : "?"),
            .description = msg, .fired = "FailedOver",
            .ends_ms = store_now() + 3600 * 1000 };
        notify_fire(x->notify, &al);
        if (!x->fo_a) {
            x->fo_a = arena_new();
            x->failovers = tree_new_seq(x->fo_a);
        }
        if (x->failovers->len >= 50) {     /* the recent ones */
            memmove(x->failovers->u.items, x->failovers->u.items + 1,
                    (x->failovers->len - 1) * sizeof(*x->failovers->u.items));
            x->failovers->len--;
        }
        struct tree *t = tree_new_map(x->fo_a);
        tree_map_str(x->fo_a, t, "vm", name);
        tree_map_str(x->fo_a, t, "from", from);
        tree_map_str(x->fo_a, t, "to", to ? to->name : "");
        tree_map_int(x->fo_a, t, "at", (long long)(ev.at / 1000));
        tree_seq_add(x->fo_a, x->failovers, t);
    }
}

static void count_run(struct ctl *x, enum run_kind k, enum store_result r, double secs)
{
    x->runs[k][r]++;
    size_t b = 0;
    while (b < NBUCKETS && secs > buckets[b])
        b++;
    x->hist[k][b]++;
    x->hist_sum[k] += secs;
}

/* Where each declared VM was seen by this run: on one node, the node
 * placement keeps it on. A VM seen on two nodes, or on its way to another,
 * is nowhere: its events take a full observation. */
static void where_record(struct ctl *x, const struct session *s)
{
    for (size_t i = 0; i < x->where.n; i++)
        free(x->where.v[i].vm);
    x->where.n = 0;
    x->by_node = s->plan_merged;
    if (!s->m || !s->plan)
        return;
    struct watch *one = NULL;
    for (size_t i = 0; i < x->watches.n && !s->nnodes; i++)
        if (x->watches.v[i]->wanted)
            one = x->watches.v[i];
    for (size_t i = 0; i < (s->nnodes ? s->nnodes : 1); i++) {
        const struct obs_host *h = s->nnodes ? s->nodes[i].obs : s->obs;
        if (s->nnodes && !s->nodes[i].selected)
            continue;                        /* observed, not planned (-c) */
        struct watch *w = one;
        for (size_t k = 0; s->nnodes && k < x->watches.n && !w; k++)
            if (strcmp(x->watches.v[k]->name, s->nodes[i].name) == 0)
                w = x->watches.v[k];
        for (size_t j = 0; h && w && j < h->ndoms; j++) {
            const char *vm = h->doms[j].name;
            const struct model_vm *want = (const struct model_vm *)model_find(s->m, MODEL_VM, vm);
            if (!want)
                continue;
            /* what the VM's plan alone cannot judge: it waits for a Disk or
             * Network that cannot be reconciled, or is a conflict (its
             * seed volume's included): the full observation's */
            bool alone = true;
            for (size_t k = 0; k < s->plan->nnotes && alone; k++) {
                const struct plan_note *pn = &s->plan->notes[k];
                alone = !(pn->kind == MODEL_VM && strcmp(pn->name, vm) == 0 &&
                          (pn->type == NOTE_BLOCKED || pn->type == NOTE_CONFLICT));
            }
            if (!alone)
                continue;
            if (s->nnodes) {
                const struct session_node *to = session_vm_node(s, vm, NULL);
                if (!to || strcmp(to->name, w->name) != 0)
                    continue;
            }
            struct where *e = NULL;
            for (size_t k = 0; k < x->where.n && !e; k++)
                if (strcmp(x->where.v[k].vm, vm) == 0)
                    e = &x->where.v[k];
            if (e)
                e->w = NULL;                 /* on two nodes */
            else
                *vec_push(&x->where) = (struct where){ xstrdup(vm), w };
        }
    }
}

/* A VM this run created, or moved, on a node (the node's name, NULL: the
 * one host): there now. */
static void where_set(struct ctl *x, const char *vm, const char *node)
{
    struct watch *w = NULL;
    for (size_t i = 0; i < x->watches.n && !w; i++)
        if (x->watches.v[i]->wanted && (!node || strcmp(x->watches.v[i]->name, node) == 0))
            w = x->watches.v[i];
    for (size_t i = 0; i < x->where.n; i++)
        if (strcmp(x->where.v[i].vm, vm) == 0) {
            x->where.v[i].w = w;
            return;
        }
    *vec_push(&x->where) = (struct where){ xstrdup(vm), w };
}

static struct watch *where_is(const struct ctl *x, const char *vm)
{
    for (size_t i = 0; i < x->where.n; i++)
        if (strcmp(x->where.v[i].vm, vm) == 0)
            return x->where.v[i].w;
    return NULL;
}

static void run_once(struct ctl *x, enum run_kind kind, bool deep)
{
    struct cli *c = x->c;
    int64_t t0 = mono_ms();
    bool sync = kind == RUN_SYNC;
    struct session_opts so = {
        .cmd = run_kind_names[kind],
        .set = &x->good,
        .source = x->source,
        .commit = x->good_commit[0] ? x->good_commit : NULL,
        .connect = c->connect,
        .state = c->state,
        .need = SESSION_MANIFESTS | SESSION_RECORD | SESSION_LOCK | SESSION_CONNECT |
                SESSION_PLAN | (deep ? SESSION_DEEP : 0),
        .plan = { .max_deletions = -1 },
        .lock_timeout_ms = c->lock_timeout_ms,
        .virt = c->virt,
        .verbose = c->verbose,
        .say = say,
        .findings = no_findings,
        .payload = x,
    };
    struct arena *fa = arena_new();
    so.fenced = fenced_nodes(x, fa);
    struct session s;
    enum session_status st = session_open(&s, &so);
    if (st != SESSION_OK) {
        count_run(x, kind, STORE_RUN_ERROR, (double)(mono_ms() - t0) / 1000);
        free(x->last_error);
        x->last_error = xstrdup(arena_printf(s.a, "%s of revision %.12s could not run",
                                             so.cmd, x->good_rev));
        if (sync)
            sync_retry(x, "could not run");
        if (kind == RUN_FAILOVER)
            x->failover_at = mono_ms() + SYNC_RETRY_MS;
        session_close(&s);
        arena_free(fa);
        rebuild_status(x);
        return;
    }
    snapshot(x, &s);
    where_record(x, &s);
    if (!sync) {
        engine_record_seen(&s, true, true);
        observe_findings(x, s.plan, NULL);
    }
    struct cookie k = { .x = x, .len = 0 };
    pthread_mutex_init(&k.mu, NULL);
    cookie_io_functions_t io = { NULL, cookie_write, NULL, NULL };
    FILE *log = fopencookie(&k, "w", io);
    if (log)
        setvbuf(log, NULL, _IOLBF, 0);
    if (stop_sig) {
        session_end(&s, STORE_RUN_ERROR, "", "the controller was stopping: nothing applied");
        if (log)
            fclose(log);
        pthread_mutex_destroy(&k.mu);
        session_close(&s);
        arena_free(fa);
        return;
    }
    x->cur = s.m;
    x->cur_s = &s;
    x->cur_kind = kind;
    struct engine_opts eo = {
        .shutdown_timeout_ms = (c->shutdown_timeout < 0 ? 60 : c->shutdown_timeout) * 1000,
        .commit = x->good_commit,
        .log = log,
        .cache_dir = c->cache_dir,
        .parallelism = c->parallelism,
        .journal = true,
        .objects = true,             /* qkvm_objects */
        .hold = sync && !so.fenced ? NULL : hold,
        .hold_payload = x,
    };
    struct arena *oa = arena_new();   /* the objects as rows: status and dashboard */
    eo.list_arena = oa;
    eo.list = tree_new_seq(oa);
    struct engine_result er;
    engine_apply(&s, &eo, &er);
    arena_free(x->objects_a);
    x->objects_a = oa;
    x->objects_list = eo.list;
    x->project = arena_strdup(oa, s.plan && s.plan->project ? s.plan->project : "");
    if (log)
        fclose(log);
    pthread_mutex_destroy(&k.mu);
    x->cur = NULL;
    x->cur_s = NULL;
    const struct apply_result *res = &er.res;
    memcpy(x->objects, er.objects, sizeof(x->objects));
    events_acted(x, s.plan, res);
    drop_applied(x, &s, res);
    notify_applied(x, &s, res);
    for (size_t i = 0; i < s.plan->n; i++) {
        const struct plan_action *pa = &s.plan->v[i];
        const char *to = pa->verb == PLAN_MIGRATE ? pa->target : pa->node;
        if (!to && s.nnodes) {         /* one node's plan: its actions name none */
            const struct session_node *sn = session_vm_node(&s, pa->name, NULL);
            to = sn ? sn->name : NULL;
        }
        if (pa->kind == MODEL_VM && res->status[i] == APPLY_DONE &&
            (pa->verb == PLAN_CREATE || pa->verb == PLAN_MIGRATE) && (to || !s.nnodes))
            where_set(x, pa->name, to);
    }
    failover_record(x, &s, res);
    size_t bad = engine_unapplied(s.plan);
    for (size_t i = 0; i < s.plan->nnotes; i++) {
        const struct plan_note *n = &s.plan->notes[i];
        if (engine_note_unapplied(n))
            log_line(x, "error", arena_printf(s.a, "%s/%s", plan_kind_name(n->kind), n->name),
                     "%s/%s%s%s: %s", plan_kind_name(n->kind), n->name, n->node ? " on " : "",
                     n->node ? n->node : "", n->message);
    }
    /* heals made: the backoff's count */
    int64_t now = mono_ms();
    size_t acted = 0;
    for (size_t i = 0; !sync && i < s.plan->n; i++) {
        const struct plan_action *pa = &s.plan->v[i];
        if (res->status[i] != APPLY_DONE && res->status[i] != APPLY_FAILED)
            continue;
        acted++;
        char key[600];
        snprintf(key, sizeof(key), "%s/%s", plan_kind_name(pa->kind), pa->name);
        struct heal *h = heal_of(x, key, true);
        if (h->last_ms && now - h->last_ms > HEAL_RESET_MS)
            h->count = 0;
        if (h->last_ms != now)
            h->count++;
        h->last_ms = now;
        res->status[i] == APPLY_DONE ? x->heals_done++ : x->heals_failed++;
        if (h->count > 1)
            log_line(x, "warn", key, "%s: healed %d times in a row; the next heal waits %llds",
                     key, h->count, (long long)(heal_delay(h->count) / 1000));
    }
    for (size_t i = 0; !sync && i < s.plan->n; i++) {
        const struct plan_action *pa = &s.plan->v[i];
        if (res->status[i] != APPLY_HELD || !res->error[i] ||
            strncmp(res->error[i], "healed recently", 15) != 0)
            continue;
        char key[600];
        snprintf(key, sizeof(key), "%s/%s", plan_kind_name(pa->kind), pa->name);
        const struct heal *h = heal_of(x, key, false);
        long long left = h ? (long long)((h->last_ms + heal_delay(h->count) - now + 999) / 1000)
                           : 0;
        int64_t due = h ? h->last_ms + heal_delay(h->count) : now;
        if (!x->heal_at || due < x->heal_at)
            x->heal_at = due;        /* an observation then, not only at the interval */
        log_line(x, "warn", key, "%s: not healed now: healed %d time%s in a row, the next heal "
                 "in %llds", key, h ? h->count : 0, h && h->count == 1 ? "" : "s",
                 left > 0 ? left : 0);
    }
    x->apply_failures += res->failed;
    enum store_result result;
    const char *summary;
    if (kind == RUN_FAILOVER) {
        /* its business: the VMs of fenced nodes (the rest is held) */
        result = er.rc < 0 || res->failed ? STORE_RUN_FAILED : STORE_RUN_OK;
        summary = arena_printf(s.a, "%zu done, %zu failed, %zu skipped; %zu held", res->done,
                               res->failed, res->skipped, res->held);
    } else if (sync) {
        result = er.rc < 0 || bad ? STORE_RUN_FAILED : STORE_RUN_OK;
        summary = arena_printf(s.a, "%zu done, %zu failed, %zu skipped", res->done,
                               res->failed, res->skipped);
    } else if (acted) {
        result = er.rc < 0 ? STORE_RUN_FAILED : s.plan->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK;
        summary = arena_printf(s.a, "%zu finding%s; healed: %zu done, %zu failed, %zu skipped; "
                               "%zu held", s.plan->ndrift, s.plan->ndrift == 1 ? "" : "s",
                               res->done, res->failed, res->skipped, res->held);
    } else {
        result = s.plan->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK;
        summary = arena_printf(s.a, "%zu finding%s; %zu held", s.plan->ndrift,
                               s.plan->ndrift == 1 ? "" : "s", res->held);
    }
    const char *first = er.first_error ? er.first_error : res->failure;
    if (!first && bad && sync)
        first = "parts of the manifests cannot be applied (conflicts, blocked changes, refused "
                "deletions, unschedulable VMs or unreachable nodes)";
    long long run_id = (long long)s.run;
    session_end(&s, result, summary, first);
    double secs = (double)(mono_ms() - t0) / 1000;
    count_run(x, kind, result, secs);
    free(x->last_error);
    x->last_error = first ? xstrdup(first) : NULL;
    bool synced = sync && result == STORE_RUN_OK && !res->interrupted;
    if (synced) {
        snprintf(x->synced_rev, sizeof(x->synced_rev), "%s", x->good_rev);
        snprintf(x->synced_commit, sizeof(x->synced_commit), "%s", x->good_commit);
        x->sync_failures = 0;
        x->sync_at = 0;
        x->last_sync_ok_wall = store_now();
        pthread_mutex_lock(&x->mu);
        x->ready = true;
        pthread_mutex_unlock(&x->mu);
    } else if (!sync) {
        x->last_observe_wall = store_now();
    }
    /* served (status, metrics, readiness) before the line that says the
     * run is done: a reader of the log may ask at once */
    rebuild_status(x);
    log_line(x, result == STORE_RUN_FAILED ? "error" : "info", NULL, "%s run %lld: %s: %s (%.2f s)",
             so.cmd, run_id, store_result_name(result), summary, secs);
    if (sync && !synced && !res->interrupted)
        sync_retry(x, "failed");
    if (kind == RUN_FAILOVER && result == STORE_RUN_FAILED && !res->interrupted)
        x->failover_at = mono_ms() + doubling(SYNC_RETRY_MS, SYNC_RETRY_MAX_MS,
                                              x->failover_failures++);   /* again, later */
    else if (kind == RUN_FAILOVER)
        x->failover_failures = 0;
    if (res->interrupted)
        stop_sig = res->interrupted;
    engine_result_dispose(&s, &er);
    session_close(&s);
    arena_free(fa);
    rebuild_status(x);
}

/* ---- the quick check ----
 *
 * Events name the VMs that changed. When each was, at the last run, on
 * the node its events came from (where_record), only those domains are
 * read (observe_only: six calls each, over the node's own connection)
 * and only those VMs planned (plan_opts.only): drift made by hand is
 * recorded within milliseconds, not after an observation of every domain
 * of every node. It is a run of kind observe, journalled as any other.
 *
 * It hands over to the full observation (returns false) when the events
 * come from several nodes, a VM was elsewhere or is not found now (an
 * undefine, a migration), the node is not ready, or a step failed; and
 * after recording, when a finding is of a VM a Policy with drift.mode:
 * heal selects: the full observation's run heals, with the backoff and
 * the holds every run has. */
static bool quick_check(struct ctl *x, const struct ev_note *ev, size_t nev)
{
    int64_t t0 = mono_ms();
    struct watch *w = ev[0].w;
    const char **names = xcalloc(nev + 1, sizeof(*names));
    size_t n = 0;
    bool ok = w->v && w->state == H_READY;
    for (size_t i = 0; ok && i < nev; i++) {
        ok = ev[i].w == w && where_is(x, ev[i].vm) == w;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(names[k], ev[i].vm) == 0;
        if (ok && !dup)
            names[n++] = ev[i].vm;
    }
    if (!ok || !n) {
        free(names);
        return false;
    }
    struct session_opts so = {
        .cmd = "observe",
        .set = &x->good,
        .source = x->source,
        .commit = x->good_commit[0] ? x->good_commit : NULL,
        .state = x->c->state,
        .need = SESSION_MANIFESTS,
        .say = say,
        .findings = no_findings,
        .payload = x,
    };
    struct session s;
    struct store *st = NULL;
    struct obs_host *obs = NULL;
    char err[1024] = "";
    bool took = false;
    struct store_holder prev;
    /* the reconcile lock, not waited for: while an apply of another
     * process runs, what its events show is on its way, and the full
     * observation (which waits for the lock) sees where it ends */
    bool locked = session_open(&s, &so) == SESSION_OK && s.m &&
                  (st = session_store(&so, STORE_WRITE)) &&
                  store_lock(st, "observe", 0, &took, &prev, err, sizeof(err)) == 0;
    if (locked && took) {
        const char *msg = session_lock_taken(st, 0, w->uri, &prev, s.a, err, sizeof(err));
        log_line(x, msg ? "info" : "warn", NULL, "%s", msg ? msg : err);
    }
    if (locked)
        obs = observe_only(w->v, s.m, names, n, err, sizeof(err));
    if (!obs || obs->ndoms != n) {
        if (locked && !obs)
            log_line(x, "warn", NULL, "%s: the events' domains: %s; observing every node",
                     w->name, err);
        observe_free(obs);
        store_close(st);               /* and its lock */
        session_close(&s);
        free(names);
        return false;
    }
    struct plan_opts po = { .max_deletions = -1, .only = names, .nonly = n };
    struct plan *p = plan_build(s.m, obs, &po);
    /* the node in the findings' key as the last run had it: a merged
     * plan's findings name their node, one node's plan's do not */
    struct scope sc = { x->by_node ? w->name : NULL, names, n };
    snapshot_scope(x, p, &sc);
    observe_findings(x, p, &sc);
    bool heal = false;
    for (size_t i = 0; i < p->ndrift && !heal; i++) {
        const struct model_object *o = model_find(s.m, MODEL_VM, p->drift[i].name);
        heal = o && heal_mode(s.m, o);
    }
    const char *what = n == 1 ? arena_printf(s.a, "vm/%s", names[0])
                              : arena_printf(s.a, "%zu VMs", n);
    enum store_result result = p->ndrift ? STORE_RUN_DRIFT : STORE_RUN_OK;
    const char *summary = arena_printf(s.a, "%zu finding%s; %s%s%s, from its events%s",
                                       p->ndrift, p->ndrift == 1 ? "" : "s", what,
                                       w->declared ? " on " : "", w->declared ? w->name : "",
                                       heal ? "; a full observation heals" : "");
    /* journalled: the run, and its findings (opened, or closed: only
     * those of these VMs), as a full observation records them */
    int64_t run = 0;
    struct store_finding *f = arena_alloc(s.a, (p->ndrift + 1) * sizeof(*f));
    size_t nf = 0;
    for (size_t i = 0; i < p->ndrift; i++) {
        const struct drift_finding *d = &p->drift[i];
        if (in_scope(&sc, sc.node, d->kind, d->name, drift_category_name(d->category), d->field))
            f[nf++] = (struct store_finding){ drift_category_name(d->category), d->kind,
                                              d->name, d->field, d->desired, d->actual,
                                              d->message, 0, 0, 0, 0 };
    }
    struct store_findings_scope fsc = { "VM", names, n, drift_category_name(DRIFT_DISK_MISSING),
                                        SCOPE_NOT_FIELD };
    if (store_run_begin(st, "observe", obs->uri, x->source,
                        x->good_commit[0] ? x->good_commit : "", &run, err, sizeof(err)) < 0 ||
        store_begin(st, err, sizeof(err)) < 0 ||
        store_findings_record_scoped(st, run, obs->uri, &fsc, f, nf, err,
                                     sizeof(err)) < 0 ||
        store_commit(st, err, sizeof(err)) < 0 ||
        store_run_end(st, run, result, summary, NULL, err, sizeof(err)) < 0) {
        store_rollback(st);
        log_line(x, "warn", NULL, "the check of %s is not recorded: %s", what, err);
        char e2[1024];
        if (run)
            store_run_end(st, run, STORE_RUN_ERROR, summary, err, e2, sizeof(e2));
    }
    store_close(st);
    double secs = (double)(mono_ms() - t0) / 1000;
    count_run(x, RUN_OBSERVE, result, secs);
    rebuild_status(x);                 /* served before the line that says it is done */
    log_line(x, "info", NULL, "observe run %lld: %s: %s (%.2f s)", (long long)run,
             store_result_name(result), summary, secs);
    plan_free(p);
    observe_free(obs);
    session_close(&s);
    free(names);
    return !heal;
}

/* A fenced node answers again: its copies of the VMs that failed over
 * (the placement records name another node now) are destroyed and
 * undefined, journalled as a run of kind recover; then it is ready. A
 * copy that runs is destroyed too: the node was said to be off, and the
 * VM runs elsewhere. On any failure the node stays fenced (nothing is
 * placed on it) and this is tried again. */
static void recover_node(struct ctl *x, struct watch *w)
{
    struct cli *c = x->c;
    struct session_opts so = {
        .cmd = "recover",
        .connect = w->uri,            /* the run's node (no connection is made) */
        .set = &x->good,
        .source = x->source,
        .commit = x->good_commit[0] ? x->good_commit : NULL,
        .state = c->state,
        .need = SESSION_MANIFESTS | SESSION_RECORD | SESSION_LOCK,
        .lock_timeout_ms = c->lock_timeout_ms,
        .virt = c->virt,
        .say = say,
        .findings = no_findings,
        .payload = x,
    };
    struct session s;
    int64_t now = mono_ms();
    if (!x->good_rev[0] || session_open(&s, &so) != SESSION_OK) {
        if (x->good_rev[0])
            session_close(&s);
        log_line(x, "error", NULL, "node %s: cannot remove its stale copies now (%s); it stays "
                 "fenced, trying again in %ds", w->name, x->good_rev[0] ? "the run could not "
                 "start: see above" : "no valid revision yet", RECOVER_RETRY_MS / 1000);
        watch_drop(w);
        w->retry_at = now + RECOVER_RETRY_MS;
        return;
    }
    char err[1024];
    struct obs_host *obs = observe_host(w->v, s.m, NULL, 0, err, sizeof(err));
    struct store_placement *rec = NULL;
    size_t nrec = 0;
    size_t removed = 0, failed = 0;
    long seq = 0;
    const char *first = NULL;
    if (!obs || store_placements(s.st, s.a, &rec, &nrec, err, sizeof(err)) < 0) {
        first = arena_strdup(s.a, err);
        failed++;
    }
    const char *project = model_project_name(s.m);
    /* the node's latest fence: only failovers since prove a copy stale */
    int64_t fenced_at = INT64_MAX;
    struct store_event *nev_v = NULL;
    size_t nnev = 0;
    if (!first && store_events(s.st, s.a, 0, "Node", w->name, 0, &nev_v, &nnev, err,
                               sizeof(err)) < 0) {
        first = arena_strdup(s.a, err);
        failed++;
    }
    for (size_t e = 0; e < nnev; e++)
        if (strcmp(nev_v[e].reason, "NodeFenced") == 0)
            fenced_at = nev_v[e].at;
    for (size_t d = 0; obs && !first && d < obs->ndoms; d++) {
        const struct obs_domain *od = &obs->doms[d];
        const char *owner, *why;
        if (!model_find(s.m, MODEL_VM, od->name) ||
            plan_owner(s.a, &od->mark, "VM", od->name, od->uuid, project, &owner, &why) !=
                OWNER_OURS)
            continue;
        const char *there = NULL;
        for (size_t r = 0; r < nrec && !there; r++)
            if (strcmp(rec[r].vm, od->name) == 0)
                there = rec[r].node;
        if (!there || strcmp(there, w->name) == 0)
            continue;                      /* it did not move: the runs reconcile it */
        /* and only a VM whose last failover left this node: a placement
         * record alone is not proof enough to remove a definition */
        struct store_event *evs = NULL;
        size_t nev = 0;
        const char *left = NULL;
        if (store_events(s.st, s.a, 0, "VM", od->name, 0, &evs, &nev, err, sizeof(err)) < 0) {
            first = first ? first : arena_strdup(s.a, err);
            failed++;
            continue;
        }
        int64_t left_at = 0;
        for (size_t e = 0; e < nev; e++)
            if (strcmp(evs[e].reason, "FailedOver") == 0) {
                left = evs[e].node;
                left_at = evs[e].at;
            }
        /* ... since this node's latest fence */
        if (!left || strcmp(left, w->name) != 0 || left_at < fenced_at) {
            log_line(x, "warn", arena_printf(s.a, "vm/%s", od->name), "node %s: vm/%s is "
                     "defined here and placed on %s, but did not fail over from here: left "
                     "alone (the runs report it)", w->name, od->name, there);
            continue;
        }
        const char *reason = arena_printf(s.a, "stale copy: %s runs on %s since %s was fenced%s",
                                          od->name, there, w->name,
                                          od->active ? " (this copy was running: destroyed)"
                                                     : "");
        struct store_action a = { .run = s.run, .seq = ++seq, .kind = "VM", .name = od->name,
                                  .verb = "remove", .reason = reason,
                                  .status = STORE_ACTION_PENDING };
        char e2[512];
        store_action_begin(s.st, &a, e2, sizeof(e2));
        int rc = virt_domain_remove(w->v, od->name, err, sizeof(err));
        store_action_end(s.st, s.run, seq, rc < 0 ? STORE_ACTION_FAILED : STORE_ACTION_DONE,
                         rc < 0 ? err : NULL, e2, sizeof(e2));
        if (rc < 0) {
            failed++;
            first = first ? first : arena_strdup(s.a, err);
            log_line(x, "error", arena_printf(s.a, "vm/%s", od->name), "node %s: cannot remove "
                     "the stale copy of vm/%s: %s", w->name, od->name, err);
            continue;
        }
        removed++;
        x->stale_removed++;
        struct store_event ev = { .at = store_now(), .run = s.run, .type = "Normal",
                                  .reason = "StaleCopyRemoved", .kind = "VM", .name = od->name,
                                  .node = w->name, .message = reason };
        store_event(s.st, &ev, e2, sizeof(e2));
        log_line(x, od->active ? "error" : "warn", arena_printf(s.a, "vm/%s", od->name),
                 "node %s: removed the stale copy of vm/%s (%s)%s", w->name, od->name,
                 there, od->active ? ": it was running although the node was fenced" : "");
    }
    observe_free(obs);
    const char *summary = arena_printf(s.a, "node %s: %zu stale cop%s removed, %zu failed",
                                       w->name, removed, removed == 1 ? "y" : "ies", failed);
    long long run_id = (long long)s.run;
    session_end(&s, failed ? STORE_RUN_FAILED : STORE_RUN_OK, summary, first);
    if (failed) {
        log_line(x, "error", NULL, "recover run %lld: %s: it stays fenced, trying again in %ds",
                 run_id, summary, RECOVER_RETRY_MS / 1000);
        session_close(&s);
        watch_drop(w);
        w->retry_at = now + RECOVER_RETRY_MS;
        return;
    }
    char said[512];                    /* summary lives in the session's arena */
    snprintf(said, sizeof(said), "%s", summary);
    session_close(&s);                 /* and its store: the event is written on another */
    node_event(x, w->name, "Normal", "NodeRecovered", said);
    log_line(x, "info", NULL, "recover run %lld: %s; node %s is ready", run_id, said, w->name);
    set_health(x, w, w->maintenance ? H_MAINTENANCE : H_READY, NULL);
    /* a sync: what waited for the node (its own VMs) is applied now */
    x->sync_at = mono_ms();
}

/* ---- what HTTP serves ---- */

static void metrics_text(struct ctl *x, FILE *f)
{
    struct metrics m = { .controller = true };
    for (int k = 0; k < RUN_KINDS; k++) {
        size_t slot = metrics_kind(&m, run_kind_names[k]);
        memcpy(m.runs[slot], x->runs[k], sizeof(m.runs[slot]));
        memcpy(m.hist[slot], x->hist[k], sizeof(m.hist[slot]));
        m.hist_sum[slot] = x->hist_sum[k];
    }
    m.last_sync_ok = (double)x->last_sync_ok_wall / 1000;
    if (x->synced_rev[0]) {
        m.synced_rev = x->synced_rev;
        m.synced_commit = x->synced_commit;
    }
    m.manifest_errors = x->manifest_errors;
    m.source_errors_known = true;
    m.source_errors = x->source_errors;
    for (size_t i = 0; x->drift && i < x->drift->len; i++) {
        const struct tree *d = x->drift->u.items[i];
        const char *cat = tree_str(d, "category", "");
        for (unsigned c = 0; c < DRIFT_CATEGORY_COUNT; c++)
            if (strcmp(cat, drift_category_name((enum drift_category)c)) == 0)
                metrics_finding(&m, tree_str(d, "kind", ""), c);
    }
    memcpy(m.objects, x->objects, sizeof(m.objects));
    size_t by[H_STATES] = { 0 };
    for (size_t i = 0; i < x->watches.n; i++)
        if (x->watches.v[i]->wanted)
            by[x->watches.v[i]->state]++;
    m.nstates = H_STATES;
    m.states = health_names;
    m.nodes = by;
    m.fences_ok = x->fences_ok;
    m.fences_failed = x->fences_failed;
    m.failovers_ok = x->failovers_ok;
    m.failovers_failed = x->failovers_failed;
    m.stale_removed = x->stale_removed;
    m.apply_failures = x->apply_failures;
    m.heals_done = x->heals_done;
    m.heals_failed = x->heals_failed;
    m.hooks_ok = atomic_load(&x->hooks_ok);
    m.hooks_refused = atomic_load(&x->hooks_refused);
    m.ready = x->ready;
    metrics_write(f, &m);
}

/* What stands now for the notifier: each drift finding of the status
 * (one alert per object, category and field: the same finding seen again
 * is the same alert), and each node failed or fenced. */
static void notify_standing(struct ctl *x)
{
    if (!x->notify)
        return;
    const char *project = x->project ? x->project : "";
    struct arena *a = arena_new();
    size_t n = x->drift ? x->drift->len : 0, k = 0;
    struct notify_alert *v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const struct tree *d = x->drift->u.items[i];
        const char *node = tree_str(d, "node", x->nodes && x->nodes->len == 1
                                                   ? tree_str(x->nodes->u.items[0], "name", "")
                                                   : "");
        const char *kind = tree_str(d, "kind", ""), *name = tree_str(d, "name", "");
        const char *cat = tree_str(d, "category", ""), *field = tree_str(d, "field", "");
        const char *want = tree_str(d, "desired", NULL), *is = tree_str(d, "actual", NULL);
        v[k++] = (struct notify_alert){
            .group = "drift", .severity = "warning",
            .labels = { { "alertname", "QkvmDrift" }, { "project", project }, { "node", node },
                        { "kind", kind }, { "name", name }, { "category", cat },
                        { "field", field } },
            .summary = arena_printf(a, "drift on %s: %s/%s %s%s%s", node, kind, name, cat,
                                    *field ? " " : "", field),
            .description = want || is ? arena_printf(a, "%s (want %s, is %s)",
                                                     tree_str(d, "message", ""),
                                                     want ? want : "-", is ? is : "-")
                                      : tree_str(d, "message", ""),
            .fired = "DriftDetected", .resolved = "DriftResolved" };
    }
    /* a node this run could not see keeps its drift alerts as they were */
    const char **unseen = xcalloc((x->nodes ? x->nodes->len : 0) + 1, sizeof(*unseen));
    size_t nu = 0;
    for (size_t i = 0; x->nodes && i < x->nodes->len; i++)
        if (strcmp(tree_str(x->nodes->u.items[i], "state", ""), "ready") != 0)
            unseen[nu++] = tree_str(x->nodes->u.items[i], "name", "");
    notify_group(x->notify, "drift", v, k, "node", unseen);
    free(unseen);
    free(v);
    v = xcalloc(x->watches.n + 1, sizeof(*v));
    k = 0;
    for (size_t i = 0; i < x->watches.n; i++) {
        const struct watch *w = x->watches.v[i];
        if (!w->wanted || (w->state != H_FAILED && w->state != H_FENCED))
            continue;
        v[k++] = (struct notify_alert){
            .group = "node", .severity = "critical",
            .labels = { { "alertname", "QkvmNodeFailed" }, { "project", project },
                        { "node", w->name } },
            .summary = arena_printf(a, "node %s failed", w->name),
            .description = arena_printf(a, "%s%s%s", health_names[w->state], w->why ? ": " : "",
                                        w->why ? w->why : ""),
            .fired = "NodeFailed", .resolved = "NodeRecovered" };
    }
    notify_group(x->notify, "node", v, k, NULL, NULL);
    k = 0;
    for (size_t i = 0; i < x->watches.n; i++) {
        const struct watch *w = x->watches.v[i];
        if (!w->wanted || !w->fence_failed)
            continue;
        v[k++] = (struct notify_alert){
            .group = "fence", .severity = "critical",
            .labels = { { "alertname", "QkvmFenceFailed" }, { "project", project },
                        { "node", w->name } },
            .summary = arena_printf(a, "the fence of node %s failed", w->name),
            .description = w->fence_why,
            .fired = "FenceFailed", .resolved = "FenceRecovered" };
    }
    notify_group(x->notify, "fence", v, k, NULL, NULL);
    free(v);
    arena_free(a);
}

static void rebuild_status(struct ctl *x)
{
    char *m = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&m, &mlen);
    if (f) {
        metrics_text(x, f);
        fclose(f);
    }
    struct arena *a = arena_new();
    struct tree *t = tree_new_map(a);
    tree_map_str(a, t, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, t, "kind", "ControllerStatus");
    tree_map_str(a, t, "source", x->source);
    tree_map_str(a, t, "revision", x->good_rev);
    tree_map_str(a, t, "syncedRevision", x->synced_rev);
    tree_map_str(a, t, "commit", x->good_commit);
    tree_map_str(a, t, "syncedCommit", x->synced_commit);
    tree_map_bool(a, t, "ready", x->ready);
    tree_map_bool(a, t, "valid", x->manifest_errors == 0);
    char when[64] = "";
    if (x->last_sync_ok_wall) {
        time_t tt = (time_t)(x->last_sync_ok_wall / 1000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    tree_map_str(a, t, "lastSync", when);
    when[0] = '\0';
    if (x->last_observe_wall) {
        time_t tt = (time_t)(x->last_observe_wall / 1000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    tree_map_str(a, t, "lastObservation", when);
    if (x->last_error)
        tree_map_str(a, t, "lastError", x->last_error);
    tree_map_add(a, t, "errors", x->errors ? x->errors : tree_new_seq(a));
    struct tree *nodes = tree_new_seq(a);
    for (size_t i = 0; i < x->watches.n; i++) {
        const struct watch *w = x->watches.v[i];
        if (!w->wanted)
            continue;
        struct tree *n = tree_new_map(a);
        tree_map_str(a, n, "name", w->name);
        tree_map_str(a, n, "state", health_names[w->state]);
        char since[64];
        time_t tt = (time_t)(w->since_wall / 1000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
        tree_map_str(a, n, "since", since);
        if (w->why && w->state != H_READY)
            tree_map_str(a, n, "message", w->why);
        if (w->declared)
            tree_map_str(a, n, "fence", fence_method_name(w->fs.method));
        tree_map_int(a, n, "fenceAttempts", w->fence_tries);
        tree_map_int(a, n, "flaps", w->flaps);
        /* what the last run saw of it */
        for (size_t k = 0; x->nodes && k < x->nodes->len; k++) {
            const struct tree *o = x->nodes->u.items[k];
            if (strcmp(tree_str(o, "name", ""), w->name) == 0 && tree_get(o, "error"))
                tree_map_str(a, n, "lastRunError", tree_str(o, "error", ""));
        }
        tree_seq_add(a, nodes, n);
    }
    tree_map_add(a, t, "nodes", nodes);
    tree_map_add(a, t, "failovers", x->failovers ? x->failovers : tree_new_seq(a));
    tree_map_add(a, t, "drift", x->drift ? x->drift : tree_new_seq(a));
    tree_map_str(a, t, "project", x->project ? x->project : "");
    tree_map_int(a, t, "generation", ++x->generation);
    bool fleet = false;
    for (size_t i = 0; i < x->watches.n; i++)
        fleet |= x->watches.v[i]->wanted && x->watches.v[i]->declared;
    tree_map_bool(a, t, "fleet", fleet);
    tree_map_add(a, t, "objects", x->objects_list ? x->objects_list : tree_new_seq(a));
    tree_map_add(a, t, "foreign", x->foreign ? x->foreign : tree_new_seq(a));
    char *j = jsondoc_string(t);
    arena_free(a);
    pthread_mutex_lock(&x->mu);
    free(x->metrics);
    free(x->status);
    x->metrics = m;
    x->status = j;
    pthread_mutex_unlock(&x->mu);
    notify_standing(x);
}

static bool token_ok(struct ctl *x, const struct httpd_request *rq)
{
    if (!x->token)
        return true;
    const char *h = httpd_header(rq, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(x->token), m = strlen(h);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x->token[i] ^ (i < m ? h[i] : 0));
    return diff == 0;
}

static void respond(struct httpd_response *rs, int status, const char *type, const char *body)
{
    rs->status = status;
    rs->content_type = type;
    rs->body = xstrdup(body ? body : "");
    rs->len = strlen(rs->body);
}

/* POST /api/v1/webhook: a push. Signed with HMAC-SHA256 over the body
 * (X-Hub-Signature-256: sha256=HEX, GitHub's and Gitea's header) with
 * the --webhook-secret-file's secret; anything else is refused. Several
 * at once make one fetch. */
static void webhook(struct ctl *x, const struct httpd_request *rq, struct httpd_response *rs)
{
    const char *why = NULL;
    if (strcmp(rq->method, "POST") != 0)
        why = "method not allowed: POST";
    else if (!x->git || !x->webhook_secret)
        why = "no webhook here: the controller needs --git and --webhook-secret-file";
    else if (!httpd_header(rq, "X-Hub-Signature-256"))
        why = "unsigned: X-Hub-Signature-256 is missing";
    else if (!digest_hmac_ok(x->webhook_secret, x->secret_len, rq->body, rq->len,
                             httpd_header(rq, "X-Hub-Signature-256")))
        why = "the signature does not match the body";
    pthread_mutex_lock(&x->mu);
    if (why) {
        x->hooks_refused++;
        x->hook_why = why;            /* logged by the loop, at most once per 10 s */
        pthread_mutex_unlock(&x->mu);
        if (wake_fd >= 0) {
            ssize_t r = write(wake_fd, "r", 1);
            (void)r;
        }
        respond(rs, strcmp(rq->method, "POST") != 0 ? 405 : !x->git || !x->webhook_secret ? 404
                                                                                           : 401,
                NULL, why);
        return;
    }
    x->hooks_ok++;
    pthread_mutex_unlock(&x->mu);
    atomic_store(&x->webhook, 1);
    if (wake_fd >= 0) {
        ssize_t r = write(wake_fd, "w", 1);
        (void)r;
    }
    respond(rs, 202, NULL, "accepted: fetching\n");
}

/* GET / (the page) and /api/v1/report (its tree): the dashboard of the
 * status the loop last published, so that they and /api/v1/status say the
 * same, with the runs and events of the state database read on this
 * thread's own connection. */
static void dashboard(struct ctl *x, bool html, struct httpd_response *rs)
{
    pthread_mutex_lock(&x->mu);
    char *status = xstrdup(x->status ? x->status : "{}");
    pthread_mutex_unlock(&x->mu);
    struct arena *a = arena_new();
    struct tree *st = jsondoc_parse(a, status);
    free(status);
    bool dflt;
    char *path = session_state_path(x->c->state, &dflt);
    char err[1024];
    struct store *db = store_open(path, STORE_READ, err, sizeof(err));
    free(path);
    struct dashboard_in in = {
        .project = tree_str(st, "project", ""),
        .source = tree_str(st, "source", ""),
        .commit = tree_str(st, "commit", ""),
        .last_sync = tree_str(st, "lastSync", ""),
        .synced_commit = tree_str(st, "syncedCommit", ""),
        .nodes = tree_get(st, "nodes"),
        .findings = tree_get(st, "drift"),
        .objects = tree_get(st, "objects"),
        .foreign = tree_get(st, "foreign"),
        .live = true,
        .fleet = tree_bool(st, "fleet"),
        .generation = tree_int(st, "generation", 0),
    };
    struct tree *t = dashboard_tree(a, &in, db, store_now());
    if (!db)
        tree_seq_add(a, tree_get(t, "errors"),
                     tree_new_str(a, arena_printf(a, "the state database cannot be read: %s", err)));
    store_close(db);
    char *body = NULL;
    size_t len = 0;
    if (html) {
        FILE *f = open_memstream(&body, &len);
        int hrc = f ? dashboard_html(f, t) : -1;
        if (f)
            fclose(f);
        if (hrc < 0) {
            free(body);
            body = NULL;
        }
    } else {
        body = jsondoc_string(t);
        len = body ? strlen(body) : 0;
    }
    arena_free(a);
    if (!body) {
        respond(rs, 500, NULL, "the report could not be made\n");
        return;
    }
    rs->status = 200;
    rs->content_type = html ? "text/html; charset=utf-8" : "application/json";
    rs->body = body;
    rs->len = len;
}

static void on_http(void *payload, const struct httpd_request *rq, struct httpd_response *rs)
{
    struct ctl *x = payload;
    if (strcmp(rq->path, "/api/v1/webhook") == 0) {
        webhook(x, rq, rs);           /* its own proof: the signature */
        return;
    }
    if (!token_ok(x, rq)) {
        respond(rs, 401, NULL, "a bearer token is required (the --token-file's)\n");
        return;
    }
    bool get = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
    const char *p = rq->path;
    bool page = strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0;
    bool known = page || strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 ||
                 strcmp(p, "/metrics") == 0 || strcmp(p, "/api/v1/status") == 0 ||
                 strcmp(p, "/api/v1/report") == 0;
    if (!known) {
        respond(rs, 404, NULL, "not found: /, /healthz, /readyz, /metrics, /api/v1/status, "
                               "/api/v1/report, /api/v1/webhook\n");
        return;
    }
    if (!get) {
        respond(rs, 405, NULL, "method not allowed: GET\n");
        return;
    }
    if (page || strcmp(p, "/api/v1/report") == 0) {
        dashboard(x, page, rs);
        return;
    }
    pthread_mutex_lock(&x->mu);
    if (strcmp(p, "/healthz") == 0)
        respond(rs, 200, NULL, "ok\n");
    else if (strcmp(p, "/readyz") == 0)
        respond(rs, x->ready ? 200 : 503, NULL,
                x->ready ? "ready\n" : "not ready: no sync has succeeded yet\n");
    else if (strcmp(p, "/metrics") == 0 && x->notify) {
        /* the notifier's counters as they are now, after the last run's */
        char *m = NULL;
        size_t mlen = 0;
        FILE *f = open_memstream(&m, &mlen);
        if (f) {
            struct notify_stats st;
            notify_stats(x->notify, &st);
            fputs(x->metrics ? x->metrics : "", f);
            metrics_write_notify(f, &st);
            fclose(f);
        }
        respond(rs, 200, "text/plain; version=0.0.4; charset=utf-8", m);
        free(m);
    } else if (strcmp(p, "/metrics") == 0)
        respond(rs, 200, "text/plain; version=0.0.4; charset=utf-8", x->metrics);
    else
        respond(rs, 200, "application/json", x->status);
    pthread_mutex_unlock(&x->mu);
}

/* "PORT", "ADDR:PORT", "[V6]:PORT" */
static int parse_listen(const char *s, char *addr, size_t alen, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *ps = colon ? colon + 1 : s;
    if (colon) {
        const char *a = s;
        size_t n = (size_t)(colon - s);
        if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
            a++;
            n -= 2;
        }
        if (n == 0 || n >= alen)
            return -1;
        memcpy(addr, a, n);
        addr[n] = '\0';
    } else {
        snprintf(addr, alen, "127.0.0.1");
    }
    char *end;
    long v = strtol(ps, &end, 10);
    if (*ps == '\0' || *end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static bool loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

static char *read_token(const char *path, const char *flag)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("%s '%s': %s", flag, path, strerror(errno));
        return NULL;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n < 16) {
        cli_error("%s '%s': it must hold at least 16 characters", flag, path);
        return NULL;
    }
    return xstrdup(buf);
}

/* The notifier's log lines, in the controller's log (from its thread, as
 * apply's threads write theirs). */
static void notify_log(void *payload, const char *level, const char *msg)
{
    log_msg_rev(payload, level, NULL, msg, false);
}

/* --alertmanager, --notify-webhook-file (URLs, one per line; blank lines
 * and # comments skipped), --notify-secret-file. -1 when a file cannot be
 * read or holds no URL (said). */
static int notify_start(struct ctl *x)
{
    const struct cli *c = x->c;
    if (!c->alertmanager && !c->notify_webhook_file)
        return c->notify_secret_file ? (cli_error("--notify-secret-file without "
                                                  "--notify-webhook-file signs nothing"), -1)
                                     : 0;
    VEC(char *) urls = { 0 };
    char *secret = NULL;
    int rc = -1;
    FILE *f = NULL;
    if (c->notify_webhook_file) {
        if (!(f = fopen(c->notify_webhook_file, "r"))) {
            cli_error("--notify-webhook-file '%s': %s", c->notify_webhook_file, strerror(errno));
            goto out;
        }
        char line[4096];
        unsigned lineno = 0;
        while (fgets(line, sizeof(line), f)) {
            lineno++;
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
                line[--n] = '\0';
            const char *u = line + strspn(line, " \t");
            if (!*u || *u == '#')
                continue;
            if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
                char b[512];
                cli_error("%s:%u: not an http:// or https:// URL: %s", c->notify_webhook_file,
                          lineno, notify_shown_url(u, b, sizeof(b)));
                goto out;
            }
            *vec_push(&urls) = xstrdup(u);
        }
        if (!urls.n) {
            cli_error("--notify-webhook-file '%s' holds no URL", c->notify_webhook_file);
            goto out;
        }
    }
    if (c->notify_secret_file &&
        !(secret = read_token(c->notify_secret_file, "--notify-secret-file")))
        goto out;
    struct notify_opts o = {
        .alertmanager = c->alertmanager,
        .webhooks = (const char *const *)urls.v,
        .nwebhooks = urls.n,
        .secret = secret,
        .secret_len = secret ? strlen(secret) : 0,
        .log = notify_log,
        .log_payload = x,
    };
    /* tests: a faster clock for retries and resends (milliseconds) */
    const char *t = getenv("QKVM_NOTIFY_RETRY_MS");
    if (t)
        o.retry_first_ms = strtol(t, NULL, 10);
    if ((t = getenv("QKVM_NOTIFY_RESEND_MS")))
        o.resend_ms = strtol(t, NULL, 10);
    x->notify = notify_new(&o);       /* copies what it keeps */
    rc = x->notify ? 0 : -1;
out:
    if (f)
        fclose(f);
    for (size_t i = 0; i < urls.n; i++)
        free(urls.v[i]);
    vec_free(&urls);
    if (secret)
        memset(secret, 0, strlen(secret));
    free(secret);
    return rc;
}

/* One controller per state database: an flock()ed file beside it. */
static int controller_lock(const struct cli *c)
{
    bool dflt;
    char *sp = session_state_path(c->state, &dflt);
    char *lp, *slash;
    size_t n = strlen(sp) + sizeof(".controller");
    lp = xmalloc(n);
    snprintf(lp, n, "%s.controller", sp);
    if (dflt && (slash = strrchr(sp, '/'))) {
        *slash = '\0';
        mkdir(sp, 0700);
    }
    free(sp);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("cannot open '%s': %s", lp, strerror(errno));
        free(lp);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        cli_error("another controller (pid %s) runs with this state database (%s); one per "
                  "database", *pid ? pid : "?", lp);
        close(fd);
        free(lp);
        return -1;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)pl, 0) < 0)
        cli_warning("cannot write the pid into '%s': %s", lp, strerror(errno));
    free(lp);
    return fd;
}

static void controller_unlock(int fd)
{
    close(fd);
}

/* --git-cache, else the directory "git" beside the state database, one
 * bare repository per URL (named by its SHA-256). */
static char *git_cache_dir(const struct cli *c, struct ctl *x)
{
    char hex[65];
    struct digest *d = digest_new();
    digest_add(d, c->git_url, strlen(c->git_url));
    digest_end(d, hex);
    const char *base = c->git_cache;
    if (!base) {
        bool dflt;
        char *sp = session_state_path(c->state, &dflt);
        char *slash = strrchr(sp, '/');
        base = arena_printf(x->snap, "%s/git", slash ? arena_printf(x->snap, "%.*s",
                                                                  (int)(slash - sp), sp) : ".");
        free(sp);
    }
    if (mkdir(base, 0700) < 0 && errno != EEXIST) {
        cli_error("cannot make the Git cache directory '%s': %s", base, strerror(errno));
        return NULL;
    }
    return xstrdup(arena_printf(x->snap, "%s/%.16s", base, hex));
}

CLI_COMMAND(cmd_run)
{
    (void)s;
    (void)argc;
    (void)argv;
    if (!c->nfiles == !c->git_url)
        return cli_error(c->nfiles ? "run takes one source: -f DIR or --git URL, not both"
                                   : "run needs a source: -f DIR (a directory, watched) or --git "
                                     "URL (a repository, fetched)");
    if (!c->git_url && (c->git_ref || c->git_path || c->git_token_file || c->git_ssh_key ||
                        c->webhook_secret_file || c->interval_ms >= 0 || c->verify_keyring))
        return cli_error("--ref, --path, --interval, --git-token-file, --git-ssh-key, "
                         "--webhook-secret-file and --verify-commits are for a --git source");
    char addr[256];
    int port = 0;
    if (c->listen && parse_listen(c->listen, addr, sizeof(addr), &port) < 0)
        return cli_error("--listen takes PORT, ADDR:PORT or [ADDR]:PORT, not '%s'", c->listen);
    if (c->listen && !loopback(addr) && !c->token_file)
        return cli_error("--listen %s is not a loopback address: give --token-file too (every "
                         "request must then carry the token)", addr);
    struct ctl x = { .c = c, .json = c->log_json, .ino = -1, .wake = { -1, -1 },
                     .grace_ms = c->node_grace_ms >= 0 ? c->node_grace_ms : 10000,
                     .fence_timeout_ms = c->fence_timeout_ms > 0 ? c->fence_timeout_ms : 60000 };
    pthread_mutex_init(&x.mu, NULL);
    pthread_mutex_init(&x.ev_mu, NULL);
    x.generation = store_now();       /* a new process's pages differ from an old one's */
    x.snap = arena_new();
    if (c->token_file && !(x.token = read_token(c->token_file, "--token-file")))
        return CLI_EXIT_ERROR;
    if (c->webhook_secret_file) {
        if (!(x.webhook_secret = read_token(c->webhook_secret_file, "--webhook-secret-file"))) {
            free(x.token);
            return CLI_EXIT_ERROR;
        }
        x.secret_len = strlen(x.webhook_secret);
        if (!c->listen)
            cli_warning("--webhook-secret-file without --listen: no webhook can arrive");
    }
    int lockfd = controller_lock(c);
    if (lockfd < 0) {
        free(x.token);
        arena_free(x.snap);
        return CLI_EXIT_ERROR;
    }
    const char *src = "dir:";
    for (size_t i = 0; i < c->nfiles; i++)
        src = arena_printf(x.snap, "%s%s%s", src, i ? "," : "", c->files[i]);
    if (c->git_url) {
        /* the URL without what may be a secret in it (user:password@) */
        const char *u = c->git_url, *sl = strstr(u, "://"), *shown = u;
        if (sl) {
            const char *host = sl + 3, *end = host + strcspn(host, "/"), *at = NULL;
            for (const char *p = host; p < end; p++)
                if (*p == '@')
                    at = p;            /* the last one: a password may hold '@' */
            if (at)
                shown = arena_printf(x.snap, "%.*s%s", (int)(host - u), u, at + 1);
        }
        src = arena_printf(x.snap, "git:%s#%s%s%s", shown, c->git_ref ? c->git_ref : "HEAD",
                           c->git_path ? ":" : "", c->git_path ? c->git_path : "");
        char *cache = git_cache_dir(c, &x);
        if (!cache) {
            controller_unlock(lockfd);
            free(x.token);
            arena_free(x.snap);
            return CLI_EXIT_ERROR;
        }
        /* its own copy: x.snap is the runs' scratch, freed by each */
        x.shown_url = xstrdup(shown);
        struct gitsrc_opts go = { c->git_url, c->git_ref, c->git_path, cache, c->git_token_file,
                                  c->git_ssh_key, x.shown_url, &stop_sig };
        x.git = gitsrc_new(&go);
        x.git_cache = cache;
        if (c->verify_keyring) {
            char err[1024];
            const char *home = arena_printf(x.snap, "%.*s.gnupg", (int)(strlen(cache) - 17),
                                            cache);
            x.gpg = gpgv_new(c->verify_keyring, home, err, sizeof(err));
            if (!x.gpg) {
                cli_error("%s", err);
                gitsrc_free(x.git);
                free(x.git_cache);
                free(x.shown_url);
                controller_unlock(lockfd);
                free(x.token);
                free(x.webhook_secret);
                arena_free(x.snap);
                return CLI_EXIT_ERROR;
            }
        }
    }
    x.source = xstrdup(src);
    if (pipe2(x.wake, O_CLOEXEC | O_NONBLOCK) < 0)
        return cli_error("pipe: %s", strerror(errno));
    wake_fd = x.wake[1];
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    x.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (x.ino < 0)
        cli_warning("inotify: %s; the source is read again every observation", strerror(errno));
    watch_all(&x);
    struct httpd *h = NULL;
    int rc = CLI_EXIT_OK;
    if (notify_start(&x) < 0) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    virtxml_init();                   /* libxml2, before the HTTP thread renders pages */
    rebuild_status(&x);
    if (c->listen) {
        char err[512];
        h = httpd_start(addr, port, on_http, &x, err, sizeof(err));
        if (!h) {
            rc = cli_error("%s", err);
            goto out;
        }
        log_line(&x, "info", NULL, "listening on %s%s%s:%d (/ /healthz /readyz /metrics "
                 "/api/v1/status /api/v1/report)", strchr(addr, ':') ? "[" : "", addr,
                 strchr(addr, ':') ? "]" : "", httpd_port(h));
    }
    int64_t debounce = c->debounce_ms >= 0 ? c->debounce_ms : 500;
    int64_t fetch_every = c->interval_ms > 0 ? c->interval_ms : 60000;
    int64_t interval = c->observe_interval_ms > 0 ? c->observe_interval_ms : 300000;
    if (x.git)
        log_line(&x, "info", NULL, "controller started (pid %d): source %s (cache %s), fetched "
                 "every %lld s%s, observation every %lld s", (int)getpid(), x.source, x.git_cache,
                 (long long)(fetch_every / 1000), x.webhook_secret ? " and on a signed webhook" : "",
                 (long long)(interval / 1000));
    else
        log_line(&x, "info", NULL, "controller started (pid %d): source %s, debounce %lld ms, "
                 "observation every %lld s", (int)getpid(), x.source, (long long)debounce,
                 (long long)(interval / 1000));
    read_source(&x);
    x.fetch_at = mono_ms() + fetch_every;
    x.observe_at = mono_ms() + interval;
    while (!stop_sig) {
        int64_t now = mono_ms();
        if (hup_sig) {
            hup_sig = 0;
            log_line(&x, "info", NULL, "SIGHUP: reading the source again and observing");
            watch_all(&x);
            read_source(&x);
            x.observe_at = now;
        }
        /* a webhook fetches at once, but not more often than every
         * HOOK_GAP_MS however many arrive (a replayed delivery is valid) */
        if (x.git && ((atomic_load(&x.webhook) && now >= x.hook_ok_at) || now >= x.fetch_at)) {
            atomic_store(&x.webhook, 0);
            read_source(&x);
            x.fetch_at = mono_ms() + fetch_every;
            x.hook_ok_at = mono_ms() + HOOK_GAP_MS;
            now = mono_ms();
        }
        if (x.debounce_at && now >= x.debounce_at) {
            x.debounce_at = 0;
            watch_all(&x);
            read_source(&x);
        }
        health_tick(&x);
        if (x.good_rev[0] && x.failover_at && now >= x.failover_at) {
            /* a node was fenced: its HA VMs are started elsewhere now */
            x.failover_at = 0;
            run_once(&x, RUN_FAILOVER, false);
            continue;
        }
        if (x.good_rev[0] && x.sync_at && now >= x.sync_at) {
            run_once(&x, RUN_SYNC, false);
            continue;
        }
        if (x.heal_at && now >= x.heal_at) {
            x.heal_at = 0;
            x.observe_at = now;
        }
        if (now >= x.observe_at) {
            /* without inotify the directory is read again here; without a
             * valid revision there is nothing to observe against yet */
            if (x.ino < 0 && !x.git)
                read_source(&x);
            if (x.good_rev[0]) {
                struct ev_note *ev;
                size_t nev = events_take(&x, &ev);
                events_free(ev, nev);
                run_once(&x, RUN_OBSERVE, true);
            }
            x.observe_at = mono_ms() + interval;
            continue;
        }
        pthread_mutex_lock(&x.ev_mu);
        int64_t event_at = x.event_at;
        pthread_mutex_unlock(&x.ev_mu);
        if (x.good_rev[0] && event_at && now >= event_at) {
            /* what changed by hand: seen and, per Policy, healed now */
            struct ev_note *ev;
            size_t nev = events_take(&x, &ev);
            if (nev && !quick_check(&x, ev, nev))
                run_once(&x, RUN_OBSERVE, false);
            events_free(ev, nev);
            continue;
        }
        pthread_mutex_lock(&x.mu);
        unsigned long refused = atomic_load(&x.hooks_refused);
        const char *why = x.hook_why;
        pthread_mutex_unlock(&x.mu);
        if (refused != x.hooks_said && now - x.hook_logged_ms > 10000) {
            log_line(&x, "warn", NULL, "webhook refused: %s (%lu refused so far)", why, refused);
            x.hooks_said = refused;
            x.hook_logged_ms = now;
        }
        int64_t wn = watch_next(&x);
        if ((wn && now >= wn) || watch_any_lost(&x)) {
            watch_connect(&x);
            continue;
        }
        int64_t next = x.observe_at;
        if (x.sync_at && x.sync_at < next)
            next = x.sync_at;
        if (x.debounce_at && x.debounce_at < next)
            next = x.debounce_at;
        if (x.heal_at && x.heal_at < next)
            next = x.heal_at;
        if (x.git && x.fetch_at < next)
            next = x.fetch_at;
        if (x.git && atomic_load(&x.webhook) && x.hook_ok_at < next)
            next = x.hook_ok_at;
        if (event_at && x.good_rev[0] && event_at < next)
            next = event_at;
        if (wn && wn < next)
            next = wn;
        int64_t hn = health_next(&x);
        if (hn && hn < next)
            next = hn;
        if (x.failover_at && x.good_rev[0] && x.failover_at < next)
            next = x.failover_at;
        int64_t wait = next - mono_ms();
        struct pollfd pf[2] = { { x.wake[0], POLLIN, 0 }, { x.ino, POLLIN, 0 } };
        int r = poll(pf, x.ino >= 0 ? 2 : 1, wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait);
        if (r < 0 && errno != EINTR) {
            rc = cli_error("poll: %s", strerror(errno));
            break;
        }
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        if (r > 0 && (pf[0].revents & POLLIN))
            while (read(x.wake[0], buf, sizeof(buf)) > 0)
                ;
        if (r > 0 && x.ino >= 0 && (pf[1].revents & POLLIN)) {
            bool any = false;
            ssize_t len;
            while ((len = read(x.ino, buf, sizeof(buf))) > 0)
                any = true;
            if (any)
                x.debounce_at = mono_ms() + debounce;
        }
    }
    log_line(&x, "info", NULL, "%s: stopped", stop_sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
    httpd_stop(h);
    notify_free(x.notify);
    /* the threads that write to the wake pipe end first: fences, events */
    for (size_t i = 0; i < x.watches.n; i++) {
        fence_free(x.watches.v[i]->fence);
        arena_free(x.watches.v[i]->fa);
        free(x.watches.v[i]->why);
        free(x.watches.v[i]->fence_why);
        watch_drop(x.watches.v[i]);
        free(x.watches.v[i]->name);
        free(x.watches.v[i]->uri);
        free(x.watches.v[i]);
    }
    vec_free(&x.watches);
    wake_fd = -1;
    close(x.wake[0]);
    close(x.wake[1]);
    if (x.ino >= 0)
        close(x.ino);
    controller_unlock(lockfd);
    events_free(x.events.v, x.events.n);
    for (size_t i = 0; i < x.where.n; i++)
        free(x.where.v[i].vm);
    vec_free(&x.where);
    for (size_t i = 0; i < x.declared.n; i++)
        free(x.declared.v[i]);
    vec_free(&x.declared);
    pthread_mutex_destroy(&x.ev_mu);
    manifest_set_free(&x.good);
    for (size_t i = 0; i < x.heals.n; i++)
        free(x.heals.v[i].key);
    vec_free(&x.heals);
    for (size_t i = 0; i < x.findings.n; i++)
        known_free(&x.findings.v[i]);
    vec_free(&x.findings);
    free(x.metrics);
    free(x.status);
    free(x.token);
    free(x.last_error);
    free((char *)x.source);
    gitsrc_free(x.git);
    gpgv_free(x.gpg);
    free(x.git_cache);
    free(x.shown_url);
    free(x.webhook_secret);
    arena_free(x.snap);
    arena_free(x.errs_a);
    arena_free(x.fo_a);
    arena_free(x.objects_a);
    pthread_mutex_destroy(&x.mu);
    return rc;
}
