/* virtxml.h — libvirt's XML and the model, both ways (the only libxml2 user).
 *
 * Decoding turns domain, network, pool and volume XML into the very structs
 * manifests decode into (model.h), with the same derived values (a VM's
 * maxCpus/maxMemory, a network's gateway), so that diff compares like with
 * like. Only what the schema describes is read; everything libvirt adds on
 * its own (controllers, PCI addresses, a network's MAC, a bridge name qkvm
 * did not ask for) is left out and never compared.
 *
 * Encoding builds XML with libxml2's tree API, never by pasting strings.
 * Names of libvirt objects are the manifest names: a Disk is the volume of
 * the same name in its Pool; domain disks refer to volumes as
 * <source pool= volume=>, so the mapping back is exact.
 *
 * Strings returned by decoders live in the arena; encoders return malloc'd
 * text the caller frees.
 */
#ifndef QKVM_VIRTXML_H
#define QKVM_VIRTXML_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

#define VIRTXML_NS "https://qkvm.dev/xmlns/1"
#define VIRTXML_NS_PREFIX "qkvm"

/* The ownership mark: <qkvm:resource project= kind= name= uuid= hash= source=
 * commit=/>. kind is NULL when the object carries no mark element at all
 * ("" when the element has no kind). project and uuid are NULL in marks
 * written before projects existed (those belong to project "default" and
 * bind to no UUID). Whether a mark makes an object qkvm's is decided by
 * plan.c (plan_owner), never here: a mark proves nothing until its kind,
 * name and UUID are checked against the object that carries it. */
struct virtxml_mark {
    const char *kind, *name, *hash, *source, *commit;
    const char *project, *uuid;
    struct model_labels labels;  /* <qkvm:label key= value=/> children: as last declared */
    const char *seed;            /* a domain's cloud-init seed digest (seed=), or NULL */
    const char *placement;       /* a domain's: why placement put it on its node, or NULL */
};

/* Where a domain disk's data is: a pool volume, or a plain file. */
struct virtxml_disk_src {
    const char *pool, *volume, *file;
    const char *target;          /* vda, sdb... */
    const char *type;            /* <disk type=>: volume, file, block, network... */
    const char *driver;          /* <driver type=> as written (qcow2, raw), or NULL */
};

/* What a decoder met that the model does not hold, as short phrases
 * naming it ("disk 'sdb' on bus 'usb'", "<hostdev>"). plan and diff never
 * look at them; `qkvm import` does:
 *   misread  a value of a modelled field the schema has no word for, which
 *            the decoder read as something else (an interface of type
 *            'bridge', a NIC without a model, a volume of format 'vmdk'): a
 *            manifest written from the model would change it;
 *   extra    what the model leaves out and libvirt does not add by itself
 *            (a cdrom, a <channel>, <cpu mode='host-passthrough'>, a
 *            backing file): qkvm neither writes nor compares it, so a
 *            definition qkvm writes (adopting, updating) goes without it.
 * What libvirt adds to every domain qkvm defines (controllers, ps2 input,
 * the memory balloon, the default CPU model...) is in neither list. */
struct virtxml_unmodeled {
    const char **misread, **extra;
    size_t nmisread, nextra;
};

struct virtxml_domain {
    struct model_vm *vm;         /* disks[i].disk is the volume name, or the file path */
    struct virtxml_disk_src *src;/* one per vm->spec.disks entry */
    /* the cloud-init seed cdrom (a volume NAME.cidata.iso), or NULLs; its
     * presence sets vm->spec.cloud_init.hdr.set, the mark's seed= gives
     * vm->spec.cloud_init.digest */
    const char *seed_pool, *seed_volume, *seed_target;
    /* what else the domain reads: disks the model leaves out (a cdrom, a
     * floppy) as "POOL/VOLUME" or a file, and every file of every disk's
     * backing chain (<backingStore><source file=>): a volume named here is
     * in use, whatever the model says */
    const char **held;
    size_t nheld;
    struct virtxml_mark mark;
    const char *uuid;
    bool active;                 /* the XML has an id (a running domain) */
    struct virtxml_unmodeled un;
};

