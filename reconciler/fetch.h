/* fetch.h — the libcurl adapter: download an image into a cache of
 * verified files, keyed by SHA-256.
 *
 * The cache (one per machine, shared by every project and run):
 *   DIR/sha256/HEX            a verified file, read-only (0444); only ever
 *                             appears by rename after its digest matched
 *   DIR/sha256/HEX.part       a download under way or interrupted
 *   DIR/sha256/HEX.part.meta  its URL, ETag, Last-Modified and byte count
 *                             (text, replaced atomically): what a later run
 *                             needs to resume it with a validated Range
 *   DIR/sha256/HEX.lock       flock()ed while a process works on HEX; never
 *                             removed (removing lock files races)
 * One copy per digest: two Images with one sha256, or two runs, download
 * once. A second process fetching the same digest waits on the lock, then
 * finds the file cached. The SHA-256 is computed while the bytes stream
 * (OpenSSL's EVP), continuing over the .part's bytes on a resume; a
 * mismatch deletes the download.
 *
 * URLs: http(s):// (redirects followed, at most 10, to http(s) only;
 * proxies from curl's environment: http_proxy, https_proxy, no_proxy; CA
 * certificates from CURL_CA_BUNDLE, else SSL_CERT_FILE / SSL_CERT_DIR, as
 * the curl tool reads them), file:/// (read through libcurl too), and
 * s3://BUCKET/KEY (path style, ENDPOINT/BUCKET/KEY, signed with AWS
 * Signature Version 4 by libcurl).
 *
 * Retries: network errors, timeouts and 5xx/408/429 answers are retried
 * (o->retries times) after 1 s, 2 s, 4 s... (capped at 30 s), each resuming
 * what is there. QKVM_FETCH_BACKOFF_MS sets the first delay (the tests make
 * it short). 4xx answers, a digest mismatch and a full cache are not.
 *
 * Thread-safety: libcurl's global setup is done once (pthread_once); each
 * fetch_image uses its own handle, so threads may fetch in parallel.
 */
#ifndef QKVM_FETCH_H
#define QKVM_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fetch_source {
    const char *name;          /* the Image's name, for messages */
    const char *url;           /* http(s)://, file:///, s3://BUCKET/KEY */
    const char *sha256;        /* 64 lowercase hex */
    const char *s3_endpoint;   /* s3: NULL = https://s3.REGION.amazonaws.com */
    const char *s3_region;     /* s3: default "us-east-1" */
    const char *s3_credentials;/* s3: path of an AWS-format credentials file */
};

struct fetch_opts {
    const char *cache_dir;     /* created if missing (mode 0700) */
    long connect_timeout_s;    /* 0: 30 */
    long low_speed_time_s;     /* 0: 60; abort when under 1 KiB/s that long */
    int retries;               /* <0: 0; attempts = retries + 1 */
    bool progress;             /* a progress bar on stderr (the caller decides: TTY only) */
    void (*warn)(void *ctx, const char *msg);   /* warnings (world-readable credentials) */
    void *ctx;
};

struct fetch_result {
    char path[4096];           /* the verified file in the cache */
    uint64_t size;
    bool cached;               /* already there: nothing downloaded */
    bool resumed;              /* a partial download was continued with Range */
    unsigned attempts;         /* requests made (0 when cached) */
};

/* Make sure the cache holds a verified copy of src (keyed by its sha256).
 * 0, or -1 with err (which names the image and says what happened: the URL,
 * the HTTP status and its meaning for 404/403/401, curl's words for network
 * errors, both digests on a mismatch, the bytes needed and free for a full
 * cache filesystem). Nothing partial is ever left under the final name. */
int fetch_image(const struct fetch_source *src, const struct fetch_opts *o,
                struct fetch_result *out, char *err, size_t errlen);

/* One HTTP(S) request: no redirects, basic authentication when userpwd
 * ("user:password"), a response of at most 1 MiB. 0 with out->status and
 * out->body (malloc'd, NUL-terminated: free it) whatever the status, or
 * -1 with err when no answer came (curl's words). */
struct fetch_request {
    const char *method;        /* "GET", "POST" */
    const char *url;
    const char *userpwd;       /* or NULL */
    const char *content_type;  /* of body, or NULL */
    const char *body;          /* or NULL */
    long timeout_ms;           /* the whole request; 0: 30 s */
    const atomic_int *cancel;  /* or NULL: when it becomes non-zero, the request is abandoned */
    const char *const *headers;/* more "Name: value" headers, NULL-terminated, or NULL */
    const char *shown_url;     /* the URL as errors say it (one with a secret in it), or NULL */
};
struct fetch_response {
    long status;
    char *body;
    size_t len;
};
int fetch_request(const struct fetch_request *rq, struct fetch_response *out, char *err,
                  size_t errlen);

/* The default cache directory: /var/cache/qkvm/images as root, else
 * $XDG_CACHE_HOME/qkvm/images (~/.cache/qkvm/images); QKVM_CACHE_DIR overrides. */
const char *fetch_default_cache_dir(char *buf, size_t size);

/* The cached file for a digest if present and complete (no network), else NULL. */
const char *fetch_cached(const char *cache_dir, const char *sha256, char *buf, size_t size);

/* ---- the pieces above, exposed for the unit tests ---- */

/* The rule of fetch_default_cache_dir with its inputs given: override is
 * $QKVM_CACHE_DIR, xdg $XDG_CACHE_HOME (used when absolute), home $HOME.
 * NULL when the path does not fit or nothing names a directory. */
const char *fetch_cache_dir_from(char *buf, size_t size, bool root, const char *override,
                                 const char *xdg, const char *home);

/* DIR/sha256/HEX followed by suffix ("", ".part", ".part.meta", ".lock"). */
const char *fetch_cache_path(char *buf, size_t size, const char *cache_dir, const char *sha256,
                             const char *suffix);

/* Keys of an AWS credentials file's [default] section. */
struct fetch_credentials {
    char key_id[256];
    char secret[256];
    char token[4096];          /* aws_session_token, "" when none */
};
/* Parse the text of an AWS credentials file (INI: [section], key = value,
 * # and ; comments). 0, or -1 with err naming `file` and the missing key. */
int fetch_credentials_parse(struct fetch_credentials *out, const char *text, const char *file,
                            char *err, size_t errlen);
/* Read and parse `file`; *exposed tells whether group or others may read it. */
int fetch_credentials_read(struct fetch_credentials *out, bool *exposed, const char *file,
                           char *err, size_t errlen);

/* The http(s) URL of s3://BUCKET/KEY at endpoint (NULL: AWS's for region),
 * path style, the key percent-encoded. NULL when url is not s3://B/K. */
const char *fetch_s3_url(char *buf, size_t size, const char *url, const char *endpoint,
                         const char *region);

#endif
