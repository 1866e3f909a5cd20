/* jsondoc.c — trees to JSON and back through jansson. */
#include "jsondoc.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static json_t *scalar(const struct tree *t)
{
    enum tree_plain k = TREE_PLAIN_STR;
    if (t->scalar == TREE_INT)
        k = TREE_PLAIN_INT;
    else if (t->scalar == TREE_BOOL)
        k = TREE_PLAIN_BOOL;
    else if (t->scalar == TREE_PLAIN)
        k = tree_plain_kind(t->u.str, t->len);
    switch (k) {
    case TREE_PLAIN_NULL:
        return json_null();
    case TREE_PLAIN_BOOL:
        return json_boolean(t->u.str[0] == 't' || t->u.str[0] == 'T');
    case TREE_PLAIN_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(t->u.str, &end, 0);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
        break;   /* out of range: keep the text */
    }
    case TREE_PLAIN_FLOAT:
    case TREE_PLAIN_STR:
        break;
    }
    return json_stringn(t->u.str, t->len);
}

/* Output trees are shallow (bounded by the schema), so recursion is fine. */
static json_t *convert(const struct tree *t)
{
    json_t *j = NULL;
    switch (t->type) {
    case TREE_NULL:
        return json_null();
    case TREE_SCALAR:
        return scalar(t);
    case TREE_SEQ:
        j = json_array();
        for (size_t i = 0; j && i < t->len; i++)
            json_array_append_new(j, convert(t->u.items[i]));
        return j;
    case TREE_MAP:
        j = json_object();
        for (size_t i = 0; j && i < t->len; i++)
            json_object_setn_new(j, t->u.pairs[i].key->u.str,
                                 t->u.pairs[i].key->len,
                                 convert(t->u.pairs[i].value));
        return j;
    }
    return json_null();
}

int jsondoc_emit(FILE *out, const struct tree *t)
{
    json_t *j = convert(t);
    if (!j)
        return -1;
    int rc = json_dumpf(j, out, JSON_INDENT(2));
    json_decref(j);
    if (rc == 0 && fputc('\n', out) == EOF)
        rc = -1;
    return rc;
}

char *jsondoc_string(const struct tree *t)
{
    json_t *j = convert(t);
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

/* JSON text qkvm wrote itself (the state store's before/after and specs):
 * shallow, so recursion is fine here too. */
static struct tree *from_json(struct arena *a, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct tree *m = tree_new_map(a);
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
            tree_map_add(a, m, key, from_json(a, v));
        return m;
    }
    case JSON_ARRAY: {
        struct tree *s = tree_new_seq(a);
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            tree_seq_add(a, s, from_json(a, v));
        return s;
    }
    case JSON_STRING:
        return tree_new_strn(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return tree_new_int(a, (long long)json_integer_value(j));
    case JSON_REAL: {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        return tree_new_str(a, buf);
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return tree_new_bool(a, json_is_true(j));
    case JSON_NULL:
        break;
    }
    return tree_new_null(a);
}

struct tree *jsondoc_parse(struct arena *a, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!j)
        return NULL;
    struct tree *t = from_json(a, j);
    json_decref(j);
    return t;
}
