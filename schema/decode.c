/* decode.c — the generic, table-driven decoder.
 *
 * HOW IT WORKS. A document is decoded in two steps. First the envelope is
 * read just enough to know the kind (`kind` may come after `spec` in the
 * text, which is why the decoder walks a tree rather than the raw event
 * stream) and the name used in messages. Then decode_struct() walks the
 * kind's top table: for each key of the mapping it finds the field (or
 * reports an unknown field with a suggestion) and decode_value() converts
 * the node according to the field's type, writing into the model struct at
 * the field's offset. Fields not declared take their default, which is YAML
 * text decoded by the very same code; undeclared structs are filled with
 * their defaults too (with hdr.set false). Finally the table's finish hook
 * derives what depends on other fields and checks them together.
 *
 * A value that fails its check is reported and left unset; decoding goes on
 * so that one run reports every problem.
 */
#include "decode.h"

#include "arena.h"
#include "check.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *render_path(struct decode_ctx *c, const char *last)
{
    char buf[512];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nseg && o < sizeof(buf) - 1; i++) {
        int n;
        if (c->seg[i].key)
            n = snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? "." : "",
                         c->seg[i].key);
        else
            n = snprintf(buf + o, sizeof(buf) - o, "[%ld]", c->seg[i].index);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (last && o < sizeof(buf) - 1)
        snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? "." : "", last);
    return arena_strdup(c->arena, buf);
}

static void vreport(struct decode_ctx *c, enum diag_severity sev,
                    struct tree_mark m, const char *last, const char *fmt,
                    va_list ap)
{
    char *msg = arena_vprintf(c->arena, fmt, ap);
    diag_add(c->diag, sev, c->file, m, c->kind ? c->kind->name : NULL,
             c->name,
             c->nseg || last ? render_path(c, last) : NULL, "%s", msg);
}

static void report(struct decode_ctx *c, struct tree_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct decode_ctx *c, struct tree_mark m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, DIAG_ERROR, m, NULL, fmt, ap);
    va_end(ap);
}

struct tree_mark decode_mark(const struct model_object *obj,
                             const struct model_hdr *at, const char *field)
{
    if (at && at->src) {
        if (field) {
            const struct tree_pair *p = tree_pair(at->src, field);
            if (p)
                return p->value->mark;
        }
        return at->src->mark;
    }
    if (obj && obj->hdr.src)
        return obj->hdr.src->mark;
    return (struct tree_mark){ 0, 0 };
}

void decode_error(struct decode_ctx *c, const struct model_hdr *at,
                  const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, DIAG_ERROR, decode_mark(c->obj, at, field), field, fmt, ap);
    va_end(ap);
}

const char *decode_where(struct decode_ctx *c)
{
    if (!c->where_)
        c->where_ = c->name ? arena_printf(c->arena, "%s '%s'", c->kind->name, c->name)
                            : c->kind->name;
    return c->where_;
}

/* "VM 'web-1'" for a field of spec or metadata; "spec.nics[0] of VM
 * 'web-1'" deeper down, so that a message names which NIC. `depth` is how
 * many path segments lead to the struct holding the field. */
static const char *where(struct decode_ctx *c, size_t depth)
{
    if (depth <= 1)
        return decode_where(c);
    size_t saved = c->nseg;
    c->nseg = depth;
    const char *p = render_path(c, NULL);
    c->nseg = saved;
    return arena_printf(c->arena, "%s of %s", p, decode_where(c));
}

/* For messages about the value being decoded (its key is the top segment). */
#define WHERE_VALUE(c) where((c), (c)->nseg ? (c)->nseg - 1 : 0)

static void push_key(struct decode_ctx *c, const char *key)
{
    c->seg[c->nseg].key = key;
    c->seg[c->nseg].index = -1;
    c->nseg++;
}

