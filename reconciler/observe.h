/* observe.h — what one libvirt host really runs, as model structs.
 *
 * One pass: list every domain, network and storage pool (bulk), fetch each
 * object's XML once, list each active pool's volumes, decode all of it with
 * virtxml into the model's own structs. On a local daemon it also lists the
 * directories of pools qkvm manages (files libvirt does not know), checks
 * that every domain's disk file exists, and looks for qemu processes of the
 * daemon that no domain accounts for. No guest agent is ever asked anything.
 *
 * A running domain is observed through its live XML and its persistent XML
 * (two calls per domain): a change made to the definition alone (virsh ...
 * --config) is drift too, and a pending restart is told from a change not
 * yet applied. A paused domain's reason costs one more call.
 */
#ifndef QKVM_OBSERVE_H
#define QKVM_OBSERVE_H

#include "model.h"
#include "virtxml.h"

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct owned;
struct virt;

struct obs_domain {
    const char *name;
    struct model_vm *vm;          /* the live definition, or the persistent one */
    struct model_vm *config;      /* persistent definition of a running domain, if fetched */
    struct virtxml_disk_src *src; /* per vm->spec.disks entry */
    const char *seed_pool, *seed_volume; /* its cloud-init seed cdrom (live, else the
                                   * definition's), or NULL */
    const char *seed_target;      /* the cdrom's target (hda, sdc...), or NULL */
    const char **held;            /* what else it reads (virtxml_domain.held), of the
                                   * live XML and, when fetched, the definition */
    size_t nheld;
    const char **disk_path;       /* per disk: the file, NULL when unknown */
    bool *disk_missing;           /* per disk: the file does not exist */
    struct virtxml_mark mark;
    const char *uuid;
    bool active, paused, persistent;
    const char *paused_why;       /* libvirt's reason, in words, when paused */
    bool paused_ioerror;          /* paused by an I/O error: resuming fixes nothing */
    bool starting_up;             /* "paused (starting up)": on its way to running */
    struct virtxml_unmodeled un;  /* of vm's XML (see virtxml.h) */
    struct virtxml_unmodeled config_un; /* of config's XML */
};

struct obs_network {
    const char *name;
    struct model_network *net;
    struct virtxml_mark mark;
    const char *uuid;
    struct virtxml_dhcp_host *hosts;
    size_t nhosts;
    bool active, autostart;
    struct virtxml_unmodeled un;
};

struct owned_entry;

struct obs_volume {
    const char *name;
    struct model_disk *disk;      /* spec.pool is the pool's name */
    const char *path;
    /* The ownership record of pool UUID + name, NULL when there is none or
     * when the file is not the one qkvm created (replaced set: deleted and
     * re-created by hand under the same name, told by inode and birth time
     * on a local host). */
    const struct owned_entry *rec;
    bool replaced;
    bool unverified;              /* recorded with a file identity that cannot be read
                                   * here (a remote host, an unreadable file): never
                                   * deleted on the record alone */
    const char *backing;          /* the file this volume is an overlay of, or NULL */
    const char *marked;           /* no record: the project its file is marked for */
    struct virtxml_unmodeled un;
};

struct obs_pool {
    const char *name;
    struct model_pool *pool;
    const char *uuid, *type;
    bool active, autostart;
    const struct owned_entry *rec;/* the ownership record of its UUID, or NULL */
    const char *marked;           /* no record: the project its directory is marked for */
    struct obs_volume *vols;
    size_t nvols;
    const char **stray_files;     /* files in the directory libvirt does not know */
    size_t nstray_files;
};

struct obs_process {
    int pid;
    const char *name, *uuid;      /* from qemu's -name guest=... and -uuid */
};

struct obs_lease {
    const char *network, *mac, *ip;   /* ip with its prefix: 10.0.0.5/24 */
};

struct obs_host {
    struct arena *arena;
    const char *uri;
    bool local;                   /* the daemon's files can be read here (see root) */
    const char *root;             /* "" when the daemon sees the files as this process
                                   * does; "/proc/PID/root" when it runs in a mount
                                   * namespace of its own (a container, a test bed node):
                                   * its paths are read through it */
    struct obs_domain *doms;
    size_t ndoms;
    struct obs_network *nets;
    size_t nnets;
    struct obs_pool *pools;
    size_t npools;
    struct obs_process *strays;   /* qemu processes no domain accounts for */
    size_t nstrays;
    unsigned long calls;          /* libvirt calls made to observe */
    bool partial;                 /* observe_only: those domains alone, nothing else */
    struct obs_lease *leases;     /* after observe_leases: IPv4 leases of active networks */
    size_t nleases;
};

enum { OBSERVE_DEEP = 1 };

/* Observe the host behind v. `desired` (may be NULL) decides which
 * persistent definitions are worth fetching and which pool directories are
 * managed; `own` says which pools and volumes are qkvm's. NULL with err on
 * failure (nothing partial is returned). */
struct obs_host *observe_host(struct virt *v, const struct model *desired,
                              const struct owned *own, unsigned flags, char *err,
                              size_t errlen);
/* The domains named (those that exist) and nothing else: no networks,
 * pools, files or processes (so no disk file is found missing), for a
 * plan of those VMs alone (plan_opts.only). What a domain event names is
 * checked this way in a few calls instead of one observation of the host.
 * NULL with err on failure. */
struct obs_host *observe_only(struct virt *v, const struct model *desired,
                              const char *const *names, size_t n, char *err, size_t errlen);
void observe_free(struct obs_host *h);            /* accepts NULL */
/* Read the DHCP leases of every active network (one call each, not one
 * per domain) into h->leases, for the addresses `get` shows. A network
 * that cannot be read is skipped. */
void observe_leases(struct virt *v, struct obs_host *h);
/* The lease of a MAC (any case), or NULL. */
const struct obs_lease *observe_lease(const struct obs_host *h, const char *mac);

const struct obs_domain *observe_domain(const struct obs_host *h, const char *name);
const struct obs_network *observe_network(const struct obs_host *h, const char *name);
const struct obs_pool *observe_pool(const struct obs_host *h, const char *name);
/* Where this process reads a path of the daemon's: path itself, or
 * through h->root (into buf). */
const char *observe_host_path(const struct obs_host *h, const char *path, char *buf,
                              size_t size);
const struct obs_volume *observe_volume(const struct obs_pool *p, const char *name);
/* The first domain (a running one, with active_only) whose disk is volume
 * `vol` of pool `p`, named as pool/volume or by its file; *disk gets the
 * disk's index. NULL when no domain uses it. */
/* Is one of domain d's disks volume `vol` of pool `p` (by pool/volume, or
 * by its file)? *disk gets its index. */
bool observe_uses_volume(const struct obs_domain *d, const struct obs_pool *p,
                         const struct obs_volume *vol, size_t *disk);
/* Does domain d read volume `vol` of pool `p` other than as a modelled
 * disk: a cdrom or floppy, or a file of some disk's backing chain? */
bool observe_holds_volume(const struct obs_domain *d, const struct obs_pool *p,
                          const struct obs_volume *vol);
const struct obs_domain *observe_volume_user(const struct obs_host *h, const struct obs_pool *p,
                                             const struct obs_volume *vol, bool active_only,
                                             size_t *disk);

#endif
