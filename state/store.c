/* store.c — the state database on sqlite. See store.h.
 *
 * HOW IT WORKS
 *
 * Opening: the first 16 bytes must be SQLite's header (or the file empty);
 * PRAGMA application_id must be qkvm's ('qkvm') unless the database is
 * empty; PRAGMA user_version is the schema version, and the tables and
 * indexes must be exactly those its migrations make (check_schema), before
 * anything is written. Versions below
 * STORE_VERSION are migrated in one transaction each (BEGIN IMMEDIATE, so
 * two processes never migrate at once); above it, the file is refused. A
 * reader (STORE_READ) of an older file migrates it first when it can write
 * it, and otherwise reads what the old schema has.
 *
 * Every statement is prepared once per connection and kept (a small cache
 * keyed by the SQL text's address), so a journal write is a bind, a step
 * and, outside store_begin/commit, an implicit transaction of its own.
 *
 * Errors are translated here: the message names the database file. A full
 * or read-only file system and a refused permission are said as such (from
 * the system error behind sqlite's "disk I/O error" or "unable to open
 * database file"); otherwise it says what sqlite said ("database disk
 * image is malformed").
 */
#include "store.h"

#include "arena.h"
#include "vec.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define APPLICATION_ID 0x716b766d   /* 'qkvm' */
#define NSTMT 48

struct store {
    long crash_after;           /* QKVM_TEST_CRASH_AFTER_COMMITS: 0 off */
    sqlite3 *db;                /* NULL: a missing file opened for reading */
    char *path;
    bool writable;
    long long version;          /* the file's schema version once opened */
    int lockfd;
    struct cached { const char *sql; sqlite3_stmt *st; } cache[NSTMT];
    size_t ncache;
};

/* The schema, one entry per version: migrations[v - 1] takes a database
 * from version v - 1 to v. Never edit a released entry; add one. */
static const char *const migrations[STORE_VERSION] = {
    /* 1: the journal, findings, ownership, placements, node health */
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  node TEXT NOT NULL DEFAULT '',"
    "  source TEXT NOT NULL DEFAULT '',"
    "  commit_id TEXT NOT NULL DEFAULT '',"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  pid_start INTEGER NOT NULL DEFAULT 0,"
    "  started INTEGER NOT NULL,"
    "  ended INTEGER,"
    "  result TEXT NOT NULL DEFAULT 'running',"
    "  summary TEXT NOT NULL DEFAULT '',"
    "  error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX runs_started ON runs(started);"
    "CREATE INDEX runs_running ON runs(result) WHERE result = 'running';"
    "CREATE TABLE actions("
    "  run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, name TEXT NOT NULL, verb TEXT NOT NULL,"
    "  reason TEXT, before TEXT, after TEXT,"
    "  status TEXT NOT NULL DEFAULT 'pending',"
    "  error TEXT,"
    "  started INTEGER NOT NULL, ended INTEGER,"
    "  PRIMARY KEY(run, seq)) WITHOUT ROWID;"
    "CREATE TABLE findings("
    "  id INTEGER PRIMARY KEY,"
    "  node TEXT NOT NULL, category TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  field TEXT NOT NULL DEFAULT '', desired TEXT, actual TEXT, message TEXT,"
    "  opened_run INTEGER NOT NULL, opened INTEGER NOT NULL,"
    "  closed_run INTEGER, closed INTEGER);"
    "CREATE INDEX findings_node ON findings(node, closed_run);"
    "CREATE INDEX findings_closed ON findings(closed_run) WHERE closed_run IS NOT NULL;"
    "CREATE TABLE owned("
    "  pool_uuid TEXT NOT NULL,"
    "  volume TEXT NOT NULL DEFAULT '',"
    "  name TEXT NOT NULL,"
    "  protect INTEGER NOT NULL DEFAULT 0,"
    "  node TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  run INTEGER,"
    "  PRIMARY KEY(pool_uuid, volume)) WITHOUT ROWID;"
    "CREATE TABLE placements("
    "  vm TEXT PRIMARY KEY, node TEXT NOT NULL, placed INTEGER NOT NULL, run INTEGER);"
    "CREATE TABLE nodes("
    "  run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  node TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',"
    "  state TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL,"
    "  PRIMARY KEY(node, run)) WITHOUT ROWID;"
    "CREATE INDEX nodes_run ON nodes(run);",

    /* 2: events, and the last-seen view of every object */
    "CREATE TABLE events("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  run INTEGER REFERENCES runs(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL, reason TEXT NOT NULL,"
    "  kind TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',"
    "  node TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_at ON events(at);"
    "CREATE INDEX events_run ON events(run);"
    "CREATE INDEX events_object ON events(kind, name, at);"
    "CREATE TABLE objects("
    "  node TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT '', sync TEXT NOT NULL DEFAULT '',"
    "  cpus INTEGER NOT NULL DEFAULT -1, memory INTEGER NOT NULL DEFAULT -1,"
    "  hash TEXT NOT NULL DEFAULT '', spec TEXT,"
    "  run INTEGER NOT NULL,"
    "  PRIMARY KEY(node, kind, name)) WITHOUT ROWID;",

    /* 3: projects: who owns a pool or volume, what identifies the volume's
     * file as the one qkvm created, and the labels last declared (so a
     * Policy's prune rule can select a stale object) */
    "ALTER TABLE owned ADD COLUMN project TEXT NOT NULL DEFAULT 'default';"
    "ALTER TABLE owned ADD COLUMN ident TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE owned ADD COLUMN labels TEXT NOT NULL DEFAULT '';",

    /* 4: images: the SHA-256 of what a volume holds (an Image's volume: the
     * image's digest; a cloud-init seed: its content's digest) */
    "ALTER TABLE owned ADD COLUMN digest TEXT NOT NULL DEFAULT '';",

    /* 5: placement: why a VM is on its node, as placement decided */
    "ALTER TABLE placements ADD COLUMN reason TEXT NOT NULL DEFAULT '';",
};

const char *store_result_name(enum store_result r)
{
    switch (r) {
    case STORE_RUN_RUNNING: return "running";
    case STORE_RUN_OK: return "ok";
    case STORE_RUN_CHANGES: return "changes";
    case STORE_RUN_DRIFT: return "drift";
    case STORE_RUN_FAILED: return "failed";
    case STORE_RUN_ERROR: return "error";
    case STORE_RUN_INVALID: return "invalid";
    case STORE_RUN_INTERRUPTED: return "interrupted";
    case STORE_RESULT_COUNT: break;
    }
    return "?";
}

const char *store_status_name(enum store_status st)
{
    switch (st) {
    case STORE_ACTION_PENDING: return "pending";
    case STORE_ACTION_DONE: return "done";
    case STORE_ACTION_FAILED: return "failed";
    case STORE_ACTION_SKIPPED: return "skipped";
    case STORE_ACTION_INTERRUPTED: return "interrupted";
    case STORE_STATUS_COUNT: break;
    }
    return "?";
}

/* The enums back from their stored text; what no enum names (a file edited
 * by hand) reads as an error / a failed action, never as success. */
static enum store_result result_of(const char *text)
{
    for (int r = 0; r < STORE_RESULT_COUNT; r++)
        if (strcmp(text, store_result_name((enum store_result)r)) == 0)
            return (enum store_result)r;
    return STORE_RUN_ERROR;
}

static enum store_status status_of(const char *text)
{
    for (int i = 0; i < STORE_STATUS_COUNT; i++)
        if (strcmp(text, store_status_name((enum store_status)i)) == 0)
            return (enum store_status)i;
    return STORE_ACTION_FAILED;
}

int64_t store_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *store_path(const struct store *s) { return s->path; }
bool store_writable(const struct store *s) { return s->writable; }

/* What a system error means for the file at path, in words that name it:
 * the file system full or read-only, or a permission refused; `what` says
 * what could not be done. False (err untouched) for other errors. */
static bool fs_error(char *err, size_t errlen, int e, const char *path, const char *what)
{
    if (e == ENOSPC)
        snprintf(err, errlen, "the file system holding '%s' is full: %s", path, what);
    else if (e == EROFS)
        snprintf(err, errlen, "'%s' is on a read-only file system: %s", path, what);
    else if (e == EACCES || e == EPERM)
        snprintf(err, errlen, "permission denied on '%s': %s", path, what);
    else
        return false;
    return true;
}

/* The message of a failed sqlite call, naming the file. sqlite's words
 * ("disk I/O error", "unable to open database file") hide the cause a
 * user can act on, so the system error behind them comes first. */
static int fail(const struct store *s, char *err, size_t errlen, const char *what)
{
    int code = s->db ? sqlite3_extended_errcode(s->db) : 0;
    const char *msg = s->db ? sqlite3_errmsg(s->db) : "no database";
    int sys = 0;
    if ((code & 0xff) == SQLITE_FULL)
        sys = ENOSPC;
    else if ((code & 0xff) == SQLITE_IOERR || (code & 0xff) == SQLITE_CANTOPEN)
        sys = sqlite3_system_errno(s->db);    /* set by sqlite for these two */
    else if ((code & 0xff) == SQLITE_READONLY && access(s->path, W_OK) < 0)
        sys = errno;
    if ((code & 0xff) == SQLITE_CANTOPEN && sys != ENOSPC && sys != EROFS && sys != EACCES) {
        /* sqlite's last try (the -wal file opened read-only) hides why it
         * could not create it: the directory it goes in says */
        char *dir = xstrdup(s->path), *slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';                  /* "/" */
        else if (slash)
            *slash = '\0';
        if (access(slash ? dir : ".", W_OK) < 0)
            sys = errno;
        free(dir);
    }
    if (fs_error(err, errlen, sys, s->path, what))
        return -1;
    if ((code & 0xff) == SQLITE_NOTADB)
        snprintf(err, errlen, "'%s' is not a qkvm state database: %s", s->path, msg);
    else if ((code & 0xff) == SQLITE_CORRUPT)
        snprintf(err, errlen, "'%s' is damaged (%s); it was left as it is: restore it or move "
                              "it away (qkvm then starts a new one)", s->path, msg);
    else
        snprintf(err, errlen, "state database '%s': %s: %s", s->path, what, msg);
    return -1;
}

static sqlite3_stmt *stmt(struct store *s, const char *sql, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (s->cache[i].sql == sql) {
            sqlite3_reset(s->cache[i].st);
            sqlite3_clear_bindings(s->cache[i].st);
            return s->cache[i].st;
        }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        fail(s, err, errlen, "cannot prepare a statement");
        return NULL;
    }
    if (s->ncache == NSTMT) {          /* a new statement without raising NSTMT */
        sqlite3_finalize(st);
        snprintf(err, errlen, "state database '%s': internal error: statement cache full",
                 s->path);
        return NULL;
    }
    s->cache[s->ncache++] = (struct cached){ sql, st };
    return st;
}