static void push_index(struct decode_ctx *c, size_t i)
{
    c->seg[c->nseg].key = NULL;
    c->seg[c->nseg].index = (long)i;
    c->nseg++;
}

/* A scalar the parser refused (a control character): already reported. */
static bool is_refused(const struct tree *t)
{
    return t->type == TREE_SCALAR && t->scalar == TREE_REFUSED;
}

static bool is_null(const struct tree *t)
{
    return t->type == TREE_NULL ||
           (t->type == TREE_SCALAR && t->scalar == TREE_PLAIN &&
            tree_plain_kind(t->u.str, t->len) == TREE_PLAIN_NULL);
}

static void wrong_type(struct decode_ctx *c, const struct schema_field *f,
                       const struct tree *v)
{
    report(c, v->mark, "wrong type for '%s' in %s: expected %s, got %s",
           f->name, WHERE_VALUE(c), schema_type_name(f), tree_type_name(v));
}

/* A scalar usable as a string: quoted, or plain and not null or boolean.
 * Plain numbers are accepted as their text (e.g. a bridge named 100). */
static const char *want_string(struct decode_ctx *c,
                               const struct schema_field *f,
                               const struct tree *v)
{
    if (v->type != TREE_SCALAR ||
        (v->scalar == TREE_PLAIN &&
         tree_plain_kind(v->u.str, v->len) == TREE_PLAIN_BOOL)) {
        wrong_type(c, f, v);
        return NULL;
    }
    if (!f->text && strpbrk(v->u.str, "\n\t")) {
        char shown[80];
        text_escape(shown, sizeof(shown), v->u.str, v->len);
        report(c, v->mark, "'%s' in %s is one line of text, without tabs ('%s'): only "
               "multi-line text fields such as cloudInit.userData take them", f->name,
               WHERE_VALUE(c), shown);
        return NULL;
    }
    return v->u.str;
}

static void bad_value(struct decode_ctx *c, const struct schema_field *f,
                      const struct tree *v, const char *what, const char *s,
                      const char *why)
{
    if (f->type == SCHEMA_NAME)   /* metadata.name: the name is what is bad */
        report(c, v->mark, "bad name '%s' for a %s: %s", s, c->kind->name, why);
    else
        report(c, v->mark, "bad %s '%s' for '%s' in %s: %s", what, s, f->name,
               WHERE_VALUE(c), why);
}

static void decode_struct(struct decode_ctx *c, const struct schema_table *t,
                          const struct tree *node, void *dst);

/* A multiple of `step` as the user would write it: the shortest exact
 * spelling, but in the step's own unit rather than as bare bytes
 * ("1953KiB", not "1999872"). */
static void format_multiple(uint64_t v, uint64_t step, char *buf, size_t size)
{
    check_quantity_format(v, buf, size);
    size_t n = strlen(buf);
    if (n && buf[n - 1] >= '0' && buf[n - 1] <= '9' && step >= 1024 && !(step & (step - 1))) {
        char unit[48];
        schema_step_name(step, unit, sizeof(unit));
        if (strchr(unit, ' ') == NULL)       /* KiB, MiB, GiB */
            snprintf(buf, size, "%llu%s", (unsigned long long)(v / step), unit);
    }
}

static void decode_enum(struct decode_ctx *c, const struct schema_field *f,
                        const struct tree *v, const char *s, void *dst)
{
    for (size_t i = 0; f->values[i]; i++)
        if (strcmp(s, f->values[i]) == 0) {
            *(int *)dst = (int)i;
            return;
        }
    if (strcmp(f->name, "apiVersion") == 0) {
        report(c, v->mark, "unknown apiVersion '%s' (expected '%s')", s,
               f->values[0]);
        return;
    }
    char allowed[256];
    size_t o = 0, n = 0;
    allowed[0] = '\0';
    for (; f->values[n]; n++)
        o += (size_t)snprintf(allowed + o, o < sizeof(allowed) ? sizeof(allowed) - o : 0,
                              "%s%s", n ? ", " : "", f->values[n]);
    const char *sugg = text_suggest(s, f->values, n, sizeof(f->values[0]));
    if (sugg)
        report(c, v->mark, "value '%s' not allowed for '%s' in %s (did you mean '%s'? allowed: %s)",
               s, f->name, WHERE_VALUE(c), sugg, allowed);
    else
        report(c, v->mark, "value '%s' not allowed for '%s' in %s (allowed: %s)",
               s, f->name, WHERE_VALUE(c), allowed);
}

