/* manifest.c — the manifest loader: walk, read, parse, decode. */
#include "manifest.h"

#include "arena.h"
#include "decode.h"
#include "digest.h"
#include "vec.h"
#include "yamldoc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct loader {
    struct diag *d;
    struct manifest_set *set;
    const char *root_real;    /* realpath of the directory being walked */
};

static struct tree_mark nomark(void)
{
    return (struct tree_mark){ 0, 0 };
}

static void sys_error(struct loader *l, const char *path, const char *what)
{
    diag_add(l->d, DIAG_ERROR, path, nomark(), NULL, NULL, NULL, "cannot %s: %s",
             what, strerror(errno));
}

static int load_file(struct loader *l, const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        sys_error(l, path, "open");
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        sys_error(l, path, "stat");
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        diag_add(l->d, DIAG_ERROR, path, nomark(), NULL, NULL, NULL,
                 "not a regular file");
        close(fd);
        return -1;
    }
    if (sb.st_size > (off_t)MANIFEST_MAX_FILE) {
        diag_add(l->d, DIAG_ERROR, path, nomark(), NULL, NULL, NULL,
                 "file is larger than %u MiB; split it into several files",
                 MANIFEST_MAX_FILE >> 20);
        close(fd);
        return 0;
    }
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    char *buf = xmalloc(cap);
    /* Read to EOF, within the cap: the file may change size under us. */
    for (;;) {
        if (len == cap) {
            if (cap > MANIFEST_MAX_FILE) {
                diag_add(l->d, DIAG_ERROR, path, nomark(), NULL, NULL, NULL,
                         "file is larger than %u MiB; split it into several files",
                         MANIFEST_MAX_FILE >> 20);
                close(fd);
                free(buf);
                return 0;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sys_error(l, path, "read");
            close(fd);
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    struct manifest_file *f = vec_push(l->set);
    f->name = xstrdup(path);
    f->data = buf;
    f->len = len;
    return 0;
}

static bool yaml_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is `path` (a symlink) resolved to a regular file inside the root? */
static bool link_inside(struct loader *l, const char *path, bool *is_dir)
{
    char real[PATH_MAX];
    struct stat sb;
    *is_dir = false;
    if (!realpath(path, real) || stat(real, &sb) < 0)
        return false;
    *is_dir = S_ISDIR(sb.st_mode);
    size_t rl = strlen(l->root_real);
    return S_ISREG(sb.st_mode) && strncmp(real, l->root_real, rl) == 0 &&
           (real[rl] == '/' || l->root_real[rl - 1] == '/');
}

static int walk(struct loader *l, const char *dir, int depth)
{
    if (depth > MANIFEST_MAX_WALK_DEPTH) {
        diag_add(l->d, DIAG_WARNING, dir, nomark(), NULL, NULL, NULL,
                 "directories nested deeper than %d levels are not read",
                 MANIFEST_MAX_WALK_DEPTH);
        return 0;
    }
    DIR *dh = opendir(dir);
    if (!dh) {
        sys_error(l, dir, "open directory");
        return -1;
    }
    VEC(char *) names = { 0 };
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        *vec_push(&names) = xstrdup(de->d_name);
    }
    closedir(dh);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(*names.v), cmp_str);

    int rc = 0;
    size_t dl = strlen(dir);
    for (size_t i = 0; i < names.n; i++) {
        size_t pl = dl + 1 + strlen(names.v[i]) + 1;
        char *path = xmalloc(pl);
        snprintf(path, pl, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", names.v[i]);
        struct stat sb;
        if (lstat(path, &sb) < 0) {
            sys_error(l, path, "stat");
            rc = -1;
        } else if (S_ISDIR(sb.st_mode)) {
            if (walk(l, path, depth + 1) < 0)
                rc = -1;
        } else if (S_ISREG(sb.st_mode)) {
            if (yaml_name(names.v[i]) && load_file(l, path) < 0)
                rc = -1;
        } else if (S_ISLNK(sb.st_mode) && yaml_name(names.v[i])) {
            bool is_dir;
            if (link_inside(l, path, &is_dir)) {
                if (load_file(l, path) < 0)
                    rc = -1;
            } else {
                diag_add(l->d, DIAG_WARNING, path, nomark(), NULL, NULL, NULL,
                         "skipped: symbolic link to something other than a file inside '%s'",
                         l->root_real);
            }
        } else if (S_ISLNK(sb.st_mode)) {
            bool is_dir;
            link_inside(l, path, &is_dir);
            if (is_dir)
                diag_add(l->d, DIAG_WARNING, path, nomark(), NULL, NULL, NULL,
                         "skipped: symbolic links to directories are not followed");
        } else if (yaml_name(names.v[i])) {
            diag_add(l->d, DIAG_WARNING, path, nomark(), NULL, NULL, NULL,
                     "skipped: not a regular file");
        }
        free(path);
        free(names.v[i]);
    }
    vec_free(&names);
    return rc;
}

int manifest_read(const char *const *paths, size_t npaths, struct diag *d,
                  struct manifest_set *set)
{
    struct loader l = { .d = d, .set = set };
    int rc = 0;
    for (size_t i = 0; i < npaths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) < 0) {
            sys_error(&l, paths[i], "read");
            rc = -1;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            char real[PATH_MAX];
            if (!realpath(paths[i], real)) {
                sys_error(&l, paths[i], "resolve");
                rc = -1;
                continue;
            }
            l.root_real = real;
            /* "dir/" and "dir" name files the same way */
            char *root = xstrdup(paths[i]);
            size_t rl = strlen(root);
            while (rl > 1 && root[rl - 1] == '/')
                root[--rl] = '\0';
            if (walk(&l, root, 0) < 0)
                rc = -1;
            free(root);
            l.root_real = NULL;
        } else if (load_file(&l, paths[i]) < 0) {
            rc = -1;
        }
    }
    return rc;
}

