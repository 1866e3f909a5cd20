/* virtxml.c — libvirt's XML and the model, both ways. See virtxml.h. */
#include "virtxml.h"

#include "arena.h"
#include "check.h"
#include "schema.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <pthread.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* reading                                                             */

static xmlDocPtr parse(const char *xml, const char *root, char *err, size_t errlen)
{
    if (!xml) {
        snprintf(err, errlen, "no XML");
        return NULL;
    }
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR |
                                  XML_PARSE_NOWARNING);
    if (!doc) {
        snprintf(err, errlen, "cannot parse %s XML", root);
        return NULL;
    }
    xmlNodePtr r = xmlDocGetRootElement(doc);
    if (!r || strcmp((const char *)r->name, root) != 0) {
        snprintf(err, errlen, "XML is not a <%s>", root);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr child(const xmlNode *n, const char *name)
{
    if (!n)
        return NULL;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (is(c, name))
            return c;
    return NULL;
}

/* An attribute (or, with attr NULL, the text) copied into the arena. */
static const char *get(struct arena *a, const xmlNode *n, const char *attr)
{
    if (!n)
        return NULL;
    xmlChar *v = attr ? xmlGetProp(n, (const xmlChar *)attr) : xmlNodeGetContent(n);
    if (!v)
        return NULL;
    const char *s = arena_strdup(a, (const char *)v);
    xmlFree(v);
    return s;
}

static bool get_u64(const xmlNode *n, const char *attr, uint64_t *out)
{
    if (!n)
        return false;
    xmlChar *v = attr ? xmlGetProp(n, (const xmlChar *)attr) : xmlNodeGetContent(n);
    if (!v)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull((const char *)v, &end, 10);
    bool ok = errno == 0 && end != (char *)v && *end == '\0';
    xmlFree(v);
    if (ok)
        *out = x;
    return ok;
}

/* A libvirt scaled integer: <memory unit='KiB'>65536</memory>. */
static bool get_bytes(const xmlNode *n, uint64_t *out)
{
    uint64_t v;
    if (!get_u64(n, NULL, &v))
        return false;
    xmlChar *u = xmlGetProp(n, (const xmlChar *)"unit");
    const char *unit = u ? (const char *)u : "bytes";
    static const struct { const char *name; uint64_t mul; } units[] = {
        { "b", 1 }, { "bytes", 1 }, { "KiB", 1ull << 10 }, { "k", 1ull << 10 },
        { "K", 1ull << 10 }, { "MiB", 1ull << 20 }, { "M", 1ull << 20 },
        { "GiB", 1ull << 30 }, { "G", 1ull << 30 }, { "TiB", 1ull << 40 },
        { "T", 1ull << 40 }, { "KB", 1000 }, { "MB", 1000000 },
        { "GB", 1000000000ull }, { "TB", 1000000000000ull },
    };
    uint64_t mul = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].name) == 0)
            mul = units[i].mul;
    if (u)
        xmlFree(u);
    if (!mul || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static int enum_index(const char *const *names, const char *v, int dflt)
{
    if (v)
        for (int i = 0; names[i]; i++)
            if (strcmp(names[i], v) == 0)
                return i;
    return dflt;
}

static void read_mark(struct arena *a, const xmlNode *metadata, struct virtxml_mark *m)
{
    memset(m, 0, sizeof(*m));
    if (!metadata)
        return;
    for (xmlNodePtr c = metadata->children; c; c = c->next) {
        if (!is(c, "resource") || !c->ns || !c->ns->href ||
            strcmp((const char *)c->ns->href, VIRTXML_NS) != 0)
            continue;
        m->kind = get(a, c, "kind");
        m->name = get(a, c, "name");
        m->hash = get(a, c, "hash");
        m->source = get(a, c, "source");
        m->commit = get(a, c, "commit");
        m->project = get(a, c, "project");
        m->uuid = get(a, c, "uuid");
        m->seed = get(a, c, "seed");
        m->placement = get(a, c, "placement");
        size_t nl = 0;
        for (xmlNodePtr l = c->children; l; l = l->next)
            nl += is(l, "label");
        m->labels.v = nl ? arena_alloc(a, nl * sizeof(*m->labels.v)) : NULL;
        for (xmlNodePtr l = c->children; l; l = l->next) {
            const char *k = is(l, "label") ? get(a, l, "key") : NULL;
            if (k)
                m->labels.v[m->labels.n++] = (struct model_label){ k, get(a, l, "value") ?
                                                                   get(a, l, "value") : "" };
        }
        if (!m->kind)
            m->kind = "";
        return;
    }
}

static void set_meta(struct arena *a, struct model_object *o, enum model_kind k,
                     const char *kind_name, const char *name)
{
    o->hdr.set = true;
    o->kind = k;
    o->kind_name = kind_name;
    o->meta.hdr.set = true;
    o->meta.name = name ? name : arena_strdup(a, "");
}


/* ---- what the model does not hold (see struct virtxml_unmodeled) ---- */

static void unmodeled(struct arena *a, struct virtxml_unmodeled *u, bool misread,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void unmodeled(struct arena *a, struct virtxml_unmodeled *u, bool misread,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    if (misread)
        arena_strs_add(a, &u->misread, &u->nmisread, s);
    else
        arena_strs_add(a, &u->extra, &u->nextra, s);
}

/* Is the attribute `name` of n absent or one of the NULL-ended values? */
static bool attr_in(const xmlNode *n, const char *name, const char *const *values)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return true;
    bool in = false;
    for (size_t i = 0; values[i] && !in; i++)
        in = strcmp((const char *)v, values[i]) == 0;
    xmlFree(v);
    return in;
}

static bool named_in(const xmlNode *n, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp((const char *)n->name, names[i]) == 0)
            return true;
    return false;
}