struct virtxml_dhcp_host {
    const char *mac, *ip, *name;
};

struct virtxml_network {
    struct model_network *net;
    struct virtxml_mark mark;
    const char *uuid;
    struct virtxml_dhcp_host *hosts;
    size_t nhosts;
    struct virtxml_unmodeled un;
};

struct virtxml_pool {
    struct model_pool *pool;     /* NULL fields for types qkvm does not model */
    const char *uuid;
    const char *type;            /* libvirt's pool type: "dir", "logical"... */
};

struct virtxml_volume {
    struct model_disk *disk;     /* spec.pool is set by the caller */
    const char *path;
    const char *backing;         /* backing file, or NULL */
    struct virtxml_unmodeled un;
};

/* Decoders: 0, or -1 with a message in err. */
int virtxml_domain_decode(struct arena *a, const char *xml, struct virtxml_domain *out,
                          char *err, size_t errlen);
int virtxml_network_decode(struct arena *a, const char *xml, struct virtxml_network *out,
                           char *err, size_t errlen);
int virtxml_pool_decode(struct arena *a, const char *xml, struct virtxml_pool *out,
                        char *err, size_t errlen);
int virtxml_volume_decode(struct arena *a, const char *xml, struct virtxml_volume *out,
                          char *err, size_t errlen);

/* Encoders. `desired` resolves a VM's Disks (pool, format). */
/* uuid: the existing domain's, when redefining it (NULL for a new one). */
char *virtxml_domain_encode(const struct model *desired, const struct model_vm *vm,
                            const char *uuid, const struct virtxml_mark *mark);
/* One <disk> element of vm->spec.disks[i], with target dev `target`. */
char *virtxml_disk_encode(const struct model *desired, const struct vm_disk *d,
                          const char *target);
/* One <interface> element; target_dev may be NULL. */
char *virtxml_nic_encode(const struct vm_nic *nic);
/* The network's <uuid> is mark->uuid when given (chosen by the caller, so
 * the mark can name it before libvirt defines the network). */
char *virtxml_network_encode(const struct model_network *net,
                             const struct virtxml_dhcp_host *hosts, size_t nhosts,
                             const struct virtxml_mark *mark);
char *virtxml_dhcp_host_encode(const struct virtxml_dhcp_host *h);
/* uuid: the pool's UUID, chosen by the caller; NULL lets libvirt choose. */
char *virtxml_pool_encode(const struct model_pool *pool, const char *uuid);
/* backing: the file the volume is a copy-on-write overlay of (NULL: none),
 * in backing_format ("qcow2", "raw"). */
char *virtxml_volume_encode(const struct model_disk *disk, const char *backing,
                            const char *backing_format);
/* A plain volume of `bytes` (an Image's, a seed's), format "raw"/"qcow2". */
char *virtxml_volume_encode_plain(const char *name, uint64_t bytes, const char *format);
/* The mark as the element virDomainSetMetadata takes (no namespace). */
char *virtxml_mark_encode(const struct virtxml_mark *mark);

/* libxml2's global state, once, before threads use it (libxml2 before
 * 2.11 needs xmlInitParser() called first from one thread). */
void virtxml_init(void);

/* The target names qkvm gives a VM's disks (target[i] for disks->v[i]),
 * as virtxml_domain_encode writes them: numbered per prefix in the
 * declared order, sata before scsi on the sd prefix they share. */
void virtxml_disk_targets(const struct vm_disks *disks, char (*target)[16]);

/* The target name of the index-th name of a bus's prefix (vd, sd: sata and
 * scsi share it, hd), as libvirt numbers them: vda..vdz, vdaa..vdzz,
 * vdaaa... (index 0, 25, 26, 701, 702). */
void virtxml_target_name(enum vm_bus bus, size_t index, char *buf, size_t size);

#endif