/* Fault injection for the crash tests (tests/crash.sh): with
 * QKVM_TEST_CRASH_AFTER_COMMITS=N the process kills itself with SIGKILL
 * right after its Nth committed write, i.e. at every point where the
 * database has just become durable, before anything else happens. */
static void committed(struct store *s)
{
    if (s->crash_after > 0 && --s->crash_after == 0)
        raise(SIGKILL);
}

/* A statement without results: step it to the end. */
static int done(struct store *s, sqlite3_stmt *st, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fail(s, err, errlen, what);
        sqlite3_reset(st);
        return -1;
    }
    bool wrote = !sqlite3_stmt_readonly(st);
    sqlite3_reset(st);
    if (wrote && sqlite3_get_autocommit(s->db))
        committed(s);
    return 0;
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, errlen, what);
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(struct arena *a, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? arena_strdup(a, (const char *)t) : NULL;
}

static long long pragma_int(struct store *s, const char *sql, int *ok)
{
    sqlite3_stmt *st;
    long long v = 0;
    *ok = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
        *ok = 1;
    } else if (rc == SQLITE_DONE) {
        *ok = 1;
    }
    sqlite3_finalize(st);
    return v;
}

/* Run migrations from the file's version up to `target`, each in its own
 * transaction. */
static int migrate(struct store *s, int target, char *err, size_t errlen)
{
    for (;;) {
        if (exec(s, "BEGIN IMMEDIATE", err, errlen, "cannot start the migration") < 0)
            return -1;
        int ok;
        long long v = pragma_int(s, "PRAGMA user_version", &ok);
        if (!ok) {
            fail(s, err, errlen, "cannot read the schema version");
            goto bad;
        }
        if (v >= target) {
            exec(s, "COMMIT", err, errlen, "commit");
            return 0;
        }
        char app[64];
        snprintf(app, sizeof(app), "PRAGMA application_id = %d", APPLICATION_ID);
        if (v == 0 && exec(s, app, err, errlen, "cannot set the application id") < 0)
            goto bad;
        char set[64];
        snprintf(set, sizeof(set), "PRAGMA user_version = %lld", v + 1);
        if (exec(s, migrations[v], err, errlen, "migration failed") < 0 ||
            exec(s, set, err, errlen, "migration failed") < 0 ||
            exec(s, "COMMIT", err, errlen, "cannot commit the migration") < 0)
            goto bad;
    }
bad:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int check_header(const char *path, bool *exists, char *err, size_t errlen)
{
    struct stat sb;
    *exists = false;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 0;
        if (!fs_error(err, errlen, errno, path, "cannot read the state database"))
            snprintf(err, errlen, "cannot read the state database '%s': %s", path,
                     strerror(errno));
        return -1;
    }
    *exists = true;
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "'%s' is not a qkvm state database (not a regular file)", path);
        return -1;
    }
    if (sb.st_size == 0)
        return 0;
    char head[16] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (!fs_error(err, errlen, errno, path, "cannot read the state database"))
            snprintf(err, errlen, "cannot read the state database '%s': %s", path,
                     strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    if (n != (ssize_t)sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0) {
        snprintf(err, errlen, "'%s' is not a qkvm state database (not an SQLite file); "
                              "it was left as it is", path);
        return -1;
    }
    return 0;
}