/* Child elements of n not in `known`, as extras "WHAT: <child>". */
static void extra_children(struct arena *a, struct virtxml_unmodeled *u, const xmlNode *n,
                           const char *const *known, const char *what)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !named_in(c, known))
            unmodeled(a, u, false, "%s%s<%s>", what ? what : "", what ? ": " : "",
                      (const char *)c->name);
}

static const char *const no_values[] = { NULL };

/* A domain's disk device (device='disk'): its bus, driver and children. */
static void disk_unmodeled(struct arena *a, struct virtxml_unmodeled *u, const xmlNode *c,
                           const char *dev)
{
    xmlNodePtr tg = child(c, "target");
    const char *bus = get(a, tg, "bus");
    if (bus && enum_index(schema_values_vm_bus, bus, -1) < 0)
        unmodeled(a, u, true, "disk '%s' on bus '%s'", dev, bus);
    xmlNodePtr drv = child(c, "driver");
    for (xmlAttrPtr at = drv ? drv->properties : NULL; at; at = at->next)
        if (strcmp((const char *)at->name, "name") != 0 &&
            strcmp((const char *)at->name, "type") != 0)
            unmodeled(a, u, false, "disk '%s': driver %s='%s'", dev, (const char *)at->name,
                      get(a, drv, (const char *)at->name));
    static const char *const known[] = { "driver", "source", "backingStore", "target", "alias",
                                         "address", "boot", NULL };
    extra_children(a, u, c, known, arena_printf(a, "disk '%s'", dev));
}

static void nic_unmodeled(struct arena *a, struct virtxml_unmodeled *u, const xmlNode *c)
{
    const char *mac = get(a, child(c, "mac"), "address");
    const char *type = get(a, c, "type"), *model = get(a, child(c, "model"), "type");
    const char *what = arena_printf(a, "interface %s", mac ? mac : "(no MAC)");
    if (!type || strcmp(type, "network") != 0)
        unmodeled(a, u, true, "%s of type '%s' (not a libvirt network)", what,
                  type ? type : "");
    if (!model)
        unmodeled(a, u, true, "%s without a model (QEMU's default)", what);
    else if (enum_index(schema_values_vm_nic_model, model, -1) < 0)
        unmodeled(a, u, true, "%s of model '%s'", what, model);
    static const char *const known[] = { "mac", "source", "target", "model", "alias",
                                         "address", NULL };
    extra_children(a, u, c, known, what);
}

/* Everything of a domain's XML the model does not hold, but what libvirt
 * adds to a domain qkvm defines (compare virtxml_domain_encode). */
