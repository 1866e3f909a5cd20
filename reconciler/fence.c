/* fence.c — powering a failed node off. See fence.h. */
#include "fence.h"

#include "arena.h"
#include "fetch.h"
#include "tree.h"
#include "jsondoc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct fence {
    struct arena *a;
    struct fence_spec spec;       /* deep copy, in a */
    void (*done)(void *);
    void *payload;
    pthread_t thread;
    atomic_int cancel;
    atomic_int finished;
    bool ok;
    char msg[1024];
};

const char *fence_method_name(enum fence_method m)
{
    switch (m) {
    case FENCE_COMMAND: return "command";
    case FENCE_AGENT: return "agent";
    case FENCE_REDFISH: return "redfish";
    case FENCE_MANUAL: return "manual";
    }
    return "?";
}

static void setmsg(struct fence *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setmsg(struct fence *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a secret file, or NULL with msg. */
static char *read_secret(struct fence *f, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        setmsg(f, "cannot read the password file '%s': %s", path,
                 strerror(errno));
        return NULL;
    }
    char buf[1024];
    if (!fgets(buf, sizeof(buf), fp))
        buf[0] = '\0';
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = '\0';
    return arena_strdup(f->a, buf);
}

/* An agent may print what it was given: never a password in a message. */
static void scrub(struct fence *f, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    for (char *p = f->msg; n && (p = strstr(p, secret)) != NULL; p += n)
        memset(p, '*', n);
}

/* The last line of what a command printed, for the message. */
static const char *last_line(char *out, size_t n)
{
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* Run argv (path: argv[0] is a path, else looked up in PATH) with extra
 * environment and stdin text, until it exits or the deadline. */
static void run_command(struct fence *f, const char *const *argv, const char *input,
                        int64_t deadline)
{
    const struct fence_spec *sp = &f->spec;
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = arena_alloc(f->a, (ne + 4) * sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "QKVM_NODE=", 10) && strncmp(environ[i], "QKVM_NODE_URI=", 14) &&
            strncmp(environ[i], "QKVM_FENCE_ACTION=", 18))
            env[k++] = environ[i];
    env[k++] = arena_printf(f->a, "QKVM_NODE=%s", sp->node);
    env[k++] = arena_printf(f->a, "QKVM_NODE_URI=%s", sp->uri ? sp->uri : "");
    env[k++] = arena_printf(f->a, "QKVM_FENCE_ACTION=off");
    env[k] = NULL;
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        setmsg(f, "pipe: %s", strerror(errno));
        goto close;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);     /* its own group: a timeout kills them all */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                  POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = strchr(argv[0], '/')
        ? posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, env)
        : posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    if (rc != 0) {
        setmsg(f, "cannot run %s: %s", argv[0], strerror(rc));
        goto close;
    }
    if (input) {                          /* small: fits the pipe's buffer */
        size_t n = strlen(input);
        ssize_t w = write(in[1], input, n);
        (void)w;
    }
    close(in[1]);
    in[1] = -1;
    char buf[4096];
    size_t got = 0;
    int status = 0;
    bool exited = false, killed = false, open_out = true;
    while (!exited) {
        struct pollfd pf = { out[0], POLLIN, 0 };
        int64_t left = deadline - mono_ms();
        if (open_out && poll(&pf, 1, left < 50 ? (left > 0 ? (int)left : 0) : 50) > 0) {
            ssize_t r = read(out[0], buf + got, sizeof(buf) - 1 - got);
            if (r <= 0)
                open_out = false;
            else if ((got += (size_t)r) == sizeof(buf) - 1) {
                memmove(buf, buf + sizeof(buf) / 2, got - sizeof(buf) / 2);
                got -= sizeof(buf) / 2;   /* keep the tail */
            }
        } else if (!open_out) {
            struct timespec ts = { 0, 20 * 1000000 };
            nanosleep(&ts, NULL);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            exited = true;
            break;
        }
        if (!killed && (mono_ms() >= deadline || atomic_load(&f->cancel))) {
            kill(-pid, SIGKILL);
            killed = true;
            /* a process stuck in the kernel (D state) may outlive SIGKILL
             * for a while: waited for 5 s at most; after that it stays a
             * zombie of the controller's until it exits (the fence fails
             * and is retried meanwhile) */
            for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++) {
                struct timespec ts = { 0, 10 * 1000000 };
                nanosleep(&ts, NULL);
            }
            exited = true;
        }
    }
    buf[got] = '\0';
    const char *said = last_line(buf, got);
    if (killed && atomic_load(&f->cancel))
        setmsg(f, "%s: stopped (the controller is stopping)", argv[0]);
    else if (killed)
        setmsg(f, "%s: timed out after %d s, killed%s%s", argv[0],
                 sp->timeout_ms / 1000, *said ? ": " : "", said);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        f->ok = true;
        setmsg(f, "%s: exit 0%s%s", argv[0], *said ? ": " : "", said);
    } else if (WIFEXITED(status))
        setmsg(f, "%s: exit %d%s%s", argv[0], WEXITSTATUS(status),
                 *said ? ": " : "", said);
    else
        setmsg(f, "%s: killed by signal %d%s%s", argv[0],
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0, *said ? ": " : "", said);
close:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
}