static int open_db(struct store *s, bool write, char *err, size_t errlen)
{
    int flags = (write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
        fail(s, err, errlen, "cannot open");
        return -1;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    s->writable = write && sqlite3_db_readonly(s->db, "main") == 0;
    if (write && !s->writable) {
        int e = access(s->path, W_OK) < 0 ? errno : 0;
        if (!fs_error(err, errlen, e, s->path, "cannot write the state database"))
            snprintf(err, errlen, "state database '%s' is read-only: %s", s->path,
                     e ? strerror(e) : "opened read-only");
        return -1;
    }
    return 0;
}

static void close_db(struct store *s)
{
    for (size_t i = 0; i < s->ncache; i++)
        sqlite3_finalize(s->cache[i].st);
    s->ncache = 0;
    sqlite3_close(s->db);
    s->db = NULL;
}

/* Is it ours, and which version? 1 fresh (empty), 0 ours, -1 error. */
static int classify(struct store *s, long long *version, char *err, size_t errlen)
{
    int ok1, ok2, ok3;
    long long app = pragma_int(s, "PRAGMA application_id", &ok1);
    *version = pragma_int(s, "PRAGMA user_version", &ok2);
    long long tables = pragma_int(s, "SELECT count(*) FROM sqlite_master", &ok3);
    if (!ok1 || !ok2 || !ok3)
        return fail(s, err, errlen, "cannot read the state database");
    if (app == 0 && *version == 0 && tables == 0)
        return 1;
    if (app != APPLICATION_ID) {
        snprintf(err, errlen, "'%s' is not a qkvm state database (an SQLite database of "
                              "another program: application_id %lld, %lld tables); it was "
                              "left as it is", s->path, app, tables);
        return -1;
    }
    if (*version > STORE_VERSION) {
        snprintf(err, errlen, "'%s' was written by a newer qkvm (schema version %lld; this "
                              "qkvm knows up to %d): use that qkvm, the file was left as it is",
                 s->path, *version, STORE_VERSION);
        return -1;
    }
    return 0;
}

/* ---- the schema, checked ----
 *
 * A qkvm database has exactly the tables and indexes its migrations made,
 * as they wrote them: the rows of sqlite_master (sqlite's own objects
 * aside) are compared with those of a database in memory that ran the
 * same migrations. A column added, a table dropped or added, an index or
 * trigger more: another program changed the file, and qkvm refuses it
 * as it refuses any file that is not its own. */

static const char SQL_SCHEMA[] =
    "SELECT type, name, tbl_name, sql FROM sqlite_master "
    "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name";

struct schema_row {
    const char *type, *name, *tbl, *sql;
};

static int schema_rows(sqlite3 *db, struct arena *a, struct schema_row **out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, SQL_SCHEMA, -1, &st, NULL) != SQLITE_OK)
        return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c[4];
        for (int i = 0; i < 4; i++) {
            c[i] = col_text(a, st, i);
            if (!c[i])
                c[i] = "";
        }
        *vec_append(a, *out, *n, cap, 1) = (struct schema_row){ c[0], c[1], c[2], c[3] };
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The schema of `version` as the migrations make it. */
static int expected_schema(const struct store *s, long long version, struct arena *a,
                           struct schema_row **out, size_t *n, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = -1;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
        SQLITE_OK) {
        long long v = 0;
        while (v < version && sqlite3_exec(db, migrations[v], NULL, NULL, NULL) == SQLITE_OK)
            v++;
        if (v == version)
            rc = schema_rows(db, a, out, n);
    }
    if (rc < 0)
        snprintf(err, errlen, "state database '%s': internal error: cannot build the schema "
                              "of version %lld: %s", s->path, version,
                 db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return rc;
}

static int schema_cmp(const struct schema_row *x, const struct schema_row *y)
{
    int c = strcmp(x->type, y->type);
    return c ? c : strcmp(x->name, y->name);
}

/* Refuse the file unless its schema is exactly that of `version`. */
static int check_schema(struct store *s, long long version, char *err, size_t errlen)
{
    struct arena *a = arena_new();
    struct schema_row *want, *have;
    size_t nwant, nhave;
    int rc = -1;
    if (expected_schema(s, version, a, &want, &nwant, err, errlen) < 0)
        goto out;
    if (schema_rows(s->db, a, &have, &nhave) < 0) {
        fail(s, err, errlen, "cannot read the schema");
        goto out;
    }
    /* both sorted by (type, name): one merge names every difference; the
     * message shows the first one about a table, else the first one */
    const char *first = NULL;
    bool first_table = false;
    size_t ndiff = 0, i = 0, j = 0;
    while (i < nwant || j < nhave) {
        int c = i == nwant ? 1 : j == nhave ? -1 : schema_cmp(&want[i], &have[j]);
        const struct schema_row *r = c > 0 ? &have[j] : &want[i];
        const char *what = NULL;
        if (c < 0)
            what = "is missing";
        else if (c > 0)
            what = "was added";
        else if (strcmp(want[i].tbl, have[j].tbl) || strcmp(want[i].sql, have[j].sql))
            what = "differs";
        i += c <= 0;
        j += c >= 0;
        if (!what)
            continue;
        bool table = strcmp(r->type, "table") == 0;
        if (!first || (table && !first_table)) {
            first = arena_printf(a, "%s '%s' %s", r->type, r->name, what);
            first_table = table;
        }
        ndiff++;
    }
    if (ndiff) {
        char more[64] = "";
        if (ndiff > 1)
            snprintf(more, sizeof(more), ", and %zu more difference%s", ndiff - 1,
                     ndiff > 2 ? "s" : "");
        snprintf(err, errlen, "'%s' is not a qkvm state database: its schema was altered "
                              "(%s%s); it was left as it is", s->path, first, more);
        goto out;
    }
    rc = 0;
out:
    arena_free(a);
    return rc;
}

static int prepare_write(struct store *s, bool fresh, int target, char *err, size_t errlen)
{
    if (fresh && exec(s, "PRAGMA auto_vacuum = INCREMENTAL", err, errlen,
                      "cannot set up the database") < 0)
        return -1;
    int ok;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, errlen, "cannot set the journal mode");
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail(s, err, errlen, "cannot set the journal mode");
    (void)ok;
    if (exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", err, errlen,
             "cannot set up the connection") < 0)
        return -1;
    return migrate(s, target, err, errlen);
}

struct store *store_open(const char *path, enum store_mode mode, char *err, size_t errlen)
{
    struct store *s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    s->lockfd = -1;
    const char *crash = getenv("QKVM_TEST_CRASH_AFTER_COMMITS");
    s->crash_after = crash ? strtol(crash, NULL, 10) : 0;
    bool exists;
    if (check_header(path, &exists, err, errlen) < 0)
        goto bad;
    if (!exists && mode == STORE_READ)
        return s;
    if (!exists) {
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            struct stat sb;
            if (slash != dir && stat(dir, &sb) < 0) {
                snprintf(err, errlen, "cannot create the state database '%s': directory '%s' %s",
                         path, dir, errno == ENOENT ? "does not exist" : strerror(errno));
                free(dir);
                goto bad;
            }
        }
        free(dir);
    }
    bool write = mode == STORE_WRITE;
    if (open_db(s, write, err, errlen) < 0)
        goto bad;
    long long version;
    int fresh = classify(s, &version, err, errlen);
    if (fresh < 0)
        goto bad;
    s->version = fresh == 1 || write || access(path, W_OK) == 0 ? STORE_VERSION : version;
    /* before anything is written, migrations included */
    if (fresh == 0 && check_schema(s, version, err, errlen) < 0)
        goto bad;
    if (write) {
        if (prepare_write(s, fresh == 1, STORE_VERSION, err, errlen) < 0)
            goto bad;
    } else if (fresh == 1) {
        close_db(s);               /* an empty file reads as an empty store */
    } else if (version < STORE_VERSION && access(path, W_OK) == 0) {
        /* an older schema: migrate it when this user may, then read */
        close_db(s);
        if (open_db(s, true, err, errlen) < 0 ||
            prepare_write(s, false, STORE_VERSION, err, errlen) < 0)
            goto bad;
        s->writable = false;
    }
    return s;
bad:
    store_close(s);
    return NULL;
}

int store_create_at_version(const char *path, int version, const char *seed, char *err,
                            size_t errlen)
{
    struct store s = { .path = (char *)path, .lockfd = -1 };
    if (version < 1 || version > STORE_VERSION) {
        snprintf(err, errlen, "no schema version %d", version);
        return -1;
    }
    int rc = open_db(&s, true, err, errlen);
    if (rc == 0)
        rc = prepare_write(&s, true, version, err, errlen);
    if (rc == 0 && seed)
        rc = exec(&s, seed, err, errlen, "seed");
    close_db(&s);
    return rc;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_unlock(s);
    if (s->db)
        close_db(s);
    free(s->path);
    free(s);
}

int store_query_text(struct store *s, const char *sql, char *out, size_t size, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (!s->db)
        return 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, errlen, "query");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, err, errlen, "query");
    return 0;
}