static void domain_unmodeled(struct arena *a, const xmlNode *r, struct virtxml_unmodeled *u)
{
    static const char *const accels[] = { "kvm", "qemu", NULL };
    if (!attr_in(r, "type", accels))
        unmodeled(a, u, true, "domain type '%s'", get(a, r, "type"));
    static const char *const top[] = {
        "name", "uuid", "metadata", "memory", "currentMemory", "vcpu", "os", "features",
        "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "devices", "resource",
        "seclabel", NULL };
    extra_children(a, u, r, top, NULL);
    if (!attr_in(child(r, "vcpu"), "cpuset", no_values))
        unmodeled(a, u, false, "vcpu cpuset");

    xmlNodePtr os = child(r, "os"), type = child(os, "type");
    const char *ostype = get(a, type, NULL);
    if (ostype && strcmp(ostype, "hvm") != 0)
        unmodeled(a, u, true, "os type '%s'", ostype);
    static const char *const x86[] = { "x86_64", NULL };
    if (type && !attr_in(type, "arch", x86))
        unmodeled(a, u, true, "arch '%s'", get(a, type, "arch"));
    bool auto_fw = get(a, os, "firmware") != NULL;
    for (xmlNodePtr c = os ? os->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is(c, "type"))
            continue;
        if (is(c, "boot")) {
            const char *dev = get(a, c, "dev");
            if (dev && strcmp(dev, "hd") != 0)
                unmodeled(a, u, false, "boot from '%s'", dev);
        } else if (is(c, "loader") || is(c, "nvram")) {
            if (!auto_fw)
                unmodeled(a, u, false, "firmware <%s> path", (const char *)c->name);
        } else if (is(c, "kernel") || is(c, "initrd") || is(c, "cmdline")) {
            continue;                   /* spec.boot */
        } else if (!(auto_fw && is(c, "firmware"))) {
            unmodeled(a, u, false, "<os><%s>", (const char *)c->name);
        }
    }
    static const char *const acpi[] = { "acpi", NULL };
    extra_children(a, u, child(r, "features"), acpi, "features");
    xmlNodePtr cpu = child(r, "cpu");
    static const char *const custom[] = { "custom", NULL };
    if (cpu && !attr_in(cpu, "mode", custom))
        unmodeled(a, u, false, "<cpu mode='%s'>", get(a, cpu, "mode"));
    const char *model = get(a, child(cpu, "model"), NULL);
    if (model && strcmp(model, "qemu64") != 0)
        unmodeled(a, u, false, "cpu model '%s'", model);
    static const char *const cpu_known[] = { "model", "feature", NULL };
    extra_children(a, u, cpu, cpu_known, "cpu");
    xmlNodePtr clock = child(r, "clock");
    static const char *const utc[] = { "utc", NULL };
    if (clock && !attr_in(clock, "offset", utc))
        unmodeled(a, u, false, "clock offset '%s'", get(a, clock, "offset"));
    extra_children(a, u, clock, no_values, "clock");
    static const struct { const char *name, *value; } on[] = {
        { "on_poweroff", "destroy" }, { "on_reboot", "restart" }, { "on_crash", "destroy" } };
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        const char *v = get(a, child(r, on[i].name), NULL);
        if (v && strcmp(v, on[i].value) != 0)
            unmodeled(a, u, false, "%s '%s'", on[i].name, v);
    }

    xmlNodePtr devs = child(r, "devices");
    size_t ngraphics = 0;
    bool video = false, spice = false;
    const char *audio = NULL;
    static const char *const ignored[] = { "emulator", "controller", NULL };
    static const char *const pty[] = { "pty", NULL };
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || named_in(c, ignored))
            continue;
        if (is(c, "disk")) {
            const char *device = get(a, c, "device"), *dev = get(a, child(c, "target"), "dev");
            char owner[128];
            const char *vol = get(a, child(c, "source"), "volume");
            if (device && strcmp(device, "cdrom") == 0 && vol &&
                model_seed_owner(vol, owner, sizeof(owner)))
                continue;               /* spec.cloudInit */
            if (device && strcmp(device, "disk") != 0)
                unmodeled(a, u, false, "%s '%s'", device, dev ? dev : "?");
            else
                disk_unmodeled(a, u, c, dev ? dev : "?");
        } else if (is(c, "interface")) {
            nic_unmodeled(a, u, c);
        } else if (is(c, "graphics")) {
            const char *g = get(a, c, "type");
            spice |= g && strcmp(g, "spice") == 0;
            if (++ngraphics > 1)
                unmodeled(a, u, true, "a second graphics device ('%s')", g ? g : "");
            else if (enum_index(schema_values_vm_graphics, g, 0) == 0)
                unmodeled(a, u, true, "graphics of type '%s'", g ? g : "");
            static const char *const yes[] = { "yes", NULL }, *const local[] = { "127.0.0.1",
                                                                                 NULL };
            if (!attr_in(c, "autoport", yes))
                unmodeled(a, u, false, "graphics port '%s'", get(a, c, "port"));
            if (!attr_in(c, "listen", local))
                unmodeled(a, u, false, "graphics listen address '%s'", get(a, c, "listen"));
            if (!attr_in(c, "passwd", no_values))
                unmodeled(a, u, false, "graphics password");
        } else if (is(c, "serial") || is(c, "console")) {
            static const char *const serial[] = { "serial", "isa-serial", NULL };
            if (!attr_in(c, "type", pty))
                unmodeled(a, u, false, "%s of type '%s'", (const char *)c->name,
                          get(a, c, "type"));
            else if (child(c, "target") && !attr_in(child(c, "target"), "type", serial))
                unmodeled(a, u, false, "%s on '%s'", (const char *)c->name,
                          get(a, child(c, "target"), "type"));
        } else if (is(c, "input")) {
            static const char *const ps2[] = { "ps2", NULL }, *const mk[] = { "mouse",
                                                                             "keyboard", NULL };
            if (!attr_in(c, "type", mk) || !attr_in(c, "bus", ps2))
                unmodeled(a, u, false, "input '%s' on '%s'", get(a, c, "type"),
                          get(a, c, "bus") ? get(a, c, "bus") : "?");
        } else if (is(c, "audio")) {
            audio = get(a, c, "type");
        } else if (is(c, "memballoon")) {
            static const char *const virtio[] = { "virtio", NULL };
            if (!attr_in(c, "model", virtio))
                unmodeled(a, u, false, "memballoon model '%s'", get(a, c, "model"));
        } else if (is(c, "video")) {
            video = true;      /* libvirt adds one to a domain with graphics */
        } else {
            unmodeled(a, u, false, "<%s>", (const char *)c->name);
        }
    }
    if (video && !ngraphics)
        unmodeled(a, u, false, "<video>");
    /* libvirt adds an audio backend: none, or spice with spice graphics */
    if (audio && strcmp(audio, "none") != 0 && !(spice && strcmp(audio, "spice") == 0))
        unmodeled(a, u, false, "audio '%s'", audio);
}

static void held_add(struct arena *a, struct virtxml_domain *out, size_t *cap, const char *what)
{
    if (!what)
        return;
    if (out->nheld == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        const char **v = arena_alloc(a, ncap * sizeof(*v));
        if (out->nheld)
            memcpy(v, out->held, out->nheld * sizeof(*v));
        out->held = v;
        *cap = ncap;
    }
    out->held[out->nheld++] = what;
}

/* Every file a disk's backing chain names, however deep. */
static void backing_chain(struct arena *a, const xmlNode *disk, struct virtxml_domain *out,
                          size_t *cap)
{
    for (const xmlNode *b = child(disk, "backingStore"); b; b = child(b, "backingStore")) {
        const xmlNode *so = child(b, "source");
        held_add(a, out, cap, get(a, so, "file"));
        held_add(a, out, cap, get(a, so, "dev"));
    }
}

static void domain_held(struct arena *a, const xmlNode *devs, struct virtxml_domain *out)
{
    size_t cap = 0;
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        if (!is(c, "disk"))
            continue;
        backing_chain(a, c, out, &cap);
        const char *dev = get(a, c, "device");
        if (!dev || strcmp(dev, "disk") == 0)
            continue;                   /* modelled: in src */
        xmlNodePtr so = child(c, "source");
        const char *pool = get(a, so, "pool"), *vol = get(a, so, "volume");
        if (pool && vol)
            held_add(a, out, &cap, arena_printf(a, "%s/%s", pool, vol));
        held_add(a, out, &cap, get(a, so, "file"));
        held_add(a, out, &cap, get(a, so, "dev"));
    }
}