static void decode_labels(struct decode_ctx *c, const struct schema_field *f,
                          const struct tree *v, struct model_labels *dst)
{
    if (v->type != TREE_MAP) {
        wrong_type(c, f, v);
        return;
    }
    dst->v = arena_alloc(c->arena, (v->len ? v->len : 1) * sizeof(*dst->v));
    dst->n = 0;
    push_key(c, f->name);
    for (size_t i = 0; i < v->len; i++) {
        const struct tree *k = v->u.pairs[i].key, *val = v->u.pairs[i].value;
        const char *why = check_label_key(k->u.str);
        if (why) {
            report(c, k->mark, "bad label key '%s' in '%s' of %s: %s",
                   k->u.str, f->name, decode_where(c), why);
            continue;
        }
        const char *s;
        if (is_refused(val))
            continue;
        if (is_null(val))
            s = "";
        else if (val->type != TREE_SCALAR ||
                 (val->scalar == TREE_PLAIN &&
                  tree_plain_kind(val->u.str, val->len) == TREE_PLAIN_BOOL)) {
            report(c, val->mark,
                   "label '%s' in '%s' of %s must be a string, not a %s (quote it)",
                   k->u.str, f->name, decode_where(c), tree_type_name(val));
            continue;
        } else {
            s = val->u.str;
        }
        if ((why = check_label_value(s))) {
            report(c, val->mark, "bad label value '%s' for '%s' in %s: %s", s,
                   k->u.str, decode_where(c), why);
            continue;
        }
        /* insertion sort by key: label sets are small */
        size_t j = dst->n++;
        while (j > 0 && strcmp(dst->v[j - 1].key, k->u.str) > 0) {
            dst->v[j] = dst->v[j - 1];
            j--;
        }
        dst->v[j].key = k->u.str;
        dst->v[j].value = s;
    }
    c->nseg--;
}

