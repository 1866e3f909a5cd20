/* model.c — the set of decoded objects, indexed by kind and name. */
#include "model.h"

#include "arena.h"
#include "tree.h"
#include "vec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decoder stores enumerations through an int pointer. */
_Static_assert(sizeof(enum net_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum vm_state) == sizeof(int), "enum size");
_Static_assert(sizeof(enum policy_prune) == sizeof(int), "enum size");

struct model *model_new(void)
{
    struct model *m = xcalloc(1, sizeof(*m));
    m->arena = arena_new();
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        free(m->objs[k]);
    arena_free(m->arena);
    free(m);
}

void model_add(struct model *m, struct model_object *o)
{
    enum model_kind k = o->kind;
    *vec_append(NULL, m->objs[k], m->len[k], m->cap[k], 1) = o;
    m->sorted = false;
}

struct model *model_view(const struct model *m,
                         bool (*keep)(void *payload, const struct model_object *o),
                         void *payload)
{
    struct model *v = model_new();
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 0; i < m->len[k]; i++)
            if (keep(payload, m->objs[k][i]))
                model_add(v, m->objs[k][i]);
    v->sorted = m->sorted;
    return v;
}

static int cmp_obj(const void *pa, const void *pb)
{
    const struct model_object *a = *(struct model_object *const *)pa;
    const struct model_object *b = *(struct model_object *const *)pb;
    int c = strcmp(a->meta.name, b->meta.name);
    if (c)
        return c;
    if (a->file && b->file && (c = strcmp(a->file, b->file)) != 0)
        return c;
    unsigned la = a->hdr.src ? a->hdr.src->mark.line : 0;
    unsigned lb = b->hdr.src ? b->hdr.src->mark.line : 0;
    return la < lb ? -1 : la > lb;
}

void model_sort(struct model *m)
{
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        if (m->len[k] > 1)
            qsort(m->objs[k], m->len[k], sizeof(*m->objs[k]), cmp_obj);
    m->sorted = true;
}

struct model_object *model_find(const struct model *m, enum model_kind k,
                                const char *name)
{
    size_t lo = 0, hi = m->len[k];
    while (lo < hi) {                 /* first element >= name */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->objs[k][mid]->meta.name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->len[k] && strcmp(m->objs[k][lo]->meta.name, name) == 0)
        return m->objs[k][lo];
    return NULL;
}

size_t model_count(const struct model *m)
{
    size_t n = 0;
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        n += m->len[k];
    return n;
}

bool model_labels_match(const struct model_labels *selector,
                        const struct model_labels *labels)
{
    for (size_t i = 0; i < selector->n; i++) {
        bool found = false;
        for (size_t j = 0; j < labels->n; j++)
            if (strcmp(selector->v[i].key, labels->v[j].key) == 0) {
                found = strcmp(selector->v[i].value, labels->v[j].value) == 0;
                break;
            }
        if (!found)
            return false;
    }
    return true;
}

const struct model_project *model_project(const struct model *m)
{
    return m && m->len[MODEL_PROJECT] ? (const struct model_project *)m->objs[MODEL_PROJECT][0]
                                      : NULL;
}

const char *model_project_name(const struct model *m)
{
    const struct model_project *p = model_project(m);
    return p ? p->obj.meta.name : MODEL_DEFAULT_PROJECT;
}

void model_image_volume(const struct model_image *im, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%.16s.%s", im->obj.meta.name, im->spec.sha256 ? im->spec.sha256 : "",
             im->spec.format == DISK_FORMAT_RAW ? "raw" : "qcow2");
}

void model_seed_volume(const char *vm, char *buf, size_t size)
{
    snprintf(buf, size, "%s.cidata.iso", vm);
}

const char *model_seed_pool(const struct model *m, const struct model_vm *vm)
{
    if (!vm->spec.disks.n)
        return NULL;
    const struct model_disk *d =
        (const struct model_disk *)model_find(m, MODEL_DISK, vm->spec.disks.v[0].disk);
    return d ? d->spec.pool : NULL;
}

const char *model_seed_owner(const char *volume, char *buf, size_t size)
{
    static const char suffix[] = ".cidata.iso";
    size_t n = strlen(volume), k = sizeof(suffix) - 1;
    if (n <= k || strcmp(volume + n - k, suffix) != 0 || n - k >= size ||
        memchr(volume, '.', n - k))
        return NULL;
    memcpy(buf, volume, n - k);
    buf[n - k] = '\0';
    return buf;
}

const char *model_image_owner(const char *volume, char *buf, size_t size)
{
    const char *dot = strchr(volume, '.');
    if (!dot || (size_t)(dot - volume) >= size)
        return NULL;
    const char *h = dot + 1;
    for (int i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
            return NULL;
    if (strcmp(h + 16, ".qcow2") != 0 && strcmp(h + 16, ".raw") != 0)
        return NULL;
    memcpy(buf, volume, (size_t)(dot - volume));
    buf[dot - volume] = '\0';
    return buf;
}
