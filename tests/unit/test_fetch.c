/* test_fetch.c — what of fetch.c needs no server: the default cache
 * directory's rules, cache paths and lookups, the AWS credentials file,
 * s3:// URLs, and the refusals fetch_image makes before any network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fetch.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/qkvm-fetch.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' && rm -rf '%s'", tmpdir, tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_fetch__default_cache_dir(void **state)
{
    (void)state;
    char b[256];
    /* QKVM_CACHE_DIR wins over everything */
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), true, "/srv/c", "/x", "/home/u"),
                        "/srv/c");
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), false, "/srv/c", NULL, NULL),
                        "/srv/c");
    /* root: the system cache */
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), true, NULL, "/x", "/root"),
                        "/var/cache/qkvm/images");
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), true, "", NULL, NULL),
                        "/var/cache/qkvm/images");
    /* others: XDG_CACHE_HOME when absolute, else ~/.cache */
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), false, NULL, "/xdg", "/home/u"),
                        "/xdg/qkvm/images");
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), false, NULL, "rel", "/home/u"),
                        "/home/u/.cache/qkvm/images");
    assert_string_equal(fetch_cache_dir_from(b, sizeof(b), false, NULL, "", "/home/u"),
                        "/home/u/.cache/qkvm/images");
    assert_null(fetch_cache_dir_from(b, sizeof(b), false, NULL, NULL, NULL));
    assert_null(fetch_cache_dir_from(b, 8, false, NULL, NULL, "/home/u"));   /* too long */
    /* the environment's version */
    setenv("QKVM_CACHE_DIR", "/from/env", 1);
    assert_string_equal(fetch_default_cache_dir(b, sizeof(b)), "/from/env");
    unsetenv("QKVM_CACHE_DIR");
    assert_non_null(fetch_default_cache_dir(b, sizeof(b)));
}

static void test_fetch__cache_paths(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(fetch_cache_path(b, sizeof(b), "/c", HEX, ""), "/c/sha256/" HEX);
    assert_string_equal(fetch_cache_path(b, sizeof(b), "/c/", HEX, ".part"),
                        "/c/sha256/" HEX ".part");
    assert_string_equal(fetch_cache_path(b, sizeof(b), "/c//", HEX, ".part.meta"),
                        "/c/sha256/" HEX ".part.meta");
    assert_string_equal(fetch_cache_path(b, sizeof(b), "/c", HEX, ".lock"),
                        "/c/sha256/" HEX ".lock");
    assert_null(fetch_cache_path(b, 20, "/c", HEX, ""));
}

