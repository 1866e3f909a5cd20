/* test_import.c — import_build on a host of libvirt's test driver (a node
 * file, in process): what a VM pulls in, what a manifest cannot express,
 * another project's objects, the manifests given with -f, --all. */
#include "arena.h"
#include "encode.h"
#include "import.h"
#include "observe.h"
#include "owned.h"
#include "virt.h"

#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define RUNNING "<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>1" \
                "</test:runstate>"
#define STOPPED "<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5" \
                "</test:runstate>"
#define VOLUME(pool, name, fmt)                                                          \
    "<volume type='file'><name>" name "</name><capacity unit='MiB'>16</capacity>"       \
    "<target><path>/srv/" pool "/" name "</path><format type='" fmt "'/></target></volume>"

/* web uses p/root (virtio) and p/data (sata) and network n, whose host
 * entry gives its NIC an ip; loose has a plain file for a disk; theirs is
 * project beta's; bridged sits on a host bridge; odd uses a network whose
 * forward mode the schema lacks and has a volume whose name it refuses;
 * lvm is a pool of a type the schema lacks. */
static const char HOST[] =
    "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
    "<active>2</active><mhz>2000</mhz><model>x86_64</model></cpu><memory>8388608</memory>"
    "<network><name>n</name><uuid>11111111-0000-4000-8000-000000000001</uuid>"
    "<bridge name='virbr7'/><ip address='10.77.0.1' prefix='24'><dhcp>"
    "<range start='10.77.0.100' end='10.77.0.199'/>"
    "<host mac='52:54:00:77:00:01' name='web' ip='10.77.0.10'/></dhcp></ip></network>"
    "<network><name>routed</name><uuid>11111111-0000-4000-8000-000000000002</uuid>"
    "<forward mode='route'/><bridge name='virbr8'/><ip address='10.78.0.1' prefix='24'/>"
    "</network>"
    "<pool type='dir'><name>p</name><uuid>22222222-0000-4000-8000-000000000001</uuid>"
    "<target><path>/srv/p</path></target>" VOLUME("p", "root", "qcow2")
    VOLUME("p", "data", "raw") VOLUME("p", "odd.img", "raw") "</pool>"
    "<pool type='logical'><name>lvm</name><uuid>22222222-0000-4000-8000-000000000002</uuid>"
    "<source><name>vg0</name><format type='lvm2'/></source>"
    "<target><path>/dev/vg0</path></target></pool>"
    "<domain type='qemu'><name>web</name><uuid>33333333-0000-4000-8000-000000000001</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><devices>"
    "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source pool='p' volume='root'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
    "<source pool='p' volume='data'/><target dev='sda' bus='sata'/></disk>"
    "<interface type='network'><mac address='52:54:00:77:00:01'/><source network='n'/>"
    "<model type='virtio'/></interface><rng model='virtio'><backend model='random'>"
    "/dev/urandom</backend></rng></devices>" RUNNING "</domain>"
    "<domain type='qemu'><name>loose</name><uuid>33333333-0000-4000-8000-000000000002</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
    "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/srv/elsewhere/loose.qcow2'/><target dev='vda' bus='virtio'/></disk>"
    "</devices>" STOPPED "</domain>"
    "<domain type='qemu'><name>theirs</name><uuid>33333333-0000-4000-8000-000000000003</uuid>"
    "<metadata><qkvm:resource xmlns:qkvm='https://qkvm.dev/xmlns/1' project='beta' kind='VM' "
    "name='theirs' uuid='33333333-0000-4000-8000-000000000003' hash='0' source='' commit=''/>"
    "</metadata><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os>" STOPPED "</domain>"
    "<domain type='qemu'><name>bridged</name><uuid>33333333-0000-4000-8000-000000000004</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
    "<devices><interface type='bridge'><mac address='52:54:00:77:00:04'/>"
    "<source bridge='br0'/><model type='virtio'/></interface></devices>" STOPPED "</domain>"
    "<domain type='qemu'><name>odd</name><uuid>33333333-0000-4000-8000-000000000005</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
    "<devices><disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
    "<source pool='p' volume='odd.img'/><target dev='vda' bus='virtio'/></disk>"
    "<interface type='network'><mac address='52:54:00:78:00:05'/><source network='routed'/>"
    "<model type='virtio'/></interface></devices>" STOPPED "</domain>"
    "</node>";

