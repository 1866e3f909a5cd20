/* test_store.c — the state store on real sqlite files in a temporary
 * directory: schema and migrations from every earlier version, refusal of
 * foreign, newer, altered and non-SQLite files (left byte for byte as they
 * were), the journal, interrupted runs (only those whose process is gone,
 * told apart from a reused pid by its start time), findings as intervals,
 * ownership, the lock, and retention over 100,000 runs. */
#include "arena.h"
#include "store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[256];
static char err[1024];
static const char *self;            /* argv[0]: this program, run again as a helper */

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

static void q(struct store *s, const char *sql, char *out, size_t size)
{
    assert_int_equal(store_query_text(s, sql, out, size, err, sizeof(err)), 0);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void test_store__fresh_file(void **state)
{
    (void)state;
    char v[64];
    struct store *s = store_open(tmp("fresh.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    assert_true(store_writable(s));
    q(s, "PRAGMA user_version", v, sizeof(v));
    assert_int_equal(strtol(v, NULL, 10), STORE_VERSION);
    q(s, "PRAGMA journal_mode", v, sizeof(v));
    assert_string_equal(v, "wal");
    q(s, "PRAGMA foreign_keys", v, sizeof(v));
    assert_string_equal(v, "1");
    q(s, "PRAGMA synchronous", v, sizeof(v));
    assert_string_equal(v, "1");                       /* NORMAL */
    q(s, "PRAGMA application_id", v, sizeof(v));
    assert_string_equal(v, "1902868077");              /* 'qkvm' */
    q(s, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = "
         "'table' ORDER BY name)", v, sizeof(v));
    assert_string_equal(v, "actions events findings nodes objects owned placements runs");
    store_close(s);
    /* a reader of a missing file gets an empty store and creates nothing */
    s = store_open(tmp("absent.db"), STORE_READ, err, sizeof(err));
    assert_non_null(s);
    assert_false(store_writable(s));
    store_close(s);
    assert_int_equal(access(tmp("absent.db"), F_OK), -1);
}

/* Every earlier version, with data in it, migrates forward at open and
 * keeps the data. */
static void test_store__migrations(void **state)
{
    (void)state;
    for (int ver = 1; ver < STORE_VERSION; ver++) {
        char name[64], v[64];
        snprintf(name, sizeof(name), "v%d.db", ver);
        assert_int_equal(store_create_at_version(tmp(name), ver,
            "INSERT INTO runs(kind, started, result) VALUES('apply', 1000, 'ok');"
            "INSERT INTO actions(run, seq, kind, name, verb, status, started) "
            "VALUES(1, 0, 'vm', 'a', 'create', 'done', 1000);"
            "INSERT INTO owned(pool_uuid, name, created) VALUES('u-1', 'p', 1000);",
            err, sizeof(err)), 0);
        struct store *s = store_open(tmp(name), STORE_WRITE, err, sizeof(err));
        assert_non_null(s);
        q(s, "PRAGMA user_version", v, sizeof(v));
        assert_int_equal(strtol(v, NULL, 10), STORE_VERSION);
        q(s, "SELECT kind || ' ' || result FROM runs WHERE id = 1", v, sizeof(v));
        assert_string_equal(v, "apply ok");
        q(s, "SELECT name FROM actions WHERE run = 1", v, sizeof(v));
        assert_string_equal(v, "a");
        q(s, "SELECT name FROM owned", v, sizeof(v));
        assert_string_equal(v, "p");
        q(s, "PRAGMA integrity_check", v, sizeof(v));
        assert_string_equal(v, "ok");
        /* what the latest version added works on the migrated file */
        struct store_event e = { 0, 1, "Normal", "Created", "VM", "a", "", "created" };
        assert_int_equal(store_event(s, &e, err, sizeof(err)), 0);
        store_close(s);
    }
}

/* Refused, and left exactly as it was. */
static void refused(const char *name, const char *want)
{
    size_t before_len, after_len;
    char *before = read_file(tmp(name), &before_len);
    for (int mode = 0; mode < 2; mode++) {
        struct store *s = store_open(tmp(name), mode ? STORE_WRITE : STORE_READ, err,
                                     sizeof(err));
        assert_null(s);
        if (!strstr(err, want))
            fail_msg("'%s' lacks '%s'", err, want);
    }
    char *after = read_file(tmp(name), &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

static void test_store__refuses_what_is_not_ours(void **state)
{
    (void)state;
    char text[4096];
    memset(text, 'x', sizeof(text));
    write_file(tmp("text.db"), text, sizeof(text));
    refused("text.db", "not an SQLite file");

    assert_int_equal(store_create_at_version(tmp("newer.db"), STORE_VERSION,
                                             "PRAGMA user_version = 99", err, sizeof(err)), 0);
    refused("newer.db", "written by a newer qkvm (schema version 99");

    /* another program's database: an SQLite file without qkvm's id */
    assert_int_equal(store_create_at_version(tmp("foreign.db"), 1,
                                             "PRAGMA application_id = 42", err, sizeof(err)), 0);
    refused("foreign.db", "an SQLite database of another program");

    struct store *s = store_open(tmp("no/such/dir/state.db"), STORE_WRITE, err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, "does not exist"));
}

/* A qkvm database whose schema was changed by hand is refused like any
 * other foreign file, by readers and writers, and left as it was. */
static void test_store__refuses_an_altered_schema(void **state)
{
    (void)state;
    static const struct { const char *name, *sql, *want; } cases[] = {
        { "added-column.db", "ALTER TABLE runs ADD COLUMN x", "(table 'runs' differs)" },
        { "dropped-table.db", "DROP TABLE events", "(table 'events' is missing, and 3 more" },
        { "extra-table.db", "CREATE TABLE extra(a)", "(table 'extra' was added)" },
        { "extra-index.db", "CREATE INDEX extra_kind ON runs(kind)",
          "(index 'extra_kind' was added)" },
        { "extra-trigger.db", "CREATE TRIGGER t AFTER INSERT ON runs BEGIN SELECT 1; END",
          "(trigger 't' was added)" },
        { "changed-index.db", "DROP INDEX runs_started; CREATE INDEX runs_started ON runs(id)",
          "(index 'runs_started' differs)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(store_create_at_version(tmp(cases[i].name), STORE_VERSION,
                                                 cases[i].sql, err, sizeof(err)), 0);
        refused(cases[i].name, "is not a qkvm state database: its schema was altered");
        refused(cases[i].name, cases[i].want);
    }
    /* an older version altered: refused before it is migrated */
    if (STORE_VERSION > 1) {
        assert_int_equal(store_create_at_version(tmp("old-altered.db"), 1,
                                                 "ALTER TABLE owned ADD COLUMN y", err,
                                                 sizeof(err)), 0);
        refused("old-altered.db", "(table 'owned' differs)");
    }
    /* the same files unaltered open */
    assert_int_equal(store_create_at_version(tmp("unaltered.db"), 1, NULL, err, sizeof(err)), 0);
    struct store *s = store_open(tmp("unaltered.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    store_close(s);
    s = store_open(tmp("unaltered.db"), STORE_READ, err, sizeof(err));
    assert_non_null(s);
    store_close(s);
}

static void test_store__journal(void **state)
{
    (void)state;
    struct store *s = store_open(tmp("journal.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    int64_t run;
    assert_int_equal(store_run_begin(s, "apply", "test:///default", "m", "abc", &run, err,
                                     sizeof(err)), 0);
    struct store_action a = { run, 0, "vm", "web-1", "create", "not on the host", NULL,
                              "{\"cpus\":2}", STORE_ACTION_PENDING, NULL, 0, 0 };
    assert_int_equal(store_action_begin(s, &a, err, sizeof(err)), 0);
    assert_int_equal(store_action_end(s, run, 0, STORE_ACTION_DONE, NULL, err, sizeof(err)), 0);
    a.seq = 1;
    a.verb = "start";
    assert_int_equal(store_action_begin(s, &a, err, sizeof(err)), 0);
    assert_int_equal(store_action_end(s, run, 1, STORE_ACTION_FAILED, "no memory", err, sizeof(err)), 0);
    assert_int_equal(store_run_end(s, run, STORE_RUN_FAILED, "1 done, 1 failed", "no memory", err,
                                   sizeof(err)), 0);

    /* a run of a process that is gone: shown interrupted, then reaped */
    char sql[256], v[256];
    snprintf(sql, sizeof(sql), "INSERT INTO runs(kind, pid, pid_start, started) VALUES"
                               "('apply', %d, 1, 5)", 999999999);
    q(s, sql, v, sizeof(v));
    q(s, "INSERT INTO actions(run, seq, kind, name, verb, started) VALUES"
         "((SELECT max(id) FROM runs), 0, 'pool', 'p', 'create', 5)", v, sizeof(v));

    struct arena *ar = arena_new();
    struct store_run *runs;
    size_t n;
    assert_int_equal(store_runs(s, ar, 0, 0, &runs, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].result, STORE_RUN_INTERRUPTED);      /* newest first */
    assert_string_equal(runs[0].last_action, "pool/p create (pending)");
    assert_int_equal(runs[1].result, STORE_RUN_FAILED);
    assert_string_equal(runs[1].commit, "abc");
    assert_int_equal(runs[1].nactions, 2);

    struct store_run r;
    struct store_action *acts;
    assert_int_equal(store_run_get(s, ar, run, &r, &acts, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(acts[0].status, STORE_ACTION_DONE);
    assert_string_equal(acts[0].after, "{\"cpus\":2}");
    assert_int_equal(acts[1].status, STORE_ACTION_FAILED);
    assert_string_equal(acts[1].error, "no memory");
    assert_int_equal(store_run_get(s, ar, 12345, &r, &acts, &n, err, sizeof(err)), 1);

    assert_int_equal(store_reap(s, err, sizeof(err)), 1);
    q(s, "SELECT result FROM runs ORDER BY id DESC LIMIT 1", v, sizeof(v));
    assert_string_equal(v, "interrupted");
    struct store_event *ev;
    assert_int_equal(store_events(s, ar, 0, NULL, NULL, 0, &ev, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].reason, "Interrupted");
    assert_non_null(strstr(ev[0].message, "last action: pool/p create (pending)"));
    assert_int_equal(store_reap(s, err, sizeof(err)), 0);      /* once */
    arena_free(ar);
    store_close(s);
}

/* /proc/PID/stat: the command name (field 2) is in parentheses and may
 * hold spaces and parentheses; the start time is field 22. */
static void test_store__proc_stat_parsing(void **state)
{
    (void)state;
    static const char *const names[] = { "qkvm", "a) b (c", ") (", ")", "(", "x y z" };
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        char line[1024];
        int len = snprintf(line, sizeof(line), "4242 (%s) S", names[i]);
        for (int field = 4; field <= 52; field++)     /* field k holds k * 1000 */
            len += snprintf(line + len, sizeof(line) - (size_t)len, " %d", field * 1000);
        snprintf(line + len, sizeof(line) - (size_t)len, "\n");
        if (store_proc_starttime(line) != 22000)
            fail_msg("comm '%s': start time %lld, expected 22000 (field 22)", names[i],
                     store_proc_starttime(line));
    }
    assert_int_equal(store_proc_starttime("4242 (qkvm"), 0);
    assert_int_equal(store_proc_starttime("4242 (qkvm) S 1 2 3"), 0);   /* cut short */
    assert_int_equal(store_proc_starttime(""), 0);
}

/* `test_store --hold PATH`, the other process of the next test: under the
 * name "a) b (c", record an apply run in PATH, then grow the address space
 * (as an apply does while it works), print the run's id and hold until
 * stdin closes. */
static int hold(const char *path)
{
    char e[1024];
    int64_t id;
    prctl(PR_SET_NAME, "a) b (c", 0, 0, 0);
    struct store *s = store_open(path, STORE_WRITE, e, sizeof(e));
    if (!s || store_run_begin(s, "apply", "", "", "", &id, e, sizeof(e)) < 0) {
        fprintf(stderr, "hold: %s\n", e);
        return 1;
    }
    store_close(s);
    if (mmap(NULL, 64 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        return 1;
    printf("%lld\n", (long long)id);
    fflush(stdout);
    char c;
    while (read(STDIN_FILENO, &c, 1) > 0)
        ;
    return 0;
}

static const char *result_of(struct store *s, int64_t id)
{
    static char v[64];
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT result FROM runs WHERE id = %lld", (long long)id);
    q(s, sql, v, sizeof(v));
    return v;
}

static int64_t insert_run(struct store *s, long long pid, long long pid_start)
{
    char sql[256], v[64];
    snprintf(sql, sizeof(sql), "INSERT INTO runs(kind, pid, pid_start, started) VALUES"
                               "('apply', %lld, %lld, 5) RETURNING id", pid, pid_start);
    q(s, sql, v, sizeof(v));
    return strtoll(v, NULL, 10);
}

/* store_reap marks a run interrupted only when its process is gone: its pid
 * does not run, or runs with another start time. A live apply in another
 * process, whose memory grew since it recorded its run, is left alone. */
static void test_store__reap_only_what_is_gone(void **state)
{
    (void)state;
    const char *path = tmp("reap.db");
    struct store *s = store_open(path, STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    int64_t own;
    assert_int_equal(store_run_begin(s, "plan", "", "", "", &own, err, sizeof(err)), 0);

    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        execl(self, self, "--hold", path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char line[64] = { 0 };
    ssize_t got = read(out[0], line, sizeof(line) - 1);
    close(out[0]);
    if (got <= 0)
        fail_msg("the holding process did not record its run");
    int64_t held = strtoll(line, NULL, 10);
    assert_true(held > 0);

    /* what it recorded is a start time: after ours, before now */
    char v[64];
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT pid_start FROM runs WHERE id = %lld", (long long)held);
    q(s, sql, v, sizeof(v));
    long long held_start = strtoll(v, NULL, 10);
    snprintf(sql, sizeof(sql), "SELECT pid_start FROM runs WHERE id = %lld", (long long)own);
    q(s, sql, v, sizeof(v));
    long long own_start = strtoll(v, NULL, 10);
    FILE *f = fopen("/proc/uptime", "r");
    assert_non_null(f);
    double up = 0;
    assert_non_null(fgets(v, sizeof(v), f));
    fclose(f);
    up = strtod(v, NULL);
    long long now_ticks = (long long)(up * (double)sysconf(_SC_CLK_TCK)) + 1;
    if (own_start <= 0 || held_start < own_start || held_start > now_ticks)
        fail_msg("start times: ours %lld, the holder's %lld, now %lld ticks after boot",
                 own_start, held_start, now_ticks);

    /* a pid that is gone: a child that exited and was waited for */
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    int64_t gone = insert_run(s, dead, held_start);
    /* the holder's pid with another start time: a reused pid */
    int64_t reused = insert_run(s, holder, held_start + 1);

    assert_int_equal(store_reap(s, err, sizeof(err)), 2);
    assert_string_equal(result_of(s, own), "running");       /* this process */
    assert_string_equal(result_of(s, held), "running");      /* alive elsewhere */
    assert_string_equal(result_of(s, gone), "interrupted");
    assert_string_equal(result_of(s, reused), "interrupted");

    close(in[1]);                                            /* the holder ends */
    int status;
    assert_int_equal(waitpid(holder, &status, 0), holder);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(store_reap(s, err, sizeof(err)), 1);
    assert_string_equal(result_of(s, held), "interrupted");
    assert_string_equal(result_of(s, own), "running");
    store_close(s);
}

static void test_store__findings_are_intervals(void **state)
{
    (void)state;
    struct store *s = store_open(tmp("findings.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    int64_t r1, r2;
    struct store_finding a = { "changed", "VM", "a", "spec.memory", "1GiB", "2GiB", "m", 0, 0, 0, 0 };
    struct store_finding b = { "orphan", "VM", "b", NULL, NULL, NULL, "not declared", 0, 0, 0, 0 };
    struct store_finding c = { "stopped", "VM", "c", "spec.state", "running", "stopped", "x", 0, 0, 0, 0 };
    struct store_finding f1[] = { a, b }, f2[] = { b, c };
    assert_int_equal(store_run_begin(s, "drift", "n", "", "", &r1, err, sizeof(err)), 0);
    assert_int_equal(store_findings_record(s, r1, "n", f1, 2, err, sizeof(err)), 0);
    assert_int_equal(store_run_begin(s, "drift", "n", "", "", &r2, err, sizeof(err)), 0);
    assert_int_equal(store_findings_record(s, r2, "n", f2, 2, err, sizeof(err)), 0);

    struct arena *ar = arena_new();
    struct store_finding *f;
    size_t n;
    assert_int_equal(store_findings(s, ar, r1, NULL, &f, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(f[0].name, "a");
    assert_string_equal(f[1].name, "b");
    assert_int_equal(store_findings(s, ar, r2, NULL, &f, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(f[0].name, "b");
    assert_int_equal(f[0].opened_run, r1);          /* drifting since the first run */
    assert_string_equal(f[1].name, "c");
    assert_int_equal(store_findings(s, ar, 0, "n", &f, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);                         /* open now: b and c */

    struct store_event *ev;
    assert_int_equal(store_events(s, ar, 0, "VM", "a", 0, &ev, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].reason, "DriftDetected");
    assert_string_equal(ev[1].reason, "DriftResolved");
    arena_free(ar);
    store_close(s);
}

/* A run that looked at some VMs only closes only their findings, and
 * never the category it cannot see. */
static void test_store__findings_scoped(void **state)
{
    (void)state;
    struct store *s = store_open(tmp("findings-scoped.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    int64_t r1, r2;
    struct store_finding a = { "stopped", "VM", "a", "spec.state", "running", "stopped", "x", 0, 0, 0, 0 };
    struct store_finding ad = { "disk-missing", "VM", "a", "spec.disks[r]", NULL, NULL, "gone", 0, 0, 0, 0 };
    struct store_finding b = { "stopped", "VM", "b", "spec.state", "running", "stopped", "x", 0, 0, 0, 0 };
    struct store_finding o = { "orphan-file", "File", "p/x", NULL, NULL, NULL, "f", 0, 0, 0, 0 };
    struct store_finding as = { "changed", "VM", "a", "spec.cloudInit", "seed 1", "seed 2", "s", 0, 0, 0, 0 };
    struct store_finding f1[] = { a, ad, b, o, as };
    struct store_finding a2 = { "changed", "VM", "a", "spec.memory", "1GiB", "2GiB", "m", 0, 0, 0, 0 };
    assert_int_equal(store_run_begin(s, "observe", "n", "", "", &r1, err, sizeof(err)), 0);
    assert_int_equal(store_findings_record(s, r1, "n", f1, 5, err, sizeof(err)), 0);
    assert_int_equal(store_run_begin(s, "observe", "n", "", "", &r2, err, sizeof(err)), 0);
    const char *names[] = { "a" };
    struct store_findings_scope sc = { "VM", names, 1, "disk-missing", "spec.cloudInit" };
    assert_int_equal(store_findings_record_scoped(s, r2, "n", &sc, &a2, 1, err, sizeof(err)), 0);

    struct arena *ar = arena_new();
    struct store_finding *f;
    size_t n;
    assert_int_equal(store_findings(s, ar, 0, "n", &f, &n, err, sizeof(err)), 0);
    /* open: a's disk-missing and seed (not looked at), b and the file (out
     * of the scope), a's new change; a's stopped is closed */
    assert_int_equal(n, 5);
    bool stopped_a = false, disk_a = false, changed_a = false, b_open = false, file = false;
    bool seed_a = false;
    for (size_t i = 0; i < n; i++) {
        bool is_a = strcmp(f[i].name, "a") == 0;
        stopped_a |= is_a && strcmp(f[i].category, "stopped") == 0;
        disk_a |= is_a && strcmp(f[i].category, "disk-missing") == 0;
        changed_a |= is_a && strcmp(f[i].field, "spec.memory") == 0;
        seed_a |= is_a && strcmp(f[i].field, "spec.cloudInit") == 0;
        b_open |= strcmp(f[i].name, "b") == 0;
        file |= strcmp(f[i].kind, "File") == 0;
    }
    assert_false(stopped_a);
    assert_true(disk_a);
    assert_true(changed_a);
    assert_true(seed_a);
    assert_true(b_open);
    assert_true(file);
    arena_free(ar);
    store_close(s);
}

static void test_store__owned(void **state)
{
    (void)state;
    struct store *s = store_open(tmp("owned.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    struct store_owned p = { "u-1", NULL, "pool", false, "alpha", "", "", NULL, NULL },
                       v = { "u-1", "vol", "vol", true, "alpha", "12:34.5", "app=web", NULL, "d1" };
    assert_int_equal(store_owned_put(s, &p, "n", 0, err, sizeof(err)), 0);
    assert_int_equal(store_owned_put(s, &v, "n", 0, err, sizeof(err)), 0);
    v.protect = false;
    v.ident = "";                 /* recorded again before a create: the identity stays */
    v.labels = "app=db";
    v.digest = "";                /* likewise the digest */
    assert_int_equal(store_owned_put(s, &v, "n", 0, err, sizeof(err)), 0);   /* update */
    struct arena *ar = arena_new();
    struct store_owned *o;
    size_t n;
    assert_int_equal(store_owned_all(s, ar, &o, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_null(o[0].volume);
    assert_string_equal(o[1].volume, "vol");
    assert_false(o[1].protect);
    assert_string_equal(o[1].project, "alpha");
    assert_string_equal(o[1].ident, "12:34.5");
    assert_string_equal(o[1].labels, "app=db");
    assert_string_equal(o[1].digest, "d1");
    assert_int_equal(store_owned_delete(s, "u-1", NULL, err, sizeof(err)), 0);  /* pool + vols */
    assert_int_equal(store_owned_all(s, ar, &o, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    arena_free(ar);
    store_close(s);
}

static void test_store__lock(void **state)
{
    (void)state;
    struct store *s1 = store_open(tmp("lock.db"), STORE_WRITE, err, sizeof(err));
    struct store *s2 = store_open(tmp("lock.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s1);
    assert_non_null(s2);
    bool took;
    struct store_holder prev;
    assert_int_equal(store_lock(s1, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    assert_false(took);
    assert_int_equal(store_lock(s2, "apply", 120, &took, &prev, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "state locked by pid %d (apply started ", (int)getpid());
    if (!strstr(err, want))
        fail_msg("'%s' lacks '%s'", err, want);
    store_unlock(s1);
    assert_int_equal(store_lock(s2, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    assert_false(took);                            /* released cleanly: no takeover */
    store_close(s2);
    /* a holder that died: its record stays in the lock file */
    write_file(tmp("lock.db.lock"), "999999999 1700000000000 apply\n", 30);
    assert_int_equal(store_lock(s1, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    assert_true(took);
    assert_int_equal(prev.pid, 999999999);
    assert_string_equal(prev.what, "apply");
    store_close(s1);
}

/* Two paths to one database (a symbolic link to its directory, one to the
 * file itself) take one lock: the lock file is beside the resolved file. */
static void test_store__lock_through_a_symlink(void **state)
{
    (void)state;
    assert_int_equal(mkdir(tmp("real"), 0700), 0);
    assert_int_equal(symlink("real", tmp("linked")), 0);
    assert_int_equal(symlink("real/state.db", tmp("state-link.db")), 0);
    struct store *s1 = store_open(tmp("real/state.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s1);
    struct store *s2 = store_open(tmp("linked/state.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s2);
    struct store *s3 = store_open(tmp("state-link.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s3);
    bool took;
    struct store_holder prev;
    assert_int_equal(store_lock(s1, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    char want[64];
    snprintf(want, sizeof(want), "state locked by pid %d (apply started ", (int)getpid());
    assert_int_equal(store_lock(s2, "apply", 0, &took, &prev, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("'%s' lacks '%s'", err, want);
    assert_int_equal(store_lock(s3, "apply", 0, &took, &prev, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("'%s' lacks '%s'", err, want);
    assert_int_equal(access(tmp("real/state.db.lock"), F_OK), 0);
    assert_int_equal(access(tmp("state-link.db.lock"), F_OK), -1);
    store_unlock(s1);
    assert_int_equal(store_lock(s3, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    assert_false(took);
    store_close(s3);
    store_close(s2);
    store_close(s1);
    /* a file not created yet resolves through its directory */
    s1 = store_open(tmp("real/absent.db"), STORE_READ, err, sizeof(err));
    s2 = store_open(tmp("linked/absent.db"), STORE_READ, err, sizeof(err));
    assert_non_null(s1);
    assert_non_null(s2);
    assert_int_equal(store_lock(s1, "apply", 0, &took, &prev, err, sizeof(err)), 0);
    assert_int_equal(store_lock(s2, "apply", 0, &took, &prev, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("'%s' lacks '%s'", err, want);
    store_close(s2);
    store_close(s1);
}

/* 100,000 runs with their actions: the default cap keeps exactly that many,
 * the file stays bounded, pruning by age removes and shrinks. */
static void test_store__retention(void **state)
{
    (void)state;
    struct store *s = store_open(tmp("big.db"), STORE_WRITE, err, sizeof(err));
    assert_non_null(s);
    char v[64];
    int64_t now = store_now(), day = 86400000;
    char sql[1024];
    /* runs spread over the last 60 days, 3 actions each */
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 100010) "
             "INSERT INTO runs(id, kind, node, source, started, ended, result, summary) "
             "SELECT n, 'apply', 'qemu:///system', 'examples/minimal', %lld + n * %lld, "
             "%lld + n * %lld + 800, 'ok', '3 done, 0 failed, 0 skipped' FROM i",
             (long long)(now - 60 * day), (long long)(60 * day / 100010),
             (long long)(now - 60 * day), (long long)(60 * day / 100010));
    q(s, sql, v, sizeof(v));
    q(s, "INSERT INTO actions(run, seq, kind, name, verb, status, started, after) "
         "SELECT id, s.seq, 'vm', 'web-' || id, 'update', 'done', started, '{\"cpus\":2}' "
         "FROM runs, (SELECT 0 AS seq UNION SELECT 1 UNION SELECT 2) s", v, sizeof(v));
    long removed = store_prune(s, STORE_DEFAULT_KEEP_RUNS, 0, err, sizeof(err));
    assert_int_equal(removed, 10);
    q(s, "SELECT count(*) FROM runs", v, sizeof(v));
    assert_string_equal(v, "100000");
    q(s, "SELECT count(*) FROM actions", v, sizeof(v));
    assert_string_equal(v, "300000");
    q(s, "PRAGMA wal_checkpoint(TRUNCATE)", v, sizeof(v));
    struct stat sb;
    assert_int_equal(stat(tmp("big.db"), &sb), 0);
    off_t full = sb.st_size;
    if (full > 64 << 20)
        fail_msg("100,000 runs take %lld bytes (bound: 64 MiB)", (long long)full);

    struct arena *ar = arena_new();
    struct store_run *runs;
    size_t n;
    assert_int_equal(store_runs(s, ar, 20, 0, &runs, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 20);
    assert_int_equal(runs[0].id, 100010);
    arena_free(ar);

    removed = store_prune(s, 0, now - 30 * day, err, sizeof(err));
    assert_true(removed > 45000 && removed < 55000);
    q(s, "PRAGMA wal_checkpoint(TRUNCATE)", v, sizeof(v));
    assert_int_equal(stat(tmp("big.db"), &sb), 0);
    if (sb.st_size > full * 2 / 3)
        fail_msg("pruning half the runs left %lld of %lld bytes", (long long)sb.st_size,
                 (long long)full);
    q(s, "SELECT count(*) FROM actions WHERE run NOT IN (SELECT id FROM runs)", v, sizeof(v));
    assert_string_equal(v, "0");
    q(s, "PRAGMA integrity_check", v, sizeof(v));
    assert_string_equal(v, "ok");
    store_close(s);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char made[256];
    snprintf(made, sizeof(made), "%s/qkvm-store.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(made))
        return -1;
    /* resolved, as the lock files beside the databases are */
    char *real = realpath(made, NULL);
    if (!real)
        return -1;
    snprintf(dir, sizeof(dir), "%s", real);
    free(real);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc == 3 && strcmp(argv[1], "--hold") == 0)
        return hold(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__fresh_file),
        cmocka_unit_test(test_store__migrations),
        cmocka_unit_test(test_store__refuses_what_is_not_ours),
        cmocka_unit_test(test_store__refuses_an_altered_schema),
        cmocka_unit_test(test_store__journal),
        cmocka_unit_test(test_store__proc_stat_parsing),
        cmocka_unit_test(test_store__reap_only_what_is_gone),
        cmocka_unit_test(test_store__findings_are_intervals),
        cmocka_unit_test(test_store__owned),
        cmocka_unit_test(test_store__lock),
        cmocka_unit_test(test_store__lock_through_a_symlink),
        cmocka_unit_test(test_store__retention),
        cmocka_unit_test(test_store__findings_scoped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