static int need_write(struct store *s, char *err, size_t errlen)
{
    if (s->db && s->writable)
        return 0;
    snprintf(err, errlen, "state database '%s' is open read-only", s->path);
    return -1;
}

/* ---- transactions ---- */

int store_begin(struct store *s, char *err, size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    return exec(s, "BEGIN IMMEDIATE", err, errlen, "cannot start a transaction");
}

int store_commit(struct store *s, char *err, size_t errlen)
{
    if (exec(s, "COMMIT", err, errlen, "cannot commit") < 0) {
        store_rollback(s);
        return -1;
    }
    committed(s);
    return 0;
}

void store_rollback(struct store *s)
{
    if (s->db && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- processes ---- */

/* The start time (field 22, clock ticks after boot) in a /proc/PID/stat
 * line, 0 when the line is malformed. Field 2, the command name, is in
 * parentheses and may itself hold spaces and parentheses ("a) b (c"), so
 * the fields are counted from its last ')'. */
long long store_proc_starttime(const char *stat)
{
    const char *p = strrchr(stat, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3;; field++) {
        p += strspn(p, " ");
        if (!*p)
            return 0;
        if (field == 22)
            break;
        p += strcspn(p, " ");
    }
    char *end;
    long long v = strtoll(p, &end, 10);
    return end != p && (*end == ' ' || *end == '\n' || !*end) && v > 0 ? v : 0;
}

/* The start time of process pid, 0 when it cannot be read (no such
 * process). Together with the pid it names one process across pid reuse. */
static long long proc_start(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return store_proc_starttime(buf);
}

/* Is the process that recorded (pid, start) still running? A pid that runs
 * with another start time was reused: that process is gone. Without a
 * start time (or without /proc), the pid alone decides. */
static bool alive(int pid, long long start)
{
    if (pid <= 0)
        return false;
    long long now = start ? proc_start(pid) : 0;
    if (now)
        return now == start;
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* ---- the reconcile lock ---- */

static void fmt_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000), today = time(NULL);
    struct tm tm, now;
    localtime_r(&t, &tm);
    localtime_r(&today, &now);
    if (tm.tm_year == now.tm_year && tm.tm_yday == now.tm_yday)
        strftime(buf, size, "%H:%M:%S", &tm);
    else
        strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static bool read_holder(int fd, struct store_holder *h)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    memset(h, 0, sizeof(*h));
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *end;
    h->pid = (int)strtol(buf, &end, 10);
    h->since = strtoll(end, &end, 10);
    while (*end == ' ')
        end++;
    size_t len = strcspn(end, "\n");
    if (len >= sizeof(h->what))
        len = sizeof(h->what) - 1;
    memcpy(h->what, end, len);
    h->what[len] = '\0';
    return h->pid > 0;
}

/* The lock file of the database at path: beside the file that path
 * resolves to (symbolic links followed, "." and ".." gone), so that every
 * spelling of one database takes one lock. A file not created yet resolves
 * through its directory. */
static char *lock_path(const char *path)
{
    char *real = realpath(path, NULL);
    if (!real) {
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        if (slash)
            *slash = '\0';
        char *rdir = realpath(slash ? (*dir ? dir : "/") : ".", NULL);
        if (rdir) {
            size_t n = strlen(rdir) + strlen(base) + 2;
            real = xmalloc(n);
            snprintf(real, n, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
            free(rdir);
        }
        free(dir);
    }
    const char *p = real ? real : path;
    size_t n = strlen(p) + 6;
    char *lp = xmalloc(n);
    snprintf(lp, n, "%s.lock", p);
    free(real);
    return lp;
}

int store_lock(struct store *s, const char *what, int timeout_ms, bool *took_over,
               struct store_holder *prev, char *err, size_t errlen)
{
    *took_over = false;
    if (s->lockfd >= 0)
        return 0;
    char *lp = lock_path(s->path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (!fs_error(err, errlen, errno, lp, "cannot open the lock file"))
            snprintf(err, errlen, "cannot open the lock file '%s': %s", lp, strerror(errno));
        free(lp);
        return -1;
    }
    free(lp);
    struct timespec nap = { 0, 50 * 1000000L };
    int64_t deadline = store_now() + timeout_ms;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "cannot lock '%s': %s", s->path, strerror(errno));
            close(fd);
            return -1;
        }
        if (store_now() >= deadline) {
            struct store_holder h;
            if (read_holder(fd, &h)) {
                char when[32];
                fmt_time(h.since, when, sizeof(when));
                snprintf(err, errlen, "state locked by pid %d (%s started %s); waited %d s "
                                      "(--lock-timeout)", h.pid, h.what, when, timeout_ms / 1000);
            } else {
                snprintf(err, errlen, "state locked by another qkvm; waited %d s "
                                      "(--lock-timeout)", timeout_ms / 1000);
            }
            close(fd);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
    /* Ours. A record left behind means its writer died holding the lock. */
    struct store_holder h;
    if (read_holder(fd, &h) && h.pid != getpid()) {
        *took_over = true;
        if (prev)
            *prev = h;
    }
    char buf[128];
    int len = snprintf(buf, sizeof(buf), "%d %lld %s\n", (int)getpid(),
                       (long long)store_now(), what);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        if (!fs_error(err, errlen, errno, s->path, "cannot write its lock file"))
            snprintf(err, errlen, "cannot write the lock file of '%s': %s", s->path,
                     strerror(errno));
        flock(fd, LOCK_UN);
        close(fd);
        return -1;
    }
    s->lockfd = fd;
    return 0;
}

void store_unlock(struct store *s)
{
    if (s->lockfd < 0)
        return;
    if (ftruncate(s->lockfd, 0) < 0) {
        /* the next holder reports a takeover; nothing else is wrong */
    }
    flock(s->lockfd, LOCK_UN);
    close(s->lockfd);
    s->lockfd = -1;
}

/* ---- runs ---- */

static const char SQL_RUN_INSERT[] =
    "INSERT INTO runs(kind, node, source, commit_id, pid, pid_start, started) "
    "VALUES(?, ?, ?, ?, ?, ?, ?)";

int store_run_begin(struct store *s, const char *kind, const char *node, const char *source,
                    const char *commit, int64_t *id, char *err, size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = stmt(s, SQL_RUN_INSERT, err, errlen);
    if (!st)
        return -1;
    int pid = (int)getpid();
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, node ? node : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, source ? source : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, commit ? commit : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, pid);
    sqlite3_bind_int64(st, 6, proc_start(pid));
    sqlite3_bind_int64(st, 7, store_now());
    if (done(s, st, err, errlen, "cannot record the run") < 0)
        return -1;
    *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static const char SQL_RUN_NODE[] = "UPDATE runs SET node = ? WHERE id = ?";

int store_run_set_node(struct store *s, int64_t id, const char *node, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_RUN_NODE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    return done(s, st, err, errlen, "cannot record the run's node");
}

static const char SQL_RUN_END[] =
    "UPDATE runs SET ended = ?, result = ?, summary = ?, error = ? WHERE id = ?";

int store_run_end(struct store *s, int64_t id, enum store_result result, const char *summary,
                  const char *error, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_RUN_END, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, store_now());
    sqlite3_bind_text(st, 2, store_result_name(result), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, summary ? summary : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, error ? error : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, id);
    return done(s, st, err, errlen, "cannot record the end of the run");
}

static const char SQL_LAST_ACTION[] =
    "SELECT kind || '/' || name || ' ' || verb || ' (' || status || ')' FROM actions "
    "WHERE run = ? ORDER BY seq DESC LIMIT 1";

