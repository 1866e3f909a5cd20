/* apply.c — execute a plan against one libvirt host. See apply.h. */
#include "apply.h"
#include "apply_int.h"

#include "arena.h"
#include "encode.h"
#include "fetch.h"
#include "observe.h"
#include "owned.h"
#include "jsondoc.h"
#include "plan.h"
#include "schema.h"
#include "seed.h"
#include "store.h"
#include "tree.h"
#include "virt.h"
#include "virtxml.h"
#include "yamldoc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

void apply_spec_hash(const struct model_object *o, char *out)
{
    struct arena *a = arena_new();
    struct tree *t = encode_object(a, o);
    struct tree *spec = tree_get(t, "spec");
    char *buf = NULL;
    size_t len = 0;
    uint64_t h = 1469598103934665603ull;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        if (spec)
            yamldoc_emit(f, &spec, 1);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
    }
    free(buf);
    arena_free(a);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}


/* The mark of a domain or network this project defines: it names the
 * object's UUID (chosen before libvirt defines a new one), so a copy that
 * keeps the mark is never taken for it. */
static void mark_of(const struct run *r, const struct model_object *o, const char *uuid,
                    char *hash, struct virtxml_mark *m)
{
    apply_spec_hash(o, hash);
    const char *seed = NULL;
    if (o->kind == MODEL_VM && ((const struct model_vm *)o)->spec.cloud_init.hdr.set)
        seed = ((const struct model_vm *)o)->spec.cloud_init.digest;
    *m = (struct virtxml_mark){ o->kind_name, o->meta.name, hash, o->file ? o->file : "",
                                r->o->commit ? r->o->commit : "", r->p->project, uuid,
                                o->meta.labels, seed, NULL };
    if (o->kind == MODEL_VM && r->o->placement)
        m->placement = r->o->placement(r->o->placement_payload, o->meta.name);
}

/* Labels as an ownership record keeps them: "k=v" lines. */
static char *labels_text(const struct model_labels *l)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s%s=%s", i ? "\n" : "", l->v[i].key, l->v[i].value);
    fclose(f);
    return buf;
}

/* Ownership is recorded before libvirt creates the object (a pool's UUID
 * is chosen here for that), so a crash between the two never leaves an
 * object of ours unrecorded; a record whose object was never created is
 * harmless (nothing of that UUID or name exists to be pruned) and is
 * replaced when the object is created. A failed create removes it. */
static int record_digest(struct run *r, const char *pool_uuid, const char *volume,
                         const char *name, bool protect, const struct model_labels *labels,
                         const char *ident, const char *digest)
{
    char *lt = labels_text(labels);
    struct store_owned so = { pool_uuid, volume, name, protect, r->p->project, ident, lt,
                              NULL, digest };
    apply_lock_store(r);
    int rc = store_owned_put(r->st, &so, r->p->uri, r->o->run, r->err, sizeof(r->err));
    apply_unlock_store(r);
    free(lt);
    return rc;
}

static int record(struct run *r, const char *pool_uuid, const char *volume, const char *name,
                  bool protect, const struct model_labels *labels, const char *ident)
{
    char *lt = labels_text(labels);
    struct store_owned so = { pool_uuid, volume, name, protect, r->p->project, ident, lt,
                              NULL, NULL };
    apply_lock_store(r);
    int rc = store_owned_put(r->st, &so, r->p->uri, r->o->run, r->err, sizeof(r->err));
    apply_unlock_store(r);
    free(lt);
    return rc;
}

/* After creating a volume: record what identifies its file (inode and
 * birth time, on a local host), so one deleted and re-created by hand
 * under the same name is not taken for it. */
static int record_ident(struct run *r, const char *pool_uuid, const struct model_disk *want)
{
    if (!r->obs->local)
        return 0;
    char path[4096], hp[4096], ident[96];
    if (virt_volume_path(r->v, want->spec.pool, want->obj.meta.name, path, sizeof(path)) < 0)
        return 0;                   /* unknown: ownership stays pool UUID + name */
    const char *here = observe_host_path(r->obs, path, hp, sizeof(hp));
    owned_file_mark(here, r->p->project);
    owned_file_ident(here, ident, sizeof(ident));
    if (!*ident)
        return 0;
    return record(r, pool_uuid, want->obj.meta.name, want->obj.meta.name, want->spec.protect,
                  &want->obj.meta.labels, ident);
}

static void unrecord(struct run *r, const char *pool_uuid, const char *volume)
{
    char err[256];
    apply_lock_store(r);
    store_owned_delete(r->st, pool_uuid, volume, err, sizeof(err));
    apply_unlock_store(r);
}

static int pool_uuid(struct run *r, const char *pool, char *uuid, size_t size)
{
    if (virt_pool_uuid(r->v, pool, uuid, size) < 0) {
        snprintf(r->err, sizeof(r->err), "pool %s: its UUID cannot be read", pool);
        return -1;
    }
    return 0;
}

static void new_uuid(char *out)
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        FILE *f = fopen("/dev/urandom", "re");
        if (!f || fread(b, 1, sizeof(b), f) != sizeof(b))
            abort();
        fclose(f);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/* ---- pools ---- */

static int do_pool(struct run *r, const struct plan_action *a)
{
    const struct model_pool *want = (const struct model_pool *)a->want;
    const struct obs_pool *op = observe_pool(r->obs, a->name);
    char *err = r->err;
    size_t el = sizeof(r->err);
    char hp[4096];
    switch (a->verb) {
    case PLAN_CREATE: {
        char uuid[37];
        new_uuid(uuid);
        if (record(r, uuid, NULL, a->name, false, &want->obj.meta.labels, NULL) < 0)
            return -1;
        char *xml = virtxml_pool_encode(want, uuid);
        int rc = virt_pool_define(r->v, xml, err, el);
        free(xml);
        if (rc < 0) {
            unrecord(r, uuid, NULL);
            return -1;
        }
        if (virt_pool_start(r->v, a->name, err, el) < 0)
            return -1;
        if (r->obs->local)
            owned_file_mark(observe_host_path(r->obs, want->spec.path, hp, sizeof(hp)),
                            r->p->project);
        return 0;
    }
    case PLAN_START:
        return virt_pool_start(r->v, a->name, err, el);
    case PLAN_ADOPT: {
        char uuid[64];
        if (pool_uuid(r, a->name, uuid, sizeof(uuid)) < 0 ||
            record(r, uuid, NULL, a->name, false, &want->obj.meta.labels, NULL) < 0)
            return -1;
        if (r->obs->local && want->spec.path)
            owned_file_mark(observe_host_path(r->obs, want->spec.path, hp, sizeof(hp)),
                            r->p->project);
        return 0;
    }
    case PLAN_DELETE:
        if (virt_pool_remove(r->v, a->name, err, el) < 0)
            return -1;
        if (r->obs->local && op && op->pool && op->pool->spec.path)
            /* the directory stays, unowned */
            owned_file_unmark(observe_host_path(r->obs, op->pool->spec.path, hp, sizeof(hp)));
        if (op && op->uuid) {
            apply_lock_store(r);
            int rc = store_owned_delete(r->st, op->uuid, NULL, err, el);
            apply_unlock_store(r);
            return rc;
        }
        return 0;
    default:
        snprintf(err, el, "no such action on a pool");
        return -1;
    }
}

