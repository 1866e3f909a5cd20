/* runstat.c — run a command N times; print the median and minimum wall time
 * and the largest peak RSS of the runs, as "median_ms min_ms maxrss_kib".
 * The command's output is discarded; a run that exits non-zero (other than
 * with an allowed code) stops the measurement.
 * Usage: runstat [-n N] [-x ALLOWED_EXIT] -- COMMAND [ARGS...] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = 5, allowed = 0, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-x") && i + 1 < argc)
            allowed = (int)strtol(argv[++i], NULL, 10);
    }
    if (i + 1 >= argc || n < 1 || n > 1000) {
        fprintf(stderr, "usage: runstat [-n N] [-x CODE] -- COMMAND [ARGS...]\n");
        return 1;
    }
    char **cmd = argv + i + 1;
    double *t = calloc((size_t)n, sizeof(*t));
    long maxrss = 0;
    for (int r = 0; r < n; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execvp(cmd[0], cmd);
            _exit(127);
        }
        int status;
        struct rusage ru;
        if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
            perror("runstat");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != allowed)) {
            fprintf(stderr, "runstat: '%s' failed (status %d)\n", cmd[0], status);
            return 1;
        }
        t[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
    }
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("%.1f %.1f %ld\n", t[n / 2], t[0], maxrss);
    free(t);
    return 0;
}