static void decode_value(struct decode_ctx *c, const struct schema_field *f,
                         const struct tree *v, void *dst)
{
    const char *s = NULL, *why = NULL;

    if (is_refused(v)) {
        if (f->type == SCHEMA_STRUCT)
            decode_struct(c, f->table, NULL, dst);   /* defaults */
        return;
    }
    switch (f->type) {
    case SCHEMA_BOOL:
        if (v->type == TREE_SCALAR && v->scalar == TREE_PLAIN &&
            tree_plain_kind(v->u.str, v->len) == TREE_PLAIN_BOOL) {
            *(bool *)dst = v->u.str[0] == 't' || v->u.str[0] == 'T';
        } else if (v->type == TREE_SCALAR && v->scalar == TREE_PLAIN &&
                   (!strcmp(v->u.str, "yes") || !strcmp(v->u.str, "no") ||
                    !strcmp(v->u.str, "on") || !strcmp(v->u.str, "off"))) {
            report(c, v->mark, "wrong type for '%s' in %s: expected true or false, got '%s'",
                   f->name, WHERE_VALUE(c), v->u.str);
        } else {
            wrong_type(c, f, v);
        }
        return;
    case SCHEMA_INT: {
        if (v->type != TREE_SCALAR || v->scalar != TREE_PLAIN ||
            tree_plain_kind(v->u.str, v->len) != TREE_PLAIN_INT) {
            wrong_type(c, f, v);
            return;
        }
        /* YAML 1.2: 010 is ten, 0o10 eight, 0x10 sixteen (not C's rules) */
        int64_t n;
        if (tree_plain_int(v->u.str, v->len, &n) < 0 || n < f->min || n > f->max) {
            report(c, v->mark, "value %s for '%s' in %s is out of range (%lld to %lld)",
                   v->u.str, f->name, WHERE_VALUE(c), (long long)f->min,
                   (long long)f->max);
            return;
        }
        *(int64_t *)dst = n;
        return;
    }
    case SCHEMA_QUANTITY: {
        uint64_t q;
        if (v->type != TREE_SCALAR || (v->scalar == TREE_PLAIN &&
            tree_plain_kind(v->u.str, v->len) == TREE_PLAIN_BOOL)) {
            wrong_type(c, f, v);
            return;
        }
        const char *t = v->u.str;
        int64_t n;
        if (v->scalar == TREE_PLAIN && v->len > 2 && t[0] == '0' &&
            (t[1] == 'x' || t[1] == 'o') && tree_plain_kind(t, v->len) == TREE_PLAIN_INT) {
            /* a YAML 1.2 hexadecimal or octal integer: a number of bytes */
            if (tree_plain_int(t, v->len, &n) < 0)
                why = "quantity is too large";
            else if (n == 0)
                why = "a quantity must be greater than zero";
            q = (uint64_t)n;
        } else {
            why = check_quantity(t, &q);
        }
        if (why) {
            bad_value(c, f, v, "quantity", t, why);
            return;
        }
        if (q < (uint64_t)f->min) {
            char buf[32];
            check_quantity_format((uint64_t)f->min, buf, sizeof(buf));
            report(c, v->mark, "'%s' in %s must be at least %s", f->name,
                   WHERE_VALUE(c), buf);
            return;
        }
        if (f->step && q % f->step) {
            /* libvirt would round it, and plan show the difference forever */
            uint64_t lo = q - q % f->step, hi = lo + f->step;
            char unit[48], a[96], b[96];
            schema_step_name(f->step, unit, sizeof(unit));
            format_multiple(lo, f->step, a, sizeof(a));
            format_multiple(hi, f->step, b, sizeof(b));
            if (lo >= (uint64_t)f->min && hi > lo)
                report(c, v->mark, "'%s' in %s must be a whole number of %s (%s is not): use %s or %s",
                       f->name, WHERE_VALUE(c), unit, v->u.str, a, b);
            else
                report(c, v->mark, "'%s' in %s must be a whole number of %s (%s is not): use %s",
                       f->name, WHERE_VALUE(c), unit, v->u.str, hi > lo ? b : a);
            return;
        }
        *(uint64_t *)dst = q;
        return;
    }
    case SCHEMA_LABELS:
        decode_labels(c, f, v, dst);
        return;
    case SCHEMA_YAML:
        if (v->type != TREE_MAP) {
            wrong_type(c, f, v);
            return;
        }
        *(const struct tree **)dst = v;
        return;
    case SCHEMA_STRUCT:
        if (v->type != TREE_MAP) {
            wrong_type(c, f, v);
            decode_struct(c, f->table, NULL, dst);   /* defaults */
            return;
        }
        decode_struct(c, f->table, v, dst);
        return;
    case SCHEMA_LIST: {
        if (v->type != TREE_SEQ) {
            wrong_type(c, f, v);
            return;
        }
        size_t size = schema_field_size(f->elem);
        struct { void *v; size_t n; } *list = dst;
        list->v = arena_alloc(c->arena, (v->len ? v->len : 1) * size);
        list->n = v->len;
        for (size_t i = 0; i < v->len; i++) {
            push_index(c, i);
            const struct tree *item = v->u.items[i];
            if (is_null(item))
                report(c, item->mark, "empty item in '%s' of %s", f->name,
                       WHERE_VALUE(c));
            else
                decode_value(c, f->elem, item, (char *)list->v + i * size);
            c->nseg--;
        }
        return;
    }
    default:
        break;
    }

    /* the string-valued types */
    if (!(s = want_string(c, f, v)))
        return;
    const char **out = dst;
    switch (f->type) {
    case SCHEMA_STRING:
        *out = s;
        return;
    case SCHEMA_ENUM:
        decode_enum(c, f, v, s, dst);
        return;
    case SCHEMA_NAME:
    case SCHEMA_REF:
        if ((why = check_name(s))) {
            bad_value(c, f, v, "name", s, why);
            return;
        }
        *out = s;
        return;
    case SCHEMA_MAC: {
        char mac[18];
        if ((why = check_mac(s, mac))) {
            bad_value(c, f, v, "MAC address", s, why);
            return;
        }
        *out = strcmp(mac, s) ? arena_strdup(c->arena, mac) : s;
        return;
    }
    case SCHEMA_IP: {
        struct check_ip ip;
        char buf[64];
        if ((why = check_ip(s, &ip))) {
            bad_value(c, f, v, "IP address", s, why);
            return;
        }
        check_ip_format(&ip, buf, sizeof(buf));
        *out = strcmp(buf, s) ? arena_strdup(c->arena, buf) : s;
        return;
    }
    case SCHEMA_CIDR: {
        struct check_ip net;
        unsigned prefix;
        char buf[80];
        if ((why = check_cidr(s, &net, &prefix))) {
            bad_value(c, f, v, "CIDR", s, why);
            return;
        }
        check_ip_format(&net, buf, sizeof(buf) - 5);
        snprintf(buf + strlen(buf), 5, "/%u", prefix);
        *out = strcmp(buf, s) ? arena_strdup(c->arena, buf) : s;
        return;
    }
    case SCHEMA_SHA256: {
        char hex[65];
        if ((why = check_sha256(s, hex))) {
            bad_value(c, f, v, "sha256", s, why);
            return;
        }
        *out = strcmp(hex, s) ? arena_strdup(c->arena, hex) : s;
        return;
    }
    case SCHEMA_URL:
        why = check_url(s);
        break;
    case SCHEMA_URI:
        why = check_uri(s);
        break;
    case SCHEMA_PATH:
        if (!(why = check_path(s))) {
            char *clean = arena_strdup(c->arena, s);
            check_path_clean(clean);   /* as libvirt keeps it: no perpetual diff */
            if (strcmp(clean, s) != 0)
                s = clean;
        }
        break;
    case SCHEMA_IFNAME:
        why = check_ifname(s);
        break;
    default:
        return;
    }
    if (why) {
        bad_value(c, f, v, f->type == SCHEMA_URL ? "URL"
                           : f->type == SCHEMA_URI ? "URI"
                           : f->type == SCHEMA_PATH ? "path" : "interface name",
                  s, why);
        return;
    }
    *out = s;
}

