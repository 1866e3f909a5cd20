/* jsonschema.c — the tables as JSON Schema. */
#include "jsonschema.h"

#include "schema.h"

#include <stdio.h>
#include <string.h>

static struct tree *table_schema(struct arena *a, const struct schema_table *t,
                                 const char *kind);

static struct tree *str_schema(struct arena *a, const char *pattern)
{
    struct tree *s = tree_new_map(a);
    tree_map_str(a, s, "type", "string");
    if (pattern)
        tree_map_str(a, s, "pattern", pattern);
    return s;
}

#define NAME_PATTERN "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

static struct tree *field_schema(struct arena *a, const struct schema_field *f)
{
    struct tree *s = NULL;
    switch (f->type) {
    case SCHEMA_STRING:
        s = str_schema(a, NULL);
        break;
    case SCHEMA_NAME:
    case SCHEMA_REF:
        s = str_schema(a, NAME_PATTERN);
        tree_map_int(a, s, "maxLength", 63);
        break;
    case SCHEMA_BOOL:
        s = tree_new_map(a);
        tree_map_str(a, s, "type", "boolean");
        break;
    case SCHEMA_INT:
        s = tree_new_map(a);
        tree_map_str(a, s, "type", "integer");
        tree_map_int(a, s, "minimum", f->min);
        tree_map_int(a, s, "maximum", f->max);
        break;
    case SCHEMA_QUANTITY: {
        s = tree_new_map(a);
        struct tree *any = tree_new_seq(a), *i = tree_new_map(a);
        tree_map_str(a, i, "type", "integer");
        tree_map_int(a, i, "minimum", f->min > 1 ? f->min : 1);
        if (f->step)
            tree_map_int(a, i, "multipleOf", (long long)f->step);
        tree_seq_add(a, any, i);
        tree_seq_add(a, any, str_schema(a,
            "^\\+?[0-9]+ ?(B|KiB|MiB|GiB|TiB|Ki|Mi|Gi|Ti|K|M|G|T|KB|MB|GB|TB)?$"));
        tree_map_add(a, s, "anyOf", any);
        break;
    }
    case SCHEMA_ENUM: {
        s = str_schema(a, NULL);
        struct tree *e = tree_new_seq(a);
        for (size_t i = 0; f->values[i]; i++)
            tree_seq_add(a, e, tree_new_str(a, f->values[i]));
        tree_map_add(a, s, "enum", e);
        break;
    }
    case SCHEMA_MAC:
        s = str_schema(a, "^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$");
        break;
    case SCHEMA_IP:
        s = str_schema(a, "^[0-9A-Fa-f:.]+$");
        break;
    case SCHEMA_CIDR:
        s = str_schema(a, "^[0-9A-Fa-f:.]+/[0-9]{1,3}$");
        break;
    case SCHEMA_URL:
        s = str_schema(a, "^(https?://[^/\\s]|file:///|s3://[^/\\s]+/[^\\s])\\S*$");
        break;
    case SCHEMA_SHA256:
        s = str_schema(a, "^[0-9A-Fa-f]{64}$");
        break;
    case SCHEMA_URI:
        s = str_schema(a, "^[A-Za-z][A-Za-z0-9+.-]*://\\S*$");
        break;
    case SCHEMA_PATH:
        s = str_schema(a, "^/");
        break;
    case SCHEMA_IFNAME:
        s = str_schema(a, "^(?!\\.\\.?$)[A-Za-z0-9_.-]{1,15}$");
        break;
    case SCHEMA_LABELS: {
        s = tree_new_map(a);
        tree_map_str(a, s, "type", "object");
        struct tree *v = tree_new_map(a);
        tree_map_str(a, v, "type", "string");
        tree_map_add(a, s, "additionalProperties", v);
        break;
    }
    case SCHEMA_STRUCT:
        s = table_schema(a, f->table, NULL);
        break;
    case SCHEMA_YAML:
        s = tree_new_map(a);
        tree_map_str(a, s, "type", "object");
        break;
    case SCHEMA_LIST:
        s = tree_new_map(a);
        tree_map_str(a, s, "type", "array");
        tree_map_add(a, s, "items", field_schema(a, f->elem));
        break;
    }
    if (f->doc)
        tree_map_str(a, s, "description", f->doc);
    if (f->def) {
        /* plain: "1" is an integer, "true" a boolean, "running" a string */
        struct tree *d = tree_new_str(a, f->def);
        d->scalar = TREE_PLAIN;
        tree_map_add(a, s, "default", d);
    }
    return s;
}