int virtxml_domain_decode(struct arena *a, const char *xml, struct virtxml_domain *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    xmlDocPtr doc = parse(xml, "domain", err, errlen);
    if (!doc)
        return -1;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    struct model_vm *vm = arena_alloc(a, sizeof(*vm));
    struct vm_spec *s = &vm->spec;
    set_meta(a, &vm->obj, MODEL_VM, "VM", get(a, child(r, "name"), NULL));
    s->hdr.set = true;
    out->uuid = get(a, child(r, "uuid"), NULL);
    const char *id = get(a, r, "id");
    out->active = id && strcmp(id, "-1") != 0;
    const char *type = get(a, r, "type");
    s->accel = type && strcmp(type, "kvm") == 0 ? VM_ACCEL_KVM : VM_ACCEL_TCG;
    read_mark(a, child(r, "metadata"), &out->mark);

    uint64_t v;
    xmlNodePtr vcpu = child(r, "vcpu");
    if (get_u64(vcpu, NULL, &v))
        s->max_cpus = (int64_t)v;
    s->cpus = get_u64(vcpu, "current", &v) ? (int64_t)v : s->max_cpus;
    get_bytes(child(r, "memory"), &s->max_memory);
    if (!get_bytes(child(r, "currentMemory"), &s->memory))
        s->memory = s->max_memory;
    s->state = out->active ? VM_STATE_RUNNING : VM_STATE_STOPPED;

    xmlNodePtr os = child(r, "os");
    const char *fw = get(a, os, "firmware");
    xmlNodePtr loader = child(os, "loader");
    s->firmware = (fw && strcmp(fw, "efi") == 0) || loader ? VM_FIRMWARE_UEFI
                                                            : VM_FIRMWARE_BIOS;
    s->machine = get(a, child(os, "type"), "machine");
    s->boot.kernel = get(a, child(os, "kernel"), NULL);
    if (s->boot.kernel) {
        s->boot.hdr.set = true;
        s->boot.initrd = get(a, child(os, "initrd"), NULL);
        s->boot.cmdline = get(a, child(os, "cmdline"), NULL);
    }

    xmlNodePtr devs = child(r, "devices");
    size_t nd = 0, nn = 0;
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        if (is(c, "disk")) {
            const char *dev = get(a, c, "device");
            if (!dev || strcmp(dev, "disk") == 0)
                nd++;
        } else if (is(c, "interface")) {
            nn++;
        }
    }
    s->disks.v = arena_alloc(a, (nd ? nd : 1) * sizeof(*s->disks.v));
    out->src = arena_alloc(a, (nd ? nd : 1) * sizeof(*out->src));
    s->nics.v = arena_alloc(a, (nn ? nn : 1) * sizeof(*s->nics.v));
    s->graphics = VM_GRAPHICS_NONE;
    s->console = VM_CONSOLE_NONE;
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        if (is(c, "disk")) {
            const char *dev = get(a, c, "device");
            if (dev && strcmp(dev, "cdrom") == 0) {
                char owner[128];
                xmlNodePtr so = child(c, "source");
                const char *vol = get(a, so, "volume");
                if (vol && model_seed_owner(vol, owner, sizeof(owner))) {
                    s->cloud_init.hdr.set = true;
                    s->cloud_init.digest = out->mark.seed;
                    out->seed_pool = get(a, so, "pool");
                    out->seed_volume = vol;
                    out->seed_target = get(a, child(c, "target"), "dev");
                }
                continue;
            }
            if (dev && strcmp(dev, "disk") != 0)
                continue;
            struct vm_disk *d = &s->disks.v[s->disks.n];
            struct virtxml_disk_src *src = &out->src[s->disks.n++];
            d->hdr.set = true;
            xmlNodePtr so = child(c, "source");
            src->type = get(a, c, "type");
            src->driver = get(a, child(c, "driver"), "type");
            src->pool = get(a, so, "pool");
            src->volume = get(a, so, "volume");
            src->file = get(a, so, "file");
            if (!src->file)
                src->file = get(a, so, "dev");
            xmlNodePtr tg = child(c, "target");
            src->target = get(a, tg, "dev");
            d->disk = src->volume ? src->volume : src->file ? src->file : "";
            d->bus = enum_index(schema_values_vm_bus, get(a, tg, "bus"), VM_BUS_VIRTIO);
            if (get_u64(child(c, "boot"), "order", &v))
                d->boot = (int64_t)v;
        } else if (is(c, "interface")) {
            struct vm_nic *n = &s->nics.v[s->nics.n++];
            n->hdr.set = true;
            xmlNodePtr so = child(c, "source");
            n->network = get(a, so, "network");
            if (!n->network)
                n->network = get(a, so, "bridge");
            if (!n->network)
                n->network = "";
            n->mac = get(a, child(c, "mac"), "address");
            /* a model the schema has no word for (e1000e, none given) reads
             * as the default: noted in the misread list, never an index out
             * of the table (the enum is unsigned: no "< 0" test on it) */
            int m = enum_index(schema_values_vm_nic_model, get(a, child(c, "model"), "type"), -1);
            n->model = m < 0 ? VM_NIC_VIRTIO : (enum vm_nic_model)m;
        } else if (is(c, "graphics")) {
            const char *g = get(a, c, "type");
            if (g && strcmp(g, "vnc") == 0)
                s->graphics = VM_GRAPHICS_VNC;
            else if (g && strcmp(g, "spice") == 0)
                s->graphics = VM_GRAPHICS_SPICE;
        } else if (is(c, "serial") || is(c, "console")) {
            s->console = VM_CONSOLE_SERIAL;
            if (is(c, "serial") && !s->console_log)
                s->console_log = get(a, child(c, "log"), "file");
        }
    }
    domain_held(a, devs, out);
    domain_unmodeled(a, r, &out->un);
    out->vm = vm;
    xmlFreeDoc(doc);
    return 0;
}

