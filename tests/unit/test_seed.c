/* test_seed.c — the NoCloud seed: the image read back with libisofs's own
 * reader (volume id, Rock Ridge and Joliet names, the files' bytes, the
 * fixed times and owners), an absent network-config, the same bytes from
 * builds at another second, in another time zone, locale and user (a
 * child), different bytes and digest for different content, a digest that
 * a missing length prefix would let collide, and the refusals.
 *
 * The images are read from a file in a temporary directory (libisofs reads
 * images through an IsoDataSource, which it makes from a file). libisofs
 * is initialised by the first seed_build, which every test starts with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seed.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <libisofs.h>
#pragma GCC diagnostic pop

static char dir[256];

static const char user_data[] =
    "#cloud-config\n"
    "hostname: web-1\n"
    "users:\n"
    "  - name: ops\n"
    "    ssh_authorized_keys: [\"ssh-ed25519 AAAAC3Nza... ops@example\"]\n"
    "write_files:\n"
    "  - path: /etc/motd\n"
    "    content: \"caf\xc3\xa9 \xe2\x9c\x93\\n\"\n";
static const char meta_data[] = "instance-id: 7c9e6679-7425-40de-944b-e07fc1f90ae7\n"
                                "local-hostname: web-1\n";
static const char network_config[] =
    "version: 2\n"
    "ethernets:\n"
    "  eth0:\n"
    "    match: {macaddress: \"52:54:00:12:34:56\"}\n"
    "    addresses: [10.10.0.5/24]\n";

static const struct seed_content full = { user_data, meta_data, network_config };

static unsigned char *build(const struct seed_content *c, size_t *len)
{
    unsigned char *img = (unsigned char *)"x";
    char err[256] = "";
    int r = seed_build(c, &img, len, err, sizeof(err));
    if (r < 0)
        fprintf(stderr, "seed_build: %s\n", err);
    assert_int_equal(r, 0);
    assert_non_null(img);
    assert_true(*len > 0);
    assert_int_equal(*len % 2048, 0);
    return img;
}

/* An image read back: libisofs's tree of it and what it says it has. */
struct readback {
    IsoImage *img;
    IsoReadImageFeatures *features;
};

/* Write the image to a file and import it; joliet: read the Joliet tree
 * instead of Rock Ridge. */
static void readback(struct readback *rb, const unsigned char *bytes, size_t len, int joliet)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/seed.iso", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);

    IsoDataSource *src = NULL;
    IsoReadOpts *ro = NULL;
    assert_true(iso_data_source_new_from_file(path, &src) > 0);
    assert_true(iso_read_opts_new(&ro, 0) > 0);
    if (joliet)
        assert_true(iso_read_opts_set_no_rockridge(ro, 1) > 0);
    /* the files' streams read from the source: keep it open with the image */
    assert_true(iso_read_opts_keep_import_src(ro, 1) > 0);
    assert_true(iso_image_new("readback", &rb->img) > 0);
    int r = iso_image_import(rb->img, src, ro, &rb->features);
    assert_true(r > 0);
    iso_read_opts_free(ro);
    iso_data_source_unref(src);
}

static void readback_free(struct readback *rb)
{
    iso_read_image_features_destroy(rb->features);
    iso_image_unref(rb->img);
    char path[300];
    snprintf(path, sizeof(path), "%s/seed.iso", dir);
    assert_int_equal(unlink(path), 0);
}

/* The node `name` at the root, or NULL. */
static IsoNode *node(struct readback *rb, const char *name)
{
    IsoNode *n = NULL;
    int r = iso_dir_get_node(iso_image_get_root(rb->img), name, &n);
    assert_true(r >= 0);
    return r == 1 ? n : NULL;
}

/* The file `name` must hold exactly `want`, and have mode 0444, owner 0:0
 * and every time 0 (when read from Rock Ridge, which records them; libisofs's
 * reader takes a Rock Ridge time of 0 for none and gives the directory
 * record's instead, which must be the epoch too). */
static void expect_file(struct readback *rb, const char *name, const char *want, int rr)
{
    IsoNode *n = node(rb, name);
    assert_non_null(n);
    assert_true(ISO_NODE_IS_FILE(n));
    IsoStream *s = iso_file_get_stream((IsoFile *)n);
    size_t wlen = strlen(want);
    assert_int_equal(iso_stream_get_size(s), wlen);
    char *got = malloc(wlen + 2);
    assert_non_null(got);
    int o = iso_stream_open(s);
    if (o != 1)
        fprintf(stderr, "iso_stream_open: %d: %s\n", o, iso_error_to_msg(o));
    assert_int_equal(o, 1);
    size_t have = 0;
    int r;
    while ((r = iso_stream_read(s, got + have, wlen + 1 - have)) > 0)
        have += (size_t)r;
    assert_true(r == 0);
    iso_stream_close(s);
    assert_int_equal(have, wlen);
    assert_memory_equal(got, want, wlen);
    free(got);
    if (rr) {
        assert_int_equal(iso_node_get_permissions(n), 0444);
        assert_int_equal(iso_node_get_uid(n), 0);
        assert_int_equal(iso_node_get_gid(n), 0);
        assert_int_equal(iso_node_get_mtime(n), 0);
        assert_int_equal(iso_node_get_atime(n), 0);
        assert_int_equal(iso_node_get_ctime(n), 0);
    }
}

