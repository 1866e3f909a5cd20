/* test_check.c — the scalar validators of schema/check.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "check.h"

#include <stdio.h>
#include <string.h>

static void test_check__names(void **state)
{
    (void)state;
    assert_null(check_name("web-1"));
    assert_null(check_name("a"));
    assert_null(check_name("0"));
    char max[64];
    memset(max, 'a', 63);
    max[63] = '\0';
    assert_null(check_name(max));
    char over[65];
    memset(over, 'a', 64);
    over[64] = '\0';
    assert_non_null(check_name(over));
    assert_non_null(check_name(""));
    assert_non_null(check_name("Web"));
    assert_non_null(check_name("web_1"));
    assert_non_null(check_name("-web"));
    assert_non_null(check_name("web-"));
    assert_non_null(check_name("web.1"));
}

static uint64_t q(const char *s)
{
    uint64_t v = 0;
    const char *why = check_quantity(s, &v);
    if (why)
        fail_msg("quantity '%s' refused: %s", s, why);
    return v;
}

static void test_check__quantities(void **state)
{
    (void)state;
    assert_int_equal(q("2GiB"), 2ULL << 30);
    assert_int_equal(q("512MiB"), 512ULL << 20);
    assert_int_equal(q("10G"), 10000000000ULL);
    assert_int_equal(q("1 TiB"), 1ULL << 40);
    assert_int_equal(q("4Ki"), 4096);
    assert_int_equal(q("1500MB"), 1500000000ULL);
    assert_int_equal(q("1024"), 1024);
    assert_int_equal(q("1024B"), 1024);
    assert_int_equal(q("+1K"), 1000);
    uint64_t v = 77;
    assert_non_null(check_quantity("0", &v));
    assert_non_null(check_quantity("0GiB", &v));
    assert_non_null(check_quantity("-1GiB", &v));
    assert_non_null(check_quantity("1.5GiB", &v));
    assert_non_null(check_quantity("2 gigs", &v));
    assert_non_null(check_quantity("GiB", &v));
    assert_non_null(check_quantity("", &v));
    assert_non_null(check_quantity("2gib", &v));
    assert_non_null(check_quantity("18446744073709551616", &v));
    assert_non_null(check_quantity("20000000TiB", &v));
    assert_int_equal(v, 77);   /* untouched on failure */

    char buf[32];
    check_quantity_format(2ULL << 30, buf, sizeof(buf));
    assert_string_equal(buf, "2GiB");
    check_quantity_format(1536ULL << 20, buf, sizeof(buf));
    assert_string_equal(buf, "1536MiB");
    check_quantity_format(10000000000ULL, buf, sizeof(buf));
    assert_string_equal(buf, "10G");
    check_quantity_format(1001, buf, sizeof(buf));
    assert_string_equal(buf, "1001");
    /* formatting round-trips */
    const uint64_t vals[] = { 1, 1000, 1024, 3ULL << 40, 123456789, 5000000 };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        check_quantity_format(vals[i], buf, sizeof(buf));
        assert_int_equal(q(buf), vals[i]);
    }
}

static void test_check__macs(void **state)
{
    (void)state;
    char out[18];
    assert_null(check_mac("52:54:00:AB:cd:EF", out));
    assert_string_equal(out, "52:54:00:ab:cd:ef");
    assert_null(check_mac("52-54-00-00-00-01", out));
    assert_string_equal(out, "52:54:00:00:00:01");
    assert_non_null(check_mac("52:54:00:00:00", out));
    assert_non_null(check_mac("52:54:00:00:00:0g", out));
    assert_non_null(check_mac("52:54:00:00:00:001", out));
    assert_non_null(check_mac("01:00:5e:00:00:01", out));   /* multicast */
    assert_non_null(check_mac("00:00:00:00:00:00", out));
    assert_non_null(check_mac("525400000001", out));
}

