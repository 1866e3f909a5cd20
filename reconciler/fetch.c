/* fetch.c — the libcurl adapter: images downloaded into a verified cache
 * (see fetch.h for the cache's layout and guarantees). The only file that
 * includes libcurl's header; SHA-256 comes from OpenSSL's EVP and AWS
 * Signature Version 4 from libcurl (CURLOPT_AWS_SIGV4): neither is written
 * here.
 *
 * Invariants: a file appears under DIR/sha256/HEX only by rename(2), after
 * its digest matched and it was synced; everything else lives in HEX.part.
 * The .part is only written by a process that holds HEX.lock. The secret of
 * an S3 credentials file goes to libcurl and nowhere else (no message holds
 * it) and is wiped after use.
 *
 * HOW IT WORKS (one download)
 *   1. Lock HEX.lock (flock, waiting); if HEX exists now, it is cached.
 *   2. Open HEX.part. If it has bytes and HEX.part.meta names the same URL
 *      with an ETag or a Last-Modified date, hash those bytes and ask for
 *      the rest: "Range: bytes=N-" with "If-Range: VALIDATOR". Else start
 *      from nothing. (CURLOPT_RANGE, not CURLOPT_RESUME_FROM_LARGE: with the
 *      latter libcurl fails a 200 answer with CURLE_RANGE_ERROR, and a 200
 *      is exactly how If-Range says "the object changed, here is all of it",
 *      which is handled below without a second request.)
 *   3. At the first byte of the body (the write callback) the answer is
 *      known: an error status keeps its body aside for the message; a 200
 *      to a range request truncates the .part and restarts the hash; a 206
 *      must start where asked. The length still to come is checked against
 *      the cache file system's free space (statvfs), and the meta is written
 *      with the answer's validators.
 *   4. Bytes are written and hashed as they come. A network error, a
 *      timeout (under 1 KiB/s for low_speed_time_s) or a 5xx ends the
 *      attempt; the next one, after a backoff, resumes from what was written
 *      (step 2's rule, with the validators of the last answer).
 *   5. At the end the digest is compared: a match is synced, made read-only
 *      and renamed to HEX; a mismatch deletes the .part and its meta.
 */
#include "fetch.h"

#include "arena.h"

#include "text.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifndef QKVM_VERSION
#define QKVM_VERSION "0.1.0"
#endif

#define BACKOFF_CAP_MS 30000L
#define ERRBODY_MAX 2048

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

static bool valid_sha256(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return true;
}

