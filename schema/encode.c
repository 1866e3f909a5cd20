/* encode.c — model objects to normalised trees. */
#include "encode.h"

#include "check.h"
#include "schema.h"

#include <string.h>

static struct tree *encode_struct(struct arena *a, const struct schema_table *t,
                                  const void *src);

/* The value of field `f` at `p`, or NULL when it is unset. */
static struct tree *encode_value(struct arena *a, const struct schema_field *f,
                                 const void *p)
{
    switch (f->type) {
    case SCHEMA_BOOL:
        return tree_new_bool(a, *(const bool *)p);
    case SCHEMA_INT: {
        int64_t v = *(const int64_t *)p;
        return v || f->def ? tree_new_int(a, v) : NULL;
    }
    case SCHEMA_QUANTITY: {
        uint64_t v = *(const uint64_t *)p;
        char buf[32];
        if (!v)
            return NULL;
        check_quantity_format(v, buf, sizeof(buf));
        return tree_new_str(a, buf);
    }
    case SCHEMA_ENUM: {
        /* an index past the table (a decoder's bug) is no value, never a
         * read past the table's end */
        unsigned idx = *(const unsigned *)p, n = 0;
        while (f->values[n])
            n++;
        return idx < n ? tree_new_str(a, f->values[idx]) : NULL;
    }
    case SCHEMA_LABELS: {
        const struct model_labels *l = p;
        if (!l->n)
            return NULL;
        struct tree *m = tree_new_map(a);
        for (size_t i = 0; i < l->n; i++)
            tree_map_str(a, m, l->v[i].key, l->v[i].value);
        return m;
    }
    case SCHEMA_STRUCT:
        return ((const struct model_hdr *)p)->set ? encode_struct(a, f->table, p)
                                                  : NULL;
    case SCHEMA_YAML:
        /* the declared mapping itself: it lives as long as the model */
        return (struct tree *)*(const struct tree *const *)p;
    case SCHEMA_LIST: {
        const struct model_strings *l = p;   /* { T *v; size_t n; } */
        if (!l->n)
            return NULL;
        size_t size = schema_field_size(f->elem);
        struct tree *s = tree_new_seq(a);
        for (size_t i = 0; i < l->n; i++) {
            const void *ep = (const char *)l->v + i * size;
            struct tree *e = f->elem->type == SCHEMA_STRUCT
                                 ? encode_struct(a, f->elem->table, ep)
                                 : encode_value(a, f->elem, ep);
            tree_seq_add(a, s, e ? e : tree_new_null(a));
        }
        return s;
    }
    default: {
        const char *s = *(const char *const *)p;
        return s ? tree_new_str(a, s) : NULL;
    }
    }
}

static struct tree *encode_struct(struct arena *a, const struct schema_table *t,
                                  const void *src)
{
    struct tree *m = tree_new_map(a);
    for (const struct schema_field *f = t->fields; f->name; f++) {
        struct tree *v = encode_value(a, f, (const char *)src + f->offset);
        if (v)
            tree_map_add(a, m, f->name, v);
    }
    return m;
}

struct tree *encode_object(struct arena *a, const struct model_object *o)
{
    const struct schema_kind *k = schema_kind_of(o->kind);
    struct tree *m = tree_new_map(a);
    for (const struct schema_field *f = k->top->fields; f->name; f++) {
        /* the canonical kind name: observed objects have no kind_name */
        struct tree *v = strcmp(f->name, "kind") == 0
                             ? tree_new_str(a, k->name)
                             : encode_value(a, f, (const char *)o + f->offset);
        if (v)
            tree_map_add(a, m, f->name, v);
    }
    return m;
}
