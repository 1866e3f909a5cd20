/* tree.c — document tree nodes: scalar resolution, lookup and builders. */
#include "tree.h"

#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_digits(const char *s, size_t len, const char *set)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr(set, s[i]) || s[i] == '\0')
            return false;
    return true;
}

static bool eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* The YAML 1.2 core schema's tag resolution for plain scalars. */
enum tree_plain tree_plain_kind(const char *s, size_t len)
{
    if (len == 0 || eq(s, len, "~") || eq(s, len, "null") ||
        eq(s, len, "Null") || eq(s, len, "NULL"))
        return TREE_PLAIN_NULL;
    if (eq(s, len, "true") || eq(s, len, "True") || eq(s, len, "TRUE") ||
        eq(s, len, "false") || eq(s, len, "False") || eq(s, len, "FALSE"))
        return TREE_PLAIN_BOOL;
    const char *p = s;
    size_t n = len;
    if (n > 2 && p[0] == '0' && p[1] == 'x')
        return is_digits(p + 2, n - 2, "0123456789abcdefABCDEF")
                   ? TREE_PLAIN_INT : TREE_PLAIN_STR;
    if (n > 2 && p[0] == '0' && p[1] == 'o')
        return is_digits(p + 2, n - 2, "01234567") ? TREE_PLAIN_INT
                                                   : TREE_PLAIN_STR;
    if (*p == '-' || *p == '+') {
        p++;
        n--;
    }
    if (is_digits(p, n, "0123456789"))
        return TREE_PLAIN_INT;
    if (eq(p, n, ".inf") || eq(p, n, ".Inf") || eq(p, n, ".INF") ||
        eq(s, len, ".nan") || eq(s, len, ".NaN") || eq(s, len, ".NAN"))
        return TREE_PLAIN_FLOAT;
    /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    size_t i = 0, digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return TREE_PLAIN_STR;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            i++;
        size_t exp = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            exp++;
        }
        if (exp == 0)
            return TREE_PLAIN_STR;
    }
    return i == n ? TREE_PLAIN_FLOAT : TREE_PLAIN_STR;
}