static const char *last_action(struct store *s, struct arena *a, int64_t run)
{
    char err[256];
    sqlite3_stmt *st = stmt(s, SQL_LAST_ACTION, err, sizeof(err));
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, run);
    const char *r = sqlite3_step(st) == SQLITE_ROW ? col_text(a, st, 0) : NULL;
    sqlite3_reset(st);
    return r;
}

static const char SQL_RUNNING[] =
    "SELECT id, kind, pid, pid_start FROM runs WHERE result = 'running'";
static const char SQL_INTERRUPTED[] =
    "UPDATE runs SET result = 'interrupted', summary = ? WHERE id = ?";

int store_reap(struct store *s, char *err, size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    struct arena *a = arena_new();
    struct dead { int64_t id; const char *kind; int pid; } *v = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = stmt(s, SQL_RUNNING, err, errlen);
    int rc = st ? 0 : -1;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int pid = sqlite3_column_int(st, 2);
        if (alive(pid, sqlite3_column_int64(st, 3)))
            continue;
        *vec_append(a, v, n, cap, 1) =
            (struct dead){ sqlite3_column_int64(st, 0), col_text(a, st, 1), pid };
    }
    if (st)
        sqlite3_reset(st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *last = last_action(s, a, v[i].id);
        char *summary = arena_printf(a, "its process (pid %d) ended without finishing%s%s",
                                     v[i].pid, last ? "; last action: " : "", last ? last : "");
        sqlite3_stmt *up = stmt(s, SQL_INTERRUPTED, err, errlen);
        if (!up) {
            rc = -1;
            break;
        }
        sqlite3_bind_text(up, 1, summary, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, v[i].id);
        if (done(s, up, err, errlen, "cannot mark an interrupted run") < 0) {
            rc = -1;
            break;
        }
        struct store_event e = { store_now(), v[i].id, "Warning", "Interrupted", "", "", "",
                                 arena_printf(a, "%s run %lld was interrupted: %s", v[i].kind,
                                              (long long)v[i].id, summary) };
        rc = store_event(s, &e, err, errlen);
    }
    arena_free(a);
    return rc < 0 ? -1 : (int)n;
}

static const char SQL_PRUNE_COUNT[] = "DELETE FROM runs WHERE id <= (SELECT max(id) FROM runs) - ?"
                                      " AND result <> 'running'";
static const char SQL_PRUNE_AGE[] = "DELETE FROM runs WHERE started < ? AND result <> 'running'";
static const char SQL_PRUNE_FINDINGS[] =
    "DELETE FROM findings WHERE closed_run IS NOT NULL AND "
    "closed_run < coalesce((SELECT min(id) FROM runs), 1 << 62)";

long store_prune(struct store *s, long keep_runs, int64_t older_than_ms, char *err,
                 size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    long removed = 0;
    if (keep_runs > 0) {
        sqlite3_stmt *st = stmt(s, SQL_PRUNE_COUNT, err, errlen);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, keep_runs);
        if (done(s, st, err, errlen, "cannot remove old runs") < 0)
            return -1;
        removed += sqlite3_changes(s->db);
    }
    if (older_than_ms > 0) {
        sqlite3_stmt *st = stmt(s, SQL_PRUNE_AGE, err, errlen);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, older_than_ms);
        if (done(s, st, err, errlen, "cannot remove old runs") < 0)
            return -1;
        removed += sqlite3_changes(s->db);
    }
    if (removed) {
        sqlite3_stmt *st = stmt(s, SQL_PRUNE_FINDINGS, err, errlen);
        if (!st || done(s, st, err, errlen, "cannot remove old findings") < 0)
            return -1;
        /* give the freed pages back to the file system (auto_vacuum is
         * incremental), so the file shrinks instead of only not growing */
        if (sqlite3_get_autocommit(s->db) &&
            exec(s, "PRAGMA incremental_vacuum", err, errlen, "cannot shrink the file") < 0)
            return -1;
    }
    return removed;
}

/* ---- actions ---- */

static const char SQL_ACTION_BEGIN[] =
    "INSERT OR REPLACE INTO actions(run, seq, kind, name, verb, reason, before, after, status, "
    "started) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

int store_action_begin(struct store *s, const struct store_action *a, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_ACTION_BEGIN, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a->run);
    sqlite3_bind_int64(st, 2, a->seq);
    bind_text(st, 3, a->kind);
    bind_text(st, 4, a->name);
    bind_text(st, 5, a->verb);
    bind_text(st, 6, a->reason);
    bind_text(st, 7, a->before);
    bind_text(st, 8, a->after);
    bind_text(st, 9, store_status_name(a->status));
    sqlite3_bind_int64(st, 10, store_now());
    return done(s, st, err, errlen, "cannot record an action");
}

static const char SQL_ACTION_END[] =
    "UPDATE actions SET status = ?, error = ?, ended = ? WHERE run = ? AND seq = ?";

int store_action_end(struct store *s, int64_t run, long seq, enum store_status status,
                     const char *error, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_ACTION_END, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, store_status_name(status), -1, SQLITE_STATIC);
    bind_text(st, 2, error);
    sqlite3_bind_int64(st, 3, store_now());
    sqlite3_bind_int64(st, 4, run);
    sqlite3_bind_int64(st, 5, seq);
    return done(s, st, err, errlen, "cannot record the end of an action");
}

/* ---- reading runs ---- */

static const char SQL_RUNS[] =
    "SELECT r.id, r.kind, r.node, r.source, r.commit_id, r.pid, r.pid_start, r.started, "
    "r.ended, r.result, r.summary, r.error, "
    "(SELECT count(*) FROM actions a WHERE a.run = r.id) "
    "FROM runs r WHERE r.started >= ? ORDER BY r.id DESC LIMIT ?";
static const char SQL_RUN_ONE[] =
    "SELECT r.id, r.kind, r.node, r.source, r.commit_id, r.pid, r.pid_start, r.started, "
    "r.ended, r.result, r.summary, r.error, "
    "(SELECT count(*) FROM actions a WHERE a.run = r.id) FROM runs r WHERE r.id = ?";

static void read_run(struct store *s, struct arena *a, sqlite3_stmt *st, struct store_run *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->kind = col_text(a, st, 1);
    r->node = col_text(a, st, 2);
    r->source = col_text(a, st, 3);
    r->commit = col_text(a, st, 4);
    r->pid = sqlite3_column_int(st, 5);
    long long start = sqlite3_column_int64(st, 6);
    r->started = sqlite3_column_int64(st, 7);
    r->ended = sqlite3_column_int64(st, 8);
    r->result = result_of(col_text(a, st, 9));
    r->summary = col_text(a, st, 10);
    r->error = col_text(a, st, 11);
    r->nactions = (size_t)sqlite3_column_int64(st, 12);
    r->last_action = NULL;
    /* Not reaped yet (readers never write): tell the truth anyway. */
    if (r->result == STORE_RUN_RUNNING && !alive(r->pid, start))
        r->result = STORE_RUN_INTERRUPTED;
    (void)s;
}

