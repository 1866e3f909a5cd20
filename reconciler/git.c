/* git.c — the Git source through libgit2 (the only libgit2 includer).
 * See git.h. */
#include "git.h"

#include "arena.h"

#include <git2.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GIT_FETCH_MAX_S 300

struct gitsrc {
    struct gitsrc_opts o;
    git_repository *repo;
    char *token;
    int auth_tries;
    time_t deadline;          /* of the fetch under way */
};

/* libgit2 calls these while it transfers: non-zero stops the fetch. */
static int progress(const git_indexer_progress *stats, void *payload)
{
    (void)stats;
    struct gitsrc *g = payload;
    if ((g->o.stop && *g->o.stop) || time(NULL) > g->deadline) {
        git_error_set_str(GIT_ERROR_NET, g->o.stop && *g->o.stop ? "stopped by a signal"
                                                                  : "took longer than 300 s");
        return -1;
    }
    return 0;
}

static int sideband(const char *str, int len, void *payload)
{
    (void)str;
    (void)len;
    return progress(NULL, payload);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init(void)
{
    git_libgit2_init();
}

static void gerr(char *err, size_t errlen, const char *what)
{
    const git_error *e = git_error_last();
    snprintf(err, errlen, "%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

/* libgit2's messages may quote the URL whole: its "user:password@" is
 * cut out of err wherever it appears. */
static void scrub(const struct gitsrc *g, char *err)
{
    const char *u = g->o.url, *sl = strstr(u, "://");
    if (!sl)
        return;
    const char *host = sl + 3, *end = host + strcspn(host, "/"), *at = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return;
    size_t n = (size_t)(at + 1 - host);
    char secret[1024];
    if (n >= sizeof(secret))
        n = sizeof(secret) - 1;
    memcpy(secret, host, n);
    secret[n] = '\0';
    char *p;
    while ((p = strstr(err, secret)))
        memmove(p, p + n, strlen(p + n) + 1);
}

struct gitsrc *gitsrc_new(const struct gitsrc_opts *o)
{
    pthread_once(&once, init);
    struct gitsrc *g = xcalloc(1, sizeof(*g));
    g->o = *o;
    return g;
}

void gitsrc_free(struct gitsrc *g)
{
    if (!g)
        return;
    git_repository_free(g->repo);
    free(g->token);
    free(g);
}

static int credentials(git_credential **out, const char *url, const char *user,
                       unsigned int allowed, void *payload)
{
    (void)url;
    struct gitsrc *g = payload;
    if (allowed & GIT_CREDENTIAL_USERNAME)       /* ssh asks the user name first */
        return git_credential_username_new(out, user ? user : "git");
    if (g->auth_tries++ > 0) {
        git_error_set_str(GIT_ERROR_NET, "authentication refused by the remote");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && g->o.ssh_key)
        return git_credential_ssh_key_new(out, user ? user : "git", NULL, g->o.ssh_key, NULL);
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && g->o.token_file) {
        if (!g->token) {
            FILE *f = fopen(g->o.token_file, "r");
            char buf[4096];
            size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
            if (f)
                fclose(f);
            if (!f) {
                git_error_set_str(GIT_ERROR_NET, "cannot read the token file");
                return -1;
            }
            buf[n] = '\0';
            while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
            g->token = xstrdup(buf);
        }
        return git_credential_userpass_plaintext_new(out, user ? user : "x-access-token",
                                                     g->token);
    }
    git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials: give --git-token-file "
                                     "(https) or --git-ssh-key (ssh)");
    return GIT_EAUTH;
}

/* The cache: opened, or made. One that cannot be opened (corrupt) is moved
 * aside, named in the error, and made anew on the next try. */
static int open_cache(struct gitsrc *g, char *err, size_t errlen)
{
    if (g->repo)
        return 0;
    struct stat sb;
    if (stat(g->o.cache, &sb) == 0) {
        if (git_repository_open_bare(&g->repo, g->o.cache) == 0)
            return 0;
        char e[512], aside[4096];
        gerr(e, sizeof(e), "cannot open");
        snprintf(aside, sizeof(aside), "%s.broken-%lld", g->o.cache, (long long)time(NULL));
        if (rename(g->o.cache, aside) == 0)
            snprintf(err, errlen, "the Git cache '%s' is damaged (%s): moved to '%s', fetched "
                     "anew next time", g->o.cache, e, aside);
        else
            snprintf(err, errlen, "the Git cache '%s' is damaged (%s) and cannot be moved "
                     "aside: %s", g->o.cache, e, strerror(errno));
        return -1;
    }
    if (git_repository_init(&g->repo, g->o.cache, 1) < 0) {
        gerr(err, errlen, "cannot make the Git cache");
        return -1;
    }
    return 0;
}

static int resolve(struct gitsrc *g, git_oid *out, char *err, size_t errlen)
{
    const char *ref = g->o.ref;
    char spec[1024];
    git_object *obj = NULL;
    if (!ref) {
        snprintf(spec, sizeof(spec), "refs/qkvm/HEAD");
        if (git_revparse_single(&obj, g->repo, spec) < 0) {
            gerr(err, errlen, "the remote's HEAD");
            return -1;
        }
    } else if (strlen(ref) == 40 && strspn(ref, "0123456789abcdef") == 40) {
        /* a commit id is only ever that commit (no branch named like it) */
        git_oid id;
        if (git_oid_fromstr(&id, ref) < 0 ||
            git_object_lookup(&obj, g->repo, &id, GIT_OBJECT_COMMIT) < 0) {
            snprintf(err, errlen, "commit %s is not in the repository", ref);
            return -1;
        }
    } else {
        /* a branch or a tag, never both: whoever may push a branch must
         * not redirect a tag's deployment by naming a branch like it */
        git_object *br = NULL, *tag = NULL;
        snprintf(spec, sizeof(spec), "refs/remotes/origin/%s", ref);
        if (git_revparse_single(&br, g->repo, spec) < 0)
            br = NULL;
        snprintf(spec, sizeof(spec), "refs/tags/%s", ref);
        if (git_revparse_single(&tag, g->repo, spec) < 0)
            tag = NULL;
        if (br && tag) {
            git_object_free(br);
            git_object_free(tag);
            snprintf(err, errlen, "'%s' is both a branch and a tag of the repository: rename "
                     "one, or give a commit id", ref);
            return -1;
        }
        obj = br ? br : tag;
        if (!obj) {
            snprintf(err, errlen, "'%s' is not a branch or a tag of the repository (a commit "
                     "is given by its 40-digit id)", ref);
            return -1;
        }
    }
    git_object *c = NULL;
    if (git_object_peel(&c, obj, GIT_OBJECT_COMMIT) < 0) {
        git_object_free(obj);
        gerr(err, errlen, ref ? ref : "HEAD");
        return -1;
    }
    git_oid_cpy(out, git_object_id(c));
    git_object_free(c);
    git_object_free(obj);
    return 0;
}

int gitsrc_fetch(struct gitsrc *g, const char *prev, char commit[41], bool *rewritten,
                 char *err, size_t errlen)
{
    *rewritten = false;
    if (open_cache(g, err, errlen) < 0)
        return -1;
    /* anonymous; url.*.insteadOf rules of the git configuration are not
     * applied (the URL given is the one fetched), which also avoids a
     * leak of libgit2 1.5's regular expressions on every fetch */
    git_remote *remote = NULL;
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = g->repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, g->o.url, &ro) < 0) {
        snprintf(err, errlen, "'%s' is not a Git URL libgit2 can fetch",
                 g->o.shown_url ? g->o.shown_url : g->o.url);
        return -1;
    }
    char *specs[] = { "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*",
                      "+HEAD:refs/qkvm/HEAD" };
    git_strarray refspecs = { specs, 3 };
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.callbacks.credentials = credentials;
    fo.callbacks.transfer_progress = progress;
    fo.callbacks.sideband_progress = sideband;
    fo.callbacks.payload = g;
    g->deadline = time(NULL) + GIT_FETCH_MAX_S;
    fo.prune = GIT_FETCH_PRUNE;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    g->auth_tries = 0;
    int rc = git_remote_fetch(remote, &refspecs, &fo, "qkvm fetch");
    if (rc < 0) {
        char what[1200];
        snprintf(what, sizeof(what), "cannot fetch '%s'", g->o.shown_url ? g->o.shown_url
                                                                            : g->o.url);
        gerr(err, errlen, what);
        scrub(g, err);
        git_remote_free(remote);
        return -1;
    }
    git_remote_free(remote);
    git_oid id;
    if (resolve(g, &id, err, errlen) < 0)
        return -1;
    git_oid_tostr(commit, 41, &id);
    git_oid old;
    /* 0: not a descendant; an error (the old commit unknown to a new
     * cache) says nothing */
    if (prev && *prev && git_oid_fromstr(&old, prev) == 0 && !git_oid_equal(&old, &id))
        *rewritten = git_graph_descendant_of(g->repo, &id, &old) == 0;
    return 0;
}

