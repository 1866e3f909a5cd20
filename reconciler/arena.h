/* arena.h — bump allocator: many small allocations, one free.
 *
 * Trees, decoded models and messages live in arenas so that loading ten
 * thousand manifests costs a few large allocations instead of a million small
 * ones. Memory is returned only by arena_free(). Allocation failure aborts
 * the process with a message: qkvm has no useful way to go on without memory.
 */
#ifndef QKVM_ARENA_H
#define QKVM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);                 /* accepts NULL */

void *arena_alloc(struct arena *a, size_t size);  /* zeroed, aligned to 8 */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
size_t arena_used(const struct arena *a);         /* bytes handed out */
/* Append s to the array *v of *n strings unless it holds it already. The
 * array is copied into the arena on every append: for short lists (the
 * phrases of a message), not for bulk. */
void arena_strs_add(struct arena *a, const char ***v, size_t *n, const char *s);

/* xmalloc and friends: abort with a message on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

#endif
