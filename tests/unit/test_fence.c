/* test_fence.c — the fence methods, each against the real thing it runs:
 * a command (its environment, its exit, a time limit that kills its whole
 * process group), a fence agent (a script named fence_* found in PATH, fed
 * the agents' stdin protocol, its password scrubbed from the message), and
 * Redfish (tools/redfish-bmc, an HTTP server on 127.0.0.1: ForceOff, then
 * PowerState polled until Off; a wrong password; a system off already). */
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

extern char **environ;

static char dir[256];

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run a fence to its end (at most 30 s). */
static bool run(const struct fence_spec *sp, char *msg, size_t len)
{
    char err[256];
    struct fence *f = fence_start(sp, NULL, NULL, err, sizeof(err));
    assert_non_null(f);
    bool ok = false;
    int i = 0;
    while (!fence_result(f, &ok, msg, len)) {
        assert_true(i++ < 3000);
        sleep_ms(10);
    }
    fence_free(f);
    return ok;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *read_file(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_fence__command_gets_the_node_and_its_exit_counts(void **state)
{
    (void)state;
    char msg[1024];
    const char *ok_argv[] = { "sh", "-c", "echo fencing $QKVM_NODE $QKVM_FENCE_ACTION $QKVM_NODE_URI",
                              NULL };
    struct fence_spec sp = { .node = "hv9", .uri = "qemu+ssh://hv9/system",
                             .method = FENCE_COMMAND, .argv = ok_argv, .n_argv = 3,
                             .timeout_ms = 10000 };
    assert_true(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "exit 0: fencing hv9 off qemu+ssh://hv9/system"));

    const char *bad_argv[] = { "sh", "-c", "echo the BMC does not answer; exit 3", NULL };
    sp.argv = bad_argv;
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "exit 3: the BMC does not answer"));

    const char *none_argv[] = { "/nonexistent/fence", NULL };
    sp.argv = none_argv;
    sp.n_argv = 1;
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "/nonexistent/fence"));
}

static void test_fence__a_command_that_hangs_is_killed_with_its_group(void **state)
{
    (void)state;
    char msg[1024], script[512], pidfile[300];
    snprintf(pidfile, sizeof(pidfile), "%s/child.pid", dir);
    /* a child of its own in the background, then a wait: both must go */
    snprintf(script, sizeof(script), "sleep 300 & echo $! >%s; echo started; wait", pidfile);
    const char *argv[] = { "sh", "-c", script, NULL };
    struct fence_spec sp = { .node = "hv9", .method = FENCE_COMMAND, .argv = argv, .n_argv = 3,
                             .timeout_ms = 1000 };
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "timed out after 1 s, killed: started"));
    const char *pid = read_file(pidfile);
    assert_non_null(pid);
    pid_t child = (pid_t)strtol(pid, NULL, 10);
    assert_true(child > 0);
    /* killed by SIGKILL with its group; reaped by init, maybe not yet */
    int i = 0;
    while (kill(child, 0) == 0 && i++ < 500) {
        char stat[64], line[512];
        snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)child);
        FILE *f = fopen(stat, "r");
        if (f && fgets(line, sizeof(line), f) && strstr(line, ") Z ")) {
            fclose(f);
            break;                    /* a zombie: dead */
        }
        if (f)
            fclose(f);
        sleep_ms(10);
    }
    assert_true(i <= 500);
}

