/* virtxml.c — libvirt's XML and the model, both ways. See virtxml.h. */
#include "virtxml.h"

#include "arena.h"
#include "check.h"
#include "schema.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <errno.h>
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
            if (dev && strcmp(dev, "disk") != 0)
                continue;
            struct vm_disk *d = &s->disks.v[s->disks.n];
            struct virtxml_disk_src *src = &out->src[s->disks.n++];
            d->hdr.set = true;
            xmlNodePtr so = child(c, "source");
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
            n->model = enum_index(schema_values_vm_nic_model, get(a, child(c, "model"), "type"), -1);
            if (n->model < 0)
                n->model = VM_NIC_VIRTIO;
        } else if (is(c, "graphics")) {
            const char *g = get(a, c, "type");
            if (g && strcmp(g, "vnc") == 0)
                s->graphics = VM_GRAPHICS_VNC;
            else if (g && strcmp(g, "spice") == 0)
                s->graphics = VM_GRAPHICS_SPICE;
        } else if (is(c, "serial") || is(c, "console")) {
            s->console = VM_CONSOLE_SERIAL;
        }
    }
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
    out->path = get(a, child(tg, "path"), NULL);
    out->backing = get(a, child(child(r, "backingStore"), "path"), NULL);
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
    size_t vd = 0, hd = 0, sd = 0;
    char (*target)[16] = xmalloc((s->disks.n ? s->disks.n : 1) * sizeof(*target));
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s->disks.n; i++) {
            enum vm_bus bus = s->disks.v[i].bus;
            if ((bus == VM_BUS_SCSI) != (pass == 1))
                continue;
            size_t index = bus == VM_BUS_VIRTIO ? vd++ : bus == VM_BUS_IDE ? hd++ : sd++;
            virtxml_target_name(bus, index, target[i], sizeof(target[i]));
        }
    for (size_t i = 0; i < s->disks.n; i++)
        disk_element(devs, desired, &s->disks.v[i], target[i]);
    free(target);
    for (size_t i = 0; i < s->nics.n; i++)
        nic_element(devs, &s->nics.v[i]);
    if (s->console == VM_CONSOLE_SERIAL) {
        attr(add(devs, "serial", NULL), "type", "pty");
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

char *virtxml_volume_encode(const struct model_disk *disk)
{
    xmlDocPtr doc;
    xmlNodePtr r = new_root(&doc, "volume");
    add(r, "name", disk->obj.meta.name);
    attr(add_u64(r, "capacity", disk->spec.size), "unit", "bytes");
    xmlNodePtr tg = add(r, "target", NULL);
    attr(add(tg, "format", NULL), "type",
         disk->spec.format == DISK_FORMAT_RAW ? "raw" : "qcow2");
    return finish(doc);
}