static size_t count_fields(const struct schema_table *t)
{
    size_t n = 0;
    while (t->fields[n].name)
        n++;
    return n;
}

static void decode_default(struct decode_ctx *c, const struct schema_field *f,
                           void *dst)
{
    struct tree d = { .type = TREE_SCALAR, .scalar = TREE_PLAIN,
                      .u.str = f->def, .len = strlen(f->def) };
    decode_value(c, f, &d, dst);
}

static void decode_struct(struct decode_ctx *c, const struct schema_table *t,
                          const struct tree *node, void *dst)
{
    struct model_hdr *hdr = dst;
    uint64_t seen = 0;
    size_t nfields = count_fields(t);

    hdr->src = node;
    hdr->set = node != NULL;
    for (size_t i = 0; node && i < node->len; i++) {
        const struct tree *k = node->u.pairs[i].key, *v = node->u.pairs[i].value;
        size_t fi = 0;
        while (fi < nfields && strcmp(t->fields[fi].name, k->u.str) != 0)
            fi++;
        if (fi == nfields) {
            const char *sugg = text_suggest(k->u.str, t->fields, nfields,
                                            sizeof(t->fields[0]));
            if (sugg)
                report(c, k->mark, "unknown field '%s' in %s (did you mean '%s'?)",
                       k->u.str, where(c, c->nseg), sugg);
            else
                report(c, k->mark, "unknown field '%s' in %s", k->u.str,
                       where(c, c->nseg));
            continue;
        }
        if (is_null(v))
            continue;      /* "key:" with no value is the same as no key */
        const struct schema_field *f = &t->fields[fi];
        seen |= 1ULL << fi;
        push_key(c, f->name);
        decode_value(c, f, v, (char *)dst + f->offset);
        c->nseg--;
    }
    for (size_t fi = 0; fi < nfields; fi++) {
        const struct schema_field *f = &t->fields[fi];
        if (seen & (1ULL << fi))
            continue;
        void *fdst = (char *)dst + f->offset;
        push_key(c, f->name);
        if (f->def) {
            decode_default(c, f, fdst);
        } else {
            if (f->required && node)
                report(c, node->mark, "missing required field '%s' in %s",
                       f->name, where(c, c->nseg - 1));
            if (f->type == SCHEMA_STRUCT)
                decode_struct(c, f->table, NULL, fdst);   /* defaults */
        }
        c->nseg--;
    }
    if (t->finish)
        t->finish(dst, c);
}

