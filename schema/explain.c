/* explain.c — `qkvm explain` and the Markdown manifest reference. */
#include "explain.h"

#include "schema.h"

#include <string.h>

/* "<integer 1..1024>", "<running | stopped>", "<[]object>" ... */
static void type_doc(const struct schema_field *f, char *buf, size_t size)
{
    switch (f->type) {
    case SCHEMA_STRING:
        snprintf(buf, size, "string");
        return;
    case SCHEMA_NAME:
        snprintf(buf, size, "name");
        return;
    case SCHEMA_REF:
        snprintf(buf, size, "%s name", schema_kind_of(f->ref)->name);
        return;
    case SCHEMA_BOOL:
        snprintf(buf, size, "boolean");
        return;
    case SCHEMA_INT:
        snprintf(buf, size, "integer %lld..%lld", (long long)f->min, (long long)f->max);
        return;
    case SCHEMA_QUANTITY:
        if (f->step) {
            char unit[48];
            schema_step_name(f->step, unit, sizeof(unit));
            snprintf(buf, size, "quantity, whole %s", unit);
        } else {
            snprintf(buf, size, "quantity");
        }
        return;
    case SCHEMA_ENUM: {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; f->values[i] && o < size; i++)
            o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " | " : "",
                                  f->values[i]);
        return;
    }
    case SCHEMA_MAC:
        snprintf(buf, size, "MAC address");
        return;
    case SCHEMA_IP:
        snprintf(buf, size, "IP address");
        return;
    case SCHEMA_CIDR:
        snprintf(buf, size, "CIDR");
        return;
    case SCHEMA_URL:
        snprintf(buf, size, "URL");
        return;
    case SCHEMA_SHA256:
        snprintf(buf, size, "sha256 hex");
        return;
    case SCHEMA_URI:
        snprintf(buf, size, "libvirt URI");
        return;
    case SCHEMA_PATH:
        snprintf(buf, size, "absolute path");
        return;
    case SCHEMA_IFNAME:
        snprintf(buf, size, "interface name");
        return;
    case SCHEMA_LABELS:
        snprintf(buf, size, "map[string]string");
        return;
    case SCHEMA_STRUCT:
        snprintf(buf, size, "object");
        return;
    case SCHEMA_YAML:
        snprintf(buf, size, "YAML mapping");
        return;
    case SCHEMA_LIST: {
        char e[96];
        type_doc(f->elem, e, sizeof(e));
        snprintf(buf, size, "[]%s", e);
        return;
    }
    }
}

/* Word-wrap `s` at `width` columns, every line indented by `indent`. */
static void wrap(FILE *out, const char *s, int indent, int width)
{
    int col = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        size_t w = strcspn(s, " ");
        if (!w)
            break;
        if (col && col + 1 + (int)w > width) {
            fputc('\n', out);
            col = 0;
        }
        if (!col) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(s, 1, w, out);
        col += (int)w;
        s += w;
    }
    if (col)
        fputc('\n', out);
}

static void field_line(FILE *out, const struct schema_field *f)
{
    char t[160];
    type_doc(f, t, sizeof(t));
    fprintf(out, "   %s\t<%s>%s", f->name, t, f->required ? " -required-" : "");
    if (f->def)
        fprintf(out, " (default: %s)", f->def);
    fputc('\n', out);
    if (f->doc)
        wrap(out, f->doc, 5, 78);
    fputc('\n', out);
}

void explain_kinds(FILE *out)
{
    fprintf(out, "KINDS (apiVersion %s):\n", SCHEMA_API_VERSION);
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        fprintf(out, "   %s\n", schema_kinds[k].name);
        wrap(out, schema_kinds[k].doc, 5, 78);
    }
    fprintf(out, "\nUse 'qkvm explain KIND[.FIELD...]', e.g. qkvm explain vm.spec.nics\n");
}

int explain_path(FILE *out, const char *path, char *err, size_t errsize)
{
    const struct schema_kind *kind;
    const struct schema_field *f;
    if (schema_lookup(path, &kind, &f, err, errsize) < 0)
        return -1;
    fprintf(out, "KIND:     %s\nVERSION:  %s\n\n", kind->name, SCHEMA_API_VERSION);
    const struct schema_table *t = kind->top;
    if (f) {
        char ty[160];
        type_doc(f, ty, sizeof(ty));
        const char *dot = strchr(path, '.');
        fprintf(out, "FIELD:    %s <%s>%s\n", dot ? dot + 1 : path, ty,
                f->required ? " -required-" : "");
        if (f->def)
            fprintf(out, "DEFAULT:  %s\n", f->def);
        fprintf(out, "\nDESCRIPTION:\n");
        if (f->doc)
            wrap(out, f->doc, 5, 78);
        t = schema_field_table(f);
        if (t && t->doc)
            wrap(out, t->doc, 5, 78);
    } else {
        fprintf(out, "DESCRIPTION:\n");
        wrap(out, kind->doc, 5, 78);
    }
    if (t) {
        fprintf(out, "\nFIELDS:\n");
        for (const struct schema_field *g = t->fields; g->name; g++)
            field_line(out, g);
    }
    return 0;
}

/* Markdown: escape '|' so a doc string cannot break the table. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

static void md_rows(FILE *out, const struct schema_table *t, const char *prefix)
{
    for (const struct schema_field *f = t->fields; f->name; f++) {
        if (!prefix[0] && (strcmp(f->name, "apiVersion") == 0 ||
                           strcmp(f->name, "kind") == 0 ||
                           strcmp(f->name, "metadata") == 0))
            continue;   /* the envelope is described once */
        char path[256], ty[160];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
        type_doc(f, ty, sizeof(ty));
        fprintf(out, "| `%s` | ", path);
        md_cell(out, ty);
        fprintf(out, " | %s | ", f->required ? "yes" : "");
        if (f->def)
            fprintf(out, "`%s`", f->def);
        fputs(" | ", out);
        md_cell(out, f->doc ? f->doc : "");
        fputs(" |\n", out);
        const struct schema_table *sub = schema_field_table(f);
        if (sub) {
            char p2[260];
            snprintf(p2, sizeof(p2), "%s%s", path, f->type == SCHEMA_LIST ? "[]" : "");
            md_rows(out, sub, p2);
        }
    }
}

void explain_reference(FILE *out)
{
    fprintf(out,
        "Every document has `apiVersion: %s`, a `kind`, `metadata` (`name`: "
        "lowercase letters, digits and `-`, at most 63 characters; optional "
        "`labels`) and a `spec`. Quantities are whole numbers with an optional "
        "unit: `KiB MiB GiB TiB` (binary) or `K M G T` (decimal). A field "
        "marked required inside an optional object is required when that "
        "object is given. This "
        "reference is generated from the schema tables (`qkvm explain "
        "--reference`).\n",
        SCHEMA_API_VERSION);
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        const struct schema_kind *kind = &schema_kinds[k];
        fprintf(out, "\n### %s\n\n", kind->name);
        md_cell(out, kind->doc);
        fprintf(out, "\n\n| field | type | required | default | description |\n"
                     "| --- | --- | --- | --- | --- |\n");
        md_rows(out, kind->top, "");
    }
}
