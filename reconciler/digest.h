/* digest.h — SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto, for the
 * revision of a manifest set and the signature of a Git webhook. */
#ifndef QKVM_DIGEST_H
#define QKVM_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

struct digest;                           /* a SHA-256 under way */
struct digest *digest_new(void);
void digest_add(struct digest *d, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL; frees d. */
void digest_end(struct digest *d, char out[65]);

/* Does `sig` ("sha256=" and 64 hex digits, GitHub's and Gitea's
 * X-Hub-Signature-256) sign body with key? Compared in constant time. */
bool digest_hmac_ok(const void *key, size_t keylen, const void *body, size_t len,
                    const char *sig);
/* "sha256=HEX" of body under key, for clients and tests (72 bytes). */
void digest_hmac(const void *key, size_t keylen, const void *body, size_t len, char out[72]);

#endif
