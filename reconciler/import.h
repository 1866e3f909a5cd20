/* import.h — manifests for what a libvirt host has and no project owns.
 *
 * `qkvm import` turns observed domains, networks, pools and volumes into
 * model objects, the structs manifests decode into, so that the schema's
 * encoder prints them exactly as `qkvm render` prints manifests. Pure: from
 * an observation (observe_host), the manifest set given with -f (possibly
 * empty) and what was asked for, to objects and messages; no I/O.
 *
 * What is imported:
 *   - what was asked for: objects by kind and name (a volume as POOL/VOLUME,
 *     or VOLUME when one pool has it), or every object of the host (--all);
 *   - what an imported VM uses (its disks' volumes, their pools, its
 *     networks) and an imported volume's pool, unless the manifest set
 *     declares it.
 * What is refused, each time naming the object and the reason:
 *   - another project's object (any project's, the manifests' own
 *     included): a domain or network whose qkvm mark matches it
 *     (plan_owner), a pool or volume the state database records;
 *   - what a manifest cannot say: a name the schema refuses, a pool other
 *     than a dir pool, a value the schema has no word for (virtxml.h:
 *     struct virtxml_unmodeled, misread), a domain disk that is not a pool
 *     volume, a transient domain, a DHCP host entry that is no imported or
 *     declared NIC's address, anything the loader's checks refuse;
 *   - what needs a refused object (a VM whose network is refused).
 * Objects the manifests already declare are left out (asked for by name:
 * with a warning). What the model leaves out (virtxml_unmodeled extra: a
 * cdrom, a <channel>, a backing file) is imported with a warning saying
 * what `apply --adopt` drops from the definition it writes.
 *
 * HOW IT WORKS. Every object asked for, and everything it needs, becomes a
 * candidate; each is built from the observed structs (a running domain's
 * live definition, with the memory of its persistent one, as plan compares
 * them), encoded and decoded again as the loader decodes a document. Then,
 * until a round refuses nothing more: a candidate that needs a refused one
 * is refused; the manifests plus the candidates go through the loader's
 * cross-object checks (validate_model: references, MAC and IP collisions,
 * addresses outside their network or inside its DHCP range, overlapping
 * networks and pools); and they are planned against the same observation
 * with --adopt (plan_build). A candidate for which that plan does anything
 * but adopt it (start an inactive pool or network; rewrite a running
 * domain's persistent definition to what runs: both with a warning) would
 * not match what the host has, and is refused with the fields that differ.
 * What is left is what `apply --adopt` takes over without changing what
 * runs, after which `plan` has nothing to do.
 */
#ifndef QKVM_IMPORT_H
#define QKVM_IMPORT_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct obs_host;

struct import_request {
    enum model_kind kind;      /* MODEL_VM, MODEL_NETWORK, MODEL_POOL or MODEL_DISK */
    const char *name;
    const char *pool;          /* MODEL_DISK: the volume's pool, or NULL (any pool) */
};

enum import_level { IMPORT_ERROR, IMPORT_WARNING };

struct import_msg {
    enum import_level level;
    const char *text;          /* "vm/x belongs to project 'beta'"; no prefix */
};

struct import_result {
    struct model *model;       /* the objects to print, sorted; its arena holds all */
    struct import_msg *msgs;   /* in the order of the objects they name */
    size_t nmsgs;
    size_t refused;            /* objects asked for by name and not imported */
};

/* "KIND NAME..." from the command line: KIND vm, network, pool or disk
 * (plural forms too); a disk NAME is POOL/VOLUME or VOLUME. 0, or -1 with
 * the reason in err. *out lives in a. */
int import_requests(struct arena *a, int argc, char *const *argv,
                    struct import_request **out, size_t *n, char *err, size_t errlen);

/* Build the manifests for the objects asked for (`all`: every object of
 * the host; req is then ignored). `declared` is the manifest set (sorted,
 * valid; may be empty). Asked for by name, a refusal is an error; with
 * `all`, a warning. */
struct import_result *import_build(const struct obs_host *h, const struct model *declared,
                                   const struct import_request *req, size_t nreq, bool all);
void import_free(struct import_result *r);         /* accepts NULL */

#endif
