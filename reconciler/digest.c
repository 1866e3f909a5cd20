/* digest.c — SHA-256 and HMAC-SHA256 through libcrypto. See digest.h. */
#include "digest.h"

#include "arena.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct digest {
    EVP_MD_CTX *ctx;
};

struct digest *digest_new(void)
{
    struct digest *d = xcalloc(1, sizeof(*d));
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
        abort();                 /* out of memory: as xmalloc */
    return d;
}

void digest_add(struct digest *d, const void *data, size_t len)
{
    EVP_DigestUpdate(d->ctx, data, len);
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[2 * n] = '\0';
}

void digest_end(struct digest *d, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->ctx, md, &n);
    EVP_MD_CTX_free(d->ctx);
    free(d);
    hex(md, n > 32 ? 32 : n, out);
}

void digest_hmac(const void *key, size_t keylen, const void *body, size_t len, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, body, len, md, &n))
        abort();
    memcpy(out, "sha256=", 7);
    hex(md, n > 32 ? 32 : n, out + 7);
}

bool digest_hmac_ok(const void *key, size_t keylen, const void *body, size_t len,
                    const char *sig)
{
    char want[72];
    if (!sig || strlen(sig) != 71 || keylen == 0)
        return false;
    digest_hmac(key, keylen, body, len, want);
    /* hex case: GitHub sends lowercase; accept uppercase too */
    char got[72];
    for (size_t i = 0; i < 71; i++)
        got[i] = (char)(sig[i] >= 'A' && sig[i] <= 'F' ? sig[i] - 'A' + 'a' : sig[i]);
    got[71] = '\0';
    return CRYPTO_memcmp(want, got, 71) == 0;
}
