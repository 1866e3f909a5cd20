/* vec.h — the growable array: typed, doubling, with a hard size cap.
 *
 * A vector is three fields: the elements `v`, the count in use `n` and the
 * capacity `cap`. VEC(T) declares them as an anonymous struct (libgit2's
 * git_array_t); a struct a header exposes spells the same three fields out,
 * and the macros below work on any struct that has them:
 *
 *     VEC(struct cand) c = { 0 };
 *     *vec_push(&c) = (struct cand){ ... };
 *     ...
 *     vec_free(&c);
 *
 * Structs whose fields had other names before this file (diag's items/len,
 * the plan's notes/nnotes/notes_cap, the model's objs[k]/len[k]/cap[k]) grow
 * through vec_append(), which takes the three lvalues one by one, as git's
 * ALLOC_GROW(x, nr, alloc) does; their layout and names stay as they were.
 *
 * Invariants: n <= cap; v holds cap elements, v[0..n) are in use; v is NULL
 * only while cap is 0. New elements are zeroed. Growth doubles the capacity
 * (at least VEC_MIN elements, at least what is asked for), so pushing N
 * elements costs O(N) copies in all.
 *
 * The hard cap: an array never holds more than VEC_MAX_BYTES (1 GiB) of
 * elements; asking for more aborts with a message, like a failed malloc. No
 * qkvm array comes near it: each is bounded by an input that has a limit of
 * its own (manifest files of at most 16 MiB, DIAG_MAX findings, the state
 * database's retention), so passing it means a loop that does not end or an
 * input those limits missed, and one clear message is a better end than the
 * OOM killer or a wrapped size computation. The same check rules out the
 * overflow of n + extra and of cap * sizeof(element).
 *
 * Heap or arena. `a` NULL: the elements are on the heap (realloc), and the
 * owner frees them with vec_free() or free(v) in its _free or _dispose.
 * `a` an arena: the array belongs to the arena, like everything else there,
 * and growth copies it into a new block and abandons the old one (an arena
 * cannot free); with doubling the abandoned blocks add up to less than the
 * final one, so the waste is at most the array's own size. The arena form
 * is for arrays handed out as a pointer and a count inside arena-owned
 * results: the rows of a state query in the caller's arena (store.c), an
 * observed host's stray files and processes (observe.c), a plan action's
 * dependencies, the documents of a parsed file (yamldoc.c), a network's
 * DHCP entries. Making those heap vectors would give every such result a
 * free of its own and change every caller, to save memory the doubling
 * already bounds; a given array always uses the same form.
 *
 * Not vectors: tree.c's children (their capacity is implied by the length,
 * so that a node stays 24 bytes), plan.c's key map (a hash table, rehashed
 * at half load) and manifest.c's file buffer (its limit is a finding about
 * the file, not an abort).
 *
 * Every macro evaluates its arguments more than once: pass plain lvalues and
 * a count without side effects. In `*vec_push(&x) = value`, `value` must not
 * read x: the two sides of an assignment are unsequenced, and the push may
 * move x.v.
 */
#ifndef QKVM_VEC_H
#define QKVM_VEC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct arena;

#define VEC(T) struct { T *v; size_t n, cap; }

#define VEC_MAX_BYTES ((size_t)1 << 30)
#define VEC_MIN 8

/* Append `extra` zeroed elements to the array (v, n, cap), on the heap when
 * `a` is NULL, in arena `a` otherwise; returns the first new element. */
#define vec_append(a, v, n, cap, extra)                                         \
    ((v) = vec_reserve((a), (v), (n), &(cap), (extra), sizeof(*(v))),         \
     (n) += (extra), (v) + ((n) - (extra)))

/* The same on a struct with fields v, n and cap (a VEC). */
#define vec_grow(vec, extra) vec_append(NULL, (vec)->v, (vec)->n, (vec)->cap, (extra))
#define vec_push(vec) vec_grow((vec), 1)
#define vec_push_arena(a, vec) vec_append((a), (vec)->v, (vec)->n, (vec)->cap, 1)

/* Free a heap vector's elements (not what they point to; never an arena
 * vector's); the vector is then empty and can be used again. Accepts an
 * empty vector. */
#define vec_free(vec) (free((vec)->v), (vec)->v = NULL, (vec)->n = (vec)->cap = 0)

/* The capacity to grow to from `cap` for `need` elements of `elem` bytes,
 * or 0 when they would pass `max_bytes` (vec_reserve uses VEC_MAX_BYTES;
 * the tests give a small one). */
size_t vec_capacity(size_t cap, size_t need, size_t elem, size_t max_bytes);

/* Reallocate (or copy into arena `a`) for n + extra elements; aborts with a
 * message when vec_capacity refuses. The slow path of vec_reserve. */
void *vec_enlarge(struct arena *a, void *v, size_t n, size_t *cap, size_t extra,
                  size_t elem);

/* Room for `extra` more elements after the n in use, zeroed; returns the
 * (possibly moved) elements, never NULL. */
static inline void *vec_reserve(struct arena *a, void *v, size_t n, size_t *cap,
                                size_t extra, size_t elem)
{
    if (!v || extra > *cap - n)
        v = vec_enlarge(a, v, n, cap, extra, elem);
    memset((char *)v + n * elem, 0, extra * elem);
    return v;
}

#endif