static void test_check__ips_and_cidrs(void **state)
{
    (void)state;
    struct check_ip ip, net, gw;
    unsigned prefix;
    char buf[64];
    assert_null(check_ip("10.20.0.5", &ip));
    assert_int_equal(ip.family, 4);
    assert_null(check_ip("FD00::0:1", &ip));
    check_ip_format(&ip, buf, sizeof(buf));
    assert_string_equal(buf, "fd00::1");
    assert_non_null(check_ip("10.20.0.256", &ip));
    assert_non_null(check_ip("10.20.0", &ip));
    assert_non_null(check_ip("fd00:::1", &ip));
    assert_non_null(check_ip("", &ip));

    assert_null(check_cidr("10.20.0.0/24", &net, &prefix));
    assert_int_equal(prefix, 24);
    assert_non_null(check_cidr("10.20.0.1/24", &net, &prefix));
    assert_non_null(check_cidr("10.20.0.0/33", &net, &prefix));
    assert_non_null(check_cidr("10.20.0.0/", &net, &prefix));
    assert_non_null(check_cidr("10.20.0.0", &net, &prefix));
    assert_non_null(check_cidr("10.20.0.0/2x", &net, &prefix));
    assert_null(check_cidr("0.0.0.0/0", &net, &prefix));
    assert_null(check_cidr("fd00:1::/64", &net, &prefix));
    assert_non_null(check_cidr("fd00:1::/129", &net, &prefix));

    check_cidr("10.20.0.0/24", &net, &prefix);
    check_ip("10.20.0.77", &ip);
    assert_true(check_ip_in_cidr(&ip, &net, prefix));
    check_ip("10.20.1.77", &ip);
    assert_false(check_ip_in_cidr(&ip, &net, prefix));
    check_ip("fd00::1", &ip);
    assert_false(check_ip_in_cidr(&ip, &net, prefix));   /* other family */
    check_ip("10.20.0.0", &ip);
    assert_true(check_ip_is_edge(&ip, &net, prefix));
    check_ip("10.20.0.255", &ip);
    assert_true(check_ip_is_edge(&ip, &net, prefix));
    check_ip("10.20.0.254", &ip);
    assert_false(check_ip_is_edge(&ip, &net, prefix));

    assert_true(check_ip_add(&net, prefix, 1, &gw));
    check_ip_format(&gw, buf, sizeof(buf));
    assert_string_equal(buf, "10.20.0.1");
    assert_false(check_ip_add(&net, prefix, 256, &gw));
    check_cidr("10.20.0.0/23", &net, &prefix);
    assert_true(check_ip_add(&net, prefix, 300, &gw));
    check_ip_format(&gw, buf, sizeof(buf));
    assert_string_equal(buf, "10.20.1.44");

    struct check_ip a, b;
    check_ip("10.0.0.9", &a);
    check_ip("10.0.0.10", &b);
    assert_true(check_ip_cmp(&a, &b) < 0);   /* numeric, not textual */
}

/* A network's block: usable as a network, and overlapping another. */
static bool usable(const char *cidr)
{
    struct check_ip net;
    unsigned prefix;
    char buf[80];
    assert_null(check_cidr(cidr, &net, &prefix));
    return check_cidr_network(&net, prefix, buf, sizeof(buf)) == NULL;
}

static bool overlap(const char *x, const char *y)
{
    struct check_ip a, b;
    unsigned pa, pb;
    assert_null(check_cidr(x, &a, &pa));
    assert_null(check_cidr(y, &b, &pb));
    assert_true(check_cidr_overlap(&a, pa, &b, pb) == check_cidr_overlap(&b, pb, &a, pa));
    return check_cidr_overlap(&a, pa, &b, pb);
}

static void test_check__network_cidrs(void **state)
{
    (void)state;
    assert_true(usable("10.0.0.0/8"));
    assert_true(usable("192.168.122.0/24"));
    assert_true(usable("100.64.0.0/10"));
    assert_true(usable("fd00:10::/64"));
    assert_false(usable("0.0.0.0/0"));
    assert_false(usable("::/0"));
    assert_false(usable("8.0.0.0/7"));
    assert_false(usable("0.0.0.0/8"));
    assert_false(usable("127.0.0.0/8"));
    assert_false(usable("127.255.255.0/24"));
    assert_false(usable("169.254.0.0/24"));
    assert_false(usable("224.0.0.0/8"));
    assert_false(usable("239.255.0.0/16"));
    assert_false(usable("255.255.255.252/30"));
    assert_false(usable("::1/128"));
    assert_false(usable("fe80::/64"));
    assert_false(usable("ff02::/16"));
    assert_true(usable("fec0::/10"));        /* next to link-local */
    assert_true(usable("223.255.255.0/24")); /* next to multicast */

    assert_true(overlap("10.0.0.0/24", "10.0.0.0/24"));
    assert_true(overlap("10.0.0.0/16", "10.0.5.0/24"));
    assert_true(overlap("10.0.5.0/24", "10.0.0.0/16"));
    assert_false(overlap("10.0.0.0/24", "10.0.1.0/24"));
    assert_false(overlap("10.0.0.0/24", "fd00::/64"));
    assert_true(overlap("fd00::/48", "fd00:0:0:1::/64"));
}

static const char *clean(char *buf, size_t size, const char *path)
{
    snprintf(buf, size, "%s", path);
    check_path_clean(buf);
    return buf;
}

