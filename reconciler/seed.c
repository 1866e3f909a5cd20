/* seed.c — the NoCloud seed image (the libisofs adapter) and the content
 * digest (with seed_digest, one of the two OpenSSL includers). See seed.h.
 *
 * HOW THE IMAGE IS MADE
 *
 * An IsoImage named "cidata" (libisofs takes the name as volume id and
 * volume set id) gets one file per part, each an IsoStream over a copy of
 * the text: iso_memory_stream_new takes the buffer it is given and frees it
 * with the stream, so it is given a malloc'd copy, freed here only when the
 * stream could not be made; a stream the tree refused is unreferenced here.
 * The image is written with ISO level 2 (ISO names up to 31 characters:
 * USER_DATA.;1), Rock Ridge and Joliet, both of which carry the real names.
 * The volume id is written as it is, "cidata" in lower case as genisoimage
 * and cloud-localds write it (relaxed_vol_atts: ECMA-119 wants d-characters,
 * upper case, and libisofs would write CIDATA).
 * iso_image_create_burn_source starts a writer thread (signals blocked in
 * it, as for every thread of qkvm's) that fills a ring buffer; the image's
 * size is known before the first byte (get_size), so the bytes are read
 * 2048 at a time into one buffer of that size, after which the source must
 * say EOF and its state must be "input ended without error". A source not
 * read to its end is cancelled (which joins the writer thread) before it is
 * freed.
 *
 * HOW IT IS MADE DETERMINISTIC
 *
 * Everything libisofs would take from the clock, the time zone or the
 * process is fixed:
 *   - the nodes (the root directory and the three files) get atime, mtime
 *     and ctime 0 (libisofs gives new nodes the current time), owner 0:0
 *     and modes 0555 and 0444 (libisofs's defaults, set here so that none
 *     is relied on);
 *   - the write options replace every Rock Ridge and directory record time
 *     with 0 as well (replace_timestamps 2, default_timestamp 0), for any
 *     node libisofs might make on its own, and owners and modes likewise;
 *   - the volume descriptors' creation and modification times come from
 *     pvd_times' "vol_uuid" string 1970010100000000 (written as it is, in
 *     GMT). A time of 0 given to pvd_times means "now", so the epoch can
 *     only be had this way; expiration and effective times are "not
 *     specified" (all zeros). The same string is libisofs's "now" for the
 *     write, which is what directory records without an mtime get;
 *   - always_gmt: no record carries the builder's time zone offset;
 *   - nothing optional is on: no MD5 tags, no ACLs or xattrs (AAIP), no
 *     HFS+, FAT, El Torito or GPT (whose disk GUID would be random).
 * Inode numbers (Rock Ridge PX) are counted per image from 1, in an order
 * set by the creation order of the streams, which is fixed here.
 *
 * LIBISOFS'S PROCESS-WIDE STATE
 *
 * iso_init must come before any other call and iso_finish ends the library
 * for the whole process; there is no per-user handle. So iso_init runs once
 * (pthread_once) and iso_finish never: what it would free (the message
 * queue, a few registries) stays reachable until exit. iso_init_with_flag
 * with bit 0 is used because plain iso_init calls setlocale(LC_CTYPE, ""),
 * which would change the locale of the whole process under the CLI. The
 * names written are ASCII, so the charset libisofs assumes does not matter.
 * Messages: libisofs prints FATAL ones to stderr by default; here nothing
 * is printed, messages of severity SORRY and worse are queued, and a
 * failure takes its reason from the queue (else from the return code's
 * text); the queue is emptied before and after every build. The queue is
 * one for the process, so that a failure finds its own message there, and
 * a stream serial counter and the time-zone setup are globals without
 * locks: builds are serialised by a mutex (a seed takes milliseconds).
 */
#include "seed.h"

#include "arena.h"
#include "text.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* libisofs.h uses the types of the headers above without including them,
 * and declares iso_init() and two more without prototypes. */
#define LIBISOFS_WITHOUT_LIBBURN 1   /* declares struct burn_source */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <libisofs.h>
#pragma GCC diagnostic pop
#include <openssl/evp.h>

#define SEED_VOLUME_ID "cidata"
#define SEED_BLOCK 2048
/* The volume descriptors' creation and modification time: the epoch. */
#define SEED_PVD_TIME "1970010100000000"
/* The writer's ring buffer in blocks (libisofs: at least 32, default 1024). */
#define SEED_FIFO_BLOCKS 64

static pthread_once_t iso_once = PTHREAD_ONCE_INIT;
static int iso_ready;                     /* iso_init's result: 1, or < 0 */
static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;

/* libisofs's severities are taken as char *, not const char *. */
static char sev_never[] = "NEVER";
static char sev_sorry[] = "SORRY";
static char msg_prefix[] = "libisofs: ";

