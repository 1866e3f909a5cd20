/* owned.c — which pools and volumes are qkvm's. See owned.h.
 *
 * The legacy text record, one entry per line, fields separated by a tab:
 *     # qkvm owned v1
 *     pool    UUID    NAME
 *     volume  POOL-UUID   NAME    protect|-
 */
#include "owned.h"

#include "arena.h"
#include "store.h"
#include "vec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define HEADER "# qkvm owned v1"

struct owned {
    struct owned_entry *v;
    size_t n, cap;
};

static struct owned_entry *find(const struct owned *o, bool volume, const char *uuid,
                          const char *name)
{
    for (size_t i = 0; i < o->n; i++) {
        struct owned_entry *e = &o->v[i];
        if (e->volume == volume && strcmp(e->uuid, uuid) == 0 &&
            (!volume || strcmp(e->name, name) == 0))
            return e;
    }
    return NULL;
}

static void entry_free(struct owned_entry *e)
{
    free(e->uuid);
    free(e->name);
    free(e->project);
    free(e->ident);
    free(e->labels);
    free(e->digest);
}

static void add(struct owned *o, bool volume, const char *uuid, const char *name,
                bool protect, const char *project, const char *ident, const char *labels,
                const char *digest)
{
    struct owned_entry *e = find(o, volume, uuid, name);
    if (e)
        entry_free(e);
    else
        e = vec_push(o);
    *e = (struct owned_entry){ volume, protect, xstrdup(uuid), xstrdup(name),
                               xstrdup(project && *project ? project : "default"),
                               xstrdup(ident ? ident : ""), xstrdup(labels ? labels : ""),
                               xstrdup(digest ? digest : "") };
}

struct owned *owned_new(void)
{
    return xcalloc(1, sizeof(struct owned));
}

/* The legacy text file; *missing when there is none. */
static struct owned *load_file(const char *path, bool *missing, char *err, size_t errlen)
{
    struct owned *o = owned_new();
    FILE *f = fopen(path, "re");
    *missing = false;
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return o;
        }
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        owned_free(o);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (lineno == 1 && strcmp(line, HEADER) != 0) {
            snprintf(err, errlen, "%s:1: not a qkvm ownership record (expected '%s')",
                     path, HEADER);
            goto bad;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *f1 = line, *f2 = strchr(f1, '\t'), *f3 = f2 ? strchr(f2 + 1, '\t') : NULL;
        char *f4 = f3 ? strchr(f3 + 1, '\t') : NULL;
        if (!f2 || !f3) {
            snprintf(err, errlen, "%s:%u: malformed entry", path, lineno);
            goto bad;
        }
        *f2++ = '\0';
        *f3++ = '\0';
        if (f4)
            *f4++ = '\0';
        if (strcmp(f1, "pool") == 0) {
            add(o, false, f2, f3, false, NULL, NULL, NULL, NULL);
        } else if (strcmp(f1, "volume") == 0) {
            add(o, true, f2, f3, f4 && strcmp(f4, "protect") == 0, NULL, NULL, NULL, NULL);
        } else {
            snprintf(err, errlen, "%s:%u: unknown entry '%s'", path, lineno, f1);
            goto bad;
        }
    }
    free(line);
    fclose(f);
    return o;
bad:
    free(line);
    fclose(f);
    owned_free(o);
    return NULL;
}

void owned_free(struct owned *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        entry_free(&o->v[i]);
    free(o->v);
    free(o);
}

const struct owned_entry *owned_pool(const struct owned *o, const char *uuid)
{
    return uuid ? find(o, false, uuid, NULL) : NULL;
}

const struct owned_entry *owned_volume(const struct owned *o, const char *uuid,
                                       const char *name)
{
    return uuid ? find(o, true, uuid, name) : NULL;
}

const struct owned_entry *owned_volume_in(const struct owned *o, const char *pool_name,
                                          const char *name)
{
    for (size_t i = 0; o && i < o->n; i++) {
        const struct owned_entry *e = &o->v[i];
        const struct owned_entry *v = !e->volume && strcmp(e->name, pool_name) == 0
                                          ? find(o, true, e->uuid, name) : NULL;
        if (v)
            return v;
    }
    return NULL;
}

void owned_file_ident(const char *path, char *out, size_t size)
{
    struct statx sx;
    out[0] = '\0';
    if (!path || statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &sx) < 0 ||
        !(sx.stx_mask & STATX_BTIME))
        return;
    snprintf(out, size, "%llu:%lld.%09u", (unsigned long long)sx.stx_ino,
             (long long)sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec);
}

static const char *const mark_names[] = { "user.qkvm.project", "trusted.qkvm.project" };

int owned_file_mark(const char *path, const char *project)
{
    for (size_t i = 0; path && i < 2; i++)
        if (setxattr(path, mark_names[i], project, strlen(project), 0) == 0)
            return 0;
    return -1;
}

void owned_file_unmark(const char *path)
{
    for (size_t i = 0; path && i < 2; i++)
        removexattr(path, mark_names[i]);
}

bool owned_file_project(const char *path, char *buf, size_t size)
{
    for (size_t i = 0; path && size > 1 && i < 2; i++) {
        ssize_t n = getxattr(path, mark_names[i], buf, size - 1);
        if (n > 0) {
            buf[n] = '\0';
            return true;
        }
    }
    return false;
}

struct owned *owned_from_store(struct store *s, const char *node, char *err, size_t errlen)
{
    struct arena *a = arena_new();
    struct store_owned *v;
    size_t n;
    if (store_owned_all(s, a, &v, &n, err, errlen) < 0) {
        arena_free(a);
        return NULL;
    }
    struct owned *o = owned_new();
    for (size_t i = 0; i < n; i++)
        if (!*v[i].node || (node && strcmp(v[i].node, node) == 0))
            add(o, v[i].volume != NULL, v[i].pool_uuid, v[i].volume ? v[i].volume : v[i].name,
                v[i].protect, v[i].project, v[i].ident, v[i].labels, v[i].digest);
    arena_free(a);
    return o;
}

int owned_import_legacy(struct store *s, char *err, size_t errlen)
{
    size_t n = strlen(store_path(s)) + 16;
    char *path = xmalloc(n), *done = xmalloc(n);
    snprintf(path, n, "%s.owned", store_path(s));
    snprintf(done, n, "%s.owned.imported", store_path(s));
    bool missing;
    int rc = -1;
    struct owned *o = load_file(path, &missing, err, errlen);
    if (!o || missing) {
        rc = o ? 0 : -1;
        goto out;
    }
    if (store_begin(s, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < o->n; i++) {
        const struct owned_entry *e = &o->v[i];
        struct store_owned so = { e->uuid, e->volume ? e->name : NULL, e->name, e->protect,
                                  "default", "", "", NULL, NULL };
        if (store_owned_put(s, &so, NULL, 0, err, errlen) < 0) {
            store_rollback(s);
            goto out;
        }
    }
    if (store_commit(s, err, errlen) < 0)
        goto out;
    /* Imported: a crash before the rename imports it again, which changes
     * nothing (the same rows). */
    if (rename(path, done) < 0) {
        snprintf(err, errlen, "cannot rename '%s' after importing it: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    owned_free(o);
    free(path);
    free(done);
    return rc;
}
