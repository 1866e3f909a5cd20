/* test_decode.c — the generic decoder, the finish hooks and the
 * cross-object checks, one class of finding at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"
#include "encode.h"
#include "helpers.h"

#include <stdlib.h>

/* Load `yaml`, expect exactly `errors` errors and a finding containing
 * `needle` at line:col (col 0: any column). */
static void expect(const char *yaml, size_t errors, const char *needle,
                   unsigned line, unsigned col)
{
    struct loaded l;
    load_str(&l, yaml);
    const struct diag_item *it = needle ? finding(&l, needle) : NULL;
    if (l.d.errors != errors || (needle && !it) ||
        (it && (it->mark.line != line || (col && it->mark.col != col)))) {
        dump(&l);
        fail_msg("expected %zu errors and '%s' at %u:%u; got %zu errors%s",
                 errors, needle ? needle : "", line, col, l.d.errors,
                 it ? "" : " and no such finding");
    }
    load_free(&l);
}

#define VM(spec) HDR "kind: VM\nmetadata:\n  name: web-1\nspec:\n" spec
#define NET HDR "kind: Network\nmetadata: {name: lan}\nspec: {cidr: 10.0.0.0/24, dhcp: {start: 10.0.0.100, end: 10.0.0.200}}\n---\n"

static void test_decode__defaults(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, NET VM("  memory: 1GiB\n  nics: [{network: lan}, {network: lan}]\n")
                 "---\n" HDR "kind: Node\nmetadata: {name: n}\nspec: {uri: 'qemu:///system'}\n"
                 "---\n" HDR "kind: Policy\nmetadata: {name: p}\nspec: {}\n");
    assert_int_equal(l.d.errors, 0);
    const struct model_vm *vm = (const void *)model_find(l.m, MODEL_VM, "web-1");
    assert_non_null(vm);
    assert_int_equal(vm->spec.cpus, 1);
    assert_int_equal(vm->spec.memory, 1ULL << 30);
    assert_int_equal(vm->spec.state, VM_STATE_RUNNING);
    assert_int_equal(vm->spec.firmware, VM_FIRMWARE_BIOS);
    assert_int_equal(vm->spec.nics.n, 2);
    assert_int_equal(vm->spec.nics.v[0].model, VM_NIC_VIRTIO);
    /* derived MACs: locally administered unicast, distinct per NIC */
    assert_non_null(vm->spec.nics.v[0].mac);
    assert_int_equal(strncmp(vm->spec.nics.v[0].mac, "52:", 3), 0);
    assert_string_not_equal(vm->spec.nics.v[0].mac, vm->spec.nics.v[1].mac);
    const struct model_network *n = (const void *)model_find(l.m, MODEL_NETWORK, "lan");
    assert_string_equal(n->spec.gateway, "10.0.0.1");
    assert_int_equal(n->spec.mode, NET_MODE_NAT);
    assert_true(n->spec.autostart);
    const struct model_node *node = (const void *)model_find(l.m, MODEL_NODE, "n");
    assert_true(node->spec.fence.manual);          /* no fence: manual */
    assert_false(node->spec.fence.hdr.set);
    const struct model_policy *p = (const void *)model_find(l.m, MODEL_POLICY, "p");
    assert_false(p->spec.ha.hdr.set);
    assert_false(p->spec.ha.enabled);
    assert_int_equal(p->spec.ha.max_restarts, 3); /* filled though undeclared */
    assert_int_equal(p->spec.prune, POLICY_PRUNE_REPORT);
    load_free(&l);
}

