/* cmd_manifest.c — the commands about manifests alone, no host: validate,
 * render, explain, schema, version. */
#include "cli.h"

#include "arena.h"
#include "diag.h"
#include "encode.h"
#include "explain.h"
#include "jsonschema.h"
#include "schema.h"
#include "session.h"
#include "tree.h"

#include <string.h>

#ifndef QKVM_VERSION
#define QKVM_VERSION "0.1.0"
#endif

/* KIND COUNT NAMES, then "valid: ..." (a valid set; an invalid one has
 * said so on stderr). */
static void validate_table(FILE *out, const struct cli *c, const struct tree *t,
                    const void *payload)
{
    (void)payload;
    if (!tree_bool(t, "valid") || c->quiet)
        return;
    const struct tree *counts = tree_get(t, "objects"), *names = tree_get(t, "names");
    fprintf(out, "%-8s %6s  %s\n", "KIND", "COUNT", "NAMES");
    long long total = 0;
    for (size_t k = 0; k < counts->len; k++) {
        const char *kind = counts->u.pairs[k].key->u.str;
        long long n = tree_int(counts, kind, 0);
        const struct tree *list = tree_get(names, kind);
        size_t used = 0, i;
        total += n;
        fprintf(out, "%-8s %6lld", kind, n);
        for (i = 0; i < list->len; i++) {
            const char *name = list->u.items[i]->u.str;
            if (used + strlen(name) + 2 > 58)
                break;
            used += (size_t)fprintf(out, "%s%s", i ? ", " : "  ", name);
        }
        if (i < list->len)
            fprintf(out, "%s... (%zu more)", i ? ", " : "  ", list->len - i);
        fputc('\n', out);
    }
    long long files = tree_int(t, "files", 0);
    fprintf(out, "valid: %lld object%s in %lld file%s%s\n", total, total == 1 ? "" : "s", files,
            files == 1 ? "" : "s", tree_int(t, "warnings", 0) ? ", with warnings" : "");
}

CLI_COMMAND(cmd_validate)
{
    (void)argc;
    (void)argv;
    const struct diag *d = s->d;
    struct arena *a = arena_new();
    struct tree *r = tree_new_map(a), *counts = tree_new_map(a), *names = tree_new_map(a);
    tree_map_str(a, r, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, r, "kind", "ValidationResult");
    tree_map_bool(a, r, "valid", d->errors == 0);
    tree_map_int(a, r, "errors", (long long)d->errors);
    tree_map_int(a, r, "warnings", (long long)d->warnings);
    tree_map_int(a, r, "files", (long long)s->stats.files);
    tree_map_int(a, r, "documents", (long long)s->stats.documents);
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        struct tree *list = tree_new_seq(a);
        tree_map_int(a, counts, schema_kinds[k].name, (long long)s->m->len[k]);
        for (size_t i = 0; i < s->m->len[k]; i++)
            tree_seq_add(a, list, tree_new_str(a, s->m->objs[k][i]->meta.name));
        tree_map_add(a, names, schema_kinds[k].name, list);
    }
    tree_map_add(a, r, "objects", counts);
    tree_map_add(a, r, "names", names);
    tree_map_add(a, r, "findings", diag_to_tree(d, a));
    int rc = cli_emit(c, r, false, validate_table, NULL);
    arena_free(a);
    if (d->errors) {
        cli_error("%zu error%s, %zu warning%s: manifests are invalid", d->errors,
                  d->errors == 1 ? "" : "s", d->warnings, d->warnings == 1 ? "" : "s");
        return CLI_EXIT_INVALID;
    }
    return rc;
}

CLI_COMMAND(cmd_render)
{
    (void)argc;
    (void)argv;
    if (s->d->errors)
        return cli_error("%zu error%s: manifests are invalid", s->d->errors,
                         s->d->errors == 1 ? "" : "s"), CLI_EXIT_INVALID;
    struct arena *a = arena_new();
    struct tree *all = tree_new_seq(a);
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 0; i < s->m->len[k]; i++)
            tree_seq_add(a, all, encode_object(a, s->m->objs[k][i]));
    int rc = cli_emit(c, all, true, NULL, NULL);
    arena_free(a);
    return rc;
}

CLI_COMMAND(cmd_explain)
{
    (void)s;
    if (c->reference) {
        explain_reference(stdout);
        return cli_output_end(CLI_EXIT_OK);
    }
    if (argc == 0) {
        explain_kinds(stdout);
        return cli_output_end(CLI_EXIT_OK);
    }
    char err[256];
    if (explain_path(stdout, argv[0], err, sizeof(err)) < 0)
        return cli_error("%s", err);
    return cli_output_end(CLI_EXIT_OK);
}

CLI_COMMAND(cmd_schema)
{
    (void)s;
    (void)argc;
    (void)argv;
    struct arena *a = arena_new();
    struct cli jc = *c;
    if (jc.format == CLI_TABLE || jc.format == CLI_WIDE)
        jc.format = CLI_JSON;
    int rc = cli_emit(&jc, jsonschema_build(a), false, NULL, NULL);
    arena_free(a);
    return rc;
}

CLI_COMMAND(cmd_version)
{
    (void)c;
    (void)s;
    (void)argc;
    (void)argv;
    printf("qkvm %s (manifests %s)\n", QKVM_VERSION, SCHEMA_API_VERSION);
    return cli_output_end(CLI_EXIT_OK);
}
