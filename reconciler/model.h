/* model.h — the typed model of every kind: what manifests decode into and,
 * later, what libvirt's XML decodes into, so that diff compares like with
 * like.
 *
 * Every struct described by a schema table begins with a struct model_hdr:
 * `src` is the source mapping (NULL for values not read from a manifest) and
 * `set` says the value was declared (or, for observed objects, present).
 * Undeclared nested structs still have their scalar defaults filled in, so
 * reading e.g. policy->spec.ha.enabled is always meaningful.
 *
 * Optional scalars without a default are "unset" as NULL (strings) or 0
 * (numbers); the schema never gives 0 a meaning for such a field.
 * Enumerations are stored as the index of the value in the field's table
 * (the C enums below are in the same order as the tables in kinds.c).
 * Strings are borrowed: they live in the model's arena or in static tables.
 */
#ifndef QKVM_MODEL_H
#define QKVM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct tree;

enum model_kind {
    MODEL_NODE,
    MODEL_NETWORK,
    MODEL_POOL,
    MODEL_IMAGE,
    MODEL_DISK,
    MODEL_VM,
    MODEL_POLICY,
    MODEL_PROJECT,
    MODEL_KIND_COUNT
};

struct model_hdr {
    const struct tree *src;
    bool set;
};

struct model_label {
    const char *key, *value;
};
struct model_labels {          /* sorted by key after decoding */
    struct model_label *v;
    size_t n;
};
struct model_strings {
    const char **v;
    size_t n;
};
struct model_labels_list {     /* a list of label sets (affinity) */
    struct model_labels *v;
    size_t n;
};

struct model_meta {
    struct model_hdr hdr;
    const char *name;
    struct model_labels labels;
    struct model_labels annotations;
};

/* The envelope shared by every kind; always the first member. */
struct model_object {
    struct model_hdr hdr;       /* src: the document's root mapping */
    int api_version;            /* index: 0 is qkvm.dev/v1 */
    const char *kind_name;
    struct model_meta meta;
    enum model_kind kind;
    const char *file;           /* manifest file; NULL when observed */
};

/* ---- Node ---- */
struct node_capacity {
    struct model_hdr hdr;
    int64_t cpus;               /* 0: from virNodeGetInfo */
    uint64_t memory;            /* bytes; 0: from virNodeGetInfo */
};
struct node_redfish {
    struct model_hdr hdr;
    const char *url, *username, *password_file;
};
struct node_agent {
    struct model_hdr hdr;
    const char *name;               /* fence_ipmilan... */
    struct model_strings options;   /* "key=value", as the agent reads them on stdin */
    const char *password_file;
};
struct node_fence {
    struct model_hdr hdr;
    struct model_strings command;   /* argv */
    struct node_redfish redfish;
    struct node_agent agent;
    bool manual;
};
struct node_spec {
    struct model_hdr hdr;
    const char *uri;
    struct node_capacity capacity;
    struct node_fence fence;
    bool maintenance;
};
struct model_node {
    struct model_object obj;
    struct node_spec spec;
};

/* ---- Network ---- */
enum net_mode { NET_MODE_NAT, NET_MODE_ISOLATED, NET_MODE_BRIDGE };
struct net_dhcp {
    struct model_hdr hdr;
    const char *start, *end;
};
struct net_spec {
    struct model_hdr hdr;
    enum net_mode mode;
    const char *bridge;
    const char *cidr;
    const char *gateway;        /* derived: first host of cidr */
    struct net_dhcp dhcp;
    bool autostart;
    struct model_strings nodes; /* empty: every node */
};
struct model_network {
    struct model_object obj;
    struct net_spec spec;
};

/* ---- Pool ---- */
enum pool_type { POOL_TYPE_DIR };
struct pool_spec {
    struct model_hdr hdr;
    enum pool_type type;
    const char *path;
    bool shared;
    struct model_strings nodes;
};
struct model_pool {
    struct model_object obj;
    struct pool_spec spec;
};