int tree_plain_int(const char *s, size_t len, int64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    bool neg = false;
    if (tree_plain_kind(s, len) != TREE_PLAIN_INT)
        return -1;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        i = 2;
    } else if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        char c = s[i];
        unsigned d = c <= '9' ? (unsigned)(c - '0')
                   : c <= 'F' ? (unsigned)(c - 'A' + 10) : (unsigned)(c - 'a' + 10);
        if (v > (limit - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return 0;
}

const struct tree_pair *tree_pair(const struct tree *m, const char *key)
{
    if (!m || m->type != TREE_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < m->len; i++) {
        const struct tree *k = m->u.pairs[i].key;
        if (k->len == klen && memcmp(k->u.str, key, klen) == 0)
            return &m->u.pairs[i];
    }
    return NULL;
}

struct tree *tree_get(const struct tree *m, const char *key)
{
    const struct tree_pair *p = tree_pair(m, key);
    return p ? p->value : NULL;
}

const char *tree_str(const struct tree *m, const char *key, const char *dflt)
{
    const struct tree *v = m ? tree_get(m, key) : NULL;
    return v && v->type == TREE_SCALAR ? v->u.str : dflt;
}

long long tree_int(const struct tree *m, const char *key, long long dflt)
{
    const char *s = tree_str(m, key, NULL);
    if (!s)
        return dflt;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end ? dflt : v;
}

bool tree_bool(const struct tree *m, const char *key)
{
    const char *s = tree_str(m, key, NULL);
    return s && strcmp(s, "true") == 0;
}

const char *tree_type_name(const struct tree *t)
{
    switch (t->type) {
    case TREE_NULL:
        return "null";
    case TREE_SEQ:
        return "list";
    case TREE_MAP:
        return "mapping";
    case TREE_SCALAR:
        break;
    }
    if (t->scalar != TREE_PLAIN)
        return t->scalar == TREE_INT ? "integer"
               : t->scalar == TREE_BOOL ? "boolean" : "string";
    switch (tree_plain_kind(t->u.str, t->len)) {
    case TREE_PLAIN_NULL:
        return "null";
    case TREE_PLAIN_BOOL:
        return "boolean";
    case TREE_PLAIN_INT:
        return "integer";
    case TREE_PLAIN_FLOAT:
        return "number";
    case TREE_PLAIN_STR:
        break;
    }
    return "string";
}

static struct tree *node(struct arena *a, enum tree_type type)
{
    struct tree *t = arena_alloc(a, sizeof(*t));
    t->type = type;
    return t;
}

struct tree *tree_new_map(struct arena *a) { return node(a, TREE_MAP); }
struct tree *tree_new_seq(struct arena *a) { return node(a, TREE_SEQ); }
struct tree *tree_new_null(struct arena *a) { return node(a, TREE_NULL); }

struct tree *tree_new_strn(struct arena *a, const char *s, size_t len)
{
    struct tree *t = node(a, TREE_SCALAR);
    t->scalar = TREE_STR;
    t->u.str = arena_strndup(a, s, len);
    t->len = (uint32_t)len;
    return t;
}

struct tree *tree_new_str(struct arena *a, const char *s)
{
    return tree_new_strn(a, s, strlen(s));
}

struct tree *tree_new_int(struct arena *a, long long v)
{
    struct tree *t = node(a, TREE_SCALAR);
    t->scalar = TREE_INT;
    t->u.str = arena_printf(a, "%lld", v);
    t->len = (uint32_t)strlen(t->u.str);
    return t;
}

struct tree *tree_new_bool(struct arena *a, bool v)
{
    struct tree *t = node(a, TREE_SCALAR);
    t->scalar = TREE_BOOL;
    t->u.str = v ? "true" : "false";
    t->len = (uint32_t)strlen(t->u.str);
    return t;
}

/* Children of built nodes grow by doubling inside the arena (the old block
 * is abandoned: output trees are small and short-lived). The capacity is
 * implied by the length: 8, 16, 32... so nodes need not store it. */
static void *grow(struct arena *a, void *old, uint32_t len, size_t elem)
{
    if (len != 0 && (len < 8 || (len & (len - 1)) != 0))
        return old;                    /* room left */
    size_t ncap = len ? (size_t)len * 2 : 8;
    void *p = arena_alloc(a, ncap * elem);
    if (old)
        memcpy(p, old, (size_t)len * elem);
    return p;
}

void tree_seq_add(struct arena *a, struct tree *seq, struct tree *item)
{
    seq->u.items = grow(a, seq->u.items, seq->len, sizeof(struct tree *));
    seq->u.items[seq->len++] = item;
}

struct tree *tree_copy(struct arena *a, const struct tree *t)
{
    struct tree *c = arena_alloc(a, sizeof(*c));
    *c = *t;
    /* the room grow() counts on: 8, else the power of two at or above len */
    size_t cap = 8;
    while (cap < t->len)
        cap *= 2;
    switch (t->type) {
    case TREE_SCALAR:
        c->u.str = arena_strndup(a, t->u.str, t->len);
        break;
    case TREE_SEQ:
        c->u.items = arena_alloc(a, cap * sizeof(*c->u.items));
        for (uint32_t i = 0; i < t->len; i++)
            c->u.items[i] = tree_copy(a, t->u.items[i]);
        break;
    case TREE_MAP:
        c->u.pairs = arena_alloc(a, cap * sizeof(*c->u.pairs));
        for (uint32_t i = 0; i < t->len; i++) {
            c->u.pairs[i].key = tree_copy(a, t->u.pairs[i].key);
            c->u.pairs[i].value = tree_copy(a, t->u.pairs[i].value);
        }
        break;
    default:
        break;
    }
    return c;
}

void tree_map_add(struct arena *a, struct tree *map, const char *key,
                  struct tree *value)
{
    map->u.pairs = grow(a, map->u.pairs, map->len, sizeof(struct tree_pair));
    map->u.pairs[map->len].key = tree_new_str(a, key);
    map->u.pairs[map->len].value = value;
    map->len++;
}

void tree_map_str(struct arena *a, struct tree *map, const char *key, const char *v)
{
    tree_map_add(a, map, key, v ? tree_new_str(a, v) : tree_new_null(a));
}

void tree_map_int(struct arena *a, struct tree *map, const char *key, long long v)
{
    tree_map_add(a, map, key, tree_new_int(a, v));
}

void tree_map_bool(struct arena *a, struct tree *map, const char *key, bool v)
{
    tree_map_add(a, map, key, tree_new_bool(a, v));
}