static void iso_setup(void)
{
    iso_ready = iso_init_with_flag(1);    /* bit 0: leave the locale alone */
    if (iso_ready > 0 && iso_set_msgs_severities(sev_sorry, sev_never, msg_prefix) <= 0)
        iso_ready = ISO_FATAL_ERROR;
}

/* Empty libisofs's message queue. */
static void drain(void)
{
    char text[ISO_MSGS_MESSAGE_LEN], sev[80];
    int code, imgid;
    (void)iso_obtain_msgs(sev_never, &code, &imgid, text, sev);
}

/* "cannot WHAT: why", why being the oldest queued message of severity
 * SORRY or worse, else the text of libisofs's return code `code`. */
static void fail(char *err, size_t errlen, const char *what, int code)
{
    char text[ISO_MSGS_MESSAGE_LEN], sev[80], why[512];
    int qcode, imgid;
    const char *msg = iso_error_to_msg(code);
    if (iso_obtain_msgs(sev_sorry, &qcode, &imgid, text, sev) > 0)
        msg = text;
    text_escape(why, sizeof(why), msg, strlen(msg));
    snprintf(err, errlen, "cannot %s: %s", what, why);
}

/* The owner, mode and times every node of the image has. */
static void fix_node(IsoNode *node, mode_t mode)
{
    iso_node_set_uid(node, 0);
    iso_node_set_gid(node, 0);
    iso_node_set_permissions(node, mode);
    iso_node_set_atime(node, 0);
    iso_node_set_mtime(node, 0);
    iso_node_set_ctime(node, 0);
}

/* Add `name` holding `text` to the root of `img`. 0, or -1 with err. */
static int add_file(IsoImage *img, const char *name, const char *text,
                    char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof(what), "add '%s' to the seed image", name);
    size_t n = strlen(text);
    unsigned char *copy = xmalloc(n ? n : 1);    /* the stream frees it */
    memcpy(copy, text, n);
    IsoStream *stream = NULL;
    int e = iso_memory_stream_new(copy, n, &stream);
    if (e < 0) {
        free(copy);                              /* not taken on failure */
        fail(err, errlen, what, e);
        return -1;
    }
    IsoFile *file = NULL;
    e = iso_image_add_new_file(img, iso_image_get_root(img), name, stream, &file);
    if (e < 0) {
        iso_stream_unref(stream);                /* nor is the reference */
        fail(err, errlen, what, e);
        return -1;
    }
    fix_node((IsoNode *)file, 0444);
    return 0;
}

/* The write options of every seed. NULL with err on failure. */
static IsoWriteOpts *write_opts(char *err, size_t errlen)
{
    static char pvd_time[] = SEED_PVD_TIME;
    IsoWriteOpts *o = NULL;
    int e = iso_write_opts_new(&o, 0);
    if (e < 0) {
        fail(err, errlen, "set up the seed image's options", e);
        return NULL;
    }
    if ((e = iso_write_opts_set_iso_level(o, 2)) < 0 ||
        (e = iso_write_opts_set_rockridge(o, 1)) < 0 ||
        (e = iso_write_opts_set_joliet(o, 1)) < 0 ||
        (e = iso_write_opts_set_relaxed_vol_atts(o, 1)) < 0 ||
        (e = iso_write_opts_set_always_gmt(o, 1)) < 0 ||
        (e = iso_write_opts_set_replace_mode(o, 2, 2, 2, 2)) < 0 ||
        (e = iso_write_opts_set_default_dir_mode(o, 0555)) < 0 ||
        (e = iso_write_opts_set_default_file_mode(o, 0444)) < 0 ||
        (e = iso_write_opts_set_default_uid(o, 0)) < 0 ||
        (e = iso_write_opts_set_default_gid(o, 0)) < 0 ||
        (e = iso_write_opts_set_replace_timestamps(o, 2)) < 0 ||
        (e = iso_write_opts_set_default_timestamp(o, 0)) < 0 ||
        (e = iso_write_opts_set_pvd_times(o, 0, 0, 0, 0, pvd_time)) < 0 ||
        (e = iso_write_opts_set_fifo_size(o, SEED_FIFO_BLOCKS)) < 0) {
        iso_write_opts_free(o);
        fail(err, errlen, "set up the seed image's options", e);
        return NULL;
    }
    return o;
}

/* Start the writer thread with every signal blocked in it. */
static int start_writer(IsoImage *img, IsoWriteOpts *o, struct burn_source **bs)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = iso_image_create_burn_source(img, o, bs);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