static void test_fence__agent_reads_the_stdin_protocol(void **state)
{
    (void)state;
    char path[512], agent[512], out[300], pw[300], msg[1024];
    snprintf(out, sizeof(out), "%s/agent.stdin", dir);
    snprintf(agent, sizeof(agent), "%s/fence_qkvmtest", dir);
    char text[1024];
    /* it prints what it read (an agent in verbose mode does): the password
     * must not reach the message */
    snprintf(text, sizeof(text), "#!/bin/sh\ncat >%s\necho \"read: $(tr '\\n' ' ' <%s)\"\n"
             "exit 0\n", out, out);
    write_file(agent, text, 0755);
    snprintf(pw, sizeof(pw), "%s/bmc-password", dir);
    write_file(pw, "s3cret-pw\n", 0600);
    snprintf(path, sizeof(path), "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    const char *opts[] = { "ip=10.0.0.5", "username=admin", "lanplus=1" };
    struct fence_spec sp = { .node = "hv9", .method = FENCE_AGENT, .agent = "fence_qkvmtest",
                             .options = opts, .n_options = 3, .password_file = pw,
                             .timeout_ms = 10000 };
    assert_true(run(&sp, msg, sizeof(msg)));
    const char *got = read_file(out);
    assert_non_null(got);
    /* action=off last: a later line wins with the agents' parser */
    assert_string_equal(got, "ip=10.0.0.5\nusername=admin\nlanplus=1\npassword=s3cret-pw\n"
                             "action=off\n");
    /* the message is the agent's last line, which holds the password,
     * scrubbed */
    assert_non_null(strstr(msg, "read: ip=10.0.0.5 username=admin lanplus=1 password=*********"));
    assert_null(strstr(msg, "s3cret-pw"));

    sp.password_file = "/nonexistent/password";
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "cannot read the password file"));
}

/* tools/redfish-bmc on a port of its own; its PID, and the URL */
static pid_t bmc_start(const char *name, int off_after, char *url, size_t len)
{
    char portfile[300], n[16];
    snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, name);
    snprintf(n, sizeof(n), "%d", off_after);
    char *argv[] = { "python3", "tools/redfish-bmc", portfile, "admin", "s3cret-pw", n, NULL };
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawnp(&pid, "python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    const char *port = NULL;
    for (int i = 0; i < 3000 && !(port = read_file(portfile)); i++)
        sleep_ms(10);                 /* the server writes it once it listens */
    assert_non_null(port);
    snprintf(url, len, "http://127.0.0.1:%ld/redfish/v1/Systems/1", strtol(port, NULL, 10));
    return pid;
}

static void bmc_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_fence__redfish_forceoff_then_powerstate_off(void **state)
{
    (void)state;
    char url[256], msg[1024], pw[300], bad[300];
    pid_t bmc = bmc_start("bmc1", 2, url, sizeof(url));
    snprintf(pw, sizeof(pw), "%s/bmc-password", dir);
    write_file(pw, "s3cret-pw\n", 0600);
    struct fence_spec sp = { .node = "hv9", .method = FENCE_REDFISH, .url = url,
                             .username = "admin", .password_file = pw, .timeout_ms = 20000,
                             .poll_ms = 50 };
    /* a wrong password: 401, not fenced */
    snprintf(bad, sizeof(bad), "%s/bad-password", dir);
    write_file(bad, "guess\n", 0600);
    sp.password_file = bad;
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "answered 401"));
    sp.password_file = pw;
    assert_true(run(&sp, msg, sizeof(msg)));
    assert_string_equal(msg, "redfish: ForceOff, PowerState Off");
    /* off already: the BMC refuses ForceOff (409), PowerState says Off */
    assert_true(run(&sp, msg, sizeof(msg)));
    assert_string_equal(msg, "redfish: ForceOff refused, PowerState Off");
    bmc_stop(bmc);

    /* a BMC that never says Off: the fence fails at its time limit */
    bmc = bmc_start("bmc2", 1000000, url, sizeof(url));
    sp.timeout_ms = 1000;
    assert_false(run(&sp, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "PowerState not Off after 1 s (last: On)"));
    bmc_stop(bmc);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/qkvm-test-fence.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fence__command_gets_the_node_and_its_exit_counts),
        cmocka_unit_test(test_fence__a_command_that_hangs_is_killed_with_its_group),
        cmocka_unit_test(test_fence__agent_reads_the_stdin_protocol),
        cmocka_unit_test(test_fence__redfish_forceoff_then_powerstate_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