/* ---- Image ---- */
enum disk_format { DISK_FORMAT_QCOW2, DISK_FORMAT_RAW };
struct image_s3 {
    struct model_hdr hdr;
    const char *endpoint;       /* NULL: https://s3.REGION.amazonaws.com */
    const char *region;
    const char *credentials_file;
};
struct image_spec {
    struct model_hdr hdr;
    const char *url;            /* http(s)://, file:///, s3://BUCKET/KEY */
    const char *sha256;         /* lowercase hex */
    enum disk_format format;
    const char *pool;
    struct image_s3 s3;
};
struct model_image {
    struct model_object obj;
    struct image_spec spec;
};

/* ---- Disk ---- */
struct disk_from {
    struct model_hdr hdr;
    const char *image;
};
struct disk_spec {
    struct model_hdr hdr;
    const char *pool;
    uint64_t size;              /* bytes; 0: the image's size (with from) */
    enum disk_format format;
    struct disk_from from;
    bool protect;
};
struct model_disk {
    struct model_object obj;
    struct disk_spec spec;
};

/* ---- VM ---- */
enum vm_state { VM_STATE_RUNNING, VM_STATE_STOPPED, VM_STATE_PAUSED };
enum vm_bus { VM_BUS_VIRTIO, VM_BUS_SATA, VM_BUS_SCSI, VM_BUS_IDE };
enum vm_nic_model { VM_NIC_VIRTIO, VM_NIC_E1000, VM_NIC_RTL8139 };
enum vm_firmware { VM_FIRMWARE_BIOS, VM_FIRMWARE_UEFI };
enum vm_graphics { VM_GRAPHICS_NONE, VM_GRAPHICS_VNC, VM_GRAPHICS_SPICE };
enum vm_console { VM_CONSOLE_SERIAL, VM_CONSOLE_NONE };
enum vm_accel { VM_ACCEL_KVM, VM_ACCEL_TCG };
struct vm_disk {
    struct model_hdr hdr;
    const char *disk;
    enum vm_bus bus;
    int64_t boot;               /* 0: not a boot device */
};
struct vm_nic {
    struct model_hdr hdr;
    const char *network;
    const char *mac;            /* derived from the VM name when not given */
    const char *ip;
    enum vm_nic_model model;
};
struct vm_disks {
    struct vm_disk *v;
    size_t n;
};
struct vm_nics {
    struct vm_nic *v;
    size_t n;
};
struct vm_cloud_init {
    struct model_hdr hdr;
    const char *user_data;
    const struct tree *meta_data;       /* a mapping, or NULL */
    const struct tree *network_config;  /* a mapping, or NULL */
    /* derived when decoded (not schema fields): the seed's files as
     * written (meta-data with its defaults), and the SHA-256 of the three,
     * which identifies the seed (seed_digest). Observed: digest is the one
     * the domain's mark records, NULL when unknown. */
    const char *meta_text, *network_text;
    const char *digest;
};
struct vm_boot {                /* direct kernel boot; paths on the node */
    struct model_hdr hdr;
    const char *kernel, *initrd, *cmdline;
};
struct vm_spec {
    struct model_hdr hdr;
    int64_t cpus;
    int64_t max_cpus;           /* derived: cpus when not given */
    uint64_t memory;
    uint64_t max_memory;        /* derived: memory when not given */
    enum vm_state state;
    struct vm_disks disks;
    struct vm_nics nics;
    const char *node;
    struct model_labels node_selector;
    enum vm_firmware firmware;
    const char *machine;
    enum vm_graphics graphics;
    enum vm_console console;
    enum vm_accel accel;
    struct vm_cloud_init cloud_init;
    struct vm_boot boot;
    const char *console_log;    /* a file on the node the serial console is logged to */
};
struct model_vm {
    struct model_object obj;
    struct vm_spec spec;
};

