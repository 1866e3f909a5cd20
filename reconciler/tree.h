/* tree.h — a YAML/JSON document as a tree of nodes with source marks.
 *
 * Parsed manifests (yamldoc.c) and everything qkvm prints as data (-o json,
 * -o yaml, the JSON Schema) are trees. A parsed scalar keeps whether it was
 * plain or quoted: the schema decoder resolves plain scalars against the
 * field's type (YAML 1.2 core schema), so `"2"` is a string and `2` an int.
 * Built scalars carry their type so the emitters can quote correctly.
 *
 * All nodes and strings of a tree live in one arena; scalar text is always
 * NUL-terminated. Marks are 1-based; 0 means "no source".
 */
#ifndef QKVM_TREE_H
#define QKVM_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

enum tree_type { TREE_NULL, TREE_SCALAR, TREE_SEQ, TREE_MAP };

enum tree_scalar {
    TREE_PLAIN,   /* parsed, unquoted: resolve by the YAML 1.2 core schema */
    TREE_STR,     /* a string, quoted in the source or built as one */
    TREE_INT,     /* built as an integer */
    TREE_BOOL,    /* built as a boolean ("true"/"false") */
    TREE_REFUSED, /* parsed, and refused by the parser (a control character):
                     reported once there; every reader skips it */
};

struct tree_mark {
    uint32_t line, col;
};

struct tree_pair;

/* 24 bytes: a parsed manifest set of ten thousand VMs has about a million
 * nodes, so their size is what the loader's memory is. */
struct tree {
    uint8_t type;                /* enum tree_type */
    uint8_t scalar;              /* enum tree_scalar */
    uint32_t len;                /* scalar: bytes; seq, map: children */
    struct tree_mark mark;
    union {
        const char *str;         /* TREE_SCALAR */
        struct tree **items;     /* TREE_SEQ */
        struct tree_pair *pairs; /* TREE_MAP */
    } u;
};

struct tree_pair {
    struct tree *key;            /* always a scalar */
    struct tree *value;
};

/* What a plain scalar means under the YAML 1.2 core schema. */
enum tree_plain { TREE_PLAIN_STR, TREE_PLAIN_NULL, TREE_PLAIN_BOOL,
                  TREE_PLAIN_INT, TREE_PLAIN_FLOAT };
enum tree_plain tree_plain_kind(const char *s, size_t len);
/* The value of a plain scalar tree_plain_kind() calls an integer, by the
 * same schema: [-+]?[0-9]+ is decimal (leading zeros too: 010 is ten),
 * 0o[0-7]+ octal, 0x[0-9a-fA-F]+ hexadecimal. 0, or -1 when it is not an
 * integer or does not fit in 64 bits. */
int tree_plain_int(const char *s, size_t len, int64_t *out);

/* Lookup: the value of key `key` in map `m`, or NULL. */
struct tree *tree_get(const struct tree *m, const char *key);
/* The pair of key `key`, or NULL (for the key's own mark). */
const struct tree_pair *tree_pair(const struct tree *m, const char *key);
const char *tree_type_name(const struct tree *t);   /* "mapping", "string"... */
/* Typed reads of a member, for renderers of built trees: the scalar's
 * text, or dflt when the member is absent, null or not a scalar. */
const char *tree_str(const struct tree *m, const char *key, const char *dflt);
long long tree_int(const struct tree *m, const char *key, long long dflt);
bool tree_bool(const struct tree *m, const char *key);

/* Builders for output trees; everything is allocated in `a`. */
struct tree *tree_new_map(struct arena *a);
struct tree *tree_new_seq(struct arena *a);
struct tree *tree_new_null(struct arena *a);
struct tree *tree_new_str(struct arena *a, const char *s);   /* copies s */
struct tree *tree_new_strn(struct arena *a, const char *s, size_t len);
struct tree *tree_new_int(struct arena *a, long long v);
struct tree *tree_new_bool(struct arena *a, bool v);
/* A deep copy of t in arena a (marks and scalar kinds kept). */
struct tree *tree_copy(struct arena *a, const struct tree *t);
void tree_seq_add(struct arena *a, struct tree *seq, struct tree *item);
void tree_map_add(struct arena *a, struct tree *map, const char *key,
                  struct tree *value);   /* key is copied */
/* Convenience: add a string / integer / boolean member. */
void tree_map_str(struct arena *a, struct tree *map, const char *key, const char *v);
void tree_map_int(struct arena *a, struct tree *map, const char *key, long long v);
void tree_map_bool(struct arena *a, struct tree *map, const char *key, bool v);

#endif