int store_runs(struct store *s, struct arena *a, long limit, int64_t since,
               struct store_run **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_RUNS, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, since);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    size_t cap = 0;
    struct store_run *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_run(s, a, st, vec_append(a, v, *n, cap, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read runs");
    for (size_t i = 0; i < *n; i++)
        if (v[i].result == STORE_RUN_INTERRUPTED)
            v[i].last_action = last_action(s, a, v[i].id);
    *out = v;
    return 0;
}

static const char SQL_ACTIONS[] =
    "SELECT seq, kind, name, verb, reason, before, after, status, error, started, ended "
    "FROM actions WHERE run = ? ORDER BY seq";

int store_run_get(struct store *s, struct arena *a, int64_t id, struct store_run *out,
                  struct store_action **actions, size_t *nactions, char *err, size_t errlen)
{
    *actions = NULL;
    *nactions = 0;
    if (!s->db)
        return 1;
    sqlite3_stmt *st = stmt(s, SQL_RUN_ONE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_run(s, a, st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 1;
    if (rc != SQLITE_ROW)
        return fail(s, err, errlen, "cannot read the run");
    out->last_action = last_action(s, a, id);
    st = stmt(s, SQL_ACTIONS, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    struct store_action *v = arena_alloc(a, (out->nactions + 1) * sizeof(*v));
    size_t n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < out->nactions) {
        struct store_action *x = &v[n++];
        x->run = id;
        x->seq = sqlite3_column_int(st, 0);
        x->kind = col_text(a, st, 1);
        x->name = col_text(a, st, 2);
        x->verb = col_text(a, st, 3);
        x->reason = col_text(a, st, 4);
        x->before = col_text(a, st, 5);
        x->after = col_text(a, st, 6);
        x->status = status_of(col_text(a, st, 7));
        x->error = col_text(a, st, 8);
        x->started = sqlite3_column_int64(st, 9);
        x->ended = sqlite3_column_int64(st, 10);
        /* an action left pending by a dead process never finished */
        if (x->status == STORE_ACTION_PENDING && out->result == STORE_RUN_INTERRUPTED)
            x->status = STORE_ACTION_INTERRUPTED;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return fail(s, err, errlen, "cannot read the actions");
    *actions = v;
    *nactions = n;
    return 0;
}

/* ---- findings ---- */

static const char SQL_FINDINGS_OPEN[] =
    "SELECT id, category, kind, name, field, coalesce(desired, ''), coalesce(actual, '') "
    "FROM findings WHERE node = ? AND closed_run IS NULL";
static const char SQL_FINDING_INSERT[] =
    "INSERT INTO findings(node, category, kind, name, field, desired, actual, message, "
    "opened_run, opened) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_FINDING_CLOSE[] =
    "UPDATE findings SET closed_run = ?, closed = ? WHERE id = ?";

static bool same_finding(const struct store_finding *f, const char *cat, const char *kind,
                         const char *name, const char *field, const char *desired,
                         const char *actual)
{
    return strcmp(f->category, cat) == 0 && strcmp(f->kind, kind) == 0 &&
           strcmp(f->name, name) == 0 && strcmp(f->field ? f->field : "", field) == 0 &&
           strcmp(f->desired ? f->desired : "", desired) == 0 &&
           strcmp(f->actual ? f->actual : "", actual) == 0;
}

static bool in_findings_scope(const struct store_findings_scope *sc, const char *cat,
                              const char *kind, const char *name, const char *field)
{
    if (!sc)
        return true;
    if (strcmp(kind, sc->kind) != 0 || (sc->except && strcmp(cat, sc->except) == 0) ||
        (sc->except_field && field && strcmp(field, sc->except_field) == 0))
        return false;
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->names[i], name) == 0)
            return true;
    return false;
}

int store_findings_record(struct store *s, int64_t run, const char *node,
                          const struct store_finding *f, size_t n, char *err, size_t errlen)
{
    return store_findings_record_scoped(s, run, node, NULL, f, n, err, errlen);
}

int store_findings_record_scoped(struct store *s, int64_t run, const char *node,
                                 const struct store_findings_scope *scope,
                                 const struct store_finding *f, size_t n, char *err,
                                 size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    struct arena *a = arena_new();
    bool *seen = arena_alloc(a, (n + 1) * sizeof(*seen));
    struct closing { int64_t id; const char *kind, *name, *what; } *closing = NULL;
    size_t nclosing = 0, cap = 0;
    int rc = -1;
    sqlite3_stmt *st = stmt(s, SQL_FINDINGS_OPEN, err, errlen);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c[6];
        for (int i = 0; i < 6; i++)
            c[i] = (const char *)sqlite3_column_text(st, i + 1);
        size_t i;
        for (i = 0; i < n; i++)
            if (!seen[i] && same_finding(&f[i], c[0], c[1], c[2], c[3], c[4], c[5]))
                break;
        if (i < n) {
            seen[i] = true;
            continue;
        }
        if (!in_findings_scope(scope, c[0], c[1], c[2], c[3]))
            continue;                  /* not looked at by this run: stays open */
        *vec_append(a, closing, nclosing, cap, 1) = (struct closing){
            sqlite3_column_int64(st, 0), arena_strdup(a, c[1]), arena_strdup(a, c[2]),
            arena_printf(a, "%s%s%s", c[0], *c[3] ? ": " : "", c[3]) };
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        fail(s, err, errlen, "cannot read open findings");
        goto out;
    }
    int64_t now = store_now();
    for (size_t i = 0; i < nclosing; i++) {
        st = stmt(s, SQL_FINDING_CLOSE, err, errlen);
        if (!st)
            goto out;
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, closing[i].id);
        if (done(s, st, err, errlen, "cannot close a finding") < 0)
            goto out;
        struct store_event e = { now, run, "Normal", "DriftResolved", closing[i].kind,
                                 closing[i].name, node,
                                 arena_printf(a, "no longer found: %s", closing[i].what) };
        if (store_event(s, &e, err, errlen) < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (seen[i])
            continue;
        st = stmt(s, SQL_FINDING_INSERT, err, errlen);
        if (!st)
            goto out;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        bind_text(st, 2, f[i].category);
        bind_text(st, 3, f[i].kind);
        bind_text(st, 4, f[i].name);
        sqlite3_bind_text(st, 5, f[i].field ? f[i].field : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, f[i].desired ? f[i].desired : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, f[i].actual ? f[i].actual : "", -1, SQLITE_STATIC);
        bind_text(st, 8, f[i].message);
        sqlite3_bind_int64(st, 9, run);
        sqlite3_bind_int64(st, 10, now);
        if (done(s, st, err, errlen, "cannot record a finding") < 0)
            goto out;
        const char *msg = f[i].field && *f[i].field
                              ? arena_printf(a, "%s: %s: desired %s, actual %s", f[i].category,
                                             f[i].field, f[i].desired ? f[i].desired : "-",
                                             f[i].actual ? f[i].actual : "-")
                              : arena_printf(a, "%s%s%s", f[i].category,
                                             f[i].message ? ": " : "",
                                             f[i].message ? f[i].message : "");
        struct store_event e = { now, run, "Warning", "DriftDetected", f[i].kind, f[i].name,
                                 node, msg };
        if (store_event(s, &e, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    arena_free(a);
    return rc;
}

static const char SQL_FINDINGS_RESOLVE[] =
    "UPDATE findings SET closed_run = ?1, closed = ?2 WHERE node = ?3 AND kind = ?4 AND "
    "name = ?5 AND closed_run IS NULL";

int store_findings_resolve(struct store *s, int64_t run, const char *node, const char *kind,
                           const char *name, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_FINDINGS_RESOLVE, err, errlen);
    if (!st)
        return -1;
    int64_t now = store_now();
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
    if (done(s, st, err, errlen, "cannot close findings") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return 0;
    char msg[128];
    snprintf(msg, sizeof(msg), "healed by apply (run %lld)", (long long)run);
    struct store_event e = { now, run, "Normal", "DriftResolved", kind, name, node, msg };
    return store_event(s, &e, err, errlen);
}

static const char SQL_FINDINGS_RUN[] =
    "SELECT f.category, f.kind, f.name, f.field, f.desired, f.actual, f.message, f.opened, "
    "coalesce(f.closed, 0), f.opened_run, coalesce(f.closed_run, 0) FROM findings f, runs r "
    "WHERE r.id = ?1 AND f.node = r.node AND f.opened_run <= ?1 AND "
    "(f.closed_run IS NULL OR f.closed_run > ?1) ORDER BY f.kind, f.name, f.id";
static const char SQL_FINDINGS_NODE[] =
    "SELECT category, kind, name, field, desired, actual, message, opened, 0, opened_run, 0 "
    "FROM findings WHERE (?1 IS NULL OR node = ?1) AND closed_run IS NULL "
    "ORDER BY kind, name, id";

int store_findings(struct store *s, struct arena *a, int64_t run, const char *node,
                   struct store_finding **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, run ? SQL_FINDINGS_RUN : SQL_FINDINGS_NODE, err, errlen);
    if (!st)
        return -1;
    if (run)
        sqlite3_bind_int64(st, 1, run);
    else
        bind_text(st, 1, node);
    size_t cap = 0;
    struct store_finding *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_finding *x = vec_append(a, v, *n, cap, 1);
        x->category = col_text(a, st, 0);
        x->kind = col_text(a, st, 1);
        x->name = col_text(a, st, 2);
        x->field = col_text(a, st, 3);
        x->desired = col_text(a, st, 4);
        x->actual = col_text(a, st, 5);
        x->message = col_text(a, st, 6);
        x->opened = sqlite3_column_int64(st, 7);
        x->closed = sqlite3_column_int64(st, 8);
        x->opened_run = sqlite3_column_int64(st, 9);
        x->closed_run = sqlite3_column_int64(st, 10);
    }
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read findings");
    return 0;
}

/* ---- ownership ---- */

static const char SQL_OWNED_PUT[] =
    "INSERT INTO owned(pool_uuid, volume, name, protect, node, created, run, project, ident, "
    "labels, digest) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(pool_uuid, volume) DO "
    "UPDATE SET name = excluded.name, protect = excluded.protect, project = excluded.project, "
    "labels = excluded.labels, "
    "ident = CASE WHEN excluded.ident <> '' THEN excluded.ident ELSE owned.ident END, "
    "digest = CASE WHEN excluded.digest <> '' THEN excluded.digest ELSE owned.digest END";
static const char SQL_OWNED_DELETE[] = "DELETE FROM owned WHERE pool_uuid = ? AND volume = ?";
static const char SQL_OWNED_DELETE_POOL[] = "DELETE FROM owned WHERE pool_uuid = ?";
static const char SQL_OWNED_ALL[] =
    "SELECT pool_uuid, volume, name, protect, project, ident, labels, node, digest FROM owned";
/* a read-only file of schema 3: no digest */
static const char SQL_OWNED_ALL_V3[] =
    "SELECT pool_uuid, volume, name, protect, project, ident, labels, node, '' FROM owned";
/* a read-only file of schema 2 or older: no project, ident, labels */
static const char SQL_OWNED_ALL_V2[] =
    "SELECT pool_uuid, volume, name, protect, 'default', '', '', node, '' FROM owned";

int store_owned_put(struct store *s, const struct store_owned *o, const char *node, int64_t run,
                    char *err, size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = stmt(s, SQL_OWNED_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, o->pool_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->volume ? o->volume : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, o->protect);
    sqlite3_bind_text(st, 5, node ? node : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, store_now());
    if (run)
        sqlite3_bind_int64(st, 7, run);
    sqlite3_bind_text(st, 8, o->project && *o->project ? o->project : "default", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 9, o->ident ? o->ident : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, o->labels ? o->labels : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, o->digest ? o->digest : "", -1, SQLITE_STATIC);
    return done(s, st, err, errlen, "cannot record ownership");
}

int store_owned_delete(struct store *s, const char *pool_uuid, const char *volume, char *err,
                       size_t errlen)
{
    if (need_write(s, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = stmt(s, volume ? SQL_OWNED_DELETE : SQL_OWNED_DELETE_POOL, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, pool_uuid, -1, SQLITE_STATIC);
    if (volume)
        sqlite3_bind_text(st, 2, volume, -1, SQLITE_STATIC);
    return done(s, st, err, errlen, "cannot remove an ownership record");
}

int store_owned_all(struct store *s, struct arena *a, struct store_owned **out, size_t *n,
                    char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, s->version < 3   ? SQL_OWNED_ALL_V2
                               : s->version < 4 ? SQL_OWNED_ALL_V3
                                                : SQL_OWNED_ALL,
                            err, errlen);
    if (!st)
        return -1;
    size_t cap = 0;
    struct store_owned *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *vol = (const char *)sqlite3_column_text(st, 1);
        *vec_append(a, v, *n, cap, 1) = (struct store_owned){
            col_text(a, st, 0), vol && *vol ? arena_strdup(a, vol) : NULL,
            col_text(a, st, 2), sqlite3_column_int(st, 3) != 0, col_text(a, st, 4),
            col_text(a, st, 5), col_text(a, st, 6), col_text(a, st, 7), col_text(a, st, 8) };
    }
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read the ownership records");
    return 0;
}

/* ---- objects ---- */

static const char SQL_OBJECT_PUT[] =
    "INSERT INTO objects(node, kind, name, created, updated, state, sync, cpus, memory, hash, "
    "spec, run) VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT(node, kind, name) DO UPDATE SET updated = excluded.updated, "
    "state = excluded.state, sync = excluded.sync, cpus = excluded.cpus, "
    "memory = excluded.memory, hash = excluded.hash, "
    "spec = coalesce(excluded.spec, objects.spec), run = excluded.run";
static const char SQL_OBJECT_GONE[] = "DELETE FROM objects WHERE node = ? AND run <> ?";

int store_objects_put(struct store *s, int64_t run, const struct store_object *o, size_t n,
                      char *err, size_t errlen)
{
    if (store_begin(s, err, errlen) < 0)
        return -1;
    int64_t now = store_now();
    const char *node = NULL;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(s, SQL_OBJECT_PUT, err, errlen);
        if (!st)
            goto bad;
        node = o[i].node;
        sqlite3_bind_text(st, 1, o[i].node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, o[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, o[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_text(st, 5, o[i].state ? o[i].state : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, o[i].sync ? o[i].sync : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, o[i].cpus);
        sqlite3_bind_int64(st, 8, o[i].memory);
        sqlite3_bind_text(st, 9, o[i].hash ? o[i].hash : "", -1, SQLITE_STATIC);
        bind_text(st, 10, o[i].spec);
        sqlite3_bind_int64(st, 11, run);
        if (done(s, st, err, errlen, "cannot record an object") < 0)
            goto bad;
    }
    if (node) {
        sqlite3_stmt *st = stmt(s, SQL_OBJECT_GONE, err, errlen);
        if (!st)
            goto bad;
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, run);
        if (done(s, st, err, errlen, "cannot forget objects") < 0)
            goto bad;
    }
    return store_commit(s, err, errlen);
bad:
    store_rollback(s);
    return -1;
}

static const char SQL_OBJECTS[] =
    "SELECT node, kind, name, state, sync, cpus, memory, hash, spec, created, updated "
    "FROM objects WHERE (?1 IS NULL OR node = ?1) AND (?2 IS NULL OR kind = ?2) AND "
    "(?3 IS NULL OR name = ?3) ORDER BY kind, name, node";

int store_objects(struct store *s, struct arena *a, const char *node, const char *kind,
                  const char *name, struct store_object **out, size_t *n, char *err,
                  size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_OBJECTS, err, errlen);
    if (!st)
        return -1;
    bind_text(st, 1, node);
    bind_text(st, 2, kind);
    bind_text(st, 3, name);
    size_t cap = 0;
    struct store_object *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_object *x = vec_append(a, v, *n, cap, 1);
        x->node = col_text(a, st, 0);
        x->kind = col_text(a, st, 1);
        x->name = col_text(a, st, 2);
        x->state = col_text(a, st, 3);
        x->sync = col_text(a, st, 4);
        x->cpus = sqlite3_column_int64(st, 5);
        x->memory = sqlite3_column_int64(st, 6);
        x->hash = col_text(a, st, 7);
        x->spec = col_text(a, st, 8);
        x->created = sqlite3_column_int64(st, 9);
        x->updated = sqlite3_column_int64(st, 10);
    }
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read objects");
    return 0;
}

/* ---- nodes ---- */

static const char SQL_NODE_SEEN[] =
    "INSERT OR REPLACE INTO nodes(run, node, label, state, message, at) VALUES(?, ?, ?, ?, ?, ?)";
static const char SQL_NODES[] =
    "SELECT n.node, n.label, n.state, n.message, "
    "(SELECT min(at) FROM nodes m WHERE m.node = n.node), n.at FROM nodes n "
    "WHERE n.at = (SELECT max(at) FROM nodes m WHERE m.node = n.node) "
    "GROUP BY n.node ORDER BY n.label, n.node";

int store_node_seen(struct store *s, int64_t run, const char *node, const char *label,
                    const char *state, const char *message, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_NODE_SEEN, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, label ? label : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, message ? message : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, store_now());
    return done(s, st, err, errlen, "cannot record the node");
}

