/* schema.h — the kinds as data.
 *
 * Each kind is a table of fields: name, type, where it lives in the model
 * struct, whether it is required, its default (as YAML text, decoded by the
 * same code as user input), allowed values, range, and documentation. The
 * generic decoder (decode.c), the encoder (encode.c), `qkvm explain`, the
 * JSON Schema (jsonschema.c) and the README's manifest reference are all
 * driven by these tables; nothing parses a field by hand.
 *
 * A table may have a `finish` hook for what a table cannot say: derived
 * defaults (a network's gateway, a NIC's MAC) and checks across fields of
 * one object (a DHCP range inside the CIDR). Checks across objects live in
 * reconciler/validate.c.
 */
#ifndef QKVM_SCHEMA_H
#define QKVM_SCHEMA_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHEMA_API_VERSION "qkvm.dev/v1"

enum schema_type {
    SCHEMA_STRING,    /* const char * */
    SCHEMA_NAME,      /* const char *, an object name */
    SCHEMA_REF,       /* const char *, the name of an object of kind `ref` */
    SCHEMA_BOOL,      /* bool */
    SCHEMA_INT,       /* int64_t, in [min, max] */
    SCHEMA_QUANTITY,  /* uint64_t bytes, at least min */
    SCHEMA_ENUM,      /* int: index into values */
    SCHEMA_MAC,       /* const char *, normalised */
    SCHEMA_IP,        /* const char *, normalised */
    SCHEMA_CIDR,      /* const char *, normalised */
    SCHEMA_URL,       /* const char * */
    SCHEMA_SHA256,    /* const char *, lowercase */
    SCHEMA_URI,       /* const char *, a libvirt URI */
    SCHEMA_PATH,      /* const char *, absolute */
    SCHEMA_IFNAME,    /* const char *, a network interface name */
    SCHEMA_LABELS,    /* struct model_labels */
    SCHEMA_STRUCT,    /* an embedded struct described by `table` */
    SCHEMA_LIST,      /* { T *v; size_t n; } with T described by `elem` */
    SCHEMA_YAML,      /* const struct tree *: any mapping, kept as written
                         (cloud-init's meta-data and network-config) */
};

struct decode_ctx;
struct schema_table;

struct schema_field {
    const char *name;                  /* the YAML key; NULL ends a table */
    enum schema_type type;
    size_t offset;                     /* in the table's struct */
    bool required;
    const char *def;                   /* default, as YAML text, or NULL */
    const char *const *values;         /* ENUM: allowed values, NULL-ended */
    int64_t min, max;                  /* INT range; QUANTITY minimum */
    uint64_t step;                     /* QUANTITY: a multiple of it (0: any), so
                                          that libvirt keeps the value exactly */
    enum model_kind ref;               /* REF: the kind referred to */
    const struct schema_table *table;  /* STRUCT, or LIST of STRUCT */
    const struct schema_field *elem;   /* LIST: the element (offset 0) */
    bool text;                         /* STRING: multi-line text (newlines, tabs) */
    const char *doc;
};

struct schema_table {
    const char *name;                  /* for docs: "VM.spec.nics" */
    size_t size;                       /* sizeof the struct */
    const struct schema_field *fields;
    /* Derived defaults and checks across fields; called after the fields
     * are decoded, also for undeclared structs (hdr.set false). */
    void (*finish)(void *obj, struct decode_ctx *ctx);
    const char *doc;
};

struct schema_kind {
    const char *name;                  /* "VM" */
    const char *plural;                /* "vms" */
    enum model_kind kind;
    size_t size;                       /* sizeof(struct model_vm) */
    const struct schema_table *top;    /* apiVersion, kind, metadata, spec */
    const char *doc;
};

extern const struct schema_kind schema_kinds[MODEL_KIND_COUNT];

/* The allowed values of enumerations the reconciler prints and maps to
 * libvirt, indexed by the model's C enums (NULL-ended). */
extern const char *const schema_values_disk_format[];  /* enum disk_format */
extern const char *const schema_values_net_mode[];     /* enum net_mode */
extern const char *const schema_values_vm_bus[];       /* enum vm_bus */
extern const char *const schema_values_vm_nic_model[]; /* enum vm_nic_model */
extern const char *const schema_values_vm_firmware[];  /* enum vm_firmware */
extern const char *const schema_values_vm_graphics[];  /* enum vm_graphics */
extern const char *const schema_values_vm_console[];   /* enum vm_console */
extern const char *const schema_values_vm_accel[];     /* enum vm_accel */

/* By name ("VM"), any case, or by plural ("vms"). NULL if unknown. */
const struct schema_kind *schema_kind_find(const char *name);
const struct schema_kind *schema_kind_of(enum model_kind k);
/* "Node, Network, Pool, Image, Disk, VM, Policy": for messages. */
const char *schema_kind_names(void);

/* Size of one stored value of a field (a list element, a struct...). */
size_t schema_field_size(const struct schema_field *f);
/* What a quantity's step counts, for messages and docs: "MiB", "KiB",
 * "512-byte sectors". */
void schema_step_name(uint64_t step, char *buf, size_t size);
/* "integer", "string", "quantity", "[]object"... for docs and messages. */
const char *schema_type_name(const struct schema_field *f);
/* The field named `name` in table `t`, or NULL. */
const struct schema_field *schema_field_find(const struct schema_table *t,
                                             const char *name);
/* The table a field descends into (STRUCT, or LIST of STRUCT), or NULL. */
const struct schema_table *schema_field_table(const struct schema_field *f);

/* Resolve "vm.spec.nics.mac" (kind by any name; list fields descend into
 * their elements). On success *kind_out and *field_out (NULL for the kind
 * itself) are set and 0 returned; otherwise -1 and `err` holds a message
 * with a suggestion when one is close. */
int schema_lookup(const char *path, const struct schema_kind **kind_out,
                  const struct schema_field **field_out, char *err,
                  size_t errsize);

#endif
