/* git.h — a Git repository as the manifests' source, through libgit2.
 *
 * The repository is fetched into a bare cache (no work tree): branches
 * under refs/remotes/origin/, tags under refs/tags/, the remote's HEAD as
 * refs/qkvm/HEAD, all forced, so a force-pushed branch is followed (and
 * said). The manifests are the blobs of the commit's tree under `path`,
 * walked like a directory (*.yaml and *.yml; names starting with '.'
 * skipped; symbolic links and submodules skipped with a warning), named
 * by their path in the repository, so errors read prod/vms.yaml:3:5.
 *
 * `ref` is a branch, a tag or a commit id (NULL: the remote's HEAD).
 * Credentials: an https token (read from a file, sent as the password) or
 * an ssh private key file; file://, git:// and plain paths need none.
 * A fetch gives up after GIT_FETCH_MAX_S seconds of transfer, or when
 * *stop is set (libgit2 1.5 has no timeout of its own; a remote that
 * accepts the connection and never answers still holds it).
 * A tree's files: at most MANIFEST_MAX_FILE bytes each (sized before they
 * are read), MANIFEST_MAX_WALK_DEPTH directories deep.
 */
#ifndef QKVM_GIT_H
#define QKVM_GIT_H

#include "diag.h"
#include "manifest.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct gitsrc_opts {
    const char *url;
    const char *ref;            /* NULL: HEAD */
    const char *path;           /* NULL: the root */
    const char *cache;          /* the bare repository's directory */
    const char *token_file;     /* https: the token, as the password */
    const char *ssh_key;        /* ssh: the private key file */
    const char *shown_url;      /* the URL as messages say it (no credentials) */
    volatile const sig_atomic_t *stop;  /* a fetch in progress gives up when set */
};

struct gitsrc;
struct gitsrc *gitsrc_new(const struct gitsrc_opts *o);
void gitsrc_free(struct gitsrc *g);       /* accepts NULL */

/* Fetch, then resolve the ref: its commit (40 hex digits). A commit that
 * does not descend from `prev` (a force push) sets *rewritten. 0, or -1
 * with err (the cache, the network, the ref). */
int gitsrc_fetch(struct gitsrc *g, const char *prev, char commit[41], bool *rewritten,
                 char *err, size_t errlen);
/* The manifests of a commit fetched: into set; problems (a path that is
 * not a directory, files too large, links) into d. 0, or -1 with err. */
int gitsrc_read(struct gitsrc *g, const char *commit, struct manifest_set *set, struct diag *d,
                char *err, size_t errlen);

/* A fetched commit's OpenPGP signature and the data it signs (malloc'd):
 * 1 when it has one, 0 when unsigned, -1 with err. */
int gitsrc_signature(struct gitsrc *g, const char *commit, char **sig, size_t *siglen,
                     char **data, size_t *len, char *err, size_t errlen);

#endif
