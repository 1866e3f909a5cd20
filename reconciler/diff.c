/* diff.c — field-by-field comparison of declared and observed objects. See
 * diff.h. */
#include "diff.h"

#include "arena.h"
#include "check.h"
#include "schema.h"
#include "vec.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diff_init(struct diff *d, struct arena *a)
{
    memset(d, 0, sizeof(*d));
    d->arena = a;
}

void diff_dispose(struct diff *d)
{
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void diff_add(struct diff *d, const char *field, const char *from, const char *to,
              enum diff_how how, const char *why)
{
    *vec_push(d) = (struct diff_change){ field, from, to, how, why };
}

const char *diff_quantity(struct arena *a, uint64_t bytes)
{
    char buf[32];
    check_quantity_format(bytes, buf, sizeof(buf));
    return arena_strdup(a, buf);
}

static const char *num(struct arena *a, long long v)
{
    return arena_printf(a, "%lld", v);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void str_field(struct diff *d, const char *field, const char *want, const char *got,
                      enum diff_how how, const char *why)
{
    if (want && !same(want, got))
        diff_add(d, field, got, want, how, why);
}

/* Enumerations print as the manifests spell them (the schema's values). */
static const char *const *const bus_names = schema_values_vm_bus;
static const char *const *const nic_models = schema_values_vm_nic_model;
static const char *const *const firmwares = schema_values_vm_firmware;
static const char *const *const graphics = schema_values_vm_graphics;
static const char *const *const consoles = schema_values_vm_console;
static const char *const *const accels = schema_values_vm_accel;
static const char *const *const net_modes = schema_values_net_mode;
static const char *const *const formats = schema_values_disk_format;

/* ---- VM ---- */


/* libvirt expands "pc" to "pc-i440fx-7.2" and "q35" to "pc-q35-7.2". */
static bool machine_matches(const char *want, const char *got)
{
    if (!want || same(want, got))
        return true;
    if (!got)
        return false;
    const char *expanded = strcmp(want, "pc") == 0 ? "pc-i440fx-"
                           : strcmp(want, "q35") == 0 ? "pc-q35-" : NULL;
    return expanded && strncmp(got, expanded, strlen(expanded)) == 0;
}

static const struct vm_disk *find_disk(const struct model_vm *vm, const char *name)
{
    for (size_t i = 0; i < vm->spec.disks.n; i++)
        if (same(vm->spec.disks.v[i].disk, name))
            return &vm->spec.disks.v[i];
    return NULL;
}

static const struct vm_nic *find_nic(const struct model_vm *vm, const char *mac)
{
    for (size_t i = 0; i < vm->spec.nics.n; i++)
        if (vm->spec.nics.v[i].mac && mac && strcasecmp(vm->spec.nics.v[i].mac, mac) == 0)
            return &vm->spec.nics.v[i];
    return NULL;
}

static const char *disk_text(struct arena *a, const struct vm_disk *d)
{
    if (d->boot)
        return arena_printf(a, "%s (%s, boot %lld)", d->disk, bus_names[d->bus],
                            (long long)d->boot);
    return arena_printf(a, "%s (%s)", d->disk, bus_names[d->bus]);
}

static const char *nic_text(struct arena *a, const struct vm_nic *n)
{
    return arena_printf(a, "%s on %s (%s)", n->mac ? n->mac : "?", n->network,
                        nic_models[n->model]);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* "seed 3f5a0c1d2e3f" (the digest's first 12), or "seed (unknown)". */
static const char *seed_text(struct arena *a, const char *digest)
{
    return digest ? arena_printf(a, "seed %.12s", digest) : "seed (unknown)";
}

void diff_vm(struct diff *d, const struct model_vm *want, const struct model_vm *o,
             bool running)
{
    struct arena *a = d->arena;
    const struct vm_spec *w = &want->spec, *g = &o->spec;
    enum diff_how restart = running ? DIFF_RESTART : DIFF_CONFIG;

    if (w->max_cpus != g->max_cpus)
        diff_add(d, "spec.maxCpus", num(a, g->max_cpus), num(a, w->max_cpus), restart, NULL);
    if (w->cpus != g->cpus) {
        /* Only growth is live. Removing a vCPU from a running guest needs
         * the guest's cooperation (ACPI CPU hot-unplug in QEMU's modern CPU
         * hotplug mode, which the guest OS switches on): QEMU 7.2 refuses it
         * otherwise ("CPU hot unplug not supported without ACPI", "device
         * unplug request for not supported device type"), so planning it
         * live would fail on every apply. It waits for a restart. */
        bool live = running && w->cpus > g->cpus && w->cpus <= g->max_cpus &&
                    w->max_cpus == g->max_cpus;
        diff_add(d, "spec.cpus", num(a, g->cpus), num(a, w->cpus),
                 !running ? DIFF_CONFIG : live ? DIFF_LIVE : DIFF_RESTART, NULL);
    }
    if (w->max_memory != g->max_memory)
        diff_add(d, "spec.maxMemory", diff_quantity(a, g->max_memory),
                 diff_quantity(a, w->max_memory), restart, NULL);
    if (w->memory != g->memory) {
        bool live = running && w->memory <= g->max_memory && w->max_memory == g->max_memory;
        diff_add(d, "spec.memory", diff_quantity(a, g->memory), diff_quantity(a, w->memory),
                 !running ? DIFF_CONFIG : live ? DIFF_LIVE : DIFF_RESTART, NULL);
    }
    if (w->firmware != g->firmware)
        diff_add(d, "spec.firmware", firmwares[g->firmware], firmwares[w->firmware], restart,
                 NULL);
    if (!machine_matches(w->machine, g->machine))
        diff_add(d, "spec.machine", g->machine, w->machine, restart, NULL);
    if (w->graphics != g->graphics)
        diff_add(d, "spec.graphics", graphics[g->graphics], graphics[w->graphics], restart,
                 NULL);
    if (w->console != g->console)
        diff_add(d, "spec.console", consoles[g->console], consoles[w->console], restart, NULL);
    if (w->accel != g->accel)
        diff_add(d, "spec.accel", accels[g->accel], accels[w->accel], restart, NULL);
    static const struct { const char *field; size_t off; } boot[] = {
        { "spec.boot.kernel", offsetof(struct vm_boot, kernel) },
        { "spec.boot.initrd", offsetof(struct vm_boot, initrd) },
        { "spec.boot.cmdline", offsetof(struct vm_boot, cmdline) },
    };
    for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++) {
        const char *wv = w->boot.hdr.set ? *(const char *const *)((const char *)&w->boot +
                                                                   boot[i].off) : NULL;
        const char *gv = g->boot.hdr.set ? *(const char *const *)((const char *)&g->boot +
                                                                   boot[i].off) : NULL;
        if (!same_str(wv, gv))
            diff_add(d, boot[i].field, gv, wv, restart, NULL);
    }
    if (!same_str(w->console_log, g->console_log))
        diff_add(d, "spec.consoleLog", g->console_log, w->console_log, restart, NULL);
    /* The seed is known by its digest (the mark's seed=): a seed whose
     * digest is unknown (written by hand) is rewritten. */
    const char *ws = w->cloud_init.hdr.set ? seed_text(a, w->cloud_init.digest) : NULL;
    const char *gs = g->cloud_init.hdr.set ? seed_text(a, g->cloud_init.digest) : NULL;
    if (!same_str(ws, gs))
        diff_add(d, "spec.cloudInit", gs, ws, restart, NULL);

    /* Disks hot-plug on virtio and scsi only: libvirt refuses the others
     * on a running domain ("disk bus 'sata' cannot be hotplugged"), so a
     * sata or ide disk added or removed waits for a restart. */
    enum diff_how plug = running ? DIFF_LIVE : DIFF_CONFIG;
#define DISK_PLUG(disk) \
    (running && ((disk)->bus == VM_BUS_SATA || (disk)->bus == VM_BUS_IDE) ? DIFF_RESTART : plug)
    for (size_t i = 0; i < g->disks.n; i++) {
        const struct vm_disk *gd = &g->disks.v[i];
        if (!find_disk(want, gd->disk))
            diff_add(d, arena_printf(a, "spec.disks[%s]", gd->disk), disk_text(a, gd), NULL,
                     DISK_PLUG(gd), NULL);
    }
    for (size_t i = 0; i < w->disks.n; i++) {
        const struct vm_disk *wd = &w->disks.v[i], *gd = find_disk(o, wd->disk);
        if (!gd) {
            diff_add(d, arena_printf(a, "spec.disks[%s]", wd->disk), NULL, disk_text(a, wd),
                     DISK_PLUG(wd), NULL);
            continue;
        }
        if (wd->bus != gd->bus)
            diff_add(d, arena_printf(a, "spec.disks[%s].bus", wd->disk), bus_names[gd->bus],
                     bus_names[wd->bus], restart, NULL);
        if (wd->boot != gd->boot)
            diff_add(d, arena_printf(a, "spec.disks[%s].boot", wd->disk),
                     gd->boot ? num(a, gd->boot) : NULL, wd->boot ? num(a, wd->boot) : NULL,
                     restart, NULL);
    }
    for (size_t i = 0; i < g->nics.n; i++) {
        const struct vm_nic *gn = &g->nics.v[i];
        if (!find_nic(want, gn->mac))
            diff_add(d, arena_printf(a, "spec.nics[%s]", gn->mac ? gn->mac : "?"),
                     nic_text(a, gn), NULL, plug, NULL);
    }
    for (size_t i = 0; i < w->nics.n; i++) {
        const struct vm_nic *wn = &w->nics.v[i], *gn = find_nic(o, wn->mac);
        if (!gn) {
            diff_add(d, arena_printf(a, "spec.nics[%s]", wn->mac), NULL, nic_text(a, wn),
                     plug, NULL);
            continue;
        }
        if (!same(wn->network, gn->network))
            diff_add(d, arena_printf(a, "spec.nics[%s].network", wn->mac), gn->network,
                     wn->network, restart, NULL);
        if (wn->model != gn->model)
            diff_add(d, arena_printf(a, "spec.nics[%s].model", wn->mac),
                     nic_models[gn->model], nic_models[wn->model], restart, NULL);
    }
#undef DISK_PLUG
}

/* ---- Network ---- */


void diff_network(struct diff *d, const struct model_network *want,
                  const struct model_network *o)
{
    const struct net_spec *w = &want->spec, *g = &o->spec;
    static const char cannot[] = "libvirt cannot change it on a defined network";
    if (w->mode != g->mode)
        diff_add(d, "spec.mode", net_modes[g->mode], net_modes[w->mode], DIFF_REPLACE, cannot);
    str_field(d, "spec.bridge", w->bridge, g->bridge, DIFF_REPLACE, cannot);
    if (w->mode != NET_MODE_BRIDGE) {
        str_field(d, "spec.cidr", w->cidr, g->cidr, DIFF_REPLACE, cannot);
        str_field(d, "spec.gateway", w->gateway, g->gateway, DIFF_REPLACE, cannot);
        if (w->dhcp.hdr.set || g->dhcp.hdr.set) {
            str_field(d, "spec.dhcp.start", w->dhcp.start, g->dhcp.start, DIFF_REPLACE, cannot);
            str_field(d, "spec.dhcp.end", w->dhcp.end, g->dhcp.end, DIFF_REPLACE, cannot);
            if (!w->dhcp.hdr.set && g->dhcp.start)
                diff_add(d, "spec.dhcp", arena_printf(d->arena, "%s-%s", g->dhcp.start,
                                                      g->dhcp.end ? g->dhcp.end : "?"),
                         NULL, DIFF_REPLACE, cannot);
        }
    }
}

/* ---- Pool ---- */

void diff_pool(struct diff *d, const struct model_pool *want, const struct model_pool *o)
{
    str_field(d, "spec.path", want->spec.path, o->spec.path, DIFF_BLOCKED,
              "a pool cannot move: its volumes would stay behind; move it by hand");
}

/* ---- Disk ---- */


void diff_disk(struct diff *d, const struct model_disk *want, const struct model_disk *o)
{
    const struct disk_spec *w = &want->spec, *g = &o->spec;
    if (w->format != g->format)
        diff_add(d, "spec.format", formats[g->format], formats[w->format], DIFF_BLOCKED,
                 "a volume's format cannot change in place (convert it by hand)");
    if (w->size && w->size != g->size)
        diff_add(d, "spec.size", diff_quantity(d->arena, g->size),
                 diff_quantity(d->arena, w->size), w->size > g->size ? DIFF_LIVE : DIFF_BLOCKED,
                 w->size > g->size ? NULL : "a disk is never shrunk (data would be lost)");
}

bool diff_ignored(const char *field, const struct model_strings *ignore)
{
    for (size_t i = 0; i < ignore->n; i++) {
        const char *p = ignore->v[i], *f = field;
        /* compare, skipping [key] parts of the field */
        while (*p && *f) {
            if (*f == '[') {
                f = strchr(f, ']');
                if (!f)
                    break;
                f++;
                continue;
            }
            if (*p != *f)
                break;
            p++;
            f++;
        }
        if (f && !*p && (!*f || *f == '.' || *f == '['))
            return true;
    }
    return false;
}
