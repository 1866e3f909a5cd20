/* cli.c — what the commands share: messages and output. See cli.h. */
#include "cli.h"

#include "diag.h"
#include "jsondoc.h"
#include "junit.h"
#include "tree.h"
#include "yamldoc.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void vsay(const char *level, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* one line each, always: a message never breaks the line it is on */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "qkvm: %s%s\n", level, msg);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("error: ", fmt, ap);
    va_end(ap);
    return CLI_EXIT_ERROR;
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("warning: ", fmt, ap);
    va_end(ap);
}

void cli_info(const struct cli *c, const char *fmt, ...)
{
    if (c->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
}

void cli_findings(const struct cli *c, const struct diag *d)
{
    diag_print(d, stderr, c->color);
}

/* Has stdout's reader gone (a pipe or socket closed at the other end)?
 * Writes then fail with EPIPE, SIGPIPE being ignored; poll says so even
 * where stdio's error flag has lost the errno. */
static bool reader_gone(void)
{
    struct pollfd p = { STDOUT_FILENO, POLLOUT, 0 };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* A reader that stopped reading (`qkvm history | head -1`) is not an
 * error: the output ends quietly and the exit code is the command's. Any
 * other write error is, reported once (a full disk must not pass for a
 * complete listing). */
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
        cli_error("cannot write output: %s", e ? strerror(e) : "write error");
    reported = true;
    return rc == CLI_EXIT_OK ? CLI_EXIT_ERROR : rc;
}

int cli_output_end(int rc)
{
    return output_end(rc, 0);
}

int cli_emit(const struct cli *c, struct tree *t, bool stream,
             void (*table)(FILE *out, const struct cli *c, const struct tree *t,
                           const void *payload),
             const void *payload)
{
    int rc;
    const char *kind = tree_str(t, "kind", "");
    if (c->format == CLI_JUNIT && strcmp(kind, "DriftReport") != 0 && strcmp(kind, "Plan") != 0)
        return cli_error("-o junit is for plan and drift only");
    if (c->format == CLI_JUNIT) {
        rc = junit_write(stdout, t);
    } else if (c->format == CLI_JSON) {
        rc = jsondoc_emit(stdout, t);
    } else if (c->format == CLI_YAML || !table) {
        if (stream && t->type == TREE_SEQ)
            rc = yamldoc_emit(stdout, t->u.items, t->len);
        else
            rc = yamldoc_emit(stdout, &t, 1);
    } else {
        table(stdout, c, t, payload);
        rc = 0;
    }
    if (rc >= 0 && fflush(stdout) == 0 && !ferror(stdout))
        return CLI_EXIT_OK;
    if (ferror(stdout))
        return output_end(CLI_EXIT_OK, errno);
    return cli_error("cannot write output");
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_write_atomically(const char *path, int (*fn)(FILE *f, const void *payload),
                         const void *payload, int mode)
{
    if (mode < 0) {                    /* an earlier file's, else what the umask leaves */
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            mode = (int)(st.st_mode & 07777);
        } else {
            mode_t um = umask(0);
            umask(um);
            mode = (int)(0666 & ~um);
        }
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
        abort();
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    errno = 0;
    int e = fn(f, payload) < 0 ? (errno ? errno : EIO) : 0;
    if (!e && (fflush(f) != 0 || ferror(f) || fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0))
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        cli_error("cannot write '%s': %s", path, strerror(e));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

void cli_when(int64_t ms, char *buf, size_t size)
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