static void test_seed__readback(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = build(&full, &len);

    /* Rock Ridge */
    struct readback rb;
    readback(&rb, img, len, 0);
    assert_string_equal(iso_image_get_volume_id(rb.img), "cidata");
    assert_int_equal(iso_read_image_features_has_rockridge(rb.features), 1);
    assert_int_equal(iso_read_image_features_has_joliet(rb.features), 1);
    assert_int_equal(iso_read_image_features_rr_loaded(rb.features), 1);
    assert_int_equal(iso_read_image_features_get_size(rb.features) * 2048ull, len);
    assert_int_equal(iso_dir_get_children_count(iso_image_get_root(rb.img)), 3);
    expect_file(&rb, "user-data", user_data, 1);
    expect_file(&rb, "meta-data", meta_data, 1);
    expect_file(&rb, "network-config", network_config, 1);
    IsoNode *root = (IsoNode *)iso_image_get_root(rb.img);
    assert_int_equal(iso_node_get_mtime(root), 0);
    assert_int_equal(iso_node_get_uid(root), 0);
    assert_int_equal(iso_node_get_permissions(root), 0555);
    /* the volume descriptor's times: the epoch in GMT, or not specified */
    char *ctime_s, *mtime_s, *etime_s, *ftime_s;
    assert_true(iso_image_get_pvd_times(rb.img, &ctime_s, &mtime_s, &etime_s, &ftime_s) > 0);
    assert_memory_equal(ctime_s, "1970010100000000\0", 17);
    assert_memory_equal(mtime_s, "1970010100000000\0", 17);
    assert_memory_equal(etime_s, "0000000000000000\0", 17);
    assert_memory_equal(ftime_s, "0000000000000000\0", 17);
    readback_free(&rb);

    /* Joliet: the same names and bytes */
    readback(&rb, img, len, 1);
    assert_int_equal(iso_read_image_features_tree_loaded(rb.features), 1);
    assert_int_equal(iso_read_image_features_rr_loaded(rb.features), 0);
    assert_string_equal(iso_image_get_volume_id(rb.img), "cidata");
    expect_file(&rb, "user-data", user_data, 0);
    expect_file(&rb, "meta-data", meta_data, 0);
    expect_file(&rb, "network-config", network_config, 0);
    readback_free(&rb);
    free(img);
}

static void test_seed__no_network_config(void **state)
{
    (void)state;
    struct seed_content c = { user_data, "", NULL };
    size_t len;
    unsigned char *img = build(&c, &len);
    struct readback rb;
    readback(&rb, img, len, 0);
    assert_int_equal(iso_dir_get_children_count(iso_image_get_root(rb.img)), 2);
    expect_file(&rb, "user-data", user_data, 1);
    expect_file(&rb, "meta-data", "", 1);          /* empty, but there */
    assert_null(node(&rb, "network-config"));
    readback_free(&rb);

    /* an empty network-config is a file, and another image and digest */
    struct seed_content e = { user_data, "", "" };
    size_t elen;
    unsigned char *eimg = build(&e, &elen);
    assert_false(elen == len && memcmp(img, eimg, len) == 0);
    readback(&rb, eimg, elen, 0);
    expect_file(&rb, "network-config", "", 1);
    readback_free(&rb);
    char d1[65], d2[65];
    seed_digest(&c, d1);
    seed_digest(&e, d2);
    assert_string_not_equal(d1, d2);
    free(eimg);
    free(img);
}

/* Today's date as an ISO 9660 volume time would write it ("YYYYMMDD"), in
 * GMT and in local time, must not be in the image. */
static void expect_no_today(const unsigned char *img, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    char day[2][16];
    strftime(day[0], sizeof(day[0]), "%Y%m%d", gmtime_r(&now, &tm));
    strftime(day[1], sizeof(day[1]), "%Y%m%d", localtime_r(&now, &tm));
    for (int i = 0; i < 2; i++)
        assert_null(memmem(img, len, day[i], strlen(day[i])));
}

/* Build `full` in a child with another uid (when root), locale and time
 * zone; its image comes back through a pipe, and must be `len` bytes long
 * (one more is room to notice a longer one). */