static int build_locked(const struct seed_content *c, unsigned char **out, size_t *len,
                        char *err, size_t errlen)
{
    static const char what[] = "write the seed image";
    IsoImage *img = NULL;
    IsoWriteOpts *o = NULL;
    struct burn_source *bs = NULL;
    unsigned char *buf = NULL;
    size_t total = 0, got = 0;
    int done_reading = 0;
    int ret = -1;

    int e = iso_image_new(SEED_VOLUME_ID, &img);
    if (e < 0) {
        fail(err, errlen, "create the seed image", e);
        goto done;
    }
    fix_node((IsoNode *)iso_image_get_root(img), 0555);
    if (add_file(img, "user-data", c->user_data, err, errlen) < 0 ||
        add_file(img, "meta-data", c->meta_data, err, errlen) < 0 ||
        (c->network_config &&
         add_file(img, "network-config", c->network_config, err, errlen) < 0))
        goto done;
    if (!(o = write_opts(err, errlen)))
        goto done;
    e = start_writer(img, o, &bs);
    iso_write_opts_free(o);                  /* copied by the writer */
    if (e < 0) {
        bs = NULL;
        fail(err, errlen, what, e);
        goto done;
    }

    off_t size = bs->get_size(bs);
    if (size <= 0 || size % SEED_BLOCK || (uint64_t)size > SEED_MAX_CONTENT * 2) {
        snprintf(err, errlen, "cannot %s: libisofs announced %lld bytes", what,
                 (long long)size);
        goto done;
    }
    total = (size_t)size;
    buf = xmalloc(total);
    for (;;) {
        unsigned char extra[SEED_BLOCK];
        unsigned char *to = got < total ? buf + got : extra;
        int r = bs->read_xt(bs, to, SEED_BLOCK);
        if (r < 0) {
            fail(err, errlen, what, ISO_BUF_READ_ERROR);
            goto done;
        }
        if (r == 0)
            break;
        if (r != SEED_BLOCK || got == total) {
            snprintf(err, errlen, "cannot %s: libisofs's output does not match "
                     "the %zu bytes it announced", what, total);
            goto done;
        }
        got += SEED_BLOCK;
    }
    done_reading = 1;
    if (got != total) {
        fail(err, errlen, what, ISO_WRITE_ERROR);
        goto done;
    }
    /* 2 "ending" or 6 "ended": the input ended without error */
    int st = iso_ring_buffer_get_status(bs, NULL, NULL);
    if (st != 2 && st != 6) {
        fail(err, errlen, what, st < 0 ? st : (int)ISO_WRITE_ERROR);
        goto done;
    }
    *out = buf;
    *len = total;
    buf = NULL;
    ret = 0;
done:
    if (bs) {
        if (!done_reading)
            bs->cancel(bs);                  /* ends and joins the writer */
        bs->free_data(bs);
        free(bs);
    }
    free(buf);
    if (img)
        iso_image_unref(img);
    return ret;
}

int seed_build(const struct seed_content *c, unsigned char **out, size_t *len,
               char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!c || !c->user_data || !c->meta_data) {
        snprintf(err, errlen, "seed has no %s",
                 !c || !c->user_data ? "user-data" : "meta-data");
        return -1;
    }
    size_t n = strlen(c->user_data) + strlen(c->meta_data) +
               (c->network_config ? strlen(c->network_config) : 0);
    if (n > SEED_MAX_CONTENT) {
        snprintf(err, errlen, "seed content too large: %zu bytes, at most %zu MiB",
                 n, SEED_MAX_CONTENT >> 20);
        return -1;
    }
    pthread_once(&iso_once, iso_setup);
    if (iso_ready <= 0) {
        snprintf(err, errlen, "cannot initialise libisofs: %s", iso_error_to_msg(iso_ready));
        return -1;
    }
    pthread_mutex_lock(&iso_lock);
    drain();
    int ret = build_locked(c, out, len, err, errlen);
    drain();
    pthread_mutex_unlock(&iso_lock);
    return ret;
}

void seed_digest(const struct seed_content *c, char out[65])
{
    static const char magic[] = "qkvm-seed-v1";  /* hashed with its NUL */
    const char *parts[3] = { c->user_data, c->meta_data, c->network_config };
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, magic, sizeof(magic)) == 1;
    for (size_t i = 0; ok && i < 3; i++) {
        unsigned char head[9] = { parts[i] != NULL };
        uint64_t n = parts[i] ? strlen(parts[i]) : 0;
        for (size_t k = 0; k < 8; k++)
            head[1 + k] = (unsigned char)(n >> (56 - 8 * k));
        ok = EVP_DigestUpdate(ctx, head, parts[i] ? sizeof(head) : 1) == 1 &&
             (!parts[i] || EVP_DigestUpdate(ctx, parts[i], (size_t)n) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        /* as for a failed allocation: OpenSSL without SHA-256 or memory */
        fprintf(stderr, "qkvm: cannot compute a SHA-256 digest with OpenSSL\n");
        abort();
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
