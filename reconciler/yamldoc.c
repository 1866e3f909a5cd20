/* yamldoc.c — libyaml events to trees, and trees to YAML text.
 *
 * HOW IT WORKS. libyaml hands out events (MAPPING_START, SCALAR, ...). A
 * stack of frames mirrors the open collections; each frame collects its
 * children in a scratch vector, and on the matching END event the children
 * are copied once into the arena. Scalars are copied into the arena as they
 * come. The stack is capped at YAMLDOC_MAX_DEPTH, so a hostile
 * "[[[[[[..." stops at depth 65 instead of exhausting memory (libyaml 0.2.5
 * has no depth limit of its own).
 */
#include "yamldoc.h"

#include "arena.h"
#include "text.h"
#include "vec.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
    struct tree *node;
    struct tree **kids;   /* seq: items; map: key, value, key, value ... */
    size_t len, cap;
};

struct builder {
    struct arena *a;
    const char *file;
    struct diag *d;
    struct frame stack[YAMLDOC_MAX_DEPTH + 1];
    size_t depth;
    struct tree *root;
};

static struct tree_mark mark_of(yaml_mark_t m)
{
    struct tree_mark t = { (uint32_t)m.line + 1, (uint32_t)m.column + 1 };
    return t;
}

static void error_at(struct builder *b, struct tree_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_at(struct builder *b, struct tree_mark m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(b->a, fmt, ap);
    va_end(ap);
    diag_add(b->d, DIAG_ERROR, b->file, m, NULL, NULL, NULL, "%s", msg);
}

static void attach(struct builder *b, struct tree *t)
{
    if (b->depth == 0) {
        b->root = t;
    } else {
        struct frame *f = &b->stack[b->depth - 1];
        *vec_append(NULL, f->kids, f->len, f->cap, 1) = t;
    }
}

static int cmp_key(const void *pa, const void *pb)
{
    const struct tree *a = *(struct tree *const *)pa;
    const struct tree *b = *(struct tree *const *)pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->u.str, b->u.str, n);
    if (c)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    /* equal keys: source order, so the later one is reported */
    if (a->mark.line != b->mark.line)
        return a->mark.line < b->mark.line ? -1 : 1;
    return a->mark.col < b->mark.col ? -1 : a->mark.col > b->mark.col;
}

static bool key_eq(const struct tree *a, const struct tree *b)
{
    return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
}

static void dup_error(struct builder *b, const struct tree *first,
                      const struct tree *again)
{
    diag_add(b->d, DIAG_ERROR, b->file, again->mark, NULL, NULL, NULL,
             "duplicate key '%s' (first at line %u)", again->u.str,
             first->mark.line);
}

/* Close the map in `f`: copy pairs into the arena, reject non-scalar and
 * duplicate keys, drop keys refused for a control character (reported). Small maps are checked pairwise, large ones by sorting, so
 * a map with a million keys costs n log n, not n^2. */
static void close_map(struct builder *b, struct frame *f)
{
    struct tree *m = f->node;
    size_t n = f->len / 2, kept = 0;
    m->u.pairs = arena_alloc(b->a, (n ? n : 1) * sizeof(struct tree_pair));
    for (size_t i = 0; i < n; i++) {
        struct tree *k = f->kids[2 * i], *v = f->kids[2 * i + 1];
        if (k->type != TREE_SCALAR) {
            error_at(b, k->mark, "mapping keys must be strings, not a %s",
                     tree_type_name(k));
            continue;
        }
        if (k->scalar == TREE_REFUSED)
            continue;
        m->u.pairs[kept].key = k;
        m->u.pairs[kept].value = v;
        kept++;
    }
    m->len = kept;
    if (kept <= 16) {
        for (size_t i = 1; i < kept; i++)
            for (size_t j = 0; j < i; j++)
                if (key_eq(m->u.pairs[j].key, m->u.pairs[i].key)) {
                    dup_error(b, m->u.pairs[j].key, m->u.pairs[i].key);
                    break;
                }
        return;
    }
    struct tree **keys = xmalloc(kept * sizeof(*keys));
    for (size_t i = 0; i < kept; i++)
        keys[i] = m->u.pairs[i].key;
    qsort(keys, kept, sizeof(*keys), cmp_key);
    size_t first = 0;
    for (size_t i = 1; i < kept; i++) {
        if (key_eq(keys[first], keys[i]))
            dup_error(b, keys[first], keys[i]);
        else
            first = i;
    }
    free(keys);
}

static void close_seq(struct builder *b, struct frame *f)
{
    struct tree *s = f->node;
    s->len = f->len;
    s->u.items = arena_alloc(b->a, (f->len ? f->len : 1) * sizeof(struct tree *));
    if (f->len)
        memcpy(s->u.items, f->kids, f->len * sizeof(struct tree *));
}