void manifest_set_add(struct manifest_set *set, const char *name, const char *data, size_t len)
{
    struct manifest_file *f = vec_push(set);
    f->name = xstrdup(name);
    f->data = xmalloc(len + 1);
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
}

void manifest_set_free(struct manifest_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].name);
        free(set->v[i].data);
    }
    vec_free(set);
}

void manifest_parse(struct model *m, const struct manifest_set *set, struct diag *d,
                    struct manifest_stats *st)
{
    struct arena *a = m->arena;
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < set->n; i++) {
        const struct manifest_file *f = &set->v[i];
        st->files++;
        st->bytes += f->len;
        const char *file = arena_strdup(a, f->name);
        struct yamldoc_set docs;
        yamldoc_parse(a, file, f->data, f->len, d, &docs);
        st->documents += docs.len;
        for (size_t k = 0; k < docs.len; k++) {
            struct model_object *o = decode_document(a, file, docs.docs[k], d);
            if (o)
                model_add(m, o);
        }
    }
    model_sort(m);
}

void manifest_set_digest(const struct manifest_set *set, char out[65])
{
    struct digest *d = digest_new();
    for (size_t i = 0; i < set->n; i++) {
        /* name and length first: no two sets hash alike by moving bytes */
        char head[64];
        int hl = snprintf(head, sizeof(head), "%zu:%zu:", strlen(set->v[i].name), set->v[i].len);
        digest_add(d, head, (size_t)hl);
        digest_add(d, set->v[i].name, strlen(set->v[i].name));
        digest_add(d, set->v[i].data, set->v[i].len);
    }
    digest_end(d, out);
}

int manifest_load(struct model *m, const char *const *paths, size_t npaths,
                  struct diag *d, struct manifest_stats *st)
{
    struct manifest_set set = { 0 };
    int rc = manifest_read(paths, npaths, d, &set);
    manifest_parse(m, &set, d, st);
    manifest_set_free(&set);
    return rc;
}
