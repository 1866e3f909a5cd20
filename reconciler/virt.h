/* virt.h — the libvirt adapter: the only code that calls libvirt.
 *
 * One connection per node. Reads are bulk: one virConnectListAll* per object
 * type, plus one per state filter (active, autostart, transient, and paused
 * for domains), then one XML fetch per object: never a per-object state
 * call. virt_calls() counts every libvirt call made, so the benchmark can
 * hold qkvm to "at most 2 per domain + a constant".
 * Writes name objects by name. Errors carry libvirt's own message, except
 * on a connection that is gone: then they say "lost the connection to
 * 'URI': why", and every later call fails at once.
 */
#ifndef QKVM_VIRT_H
#define QKVM_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct virt;

enum virt_type { VIRT_DOMAIN, VIRT_NETWORK, VIRT_POOL, VIRT_VOLUME };

struct virt_item {
    char *name;
    char *xml;            /* domains: live XML for running ones (flags 0) */
    bool active;          /* running domain, started network or pool */
    bool paused;          /* domains */
    bool persistent;      /* defined, not transient */
    bool autostart;
    void *handle;         /* the libvirt object, for follow-up reads */
};

struct virt_list {
    struct virt_item *v;
    size_t n;
    enum virt_type type;
};

/* How long libvirt may keep qkvm waiting. */
struct virt_limits {
    int connect_timeout_ms;      /* the open; 0: no limit */
    int keepalive_interval;      /* seconds of silence before a keepalive message; 0: none */
    unsigned keepalive_count;    /* unanswered ones in a row that close the connection */
};

/* NULL with the reason in err ("cannot connect to 'URI': ...") when the
 * URI cannot be opened, or nothing answers within lim's connect timeout.
 * With keepalive, a daemon that stops answering is noticed after about
 * interval * (count + 1) seconds, even inside a call: the connection is
 * then lost (see virt_lost). */
struct virt *virt_open(const char *uri, const struct virt_limits *lim, char *err,
                       size_t errlen);
void virt_close(struct virt *v);                 /* accepts NULL */
/* Domain lifecycle events of the connection's host: fn(payload, domain,
 * what happened: "started", "stopped", "crashed", "defined"...) is called
 * in libvirt's event loop thread, so it must only note and wake. When the
 * connection closes (the daemon died, keepalive gave up), fn(payload,
 * NULL, "lost") is called, from whichever thread noticed. 0, or -1 with
 * err. */
typedef void (*virt_event_fn)(void *payload, const char *domain, const char *what);
int virt_watch_domains(struct virt *v, virt_event_fn fn, void *payload, char *err,
                       size_t errlen);
/* Is the connection gone (daemon killed or hung, network down)? Then why,
 * in why: "lost the connection to 'URI': ...". */
bool virt_lost(struct virt *v, char *why, size_t whylen);
unsigned long virt_calls(const struct virt *v);
const char *virt_uri(const struct virt *v);     /* as libvirt reports it */
/* Is the connection to a daemon on this machine (qemu:///system, unix
 * socket)? Then qemu processes and pool directories can be inspected. */
bool virt_is_local(const struct virt *v);
/* The daemon's PID through the unix socket's peer credentials; 0 when
 * unknown (remote, or not a unix socket). */
int virt_daemon_pid(const struct virt *v);

/* The host's CPUs and memory (bytes), as virNodeGetInfo gives them. */
int virt_node_info(struct virt *v, int64_t *cpus, uint64_t *memory, char *err, size_t errlen);

/* Measured CPU use of the running domains: two calls of
 * virConnectGetAllDomainStats (the bulk stats' CPU group, cpu.time)
 * interval_ms apart, each domain's cpu.time delta over the time between
 * them (1.0: one host CPU kept busy). *measured is false when the driver
 * gives no cpu.time (libvirt's test driver gives the state group only);
 * with no running domain it is true, and the use 0. */
struct virt_cpu_use {
    char *name;
    double cpus;
};
int virt_cpu_use(struct virt *v, int interval_ms, struct virt_cpu_use **out, size_t *n,
                 bool *measured, char *err, size_t errlen);
void virt_cpu_use_free(struct virt_cpu_use *u, size_t n);

/* Lists (0, or -1 with err): */
int virt_list_domains(struct virt *v, struct virt_list *out, char *err, size_t errlen);
/* The domains named in want that exist, as virt_list_domains lists them
 * (live XML, state): six calls each, not one listing of every domain. A
 * name no domain has (or one undefined meanwhile) is left out. */