int store_nodes(struct store *s, struct arena *a, struct store_node **out, size_t *n,
                char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_NODES, err, errlen);
    if (!st)
        return -1;
    size_t cap = 0;
    struct store_node *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *vec_append(a, v, *n, cap, 1) = (struct store_node){
            col_text(a, st, 0), col_text(a, st, 1), col_text(a, st, 2), col_text(a, st, 3),
            sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5) };
    }
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read nodes");
    return 0;
}

/* ---- placements ---- */

static const char SQL_PLACEMENT_PUT[] =
    "INSERT INTO placements(vm, node, placed, run, reason) VALUES(?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(vm) DO UPDATE SET node = ?2, reason = ?5, run = ?4, "
    "placed = CASE WHEN node = ?2 THEN placed ELSE ?3 END";
static const char SQL_PLACEMENTS[] = "SELECT vm, node, placed, reason FROM placements ORDER BY vm";

int store_placement_put(struct store *s, int64_t run, const char *vm, const char *node,
                        const char *reason, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_PLACEMENT_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, vm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, store_now());
    if (run)
        sqlite3_bind_int64(st, 4, run);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, reason ? reason : "", -1, SQLITE_STATIC);
    return done(s, st, err, errlen, "cannot record the placement");
}

int store_placements(struct store *s, struct arena *a, struct store_placement **out, size_t *n,
                     char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_PLACEMENTS, err, errlen);
    if (!st)
        return -1;
    size_t cap = 0;
    struct store_placement *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *vec_append(a, v, *n, cap, 1) = (struct store_placement){
            col_text(a, st, 0), col_text(a, st, 1), col_text(a, st, 3),
            sqlite3_column_int64(st, 2) };
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read placements");
    return 0;
}