/* "10.77.0.1" + prefix 24 -> "10.77.0.0/24" (the schema's normal form). */
static const char *cidr_of(struct arena *a, const char *addr, uint64_t prefix)
{
    struct check_ip ip;
    if (!addr || check_ip(addr, &ip))
        return NULL;
    unsigned bits = ip.family == 4 ? 32 : 128;
    if (prefix > bits)
        return NULL;
    for (unsigned i = (unsigned)prefix; i < bits; i++)
        ip.a[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    char buf[64];
    check_ip_format(&ip, buf, sizeof(buf));
    return arena_printf(a, "%s/%u", buf, (unsigned)prefix);
}

/* "255.255.255.0" -> 24 */
static bool netmask_prefix(const char *mask, uint64_t *out)
{
    struct check_ip ip;
    if (!mask || check_ip(mask, &ip) || ip.family != 4)
        return false;
    uint64_t n = 0;
    for (int i = 0; i < 32 && (ip.a[i / 8] & (0x80u >> (i % 8))); i++)
        n++;
    *out = n;
    return true;
}

/* Everything of a network's XML the model does not hold; `ip` is the
 * <ip> element the model reads. */
static void network_unmodeled(struct arena *a, const xmlNode *r, const xmlNode *ip,
                              struct virtxml_unmodeled *u)
{
    static const char *const top[] = { "name", "uuid", "metadata", "forward", "bridge", "mac",
                                       "ip", NULL };
    extra_children(a, u, r, top, NULL);
    xmlNodePtr fwd = child(r, "forward");
    static const char *const modes[] = { "nat", "bridge", NULL };
    if (fwd && !attr_in(fwd, "mode", modes))
        unmodeled(a, u, true, "forward mode '%s'", get(a, fwd, "mode"));
    if (fwd && !attr_in(fwd, "dev", no_values))
        unmodeled(a, u, false, "forward dev '%s'", get(a, fwd, "dev"));
    for (xmlNodePtr c = fwd ? fwd->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        /* libvirt writes the default port range of a nat network out */
        xmlNodePtr port = child(c, "port");
        static const char *const lo[] = { "1024", NULL }, *const hi[] = { "65535", NULL };
        bool dflt = is(c, "nat") && !child(c, "address") && !child(c, "ipv6") &&
                    (!port || (attr_in(port, "start", lo) && attr_in(port, "end", hi)));
        if (!dflt)
            unmodeled(a, u, false, "forward <%s>", (const char *)c->name);
    }
    for (xmlNodePtr c = r->children; c; c = c->next) {
        if (!is(c, "ip") || c == ip)
            continue;
        const char *fam = get(a, c, "family"), *addr = get(a, c, "address");
        unmodeled(a, u, false, "%s address '%s'",
                  fam && strcmp(fam, "ipv6") == 0 ? "IPv6" : "another IPv4", addr ? addr : "");
    }
    static const char *const ip_known[] = { "dhcp", NULL };
    extra_children(a, u, ip, ip_known, "ip");
    xmlNodePtr dhcp = child(ip, "dhcp");
    size_t ranges = 0;
    for (xmlNodePtr c = dhcp ? dhcp->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is(c, "range")) {
            if (ranges++)
                unmodeled(a, u, true, "a second DHCP range %s-%s", get(a, c, "start"),
                          get(a, c, "end"));
            extra_children(a, u, c, no_values, "DHCP range");
        } else if (is(c, "host")) {
            if (!get(a, c, "mac"))
                unmodeled(a, u, true, "a DHCP host entry without a MAC address (%s)",
                          get(a, c, "ip") ? get(a, c, "ip") : get(a, c, "name"));
        } else {
            unmodeled(a, u, false, "dhcp <%s>", (const char *)c->name);
        }
    }
}

int virtxml_network_decode(struct arena *a, const char *xml, struct virtxml_network *out,
                           char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    xmlDocPtr doc = parse(xml, "network", err, errlen);
    if (!doc)
        return -1;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    struct model_network *net = arena_alloc(a, sizeof(*net));
    struct net_spec *s = &net->spec;
    set_meta(a, &net->obj, MODEL_NETWORK, "Network", get(a, child(r, "name"), NULL));
    s->hdr.set = true;
    out->uuid = get(a, child(r, "uuid"), NULL);
    read_mark(a, child(r, "metadata"), &out->mark);

    const char *fwd = get(a, child(r, "forward"), "mode");
    if (!child(r, "forward"))
        s->mode = NET_MODE_ISOLATED;
    else if (!fwd || strcmp(fwd, "nat") == 0)
        s->mode = NET_MODE_NAT;
    else if (strcmp(fwd, "bridge") == 0)
        s->mode = NET_MODE_BRIDGE;
    else
        s->mode = NET_MODE_NAT;   /* route, open...: compared as nat, differs by cidr */
    s->bridge = get(a, child(r, "bridge"), "name");

    xmlNodePtr ip = NULL;
    for (xmlNodePtr c = r->children; c; c = c->next) {
        if (!is(c, "ip"))
            continue;
        const char *fam = get(a, c, "family");
        if (!fam || strcmp(fam, "ipv4") == 0) {
            ip = c;
            break;
        }
    }
    if (ip) {
        uint64_t prefix;
        const char *addr = get(a, ip, "address");
        if (!get_u64(ip, "prefix", &prefix) && !netmask_prefix(get(a, ip, "netmask"), &prefix))
            prefix = 24;
        s->cidr = cidr_of(a, addr, prefix);
        s->gateway = addr;
        xmlNodePtr dhcp = child(ip, "dhcp");
        xmlNodePtr range = child(dhcp, "range");
        if (range) {
            s->dhcp.hdr.set = true;
            s->dhcp.start = get(a, range, "start");
            s->dhcp.end = get(a, range, "end");
        }
        size_t nh = 0;
        for (xmlNodePtr c = dhcp ? dhcp->children : NULL; c; c = c->next)
            nh += is(c, "host");
        out->hosts = arena_alloc(a, (nh ? nh : 1) * sizeof(*out->hosts));
        for (xmlNodePtr c = dhcp ? dhcp->children : NULL; c; c = c->next) {
            if (!is(c, "host"))
                continue;
            struct virtxml_dhcp_host *h = &out->hosts[out->nhosts++];
            h->mac = get(a, c, "mac");
            h->ip = get(a, c, "ip");
            h->name = get(a, c, "name");
        }
    }
    network_unmodeled(a, r, ip, &out->un);
    out->net = net;
    xmlFreeDoc(doc);
    return 0;
}

