/* test_virtxml.c — libvirt XML and the model both ways, and the field diff:
 * what qkvm writes decodes back to what was declared (so a fresh apply is
 * followed by "no changes"), and diffs name what differs and how. */
#include "helpers.h"

#include "arena.h"
#include "diff.h"
#include "virtxml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

static const char manifests[] =
    HDR "kind: Network\nmetadata: {name: lab}\n"
    "spec: {mode: isolated, cidr: 10.10.0.0/24, dhcp: {start: 10.10.0.100, end: 10.10.0.199}}\n"
    "---\n" HDR "kind: Pool\nmetadata: {name: local}\nspec: {path: /srv/local}\n"
    "---\n" HDR "kind: Disk\nmetadata: {name: r}\nspec: {pool: local, size: 1GiB}\n"
    "---\n" HDR "kind: Disk\nmetadata: {name: d}\nspec: {pool: local, size: 2GiB, format: raw}\n"
    "---\n" HDR "kind: VM\nmetadata: {name: web-1}\n"
    "spec:\n  cpus: 2\n  maxCpus: 4\n  memory: 512MiB\n  maxMemory: 1GiB\n  graphics: vnc\n"
    "  machine: q35\n  accel: tcg\n"
    "  disks: [{disk: r, boot: 1}, {disk: d, bus: sata}]\n"
    "  nics: [{network: lab, ip: 10.10.0.5}, {network: lab, model: e1000}]\n";

/* Kernel boot, the console log and the cloud-init seed: written, read
 * back, no change; the seed is a read-only cdrom on the machine's own bus,
 * known by the digest in the mark. */
static void boot_and_seed_round_trip(void **state)
{
    (void)state;
    static const char m[] =
        HDR "kind: Pool\nmetadata: {name: local}\nspec: {path: /srv/local}\n"
        "---\n" HDR "kind: Disk\nmetadata: {name: r}\nspec: {pool: local, size: 1GiB}\n"
        "---\n" HDR "kind: Disk\nmetadata: {name: i}\nspec: {pool: local, size: 1GiB}\n"
        "---\n" HDR "kind: VM\nmetadata: {name: g}\n"
        "spec:\n  memory: 256MiB\n  disks: [{disk: r}, {disk: i, bus: ide}]\n"
        "  boot: {kernel: /srv/k, initrd: /srv/i, cmdline: console=ttyS0 quiet}\n"
        "  consoleLog: /var/log/g.log\n"
        "  cloudInit:\n    userData: |\n      #!/bin/sh\n      echo hi\n"
        "    metaData: {instance-id: x-1}\n";
    struct loaded l;
    load_str(&l, m);
    assert_int_equal(l.d.errors, 0);
    const struct model_vm *vm = (const struct model_vm *)model_find(l.m, MODEL_VM, "g");
    const struct vm_cloud_init *ci = &vm->spec.cloud_init;
    assert_non_null(ci->digest);
    assert_int_equal(strlen(ci->digest), 64);
    assert_non_null(strstr(ci->meta_text, "instance-id: x-1"));
    assert_non_null(strstr(ci->meta_text, "local-hostname: g"));
    struct virtxml_mark mark = { "VM", "g", "0", "", "", "default", NULL, { NULL, 0 },
                                 ci->digest, NULL };
    char *xml = virtxml_domain_encode(l.m, vm, NULL, &mark);
    assert_non_null(strstr(xml, "<kernel>/srv/k</kernel>"));
    assert_non_null(strstr(xml, "<log file=\"/var/log/g.log\""));
    assert_non_null(strstr(xml, "<source pool=\"local\" volume=\"g.cidata.iso\"/>"));
    /* after the declared IDE disk (hda): hdb */
    assert_non_null(strstr(xml, "<target dev=\"hdb\" bus=\"ide\"/>"));
    assert_non_null(strstr(xml, "<readonly/>"));
    struct arena *a = arena_new();
    struct virtxml_domain dx;
    char err[256];
    assert_int_equal(virtxml_domain_decode(a, xml, &dx, err, sizeof(err)), 0);
    assert_int_equal(dx.vm->spec.disks.n, 2);          /* the seed is no Disk */
    assert_string_equal(dx.seed_volume, "g.cidata.iso");
    assert_int_equal(dx.un.nextra, 0);                 /* nor anything unmodeled */
    struct diff d;
    diff_init(&d, a);
    diff_vm(&d, vm, dx.vm, true);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "unexpected change %s: %s -> %s\n", d.v[i].field,
                d.v[i].from ? d.v[i].from : "-", d.v[i].to ? d.v[i].to : "-");
    assert_int_equal(d.n, 0);
    /* another seed is a restart-required change */
    dx.vm->spec.cloud_init.digest = "00";
    dx.vm->spec.boot.cmdline = "console=ttyS0";
    diff_vm(&d, vm, dx.vm, true);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].field, "spec.boot.cmdline");
    assert_int_equal(d.v[0].how, DIFF_RESTART);
    assert_string_equal(d.v[1].field, "spec.cloudInit");
    assert_int_equal(d.v[1].how, DIFF_RESTART);
    diff_dispose(&d);
    arena_free(a);
    free(xml);
    load_free(&l);
}