/* Anchors and tags are rejected where they appear; !!str is allowed. */
static void check_props(struct builder *b, yaml_event_t *ev,
                        const yaml_char_t *anchor, const yaml_char_t *tag)
{
    if (anchor) {
        error_at(b, mark_of(ev->start_mark),
                 "YAML anchors are not supported ('&%s'): write the value out",
                 (const char *)anchor);
    }
    if (tag && strcmp((const char *)tag, YAML_STR_TAG) != 0) {
        /* libyaml expands "!!int" to "tag:yaml.org,2002:int": say it as written */
        const char *t = (const char *)tag, *std = "tag:yaml.org,2002:";
        bool short_form = strncmp(t, std, strlen(std)) == 0;
        error_at(b, mark_of(ev->start_mark), "YAML tags are not supported ('%s%s')",
                 short_form ? "!!" : "", short_form ? t + strlen(std) : t);
    }
}

/* The first control character of a scalar, as a code point, or -1: C0
 * (U+0000 to U+001F, NUL included: libyaml gives the length), DEL and C1
 * (U+0080 to U+009F). A value may hold newlines and tabs (text of several
 * lines: cloud-init's userData); the decoder refuses them in every field
 * that is not multi-line text (schema_field.text), since they would reach
 * libvirt's XML, the terminal and the state database. A key never holds
 * them. libyaml has checked the UTF-8. */
static long control_char(const unsigned char *s, size_t len, bool is_key)
{
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '\n' || s[i] == '\t') && !is_key)
            continue;
        if (s[i] < 0x20 || s[i] == 0x7f)
            return s[i];
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return s[i + 1];
    }
    return -1;
}

/* A scalar with a control character is reported here, once, and marked
 * refused; keys so marked are dropped when their map closes. */
static void check_scalar(struct builder *b, struct tree *t, bool is_key)
{
    long cp = control_char((const unsigned char *)t->u.str, t->len, is_key);
    if (cp < 0)
        return;
    char shown[80], what[40];
    text_escape(shown, sizeof(shown), t->u.str, t->len);
    if (cp == 0)
        snprintf(what, sizeof(what), "NUL character (U+0000)");
    else
        snprintf(what, sizeof(what), "control character U+%04lX", (unsigned long)cp);
    error_at(b, t->mark, "%s in %s '%s': keys and values cannot contain control characters",
             what, is_key ? "key" : "value", shown);
    t->scalar = TREE_REFUSED;
}

/* Line and column (1-based, in characters) of byte `off` of `buf`. */
static struct tree_mark mark_at_offset(const char *buf, size_t len, size_t off)
{
    struct tree_mark m = { 1, 1 };
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.col = 1;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            m.col++;
        }
    }
    return m;
}