struct walk {
    struct gitsrc *g;
    struct manifest_set *set;
    struct diag *d;
    const char *base;          /* "prod/" or "" */
    char *err;
    size_t errlen;
    int rc;
};

static bool yaml_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
    struct walk *w = payload;
    const char *name = git_tree_entry_name(e);
    if (name[0] == '.')
        return 1;                          /* skipped, a directory with all it holds */
    git_filemode_t mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_TREE) {
        int depth = 0;
        for (const char *p = root; *p; p++)
            depth += *p == '/';
        if (depth >= MANIFEST_MAX_WALK_DEPTH) {
            char path[4096];
            snprintf(path, sizeof(path), "%s%s%s", w->base, root, name);
            diag_add(w->d, DIAG_WARNING, path, (struct tree_mark){ 0, 0 }, NULL, NULL, NULL,
                     "directories nested deeper than %d levels are not read",
                     MANIFEST_MAX_WALK_DEPTH);
            return 1;
        }
        return 0;
    }
    if (!yaml_name(name))
        return 0;
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", w->base, root, name);
    if (mode == GIT_FILEMODE_LINK || mode == GIT_FILEMODE_COMMIT) {
        diag_add(w->d, DIAG_WARNING, path, (struct tree_mark){ 0, 0 }, NULL, NULL, NULL,
                 "skipped: %s", mode == GIT_FILEMODE_LINK ? "a symbolic link in the repository"
                                                          : "a submodule");
        return 0;
    }
    /* its size from the object's header, before reading it */
    git_odb *odb = NULL;
    size_t size = 0;
    git_object_t type;
    if (git_repository_odb(&odb, w->g->repo) == 0 &&
        git_odb_read_header(&size, &type, odb, git_tree_entry_id(e)) == 0 &&
        size > MANIFEST_MAX_FILE) {
        git_odb_free(odb);
        diag_add(w->d, DIAG_ERROR, path, (struct tree_mark){ 0, 0 }, NULL, NULL, NULL,
                 "file is larger than %u MiB; split it into several files",
                 MANIFEST_MAX_FILE >> 20);
        return 0;
    }
    git_odb_free(odb);
    git_blob *b = NULL;
    if (git_blob_lookup(&b, w->g->repo, git_tree_entry_id(e)) < 0) {
        gerr(w->err, w->errlen, path);
        w->rc = -1;
        return -1;
    }
    git_object_size_t n = git_blob_rawsize(b);
    if (n > MANIFEST_MAX_FILE)
        diag_add(w->d, DIAG_ERROR, path, (struct tree_mark){ 0, 0 }, NULL, NULL, NULL,
                 "file is larger than %u MiB; split it into several files",
                 MANIFEST_MAX_FILE >> 20);
    else
        manifest_set_add(w->set, path, git_blob_rawcontent(b), (size_t)n);
    git_blob_free(b);
    return 0;
}