static void test_decode__mac_is_stable(void **state)
{
    (void)state;
    struct loaded a, b, c;
    load_str(&a, NET VM("  memory: 1GiB\n  nics: [{network: lan}]\n"));
    load_str(&b, NET VM("  cpus: 4\n  memory: 8GiB\n  nics: [{network: lan}]\n"));
    load_str(&c, NET HDR "kind: VM\nmetadata: {name: web-2}\nspec: {memory: 1GiB, nics: [{network: lan}]}\n");
    const struct model_vm *va = (const void *)model_find(a.m, MODEL_VM, "web-1");
    const struct model_vm *vb = (const void *)model_find(b.m, MODEL_VM, "web-1");
    const struct model_vm *vc = (const void *)model_find(c.m, MODEL_VM, "web-2");
    assert_string_equal(va->spec.nics.v[0].mac, vb->spec.nics.v[0].mac);
    assert_string_not_equal(va->spec.nics.v[0].mac, vc->spec.nics.v[0].mac);
    load_free(&a);
    load_free(&b);
    load_free(&c);
}

static void test_decode__types(void **state)
{
    (void)state;
    expect(VM("  memory: 1GiB\n  cpus: two\n"), 1,
           "wrong type for 'cpus' in VM 'web-1': expected integer, got string", 7, 9);
    expect(VM("  memory: 1GiB\n  cpus: \"2\"\n"), 1, "expected integer, got string", 7, 9);
    expect(VM("  memory: 1GiB\n  cpus: 2.5\n"), 1, "expected integer, got number", 7, 9);
    expect(VM("  memory: 1GiB\n  disks: {disk: a}\n"), 1, "expected list, got mapping", 7, 10);
    expect(VM("  memory: 1GiB\n  nodeSelector: [a]\n"), 1, "expected mapping, got list", 7, 17);
    expect(VM("  memory: true\n"), 1, "wrong type for 'memory'", 6, 11);
    expect(NET HDR "kind: Network\nmetadata: {name: b}\nspec: {cidr: 10.1.0.0/24, autostart: on}\n",
           1, "expected true or false, got 'on'", 9, 38);
    expect(VM("  memory: 1GiB\n  machine: [q35]\n"), 1, "expected string, got list", 7, 12);
}

/* Integers by the YAML 1.2 core schema, not by C's strtol rules. */
static void test_decode__integers(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t want; } ok[] = {
        { "010", 10 }, { "0o10", 8 }, { "0x1F", 31 }, { "0x1f", 31 }, { "+7", 7 },
        { "-0", 0 }, { "0", 0 }, { "9223372036854775807", INT64_MAX },
        { "-9223372036854775808", INT64_MIN }, { "0x7fffffffffffffff", INT64_MAX },
        { "0o777777777777777777777", INT64_MAX },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = 12345;
        assert_int_equal(tree_plain_int(ok[i].text, strlen(ok[i].text), &v), 0);
        assert_true(v == ok[i].want);
    }
    static const char *const bad[] = { "9223372036854775808", "-9223372036854775809",
        "0x8000000000000000", "0o1000000000000000000000", "0X1F", "0b1", "0o8", "0x",
        "1e3", "", "+", "-0x1", "1_000" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v;
        assert_int_equal(tree_plain_int(bad[i], strlen(bad[i]), &v), -1);
    }
    struct loaded l;
    load_str(&l, VM("  cpus: 010\n  maxCpus: 0o20\n  memory: 0x40000000\n"));
    assert_int_equal(l.d.errors, 0);
    const struct model_vm *vm = (const void *)model_find(l.m, MODEL_VM, "web-1");
    assert_int_equal(vm->spec.cpus, 10);
    assert_int_equal(vm->spec.max_cpus, 16);
    assert_int_equal(vm->spec.memory, 1ULL << 30);
    load_free(&l);
    expect(VM("  memory: 1GiB\n  cpus: 0o2001\n"), 1,
           "value 0o2001 for 'cpus' in VM 'web-1' is out of range (1 to 1024)", 7, 9);
    expect(VM("  memory: 1GiB\n  cpus: 0b11\n"), 1, "expected integer, got string", 7, 9);
}

/* Quantities libvirt cannot keep exactly are refused with the nearest
 * values it can: plan after apply would otherwise never be empty. */