static void domain_round_trip(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, manifests);
    assert_int_equal(l.d.errors, 0);
    const struct model_vm *vm = (const struct model_vm *)model_find(l.m, MODEL_VM, "web-1");
    struct model_label lv[] = { { "app", "web" }, { "tier", "a&b\"<" } };
    struct virtxml_mark mark = { "VM", "web-1", "00ff", "vms.yaml", "", "alpha",
                                 "33333333-0000-0000-0000-000000000001", { lv, 2 }, NULL,
                                 "pack: the fullest node that fits" };
    char *xml = virtxml_domain_encode(l.m, vm, "33333333-0000-0000-0000-000000000001", &mark);
    assert_non_null(strstr(xml, "<source pool=\"local\" volume=\"d\"/>"));

    struct arena *a = arena_new();
    struct virtxml_domain dx;
    char err[256];
    assert_int_equal(virtxml_domain_decode(a, xml, &dx, err, sizeof(err)), 0);
    assert_string_equal(dx.mark.kind, "VM");
    assert_string_equal(dx.mark.hash, "00ff");
    assert_string_equal(dx.mark.project, "alpha");
    assert_string_equal(dx.mark.uuid, "33333333-0000-0000-0000-000000000001");
    assert_int_equal(dx.mark.labels.n, 2);
    assert_string_equal(dx.mark.labels.v[1].key, "tier");
    assert_string_equal(dx.mark.labels.v[1].value, "a&b\"<");
    assert_string_equal(dx.mark.placement, "pack: the fullest node that fits");
    assert_string_equal(dx.uuid, "33333333-0000-0000-0000-000000000001");
    assert_false(dx.active);
    assert_string_equal(dx.src[1].target, "sda");
    assert_string_equal(dx.src[0].target, "vda");

    /* libvirt expands q35; the diff must not call that a change */
    dx.vm->spec.machine = "pc-q35-7.2";
    struct diff d;
    diff_init(&d, a);
    diff_vm(&d, vm, dx.vm, false);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "unexpected change %s: %s -> %s\n", d.v[i].field,
                d.v[i].from ? d.v[i].from : "-", d.v[i].to ? d.v[i].to : "-");
    assert_int_equal(d.n, 0);

    /* a running domain: cpus within maxCpus is live, maxMemory is not */
    dx.vm->spec.cpus = 1;
    dx.vm->spec.max_memory = 2ull << 30;
    dx.vm->spec.disks.n = 1;
    diff_vm(&d, vm, dx.vm, true);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.v[0].field, "spec.cpus");
    assert_int_equal(d.v[0].how, DIFF_LIVE);
    assert_string_equal(d.v[1].field, "spec.maxMemory");
    assert_int_equal(d.v[1].how, DIFF_RESTART);
    assert_string_equal(d.v[1].from, "2GiB");
    assert_string_equal(d.v[1].to, "1GiB");
    assert_string_equal(d.v[2].field, "spec.disks[d]");
    /* a sata disk cannot be hot-plugged: it waits for a restart */
    assert_int_equal(d.v[2].how, DIFF_RESTART);
    assert_null(d.v[2].from);
    /* cpus going down is never live (the guest would have to release them) */
    diff_dispose(&d);
    diff_init(&d, a);
    dx.vm->spec.cpus = 3;
    dx.vm->spec.max_cpus = vm->spec.max_cpus;
    dx.vm->spec.max_memory = vm->spec.max_memory;
    dx.vm->spec.disks.n = 2;
    diff_vm(&d, vm, dx.vm, true);
    bool cpus_seen = false;
    for (size_t i = 0; i < d.n; i++)
        if (strcmp(d.v[i].field, "spec.cpus") == 0) {
            assert_int_equal(d.v[i].how, DIFF_RESTART);
            cpus_seen = true;
        }
    assert_true(cpus_seen);

    diff_dispose(&d);
    arena_free(a);
    free(xml);
    load_free(&l);
}

