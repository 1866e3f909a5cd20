/* cmd_image.c — the commands about images: pull (fill the image cache from
 * the manifests' Images, without libvirt).
 *
 * pull fetches one image at a time (fetch.c: verified while it streams,
 * resumed, retried) and builds one tree, {images: [...]}, the -o json/yaml
 * document; in table form each image's line is rendered from its item of
 * that tree as soon as it is done, so a long pull shows its progress.
 * Failures go through cli_error as they happen; the others are still
 * pulled, and the exit code is 1 if any failed.
 */
#include "cli.h"

#include "arena.h"
#include "fetch.h"
#include "model.h"
#include "schema.h"
#include "session.h"
#include "text.h"
#include "tree.h"

#include <string.h>
#include <unistd.h>

/* The retries of a pull: four attempts, 1 s, 2 s and 4 s apart. */
#define PULL_RETRIES 3

/* "image/NAME: downloaded 256.0 MiB in 2.1 s, sha256 verified" or
 * "image/NAME: cached"; nothing for a failure (said on stderr). */
static void pull_line(FILE *out, const struct tree *item)
{
    const char *name = tree_str(item, "name", "?");
    if (tree_get(item, "error") && tree_get(item, "error")->type != TREE_NULL)
        return;
    if (tree_bool(item, "cached")) {
        fprintf(out, "image/%s: cached\n", name);
        return;
    }
    char size[32];
    text_bytes((double)tree_int(item, "size", 0), size, sizeof(size));
    fprintf(out, "image/%s: downloaded %s in %.1f s%s, sha256 verified\n", name, size,
            (double)tree_int(item, "durationMs", 0) / 1000.0,
            tree_bool(item, "resumed") ? " (resumed)" : "");
}

static void warn(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warning("%s", msg);
}

/* The Images to pull: all of them, or those named (each once). NULL after
 * saying which name the manifests do not declare. */
static const struct model_image **selection(struct arena *a, const struct model *m, int argc,
                                            char **argv, size_t *n)
{
    size_t all = m->len[MODEL_IMAGE];
    const struct model_image **v = arena_alloc(a, (all + 1) * sizeof(*v));
    *n = 0;
    if (argc == 0) {
        for (size_t i = 0; i < all; i++)
            v[(*n)++] = (const struct model_image *)m->objs[MODEL_IMAGE][i];
        return v;
    }
    const char **names = arena_alloc(a, (all + 1) * sizeof(*names));
    for (size_t i = 0; i < all; i++)
        names[i] = m->objs[MODEL_IMAGE][i]->meta.name;
    for (int i = 0; i < argc; i++) {
        const struct model_image *im =
            (const struct model_image *)model_find(m, MODEL_IMAGE, argv[i]);
        if (!im) {
            const char *sugg = text_suggest(argv[i], names, all, sizeof(names[0]));
            if (sugg)
                cli_error("unknown image '%s' (did you mean '%s'?)", argv[i], sugg);
            else
                cli_error("unknown image '%s': the manifests declare %zu Image%s", argv[i], all,
                          all == 1 ? "" : "s");
            return NULL;
        }
        bool dup = false;
        for (size_t j = 0; j < *n; j++)
            dup |= v[j] == im;
        if (!dup)
            v[(*n)++] = im;
    }
    return v;
}

CLI_COMMAND(cmd_pull)
{
    struct arena *a = arena_new();
    int rc = CLI_EXIT_OK;
    size_t n, failed = 0;
    const struct model_image **sel = selection(a, s->m, argc, argv, &n);
    if (!sel) {
        arena_free(a);
        return CLI_EXIT_ERROR;
    }
    char dflt[4096];
    const char *cache = c->cache_dir ? c->cache_dir : fetch_default_cache_dir(dflt, sizeof(dflt));
    if (!cache) {
        arena_free(a);
        return cli_error("no image cache directory: set HOME, QKVM_CACHE_DIR or --cache-dir");
    }
    bool text = c->format == CLI_TABLE || c->format == CLI_WIDE;
    struct fetch_opts fo = {
        .cache_dir = cache,
        .retries = PULL_RETRIES,
        .progress = !c->quiet && isatty(STDERR_FILENO),
        .warn = warn,
    };
    struct tree *doc = tree_new_map(a), *images = tree_new_seq(a);
    tree_map_str(a, doc, "apiVersion", SCHEMA_API_VERSION);
    tree_map_str(a, doc, "kind", "PullResult");
    tree_map_str(a, doc, "cacheDir", cache);
    tree_map_add(a, doc, "images", images);
    if (n == 0)
        cli_info(c, "no Image in the manifests: nothing to pull");
    for (size_t i = 0; i < n; i++) {
        const struct model_image *im = sel[i];
        struct fetch_source src = {
            .name = im->obj.meta.name,
            .url = im->spec.url,
            .sha256 = im->spec.sha256,
            .s3_endpoint = im->spec.s3.endpoint,
            .s3_region = im->spec.s3.region,
            .s3_credentials = im->spec.s3.credentials_file,
        };
        struct fetch_result r;
        char err[2048];
        double t0 = cli_now();
        int frc = fetch_image(&src, &fo, &r, err, sizeof(err));
        long long ms = (long long)((cli_now() - t0) * 1000.0 + 0.5);
        struct tree *item = tree_new_map(a);
        tree_map_str(a, item, "name", src.name);
        tree_map_str(a, item, "url", src.url);
        tree_map_str(a, item, "sha256", src.sha256);
        tree_map_str(a, item, "path", frc == 0 ? r.path : NULL);
        tree_map_int(a, item, "size", frc == 0 ? (long long)r.size : 0);
        tree_map_bool(a, item, "cached", frc == 0 && r.cached);
        tree_map_bool(a, item, "resumed", r.resumed);
        tree_map_int(a, item, "attempts", (long long)r.attempts);
        tree_map_int(a, item, "durationMs", ms);
        tree_map_str(a, item, "error", frc == 0 ? NULL : err);
        tree_seq_add(a, images, item);
        if (frc < 0) {
            cli_error("%s", err);
            failed++;
        } else if (text && !c->quiet) {
            pull_line(stdout, item);
            fflush(stdout);
        }
    }
    if (!text)
        rc = cli_emit(c, doc, false, NULL, NULL);
    if (failed)
        cli_error("%zu of %zu image%s could not be pulled", failed, n, n == 1 ? "" : "s");
    arena_free(a);
    return failed ? CLI_EXIT_ERROR : rc;
}