static void parser_error(struct builder *b, yaml_parser_t *p, const char *buf,
                         size_t len)
{
    switch (p->error) {
    case YAML_READER_ERROR: {
        struct tree_mark m = mark_at_offset(buf, len, p->problem_offset);
        if (p->problem_value != -1)
            diag_add(b->d, DIAG_ERROR, b->file, m, NULL, NULL, NULL,
                     "invalid input: %s (byte 0x%02x); manifests must be UTF-8 text",
                     p->problem, (unsigned)p->problem_value & 0xffu);
        else
            diag_add(b->d, DIAG_ERROR, b->file, m, NULL, NULL, NULL,
                     "invalid input: %s; manifests must be UTF-8 text",
                     p->problem);
        return;
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (p->context)
            diag_add(b->d, DIAG_ERROR, b->file, mark_of(p->problem_mark),
                     NULL, NULL, NULL, "invalid YAML: %s (%s at line %zu)",
                     p->problem, p->context, p->context_mark.line + 1);
        else
            diag_add(b->d, DIAG_ERROR, b->file, mark_of(p->problem_mark),
                     NULL, NULL, NULL, "invalid YAML: %s", p->problem);
        return;
    case YAML_MEMORY_ERROR:
        fprintf(stderr, "qkvm: out of memory parsing YAML\n");
        abort();
    default:
        diag_add(b->d, DIAG_ERROR, b->file, (struct tree_mark){ 0, 0 }, NULL,
                 NULL, NULL, "invalid YAML: %s",
                 p->problem ? p->problem : "unknown error");
    }
}

/* The encoding of a stream that is not UTF-8, detected as YAML 1.2 (5.2)
 * says: by its byte-order mark, or by the NUL bytes ASCII text has in
 * UTF-16 and UTF-32. NULL for UTF-8, with or without a byte-order mark
 * (libyaml skips that one). */
static const char *foreign_encoding(const unsigned char *b, size_t len, bool *bom)
{
    *bom = true;
    if (len >= 4 && !b[0] && !b[1] && b[2] == 0xfe && b[3] == 0xff)
        return "UTF-32BE";
    if (len >= 4 && b[0] == 0xff && b[1] == 0xfe && !b[2] && !b[3])
        return "UTF-32LE";
    if (len >= 2 && b[0] == 0xfe && b[1] == 0xff)
        return "UTF-16BE";
    if (len >= 2 && b[0] == 0xff && b[1] == 0xfe)
        return "UTF-16LE";
    *bom = false;
    if (len >= 4 && !b[0] && !b[1] && !b[2] && b[3])
        return "UTF-32BE";
    if (len >= 4 && b[0] && !b[1] && !b[2] && !b[3])
        return "UTF-32LE";
    if (len >= 2 && !b[0] && b[1])
        return "UTF-16BE";
    if (len >= 2 && b[0] && !b[1])
        return "UTF-16LE";
    return NULL;
}

int yamldoc_check(const char *buf, size_t len, char *msg, size_t size)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = 0;
    if (!yaml_parser_initialize(&p)) {
        snprintf(msg, size, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(msg, size, "line %zu column %zu: %s%s%s",
                     p.problem_mark.line + 1, p.problem_mark.column + 1,
                     p.problem ? p.problem : "syntax error", p.context ? " " : "",
                     p.context ? p.context : "");
            rc = -1;
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

int yamldoc_parse(struct arena *a, const char *file, const char *buf,
                  size_t len, struct diag *d, struct yamldoc_set *out)
{
    struct builder b = { .a = a, .file = file, .d = d };
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = 0;
    size_t cap = 0;

    out->docs = NULL;
    out->len = 0;
    bool bom;
    const char *enc = foreign_encoding((const unsigned char *)buf, len, &bom);
    if (enc) {
        if (bom)
            diag_add(d, DIAG_ERROR, file, (struct tree_mark){ 1, 1 }, NULL, NULL, NULL,
                     "file is %s (it starts with that byte-order mark); manifests must be "
                     "UTF-8: convert it, e.g. with iconv -f %s -t UTF-8", enc, enc);
        else
            diag_add(d, DIAG_ERROR, file, (struct tree_mark){ 1, 1 }, NULL, NULL, NULL,
                     "file looks like %s without a byte-order mark (NUL bytes between its "
                     "first characters); manifests must be UTF-8: convert it, e.g. with "
                     "iconv -f %s -t UTF-8", enc, enc);
        return -1;
    }
    if (!yaml_parser_initialize(&p)) {
        fprintf(stderr, "qkvm: out of memory initialising libyaml\n");
        abort();
    }
    /* never UTF-16: refused above, and not guessed by libyaml either */
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            parser_error(&b, &p, buf, len);
            rc = -1;
            break;
        }
        yaml_event_type_t type = ev.type;
        struct tree *t = NULL;
        switch (type) {
        case YAML_STREAM_START_EVENT:
        case YAML_NO_EVENT:
            break;
        case YAML_DOCUMENT_START_EVENT:
            b.root = NULL;
            break;
        case YAML_DOCUMENT_END_EVENT:
            /* An empty document ("---" alone, or only comments) is a
             * null scalar: it is skipped, not an error. */
            if (b.root && !(b.root->type == TREE_NULL ||
                            (b.root->type == TREE_SCALAR &&
                             b.root->scalar == TREE_PLAIN &&
                             tree_plain_kind(b.root->u.str, b.root->len) ==
                                 TREE_PLAIN_NULL)))
                *vec_append(a, out->docs, out->len, cap, 1) = b.root;
            b.root = NULL;
            break;
        case YAML_ALIAS_EVENT:
            error_at(&b, mark_of(ev.start_mark),
                     "YAML aliases are not supported ('*%s'): write the value out",
                     (const char *)ev.data.alias.anchor);
            t = arena_alloc(a, sizeof(*t));
            t->type = TREE_NULL;
            t->mark = mark_of(ev.start_mark);
            attach(&b, t);
            break;
        case YAML_SCALAR_EVENT:
            t = arena_alloc(a, sizeof(*t));
            t->type = TREE_SCALAR;
            t->mark = mark_of(ev.start_mark);
            /* Quoted or !!str: a string. A rejected tag is reported once
             * and otherwise ignored, so it causes no second finding. */
            check_props(&b, &ev, ev.data.scalar.anchor, ev.data.scalar.tag);
            t->scalar = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                                (ev.data.scalar.tag &&
                                 strcmp((const char *)ev.data.scalar.tag, YAML_STR_TAG) == 0)
                            ? TREE_STR : TREE_PLAIN;
            t->u.str = arena_strndup(a, (const char *)ev.data.scalar.value,
                                     ev.data.scalar.length);
            t->len = ev.data.scalar.length;
            /* a key: the next child of a map is at an even position */
            check_scalar(&b, t, b.depth > 0 && b.stack[b.depth - 1].node->type == TREE_MAP &&
                                    b.stack[b.depth - 1].len % 2 == 0);
            attach(&b, t);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (type == YAML_SEQUENCE_START_EVENT)
                check_props(&b, &ev, ev.data.sequence_start.anchor,
                            ev.data.sequence_start.tag);
            else
                check_props(&b, &ev, ev.data.mapping_start.anchor,
                            ev.data.mapping_start.tag);
            if (b.depth >= YAMLDOC_MAX_DEPTH) {
                diag_add(d, DIAG_ERROR, file, mark_of(ev.start_mark), NULL,
                         NULL, NULL, "nesting deeper than %d levels",
                         YAMLDOC_MAX_DEPTH);
                rc = -1;
                break;
            }
            t = arena_alloc(a, sizeof(*t));
            t->type = type == YAML_SEQUENCE_START_EVENT ? TREE_SEQ : TREE_MAP;
            t->mark = mark_of(ev.start_mark);
            attach(&b, t);
            b.stack[b.depth].node = t;
            b.stack[b.depth].len = 0;
            b.depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            struct frame *f = &b.stack[--b.depth];
            if (f->node->type == TREE_MAP)
                close_map(&b, f);
            else
                close_seq(&b, f);
            break;
        }
        case YAML_STREAM_END_EVENT:
            break;
        }
        yaml_event_delete(&ev);
        if (rc < 0 || type == YAML_STREAM_END_EVENT)
            break;
    }
    for (size_t i = 0; i <= YAMLDOC_MAX_DEPTH; i++)
        free(b.stack[i].kids);
    yaml_parser_delete(&p);
    return rc;
}