static void test_decode__exact_quantities(void **state)
{
    (void)state;
    expect(VM("  memory: 100M\n"), 1,
           "'memory' in VM 'web-1' must be a whole number of MiB (100M is not): use 95MiB or 96MiB", 6, 11);
    expect(VM("  memory: 1GiB\n  maxMemory: 1025KiB\n"), 1,
           "'maxMemory' in VM 'web-1' must be a whole number of MiB (1025KiB is not): use 1MiB or 2MiB", 7, 14);
    expect(VM("  memory: 2G\n"), 1, "use 1907MiB or 1908MiB", 6, 11);
    expect(VM("  memory: 1536MiB\n  maxMemory: 0x80000000\n"), 0, NULL, 0, 0);
    expect(HDR "kind: Node\nmetadata: {name: n}\nspec: {uri: 'qemu:///system', capacity: {memory: 1000001K}}\n",
           1, "'memory' in spec.capacity of Node 'n' must be a whole number of KiB (1000001K is not): "
              "use 976563KiB or 976564KiB", 4, 50);
    expect(HDR "kind: Node\nmetadata: {name: n}\nspec: {uri: 'qemu:///system', capacity: {memory: 64G}}\n",
           0, NULL, 0, 0);
    const char *pool = HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: /srv/p}\n---\n";
    char buf[512];
    snprintf(buf, sizeof(buf), "%s" HDR "kind: Disk\nmetadata: {name: d}\nspec: {pool: p, size: 2M}\n", pool);
    expect(buf, 1, "'size' in Disk 'd' must be a whole number of KiB (2M is not): "
                   "use 1953KiB or 1954KiB", 9, 23);
    snprintf(buf, sizeof(buf), "%s" HDR "kind: Disk\nmetadata: {name: d}\nspec: {pool: p, size: 2G, format: raw}\n", pool);
    expect(buf, 0, NULL, 0, 0);
    snprintf(buf, sizeof(buf), "%s" HDR "kind: Disk\nmetadata: {name: d}\nspec: {pool: p, size: 1048577}\n", pool);
    expect(buf, 1, "use 1MiB or 1025KiB", 9, 23);
}

/* A VM with n disks on `bus` (declared as Disks in pool p). */
static char *vm_with_disks(const char *bus, size_t n, const char *machine)
{
    static char buf[16384];
    size_t o = (size_t)snprintf(buf, sizeof(buf),
                                HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: /srv/p}\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              "---\n" HDR "kind: Disk\nmetadata: {name: d%zu}\n"
                              "spec: {pool: p, size: 1GiB}\n", i);
    o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                          "---\n" HDR "kind: VM\nmetadata: {name: v}\nspec:\n  memory: 1GiB\n"
                          "  machine: %s\n  disks:\n", machine);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "    - {disk: d%zu, bus: %s}\n", i, bus);
    assert_true(o < sizeof(buf));
    return buf;
}

static void test_decode__disks_per_bus(void **state)
{
    (void)state;
    static const struct { const char *bus; size_t max; } limits[] = {
        { "virtio", 28 }, { "scsi", 28 }, { "sata", 6 }, { "ide", 4 },
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct loaded l;
        load_str(&l, vm_with_disks(limits[i].bus, limits[i].max, "pc"));
        if (l.d.errors)
            dump(&l);
        assert_int_equal(l.d.errors, 0);
        load_free(&l);
        char want[64];
        snprintf(want, sizeof(want), "has more than %zu disks on bus %s", limits[i].max,
                 limits[i].bus);
        /* two past the limit: one finding, at the first */
        load_str(&l, vm_with_disks(limits[i].bus, limits[i].max + 2, "pc"));
        assert_int_equal(l.d.errors, 1);
        assert_non_null(strstr(l.d.items[0].message, want));
        load_free(&l);
    }
    struct loaded l;
    load_str(&l, vm_with_disks("ide", 2, "q35"));
    assert_int_equal(l.d.errors, 1);                  /* once, not per disk */
    assert_non_null(strstr(l.d.items[0].message,
                           "VM 'v' has machine q35, which has no IDE controller: use bus sata"));
    load_free(&l);
    load_str(&l, vm_with_disks("sata", 1, "q35"));
    assert_int_equal(l.d.errors, 0);
    load_free(&l);
}