int virtxml_pool_decode(struct arena *a, const char *xml, struct virtxml_pool *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    xmlDocPtr doc = parse(xml, "pool", err, errlen);
    if (!doc)
        return -1;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    struct model_pool *p = arena_alloc(a, sizeof(*p));
    set_meta(a, &p->obj, MODEL_POOL, "Pool", get(a, child(r, "name"), NULL));
    p->spec.hdr.set = true;
    out->uuid = get(a, child(r, "uuid"), NULL);
    out->type = get(a, r, "type");
    p->spec.type = POOL_TYPE_DIR;
    p->spec.path = get(a, child(child(r, "target"), "path"), NULL);
    out->pool = p;
    xmlFreeDoc(doc);
    return 0;
}

int virtxml_volume_decode(struct arena *a, const char *xml, struct virtxml_volume *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    xmlDocPtr doc = parse(xml, "volume", err, errlen);
    if (!doc)
        return -1;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    struct model_disk *d = arena_alloc(a, sizeof(*d));
    set_meta(a, &d->obj, MODEL_DISK, "Disk", get(a, child(r, "name"), NULL));
    d->spec.hdr.set = true;
    get_bytes(child(r, "capacity"), &d->spec.size);
    xmlNodePtr tg = child(r, "target");
    const char *fmt = get(a, child(tg, "format"), "type");
    d->spec.format = fmt && strcmp(fmt, "qcow2") == 0 ? DISK_FORMAT_QCOW2 : DISK_FORMAT_RAW;
    if (fmt && enum_index(schema_values_disk_format, fmt, -1) < 0)
        unmodeled(a, &out->un, true, "format '%s'", fmt);
    out->path = get(a, child(tg, "path"), NULL);
    out->backing = get(a, child(child(r, "backingStore"), "path"), NULL);
    if (out->backing)
        unmodeled(a, &out->un, false, "backing file '%s'", out->backing);
    out->disk = d;
    xmlFreeDoc(doc);
    return 0;
}

/* ------------------------------------------------------------------ */
/* writing                                                             */

static xmlNodePtr add(xmlNodePtr parent, const char *name, const char *text)
{
    return xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

static void attr(xmlNodePtr n, const char *name, const char *value)
{
    if (value)
        xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void attr_u64(xmlNodePtr n, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    attr(n, name, buf);
}

static xmlNodePtr add_u64(xmlNodePtr parent, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return add(parent, name, buf);
}

static char *dump_node(xmlNodePtr n)
{
    xmlBufferPtr buf = xmlBufferCreate();
    if (!buf)
        abort();
    xmlNodeDump(buf, n->doc, n, 0, 0);
    char *s = xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return s;
}

static char *finish(xmlDocPtr doc)
{
    char *s = dump_node(xmlDocGetRootElement(doc));
    xmlFreeDoc(doc);
    return s;
}

static xmlNodePtr new_root(xmlDocPtr *doc, const char *name)
{
    *doc = xmlNewDoc((const xmlChar *)"1.0");
    if (!*doc)
        abort();
    xmlNodePtr r = xmlNewNode(NULL, (const xmlChar *)name);
    xmlDocSetRootElement(*doc, r);
    return r;
}

static void mark_attrs(xmlNodePtr n, const struct virtxml_mark *m)
{
    if (m->project)
        attr(n, "project", m->project);
    attr(n, "kind", m->kind);
    attr(n, "name", m->name);
    if (m->uuid)
        attr(n, "uuid", m->uuid);
    if (m->seed)
        attr(n, "seed", m->seed);
    if (m->placement)
        attr(n, "placement", m->placement);
    attr(n, "hash", m->hash);
    attr(n, "source", m->source ? m->source : "");
    attr(n, "commit", m->commit ? m->commit : "");
    for (size_t i = 0; i < m->labels.n; i++) {
        xmlNodePtr l = xmlNewChild(n, n->ns, (const xmlChar *)"label", NULL);
        attr(l, "key", m->labels.v[i].key);
        attr(l, "value", m->labels.v[i].value);
    }
}

static void add_mark(xmlNodePtr parent, const struct virtxml_mark *m)
{
    if (!m || !m->kind)
        return;
    xmlNodePtr md = add(parent, "metadata", NULL);
    xmlNodePtr res = xmlNewChild(md, NULL, (const xmlChar *)"resource", NULL);
    xmlNsPtr ns = xmlNewNs(res, (const xmlChar *)VIRTXML_NS, (const xmlChar *)VIRTXML_NS_PREFIX);
    xmlSetNs(res, ns);
    mark_attrs(res, m);
}

char *virtxml_mark_encode(const struct virtxml_mark *m)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "resource");
    mark_attrs(r, m);
    return finish(doc);
}