/* ---- events ---- */

static const char SQL_EVENT[] =
    "INSERT INTO events(at, run, type, reason, kind, name, node, message) "
    "VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_EVENTS[] =
    "SELECT at, r, type, reason, kind, name, node, message FROM (SELECT id, at, "
    "coalesce(run, 0) AS r, type, reason, kind, name, node, message FROM events "
    "WHERE at >= ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR name = ?3) "
    "ORDER BY at DESC, id DESC LIMIT ?4) ORDER BY at, id";

int store_event(struct store *s, const struct store_event *e, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, SQL_EVENT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, e->at ? e->at : store_now());
    if (e->run)
        sqlite3_bind_int64(st, 2, e->run);
    sqlite3_bind_text(st, 3, e->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->kind ? e->kind : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->name ? e->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->node ? e->node : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->message ? e->message : "", -1, SQLITE_STATIC);
    return done(s, st, err, errlen, "cannot record an event");
}

int store_events(struct store *s, struct arena *a, int64_t since, const char *kind,
                 const char *name, long limit, struct store_event **out, size_t *n,
                 char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!s->db)
        return 0;
    sqlite3_stmt *st = stmt(s, SQL_EVENTS, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, since);
    bind_text(st, 2, kind);
    bind_text(st, 3, name);
    sqlite3_bind_int64(st, 4, limit > 0 ? limit : -1);
    size_t cap = 0;
    struct store_event *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *vec_append(a, v, *n, cap, 1) = (struct store_event){
            sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), col_text(a, st, 2),
            col_text(a, st, 3), col_text(a, st, 4), col_text(a, st, 5), col_text(a, st, 6),
            col_text(a, st, 7) };
    }
    sqlite3_reset(st);
    *out = v;
    if (rc != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read events");
    return 0;
}

/* ---- what `qkvm metrics` counts ---- */

static const char SQL_STATS_RUNS[] =
    "SELECT kind, result, ended - started FROM runs WHERE ended IS NOT NULL";
static const char SQL_STATS_LAST_SYNC[] =
    "SELECT ended, commit_id FROM runs WHERE kind IN ('apply', 'sync') AND result = 'ok' "
    "ORDER BY ended DESC LIMIT 1";

static unsigned long count_of(struct store *s, const char *sql, int *ok)
{
    int one;
    long long v = pragma_int(s, sql, &one);
    *ok &= one;
    return v < 0 ? 0 : (unsigned long)v;
}

int store_stats(struct store *s, struct arena *a, struct store_stats *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    sqlite3_stmt *st = stmt(s, SQL_STATS_RUNS, err, errlen);
    if (!st)
        return -1;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *result = (const char *)sqlite3_column_text(st, 1);
        enum store_result r = STORE_RUN_ERROR;
        for (int i = 0; i < STORE_RESULT_COUNT; i++)
            if (result && strcmp(result, store_result_name((enum store_result)i)) == 0)
                r = (enum store_result)i;
        *vec_append(a, out->runs, out->nruns, cap, 1) = (struct store_run_stat){
            col_text(a, st, 0), r, (double)sqlite3_column_int64(st, 2) / 1000 };
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read the runs");
    st = stmt(s, SQL_STATS_LAST_SYNC, err, errlen);
    if (!st)
        return -1;
    if ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->last_sync_ok = sqlite3_column_int64(st, 0);
        out->last_sync_commit = col_text(a, st, 1);
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return fail(s, err, errlen, "cannot read the last sync");
    int ok = 1;
    out->actions_failed = count_of(s, "SELECT count(*) FROM actions WHERE status = 'failed'", &ok);
    out->heals_done = count_of(s, "SELECT count(*) FROM actions JOIN runs ON runs.id = actions.run "
                                  "WHERE runs.kind = 'observe' AND actions.status = 'done'", &ok);
    out->heals_failed = count_of(s, "SELECT count(*) FROM actions JOIN runs ON runs.id = "
                                    "actions.run WHERE runs.kind = 'observe' AND "
                                    "actions.status = 'failed'", &ok);
    out->fences_ok = count_of(s, "SELECT count(*) FROM events WHERE reason = 'NodeFenced'", &ok);
    out->fences_failed = count_of(s, "SELECT count(*) FROM events WHERE reason = 'FenceFailed'",
                                  &ok);
    out->failovers_ok = count_of(s, "SELECT count(*) FROM events WHERE reason = 'FailedOver'",
                                 &ok);
    out->failovers_failed = count_of(s, "SELECT count(*) FROM runs WHERE kind = 'failover' AND "
                                        "result IN ('failed', 'error')", &ok);
    out->stale_removed = count_of(s, "SELECT count(*) FROM events WHERE reason = "
                                     "'StaleCopyRemoved'", &ok);
    if (!ok)
        return fail(s, err, errlen, "cannot count the runs' actions and events");
    return 0;
}