static void test_decode__fields(void **state)
{
    (void)state;
    expect(VM("  memory: 1GiB\n  cpu: 2\n"), 1,
           "unknown field 'cpu' in VM 'web-1' (did you mean 'cpus'?)", 7, 3);
    expect(VM("  memory: 1GiB\n  hugepages: true\n"), 1, "unknown field 'hugepages' in VM 'web-1'", 7, 3);
    expect(VM("  cpus: 1\n"), 1, "missing required field 'memory' in VM 'web-1'", 6, 3);
    expect(HDR "kind: VM\nmetadata: {name: a}\n", 1, "missing required field 'spec' in VM 'a'", 1, 1);
    expect(HDR "kind: VM\nmetadata: {labels: {a: b}}\nspec: {memory: 1GiB}\n", 1,
           "missing required field 'name' in VM", 3, 11);
    expect("kind: VM\nmetadata: {name: a}\nspec: {memory: 1GiB}\n", 1,
           "missing required field 'apiVersion'", 1, 1);
    expect(HDR "kind: Vm\nmetadata: {name: a}\n", 1, "unknown kind 'Vm' (did you mean 'VM'?)", 2, 7);
    expect(HDR "metadata: {name: a}\n", 1, "missing required field 'kind'", 1, 1);
    expect("apiVersion: qkvm.dev/v9\nkind: VM\nmetadata: {name: a}\nspec: {memory: 1GiB}\n", 1,
           "unknown apiVersion 'qkvm.dev/v9' (expected 'qkvm.dev/v1')", 1, 13);
    expect("- a\n- b\n", 1, "a manifest document must be a mapping, not a list", 1, 1);
    expect(VM("  memory: 1GiB\n  state: runing\n"), 1,
           "value 'runing' not allowed for 'state' in VM 'web-1' (did you mean 'running'? allowed: running, stopped, paused)", 7, 10);
    /* every problem of a document in one run */
    expect(VM("  cpu: 1\n  memory: 0\n  state: x\n  firmware: y\n"), 4, "unknown field 'cpu'", 6, 3);
}

static void test_decode__values(void **state)
{
    (void)state;
    expect(HDR "kind: VM\nmetadata: {name: Web_1}\nspec: {memory: 1GiB}\n", 1,
           "bad name 'Web_1' for a VM: a name has only lowercase letters", 3, 18);
    expect(VM("  memory: 1.5GiB\n"), 1, "a quantity must be a whole number", 6, 11);
    expect(VM("  memory: 0\n"), 1, "a quantity must be greater than zero", 6, 11);
    expect(VM("  memory: -2GiB\n"), 1, "a quantity must be positive", 6, 11);
    expect(VM("  memory: 2 gigs\n"), 1, "unknown unit", 6, 11);
    expect(VM("  memory: 100KiB\n"), 1, "'memory' in VM 'web-1' must be at least 1MiB", 6, 11);
    expect(VM("  memory: 1GiB\n  cpus: 0\n"), 1, "value 0 for 'cpus' in VM 'web-1' is out of range (1 to 1024)", 7, 9);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, mac: '52:54:00:00:00'}]\n"), 1,
           "bad MAC address '52:54:00:00:00' for 'mac' in spec.nics[0] of VM 'web-1'", 12, 30);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, ip: 10.0.0.999}]\n"), 1,
           "bad IP address '10.0.0.999'", 12, 29);
    expect(HDR "kind: Network\nmetadata: {name: lan}\nspec: {cidr: 10.0.0.1/24}\n", 1,
           "host bits are set", 4, 14);
    expect(HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: relative/dir}\n", 1,
           "bad path 'relative/dir' for 'path' in Pool 'p': expected an absolute path", 4, 14);
    expect(HDR "kind: Node\nmetadata: {name: n}\nspec: {uri: hv1}\n", 1, "bad URI 'hv1'", 4, 13);
    expect(HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: /p}\n---\n"
           HDR "kind: Image\nmetadata: {name: i}\nspec: {url: 'ftp://x/y', sha256: 'zz', pool: p}\n",
           2, "bad URL 'ftp://x/y'", 9, 13);
    expect(VM("  memory: 1GiB\n  machine: \"a\\0b\"\n"), 1, "NUL character (U+0000) in value 'a\\x00b'", 7, 12);
    /* "memory\0" is not memory: refused, and the declared memory stands */
    expect(VM("  memory: 1GiB\n  \"memory\\0\": 4GiB\n"), 1, "NUL character (U+0000) in key 'memory\\x00'", 7, 3);
    /* a refused value is reported once: no "missing required field" after it */
    expect(VM("  memory: \"1GiB\\n\"\n"), 1, "bad quantity '1GiB\\x0a'", 6, 11);
    expect(VM("  memory: 1GiB\n  machine: \"q35\\tx\"\n"), 1, "'machine' in VM 'web-1' is one line of text", 7, 12);
    expect(HDR "kind: \"VM\\0\"\nmetadata: {name: a}\nspec: {memory: 1GiB}\n", 1, "in value 'VM\\x00'", 2, 7);
    expect(HDR "kind: VM\nmetadata: {name: a, labels: {tier: 1, on: true}}\nspec: {memory: 1GiB}\n",
           1, "label 'on' in 'labels' of VM 'a' must be a string, not a boolean", 3, 43);
}

