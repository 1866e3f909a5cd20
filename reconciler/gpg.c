/* gpg.c — commit signatures through gpgme (the only gpgme includer). See
 * gpg.h. */
#include "gpg.h"

#include "arena.h"
#include "vec.h"

#include <gpgme.h>

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct gpgv {
    gpgme_ctx_t ctx;
    VEC(char *) fprs;         /* the keyring's primary keys */
};

void gpgv_free(struct gpgv *g)
{
    if (!g)
        return;
    if (g->ctx)
        gpgme_release(g->ctx);
    for (size_t i = 0; i < g->fprs.n; i++)
        free(g->fprs.v[i]);
    vec_free(&g->fprs);
    free(g);
}

static bool accepted(const struct gpgv *g, const char *fpr)
{
    for (size_t i = 0; fpr && i < g->fprs.n; i++)
        if (strcmp(g->fprs.v[i], fpr) == 0)
            return true;
    return false;
}

struct gpgv *gpgv_new(const char *keyring, const char *home, char *err, size_t errlen)
{
    if (!gpgme_check_version(NULL)) {
        snprintf(err, errlen, "gpgme cannot be initialised");
        return NULL;
    }
    gpgme_set_locale(NULL, LC_CTYPE, setlocale(LC_CTYPE, NULL));
    gpgme_error_t e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
    if (e) {
        snprintf(err, errlen, "GnuPG is not usable: %s", gpgme_strerror(e));
        return NULL;
    }
    if (mkdir(home, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make the GnuPG home '%s': %s", home, strerror(errno));
        return NULL;
    }
    struct gpgv *g = xcalloc(1, sizeof(*g));
    gpgme_data_t d = NULL;
    if ((e = gpgme_new(&g->ctx)) ||
        (e = gpgme_ctx_set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, home))) {
        snprintf(err, errlen, "gpgme: %s", gpgme_strerror(e));
        gpgv_free(g);
        return NULL;
    }
    if ((e = gpgme_data_new_from_file(&d, keyring, 1))) {
        snprintf(err, errlen, "--verify-commits '%s': %s", keyring, gpgme_strerror(e));
        gpgv_free(g);
        return NULL;
    }
    e = gpgme_op_import(g->ctx, d);
    gpgme_data_release(d);
    gpgme_import_result_t r = e ? NULL : gpgme_op_import_result(g->ctx);
    if (e || !r) {
        snprintf(err, errlen, "--verify-commits '%s': %s", keyring,
                 e ? gpgme_strerror(e) : "nothing imported");
        gpgv_free(g);
        return NULL;
    }
    for (gpgme_import_status_t s = r->imports; s; s = s->next)
        if (s->fpr && !s->result && !accepted(g, s->fpr))
            *vec_push(&g->fprs) = xstrdup(s->fpr);
    if (!g->fprs.n) {
        snprintf(err, errlen, "--verify-commits '%s': no OpenPGP public key in it", keyring);
        gpgv_free(g);
        return NULL;
    }
    return g;
}

int gpgv_verify(struct gpgv *g, const char *sig, size_t siglen, const char *data, size_t len,
                char *fpr, size_t fprlen, char *why, size_t whylen)
{
    gpgme_data_t ds = NULL, dd = NULL;
    gpgme_error_t e;
    int rc = -1;
    if ((e = gpgme_data_new_from_mem(&ds, sig, siglen, 0)) ||
        (e = gpgme_data_new_from_mem(&dd, data, len, 0)) ||
        (e = gpgme_op_verify(g->ctx, ds, dd, NULL))) {
        snprintf(why, whylen, "the signature cannot be checked: %s", gpgme_strerror(e));
        goto out;
    }
    gpgme_verify_result_t r = gpgme_op_verify_result(g->ctx);
    gpgme_signature_t s = r ? r->signatures : NULL;
    if (!s) {
        snprintf(why, whylen, "no signature GnuPG can read");
        goto out;
    }
    if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY) {
        snprintf(why, whylen, "signed by key %s, which is not in the keyring",
                 s->fpr ? s->fpr : "?");
        goto out;
    }
    if (gpgme_err_code(s->status) != GPG_ERR_NO_ERROR) {
        snprintf(why, whylen, "a bad signature (%s)", gpgme_strerror(s->status));
        goto out;
    }
    if (s->summary & (GPGME_SIGSUM_KEY_REVOKED | GPGME_SIGSUM_KEY_EXPIRED |
                      GPGME_SIGSUM_SIG_EXPIRED)) {
        snprintf(why, whylen, "signed by key %s, which is revoked or expired",
                 s->fpr ? s->fpr : "?");
        goto out;
    }
    /* the key that made it: its primary key must be the keyring's */
    gpgme_key_t key = NULL;
    if (!s->fpr || gpgme_get_key(g->ctx, s->fpr, &key, 0) || !key || !key->subkeys) {
        snprintf(why, whylen, "signed by key %s, which is not in the keyring",
                 s->fpr ? s->fpr : "?");
        if (key)
            gpgme_key_unref(key);
        goto out;
    }
    const char *primary = key->subkeys->fpr;
    if (!accepted(g, primary)) {
        snprintf(why, whylen, "signed by key %s, which is not in the keyring", primary);
    } else {
        snprintf(fpr, fprlen, "%s", primary);
        rc = 0;
    }
    gpgme_key_unref(key);
out:
    gpgme_data_release(ds);
    gpgme_data_release(dd);
    return rc;
}
