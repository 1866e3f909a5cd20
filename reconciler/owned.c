/* owned.c — the record of pools and volumes qkvm created. See owned.h.
 *
 * Format, one entry per line, fields separated by a tab:
 *     # qkvm owned v1
 *     pool    UUID    NAME
 *     volume  POOL-UUID   NAME    protect|-
 */
#include "owned.h"

#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "# qkvm owned v1"

struct entry {
    bool volume, protect;
    char *uuid, *name;
};

struct owned {
    char *path;
    struct entry *v;
    size_t n, cap;
    bool dirty;
};

static struct entry *find(const struct owned *o, bool volume, const char *uuid,
                          const char *name)
{
    for (size_t i = 0; i < o->n; i++) {
        struct entry *e = &o->v[i];
        if (e->volume == volume && strcmp(e->uuid, uuid) == 0 &&
            (!volume || strcmp(e->name, name) == 0))
            return e;
    }
    return NULL;
}

static void add(struct owned *o, bool volume, const char *uuid, const char *name,
                bool protect)
{
    struct entry *e = find(o, volume, uuid, name);
    if (e) {
        if (e->protect != protect || strcmp(e->name, name) != 0) {
            e->protect = protect;
            free(e->name);
            e->name = xstrdup(name);
            o->dirty = true;
        }
        return;
    }
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
    }
    o->v[o->n++] = (struct entry){ volume, protect, xstrdup(uuid), xstrdup(name) };
    o->dirty = true;
}

struct owned *owned_load(const char *path, char *err, size_t errlen)
{
    struct owned *o = xcalloc(1, sizeof(*o));
    o->path = xstrdup(path);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return o;
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
            add(o, false, f2, f3, false);
        } else if (strcmp(f1, "volume") == 0) {
            add(o, true, f2, f3, f4 && strcmp(f4, "protect") == 0);
        } else {
            snprintf(err, errlen, "%s:%u: unknown entry '%s'", path, lineno, f1);
            goto bad;
        }
    }
    free(line);
    fclose(f);
    o->dirty = false;
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
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].uuid);
        free(o->v[i].name);
    }
    free(o->v);
    free(o->path);
    free(o);
}

bool owned_pool(const struct owned *o, const char *uuid)
{
    return uuid && find(o, false, uuid, NULL) != NULL;
}

bool owned_volume(const struct owned *o, const char *uuid, const char *name, bool *protect)
{
    const struct entry *e = uuid ? find(o, true, uuid, name) : NULL;
    if (protect)
        *protect = e && e->protect;
    return e != NULL;
}

void owned_add_pool(struct owned *o, const char *uuid, const char *name)
{
    add(o, false, uuid, name, false);
}

void owned_add_volume(struct owned *o, const char *uuid, const char *name, bool protect)
{
    add(o, true, uuid, name, protect);
}

static void remove_entry(struct owned *o, struct entry *e)
{
    if (!e)
        return;
    free(e->uuid);
    free(e->name);
    *e = o->v[--o->n];
    o->dirty = true;
}

void owned_remove_pool(struct owned *o, const char *uuid)
{
    remove_entry(o, find(o, false, uuid, NULL));
    /* its volumes go with it */
    for (size_t i = 0; i < o->n;) {
        if (o->v[i].volume && strcmp(o->v[i].uuid, uuid) == 0)
            remove_entry(o, &o->v[i]);
        else
            i++;
    }
}

void owned_remove_volume(struct owned *o, const char *uuid, const char *name)
{
    remove_entry(o, find(o, true, uuid, name));
}

bool owned_dirty(const struct owned *o) { return o->dirty; }
const char *owned_path(const struct owned *o) { return o->path; }

static int mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(dir, 0700);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int owned_save(struct owned *o, char *err, size_t errlen)
{
    if (!o->dirty)
        return 0;
    char *dir = xstrdup(o->path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdirs(dir) < 0) {
            snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            free(dir);
            return -1;
        }
    }
    free(dir);
    size_t n = strlen(o->path) + 8;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp", o->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(tmp);
        return -1;
    }
    fprintf(f, "%s\n", HEADER);
    for (size_t i = 0; i < o->n; i++) {
        const struct entry *e = &o->v[i];
        if (e->volume)
            fprintf(f, "volume\t%s\t%s\t%s\n", e->uuid, e->name, e->protect ? "protect" : "-");
        else
            fprintf(f, "pool\t%s\t%s\n", e->uuid, e->name);
    }
    int bad = fflush(f) == EOF || fsync(fileno(f)) < 0;
    int saved = errno;
    if (fclose(f) == EOF)
        bad = 1;
    if (bad || rename(tmp, o->path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(bad ? saved : errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    o->dirty = false;
    return 0;
}
