/* schema.c — questions about the tables: kinds by name, field paths,
 * type names. */
#include "schema.h"

#include "text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const struct schema_kind *schema_kind_find(const char *name)
{
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        if (strcasecmp(schema_kinds[k].name, name) == 0 ||
            strcasecmp(schema_kinds[k].plural, name) == 0)
            return &schema_kinds[k];
    return NULL;
}

const struct schema_kind *schema_kind_of(enum model_kind k)
{
    return &schema_kinds[k];
}

const char *schema_kind_names(void)
{
    static char buf[128];
    if (!buf[0]) {
        size_t o = 0;
        for (int k = 0; k < MODEL_KIND_COUNT && o < sizeof(buf); k++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
                                  k ? ", " : "", schema_kinds[k].name);
    }
    return buf;
}

size_t schema_field_size(const struct schema_field *f)
{
    switch (f->type) {
    case SCHEMA_BOOL:
        return sizeof(bool);
    case SCHEMA_INT:
        return sizeof(int64_t);
    case SCHEMA_QUANTITY:
        return sizeof(uint64_t);
    case SCHEMA_ENUM:
        return sizeof(int);
    case SCHEMA_LABELS:
        return sizeof(struct model_labels);
    case SCHEMA_STRUCT:
        return f->table->size;
    case SCHEMA_LIST:
        return sizeof(struct model_strings);   /* { T *v; size_t n; } */
    default:
        return sizeof(const char *);
    }
}

void schema_step_name(uint64_t step, char *buf, size_t size)
{
    static const struct { uint64_t step; const char *name; } names[] = {
        { 512, "512-byte sectors" }, { 1ULL << 10, "KiB" }, { 1ULL << 20, "MiB" },
        { 1ULL << 30, "GiB" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].step == step) {
            snprintf(buf, size, "%s", names[i].name);
            return;
        }
    snprintf(buf, size, "blocks of %llu bytes", (unsigned long long)step);
}

const char *schema_type_name(const struct schema_field *f)
{
    switch (f->type) {
    case SCHEMA_BOOL:
        return "boolean";
    case SCHEMA_INT:
        return "integer";
    case SCHEMA_QUANTITY:
        return "quantity";
    case SCHEMA_LABELS:
    case SCHEMA_STRUCT:
    case SCHEMA_YAML:
        return "mapping";
    case SCHEMA_LIST:
        return "list";
    default:
        return "string";
    }
}

const struct schema_field *schema_field_find(const struct schema_table *t,
                                             const char *name)
{
    for (const struct schema_field *f = t->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

const struct schema_table *schema_field_table(const struct schema_field *f)
{
    if (f->type == SCHEMA_STRUCT)
        return f->table;
    if (f->type == SCHEMA_LIST && f->elem->type == SCHEMA_STRUCT)
        return f->elem->table;
    return NULL;
}

static size_t nfields(const struct schema_table *t)
{
    size_t n = 0;
    while (t->fields[n].name)
        n++;
    return n;
}

int schema_lookup(const char *path, const struct schema_kind **kind_out,
                  const struct schema_field **field_out, char *err,
                  size_t errsize)
{
    char buf[256], *save = NULL;
    if (strlen(path) >= sizeof(buf)) {
        snprintf(err, errsize, "field path too long");
        return -1;
    }
    memcpy(buf, path, strlen(path) + 1);
    char *seg = strtok_r(buf, ".", &save);
    if (!seg) {
        snprintf(err, errsize, "empty field path");
        return -1;
    }
    const struct schema_kind *kind = schema_kind_find(seg);
    if (!kind) {
        const char *names[MODEL_KIND_COUNT];
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            names[k] = schema_kinds[k].name;
        const char *sugg = text_suggest(seg, names, MODEL_KIND_COUNT, sizeof(names[0]));
        if (sugg)
            snprintf(err, errsize, "unknown kind '%s' (did you mean '%s'?)", seg, sugg);
        else
            snprintf(err, errsize, "unknown kind '%s' (one of %s)", seg,
                     schema_kind_names());
        return -1;
    }
    const struct schema_table *t = kind->top;
    const struct schema_field *f = NULL;
    char where[256];
    snprintf(where, sizeof(where), "%s", kind->name);
    while ((seg = strtok_r(NULL, ".", &save))) {
        if (!t) {
            snprintf(err, errsize, "'%s' has no fields (its type is %s)", where,
                     schema_type_name(f));
            return -1;
        }
        const struct schema_field *next = schema_field_find(t, seg);
        if (!next) {
            const char *sugg = text_suggest(seg, t->fields, nfields(t),
                                            sizeof(t->fields[0]));
            const struct schema_field *spec = schema_field_find(t, "spec");
            if (!sugg && spec && schema_field_find(spec->table, seg))
                snprintf(err, errsize,
                         "no field '%s' in %s (did you mean 'spec.%s'?)", seg,
                         where, seg);
            else if (sugg)
                snprintf(err, errsize, "no field '%s' in %s (did you mean '%s'?)",
                         seg, where, sugg);
            else
                snprintf(err, errsize, "no field '%s' in %s", seg, where);
            return -1;
        }
        f = next;
        size_t wl = strlen(where);
        snprintf(where + wl, sizeof(where) - wl, ".%s", f->name);
        t = schema_field_table(f);
    }
    *kind_out = kind;
    *field_out = f;
    return 0;
}