int virt_get_domains(struct virt *v, const char *const *want, size_t n, struct virt_list *out,
                     char *err, size_t errlen);
int virt_list_networks(struct virt *v, struct virt_list *out, char *err, size_t errlen);
/* The IPv4 DHCP leases of network `name` (dnsmasq's, one call). */
struct virt_lease {
    char *mac, *ip;
    unsigned prefix;
    long long expiry;             /* seconds since the epoch */
};
int virt_network_leases(struct virt *v, const char *name, struct virt_lease **out, size_t *n,
                        char *err, size_t errlen);
void virt_leases_free(struct virt_lease *l, size_t n);
int virt_list_pools(struct virt *v, struct virt_list *out, char *err, size_t errlen);
int virt_list_volumes(struct virt *v, const struct virt_item *pool, struct virt_list *out,
                      char *err, size_t errlen);
/* The persistent (inactive) XML of a listed domain; malloc'd, NULL on error. */
char *virt_domain_config_xml(struct virt *v, const struct virt_item *dom, char *err,
                             size_t errlen);
/* The persistent (inactive) XML of a listed network; malloc'd, NULL on error
 * (with err "" when the driver cannot give it, as the test driver). */
char *virt_network_config_xml(struct virt *v, const struct virt_item *net, char *err,
                              size_t errlen);
void virt_list_free(struct virt_list *l);
/* Why a listed domain is paused (one call; only asked of paused ones).
 * *text: libvirt's reason in words ("paused by the user", "an I/O error"). */
enum virt_paused { VIRT_PAUSED_OTHER, VIRT_PAUSED_IOERROR, VIRT_PAUSED_STARTING_UP };
enum virt_paused virt_domain_paused_reason(struct virt *v, const struct virt_item *dom,
                                           const char **text);

/* Writes: 0, or -1 with libvirt's message in err. */
int virt_pool_define(struct virt *v, const char *xml, char *err, size_t errlen);
int virt_pool_start(struct virt *v, const char *name, char *err, size_t errlen);
int virt_pool_remove(struct virt *v, const char *name, char *err, size_t errlen);
int virt_pool_uuid(struct virt *v, const char *name, char *uuid, size_t size);
int virt_volume_create(struct virt *v, const char *pool, const char *xml, char *err,
                       size_t errlen);
int virt_volume_resize(struct virt *v, const char *pool, const char *name, uint64_t bytes,
                       char *err, size_t errlen);
/* Re-read a pool's volumes (their formats and sizes, probed from the files). */
int virt_pool_refresh(struct virt *v, const char *name, char *err, size_t errlen);
/* A volume's XML (malloc'd), or NULL with err. */
char *virt_volume_xml(struct virt *v, const char *pool, const char *name, char *err,
                      size_t errlen);
/* A volume's capacity (virtual size), in bytes. */
int virt_volume_capacity(struct virt *v, const char *pool, const char *name, uint64_t *bytes,
                         char *err, size_t errlen);
/* Fill an existing volume with `length` bytes through a libvirt stream
 * (virStorageVolUpload: works over remote URIs too). read() gives the next
 * bytes (at most n; -1 on error); progress (may be NULL) is told after each
 * chunk. A failure aborts the stream: the volume keeps whatever arrived,
 * and the caller deletes it. */
typedef ssize_t (*virt_read_fn)(void *payload, char *buf, size_t n);
typedef void (*virt_progress_fn)(void *payload, uint64_t done, uint64_t total);
int virt_volume_upload(struct virt *v, const char *pool, const char *name, uint64_t length,
                       virt_read_fn read, virt_progress_fn progress, void *payload, char *err,
                       size_t errlen);
/* Copy volume `name` of `pool` on v to a new volume of that name in
 * `to_pool` on node `to`: created raw with the file's size, the file's
 * bytes streamed from one daemon to the other with holes kept (sparse
 * streams), then the target pool refreshed so libvirt reads the format
 * (a qcow2 keeps its header, its backing file's path included). `bytes`:
 * how many were carried (data and holes). A failed copy is deleted. */
int virt_volume_copy(struct virt *v, const char *pool, const char *name, struct virt *to,
                     const char *to_pool, virt_progress_fn progress, void *payload,
                     uint64_t *bytes, char *err, size_t errlen);