int gitsrc_read(struct gitsrc *g, const char *commit, struct manifest_set *set, struct diag *d,
                char *err, size_t errlen)
{
    if (open_cache(g, err, errlen) < 0)
        return -1;
    git_oid id;
    git_commit *c = NULL;
    git_tree *tree = NULL, *sub = NULL;
    if (git_oid_fromstr(&id, commit) < 0 || git_commit_lookup(&c, g->repo, &id) < 0) {
        gerr(err, errlen, commit);
        return -1;
    }
    int rc = -1;
    if (git_commit_tree(&tree, c) < 0) {
        gerr(err, errlen, "the commit's tree");
        goto out;
    }
    char base[4100] = "";
    const git_tree *top = tree;
    if (g->o.path && *g->o.path && strcmp(g->o.path, ".") != 0 && strcmp(g->o.path, "/") != 0) {
        char p[4096];
        snprintf(p, sizeof(p), "%s", g->o.path[0] == '/' ? g->o.path + 1 : g->o.path);
        size_t pl = strlen(p);
        while (pl && p[pl - 1] == '/')
            p[--pl] = '\0';
        git_tree_entry *te = NULL;
        if (git_tree_entry_bypath(&te, tree, p) < 0) {
            snprintf(err, errlen, "--path '%s': no such directory in commit %.12s", p, commit);
            goto out;
        }
        if (git_tree_entry_type(te) != GIT_OBJECT_TREE ||
            git_tree_lookup(&sub, g->repo, git_tree_entry_id(te)) < 0) {
            git_tree_entry_free(te);
            snprintf(err, errlen, "--path '%s': not a directory in commit %.12s", p, commit);
            goto out;
        }
        git_tree_entry_free(te);
        top = sub;
        snprintf(base, sizeof(base), "%s/", p);
    }
    struct walk w = { g, set, d, base, err, errlen, 0 };
    if (git_tree_walk(top, GIT_TREEWALK_PRE, walk_cb, &w) < 0 && w.rc == 0)
        gerr(err, errlen, "walking the tree");
    else if (w.rc == 0)
        rc = 0;
out:
    git_tree_free(sub);
    git_tree_free(tree);
    git_commit_free(c);
    return rc;
}