static void test_check__paths(void **state)
{
    (void)state;
    char b[96];
    assert_string_equal(clean(b, sizeof(b), "/srv/vm"), "/srv/vm");
    assert_string_equal(clean(b, sizeof(b), "/srv//vm/"), "/srv/vm");
    assert_string_equal(clean(b, sizeof(b), "//srv///vm//"), "/srv/vm");
    assert_string_equal(clean(b, sizeof(b), "/"), "/");
    assert_string_equal(clean(b, sizeof(b), "///"), "/");

    assert_string_equal(check_pool_path("/", b, sizeof(b)), "the root directory");
    assert_string_equal(check_pool_path("/var/lib", b, sizeof(b)), "the system directory /var/lib");
    assert_string_equal(check_pool_path("/proc/1", b, sizeof(b)), "inside /proc (a kernel file system)");
    assert_string_equal(check_pool_path("/usr/lib/vm", b, sizeof(b)), "inside /usr (installed software)");
    assert_non_null(check_pool_path("/etc", b, sizeof(b)));
    assert_non_null(check_pool_path("/usr/local", b, sizeof(b)));
    assert_non_null(check_pool_path("/run/vm", b, sizeof(b)));
    assert_non_null(check_pool_path("/sys/x/y", b, sizeof(b)));
    assert_null(check_pool_path("/var/lib/libvirt/images", b, sizeof(b)));
    assert_null(check_pool_path("/var/lib/qkvm/pools/local", b, sizeof(b)));
    assert_null(check_pool_path("/usr/local/vm", b, sizeof(b)));   /* the admin's */
    assert_null(check_pool_path("/home/alice/vms", b, sizeof(b)));
    assert_null(check_pool_path("/tmp/t/pool", b, sizeof(b)));
    assert_non_null(check_pool_path("/srv", b, sizeof(b)));           /* itself only */
    assert_null(check_pool_path("/srv/vm", b, sizeof(b)));
    assert_null(check_pool_path("/etcetera", b, sizeof(b)));       /* not /etc */
    assert_null(check_pool_path("/data", b, sizeof(b)));
}

static void test_check__urls_and_more(void **state)
{
    (void)state;
    char hex[65];
    assert_null(check_url("https://cloud.example/img.qcow2"));
    assert_null(check_url("http://10.0.0.1:8080/x"));
    assert_null(check_url("file:///srv/images/x.qcow2"));
    assert_non_null(check_url("ftp://x/y"));
    assert_non_null(check_url("https://"));
    assert_non_null(check_url("https:///x"));
    assert_non_null(check_url("file://relative/x"));
    assert_non_null(check_url("https://a b/"));
    assert_non_null(check_url("/srv/x.qcow2"));

    assert_null(check_sha256("ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789", hex));
    assert_string_equal(hex, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    assert_non_null(check_sha256("abc", hex));
    assert_non_null(check_sha256("zbcdef0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789", hex));

    assert_null(check_uri("qemu:///system"));
    assert_null(check_uri("qemu+ssh://root@hv1/system?keyfile=/k"));
    assert_null(check_uri("test:///default"));
    assert_non_null(check_uri("hv1"));
    assert_non_null(check_uri("qemu:/system"));
    assert_non_null(check_uri("1qemu:///system"));

    assert_null(check_path("/var/lib/qkvm"));
    assert_null(check_path("/a..b/.c"));
    assert_non_null(check_path("var/lib"));
    assert_non_null(check_path("/var/../etc"));
    assert_non_null(check_path("/var/./lib"));
    assert_non_null(check_path("/var/.."));

    assert_null(check_ifname("br0"));
    assert_non_null(check_ifname("a-name-longer-than-15"));
    assert_non_null(check_ifname("br/0"));
    assert_non_null(check_ifname(""));
    assert_null(check_ifname("virbr-lan_1.20"));
    assert_null(check_ifname("a23456789012345"));       /* 15: the most */
    assert_non_null(check_ifname("a234567890123456"));
    assert_non_null(check_ifname("br\"0"));
    assert_non_null(check_ifname("br 0"));
    assert_non_null(check_ifname("br:0"));
    assert_non_null(check_ifname("virbr%d"));
    assert_non_null(check_ifname("br\xc3\xa9"));
    assert_non_null(check_ifname("."));
    assert_non_null(check_ifname(".."));
    assert_null(check_ifname("..."));

    assert_null(check_label_key("app"));
    assert_null(check_label_key("example.com/rack"));
    assert_null(check_label_key("A_b.c-d"));
    assert_non_null(check_label_key("app web"));
    assert_non_null(check_label_key("/app"));
    assert_non_null(check_label_key("Example.com/app"));
    assert_non_null(check_label_key("-app"));
    assert_null(check_label_value(""));
    assert_null(check_label_value("v1.2"));
    assert_non_null(check_label_value("J\xc3\xb6rg"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check__names),
        cmocka_unit_test(test_check__quantities),
        cmocka_unit_test(test_check__macs),
        cmocka_unit_test(test_check__ips_and_cidrs),
        cmocka_unit_test(test_check__network_cidrs),
        cmocka_unit_test(test_check__paths),
        cmocka_unit_test(test_check__urls_and_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