struct model_object *decode_document(struct arena *a, const char *file,
                                     const struct tree *doc, struct diag *d)
{
    struct decode_ctx c = { .arena = a, .diag = d, .file = file };

    if (doc->type != TREE_MAP) {
        diag_add(d, DIAG_ERROR, file, doc->mark, NULL, NULL, NULL,
                 "a manifest document must be a mapping, not a %s",
                 tree_type_name(doc));
        return NULL;
    }
    const struct tree_pair *kp = tree_pair(doc, "kind");
    if (!kp) {
        diag_add(d, DIAG_ERROR, file, doc->mark, NULL, NULL, NULL,
                 "missing required field 'kind' (one of %s)", schema_kind_names());
        return NULL;
    }
    const struct tree *kv = kp->value;
    if (is_refused(kv))
        return NULL;
    if (kv->type != TREE_SCALAR) {
        diag_add(d, DIAG_ERROR, file, kv->mark, NULL, NULL, "kind",
                 "wrong type for 'kind': expected string, got %s",
                 tree_type_name(kv));
        return NULL;
    }
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        if (strcmp(schema_kinds[k].name, kv->u.str) == 0)
            c.kind = &schema_kinds[k];
    if (!c.kind) {
        const char *sugg = text_suggest(kv->u.str, schema_kinds,
                                        MODEL_KIND_COUNT, sizeof(schema_kinds[0]));
        if (sugg)
            diag_add(d, DIAG_ERROR, file, kv->mark, NULL, NULL, "kind",
                     "unknown kind '%s' (did you mean '%s'?)", kv->u.str, sugg);
        else
            diag_add(d, DIAG_ERROR, file, kv->mark, NULL, NULL, "kind",
                     "unknown kind '%s' (one of %s)", kv->u.str, schema_kind_names());
        return NULL;
    }

    /* The name, as written, for messages about the rest of the document. */
    const struct tree *nv = tree_get(tree_get(doc, "metadata"), "name");
    if (nv && nv->type == TREE_SCALAR && !is_null(nv) && !is_refused(nv))
        c.name = nv->u.str;

    struct model_object *o = arena_alloc(a, c.kind->size);
    c.obj = o;
    o->kind = c.kind->kind;
    o->file = file;
    decode_struct(&c, c.kind->top, doc, o);
    if (!o->meta.name)
        return NULL;       /* reported: missing or invalid name */
    return o;
}