/* ---- emitting ---- */

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -1;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t len, bool quote)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len,
                                 1, 1,
                                 quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                       : YAML_ANY_SCALAR_STYLE);
    return emit(e, &ev);
}

/* Would a YAML 1.1 reader (PyYAML, older tools) take this plain scalar for
 * something other than a string? Booleans like "yes" and sexagesimal
 * numbers like 52:54:00:30:00:21 (a MAC!) are quoted so that every reader
 * sees a string. */
static bool yaml11_special(const char *s, size_t len)
{
    static const char *const words[] = { "y", "Y", "yes", "Yes", "YES", "n", "N",
        "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", NULL };
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
            return true;
    bool colon = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':')
            colon = true;
        else if ((s[i] < '0' || s[i] > '9') && s[i] != '_' && s[i] != '.' &&
                 !(i == 0 && (s[i] == '-' || s[i] == '+')))
            return false;
    }
    return colon;
}

/* Trees handed to the emitter are small output trees (plans, findings,
 * normalised manifests) whose depth is bounded by the schema, so recursion
 * is fine here. */
static int emit_node(yaml_emitter_t *e, const struct tree *t)
{
    yaml_event_t ev;
    switch (t->type) {
    case TREE_NULL:
        return emit_scalar(e, "null", 4, false);
    case TREE_SCALAR:
        if (t->scalar == TREE_STR)
            return emit_scalar(e, t->u.str, t->len,
                               tree_plain_kind(t->u.str, t->len) != TREE_PLAIN_STR ||
                                   yaml11_special(t->u.str, t->len));
        return emit_scalar(e, t->u.str, t->len, false);
    case TREE_SEQ:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
            t->len ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE);
        if (emit(e, &ev) < 0)
            return -1;
        for (size_t i = 0; i < t->len; i++)
            if (emit_node(e, t->u.items[i]) < 0)
                return -1;
        yaml_sequence_end_event_initialize(&ev);
        return emit(e, &ev);
    case TREE_MAP:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
            t->len ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE);
        if (emit(e, &ev) < 0)
            return -1;
        for (size_t i = 0; i < t->len; i++)
            if (emit_node(e, t->u.pairs[i].key) < 0 ||
                emit_node(e, t->u.pairs[i].value) < 0)
                return -1;
        yaml_mapping_end_event_initialize(&ev);
        return emit(e, &ev);
    }
    return -1;
}

int yamldoc_emit(FILE *out, struct tree *const *docs, size_t n)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    int rc = -1;

    if (!yaml_emitter_initialize(&e))
        return -1;
    yaml_emitter_set_output_file(&e, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (emit(&e, &ev) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
        if (emit(&e, &ev) < 0 || emit_node(&e, docs[i]) < 0)
            goto done;
        yaml_document_end_event_initialize(&ev, 1);
        if (emit(&e, &ev) < 0)
            goto done;
    }
    yaml_stream_end_event_initialize(&ev);
    if (emit(&e, &ev) < 0)
        goto done;
    rc = yaml_emitter_flush(&e) ? 0 : -1;
done:
    yaml_emitter_delete(&e);
    return rc;
}
