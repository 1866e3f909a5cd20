/* helpers.h — load a manifest from a string, for the unit tests. */
#ifndef QKVM_TEST_HELPERS_H
#define QKVM_TEST_HELPERS_H

#include "decode.h"
#include "diag.h"
#include "model.h"
#include "validate.h"
#include "yamldoc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct loaded {
    struct model *m;
    struct diag d;
};

static inline void load_str(struct loaded *l, const char *yaml)
{
    struct yamldoc_set set;
    l->m = model_new();
    diag_init(&l->d);
    yamldoc_parse(l->m->arena, "t.yaml", yaml, strlen(yaml), &l->d, &set);
    for (size_t i = 0; i < set.len; i++) {
        struct model_object *o = decode_document(l->m->arena, "t.yaml", set.docs[i], &l->d);
        if (o)
            model_add(l->m, o);
    }
    model_sort(l->m);
    validate_model(l->m, &l->d);
    diag_sort(&l->d);
}

static inline void load_free(struct loaded *l)
{
    model_free(l->m);
    diag_dispose(&l->d);
}

/* The finding whose message contains `needle`, or NULL. */
static inline const struct diag_item *finding(const struct loaded *l, const char *needle)
{
    for (size_t i = 0; i < l->d.len; i++)
        if (strstr(l->d.items[i].message, needle))
            return &l->d.items[i];
    return NULL;
}

static inline void dump(const struct loaded *l)
{
    diag_print(&l->d, stderr, false);
}

#define HDR "apiVersion: qkvm.dev/v1\n"

#endif