static void run_agent(struct fence *f, int64_t deadline)
{
    const struct fence_spec *sp = &f->spec;
    const char *path = arena_printf(f->a, "/usr/sbin/%s", sp->agent);
    if (access(path, X_OK) != 0)
        path = sp->agent;                 /* PATH */
    const char *input = "";
    for (size_t i = 0; i < sp->n_options; i++)
        input = arena_printf(f->a, "%s%s\n", input, sp->options[i]);
    const char *pw = NULL;
    if (sp->password_file) {
        if (!(pw = read_secret(f, sp->password_file)))
            return;
        input = arena_printf(f->a, "%spassword=%s\n", input, pw);
    }
    /* last: a later line wins with the agents' parser */
    input = arena_printf(f->a, "%saction=off\n", input);
    const char *argv[] = { path, NULL };
    run_command(f, argv, input, deadline);
    scrub(f, pw);
}

static const char *excerpt(struct arena *a, const char *body)
{
    size_t n = strcspn(body, "\r\n");
    return arena_printf(a, "%.*s%s", (int)(n > 200 ? 200 : n), body, n > 200 ? "..." : "");
}

static void run_redfish(struct fence *f, int64_t deadline)
{
    const struct fence_spec *sp = &f->spec;
    const char *pw = read_secret(f, sp->password_file);
    if (!pw)
        return;
    const char *userpwd = arena_printf(f->a, "%s:%s", sp->username, pw);
    size_t ul = strlen(sp->url);
    const char *base = arena_printf(f->a, "%.*s", (int)(ul && sp->url[ul - 1] == '/' ? ul - 1 : ul),
                                    sp->url);
    char err[1024];
    struct fetch_response rs;
    struct fetch_request rq = { "POST", arena_printf(f->a, "%s/Actions/ComputerSystem.Reset",
                                                     base),
                                userpwd, "application/json", "{\"ResetType\": \"ForceOff\"}",
                                deadline - mono_ms(), &f->cancel, NULL, NULL };
    if (rq.timeout_ms <= 0 || fetch_request(&rq, &rs, err, sizeof(err)) < 0) {
        setmsg(f, "redfish: %s", rq.timeout_ms <= 0 ? "timed out" : err);
        return;
    }
    long status = rs.status;
    const char *said = excerpt(f->a, rs.body);
    free(rs.body);
    /* some BMCs refuse ForceOff of a system that is off already (409,
     * 400): its PowerState says */
    bool refused = status != 200 && status != 202 && status != 204;
    if (refused && status != 409 && status != 400) {
        setmsg(f, "redfish: ForceOff: the BMC answered %ld%s%s", status,
                 *said ? ": " : "", said);
        return;
    }
    const char *state = "?";
    int poll_ms = sp->poll_ms > 0 ? sp->poll_ms : 1000;
    for (;;) {
        if (atomic_load(&f->cancel)) {
            setmsg(f, "redfish: stopped (the controller is stopping)");
            return;
        }
        struct fetch_request g = { "GET", base, userpwd, NULL, NULL, deadline - mono_ms(),
                                   &f->cancel, NULL, NULL };
        if (g.timeout_ms <= 0)
            break;
        if (fetch_request(&g, &rs, err, sizeof(err)) == 0) {
            struct arena *a = arena_new();
            struct tree *t = rs.status == 200 ? jsondoc_parse(a, rs.body) : NULL;
            const char *ps = t ? tree_str(t, "PowerState", NULL) : NULL;
            bool off = ps && strcmp(ps, "Off") == 0;
            state = ps ? arena_strdup(f->a, ps)
                       : arena_printf(f->a, "unknown (HTTP %ld%s%s)", rs.status,
                                      *rs.body ? ": " : "", excerpt(f->a, rs.body));
            arena_free(a);
            free(rs.body);
            if (off) {
                f->ok = true;
                setmsg(f, "redfish: ForceOff%s, PowerState Off", refused ? " refused" : "");
                return;
            }
            if (refused) {
                setmsg(f, "redfish: ForceOff: the BMC answered %ld%s%s, and PowerState is %s",
                       status, *said ? ": " : "", said, state);
                return;
            }
        } else {
            state = arena_strdup(f->a, err);
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = { 0, (long)(left < poll_ms ? left : poll_ms) * 1000000L };
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        nanosleep(&ts, NULL);
    }
    setmsg(f, "redfish: PowerState not Off after %d s (last: %s)",
             sp->timeout_ms / 1000, state);
}

static void *fence_thread(void *arg)
{
    struct fence *f = arg;
    int64_t deadline = mono_ms() + (f->spec.timeout_ms > 0 ? f->spec.timeout_ms : 60000);
    switch (f->spec.method) {
    case FENCE_COMMAND: {
        const char **argv = arena_alloc(f->a, (f->spec.n_argv + 1) * sizeof(*argv));
        for (size_t i = 0; i < f->spec.n_argv; i++)
            argv[i] = f->spec.argv[i];
        run_command(f, argv, NULL, deadline);
        break;
    }
    case FENCE_AGENT: run_agent(f, deadline); break;
    case FENCE_REDFISH: run_redfish(f, deadline); break;
    case FENCE_MANUAL: setmsg(f, "manual: not run by qkvm"); break;
    }
    atomic_store(&f->finished, 1);
    if (f->done)
        f->done(f->payload);
    return NULL;
}

static const char *const *copy_list(struct arena *a, const char *const *v, size_t n)
{
    const char **c = arena_alloc(a, (n + 1) * sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[i] = arena_strdup(a, v[i]);
    return c;
}

#define DUP(s) ((s) ? arena_strdup(f->a, (s)) : NULL)

struct fence *fence_start(const struct fence_spec *spec, void (*done)(void *), void *payload,
                          char *err, size_t errlen)
{
    struct fence *f = xcalloc(1, sizeof(*f));
    f->a = arena_new();
    f->spec = *spec;
    f->spec.node = DUP(spec->node);
    f->spec.uri = DUP(spec->uri);
    f->spec.argv = copy_list(f->a, spec->argv, spec->n_argv);
    f->spec.agent = DUP(spec->agent);
    f->spec.options = copy_list(f->a, spec->options, spec->n_options);
    f->spec.password_file = DUP(spec->password_file);
    f->spec.url = DUP(spec->url);
    f->spec.username = DUP(spec->username);
    f->done = done;
    f->payload = payload;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);     /* signals stay with the main thread */
    int rc = pthread_create(&f->thread, NULL, fence_thread, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        arena_free(f->a);
        free(f);
        return NULL;
    }
    return f;
}

bool fence_result(struct fence *f, bool *ok, char *msg, size_t len)
{
    if (!atomic_load(&f->finished))
        return false;
    *ok = f->ok;
    snprintf(msg, len, "%s", f->msg);
    return true;
}

void fence_free(struct fence *f)
{
    if (!f)
        return;
    atomic_store(&f->cancel, 1);
    pthread_join(f->thread, NULL);
    arena_free(f->a);
    free(f);
}