void virtxml_target_name(enum vm_bus bus, size_t index, char *buf, size_t size)
{
    const char *prefix = bus == VM_BUS_VIRTIO ? "vd" : bus == VM_BUS_IDE ? "hd" : "sd";
    /* bijective base 26, like libvirt's virIndexToDiskName: after z comes
     * aa (not ba), after zz comes aaa */
    char letters[16];
    size_t n = 0, i = index + 1;
    while (i > 0 && n < sizeof(letters)) {
        i--;
        letters[sizeof(letters) - 1 - n++] = (char)('a' + i % 26);
        i /= 26;
    }
    snprintf(buf, size, "%s%.*s", prefix, (int)n, letters + sizeof(letters) - n);
}

void virtxml_disk_targets(const struct vm_disks *disks, char (*target)[16])
{
    size_t vd = 0, hd = 0, sd = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < disks->n; i++) {
            enum vm_bus bus = disks->v[i].bus;
            if ((bus == VM_BUS_SCSI) != (pass == 1))
                continue;
            size_t index = bus == VM_BUS_VIRTIO ? vd++ : bus == VM_BUS_IDE ? hd++ : sd++;
            virtxml_target_name(bus, index, target[i], sizeof(target[i]));
        }
}

static void disk_element(xmlNodePtr devs, const struct model *desired,
                         const struct vm_disk *d, const char *target)
{
    const struct model_disk *disk =
        (const struct model_disk *)model_find(desired, MODEL_DISK, d->disk);
    xmlNodePtr e = add(devs, "disk", NULL);
    attr(e, "type", "volume");
    attr(e, "device", "disk");
    xmlNodePtr drv = add(e, "driver", NULL);
    attr(drv, "name", "qemu");
    attr(drv, "type", disk && disk->spec.format == DISK_FORMAT_RAW ? "raw" : "qcow2");
    xmlNodePtr src = add(e, "source", NULL);
    attr(src, "pool", disk ? disk->spec.pool : "");
    attr(src, "volume", d->disk);
    xmlNodePtr tg = add(e, "target", NULL);
    attr(tg, "dev", target);
    attr(tg, "bus", schema_values_vm_bus[d->bus]);
    if (d->boot)
        attr_u64(add(e, "boot", NULL), "order", (uint64_t)d->boot);
}

static void nic_element(xmlNodePtr devs, const struct vm_nic *n)
{
    xmlNodePtr e = add(devs, "interface", NULL);
    attr(e, "type", "network");
    attr(add(e, "mac", NULL), "address", n->mac);
    attr(add(e, "source", NULL), "network", n->network);
    attr(add(e, "model", NULL), "type", schema_values_vm_nic_model[n->model]);
}

char *virtxml_domain_encode(const struct model *desired, const struct model_vm *vm,
                            const char *uuid, const struct virtxml_mark *mark)
{
    const struct vm_spec *s = &vm->spec;
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "domain");
    attr(r, "type", s->accel == VM_ACCEL_KVM ? "kvm" : "qemu");
    add(r, "name", vm->obj.meta.name);
    if (uuid)
        add(r, "uuid", uuid);
    add_mark(r, mark);
    attr(add_u64(r, "memory", s->max_memory / 1024), "unit", "KiB");
    attr(add_u64(r, "currentMemory", s->memory / 1024), "unit", "KiB");
    xmlNodePtr vcpu = add_u64(r, "vcpu", (uint64_t)s->max_cpus);
    attr(vcpu, "placement", "static");
    if (s->cpus != s->max_cpus)
        attr_u64(vcpu, "current", (uint64_t)s->cpus);
    xmlNodePtr os = add(r, "os", NULL);
    if (s->firmware == VM_FIRMWARE_UEFI)
        attr(os, "firmware", "efi");
    xmlNodePtr type = add(os, "type", "hvm");
    attr(type, "arch", "x86_64");
    attr(type, "machine", s->machine);
    if (s->boot.hdr.set && s->boot.kernel) {
        add(os, "kernel", s->boot.kernel);
        if (s->boot.initrd)
            add(os, "initrd", s->boot.initrd);
        if (s->boot.cmdline)
            add(os, "cmdline", s->boot.cmdline);
    }
    xmlNodePtr feat = add(r, "features", NULL);
    add(feat, "acpi", NULL);
    add(r, "on_poweroff", "destroy");
    add(r, "on_reboot", "restart");
    add(r, "on_crash", "destroy");
    xmlNodePtr devs = add(r, "devices", NULL);
    /* Names per prefix: sata and scsi disks are both sdX, so they share
     * one count, sata first (libvirt puts sdX on controller X / 6 of sata:
     * this keeps the sata disks on the first controller). Disks are
     * written in their declared order whatever their names. */
    char (*target)[16] = xmalloc((s->disks.n ? s->disks.n : 1) * sizeof(*target));
    virtxml_disk_targets(&s->disks, target);
    for (size_t i = 0; i < s->disks.n; i++)
        disk_element(devs, desired, &s->disks.v[i], target[i]);
    free(target);
    const char *seed_pool = model_seed_pool(desired, vm);
    if (s->cloud_init.hdr.set && seed_pool) {
        /* a read-only cdrom on the machine's own controller: IDE on a pc
         * machine, SATA on q35; its name follows the declared disks of
         * that bus */
        bool q35 = s->machine && (strcmp(s->machine, "q35") == 0 ||
                                  strncmp(s->machine, "pc-q35-", 7) == 0);
        enum vm_bus bus = q35 ? VM_BUS_SATA : VM_BUS_IDE;
        size_t used = 0;
        for (size_t i = 0; i < s->disks.n; i++)
            used += s->disks.v[i].bus == bus ||
                    (bus == VM_BUS_SATA && s->disks.v[i].bus == VM_BUS_SCSI);
        char tname[16], vol[160];
        virtxml_target_name(bus, used, tname, sizeof(tname));
        model_seed_volume(vm->obj.meta.name, vol, sizeof(vol));
        xmlNodePtr e = add(devs, "disk", NULL);
        attr(e, "type", "volume");
        attr(e, "device", "cdrom");
        xmlNodePtr drv = add(e, "driver", NULL);
        attr(drv, "name", "qemu");
        attr(drv, "type", "raw");
        xmlNodePtr src = add(e, "source", NULL);
        attr(src, "pool", seed_pool);
        attr(src, "volume", vol);
        xmlNodePtr tg = add(e, "target", NULL);
        attr(tg, "dev", tname);
        attr(tg, "bus", schema_values_vm_bus[bus]);
        add(e, "readonly", NULL);
    }
    for (size_t i = 0; i < s->nics.n; i++)
        nic_element(devs, &s->nics.v[i]);
    if (s->console == VM_CONSOLE_SERIAL) {
        xmlNodePtr ser = add(devs, "serial", NULL);
        attr(ser, "type", "pty");
        if (s->console_log) {
            xmlNodePtr log = add(ser, "log", NULL);
            attr(log, "file", s->console_log);
            attr(log, "append", "off");
        }
        attr(add(devs, "console", NULL), "type", "pty");
    }
    if (s->graphics != VM_GRAPHICS_NONE) {
        xmlNodePtr g = add(devs, "graphics", NULL);
        attr(g, "type", s->graphics == VM_GRAPHICS_VNC ? "vnc" : "spice");
        attr(g, "autoport", "yes");
        attr(g, "listen", "127.0.0.1");
    }
    return finish(doc);
}

