/* test_vec.c — the growable array: push, growth, arena vectors, the hard
 * cap and the overflow check (both abort: checked in a child process), and
 * freeing an empty vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"
#include "vec.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_vec__push(void **state)
{
    (void)state;
    VEC(int) v = { 0 };
    for (int i = 0; i < 1000; i++) {
        int *slot = vec_push(&v);
        assert_int_equal(*slot, 0);            /* new elements are zeroed */
        *slot = i;
        assert_true(v.n <= v.cap);
    }
    assert_int_equal(v.n, 1000);
    assert_int_equal(v.cap, 1024);             /* 8, 16, ... doubled */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v.v[i], i);
    vec_free(&v);
}

static void test_vec__grow(void **state)
{
    (void)state;
    VEC(uint64_t) v = { 0 };
    uint64_t *first = vec_grow(&v, 3);
    assert_ptr_equal(first, v.v);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.cap, VEC_MIN);
    first[0] = 1;
    first[2] = 3;
    /* more than doubling gives: exactly what is asked for */
    uint64_t *more = vec_grow(&v, 100);
    assert_ptr_equal(more, v.v + 3);
    assert_int_equal(v.n, 103);
    assert_int_equal(v.cap, 103);
    assert_int_equal(v.v[0], 1);
    assert_int_equal(v.v[1], 0);
    assert_int_equal(v.v[2], 3);
    for (size_t i = 3; i < 103; i++)
        assert_int_equal(v.v[i], 0);
    /* a vector that was emptied and used again keeps its elements zeroed */
    v.n = 0;
    assert_int_equal(*vec_push(&v), 0);
    vec_free(&v);
}

/* An array whose fields have other names, as in struct plan. */
struct notes {
    const char **notes;
    size_t nnotes, notes_cap;
};

static void test_vec__fields(void **state)
{
    (void)state;
    struct notes p = { 0 };
    for (int i = 0; i < 20; i++)
        *vec_append(NULL, p.notes, p.nnotes, p.notes_cap, 1) = i % 2 ? "odd" : "even";
    assert_int_equal(p.nnotes, 20);
    assert_int_equal(p.notes_cap, 32);
    assert_string_equal(p.notes[0], "even");
    assert_string_equal(p.notes[19], "odd");
    free(p.notes);
}

static void test_vec__arena(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    VEC(size_t) v = { 0 };
    size_t before = arena_used(a);
    for (size_t i = 0; i < 5000; i++)
        *vec_push_arena(a, &v) = i * 3;
    assert_int_equal(v.n, 5000);
    for (size_t i = 0; i < 5000; i++)
        assert_int_equal(v.v[i], i * 3);
    /* the outgrown blocks add up to less than the final one */
    assert_true(arena_used(a) - before < 2 * v.cap * sizeof(*v.v));
    arena_free(a);
}

static void test_vec__capacity(void **state)
{
    (void)state;
    /* 16 bytes of 4-byte elements: at most 4 */
    assert_int_equal(vec_capacity(0, 1, 4, 16), 4);
    assert_int_equal(vec_capacity(2, 3, 4, 16), 4);
    assert_int_equal(vec_capacity(4, 5, 4, 16), 0);
    assert_int_equal(vec_capacity(0, 5, 4, 16), 0);
    /* 64 bytes: at most 16; doubling stops at the limit */
    assert_int_equal(vec_capacity(0, 1, 4, 64), VEC_MIN);
    assert_int_equal(vec_capacity(8, 9, 4, 64), 16);
    assert_int_equal(vec_capacity(12, 13, 4, 64), 16);
    assert_int_equal(vec_capacity(16, 17, 4, 64), 0);
    assert_int_equal(vec_capacity(0, 16, 4, 64), 16);
    /* an element larger than the limit: nothing fits */
    assert_int_equal(vec_capacity(0, 0, 128, 64), 0);
    /* the real limit, in elements of one byte and of a pointer */
    assert_int_equal(vec_capacity(0, VEC_MAX_BYTES, 1, VEC_MAX_BYTES), VEC_MAX_BYTES);
    assert_int_equal(vec_capacity(0, VEC_MAX_BYTES / 8 + 1, 8, VEC_MAX_BYTES), 0);
    assert_int_equal(vec_capacity(VEC_MAX_BYTES / 16 + 1, VEC_MAX_BYTES / 16 + 2, 8,
                                  VEC_MAX_BYTES), VEC_MAX_BYTES / 8);
}

/* Run `fn` in a child; it must abort with the cap's message on stderr. */
static void expect_abort(void (*fn)(void))
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        signal(SIGABRT, SIG_DFL);
        fn();
        _exit(0);                    /* not reached when fn aborts */
    }
    close(fd[1]);
    char buf[1024];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(buf) - 1 && (r = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "qkvm: array too large: "));
    assert_non_null(strstr(buf, "would pass the limit of 1024 MiB"));
}

static void past_cap(void)
{
    VEC(char) v = { 0 };
    *vec_push(&v) = 'x';
    (void)vec_grow(&v, VEC_MAX_BYTES);   /* 1 + 2^30 bytes */
}

static void past_size_t(void)
{
    VEC(uint64_t) v = { 0 };
    *vec_push(&v) = 1;
    volatile size_t huge = SIZE_MAX;     /* not a constant: no bound for memset to check */
    (void)vec_grow(&v, huge);            /* n + extra wraps */
}

/* Made by the parent, so that it is not a leak of the child that aborts. */
static struct arena *child_arena;

static void past_cap_in_arena(void)
{
    VEC(uint64_t) v = { 0 };
    (void)vec_append(child_arena, v.v, v.n, v.cap, VEC_MAX_BYTES / sizeof(uint64_t) + 1);
}

static void test_vec__cap_refused(void **state)
{
    (void)state;
    expect_abort(past_cap);
    expect_abort(past_size_t);
    child_arena = arena_new();
    expect_abort(past_cap_in_arena);
    arena_free(child_arena);
}

static void test_vec__free_empty(void **state)
{
    (void)state;
    VEC(char *) v = { 0 };
    vec_free(&v);
    assert_null(v.v);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.cap, 0);
    vec_free(&v);                    /* twice: still fine */
    /* used, freed, used again */
    *vec_push(&v) = "a";
    vec_free(&v);
    assert_null(v.v);
    assert_int_equal(v.cap, 0);
    *vec_push(&v) = "b";
    assert_string_equal(v.v[0], "b");
    vec_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vec__push),
        cmocka_unit_test(test_vec__grow),
        cmocka_unit_test(test_vec__fields),
        cmocka_unit_test(test_vec__arena),
        cmocka_unit_test(test_vec__capacity),
        cmocka_unit_test(test_vec__cap_refused),
        cmocka_unit_test(test_vec__free_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