/* mkdir -p, each directory created with mode 0700. */
static int mkdirs(const char *path)
{
    char dir[PATH_MAX];
    if (!fits(snprintf(dir, sizeof(dir), "%s", path), sizeof(dir))) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(dir, 0700);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(dir, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static void fsync_dir(const char *file)
{
    char dir[PATH_MAX];
    if (!fits(snprintf(dir, sizeof(dir), "%s", file), sizeof(dir)))
        return;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ------------------------------------------------------------------ */
/* cache paths                                                         */

const char *fetch_cache_dir_from(char *buf, size_t size, bool root, const char *override,
                                 const char *xdg, const char *home)
{
    int n;
    if (override && *override)
        n = snprintf(buf, size, "%s", override);
    else if (root)
        n = snprintf(buf, size, "/var/cache/qkvm/images");
    else if (xdg && *xdg == '/')
        n = snprintf(buf, size, "%s/qkvm/images", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.cache/qkvm/images", home);
    else
        return NULL;
    return fits(n, size) ? buf : NULL;
}

const char *fetch_default_cache_dir(char *buf, size_t size)
{
    return fetch_cache_dir_from(buf, size, geteuid() == 0, getenv("QKVM_CACHE_DIR"),
                                getenv("XDG_CACHE_HOME"), getenv("HOME"));
}

const char *fetch_cache_path(char *buf, size_t size, const char *cache_dir, const char *sha256,
                             const char *suffix)
{
    size_t len = strlen(cache_dir);
    while (len > 1 && cache_dir[len - 1] == '/')
        len--;
    int n = snprintf(buf, size, "%.*s/sha256/%s%s", (int)len, cache_dir, sha256, suffix);
    return fits(n, size) ? buf : NULL;
}

const char *fetch_cached(const char *cache_dir, const char *sha256, char *buf, size_t size)
{
    struct stat st;
    if (!cache_dir || !valid_sha256(sha256) || !fetch_cache_path(buf, size, cache_dir, sha256, ""))
        return NULL;
    if (stat(buf, &st) < 0 || !S_ISREG(st.st_mode))
        return NULL;
    return buf;
}

/* ------------------------------------------------------------------ */
/* AWS credentials                                                     */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int fetch_credentials_parse(struct fetch_credentials *out, const char *text, const char *file,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    bool in_default = false, seen_default = false;
    const char *p = text;
    unsigned lineno = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[8192];
        lineno++;
        if (len >= sizeof(line)) {
            seterr(err, errlen, "the credentials file '%s' has a line too long (line %u)", file,
                   lineno);
            goto fail;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl ? 1 : 0);
        char *l = trim(line);
        if (!*l || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (!end) {
                seterr(err, errlen, "the credentials file '%s' has a malformed section header "
                       "at line %u", file, lineno);
                goto fail;
            }
            *end = '\0';
            in_default = strcmp(trim(l + 1), "default") == 0;
            seen_default |= in_default;
            continue;
        }
        if (!in_default)
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;           /* not a key: ignored, as the AWS tools do */
        *eq = '\0';
        const char *key = trim(l);
        const char *val = trim(eq + 1);
        char *dst = NULL;
        size_t dsize = 0;
        if (strcmp(key, "aws_access_key_id") == 0)
            dst = out->key_id, dsize = sizeof(out->key_id);
        else if (strcmp(key, "aws_secret_access_key") == 0)
            dst = out->secret, dsize = sizeof(out->secret);
        else if (strcmp(key, "aws_session_token") == 0)
            dst = out->token, dsize = sizeof(out->token);
        if (!dst)
            continue;
        if (strlen(val) >= dsize) {
            seterr(err, errlen, "the credentials file '%s' has a %s too long (line %u)", file,
                   key, lineno);
            goto fail;
        }
        memcpy(dst, val, strlen(val) + 1);
    }
    if (!seen_default) {
        seterr(err, errlen, "the credentials file '%s' has no [default] section", file);
        goto fail;
    }
    if (!*out->key_id || !*out->secret) {
        seterr(err, errlen, "the credentials file '%s' has no %s under [default]", file,
               !*out->key_id ? "aws_access_key_id" : "aws_secret_access_key");
        goto fail;
    }
    return 0;
fail:
    explicit_bzero(out, sizeof(*out));
    return -1;
}

int fetch_credentials_read(struct fetch_credentials *out, bool *exposed, const char *file,
                           char *err, size_t errlen)
{
    char *text = NULL;
    int rc = -1;
    *exposed = false;
    memset(out, 0, sizeof(*out));
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        seterr(err, errlen, "cannot read the credentials file '%s': %s", file, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
        seterr(err, errlen, "the credentials file '%s' is not a regular file of at most 1 MiB",
               file);
        goto done;
    }
    *exposed = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
    size_t n = (size_t)st.st_size, got = 0;
    text = malloc(n + 1);
    if (!text) {
        seterr(err, errlen, "out of memory reading '%s'", file);
        goto done;
    }
    while (got < n) {
        ssize_t r = read(fd, text + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            seterr(err, errlen, "cannot read the credentials file '%s': %s", file,
                   strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    text[got] = '\0';
    rc = fetch_credentials_parse(out, text, file, err, errlen);
done:
    if (text) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* s3:// URLs                                                          */

const char *fetch_s3_url(char *buf, size_t size, const char *url, const char *endpoint,
                         const char *region)
{
    if (strncmp(url, "s3://", 5) != 0)
        return NULL;
    const char *bucket = url + 5, *slash = strchr(bucket, '/');
    if (!slash || slash == bucket || !slash[1])
        return NULL;
    char ep[1024];
    int n = endpoint && *endpoint
                ? snprintf(ep, sizeof(ep), "%s", endpoint)
                : snprintf(ep, sizeof(ep), "https://s3.%s.amazonaws.com",
                           region && *region ? region : "us-east-1");
    if (!fits(n, sizeof(ep)))
        return NULL;
    size_t elen = strlen(ep);
    while (elen && ep[elen - 1] == '/')
        ep[--elen] = '\0';
    n = snprintf(buf, size, "%s/%.*s/", ep, (int)(slash - bucket), bucket);
    if (!fits(n, size))
        return NULL;
    size_t at = (size_t)n;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *k = (const unsigned char *)slash + 1; *k; k++) {
        bool keep = isalnum(*k) || *k == '-' || *k == '.' || *k == '_' || *k == '~' || *k == '/';
        if (at + (keep ? 1 : 3) >= size)
            return NULL;
        if (keep) {
            buf[at++] = (char)*k;
        } else {
            buf[at++] = '%';
            buf[at++] = hex[*k >> 4];
            buf[at++] = hex[*k & 15];
        }
    }
    buf[at] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* the .part's meta file                                               */

struct meta {
    char url[4096];
    char etag[512];
    char lastmod[128];
    uint64_t bytes;
};

static void meta_read(struct meta *m, const char *path)
{
    memset(m, 0, sizeof(*m));
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[4200];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        const char *v = sp + 1;
        if (strcmp(line, "url") == 0 && strlen(v) < sizeof(m->url))
            memcpy(m->url, v, strlen(v) + 1);
        else if (strcmp(line, "etag") == 0 && strlen(v) < sizeof(m->etag))
            memcpy(m->etag, v, strlen(v) + 1);
        else if (strcmp(line, "last-modified") == 0 && strlen(v) < sizeof(m->lastmod))
            memcpy(m->lastmod, v, strlen(v) + 1);
        else if (strcmp(line, "bytes") == 0)
            m->bytes = strtoull(v, NULL, 10);
    }
    fclose(f);
}

/* Written to PATH.tmp and renamed: a reader sees the old or the new. */
static void meta_write(const struct meta *m, const char *path)
{
    char tmp[PATH_MAX];
    if (!fits(snprintf(tmp, sizeof(tmp), "%s.tmp", path), sizeof(tmp)))
        return;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    fprintf(f, "url %s\netag %s\nlast-modified %s\nbytes %" PRIu64 "\n", m->url, m->etag,
            m->lastmod, m->bytes);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        unlink(tmp);
}

/* ------------------------------------------------------------------ */
/* one transfer                                                        */

enum xfer_fail {
    XF_NONE,
    XF_SPACE,          /* the answer's length does not fit in the free space */
    XF_WRITE,          /* writing the .part failed (errno in write_errno) */
    XF_RANGE,          /* a 206 that does not start where asked */
};

struct xfer {
    const struct fetch_source *src;
    CURL *h;
    const char *meta_path;
    struct meta *meta;
    int fd;
    EVP_MD_CTX *md;
    uint64_t have;             /* bytes in the .part, all hashed */
    uint64_t start;            /* where this attempt's range starts (0: whole) */
    bool started;              /* the body of this answer has begun */
    bool resumed;              /* a 206 continued a .part */
    long code;                 /* the final answer's status (0 for file://) */
    enum xfer_fail fail;
    int write_errno;
    uint64_t need, avail;      /* XF_SPACE */
    char etag[512], lastmod[128];
    long long range_first;     /* Content-Range: bytes FIRST-..., -1 when absent */
    char errbody[ERRBODY_MAX];
    size_t errbody_len;
    /* progress */
    double t0, drawn_at;
    bool drawn;
};

static bool http_like(const struct xfer *x)
{
    return strncmp(x->src->url, "file:", 5) != 0;
}

static int truncate_part(struct xfer *x)
{
    if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
        return -1;
    x->have = 0;
    return EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/* The header callback: the validators and Content-Range of the last
 * answer (a redirect's headers are forgotten when the next status line
 * comes). */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    char line[1024];
    size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, buf, l);
    line[l] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        x->etag[0] = x->lastmod[0] = '\0';
        x->range_first = -1;
        return len;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return len;
    *colon = '\0';
    char *v = trim(colon + 1);
    if (strcasecmp(line, "ETag") == 0 && strlen(v) < sizeof(x->etag))
        memcpy(x->etag, v, strlen(v) + 1);
    else if (strcasecmp(line, "Last-Modified") == 0 && strlen(v) < sizeof(x->lastmod))
        memcpy(x->lastmod, v, strlen(v) + 1);
    else if (strcasecmp(line, "Content-Range") == 0 && strncmp(v, "bytes ", 6) == 0 &&
             isdigit((unsigned char)v[6]))
        x->range_first = strtoll(v + 6, NULL, 10);
    return len;
}

/* The first byte of an answer's body: decide what the body is. */
static int body_start(struct xfer *x)
{
    CURL *h = x->h;
    x->code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->code);
    if (http_like(x) && (x->code < 200 || x->code >= 300))
        return 0;                         /* an error's body: kept for the message */
    if (x->start > 0) {
        if (x->code == 206) {
            if (x->range_first != (long long)x->start) {
                x->fail = XF_RANGE;
                return -1;
            }
            x->resumed = true;
        } else if (truncate_part(x) < 0) {   /* 200: changed, or no ranges: all of it */
            x->fail = XF_WRITE;
            x->write_errno = errno;
            return -1;
        }
    }
    curl_off_t len = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    struct statvfs vfs;
    if (len > 0 && fstatvfs(x->fd, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if ((uint64_t)len > avail) {
            x->fail = XF_SPACE;
            x->need = (uint64_t)len;
            x->avail = avail;
            return -1;
        }
    }
    /* the validators of this answer, for a later resume */
    bool strong = x->etag[0] && strncmp(x->etag, "W/", 2) != 0;
    snprintf(x->meta->etag, sizeof(x->meta->etag), "%s", strong ? x->etag : "");
    snprintf(x->meta->lastmod, sizeof(x->meta->lastmod), "%s", x->lastmod);
    x->meta->bytes = x->have;
    meta_write(x->meta, x->meta_path);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (!x->started) {
        x->started = true;
        x->errbody_len = 0;
        if (body_start(x) < 0)
            return 0;
    }
    if (http_like(x) && (x->code < 200 || x->code >= 300)) {
        size_t room = sizeof(x->errbody) - 1 - x->errbody_len;
        size_t take = len < room ? len : room;
        memcpy(x->errbody + x->errbody_len, p, take);
        x->errbody_len += take;
        x->errbody[x->errbody_len] = '\0';
        return len;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(x->fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->fail = XF_WRITE;
            x->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        done += (size_t)w;
    }
    EVP_DigestUpdate(x->md, p, len);
    x->have += len;
    return len;
}

/* A one-line bar on stderr: name, bytes/total, percent, rate. Redrawn at
 * most ten times a second; cleared at the end (progress_clear). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    struct xfer *x = ud;
    double t = now_s();
    if (x->drawn && t - x->drawn_at < 0.1)
        return 0;
    x->drawn_at = t;
    x->drawn = true;
    uint64_t now = x->start + (uint64_t)(dlnow > 0 ? dlnow : 0);
    uint64_t total = dltotal > 0 ? x->start + (uint64_t)dltotal : 0;
    double rate = t > x->t0 ? (double)(dlnow > 0 ? dlnow : 0) / (t - x->t0) : 0;
    char a[32], b[32], r[32];
    text_bytes((double)now, a, sizeof(a));
    text_bytes(rate, r, sizeof(r));
    if (total)
        fprintf(stderr, "\r\033[K%s: %s / %s  %3d%%  %s/s", x->src->name, a,
                text_bytes((double)total, b, sizeof(b)),
                (int)(100.0 * (double)now / (double)total), r);
    else
        fprintf(stderr, "\r\033[K%s: %s  %s/s", x->src->name, a, r);
    fflush(stderr);
    return 0;
}

static void progress_clear(struct xfer *x)
{
    if (x->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        x->drawn = false;
    }
}

/* ------------------------------------------------------------------ */
/* messages                                                            */

static const char *status_text(long code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized (the server wants credentials)";
    case 403: return "Forbidden (access denied)";
    case 404: return "Not Found (nothing at that address)";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* <Code> and <Message> of an S3 error document, "" when not one. */
static void s3_error(const char *body, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *c = strstr(body, "<Code>"), *ce = c ? strstr(c, "</Code>") : NULL;
    if (!c || !ce)
        return;
    c += 6;
    const char *m = strstr(body, "<Message>"), *me = m ? strstr(m, "</Message>") : NULL;
    if (m && me)
        snprintf(buf, size, ": %.*s: %.*s", (int)(ce - c), c, (int)(me - m - 9), m + 9);
    else
        snprintf(buf, size, ": %.*s", (int)(ce - c), c);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

/* Which failed attempts are worth another one. */
static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static bool retryable_status(long code)
{
    return code == 408 || code == 429 || code >= 500;
}

/* ------------------------------------------------------------------ */
/* fetch_image                                                          */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long backoff_base_ms(void)
{
    const char *e = getenv("QKVM_FETCH_BACKOFF_MS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (!*end && v >= 0 && v <= BACKOFF_CAP_MS)
            return v;
    }
    return 1000;
}

/* Hash the bytes already in the .part (a resume). */
static int hash_existing(struct xfer *x, uint64_t size)
{
    static const size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    if (!buf)
        return -1;
    uint64_t done = 0;
    int rc = 0;
    if (lseek(x->fd, 0, SEEK_SET) < 0)
        rc = -1;
    while (rc == 0 && done < size) {
        ssize_t r = read(x->fd, buf, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = -1;
            break;
        }
        EVP_DigestUpdate(x->md, buf, (size_t)r);
        done += (uint64_t)r;
    }
    free(buf);
    if (rc == 0 && (done != size || lseek(x->fd, 0, SEEK_END) < 0))
        rc = -1;
    x->have = done;
    return rc;
}

/* The .part and its meta gone (nothing worth resuming). */
static void drop_part(const char *part, const char *meta_path)
{
    unlink(part);
    unlink(meta_path);
}

int fetch_image(const struct fetch_source *src, const struct fetch_opts *o,
                struct fetch_result *out, char *err, size_t errlen)
{
    const char *name = src->name ? src->name : "?";
    char final[PATH_MAX], part[PATH_MAX], meta_path[PATH_MAX], lock[PATH_MAX], dir[PATH_MAX];
    char url[8192], shown[8400], curl_err[CURL_ERROR_SIZE];
    struct fetch_credentials cred;
    struct meta meta;
    struct xfer x;
    struct curl_slist *headers = NULL;
    CURL *h = NULL;
    int lock_fd = -1, rc = -1;
    bool s3 = false, have_cred = false;

    memset(out, 0, sizeof(*out));
    memset(&x, 0, sizeof(x));
    x.fd = -1;
    err[0] = '\0';
    if (!valid_sha256(src->sha256)) {
        seterr(err, errlen, "image %s: '%s' is not a SHA-256 (64 lowercase hex digits)", name,
               src->sha256 ? src->sha256 : "");
        return -1;
    }
    if (!o->cache_dir || !*o->cache_dir) {
        seterr(err, errlen, "image %s: no cache directory", name);
        return -1;
    }
    if (!fetch_cache_path(final, sizeof(final), o->cache_dir, src->sha256, "") ||
        !fetch_cache_path(part, sizeof(part), o->cache_dir, src->sha256, ".part") ||
        !fetch_cache_path(meta_path, sizeof(meta_path), o->cache_dir, src->sha256, ".part.meta") ||
        !fetch_cache_path(lock, sizeof(lock), o->cache_dir, src->sha256, ".lock") ||
        !fits(snprintf(out->path, sizeof(out->path), "%s", final), sizeof(out->path))) {
        seterr(err, errlen, "image %s: the cache directory's path '%s' is too long", name,
               o->cache_dir);
        return -1;
    }
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode)) {
        out->cached = true;
        out->size = (uint64_t)st.st_size;
        return 0;
    }

    /* the source, before anything is created */
    if (strncmp(src->url, "s3://", 5) == 0) {
        s3 = true;
        if (!fetch_s3_url(url, sizeof(url), src->url, src->s3_endpoint, src->s3_region)) {
            seterr(err, errlen, "image %s: '%s' is not an s3://BUCKET/KEY URL", name, src->url);
            return -1;
        }
        snprintf(shown, sizeof(shown), "%s (%s)", src->url, url);
        if (!src->s3_credentials) {
            seterr(err, errlen, "image %s: %s needs a credentials file (spec.s3.credentialsFile)",
                   name, src->url);
            return -1;
        }
        char cerr[1024];
        bool exposed;
        if (fetch_credentials_read(&cred, &exposed, src->s3_credentials, cerr, sizeof(cerr)) < 0) {
            seterr(err, errlen, "image %s: %s", name, cerr);
            return -1;
        }
        have_cred = true;
        if (exposed && o->warn) {
            char w[1200];
            snprintf(w, sizeof(w), "image %s: the credentials file '%s' can be read by other "
                     "users (chmod 600 it)", name, src->s3_credentials);
            o->warn(o->ctx, w);
        }
    } else if (strncmp(src->url, "http://", 7) == 0 || strncmp(src->url, "https://", 8) == 0 ||
               strncmp(src->url, "file:///", 8) == 0) {
        if (!fits(snprintf(url, sizeof(url), "%s", src->url), sizeof(url))) {
            seterr(err, errlen, "image %s: the URL is too long", name);
            return -1;
        }
        snprintf(shown, sizeof(shown), "%s", src->url);
    } else {
        seterr(err, errlen, "image %s: '%s' is not an http://, https://, file:/// or s3:// URL",
               name, src->url);
        return -1;
    }

    /* the cache, and the digest's lock */
    snprintf(dir, sizeof(dir), "%s", final);
    *strrchr(dir, '/') = '\0';
    if (mkdirs(dir) < 0) {
        seterr(err, errlen, "image %s: cannot create the cache directory '%s': %s", name, dir,
               strerror(errno));
        goto done;
    }
    lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) {
        seterr(err, errlen, "image %s: cannot open '%s': %s", name, lock, strerror(errno));
        goto done;
    }
    while (flock(lock_fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            seterr(err, errlen, "image %s: cannot lock '%s': %s", name, lock, strerror(errno));
            goto done;
        }
    }
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode)) {   /* another process fetched it */
        out->cached = true;
        out->size = (uint64_t)st.st_size;
        rc = 0;
        goto done;
    }

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        seterr(err, errlen, "image %s: libcurl cannot start: %s", name,
               curl_easy_strerror(global_rc));
        goto done;
    }
    x.md = EVP_MD_CTX_new();
    if (!x.md || EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
        seterr(err, errlen, "image %s: OpenSSL has no SHA-256", name);
        goto done;
    }
    x.src = src;
    x.meta_path = meta_path;
    x.meta = &meta;
    x.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (x.fd < 0) {
        seterr(err, errlen, "image %s: cannot open '%s': %s", name, part, strerror(errno));
        goto done;
    }

    /* resume what a earlier run left, when it can be validated */
    meta_read(&meta, meta_path);
    struct stat pst;
    bool resumable = fstat(x.fd, &pst) == 0 && pst.st_size > 0 && http_like(&x) &&
                     strcmp(meta.url, src->url) == 0 && (meta.etag[0] || meta.lastmod[0]);
    if (resumable && hash_existing(&x, (uint64_t)pst.st_size) < 0)
        resumable = false;                /* unreadable: start over */
    if (!resumable) {
        if (truncate_part(&x) < 0) {
            seterr(err, errlen, "image %s: cannot truncate '%s': %s", name, part,
                   strerror(errno));
            goto done;
        }
        memset(&meta, 0, sizeof(meta));
    }
    snprintf(meta.url, sizeof(meta.url), "%s", src->url);

    h = curl_easy_init();
    if (!h) {
        seterr(err, errlen, "image %s: libcurl cannot make a handle", name);
        goto done;
    }
    x.h = h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "qkvm/" QKVM_VERSION);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, http_like(&x) ? "http,https" : "file");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s > 0 ? o->connect_timeout_s
                                                                         : 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s > 0 ? o->low_speed_time_s
                                                                        : 60L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    if (o->progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    /* CA certificates as the curl tool finds them (libcurl itself only has
     * its built-in bundle) */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    const char *capath = getenv("SSL_CERT_DIR");
    if (capath && *capath && !getenv("CURL_CA_BUNDLE"))
        curl_easy_setopt(h, CURLOPT_CAPATH, capath);
    if (s3) {
        char sig[128], userpwd[600];
        snprintf(sig, sizeof(sig), "aws:amz:%s:s3",
                 src->s3_region && *src->s3_region ? src->s3_region : "us-east-1");
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
        snprintf(userpwd, sizeof(userpwd), "%s:%s", cred.key_id, cred.secret);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);   /* libcurl keeps its own copy */
        explicit_bzero(userpwd, sizeof(userpwd));
    }

    unsigned max_attempts = (unsigned)(o->retries > 0 ? o->retries : 0) + 1;
    long delay = backoff_base_ms();
    CURLcode crc = CURLE_OK;
    bool ok = false;
    for (unsigned attempt = 1; attempt <= max_attempts; attempt++) {
        if (attempt > 1) {
            sleep_ms(delay);
            delay = delay * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : delay * 2;
            /* resume only what the last answer's validators vouch for */
            if (x.have > 0 && !(meta.etag[0] || meta.lastmod[0]) && truncate_part(&x) < 0) {
                seterr(err, errlen, "image %s: cannot truncate '%s': %s", name, part,
                       strerror(errno));
                goto done;
            }
        }
        out->attempts = attempt;
        x.start = x.have;
        x.started = false;
        x.fail = XF_NONE;
        x.code = 0;
        x.range_first = -1;
        x.etag[0] = x.lastmod[0] = '\0';
        x.errbody_len = 0;
        x.errbody[0] = '\0';
        x.t0 = now_s();
        curl_err[0] = '\0';
        curl_slist_free_all(headers);
        headers = NULL;
        if (s3) {
            /* SigV4 for S3 signs the payload's digest: a GET's is the empty body's */
            headers = curl_slist_append(headers, "x-amz-content-sha256: "
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
            if (cred.token[0]) {
                char tok[4200];
                snprintf(tok, sizeof(tok), "x-amz-security-token: %s", cred.token);
                headers = curl_slist_append(headers, tok);
            }
        }
        char range[64];
        if (x.start > 0) {
            char ifr[700];
            snprintf(range, sizeof(range), "%" PRIu64 "-", x.start);
            curl_easy_setopt(h, CURLOPT_RANGE, range);
            snprintf(ifr, sizeof(ifr), "If-Range: %s", meta.etag[0] ? meta.etag : meta.lastmod);
            headers = curl_slist_append(headers, ifr);
        } else {
            curl_easy_setopt(h, CURLOPT_RANGE, NULL);
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        crc = curl_easy_perform(h);
        progress_clear(&x);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.code);
        meta.bytes = x.have;
        if (x.fail == XF_SPACE) {
            seterr(err, errlen, "image %s: %s needs %" PRIu64 " bytes, the cache file system "
                   "(%s) has %" PRIu64 " free", name, shown, x.need, dir, x.avail);
            if (x.have == 0)                /* a resumable .part is kept for later */
                drop_part(part, meta_path);
            goto done;
        }
        if (x.fail == XF_WRITE) {
            if (x.write_errno == ENOSPC || x.write_errno == EDQUOT)
                seterr(err, errlen, "image %s: the cache file system (%s) is full after %" PRIu64
                       " bytes of %s; the partial download was removed", name, dir, x.have,
                       shown);
            else
                seterr(err, errlen, "image %s: cannot write '%s': %s", name, part,
                       strerror(x.write_errno));
            drop_part(part, meta_path);
            goto done;
        }
        if (x.fail == XF_RANGE) {
            seterr(err, errlen, "image %s: %s answered a range request with other bytes than "
                   "asked; the partial download was discarded", name, shown);
            drop_part(part, meta_path);
            goto done;
        }
        if (crc == CURLE_OK && http_like(&x) && x.code == 416 && x.start > 0) {
            /* the .part may be whole already: the digest decides */
            ok = true;
            break;
        }
        if (crc == CURLE_OK && (!http_like(&x) || (x.code >= 200 && x.code < 300))) {
            ok = true;
            break;
        }
        if (crc == CURLE_OK) {                      /* an HTTP error status */
            char s3e[600] = "";
            if (s3)
                s3_error(x.errbody, s3e, sizeof(s3e));
            const char *text = status_text(x.code);
            seterr(err, errlen, "image %s: %s answered %ld%s%s%s", name, shown, x.code,
                   *text ? " " : "", text, s3e);
            if (!retryable_status(x.code))
                break;
        } else {
            seterr(err, errlen, "image %s: cannot download %s: %s", name, shown,
                   curl_err[0] ? curl_err : curl_easy_strerror(crc));
            if (!retryable_curl(crc))
                break;
        }
        meta_write(&meta, meta_path);
    }
    if (!ok) {
        if (out->attempts > 1) {
            size_t l = strlen(err);
            snprintf(err + l, errlen > l ? errlen - l : 0, " (%u attempts)", out->attempts);
        }
        if (x.have == 0)
            drop_part(part, meta_path);
        else
            meta_write(&meta, meta_path);
        goto done;
    }

    /* the digest decides */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_DigestFinal_ex(x.md, md, &mdlen);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * mdlen] = '\0';
    if (strcmp(hex, src->sha256) != 0) {
        seterr(err, errlen, "image %s: the download's SHA-256 is %s, the manifest says %s; the "
               "file was discarded", name, hex, src->sha256);
        drop_part(part, meta_path);
        goto done;
    }
    if (fsync(x.fd) < 0 || fchmod(x.fd, 0444) < 0 || rename(part, final) < 0) {
        seterr(err, errlen, "image %s: cannot put the verified file at '%s': %s", name, final,
               strerror(errno));
        drop_part(part, meta_path);
        goto done;
    }
    unlink(meta_path);
    fsync_dir(final);
    out->size = x.have;
    out->resumed = x.resumed;
    rc = 0;
done:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (x.md)
        EVP_MD_CTX_free(x.md);
    if (x.fd >= 0)
        close(x.fd);
    if (lock_fd >= 0)
        close(lock_fd);              /* releases the flock */
    if (have_cred)
        explicit_bzero(&cred, sizeof(cred));
    return rc;
}