/* ---- Policy ---- */
enum policy_strategy { POLICY_SPREAD, POLICY_PACK };
enum policy_drift_mode { POLICY_DRIFT_REPORT, POLICY_DRIFT_HEAL };
enum policy_prune { POLICY_PRUNE_NEVER, POLICY_PRUNE_REPORT, POLICY_PRUNE_DELETE };
enum policy_restart { POLICY_RESTART_NEVER, POLICY_RESTART_ONCHANGE };
struct policy_ha {
    struct model_hdr hdr;
    bool enabled;
    int64_t priority;
    int64_t max_restarts;
};
struct policy_placement {
    struct model_hdr hdr;
    enum policy_strategy strategy;
    bool anti_affinity;
    struct model_labels_list affinity;
    bool cold_moves;            /* stop, copy the volumes, start on the new node */
};
struct policy_drift {
    struct model_hdr hdr;
    enum policy_drift_mode mode;
    struct model_strings ignore;
};
struct policy_spec {
    struct model_hdr hdr;
    struct model_labels selector;   /* empty: every object */
    struct policy_ha ha;
    struct policy_placement placement;
    struct policy_drift drift;
    enum policy_prune prune;
    enum policy_restart restart;
};
struct model_policy {
    struct model_object obj;
    struct policy_spec spec;
};

/* ---- Project ---- */
/* At most one per manifest set; without one the set is project "default".
 * The project's name is the identity every mark and ownership record
 * carries: it comes from the manifests, never from a path or a state file. */
#define MODEL_DEFAULT_PROJECT "default"
struct project_spec {
    struct model_hdr hdr;
    int64_t max_deletions;      /* deletions one plan may make; more is refused */
};
struct model_project {
    struct model_object obj;
    struct project_spec spec;
};

/* ---- the set of objects ---- */
struct model {
    struct arena *arena;        /* objects and their values */
    struct model_object **objs[MODEL_KIND_COUNT];
    size_t len[MODEL_KIND_COUNT], cap[MODEL_KIND_COUNT];
    bool sorted;
};

struct model *model_new(void);
void model_free(struct model *m);             /* accepts NULL */
void model_add(struct model *m, struct model_object *o);
/* Sort each kind by name, then by file and line (so the first of duplicates
 * is the one declared first). model_find needs a sorted model. */
void model_sort(struct model *m);
struct model_object *model_find(const struct model *m, enum model_kind k,
                                const char *name);
size_t model_count(const struct model *m);
/* Do `labels` contain every key=value of `selector`? */
bool model_labels_match(const struct model_labels *selector,
                        const struct model_labels *labels);

/* A view of m: the same objects (borrowed: m must outlive it), those of
 * each kind `keep` says yes to, in m's order. model_free frees the view
 * alone. */
struct model *model_view(const struct model *m,
                         bool (*keep)(void *payload, const struct model_object *o),
                         void *payload);

/* The set's Project, or NULL (then the set is project "default"). */
const struct model_project *model_project(const struct model *m);

/* Volumes qkvm names itself. Object names never hold a '.', so these
 * never collide with a Disk's volume:
 *   an Image's volume: NAME.SHA16.qcow2 (or .raw), SHA16 the first 16 hex
 *   digits of its sha256, so a new digest is a new volume;
 *   a VM's cloud-init seed: NAME.cidata.iso, in the pool of its first disk. */
void model_image_volume(const struct model_image *im, char *buf, size_t size);
void model_seed_volume(const char *vm, char *buf, size_t size);
/* The pool a VM's seed lives in (its first disk's), or NULL. */
const char *model_seed_pool(const struct model *m, const struct model_vm *vm);
/* The VM a seed volume's name names (in buf), or NULL when it is not one. */
const char *model_seed_owner(const char *volume, char *buf, size_t size);
/* Image NAME of an image volume's name (in buf), or NULL. */
const char *model_image_owner(const char *volume, char *buf, size_t size);
const char *model_project_name(const struct model *m);

#endif