static struct tree *table_schema(struct arena *a, const struct schema_table *t,
                                 const char *kind)
{
    struct tree *s = tree_new_map(a), *props = tree_new_map(a),
                *req = tree_new_seq(a);
    tree_map_str(a, s, "type", "object");
    if (t->doc)
        tree_map_str(a, s, "description", t->doc);
    for (const struct schema_field *f = t->fields; f->name; f++) {
        struct tree *fs;
        if (kind && strcmp(f->name, "kind") == 0) {
            fs = tree_new_map(a);
            tree_map_str(a, fs, "const", kind);
        } else {
            fs = field_schema(a, f);
        }
        tree_map_add(a, props, f->name, fs);
        if (f->required)
            tree_seq_add(a, req, tree_new_str(a, f->name));
    }
    tree_map_add(a, s, "properties", props);
    if (req->len)
        tree_map_add(a, s, "required", req);
    tree_map_bool(a, s, "additionalProperties", false);
    return s;
}

struct tree *jsonschema_build(struct arena *a)
{
    struct tree *root = tree_new_map(a), *defs = tree_new_map(a),
                *all = tree_new_seq(a), *kinds = tree_new_seq(a);
    tree_map_str(a, root, "$schema", "https://json-schema.org/draft/2020-12/schema");
    tree_map_str(a, root, "$id", "https://qkvm.dev/schemas/v1/qkvm.schema.json");
    tree_map_str(a, root, "title", "qkvm manifest (" SCHEMA_API_VERSION ")");
    tree_map_str(a, root, "description",
                 "One document of a qkvm manifest file. Generated by `qkvm schema` from the schema tables.");
    tree_map_str(a, root, "type", "object");
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        const struct schema_kind *kind = &schema_kinds[k];
        struct tree *def = table_schema(a, kind->top, kind->name);
        tree_map_str(a, def, "description", kind->doc);
        tree_map_add(a, defs, kind->name, def);
        tree_seq_add(a, kinds, tree_new_str(a, kind->name));

        struct tree *cond = tree_new_map(a), *iff = tree_new_map(a),
                    *ip = tree_new_map(a), *kc = tree_new_map(a),
                    *then = tree_new_map(a), *req = tree_new_seq(a);
        tree_map_str(a, kc, "const", kind->name);
        tree_map_add(a, ip, "kind", kc);
        tree_map_add(a, iff, "properties", ip);
        tree_seq_add(a, req, tree_new_str(a, "kind"));
        tree_map_add(a, iff, "required", req);
        char ref[64];
        snprintf(ref, sizeof(ref), "#/$defs/%s", kind->name);
        tree_map_str(a, then, "$ref", ref);
        tree_map_add(a, cond, "if", iff);
        tree_map_add(a, cond, "then", then);
        tree_seq_add(a, all, cond);
    }
    struct tree *props = tree_new_map(a), *av = tree_new_map(a),
                *kv = tree_new_map(a), *req = tree_new_seq(a);
    tree_map_str(a, av, "const", SCHEMA_API_VERSION);
    tree_map_add(a, props, "apiVersion", av);
    tree_map_add(a, kv, "enum", kinds);
    tree_map_add(a, props, "kind", kv);
    tree_map_add(a, root, "properties", props);
    tree_seq_add(a, req, tree_new_str(a, "apiVersion"));
    tree_seq_add(a, req, tree_new_str(a, "kind"));
    tree_map_add(a, root, "required", req);
    tree_map_add(a, root, "allOf", all);
    tree_map_add(a, root, "$defs", defs);
    return root;
}
