/* gpg.h — OpenPGP signatures of Git commits, through gpgme.
 *
 * The operator's keyring (a file of exported public keys) is imported
 * into a GnuPG home of qkvm's own; the fingerprints of the keyring's keys
 * (primary keys) are the only ones accepted. A signature counts when
 * GnuPG says it is good, its key (or the subkey that made it) belongs to
 * one of those keys, and neither key nor signature is revoked or expired.
 * Keys the home kept from an earlier keyring are not accepted: the set is
 * the file's, read at start.
 */
#ifndef QKVM_GPG_H
#define QKVM_GPG_H

#include <stddef.h>

struct gpgv;
/* keyring: the file; home: the GnuPG home to use (made 0700). NULL with
 * err said. */
struct gpgv *gpgv_new(const char *keyring, const char *home, char *err, size_t errlen);
void gpgv_free(struct gpgv *g);             /* accepts NULL */
/* 0 when sig signs data with an accepted key (its primary fingerprint in
 * fpr), -1 with why. */
int gpgv_verify(struct gpgv *g, const char *sig, size_t siglen, const char *data, size_t len,
                char *fpr, size_t fprlen, char *why, size_t whylen);

#endif
