/* arena.c — bump allocator in chunks.
 *
 * Invariant: `used` never exceeds `size`. Chunks double in size from
 * ARENA_CHUNK up to ARENA_CHUNK_MAX, so a small run stays small and a large
 * one (ten thousand manifests: ~30 MiB) needs few chunks. Chunks of 2 MiB
 * and more are 2 MiB-aligned and advised as transparent huge pages: loading
 * a large manifest set then takes one page fault per 2 MiB instead of one
 * per 4 KiB, which on a virtual machine is a quarter of the load time.
 * Allocations larger than a quarter of the current chunk size get a chunk of
 * their own, so a big block never wastes the tail of the current chunk.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_CHUNK (256 * 1024)
#define ARENA_CHUNK_MAX (8 * 1024 * 1024)
#define ARENA_HUGE (2 * 1024 * 1024)
/* 8, not 16: nothing stored in arenas needs more than a pointer's alignment
 * (no long double), and tree nodes and short strings stay small. */
#define ARENA_ALIGN 8

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
    struct chunk *head;
    size_t total;
    size_t next;          /* size of the next regular chunk */
};

static void oom(size_t size)
{
    fprintf(stderr, "qkvm: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom(size);
    return q;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        oom(SIZE_MAX);
    return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

struct arena *arena_new(void)
{
    struct arena *a = xcalloc(1, sizeof(struct arena));
    a->next = ARENA_CHUNK;
    return a;
}

/* A regular chunk of `size` data bytes; big ones on huge pages. */
static struct chunk *chunk_new(size_t size)
{
    struct chunk *c;
    if (size + sizeof(*c) >= ARENA_HUGE) {
        void *p = NULL;
        size_t bytes = (size + sizeof(*c) + ARENA_HUGE - 1) & ~(size_t)(ARENA_HUGE - 1);
        if (posix_memalign(&p, ARENA_HUGE, bytes) != 0)
            oom(bytes);
#ifdef MADV_HUGEPAGE
        madvise(p, bytes, MADV_HUGEPAGE);   /* advice only: failure is fine */
#endif
        c = p;
        size = bytes - sizeof(*c);
    } else {
        c = xmalloc(sizeof(*c) + size);
    }
    c->size = size;
    c->used = 0;
    return c;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        if (size > a->next / 4) {
            /* A big block gets a chunk of its own, kept behind the head so
             * the current chunk's free tail stays usable. */
            struct chunk *big = xmalloc(sizeof(*big) + size);
            big->size = big->used = size;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                big->next = NULL;
                a->head = big;
            }
            a->total += size;
            memset(big->data, 0, size);
            return big->data;
        }
        c = chunk_new(a->next - sizeof(*c));
        if (a->next < ARENA_CHUNK_MAX)
            a->next *= 2;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return arena_strdup(a, fmt);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void arena_strs_add(struct arena *a, const char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    const char **grown = arena_alloc(a, (*n + 1) * sizeof(*grown));
    if (*n)
        memcpy(grown, *v, *n * sizeof(*grown));
    grown[(*n)++] = s;
    *v = grown;
}

size_t arena_used(const struct arena *a)
{
    return a->total;
}