static void test_decode__networks(void **state)
{
    (void)state;
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {cidr: 10.0.0.0/24, dhcp: {start: 10.0.0.5, end: 10.0.1.5}}\n",
           1, "DHCP range end 10.0.1.5 of Network 'n' is outside cidr 10.0.0.0/24", 4, 56);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {cidr: 10.0.0.0/24, dhcp: {start: 10.0.0.9, end: 10.0.0.5}}\n",
           1, "ends (10.0.0.5) before it starts (10.0.0.9)", 4, 56);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {cidr: 10.0.0.0/24, gateway: 10.0.0.0}\n",
           1, "gateway 10.0.0.0 of Network 'n' is not a host address of 10.0.0.0/24", 4, 36);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {cidr: 10.0.0.0/24, gateway: 10.0.0.7, dhcp: {start: 10.0.0.2, end: 10.0.0.9}}\n",
           1, "contains the gateway 10.0.0.7", 4, 52);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {mode: isolated}\n", 1,
           "missing required field 'cidr' in Network 'n' (required with mode isolated)", 4, 7);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {mode: bridge}\n", 1,
           "missing required field 'bridge'", 4, 7);
    expect(HDR "kind: Network\nmetadata: {name: n}\nspec: {mode: bridge, bridge: br0, cidr: 10.0.0.0/24}\n", 1,
           "cidr, gateway and dhcp are not allowed", 4, 41);
}