int gitsrc_signature(struct gitsrc *g, const char *commit, char **sig, size_t *siglen,
                     char **data, size_t *len, char *err, size_t errlen)
{
    *sig = *data = NULL;
    *siglen = *len = 0;
    if (open_cache(g, err, errlen) < 0)
        return -1;
    git_oid id;
    if (git_oid_fromstr(&id, commit) < 0) {
        snprintf(err, errlen, "'%s' is not a commit id", commit);
        return -1;
    }
    git_buf s = { 0 }, d = { 0 };
    int rc = git_commit_extract_signature(&s, &d, g->repo, &id, NULL);
    if (rc == GIT_ENOTFOUND) {
        git_buf_dispose(&s);
        git_buf_dispose(&d);
        return 0;
    }
    if (rc < 0) {
        gerr(err, errlen, "the commit's signature");
        git_buf_dispose(&s);
        git_buf_dispose(&d);
        return -1;
    }
    *sig = xmalloc(s.size + 1);
    memcpy(*sig, s.ptr, s.size);
    (*sig)[s.size] = '\0';
    *siglen = s.size;
    *data = xmalloc(d.size + 1);
    memcpy(*data, d.ptr, d.size);
    (*data)[d.size] = '\0';
    *len = d.size;
    git_buf_dispose(&s);
    git_buf_dispose(&d);
    return 1;
}