static void test_fetch__cached(void **state)
{
    (void)state;
    char b[512], p[512], sub[300];
    assert_null(fetch_cached(tmpdir, HEX, b, sizeof(b)));          /* no sha256/ yet */
    snprintf(sub, sizeof(sub), "%s/sha256", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    /* a partial download is not the file */
    write_file(fetch_cache_path(p, sizeof(p), tmpdir, HEX, ".part"), "half", 0600);
    assert_null(fetch_cached(tmpdir, HEX, b, sizeof(b)));
    /* a directory under the name is not either */
    assert_int_equal(mkdir(fetch_cache_path(p, sizeof(p), tmpdir, HEX, ""), 0700), 0);
    assert_null(fetch_cached(tmpdir, HEX, b, sizeof(b)));
    assert_int_equal(rmdir(p), 0);
    write_file(p, "test", 0444);
    assert_string_equal(fetch_cached(tmpdir, HEX, b, sizeof(b)), p);
    /* a digest that is not one is never looked up */
    assert_null(fetch_cached(tmpdir, "ABC", b, sizeof(b)));
    assert_null(fetch_cached(tmpdir, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
                             b, sizeof(b)));
    assert_null(fetch_cached(NULL, HEX, b, sizeof(b)));
}

/* fetch_image answers from the cache without any network (the URL is
 * unreachable on purpose), and refuses a bad digest or URL before any. */
static void test_fetch__image_cached_and_refusals(void **state)
{
    (void)state;
    char err[1024], sub[300], p[512];
    snprintf(sub, sizeof(sub), "%s/sha256", tmpdir);
    mkdir(sub, 0700);
    write_file(fetch_cache_path(p, sizeof(p), tmpdir, HEX, ""), "test", 0444);
    struct fetch_source src = { .name = "t", .url = "http://192.0.2.1:9/never", .sha256 = HEX };
    struct fetch_opts o = { .cache_dir = tmpdir };
    struct fetch_result r;
    assert_int_equal(fetch_image(&src, &o, &r, err, sizeof(err)), 0);
    assert_true(r.cached);
    assert_int_equal(r.size, 4);
    assert_int_equal(r.attempts, 0);
    assert_string_equal(r.path, p);

    src.sha256 = "abc";
    assert_int_equal(fetch_image(&src, &o, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "image t: 'abc' is not a SHA-256"));
    src.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    src.url = "ftp://example.org/x";
    assert_int_equal(fetch_image(&src, &o, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not an http://, https://, file:/// or s3:// URL"));
    src.url = "s3://bucket-only";
    assert_int_equal(fetch_image(&src, &o, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not an s3://BUCKET/KEY URL"));
    /* nothing was created for them */
    assert_null(fetch_cached(tmpdir, src.sha256, p, sizeof(p)));
    assert_int_equal(access(fetch_cache_path(p, sizeof(p), tmpdir, src.sha256, ".part"), F_OK),
                     -1);
}

static void test_fetch__credentials_parse(void **state)
{
    (void)state;
    struct fetch_credentials c;
    char err[512];
    assert_int_equal(fetch_credentials_parse(&c,
        "# a comment\n"
        "[other]\n"
        "aws_access_key_id = WRONG\n"
        "aws_secret_access_key = WRONG\n"
        "\n"
        "[ default ]\r\n"
        "  aws_access_key_id=AKIDEXAMPLE  \r\n"
        "; another comment\n"
        "region = eu-west-1\n"
        "aws_secret_access_key = wJalr/XUtnFEMI+K7MDENG=\n"
        "[later]\n"
        "aws_access_key_id = LATER\n", "/f", err, sizeof(err)), 0);
    assert_string_equal(c.key_id, "AKIDEXAMPLE");
    assert_string_equal(c.secret, "wJalr/XUtnFEMI+K7MDENG=");    /* '=' inside the value */
    assert_string_equal(c.token, "");

    assert_int_equal(fetch_credentials_parse(&c, "[default]\naws_access_key_id=A\n"
        "aws_secret_access_key=B\naws_session_token=T0K\n", "/f", err, sizeof(err)), 0);
    assert_string_equal(c.token, "T0K");
    /* no trailing newline */
    assert_int_equal(fetch_credentials_parse(&c, "[default]\naws_access_key_id=A\n"
        "aws_secret_access_key=B", "/f", err, sizeof(err)), 0);
    assert_string_equal(c.secret, "B");

    assert_int_equal(fetch_credentials_parse(&c, "", "/etc/c", err, sizeof(err)), -1);
    assert_string_equal(err, "the credentials file '/etc/c' has no [default] section");
    assert_int_equal(fetch_credentials_parse(&c, "[prod]\naws_access_key_id=A\n"
        "aws_secret_access_key=B\n", "/etc/c", err, sizeof(err)), -1);
    assert_string_equal(err, "the credentials file '/etc/c' has no [default] section");
    assert_int_equal(fetch_credentials_parse(&c, "[default]\naws_secret_access_key=B\n",
                                             "/etc/c", err, sizeof(err)), -1);
    assert_string_equal(err, "the credentials file '/etc/c' has no aws_access_key_id under "
                             "[default]");
    assert_int_equal(fetch_credentials_parse(&c, "[default]\naws_access_key_id=A\n"
        "[x]\naws_secret_access_key=B\n", "/etc/c", err, sizeof(err)), -1);
    assert_string_equal(err, "the credentials file '/etc/c' has no aws_secret_access_key under "
                             "[default]");
    /* a failure leaves nothing of the secret behind */
    assert_string_equal(c.key_id, "");
    assert_int_equal(fetch_credentials_parse(&c, "[default\n", "/etc/c", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "malformed section header at line 1"));
    /* the secret is never in a message */
    assert_int_equal(fetch_credentials_parse(&c, "[default]\naws_secret_access_key=S3CR3T\n",
                                             "/etc/c", err, sizeof(err)), -1);
    assert_null(strstr(err, "S3CR3T"));
}

static void test_fetch__credentials_read(void **state)
{
    (void)state;
    struct fetch_credentials c;
    char err[512], path[300];
    bool exposed = true;
    snprintf(path, sizeof(path), "%s/creds", tmpdir);
    write_file(path, "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n",
               0600);
    assert_int_equal(fetch_credentials_read(&c, &exposed, path, err, sizeof(err)), 0);
    assert_false(exposed);
    assert_string_equal(c.key_id, "S3RVER");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(fetch_credentials_read(&c, &exposed, path, err, sizeof(err)), 0);
    assert_true(exposed);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(fetch_credentials_read(&c, &exposed, path, err, sizeof(err)), 0);
    assert_true(exposed);

    char missing[320];
    snprintf(missing, sizeof(missing), "%s/nope", tmpdir);
    assert_int_equal(fetch_credentials_read(&c, &exposed, missing, err, sizeof(err)), -1);
    char want[600];
    snprintf(want, sizeof(want), "cannot read the credentials file '%s': No such file or "
             "directory", missing);
    assert_string_equal(err, want);
    assert_int_equal(fetch_credentials_read(&c, &exposed, tmpdir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not a regular file"));
}

static void test_fetch__s3_url(void **state)
{
    (void)state;
    char b[512];
    assert_string_equal(fetch_s3_url(b, sizeof(b), "s3://images/debian/12.qcow2", NULL, NULL),
                        "https://s3.us-east-1.amazonaws.com/images/debian/12.qcow2");
    assert_string_equal(fetch_s3_url(b, sizeof(b), "s3://images/k", NULL, "eu-west-3"),
                        "https://s3.eu-west-3.amazonaws.com/images/k");
    assert_string_equal(fetch_s3_url(b, sizeof(b), "s3://b/a b+c%.img", "http://127.0.0.1:9000/",
                                     "us-east-1"),
                        "http://127.0.0.1:9000/b/a%20b%2Bc%25.img");
    assert_null(fetch_s3_url(b, sizeof(b), "s3://bucket", NULL, NULL));
    assert_null(fetch_s3_url(b, sizeof(b), "s3://bucket/", NULL, NULL));
    assert_null(fetch_s3_url(b, sizeof(b), "s3:///key", NULL, NULL));
    assert_null(fetch_s3_url(b, sizeof(b), "https://x/y", NULL, NULL));
    assert_null(fetch_s3_url(b, 30, "s3://images/debian/12.qcow2", NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch__default_cache_dir),
        cmocka_unit_test(test_fetch__cache_paths),
        cmocka_unit_test_setup_teardown(test_fetch__cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch__image_cached_and_refusals, setup, teardown),
        cmocka_unit_test(test_fetch__credentials_parse),
        cmocka_unit_test_setup_teardown(test_fetch__credentials_read, setup, teardown),
        cmocka_unit_test(test_fetch__s3_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