/* Is some volume of a pool of v's the file at path? */
bool virt_volume_at(struct virt *v, const char *path);
int virt_volume_delete(struct virt *v, const char *pool, const char *name, char *err,
                       size_t errlen);
/* The volume's file (its target path); -1 when it cannot be read. */
int virt_volume_path(struct virt *v, const char *pool, const char *name, char *out,
                     size_t size);
int virt_network_define(struct virt *v, const char *xml, char *err, size_t errlen);
int virt_network_start(struct virt *v, const char *name, char *err, size_t errlen);
int virt_network_remove(struct virt *v, const char *name, char *err, size_t errlen);
int virt_network_autostart(struct virt *v, const char *name, bool on, char *err,
                           size_t errlen);
/* Add (add=true) or delete a DHCP host entry, live and in the config. */
int virt_network_dhcp_host(struct virt *v, const char *name, const char *host_xml, bool add,
                           char *err, size_t errlen);
int virt_domain_define(struct virt *v, const char *xml, char *err, size_t errlen);
/* Put the metadata element `xml` (namespace `uri`, prefix `key`) into a
 * running domain's live definition; defining a domain writes only its
 * persistent one. */
/* Set an element of a domain's metadata in its definition, and in the
 * running domain too when live. */
int virt_domain_set_metadata(struct virt *v, const char *name, const char *xml,
                             const char *key, const char *uri, bool live, char *err,
                             size_t errlen);
/* The persistent definition of a domain, secrets included (to define it
 * elsewhere); malloc'd, NULL with err. */
char *virt_domain_inactive_xml(struct virt *v, const char *name, char *err, size_t errlen);
/* Undefine an inactive domain (its disks, NVRAM and the rest untouched);
 * refused when it runs. */
int virt_domain_undefine(struct virt *v, const char *name, char *err, size_t errlen);
/* Live-migrate a running domain to dest_uri: peer to peer, tunnelled through
 * the daemons (no port between the nodes), persistent on the destination,
 * undefined on the source. unsafe: the operator declared its storage
 * shared (libvirt does not recognise a plain directory as such). progress
 * is told the memory copied so far, about every 200 ms. A failed
 * migration leaves the domain running on the source (libvirt's rule). */
int virt_domain_migrate(struct virt *v, const char *name, const char *dest_uri, bool unsafe,
                        virt_progress_fn progress, void *payload, char *err, size_t errlen);
int virt_domain_set_live_metadata(struct virt *v, const char *name, const char *xml,
                                  const char *key, const char *uri, char *err, size_t errlen);
int virt_domain_start(struct virt *v, const char *name, char *err, size_t errlen);
/* Start a shut off domain with its vCPUs paused (state: paused). */
int virt_domain_start_paused(struct virt *v, const char *name, char *err, size_t errlen);
int virt_domain_suspend(struct virt *v, const char *name, char *err, size_t errlen);
int virt_domain_resume(struct virt *v, const char *name, char *err, size_t errlen);
/* ACPI shutdown, then wait up to timeout_ms for it to stop; destroy after.
 * A failed state check ends the wait with its error (a lost connection is
 * not waited out). */
int virt_domain_stop(struct virt *v, const char *name, int timeout_ms, bool *forced,
                     char *err, size_t errlen);
/* Called about once a second while a stop waits for its guest, with the
 * time left before destroy; returning false stops the wait: the stop fails
 * as interrupted (the guest keeps its shutdown request). */
typedef bool (*virt_wait_fn)(void *payload, const char *name, int remaining_ms);
void virt_set_wait_hook(struct virt *v, virt_wait_fn fn, void *payload);
int virt_domain_remove(struct virt *v, const char *name, char *err, size_t errlen);
/* Live changes of a running domain. */
int virt_domain_set_memory(struct virt *v, const char *name, uint64_t bytes, char *err,
                           size_t errlen);
int virt_domain_set_vcpus(struct virt *v, const char *name, unsigned n, char *err,
                          size_t errlen);
int virt_domain_attach(struct virt *v, const char *name, const char *device_xml, char *err,
                       size_t errlen);
int virt_domain_detach(struct virt *v, const char *name, const char *device_xml, char *err,
                       size_t errlen);
int virt_domain_block_resize(struct virt *v, const char *name, const char *target,
                             uint64_t bytes, char *err, size_t errlen);

#endif