static void network_round_trip(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, manifests);
    const struct model_network *net =
        (const struct model_network *)model_find(l.m, MODEL_NETWORK, "lab");
    struct virtxml_dhcp_host hosts[] = { { "52:54:00:00:00:01", "10.10.0.5", "web-1" } };
    struct virtxml_mark mark = { "Network", "lab", "1", "", "", "alpha",
                                 "55555555-0000-4000-8000-000000000001", { NULL, 0 }, NULL, NULL };
    char *xml = virtxml_network_encode(net, hosts, 1, &mark);
    assert_null(strstr(xml, "<forward"));      /* isolated */
    struct arena *a = arena_new();
    struct virtxml_network nx;
    char err[256];
    assert_int_equal(virtxml_network_decode(a, xml, &nx, err, sizeof(err)), 0);
    assert_string_equal(nx.net->spec.cidr, "10.10.0.0/24");
    assert_string_equal(nx.net->spec.gateway, "10.10.0.1");
    assert_int_equal(nx.nhosts, 1);
    assert_string_equal(nx.hosts[0].ip, "10.10.0.5");
    /* the network's UUID is the one the mark names */
    assert_string_equal(nx.uuid, "55555555-0000-4000-8000-000000000001");
    assert_string_equal(nx.mark.uuid, nx.uuid);
    struct diff d;
    diff_init(&d, a);
    diff_network(&d, net, nx.net);
    assert_int_equal(d.n, 0);
    /* a netmask instead of a prefix, as older definitions have */
    const char *old = "<network><name>lab</name><ip address='10.10.0.1' netmask='255.255.0.0'/></network>";
    assert_int_equal(virtxml_network_decode(a, old, &nx, err, sizeof(err)), 0);
    assert_string_equal(nx.net->spec.cidr, "10.10.0.0/16");
    assert_null(nx.mark.kind);                  /* not qkvm's */
    diff_network(&d, net, nx.net);
    assert_true(d.n >= 1);
    assert_string_equal(d.v[0].field, "spec.cidr");
    assert_int_equal(d.v[0].how, DIFF_REPLACE);
    diff_dispose(&d);
    arena_free(a);
    free(xml);
    load_free(&l);
}

