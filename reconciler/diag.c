/* diag.c — the findings list. */
#include "diag.h"

#include "arena.h"
#include "vec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_MSG_MAX 1024

void diag_init(struct diag *d)
{
    memset(d, 0, sizeof(*d));
    d->arena = arena_new();
}

void diag_dispose(struct diag *d)
{
    if (!d)
        return;
    free(d->items);
    arena_free(d->arena);
    memset(d, 0, sizeof(*d));
}

/* Copy `s` escaping control characters, so that one finding is one line
 * whatever the manifest contained; cut at DIAG_MSG_MAX bytes. */
static char *sanitize(struct arena *a, const char *s)
{
    char buf[DIAG_MSG_MAX + 8];
    size_t o = 0;
    for (; *s && o < DIAG_MSG_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
            o += 4;
        } else {
            buf[o++] = (char)c;
        }
    }
    if (*s && o >= DIAG_MSG_MAX) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    return arena_strndup(a, buf, o);
}

void diag_add(struct diag *d, enum diag_severity sev, const char *file,
              struct tree_mark mark, const char *kind, const char *name,
              const char *field, const char *fmt, ...)
{
    if (sev == DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
    if (d->len >= DIAG_MAX) {
        d->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(d->arena, fmt, ap);
    va_end(ap);
    struct diag_item *it = vec_append(NULL, d->items, d->len, d->cap, 1);
    it->file = file ? arena_strdup(d->arena, file) : NULL;
    it->mark = mark;
    it->severity = sev;
    it->kind = kind ? arena_strdup(d->arena, kind) : NULL;
    it->name = name ? sanitize(d->arena, name) : NULL;
    it->field = field ? sanitize(d->arena, field) : NULL;
    it->message = sanitize(d->arena, msg);
}

static int cmp_item(const void *pa, const void *pb)
{
    const struct diag_item *a = pa, *b = pb;
    int c;
    if (a->file != b->file) {
        if (!a->file)
            return -1;
        if (!b->file)
            return 1;
        if ((c = strcmp(a->file, b->file)) != 0)
            return c;
    }
    if (a->mark.line != b->mark.line)
        return a->mark.line < b->mark.line ? -1 : 1;
    if (a->mark.col != b->mark.col)
        return a->mark.col < b->mark.col ? -1 : 1;
    if (a->severity != b->severity)
        return a->severity < b->severity ? -1 : 1;
    return strcmp(a->message, b->message);
}

void diag_sort(struct diag *d)
{
    if (d->len > 1)
        qsort(d->items, d->len, sizeof(*d->items), cmp_item);
}

void diag_print(const struct diag *d, FILE *out, bool color)
{
    const char *bold = color ? "\033[1m" : "", *reset = color ? "\033[0m" : "";
    const char *warn = color ? "\033[1;35m" : "";
    for (size_t i = 0; i < d->len; i++) {
        const struct diag_item *it = &d->items[i];
        fputs(bold, out);
        if (it->file) {
            fputs(it->file, out);
            if (it->mark.line)
                fprintf(out, ":%u:%u", it->mark.line, it->mark.col);
            fputs(": ", out);
        }
        fputs(reset, out);
        if (it->severity == DIAG_WARNING)
            fprintf(out, "%swarning:%s ", warn, reset);
        fprintf(out, "%s\n", it->message);
    }
    if (d->dropped)
        fprintf(out, "qkvm: %zu more findings not shown (at most %d are kept)\n",
                d->dropped, DIAG_MAX);
}

struct tree *diag_to_tree(const struct diag *d, struct arena *a)
{
    struct tree *seq = tree_new_seq(a);
    for (size_t i = 0; i < d->len; i++) {
        const struct diag_item *it = &d->items[i];
        struct tree *m = tree_new_map(a);
        tree_map_str(a, m, "file", it->file);
        if (it->mark.line) {
            tree_map_int(a, m, "line", it->mark.line);
            tree_map_int(a, m, "column", it->mark.col);
        } else {
            tree_map_add(a, m, "line", tree_new_null(a));
            tree_map_add(a, m, "column", tree_new_null(a));
        }
        tree_map_str(a, m, "severity",
                     it->severity == DIAG_ERROR ? "error" : "warning");
        tree_map_str(a, m, "kind", it->kind);
        tree_map_str(a, m, "name", it->name);
        tree_map_str(a, m, "field", it->field);
        tree_map_str(a, m, "message", it->message);
        tree_seq_add(a, seq, m);
    }
    return seq;
}