static unsigned char *build_elsewhere(size_t len)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        setenv("TZ", "XST-05:45", 1);                /* +05:45, not GMT */
        tzset();
        setlocale(LC_ALL, "C.UTF-8");
        unsigned char *img = NULL;
        size_t n = 0;
        char err[256];
        int bad = seed_build(&full, &img, &n, err, sizeof(err)) < 0 ||
                  write(fd[1], img, n) != (ssize_t)n;
        free(img);
        close(fd[1]);
        _exit(bad);
    }
    close(fd[1]);
    unsigned char *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t have = 0;
    ssize_t r;
    while (have < len + 1 && (r = read(fd[0], buf + have, len + 1 - have)) > 0)
        have += (size_t)r;
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(have, len);
    return buf;
}

static unsigned char *volatile inherited[2];

static void test_seed__deterministic(void **state)
{
    (void)state;
    size_t a_len, b_len;
    unsigned char *a = build(&full, &a_len);
    expect_no_today(a, a_len);

    /* a second later by the clock (libisofs's times have whole seconds) */
    time_t t0 = time(NULL);
    while (time(NULL) == t0) {
        struct timespec ms = { 0, 50 * 1000 * 1000 };
        nanosleep(&ms, NULL);
    }
    unsigned char *b = build(&full, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);

    /* another process, user, locale and time zone; the child inherits a
     * and b, which a global keeps reachable there (under valgrind the child's
     * own leak check would otherwise count them lost) */
    inherited[0] = a;
    inherited[1] = b;
    unsigned char *c = build_elsewhere(a_len);
    inherited[0] = inherited[1] = NULL;
    assert_memory_equal(a, c, a_len);

    /* the same digest; another user-data: other bytes, other digest */
    char da[65], db[65];
    seed_digest(&full, da);
    seed_digest(&full, db);
    assert_string_equal(da, db);
    assert_int_equal(strlen(da), 64);
    assert_int_equal(strspn(da, "0123456789abcdef"), 64);
    struct seed_content other = full;
    other.user_data = "#cloud-config\nhostname: web-2\n";
    size_t o_len;
    unsigned char *o = build(&other, &o_len);
    assert_false(o_len == a_len && memcmp(a, o, a_len) == 0);
    seed_digest(&other, db);
    assert_string_not_equal(da, db);
    free(o);
    free(c);
    free(b);
    free(a);
}

static void test_seed__digest(void **state)
{
    (void)state;
    char d1[65], d2[65];
    /* the same bytes in a row, split differently between the parts */
    struct seed_content x = { "a", "bc", NULL }, y = { "ab", "c", NULL };
    seed_digest(&x, d1);
    seed_digest(&y, d2);
    assert_string_not_equal(d1, d2);
    struct seed_content p = { "", "", "abc" }, q = { "abc", "", "" };
    seed_digest(&p, d1);
    seed_digest(&q, d2);
    assert_string_not_equal(d1, d2);
    /* a known value: SHA-256 of the serialisation seed.h describes */
    struct seed_content k = { "u", "m", NULL };
    seed_digest(&k, d1);
    /* printf 'qkvm-seed-v1\000\001\000\000\000\000\000\000\000\001u'\
     *        '\001\000\000\000\000\000\000\000\001m\000' | sha256sum */
    assert_string_equal(d1, "726b89b40307af53c651b7f08b3fff065e15998404f0a117e5be9415e89cad49");
}

static void test_seed__refused(void **state)
{
    (void)state;
    unsigned char *img = (unsigned char *)"x";
    size_t len = 7;
    char err[256] = "";
    struct seed_content c = { NULL, "", NULL };
    assert_int_equal(seed_build(&c, &img, &len, err, sizeof(err)), -1);
    assert_null(img);
    assert_int_equal(len, 0);
    assert_string_equal(err, "seed has no user-data");
    c = (struct seed_content){ "", NULL, "" };
    assert_int_equal(seed_build(&c, &img, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "seed has no meta-data");
    assert_int_equal(seed_build(NULL, &img, &len, err, sizeof(err)), -1);
    assert_string_equal(err, "seed has no user-data");
    /* one byte past the limit, over the three parts */
    size_t n = SEED_MAX_CONTENT - 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    c = (struct seed_content){ big, "b", "c" };
    assert_int_equal(seed_build(&c, &img, &len, err, sizeof(err)), -1);
    assert_null(img);
    assert_string_equal(err, "seed content too large: 67108865 bytes, at most 64 MiB");
    free(big);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char made[200];
    snprintf(made, sizeof(made), "%s/qkvm-seed.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(made))
        return -1;
    /* absolute, as libisofs's file data source wants it */
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
    char path[300];
    snprintf(path, sizeof(path), "%s/seed.iso", dir);
    (void)unlink(path);                  /* left by a failed check */
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed__readback),
        cmocka_unit_test(test_seed__no_network_config),
        cmocka_unit_test(test_seed__deterministic),
        cmocka_unit_test(test_seed__digest),
        cmocka_unit_test(test_seed__refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