static void test_decode__cross_object(void **state)
{
    (void)state;
    const char *pool = HDR "kind: Pool\nmetadata: {name: p}\nspec: {path: /p}\n---\n"
                       HDR "kind: Disk\nmetadata: {name: root}\nspec: {pool: p, size: 1GiB}\n---\n";
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s" VM("  memory: 1GiB\n  disks: [{disk: rot}]\n"), pool);
    expect(buf, 1, "VM 'web-1' refers to Disk 'rot', which is not declared (did you mean 'root'?)", 17, 18);
    snprintf(buf, sizeof(buf), "%s" VM("  memory: 1GiB\n  disks: [{disk: root}]\n") "---\n"
             HDR "kind: VM\nmetadata: {name: web-2}\nspec: {memory: 1GiB, disks: [{disk: root}]}\n", pool);
    expect(buf, 1, "Disk 'root' is attached to VM 'web-1' and to VM 'web-2'", 22, 37);
    expect(VM("  memory: 1GiB\n") "---\n" VM("  memory: 2GiB\n"), 1,
           "duplicate VM 'web-1' (first declared at t.yaml:4)", 11, 9);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, ip: 10.0.0.150}]\n"), 1,
           "is inside the DHCP range 10.0.0.100-10.0.0.200", 12, 29);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, ip: 10.9.0.1}]\n"), 1,
           "ip 10.9.0.1 of VM 'web-1' is outside cidr 10.0.0.0/24 of Network 'lan'", 12, 29);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, ip: 10.0.0.5}]\n") "---\n"
           HDR "kind: VM\nmetadata: {name: web-2}\nspec: {memory: 1GiB, nics: [{network: lan, ip: 10.0.0.5}]}\n",
           1, "IP address 10.0.0.5 in Network 'lan' of VM 'web-2' is already used by VM 'web-1'", 17, 48);
    expect(NET VM("  memory: 1GiB\n  nics: [{network: lan, mac: '52:54:00:00:00:01'}]\n") "---\n"
           HDR "kind: VM\nmetadata: {name: web-2}\nspec: {memory: 1GiB, nics: [{network: lan, mac: '52:54:00:00:00:01'}]}\n",
           1, "MAC address 52:54:00:00:00:01 of VM 'web-2' is already used by VM 'web-1'", 17, 49);
    expect(VM("  memory: 1GiB\n  node: hv9\n"), 1, "refers to Node 'hv9', which is not declared", 7, 9);
    /* a selector matching nothing is a warning, not an error */
    struct loaded l;
    load_str(&l, HDR "kind: Policy\nmetadata: {name: p}\nspec: {selector: {app: x}}\n");
    assert_int_equal(l.d.errors, 0);
    assert_int_equal(l.d.warnings, 1);
    assert_non_null(finding(&l, "selector of Policy 'p' matches no object"));
    assert_int_equal(l.d.items[0].severity, DIAG_WARNING);
    load_free(&l);
}

static void test_decode__json_fields(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, NET VM("  memory: 1GiB\n  nics: [{network: lan, netwrk: x}]\n"));
    const struct diag_item *it = finding(&l, "unknown field 'netwrk'");
    assert_non_null(it);
    assert_string_equal(it->kind, "VM");
    assert_string_equal(it->name, "web-1");
    assert_string_equal(it->field, "spec.nics[0]");
    assert_string_equal(it->file, "t.yaml");
    load_free(&l);
}

/* Encode, print, parse, encode, print: the same text. */
static void test_decode__roundtrip(void **state)
{
    (void)state;
    struct loaded l;
    load_str(&l, NET VM("  memory: 1536MiB\n  nics: [{network: lan, ip: 10.0.0.5, mac: '52:54:00:AA:00:01'}]\n"
                        "  nodeSelector: {zone: a, app: web}\n"));
    assert_int_equal(l.d.errors, 0);
    char *text[2] = { NULL, NULL };
    for (int round = 0; round < 2; round++) {
        struct arena *a = arena_new();
        struct tree *docs[MODEL_KIND_COUNT * 4];
        size_t n = 0;
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            for (size_t i = 0; i < l.m->len[k]; i++)
                docs[n++] = encode_object(a, l.m->objs[k][i]);
        size_t len;
        FILE *f = open_memstream(&text[round], &len);
        assert_int_equal(yamldoc_emit(f, docs, n), 0);
        fclose(f);
        arena_free(a);
        load_free(&l);
        load_str(&l, text[round]);
        assert_int_equal(l.d.errors, 0);
    }
    assert_string_equal(text[0], text[1]);
    assert_non_null(strstr(text[0], "memory: 1536MiB"));
    assert_non_null(strstr(text[0], "mac: 52:54:00:aa:00:01") ? text[0] : strstr(text[0], "'52:54:00:aa:00:01'"));
    free(text[0]);
    free(text[1]);
    load_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode__defaults),
        cmocka_unit_test(test_decode__mac_is_stable),
        cmocka_unit_test(test_decode__types),
        cmocka_unit_test(test_decode__integers),
        cmocka_unit_test(test_decode__disks_per_bus),
        cmocka_unit_test(test_decode__exact_quantities),
        cmocka_unit_test(test_decode__fields),
        cmocka_unit_test(test_decode__values),
        cmocka_unit_test(test_decode__networks),
        cmocka_unit_test(test_decode__cross_object),
        cmocka_unit_test(test_decode__json_fields),
        cmocka_unit_test(test_decode__roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