static char path[256];
static struct virt *virt;
static struct obs_host *obs;

static int setup(void **state)
{
    (void)state;
    char dir[] = "/tmp/qkvm-test-import.XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/host.xml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(HOST, f);
    fclose(f);
    char uri[300], err[1024];
    snprintf(uri, sizeof(uri), "test://%s", path);
    virt = virt_open(uri, &(struct virt_limits){ 30000, 0, 3 }, err, sizeof(err));
    if (!virt) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    struct owned *own = owned_new();
    obs = observe_host(virt, NULL, own, OBSERVE_DEEP, err, sizeof(err));
    owned_free(own);
    if (!obs)
        fprintf(stderr, "%s\n", err);
    return obs ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    observe_free(obs);
    virt_close(virt);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    return 0;
}

static struct import_result *import(const struct model *declared, const char *kind,
                                    const char *name, bool all)
{
    struct arena *a = arena_new();
    struct import_request *req = NULL;
    size_t n = 0;
    char err[256];
    char *argv[] = { (char *)kind, (char *)name };
    if (!all)
        assert_int_equal(import_requests(a, 2, argv, &req, &n, err, sizeof(err)), 0);
    struct import_result *r = import_build(obs, declared, req, n, all);
    arena_free(a);
    return r;
}

static const struct import_msg *message(const struct import_result *r, const char *needle)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        if (strstr(r->msgs[i].text, needle))
            return &r->msgs[i];
    return NULL;
}