static void bad_xml(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct virtxml_domain dx;
    char err[256];
    assert_int_equal(virtxml_domain_decode(a, "<domain><name>x", &dx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot parse"));
    assert_int_equal(virtxml_domain_decode(a, "<network/>", &dx, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a <domain>"));
    arena_free(a);
}

static const char *target(enum vm_bus bus, size_t index)
{
    static char buf[16];
    virtxml_target_name(bus, index, buf, sizeof(buf));
    return buf;
}

/* libvirt's names: after vdz comes vdaa (not vdba), after vdzz vdaaa. */
static void target_names(void **state)
{
    (void)state;
    assert_string_equal(target(VM_BUS_VIRTIO, 0), "vda");
    assert_string_equal(target(VM_BUS_VIRTIO, 25), "vdz");
    assert_string_equal(target(VM_BUS_VIRTIO, 26), "vdaa");
    assert_string_equal(target(VM_BUS_VIRTIO, 27), "vdab");
    assert_string_equal(target(VM_BUS_VIRTIO, 51), "vdaz");
    assert_string_equal(target(VM_BUS_VIRTIO, 52), "vdba");
    assert_string_equal(target(VM_BUS_VIRTIO, 701), "vdzz");
    assert_string_equal(target(VM_BUS_VIRTIO, 702), "vdaaa");
    assert_string_equal(target(VM_BUS_VIRTIO, 18277), "vdzzz");
    assert_string_equal(target(VM_BUS_IDE, 3), "hdd");
    assert_string_equal(target(VM_BUS_SATA, 5), "sdf");
    assert_string_equal(target(VM_BUS_SCSI, 27), "sdab");
    char small[5];
    virtxml_target_name(VM_BUS_VIRTIO, 26, small, sizeof(small));
    assert_string_equal(small, "vdaa");                 /* fits exactly */
}

/* sata and scsi disks are both sdX: one count, sata first, so that no two
 * disks of a domain get one name (libvirt refuses such a definition). */
static void target_names_shared(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: /srv/p}\n"
                 "---\n" HDR "kind: Disk\nmetadata: {name: a}\nspec: {pool: p, size: 1GiB}\n"
                 "---\n" HDR "kind: Disk\nmetadata: {name: b}\nspec: {pool: p, size: 1GiB}\n"
                 "---\n" HDR "kind: Disk\nmetadata: {name: c}\nspec: {pool: p, size: 1GiB}\n"
                 "---\n" HDR "kind: Disk\nmetadata: {name: d}\nspec: {pool: p, size: 1GiB}\n"
                 "---\n" HDR "kind: VM\nmetadata: {name: v}\nspec:\n  memory: 1GiB\n"
                 "  disks: [{disk: a, bus: scsi}, {disk: b, bus: sata}, {disk: c}, {disk: d, bus: sata}]\n");
    assert_int_equal(l.d.errors, 0);
    const struct model_vm *vm = (const struct model_vm *)model_find(l.m, MODEL_VM, "v");
    char *xml = virtxml_domain_encode(l.m, vm, NULL, NULL);
    struct arena *a = arena_new();
    struct virtxml_domain dx;
    char err[256];
    assert_int_equal(virtxml_domain_decode(a, xml, &dx, err, sizeof(err)), 0);
    assert_int_equal(dx.vm->spec.disks.n, 4);
    assert_string_equal(dx.vm->spec.disks.v[0].disk, "a");   /* declared order */
    assert_string_equal(dx.src[0].target, "sdc");            /* scsi after sata */
    assert_string_equal(dx.src[1].target, "sda");
    assert_string_equal(dx.src[2].target, "vda");
    assert_string_equal(dx.src[3].target, "sdb");
    arena_free(a);
    free(xml);
    load_free(&l);
}

static void ignore_paths(void **state)
{
    (void)state;
    const char *paths[] = { "spec.nics", "spec.memory" };
    struct model_strings ig = { paths, 2 };
    assert_true(diff_ignored("spec.nics[52:54:00:00:00:01].model", &ig));
    assert_true(diff_ignored("spec.memory", &ig));
    assert_false(diff_ignored("spec.maxMemory", &ig));
    assert_false(diff_ignored("spec.cpus", &ig));
    const char *sub[] = { "spec.nics.model" };
    struct model_strings ig2 = { sub, 1 };
    assert_true(diff_ignored("spec.nics[52:54:00:00:00:01].model", &ig2));
    assert_false(diff_ignored("spec.nics[52:54:00:00:00:01].network", &ig2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(domain_round_trip),
        cmocka_unit_test(boot_and_seed_round_trip),
        cmocka_unit_test(network_round_trip),
        cmocka_unit_test(bad_xml),
        cmocka_unit_test(target_names),
        cmocka_unit_test(target_names_shared),
        cmocka_unit_test(ignore_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