/* ---- networks ---- */

/* uuid: the existing network's, or NULL for a new one. */
static int network_define(struct run *r, const struct model_network *want, const char *uuid)
{
    struct arena *a = arena_new();
    struct virtxml_dhcp_host *hosts;
    size_t nh = plan_dhcp_hosts(a, r->want, want->obj.meta.name, &hosts);
    char hash[17], fresh[37];
    if (!uuid) {
        new_uuid(fresh);
        uuid = fresh;
    }
    struct virtxml_mark m;
    mark_of(r, &want->obj, uuid, hash, &m);
    char *xml = virtxml_network_encode(want, hosts, nh, &m);
    int rc = virt_network_define(r->v, xml, r->err, sizeof(r->err));
    free(xml);
    arena_free(a);
    return rc;
}

static int network_up(struct run *r, const struct model_network *want)
{
    if (virt_network_start(r->v, want->obj.meta.name, r->err, sizeof(r->err)) < 0)
        return -1;
    return virt_network_autostart(r->v, want->obj.meta.name, want->spec.autostart, r->err,
                                  sizeof(r->err));
}

static int network_update(struct run *r, const struct plan_action *a)
{
    const struct model_network *want = (const struct model_network *)a->want;
    for (size_t i = 0; i < a->nchanges; i++) {
        const struct diff_change *ch = &a->changes[i];
        if (strcmp(ch->field, "spec.autostart") == 0) {
            if (virt_network_autostart(r->v, a->name, want->spec.autostart, r->err,
                                       sizeof(r->err)) < 0)
                return -1;
            continue;
        }
        const char *pre = "spec.dhcp.hosts[";
        if (strncmp(ch->field, pre, strlen(pre)) != 0)
            continue;
        char mac[32];
        snprintf(mac, sizeof(mac), "%.*s", (int)strcspn(ch->field + strlen(pre), "]"),
                 ch->field + strlen(pre));
        if (ch->from) {
            struct virtxml_dhcp_host h = { mac, ch->from, NULL };
            char *x = virtxml_dhcp_host_encode(&h);
            int rc = virt_network_dhcp_host(r->v, a->name, x, false, r->err, sizeof(r->err));
            free(x);
            if (rc < 0)
                return -1;
        }
        if (ch->to) {
            struct arena *ar = arena_new();
            struct virtxml_dhcp_host *hosts, h = { mac, ch->to, NULL };
            size_t nh = plan_dhcp_hosts(ar, r->want, a->name, &hosts);
            for (size_t j = 0; j < nh; j++)
                if (strcasecmp(hosts[j].mac, mac) == 0)
                    h.name = hosts[j].name;
            char *x = virtxml_dhcp_host_encode(&h);
            int rc = virt_network_dhcp_host(r->v, a->name, x, true, r->err, sizeof(r->err));
            free(x);
            arena_free(ar);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

static int do_network(struct run *r, const struct plan_action *a)
{
    const struct model_network *want = (const struct model_network *)a->want;
    const struct obs_network *on = observe_network(r->obs, a->name);
    switch (a->verb) {
    case PLAN_CREATE:
        if (network_define(r, want, NULL) < 0)
            return -1;
        return network_up(r, want);
    case PLAN_UPDATE:
        return network_update(r, a);
    case PLAN_REPLACE:
        if (virt_network_remove(r->v, a->name, r->err, sizeof(r->err)) < 0 ||
            network_define(r, want, on ? on->uuid : NULL) < 0)
            return -1;
        return network_up(r, want);
    case PLAN_ADOPT:
        return network_define(r, want, on ? on->uuid : NULL);
    case PLAN_START:
        return virt_network_start(r->v, a->name, r->err, sizeof(r->err));
    case PLAN_DELETE:
        return virt_network_remove(r->v, a->name, r->err, sizeof(r->err));
    default:
        snprintf(r->err, sizeof(r->err), "no such action on a network");
        return -1;
    }
}

/* ---- images ---- */

/* A download's warning (a credentials file others can read) goes to
 * stderr whatever -q or -o say, as every warning does. */
static void fetch_warning(void *ctx, const char *msg)
{
    struct run *r = ctx;
    if (r->o->tty && r->o->log)
        fputs("\r\033[K", r->o->log);     /* over a progress line */
    fprintf(stderr, "qkvm: warning: %s\n", msg);
}

struct file_src {
    int fd;
    struct run *r;
    const char *what;
    uint64_t shown;
};

static ssize_t file_read(void *payload, char *buf, size_t n)
{
    struct file_src *f = payload;
    ssize_t got;
    do
        got = read(f->fd, buf, n);
    while (got < 0 && errno == EINTR);
    return got;
}

/* The upload's progress, on a terminal only: rewritten in place. */
static void file_progress(void *payload, uint64_t done, uint64_t total)
{
    struct file_src *f = payload;
    if (!f->r->o->tty || !f->r->o->log || !total)
        return;
    unsigned pct = (unsigned)(done * 100 / total);
    if (pct == f->shown && done != total)
        return;
    f->shown = pct;
    fprintf(f->r->o->log, "\r  uploading %s: %3u%% of %.1f MiB", f->what, pct,
            (double)total / 1048576.0);
    if (done == total)
        fprintf(f->r->o->log, "\r\033[K");
    fflush(f->r->o->log);
}

/* Create volume `vol` of `bytes` in `pool` and fill it from `fd`; a
 * failure deletes what was created (and says so when even that fails). */
static int upload_volume(struct run *r, const char *pool, const char *vol, const char *format,
                         int fd, uint64_t bytes, const char *what)
{
    char *xml = virtxml_volume_encode_plain(vol, bytes, format);
    int rc = virt_volume_create(r->v, pool, xml, r->err, sizeof(r->err));
    free(xml);
    if (rc < 0)
        return -1;
    struct file_src f = { fd, r, what, 101 };
    if (virt_volume_upload(r->v, pool, vol, bytes, file_read, file_progress, &f, r->err,
                           sizeof(r->err)) < 0) {
        char e2[256];
        if (virt_volume_delete(r->v, pool, vol, e2, sizeof(e2)) < 0) {
            size_t n = strlen(r->err);
            snprintf(r->err + n, sizeof(r->err) - n,
                     "; the partial volume %s could not be deleted either (%s): it stays "
                     "recorded as incomplete and the next apply replaces it", vol, e2);
        }
        return -1;
    }
    return 0;
}

/* A volume qkvm filled (an Image's, a seed): recorded with its digest, and
 * on a local host with what identifies its file and the project's mark on
 * it, so one replaced by hand is never taken for it. The digest "-" marks
 * a volume whose upload has not finished: recorded before it starts, so a
 * run killed in the middle leaves a volume known to be incomplete, which
 * the next apply deletes and uploads again. */
static int record_volume(struct run *r, const char *pool, const char *uuid, const char *vol,
                         const struct model_labels *labels, const char *digest)
{
    char path[4096], hp[4096], ident[96] = "";
    if (strcmp(digest, DIGEST_INCOMPLETE) != 0 && r->obs->local &&
        virt_volume_path(r->v, pool, vol, path, sizeof(path)) == 0) {
        const char *here = observe_host_path(r->obs, path, hp, sizeof(hp));
        owned_file_mark(here, r->p->project);
        owned_file_ident(here, ident, sizeof(ident));
    }
    return record_digest(r, uuid, vol, vol, false, labels, *ident ? ident : NULL, digest);
}

/* After an image's upload: the pool refreshed (so libvirt reads the file's
 * format and virtual size), and an image that is itself an overlay of some
 * other file refused: an image must be self-contained, or a VM made from
 * it would read whatever file its header names. */
static int image_check(struct run *r, const struct model_image *want, const char *pool,
                       const char *vol)
{
    *r->err = '\0';
    if (virt_pool_refresh(r->v, pool, r->err, sizeof(r->err)) < 0)
        return -1;
    char *xml = virt_volume_xml(r->v, pool, vol, r->err, sizeof(r->err));
    if (!xml)
        return -1;
    struct arena *a = arena_new();
    struct virtxml_volume vx;
    int rc = virtxml_volume_decode(a, xml, &vx, r->err, sizeof(r->err));
    free(xml);
    if (rc == 0 && vx.backing) {
        snprintf(r->err, sizeof(r->err),
                 "image %s is a qcow2 overlay of %.600s: refused (an image must be "
                 "self-contained); its volume was deleted", want->obj.meta.name, vx.backing);
        rc = -1;
    }
    arena_free(a);
    return rc;
}

static int do_image(struct run *r, const struct plan_action *a)
{
    const struct model_image *want = (const struct model_image *)a->want;
    char vol[160], uuid[64];
    model_image_volume(want, vol, sizeof(vol));
    if (a->verb == PLAN_ADOPT)
        return pool_uuid(r, a->pool, uuid, sizeof(uuid)) < 0
                   ? -1
                   : record_volume(r, a->pool, uuid, vol, &want->obj.meta.labels,
                                   want->spec.sha256);
    if (a->verb != PLAN_CREATE && a->verb != PLAN_REPLACE) {
        snprintf(r->err, sizeof(r->err), "no such action on an image");
        return -1;
    }
    struct fetch_source src = { want->obj.meta.name, want->spec.url, want->spec.sha256,
                                want->spec.s3.endpoint, want->spec.s3.region,
                                want->spec.s3.credentials_file };
    char cache[4096];
    struct fetch_opts fo = { r->o->cache_dir ? r->o->cache_dir
                                             : fetch_default_cache_dir(cache, sizeof(cache)),
                             0, 0, 3, r->o->tty && r->o->log, fetch_warning, r };
    struct fetch_result fr;
    if (fetch_image(&src, &fo, &fr, r->err, sizeof(r->err)) < 0)
        return -1;
    int fd = open(fr.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(r->err, sizeof(r->err), "image %s: cannot open the cached file %.600s: %s",
                 want->obj.meta.name, fr.path, strerror(errno));
        return -1;
    }
    int rc = -1;
    if (pool_uuid(r, a->pool, uuid, sizeof(uuid)) == 0 &&
        record_volume(r, a->pool, uuid, vol, &want->obj.meta.labels, DIGEST_INCOMPLETE) == 0 &&
        /* an incomplete upload of an earlier run goes first */
        (a->verb != PLAN_REPLACE ||
         virt_volume_delete(r->v, a->pool, vol, r->err, sizeof(r->err)) == 0)) {
        rc = upload_volume(r, a->pool, vol, "raw", fd, fr.size, vol);
        if (rc == 0 && image_check(r, want, a->pool, vol) < 0) {
            char e2[256];
            virt_volume_delete(r->v, a->pool, vol, e2, sizeof(e2));
            rc = -1;
        }
        if (rc < 0) {
            char e2[256];
            if (virt_volume_path(r->v, a->pool, vol, e2, sizeof(e2)) < 0)
                unrecord(r, uuid, vol);       /* nothing left: no record either */
        } else {
            rc = record_volume(r, a->pool, uuid, vol, &want->obj.meta.labels,
                               want->spec.sha256);
        }
    }
    close(fd);
    return rc;
}

/* The image volume a disk is made from: its file (the backing file) and
 * the overlay's size (the disk's, or the image's when it gives none; never
 * smaller than the image). */
static int image_backing(struct run *r, const struct model_disk *want,
                         const struct model_image **im, char *path, size_t size,
                         uint64_t *bytes)
{
    *im = (const struct model_image *)model_find(r->want, MODEL_IMAGE, want->spec.from.image);
    if (!*im) {
        snprintf(r->err, sizeof(r->err), "Image %s is not declared", want->spec.from.image);
        return -1;
    }
    char vol[160];
    uint64_t cap;
    model_image_volume(*im, vol, sizeof(vol));
    if (virt_volume_path(r->v, (*im)->spec.pool, vol, path, size) < 0 ||
        virt_volume_capacity(r->v, (*im)->spec.pool, vol, &cap, r->err, sizeof(r->err)) < 0) {
        snprintf(r->err, sizeof(r->err), "image %s: its volume %s is not in pool %s",
                 (*im)->obj.meta.name, vol, (*im)->spec.pool);
        return -1;
    }
    if (want->spec.size && want->spec.size < cap) {
        snprintf(r->err, sizeof(r->err),
                 "size %llu bytes is smaller than image %s (%llu bytes): an overlay cannot "
                 "be smaller than its image", (unsigned long long)want->spec.size,
                 (*im)->obj.meta.name, (unsigned long long)cap);
        return -1;
    }
    *bytes = want->spec.size ? want->spec.size : cap;
    return 0;
}

/* ---- cloud-init seeds ---- */

/* The VM's seed volume holds its cloudInit: written when missing or when
 * its recorded digest is not the declared one (an incomplete write
 * included). plan.c has made sure an existing one is this project's. */
static int seed_ensure(struct run *r, const struct model_vm *want)
{
    const struct vm_cloud_init *ci = &want->spec.cloud_init;
    const char *pool = model_seed_pool(r->want, want);
    if (!ci->hdr.set || !pool)
        return 0;
    char vol[160], uuid[64];
    model_seed_volume(want->obj.meta.name, vol, sizeof(vol));
    const struct obs_pool *op = observe_pool(r->obs, pool);
    const struct obs_volume *ov = op ? observe_volume(op, vol) : NULL;
    if (ov && ov->rec && ov->rec->digest && strcmp(ov->rec->digest, ci->digest) == 0)
        return 0;
    if (ov && (!ov->rec || strcmp(ov->rec->project, r->p->project) != 0 || ov->replaced ||
               ov->unverified)) {
        snprintf(r->err, sizeof(r->err),
                 "the seed volume %s in pool %s is not this project's (or its file is not "
                 "the one qkvm wrote): left alone; remove it, or rename the VM", vol, pool);
        return -1;
    }
    struct seed_content sc = { ci->user_data ? ci->user_data : "", ci->meta_text,
                               ci->network_text };
    unsigned char *iso;
    size_t len;
    if (seed_build(&sc, &iso, &len, r->err, sizeof(r->err)) < 0)
        return -1;
    int fd = memfd_create("qkvm-seed", MFD_CLOEXEC);
    int rc = -1;
    ssize_t wrote = fd < 0 ? -1 : write(fd, iso, len);
    if (fd < 0 || wrote < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        snprintf(r->err, sizeof(r->err), "cannot stage the seed: %s", strerror(errno));
    } else if ((size_t)wrote != len) {
        snprintf(r->err, sizeof(r->err), "cannot stage the seed: %zd of %zu bytes written",
                 wrote, len);
    } else if (pool_uuid(r, pool, uuid, sizeof(uuid)) == 0 &&
               record_volume(r, pool, uuid, vol, &want->obj.meta.labels,
                             DIGEST_INCOMPLETE) == 0) {
        /* an existing seed of ours is replaced: its size may change */
        if (ov && virt_volume_delete(r->v, pool, vol, r->err, sizeof(r->err)) < 0)
            rc = -1;
        else
            rc = upload_volume(r, pool, vol, "raw", fd, len, vol);
        if (rc == 0)
            rc = record_volume(r, pool, uuid, vol, &want->obj.meta.labels, ci->digest);
        else if (!ov)
            unrecord(r, uuid, vol);
    }
    if (fd >= 0)
        close(fd);
    free(iso);
    return rc;
}

/* ---- disks ---- */

static int do_disk(struct run *r, const struct plan_action *a)
{
    const struct model_disk *want = (const struct model_disk *)a->want;
    char *err = r->err;
    size_t el = sizeof(r->err);
    switch (a->verb) {
    case PLAN_CREATE: {
        char uuid[64], backing[4096];
        const struct model_image *im = NULL;
        struct model_disk sized = *want;
        if (want->spec.from.hdr.set &&
            image_backing(r, want, &im, backing, sizeof(backing), &sized.spec.size) < 0)
            return -1;
        if (pool_uuid(r, a->pool, uuid, sizeof(uuid)) < 0 ||
            record(r, uuid, a->name, a->name, want->spec.protect, &want->obj.meta.labels,
                   NULL) < 0)
            return -1;
        char *xml = virtxml_volume_encode(&sized, im ? backing : NULL,
                                          im && im->spec.format == DISK_FORMAT_RAW ? "raw"
                                                                                   : "qcow2");
        int rc = virt_volume_create(r->v, a->pool, xml, err, el);
        free(xml);
        if (rc < 0) {
            unrecord(r, uuid, a->name);
            return rc;
        }
        return record_ident(r, uuid, want);
    }
    case PLAN_ADOPT: {
        char uuid[64];
        if (pool_uuid(r, a->pool, uuid, sizeof(uuid)) < 0 ||
            record(r, uuid, a->name, a->name, want->spec.protect, &want->obj.meta.labels,
                   NULL) < 0)
            return -1;
        return record_ident(r, uuid, want);
    }
    case PLAN_UPDATE: {
        const struct obs_pool *op = observe_pool(r->obs, a->pool);
        const struct obs_volume *ov = op ? observe_volume(op, a->name) : NULL;
        size_t disk;
        const struct obs_domain *d = ov ? observe_volume_user(r->obs, op, ov, true, &disk) : NULL;
        if (d && d->src[disk].target)
            return virt_domain_block_resize(r->v, d->name, d->src[disk].target,
                                            want->spec.size, err, el);
        return virt_volume_resize(r->v, a->pool, a->name, want->spec.size, err, el);
    }
    case PLAN_DELETE: {
        const struct obs_pool *op = observe_pool(r->obs, a->pool);
        if (virt_volume_delete(r->v, a->pool, a->name, err, el) < 0)
            return -1;
        if (op && op->uuid) {
            apply_lock_store(r);
            int rc = store_owned_delete(r->st, op->uuid, a->name, err, el);
            apply_unlock_store(r);
            return rc;
        }
        return 0;
    }
    default:
        snprintf(err, el, "no such action on a disk");
        return -1;
    }
}

/* ---- VMs ---- */

/* uuid: the existing domain's, or NULL for a new one. */
static int vm_define(struct run *r, const struct model_vm *want, const char *uuid)
{
    char hash[17], fresh[37];
    if (!uuid) {
        new_uuid(fresh);
        uuid = fresh;
    }
    struct virtxml_mark m;
    mark_of(r, &want->obj, uuid, hash, &m);
    char *xml = virtxml_domain_encode(r->want, want, uuid, &m);
    int rc = virt_domain_define(r->v, xml, r->err, sizeof(r->err));
    free(xml);
    return rc;
}

/* A running domain runs its live definition, which defining the domain
 * does not touch: an adopted one gets its mark there too, or the next
 * plan, reading what runs, would not find it. */
static int vm_mark_live(struct run *r, const struct model_vm *want, const char *uuid)
{
    char hash[17];
    struct virtxml_mark m;
    mark_of(r, &want->obj, uuid, hash, &m);
    /* the seed the guest booted with, not the one it will boot with next */
    const struct obs_domain *od = observe_domain(r->obs, want->obj.meta.name);
    m.seed = od ? od->mark.seed : NULL;
    char *xml = virtxml_mark_encode(&m);
    int rc = virt_domain_set_live_metadata(r->v, want->obj.meta.name, xml, VIRTXML_NS_PREFIX,
                                           VIRTXML_NS, r->err, sizeof(r->err));
    free(xml);
    return rc;
}

static const char *key_of(const char *field, const char *prefix, char *buf, size_t size)
{
    size_t n = strlen(prefix);
    if (strncmp(field, prefix, n) != 0)
        return NULL;
    const char *k = field + n;
    size_t len = strcspn(k, "]");
    if (k[len] != ']' || k[len + 1] != '\0')
        return NULL;                 /* a sub-field, not the entry itself */
    snprintf(buf, size, "%.*s", (int)len, k);
    return buf;
}

/* The first target name of `bus` the running domain does not use. */
static void free_target(const struct obs_domain *d, enum vm_bus bus, char *buf, size_t size)
{
    for (size_t i = 0;; i++) {
        virtxml_target_name(bus, i, buf, size);
        /* the seed's cdrom takes a name on its bus too */
        bool used = d->seed_target && strcmp(d->seed_target, buf) == 0;
        for (size_t j = 0; j < d->vm->spec.disks.n && !used; j++)
            used = d->src[j].target && strcmp(d->src[j].target, buf) == 0;
        if (!used)
            return;
    }
}

static int vm_live(struct run *r, const struct model_vm *want, const struct obs_domain *od,
                   const struct diff_change *ch)
{
    char *err = r->err, key[256];
    size_t el = sizeof(r->err);
    const char *name = want->obj.meta.name;
    if (strcmp(ch->field, "spec.memory") == 0)
        return virt_domain_set_memory(r->v, name, want->spec.memory, err, el);
    if (strcmp(ch->field, "spec.cpus") == 0)
        return virt_domain_set_vcpus(r->v, name, (unsigned)want->spec.cpus, err, el);
    if (key_of(ch->field, "spec.disks[", key, sizeof(key))) {
        if (ch->to) {
            for (size_t i = 0; i < want->spec.disks.n; i++) {
                const struct vm_disk *d = &want->spec.disks.v[i];
                if (strcmp(d->disk, key) != 0)
                    continue;
                char target[16];
                free_target(od, d->bus, target, sizeof(target));
                char *x = virtxml_disk_encode(r->want, d, target);
                int rc = virt_domain_attach(r->v, name, x, err, el);
                free(x);
                return rc;
            }
        } else {
            for (size_t i = 0; i < od->vm->spec.disks.n; i++) {
                const struct vm_disk *d = &od->vm->spec.disks.v[i];
                if (strcmp(d->disk, key) != 0)
                    continue;
                char *x = virtxml_disk_encode(r->want, d, od->src[i].target);
                apply_log(r, "vm/%s: unplugging disk %s: the guest must release it (libvirt "
                            "waits a few seconds)\n", name, key);
                int rc = virt_domain_detach(r->v, name, x, err, el);
                free(x);
                return rc;
            }
        }
        return 0;
    }
    if (key_of(ch->field, "spec.nics[", key, sizeof(key))) {
        const struct model_vm *from = ch->to ? want : od->vm;
        for (size_t i = 0; i < from->spec.nics.n; i++) {
            const struct vm_nic *n = &from->spec.nics.v[i];
            if (!n->mac || strcasecmp(n->mac, key) != 0)
                continue;
            char *x = virtxml_nic_encode(n);
            int rc = ch->to ? virt_domain_attach(r->v, name, x, err, el)
                            : virt_domain_detach(r->v, name, x, err, el);
            free(x);
            return rc;
        }
    }
    return 0;
}

/* Graceful stop (ACPI power button), destroyed after the timeout; a
 * guest that did not power off by itself is said. */
int apply_vm_stop(struct run *r, const char *name)
{
    bool forced = false;
    if (virt_domain_stop(r->v, name, r->o->shutdown_timeout_ms, &forced, r->err,
                         sizeof(r->err)) < 0)
        return -1;
    if (forced)
        apply_log(r, "vm/%s: did not power off within %d s of the ACPI power button: "
                    "destroyed\n", name, r->o->shutdown_timeout_ms / 1000);
    return 0;
}

static int do_vm(struct run *r, const struct plan_action *a)
{
    const struct model_vm *want = (const struct model_vm *)a->want;
    const struct obs_domain *od = observe_domain(r->obs, a->name);
    char *err = r->err;
    size_t el = sizeof(r->err);
    switch (a->verb) {
    case PLAN_CREATE:
        if (seed_ensure(r, want) < 0)
            return -1;
        return vm_define(r, want, NULL);
    case PLAN_START:
        if (want && want->spec.state == VM_STATE_PAUSED)
            return virt_domain_start_paused(r->v, a->name, err, el);
        return virt_domain_start(r->v, a->name, err, el);
    case PLAN_STOP:
        /* a paused guest cannot take the ACPI power button */
        if (od && od->paused && virt_domain_resume(r->v, a->name, err, el) < 0)
            return -1;
        return apply_vm_stop(r, a->name);
    case PLAN_RESTART:
        if (od && od->paused && virt_domain_resume(r->v, a->name, err, el) < 0)
            return -1;
        if (apply_vm_stop(r, a->name) < 0)
            return -1;
        if (want && want->spec.state == VM_STATE_PAUSED)
            return virt_domain_start_paused(r->v, a->name, err, el);
        return virt_domain_start(r->v, a->name, err, el);
    case PLAN_PAUSE:
        return virt_domain_suspend(r->v, a->name, err, el);
    case PLAN_RESUME:
        return virt_domain_resume(r->v, a->name, err, el);
    case PLAN_ADOPT:
        if (vm_define(r, want, od ? od->uuid : NULL) < 0)
            return -1;
        return od && od->active ? vm_mark_live(r, want, od->uuid) : 0;
    case PLAN_UPDATE:
        if (seed_ensure(r, want) < 0)
            return -1;
        if (od && od->active)
            for (size_t i = 0; i < a->nchanges; i++)
                if (a->changes[i].how == DIFF_LIVE && vm_live(r, want, od, &a->changes[i]) < 0)
                    return -1;
        return vm_define(r, want, od ? od->uuid : NULL);
    case PLAN_MIGRATE:
        return apply_move(r, a, od);
    case PLAN_DELETE:
        /* a paused guest cannot take the ACPI power button: resumed first */
        if (od && od->active && od->paused && virt_domain_resume(r->v, a->name, err, el) < 0)
            return -1;
        if (od && od->active && apply_vm_stop(r, a->name) < 0)
            return -1;
        return virt_domain_remove(r->v, a->name, err, el);
    default:
        snprintf(err, el, "no such action on a VM");
        return -1;
    }
}

/* ---- the journal ---- */

static struct tree *spec_of(struct arena *a, const struct model_object *o)
{
    return o ? tree_get(encode_object(a, o), "spec") : NULL;
}

/* The observed object a deletion removes. */
static const struct model_object *observed(const struct obs_host *obs, const struct plan_action *a)
{
    switch (a->kind) {
    case MODEL_VM: {
        const struct obs_domain *d = observe_domain(obs, a->name);
        return d ? &d->vm->obj : NULL;
    }
    case MODEL_NETWORK: {
        const struct obs_network *n = observe_network(obs, a->name);
        return n && n->net ? &n->net->obj : NULL;
    }
    case MODEL_POOL: {
        const struct obs_pool *p = observe_pool(obs, a->name);
        return p && p->pool ? &p->pool->obj : NULL;
    }
    case MODEL_DISK: {
        const struct obs_pool *p = a->pool ? observe_pool(obs, a->pool) : NULL;
        const struct obs_volume *v = p ? observe_volume(p, a->name) : NULL;
        return v && v->disk ? &v->disk->obj : NULL;
    }
    default:
        return NULL;
    }
}

static char *json_or_null(const struct tree *t)
{
    return t ? jsondoc_string(t) : NULL;
}

/* What an action changes, as two JSON documents: the object (or the
 * changed fields) before and after. */
static void sides(const struct obs_host *obs, const struct plan_action *a, char **before,
                  char **after)
{
    struct arena *ar = arena_new();
    struct tree *b = NULL, *f = NULL;
    switch (a->verb) {
    case PLAN_CREATE:
        f = spec_of(ar, a->want);
        break;
    case PLAN_DELETE:
        b = spec_of(ar, observed(obs, a));
        break;
    case PLAN_START:
    case PLAN_STOP:
    case PLAN_RESTART:
    case PLAN_PAUSE:
    case PLAN_RESUME: {
        static const char *const from[PLAN_VERB_COUNT] = {
            [PLAN_START] = "shut off", [PLAN_STOP] = "running", [PLAN_PAUSE] = "running",
            [PLAN_RESUME] = "paused", [PLAN_RESTART] = "running (changes pending)" };
        static const char *const to[PLAN_VERB_COUNT] = {
            [PLAN_START] = "running", [PLAN_STOP] = "shut off", [PLAN_PAUSE] = "paused",
            [PLAN_RESUME] = "running", [PLAN_RESTART] = "running (restarted)" };
        b = tree_new_map(ar);
        f = tree_new_map(ar);
        tree_map_str(ar, b, "state", from[a->verb]);
        tree_map_str(ar, f, "state", to[a->verb]);
        break;
    }
    case PLAN_ADOPT:
        b = tree_new_map(ar);
        f = tree_new_map(ar);
        tree_map_str(ar, b, "owner", "none");
        tree_map_str(ar, f, "owner", "qkvm");
        break;
    default:
        b = tree_new_map(ar);
        f = tree_new_map(ar);
        for (size_t i = 0; i < a->nchanges; i++) {
            const struct diff_change *c = &a->changes[i];
            tree_map_add(ar, b, c->field, c->from ? tree_new_str(ar, c->from) : tree_new_null(ar));
            tree_map_add(ar, f, c->field, c->to ? tree_new_str(ar, c->to) : tree_new_null(ar));
        }
    }
    *before = json_or_null(b);
    *after = json_or_null(f);
    arena_free(ar);
}

static const char *past(enum plan_verb v)
{
    static const char *const words[PLAN_VERB_COUNT] = {
        "created", "updated", "replaced", "deleted", "started", "stopped", "adopted",
        "restarted", "paused", "resumed", "migrated",
    };
    return words[v];
}

static const char *reason_of(enum plan_verb v)
{
    static const char *const words[PLAN_VERB_COUNT] = {
        "Created", "Updated", "Replaced", "Deleted", "Started", "Stopped", "Adopted",
        "Restarted", "Paused", "Resumed", "Migrated",
    };
    return words[v];
}

static enum store_status apply_journal_status(enum apply_status s)
{
    switch (s) {
    case APPLY_PENDING: return STORE_ACTION_PENDING;
    case APPLY_DONE: return STORE_ACTION_DONE;
    case APPLY_FAILED: return STORE_ACTION_FAILED;
    case APPLY_SKIPPED: return STORE_ACTION_SKIPPED;
    case APPLY_HELD: break;      /* never journalled */
    }
    return STORE_ACTION_FAILED;
}

const char *apply_status_name(enum apply_status s)
{
    if (s == APPLY_HELD)
        return "held";
    return store_status_name(apply_journal_status(s));
}

static int journal_begin(struct run *r, size_t i)
{
    const struct plan_action *a = &r->p->v[i];
    char *before, *after;
    sides(r->obs, a, &before, &after);
    struct store_action sa = { r->o->run, (long)(i + r->o->index_base), plan_kind_name(a->kind),
                               a->name,
                               plan_verb_name(a->verb), a->reason, before, after,
                               STORE_ACTION_PENDING, NULL, 0, 0 };
    apply_lock_store(r);
    int rc = store_action_begin(r->st, &sa, r->err, sizeof(r->err));
    apply_unlock_store(r);
    free(before);
    free(after);
    return rc;
}

/* The end of action i and its event, in one transaction. A failure is
 * said at once (the action itself is over) and left in r->err. */
static int journal_end(struct run *r, size_t i, enum apply_status status, const char *error)
{
    enum store_status journal = apply_journal_status(status);
    const struct plan_action *a = &r->p->v[i];
    char *err = r->err, msg[1024];
    if (status == APPLY_DONE)
        snprintf(msg, sizeof(msg), "%s%s", past(a->verb),
                 a->restart_required ? " (restart required for some changes)" : "");
    else
        snprintf(msg, sizeof(msg), "%s %s: %s", plan_verb_name(a->verb),
                 status == APPLY_FAILED ? "failed" : "skipped", error ? error : "");
    struct store_event e = { 0, r->o->run, status == APPLY_DONE ? "Normal" : "Warning",
                             status == APPLY_DONE ? reason_of(a->verb)
                             : status == APPLY_FAILED ? "Failed" : "Skipped",
                             schema_kinds[a->kind].name, a->name, r->p->uri, msg };
    size_t errlen = sizeof(r->err);
    apply_lock_store(r);
    bool bad = store_begin(r->st, err, errlen) < 0 ||
               store_action_end(r->st, r->o->run, (long)(i + r->o->index_base), journal, error,
                                err, errlen) < 0 ||
               store_event(r->st, &e, err, errlen) < 0 || store_commit(r->st, err, errlen) < 0;
    if (bad)
        store_rollback(r->st);
    apply_unlock_store(r);
    if (bad) {
        char m[sizeof(r->err) + 300];
        snprintf(m, sizeof(m), "%s/%s: %s, but the journal cannot record it: %s",
                 plan_kind_name(a->kind), a->name, apply_status_name(status), err);
        m[sizeof(r->err) - 1] = '\0';       /* cut to fit: a message, not data */
        memcpy(r->err, m, sizeof(r->err));
        return -1;
    }
    return 0;
}

/* SIGINT or SIGTERM during an apply: the action under way finishes (a
 * stop's wait for its guest ends at once), nothing more is started, and
 * the caller says what was done. A second one kills as usual. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

void apply_catch_signals(bool on)
{
    static struct sigaction old_int, old_term;
    if (on) {
        struct sigaction sa = { .sa_handler = on_signal,
                                .sa_flags = SA_RESTART | SA_RESETHAND };
        sigemptyset(&sa.sa_mask);
        interrupted = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    } else {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
}

/* The wait of a graceful stop: a countdown on a terminal (rewritten in
 * place), one line otherwise; an interruption ends it. */
static bool stop_wait(void *payload, const char *name, int remaining_ms)
{
    const struct run *r = payload;
    FILE *log = r->o->log;
    if (interrupted)
        return false;
    if (log && r->o->tty) {
        flockfile(log);
        fprintf(log, "\r\033[K%s%svm/%s: waiting for the guest to shut down: %ds left, then "
                     "it is destroyed", r->o->node ? r->o->node : "", r->o->node ? ": " : "",
                name, (remaining_ms + 999) / 1000);
        fflush(log);
        funlockfile(log);
    } else if (log && remaining_ms == r->o->shutdown_timeout_ms) {
        apply_log(r, "vm/%s: waiting up to %ds for the guest to shut down, then destroying it\n",
                  name, (remaining_ms + 999) / 1000);
    }
    return true;
}

/* One line per action, on its way out before the next action starts,
 * whatever stdout is (a pipe to a log, a file): what was done survives the
 * process being killed. */
void apply_log(const struct run *r, const char *fmt, ...)
{
    FILE *log = r->o->log;
    if (!log)
        return;
    flockfile(log);              /* one whole line among several nodes' */
    if (r->o->tty)
        fputs("\r\033[K", log);     /* over a countdown */
    if (r->o->node)
        fprintf(log, "%s: ", r->o->node);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fflush(log);
    funlockfile(log);
}

/* ---- running the actions: in order, or several at once ---- */

static int run_action(struct run *r, const struct plan_action *a)
{
    switch (a->kind) {
    case MODEL_POOL: return do_pool(r, a);
    case MODEL_NETWORK: return do_network(r, a);
    case MODEL_DISK: return do_disk(r, a);
    case MODEL_IMAGE: return do_image(r, a);
    case MODEL_VM: return do_vm(r, a);
    default:
        snprintf(r->err, sizeof(r->err), "not reconciled by this version");
        return -1;
    }
}

/* One action under way in a worker thread, on a copy of the run (its own
 * error buffer). */
struct slot {
    struct sched *sc;
    struct run r;
    size_t i;
    int rc;
    bool busy, finished, threaded;
    pthread_t t;
};

struct sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t nfinished;
};

static void *slot_run(void *arg)
{
    struct slot *sl = arg;
    sl->rc = run_action(&sl->r, &sl->r.p->v[sl->i]);
    pthread_mutex_lock(&sl->sc->mu);
    sl->finished = true;
    sl->sc->nfinished++;
    pthread_cond_signal(&sl->sc->cv);
    pthread_mutex_unlock(&sl->sc->mu);
    return NULL;
}

/* May action i start, all else being well? Its dependencies have ended,
 * every earlier action on the same object has, and every earlier action
 * of another kind has: kinds go one after another in the plan's order
 * (pools, networks, images, disks, VMs; deletions in reverse), and only
 * actions of one kind run side by side. */
static bool startable(const struct plan *p, const struct apply_result *res, const bool *running,
                      size_t i)
{
    const struct plan_action *a = &p->v[i];
    for (size_t j = 0; j < a->ndeps; j++)
        if (res->status[a->deps[j]] == APPLY_PENDING || running[a->deps[j]])
            return false;
    for (size_t j = 0; j < i; j++) {
        if (res->status[j] != APPLY_PENDING && !running[j])
            continue;
        const struct plan_action *b = &p->v[j];
        if (b->kind != a->kind || strcmp(b->name, a->name) == 0)
            return false;
    }
    return true;
}

int apply_plan(struct virt *v, const struct model *desired, const struct obs_host *obs,
               const struct plan *p, struct store *st, const struct apply_opts *o,
               struct apply_result *res)
{
    pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
    struct run r = { v, desired, obs, p, st, o, { 0 }, &store_mu };
    virtxml_init();                /* before the workers encode XML */
    memset(res, 0, sizeof(*res));
    res->status = xcalloc(p->n + 1, sizeof(*res->status));
    res->error = xcalloc(p->n + 1, sizeof(*res->error));
    char gone[1024] = "";     /* the lost connection: nothing more is started */
    size_t width = o->parallelism > 0 ? (size_t)o->parallelism : 1;
    struct slot *slots = xcalloc(width, sizeof(*slots));
    bool *running = xcalloc(p->n + 1, sizeof(*running));
    struct sched sc = { .nfinished = 0 };
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    if (!o->signals_caught)
        apply_catch_signals(true);
    virt_set_wait_hook(v, stop_wait, &r);
    bool stopped = false;     /* the journal could not be written: nothing more starts */
    size_t nrunning = 0, first = 0;
    for (;;) {
        /* start what may start, in the plan's order */
        for (size_t i = first; i < p->n && !stopped; i++) {
            if (res->status[i] != APPLY_PENDING || running[i])
                continue;
            if (interrupted && !*gone)
                snprintf(gone, sizeof(gone), "interrupted by %s; the next apply picks up from "
                                             "what the host has",
                         interrupted == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM");
            const struct plan_action *a = &p->v[i];
            const char *kind = plan_kind_name(a->kind);
            const char *why_held = o->hold ? o->hold(o->hold_payload, a) : NULL;
            char held_dep[512];
            for (size_t j = 0; j < a->ndeps && !why_held; j++)
                if (res->status[a->deps[j]] == APPLY_HELD) {
                    const struct plan_action *d = &p->v[a->deps[j]];
                    snprintf(held_dep, sizeof(held_dep), "needs %s/%s, which is held",
                             plan_kind_name(d->kind), d->name);
                    why_held = held_dep;
                }
            if (why_held) {
                res->status[i] = APPLY_HELD;
                res->held++;
                res->error[i] = xstrdup(why_held);
                continue;
            }
            const struct plan_action *bad = NULL;
            for (size_t j = 0; j < a->ndeps && !bad; j++)
                if (res->status[a->deps[j]] == APPLY_FAILED ||
                    res->status[a->deps[j]] == APPLY_SKIPPED)
                    bad = &p->v[a->deps[j]];
            if (!bad && !*gone && !startable(p, res, running, i))
                continue;
            if (bad || *gone) {
                /* not started: said in order with the rest, once what it
                 * waits for has ended */
                if (!*gone && !startable(p, res, running, i))
                    continue;
                res->status[i] = APPLY_SKIPPED;
                res->skipped++;
                char msg[1200];
                if (*gone)
                    snprintf(msg, sizeof(msg), "not started: %s", gone);
                else
                    snprintf(msg, sizeof(msg), "skipped: needs %s/%s, which %s",
                             plan_kind_name(bad->kind), bad->name,
                             res->status[bad - p->v] == APPLY_FAILED ? "failed" : "was skipped");
                res->error[i] = xstrdup(msg);
                apply_log(&r, "%s/%s: %s %s\n", kind, a->name, plan_verb_name(a->verb), msg);
                if (o->journal && (journal_begin(&r, i) < 0 ||
                                   journal_end(&r, i, APPLY_SKIPPED, msg) < 0))
                    stopped = true;
                continue;
            }
            if (nrunning == width)
                break;
            /* Written before libvirt is touched, or not done at all. */
            if (o->journal && journal_begin(&r, i) < 0) {
                stopped = true;
                break;
            }
            struct slot *sl = NULL;
            for (size_t k = 0; k < width && !sl; k++)
                if (!slots[k].busy)
                    sl = &slots[k];
            *sl = (struct slot){ .sc = &sc, .r = r, .i = i, .busy = true };
            sl->r.err[0] = '\0';
            running[i] = true;
            nrunning++;
            if (width == 1) {
                slot_run(sl);              /* one at a time: no thread needed */
            } else {
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_SETMASK, &all, &old);
                sl->threaded = pthread_create(&sl->t, NULL, slot_run, sl) == 0;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (!sl->threaded)
                    slot_run(sl);
            }
        }
        if (!nrunning)
            break;
        /* wait for one to end, then take every ended one */
        pthread_mutex_lock(&sc.mu);
        while (!sc.nfinished)
            pthread_cond_wait(&sc.cv, &sc.mu);
        sc.nfinished = 0;
        pthread_mutex_unlock(&sc.mu);
        for (size_t k = 0; k < width; k++) {
            struct slot *sl = &slots[k];
            pthread_mutex_lock(&sc.mu);
            bool ended = sl->busy && sl->finished;
            pthread_mutex_unlock(&sc.mu);
            if (!ended)
                continue;
            if (sl->threaded)
                pthread_join(sl->t, NULL);
            size_t i = sl->i;
            const struct plan_action *a = &p->v[i];
            const char *kind = plan_kind_name(a->kind);
            sl->busy = false;
            running[i] = false;
            nrunning--;
            if (sl->rc < 0) {
                res->status[i] = APPLY_FAILED;
                res->failed++;
                res->error[i] = xstrdup(sl->r.err[0] ? sl->r.err : "failed");
                if (!*gone)
                    virt_lost(v, gone, sizeof(gone));
                apply_log(&r, "%s%s/%s: %s FAILED: %s%s\n", o->color ? "\033[31m" : "", kind,
                         a->name, plan_verb_name(a->verb), res->error[i],
                         o->color ? "\033[0m" : "");
            } else {
                res->status[i] = APPLY_DONE;
                res->done++;
                apply_log(&r, "%s/%s: %s%s\n", kind, a->name, past(a->verb),
                         a->restart_required ? " (restart required for some changes)" : "");
            }
            /* Its end not recorded: nothing more starts, as when a start
             * could not be. */
            if (o->journal && journal_end(&r, i, res->status[i], res->error[i]) < 0)
                stopped = true;
        }
        while (first < p->n && res->status[first] != APPLY_PENDING && !running[first])
            first++;
    }
    virt_set_wait_hook(v, NULL, NULL);
    res->interrupted = interrupted;
    if (!o->signals_caught)
        apply_catch_signals(false);
    pthread_mutex_destroy(&sc.mu);
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&store_mu);
    free(slots);
    free(running);
    if (stopped) {
        /* The journal could not be written: stop before changing more. */
        char why[1200];
        snprintf(why, sizeof(why), "not started: the journal cannot be written: %s", r.err);
        res->failure = xstrdup(why + strlen("not started: "));
        for (size_t i = 0; i < p->n; i++) {
            if (res->status[i] != APPLY_PENDING)
                continue;
            res->status[i] = APPLY_SKIPPED;
            res->skipped++;
            res->error[i] = xstrdup(why);
        }
        return -1;
    }
    if (apply_records(st, desired, obs, p, o->run, r.err, sizeof(r.err)) < 0) {
        res->failure = xstrdup(r.err);
        return -1;
    }
    return res->failed || res->skipped ? -1 : 0;
}

int apply_records(struct store *st, const struct model *desired, const struct obs_host *obs,
                  const struct plan *p, int64_t run, char *err, size_t errlen)
{
    struct apply_opts o = { .run = run };
    struct run r = { NULL, desired, obs, p, st, &o, { 0 }, NULL };
    int rc = 0;
    /* Disks: protect and labels */
    for (size_t k = 0; k < desired->len[MODEL_DISK] && rc == 0; k++) {
        const struct model_disk *d = (const struct model_disk *)desired->objs[MODEL_DISK][k];
        const struct obs_pool *op = observe_pool(obs, d->spec.pool);
        const struct obs_volume *ov = op ? observe_volume(op, d->obj.meta.name) : NULL;
        if (!ov || !ov->rec || strcmp(ov->rec->project, p->project) != 0)
            continue;
        char *lt = labels_text(&d->obj.meta.labels);
        bool same = ov->rec->protect == d->spec.protect && strcmp(ov->rec->labels, lt) == 0;
        free(lt);
        if (!same)
            rc = record(&r, op->uuid, d->obj.meta.name, d->obj.meta.name, d->spec.protect,
                        &d->obj.meta.labels, NULL);
    }
    /* Pools: labels */
    for (size_t k = 0; k < desired->len[MODEL_POOL] && rc == 0; k++) {
        const struct model_pool *pl = (const struct model_pool *)desired->objs[MODEL_POOL][k];
        const struct obs_pool *op = observe_pool(obs, pl->obj.meta.name);
        if (!op || !op->rec || strcmp(op->rec->project, p->project) != 0)
            continue;
        char *lt = labels_text(&pl->obj.meta.labels);
        bool same = strcmp(op->rec->labels, lt) == 0;
        free(lt);
        if (!same)
            rc = record(&r, op->uuid, NULL, pl->obj.meta.name, false, &pl->obj.meta.labels,
                        NULL);
    }
    if (rc < 0)
        snprintf(err, errlen, "cannot record the protect flags and labels of the project's disks "
                              "and pools: %s", r.err);
    return rc;
}

void apply_result_dispose(struct apply_result *r, size_t n)
{
    if (r->error)
        for (size_t i = 0; i < n; i++)
            free(r->error[i]);
    free(r->error);
    free(r->status);
    free(r->failure);
    memset(r, 0, sizeof(*r));
}