static void test_import__requests(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct import_request *req;
    size_t n;
    char err[256];
    char *disks[] = { "disks", "p/root", "data" };
    assert_int_equal(import_requests(a, 3, disks, &req, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(req[0].kind, MODEL_DISK);
    assert_string_equal(req[0].pool, "p");
    assert_string_equal(req[0].name, "root");
    assert_null(req[1].pool);
    char *image[] = { "image", "x" }, *bad[] = { "disk", "p/" }, *vm[] = { "vm", "a/b" };
    assert_int_equal(import_requests(a, 2, image, &req, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vm, network, pool and disk"));
    assert_int_equal(import_requests(a, 2, bad, &req, &n, err, sizeof(err)), -1);
    assert_int_equal(import_requests(a, 2, vm, &req, &n, err, sizeof(err)), -1);
    assert_int_equal(import_requests(a, 1, vm, &req, &n, err, sizeof(err)), -1);
    arena_free(a);
}

/* A VM brings its disks, their pool and its network, every value written
 * out: the power state, both buses, the MAC, the static lease as its ip. */
static void test_import__vm_and_what_it_uses(void **state)
{
    (void)state;
    struct model *none = model_new();
    struct import_result *r = import(none, "vm", "web", false);
    for (size_t i = 0; i < r->nmsgs; i++)
        if (r->msgs[i].level == IMPORT_ERROR)
            fail_msg("%s", r->msgs[i].text);
    assert_int_equal(r->refused, 0);
    assert_int_equal(r->model->len[MODEL_VM], 1);
    assert_int_equal(r->model->len[MODEL_DISK], 2);
    assert_int_equal(r->model->len[MODEL_POOL], 1);
    assert_int_equal(r->model->len[MODEL_NETWORK], 1);
    const struct model_vm *vm = (const struct model_vm *)model_find(r->model, MODEL_VM, "web");
    assert_non_null(vm);
    assert_int_equal(vm->spec.state, VM_STATE_RUNNING);
    assert_int_equal(vm->spec.accel, VM_ACCEL_TCG);
    assert_int_equal(vm->spec.memory, 64u << 20);
    assert_int_equal(vm->spec.disks.n, 2);
    assert_int_equal(vm->spec.disks.v[1].bus, VM_BUS_SATA);
    assert_string_equal(vm->spec.nics.v[0].mac, "52:54:00:77:00:01");
    assert_string_equal(vm->spec.nics.v[0].ip, "10.77.0.10");
    const struct model_disk *data =
        (const struct model_disk *)model_find(r->model, MODEL_DISK, "data");
    assert_int_equal(data->spec.format, DISK_FORMAT_RAW);
    const struct model_network *n =
        (const struct model_network *)model_find(r->model, MODEL_NETWORK, "n");
    assert_int_equal(n->spec.mode, NET_MODE_ISOLATED);
    assert_string_equal(n->spec.bridge, "virbr7");
    /* the rng device is not in the model: imported, with a warning */
    const struct import_msg *w = message(r, "vm/web: not in its manifest");
    assert_non_null(w);
    assert_int_equal(w->level, IMPORT_WARNING);
    assert_non_null(strstr(w->text, "<rng>"));
    import_free(r);

    /* the manifests declare the network: it is not printed again */
    struct loaded l;
    load_str(&l, HDR "kind: Network\nmetadata: {name: n}\n"
                 "spec: {mode: isolated, cidr: 10.77.0.0/24, dhcp: {start: 10.77.0.100, "
                 "end: 10.77.0.199}}\n");
    assert_int_equal(l.d.errors, 0);
    r = import(l.m, "vm", "web", false);
    assert_int_equal(r->refused, 0);
    assert_int_equal(r->model->len[MODEL_NETWORK], 0);
    assert_int_equal(r->model->len[MODEL_VM], 1);
    import_free(r);
    load_free(&l);

    /* the network alone: its host entry is no imported NIC's address */
    r = import(none, "network", "n", false);
    assert_int_equal(r->refused, 1);
    assert_int_equal(r->model->len[MODEL_NETWORK], 0);
    assert_non_null(message(r, "network/n cannot be imported: its DHCP host entry for MAC "
                               "52:54:00:77:00:01 (10.77.0.10)"));
    import_free(r);
    model_free(none);
}

static void test_import__refused(void **state)
{
    (void)state;
    struct model *none = model_new();
    struct {
        const char *kind, *name, *says;
    } cases[] = {
        { "vm", "loose", "vm/loose cannot be imported: its disk 'vda' is the file "
                         "'/srv/elsewhere/loose.qcow2', outside any storage pool" },
        { "vm", "theirs", "vm/theirs belongs to project 'beta'" },
        { "vm", "bridged", "interface 52:54:00:77:00:04 of type 'bridge'" },
        { "vm", "odd", "its name 'odd.img' is not a manifest name" },
        { "network", "routed", "network/routed cannot be imported: a manifest cannot express "
                               "forward mode 'route'" },
        { "disk", "p/odd.img", "disk/p/odd.img cannot be imported: its name" },
        { "pool", "lvm", "pool/lvm cannot be imported: it is a 'logical' pool: a Pool is a "
                         "directory of image files (type dir)" },
        { "vm", "nothere", "vm/nothere: no domain of this name" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct import_result *r = import(none, cases[i].kind, cases[i].name, false);
        const struct import_msg *m = message(r, cases[i].says);
        if (!m)
            fail_msg("%s %s: no message '%s' (%zu messages, first: %s)", cases[i].kind,
                     cases[i].name, cases[i].says, r->nmsgs, r->nmsgs ? r->msgs[0].text : "");
        assert_int_equal(m->level, IMPORT_ERROR);
        assert_int_equal(r->refused, 1);
        assert_int_equal(model_count(r->model), 0);
        import_free(r);
    }
    model_free(none);
}

/* --all: what cannot be imported is skipped with a warning, the rest is
 * imported, and nothing counts as refused. */
static void test_import__all(void **state)
{
    (void)state;
    struct model *none = model_new();
    struct import_result *r = import(none, NULL, NULL, true);
    assert_int_equal(r->refused, 0);
    const struct import_msg *m = message(r, "vm/theirs belongs to project 'beta'; skipped");
    assert_non_null(m);
    assert_int_equal(m->level, IMPORT_WARNING);
    assert_non_null(message(r, "vm/loose cannot be imported"));
    assert_non_null(message(r, "vm/odd cannot be imported: it uses"));
    assert_non_null(model_find(r->model, MODEL_VM, "web"));
    assert_null(model_find(r->model, MODEL_VM, "loose"));
    assert_null(model_find(r->model, MODEL_NETWORK, "routed"));
    for (size_t i = 0; i < r->nmsgs; i++)
        assert_int_equal(r->msgs[i].level, IMPORT_WARNING);
    import_free(r);
    model_free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import__requests),
        cmocka_unit_test(test_import__vm_and_what_it_uses),
        cmocka_unit_test(test_import__refused),
        cmocka_unit_test(test_import__all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
