/* vec.c — growth of the vectors of vec.h: the capacity rule and its cap. */
#include "vec.h"

#include "arena.h"

#include <stdint.h>
#include <stdio.h>

size_t vec_capacity(size_t cap, size_t need, size_t elem, size_t max_bytes)
{
    size_t limit = max_bytes / (elem ? elem : 1);
    if (need > limit || limit == 0)
        return 0;
    size_t ncap = cap > limit / 2 ? limit : cap * 2;
    if (ncap < VEC_MIN)
        ncap = VEC_MIN < limit ? VEC_MIN : limit;
    return ncap < need ? need : ncap;
}

void *vec_enlarge(struct arena *a, void *v, size_t n, size_t *cap, size_t extra,
                  size_t elem)
{
    size_t ncap = extra <= SIZE_MAX - n ?
                  vec_capacity(*cap, n + extra, elem, VEC_MAX_BYTES) : 0;
    if (!ncap) {
        fprintf(stderr, "qkvm: array too large: %zu elements of %zu bytes and %zu more "
                "would pass the limit of %zu MiB\n", n, elem, extra, VEC_MAX_BYTES >> 20);
        abort();
    }
    if (a) {
        void *w = arena_alloc(a, ncap * elem);
        if (n)
            memcpy(w, v, n * elem);
        v = w;
    } else {
        v = xrealloc(v, ncap * elem);
    }
    *cap = ncap;
    return v;
}