char *virtxml_disk_encode(const struct model *desired, const struct vm_disk *d,
                          const char *target)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "devices");
    disk_element(r, desired, d, target);
    char *s = dump_node(r->children);
    xmlFreeDoc(doc);
    return s;
}

char *virtxml_nic_encode(const struct vm_nic *nic)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "devices");
    nic_element(r, nic);
    char *s = dump_node(r->children);
    xmlFreeDoc(doc);
    return s;
}

static void host_element(xmlNodePtr dhcp, const struct virtxml_dhcp_host *h)
{
    xmlNodePtr e = add(dhcp, "host", NULL);
    attr(e, "mac", h->mac);
    attr(e, "name", h->name);
    attr(e, "ip", h->ip);
}

char *virtxml_network_encode(const struct model_network *net,
                             const struct virtxml_dhcp_host *hosts, size_t nhosts,
                             const struct virtxml_mark *mark)
{
    const struct net_spec *s = &net->spec;
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "network");
    add(r, "name", net->obj.meta.name);
    if (mark && mark->uuid)
        add(r, "uuid", mark->uuid);
    add_mark(r, mark);
    if (s->mode == NET_MODE_NAT) {
        attr(add(r, "forward", NULL), "mode", "nat");
    } else if (s->mode == NET_MODE_BRIDGE) {
        attr(add(r, "forward", NULL), "mode", "bridge");
    }
    if (s->bridge)
        attr(add(r, "bridge", NULL), "name", s->bridge);
    if (s->mode != NET_MODE_BRIDGE && s->cidr) {
        struct check_ip ip;
        unsigned prefix = 0;
        if (!check_cidr(s->cidr, &ip, &prefix)) {
            xmlNodePtr e = add(r, "ip", NULL);
            attr(e, "address", s->gateway);
            attr_u64(e, "prefix", prefix);
            if (s->dhcp.hdr.set || nhosts) {
                xmlNodePtr dhcp = add(e, "dhcp", NULL);
                if (s->dhcp.hdr.set && s->dhcp.start) {
                    xmlNodePtr range = add(dhcp, "range", NULL);
                    attr(range, "start", s->dhcp.start);
                    attr(range, "end", s->dhcp.end);
                }
                for (size_t i = 0; i < nhosts; i++)
                    host_element(dhcp, &hosts[i]);
            }
        }
    }
    return finish(doc);
}

char *virtxml_dhcp_host_encode(const struct virtxml_dhcp_host *h)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "dhcp");
    host_element(r, h);
    char *s = dump_node(r->children);
    xmlFreeDoc(doc);
    return s;
}

char *virtxml_pool_encode(const struct model_pool *pool, const char *uuid)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "pool");
    attr(r, "type", "dir");
    add(r, "name", pool->obj.meta.name);
    if (uuid)
        add(r, "uuid", uuid);
    add(add(r, "target", NULL), "path", pool->spec.path);
    return finish(doc);
}

char *virtxml_volume_encode(const struct model_disk *disk, const char *backing,
                            const char *backing_format)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "volume");
    add(r, "name", disk->obj.meta.name);
    attr(add_u64(r, "capacity", disk->spec.size), "unit", "bytes");
    xmlNodePtr tg = add(r, "target", NULL);
    attr(add(tg, "format", NULL), "type",
         disk->spec.format == DISK_FORMAT_RAW ? "raw" : "qcow2");
    if (backing) {
        xmlNodePtr b = add(r, "backingStore", NULL);
        add(b, "path", backing);
        attr(add(b, "format", NULL), "type", backing_format);
    }
    return finish(doc);
}

char *virtxml_volume_encode_plain(const char *name, uint64_t bytes, const char *format)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "volume");
    add(r, "name", name);
    attr(add_u64(r, "capacity", bytes), "unit", "bytes");
    attr(add_u64(r, "allocation", 0), "unit", "bytes");
    attr(add(add(r, "target", NULL), "format", NULL), "type", format);
    return finish(doc);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_parser(void)
{
    xmlInitParser();
}

void virtxml_init(void)
{
    pthread_once(&init_once, init_parser);
}