/* ---- one HTTP request (Redfish, notifications) ---- */

struct req_body {
    char *v;
    size_t n;
    size_t max;
};

static size_t on_req_body(char *p, size_t size, size_t n, void *arg)
{
    struct req_body *b = arg;
    size_t len = size * n;
    if (b->n + len > b->max)
        return 0;                         /* too large: the transfer fails */
    b->v = xrealloc(b->v, b->n + len + 1);
    memcpy(b->v + b->n, p, len);
    b->n += len;
    b->v[b->n] = '\0';
    return len;
}

static int on_req_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const atomic_int *cancel = arg;
    return atomic_load(cancel) ? 1 : 0;       /* non-zero aborts the transfer */
}

int fetch_request(const struct fetch_request *rq, struct fetch_response *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        seterr(err, errlen, "%s %s: libcurl cannot start: %s", rq->method,
               rq->shown_url ? rq->shown_url : rq->url, curl_easy_strerror(global_rc));
        return -1;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        seterr(err, errlen, "%s %s: libcurl cannot make a handle", rq->method,
               rq->shown_url ? rq->shown_url : rq->url);
        return -1;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    struct req_body b = { NULL, 0, 1 << 20 };
    struct curl_slist *headers = NULL;
    if (rq->content_type) {
        char ct[256];
        snprintf(ct, sizeof(ct), "Content-Type: %s", rq->content_type);
        headers = curl_slist_append(headers, ct);
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    for (const char *const *x = rq->headers; x && *x; x++)
        headers = curl_slist_append(headers, *x);
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "qkvm/" QKVM_VERSION);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     rq->timeout_ms > 0 && rq->timeout_ms < 10000 ? rq->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_req_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (rq->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
    }
    if (rq->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_req_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)rq->cancel);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (rq->userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, rq->userpwd);
    }
    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc != CURLE_OK) {
        seterr(err, errlen, "%s %s: %s", rq->method, rq->shown_url ? rq->shown_url : rq->url,
               *curl_err ? curl_err : curl_easy_strerror(rc));
        free(b.v);
        ret = -1;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        out->body = b.v ? b.v : xstrdup("");
        out->len = b.n;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return ret;
}
